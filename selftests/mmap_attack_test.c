// SPDX-License-Identifier: GPL-2.0
/*
 * mmap(2) of FILE capabilities under attack: what a holder of a mapping
 * tries in order to keep or widen what it maps once the capability says
 * no.  Each test asserts the defended behaviour:
 *
 *  - MADV_REMOVE punches holes through the VMA's file without a fault:
 *    refused on every capchan mapping, so a mapping cannot write the file
 *    after REVOKE (nor zero it while live, which WRITE never allowed
 *    without going through the page cache);
 *  - mprotect(2) of a whole or split read-only mapping cannot add
 *    PROT_WRITE or PROT_EXEC, /proc/self/mem (FOLL_FORCE) cannot write
 *    through a read-only shared mapping, and only copies a private one;
 *  - mremap(2) cannot grow a mapping or keep its pages (MREMAP_DONTUNMAP),
 *    userfaultfd cannot register on it;
 *  - after REVOKE, pieces made by split, mremap and fork (before or after
 *    the REVOKE) all fault, system calls reading through the mapping get
 *    EFAULT, MADV_POPULATE_* fails, and the last munmap frees what the
 *    mapping held;
 *  - mmap(2) racing REVOKE either fails with EKEYREVOKED or gives a
 *    mapping that faults;
 *  - a read-only MAP_SHARED mapping leaves the writable-mapping count of
 *    the capability file's inode as it found it (kernels before 6.7 count
 *    VM_SHARED at mmap time and give back only what the VMA still has).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <setjmp.h>
#include <sys/inotify.h>
#include <linux/userfaultfd.h>
#include <bpf/btf.h>

#define NPAGES		16
#define RALL		(R_READ | R_WRITE | R_SEEK | R_STAT | R_MMAP | \
			 R_DERIVE | R_DELEGATE | R_REVOKE)
#define RMAP		(R_READ | R_WRITE | R_MMAP | R_DELEGATE)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

static long pg;

static __thread sigjmp_buf fault_jb;

static void on_fault(int sig)
{
	siglongjmp(fault_jb, sig);
}

static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/* Read the byte at p into *v: 0, or the signal the access raised. */
static int peek(const volatile unsigned char *p, unsigned char *v)
{
	int sig = sigsetjmp(fault_jb, 1);

	if (sig)
		return sig;
	*v = *p;
	return 0;
}

/* Write v at p: 0, or the signal the access raised. */
static int poke(volatile unsigned char *p, unsigned char v)
{
	int sig = sigsetjmp(fault_jb, 1);

	if (sig)
		return sig;
	*p = v;
	return 0;
}

/* mmap(2) as a pointer, or NULL with -errno in *err. */
static void *map(int fd, size_t len, int prot, int flags, off_t off, int *err)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	*err = p == MAP_FAILED ? -errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

/* A system call's result as 0 or -errno. */
static int res(long r)
{
	return r < 0 ? -errno : 0;
}

FIXTURE(atk) {
	char base[PATH_MAX];
	bool mounted;
	int dirfd;
	int fd;			/* the file, read-write: the test's own view */
	struct capchan ch;
	uint32_t root;
	unsigned char *data;
	size_t len;
};

FIXTURE_VARIANT(atk) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(atk, tmpfs) { .fs = "tmpfs" };
FIXTURE_VARIANT_ADD(atk, ramfs) { .fs = "ramfs" };

FIXTURE_SETUP(atk)
{
	int h;

	pg = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * pg;
	self->ch.fd = self->fd = self->dirfd = -1;
	catch_faults();
	ASSERT_EQ(0, cc_mkdtemp(self->base, "mmatk"));
	ASSERT_EQ(0, mount("capchan-mmatk", self->base, variant->fs, 0,
			   "mode=0755"));
	self->mounted = true;
	self->dirfd = open(self->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->dirfd);
	self->data = malloc(self->len);
	ASSERT_NE(NULL, self->data);
	cc_fill_pattern(self->data, self->len, 11);
	ASSERT_EQ(0, cc_put_file(self->dirfd, "f", self->data, self->len,
				 0644));
	self->fd = openat(self->dirfd, "f", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	h = capchan_grant(&self->ch, self->fd, RALL);
	ASSERT_LT(0, h);
	self->root = h;
}

FIXTURE_TEARDOWN(atk)
{
	capchan_queue_exit(&self->ch);
	if (self->fd >= 0)
		close(self->fd);
	if (self->dirfd >= 0)
		close(self->dirfd);
	if (self->mounted)
		umount2(self->base, MNT_DETACH);
	rmdir(self->base);
	free(self->data);
}

static int capfile(FIXTURE_DATA(atk) *self, uint64_t rights)
{
	return capchan_export(&self->ch, self->root, rights);
}

static int child(FIXTURE_DATA(atk) *self, uint32_t h, uint64_t rights)
{
	return capchan_derive(&self->ch, h, rights);
}

static unsigned char *lmap(FIXTURE_DATA(atk) *self, uint32_t h, int prot,
			   int flags, int *err)
{
	void *p = NULL;

	*err = capchan_mmap(&self->ch, h, self->len, prot, flags, 0, &p);
	return *err ? NULL : p;
}

static long long user_caps(FIXTURE_DATA(atk) *self)
{
	int err;
	long long v = cc_fdinfo_value(self->ch.fd, "user-caps", &err);

	return err ? err : v;
}

/* Does the file still hold its original content? */
static bool file_intact(FIXTURE_DATA(atk) *self)
{
	unsigned char *buf = malloc(self->len);
	bool ok;

	if (!buf)
		return false;
	ok = pread(self->fd, buf, self->len, 0) == (ssize_t)self->len &&
	     !memcmp(buf, self->data, self->len);
	free(buf);
	return ok;
}

/* ---- writing the file without a fault ------------------------------------- */

/*
 * MADV_REMOVE frees the file's pages through the VMA's file (fallocate
 * PUNCH_HOLE) and needs no fault: it would zero the file after REVOKE.
 * Refused on any capchan mapping, live or revoked, in a forked child too.
 */
TEST_F(atk, madv_remove_refused)
{
	int a = child(self, self->root, RMAP);
	unsigned char *p, v;
	pid_t pid;
	int err;

	ASSERT_LT(0, a);
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, peek(p + pg, &v));
	EXPECT_EQ(-EBADF, res(madvise(p, 4 * pg, MADV_REMOVE)));
	EXPECT_TRUE(file_intact(self));
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(SIGBUS, peek(p + pg, &v));
	EXPECT_EQ(-EBADF, res(madvise(p, self->len, MADV_REMOVE)));
	EXPECT_EQ(-EBADF, res(madvise(p + 5 * pg, pg, MADV_REMOVE)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(madvise(p, self->len, MADV_REMOVE) == -1 &&
		      errno == EBADF ? 0 : 1);
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_TRUE(file_intact(self));
	/* msync of what is there is harmless, and still allowed */
	EXPECT_EQ(0, msync(p, self->len, MS_SYNC));
	EXPECT_EQ(0, munmap(p, self->len));
	EXPECT_TRUE(file_intact(self));
}

/*
 * The file's release still sees the writer it was: fsnotify reports
 * CLOSE_WRITE (and a file system that trims on a writer's close trims)
 * once the last VMA of a writable mapping is gone.
 */
TEST_F(atk, close_write_after_unmap)
{
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	char ev[4096] __attribute__((aligned(8)));
	uint32_t mask = 0;
	unsigned char *p;
	int in, err;
	ssize_t n;

	ASSERT_LE(0, rw);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ASSERT_LE(0, in);
	p = map(rw, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	close(rw);
	ASSERT_EQ(0, poke(p + 2 * pg, 0x77));
	ASSERT_LE(0, inotify_add_watch(in, self->base,
				       IN_CLOSE_WRITE | IN_CLOSE_NOWRITE));
	EXPECT_EQ(0, munmap(p, self->len));
	while ((n = read(in, ev, sizeof(ev))) > 0) {
		for (char *e = ev; e < ev + n;) {
			struct inotify_event *ie = (struct inotify_event *)e;

			if (ie->len && !strcmp(ie->name, "f"))
				mask |= ie->mask;
			e += sizeof(*ie) + ie->len;
		}
	}
	EXPECT_EQ(IN_CLOSE_WRITE, mask);
	close(in);
	self->data[2 * pg] = 0x77;
	EXPECT_TRUE(file_intact(self));
}

/* ---- widening a mapping ------------------------------------------------------ */

TEST_F(atk, mprotect_split_cannot_widen)
{
	int ro = capfile(self, R_READ | R_MMAP);
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	unsigned char *p;
	int err;

	ASSERT_LE(0, ro);
	ASSERT_LE(0, rw);
	/* read-only shared, split into three: no piece becomes writable */
	p = map(ro, self->len, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, mprotect(p + 4 * pg, 4 * pg, PROT_NONE));
	EXPECT_EQ(-EACCES, res(mprotect(p + 4 * pg, 4 * pg,
					PROT_READ | PROT_WRITE)));
	EXPECT_EQ(-EACCES, res(mprotect(p + 5 * pg, pg, PROT_WRITE)));
	EXPECT_EQ(-EACCES, res(mprotect(p, self->len, PROT_READ | PROT_WRITE)));
	EXPECT_EQ(-EACCES, res(mprotect(p + 4 * pg, pg, PROT_EXEC)));
	EXPECT_EQ(-EACCES, res(pkey_mprotect(p, pg, PROT_READ | PROT_WRITE, -1)));
	EXPECT_EQ(SIGSEGV, poke(p, 1));
	EXPECT_EQ(0, munmap(p, self->len));
	/* a writable shared one may not execute, whole or split */
	p = map(rw, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, mprotect(p + pg, pg, PROT_READ));
	EXPECT_EQ(-EACCES, res(mprotect(p + pg, pg, PROT_READ | PROT_EXEC)));
	EXPECT_EQ(-EACCES, res(mprotect(p, self->len, PROT_EXEC)));
	EXPECT_EQ(0, munmap(p, self->len));
	/* a private one may write (its copies) but not execute */
	p = map(ro, self->len, PROT_READ, MAP_PRIVATE, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-EACCES, res(mprotect(p + pg, pg, PROT_READ | PROT_EXEC)));
	EXPECT_EQ(0, mprotect(p + pg, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, poke(p + pg, 0x99));
	EXPECT_EQ(0, munmap(p, self->len));
	EXPECT_TRUE(file_intact(self));
	close(ro);
	close(rw);
}

/*
 * /proc/self/mem writes with FOLL_FORCE (as ptrace does): never into the
 * file through a read-only shared mapping (EIO: no page), only into a
 * private copy of a private one.
 */
TEST_F(atk, proc_mem_force_write)
{
	int ro = capfile(self, R_READ | R_MMAP);
	unsigned char *p, v;
	int mem, err;

	ASSERT_LE(0, ro);
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, mem);
	p = map(ro, self->len, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, peek(p + 3 * pg, &v));
	EXPECT_EQ(-1, pwrite(mem, "XY", 2, (off_t)(uintptr_t)(p + 3 * pg)));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(mem, "XY", 2, (off_t)(uintptr_t)(p + 9 * pg)));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(0, munmap(p, self->len));
	p = map(ro, self->len, PROT_READ, MAP_PRIVATE, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(2, pwrite(mem, "XY", 2, (off_t)(uintptr_t)(p + 3 * pg)));
	EXPECT_EQ('X', p[3 * pg]);
	EXPECT_EQ(0, munmap(p, self->len));
	EXPECT_TRUE(file_intact(self));
	close(mem);
	close(ro);
}

/* mremap(2) can move and shrink, never grow or leave the pages behind. */
TEST_F(atk, mremap_cannot_grow_or_keep)
{
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	unsigned char *p, *q, v;
	int err;

	ASSERT_LE(0, rw);
	/* a mapping of the first half, the file twice as long */
	p = map(rw, self->len / 2, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(MAP_FAILED, mremap(p, self->len / 2, self->len, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, self->len / 2, self->len,
				     MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, self->len / 2, self->len / 2,
				     MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
	EXPECT_EQ(EINVAL, errno);
	/* shrink in place: the tail is gone, not still mapped */
	q = mremap(p, self->len / 2, pg, 0);
	ASSERT_EQ(p, q);
	EXPECT_EQ(SIGSEGV, peek(p + pg, &v));
	EXPECT_EQ(0, peek(p, &v));
	EXPECT_EQ(self->data[0], v);
	EXPECT_EQ(0, munmap(p, pg));
	close(rw);
}

/* userfaultfd would install pages (UFFDIO_COPY/CONTINUE) without a fault. */
TEST_F(atk, userfaultfd_refused)
{
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	struct uffdio_register reg;
	struct uffdio_api api;
	unsigned char *p;
	int uffd, err;

	ASSERT_LE(0, rw);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		close(rw);
		SKIP(return, "userfaultfd: %s", strerror(errno));
	}
	memset(&api, 0, sizeof(api));
	api.api = UFFD_API;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	p = map(rw, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)p;
	reg.range.len = self->len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	EXPECT_EQ(-EINVAL, res(ioctl(uffd, UFFDIO_REGISTER, &reg)));
	EXPECT_EQ(0, munmap(p, self->len));
	close(uffd);
	close(rw);
}

/* ---- pieces and copies after REVOKE --------------------------------------- */

/*
 * Split by mprotect of a middle part, a piece moved by mremap, a fork
 * before REVOKE and one after: every copy faults, in both processes, and
 * the last munmap frees the capability capchan_mmap() exported.
 */
TEST_F(atk, split_moved_forked_all_revoked)
{
	long long base = user_caps(self);
	unsigned char *p, *q, v;
	int a, err, up[2], down[2];
	uint32_t msg;
	pid_t early, late;

	ASSERT_LT(0, base);
	a = child(self, self->root, RMAP | R_REVOKE);
	ASSERT_LT(0, a);
	base++;
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, mprotect(p + 2 * pg, 2 * pg, PROT_READ));
	q = mmap(NULL, 4 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	q = mremap(p + 8 * pg, 4 * pg, 4 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	ASSERT_NE(MAP_FAILED, q);
	for (int i = 0; i < NPAGES; i++) {
		if (i < 8 || i >= 12)
			ASSERT_EQ(0, peek(p + i * pg, &v));
	}
	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	early = fork();
	ASSERT_LE(0, early);
	if (early == 0) {
		int bad = 0;

		if (peek(p + 3 * pg, &v) || v != self->data[3 * pg])
			bad |= 1;
		cc_send_u32(up[1], 1);
		if (cc_recv_u32(down[0], &msg))
			_exit(100);
		for (int i = 0; i < NPAGES; i++) {
			if (i >= 8 && i < 12)
				continue;
			if (peek(p + i * pg, &v) != SIGBUS)
				bad |= 2;
		}
		if (peek(q + pg, &v) != SIGBUS || poke(q, 1) != SIGBUS)
			bad |= 4;
		if (poke(p, 1) != SIGBUS)
			bad |= 8;
		_exit(bad);
	}
	ASSERT_EQ(0, cc_recv_u32(up[0], &msg));
	EXPECT_EQ(1, capchan_revoke(&self->ch, a));
	ASSERT_EQ(0, cc_send_u32(down[1], 1));
	EXPECT_EQ(0, cc_wait_child(early));
	late = fork();
	ASSERT_LE(0, late);
	if (late == 0) {
		int bad = 0;

		for (int i = 0; i < NPAGES; i++) {
			if (i >= 8 && i < 12)
				continue;
			if (peek(p + i * pg, &v) != SIGBUS)
				bad |= 1;
		}
		if (peek(q, &v) != SIGBUS)
			bad |= 2;
		/* a new split in the child faults as well */
		if (mprotect(p + 13 * pg, pg, PROT_READ) || peek(p + 13 * pg, &v) != SIGBUS)
			bad |= 4;
		_exit(bad);
	}
	EXPECT_EQ(0, cc_wait_child(late));
	EXPECT_EQ(SIGBUS, peek(q + 3 * pg, &v));
	EXPECT_EQ(SIGBUS, peek(p + 2 * pg, &v));
	EXPECT_EQ(SIGBUS, poke(p + 14 * pg, 1));
	EXPECT_EQ(base + 1, user_caps(self));
	EXPECT_EQ(0, munmap(q, 4 * pg));
	EXPECT_EQ(0, munmap(p, 8 * pg));
	EXPECT_EQ(0, munmap(p + 12 * pg, 4 * pg));
	EXPECT_EQ(base, user_caps(self));
	EXPECT_TRUE(file_intact(self));
}

/*
 * The kernel reading or writing through a revoked mapping on the
 * process's behalf faults as the process would: EFAULT.
 */
TEST_F(atk, syscalls_through_revoked_mapping)
{
	int a = child(self, self->root, RMAP);
	unsigned char *p, buf[64];
	int pfd[2], err;
	struct iovec local, remote;

	ASSERT_LT(0, a);
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC | O_NONBLOCK));
	/* live: a write(2) from the mapping works */
	ASSERT_EQ(16, write(pfd[1], p + pg, 16));
	ASSERT_EQ(16, read(pfd[0], buf, 16));
	EXPECT_EQ(0, memcmp(buf, self->data + pg, 16));
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	/* from the mapping */
	EXPECT_EQ(-1, write(pfd[1], p + pg, 16));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, write(pfd[1], p + 7 * pg, 16));
	EXPECT_EQ(EFAULT, errno);
	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = p + pg;
	remote.iov_len = sizeof(buf);
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	remote.iov_base = p;
	EXPECT_EQ(-1, vmsplice(pfd[1], &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	/* into the mapping */
	ASSERT_EQ(16, write(pfd[1], "0123456789abcdef", 16));
	EXPECT_EQ(-1, read(pfd[0], p + 2 * pg, 16));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pread(self->fd, p + 3 * pg, 16, 0));
	EXPECT_EQ(EFAULT, errno);
	/* populating */
	EXPECT_EQ(-EFAULT, res(madvise(p, self->len, MADV_POPULATE_READ)));
	EXPECT_EQ(-EFAULT, res(madvise(p, self->len, MADV_POPULATE_WRITE)));
	EXPECT_EQ(0, munmap(p, self->len));
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_TRUE(file_intact(self));
}

/* ---- mmap(2) racing REVOKE -------------------------------------------------- */

struct mapper {
	int fd;			/* the capability file */
	size_t len;
	int mapped;		/* mmap(2)s that succeeded */
	int refused;		/* EKEYREVOKED */
	int other;		/* any other error: a bug */
	int leaked;		/* mappings that did not fault afterwards */
	unsigned char *last;	/* the last mapping made, kept */
};

static void *map_loop(void *arg)
{
	struct mapper *m = arg;

	for (;;) {
		unsigned char *p = mmap(NULL, m->len, PROT_READ, MAP_SHARED,
					m->fd, 0);

		if (p == MAP_FAILED) {
			if (errno == EKEYREVOKED)
				m->refused++;
			else
				m->other++;
			return NULL;
		}
		m->mapped++;
		if (m->last)
			munmap(m->last, m->len);
		m->last = p;
	}
}

/*
 * A VMA made while REVOKE runs is either refused or torn down with the
 * rest: after REVOKE returned, no mapping of the capability reads.
 */
TEST_F(atk, mmap_racing_revoke)
{
	int rounds = 40;

	for (int r = 0; r < rounds; r++) {
		struct mapper m;
		pthread_t t;
		unsigned char v;
		int a, err;

		a = child(self, self->root, R_READ | R_MMAP | R_DELEGATE);
		ASSERT_LT(0, a);
		memset(&m, 0, sizeof(m));
		m.fd = capchan_export(&self->ch, a, R_READ | R_MMAP);
		ASSERT_LE(0, m.fd);
		m.len = self->len;
		ASSERT_EQ(0, pthread_create(&t, NULL, map_loop, &m));
		usleep(100 * (r % 8));
		EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
		/* it maps on until refused */
		pthread_join(t, NULL);
		EXPECT_EQ(0, m.other) TH_LOG("round %d", r);
		EXPECT_EQ(1, m.refused) TH_LOG("round %d", r);
		if (m.last) {
			for (int i = 0; i < NPAGES; i++) {
				if (peek(m.last + i * pg, &v) != SIGBUS)
					m.leaked++;
			}
			munmap(m.last, m.len);
		}
		EXPECT_EQ(0, m.leaked) TH_LOG("round %d", r);
		/* and now it is refused */
		EXPECT_EQ(NULL, map(m.fd, pg, PROT_READ, MAP_SHARED, 0, &err));
		EXPECT_EQ(-EKEYREVOKED, err);
		close(m.fd);
		ASSERT_EQ(0, capchan_close(&self->ch, a));
		/* a fresh root for the next round */
		ASSERT_EQ(0, capchan_close(&self->ch, self->root));
		a = capchan_grant(&self->ch, self->fd, RALL);
		ASSERT_LT(0, a);
		self->root = a;
	}
}

/* ---- the capability file inode's writable-mapping count -------------------- */

/*
 * i_mmap_writable of the capability file's mapping (the anonymous inode
 * all anon_inode files share) is not visible to user space; a kprobe on
 * capchan's mmap handler reads it at each entry, where it includes the
 * one mmap(2) is making.  Every entry must see the same value: a count
 * that grows with every read-only MAP_SHARED mapping would, at 2^31,
 * turn negative and refuse MAP_SHARED of every anon_inode file
 * (perf_event, kvm, other capability files) system wide.
 */
#define KP_GROUP	"capchan_atk"
#define KP_EVENT	"mmapw"

static const char *tracing_dir(void)
{
	static const char *dirs[] = { "/sys/kernel/tracing",
				      "/sys/kernel/debug/tracing" };
	char path[PATH_MAX];

	for (size_t i = 0; i < CC_ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/kprobe_events", dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
	snprintf(path, sizeof(path), "%s/kprobe_events", dirs[0]);
	return access(path, W_OK) ? NULL : dirs[0];
}

/* Byte offset of member name in struct sname, from the kernel's BTF. */
static long btf_member_off(const struct btf *btf, const char *sname,
			   const char *name)
{
	int id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	const struct btf_type *t;
	const struct btf_member *mem;

	if (id < 0)
		return -1;
	t = btf__type_by_id(btf, id);
	mem = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, mem++) {
		const char *n = btf__name_by_offset(btf, mem->name_off);

		if (n && !strcmp(n, name))
			return btf_member_bit_offset(t, i) / 8;
	}
	return -1;
}

static int append(const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

TEST(anon_inode_writable_count)
{
	long off_mapping, off_writable;
	char probe[256], path[PATH_MAX], line[512];
	long vals[64];
	int n = 0, ro, rw, h, err;
	struct capchan ch;
	const char *dir;
	struct btf *btf;
	FILE *f;
	void *p;

	pg = sysconf(_SC_PAGESIZE);
	dir = tracing_dir();
	if (!dir)
		SKIP(return, "no kprobe_events");
	btf = btf__load_vmlinux_btf();
	if (!btf)
		SKIP(return, "no kernel BTF");
	off_mapping = btf_member_off(btf, "file", "f_mapping");
	off_writable = btf_member_off(btf, "address_space", "i_mmap_writable");
	btf__free(btf);
	ASSERT_LE(0, off_mapping);
	ASSERT_LE(0, off_writable);
	snprintf(probe, sizeof(probe),
		 "p:%s/%s capchan:capchan_capfile_mmap w=+%ld(+%ld(%%di)):s32\n",
		 KP_GROUP, KP_EVENT, off_writable, off_mapping);
	append(dir, "kprobe_events", "-:" KP_GROUP "/" KP_EVENT "\n");
	err = append(dir, "kprobe_events", probe);
	if (err)
		SKIP(return, "kprobe on capchan_capfile_mmap: %s", strerror(-err));
	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fclose(f);
	ASSERT_EQ(0, append(dir, "events/" KP_GROUP "/" KP_EVENT "/enable", "1"));

	ASSERT_EQ(0, capchan_open_channel(&ch));
	h = memfd_create("capchan-atk", MFD_CLOEXEC);
	ASSERT_LE(0, h);
	ASSERT_EQ(0, ftruncate(h, pg));
	ro = capchan_grant(&ch, h, R_READ | R_MMAP | R_DELEGATE);
	close(h);
	ASSERT_LT(0, ro);
	rw = capchan_export(&ch, ro, R_READ | R_MMAP);
	ASSERT_LE(0, rw);
	/* read-only shared ones (VM_SHARED dropped), a refused one */
	for (int i = 0; i < 8; i++) {
		p = mmap(NULL, pg, PROT_READ, MAP_SHARED, rw, 0);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, munmap(p, pg));
	}
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, rw, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, pg));

	ASSERT_EQ(0, append(dir, "events/" KP_GROUP "/" KP_EVENT "/enable", "0"));
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f) && n < (int)CC_ARRAY_SIZE(vals)) {
		char *w = strstr(line, " w=");

		if (line[0] != '#' && w)
			vals[n++] = strtol(w + 3, NULL, 10);
	}
	fclose(f);
	append(dir, "kprobe_events", "-:" KP_GROUP "/" KP_EVENT "\n");
	close(rw);
	capchan_queue_exit(&ch);

	/* 8 read-only, 1 refused writable, 1 read-only: all MAP_SHARED */
	ASSERT_EQ(10, n);
	for (int i = 1; i < n; i++) {
		EXPECT_EQ(vals[0], vals[i]) TH_LOG("mmap %d of %d", i, n);
	}
}

TEST_HARNESS_MAIN
