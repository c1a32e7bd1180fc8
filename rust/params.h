/* SPDX-License-Identifier: GPL-2.0 */
#ifndef NLTEST_PARAMS_H
#define NLTEST_PARAMS_H

#include <linux/types.h>

/* Module parameters, defined in params.c and read from Rust (rust/parameters.rs). */
extern int nltest_param_unit;
extern bool nltest_param_nonroot_listen;
extern unsigned int nltest_param_max_payload;
extern unsigned int nltest_param_dump_batch;

#endif
