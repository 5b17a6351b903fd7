// SPDX-License-Identifier: GPL-2.0
/*
 * Resource bounds and leaks: 10,000 channels and 100,000 capabilities
 * created and dropped with kernel memory back near its baseline; the
 * capability table limit (-EMFILE) and the derivation depth (-EMLINK).
 *
 * Memory is read from /proc/meminfo after dropping the page cache,
 * dentries and inodes.  Tolerances:
 *  - SUnreclaim (unreclaimable slab): 2 MiB.  Each channel or capability
 *    allocates at least one slab object (>= 64 bytes; a channel several
 *    hundred bytes plus a struct file); one leaked 256-byte object per
 *    channel over 10,000 channels is 2.5 MiB, one leaked 64-byte object
 *    per capability over 100,000 is 6.1 MiB, so a per-object leak cannot
 *    hide under 2 MiB.  Because every channel/capability is closed before
 *    the next one is made, legitimate slab growth is a few partially used
 *    slab pages, well under 1 MiB.
 *  - MemAvailable: 16 MiB.  Ring memory comes from the page allocator,
 *    not the slab: one leaked 4 KiB page per channel is 40 MiB.  Page
 *    cache and per-cpu page lists make MemAvailable noisy by a few MiB.
 * Measured in the 6.1 test VM: 40,000 capabilities held cost 10.6 MiB of
 * SUnreclaim (~270 bytes each), 1,000 channels with 8-entry rings 1.4 MiB
 * of SUnreclaim and 5.5 MiB of MemAvailable; a full leak of either test
 * would be 5-25 times the tolerance, a 10% leak still above it.
 * Freeing may be deferred (RCU, fput task work), so the check polls for
 * up to 10 seconds before failing.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define SLAB_TOL_KB	2048
#define AVAIL_TOL_KB	(16 * 1024)

struct memsnap {
	long long sunreclaim, slab, avail;
};

static void snap(struct memsnap *m)
{
	cc_drop_caches();
	m->sunreclaim = cc_meminfo_kb("SUnreclaim");
	m->slab = cc_meminfo_kb("Slab");
	m->avail = cc_meminfo_kb("MemAvailable");
}

static bool near(const struct memsnap *base, const struct memsnap *now)
{
	return now->sunreclaim - base->sunreclaim <= SLAB_TOL_KB &&
	       base->avail - now->avail <= AVAIL_TOL_KB;
}

/* Poll until memory is back near base (or 10 s passed); the last sample. */
static void settle(const struct memsnap *base, struct memsnap *now)
{
	for (int i = 0; i < 50; i++) {
		usleep(200 * 1000);
		snap(now);
		if (near(base, now))
			return;
	}
}

#define CHECK_MEM(base, now) do {					\
	TH_LOG("SUnreclaim %lld -> %lld kB, Slab %lld -> %lld kB, "	\
	       "MemAvailable %lld -> %lld kB",				\
	       (base).sunreclaim, (now).sunreclaim, (base).slab,	\
	       (now).slab, (base).avail, (now).avail);			\
	EXPECT_GE(SLAB_TOL_KB, (now).sunreclaim - (base).sunreclaim);	\
	EXPECT_GE(AVAIL_TOL_KB, (base).avail - (now).avail);		\
} while (0)

FIXTURE(leak) {
	struct cc_tree t;
	int file_fd;
};

FIXTURE_SETUP(leak)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "leak"));
	self->file_fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->file_fd);
	if (cc_meminfo_kb("SUnreclaim") < 0)
		SKIP(return, "no SUnreclaim in /proc/meminfo");
}

FIXTURE_TEARDOWN(leak)
{
	if (self->file_fd >= 0)
		close(self->file_fd);
	cc_tree_destroy(&self->t);
}

/* One full channel life: rings, grants, derive, export, close. */
static int channel_life(FIXTURE_DATA(leak) *self, bool export)
{
	struct capchan ch;
	struct capchan_sqe *sqe;
	int ret, d, f, fd;

	ret = capchan_queue_init(8, &ch, 0);
	if (ret)
		return ret;
	d = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	f = capchan_grant(&ch, self->file_fd, R_READ | R_STAT | R_DERIVE);
	if (d < 0 || f < 0) {
		ret = d < 0 ? d : f;
		goto out;
	}
	ret = capchan_derive(&ch, f, R_READ);
	if (ret < 0)
		goto out;
	ret = capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ);
	if (ret < 0)
		goto out;
	/* one NOP through the rings, left unreaped */
	sqe = capchan_get_sqe(&ch);
	capchan_prep_nop(sqe);
	ret = capchan_submit(&ch);
	if (ret != 1) {
		ret = ret < 0 ? ret : -EIO;
		goto out;
	}
	if (export) {
		fd = capchan_export(&ch, d, R_LOOKUP);
		if (fd < 0) {
			ret = fd;
			goto out;
		}
		close(fd);
	}
	ret = 0;
out:
	capchan_queue_exit(&ch);
	return ret;
}

TEST_F_TIMEOUT(leak, channels_10000, 900)
{
	struct memsnap base, now;
	double t0;
	int i, ret = 0;

	/* Warm up the caches the module uses. */
	for (i = 0; i < 200; i++)
		ASSERT_EQ(0, channel_life(self, true));
	snap(&base);
	t0 = cc_now();
	for (i = 0; i < 10000; i++) {
		ret = channel_life(self, i % 2);
		if (ret)
			break;
	}
	ASSERT_EQ(0, ret) TH_LOG("channel %d", i);
	TH_LOG("10000 channels in %.1f s", cc_now() - t0);
	settle(&base, &now);
	CHECK_MEM(base, now);
}

TEST_F_TIMEOUT(leak, caps_100000, 900)
{
	struct memsnap base, now;
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	struct capchan ch;
	double t0;
	int d, f, i, bad = 0, last_bad = 0;

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, capchan_queue_init(256, &ch, 0));
	d = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	f = capchan_grant(&ch, self->file_fd, R_READ | R_STAT | R_DERIVE);
	ASSERT_LT(0, d);
	ASSERT_LT(0, f);
	for (i = 0; i < 1000; i++) {		/* warm up */
		int h = capchan_derive(&ch, f, R_READ);

		ASSERT_LT(0, h);
		ASSERT_EQ(0, capchan_close(&ch, h));
	}
	snap(&base);
	t0 = cc_now();

	/* 100,000 derive + close through INVOKE. */
	for (i = 0; i < 100000; i++) {
		int h = capchan_derive(&ch, f, i & 1 ? R_READ : R_STAT);
		int r = h > 0 ? capchan_close(&ch, h) : h;

		if (r) {
			bad++;
			last_bad = r;
		}
	}
	EXPECT_EQ(0, bad) TH_LOG("last %d", last_bad);

	/* 100,000 more through the rings: DERIVE -> CLOSE(CHAIN) chains. */
	for (i = 0; i < 100000; ) {
		unsigned int n = 0;
		struct capchan_cqe *cqe;

		while (i + n / 2 < 100000 && capchan_sq_space_left(&ch) >= 2) {
			struct capchan_sqe *s1 = capchan_get_sqe(&ch);
			struct capchan_sqe *s2 = capchan_get_sqe(&ch);

			capchan_prep_derive(s1, f, R_READ);
			capchan_sqe_set_flags(s1, CAPCHAN_SQE_LINK);
			capchan_sqe_set_data64(s1, 1);
			capchan_prep_close(s2, CAPCHAN_HANDLE_CHAIN);
			capchan_sqe_set_data64(s2, 2);
			n += 2;
		}
		ASSERT_EQ(n, capchan_submit_and_wait(&ch, n));
		for (unsigned int k = 0; k < n; k++) {
			ASSERT_EQ(0, capchan_peek_cqe(&ch, &cqe));
			if (cqe->user_data == 1 ? cqe->res <= 0 : cqe->res != 0) {
				bad++;
				last_bad = cqe->res;
			}
			capchan_cqe_seen(&ch, cqe);
		}
		i += n / 2;
	}
	EXPECT_EQ(0, bad) TH_LOG("last %d", last_bad);

	/* 10,000 OPEN + CLOSE (a struct file each). */
	for (i = 0; i < 10000; i++) {
		int h = capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ);
		int r = h > 0 ? capchan_close(&ch, h) : h;

		if (r) {
			bad++;
			last_bad = r;
		}
	}
	EXPECT_EQ(0, bad) TH_LOG("last %d", last_bad);
	TH_LOG("caps done in %.1f s", cc_now() - t0);

	ASSERT_EQ(0, cc_read_fdinfo(ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	settle(&base, &now);
	CHECK_MEM(base, now);
	capchan_queue_exit(&ch);
	free(fi);
}

/* Closing a channel full of capabilities frees them all. */
TEST_F_TIMEOUT(leak, close_full_channels, 600)
{
	struct capchan_version v;
	struct memsnap base, now;
	struct capchan ch;
	unsigned int n;

	ASSERT_EQ(0, capchan_open_channel(&ch));
	ASSERT_EQ(0, capchan_get_version(&ch, &v));
	capchan_queue_exit(&ch);
	n = v.max_caps < 2000 ? v.max_caps : 2000;
	for (int round = 0; round < 11; round++) {
		int f, d, h;

		if (round == 1)
			snap(&base);
		ASSERT_EQ(0, capchan_open_channel(&ch));
		f = capchan_grant(&ch, self->file_fd, R_READ | R_DERIVE);
		d = capchan_grant(&ch, self->t.jail_fd, R_ALL);
		ASSERT_LT(0, f);
		ASSERT_LT(0, d);
		for (unsigned int i = 2; i < n; i++) {
			if (i % 4 == 0)
				h = capchan_open_beneath(&ch, d, "hello", 0, 0,
							 R_READ);
			else
				h = capchan_derive(&ch, i % 2 ? f : d, R_READ);
			ASSERT_LT(0, h) TH_LOG("cap %u", i);
		}
		capchan_queue_exit(&ch);
	}
	settle(&base, &now);
	CHECK_MEM(base, now);
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

TEST_F_TIMEOUT(leak, table_full_emfile, 300)
{
	struct capchan_version v;
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	struct capchan ch, ch2;
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	int root, d, h = 0, last = 0, capfd;
	unsigned int made = 0;

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, capchan_queue_init(4, &ch, 0));
	ASSERT_EQ(0, capchan_get_version(&ch, &v));
	ASSERT_LE(4, v.max_caps);
	d = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	root = capchan_grant(&ch, self->file_fd, R_READ | R_DERIVE | R_DELEGATE);
	ASSERT_LT(0, d);
	ASSERT_LT(0, root);
	made = 2;
	capfd = capchan_export(&ch, root, R_READ);
	ASSERT_LE(0, capfd);
	while (made < v.max_caps + 10) {
		h = capchan_derive(&ch, root, R_READ);
		if (h < 0)
			break;
		last = h;
		made++;
	}
	EXPECT_EQ(-EMFILE, h);
	EXPECT_EQ(v.max_caps, made);
	/* Every way of making a handle fails the same way. */
	EXPECT_EQ(-EMFILE, capchan_grant(&ch, self->t.jail_fd, R_LOOKUP));
	EXPECT_EQ(-EMFILE, capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ));
	EXPECT_EQ(-EMFILE, capchan_import(&ch, capfd));
	sqe = capchan_get_sqe(&ch);
	capchan_prep_derive(sqe, root, R_READ);
	capchan_sqe_set_data64(sqe, 77);
	ASSERT_EQ(1, capchan_submit_and_wait(&ch, 1));
	ASSERT_EQ(0, capchan_peek_cqe(&ch, &cqe));
	EXPECT_EQ(77, cqe->user_data);
	EXPECT_EQ(-EMFILE, cqe->res);
	capchan_cqe_seen(&ch, cqe);
	/* Operations on existing handles still work. */
	EXPECT_EQ(4, capchan_read(&ch, last, fi, 4, CAPCHAN_OFF_CURRENT));
	ASSERT_EQ(0, cc_read_fdinfo(ch.fd, fi));
	EXPECT_EQ(v.max_caps, fi->caps);
	/* One slot freed: exactly one more. */
	EXPECT_EQ(0, capchan_close(&ch, last));
	h = capchan_derive(&ch, root, R_READ);
	EXPECT_LT(0, h);
	EXPECT_EQ(-EMFILE, capchan_derive(&ch, root, R_READ));
	/* The limit is per channel. */
	ASSERT_EQ(0, capchan_open_channel(&ch2));
	EXPECT_LT(0, capchan_import(&ch2, capfd));
	capchan_queue_exit(&ch2);
	close(capfd);
	capchan_queue_exit(&ch);
	free(fi);
}

TEST_F_TIMEOUT(leak, depth_emlink, 120)
{
	struct capchan_version v;
	struct capchan_stat st;
	struct capchan ch;
	int h, prev, ndir = 0, capfd;

	ASSERT_EQ(0, capchan_open_channel(&ch));
	ASSERT_EQ(0, capchan_get_version(&ch, &v));
	ASSERT_LT(2, v.max_depth);
	ASSERT_GT(v.max_caps, v.max_depth + 8);
	/* A DIR root at depth 0, derived down to max_depth. */
	h = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	prev = h;
	for (;;) {
		h = capchan_derive(&ch, prev, R_ALL);
		if (h < 0)
			break;
		prev = h;
		ndir++;
		if (ndir > (int)v.max_depth + 5)
			break;
	}
	EXPECT_EQ(-EMLINK, h);
	EXPECT_EQ(v.max_depth, ndir);
	/* At max_depth: nothing more below, by any op. */
	EXPECT_EQ(-EMLINK, capchan_derive(&ch, prev, R_READ));
	EXPECT_EQ(-EMLINK, capchan_open_beneath(&ch, prev, "hello", 0, 0, R_READ));
	EXPECT_EQ(-EMLINK, capchan_export(&ch, prev, R_READ));
	/* But the capability itself works. */
	EXPECT_EQ(0, capchan_stat(&ch, prev, &st));
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	capchan_queue_exit(&ch);

	/* One above max_depth: OPEN and EXPORT land exactly at max_depth. */
	ASSERT_EQ(0, capchan_open_channel(&ch));
	h = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	for (unsigned int i = 0; i + 1 < v.max_depth; i++) {
		h = capchan_derive(&ch, h, R_ALL);
		ASSERT_LT(0, h);
	}
	prev = h;
	h = capchan_open_beneath(&ch, prev, "hello", 0, 0, R_READ | R_DERIVE);
	EXPECT_LT(0, h);
	EXPECT_EQ(-EMLINK, capchan_derive(&ch, h, R_READ));
	capfd = capchan_export(&ch, prev, R_READ | R_DERIVE);
	ASSERT_LE(0, capfd);
	h = capchan_import(&ch, capfd);
	EXPECT_LT(0, h);
	EXPECT_EQ(-EMLINK, capchan_derive(&ch, h, R_READ));
	close(capfd);
	capchan_queue_exit(&ch);
}

/* Many channels open at the same time. */
TEST_F_TIMEOUT(leak, many_open_channels, 300)
{
	enum { N = 500 };
	struct capchan *ch = calloc(N, sizeof(*ch));
	struct memsnap base, now;

	ASSERT_NE(NULL, ch);
	snap(&base);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			ASSERT_EQ(0, capchan_queue_init(16, &ch[i], 0)) TH_LOG("channel %d", i);
			ASSERT_LT(0, capchan_grant(&ch[i], self->t.jail_fd, R_ALL));
		}
		for (int i = 0; i < N; i++)
			capchan_queue_exit(&ch[(i * 7) % N]);
	}
	settle(&base, &now);
	CHECK_MEM(base, now);
	free(ch);
}

TEST_HARNESS_MAIN
