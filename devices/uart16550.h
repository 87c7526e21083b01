/* uart16550.h: a 16550A UART (what Linux's 8250/of_serial driver binds to with compatible "ns16550a").
 * Byte-wide registers at offsets 0..7 (reg-shift 0, reg-io-width 1), a 16-byte RX FIFO, interrupts on one
 * level-triggered SPI through hv->irq_line.
 *
 * Output: a THR write queues the byte in a host TX buffer (4 KiB) and the writing vCPU sends it to out_fd at
 * once, with the UART's lock dropped and never waiting: out_fd must be non-blocking (console_out_open()).
 * When out_fd is full (nobody reads the console) the bytes wait in the buffer, the tx fd tells the event loop
 * to flush once out_fd is writable, and LSR.THRE reads 0 while the buffer lacks room for a FIFO load (16
 * bytes; LSR.TEMT is 0 while anything is queued): the guest's driver waits like on a slow line instead of the
 * VMM blocking. Bytes written while THRE is 0 and the buffer is full are dropped (counted). A failing out_fd
 * (closed pipe) discards output from then on, like an unplugged cable. Nothing is lost in the normal case.
 *
 * Host input: the host side pushes bytes with uart16550_rx_push() into a bounded host buffer (4 KiB) behind
 * the RX FIFO. Bytes move from there into the FIFO only while the FIFO has room and the guest asserts RTS
 * (MCR bit 1), as on a serial link with hardware flow control: nothing is lost when input arrives before a
 * driver is ready or faster than the guest reads, and the host stops reading its input while the buffer is
 * full (uart16550_rx_room() == 0) until the wake eventfd says there is room again.
 * In loopback mode (MCR.LOOP) transmitted bytes go to the RX FIFO instead and the modem inputs follow
 * the modem outputs, as the 16550 datasheet describes. Thread safe (vCPU threads + the host input loop). */
#ifndef IVMM_UART16550_H
#define IVMM_UART16550_H

#include <stddef.h>
#include "vmm/bits.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"
#include "vmm/device.h"

struct hv;
struct uart16550;

/* Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0/1). */
#define UART_RBR 0 /* read, DLAB 0 */
#define UART_THR 0 /* write, DLAB 0 */
#define UART_DLL 0 /* DLAB 1 */
#define UART_IER 1 /* DLAB 0 */
#define UART_DLM 1 /* DLAB 1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI BIT(0) /* received data available */
#define UART_IER_ETBEI BIT(1) /* THR empty */
#define UART_IER_ELSI BIT(2)  /* receiver line status */
#define UART_IER_EDSSI BIT(3) /* modem status */

#define UART_IIR_NO_INT BIT(0)
#define UART_IIR_ID GENMASK(3, 1)
#define UART_IIR_ID_MSI 0x0  /* modem status */
#define UART_IIR_ID_THRI 0x1 /* THR empty */
#define UART_IIR_ID_RDI 0x2  /* received data available (FIFO at trigger level) */
#define UART_IIR_ID_RLSI 0x3 /* receiver line status */
#define UART_IIR_ID_CTI 0x6  /* character timeout (FIFO below trigger level, not empty) */
#define UART_IIR_FIFO GENMASK(7, 6)

#define UART_FCR_ENABLE BIT(0)
#define UART_FCR_CLEAR_RX BIT(1)
#define UART_FCR_CLEAR_TX BIT(2)
#define UART_FCR_TRIGGER GENMASK(7, 6) /* 1, 4, 8, 14 bytes */

#define UART_LCR_DLAB BIT(7)

#define UART_MCR_DTR BIT(0)
#define UART_MCR_RTS BIT(1)
#define UART_MCR_OUT1 BIT(2)
#define UART_MCR_OUT2 BIT(3)
#define UART_MCR_LOOP BIT(4)

#define UART_LSR_DR BIT(0)
#define UART_LSR_OE BIT(1)
#define UART_LSR_PE BIT(2)
#define UART_LSR_FE BIT(3)
#define UART_LSR_BI BIT(4)
#define UART_LSR_THRE BIT(5)
#define UART_LSR_TEMT BIT(6)
#define UART_LSR_FIFOE BIT(7)

#define UART_MSR_DCTS BIT(0)
#define UART_MSR_DDSR BIT(1)
#define UART_MSR_TERI BIT(2)
#define UART_MSR_DDCD BIT(3)
#define UART_MSR_CTS BIT(4)
#define UART_MSR_DSR BIT(5)
#define UART_MSR_RI BIT(6)
#define UART_MSR_DCD BIT(7)

#define UART_FIFO_SIZE 16
#define UART_HOST_BUF_SIZE 4096
#define UART_TX_BUF_SIZE 4096
#define UART_MMIO_SIZE 0x1000 /* the region decodes 8 registers; the rest reads as zero */

/* Create a UART at guest physical base on the given SPI, writing its output to out_fd (not closed by the
 * UART). The region (uart16550_region) is not registered: the caller puts it on its bus. */
int __must_check uart16550_create(struct hv *hv, u64 base, u32 spi, int out_fd, struct uart16550 **out);
struct device *uart16550_device(struct uart16550 *u);
struct mmio_region *uart16550_region(struct uart16550 *u);
/* Queue host input; returns the number of bytes accepted (less than len when the host buffer is full). */
size_t uart16550_rx_push(struct uart16550 *u, const u8 *buf, size_t len);
/* Free space in the host buffer. When it returns 0 (or a push was short) the wake fd becomes readable once
 * the guest has drained some input; the reader then reads 8 bytes from it to clear it. */
size_t uart16550_rx_room(struct uart16550 *u);
/* true if the host buffer has room for need bytes; otherwise false, and the wake fd becomes readable as soon
 * as the guest drains some input (check again then). */
bool uart16550_rx_wait_room(struct uart16550 *u, size_t need);
int uart16550_wake_fd(struct uart16550 *u);

/* Output. The event loop polls the tx fd for POLLIN (read 8 bytes to clear it) and, while
 * uart16550_tx_blocked(), out_fd for POLLOUT; on either it calls uart16550_tx_flush(). */
int uart16550_tx_fd(struct uart16550 *u);
int uart16550_out_fd(struct uart16550 *u);
/* Write queued output to out_fd without blocking (if out_fd is non-blocking). Returns 0 when the buffer is
 * empty (or the output failed for good and was discarded), -EAGAIN when out_fd is full. */
int uart16550_tx_flush(struct uart16550 *u);
/* Bytes queued, not yet written. */
size_t uart16550_tx_pending(struct uart16550 *u);
/* Output is waiting for out_fd to become writable. */
bool uart16550_tx_blocked(struct uart16550 *u);
/* Bytes the guest wrote while the TX buffer was full (it ignored LSR.THRE). */
unsigned long uart16550_tx_dropped(struct uart16550 *u);

#endif
