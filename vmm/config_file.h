/* config_file.h: the INI machine description, in the style of QEMU's -readconfig and git-config:
 *
 *   [machine]                 memory = 512M, cpus = 2, hugepages = false
 *   [boot]                    kernel = PATH, initrd = PATH, cmdline = STRING
 *   [device "NAME"]           driver = vfio-pci, host = DDDD:BB:DD.F  (one section per device)
 *
 * Comments start with '#' or ';' at the start of a line (or ';' after a space). Values may be wrapped in
 * double quotes. Lines are at most 198 characters (libinih's line buffer, INI_MAX_LINE 200 in Debian's
 * libinih 55, fixed at its build). A longer cmdline (up to IVMM_MAX_CMDLINE, 2047) goes on over indented
 * lines, Python-configparser style: each indented line after `cmdline = ...` (comment lines between are
 * skipped) is appended after one space, its own quotes stripped:
 *
 *   cmdline = console=ttyS0 earlycon
 *       root=/dev/vda rw
 *
 * Any other key followed by an indented line is an error. A key may appear once per section. Relative
 * paths are taken relative to the directory of the config file. Parsed with
 * libinih; this file adds line-accurate messages, section checks and the value rules of config_parse.h. */
#ifndef IVMM_CONFIG_FILE_H
#define IVMM_CONFIG_FILE_H

#include "vmm/compiler.h"

struct vm_config;

/* Apply the file at path on top of cfg (what the file sets replaces cfg's values; devices are added).
 * Returns 0, or -EINVAL (bad content) / -errno (unreadable) after printing exactly one line
 * "ivmm: error: PATH:LINE: ..." (or "ivmm: error: cannot read config file 'PATH': REASON"). */
int __must_check config_file_load(const char *path, struct vm_config *cfg);

#endif
