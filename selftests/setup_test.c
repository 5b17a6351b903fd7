// SPDX-License-Identifier: GPL-2.0
/*
 * CAPCHAN_IOC_SETUP and the ring mapping.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

static int setup(int fd, struct capchan_params *p)
{
	return cc_ioctl(fd, CAPCHAN_IOC_SETUP, p);
}

static int setup_n(int fd, unsigned int sq, struct capchan_params *p)
{
	memset(p, 0, sizeof(*p));
	p->sq_entries = sq;
	return setup(fd, p);
}

static int setup_cq(int fd, unsigned int sq, unsigned int cq,
		    struct capchan_params *p)
{
	memset(p, 0, sizeof(*p));
	p->sq_entries = sq;
	p->cq_entries = cq;
	p->flags = CAPCHAN_SETUP_CQSIZE;
	return setup(fd, p);
}

static unsigned int u32_at(const void *ring, uint32_t off)
{
	return *(const volatile unsigned int *)((const char *)ring + off);
}

struct region {
	uint64_t start, len;
	const char *name;
};

/* ------------------------------------------------------------------ */
/* Ring sizes                                                          */
/* ------------------------------------------------------------------ */

FIXTURE(rings) {
	int fd;
	struct capchan_params p;
	void *ring;
};

FIXTURE_VARIANT(rings) {
	unsigned int sq;
};

FIXTURE_VARIANT_ADD(rings, sq1) { .sq = 1 };
FIXTURE_VARIANT_ADD(rings, sq8) { .sq = 8 };
FIXTURE_VARIANT_ADD(rings, sq256) { .sq = 256 };
FIXTURE_VARIANT_ADD(rings, sq4096) { .sq = 4096 };

FIXTURE_SETUP(rings)
{
	self->ring = MAP_FAILED;
	self->fd = cc_open_dev();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, setup_n(self->fd, variant->sq, &self->p));
	self->ring = mmap(NULL, self->p.ring_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED, self->fd, CAPCHAN_OFF_RINGS);
	ASSERT_NE(MAP_FAILED, self->ring);
}

FIXTURE_TEARDOWN(rings)
{
	if (self->ring != MAP_FAILED)
		munmap(self->ring, self->p.ring_size);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(rings, params_out)
{
	const struct capchan_params *p = &self->p;
	struct capchan_version v;

	EXPECT_EQ(variant->sq, p->sq_entries);
	EXPECT_EQ(2 * variant->sq, p->cq_entries);
	EXPECT_EQ(0, p->flags);
	ASSERT_EQ(0, cc_version(self->fd, &v));
	EXPECT_EQ(v.features, p->features);
	EXPECT_EQ(0, p->ring_size % sysconf(_SC_PAGESIZE));
	/* the in-flight bound in force: sq_entries unless asked */
	EXPECT_EQ(variant->sq, p->max_inflight);
	EXPECT_EQ(0, p->sq_thread_cpu);
	EXPECT_EQ(0, p->sq_thread_idle);
	EXPECT_EQ(0, p->sq_off.resv);
	EXPECT_EQ(0, p->cq_off.resv[0]);
	EXPECT_EQ(0, p->cq_off.resv[1]);
}

TEST_F(rings, ring_contents)
{
	const struct capchan_params *p = &self->p;

	EXPECT_EQ(variant->sq, u32_at(self->ring, p->sq_off.ring_entries));
	EXPECT_EQ(variant->sq - 1, u32_at(self->ring, p->sq_off.ring_mask));
	EXPECT_EQ(2 * variant->sq, u32_at(self->ring, p->cq_off.ring_entries));
	EXPECT_EQ(2 * variant->sq - 1, u32_at(self->ring, p->cq_off.ring_mask));
	EXPECT_EQ(0, u32_at(self->ring, p->sq_off.head));
	EXPECT_EQ(0, u32_at(self->ring, p->sq_off.tail));
	EXPECT_EQ(0, u32_at(self->ring, p->cq_off.head));
	EXPECT_EQ(0, u32_at(self->ring, p->cq_off.tail));
	EXPECT_EQ(0, u32_at(self->ring, p->sq_off.flags));
	EXPECT_EQ(0, u32_at(self->ring, p->sq_off.dropped));
	EXPECT_EQ(0, u32_at(self->ring, p->cq_off.overflow));
}

TEST_F(rings, layout)
{
	const struct capchan_params *p = &self->p;
	const uint64_t sqes = (uint64_t)p->sq_entries * sizeof(struct capchan_sqe);
	const uint64_t cqes = (uint64_t)p->cq_entries * sizeof(struct capchan_cqe);
	const struct region r[] = {
		{ p->sq_off.head, 4, "sq head" },
		{ p->sq_off.tail, 4, "sq tail" },
		{ p->sq_off.ring_mask, 4, "sq mask" },
		{ p->sq_off.ring_entries, 4, "sq entries" },
		{ p->sq_off.flags, 4, "sq flags" },
		{ p->sq_off.dropped, 4, "sq dropped" },
		{ p->sq_off.sqes, sqes, "sqes" },
		{ p->cq_off.head, 4, "cq head" },
		{ p->cq_off.tail, 4, "cq tail" },
		{ p->cq_off.ring_mask, 4, "cq mask" },
		{ p->cq_off.ring_entries, 4, "cq entries" },
		{ p->cq_off.overflow, 4, "cq overflow" },
		{ p->cq_off.cqes, cqes, "cqes" },
	};
	const uint32_t lines[] = {
		p->sq_off.head / 64, p->sq_off.tail / 64,
		p->cq_off.head / 64, p->cq_off.tail / 64,
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(r); i++) {
		EXPECT_GE(p->ring_size, r[i].start + r[i].len)
			TH_LOG("%s beyond ring_size", r[i].name);
		EXPECT_EQ(0, r[i].start % 4) TH_LOG("%s misaligned", r[i].name);
		for (size_t j = i + 1; j < CC_ARRAY_SIZE(r); j++) {
			EXPECT_TRUE(r[i].start + r[i].len <= r[j].start ||
				    r[j].start + r[j].len <= r[i].start)
				TH_LOG("%s overlaps %s", r[i].name, r[j].name);
		}
	}
	EXPECT_EQ(0, p->sq_off.sqes % 8);
	EXPECT_EQ(0, p->cq_off.cqes % 8);
	/* Each head and tail on its own 64-byte cache line. */
	for (size_t i = 0; i < CC_ARRAY_SIZE(lines); i++) {
		for (size_t j = i + 1; j < CC_ARRAY_SIZE(lines); j++) {
			EXPECT_NE(lines[i], lines[j])
				TH_LOG("counters %zu and %zu share a line", i, j);
		}
	}
	/* The whole ring fits the mapping: touch the last byte. */
	((volatile char *)self->ring)[p->ring_size - 1] = 0;
}

/* Fill the SQ completely with NOPs, one ENTER, every CQE exact. */
TEST_F(rings, full_sq_round_trip)
{
	struct capchan ch;
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	unsigned int n = 0, i;

	ASSERT_EQ(0, capchan_queue_init(variant->sq, &ch, 0));
	while ((sqe = capchan_get_sqe(&ch))) {
		capchan_prep_nop(sqe);
		capchan_sqe_set_data64(sqe, 0x1000 + n);
		n++;
	}
	ASSERT_EQ(variant->sq, n);
	ASSERT_EQ(n, capchan_submit(&ch));
	ASSERT_EQ(n, capchan_cq_ready(&ch));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, capchan_peek_cqe(&ch, &cqe));
		EXPECT_EQ(0, cqe->res);
		EXPECT_EQ(0, cqe->flags);
		ASSERT_EQ(0x1000 + i, cqe->user_data);	/* in order */
		capchan_cqe_seen(&ch, cqe);
	}
	EXPECT_EQ(-EAGAIN, capchan_peek_cqe(&ch, &cqe));
	capchan_queue_exit(&ch);
}

/* ------------------------------------------------------------------ */
/* Sizes and rounding                                                  */
/* ------------------------------------------------------------------ */

FIXTURE(setup) {
	int fd;
};

FIXTURE_SETUP(setup)
{
	self->fd = cc_open_dev();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(setup)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(setup, rounding)
{
	const struct { unsigned int in, out; } c[] = {
		{ 1, 1 }, { 2, 2 }, { 3, 4 }, { 5, 8 }, { 7, 8 }, { 9, 16 },
		{ 100, 128 }, { 2049, 4096 }, { 4095, 4096 }, { 4096, 4096 },
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(c); i++) {
		struct capchan_params p;
		int fd = cc_open_dev();

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, setup_n(fd, c[i].in, &p)) TH_LOG("sq %u", c[i].in);
		EXPECT_EQ(c[i].out, p.sq_entries) TH_LOG("sq %u", c[i].in);
		EXPECT_EQ(2 * c[i].out, p.cq_entries) TH_LOG("sq %u", c[i].in);
		close(fd);
	}
}

TEST_F(setup, cqsize)
{
	const struct { unsigned int sq, cq, sq_out, cq_out; int err; } c[] = {
		{ 8, 8, 8, 8, 0 },
		{ 8, 9, 8, 16, 0 },
		{ 8, 20, 8, 32, 0 },
		{ 5, 5, 8, 8, 0 },	/* cq 5 >= sq 5, both rounded to 8 */
		{ 5, 6, 8, 8, 0 },
		{ 1, 8192, 1, 8192, 0 },
		{ 4096, 4096, 4096, 4096, 0 },
		{ 4096, 8192, 4096, 8192, 0 },
		{ 8, 7, 8, 8, 0 },	/* compared after rounding, like io_uring */
		{ 8, 4, 0, 0, -EINVAL },	/* cq < sq */
		{ 5, 3, 0, 0, -EINVAL },	/* 4 < 8 once rounded */
		{ 8, 0, 0, 0, -EINVAL },
		{ 1, 8193, 0, 0, -EINVAL },	/* > CAPCHAN_MAX_CQ_ENTRIES */
		{ 1, 0xffffffffu, 0, 0, -EINVAL },
		{ 1, 0x80000001u, 0, 0, -EINVAL },
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(c); i++) {
		struct capchan_params p;
		int fd = cc_open_dev();

		ASSERT_LE(0, fd);
		EXPECT_EQ(c[i].err, setup_cq(fd, c[i].sq, c[i].cq, &p))
			TH_LOG("sq %u cq %u", c[i].sq, c[i].cq);
		if (!c[i].err) {
			EXPECT_EQ(c[i].sq_out, p.sq_entries);
			EXPECT_EQ(c[i].cq_out, p.cq_entries);
			EXPECT_EQ(CAPCHAN_SETUP_CQSIZE, p.flags);
		}
		close(fd);
	}
}

TEST_F(setup, bad_sizes)
{
	const unsigned int bad[] = {
		0, CAPCHAN_MAX_SQ_ENTRIES + 1, 8192, 0x10000, 0x80000000u,
		0xffffffffu,
	};
	struct capchan_params p;

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		errno = 0;
		memset(&p, 0, sizeof(p));
		p.sq_entries = bad[i];
		EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
		EXPECT_EQ(EINVAL, errno) TH_LOG("sq %u", bad[i]);
	}
	/* Failed setups leave the channel unset: a good one still works. */
	EXPECT_EQ(0, setup_n(self->fd, 8, &p));
	EXPECT_EQ(8, p.sq_entries);
}

TEST_F(setup, second_setup_ebusy)
{
	struct capchan_params p;

	ASSERT_EQ(0, setup_n(self->fd, 8, &p));
	errno = 0;
	memset(&p, 0, sizeof(p));
	p.sq_entries = 8;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-EBUSY, setup_n(self->fd, 16, &p));
	EXPECT_EQ(-EBUSY, setup_cq(self->fd, 16, 64, &p));
}

TEST_F(setup, reserved_and_flags)
{
	struct capchan_params p;

	/*
	 * max_inflight without CAPCHAN_SETUP_INFLIGHT, and the poll thread's
	 * fields without CAPCHAN_SETUP_SQPOLL
	 */
	for (int i = 0; i < 3; i++) {
		memset(&p, 0, sizeof(p));
		p.sq_entries = 8;
		if (i == 0)
			p.max_inflight = 1;
		else if (i == 1)
			p.sq_thread_cpu = 1;
		else
			p.sq_thread_idle = 1;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
		EXPECT_EQ(EINVAL, errno) TH_LOG("field %d", i);
	}
	for (int bit = 1; bit < 32; bit++) {
		memset(&p, 0, sizeof(p));
		p.sq_entries = 8;
		p.cq_entries = 16;
		p.flags = 1U << bit;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
	}
	/* Still settable afterwards. */
	EXPECT_EQ(0, setup_n(self->fd, 8, &p));
}

TEST_F(setup, inflight_bound)
{
	struct capchan_params p;
	static const struct {
		__u32 max;
		int err;
	} cases[] = {
		{ 0, EINVAL },
		{ CAPCHAN_MAX_INFLIGHT + 1, EINVAL },
		{ 0xffffffffU, EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.sq_entries = 8;
		p.flags = CAPCHAN_SETUP_INFLIGHT;
		p.max_inflight = cases[i].max;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
		EXPECT_EQ(cases[i].err, errno) TH_LOG("max_inflight %u", cases[i].max);
	}
	/* the largest bound, far above the rings' size, is taken as given */
	memset(&p, 0, sizeof(p));
	p.sq_entries = 8;
	p.flags = CAPCHAN_SETUP_INFLIGHT;
	p.max_inflight = CAPCHAN_MAX_INFLIGHT;
	ASSERT_EQ(0, ioctl(self->fd, CAPCHAN_IOC_SETUP, &p));
	EXPECT_EQ(CAPCHAN_MAX_INFLIGHT, p.max_inflight);
	EXPECT_EQ(CAPCHAN_SETUP_INFLIGHT, p.flags);
	EXPECT_NE(0, p.features & CAPCHAN_FEAT_WORKERS);
}

TEST_F(setup, bad_pointer)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_SETUP, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(setup, mmap_before_setup)
{
	void *p;

	errno = 0;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBADFD, errno);
	if (p != MAP_FAILED)
		munmap(p, 4096);
}

TEST_F(setup, enter_before_setup)
{
	struct capchan_enter e;

	memset(&e, 0, sizeof(e));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_ENTER, &e));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-EBADFD, cc_enter(self->fd, 1, 0, 0));
	EXPECT_EQ(-EBADFD, cc_enter(self->fd, 0, 1, CAPCHAN_ENTER_GETEVENTS));
}

TEST_F(setup, mmap_bad_offset_and_size)
{
	struct capchan_params p;
	long pg = sysconf(_SC_PAGESIZE);
	void *m;

	ASSERT_EQ(0, setup_n(self->fd, 8, &p));
	errno = 0;
	m = mmap(NULL, p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, pg);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0x10000000);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	m = mmap(NULL, p.ring_size + pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	m = mmap(NULL, (size_t)p.ring_size * 64, PROT_READ | PROT_WRITE,
		 MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);

	/* A mapping of exactly ring_size works, and one of a first page. */
	m = mmap(NULL, p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(8, u32_at(m, p.sq_off.ring_entries));
	munmap(m, p.ring_size);
	m = mmap(NULL, pg, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	munmap(m, pg);
}

/* Two mappings of the same rings see the same memory. */
TEST_F(setup, two_mappings_shared)
{
	struct capchan_params p;
	unsigned int *a, *b;
	char *m1, *m2;

	ASSERT_EQ(0, setup_n(self->fd, 8, &p));
	m1 = mmap(NULL, p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		  self->fd, 0);
	ASSERT_NE(MAP_FAILED, m1);
	m2 = mmap(NULL, p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		  self->fd, 0);
	ASSERT_NE(MAP_FAILED, m2);
	a = (unsigned int *)(m1 + p.sq_off.tail);
	b = (unsigned int *)(m2 + p.sq_off.tail);
	*a = 0;
	EXPECT_EQ(0, *b);
	/* Queue one NOP through the first mapping, ENTER consumes it. */
	memset(m1 + p.sq_off.sqes, 0, sizeof(struct capchan_sqe));
	__atomic_store_n(a, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(1, *b);
	EXPECT_EQ(1, cc_enter(self->fd, 1, 0, 0));
	EXPECT_EQ(1, u32_at(m2, p.sq_off.head));
	EXPECT_EQ(1, u32_at(m2, p.cq_off.tail));
	munmap(m1, p.ring_size);
	munmap(m2, p.ring_size);
}

/* munmap then close, close then munmap: both are safe. */
TEST_F(setup, munmap_then_close)
{
	struct capchan ch;
	struct capchan_sqe s;

	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	ASSERT_EQ(0, munmap(ch.ring_ptr, ch.ring_sz));
	/* The channel works without its mapping (INVOKE). */
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	EXPECT_EQ(0, cc_invoke(ch.fd, &s));
	/* ENTER with nothing queued and the SQ untouched. */
	EXPECT_EQ(0, cc_enter(ch.fd, 0, 0, 0));
	EXPECT_EQ(0, close(ch.fd));
}

TEST_F(setup, close_then_munmap)
{
	struct capchan ch;
	struct capchan_sqe s;
	int fd;

	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	/* Queue something, then close the channel under the mapping. */
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	s.user_data = 77;
	cc_sq_push(&ch, &s);
	ASSERT_EQ(1, cc_enter(ch.fd, 1, 0, 0));
	fd = ch.fd;
	ASSERT_EQ(0, close(fd));
	/* The memory stays valid and keeps its content until munmap. */
	EXPECT_EQ(1, *ch.cq.ktail);
	EXPECT_EQ(77, ch.cq.cqes[0].user_data);
	*ch.sq.ktail = 12345;		/* nobody listens any more */
	((volatile char *)ch.ring_ptr)[ch.ring_sz - 1] = 1;
	EXPECT_EQ(0, munmap(ch.ring_ptr, ch.ring_sz));
}

/* A mapping inherited across fork, closed in both processes. */
TEST_F(setup, mapping_survives_fork)
{
	struct capchan ch;
	pid_t pid;

	ASSERT_EQ(0, capchan_queue_init(4, &ch, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(ch.fd);
		*ch.sq.ktail = 0;
		_exit(*ch.cq.ktail == 0 ? 0 : 1);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	capchan_queue_exit(&ch);
}

/* Many channels with rings at once, then closed in reverse order. */
TEST_F(setup, many_channels)
{
	struct capchan ch[64];

	for (int i = 0; i < 64; i++)
		ASSERT_EQ(0, capchan_queue_init(1u << (i % 8), &ch[i], 0));
	for (int i = 63; i >= 0; i--)
		capchan_queue_exit(&ch[i]);
}

TEST_HARNESS_MAIN
