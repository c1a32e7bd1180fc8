// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters. The `module!` macro of Linux 6.12 cannot declare
 * parameters yet, so they are declared here in C and read from Rust through
 * the bindings generated from params.h. Their defaults come from the
 * protocol definitions (see Kbuild).
 */
#include <linux/moduleparam.h>

#include "params.h"

int nltest_param_unit = NLTEST_DEFAULT_UNIT;
module_param_named(unit, nltest_param_unit, int, 0444);
MODULE_PARM_DESC(unit, "netlink protocol unit to register (default: NETLINK_TEST)");

bool nltest_param_nonroot_listen;
module_param_named(nonroot_listen, nltest_param_nonroot_listen, bool, 0444);
MODULE_PARM_DESC(nonroot_listen,
		 "let sockets without CAP_NET_ADMIN join the multicast groups (default: no)");

unsigned int nltest_param_max_payload = NLTEST_DEFAULT_MAX_PAYLOAD;
module_param_named(max_payload, nltest_param_max_payload, uint, 0444);
MODULE_PARM_DESC(max_payload, "largest DATA attribute of a typed request, in bytes");

unsigned int nltest_param_dump_batch;
module_param_named(dump_batch, nltest_param_dump_batch, uint, 0444);
MODULE_PARM_DESC(dump_batch,
		 "at most this many parts per round of a dump (0: as many as fit); small values make dumps span many reads");
