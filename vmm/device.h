/* device.h: the small device object every emulated or passthrough device embeds. Devices are kept on the
 * VM's list in creation order; realize runs in that order, destroy in reverse. Reached with container_of. */
#ifndef IVMM_DEVICE_H
#define IVMM_DEVICE_H

#include "vmm/compiler.h"

struct device;

struct device_ops {
	const char *type;
	/* Reset to power-on state (guest reset, and before first run). Optional. */
	void (*reset)(struct device *dev);
	/* Undo everything the device's constructor did. Required. */
	void (*destroy)(struct device *dev);
};

struct device {
	const struct device_ops *ops;
	const char *name;
	struct device *next;
};

#endif
