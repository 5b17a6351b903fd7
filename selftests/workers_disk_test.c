// SPDX-License-Identifier: GPL-2.0
/*
 * Workers on a disk file system: a plain positioned READ from the rings
 * (no CAPCHAN_SQE_ASYNC) whose pages are not in the page cache is tried
 * without blocking, gives up, and is finished by a worker (uapi: "Workers
 * and completion order"; module/op_file.c capchan_rw()).  tmpfs keeps
 * every page in memory, so only a real disk shows this path: the test VM
 * attaches an ext4 image as a virtio disk and mounts it at /mnt/disk
 * (selftests/vm/run.sh, guest-init.sh; $CAPCHAN_TEST_DISK names another
 * ext4 directory).  Without one every test skips and says why.
 *
 * The non-blocking attempt starts the read of what it misses (IOCB_NOWAIT
 * without IOCB_NOIO, module/op_file.c capchan_read_nowait(), on every
 * kernel) and gives up only if that I/O is still running when it looks
 * again, so on a fast (emulated) disk a miss may complete inline, not
 * having waited: the tests demand one punt or an inline completion per
 * miss; the bytes, the CQE count and inflight are exact.
 * read_io_started_by_submitter shows the attempt starts the I/O: with
 * max_workers 1 and the one worker held in a userfaultfd page, the pages
 * of 8 missed READs come into the cache while the READs wait for the
 * worker (on 6.1 RWF_NOWAIT implies IOCB_NOIO, and an attempt made with
 * it left every read to the worker: none came).
 *
 * The file: FILE_LEN bytes of cc_fill_pattern(), written, fsync'ed and
 * read with POSIX_FADV_RANDOM (no readahead: a read brings in exactly the
 * pages it asks for).  Before each test its pages are dropped
 * (POSIX_FADV_DONTNEED, else /proc/sys/vm/drop_caches), and mincore()
 * proves which pages are cached before the READs go.
 *
 *  - miss_goes_to_a_worker: one READ of uncached pages: worker-punted
 *    grows by exactly 1 (or 0 with the CQE posted by ENTER itself), the
 *    exact bytes come back, inflight returns
 *    to 0.
 *  - cached_reread_runs_inline: the same READ again (now cached): not
 *    punted, same bytes.
 *  - random_batch_32: 32 READs of 4 KiB at distinct random uncached pages
 *    in one ENTER: each CQE exactly once (matched by user_data, any order),
 *    each the exact bytes; at most 32 went to a worker.
 *  - partly_cached: the first page cached, the rest not: the non-blocking
 *    attempt stops short after the first page and a worker reads the rest
 *    (one punt, or as above); the whole length, exact bytes.
 *  - read_io_started_by_submitter: see above; then the held READ and the
 *    8 complete, each once, with the exact bytes.
 *  - invoke_miss_runs_inline: INVOKE never hands off: the same miss via
 *    INVOKE reads inline (no punt), exact bytes.
 *
 * OPEN from the rings walks the dentry cache alone first (LOOKUP_CACHED,
 * module/op_open.c capchan_issue_open()); a name not cached there goes to
 * a worker, which makes the whole OPEN.  That walk never starts I/O, so
 * the counts are exact on every kernel.  The names live in a directory
 * "sub" of their own, and drop_caches (dentries and inodes) forgets them
 * while nothing holds them:
 *  - open_miss_goes_to_a_worker: OPEN of sub/f after the drop, linked to
 *    a STAT of CAPCHAN_HANDLE_CHAIN (which never goes to a worker by
 *    itself, unlike a READ of the dropped pages, so the punt counted is
 *    the OPEN's): exactly one punt (the chain goes whole), a handle, the
 *    file's size.
 *  - open_cached_runs_inline: the same OPEN again: no punt, a handle.
 *  - open_miss_enoent: a missing name after the drop: one punt, -ENOENT;
 *    again (ext4 keeps the negative dentry): no punt, -ENOENT.
 *  - open_invoke_miss_runs_inline: INVOKE of the OPEN after the drop: no
 *    punt, a handle.
 *  - open_creat_goes_to_a_worker: O_CREAT and O_TRUNC change the file
 *    system: each goes to a worker, cached or not, and the file made
 *    has the submitter's umask (027: 0640 from 0666), not the kernel
 *    threads' 022.
 *
 * Ops that change a file system with storage go to a worker before they
 * start (capchan_storage_punt()), and so does READDIR (directory blocks
 * may not be cached, and there is no asking); STATAT walks like OPEN:
 *  - metadata_ops_go_to_workers: MKDIR, SYMLINK, RENAME, UNLINK, RMDIR,
 *    TRUNCATE and READDIR from the rings, one ENTER each: exactly one
 *    punt each, the result each gives through INVOKE (which never hands
 *    off: no punt), and what each did is there afterwards (stat(2)); the
 *    directory MKDIR made has mode 0750 from 0777 under umask 027.
 *  - statat_cached_then_miss: STATAT of a cached name: no punt; after the
 *    drop: one punt; both the same size.
 *
 * WRITE is tried without blocking where the file system can say so
 * (module/op_file.c capchan_write_nowait()): direct I/O on ext4 can, and
 * refuses (-EAGAIN) a write that must allocate blocks first:
 *  - dio_write_allocates_in_a_worker: a positioned O_DIRECT WRITE into a
 *    new file goes to exactly one worker, the exact bytes land; the same
 *    WRITE again, now an overwrite of written blocks, runs inline.
 *  - buffered_write_goes_to_a_worker: a buffered positioned WRITE where
 *    ext4 refuses to be asked (pwritev2(RWF_NOWAIT) says EOPNOTSUPP: 6.1
 *    and 6.12) goes to exactly one worker, as io_uring's; where it can be
 *    asked, at most one; the bytes land either way.  The same WRITE at
 *    the file position runs inline.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"


#define CQ_WAIT_MS	30000
#define PAGE		4096
#define FILE_LEN	(2u << 20)		/* 512 pages */
#define NPAGES		(FILE_LEN / PAGE)
#define BIG		(64u << 10)		/* the multi-page READs */
#define BATCH		32
#define SEED		7
#define MAXW_PATH	"/sys/module/capchan/parameters/max_workers"
#define HELD		8			/* READs behind the held worker */

FIXTURE(disk) {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	int fd;
	unsigned char *map;		/* PROT_READ view for mincore() only */
	unsigned char *data;		/* what the file holds */
	unsigned char *buf;
	long long maxw0;		/* max_workers to put back, or -1 */
	struct capchan ch;
	uint32_t fh;
	char why[400];			/* set: no disk, every test skips */
};

/*
 * The harness runs a test after a SKIP in its setup (6.1's does): each
 * test starts with this.
 */
#define NEED_DISK()						\
	do {							\
		if (self->why[0])				\
			SKIP(return, "%s", self->why);		\
	} while (0)

FIXTURE_SETUP(disk)
{
	struct capchan_params p;
	int r, wfd;

	self->fd = -1;
	self->ch.fd = -1;
	self->map = MAP_FAILED;
	self->maxw0 = -1;
	self->dir[0] = '\0';
	self->data = malloc(FILE_LEN);
	self->buf = malloc(FILE_LEN);
	ASSERT_NE(NULL, self->data);
	ASSERT_NE(NULL, self->buf);
	if (cc_find_disk(self->why, sizeof(self->why)))
		SKIP(return, "%s", self->why);

	snprintf(self->dir, sizeof(self->dir), "%s/workers-disk.XXXXXX",
		 cc_disk_dir());
	ASSERT_NE(NULL, mkdtemp(self->dir)) TH_LOG("%s", strerror(errno));
	snprintf(self->path, sizeof(self->path), "%s/data", self->dir);
	cc_fill_pattern(self->data, FILE_LEN, SEED);
	wfd = open(self->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, wfd);
	ASSERT_EQ((ssize_t)FILE_LEN, write(wfd, self->data, FILE_LEN));
	ASSERT_EQ(0, fsync(wfd));
	close(wfd);

	self->fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	/* no readahead: a read caches exactly the pages it reads */
	ASSERT_EQ(0, posix_fadvise(self->fd, 0, 0, POSIX_FADV_RANDOM));
	self->map = mmap(NULL, FILE_LEN, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);

	memset(&p, 0, sizeof(p));
	ASSERT_EQ(0, capchan_queue_init_params(2 * BATCH, &self->ch, &p));
	ASSERT_NE(0, p.features & CAPCHAN_FEAT_WORKERS);
	r = cc_grant(self->ch.fd, self->fd, R_READ | R_SEEK | R_STAT, NULL);
	ASSERT_TRUE(cc_handle_ok(r));
	self->fh = r;
}

FIXTURE_TEARDOWN(disk)
{
	char v[24];

	if (self->maxw0 >= 0) {
		snprintf(v, sizeof(v), "%lld", self->maxw0);
		cc_write_str(MAXW_PATH, v);
	}
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	if (self->map != MAP_FAILED)
		munmap(self->map, FILE_LEN);
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0])
		cc_rm_rf(self->dir);
	free(self->data);
	free(self->buf);
}

/* Pages of [off, off + len) in the page cache (mincore), or -errno. */
static long cached_pages(FIXTURE_DATA(disk) *self, size_t off, size_t len)
{
	static unsigned char vec[NPAGES];
	size_t i, first = off / PAGE, last = (off + len + PAGE - 1) / PAGE;
	long n = 0;

	if (mincore(self->map, FILE_LEN, vec))
		return -errno;
	for (i = first; i < last; i++)
		n += vec[i] & 1;
	return n;
}

/* Drop the file's pages; how many are still cached (0), or -errno. */
static long drop(FIXTURE_DATA(disk) *self)
{
	long n;

	posix_fadvise(self->fd, 0, 0, POSIX_FADV_DONTNEED);
	n = cached_pages(self, 0, FILE_LEN);
	if (n) {
		cc_drop_caches();
		n = cached_pages(self, 0, FILE_LEN);
	}
	return n;
}

/*
 * After one READ of a miss completed: worker-punted grew by exactly one,
 * or by none, the READ having completed inside ENTER (its I/O done before
 * the attempt looked again).  0 or -EPROTO.
 */
static int one_punt_or_inline(FIXTURE_DATA(disk) *self, long long before,
			      bool inline_cqe)
{
	long long now = cc_fdv(self->ch.fd, "worker-punted");

	if (now == before + 1)
		return 0;
	if (now == before && inline_cqe)
		return 0;
	return -EPROTO;
}

static void push_read(FIXTURE_DATA(disk) *self, void *buf, uint32_t len,
		      uint64_t off, uint64_t ud)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_READ, self->fh);
	s.addr = (uintptr_t)buf;
	s.len = len;
	s.off = off;
	s.user_data = ud;
	cc_sq_push(&self->ch, &s);
}

static int reap(FIXTURE_DATA(disk) *self, struct capchan_cqe *c)
{
	int r = cc_cq_wait(&self->ch, CQ_WAIT_MS);

	return r ? r : cc_cq_pop(&self->ch, c);
}

TEST_F_TIMEOUT(disk, miss_goes_to_a_worker, 120)
{
	const size_t off = 5 * BIG;
	struct capchan_cqe c;
	long long punted;
	bool inline_cqe;

	NEED_DISK();
	ASSERT_EQ(0, drop(self));
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	memset(self->buf, 0, BIG);
	push_read(self, self->buf, BIG, off, 1);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	inline_cqe = cc_cq_pending(&self->ch) == 1;
	ASSERT_EQ(0, reap(self, &c));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(BIG, c.res);
	EXPECT_EQ(0, memcmp(self->buf, self->data + off, BIG));
	EXPECT_EQ(0, one_punt_or_inline(self, punted, inline_cqe))
		TH_LOG("worker-punted %lld -> %lld, CQE %s ENTER returned",
		       punted, cc_fdv(self->ch.fd, "worker-punted"),
		       inline_cqe ? "there when" : "after");
	TH_LOG("this READ %s", cc_fdv(self->ch.fd, "worker-punted") > punted ? "went to a worker" :
	       "completed inline");
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	/* the worker's read brought exactly those pages in */
	EXPECT_EQ(BIG / PAGE, cached_pages(self, off, BIG));
}

TEST_F_TIMEOUT(disk, cached_reread_runs_inline, 120)
{
	const size_t off = 3 * BIG;
	struct capchan_cqe c;
	long long punted;

	NEED_DISK();
	ASSERT_EQ(0, drop(self));
	/* cache the range through the ring, as the test above */
	push_read(self, self->buf, BIG, off, 1);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(0, reap(self, &c));
	ASSERT_EQ(BIG, c.res);
	ASSERT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	ASSERT_EQ(BIG / PAGE, cached_pages(self, off, BIG));

	/* 0 where the attempt started the I/O and found it done (6.12) */
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	memset(self->buf, 0, BIG);
	push_read(self, self->buf, BIG, off, 2);
	/* inline: the CQE is there when ENTER returns */
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(1, cc_cq_pending(&self->ch));
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &c));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(BIG, c.res);
	EXPECT_EQ(0, memcmp(self->buf, self->data + off, BIG));
	EXPECT_EQ(punted, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
}

TEST_F_TIMEOUT(disk, random_batch_32, 120)
{
	unsigned int page[BATCH], seen[BATCH] = { 0 };
	uint64_t x = 0x2545f4914f6cdd1dull;
	struct capchan_cqe c;
	long long punted, now;
	int i, j;

	/* 32 distinct pages, pseudo-random but the same every run */
	for (i = 0; i < BATCH; i++) {
		bool dup;

		do {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			page[i] = (unsigned int)(x % NPAGES);
			dup = false;
			for (j = 0; j < i; j++)
				dup |= page[j] == page[i];
		} while (dup);
	}
	NEED_DISK();
	ASSERT_EQ(0, drop(self));
	punted = cc_fdv(self->ch.fd, "worker-punted");
	memset(self->buf, 0, BATCH * PAGE);
	for (i = 0; i < BATCH; i++)
		push_read(self, self->buf + (size_t)i * PAGE, PAGE,
			  (uint64_t)page[i] * PAGE, 100 + i);
	ASSERT_EQ(BATCH, cc_enter(self->ch.fd, BATCH, 0, 0));
	for (i = 0; i < BATCH; i++) {
		ASSERT_EQ(0, reap(self, &c)) TH_LOG("%d of %d CQEs", i, BATCH);
		ASSERT_LE(100, c.user_data);
		ASSERT_GT(100 + BATCH, c.user_data);
		j = (int)c.user_data - 100;
		EXPECT_EQ(0, seen[j]) TH_LOG("user_data %d twice", 100 + j);
		seen[j]++;
		EXPECT_EQ(PAGE, c.res) TH_LOG("READ of page %u", page[j]);
	}
	for (i = 0; i < BATCH; i++) {
		unsigned int pg = page[i];

		EXPECT_EQ(0, memcmp(self->buf + (size_t)i * PAGE,
				    self->data + (size_t)pg * PAGE, PAGE))
			TH_LOG("page %u", pg);
	}
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	/* no CQE more than the 32 */
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	/*
	 * A READ whose I/O finished before the attempt looked again reads
	 * inline (see the top): how many went to a worker is only bounded.
	 */
	now = cc_fdv(self->ch.fd, "worker-punted");
	EXPECT_GE(punted + BATCH, now);
	TH_LOG("%lld of %d READs went to a worker", now - punted, BATCH);
}

TEST_F_TIMEOUT(disk, partly_cached, 120)
{
	const size_t off = 9 * BIG;
	struct capchan_cqe c;
	long long punted;
	bool inline_cqe;

	NEED_DISK();
	ASSERT_EQ(0, drop(self));
	/* the first page only (POSIX_FADV_RANDOM: no readahead) */
	ASSERT_EQ(PAGE, pread(self->fd, self->buf, PAGE, off));
	ASSERT_EQ(1, cached_pages(self, off, PAGE));
	ASSERT_EQ(1, cached_pages(self, off, BIG));

	punted = cc_fdv(self->ch.fd, "worker-punted");
	memset(self->buf, 0, BIG);
	push_read(self, self->buf, BIG, off, 7);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	inline_cqe = cc_cq_pending(&self->ch) == 1;
	ASSERT_EQ(0, reap(self, &c));
	EXPECT_EQ(7, c.user_data);
	/* the whole length: the worker's part added to the first page */
	EXPECT_EQ(BIG, c.res);
	EXPECT_EQ(0, memcmp(self->buf, self->data + off, BIG));
	EXPECT_EQ(0, one_punt_or_inline(self, punted, inline_cqe))
		TH_LOG("worker-punted %lld -> %lld, CQE %s ENTER returned",
		       punted, cc_fdv(self->ch.fd, "worker-punted"),
		       inline_cqe ? "there when" : "after");
	TH_LOG("this READ %s", cc_fdv(self->ch.fd, "worker-punted") > punted ? "went to a worker" :
	       "completed inline");
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	EXPECT_EQ(BIG / PAGE, cached_pages(self, off, BIG));
}

TEST_F_TIMEOUT(disk, read_io_started_by_submitter, 120)
{
	static const unsigned int page[HELD] = { 21, 77, 130, 199, 260, 333, 404, 470 };
	unsigned int seen = 0;
	struct cc_uffd_page u;
	struct capchan_cqe c;
	long long punted, queued;
	long cached = 0;
	double end;
	int err, i, j;

	NEED_DISK();
	err = cc_uffd_page_init(&u);
	if (err == -ENOSYS || err == -EPERM)
		SKIP(return, "no userfaultfd here: %s", strerror(-err));
	ASSERT_EQ(0, err);
	self->maxw0 = cc_module_param("max_workers", &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, cc_write_str(MAXW_PATH, "1"));
	ASSERT_EQ(0, drop(self));

	/* the one worker waits in the copy to the page (page 0 read by it) */
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, CAPCHAN_SQE_ASYNC,
		    u.mem, 4, 0, 1);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(0, cc_uffd_wait_fault(&u));
	punted = cc_fdv(self->ch.fd, "worker-punted");
	for (i = 0; i < HELD; i++)
		ASSERT_EQ(0, cached_pages(self, (size_t)page[i] * PAGE, PAGE));

	memset(self->buf, 0, HELD * PAGE);
	for (i = 0; i < HELD; i++)
		push_read(self, self->buf + (size_t)i * PAGE, PAGE,
			  (uint64_t)page[i] * PAGE, 100 + i);
	ASSERT_EQ(HELD, cc_enter(self->ch.fd, HELD, 0, 0));
	/* those that found their I/O still running wait for the worker */
	queued = cc_fdv(self->ch.fd, "worker-punted") - punted;
	EXPECT_EQ(HELD, queued + cc_cq_pending(&self->ch));
	end = cc_now() + 10;
	do {
		cached = 0;
		for (i = 0; i < HELD; i++)
			cached += cached_pages(self, (size_t)page[i] * PAGE, PAGE);
		if (cached == HELD)
			break;
		usleep(10000);
	} while (cc_now() < end);
	/* the worker is still held: the reads were started by ENTER */
	EXPECT_EQ(HELD, cached)
		TH_LOG("%ld of %d missed pages cached, %lld READs waiting for the held worker",
		       cached, HELD, queued);
	EXPECT_EQ(1 + queued, cc_fdv(self->ch.fd, "inflight"));

	ASSERT_EQ(0, cc_uffd_supply(&u, 'z'));
	for (i = 0; i <= HELD; i++) {
		ASSERT_EQ(0, reap(self, &c)) TH_LOG("%d of %d CQEs", i, HELD + 1);
		if (c.user_data == 1) {
			EXPECT_EQ(4, c.res);
			EXPECT_EQ(0, memcmp(u.mem, self->data, 4));
			j = HELD;
		} else {
			ASSERT_LE(100, c.user_data);
			ASSERT_GT(100 + HELD, c.user_data);
			j = (int)c.user_data - 100;
			EXPECT_EQ(PAGE, c.res) TH_LOG("READ of page %u", page[j]);
		}
		EXPECT_EQ(0, seen & (1u << j)) TH_LOG("user_data %llu twice",
						      (unsigned long long)c.user_data);
		seen |= 1u << j;
	}
	EXPECT_EQ((1u << (HELD + 1)) - 1, seen);
	for (i = 0; i < HELD; i++)
		EXPECT_EQ(0, memcmp(self->buf + (size_t)i * PAGE,
				    self->data + (size_t)page[i] * PAGE, PAGE))
			TH_LOG("page %u", page[i]);
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	cc_uffd_page_destroy(&u);
}

TEST_F_TIMEOUT(disk, invoke_miss_runs_inline, 120)
{
	const size_t off = 17 * BIG;
	struct capchan_sqe s;
	long long punted;

	NEED_DISK();
	ASSERT_EQ(0, drop(self));
	punted = cc_fdv(self->ch.fd, "worker-punted");
	memset(self->buf, 0, BIG);
	cc_sqe(&s, CAPCHAN_OP_READ, self->fh);
	s.addr = (uintptr_t)self->buf;
	s.len = BIG;
	s.off = off;
	EXPECT_EQ(BIG, cc_invoke(self->ch.fd, &s));
	EXPECT_EQ(0, memcmp(self->buf, self->data + off, BIG));
	EXPECT_EQ(punted, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(BIG / PAGE, cached_pages(self, off, BIG));
}

/* ---- OPEN: the cached walk first ---------------------------------------- */

#define SUB_LEN		5000

/*
 * sub/f (SUB_LEN bytes of the pattern) beside the data file, a DIR
 * capability on the test directory, and everything dropped but what the
 * test holds.  The DIR's handle, or a negative errno.
 */
static int open_setup(FIXTURE_DATA(disk) *self, uint64_t rights)
{
	char path[PATH_MAX + 32];
	int dfd, fd, r;

	snprintf(path, sizeof(path), "%s/sub", self->dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/sub/f", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write(fd, self->data, SUB_LEN) == SUB_LEN ? 0 : -EIO;
	if (!r && fsync(fd))
		r = -errno;
	close(fd);
	if (r)
		return r;
	dfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = cc_grant(self->ch.fd, dfd, rights, NULL);
	close(dfd);
	cc_drop_caches();
	return r;
}

static const uint64_t open_rights = R_LOOKUP | R_READ | R_SEEK | R_STAT;

TEST_F_TIMEOUT(disk, open_miss_goes_to_a_worker, 120)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	struct capchan_cqe c;
	long long punted;
	int dh;

	NEED_DISK();
	dh = open_setup(self, open_rights);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);

	capchan_prep_open(&s, dh, "sub/f", O_RDONLY, 0, R_READ | R_STAT);
	s.flags = CAPCHAN_SQE_LINK;
	s.user_data = 1;
	cc_sq_push(&self->ch, &s);
	memset(&st, 0, sizeof(st));
	capchan_prep_stat(&s, CAPCHAN_HANDLE_CHAIN, &st);
	s.user_data = 2;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(2, cc_enter(self->ch.fd, 2, 0, 0));
	ASSERT_EQ(0, reap(self, &c));
	EXPECT_EQ(1, c.user_data);
	EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN: %d", c.res);
	ASSERT_EQ(0, reap(self, &c));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(SUB_LEN, st.size);
	/* one hand-over: the OPEN, with the STAT of its chain */
	EXPECT_EQ(punted + 1, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
}

TEST_F_TIMEOUT(disk, open_cached_runs_inline, 120)
{
	struct capchan_sqe s;
	struct capchan_cqe c;
	long long punted;
	int dh, i;

	NEED_DISK();
	dh = open_setup(self, open_rights);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	for (i = 0; i < 2; i++) {
		capchan_prep_open(&s, dh, "sub/f", O_RDONLY, 0, R_READ);
		s.user_data = 10 + i;
		cc_sq_push(&self->ch, &s);
		ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
		/* the second one is cached: its CQE is there when ENTER returns */
		if (i)
			EXPECT_EQ(1, cc_cq_pending(&self->ch));
		ASSERT_EQ(0, reap(self, &c));
		EXPECT_EQ(10 + i, c.user_data);
		EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN %d: %d", i, c.res);
	}
	/* the first OPEN after the drop went to a worker, the second not */
	EXPECT_EQ(punted + 1, cc_fdv(self->ch.fd, "worker-punted"));
}

TEST_F_TIMEOUT(disk, open_miss_enoent, 120)
{
	struct capchan_sqe s;
	struct capchan_cqe c;
	long long punted;
	int dh, i;

	NEED_DISK();
	dh = open_setup(self, open_rights);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	for (i = 0; i < 2; i++) {
		capchan_prep_open(&s, dh, "sub/none", O_RDONLY, 0, R_READ);
		s.user_data = 20 + i;
		cc_sq_push(&self->ch, &s);
		ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
		ASSERT_EQ(0, reap(self, &c));
		EXPECT_EQ(20 + i, c.user_data);
		EXPECT_EQ(-ENOENT, c.res);
		/* the miss went to a worker; the negative dentry it left not */
		EXPECT_EQ(punted + 1, cc_fdv(self->ch.fd, "worker-punted"));
	}
}

TEST_F_TIMEOUT(disk, open_invoke_miss_runs_inline, 120)
{
	struct capchan_sqe s;
	long long punted;
	int dh, r;

	NEED_DISK();
	dh = open_setup(self, open_rights);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	capchan_prep_open(&s, dh, "sub/f", O_RDONLY, 0, R_READ);
	r = cc_invoke(self->ch.fd, &s);
	EXPECT_TRUE(cc_handle_ok(r)) TH_LOG("OPEN: %d", r);
	EXPECT_EQ(punted, cc_fdv(self->ch.fd, "worker-punted"));
}

TEST_F_TIMEOUT(disk, open_creat_goes_to_a_worker, 120)
{
	static const int flags[] = { O_CREAT, O_TRUNC };
	char path[PATH_MAX + 32];
	struct capchan_sqe s;
	struct capchan_cqe c;
	long long punted;
	struct stat st;
	mode_t old;
	int dh, i;

	NEED_DISK();
	dh = open_setup(self, open_rights | R_WRITE | R_CREATE);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted);
	old = umask(027);
	for (i = 0; i < 2; i++) {
		capchan_prep_open(&s, dh, i ? "sub/f" : "sub/new", flags[i],
				  i ? 0 : 0666, R_READ | R_WRITE);
		s.user_data = 30 + i;
		cc_sq_push(&self->ch, &s);
		ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
		ASSERT_EQ(0, reap(self, &c));
		EXPECT_EQ(30 + i, c.user_data);
		EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN %d: %d", i, c.res);
		EXPECT_EQ(punted + 1 + i, cc_fdv(self->ch.fd, "worker-punted"));
	}
	umask(old);
	snprintf(path, sizeof(path), "%s/sub/new", self->dir);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	/* O_TRUNC did its work */
	snprintf(path, sizeof(path), "%s/sub/f", self->dir);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0, st.st_size);
}

/* One op through the rings: its CQE's result; *@went: it was punted. */
static int ring_one(FIXTURE_DATA(disk) *self, struct capchan_sqe *s,
		    bool *went)
{
	long long before = cc_fdv(self->ch.fd, "worker-punted");
	struct capchan_cqe c;
	int r;

	s->user_data = 0x5eed;
	cc_sq_push(&self->ch, s);
	r = cc_enter(self->ch.fd, 1, 0, 0);
	if (r != 1)
		return r < 0 ? r : -EPROTO;
	r = reap(self, &c);
	if (r)
		return r;
	if (c.user_data != 0x5eed)
		return -EPROTO;
	*went = cc_fdv(self->ch.fd, "worker-punted") == before + 1;
	return c.res;
}

TEST_F_TIMEOUT(disk, metadata_ops_go_to_workers, 120)
{
	char path[PATH_MAX + 32], names[8192];
	struct capchan_sqe s;
	long long punted;
	struct stat st;
	bool went;
	mode_t old;
	int dh, fh, r;

	NEED_DISK();
	dh = open_setup(self, open_rights | R_WRITE | R_CREATE |
			CAPCHAN_RIGHT_REMOVE | CAPCHAN_RIGHT_LIST);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);

	old = umask(027);
	capchan_prep_mkdir(&s, dh, "sub/d", 0777);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("MKDIR ran inline");
	umask(old);
	snprintf(path, sizeof(path), "%s/sub/d", self->dir);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0750, st.st_mode & 07777);

	capchan_prep_symlink(&s, dh, "sub/l", "f");
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("SYMLINK ran inline");
	snprintf(path, sizeof(path), "%s/sub/l", self->dir);
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));

	capchan_prep_rename(&s, dh, "sub/l", dh, "sub/l2", 0);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("RENAME ran inline");
	EXPECT_EQ(-1, lstat(path, &st));
	snprintf(path, sizeof(path), "%s/sub/l2", self->dir);
	EXPECT_EQ(0, lstat(path, &st));

	capchan_prep_unlink(&s, dh, "sub/l2");
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("UNLINK ran inline");
	EXPECT_EQ(-1, lstat(path, &st));

	capchan_prep_rmdir(&s, dh, "sub/d");
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("RMDIR ran inline");
	snprintf(path, sizeof(path), "%s/sub/d", self->dir);
	EXPECT_EQ(-1, stat(path, &st));

	/* an error is the worker's answer too */
	capchan_prep_rmdir(&s, dh, "sub/d");
	EXPECT_EQ(-ENOENT, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("RMDIR of nothing ran inline");

	fh = capchan_open_beneath(&self->ch, dh, "sub/f", 0, 0,
				  R_READ | R_WRITE);
	ASSERT_TRUE(cc_handle_ok(fh)) TH_LOG("open: %d", fh);
	capchan_prep_truncate(&s, fh, 100);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("TRUNCATE ran inline");
	snprintf(path, sizeof(path), "%s/sub/f", self->dir);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(100, st.st_size);

	/* READDIR of the DIR: ".", "..", "data", "sub" at least */
	capchan_prep_readdir(&s, dh, names, sizeof(names), 0);
	r = ring_one(self, &s, &went);
	EXPECT_LT(0, r);
	EXPECT_TRUE(went) TH_LOG("READDIR ran inline");

	/* INVOKE never hands off: the same READDIR inline, same length */
	punted = cc_fdv(self->ch.fd, "worker-punted");
	capchan_prep_readdir(&s, dh, names, sizeof(names), 0);
	EXPECT_EQ(r, cc_invoke(self->ch.fd, &s));
	EXPECT_EQ(punted, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
}

TEST_F_TIMEOUT(disk, statat_cached_then_miss, 120)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	bool went;
	int dh;

	NEED_DISK();
	dh = open_setup(self, open_rights);
	ASSERT_TRUE(cc_handle_ok(dh)) TH_LOG("setup: %d", dh);
	/* the data file is held open: its name stays cached */
	memset(&st, 0, sizeof(st));
	capchan_prep_statat(&s, dh, "data", &st, 0);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_FALSE(went) TH_LOG("STATAT of a cached name went to a worker");
	EXPECT_EQ(FILE_LEN, st.size);
	/* sub/f was dropped with everything else open_setup() let go of */
	memset(&st, 0, sizeof(st));
	capchan_prep_statat(&s, dh, "sub/f", &st, 0);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_TRUE(went) TH_LOG("STATAT of a dropped name ran inline");
	EXPECT_EQ(SUB_LEN, st.size);
	/* now cached */
	capchan_prep_statat(&s, dh, "sub/f", &st, 0);
	EXPECT_EQ(0, ring_one(self, &s, &went));
	EXPECT_FALSE(went) TH_LOG("STATAT of a cached name went to a worker");
}

TEST_F_TIMEOUT(disk, dio_write_allocates_in_a_worker, 120)
{
	char path[PATH_MAX + 32];
	struct capchan_sqe s;
	unsigned char *buf;
	bool went;
	int fd, h, i;

	NEED_DISK();
	snprintf(path, sizeof(path), "%s/dio", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd) TH_LOG("O_DIRECT: %s", strerror(errno));
	ASSERT_EQ(0, posix_memalign((void **)&buf, PAGE, 2 * PAGE));
	memcpy(buf, self->data, 2 * PAGE);
	h = cc_grant(self->ch.fd, fd, R_READ | R_WRITE | R_SEEK, NULL);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("grant: %d", h);
	for (i = 0; i < 2; i++) {
		capchan_prep_write(&s, h, buf, 2 * PAGE, 0);
		EXPECT_EQ(2 * PAGE, ring_one(self, &s, &went));
		/* the first one allocates: ext4 says -EAGAIN without waiting */
		EXPECT_EQ(i == 0, went) TH_LOG("WRITE %d %s", i,
					       went ? "went to a worker" : "ran inline");
	}
	memset(buf, 0, 2 * PAGE);
	ASSERT_EQ(2 * PAGE, pread(fd, buf, 2 * PAGE, 0));
	EXPECT_EQ(0, memcmp(buf, self->data, 2 * PAGE));
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	free(buf);
	close(fd);
}

TEST_F_TIMEOUT(disk, buffered_write_goes_to_a_worker, 120)
{
	char path[PATH_MAX + 32];
	struct iovec iov = { .iov_base = self->data, .iov_len = PAGE };
	struct capchan_sqe s;
	long long punted;
	bool went, refused;
	int fd, h;

	NEED_DISK();
	snprintf(path, sizeof(path), "%s/buffered", self->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	/* does ext4 take non-blocking buffered writes on this kernel? */
	refused = pwritev2(fd, &iov, 1, 0, RWF_NOWAIT) < 0 &&
		  errno == EOPNOTSUPP;
	h = cc_grant(self->ch.fd, fd, R_READ | R_WRITE | R_SEEK, NULL);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("grant: %d", h);
	punted = cc_fdv(self->ch.fd, "worker-punted");
	capchan_prep_write(&s, h, self->data, BIG, 0);
	EXPECT_EQ(BIG, ring_one(self, &s, &went));
	TH_LOG("non-blocking buffered writes %s; this WRITE %s",
	       refused ? "refused" : "taken",
	       went ? "went to a worker" : "ran inline");
	if (refused)
		EXPECT_TRUE(went);
	EXPECT_GE(punted + 1, cc_fdv(self->ch.fd, "worker-punted"));
	memset(self->buf, 0, BIG);
	ASSERT_EQ(BIG, pread(fd, self->buf, BIG, 0));
	EXPECT_EQ(0, memcmp(self->buf, self->data, BIG));

	/* at the file position: inline, whatever the file system */
	punted = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_EQ(BIG, lseek(fd, BIG, SEEK_SET));
	capchan_prep_write(&s, h, self->data + BIG, BIG, CAPCHAN_OFF_CURRENT);
	EXPECT_EQ(BIG, ring_one(self, &s, &went));
	EXPECT_FALSE(went);
	EXPECT_EQ(punted, cc_fdv(self->ch.fd, "worker-punted"));
	ASSERT_EQ(BIG, pread(fd, self->buf, BIG, BIG));
	EXPECT_EQ(0, memcmp(self->buf, self->data + BIG, BIG));
	close(fd);
}

TEST_HARNESS_MAIN
