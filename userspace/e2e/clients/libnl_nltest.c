// SPDX-License-Identifier: GPL-2.0
/*
 * libnl_nltest: a client of the nltest generic netlink family written as a
 * libnl user writes one (libnl-3 and libnl-genl-3, the uapi header generated
 * from specs/nltest.yaml), to show what such a client sees:
 *
 *  - the family and its events group, resolved by name;
 *  - echo: the reply matched by libnl's own sequence number check;
 *  - get-stats, the single answer and the dump, decoded with one attribute
 *    policy: a counter is a stat nest in both;
 *  - an event on a listening socket, with sequence number 0;
 *  - echo without data: -EINVAL, the extended ack naming the missing
 *    attribute (NLMSGERR_ATTR_MISS_TYPE).
 *
 * Prints "ok NAME" or "FAILED NAME: why" per check; exits 1 if one failed.
 * Every receive has a timeout (SO_RCVTIMEO): nothing blocks forever.
 *
 * usage: libnl-nltest
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "nltest.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static int failures;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAILED %s: %s\n", name, why);
		failures++;
	}
}

/* A libnl policy has no NLA_UINT: value is 4 or 8 bytes, checked by hand. */
static struct nla_policy stat_policy[NLTEST_A_STAT_MAX + 1] = {
	[NLTEST_A_STAT_COUNTER] = { .type = NLA_U32 },
	[NLTEST_A_STAT_GROUP] = { .type = NLA_U32 },
	[NLTEST_A_STAT_VALUE] = { .type = NLA_UNSPEC, .minlen = 4 },
};

static struct nla_policy policy[NLTEST_A_MAX + 1] = {
	[NLTEST_A_DATA] = { .type = NLA_UNSPEC },
	[NLTEST_A_GROUP] = { .type = NLA_U32 },
	[NLTEST_A_PORTID] = { .type = NLA_U32 },
	[NLTEST_A_UID] = { .type = NLA_U32 },
	[NLTEST_A_STAT] = { .type = NLA_NESTED },
};

struct seen {
	int messages;		/* messages the callback saw */
	int stats;		/* stat nests decoded */
	int bad_stats;		/* stat nests that did not decode */
	int requests_seen;	/* stat nests of the requests counter */
	unsigned int seq;	/* the last message's sequence number */
	int cmd;		/* the last message's command */
	char data[64];		/* the last message's data */
	int data_len;
	unsigned int portid;	/* the last event's portid */
	int error;		/* the error of an NLMSG_ERROR, 0 if none */
	int missing_type;	/* its NLMSGERR_ATTR_MISS_TYPE, -1 if none */
};

static int stat_of(struct nlattr *nest, struct seen *seen)
{
	struct nlattr *tb[NLTEST_A_STAT_MAX + 1];
	int len;

	if (nla_parse_nested(tb, NLTEST_A_STAT_MAX, nest, stat_policy) < 0 ||
	    !tb[NLTEST_A_STAT_COUNTER] || !tb[NLTEST_A_STAT_VALUE])
		return -1;
	len = nla_len(tb[NLTEST_A_STAT_VALUE]);
	if (len != 4 && len != 8)
		return -1;
	if (nla_get_u32(tb[NLTEST_A_STAT_COUNTER]) == NLTEST_COUNTER_REQUESTS)
		seen->requests_seen++;
	return 0;
}

static int on_message(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *gnlh = nlmsg_data(nlh);
	struct nlattr *tb[NLTEST_A_MAX + 1];
	struct seen *seen = arg;
	struct nlattr *attr;
	int rem;

	seen->messages++;
	seen->seq = nlh->nlmsg_seq;
	seen->cmd = gnlh->cmd;
	if (genlmsg_parse(nlh, 0, tb, NLTEST_A_MAX, policy) < 0)
		return NL_SKIP;
	if (tb[NLTEST_A_DATA]) {
		seen->data_len = nla_len(tb[NLTEST_A_DATA]);
		if (seen->data_len > (int)sizeof(seen->data))
			seen->data_len = sizeof(seen->data);
		memcpy(seen->data, nla_data(tb[NLTEST_A_DATA]), seen->data_len);
	}
	if (tb[NLTEST_A_PORTID])
		seen->portid = nla_get_u32(tb[NLTEST_A_PORTID]);
	/* stat is multi-attr: walk every one, not just the last tb[] kept. */
	nlmsg_for_each_attr(attr, nlh, GENL_HDRLEN, rem) {
		if (nla_type(attr) != NLTEST_A_STAT)
			continue;
		if (stat_of(attr, seen) == 0)
			seen->stats++;
		else
			seen->bad_stats++;
	}
	return NL_OK;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)err - NLMSG_HDRLEN);
	struct seen *seen = arg;
	struct nlattr *tlv;
	int offset, rem;

	(void)nla;
	seen->error = err->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	offset = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += err->msg.nlmsg_len - sizeof(err->msg);
	tlv = (struct nlattr *)((char *)err + NLMSG_ALIGN(offset));
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(offset);
	for (; nla_ok(tlv, rem); tlv = nla_next(tlv, &rem))
		if (nla_type(tlv) == NLMSGERR_ATTR_MISS_TYPE)
			seen->missing_type = nla_get_u32(tlv);
	return NL_STOP;
}

static struct nl_sock *open_socket(struct seen *seen)
{
	struct timeval timeout = { .tv_sec = 10 };
	struct nl_sock *sock = nl_socket_alloc();
	int one = 1;

	if (!sock || genl_connect(sock) < 0)
		return NULL;
	setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &timeout,
		   sizeof(timeout));
	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	/*
	 * The answer is the reply (or the error): no ack to wait for, so that
	 * each nl_recvmsgs_default() reads one request's answer.
	 */
	nl_socket_disable_auto_ack(sock);
	nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, on_message, seen);
	nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, on_error, seen);
	return sock;
}

/* Sends cmd (with data when not NULL, as a dump when dump) and reads the answer. */
static int request(struct nl_sock *sock, int family, int cmd, const char *data,
		   int dump, struct seen *seen)
{
	struct nl_msg *msg = nlmsg_alloc();
	int err;

	memset(seen, 0, sizeof(*seen));
	seen->missing_type = -1;
	if (!msg)
		return -NLE_NOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 dump ? NLM_F_DUMP : 0, cmd, NLTEST_FAMILY_VERSION) ||
	    (data && nla_put(msg, NLTEST_A_DATA, strlen(data), data) < 0)) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	err = nl_send_auto(sock, msg);
	nlmsg_free(msg);
	if (err < 0)
		return err;
	return nl_recvmsgs_default(sock);
}

int main(void)
{
	struct seen seen, heard;
	struct nl_sock *sock, *listener;
	int family, group, err, requests;
	char why[160];

	sock = open_socket(&seen);
	listener = open_socket(&heard);
	if (!sock || !listener) {
		printf("FAILED connect: cannot open generic netlink sockets\n");
		return 1;
	}
	family = genl_ctrl_resolve(sock, NLTEST_FAMILY_NAME);
	group = genl_ctrl_resolve_grp(sock, NLTEST_FAMILY_NAME, NLTEST_MCGRP_EVENTS);
	snprintf(why, sizeof(why), "family %d, group %d", family, group);
	check(family > 0 && group > 0, "resolve_family_and_events_group", why);
	if (family <= 0 || group <= 0)
		return 1;

	err = request(sock, family, NLTEST_CMD_ECHO, "libnl", 0, &seen);
	snprintf(why, sizeof(why), "error %d, %d messages, cmd %d, %d bytes",
		 err, seen.messages, seen.cmd, seen.data_len);
	check(err >= 0 && seen.messages == 1 && seen.cmd == NLTEST_CMD_ECHO &&
	      seen.data_len == 5 && !memcmp(seen.data, "libnl", 5),
	      "echo_reply_matched_by_sequence_number", why);

	err = request(sock, family, NLTEST_CMD_GET_STATS, NULL, 0, &seen);
	requests = seen.requests_seen;
	snprintf(why, sizeof(why), "error %d, %d stat nests, %d undecodable",
		 err, seen.stats, seen.bad_stats);
	check(err >= 0 && seen.stats > NLTEST_COUNTER_MAX - 1 && !seen.bad_stats &&
	      requests == 1, "get_stats_single_answer_of_stat_nests", why);

	err = request(sock, family, NLTEST_CMD_GET_STATS, NULL, 1, &seen);
	snprintf(why, sizeof(why), "error %d, %d parts, %d stat nests, %d undecodable",
		 err, seen.messages, seen.stats, seen.bad_stats);
	check(err >= 0 && seen.messages == seen.stats && seen.stats > 1 &&
	      !seen.bad_stats && seen.requests_seen == 1,
	      "get_stats_dump_parts_with_the_same_policy", why);

	/* A listener has no requests of its own: it takes any sequence number. */
	nl_socket_disable_seq_check(listener);
	err = nl_socket_add_membership(listener, group);
	if (err >= 0)
		err = request(sock, family, NLTEST_CMD_ECHO, "heard", 0, &seen);
	if (err >= 0) {
		memset(&heard, 0, sizeof(heard));
		err = nl_recvmsgs_default(listener);
	}
	snprintf(why, sizeof(why), "error %d, cmd %d, seq %u, portid %u (sender %u)",
		 err, heard.cmd, heard.seq, heard.portid,
		 nl_socket_get_local_port(sock));
	check(err >= 0 && heard.cmd == NLTEST_CMD_EVENT && heard.seq == 0 &&
	      heard.data_len == 5 && !memcmp(heard.data, "heard", 5) &&
	      heard.portid == nl_socket_get_local_port(sock),
	      "event_with_sequence_number_0", why);

	err = request(sock, family, NLTEST_CMD_ECHO, NULL, 0, &seen);
	snprintf(why, sizeof(why), "error %d (%s), errno %d, missing type %d",
		 err, nl_geterror(err), -seen.error, seen.missing_type);
	check(seen.error == -EINVAL && seen.missing_type == NLTEST_A_DATA,
	      "missing_data_is_named_in_the_extended_ack", why);

	nl_socket_free(listener);
	nl_socket_free(sock);
	return failures ? 1 : 0;
}
