/* uart16550_internal.h: what the 16550A UART's files share (uart16550.c: registers, receive side, life
 * cycle; uart16550_tx.c: the transmit side to the console fd). Not an API: see uart16550.h. */
#ifndef IVMM_DEVICES_UART16550_INTERNAL_H
#define IVMM_DEVICES_UART16550_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include "devices/uart16550.h"
#include "vmm/hv.h"

struct uart16550 {
	struct device dev;
	struct mmio_region region;
	struct hv *hv;
	u32 spi;
	int out_fd;
	int wake_fd;

	pthread_mutex_t lock;
	u8 ier, lcr, mcr, scr, dll, dlm;
	u8 fcr;                 /* last FCR value (enable + trigger bits) */
	u8 lsr_err;             /* sticky OE/PE/FE/BI, cleared by an LSR read */
	u8 msr_delta;           /* DCTS/DDSR/TERI/DDCD, cleared by an MSR read */
	u8 msr_lines;           /* CTS/DSR/RI/DCD */
	bool thri_pending;
	bool irq_level;
	bool irq_err_logged;

	u8 rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	u8 host[UART_HOST_BUF_SIZE];
	unsigned int host_head, host_count;
	bool want_wake;         /* the host saw a full buffer: signal wake_fd when room appears */

	/* Transmit side: bytes written to THR wait here until out_fd takes them. */
	u8 tx[UART_TX_BUF_SIZE];
	unsigned int tx_head, tx_count;
	unsigned long tx_dropped; /* bytes the guest wrote while THRE was 0 and the buffer was full */
	bool tx_dead;           /* out_fd failed for good: output is discarded like on an unplugged cable */
	bool tx_blocked;        /* out_fd would block: the event loop flushes once it is writable */
	int tx_fd;              /* eventfd: the event loop must flush (out_fd full, or a flusher was busy) */
	pthread_mutex_t tx_lock; /* one flusher at a time, so bytes leave in order; taken before lock */
};

/* uart16550.c, with u->lock held: put c in the receive FIFO (false: full, the caller flags an overrun), and
 * set the interrupt line from the pending sources. */
bool uart_rx_push_fifo(struct uart16550 *u, u8 c);
void uart_update_irq(struct uart16550 *u);

/* uart16550_tx.c. With u->lock held: THR empty as the guest's driver sees it (room for a FIFO load), and
 * queue one transmitted byte (looped back in loopback mode, dropped and counted on a full buffer). */
bool uart_tx_thre(const struct uart16550 *u);
void uart_tx_byte(struct uart16550 *u, u8 c);
/* After a THR write, u->lock dropped: send the output now unless another flusher is busy or out_fd is full
 * (then the event loop is kicked through tx_fd). Never blocks. */
void uart_tx_flush_from_vcpu(struct uart16550 *u);

#endif
