/* test_uart.c: the 16550A model driven through its MMIO region with the fake hypervisor: reset values,
 * transmit to the console fd, divisor latch, FIFO control, receive with the FIFO and host flow control
 * (RTS, host buffer, wake fd), IIR priorities and interrupt line levels, loopback and modem status, the
 * start-up probes Linux's 8250 driver runs, and guest mistakes that must not hurt the VMM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "devices/uart16550.h"
#include "tests/unit/fake_hv.h"

#define SPI 1

struct ut {
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	int out[2]; /* pipe: the UART writes out[1], the test reads out[0] */
};

static void ut_init(struct ut *t)
{
	fake_hv_init(&t->fhv);
	cr_assert_eq(pipe2(t->out, O_NONBLOCK | O_CLOEXEC), 0);
	cr_assert_eq(uart16550_create(&t->fhv.hv, 0x1000000, SPI, t->out[1], &t->u), 0);
	t->r = uart16550_region(t->u);
	cr_assert_eq(t->r->base, 0x1000000);
	cr_assert_eq(t->r->sizes, MMIO_SZ_1);
}

static void ut_fini(struct ut *t)
{
	struct device *d = uart16550_device(t->u);

	d->ops->destroy(d);
	close(t->out[0]);
	close(t->out[1]);
}

static u8 rd(struct ut *t, unsigned int reg)
{
	return (u8)t->r->ops->read(t->r->opaque, reg, 1);
}

static void wr(struct ut *t, unsigned int reg, u8 v)
{
	t->r->ops->write(t->r->opaque, reg, v, 1);
}

static bool irq(struct ut *t)
{
	return t->fhv.spi_level[SPI];
}

static size_t output(struct ut *t, char *buf, size_t len)
{
	ssize_t n = read(t->out[0], buf, len);

	return n < 0 ? 0 : (size_t)n;
}

static void push(struct ut *t, const char *s)
{
	cr_assert_eq(uart16550_rx_push(t->u, (const u8 *)s, strlen(s)), strlen(s));
}

static bool wake_readable(struct ut *t)
{
	struct pollfd p = { .fd = uart16550_wake_fd(t->u), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

Test(uart, reset_state)
{
	struct ut t;

	ut_init(&t);
	cr_assert_eq(rd(&t, UART_IIR), 0x01, "no interrupt pending, FIFOs off");
	cr_assert_eq(rd(&t, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(rd(&t, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD, "a connected line");
	cr_assert_eq(rd(&t, UART_IER), 0);
	cr_assert_eq(rd(&t, UART_LCR), 0);
	cr_assert_eq(rd(&t, UART_MCR), 0);
	cr_assert_eq(fake_hv_count(&t.fhv, FAKE_IRQ_LINE), 0, "no interrupt line activity at rest");
	ut_fini(&t);
}

Test(uart, transmit_goes_to_console)
{
	struct ut t;
	char buf[16] = { 0 };

	ut_init(&t);
	wr(&t, UART_THR, 'h');
	wr(&t, UART_THR, 'i');
	wr(&t, UART_THR, '\n');
	cr_assert_eq(output(&t, buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "hi\n");
	cr_assert_eq(rd(&t, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	ut_fini(&t);
}

Test(uart, divisor_latch_is_separate)
{
	struct ut t;
	char buf[4];

	ut_init(&t);
	wr(&t, UART_IER, UART_IER_ERBFI);
	wr(&t, UART_LCR, UART_LCR_DLAB | 0x03);
	wr(&t, UART_DLL, 0x0c);
	wr(&t, UART_DLM, 0x01);
	cr_assert_eq(rd(&t, UART_DLL), 0x0c);
	cr_assert_eq(rd(&t, UART_DLM), 0x01);
	cr_assert_eq(output(&t, buf, sizeof(buf)), 0, "a DLL write is not transmitted");
	wr(&t, UART_LCR, 0x03);
	cr_assert_eq(rd(&t, UART_IER), UART_IER_ERBFI, "IER kept its value under DLAB");
	cr_assert_eq(rd(&t, UART_LCR), 0x03);
	wr(&t, UART_LCR, UART_LCR_DLAB | 0x03);
	cr_assert_eq(rd(&t, UART_DLL), 0x0c);
	ut_fini(&t);
}

Test(uart, thre_interrupt)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert(irq(&t), "enabling ETBEI with THR empty raises the interrupt");
	cr_assert_eq(rd(&t, UART_IIR), 0x02);
	cr_assert_not(irq(&t), "reading IIR while THRI is the source clears it");
	cr_assert_eq(rd(&t, UART_IIR), 0x01);
	wr(&t, UART_THR, 'x');
	cr_assert(irq(&t), "THR empties again after a write");
	wr(&t, UART_IER, 0);
	cr_assert_not(irq(&t), "disabling ETBEI lowers the line");
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert(irq(&t));
	cr_assert_eq(t.fhv.spi_raises[SPI], 3);
	ut_fini(&t);
}

/* serial8250_iir_txen_test and serial8250_THRE_test (drivers/tty/serial/8250/8250_port.c): a working
 * 16550 reports THRI right after ETBEI is enabled, and again after IER is cleared and set. */
Test(uart, linux_startup_probes)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_LCR, 0x03);
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert(rd(&t, UART_LSR) & UART_LSR_TEMT);
	cr_assert_eq(rd(&t, UART_IIR) & UART_IIR_NO_INT, 0, "TXEN test: interrupt expected");
	wr(&t, UART_IER, 0);

	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(rd(&t, UART_IIR) & UART_IIR_NO_INT, 0, "THRE test, first read");
	wr(&t, UART_IER, 0);
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(rd(&t, UART_IIR) & UART_IIR_NO_INT, 0, "THRE test: re-asserted after IER toggle");
	wr(&t, UART_IER, 0);
	cr_assert_not(irq(&t));
	ut_fini(&t);
}

Test(uart, fifo_control_and_iir_fifo_bits)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	cr_assert_eq(rd(&t, UART_IIR), 0xc1);
	wr(&t, UART_FCR, 0);
	cr_assert_eq(rd(&t, UART_IIR), 0x01);
	ut_fini(&t);
}

Test(uart, receive_needs_rts)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE | FIELD_PREP(UART_FCR_TRIGGER, 2)); /* trigger 8 */
	wr(&t, UART_IER, UART_IER_ERBFI);
	push(&t, "ab");
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_DR, 0, "held back while RTS is low");
	cr_assert_not(irq(&t));
	wr(&t, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	cr_assert(rd(&t, UART_LSR) & UART_LSR_DR);
	cr_assert(irq(&t));
	cr_assert_eq(rd(&t, UART_IIR), 0xcc, "below the trigger level: character timeout");
	cr_assert_eq(rd(&t, UART_RBR), 'a');
	cr_assert_eq(rd(&t, UART_RBR), 'b');
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_DR, 0);
	cr_assert_not(irq(&t));
	cr_assert_eq(rd(&t, UART_IIR), 0xc1);
	ut_fini(&t);
}

Test(uart, trigger_level_reports_rdi)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE | FIELD_PREP(UART_FCR_TRIGGER, 1)); /* trigger 4 */
	wr(&t, UART_MCR, UART_MCR_RTS);
	wr(&t, UART_IER, UART_IER_ERBFI);
	push(&t, "123");
	cr_assert_eq(rd(&t, UART_IIR), 0xcc);
	push(&t, "4");
	cr_assert_eq(rd(&t, UART_IIR), 0xc4, "at the trigger level: received data available");
	ut_fini(&t);
}

Test(uart, fifo_holds_16_and_host_buffer_keeps_the_rest)
{
	struct ut t;
	const char *s = "0123456789abcdefghijKLMNOP"; /* 26 bytes */

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	wr(&t, UART_MCR, UART_MCR_RTS);
	push(&t, s);
	for (size_t i = 0; i < strlen(s); i++) {
		cr_assert(rd(&t, UART_LSR) & UART_LSR_DR, "byte %zu available", i);
		cr_assert_eq(rd(&t, UART_RBR), (u8)s[i], "byte %zu in order", i);
	}
	cr_assert_eq(rd(&t, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT, "no overrun: flow control held the rest");
	ut_fini(&t);
}

Test(uart, without_fifo_one_byte_at_a_time)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_MCR, UART_MCR_RTS);
	wr(&t, UART_IER, UART_IER_ERBFI);
	push(&t, "xy");
	cr_assert_eq(rd(&t, UART_IIR), 0x04);
	cr_assert_eq(rd(&t, UART_RBR), 'x');
	cr_assert_eq(rd(&t, UART_IIR), 0x04);
	cr_assert_eq(rd(&t, UART_RBR), 'y');
	cr_assert_eq(rd(&t, UART_IIR), 0x01);
	ut_fini(&t);
}

Test(uart, host_buffer_full_and_wake)
{
	struct ut t;
	u8 big[UART_HOST_BUF_SIZE + 100];

	ut_init(&t);
	memset(big, 'z', sizeof(big));
	cr_assert_eq(uart16550_rx_push(t.u, big, sizeof(big)), UART_HOST_BUF_SIZE, "RTS low: only the buffer fills");
	cr_assert_eq(uart16550_rx_room(t.u), 0);
	cr_assert_not(wake_readable(&t));
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	wr(&t, UART_MCR, UART_MCR_RTS); /* 16 bytes move into the FIFO */
	cr_assert(wake_readable(&t), "room appeared: the input loop is woken");
	cr_assert_eq(uart16550_rx_room(t.u), UART_FIFO_SIZE);
	u64 v;
	cr_assert_eq(read(uart16550_wake_fd(t.u), &v, sizeof(v)), sizeof(v));
	cr_assert_not(wake_readable(&t));
	cr_assert_eq(rd(&t, UART_RBR), 'z');
	cr_assert_not(wake_readable(&t), "no wake without a full buffer seen by the host");
	ut_fini(&t);
}

Test(uart, fcr_clear_drops_fifo_only)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	wr(&t, UART_MCR, UART_MCR_RTS);
	push(&t, "0123456789abcdefXY"); /* 16 in the FIFO, 2 in the host buffer */
	wr(&t, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	cr_assert_eq(rd(&t, UART_RBR), 'X', "the FIFO was cleared and refilled from the host buffer");
	cr_assert_eq(rd(&t, UART_RBR), 'Y');
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_DR, 0);
	ut_fini(&t);
}

Test(uart, loopback_data_and_modem_lines)
{
	struct ut t;
	char buf[4];

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	(void)rd(&t, UART_MSR);
	wr(&t, UART_MCR, UART_MCR_LOOP);
	cr_assert_eq(rd(&t, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD,
		     "inputs dropped when looped to clear outputs, with deltas");
	cr_assert_eq(rd(&t, UART_MSR), 0, "deltas cleared by the read");
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT1);
	cr_assert_eq(rd(&t, UART_MSR), UART_MSR_CTS | UART_MSR_RI | UART_MSR_DCTS);
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT2);
	cr_assert_eq(rd(&t, UART_MSR), UART_MSR_DSR | UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI |
					       UART_MSR_DDCD);
	wr(&t, UART_THR, 0x55);
	wr(&t, UART_THR, 0xaa);
	cr_assert_eq(output(&t, buf, sizeof(buf)), 0, "loopback output does not reach the console");
	cr_assert_eq(rd(&t, UART_RBR), 0x55);
	cr_assert_eq(rd(&t, UART_RBR), 0xaa);
	push(&t, "q");
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_DR, 0, "host input is disconnected in loopback");
	wr(&t, UART_MCR, UART_MCR_RTS);
	cr_assert_eq(rd(&t, UART_RBR), 'q');
	ut_fini(&t);
}

Test(uart, modem_status_interrupt)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_IER, UART_IER_EDSSI);
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT2);
	cr_assert_not(irq(&t), "looped outputs equal the connected inputs: no change, no interrupt");
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT2);
	cr_assert(irq(&t), "CTS dropped");
	cr_assert_eq(rd(&t, UART_IIR), 0x00);
	cr_assert_eq(rd(&t, UART_MSR), UART_MSR_DSR | UART_MSR_DCD | UART_MSR_DCTS);
	cr_assert_not(irq(&t), "the MSR read cleared the deltas");
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT2 | UART_MCR_OUT1);
	cr_assert_not(irq(&t), "RI leading edge sets no delta");
	wr(&t, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT2);
	cr_assert(irq(&t), "RI trailing edge sets TERI");
	cr_assert_eq(rd(&t, UART_MSR) & 0x0f, UART_MSR_TERI);
	ut_fini(&t);
}

Test(uart, overrun_and_priorities)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	wr(&t, UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < UART_FIFO_SIZE + 1; i++)
		wr(&t, UART_THR, (u8)('A' + i));
	wr(&t, UART_IER, UART_IER_ERBFI | UART_IER_ETBEI | UART_IER_ELSI | UART_IER_EDSSI);
	cr_assert(irq(&t));
	cr_assert_eq(rd(&t, UART_IIR), 0xc6, "line status first");
	cr_assert_eq(rd(&t, UART_LSR), UART_LSR_DR | UART_LSR_OE | UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_OE, 0, "OE cleared by the LSR read");
	cr_assert_eq(rd(&t, UART_IIR), 0xc4, "then received data (16 >= trigger 1)");
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		cr_assert_eq(rd(&t, UART_RBR), 'A' + i, "the 17th byte was lost, not the first 16");
	cr_assert_eq(rd(&t, UART_IIR), 0xc2, "then THR empty");
	cr_assert_eq(rd(&t, UART_IIR), 0xc0, "then modem status (deltas from entering loopback)");
	(void)rd(&t, UART_MSR);
	cr_assert_eq(rd(&t, UART_IIR), 0xc1);
	cr_assert_not(irq(&t));
	ut_fini(&t);
}

Test(uart, scratch_register)
{
	struct ut t;

	ut_init(&t);
	wr(&t, UART_SCR, 0xa5);
	cr_assert_eq(rd(&t, UART_SCR), 0xa5);
	wr(&t, UART_LSR, 0x00); /* read-only: ignored */
	cr_assert_eq(rd(&t, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ut_fini(&t);
}

Test(uart, guest_mistakes_are_harmless)
{
	struct ut t;
	char buf[4];

	ut_init(&t);
	cr_assert_eq(t.r->ops->read(t.r->opaque, 0x8, 1), 0);
	cr_assert_eq(t.r->ops->read(t.r->opaque, 0xfff, 1), 0);
	t.r->ops->write(t.r->opaque, 0x10, 'x', 1);
	cr_assert_eq(output(&t, buf, sizeof(buf)), 0);
	cr_assert_eq(rd(&t, UART_RBR), 0, "empty RBR reads as zero");
	ut_fini(&t);
}

Test(uart, irq_line_failure_is_retried_not_fatal)
{
	struct ut t;

	ut_init(&t);
	t.fhv.fail_irq_line = -EIO;
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert_not(irq(&t), "the failing call did not change the level");
	wr(&t, UART_SCR, 0);
	cr_assert(irq(&t), "the next register access retries");
	ut_fini(&t);
}

Test(uart, reset_restores_power_on_state)
{
	struct ut t;
	struct device *d;

	ut_init(&t);
	d = uart16550_device(t.u);
	wr(&t, UART_FCR, UART_FCR_ENABLE);
	wr(&t, UART_MCR, UART_MCR_RTS);
	wr(&t, UART_IER, UART_IER_ERBFI);
	push(&t, "k");
	cr_assert(irq(&t));
	d->ops->reset(d);
	cr_assert_not(irq(&t));
	cr_assert_eq(rd(&t, UART_IIR), 0x01);
	cr_assert_eq(rd(&t, UART_MCR), 0);
	cr_assert_eq(rd(&t, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ut_fini(&t);
}

/* Fill the console pipe as a reader that stopped would leave it. Returns the bytes written. */
static size_t fill_pipe(int fd)
{
	char junk[512];
	size_t total = 0;
	ssize_t n;

	memset(junk, '#', sizeof(junk));
	while ((n = write(fd, junk, sizeof(junk))) > 0)
		total += (size_t)n;
	cr_assert_eq(errno, EAGAIN);
	return total;
}

/* Nobody reads the console: THR writes never block, output waits in the TX buffer, THRE drops to 0 when it
 * lacks room for a FIFO load, the event loop is told to flush; once the reader drains the pipe a flush
 * delivers everything in order and the THRE interrupt comes back. */
Test(uart, full_console_backpressure_then_flush)
{
	struct ut t;
	size_t junk, queued = 0, got = 0;
	char buf[8192];
	struct pollfd p;

	ut_init(&t);
	cr_assert_geq(fcntl(t.out[1], F_SETPIPE_SZ, 4096), 4096);
	junk = fill_pipe(t.out[1]);
	wr(&t, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(FIELD_GET(UART_IIR_ID, rd(&t, UART_IIR)), UART_IIR_ID_THRI); /* clears it */
	while (rd(&t, UART_LSR) & UART_LSR_THRE) {
		wr(&t, UART_THR, (u8)('a' + queued % 26));
		queued++;
		cr_assert_leq(queued, UART_TX_BUF_SIZE);
	}
	cr_assert_eq(queued, UART_TX_BUF_SIZE - UART_FIFO_SIZE + 1, "THRE is 0 once less than a FIFO load fits");
	cr_assert_eq(rd(&t, UART_LSR) & UART_LSR_TEMT, 0);
	cr_assert_not(irq(&t), "no THRE interrupt while the buffer is nearly full");
	cr_assert(uart16550_tx_blocked(t.u));
	p = (struct pollfd){ .fd = uart16550_tx_fd(t.u), .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 0), 1, "the event loop is told to flush");
	cr_assert_eq(uart16550_tx_flush(t.u), -EAGAIN);
	/* A guest that ignores THRE fills the buffer, then loses bytes (counted), still without blocking. */
	for (int i = 0; i < UART_FIFO_SIZE + 5; i++)
		wr(&t, UART_THR, '!');
	cr_assert_eq(uart16550_tx_pending(t.u), UART_TX_BUF_SIZE);
	cr_assert_eq(uart16550_tx_dropped(t.u), 6);

	/* The reader wakes up: the flush delivers the queued bytes, in order, after the junk. */
	while (got < junk + UART_TX_BUF_SIZE) {
		ssize_t n = read(t.out[0], buf, sizeof(buf));

		if (n <= 0) {
			cr_assert_eq(uart16550_tx_flush(t.u) == 0 || errno == EAGAIN, true);
			continue;
		}
		for (ssize_t i = 0; i < n; i++, got++) {
			char want = got < junk ? '#' : got - junk < queued ? (char)('a' + (got - junk) % 26) : '!';

			cr_assert_eq(buf[i], want, "byte %zu", got);
		}
	}
	cr_assert_eq(uart16550_tx_flush(t.u), 0);
	cr_assert_eq(uart16550_tx_pending(t.u), 0);
	cr_assert_not(uart16550_tx_blocked(t.u));
	cr_assert(irq(&t), "room again: THRE interrupt");
	cr_assert_eq(rd(&t, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	ut_fini(&t);
}

/* A closed console (reader gone) discards output instead of failing or blocking the guest. */
Test(uart, closed_console_discards_output)
{
	struct ut t;

	signal(SIGPIPE, SIG_IGN); /* as ivmm does (vm_block_signals) */
	ut_init(&t);
	close(t.out[0]);
	t.out[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < 3 * UART_TX_BUF_SIZE; i++)
		wr(&t, UART_THR, 'z');
	cr_assert_eq(uart16550_tx_pending(t.u), 0);
	cr_assert_eq(uart16550_tx_dropped(t.u), 0);
	cr_assert_eq(rd(&t, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	ut_fini(&t);
}

struct writer {
	struct ut *t;
	size_t n;
	atomic_bool done;
};

static void *vcpu_writer(void *arg)
{
	struct writer *w = arg;

	for (size_t i = 0; i < w->n; i++)
		wr(w->t, UART_THR, 'v');
	atomic_store(&w->done, true);
	return NULL;
}

/* The reviewer's hang: a vCPU writing to a console nobody reads must neither block nor hold the UART lock,
 * so the main thread's input path (uart16550_rx_room, taken on every event loop turn) stays responsive. */
Test(uart, full_console_blocks_neither_vcpu_nor_event_loop)
{
	struct ut t;
	struct writer w = { .t = &t, .n = 4 * UART_TX_BUF_SIZE };
	pthread_t th;
	struct timespec deadline;

	ut_init(&t);
	(void)fill_pipe(t.out[1]);
	cr_assert_eq(pthread_create(&th, NULL, vcpu_writer, &w), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(uart16550_rx_room(t.u), UART_HOST_BUF_SIZE);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	cr_assert_eq(pthread_timedjoin_np(th, NULL, &deadline), 0, "the vCPU thread finished its writes");
	cr_assert(atomic_load(&w.done));
	cr_assert_eq(uart16550_tx_pending(t.u), UART_TX_BUF_SIZE);
	cr_assert_eq(uart16550_tx_dropped(t.u), 3 * UART_TX_BUF_SIZE);
	ut_fini(&t);
}
