// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Ring bookkeeping (static inline hot paths) against a fake ring region.
 */
#include <limits.h>

#include "fake.h"

static struct fake_ring r;
static struct capchan ch;

static void ring_teardown(void)
{
	fake_ring_free(&r);
}

/* get_sqe hands out consecutive slots until the SQ is full, then NULL. */
START_TEST(get_sqe_until_full)
{
	unsigned i;

	fake_reset();
	fake_ring_init(&r, 8, 16, 0);
	fake_ring_attach(&ch, &r, FAKE_FD);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 8);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	for (i = 0; i < 8; i++) {
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		ck_assert_ptr_eq(sqe, &ch.sq.sqes[i]);
		ck_assert_uint_eq(ch.sq.sqe_tail, i + 1);
		ck_assert_uint_eq(capchan_sq_ready(&ch), i + 1);
		ck_assert_uint_eq(capchan_sq_space_left(&ch), 8 - i - 1);
	}
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_uint_eq(ch.sq.sqe_tail, 8);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 0);
	/* Handing out SQEs publishes nothing. */
	ck_assert_uint_eq(*fake_sq_tail(&r), 0);
	ck_assert_uint_eq(ch.sq.sqe_head, 0);
}
END_TEST

/* Slots come back only when the module's SQ head moves. */
START_TEST(get_sqe_after_consume)
{
	unsigned i;

	fake_reset();
	fake_ring_init(&r, 4, 8, 0);
	fake_ring_attach(&ch, &r, FAKE_FD);
	for (i = 0; i < 4; i++)
		capchan_prep_nop(capchan_get_sqe(&ch));
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	/* Published but not consumed: still full. */
	ch.sq.sqe_head = 4;
	*fake_sq_tail(&r) = 4;
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_uint_eq(fake_module_consume(&r, 3), 3);
	ck_assert_uint_eq(*fake_sq_head(&r), 3);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 1);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 3);
	/* Index wraps to slot 0, 1, 2 of the array. */
	ck_assert_ptr_eq(capchan_get_sqe(&ch), &ch.sq.sqes[0]);
	ck_assert_ptr_eq(capchan_get_sqe(&ch), &ch.sq.sqes[1]);
	ck_assert_ptr_eq(capchan_get_sqe(&ch), &ch.sq.sqes[2]);
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ck_assert_uint_eq(capchan_sq_ready(&ch), 4);
}
END_TEST

/* u32 counters wrap: SQ bookkeeping across UINT_MAX. */
START_TEST(sq_counter_wrap)
{
	unsigned start = UINT_MAX - 2, i;
	struct capchan_sqe *sqe;

	fake_reset();
	fake_ring_init(&r, 4, 8, start);
	fake_ring_attach(&ch, &r, FAKE_FD);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 4);
	for (i = 0; i < 4; i++) {
		sqe = capchan_get_sqe(&ch);
		ck_assert_ptr_eq(sqe, &ch.sq.sqes[(start + i) & 3]);
	}
	ck_assert_uint_eq(ch.sq.sqe_tail, 1);	/* wrapped past 0 */
	ck_assert_uint_eq(capchan_sq_ready(&ch), 4);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 0);
	ck_assert_ptr_null(capchan_get_sqe(&ch));
	ch.sq.sqe_head = ch.sq.sqe_tail;
	*fake_sq_tail(&r) = ch.sq.sqe_tail;
	ck_assert_uint_eq(fake_module_consume(&r, 4), 4);
	ck_assert_uint_eq(*fake_sq_head(&r), 1);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	ck_assert_uint_eq(capchan_sq_space_left(&ch), 4);
	sqe = capchan_get_sqe(&ch);
	ck_assert_ptr_eq(sqe, &ch.sq.sqes[1]);
}
END_TEST

/* Post n CQEs with user_data base..base+n-1 and res -(i+1). */
static int cqe_counter;
static int res_seq(const struct capchan_sqe *sqe)
{
	(void)sqe;
	return -(++cqe_counter);
}

static void post_cqes(unsigned n, uint64_t base)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		ck_assert_ptr_nonnull(sqe);
		capchan_prep_nop(sqe);
		capchan_sqe_set_data64(sqe, base + i);
	}
	ch.sq.sqe_head = ch.sq.sqe_tail;
	*fake_sq_tail(&r) = ch.sq.sqe_tail;
	ck_assert_uint_eq(fake_module_consume(&r, n), n);
}

START_TEST(peek_empty_eagain)
{
	struct capchan_cqe *cqe = (void *)&cqe;

	fake_reset();
	fake_ring_init(&r, 4, 8, 0);
	fake_ring_attach(&ch, &r, FAKE_FD);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), -EAGAIN);
	ck_assert_ptr_null(cqe);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
	/* Nothing seen: no change. */
	capchan_cqe_seen(&ch, NULL);
	capchan_cq_advance(&ch, 0);
	ck_assert_uint_eq(*fake_cq_head(&r), 0);
}
END_TEST

START_TEST(peek_seen_in_order)
{
	struct capchan_cqe *cqe;
	unsigned i;

	fake_reset();
	cqe_counter = 0;
	fake_ring_init(&r, 4, 8, 0);
	r.op = res_seq;
	fake_ring_attach(&ch, &r, FAKE_FD);
	post_cqes(3, 100);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
		ck_assert_ptr_eq(cqe, &ch.cq.cqes[i]);
		ck_assert_uint_eq(cqe->user_data, 100 + i);
		ck_assert_int_eq(cqe->res, -(int)(i + 1));
		ck_assert_uint_eq(cqe->flags, 0);
		/* Peeking twice gives the same CQE. */
		ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
		ck_assert_ptr_eq(cqe, &ch.cq.cqes[i]);
		capchan_cqe_seen(&ch, cqe);
		ck_assert_uint_eq(*fake_cq_head(&r), i + 1);
		ck_assert_uint_eq(capchan_cq_ready(&ch), 3 - i - 1);
	}
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), -EAGAIN);
	ck_assert_ptr_null(cqe);
}
END_TEST

START_TEST(cq_advance_batch)
{
	struct capchan_cqe *cqe;

	fake_reset();
	fake_ring_init(&r, 4, 4, 0);
	fake_ring_attach(&ch, &r, FAKE_FD);
	post_cqes(4, 7);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 4);
	/* CQ full: the module cannot post a fifth. */
	capchan_prep_nop(capchan_get_sqe(&ch));
	ch.sq.sqe_head = ch.sq.sqe_tail;
	*fake_sq_tail(&r) = ch.sq.sqe_tail;
	ck_assert_uint_eq(fake_module_consume(&r, 1), 0);
	capchan_cq_advance(&ch, 3);
	ck_assert_uint_eq(*fake_cq_head(&r), 3);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 1);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
	ck_assert_uint_eq(cqe->user_data, 10);
	/* Room again: the fifth is posted at slot 0. */
	ck_assert_uint_eq(fake_module_consume(&r, 1), 1);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 2);
	capchan_cq_advance(&ch, 1);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
	ck_assert_ptr_eq(cqe, &ch.cq.cqes[0]);
	ck_assert_uint_eq(cqe->user_data, 0);	/* set_data64 never called */
}
END_TEST

/* u32 counters wrap: CQ bookkeeping across UINT_MAX. */
START_TEST(cq_counter_wrap)
{
	unsigned start = UINT_MAX - 1, i;
	struct capchan_cqe *cqe;

	fake_reset();
	fake_ring_init(&r, 8, 8, start);
	fake_ring_attach(&ch, &r, FAKE_FD);
	post_cqes(5, 1000);
	ck_assert_uint_eq(*fake_cq_tail(&r), 3);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 5);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
		ck_assert_ptr_eq(cqe, &ch.cq.cqes[(start + i) & 7]);
		ck_assert_uint_eq(cqe->user_data, 1000 + i);
		capchan_cqe_seen(&ch, cqe);
	}
	ck_assert_uint_eq(*fake_cq_head(&r), 3);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), -EAGAIN);
	/* advance across the wrap in one step */
	fake_ring_free(&r);
	fake_ring_init(&r, 8, 8, UINT_MAX - 3);
	fake_ring_attach(&ch, &r, FAKE_FD);
	post_cqes(6, 0);
	capchan_cq_advance(&ch, 6);
	ck_assert_uint_eq(*fake_cq_head(&r), 2);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
}
END_TEST

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_add_checked_fixture(tc, NULL, ring_teardown);
	tcase_add_test(tc, get_sqe_until_full);
	tcase_add_test(tc, get_sqe_after_consume);
	tcase_add_test(tc, sq_counter_wrap);
	tcase_add_test(tc, peek_empty_eagain);
	tcase_add_test(tc, peek_seen_in_order);
	tcase_add_test(tc, cq_advance_batch);
	tcase_add_test(tc, cq_counter_wrap);
	suite_add_tcase(s, tc);
	return s;
}
