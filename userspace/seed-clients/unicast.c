/*
 * The seed article's unicast client, as it is written there: binds its pid,
 * sends "Hello you!" in an NLMSG_SPACE(MAX_PAYLOAD) message of type 0 and
 * prints the payload of the reply. Only the uninitialised header fields are
 * zeroed, so that the message is the same on every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#define NETLINK_TEST 17
#define MAX_PAYLOAD 1024 /* maximum payload size */

struct sockaddr_nl src_addr, dest_addr;
struct nlmsghdr *nlh = NULL;
struct iovec iov;
int sock_fd;
struct msghdr msg;

int main(int argc, char *argv[])
{
	int unit = argc > 1 ? atoi(argv[1]) : NETLINK_TEST;

	sock_fd = socket(PF_NETLINK, SOCK_RAW, unit);
	if (sock_fd < 0) {
		perror("socket");
		return 1;
	}
	memset(&src_addr, 0, sizeof(src_addr));
	src_addr.nl_family = AF_NETLINK;
	src_addr.nl_pid = getpid(); /* self pid */
	src_addr.nl_groups = 0;     /* not in mcast groups */
	bind(sock_fd, (struct sockaddr *)&src_addr, sizeof(src_addr));

	memset(&dest_addr, 0, sizeof(dest_addr));
	dest_addr.nl_family = AF_NETLINK;
	dest_addr.nl_pid = 0;    /* For Linux Kernel */
	dest_addr.nl_groups = 0; /* unicast */

	nlh = (struct nlmsghdr *)malloc(NLMSG_SPACE(MAX_PAYLOAD));
	memset(nlh, 0, NLMSG_SPACE(MAX_PAYLOAD));
	/* Fill the netlink message header */
	nlh->nlmsg_len = NLMSG_SPACE(MAX_PAYLOAD);
	nlh->nlmsg_pid = getpid(); /* self pid */
	nlh->nlmsg_flags = 0;
	/* Fill in the netlink message payload */
	strcpy(NLMSG_DATA(nlh), "Hello you!");

	iov.iov_base = (void *)nlh;
	iov.iov_len = nlh->nlmsg_len;
	msg.msg_name = (void *)&dest_addr;
	msg.msg_namelen = sizeof(dest_addr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	if (sendmsg(sock_fd, &msg, 0) < 0) {
		perror("sendmsg");
		return 1;
	}

	/* Read message from kernel */
	memset(nlh, 0, NLMSG_SPACE(MAX_PAYLOAD));
	if (recvmsg(sock_fd, &msg, 0) < 0) {
		perror("recvmsg");
		return 1;
	}
	printf(" Received message payload: %s\n", (char *)NLMSG_DATA(nlh));
	printf(" nlmsg_len=%u nlmsg_type=%u nlmsg_pid=%u\n", nlh->nlmsg_len,
	       nlh->nlmsg_type, nlh->nlmsg_pid);

	/* Close Netlink Socket */
	close(sock_fd);
	return 0;
}
