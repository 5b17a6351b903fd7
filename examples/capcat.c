// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capcat - print files through capabilities.
 *
 *   capcat [-v] DIR PATH...
 *
 * Grants DIR to a fresh channel as a read-only directory capability, seals
 * the channel (no more ambient authority can enter it), then opens each
 * PATH *beneath* DIR and prints it.  A PATH that tries to leave DIR (.., an
 * absolute path, a symlink pointing outside) is refused by the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <capchan.h>

static int verbose;

#define say(...) do { if (verbose) fprintf(stderr, "capcat: " __VA_ARGS__); } while (0)

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

static int cat_one(struct capchan *ch, uint32_t dir, const char *path)
{
	void *buf = NULL;
	ssize_t n;
	int h;

	h = capchan_open_beneath(ch, dir, path, 0, 0,
				 CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_STAT);
	if (h < 0) {
		fprintf(stderr, "capcat: open %s beneath the directory: refused, -%s (%s)\n",
			path, errname(-h), strerror(-h));
		return -1;
	}
	say("open %s beneath the directory -> handle 0x%x (read, stat)\n", path, h);
	/* dropped at the end of this block, whatever path we leave it by */
	CAPCHAN_SCOPED(file, ch, h);

	n = capchan_read_to_end(ch, h, &buf);
	if (n < 0) {
		fprintf(stderr, "capcat: read %s: -%s (%s)\n", path, errname(-n),
			strerror(-n));
		return -1;
	}
	say("read %zd bytes from handle 0x%x\n", n, h);
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct capchan ch;
	int dirfd, dir, ret, i, status = 0;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: capcat [-v] DIR PATH...\n");
		return 2;
	}

	ret = capchan_open_channel(&ch);
	if (ret < 0) {
		fprintf(stderr, "capcat: %s: %s\n", CAPCHAN_DEVICE, strerror(-ret));
		return 1;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		perror(argv[1]);
		return 1;
	}
	dir = capchan_grant(&ch, dirfd, CAPCHAN_RIGHT_LOOKUP |
			    CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_STAT);
	close(dirfd);	/* the capability keeps the directory open */
	if (dir < 0) {
		fprintf(stderr, "capcat: grant %s: %s\n", argv[1], strerror(-dir));
		return 1;
	}
	say("grant %s -> directory handle 0x%x (lookup, read, stat)\n", argv[1], dir);
	ret = capchan_seal(&ch);
	if (ret < 0) {
		fprintf(stderr, "capcat: seal: %s\n", strerror(-ret));
		return 1;
	}
	say("channel sealed: no further grants\n");

	for (i = 2; i < argc; i++)
		if (cat_one(&ch, dir, argv[i]))
			status = 1;
	capchan_queue_exit(&ch);
	return status;
}
