// SPDX-License-Identifier: GPL-2.0
/*
 * nltest_ref: the C reference of nltest.ko, for benchmarking.
 *
 * Speaks the same protocol as the Rust module (docs/protocol.md) on its own
 * netlink unit (18 by default, so that both can be loaded at once), written
 * the way in-tree netlink users are: netlink_kernel_create(),
 * netlink_rcv_skb(), nlmsg_new()/nlmsg_put()/nla_put(), nlmsg_unicast(),
 * nlmsg_multicast() and nlmsg_parse() with a strict policy.
 *
 * What it implements, with the Rust module's header handling, replies and
 * error codes:
 *
 * - the raw echo: every message of a datagram that is neither a control
 *   message nor a typed request goes back to its sender with the same type,
 *   sequence number and payload (nlmsg_pid 0, never blocking), and to
 *   multicast group ECHO_GROUP when someone listens there; a message with a
 *   bad nlmsg_len is answered with NLMSG_ERROR -EINVAL and ends the datagram;
 * - the typed ECHO request: a reply carrying the DATA attribute, an EVENT on
 *   ECHO_GROUP, acks and extended errors through netlink_rcv_skb().
 *
 * It keeps the Rust module's counters of requests, echoes, bytes, errors and
 * drops (atomic, as there), so that both do the same work per message, but
 * has no GET_STATS to read them. What it leaves out: BROADCAST and GET_STATS
 * (answered with -EOPNOTSUPP), the listener count, and network namespaces
 * other than init_net.
 *
 * The protocol's numbers come from nltest_protocol.h, which Kbuild generates
 * from userspace/protocol/src/definitions.rs, the Rust module's source too:
 * NLTEST_ECHO_GROUP there is ECHO_GROUP in docs/protocol.md, and so on.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/uidgid.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "nltest_protocol.h"

static int unit = 18;
module_param(unit, int, 0444);
MODULE_PARM_DESC(unit, "netlink protocol unit to register (default: 18, beside nltest.ko's 17)");

static unsigned int max_payload = NLTEST_DEFAULT_MAX_PAYLOAD;
module_param(max_payload, uint, 0444);
MODULE_PARM_DESC(max_payload, "largest DATA attribute of a typed request, in bytes");

static bool nonroot_listen;
module_param(nonroot_listen, bool, 0444);
MODULE_PARM_DESC(nonroot_listen,
		 "let sockets without CAP_NET_ADMIN join the multicast groups (default: no)");

static struct sock *nltest_ref_sock;

/* The Rust module's counters, without GET_STATS: the same work per message. */
static struct {
	atomic64_t requests, echoes, bytes, errors, dropped;
} nltest_ref_counters;

/**
 * nltest_ref_count_echo() - count an echo sent, or lost
 * @err: what nlmsg_unicast() returned
 * @len: payload bytes echoed
 *
 * As the Rust module counts: -EAGAIN (the receiver's queue was full) is a
 * drop, any other error an error.
 */
static void nltest_ref_count_echo(int err, unsigned int len)
{
	if (!err) {
		atomic64_inc(&nltest_ref_counters.echoes);
		atomic64_add(len, &nltest_ref_counters.bytes);
	} else if (err == -EAGAIN) {
		atomic64_inc(&nltest_ref_counters.dropped);
	} else {
		atomic64_inc(&nltest_ref_counters.errors);
	}
}

/* ECHO takes DATA only; strict parsing rejects any other attribute. */
static const struct nla_policy nltest_ref_echo_policy[NLTEST_ATTR_MAX + 1] = {
	[NLTEST_ATTR_DATA] = { .type = NLA_BINARY },
};

/**
 * nltest_ref_is_raw() - whether a message belongs to the raw echo protocol
 * @nlh: the message
 *
 * Raw messages are those netlink_rcv_skb() does not pass to its callback
 * and that are not control messages: type 0, or a type of at least
 * NLMSG_MIN_TYPE without NLM_F_REQUEST.
 *
 * Return: true for a raw message.
 */
static bool nltest_ref_is_raw(const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type >= NLMSG_MIN_TYPE)
		return !(nlh->nlmsg_flags & NLM_F_REQUEST);
	return nlh->nlmsg_type == 0;
}

/**
 * nltest_ref_copy() - a new message with the given header fields and payload
 * @type: nlmsg_type
 * @seq: nlmsg_seq
 * @payload: payload bytes
 * @len: number of payload bytes
 *
 * The message has nlmsg_flags 0 and nlmsg_pid 0 (from the kernel).
 *
 * Return: the socket buffer, or NULL when it cannot be allocated.
 */
static struct sk_buff *nltest_ref_copy(u16 type, u32 seq, const void *payload,
				       int len)
{
	struct nlmsghdr *nlh;
	struct sk_buff *skb;

	skb = nlmsg_new(len, GFP_KERNEL);
	if (!skb)
		return NULL;
	nlh = nlmsg_put(skb, 0, seq, type, len, 0);
	if (!nlh) {
		kfree_skb(skb);
		return NULL;
	}
	memcpy(nlmsg_data(nlh), payload, len);
	return skb;
}

/**
 * nltest_ref_raw_echo() - echo a raw message to its sender and group 1
 * @sk: the kernel socket
 * @portid: the sender's port id, as the netlink core recorded it
 * @nlh: the message
 *
 * The unicast never blocks: when the sender's receive queue is full the echo
 * is dropped and the netlink core reports ENOBUFS to the sender. The
 * broadcast is best effort.
 */
static void nltest_ref_raw_echo(struct sock *sk, u32 portid,
				const struct nlmsghdr *nlh)
{
	int len = nlmsg_len(nlh);
	struct sk_buff *skb;

	skb = nltest_ref_copy(nlh->nlmsg_type, nlh->nlmsg_seq, nlmsg_data(nlh), len);
	nltest_ref_count_echo(skb ? nlmsg_unicast(sk, skb, portid) : -ENOMEM, len);

	if (!netlink_has_listeners(sk, NLTEST_ECHO_GROUP))
		return;
	skb = nltest_ref_copy(nlh->nlmsg_type, nlh->nlmsg_seq, nlmsg_data(nlh), len);
	if (skb)
		nlmsg_multicast(sk, skb, 0, NLTEST_ECHO_GROUP, GFP_KERNEL);
}

/**
 * nltest_ref_bad_length() - answer a message whose nlmsg_len is wrong
 * @sk: the kernel socket
 * @portid: the sender's port id
 * @nlh: the message's header (the header only is valid)
 *
 * Sends NLMSG_ERROR -EINVAL carrying the header, as the Rust module does.
 */
static void nltest_ref_bad_length(struct sock *sk, u32 portid,
				  const struct nlmsghdr *nlh)
{
	struct nlmsgerr err = { .error = -EINVAL };
	struct sk_buff *skb;

	atomic64_inc(&nltest_ref_counters.errors);
	memcpy(&err.msg, nlh, sizeof(err.msg));
	skb = nltest_ref_copy(NLMSG_ERROR, nlh->nlmsg_seq, &err, sizeof(err));
	if (skb)
		nlmsg_unicast(sk, skb, portid);
}

/**
 * nltest_ref_event() - the EVENT that a typed ECHO publishes
 * @skb: the request's datagram
 * @nlh: the request
 * @data: the request's DATA attribute
 *
 * Return: the message, or NULL when it cannot be allocated.
 */
static struct sk_buff *nltest_ref_event(struct sk_buff *skb,
					const struct nlmsghdr *nlh,
					const struct nlattr *data)
{
	struct sock *sender = NETLINK_CB(skb).sk;
	struct sk_buff *event;
	struct nlmsghdr *hdr;
	u32 uid;

	uid = from_kuid_munged(sk_user_ns(sender), NETLINK_CB(skb).creds.uid);
	event = nlmsg_new(nla_total_size(nla_len(data)) + 2 * nla_total_size(sizeof(u32)),
			  GFP_KERNEL);
	if (!event)
		return NULL;
	hdr = nlmsg_put(event, 0, nlh->nlmsg_seq, NLTEST_MSG_EVENT, 0, 0);
	if (!hdr ||
	    nla_put(event, NLTEST_ATTR_DATA, nla_len(data), nla_data(data)) ||
	    nla_put_u32(event, NLTEST_ATTR_PORTID, NETLINK_CB(skb).portid) ||
	    nla_put_u32(event, NLTEST_ATTR_UID, uid)) {
		kfree_skb(event);
		return NULL;
	}
	nlmsg_end(event, hdr);
	return event;
}

/**
 * nltest_ref_echo() - the typed ECHO request
 * @skb: the request's datagram
 * @nlh: the request
 * @extack: the extended ack netlink_rcv_skb() sends with the answer
 *
 * Replies with the DATA attribute, without blocking (a reply the sender's
 * full queue refuses is lost, not an error), then publishes an EVENT on
 * ECHO_GROUP when someone listens there.
 *
 * Return: 0, or a negative errno for netlink_rcv_skb() to send back.
 */
static int nltest_ref_echo(struct sk_buff *skb, struct nlmsghdr *nlh,
			   struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NLTEST_ATTR_MAX + 1];
	struct sk_buff *reply, *event;
	struct sock *sk = skb->sk;
	struct nlmsghdr *hdr;
	struct nlattr *data;
	unsigned int len;
	int err;

	err = nlmsg_parse(nlh, 0, tb, NLTEST_ATTR_MAX, nltest_ref_echo_policy, extack);
	if (err)
		return err;
	data = tb[NLTEST_ATTR_DATA];
	if (!data) {
		NL_SET_ERR_MSG(extack, "missing DATA attribute");
		return -ENODATA;
	}
	len = nla_len(data);
	if (len > max_payload) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, data,
					"DATA is %u bytes, more than max_payload (%u)",
					len, max_payload);
		return -EMSGSIZE;
	}

	reply = nlmsg_new(nla_total_size(len), GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	hdr = nlmsg_put(reply, 0, nlh->nlmsg_seq, nlh->nlmsg_type, 0, 0);
	if (!hdr || nla_put(reply, NLTEST_ATTR_DATA, len, nla_data(data))) {
		kfree_skb(reply);
		return -EMSGSIZE;
	}
	nlmsg_end(reply, hdr);
	nltest_ref_count_echo(nlmsg_unicast(sk, reply, NETLINK_CB(skb).portid), len);

	if (!netlink_has_listeners(sk, NLTEST_ECHO_GROUP))
		return 0;
	/* As in the Rust module: the reply is gone, yet the request fails. */
	event = nltest_ref_event(skb, nlh, data);
	if (!event)
		return -ENOMEM;
	nlmsg_multicast(sk, event, 0, NLTEST_ECHO_GROUP, GFP_KERNEL);
	return 0;
}

/**
 * nltest_ref_request() - the callback netlink_rcv_skb() calls for requests
 * @skb: the request's datagram
 * @nlh: the request (NLM_F_REQUEST, type at least NLMSG_MIN_TYPE)
 * @extack: the extended ack sent with the answer
 *
 * Return: 0, or a negative errno for netlink_rcv_skb() to send back.
 */
static int nltest_ref_request(struct sk_buff *skb, struct nlmsghdr *nlh,
			      struct netlink_ext_ack *extack)
{
	int err;

	atomic64_inc(&nltest_ref_counters.requests);
	switch (nlh->nlmsg_type) {
	case NLTEST_MSG_ECHO:
		err = nltest_ref_echo(skb, nlh, extack);
		break;
	case NLTEST_MSG_BROADCAST:
	case NLTEST_MSG_GET_STATS:
		NL_SET_ERR_MSG(extack, "not implemented by the C reference module");
		err = -EOPNOTSUPP;
		break;
	default:
		NL_SET_ERR_MSG(extack, "unknown command");
		err = -EOPNOTSUPP;
		break;
	}
	if (err)
		atomic64_inc(&nltest_ref_counters.errors);
	return err;
}

/**
 * nltest_ref_input() - the kernel socket's input callback
 * @skb: a datagram a userspace socket sent
 *
 * First the raw messages, in order, up to the first one whose length is
 * wrong (which netlink_rcv_skb() would skip silently); then the requests, in
 * order, through netlink_rcv_skb(). Fewer than NLMSG_HDRLEN bytes left are
 * ignored.
 */
static void nltest_ref_input(struct sk_buff *skb)
{
	u32 portid = NETLINK_CB(skb).portid;
	const struct nlmsghdr *nlh = nlmsg_hdr(skb);
	unsigned int rest = skb->len;
	struct sock *sk = skb->sk;

	while (rest >= NLMSG_HDRLEN) {
		unsigned int len;

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > rest) {
			nltest_ref_bad_length(sk, portid, nlh);
			break;
		}
		if (nltest_ref_is_raw(nlh))
			nltest_ref_raw_echo(sk, portid, nlh);
		len = NLMSG_ALIGN(nlh->nlmsg_len);
		if (len >= rest)
			break;
		rest -= len;
		nlh = (const struct nlmsghdr *)((const u8 *)nlh + len);
	}

	netlink_rcv_skb(skb, nltest_ref_request);
}

static int __init nltest_ref_init(void)
{
	struct netlink_kernel_cfg cfg = {
		.groups = NLTEST_GROUP_COUNT,
		.flags = nonroot_listen ? NL_CFG_F_NONROOT_RECV : 0,
		.input = nltest_ref_input,
	};

	if (unit < 0 || unit >= MAX_LINKS) {
		pr_err("unit=%d is not a netlink protocol unit (0 to %d)\n", unit, MAX_LINKS - 1);
		return -EINVAL;
	}
	nltest_ref_sock = netlink_kernel_create(&init_net, unit, &cfg);
	if (!nltest_ref_sock) {
		pr_err("netlink protocol unit %d is already registered by another kernel socket; pick a free one with unit=N\n",
		       unit);
		return -EADDRINUSE;
	}
	pr_info("netlink protocol %d registered in init_net, %d multicast groups\n",
		unit, NLTEST_GROUP_COUNT);
	return 0;
}

static void __exit nltest_ref_exit(void)
{
	netlink_kernel_release(nltest_ref_sock);
}

module_init(nltest_ref_init);
module_exit(nltest_ref_exit);

MODULE_AUTHOR("nltest authors");
MODULE_DESCRIPTION("Netlink echo service (NETLINK_TEST), C reference for benchmarks");
MODULE_LICENSE("GPL");
