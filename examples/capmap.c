// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capmap - read a file through a mapping of its capability, without
 * copying, and watch the mapping die when the capability is revoked.
 *
 *   capmap FILE
 *
 * Grants FILE to a channel (READ, MMAP, DELEGATE, REVOKE, STAT) and maps
 * all of it with capchan_mmap(3): the pages are the file's own page cache.
 * Prints its size, a checksum (FNV-1a, 32 bits) and first line, and checks
 * that the mapping holds exactly what capchan_read(3) reads.  Then REVOKEs
 * the handle: capchan_mmap(3) mapped a capability file of a new child of
 * it, so that child is revoked and the mapping torn down.  Touching the
 * mapping again (the first page and the last) must raise SIGBUS, which is
 * caught (sigsetjmp/siglongjmp) and reported.
 *
 * Exit status: 0 if the mapping read the file and died with SIGBUS after
 * REVOKE, 1 otherwise, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <capchan.h>

static sigjmp_buf bus_jmp;
static void *volatile bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_addr = si->si_addr;
	siglongjmp(bus_jmp, 1);
}

/*
 * Read one byte of the mapping at p: 1 if that raised SIGBUS, 0 if the
 * read went through.
 */
static int touch_faults(const char *p)
{
	if (sigsetjmp(bus_jmp, 1))
		return 1;
	(void)*(const volatile char *)p;
	return 0;
}

static uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

static void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: capmap FILE\n"
		"Map FILE through a capability (capchan_mmap), print it, REVOKE the\n"
		"capability and check that the mapping now raises SIGBUS.\n"
		"Exit 0 if it did, 1 if not, 2: usage.\n");
	exit(status);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	struct capchan_stat st;
	struct capchan ch;
	const char *path, *p, *eol;
	void *map = NULL, *copy;
	size_t size, line, last;
	ssize_t n;
	int fd, h, ret, first_bus, last_bus;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		usage(stdout, 0);
	if (argc != 2 || argv[1][0] == '-')
		usage(stderr, 2);
	path = argv[1];

	ret = capchan_open_channel(&ch);
	if (ret < 0) {
		fprintf(stderr, "capmap: %s: %s\n", CAPCHAN_DEVICE, strerror(-ret));
		return 1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "capmap: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* DELEGATE: capchan_mmap() exports a child with READ and MMAP */
	h = capchan_grant(&ch, fd, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP | CAPCHAN_RIGHT_DELEGATE |
			  CAPCHAN_RIGHT_REVOKE | CAPCHAN_RIGHT_STAT);
	close(fd);
	if (h < 0) {
		fprintf(stderr, "capmap: grant %s: %s\n", path, strerror(-h));
		return 1;
	}
	ret = capchan_seal(&ch);
	if (ret == 0)
		ret = capchan_stat(&ch, h, &st);
	if (ret < 0) {
		fprintf(stderr, "capmap: %s\n", strerror(-ret));
		return 1;
	}
	size = st.size;
	if (!size || size != st.size) {
		fprintf(stderr, "capmap: %s: %s, nothing to map\n", path,
			size ? "too large" : "empty");
		return 1;
	}

	ret = capchan_mmap(&ch, h, size, PROT_READ, MAP_SHARED, 0, &map);
	if (ret < 0) {
		printf("capmap: capchan_mmap: -%s (%s)\n", errname(-ret),
		       strerror(-ret));
		return 1;
	}
	p = map;
	eol = memchr(p, '\n', size);
	line = eol ? (size_t)(eol - p) : size;
	printf("capmap: mapped %s (%zu bytes) through handle 0x%x: the file's page cache, nothing copied\n",
	       path, size, h);
	printf("capmap: fnv1a32 %08x, first line \"%.*s\"\n",
	       fnv1a(map, size), (int)(line > 200 ? 200 : line), p);

	/* the mapping and a READ of the same capability agree */
	n = capchan_read_to_end(&ch, h, &copy);
	if (n != (ssize_t)size || memcmp(copy, map, size)) {
		printf("capmap: capchan_read_to_end gave %zd bytes%s, expected the mapping's %zu\n",
		       n, n == (ssize_t)size ? " that differ" : "", size);
		return 1;
	}
	free(copy);
	printf("capmap: the mapping holds exactly what capchan_read reads\n");

	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL)) {
		perror("capmap: sigaction");
		return 1;
	}
	ret = capchan_revoke(&ch, h);
	if (ret != 1) {
		printf("capmap: REVOKE of handle 0x%x gave %d, expected 1 (the mapping's capability)\n",
		       h, ret);
		return 1;
	}
	printf("capmap: REVOKE of handle 0x%x -> 1 capability revoked (the one the mapping holds)\n",
	       h);

	last = (size - 1) & ~((size_t)sysconf(_SC_PAGESIZE) - 1);
	first_bus = touch_faults(p);
	last_bus = touch_faults(p + last);
	if (first_bus && last_bus) {
		printf("capmap: mapping died after REVOKE: SIGBUS (first page at %p, last page at %p)\n",
		       (void *)p, (void *)(p + last));
	} else {
		printf("capmap: after REVOKE the mapping still reads: first page %s, last page %s\n",
		       first_bus ? "SIGBUS" : "readable",
		       last_bus ? "SIGBUS" : "readable");
		return 1;
	}
	if (bus_addr != p + last) {
		printf("capmap: SIGBUS at %p, expected %p\n", bus_addr,
		       (void *)(p + last));
		return 1;
	}
	if (munmap(map, size)) {
		perror("capmap: munmap");
		return 1;
	}
	/* REVOKE takes what was derived from h, not h */
	ret = capchan_stat(&ch, h, &st);
	if (ret < 0) {
		printf("capmap: STAT of handle 0x%x after REVOKE: -%s, expected it to work\n",
		       h, errname(-ret));
		return 1;
	}
	printf("capmap: munmap works as always; handle 0x%x itself stays valid\n",
	       h);
	capchan_queue_exit(&ch);
	return 0;
}
