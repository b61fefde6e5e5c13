/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A UDP echo for guests (busybox has no UDP client or server), linked
 * statically and shared into the guest by hostfs:
 *
 *   guest-udp serve PORT            echoes the first datagram ("echo:" TEXT), exits
 *   guest-udp send ADDR PORT TEXT   sends TEXT until a reply comes (30 s), prints it
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char buf[1500];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	if (fd < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "serve") == 0) {
		sa.sin_port = htons((unsigned short)atoi(argv[2]));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return 1;
		memcpy(buf, "echo:", 5);
		n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&sa, &len);
		if (n < 0 || sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&sa, len) < 0)
			return 1;
		printf("served %.*s\n", (int)n, buf + 5);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "send") == 0) {
		sa.sin_port = htons((unsigned short)atoi(argv[3]));
		if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1)
			return 2;
		for (int i = 0; i < 60; i++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				return 1;
			if (poll(&p, 1, 500) == 1 && (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
				printf("reply %.*s\n", (int)n, buf);
				return 0;
			}
		}
		return 1;
	}
	fprintf(stderr, "usage: guest-udp serve PORT | send ADDR PORT TEXT\n");
	return 2;
}
