// SPDX-License-Identifier: GPL-2.0
/*
 * mmap(2) of FILE capabilities (capchan(7), MAPPING FILES): the rights
 * each mapping needs, that it is the file's own page cache, the offsets
 * and lengths allowed, and that REVOKE tears mappings down (SIGBUS on the
 * next access: pages touched before, pages never touched, fault-around
 * neighbours, write faults), transitively, in forked children, after the
 * channel and the capability file are closed, and racing faults.  Every
 * test runs on tmpfs (shmem: no page_mkwrite) and on ramfs (the generic
 * page cache handlers, page_mkwrite included).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <setjmp.h>

#define NPAGES		64	/* the file: 256 KiB, four fault-around windows */
#define ROUNDS		100	/* of REVOKE racing faults, per file system */
/* the root FILE capability's rights */
#define RALL		(R_READ | R_WRITE | R_SEEK | R_STAT | R_MMAP | \
			 R_DERIVE | R_DELEGATE | R_REVOKE)
/* what capchan_mmap() needs of a handle for a shared writable mapping */
#define RMAP		(R_READ | R_WRITE | R_MMAP | R_DELEGATE)

static long pg;

/* ---- faults as results ---------------------------------------------------- */

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

/* ---- the fixture: one file on a file system of the variant's type ---- */

FIXTURE(mm) {
	char base[PATH_MAX];
	bool mounted;
	int dirfd;
	int fd;			/* the file, read-write: the test's own view */
	struct capchan ch;
	uint32_t root;		/* FILE capability of fd with RALL */
	unsigned char *data;	/* the file's content */
	size_t len;
};

FIXTURE_VARIANT(mm) {
	const char *fs;
};

FIXTURE_VARIANT_ADD(mm, tmpfs) { .fs = "tmpfs" };
FIXTURE_VARIANT_ADD(mm, ramfs) { .fs = "ramfs" };

FIXTURE_SETUP(mm)
{
	int h;

	pg = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * pg;
	self->ch.fd = self->fd = self->dirfd = -1;
	catch_faults();
	ASSERT_EQ(0, cc_mkdtemp(self->base, "mmap"));
	ASSERT_EQ(0, mount("capchan-mmap", self->base, variant->fs, 0,
			   "mode=0755"));
	self->mounted = true;
	self->dirfd = open(self->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->dirfd);
	self->data = malloc(self->len);
	ASSERT_NE(NULL, self->data);
	cc_fill_pattern(self->data, self->len, 7);
	ASSERT_EQ(0, cc_put_file(self->dirfd, "f", self->data, self->len,
				 0644));
	self->fd = openat(self->dirfd, "f", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	h = capchan_grant(&self->ch, self->fd, RALL);
	ASSERT_LT(0, h);
	self->root = h;
}

FIXTURE_TEARDOWN(mm)
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

/* A capability file of a new child of the root with these rights. */
static int capfile(FIXTURE_DATA(mm) *self, uint64_t rights)
{
	return capchan_export(&self->ch, self->root, rights);
}

/* A new child of h (DERIVE), or -errno. */
static int child(FIXTURE_DATA(mm) *self, uint32_t h, uint64_t rights)
{
	return capchan_derive(&self->ch, h, rights);
}

/* capchan_mmap() of the whole file, or NULL with -errno in *err. */
static unsigned char *lmap(FIXTURE_DATA(mm) *self, uint32_t h, int prot,
			   int flags, int *err)
{
	void *p = NULL;

	*err = capchan_mmap(&self->ch, h, self->len, prot, flags, 0, &p);
	return *err ? NULL : p;
}

/* User capabilities charged, from the channel's fdinfo. */
static long long user_caps(FIXTURE_DATA(mm) *self)
{
	int err;
	long long v = cc_fdinfo_value(self->ch.fd, "user-caps", &err);

	return err ? err : v;
}

/* ---- rights ------------------------------------------------------------ */

TEST_F(mm, rights_matrix)
{
	static const struct {
		uint64_t rights;
		int prot, flags, err;
	} c[] = {
		{ R_READ | R_MMAP, PROT_READ, MAP_SHARED, 0 },
		{ R_READ | R_MMAP, PROT_READ, MAP_PRIVATE, 0 },
		{ R_READ | R_MMAP, PROT_NONE, MAP_SHARED, 0 },
		/* a private copy is the mapper's own memory: READ will do */
		{ R_READ | R_MMAP, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0 },
		{ R_READ | R_MMAP, PROT_READ | PROT_WRITE, MAP_SHARED, -EPERM },
		{ R_READ | R_MMAP, PROT_WRITE, MAP_SHARED_VALIDATE, -EPERM },
		{ R_READ | R_WRITE | R_MMAP, PROT_READ | PROT_WRITE, MAP_SHARED, 0 },
		{ R_READ | R_WRITE | R_MMAP, PROT_WRITE, MAP_SHARED_VALIDATE, 0 },
		/* no MMAP */
		{ R_READ, PROT_READ, MAP_SHARED, -EPERM },
		{ R_READ | R_WRITE, PROT_READ, MAP_PRIVATE, -EPERM },
		{ RALL & ~R_MMAP, PROT_NONE, MAP_SHARED, -EPERM },
		/* no READ: every mapping is readable */
		{ R_MMAP, PROT_READ, MAP_SHARED, -EPERM },
		{ R_WRITE | R_MMAP, PROT_READ | PROT_WRITE, MAP_SHARED, -EPERM },
		{ R_WRITE | R_MMAP, PROT_NONE, MAP_PRIVATE, -EPERM },
		/* never executable */
		{ RALL, PROT_READ | PROT_EXEC, MAP_SHARED, -EPERM },
		{ RALL, PROT_READ | PROT_EXEC, MAP_PRIVATE, -EPERM },
		{ RALL, PROT_EXEC, MAP_PRIVATE, -EPERM },
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(c); i++) {
		int fd = capfile(self, c[i].rights);
		void *p;
		int err;

		ASSERT_LE(0, fd);
		p = map(fd, 4 * pg, c[i].prot, c[i].flags, 0, &err);
		EXPECT_EQ(c[i].err, err) TH_LOG("case %zu", i);
		if (p)
			EXPECT_EQ(0, munmap(p, 4 * pg));
		close(fd);
	}
}

/* The file's own pages: its content, writes both ways, any offset. */
TEST_F(mm, page_cache_shared_both_ways)
{
	int fd = capfile(self, R_READ | R_WRITE | R_MMAP);
	unsigned char buf[64], *p, *q;
	int err;

	ASSERT_LE(0, fd);
	p = map(fd, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, memcmp(p, self->data, self->len));
	/* a write through the mapping is in the file */
	memset(p + 3 * pg + 100, 0xab, 50);
	ASSERT_EQ(50, pread(self->fd, buf, 50, 3 * pg + 100));
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(0xab, buf[i]) TH_LOG("byte %d", i);
	}
	/* a write to the file is in the mapping: same pages */
	ASSERT_EQ(3, pwrite(self->fd, "xyz", 3, 5 * pg + 7));
	EXPECT_EQ(0, memcmp(p + 5 * pg + 7, "xyz", 3));
	EXPECT_EQ(0, msync(p, self->len, MS_SYNC));
	/* a mapping at an offset starts there */
	q = map(fd, 2 * pg, PROT_READ, MAP_SHARED, 10 * pg, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, memcmp(q, self->data + 10 * pg, 2 * pg));
	EXPECT_EQ(0, munmap(q, 2 * pg));
	EXPECT_EQ(0, munmap(p, self->len));
	close(fd);
}

/* MAP_PRIVATE of a read-only capability copies on write. */
TEST_F(mm, private_copy_of_readonly)
{
	int fd = capfile(self, R_READ | R_MMAP);
	unsigned char b, *p, *q;
	int err;

	ASSERT_LE(0, fd);
	p = map(fd, self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, poke(p + pg, (unsigned char)~self->data[pg]));
	EXPECT_EQ((unsigned char)~self->data[pg], p[pg]);
	ASSERT_EQ(1, pread(self->fd, &b, 1, pg));
	EXPECT_EQ(self->data[pg], b);
	/* and a read-only private one may become writable: still a copy */
	q = map(fd, pg, PROT_READ, MAP_PRIVATE, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, mprotect(q, pg, PROT_READ | PROT_WRITE));
	q[0] ^= 1;
	ASSERT_EQ(1, pread(self->fd, &b, 1, 0));
	EXPECT_EQ(self->data[0], b);
	munmap(q, pg);
	munmap(p, self->len);
	close(fd);
}

/*
 * What a mapping may become is fixed at mmap time: no execute, and a
 * shared mapping made without PROT_WRITE never writes the file.
 */
TEST_F(mm, protections_fixed_at_mmap)
{
	int ro = capfile(self, R_READ | R_MMAP);
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	void *p;
	int err;

	ASSERT_LE(0, ro);
	ASSERT_LE(0, rw);
	p = map(ro, pg, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, mprotect(p, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, pg, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(p, pg);
	/* even with WRITE: the mapping was made read-only */
	p = map(rw, pg, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, mprotect(p, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, pg);
	/* a writable one may drop PROT_WRITE and take it back */
	p = map(rw, pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, mprotect(p, pg, PROT_READ));
	EXPECT_EQ(0, mprotect(p, pg, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-1, mprotect(p, pg, PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(p, pg);
	close(ro);
	close(rw);
}

/*
 * remap_file_pages(2) re-maps a shared VMA's file through plain mmap: it
 * must never turn a capchan mapping into one REVOKE cannot reach.
 */
TEST_F(mm, remap_file_pages_cannot_escape)
{
	int ro = capfile(self, R_READ | R_MMAP);
	int rw = capfile(self, R_READ | R_WRITE | R_MMAP);
	unsigned char *p, v;
	int err;

	ASSERT_LE(0, ro);
	ASSERT_LE(0, rw);
	/* shared writable: the VMA's file is not readable for mmap */
	p = map(rw, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, syscall(SYS_remap_file_pages, p, 4 * pg, 0, 8, 0));
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, mprotect(p, 4 * pg, PROT_READ));
	EXPECT_EQ(-1, syscall(SYS_remap_file_pages, p, 4 * pg, 0, 8, 0));
	EXPECT_EQ(EACCES, errno);
	/* still the capchan mapping of page 0 */
	EXPECT_EQ(0, peek(p, &v));
	EXPECT_EQ(self->data[0], v);
	munmap(p, 4 * pg);
	/* read-only shared and private: no VM_SHARED to remap */
	p = map(ro, 4 * pg, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, syscall(SYS_remap_file_pages, p, 4 * pg, 0, 8, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(p, 4 * pg, MADV_REMOVE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, 4 * pg);
	p = map(ro, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, syscall(SYS_remap_file_pages, p, 4 * pg, 0, 8, 0));
	EXPECT_EQ(EINVAL, errno);
	munmap(p, 4 * pg);
	close(ro);
	close(rw);
}

/* ---- offsets and lengths ------------------------------------------------ */

TEST_F(mm, offsets_and_lengths)
{
	off_t last = (off_t)(LLONG_MAX & ~(long long)(pg - 1));
	int fd = capfile(self, R_READ | R_MMAP);
	unsigned char *p, v;
	int err;

	ASSERT_LE(0, fd);
	/* as for any file */
	EXPECT_EQ(NULL, map(fd, pg, PROT_READ, MAP_SHARED, 100, &err));
	EXPECT_EQ(-EINVAL, err);
	EXPECT_EQ(NULL, map(fd, 0, PROT_READ, MAP_SHARED, 0, &err));
	EXPECT_EQ(-EINVAL, err);
	/* up to the largest file size the file system allows, no further */
	p = map(fd, pg, PROT_READ, MAP_SHARED, last, &err);
	EXPECT_EQ(0, err);
	if (p) {
		EXPECT_EQ(SIGBUS, peek(p, &v));	/* far past the end */
		munmap(p, pg);
	}
	EXPECT_EQ(NULL, map(fd, 2 * pg, PROT_READ, MAP_SHARED, last, &err));
	EXPECT_EQ(-EINVAL, err);
	/* past the end of the file: SIGBUS there, as for mmap(2) of the file */
	p = map(fd, (NPAGES + 2) * pg, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, peek(p + self->len - 1, &v));
	EXPECT_EQ(self->data[self->len - 1], v);
	EXPECT_EQ(SIGBUS, peek(p + self->len, &v));
	/* ... until the file grows */
	ASSERT_EQ(0, ftruncate(self->fd, self->len + pg));
	EXPECT_EQ(0, peek(p + self->len, &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(SIGBUS, peek(p + self->len + pg, &v));
	munmap(p, (NPAGES + 2) * pg);
	p = map(fd, pg, PROT_READ, MAP_SHARED, 100 * pg, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(SIGBUS, peek(p, &v));
	munmap(p, pg);
	close(fd);
}

/* ---- what is not mappable ----------------------------------------------- */

TEST_F(mm, not_mappable)
{
	int dfd, dh, d, fd, a, h;
	void *p;
	int err;

	/* a DIR capability: even with every right */
	dfd = open(self->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	dh = capchan_grant(&self->ch, dfd, R_ALL);
	ASSERT_LT(0, dh);
	d = capchan_export(&self->ch, dh, R_READ | R_MMAP);
	ASSERT_LE(0, d);
	EXPECT_EQ(NULL, map(d, pg, PROT_READ, MAP_SHARED, 0, &err));
	EXPECT_EQ(-ENODEV, err);
	close(d);
	d = capchan_export(&self->ch, dh, R_LOOKUP);	/* type before rights */
	ASSERT_LE(0, d);
	EXPECT_EQ(NULL, map(d, pg, PROT_READ, MAP_SHARED, 0, &err));
	EXPECT_EQ(-ENODEV, err);
	close(d);
	p = NULL;
	EXPECT_EQ(-ENODEV, capchan_mmap(&self->ch, dh, pg, PROT_READ,
					MAP_SHARED, 0, &p));
	EXPECT_EQ(NULL, p);
	close(dfd);

	/* a revoked capability, mapped or not, with every right */
	a = child(self, self->root, RALL);
	ASSERT_LT(0, a);
	fd = capchan_export(&self->ch, a, R_READ | R_MMAP);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, capchan_revoke(&self->ch, a));
	EXPECT_EQ(NULL, map(fd, pg, PROT_READ, MAP_SHARED, 0, &err));
	EXPECT_EQ(-EKEYREVOKED, err);
	close(fd);
	h = child(self, a, RALL);
	ASSERT_LT(0, h);
	/* a and h: the capability file's was revoked before */
	ASSERT_EQ(2, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(-EKEYREVOKED, capchan_mmap(&self->ch, a, pg, PROT_READ,
					     MAP_SHARED, 0, &p));
	/* a closed handle */
	ASSERT_EQ(0, capchan_close(&self->ch, h));
	EXPECT_EQ(-EBADF, capchan_mmap(&self->ch, h, pg, PROT_READ,
				       MAP_SHARED, 0, &p));
	EXPECT_EQ(NULL, p);
}

/* The library maps a handle through EXPORT: DELEGATE and the rights. */
TEST_F(mm, library_rights)
{
	int nodel = child(self, self->root, R_READ | R_MMAP | R_WRITE);
	int ro = child(self, self->root, R_READ | R_MMAP | R_DELEGATE);
	int nomap = child(self, self->root, R_READ | R_WRITE | R_DELEGATE);
	unsigned char *p, b;
	int err;

	ASSERT_LT(0, nodel);
	ASSERT_LT(0, ro);
	ASSERT_LT(0, nomap);
	EXPECT_EQ(NULL, lmap(self, nodel, PROT_READ, MAP_SHARED, &err));
	EXPECT_EQ(-EPERM, err);
	EXPECT_EQ(NULL, lmap(self, nomap, PROT_READ, MAP_SHARED, &err));
	EXPECT_EQ(-EPERM, err);
	EXPECT_EQ(NULL, lmap(self, ro, PROT_READ | PROT_WRITE, MAP_SHARED,
			     &err));
	EXPECT_EQ(-EPERM, err);
	p = lmap(self, ro, PROT_READ | PROT_WRITE, MAP_PRIVATE, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, memcmp(p, self->data, self->len));
	munmap(p, self->len);
	p = lmap(self, self->root, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	p[0] = 'Z';
	munmap(p, self->len);
	ASSERT_EQ(1, pread(self->fd, &b, 1, 0));
	EXPECT_EQ('Z', b);
}

/* ---- REVOKE --------------------------------------------------------------- */

/*
 * After REVOKE every access faults: a page read before, one written
 * before, one fault-around mapped without being touched, one never
 * mapped (its fault-around window untouched), a write to a page mapped
 * read-only so far (page_mkwrite on ramfs).  REVOKE of the handle the
 * mapping was made through reaches it (capchan_mmap exported a child).
 */
TEST_F(mm, revoke_faults_every_page)
{
	int a = child(self, self->root, RMAP | R_REVOKE | R_SEEK);
	unsigned char *p, v, b;
	int err;

	ASSERT_LT(0, a);
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, peek(p, &v));
	EXPECT_EQ(self->data[0], v);
	ASSERT_EQ(0, poke(p + pg, 0x5a));
	ASSERT_EQ(0, peek(p + 20 * pg, &v));	/* read-only PTE, shared rw */
	EXPECT_EQ(1, capchan_revoke(&self->ch, a));
	EXPECT_EQ(SIGBUS, peek(p, &v));
	EXPECT_EQ(SIGBUS, peek(p + pg, &v));
	EXPECT_EQ(SIGBUS, poke(p + pg, 0x77));
	EXPECT_EQ(SIGBUS, peek(p + 8 * pg, &v));	/* fault-around of page 0 */
	EXPECT_EQ(SIGBUS, peek(p + 40 * pg, &v));	/* never mapped */
	EXPECT_EQ(SIGBUS, poke(p + 20 * pg, 1));
	EXPECT_EQ(SIGBUS, peek(p + 20 * pg, &v));
	EXPECT_EQ(0, munmap(p, self->len));
	/* the file kept what was written before, and nothing after */
	ASSERT_EQ(1, pread(self->fd, &b, 1, pg));
	EXPECT_EQ(0x5a, b);
	ASSERT_EQ(1, pread(self->fd, &b, 1, 20 * pg));
	EXPECT_EQ(self->data[20 * pg], b);
	/* a itself is live and maps again */
	p = lmap(self, a, PROT_READ, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, peek(p + 40 * pg, &v));
	EXPECT_EQ(self->data[40 * pg], v);
	munmap(p, self->len);
}

/*
 * Transitive, and only what was revoked: a mapping below the revoked
 * capability dies; a sibling's mapping of the same pages and the test's
 * own mmap(2) of the file keep working (they just fault back in).
 */
TEST_F(mm, revoke_transitive_and_precise)
{
	int par = child(self, self->root, RALL);
	int kid, sib, err;
	unsigned char *m1, *m2, *m3, v;

	ASSERT_LT(0, par);
	kid = child(self, par, RALL);
	ASSERT_LT(0, kid);
	kid = child(self, kid, R_READ | R_MMAP | R_DELEGATE);	/* depth 3 */
	ASSERT_LT(0, kid);
	sib = child(self, self->root, R_READ | R_MMAP | R_DELEGATE);
	ASSERT_LT(0, sib);
	m1 = lmap(self, kid, PROT_READ, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	m2 = lmap(self, sib, PROT_READ, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	m3 = map(self->fd, self->len, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	for (size_t off = 0; off < self->len; off += pg) {
		ASSERT_EQ(0, peek(m1 + off, &v));
		ASSERT_EQ(0, peek(m2 + off, &v));
		ASSERT_EQ(0, peek(m3 + off, &v));
	}
	/* par's two children and the child capchan_mmap exported */
	EXPECT_EQ(3, capchan_revoke(&self->ch, par));
	for (size_t off = 0; off < self->len; off += pg) {
		ASSERT_EQ(SIGBUS, peek(m1 + off, &v)) TH_LOG("page %zu", off / pg);
		ASSERT_EQ(0, peek(m2 + off, &v));
		ASSERT_EQ(self->data[off], v);
		ASSERT_EQ(0, peek(m3 + off, &v));
		ASSERT_EQ(self->data[off], v);
	}
	/* from the root: the sibling's mapping goes, the plain one stays */
	EXPECT_LT(0, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(SIGBUS, peek(m2 + 3 * pg, &v));
	EXPECT_EQ(0, peek(m3 + 3 * pg, &v));
	munmap(m1, self->len);
	munmap(m2, self->len);
	munmap(m3, self->len);
}

/*
 * A private mapping: what it copied is its own memory and survives
 * REVOKE; the pages it only read are the file's and fault.
 */
TEST_F(mm, revoke_private_keeps_copies)
{
	int a = child(self, self->root, R_READ | R_MMAP | R_DELEGATE);
	unsigned char *p, v;
	int err;

	ASSERT_LT(0, a);
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_PRIVATE, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, poke(p, 0x42));
	ASSERT_EQ(0, peek(p + pg, &v));
	EXPECT_LT(0, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(0, peek(p, &v));
	EXPECT_EQ(0x42, v);
	EXPECT_EQ(SIGBUS, peek(p + pg, &v));
	EXPECT_EQ(SIGBUS, poke(p + 2 * pg, 1));
	munmap(p, self->len);
}

/* A forked child's copy of the mapping dies with the parent's. */
TEST_F(mm, revoke_reaches_forked_child)
{
	int a = child(self, self->root, RMAP);
	int up[2], down[2], err;
	unsigned char *p;
	uint32_t msg;
	pid_t pid;

	ASSERT_LT(0, a);
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pipe2(up, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(down, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char v;
		int bad = 0;

		/* the child never touched its copy before: nothing mapped */
		if (peek(p + 2 * pg, &v) || v != self->data[2 * pg])
			bad |= 1;
		if (poke(p + 3 * pg, 0x33))
			bad |= 2;
		cc_send_u32(up[1], 1);
		if (cc_recv_u32(down[0], &msg))
			_exit(100);
		if (peek(p + 2 * pg, &v) != SIGBUS)
			bad |= 4;
		if (poke(p + 3 * pg, 0x44) != SIGBUS)
			bad |= 8;
		if (peek(p + 50 * pg, &v) != SIGBUS)
			bad |= 16;
		_exit(bad);
	}
	ASSERT_EQ(0, cc_recv_u32(up[0], &msg));
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	ASSERT_EQ(0, cc_send_u32(down[1], 1));
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ(0, munmap(p, self->len));
}

/*
 * munmap after REVOKE is clean, split and moved mappings are covered, the
 * mapping cannot grow past what REVOKE tears down, and every reference
 * goes with the last VMA: the capability capchan_mmap() exported is freed.
 */
TEST_F(mm, vma_lifetime)
{
	long long base = user_caps(self);
	unsigned char *p, *q, v;
	int a, err;

	ASSERT_LT(0, base);
	a = child(self, self->root, RMAP | R_REVOKE);
	ASSERT_LT(0, a);
	base++;
	/* map, unmap without REVOKE: nothing left */
	p = lmap(self, a, PROT_READ, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(base + 1, user_caps(self));
	EXPECT_EQ(0, munmap(p, self->len));
	EXPECT_EQ(base, user_caps(self));
	/* split, move, refuse to grow, REVOKE, unmap the pieces */
	p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, munmap(p + 4 * pg, pg));
	q = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	q = mremap(p + 8 * pg, 8 * pg, 8 * pg, MREMAP_MAYMOVE | MREMAP_FIXED,
		   q);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0, peek(q, &v));
	EXPECT_EQ(self->data[8 * pg], v);
	EXPECT_EQ(MAP_FAILED, mremap(q, 8 * pg, 16 * pg, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(base + 1, user_caps(self));
	EXPECT_EQ(1, capchan_revoke(&self->ch, a));
	EXPECT_EQ(SIGBUS, peek(q + pg, &v));
	EXPECT_EQ(SIGBUS, peek(p, &v));
	EXPECT_EQ(SIGBUS, peek(p + 5 * pg, &v));
	EXPECT_EQ(SIGBUS, peek(p + 20 * pg, &v));
	EXPECT_EQ(0, munmap(q, 8 * pg));
	EXPECT_EQ(0, munmap(p, 4 * pg));
	EXPECT_EQ(base + 1, user_caps(self));	/* p + 5..7, 16..63 left */
	EXPECT_EQ(0, munmap(p + 5 * pg, 3 * pg));
	EXPECT_EQ(0, munmap(p + 16 * pg, self->len - 16 * pg));
	EXPECT_EQ(base, user_caps(self));
}

/*
 * Closing the capability file, or the whole channel, leaves a mapping
 * working: it holds the capability.  REVOKE from wherever an ancestor is
 * held still tears it down.
 */
TEST_F(mm, closed_while_mapped)
{
	struct capchan g;
	unsigned char *p, *q, v;
	void *addr = NULL;
	int fd, h, err;

	/* the capability file, mapped directly and closed */
	fd = capfile(self, R_READ | R_MMAP);
	ASSERT_LE(0, fd);
	p = map(fd, self->len, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, peek(p + 9 * pg, &v));
	EXPECT_EQ(self->data[9 * pg], v);

	/* a second channel imports, maps and goes away */
	fd = capfile(self, RMAP);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, capchan_open_channel(&g));
	h = capchan_import(&g, fd);
	ASSERT_LT(0, h);
	close(fd);
	ASSERT_EQ(0, capchan_mmap(&g, h, self->len, PROT_READ | PROT_WRITE,
				  MAP_SHARED, 0, &addr));
	q = addr;
	capchan_queue_exit(&g);
	EXPECT_EQ(0, peek(q + 30 * pg, &v));
	EXPECT_EQ(self->data[30 * pg], v);
	EXPECT_EQ(0, poke(q + 31 * pg, 0x31));

	/* the root's holder revokes: both mappings die */
	EXPECT_LT(0, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(SIGBUS, peek(p + 9 * pg, &v));
	EXPECT_EQ(SIGBUS, peek(q + 30 * pg, &v));
	EXPECT_EQ(0, munmap(p, self->len));
	EXPECT_EQ(0, munmap(q, self->len));
	ASSERT_EQ(1, pread(self->fd, &v, 1, 31 * pg));
	EXPECT_EQ(0x31, v);
}

/* ---- REVOKE racing faults --------------------------------------------------- */

struct racer {
	unsigned char *p;
	atomic_int revoked;	/* set once REVOKE returned */
	int before;		/* accesses made before seeing it */
	int after;		/* what the first access after it raised */
};

static void *race_touch(void *arg)
{
	struct racer *r = arg;
	unsigned int x = (unsigned int)(uintptr_t)r;
	unsigned char v;

	for (;;) {
		int done = atomic_load(&r->revoked);
		size_t i = (x = x * 1103515245 + 12345) % NPAGES;
		int sig = (x & 0x100) ? poke(r->p + i * pg, (unsigned char)x) :
					peek(r->p + i * pg, &v);

		if (done) {
			r->after = sig;
			return NULL;
		}
		r->before++;
	}
}

/*
 * Two threads fault, read and write all over the mapping while REVOKE
 * runs; once it has returned, the very next access faults.
 */
TEST_F(mm, revoke_races_faults)
{
	long before = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct racer r[2];
		pthread_t t[2];
		int a, err;
		unsigned char *p;

		a = child(self, self->root, RMAP);
		ASSERT_LT(0, a);
		p = lmap(self, a, PROT_READ | PROT_WRITE, MAP_SHARED, &err);
		ASSERT_EQ(0, err);
		for (int i = 0; i < 2; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].p = p;
			ASSERT_EQ(0, pthread_create(&t[i], NULL, race_touch, &r[i]));
		}
		usleep(200 + 100 * (round % 10));
		ASSERT_EQ(2, capchan_revoke(&self->ch, self->root));
		for (int i = 0; i < 2; i++)
			atomic_store(&r[i].revoked, 1);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			EXPECT_EQ(SIGBUS, r[i].after) TH_LOG("round %d", round);
			before += r[i].before;
		}
		EXPECT_EQ(0, munmap(p, self->len));
		ASSERT_EQ(0, capchan_close(&self->ch, a));
	}
	/* they did race: accesses ran while REVOKE was on its way */
	EXPECT_LT(2 * ROUNDS, before);
}

/* ---- memfd seals (shmem through its own checks) ---------------------------- */

TEST(memfd_seals)
{
	struct capchan ch;
	void *p, *q;
	int mfd, h, ro, rw, err;

	pg = sysconf(_SC_PAGESIZE);
	mfd = memfd_create("capchan-mmap", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4 * pg));
	ASSERT_EQ(0, capchan_open_channel(&ch));
	h = capchan_grant(&ch, mfd, RALL);
	ASSERT_LT(0, h);
	rw = capchan_export(&ch, h, R_READ | R_WRITE | R_MMAP);
	ro = capchan_export(&ch, h, R_READ | R_MMAP);
	ASSERT_LE(0, rw);
	ASSERT_LE(0, ro);
	/* a shared writable capchan mapping counts as one: no write seal */
	p = map(rw, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(-1, fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EBUSY, errno);
	/* a read-only one does not */
	q = map(ro, 4 * pg, PROT_READ, MAP_SHARED, 0, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, munmap(p, 4 * pg));
	ASSERT_EQ(0, fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE));
	/* sealed: shared writable mappings are refused, as mmap(2) does */
	EXPECT_EQ(NULL, map(rw, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
			    &err));
	EXPECT_EQ(-EPERM, err);
	EXPECT_EQ(0, munmap(q, 4 * pg));
	q = map(ro, 4 * pg, PROT_READ, MAP_SHARED, 0, &err);
	EXPECT_EQ(0, err);
	if (q)
		munmap(q, 4 * pg);
	close(ro);
	close(rw);
	capchan_queue_exit(&ch);
	close(mfd);
}

TEST_HARNESS_MAIN
