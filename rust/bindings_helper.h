/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module needs beyond `kernel::bindings`. bindgen reads this header
 * during the module's build (see Kbuild and bindgen_parameters); the static
 * inline functions it selects get C wrappers compiled into the module.
 */
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>
#include <net/netlink.h>

#include "params.h"

/* What C reaches through a macro or an anonymous union, as functions. */
static inline struct sock *nltest_skb_sock(const struct sk_buff *skb)
{
	return skb->sk;
}

static inline u32 nltest_skb_sender_portid(const struct sk_buff *skb)
{
	return NETLINK_CB(skb).portid;
}
