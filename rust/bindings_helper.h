/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module needs beyond `kernel::bindings`. bindgen reads this header
 * during the module's build (see Kbuild and bindgen_parameters); the static
 * inline functions it selects get C wrappers compiled into the module.
 */
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/netlink.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>


/* What C reaches through a macro or an anonymous union, as functions. */
static inline struct net *nltest_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

/* The sender's uid as seen from the user namespace of the sending socket. */
static inline u32 nltest_skb_sender_uid(const struct sk_buff *skb)
{
	return from_kuid_munged(sk_user_ns(NETLINK_CB(skb).sk), NETLINK_CB(skb).creds.uid);
}

/* Macros bindgen cannot evaluate, as constants (like the kernel's own helpers). */
const unsigned int NLTEST_VALIDATE_STRICT = NL_VALIDATE_STRICT;
const u8 NLTEST_GENL_MCAST_CAP_NET_ADMIN = GENL_MCAST_CAP_NET_ADMIN;
const u8 NLTEST_GENL_CMD_CAP_DO = GENL_CMD_CAP_DO;
const u8 NLTEST_GENL_CMD_CAP_DUMP = GENL_CMD_CAP_DUMP;
const size_t NLTEST_GENL_HDRLEN = GENL_HDRLEN;
const size_t NLTEST_NLMSG_GOODSIZE = NLMSG_GOODSIZE;
