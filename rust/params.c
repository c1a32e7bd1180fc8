// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters. The `module!` macro of Linux 6.12 cannot declare
 * parameters yet, so they are declared here in C and read from Rust through
 * the bindings generated from params.h.
 */
#include <linux/moduleparam.h>

#include "params.h"

/* NLTEST_DEFAULT_UNIT comes from the protocol definitions (see Kbuild). */
int nltest_param_unit = NLTEST_DEFAULT_UNIT;
module_param_named(unit, nltest_param_unit, int, 0444);
MODULE_PARM_DESC(unit, "netlink protocol unit to register (default: NETLINK_TEST)");
