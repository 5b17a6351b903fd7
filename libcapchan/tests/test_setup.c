// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Channel setup: open, SETUP, mmap and the pointers derived from the
 * offsets the module reports; teardown; error unwinding.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include "fake.h"

static struct fake_ring r;
static struct capchan ch;

static void setup_setup(void)
{
	fake_reset();
	fake_ring_init(&r, 16, 32, 0);
	fake.ring = &r;
	fake.open_ok = 1;
	fake_junk(&ch, sizeof(ch));
}

static void setup_teardown(void)
{
	fake_ring_free(&r);
}

/* A channel with no rings: safe to peek, no SQE to get. */
static void assert_no_ring(void)
{
	struct capchan_cqe *cqe = (void *)&cqe;

	ck_assert_int_eq(ch.fd, -1);
	ck_assert_ptr_null(ch.ring_ptr);
	ck_assert_uint_eq(ch.ring_sz, 0);
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 0);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), -EAGAIN);
	ck_assert_ptr_null(cqe);
}

START_TEST(init_maps_layout)
{
	struct capchan want;
	const struct fake_call *c;

	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), 0);
	ck_assert_uint_eq(fake.nopen, 1);
	ck_assert_int_eq(fake.open_flags, O_RDWR | O_CLOEXEC);
	c = fake_last();
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_SETUP);
	ck_assert_int_eq(c->fd, FAKE_FD);
	ck_assert_uint_eq(c->params.sq_entries, 16);
	ck_assert_uint_eq(c->params.cq_entries, 0);
	ck_assert_uint_eq(c->params.flags, 0);
	ck_assert_uint_eq(c->params.max_inflight | c->params.sq_thread_cpu |
			  c->params.sq_thread_idle, 0);
	ck_assert_uint_eq(fake.nmmap, 1);
	ck_assert_uint_eq(fake.mmap_len, r.size);
	ck_assert_int_eq(fake.mmap_prot, PROT_READ | PROT_WRITE);
	ck_assert_int_eq(fake.mmap_flags & MAP_SHARED, MAP_SHARED);
	ck_assert_int_eq(fake.mmap_off, CAPCHAN_OFF_RINGS);

	ck_assert_int_eq(ch.fd, FAKE_FD);
	ck_assert_uint_eq(ch.features, r.p.features);
	ck_assert_ptr_eq(ch.ring_ptr, r.mem);
	ck_assert_uint_eq(ch.ring_sz, r.size);
	ck_assert_ptr_eq(ch.sq.khead, r.mem + r.p.sq_off.head);
	ck_assert_ptr_eq(ch.sq.ktail, r.mem + r.p.sq_off.tail);
	ck_assert_ptr_eq(ch.sq.kflags, r.mem + r.p.sq_off.flags);
	ck_assert_ptr_eq(ch.sq.kdropped, r.mem + r.p.sq_off.dropped);
	ck_assert_ptr_eq(ch.sq.sqes, r.mem + r.p.sq_off.sqes);
	ck_assert_uint_eq(ch.sq.ring_mask, 15);
	ck_assert_uint_eq(ch.sq.ring_entries, 16);
	ck_assert_uint_eq(ch.sq.sqe_head, 0);
	ck_assert_uint_eq(ch.sq.sqe_tail, 0);
	ck_assert_ptr_eq(ch.cq.khead, r.mem + r.p.cq_off.head);
	ck_assert_ptr_eq(ch.cq.ktail, r.mem + r.p.cq_off.tail);
	ck_assert_ptr_eq(ch.cq.koverflow, r.mem + r.p.cq_off.overflow);
	ck_assert_ptr_eq(ch.cq.cqes, r.mem + r.p.cq_off.cqes);
	ck_assert_uint_eq(ch.cq.ring_mask, 31);
	ck_assert_uint_eq(ch.cq.ring_entries, 32);
	/* Same as the test's own independent construction. */
	fake_ring_attach(&want, &r, FAKE_FD);
	ck_assert_mem_eq(&ch, &want, sizeof(ch));
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 16);

	capchan_queue_exit(&ch);
	ck_assert_uint_eq(fake.nmunmap, 1);
	ck_assert_ptr_eq(fake.munmap_addr, r.mem);
	ck_assert_uint_eq(fake.munmap_len, r.size);
	ck_assert_uint_eq(fake.nclose, 1);
	assert_no_ring();
	/* exit twice is harmless: nothing more is unmapped or closed */
	capchan_queue_exit(&ch);
	ck_assert_uint_eq(fake.nmunmap, 1);
	ck_assert_uint_eq(fake.nclose, 1);
}
END_TEST

/* The library starts at the module's tail, whatever it is. */
START_TEST(init_nonzero_tail)
{
	fake_ring_free(&r);
	fake_ring_init(&r, 4, 8, UINT_MAX - 1);
	ck_assert_int_eq(capchan_queue_init(4, &ch, 0), 0);
	ck_assert_uint_eq(ch.sq.sqe_head, UINT_MAX - 1);
	ck_assert_uint_eq(ch.sq.sqe_tail, UINT_MAX - 1);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 4);
	ck_assert_ptr_eq(capchan_get_sqe(&ch), &ch.sq.sqes[2]);
	capchan_queue_exit(&ch);
}
END_TEST

START_TEST(init_params_inout)
{
	struct capchan_params p;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_CQSIZE;
	p.cq_entries = 32;
	ck_assert_int_eq(capchan_queue_init_params(10, &ch, &p), 0);
	ck_assert_uint_eq(fake_last()->params.sq_entries, 10);
	ck_assert_uint_eq(fake_last()->params.cq_entries, 32);
	ck_assert_uint_eq(fake_last()->params.flags, CAPCHAN_SETUP_CQSIZE);
	/* p comes back as the module filled it */
	ck_assert_uint_eq(p.sq_entries, 16);
	ck_assert_uint_eq(p.cq_entries, 32);
	ck_assert_uint_eq(p.ring_size, r.size);
	ck_assert_uint_eq(p.sq_off.sqes, r.p.sq_off.sqes);
	capchan_queue_exit(&ch);
}
END_TEST

START_TEST(init_no_device)
{
	fake.open_ok = 0;
	fake.open_errno = ENOENT;
	ck_assert_int_eq(capchan_queue_init(8, &ch, 0), -ENOENT);
	ck_assert_uint_eq(fake.nlog, 0);
	assert_no_ring();
	fake.open_errno = EACCES;
	ck_assert_int_eq(capchan_open_channel(&ch), -EACCES);
	assert_no_ring();
	capchan_queue_exit(&ch);
	ck_assert_uint_eq(fake.nclose, 0);
}
END_TEST

START_TEST(init_setup_fails)
{
	fake.setup_errno = EINVAL;
	ck_assert_int_eq(capchan_queue_init(0, &ch, 0), -EINVAL);
	ck_assert_uint_eq(fake.nmmap, 0);
	ck_assert_uint_eq(fake.nclose, 1);
	assert_no_ring();
	fake.setup_errno = EBUSY;
	ck_assert_int_eq(capchan_queue_init(8, &ch, 0), -EBUSY);
	ck_assert_uint_eq(fake.nclose, 2);
}
END_TEST

START_TEST(init_mmap_fails)
{
	fake.mmap_errno = ENOMEM;
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -ENOMEM);
	ck_assert_uint_eq(fake.nmmap, 1);
	ck_assert_uint_eq(fake.nmunmap, 0);
	ck_assert_uint_eq(fake.nclose, 1);
	assert_no_ring();
}
END_TEST

/* A layout that does not fit the region is refused before mapping. */
START_TEST(init_bad_layout)
{
	r.p.cq_off.cqes = r.p.ring_size - 8;
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -EPROTO);
	ck_assert_uint_eq(fake.nmmap, 0);
	ck_assert_uint_eq(fake.nclose, 1);
	assert_no_ring();
	fake_ring_free(&r);
	fake_ring_init(&r, 16, 32, 0);
	r.p.sq_off.tail = 2;		/* misaligned */
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -EPROTO);
	fake_ring_free(&r);
	fake_ring_init(&r, 16, 32, 0);
	r.p.sq_entries = 12;		/* not a power of two */
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -EPROTO);
	ck_assert_uint_eq(fake.nmmap, 0);
	ck_assert_uint_eq(fake.nclose, 3);
}
END_TEST

/* Sizes in the mapping must match SETUP's: else unmap, close, -EPROTO. */
START_TEST(init_ring_mismatch)
{
	*(unsigned *)(r.mem + r.p.cq_off.ring_entries) = 16;
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -EPROTO);
	ck_assert_uint_eq(fake.nmmap, 1);
	ck_assert_uint_eq(fake.nmunmap, 1);
	ck_assert_uint_eq(fake.nclose, 1);
	assert_no_ring();
	*(unsigned *)(r.mem + r.p.cq_off.ring_entries) = 32;
	*(unsigned *)(r.mem + r.p.sq_off.ring_mask) = 7;
	ck_assert_int_eq(capchan_queue_init(16, &ch, 0), -EPROTO);
	ck_assert_uint_eq(fake.nmunmap, 2);
}
END_TEST

START_TEST(open_channel_no_rings)
{
	struct capchan_cqe *cqe;

	ck_assert_int_eq(capchan_open_channel(&ch), 0);
	ck_assert_int_eq(ch.fd, FAKE_FD);
	ck_assert_uint_eq(fake.nlog, 0);
	ck_assert_uint_eq(fake.nmmap, 0);
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), -EAGAIN);
	ck_assert_int_eq(capchan_submit(&ch), 0);
	/* The module refuses ENTER before SETUP. */
	fake.ring = NULL;
	ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), -EBADFD);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 1), -EBADFD);
	fake.ring = &r;
	capchan_queue_exit(&ch);
	ck_assert_uint_eq(fake.nmunmap, 0);
	ck_assert_uint_eq(fake.nclose, 1);
	ck_assert_int_eq(ch.fd, -1);
}
END_TEST

START_TEST(version)
{
	struct capchan_version v;
	const struct fake_call *c;

	ck_assert_int_eq(capchan_open_channel(&ch), 0);
	fake_junk(&v, sizeof(v));
	ck_assert_int_eq(capchan_get_version(&ch, &v), 0);
	c = fake_last();
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_VERSION);
	/* Everything, resv included, was zero going in. */
	ck_assert_uint_eq(c->version.abi_version | c->version.features, 0);
	ck_assert_uint_eq(c->version.resv[0] | c->version.resv[1] |
			  c->version.resv[2] | c->version.resv[3], 0);
	ck_assert_uint_eq(v.abi_version, CAPCHAN_ABI_VERSION);
	ck_assert_uint_eq(v.max_sq_entries, CAPCHAN_MAX_SQ_ENTRIES);
	ck_assert_uint_eq(v.rights, CAPCHAN_RIGHTS_ALL);
	capchan_queue_exit(&ch);
}
END_TEST

Suite *setup_suite(void)
{
	Suite *s = suite_create("setup");
	TCase *tc = tcase_create("setup");

	tcase_add_checked_fixture(tc, setup_setup, setup_teardown);
	tcase_add_test(tc, init_maps_layout);
	tcase_add_test(tc, init_nonzero_tail);
	tcase_add_test(tc, init_params_inout);
	tcase_add_test(tc, init_no_device);
	tcase_add_test(tc, init_setup_fails);
	tcase_add_test(tc, init_mmap_fails);
	tcase_add_test(tc, init_bad_layout);
	tcase_add_test(tc, init_ring_mismatch);
	tcase_add_test(tc, open_channel_no_rings);
	tcase_add_test(tc, version);
	suite_add_tcase(s, tc);
	return s;
}
