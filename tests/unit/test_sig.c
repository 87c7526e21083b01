/* test_sig.c: the stop signals as the setup sees them (vmm/sig.h): a blocked SIGINT, SIGTERM or SIGHUP is
 * reported while it stays pending (so main can still name it), the lowest number first, and nothing else
 * (SIGUSR1, the --stats signal) counts as a stop. vm_create and passthrough_create unwinding on it are in
 * test_vm.c and test_vfio_pci_passthrough.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include "vmm/sig.h"

/* Take every pending signal of set (so the test process never dies of one when Criterion unblocks it). */
static void drain(const sigset_t *set)
{
	const struct timespec zero = { 0 };

	while (sigtimedwait(set, NULL, &zero) > 0) {
	}
}

Test(sig, nothing_pending_is_no_stop)
{
	cr_assert_eq(sig_stop_pending(), 0);
	cr_assert_eq(sig_stop_check(), 0);
}

Test(sig, the_set_is_int_term_hup)
{
	sigset_t s;

	sig_stop_set(&s);
	cr_assert_eq(sigismember(&s, SIGINT), 1);
	cr_assert_eq(sigismember(&s, SIGTERM), 1);
	cr_assert_eq(sigismember(&s, SIGHUP), 1);
	cr_assert_eq(sigismember(&s, SIGUSR1), 0);
	cr_assert_eq(sigismember(&s, SIGKILL), 0);
}

Test(sig, a_blocked_stop_signal_is_seen_and_stays_pending)
{
	sigset_t set;

	sig_stop_set(&set);
	sigaddset(&set, SIGUSR1);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	raise(SIGUSR1);
	cr_assert_eq(sig_stop_pending(), 0, "SIGUSR1 (--stats) does not stop the setup");
	raise(SIGTERM);
	cr_assert_eq(sig_stop_pending(), SIGTERM);
	cr_assert_eq(sig_stop_check(), -EINTR);
	cr_assert_eq(sig_stop_pending(), SIGTERM, "looking does not consume it: main names it after the unwind");
	raise(SIGINT);
	cr_assert_eq(sig_stop_pending(), SIGINT, "the lowest number first, as the kernel delivers them");
	raise(SIGHUP);
	cr_assert_eq(sig_stop_pending(), SIGHUP);
	drain(&set);
	cr_assert_eq(sig_stop_pending(), 0);
}
