/* cli.h: the command line. `ivmm run [options]`, `ivmm --help`, `ivmm --version`; --config FILE is read
 * first and the other options override it whatever their order. Parsing has no side effects beyond
 * printing help/version/errors. */
#ifndef IVMM_CLI_H
#define IVMM_CLI_H

#include "vmm/compiler.h"

struct vm_config;

enum cli_action {
	CLI_RUN,          /* cfg is complete and validated: run it (or dump the DTB if cfg->dump_dtb) */
	CLI_EXIT,         /* help or version was printed: exit 0 */
};

/* Returns 0 and sets *action, or -errno after printing exactly one "ivmm: error: ..." line naming the
 * option or file:line and the value. The caller exits with ivmm_exit_for_errno(ret) (vmm/config.h):
 * usage errors (exit 2) are -EINVAL (bad option, value or file content) and, for a --config file that
 * cannot be opened, -ENOENT, -EACCES, -EISDIR, -ENOTDIR, -ELOOP, -ENAMETOOLONG; host trouble (exit 1) is
 * -ENOMEM, or -EIO and other errors reading a config file. */
int __must_check cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_action *action);

#endif
