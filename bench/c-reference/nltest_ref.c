// SPDX-License-Identifier: GPL-2.0
/*
 * nltest_ref: the C reference of nltest.ko, for benchmarking.
 *
 * Speaks the same protocol as the Rust module (docs/protocol.md) on its own
 * netlink unit (by default the first one no kernel header assigns, so that
 * both can be loaded at once), written the way in-tree netlink users are:
 * netlink_kernel_create(), nlmsg_new()/nlmsg_put()/nla_put(),
 * nlmsg_unicast(), nlmsg_multicast(), nlmsg_parse() with a strict policy,
 * and netlink_rcv_skb()'s loop with netlink_ack(), as nfnetlink's batches
 * do: replies to one datagram share datagrams, sent before each ack.
 *
 * What it implements, with the Rust module's header handling, replies and
 * error codes:
 *
 * - the raw echo: every message of a datagram that is neither a control
 *   message nor a typed request goes back to its sender with the same type,
 *   sequence number and payload (nlmsg_pid 0, never blocking), and with the
 *   same type and sequence number to the other sockets in multicast group
 *   NLTEST_ECHO_GROUP when someone listens there; a message with a bad
 *   nlmsg_len is answered with NLMSG_ERROR -EINVAL and ends the datagram;
 * - the typed ECHO request: a reply carrying the DATA attribute, and an
 *   EVENT on NLTEST_ECHO_GROUP sent as nlmsg_notify() sends notifications
 *   (nlmsg_seq 0, to every listener but the requesting socket, which gets a
 *   copy of its own when the request has NLM_F_ECHO: after its reply, before
 *   its ack); a request without DATA fails as GENL_REQ_ATTR_CHECK() fails
 *   it, with -EINVAL and the missing attribute in the extended ack; acks and
 *   extended errors with netlink_rcv_skb()'s rules;
 * - the replies to the messages of one datagram, in order, in shared
 *   datagrams of up to NLMSG_GOODSIZE bytes.
 *
 * It keeps the Rust module's counters of requests, echoes, bytes, errors and
 * drops (atomic, as there), so that both do the same work per message, but
 * has no GET_STATS to read them. What it leaves out: BROADCAST and GET_STATS
 * (answered with -EOPNOTSUPP), the listener count, and network namespaces
 * other than init_net.
 *
 * The protocol's numbers come from the uapi headers that the kernel's
 * ynl_gen_c.py generates from the YNL specs (specs/nltest.yaml and
 * specs/nltest-raw.yaml) into specs/generated, where Kbuild finds them:
 * nltest.h holds the constants and attributes (NLTEST_ECHO_GROUP is
 * echo-group in the specs, NLTEST_A_DATA the data attribute), nltest_raw.h
 * the message types of the protocol unit (NLTEST_MSG_ECHO and so on).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/stringify.h>
#include <linux/uidgid.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "nltest.h"
#include "nltest_raw.h"

/*
 * The first netlink unit that no kernel header assigns (the last one
 * include/uapi/linux/netlink.h names is NETLINK_SMC; MAX_LINKS is 32), so
 * that nltest.ko can stay on NLTEST_DEFAULT_UNIT. The only place the number
 * is written: scripts read /sys/module/nltest_ref/parameters/unit.
 */
#define NLTEST_REF_DEFAULT_UNIT 23

static int unit = NLTEST_REF_DEFAULT_UNIT;
module_param(unit, int, 0444);
MODULE_PARM_DESC(unit, "netlink protocol unit to register (default: "
		 __stringify(NLTEST_REF_DEFAULT_UNIT) ", beside nltest.ko)");

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
 * nltest_ref_count_echoes() - count echoes sent, or lost
 * @err: what nlmsg_unicast() returned for the datagram that held them
 * @count: echoes in it
 * @bytes: payload bytes echoed
 *
 * As the Rust module counts: -EAGAIN (the receiver's queue was full) is a
 * drop, any other error an error.
 */
static void nltest_ref_count_echoes(int err, unsigned int count, unsigned int bytes)
{
	if (!err) {
		atomic64_add(count, &nltest_ref_counters.echoes);
		atomic64_add(bytes, &nltest_ref_counters.bytes);
	} else if (err == -EAGAIN) {
		atomic64_add(count, &nltest_ref_counters.dropped);
	} else {
		atomic64_add(count, &nltest_ref_counters.errors);
	}
}

/**
 * struct nltest_ref_replies - the replies to the sender of one datagram
 * @sk: the kernel socket
 * @portid: the sender's port id, as the netlink core recorded it
 * @more_follow: whether messages of the datagram follow the one being served
 * @skb: the reply datagram being filled, or NULL
 * @count: echoes in @skb (which may hold EVENT copies too, not counted)
 * @bytes: their payload bytes
 */
struct nltest_ref_replies {
	struct sock *sk;
	u32 portid;
	bool more_follow;
	struct sk_buff *skb;
	unsigned int count, bytes;
};

/**
 * nltest_ref_flush() - send the queued replies
 * @replies: the replies
 *
 * Never blocks: when the sender's receive queue is full the datagram is
 * dropped and the netlink core reports ENOBUFS to the sender.
 */
static void nltest_ref_flush(struct nltest_ref_replies *replies)
{
	if (!replies->skb)
		return;
	if (replies->skb->len)
		nltest_ref_count_echoes(nlmsg_unicast(replies->sk, replies->skb, replies->portid),
					replies->count, replies->bytes);
	else
		kfree_skb(replies->skb);
	replies->skb = NULL;
	replies->count = 0;
	replies->bytes = 0;
}

/**
 * nltest_ref_reserve() - room for a reply of @len bytes of payload
 * @replies: the replies
 * @len: payload bytes of the reply
 *
 * Sends the queued replies first when they leave no room. A new datagram
 * has room for NLMSG_GOODSIZE bytes when more messages follow, for this
 * reply only otherwise.
 *
 * Return: the socket buffer to put the reply in, or NULL.
 */
static struct sk_buff *nltest_ref_reserve(struct nltest_ref_replies *replies, int len)
{
	if (replies->skb && skb_tailroom(replies->skb) >= nlmsg_total_size(len))
		return replies->skb;
	nltest_ref_flush(replies);
	if (replies->more_follow && nlmsg_total_size(len) < NLMSG_GOODSIZE)
		len = NLMSG_DEFAULT_SIZE;
	replies->skb = nlmsg_new(len, GFP_KERNEL);
	return replies->skb;
}

/**
 * nltest_ref_queued() - count a reply put in the queued datagram
 * @replies: the replies
 * @echoes: 1 for an echo, 0 for a message not counted as one (an EVENT)
 * @len: payload bytes echoed
 *
 * Sends the datagram at once when the reply is too large to share one.
 */
static void nltest_ref_queued(struct nltest_ref_replies *replies, unsigned int echoes,
			      unsigned int len)
{
	replies->count += echoes;
	replies->bytes += len;
	/* A reply too large to share goes at once, alone. */
	if (replies->skb->len > NLMSG_GOODSIZE)
		nltest_ref_flush(replies);
}

/* ECHO takes DATA only; strict parsing rejects any other attribute. */
static const struct nla_policy nltest_ref_echo_policy[NLTEST_A_MAX + 1] = {
	[NLTEST_A_DATA] = { .type = NLA_BINARY },
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
 * @replies: the replies to the sender
 * @nlh: the message
 *
 * The broadcast is best effort, and skips the sender, which has its echo.
 */
static void nltest_ref_raw_echo(struct nltest_ref_replies *replies,
				const struct nlmsghdr *nlh)
{
	int len = nlmsg_len(nlh);
	struct nlmsghdr *hdr;
	struct sk_buff *skb;

	skb = nltest_ref_reserve(replies, len);
	hdr = skb ? nlmsg_put(skb, 0, nlh->nlmsg_seq, nlh->nlmsg_type, len, 0) : NULL;
	if (hdr) {
		memcpy(nlmsg_data(hdr), nlmsg_data(nlh), len);
		nltest_ref_queued(replies, 1, len);
	} else {
		atomic64_inc(&nltest_ref_counters.errors);
	}

	if (!netlink_has_listeners(replies->sk, NLTEST_ECHO_GROUP))
		return;
	skb = nltest_ref_copy(nlh->nlmsg_type, nlh->nlmsg_seq, nlmsg_data(nlh), len);
	if (skb)
		nlmsg_multicast(replies->sk, skb, replies->portid, NLTEST_ECHO_GROUP,
				GFP_KERNEL);
}

/**
 * nltest_ref_bad_length() - answer a message whose nlmsg_len is wrong
 * @replies: the replies to the sender
 * @nlh: the message's header (the header only is valid)
 *
 * Sends NLMSG_ERROR -EINVAL carrying the header, after the queued replies,
 * as the Rust module does.
 */
static void nltest_ref_bad_length(struct nltest_ref_replies *replies,
				  const struct nlmsghdr *nlh)
{
	struct nlmsgerr err = { .error = -EINVAL };
	struct sk_buff *skb;

	atomic64_inc(&nltest_ref_counters.errors);
	memcpy(&err.msg, nlh, sizeof(err.msg));
	nltest_ref_flush(replies);
	skb = nltest_ref_copy(NLMSG_ERROR, nlh->nlmsg_seq, &err, sizeof(err));
	if (skb)
		nlmsg_unicast(replies->sk, skb, replies->portid);
}

/**
 * nltest_ref_event_size() - payload bytes of the EVENT that a typed ECHO sends
 * @len: bytes of its DATA attribute
 *
 * Return: the size of the EVENT's attributes.
 */
static int nltest_ref_event_size(int len)
{
	return nla_total_size(len) + 2 * nla_total_size(sizeof(u32));
}

/**
 * nltest_ref_put_event() - put the EVENT that a typed ECHO sends
 * @event: the socket buffer to put it in
 * @skb: the request's datagram
 * @data: the request's DATA attribute
 *
 * The EVENT is a notification, as nlmsg_notify() sends them: nlmsg_seq 0
 * and nlmsg_pid 0.
 *
 * Return: 0, or -EMSGSIZE (@event unchanged) when it does not fit.
 */
static int nltest_ref_put_event(struct sk_buff *event, struct sk_buff *skb,
				const struct nlattr *data)
{
	struct sock *sender = NETLINK_CB(skb).sk;
	struct nlmsghdr *hdr;
	u32 uid;

	uid = from_kuid_munged(sk_user_ns(sender), NETLINK_CB(skb).creds.uid);
	hdr = nlmsg_put(event, 0, 0, NLTEST_MSG_EVENT, 0, 0);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put(event, NLTEST_A_DATA, nla_len(data), nla_data(data)) ||
	    nla_put_u32(event, NLTEST_A_PORTID, NETLINK_CB(skb).portid) ||
	    nla_put_u32(event, NLTEST_A_UID, uid)) {
		nlmsg_cancel(event, hdr);
		return -EMSGSIZE;
	}
	nlmsg_end(event, hdr);
	return 0;
}

/**
 * nltest_ref_publish() - send the EVENT of a typed ECHO to NLTEST_ECHO_GROUP
 * @skb: the request's datagram
 * @data: the request's DATA attribute
 *
 * Best effort, to every listener but the requesting socket, as
 * nlmsg_notify() sends a report.
 */
static void nltest_ref_publish(struct sk_buff *skb, const struct nlattr *data)
{
	struct sk_buff *event;

	event = nlmsg_new(nltest_ref_event_size(nla_len(data)), GFP_KERNEL);
	if (!event)
		return;
	if (nltest_ref_put_event(event, skb, data)) {
		kfree_skb(event);
		return;
	}
	nlmsg_multicast(skb->sk, event, NETLINK_CB(skb).portid, NLTEST_ECHO_GROUP,
			GFP_KERNEL);
}

/**
 * nltest_ref_echo() - the typed ECHO request
 * @replies: the replies to the sender
 * @skb: the request's datagram
 * @nlh: the request
 * @extack: the extended ack netlink_rcv_skb() sends with the answer
 *
 * Queues a reply with the DATA attribute (a reply the sender's full queue
 * refuses is lost, not an error), publishes an EVENT on NLTEST_ECHO_GROUP
 * when someone listens there, and with NLM_F_ECHO queues the sender's copy
 * of the EVENT after the reply, so that it comes before the ack. The EVENT
 * is best effort, as in the Rust module: the reply is queued.
 *
 * Return: 0, or a negative errno for netlink_rcv_skb() to send back.
 */
static int nltest_ref_echo(struct nltest_ref_replies *replies, struct sk_buff *skb,
			   struct nlmsghdr *nlh, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NLTEST_A_MAX + 1];
	struct sock *sk = skb->sk;
	struct sk_buff *reply;
	struct nlmsghdr *hdr;
	struct nlattr *data;
	unsigned int len;
	int err;

	err = nlmsg_parse(nlh, 0, tb, NLTEST_A_MAX, nltest_ref_echo_policy, extack);
	if (err)
		return err;
	/* As GENL_REQ_ATTR_CHECK() answers: -EINVAL, no message. */
	if (NL_REQ_ATTR_CHECK(extack, NULL, tb, NLTEST_A_DATA))
		return -EINVAL;
	data = tb[NLTEST_A_DATA];
	len = nla_len(data);
	if (len > max_payload) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, data,
					"DATA is %u bytes, more than max_payload (%u)",
					len, max_payload);
		return -EMSGSIZE;
	}

	reply = nltest_ref_reserve(replies, nla_total_size(len));
	if (!reply)
		return -ENOMEM;
	hdr = nlmsg_put(reply, 0, nlh->nlmsg_seq, nlh->nlmsg_type, 0, 0);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put(reply, NLTEST_A_DATA, len, nla_data(data))) {
		nlmsg_cancel(reply, hdr);
		return -EMSGSIZE;
	}
	nlmsg_end(reply, hdr);
	nltest_ref_queued(replies, 1, len);

	if (netlink_has_listeners(sk, NLTEST_ECHO_GROUP))
		nltest_ref_publish(skb, data);
	if (nlh->nlmsg_flags & NLM_F_ECHO) {
		reply = nltest_ref_reserve(replies, nltest_ref_event_size(len));
		if (reply && !nltest_ref_put_event(reply, skb, data))
			nltest_ref_queued(replies, 0, 0);
	}
	return 0;
}

/**
 * nltest_ref_request() - serve a typed request
 * @replies: the replies to the sender
 * @skb: the request's datagram
 * @nlh: the request (NLM_F_REQUEST, type at least NLMSG_MIN_TYPE)
 * @extack: the extended ack sent with the answer
 *
 * Return: 0, or a negative errno to send back.
 */
static int nltest_ref_request(struct nltest_ref_replies *replies, struct sk_buff *skb,
			      struct nlmsghdr *nlh, struct netlink_ext_ack *extack)
{
	int err;

	atomic64_inc(&nltest_ref_counters.requests);
	switch (nlh->nlmsg_type) {
	case NLTEST_MSG_ECHO:
		err = nltest_ref_echo(replies, skb, nlh, extack);
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
 * nltest_ref_serve() - serve one message of a datagram
 * @replies: the replies to the sender
 * @skb: the datagram
 * @nlh: the message, whose length was checked
 *
 * netlink_rcv_skb()'s rules: requests (NLM_F_REQUEST, a type of at least
 * NLMSG_MIN_TYPE) are served; any message with NLM_F_ACK, and a failed
 * request, is acked. Raw messages are echoed. The queued replies are sent
 * before an ack, so that the sender reads every answer in order.
 */
static void nltest_ref_serve(struct nltest_ref_replies *replies, struct sk_buff *skb,
			     struct nlmsghdr *nlh)
{
	struct netlink_ext_ack extack;
	int err;

	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) || nlh->nlmsg_type < NLMSG_MIN_TYPE) {
		if (nltest_ref_is_raw(nlh))
			nltest_ref_raw_echo(replies, nlh);
		if (nlh->nlmsg_flags & NLM_F_ACK) {
			nltest_ref_flush(replies);
			memset(&extack, 0, sizeof(extack));
			netlink_ack(skb, nlh, 0, &extack);
		}
		return;
	}
	memset(&extack, 0, sizeof(extack));
	err = nltest_ref_request(replies, skb, nlh, &extack);
	if (err == -EINTR)
		return;
	if (err || (nlh->nlmsg_flags & NLM_F_ACK)) {
		nltest_ref_flush(replies);
		netlink_ack(skb, nlh, err, &extack);
	}
}

/**
 * nltest_ref_input() - the kernel socket's input callback
 * @skb: a datagram a userspace socket sent
 *
 * Serves its messages in order, up to the first one whose length is wrong
 * (answered with NLMSG_ERROR -EINVAL), then sends the replies still queued.
 * Fewer than NLMSG_HDRLEN bytes left are ignored.
 */
static void nltest_ref_input(struct sk_buff *skb)
{
	struct nltest_ref_replies replies = {
		.sk = skb->sk,
		.portid = NETLINK_CB(skb).portid,
	};
	struct nlmsghdr *nlh = nlmsg_hdr(skb);
	unsigned int rest = skb->len;

	while (rest >= NLMSG_HDRLEN) {
		unsigned int len;

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > rest) {
			nltest_ref_bad_length(&replies, nlh);
			break;
		}
		len = NLMSG_ALIGN(nlh->nlmsg_len);
		replies.more_follow = len < rest;
		nltest_ref_serve(&replies, skb, nlh);
		if (len >= rest)
			break;
		rest -= len;
		nlh = (struct nlmsghdr *)((u8 *)nlh + len);
	}
	nltest_ref_flush(&replies);
}

static int __init nltest_ref_init(void)
{
	struct netlink_kernel_cfg cfg = {
		.groups = NLTEST_GROUP_COUNT,
		.flags = nonroot_listen ? NL_CFG_F_NONROOT_RECV : 0,
		.input = nltest_ref_input,
	};

	/* The protocol promises readers no larger shared datagram. */
	BUILD_BUG_ON(NLMSG_GOODSIZE > NLTEST_REPLY_DATAGRAM_MAX);
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
