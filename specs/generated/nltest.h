/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	specs/nltest.yaml */
/* YNL-GEN uapi header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _UAPI_LINUX_NLTEST_H
#define _UAPI_LINUX_NLTEST_H

#define NLTEST_FAMILY_NAME	"nltest"
#define NLTEST_FAMILY_VERSION	1

#define NLTEST_DEFAULT_UNIT		17
#define NLTEST_DEFAULT_MAX_PAYLOAD	32768
#define NLTEST_GROUP_COUNT		8
#define NLTEST_ECHO_GROUP		1
#define NLTEST_REPLY_DATAGRAM_MAX	8192

/**
 * enum nltest_counter - Counters of a network namespace, shared by both
 *   transports.
 * @NLTEST_COUNTER_REQUESTS: Typed requests received.
 * @NLTEST_COUNTER_ECHOES: Echoes sent, raw and typed.
 * @NLTEST_COUNTER_BROADCASTS: Broadcast messages sent.
 * @NLTEST_COUNTER_BYTES: Payload bytes echoed or broadcast.
 * @NLTEST_COUNTER_ERRORS: Requests answered with an error, malformed messages
 *   and failed sends.
 * @NLTEST_COUNTER_DROPPED: Messages a full receive queue refused.
 * @NLTEST_COUNTER_LISTENERS: Sockets that joined a group of the protocol unit,
 *   once per group (with the group attribute).
 */
enum nltest_counter {
	NLTEST_COUNTER_REQUESTS = 1,
	NLTEST_COUNTER_ECHOES,
	NLTEST_COUNTER_BROADCASTS,
	NLTEST_COUNTER_BYTES,
	NLTEST_COUNTER_ERRORS,
	NLTEST_COUNTER_DROPPED,
	NLTEST_COUNTER_LISTENERS,

	/* private: */
	__NLTEST_COUNTER_MAX,
	NLTEST_COUNTER_MAX = (__NLTEST_COUNTER_MAX - 1)
};

enum {
	NLTEST_A_DATA = 1,
	NLTEST_A_GROUP,
	NLTEST_A_PORTID,
	NLTEST_A_UID,
	NLTEST_A_STAT,

	__NLTEST_A_MAX,
	NLTEST_A_MAX = (__NLTEST_A_MAX - 1)
};

enum {
	NLTEST_A_STAT_COUNTER = 1,
	NLTEST_A_STAT_GROUP,
	NLTEST_A_STAT_VALUE,

	__NLTEST_A_STAT_MAX,
	NLTEST_A_STAT_MAX = (__NLTEST_A_STAT_MAX - 1)
};

enum {
	NLTEST_CMD_ECHO = 1,
	NLTEST_CMD_BROADCAST,
	NLTEST_CMD_GET_STATS,
	NLTEST_CMD_EVENT,

	__NLTEST_CMD_MAX,
	NLTEST_CMD_MAX = (__NLTEST_CMD_MAX - 1)
};

#define NLTEST_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_NLTEST_H */
