// SPDX-License-Identifier: GPL-2.0
/*
 * raw-client: a minimal raw echo client in C, the reference client of the
 * benchmark (nltest bench --reference-client).
 *
 * Sends COUNT raw messages (type 0, no flags, as the seed's C examples do)
 * of SIZE payload bytes to the module on protocol unit UNIT (by default
 * nltest_ref.ko's, read from /sys/module/nltest_ref/parameters/unit), BATCH
 * messages per sendmsg(), waits for the echoes of each batch and checks
 * every one (type, sequence number, length, payload), reading the echoes of
 * a batch with recvmmsg() (one recv() when the batch is one message), as
 * nltest bench does; the echoes of a batch share datagrams. Prints the rate
 * on one line, or with --json a JSON object:
 *   {"unit", "size", "count", "batch", "seconds", "echoes_per_second"}
 *
 * usage: raw-client [--unit N] [--size BYTES] [--count N] [--batch N] [--json]
 */
#define _GNU_SOURCE /* recvmmsg() */
#include <errno.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "nltest.h"

/* Where nltest_ref.ko, the default module, tells its unit. */
#define REFERENCE_UNIT "/sys/module/nltest_ref/parameters/unit"
#define TIMEOUT_SECONDS 5

static const char *program = "raw-client";

static __attribute__((noreturn)) void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: %s [--unit N] [--size BYTES] [--count N] [--batch N] [--json]\n"
		"  --unit N      netlink protocol unit (default: nltest_ref.ko's, from %s)\n"
		"  --size BYTES  payload bytes per echo (default 16)\n"
		"  --count N     echoes to send and check (default 10000)\n"
		"  --batch N     messages per sendmsg, whose echoes are awaited together (default 1)\n"
		"  --json        print {\"unit\",\"size\",\"count\",\"batch\",\"seconds\",\"echoes_per_second\"}\n",
		program, REFERENCE_UNIT);
	exit(status);
}

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *format, ...);

static void fail(const char *format, ...)
{
	va_list args;

	fprintf(stderr, "%s: error: ", program);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	exit(1);
}

/* A decimal number between min and max, or a usage error. */
static unsigned long number(const char *option, const char *text, unsigned long min,
			    unsigned long max)
{
	unsigned long value;
	char *end;

	if (!text)
		fail("%s needs a value (see --help)", option);
	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value < min || value > max)
		fail("%s: %s is not a number from %lu to %lu", option, text, min, max);
	return value;
}

/* The unit nltest_ref.ko is loaded on, the default of --unit. */
static unsigned long reference_unit(void)
{
	FILE *file = fopen(REFERENCE_UNIT, "r");
	unsigned long unit;
	int matched;

	if (!file)
		fail("no --unit given, and nltest_ref.ko is not loaded (%s: %s)", REFERENCE_UNIT,
		     strerror(errno));
	matched = fscanf(file, "%lu", &unit);
	fclose(file);
	if (matched != 1 || unit >= MAX_LINKS)
		fail("%s holds no netlink protocol unit", REFERENCE_UNIT);
	return unit;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Fails unless the datagram in SLOT, read into REPLY, holds the echoes of the
 * requests from *WANT on, in order; advances *WANT past them.
 */
static void check_echoes(const unsigned char *reply, const struct mmsghdr *slot, uint32_t *want,
			 unsigned long size, const unsigned char *request)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)reply;
	int rest = (int)slot->msg_len;

	if (slot->msg_hdr.msg_flags & MSG_TRUNC)
		fail("the echoes from message %u on do not fit their buffer", *want);
	if (rest < NLMSG_HDRLEN)
		fail("malformed reply of %d bytes", rest);
	for (; NLMSG_OK(nlh, rest); nlh = NLMSG_NEXT(nlh, rest), ++*want) {
		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			fail("message %u answered with error %d (%s)", nlh->nlmsg_seq,
			     ((const struct nlmsgerr *)NLMSG_DATA(nlh))->error,
			     strerror(-((const struct nlmsgerr *)NLMSG_DATA(nlh))->error));
		if (nlh->nlmsg_seq != *want)
			fail("expected the echo of message %u, got seq %u (type %u)", *want,
			     nlh->nlmsg_seq, nlh->nlmsg_type);
		if (nlh->nlmsg_type != 0 || nlh->nlmsg_pid != 0 ||
		    nlh->nlmsg_len != NLMSG_LENGTH(size))
			fail("echo of message %u: type %u, pid %u, length %u; expected type 0, pid 0, length %u",
			     *want, nlh->nlmsg_type, nlh->nlmsg_pid, nlh->nlmsg_len,
			     (unsigned int)NLMSG_LENGTH(size));
		if (memcmp(NLMSG_DATA(nlh), NLMSG_DATA(request), size))
			fail("echo of message %u: the payload differs from what was sent", *want);
	}
	if (rest != 0)
		fail("malformed reply: %d bytes left after the echo of message %u", rest, *want - 1);
}

int main(int argc, char *argv[])
{
	/* MAX_LINKS: no --unit, nltest_ref.ko's. */
	unsigned long unit = MAX_LINKS, size = 16, count = 10000, batch = 1;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct sockaddr_nl self = { .nl_family = AF_NETLINK };
	struct timeval timeout = { .tv_sec = TIMEOUT_SECONDS };
	size_t message_space, receive_size;
	unsigned char *request, *replies;
	struct mmsghdr *slots;
	struct iovec *slot_iovecs;
	unsigned long sent = 0;
	uint32_t seq = 0;
	double start, seconds;
	bool json = false;
	int fd, i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--unit"))
			unit = number(arg, value, 0, MAX_LINKS - 1), i++;
		else if (!strcmp(arg, "--size"))
			size = number(arg, value, 0, 16 * 1024 * 1024), i++;
		else if (!strcmp(arg, "--count"))
			count = number(arg, value, 1, UINT32_MAX), i++;
		else if (!strcmp(arg, "--batch"))
			batch = number(arg, value, 1, 1024 * 1024), i++;
		else if (!strcmp(arg, "--json"))
			json = true;
		else if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
			usage(stdout, 0);
		else
			usage(stderr, 2);
	}
	if (unit == MAX_LINKS)
		unit = reference_unit();
	if (batch > count)
		batch = count;

	fd = socket(AF_NETLINK, SOCK_RAW, (int)unit);
	if (fd < 0) {
		if (errno == EPROTONOSUPPORT)
			fail("netlink protocol %lu is not registered: load the module first", unit);
		fail("socket(AF_NETLINK, SOCK_RAW, %lu): %s", unit, strerror(errno));
	}
	if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0)
		fail("bind: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0)
		fail("setsockopt(SO_RCVTIMEO): %s", strerror(errno));

	/* The batch, built once; only the sequence numbers change. */
	message_space = NLMSG_SPACE(size);
	request = calloc(batch, message_space);
	/* One buffer per datagram that a batch's echoes may take, read with
	 * one recvmmsg() (one recv() when the batch is one message), as nltest
	 * bench reads them: shared echoes take at most
	 * NLTEST_REPLY_DATAGRAM_MAX bytes, a larger echo comes alone.
	 */
	receive_size = NLTEST_REPLY_DATAGRAM_MAX;
	if (message_space > receive_size)
		receive_size = message_space;
	replies = malloc(batch * receive_size);
	slots = calloc(batch, sizeof(*slots));
	slot_iovecs = calloc(batch, sizeof(*slot_iovecs));
	if (!request || !replies || !slots || !slot_iovecs)
		fail("out of memory");
	for (i = 0; (unsigned long)i < batch; i++) {
		slot_iovecs[i].iov_base = replies + i * receive_size;
		slot_iovecs[i].iov_len = receive_size;
		slots[i].msg_hdr.msg_iov = &slot_iovecs[i];
		slots[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; (unsigned long)i < batch; i++) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(request + i * message_space);
		unsigned char *payload = NLMSG_DATA(nlh);
		size_t at;

		nlh->nlmsg_len = NLMSG_LENGTH(size);
		nlh->nlmsg_type = 0;
		nlh->nlmsg_flags = 0;
		for (at = 0; at < size; at++)
			payload[at] = at % 251;
	}

	start = now();
	while (sent < count) {
		unsigned long n = count - sent < batch ? count - sent : batch, k;
		struct iovec iov = { .iov_base = request, .iov_len = n * message_space };
		struct msghdr msg = {
			.msg_name = &kernel,
			.msg_namelen = sizeof(kernel),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};

		for (k = 0; k < n; k++)
			((struct nlmsghdr *)(request + k * message_space))->nlmsg_seq = seq + 1 + k;
		while (sendmsg(fd, &msg, 0) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE)
				fail("sendmsg: a batch of %lu messages (%zu bytes) exceeds the socket's send buffer: lower --batch or --size",
				     n, n * message_space);
			fail("sendmsg: %s", strerror(errno));
		}
		for (k = 0; k < n;) {
			int got, j;

			if (n == 1) {
				ssize_t len = recv(fd, replies, receive_size, MSG_TRUNC);

				got = len < 0 ? -1 : 1;
				slots[0].msg_len = len < 0 ? 0 : (unsigned int)len;
				slots[0].msg_hdr.msg_flags = len > (ssize_t)receive_size ? MSG_TRUNC : 0;
			} else {
				got = recvmmsg(fd, slots, (unsigned int)n, MSG_WAITFORONE, NULL);
			}

			if (got < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					fail("no echo of message %u within %d s: is a module on netlink unit %lu?",
					     seq + 1 + (uint32_t)k, TIMEOUT_SECONDS, unit);
				if (errno == ENOBUFS)
					fail("echoes lost: the receive queue overflowed (ENOBUFS); lower --batch or --size");
				fail("recvmmsg: %s", strerror(errno));
			}
			for (j = 0; j < got; j++) {
				uint32_t want = seq + 1 + (uint32_t)k;

				check_echoes(replies + j * receive_size, &slots[j], &want, size,
					     request);
				k = want - seq - 1;
			}
		}
		seq += n;
		sent += n;
	}
	seconds = now() - start;

	if (json)
		printf("{\"unit\":%lu,\"size\":%lu,\"count\":%lu,\"batch\":%lu,\"seconds\":%.6f,\"echoes_per_second\":%.1f}\n",
		       unit, size, count, batch, seconds, count / seconds);
	else
		printf("raw-client: unit %lu, %lu B, %lu echoes, batch %lu: %.0f echoes/s, %.3f s\n",
		       unit, size, count, batch, count / seconds, seconds);
	close(fd);
	free(request);
	free(replies);
	free(slots);
	free(slot_iovecs);
	return 0;
}
