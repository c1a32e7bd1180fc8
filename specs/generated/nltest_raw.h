/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	specs/nltest-raw.yaml */
/* YNL-GEN uapi header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _UAPI_LINUX_NLTEST_RAW_H
#define _UAPI_LINUX_NLTEST_RAW_H

#define NLTEST_RAW_FAMILY_NAME		"nltest-raw"
#define NLTEST_RAW_FAMILY_VERSION	1

enum {
	NLTEST_RAW_A_DATA = 1,
	NLTEST_RAW_A_GROUP,
	NLTEST_RAW_A_PORTID,
	NLTEST_RAW_A_UID,
	NLTEST_RAW_A_STAT,

	__NLTEST_RAW_A_MAX,
	NLTEST_RAW_A_MAX = (__NLTEST_RAW_A_MAX - 1)
};

enum {
	NLTEST_RAW_A_STAT_COUNTER = 1,
	NLTEST_RAW_A_STAT_GROUP,
	NLTEST_RAW_A_STAT_VALUE,

	__NLTEST_RAW_A_STAT_MAX,
	NLTEST_RAW_A_STAT_MAX = (__NLTEST_RAW_A_STAT_MAX - 1)
};

enum {
	NLTEST_MSG_ECHO = 16,
	NLTEST_MSG_BROADCAST,
	NLTEST_MSG_GET_STATS,
	NLTEST_MSG_EVENT,

	__NLTEST_MSG_MAX,
	NLTEST_MSG_MAX = (__NLTEST_MSG_MAX - 1)
};

#define NLTEST_RAW_MCGRP_EVENTS		"events"
#define NLTEST_RAW_MCGRP_GROUP_2	"group-2"
#define NLTEST_RAW_MCGRP_GROUP_3	"group-3"
#define NLTEST_RAW_MCGRP_GROUP_4	"group-4"
#define NLTEST_RAW_MCGRP_GROUP_5	"group-5"
#define NLTEST_RAW_MCGRP_GROUP_6	"group-6"
#define NLTEST_RAW_MCGRP_GROUP_7	"group-7"
#define NLTEST_RAW_MCGRP_GROUP_8	"group-8"

#endif /* _UAPI_LINUX_NLTEST_RAW_H */
