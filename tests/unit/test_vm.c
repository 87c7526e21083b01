/* test_vm.c: the VM life cycle where a unit test can reach it. On a host that is not arm64 the KVM backend is
 * kvm_other.c: vm_create() must fail in its first phase with the documented message, undo everything (ASan's
 * leak check runs at the end of the test process), and the real binary must turn that into exit status 1
 * after the command line and the kernel were validated. A stop signal pending when the setup starts ends it
 * at once: vm_create returns -EINTR without a message, and the binary exits 128 + N saying so. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "boot/boot.h"
#include "tests/unit/fe_util.h"
#include "vmm/config.h"
#include "vmm/sig.h"
#include "vmm/vm.h"

#define ARM64_ONLY_MSG "ivmm: error: ivmm runs guests on arm64 hosts only; on x86_64 use the lab (make lab-shell / make demo)\n"

#ifndef __aarch64__
Test(vm, create_fails_cleanly_off_arm64)
{
	struct vm_config cfg;
	struct boot_files bf;
	struct capture cap;
	struct vm *vm = (struct vm *)0x1;
	char *err;
	int ret;

	vm_config_init(&cfg);
	memset(&bf, 0, sizeof(bf));
	capture_begin(&cap, 2);
	ret = vm_create(&cfg, &bf, &vm);
	err = capture_end(&cap);
	cr_assert_eq(ret, -ENOSYS);
	cr_assert_eq(vm, (struct vm *)0x1, "*out untouched on failure");
	cr_assert_str_eq(err, ARM64_ONLY_MSG);
	free(err);
	vm_config_free(&cfg);
}

Test(vm, binary_run_off_arm64_exits_1)
{
	const char *bin = getenv("IVMM_BIN");
	char *dir = scratch_dir(), *kpath, *out, *err;
	void *img = fake_image(0, 8 * SZ_1M, 0xa, 4096);

	cr_assert(bin, "IVMM_BIN (the built ivmm) must be set: run through make unit");
	kpath = scratch_file(dir, "Image", img, 4096);
	cr_assert_eq(run_program((const char *const[]){ bin, "run", "--kernel", kpath, "--cpus", "2", NULL }, &out,
				 &err),
		     IVMM_EXIT_RUNTIME, "%s", err);
	cr_expect_str_eq(out, "");
	cr_expect_str_eq(err, ARM64_ONLY_MSG);
	/* A bad kernel is still reported first, as a usage error. */
	free(out);
	free(err);
	cr_assert_eq(run_program((const char *const[]){ bin, "run", "--kernel", dir, NULL }, &out, &err),
		     IVMM_EXIT_USAGE, "%s", err);
	free(out);
	free(err);
	free(kpath);
	free(img);
	scratch_rm(dir);
}

Test(vm, create_stops_at_once_on_a_pending_stop_signal)
{
	const struct timespec zero = { 0 };
	struct vm_config cfg;
	struct boot_files bf;
	struct capture cap;
	struct vm *vm = (struct vm *)0x1;
	sigset_t set;
	char *err;

	sig_stop_set(&set);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	raise(SIGINT);
	vm_config_init(&cfg);
	memset(&bf, 0, sizeof(bf));
	capture_begin(&cap, 2);
	cr_assert_eq(vm_create(&cfg, &bf, &vm), -EINTR);
	err = capture_end(&cap);
	cr_assert_str_eq(err, "", "no message from vm_create: main says which signal");
	cr_assert_eq(vm, (struct vm *)0x1);
	cr_assert_eq(sig_stop_pending(), SIGINT, "still pending for main");
	cr_assert_eq(sigtimedwait(&set, NULL, &zero), SIGINT);
	free(err);
	vm_config_free(&cfg);
}

/* The binary with SIGTERM already pending when it starts (blocked, then raised before exec: pending signals
 * survive execve): the setup stops before KVM is even opened, exit 128 + 15 with one line. */
Test(vm, binary_stopped_during_setup_exits_128_plus_n)
{
	const char *bin = getenv("IVMM_BIN");
	char *dir = scratch_dir(), *kpath, errpath[64];
	void *img = fake_image(0, 8 * SZ_1M, 0xa, 4096);
	char buf[512] = "";
	int status, fd;
	pid_t pid;

	cr_assert(bin, "IVMM_BIN (the built ivmm) must be set: run through make unit");
	kpath = scratch_file(dir, "Image", img, 4096);
	snprintf(errpath, sizeof(errpath), "%s", "/tmp/ivmm-sig-err-XXXXXX");
	fd = mkstemp(errpath);
	cr_assert_geq(fd, 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		sigset_t set;

		sig_stop_set(&set);
		if (dup2(fd, 2) < 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) || raise(SIGTERM))
			_exit(126);
		execl(bin, bin, "run", "--kernel", kpath, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "ivmm did not exit normally (status 0x%x)", status);
	cr_assert_eq(WEXITSTATUS(status), 128 + SIGTERM);
	cr_assert_geq(pread(fd, buf, sizeof(buf) - 1, 0), 0);
	cr_assert_str_eq(buf, "ivmm: Terminated: stopped during setup (everything undone)\n");
	close(fd);
	unlink(errpath);
	free(kpath);
	free(img);
	scratch_rm(dir);
}
#endif

/* --hugepages uses the host's default huge page size, which is 2 MiB only on 4K-page hosts. */
static u64 hugepage_size_of(const char *meminfo)
{
	char path[] = "/tmp/ivmm-meminfo-XXXXXX";
	int fd = mkstemp(path);
	u64 size;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, meminfo, strlen(meminfo)), (ssize_t)strlen(meminfo));
	close(fd);
	size = vm_hugepage_size(path);
	unlink(path);
	return size;
}

Test(vm, hugepage_size_from_meminfo)
{
	cr_assert_eq(hugepage_size_of("MemTotal:        1000 kB\nHugePages_Total:       0\n"
				      "Hugepagesize:       2048 kB\nHugetlb:               0 kB\n"), 2ULL << 20);
	cr_assert_eq(hugepage_size_of("Hugepagesize:     524288 kB\n"), 512ULL << 20, "64K-page host");
	cr_assert_eq(hugepage_size_of("MemTotal:        1000 kB\n"), 0, "no hugetlbfs");
	cr_assert_eq(vm_hugepage_size("/nonexistent/meminfo"), 0);
}
