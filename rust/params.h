/* SPDX-License-Identifier: GPL-2.0 */
#ifndef NLTEST_PARAMS_H
#define NLTEST_PARAMS_H

/* Module parameters, defined in params.c and read from Rust (rust/parameters.rs). */
extern int nltest_param_unit;

#endif
