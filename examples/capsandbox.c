// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capsandbox - a channel that may read but not write, by a classic BPF
 * filter the channel's owner attaches without any privilege.
 *
 *   capsandbox [-e ERRNO] DIR FILE
 *
 * Grants DIR with every right, attaches a filter refusing WRITE and
 * TRUNCATE with ERRNO (default EPERM), seals the channel, then opens FILE
 * beneath DIR for reading and writing: the capability holds the write
 * right, yet READ works and WRITE is refused by the filter.  A second
 * filter, attached after SEAL, allows everything: filters stack and none
 * loosens another, so WRITE stays refused.  Prints the channel's fdinfo
 * filter counters at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <capchan.h>

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

static int parse_errno(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	int e;

	if (end != s && !*end)
		return v >= 1 && v <= 4095 ? (int)v : -1;
	for (e = 1; e <= 4095; e++)
		if (strerrorname_np(e) && !strcasecmp(strerrorname_np(e), s))
			return e;
	return -1;
}

/* fdinfo lines about filters, as the module reports them */
static void show_counters(int fd)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "filters:", 8) ||
		    !strncmp(line, "filter-denied:", 14))
			printf("capsandbox: fdinfo %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	static const struct sock_filter allow_all[] = {
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
	};
	struct capchan ch;
	int err = EPERM, dirfd, dir, h, ret, status = 0;
	char buf[256];
	ssize_t n;

	if (argc > 2 && !strcmp(argv[1], "-e")) {
		err = parse_errno(argv[2]);
		if (err < 0) {
			fprintf(stderr, "capsandbox: '%s' is not an errno\n", argv[2]);
			return 2;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: capsandbox [-e ERRNO] DIR FILE\n");
		return 2;
	}

	ret = capchan_open_channel(&ch);
	if (ret < 0) {
		fprintf(stderr, "capsandbox: %s: %s\n", CAPCHAN_DEVICE, strerror(-ret));
		return 1;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "capsandbox: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	dir = capchan_grant(&ch, dirfd, CAPCHAN_RIGHTS_ALL);
	close(dirfd);
	if (dir < 0) {
		fprintf(stderr, "capsandbox: grant: %s\n", strerror(-dir));
		return 1;
	}
	ret = capchan_filter_deny_ops(&ch, 1ULL << CAPCHAN_OP_WRITE |
				      1ULL << CAPCHAN_OP_TRUNCATE, err);
	if (ret < 0) {
		fprintf(stderr, "capsandbox: filter: -%s (%s)\n", errname(-ret),
			strerror(-ret));
		return 1;
	}
	printf("capsandbox: filter attached: WRITE and TRUNCATE refused with %s\n",
	       errname(err));
	ret = capchan_seal(&ch);
	if (ret < 0) {
		fprintf(stderr, "capsandbox: seal: %s\n", strerror(-ret));
		return 1;
	}
	ret = capchan_filter_attach(&ch, allow_all, 1);
	if (ret < 0) {
		fprintf(stderr, "capsandbox: second filter: %s\n", strerror(-ret));
		return 1;
	}
	printf("capsandbox: sealed; a second filter that allows everything added on top\n");

	h = capchan_open_beneath(&ch, dir, argv[2], 0, 0, CAPCHAN_RIGHT_READ |
				 CAPCHAN_RIGHT_WRITE | CAPCHAN_RIGHT_SEEK);
	if (h < 0) {
		fprintf(stderr, "capsandbox: open %s: -%s\n", argv[2], errname(-h));
		return 1;
	}
	printf("capsandbox: open %s beneath the directory (read, write, seek) -> handle 0x%x\n",
	       argv[2], h);
	n = capchan_read(&ch, h, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		printf("capsandbox: READ refused: -%s\n", errname(-n));
		status = 1;
	} else {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		printf("capsandbox: READ ok, %zd bytes: \"%s\"\n", n, buf);
	}
	n = capchan_write(&ch, h, "scribble\n", 9, 0);
	if (n == -err) {
		printf("capsandbox: WRITE refused by the filter: -%s (%s)\n",
		       errname(err), strerror(err));
	} else {
		printf("capsandbox: WRITE gave %zd, expected -%s\n", n, errname(err));
		status = 1;
	}
	show_counters(ch.fd);
	capchan_queue_exit(&ch);
	return status;
}
