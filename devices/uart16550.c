/* uart16550.c: the 16550A UART model (see uart16550.h for the behaviour and the host-input flow control).
 * Register semantics follow the National/TI PC16550D datasheet: IIR reports the highest-priority pending
 * interrupt (line status > received data / timeout > THR empty > modem status); the THR-empty interrupt is
 * raised when THR becomes empty or when it is enabled while THR is empty, and cleared by reading IIR while it
 * is the reported source or by writing THR. A THR write puts the byte in the host TX buffer (the wire);
 * LSR.THRE reads 1 while that buffer has room for a FIFO load (16 bytes) and LSR.TEMT while it is empty, so a
 * console that cannot keep up slows the guest's driver down exactly like a slow line (see uart16550.h).
 * The transmit side (the TX buffer and the console fd, written with u->lock dropped, one flusher at a time)
 * is in uart16550_tx.c; registers, the receive side and the life cycle are here. The character-timeout
 * indication is reported as soon as the FIFO holds data below its trigger level (no 4-character delay):
 * drivers read everything available on either indication. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "devices/uart16550_internal.h"
#include "vmm/hv.h"
#include "vmm/log.h"

/* Modem inputs of a connected line outside loopback: clear to send, data set ready, carrier detect. */
#define UART_MSR_CONNECTED (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

static bool fifo_enabled(const struct uart16550 *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

static unsigned int rx_capacity(const struct uart16550 *u)
{
	return fifo_enabled(u) ? UART_FIFO_SIZE : 1;
}

static unsigned int rx_trigger(const struct uart16550 *u)
{
	static const unsigned int level[] = { 1, 4, 8, 14 };

	return fifo_enabled(u) ? level[FIELD_GET(UART_FCR_TRIGGER, u->fcr)] : 1;
}

bool uart_rx_push_fifo(struct uart16550 *u, u8 c)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
	return true;
}

/* Move host input into the FIFO while the guest accepts it (RTS asserted, not in loopback). */
static void rx_refill(struct uart16550 *u)
{
	bool moved = false;

	if ((u->mcr & UART_MCR_LOOP) || !(u->mcr & UART_MCR_RTS))
		return;
	while (u->host_count && uart_rx_push_fifo(u, u->host[u->host_head])) {
		u->host_head = (u->host_head + 1) % UART_HOST_BUF_SIZE;
		u->host_count--;
		moved = true;
	}
	if (moved && u->want_wake) {
		u64 one = 1;

		u->want_wake = false;
		if (write(u->wake_fd, &one, sizeof(one)) != sizeof(one))
			pr_warn("uart: cannot signal the input loop: %s", strerror(errno));
	}
}

/* IIR interrupt id of the highest-priority pending interrupt, or -1. */
static int pending_id(const struct uart16550 *u)
{
	if ((u->ier & UART_IER_ELSI) && (u->lsr_err & (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)))
		return UART_IIR_ID_RLSI;
	if ((u->ier & UART_IER_ERBFI) && u->rx_count)
		return (!fifo_enabled(u) || u->rx_count >= rx_trigger(u)) ? UART_IIR_ID_RDI : UART_IIR_ID_CTI;
	if ((u->ier & UART_IER_ETBEI) && u->thri_pending)
		return UART_IIR_ID_THRI;
	if ((u->ier & UART_IER_EDSSI) && u->msr_delta)
		return UART_IIR_ID_MSI;
	return -1;
}

void uart_update_irq(struct uart16550 *u)
{
	bool level = pending_id(u) >= 0;
	int ret;

	if (level == u->irq_level)
		return;
	ret = u->hv->ops->irq_line(u->hv, u->spi, level);
	if (ret) {
		if (!u->irq_err_logged)
			pr_err("uart: cannot set SPI %u to %d: %s", u->spi, level, strerror(-ret));
		u->irq_err_logged = true;
		return;
	}
	u->irq_level = level;
}

/* Modem inputs: looped back from the outputs in loopback mode; a connected line otherwise. */
static void set_msr_lines(struct uart16550 *u)
{
	u8 lines = UART_MSR_CONNECTED, changed;

	if (u->mcr & UART_MCR_LOOP) {
		lines = 0;
		if (u->mcr & UART_MCR_RTS)
			lines |= UART_MSR_CTS;
		if (u->mcr & UART_MCR_DTR)
			lines |= UART_MSR_DSR;
		if (u->mcr & UART_MCR_OUT1)
			lines |= UART_MSR_RI;
		if (u->mcr & UART_MCR_OUT2)
			lines |= UART_MSR_DCD;
	}
	changed = lines ^ u->msr_lines;
	if (changed & UART_MSR_CTS)
		u->msr_delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		u->msr_delta |= UART_MSR_DDSR;
	if ((changed & UART_MSR_RI) && !(lines & UART_MSR_RI)) /* trailing edge only */
		u->msr_delta |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		u->msr_delta |= UART_MSR_DDCD;
	u->msr_lines = lines;
}

static u8 reg_read(struct uart16550 *u, unsigned int reg)
{
	u8 v;
	int id;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		v = 0;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
			u->rx_count--;
			rx_refill(u);
		}
		return v;
	case UART_IER:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		id = pending_id(u);
		v = fifo_enabled(u) ? UART_IIR_FIFO : 0;
		if (id < 0)
			return v | UART_IIR_NO_INT;
		if (id == UART_IIR_ID_THRI)
			u->thri_pending = false;
		return v | FIELD_PREP(UART_IIR_ID, id);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr_err;
		if (uart_tx_thre(u))
			v |= UART_LSR_THRE;
		if (!u->tx_count)
			v |= UART_LSR_TEMT;
		if (u->rx_count)
			v |= UART_LSR_DR;
		u->lsr_err = 0;
		return v;
	case UART_MSR:
		v = u->msr_lines | u->msr_delta;
		u->msr_delta = 0;
		return v;
	case UART_SCR:
		return u->scr;
	}
	return 0;
}

/* Returns true when queued output must be flushed (a byte was queued). */
static bool reg_write(struct uart16550 *u, unsigned int reg, u8 v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = v;
			return false;
		}
		uart_tx_byte(u, v);
		/* THR empty again if the buffer still has room: the THRE interrupt (if enabled) is raised again;
		 * otherwise it is raised when a flush makes room. While out_fd is full the event loop flushes. */
		u->thri_pending = uart_tx_thre(u);
		return u->tx_count && !u->tx_blocked;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = v;
			return false;
		}
		/* Enabling ETBEI raises THRE at once only if THR really is empty; otherwise the flush path
		 * raises it when room comes back (IIR must never claim THRE while LSR.THRE reads 0). */
		if ((v & UART_IER_ETBEI) && !(u->ier & UART_IER_ETBEI) && uart_tx_thre(u))
			u->thri_pending = true;
		u->ier = v & (UART_IER_ERBFI | UART_IER_ETBEI | UART_IER_ELSI | UART_IER_EDSSI);
		return false;
	case UART_FCR:
		if ((v ^ u->fcr) & UART_FCR_ENABLE)
			v |= UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX; /* toggling the FIFOs resets them */
		if (v & UART_FCR_CLEAR_RX)
			u->rx_count = 0;
		/* TX is instantaneous: nothing to clear. */
		u->fcr = v & (UART_FCR_ENABLE | UART_FCR_TRIGGER);
		if (!fifo_enabled(u))
			u->fcr = 0;
		rx_refill(u);
		return false;
	case UART_LCR:
		u->lcr = v;
		return false;
	case UART_MCR:
		u->mcr = v & (UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2 | UART_MCR_LOOP);
		set_msr_lines(u);
		rx_refill(u);
		return false;
	case UART_LSR:
	case UART_MSR:
		return false; /* read-only (factory test writes ignored) */
	case UART_SCR:
		u->scr = v;
		return false;
	}
	return false;
}

static u64 uart_mmio_read(void *opaque, u64 offset, unsigned int size)
{
	struct uart16550 *u = opaque;
	u8 v = 0;

	if (offset >= 8) {
		log_guest("uart: read of unimplemented offset 0x%llx", (unsigned long long)offset);
		return 0;
	}
	pthread_mutex_lock(&u->lock);
	v = reg_read(u, (unsigned int)offset);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void uart_mmio_write(void *opaque, u64 offset, u64 value, unsigned int size)
{
	struct uart16550 *u = opaque;
	bool flush;

	if (offset >= 8) {
		log_guest("uart: write of 0x%llx to unimplemented offset 0x%llx", (unsigned long long)value,
			  (unsigned long long)offset);
		return;
	}
	pthread_mutex_lock(&u->lock);
	flush = reg_write(u, (unsigned int)offset, (u8)value);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (flush)
		uart_tx_flush_from_vcpu(u);
}

static const struct mmio_ops uart_mmio_ops = {
	.read = uart_mmio_read,
	.write = uart_mmio_write,
};

size_t uart16550_rx_push(struct uart16550 *u, const u8 *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->host_count < UART_HOST_BUF_SIZE) {
		u->host[(u->host_head + u->host_count) % UART_HOST_BUF_SIZE] = buf[n++];
		u->host_count++;
	}
	if (n < len)
		u->want_wake = true;
	rx_refill(u);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart16550_rx_room(struct uart16550 *u)
{
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = UART_HOST_BUF_SIZE - u->host_count;
	if (!room)
		u->want_wake = true;
	pthread_mutex_unlock(&u->lock);
	return room;
}

bool uart16550_rx_wait_room(struct uart16550 *u, size_t need)
{
	bool ok;

	pthread_mutex_lock(&u->lock);
	ok = UART_HOST_BUF_SIZE - u->host_count >= need;
	if (!ok)
		u->want_wake = true;
	pthread_mutex_unlock(&u->lock);
	return ok;
}

int uart16550_wake_fd(struct uart16550 *u)
{
	return u->wake_fd;
}

/* Power-on state (registers and FIFO; queued host input is kept: it has not reached the UART yet; queued
 * output too: it has already left it). */
static void uart_reset(struct device *dev)
{
	struct uart16550 *u = container_of(dev, struct uart16550, dev);

	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->mcr = u->scr = u->dll = u->dlm = u->fcr = 0;
	u->lsr_err = u->msr_delta = 0;
	u->msr_lines = UART_MSR_CONNECTED;
	u->thri_pending = false;
	u->rx_count = u->rx_head = 0;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_destroy(struct device *dev)
{
	struct uart16550 *u = container_of(dev, struct uart16550, dev);

	close(u->wake_fd);
	close(u->tx_fd);
	pthread_mutex_destroy(&u->tx_lock);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static const struct device_ops uart_device_ops = {
	.type = "uart16550",
	.reset = uart_reset,
	.destroy = uart_destroy,
};

int uart16550_create(struct hv *hv, u64 base, u32 spi, int out_fd, struct uart16550 **out)
{
	struct uart16550 *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0) {
		ret = -errno;
		pr_err("uart: input wake eventfd: %s", strerror(errno));
		goto err_free;
	}
	u->tx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->tx_fd < 0) {
		ret = -errno;
		pr_err("uart: output flush eventfd: %s", strerror(errno));
		goto err_close;
	}
	ret = -pthread_mutex_init(&u->lock, NULL);
	if (ret) {
		pr_err("uart: mutex init: %s", strerror(-ret));
		goto err_close_tx;
	}
	ret = -pthread_mutex_init(&u->tx_lock, NULL);
	if (ret) {
		pr_err("uart: output mutex init: %s", strerror(-ret));
		pthread_mutex_destroy(&u->lock);
		goto err_close_tx;
	}
	u->dev.ops = &uart_device_ops;
	u->dev.name = "uart0";
	u->hv = hv;
	u->spi = spi;
	u->out_fd = out_fd;
	u->msr_lines = UART_MSR_CONNECTED;
	u->region = (struct mmio_region){
		.name = "uart16550",
		.base = base,
		.len = UART_MMIO_SIZE,
		.sizes = MMIO_SZ_1,
		.ops = &uart_mmio_ops,
		.opaque = u,
	};
	*out = u;
	return 0;

err_close_tx:
	close(u->tx_fd);
err_close:
	close(u->wake_fd);
err_free:
	free(u);
	return ret;
}

struct device *uart16550_device(struct uart16550 *u)
{
	return &u->dev;
}

struct mmio_region *uart16550_region(struct uart16550 *u)
{
	return &u->region;
}
