/*
 * The seed article's multicast listener, as it is written there: binds its
 * pid with nl_groups = 1 and prints the payload of the first message it
 * receives. It waits forever, as in the article: the caller bounds it.
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
	/* interested in group 1<<0 */
	src_addr.nl_groups = 1;
	if (bind(sock_fd, (struct sockaddr *)&src_addr, sizeof(src_addr)) < 0) {
		perror("bind");
		return 1;
	}
	/* Tell whoever started us that we listen (not in the article). */
	printf(" listening\n");
	fflush(stdout);

	nlh = (struct nlmsghdr *)malloc(NLMSG_SPACE(MAX_PAYLOAD));
	memset(nlh, 0, NLMSG_SPACE(MAX_PAYLOAD));

	iov.iov_base = (void *)nlh;
	iov.iov_len = NLMSG_SPACE(MAX_PAYLOAD);
	msg.msg_name = (void *)&dest_addr;
	msg.msg_namelen = sizeof(dest_addr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	/* Read message from kernel */
	if (recvmsg(sock_fd, &msg, 0) < 0) {
		perror("recvmsg");
		return 1;
	}
	printf(" Received message payload: %s\n", (char *)NLMSG_DATA(nlh));
	close(sock_fd);
	return 0;
}
