// SPDX-License-Identifier: GPL-2.0
/*
 * Small I/O-side fixes: the ring mapping is never executable, READ at the
 * file position is atomic against read(2) on the same open file, and STAT
 * times are signed.
 */
#include <sys/statvfs.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/*
 * The rings are data: mmap with PROT_EXEC is -EPERM, and a mapping cannot
 * be made executable afterwards (mprotect: -EACCES).
 */
TEST(rings_never_executable)
{
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	struct statvfs sv;
	struct capchan ch;
	void *p;

	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	/* on a noexec mount the kernel would refuse before the module is asked */
	ASSERT_EQ(0, fstatvfs(ch.fd, &sv));
	if (sv.f_flag & ST_NOEXEC)
		SKIP(return, "/dev/capchan is on a noexec mount");

	p = mmap(NULL, ch.ring_sz, PROT_READ | PROT_EXEC, MAP_SHARED, ch.fd,
		 CAPCHAN_OFF_RINGS);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	if (p != MAP_FAILED)
		munmap(p, ch.ring_sz);
	p = mmap(NULL, ch.ring_sz, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_SHARED, ch.fd, CAPCHAN_OFF_RINGS);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	if (p != MAP_FAILED)
		munmap(p, ch.ring_sz);

	/* the library's mapping, and a fresh read-only one */
	EXPECT_EQ(-1, mprotect(ch.ring_ptr, ch.ring_sz,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	p = mmap(NULL, ch.ring_sz, PROT_READ, MAP_SHARED, ch.fd,
		 CAPCHAN_OFF_RINGS);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, ch.ring_sz, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(p, ch.ring_sz);

	/* and the rings still work */
	sqe = capchan_get_sqe(&ch);
	ASSERT_NE(NULL, sqe);
	capchan_prep_nop(sqe);
	capchan_sqe_set_data64(sqe, 42);
	ASSERT_EQ(1, capchan_submit_and_wait(&ch, 1));
	ASSERT_EQ(0, capchan_peek_cqe(&ch, &cqe));
	EXPECT_EQ(42, cqe->user_data);
	EXPECT_EQ(0, cqe->res);
	capchan_cqe_seen(&ch, cqe);
	capchan_queue_exit(&ch);
}

/* ------------------------------------------------------------------ */
/* READ at the file position vs read(2)                                */
/* ------------------------------------------------------------------ */

#define NCOUNTERS	40000

struct pos_reader {
	struct capchan *ch;		/* NULL: read(2) on fd */
	uint32_t h;
	int fd;
	pthread_barrier_t *go;
	uint8_t *seen;			/* per counter, how often this side read it */
	unsigned long reads, bad;
	long last;			/* the read that ended the loop */
};

static void *pos_loop(void *arg)
{
	struct pos_reader *r = arg;
	uint32_t v;
	ssize_t n;

	pthread_barrier_wait(r->go);
	for (;;) {
		if (r->ch)
			n = capchan_read(r->ch, r->h, &v, sizeof(v),
					 CAPCHAN_OFF_CURRENT);
		else if ((n = read(r->fd, &v, sizeof(v))) < 0)
			n = -errno;
		if (n != sizeof(v))
			break;
		if (v < NCOUNTERS && r->seen[v] < 255)
			r->seen[v]++;
		else
			r->bad++;
		r->reads++;
	}
	r->last = n;
	return NULL;
}

/*
 * A file of NCOUNTERS uint32 counters 0, 1, 2...; READ with
 * CAPCHAN_OFF_CURRENT on its granted FILE capability and read(2) on the
 * granted fd, 4 bytes at a time from two threads, share one file position:
 * every counter is read exactly once overall.  (READ took the position
 * without the file's f_pos_lock: counters read twice or skipped.)
 */
TEST(off_current_is_atomic_with_read)
{
	uint32_t *data = malloc(NCOUNTERS * sizeof(uint32_t));
	struct pos_reader r[2];
	pthread_barrier_t go;
	unsigned long dup = 0, lost = 0;
	struct cc_tree t;
	struct capchan ch;
	pthread_t th[2];
	int fd, h, first = -1;

	ASSERT_NE(NULL, data);
	for (uint32_t i = 0; i < NCOUNTERS; i++)
		data[i] = i;
	ASSERT_EQ(0, cc_tree_create(&t, "fpos"));
	ASSERT_EQ(0, cc_put_file(t.jail_fd, "counters", data,
				 NCOUNTERS * sizeof(uint32_t), 0644));
	fd = openat(t.jail_fd, "counters", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, capchan_open_channel(&ch));
	h = capchan_grant(&ch, fd, R_READ);
	ASSERT_LT(0, h);

	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, 2));
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].ch = i ? &ch : NULL;
		r[i].h = h;
		r[i].fd = fd;
		r[i].go = &go;
		r[i].seen = calloc(NCOUNTERS, 1);
		ASSERT_NE(NULL, r[i].seen);
		ASSERT_EQ(0, pthread_create(&th[i], NULL, pos_loop, &r[i]));
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (uint32_t i = 0; i < NCOUNTERS; i++) {
		int n = r[0].seen[i] + r[1].seen[i];

		if (n != 1 && first < 0)
			first = (int)i;
		dup += n > 1;
		lost += n == 0;
	}
	TH_LOG("read(2) %lu, READ %lu; %lu counters read twice, %lu never, first %d",
	       r[0].reads, r[1].reads, dup, lost, first);
	EXPECT_EQ(0, r[0].bad);
	EXPECT_EQ(0, r[1].bad);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(NCOUNTERS, r[0].reads + r[1].reads);
	/* both sides took part, and both stopped at end of file */
	EXPECT_LT(0, r[0].reads);
	EXPECT_LT(0, r[1].reads);
	EXPECT_EQ(0, r[0].last);
	EXPECT_EQ(0, r[1].last);
	pthread_barrier_destroy(&go);
	free(r[0].seen);
	free(r[1].seen);
	capchan_queue_exit(&ch);
	close(fd);
	cc_tree_destroy(&t);
	free(data);
}

/* ------------------------------------------------------------------ */
/* STAT times                                                          */
/* ------------------------------------------------------------------ */

/*
 * Times are signed nanoseconds since the epoch: before 1970 they are
 * negative, and before 1677 (below what 64 bits of nanoseconds hold) they
 * saturate at INT64_MIN rather than wrap around to a time after 1970.
 */
TEST(stat_times_before_1970_are_negative)
{
	static const struct {
		time_t sec;
		long nsec;
		int64_t want;
	} cases[] = {
		{ -1000000000, 0, -1000000000LL * 1000000000LL },
		{ -1000000000, 250, -1000000000LL * 1000000000LL + 250 },
		{ -1, 999999999, -1 },
		{ -10000000000LL, 0, INT64_MIN },	/* year 1653 */
	};
	struct capchan_stat st;
	struct cc_tree t;
	struct capchan ch;
	struct stat ks;
	int fd, h;

	ASSERT_EQ(0, cc_tree_create(&t, "stattime"));
	ASSERT_EQ(0, capchan_open_channel(&ch));
	fd = openat(t.jail_fd, "hello", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = capchan_grant(&ch, fd, R_STAT);
	ASSERT_LT(0, h);
	for (size_t i = 0; i < CC_ARRAY_SIZE(cases); i++) {
		struct timespec ts[2] = {
			{ cases[i].sec, cases[i].nsec },
			{ cases[i].sec, cases[i].nsec },
		};

		ASSERT_EQ(0, futimens(fd, ts));
		/* the file system keeps it, so only STAT can get it wrong */
		ASSERT_EQ(0, fstat(fd, &ks));
		ASSERT_EQ(cases[i].sec, ks.st_mtim.tv_sec);
		ASSERT_EQ(cases[i].nsec, ks.st_mtim.tv_nsec);
		ASSERT_EQ(0, capchan_stat(&ch, h, &st));
		EXPECT_EQ(cases[i].want, st.mtime_ns) TH_LOG("%lld s %ld ns",
			(long long)cases[i].sec, cases[i].nsec);
		EXPECT_EQ(cases[i].want, st.atime_ns) TH_LOG("%lld s %ld ns",
			(long long)cases[i].sec, cases[i].nsec);
		EXPECT_LT(0, st.ctime_ns);	/* now */
	}
	capchan_queue_exit(&ch);
	close(fd);
	cc_tree_destroy(&t);
}

TEST_HARNESS_MAIN
