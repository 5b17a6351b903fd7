// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * submit / submit_and_wait / wait_cqe against the fake module's ENTER.
 */
#include <limits.h>
#include <unistd.h>

#include "fake.h"

static struct fake_ring r;
static struct capchan ch;

static void submit_setup(void)
{
	fake_reset();
	fake_ring_init(&r, 8, 4, 0);
	fake.ring = &r;
	fake_ring_attach(&ch, &r, FAKE_FD);
}

static void submit_teardown(void)
{
	fake_ring_free(&r);
}

static int res_opcode_x10(const struct capchan_sqe *sqe)
{
	return sqe->opcode * 10 + (int)sqe->handle;
}

static void queue_close(unsigned n, uint32_t h0)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		ck_assert_ptr_nonnull(sqe);
		capchan_prep_close(sqe, h0 + i);
		capchan_sqe_set_data64(sqe, h0 + i);
	}
}

static void assert_enter(const struct fake_call *c, unsigned to_submit,
			 unsigned min_complete, unsigned flags, int ret)
{
	ck_assert_int_eq(c->fd, FAKE_FD);
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_ENTER);
	ck_assert_uint_eq(c->enter.to_submit, to_submit);
	ck_assert_uint_eq(c->enter.min_complete, min_complete);
	ck_assert_uint_eq(c->enter.flags, flags);
	ck_assert_uint_eq(c->enter.resv0, 0);
	ck_assert_uint_eq(c->enter.resv[0], 0);
	ck_assert_uint_eq(c->enter.resv[1], 0);
	ck_assert_int_eq(c->ret, ret);
}

/* Nothing queued: no ENTER at all. */
START_TEST(submit_nothing)
{
	ck_assert_int_eq(capchan_submit(&ch), 0);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 0), 0);
	ck_assert_uint_eq(fake.nlog, 0);
}
END_TEST

START_TEST(submit_publishes)
{
	struct capchan_cqe *cqe;
	unsigned i;

	r.op = res_opcode_x10;
	queue_close(3, 1);
	ck_assert_uint_eq(*fake_sq_tail(&r), 0);
	ck_assert_int_eq(capchan_submit(&ch), 3);
	ck_assert_uint_eq(fake.nlog, 1);
	assert_enter(fake_last(), 3, 0, 0, 3);
	ck_assert_uint_eq(*fake_sq_tail(&r), 3);
	ck_assert_uint_eq(ch.sq.sqe_head, 3);
	ck_assert_uint_eq(ch.sq.sqe_tail, 3);
	ck_assert_uint_eq(*fake_sq_head(&r), 3);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	/* The module saw exactly what was prepared. */
	ck_assert_uint_eq(r.nseen, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(r.seen[i].opcode, CAPCHAN_OP_CLOSE);
		ck_assert_uint_eq(r.seen[i].handle, i + 1);
		ck_assert_uint_eq(r.seen[i].user_data, i + 1);
	}
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
		ck_assert_uint_eq(cqe->user_data, i + 1);
		ck_assert_int_eq(cqe->res, CAPCHAN_OP_CLOSE * 10 + (int)i + 1);
		capchan_cqe_seen(&ch, cqe);
	}
	/* A second submit with nothing new does not enter. */
	ck_assert_int_eq(capchan_submit(&ch), 0);
	ck_assert_uint_eq(fake.nlog, 1);
}
END_TEST

/*
 * CQ of 4, 6 SQEs: the module consumes 4; the next submit passes the 2
 * published-but-unconsumed ones and gets -EBUSY until CQEs are reaped.
 */
START_TEST(submit_partial_and_ebusy)
{
	queue_close(6, 10);
	ck_assert_int_eq(capchan_submit(&ch), 4);
	assert_enter(fake_last(), 6, 0, 0, 4);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 2);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 4);

	ck_assert_int_eq(capchan_submit(&ch), -EBUSY);
	assert_enter(fake_last(), 2, 0, 0, -EBUSY);
	ck_assert_uint_eq(*fake_sq_tail(&r), 6);

	capchan_cq_advance(&ch, 4);
	queue_close(1, 20);
	ck_assert_int_eq(capchan_submit(&ch), 3);
	assert_enter(fake_last(), 3, 0, 0, 3);
	ck_assert_uint_eq(fake.nlog, 3);
	ck_assert_uint_eq(r.nseen, 7);
	ck_assert_uint_eq(r.seen[6].handle, 20);
}
END_TEST

/*
 * The module may cut an ENTER short after it let go of files; the library
 * enters again until everything published is consumed, and waits only in
 * the ENTER that took the last ones.
 */
START_TEST(submit_loops_when_cut_short)
{
	fake_ring_free(&r);
	fake_ring_init(&r, 16, 32, 0);
	fake_ring_attach(&ch, &r, FAKE_FD);
	queue_close(10, 1);
	fake.enter_max = 4;
	ck_assert_int_eq(capchan_submit(&ch), 10);
	ck_assert_uint_eq(fake.nlog, 3);
	assert_enter(&fake.log[0], 10, 0, 0, 4);
	assert_enter(&fake.log[1], 6, 0, 0, 4);
	assert_enter(&fake.log[2], 2, 0, 0, 2);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 10);

	capchan_cq_advance(&ch, 10);
	queue_close(5, 2);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 5), 5);
	ck_assert_uint_eq(fake.nlog, 5);
	assert_enter(&fake.log[3], 5, 5, CAPCHAN_ENTER_GETEVENTS, 4);
	assert_enter(&fake.log[4], 1, 5, CAPCHAN_ENTER_GETEVENTS, 1);
	fake.enter_max = 0;
}
END_TEST

START_TEST(submit_and_wait_flags)
{
	queue_close(2, 1);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 2), 2);
	assert_enter(fake_last(), 2, 2, CAPCHAN_ENTER_GETEVENTS, 2);
	/* Only waiting: to_submit 0. */
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 1), 0);
	assert_enter(fake_last(), 0, 1, CAPCHAN_ENTER_GETEVENTS, 0);
	/* wait_nr 0 with work: plain submit. */
	queue_close(1, 3);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 0), 1);
	assert_enter(fake_last(), 1, 0, 0, 1);
	/* Wait for more than will come: the "signal" comes back. */
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 4), -EINTR);
	assert_enter(fake_last(), 0, 4, CAPCHAN_ENTER_GETEVENTS, -EINTR);
	ck_assert_uint_eq(fake.nlog, 4);
}
END_TEST

START_TEST(wait_cqe_pending)
{
	struct capchan_cqe *cqe = NULL;

	queue_close(1, 5);
	ck_assert_int_eq(capchan_submit(&ch), 1);
	ck_assert_uint_eq(fake.nlog, 1);
	/* Already there: no ENTER. */
	ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), 0);
	ck_assert_ptr_eq(cqe, &ch.cq.cqes[0]);
	ck_assert_uint_eq(cqe->user_data, 5);
	ck_assert_uint_eq(fake.nlog, 1);
	capchan_cqe_seen(&ch, cqe);
}
END_TEST

START_TEST(wait_cqe_enters)
{
	struct capchan_cqe *cqe = (void *)&cqe;

	/* Published but unconsumed SQEs are not submitted by wait_cqe. */
	queue_close(1, 5);
	ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), -EINTR);
	ck_assert_ptr_null(cqe);
	ck_assert_uint_eq(fake.nlog, 1);
	assert_enter(fake_last(), 0, 1, CAPCHAN_ENTER_GETEVENTS, -EINTR);
	ck_assert_uint_eq(*fake_sq_tail(&r), 0);
}
END_TEST

/* The wait itself makes a CQE appear (another thread's submission). */
static void post_one_during_enter(void)
{
	capchan_prep_close(&ch.sq.sqes[0], 77);
	capchan_sqe_set_data64(&ch.sq.sqes[0], 77);
	*fake_sq_tail(&r) = 1;
	ck_assert_uint_eq(fake_module_consume(&r, 1), 1);
	fake.enter_hook = NULL;
}

START_TEST(wait_cqe_after_enter)
{
	struct capchan_cqe *cqe = NULL;

	r.op = res_opcode_x10;
	fake.enter_hook = post_one_during_enter;
	ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), 0);
	ck_assert_uint_eq(fake.nlog, 1);
	assert_enter(fake_last(), 0, 1, CAPCHAN_ENTER_GETEVENTS, 0);
	ck_assert_ptr_eq(cqe, &ch.cq.cqes[0]);
	ck_assert_uint_eq(cqe->user_data, 77);
	ck_assert_int_eq(cqe->res, CAPCHAN_OP_CLOSE * 10 + 77);
}
END_TEST

START_TEST(submit_wrap)
{
	struct capchan_cqe *cqe;
	unsigned i, round;

	fake_ring_free(&r);
	fake_ring_init(&r, 8, 4, UINT_MAX - 5);
	fake_ring_attach(&ch, &r, FAKE_FD);
	for (round = 0; round < 4; round++) {
		queue_close(3, round * 10);
		ck_assert_int_eq(capchan_submit_and_wait(&ch, 3), 3);
		ck_assert_uint_eq(capchan_cq_ready(&ch), 3);
		for (i = 0; i < 3; i++) {
			ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), 0);
			ck_assert_uint_eq(cqe->user_data, round * 10 + i);
			capchan_cqe_seen(&ch, cqe);
		}
	}
	ck_assert_uint_eq(*fake_sq_tail(&r), UINT_MAX - 5 + 12);
	ck_assert_uint_eq(*fake_cq_head(&r), UINT_MAX - 5 + 12);
	ck_assert_uint_eq(fake.nlog, 4);
}
END_TEST

/* Real kernel: ENTER on a closed descriptor is -EBADF exactly. */
START_TEST(submit_closed_fd)
{
	struct capchan_cqe *cqe;
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	close(fds[1]);
	ch.fd = fds[0];
	queue_close(1, 1);
	ck_assert_int_eq(capchan_submit(&ch), -EBADF);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 1), -EBADF);
	ck_assert_int_eq(capchan_wait_cqe(&ch, &cqe), -EBADF);
	ch.fd = -1;
	ck_assert_int_eq(capchan_submit(&ch), -EBADF);
	ck_assert_uint_eq(fake.nlog, 4);
	ck_assert_int_eq(fake_last()->ret, -EBADF);
}
END_TEST

/* ---- a poll thread's channel (CAPCHAN_SETUP_SQPOLL) ---------------- */

static unsigned tail_at_enter;

static void sqpoll_setup(void)
{
	submit_setup();
	fake.sqpoll = 1;
	ch.setup_flags = CAPCHAN_SETUP_SQPOLL;
	tail_at_enter = ~0U;
}

static void queue_nops(unsigned n, uint64_t ud0)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		ck_assert_ptr_nonnull(sqe);
		capchan_prep_nop(sqe);
		capchan_sqe_set_data64(sqe, ud0 + i);
	}
}

/* The ENTER sees the SQEs already published, and the thread runs them. */
static void thread_runs_at_enter(void)
{
	tail_at_enter = __atomic_load_n(fake_sq_tail(&r), __ATOMIC_ACQUIRE);
	fake_module_consume(&r, ~0U);
}

/* The thread is awake: publishing is all, no system call at all. */
START_TEST(sqpoll_awake_no_syscall)
{
	struct capchan_cqe *cqe;

	queue_nops(3, 100);
	ck_assert_int_eq(capchan_submit(&ch), 3);
	ck_assert_uint_eq(fake.nlog, 0);
	ck_assert_uint_eq(*fake_sq_tail(&r), 3);
	ck_assert_uint_eq(ch.sq.sqe_head, 3);
	/* the thread consumes them in its own time */
	ck_assert_uint_eq(fake_module_consume(&r, ~0U), 3);
	ck_assert_int_eq(capchan_peek_cqe(&ch, &cqe), 0);
	ck_assert_uint_eq(cqe->user_data, 100);
	/* again, with the ring no longer empty behind */
	queue_nops(2, 200);
	ck_assert_int_eq(capchan_submit(&ch), 2);
	ck_assert_uint_eq(fake.nlog, 0);
	ck_assert_uint_eq(*fake_sq_tail(&r), 5);
}
END_TEST

/* The thread sleeps: exactly one ENTER(SQ_WAKEUP), after the tail store. */
START_TEST(sqpoll_asleep_one_wakeup)
{
	*fake_sq_flags(&r) = CAPCHAN_SQ_NEED_WAKEUP;
	fake.enter_hook = thread_runs_at_enter;
	queue_nops(2, 7);
	ck_assert_int_eq(capchan_sq_needs_wakeup(&ch), 1);
	ck_assert_int_eq(capchan_submit(&ch), 2);
	ck_assert_uint_eq(fake.nlog, 1);
	assert_enter(fake_last(), 0, 0, CAPCHAN_ENTER_SQ_WAKEUP, 0);
	ck_assert_uint_eq(fake.nwakeup, 1);
	ck_assert_uint_eq(tail_at_enter, 2);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 2);
}
END_TEST

/* Nothing in the SQ: nothing to wake the thread for, whatever the flag. */
START_TEST(sqpoll_nothing_queued)
{
	*fake_sq_flags(&r) = CAPCHAN_SQ_NEED_WAKEUP;
	ck_assert_int_eq(capchan_submit(&ch), 0);
	ck_assert_uint_eq(fake.nlog, 0);
	*fake_sq_flags(&r) = 0;
	ck_assert_int_eq(capchan_sq_needs_wakeup(&ch), 0);
}
END_TEST

/* Waiting is one ENTER(GETEVENTS), with SQ_WAKEUP only when asked for. */
START_TEST(sqpoll_submit_and_wait)
{
	fake.enter_hook = thread_runs_at_enter;
	queue_nops(1, 1);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 1), 1);
	ck_assert_uint_eq(fake.nlog, 1);
	assert_enter(fake_last(), 0, 1, CAPCHAN_ENTER_GETEVENTS, 0);
	ck_assert_uint_eq(fake.nwakeup, 0);
	capchan_cq_advance(&ch, 1);

	*fake_sq_flags(&r) = CAPCHAN_SQ_NEED_WAKEUP;
	queue_nops(1, 2);
	ck_assert_int_eq(capchan_submit_and_wait(&ch, 1), 1);
	ck_assert_uint_eq(fake.nlog, 2);
	assert_enter(fake_last(), 0, 1,
		     CAPCHAN_ENTER_GETEVENTS | CAPCHAN_ENTER_SQ_WAKEUP, 0);
	ck_assert_uint_eq(fake.nwakeup, 1);
	ck_assert_uint_eq(tail_at_enter, 2);
}
END_TEST

/* ENTER's error comes back (the SETUP process's address space is gone). */
START_TEST(sqpoll_enter_error)
{
	*fake_sq_flags(&r) = CAPCHAN_SQ_NEED_WAKEUP;
	fake.ring = NULL;
	fake.enter_errno = EOWNERDEAD;
	queue_nops(1, 1);
	ck_assert_int_eq(capchan_submit(&ch), -EOWNERDEAD);
	ck_assert_uint_eq(fake.nlog, 1);
}
END_TEST

Suite *submit_suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc = tcase_create("submit");

	tcase_add_checked_fixture(tc, submit_setup, submit_teardown);
	tcase_add_test(tc, submit_nothing);
	tcase_add_test(tc, submit_publishes);
	tcase_add_test(tc, submit_loops_when_cut_short);
	tcase_add_test(tc, submit_partial_and_ebusy);
	tcase_add_test(tc, submit_and_wait_flags);
	tcase_add_test(tc, wait_cqe_pending);
	tcase_add_test(tc, wait_cqe_enters);
	tcase_add_test(tc, wait_cqe_after_enter);
	tcase_add_test(tc, submit_wrap);
	tcase_add_test(tc, submit_closed_fd);
	suite_add_tcase(s, tc);

	tc = tcase_create("sqpoll");
	tcase_add_checked_fixture(tc, sqpoll_setup, submit_teardown);
	tcase_add_test(tc, sqpoll_awake_no_syscall);
	tcase_add_test(tc, sqpoll_asleep_one_wakeup);
	tcase_add_test(tc, sqpoll_nothing_queued);
	tcase_add_test(tc, sqpoll_submit_and_wait);
	tcase_add_test(tc, sqpoll_enter_error);
	suite_add_tcase(s, tc);
	return s;
}
