/* uart16550_tx.c: the 16550A UART's transmit side (see uart16550.h): bytes the guest writes to THR wait in
 * the TX buffer until the console fd takes them; the fd is only ever written with u->lock dropped, one
 * flusher at a time (tx_lock), from the vCPU that wrote THR or, when stdout is full or a flusher was busy,
 * from the event loop (tx_fd); a console that cannot keep up shows as THRE = 0, like a slow line. Registers
 * and the receive side are in uart16550.c. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include "devices/uart16550_internal.h"
#include "vmm/log.h"

/* THR empty as the guest's driver sees it: room for a whole FIFO load in the TX buffer. */
bool uart_tx_thre(const struct uart16550 *u)
{
	return UART_TX_BUF_SIZE - u->tx_count >= UART_FIFO_SIZE;
}

/* Queue one transmitted byte (or loop it back). */
void uart_tx_byte(struct uart16550 *u, u8 c)
{
	if (u->mcr & UART_MCR_LOOP) {
		if (!uart_rx_push_fifo(u, c))
			u->lsr_err |= UART_LSR_OE;
		return;
	}
	if (u->tx_dead)
		return;
	if (u->tx_count == UART_TX_BUF_SIZE) {
		/* The guest ignored THRE = 0: a real UART would overwrite its FIFO; the byte is lost. */
		u->tx_dropped++;
		return;
	}
	u->tx[(u->tx_head + u->tx_count) % UART_TX_BUF_SIZE] = c;
	u->tx_count++;
}

static void tx_kick_loop(struct uart16550 *u)
{
	u64 one = 1;

	if (write(u->tx_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		pr_warn("uart: cannot signal the event loop to flush console output: %s", strerror(errno));
}

/* Write queued output to out_fd with u->lock dropped. Called with tx_lock held. */
static int tx_flush_locked(struct uart16550 *u)
{
	for (;;) {
		unsigned int tail, len;
		bool was_thre;
		ssize_t n;

		pthread_mutex_lock(&u->lock);
		len = u->tx_count;
		tail = u->tx_head;
		pthread_mutex_unlock(&u->lock);
		if (!len)
			return 0;
		len = MIN(len, UART_TX_BUF_SIZE - tail); /* contiguous part; the loop takes the rest */
		/* Only the tx_lock holder consumes, so tx[tail .. tail + len) is stable while unlocked. */
		n = write(u->out_fd, &u->tx[tail], len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			bool was_blocked;

			pthread_mutex_lock(&u->lock);
			was_blocked = u->tx_blocked;
			u->tx_blocked = true;
			pthread_mutex_unlock(&u->lock);
			if (!was_blocked)
				pr_debug("uart: console output blocked (stdout full); buffering guest output");
			return -EAGAIN;
		}
		pthread_mutex_lock(&u->lock);
		was_thre = uart_tx_thre(u);
		u->tx_blocked = false;
		if (n <= 0) {
			/* A closed or failing console drops output, like an unplugged cable. */
			if (!u->tx_dead)
				pr_warn("uart: console output failed (%s); further guest output is discarded",
					n < 0 ? strerror(errno) : "nothing written");
			u->tx_dead = true;
			n = u->tx_count;
		}
		u->tx_head = (u->tx_head + (unsigned int)n) % UART_TX_BUF_SIZE;
		u->tx_count -= (unsigned int)n;
		if (!was_thre && uart_tx_thre(u)) {
			u->thri_pending = true; /* THR became empty again: THRE interrupt, if enabled */
			uart_update_irq(u);
		}
		pthread_mutex_unlock(&u->lock);
	}
}

int uart16550_tx_flush(struct uart16550 *u)
{
	int ret;

	pthread_mutex_lock(&u->tx_lock);
	ret = tx_flush_locked(u);
	pthread_mutex_unlock(&u->tx_lock);
	return ret;
}

/* After a THR write (u->lock dropped): send the output now if nobody else is; otherwise, or when out_fd is
 * full, leave it to the event loop. Never blocks on out_fd nor on another flusher. */
void uart_tx_flush_from_vcpu(struct uart16550 *u)
{
	int ret;

	if (pthread_mutex_trylock(&u->tx_lock)) {
		tx_kick_loop(u); /* the busy flusher may have looked before our byte arrived */
		return;
	}
	ret = tx_flush_locked(u);
	pthread_mutex_unlock(&u->tx_lock);
	if (ret == -EAGAIN)
		tx_kick_loop(u);
}

int uart16550_tx_fd(struct uart16550 *u)
{
	return u->tx_fd;
}

int uart16550_out_fd(struct uart16550 *u)
{
	return u->out_fd;
}

size_t uart16550_tx_pending(struct uart16550 *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = u->tx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

bool uart16550_tx_blocked(struct uart16550 *u)
{
	bool b;

	pthread_mutex_lock(&u->lock);
	b = u->tx_blocked && u->tx_count;
	pthread_mutex_unlock(&u->lock);
	return b;
}

unsigned long uart16550_tx_dropped(struct uart16550 *u)
{
	unsigned long n;

	pthread_mutex_lock(&u->lock);
	n = u->tx_dropped;
	pthread_mutex_unlock(&u->lock);
	return n;
}
