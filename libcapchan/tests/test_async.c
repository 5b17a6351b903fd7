// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The async capability layer against the fake module: every callback runs
 * exactly once, completions are matched by user_data whatever their order,
 * re-entering the loop is -EBUSY, a callback may close the channel or the
 * queue, chains report their first failure, READ_TO_END hands its buffer
 * back, and SQ-sized batches carry any number of requests.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake.h"

static struct fake_ring r;
static struct capchan ch;
static struct capchan_async *q;

/* ------------------------------------------------------------ a module */
/*
 * A small stand-in for the module's ops, run in consumption order: OPEN
 * makes handles from SIM_H0 on ("missing" is -ENOENT, "dir" a DIR), READ
 * reads sim_file, links behave like the module's (a failure cancels the
 * rest of the chain; CAPCHAN_HANDLE_CHAIN is the chain's latest handle).
 */
#define SIM_DIR		1U
#define SIM_H0		42U
#define SIM_FILE_LEN	10000

static unsigned char sim_file[SIM_FILE_LEN];
static size_t sim_len, sim_pos, sim_chunk;	/* chunk: most per READ (0: any) */
static uint32_t sim_next_handle, sim_dir_handle;
static int sim_in_link, sim_link_failed;
static uint32_t sim_chain_handle;
static int sim_read_err;			/* next READ fails with it, once */
static unsigned sim_reads, sim_ops;

static int sim_exec(const struct capchan_sqe *sqe, uint32_t h)
{
	switch (sqe->opcode) {
	case CAPCHAN_OP_OPEN: {
		const char *path = (const char *)(uintptr_t)sqe->addr;

		if (h != SIM_DIR)
			return -EBADF;
		if (!strcmp(path, "missing"))
			return -ENOENT;
		if (!strcmp(path, "dir"))
			return (int)(sim_dir_handle = sim_next_handle++);
		return (int)sim_next_handle++;
	}
	case CAPCHAN_OP_READ: {
		size_t n, pos = sqe->off == CAPCHAN_OFF_CURRENT ? sim_pos : sqe->off;

		sim_reads++;
		if (h == SIM_DIR || (sim_dir_handle && h == sim_dir_handle))
			return -EISDIR;
		if (sim_read_err) {
			int err = sim_read_err;

			sim_read_err = 0;
			return err;
		}
		n = pos < sim_len ? sim_len - pos : 0;
		if (n > sqe->len)
			n = sqe->len;
		if (sim_chunk && n > sim_chunk)
			n = sim_chunk;
		memcpy((void *)(uintptr_t)sqe->addr, sim_file + pos, n);
		if (sqe->off == CAPCHAN_OFF_CURRENT)
			sim_pos += n;
		return (int)n;
	}
	case CAPCHAN_OP_WRITE:
		return (int)sqe->len;
	case CAPCHAN_OP_STAT: {
		struct capchan_stat *st = (void *)(uintptr_t)sqe->addr;

		memset(st, 0, sizeof(*st));
		st->size = 1000 + h;
		return 0;
	}
	case CAPCHAN_OP_DERIVE:
		return (int)(500 + h);
	case CAPCHAN_OP_REVOKE:
		return 3;
	case CAPCHAN_OP_CLOSE:
		return 0;
	default:
		return -EINVAL;
	}
}

static int sim_op(const struct capchan_sqe *sqe)
{
	uint32_t h = sqe->handle;
	int res;

	sim_ops++;
	if (!sim_in_link) {
		sim_link_failed = 0;
		sim_chain_handle = 0;
	}
	if (sim_link_failed) {
		res = -ECANCELED;
	} else {
		if (h == CAPCHAN_HANDLE_CHAIN)
			h = sim_in_link ? sim_chain_handle : 0;
		res = h || sqe->opcode == CAPCHAN_OP_NOP ? sim_exec(sqe, h) : -EBADF;
		if (res < 0)
			sim_link_failed = 1;
		else if (sqe->opcode == CAPCHAN_OP_OPEN ||
			 sqe->opcode == CAPCHAN_OP_DERIVE)
			sim_chain_handle = (uint32_t)res;
	}
	sim_in_link = sqe->flags & CAPCHAN_SQE_LINK;
	return res;
}

/* INVOKE: EXPORT answers 900 + handle unless a test gives a real fd;
 * IMPORT 700; CLOSE (the library's clean-up drop) 0. */
static int sim_export_fd = -1;

static int sim_invoke(const struct capchan_sqe *sqe)
{
	switch (sqe->opcode) {
	case CAPCHAN_OP_EXPORT:
		return sim_export_fd >= 0 ? dup(sim_export_fd) : (int)(900 + sqe->handle);
	case CAPCHAN_OP_IMPORT:
		return 700;
	case CAPCHAN_OP_CLOSE:
		return 0;
	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------------ callbacks */

#define MAX_SEEN	256

/* What the callbacks saw: one slot per data pointer (&slot[i]). */
struct seen {
	unsigned calls;
	unsigned order;			/* 1-based position among callbacks */
	struct capchan_async_done d;
};

static struct seen slot[MAX_SEEN];
static unsigned ncalls;
/* what a callback does besides recording: */
static int cb_reenter_run, cb_reenter_wait;	/* results of the attempts */
static int cb_mode;
static char more_buf[4];
enum {
	CB_RECORD = 0,
	CB_REENTER,		/* try run() and wait() from inside */
	CB_CLOSE_CHANNEL,	/* the first callback closes the channel */
	CB_EXIT_QUEUE,		/* the first callback ends the queue */
	CB_SUBMIT_MORE,		/* the first callback submits a READ */
};

static void cb_record(struct capchan_async *cq, const struct capchan_async_done *d)
{
	struct seen *s = d->data;

	ck_assert_ptr_eq(cq, q);
	ck_assert(s >= slot && s < slot + MAX_SEEN);
	s->calls++;
	s->order = ++ncalls;
	s->d = *d;
	if (ncalls != 1)
		return;
	switch (cb_mode) {
	case CB_REENTER: {
		struct capchan_async_future f = { 0 };

		cb_reenter_run = capchan_async_run(cq, 1);
		cb_reenter_wait = capchan_async_wait(cq, &f);
		break;
	}
	case CB_CLOSE_CHANNEL:
		capchan_queue_exit(&ch);
		/* the ring memory is really gone: touching it faults */
		fake_ring_free(&r);
		break;
	case CB_EXIT_QUEUE:
		capchan_async_exit(cq);
		/* the queue refuses new work from now on */
		ck_assert_int_eq(capchan_async_revoke(cq, 5, cb_record, &slot[200]),
				 -EBADF);
		break;
	case CB_SUBMIT_MORE:
		ck_assert_int_eq(capchan_async_read(cq, 7, more_buf, 4, 0,
						    cb_record, &slot[100]), 0);
		break;
	}
}

static void assert_once(unsigned i)
{
	ck_assert_uint_eq(slot[i].calls, 1);
}

/* ------------------------------------------------------------ fixture */

static void async_setup(void)
{
	unsigned i;

	fake_reset();
	fake_ring_init(&r, 8, 16, 0);
	r.p.features |= CAPCHAN_FEAT_CHAIN_HANDLE;
	r.op = sim_op;
	fake.ring = &r;
	fake.invoke = sim_invoke;
	fake_ring_attach(&ch, &r, FAKE_FD);
	memset(slot, 0, sizeof(slot));
	ncalls = 0;
	cb_mode = CB_RECORD;
	cb_reenter_run = cb_reenter_wait = 1;
	for (i = 0; i < SIM_FILE_LEN; i++)
		sim_file[i] = (unsigned char)(i * 7 + 3);
	sim_len = SIM_FILE_LEN;
	sim_pos = sim_chunk = 0;
	sim_next_handle = SIM_H0;
	sim_dir_handle = 0;
	sim_in_link = sim_link_failed = 0;
	sim_chain_handle = 0;
	sim_read_err = 0;
	sim_reads = sim_ops = 0;
	sim_export_fd = -1;
	q = NULL;
	ck_assert_int_eq(capchan_async_init(&q, &ch, 0), 0);
	ck_assert_ptr_nonnull(q);
}

static void async_teardown(void)
{
	capchan_async_exit(q);
	q = NULL;
	fake_ring_free(&r);
}

/* Which INVOKEs the library made: count of opcode op. */
static unsigned invokes(unsigned op)
{
	unsigned i, n = 0;

	for (i = 0; i < fake.nlog; i++)
		if (fake.log[i].cmd == CAPCHAN_IOC_INVOKE &&
		    fake.log[i].sqe.opcode == op)
			n++;
	return n;
}

/* ------------------------------------------------------------ tests */

START_TEST(async_init_args)
{
	struct capchan bare;
	struct capchan_async *q2 = (void *)&q2;
	unsigned i;

	memset(&bare, 0, sizeof(bare));
	bare.fd = FAKE_FD;			/* a channel without rings */
	ck_assert_int_eq(capchan_async_init(&q2, &bare, 0), -EINVAL);
	ck_assert_ptr_eq(q2, (void *)&q2);	/* untouched on failure */
	ck_assert_int_eq(capchan_async_init(&q2, &ch, CAPCHAN_ASYNC_MAX_REQS + 1),
			 -EINVAL);
	ck_assert_int_eq(capchan_async_init(NULL, &ch, 0), -EINVAL);
	/* the default: as many records as the CQ has entries */
	for (i = 0; i < 16; i++)
		ck_assert_int_eq(capchan_async_revoke(q, 5, cb_record, &slot[i]), 0);
	ck_assert_int_eq(capchan_async_revoke(q, 5, cb_record, &slot[16]), -EAGAIN);
	ck_assert_uint_eq(capchan_async_pending(q), 16);
	/* no callback, or a future without one: nothing is queued */
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 16);
	ck_assert_int_eq(capchan_async_revoke(q, 5, NULL, &slot[0]), -EINVAL);
	ck_assert_int_eq(capchan_async_revoke(q, 5, capchan_async_future_cb, NULL),
			 -EINVAL);
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	ck_assert_uint_eq(slot[16].calls, 0);
	for (i = 0; i < 16; i++)
		assert_once(i);
}
END_TEST

/* One of each ring op: right SQEs out, right completions back, once each. */
START_TEST(async_each_op_once)
{
	char rbuf[16], wbuf[5] = "abcd";
	struct capchan_stat st;
	unsigned i;

	ck_assert_int_eq(capchan_async_open(q, SIM_DIR, "f", O_NOFOLLOW | O_CREAT,
					    0640, CAPCHAN_RIGHT_READ, cb_record,
					    &slot[0]), 0);
	ck_assert_int_eq(capchan_async_read(q, 7, rbuf, sizeof(rbuf), 100,
					    cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_write(q, 7, wbuf, 4, CAPCHAN_OFF_CURRENT,
					     cb_record, &slot[2]), 0);
	ck_assert_int_eq(capchan_async_stat(q, 7, &st, cb_record, &slot[3]), 0);
	ck_assert_int_eq(capchan_async_derive(q, 7, CAPCHAN_RIGHT_READ, cb_record,
					      &slot[4]), 0);
	ck_assert_int_eq(capchan_async_revoke(q, 7, cb_record, &slot[5]), 0);
	ck_assert_int_eq(capchan_async_close(q, 7, cb_record, &slot[6]), 0);
	/* submission alone never enters the module */
	ck_assert_uint_eq(fake.nlog, 0);
	ck_assert_uint_eq(capchan_async_pending(q), 7);

	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 7);
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	ck_assert_uint_eq(fake.nenter, 1);	/* one batch */
	ck_assert_uint_eq(r.nseen, 7);
	for (i = 0; i < 7; i++) {
		assert_once(i);
		ck_assert_ptr_eq(slot[i].d.data, &slot[i]);
		/* distinct user_data, never 0, no link */
		ck_assert_uint_ne(r.seen[i].user_data, 0);
		if (i)
			ck_assert_uint_ne(r.seen[i].user_data, r.seen[i - 1].user_data);
		ck_assert_uint_eq(r.seen[i].flags, 0);
	}
	/* the SQEs are the prep helpers' */
	ck_assert_uint_eq(r.seen[0].opcode, CAPCHAN_OP_OPEN);
	ck_assert_uint_eq(r.seen[0].handle, SIM_DIR);
	ck_assert_str_eq((const char *)(uintptr_t)r.seen[0].addr, "f");
	ck_assert_uint_eq(r.seen[0].op_flags, (uint32_t)(O_NOFOLLOW | O_CREAT));
	ck_assert_uint_eq(r.seen[0].off, 0640);
	ck_assert_uint_eq(r.seen[0].rights, CAPCHAN_RIGHT_READ);
	ck_assert_uint_eq(r.seen[1].opcode, CAPCHAN_OP_READ);
	ck_assert_uint_eq(r.seen[1].off, 100);
	ck_assert_uint_eq(r.seen[1].len, sizeof(rbuf));
	ck_assert_ptr_eq((void *)(uintptr_t)r.seen[1].addr, rbuf);
	ck_assert_uint_eq(r.seen[2].opcode, CAPCHAN_OP_WRITE);
	ck_assert_uint_eq(r.seen[2].off, CAPCHAN_OFF_CURRENT);
	ck_assert_uint_eq(r.seen[3].opcode, CAPCHAN_OP_STAT);
	ck_assert_uint_eq(r.seen[3].len, sizeof(st));
	ck_assert_uint_eq(r.seen[4].opcode, CAPCHAN_OP_DERIVE);
	ck_assert_uint_eq(r.seen[4].rights, CAPCHAN_RIGHT_READ);
	ck_assert_uint_eq(r.seen[5].opcode, CAPCHAN_OP_REVOKE);
	ck_assert_uint_eq(r.seen[6].opcode, CAPCHAN_OP_CLOSE);
	ck_assert_uint_eq(r.seen[6].handle, 7);

	/* the completions */
	ck_assert_int_eq(slot[0].d.res, SIM_H0);
	ck_assert_uint_eq(slot[0].d.op, CAPCHAN_ASYNC_OPEN);
	ck_assert_uint_eq(slot[0].d.handle, SIM_DIR);
	ck_assert_ptr_null(slot[0].d.buf);
	ck_assert_int_eq(slot[1].d.res, sizeof(rbuf));
	ck_assert_uint_eq(slot[1].d.op, CAPCHAN_ASYNC_READ);
	ck_assert_ptr_eq(slot[1].d.buf, rbuf);
	ck_assert_uint_eq(slot[1].d.len, sizeof(rbuf));
	ck_assert_mem_eq(rbuf, sim_file + 100, sizeof(rbuf));
	ck_assert_int_eq(slot[2].d.res, 4);
	ck_assert_uint_eq(slot[2].d.op, CAPCHAN_ASYNC_WRITE);
	ck_assert_ptr_eq(slot[2].d.buf, wbuf);
	ck_assert_int_eq(slot[3].d.res, 0);
	ck_assert_ptr_eq(slot[3].d.buf, &st);
	ck_assert_uint_eq(st.size, 1007);
	ck_assert_int_eq(slot[4].d.res, 507);
	ck_assert_uint_eq(slot[4].d.op, CAPCHAN_ASYNC_DERIVE);
	ck_assert_int_eq(slot[5].d.res, 3);
	ck_assert_uint_eq(slot[5].d.op, CAPCHAN_ASYNC_REVOKE);
	ck_assert_int_eq(slot[6].d.res, 0);
	ck_assert_uint_eq(slot[6].d.op, CAPCHAN_ASYNC_CLOSE);
	ck_assert_uint_eq(slot[6].d.handle, 7);

	/* nothing left: a second run does nothing at all */
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 0);
	ck_assert_uint_eq(fake.nenter, 1);
	ck_assert_uint_eq(ncalls, 7);
}
END_TEST

/* OPEN without O_CREAT sends mode 0, as capchan_open_beneath() does. */
START_TEST(async_open_mode_only_with_creat)
{
	ck_assert_int_eq(capchan_async_open(q, SIM_DIR, "f", 0, 0644,
					    CAPCHAN_RIGHT_READ, cb_record,
					    &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, 1), 1);
	ck_assert_uint_eq(r.seen[0].off, 0);
	assert_once(0);
}
END_TEST

/* Completions posted in reverse: each goes to its own request. */
START_TEST(async_out_of_order)
{
	unsigned i, n = 8;
	char buf[8][4];

	fake.enter_hold = 1;
	for (i = 0; i < n; i++)
		ck_assert_int_eq(capchan_async_read(q, 10 + i, buf[i], 4, 0,
						    cb_record, &slot[i]), 0);
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(fake.nheld, n);
	ck_assert_uint_eq(ncalls, 0);
	ck_assert_uint_eq(capchan_async_pending(q), n);
	for (i = 0; i < n; i++)
		fake_post(&r, fake.held[n - 1 - i].user_data,
			  (int)(100 + fake.held[n - 1 - i].handle));
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), (int)n);
	for (i = 0; i < n; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, 110 + i);
		ck_assert_uint_eq(slot[i].d.handle, 10 + i);
		ck_assert_ptr_eq(slot[i].d.buf, buf[i]);
		ck_assert_uint_eq(slot[i].order, n - i);
	}
	ck_assert_uint_eq(capchan_async_pending(q), 0);
}
END_TEST

/*
 * A CQE twice, a CQE naming no record, a stale CQE of a record's earlier
 * life: ignored.  Each callback still runs exactly once.
 */
START_TEST(async_stray_cqes_ignored)
{
	uint64_t old;

	fake.enter_hold = 1;
	ck_assert_int_eq(capchan_async_revoke(q, 5, cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(fake.nheld, 1);
	old = fake.held[0].user_data;
	fake_post(&r, old, 1);
	fake_post(&r, old, 2);				/* duplicate */
	fake_post(&r, old | CAPCHAN_ASYNC_MAX_REQS, 3);	/* no such record */
	fake_post(&r, old + (1ULL << 24), 4);		/* no such step */
	fake_post(&r, 0, 5);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, 1);

	/* the record is used again (same index, next generation) */
	ck_assert_int_eq(capchan_async_revoke(q, 6, cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(fake.nheld, 2);
	ck_assert_uint_eq(fake.held[1].user_data & 0xffffffffULL,
			  old & 0xffffffffULL);
	ck_assert_uint_ne(fake.held[1].user_data, old);
	fake_post(&r, old, 6);				/* the old life's */
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(slot[1].calls, 0);
	ck_assert_uint_eq(capchan_async_pending(q), 1);
	fake_post(&r, fake.held[1].user_data, 7);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	assert_once(1);
	ck_assert_int_eq(slot[1].d.res, 7);
}
END_TEST

/* Post one held CQE per waiting ENTER (to_submit 0). */
static unsigned posted;

static void post_one_when_waiting(void)
{
	const struct fake_call *c = fake_last();

	if (c->enter.to_submit == 0 && posted < fake.nheld) {
		fake_post(&r, fake.held[posted].user_data, (int)posted);
		posted++;
	}
}

/* run(q, n) waits for n callbacks, no more; a "signal" comes back. */
START_TEST(async_run_min_complete)
{
	unsigned i;

	posted = 0;
	fake.enter_hold = 1;
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(capchan_async_revoke(q, i + 1, cb_record,
						      &slot[i]), 0);
	/* nobody posts: the wait is interrupted, no callback ran */
	ck_assert_int_eq(capchan_async_run(q, 1), -EINTR);
	ck_assert_uint_eq(ncalls, 0);
	fake.enter_hook = post_one_when_waiting;
	ck_assert_int_eq(capchan_async_run(q, 2), 2);
	ck_assert_uint_eq(capchan_async_pending(q), 1);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	for (i = 0; i < 3; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, i);
	}
	fake.enter_hook = NULL;
}
END_TEST

START_TEST(async_reenter_ebusy)
{
	cb_mode = CB_REENTER;
	ck_assert_int_eq(capchan_async_revoke(q, 1, cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_revoke(q, 2, cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 2);
	ck_assert_int_eq(cb_reenter_run, -EBUSY);
	ck_assert_int_eq(cb_reenter_wait, -EBUSY);
	assert_once(0);
	assert_once(1);
	/* the loop is usable again afterwards */
	ck_assert_int_eq(capchan_async_revoke(q, 3, cb_record, &slot[2]), 0);
	ck_assert_int_eq(capchan_async_run(q, 1), 1);
	assert_once(2);
}
END_TEST

/* A callback may submit; the same run delivers that one too. */
START_TEST(async_submit_from_callback)
{
	cb_mode = CB_SUBMIT_MORE;
	ck_assert_int_eq(capchan_async_revoke(q, 1, cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 2);
	assert_once(0);
	assert_once(100);
	ck_assert_uint_eq(slot[100].d.op, CAPCHAN_ASYNC_READ);
	ck_assert_int_eq(slot[100].d.res, 4);
	ck_assert_uint_eq(capchan_async_pending(q), 0);
}
END_TEST

/*
 * The first callback closes the channel and its ring memory is unmapped:
 * the loop stops without touching it, the others are cancelled exactly
 * once, and everything after is -EBADF.
 */
START_TEST(async_close_channel_in_callback)
{
	unsigned i;

	fake_ring_mmap(&r);
	fake_ring_attach(&ch, &r, FAKE_FD);
	capchan_async_exit(q);
	ck_assert_int_eq(capchan_async_init(&q, &ch, 0), 0);
	cb_mode = CB_CLOSE_CHANNEL;
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(capchan_async_revoke(q, i + 1, cb_record,
						      &slot[i]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), -EBADF);
	ck_assert_uint_eq(fake.nclose, 1);
	ck_assert_ptr_null(r.mem);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, 3);
	for (i = 1; i < 4; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, -ECANCELED);
	}
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	ck_assert_int_eq(capchan_async_revoke(q, 9, cb_record, &slot[9]), -EBADF);
	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", 0, slot, 4,
						 cb_record, &slot[9]), -EBADF);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), -EBADF);
	ck_assert_uint_eq(ncalls, 4);
	ck_assert_uint_eq(slot[9].calls, 0);
}
END_TEST

/* Closed before anything was submitted: every call is -EBADF. */
START_TEST(async_after_queue_exit)
{
	struct capchan_async_future f;
	struct capchan_stat st;
	char buf[4];
	int sv[2];

	ck_assert_int_eq(capchan_async_revoke(q, 1, cb_record, &slot[0]), 0);
	capchan_queue_exit(&ch);
	ck_assert_int_eq(capchan_async_open(q, 1, "f", 0, 0, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_read(q, 1, buf, 4, 0, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_write(q, 1, buf, 4, 0, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_stat(q, 1, &st, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_derive(q, 1, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_revoke(q, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_close(q, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_export(q, 1, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_import(q, 0, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_read_to_end(q, 1, NULL, 0, cb_record, slot), -EBADF);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(capchan_async_send_cap(q, sv[0], 1, 1, cb_record, slot), -EBADF);
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -EBADF);
	close(sv[0]);
	close(sv[1]);
	ck_assert_uint_eq(capchan_async_pending(q), 1);
	/* the request made before is cancelled, once */
	ck_assert_int_eq(capchan_async_run(q, 0), -EBADF);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, -ECANCELED);
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(capchan_async_wait(q, &f), -EBADF);
	ck_assert_uint_eq(fake.nenter, 0);
	ck_assert_uint_eq(ncalls, 1);
}
END_TEST

/*
 * The first callback ends the queue: the run returns -ECANCELED without
 * touching q again (valgrind sees any use after free); the requests the
 * module already has are delivered with their results, the rest
 * cancelled, every one exactly once.
 */
START_TEST(async_exit_queue_in_callback)
{
	unsigned i;

	fake_ring_free(&r);
	fake_ring_init(&r, 4, 4, 0);
	r.op = sim_op;
	fake_ring_attach(&ch, &r, FAKE_FD);
	capchan_async_exit(q);
	ck_assert_int_eq(capchan_async_init(&q, &ch, 16), 0);
	cb_mode = CB_EXIT_QUEUE;
	/*
	 * 10 requests, SQ and CQ of 4: the module takes 4 (CQ full), 4 more
	 * wait in the SQ, 2 in the backlog when the first callback runs.
	 */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(capchan_async_revoke(q, i + 1, cb_record,
						      &slot[i]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), -ECANCELED);
	q = NULL;			/* freed */
	for (i = 0; i < 8; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, 3);
	}
	for (i = 8; i < 10; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, -ECANCELED);
	}
	ck_assert_uint_eq(slot[200].calls, 0);
	ck_assert_uint_eq(r.nseen, 8);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
}
END_TEST

/*
 * capchan_async_exit() outside a callback: SQEs already in the SQ are
 * consumed and delivered for real (they name the callers' buffers), the
 * backlog is cancelled.
 */
START_TEST(async_exit_drains_sq)
{
	unsigned i;

	fake_ring_free(&r);
	fake_ring_init(&r, 8, 4, 0);
	r.op = sim_op;
	fake_ring_attach(&ch, &r, FAKE_FD);
	capchan_async_exit(q);
	ck_assert_int_eq(capchan_async_init(&q, &ch, 32), 0);
	for (i = 0; i < 14; i++)
		ck_assert_int_eq(capchan_async_revoke(q, i + 1, cb_record,
						      &slot[i]), 0);
	/* CQ of 4: the module takes 4, 8 more wait in the SQ, 2 in the backlog */
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(r.nseen, 4);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 8);
	ck_assert_uint_eq(capchan_async_pending(q), 14);
	capchan_async_exit(q);
	q = NULL;
	ck_assert_uint_eq(r.nseen, 12);
	ck_assert_uint_eq(capchan_sq_ready(&ch), 0);
	ck_assert_uint_eq(capchan_cq_ready(&ch), 0);
	for (i = 0; i < 12; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, 3);
	}
	for (i = 12; i < 14; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, -ECANCELED);
	}
}
END_TEST

/* Many more requests than the SQ holds: batches of at most 8. */
START_TEST(async_batches)
{
	static unsigned char bufs[200][8];
	unsigned i, n = 200;

	capchan_async_exit(q);
	ck_assert_int_eq(capchan_async_init(&q, &ch, n), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(capchan_async_read(q, 7, bufs[i], 8, 8 * i,
						    cb_record, &slot[i]), 0);
	ck_assert_int_eq(capchan_async_read(q, 7, bufs[0], 8, 0, cb_record,
					    &slot[255]), -EAGAIN);
	ck_assert_uint_eq(capchan_async_pending(q), n);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), (int)n);
	ck_assert_uint_eq(sim_ops, n);
	ck_assert_uint_ge(fake.nenter, n / 8);
	for (i = 0; i < FAKE_LOG_MAX && i < fake.nlog; i++)
		ck_assert_uint_le(fake.log[i].enter.to_submit, 8);
	for (i = 0; i < n; i++) {
		assert_once(i);
		ck_assert_int_eq(slot[i].d.res, 8);
		ck_assert_mem_eq(bufs[i], sim_file + 8 * i, 8);
	}
	ck_assert_uint_eq(slot[255].calls, 0);
}
END_TEST

/* ------------------------------------------------------------ chains */

START_TEST(async_chain_ok)
{
	char buf[32];

	sim_len = 20;
	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", O_NOFOLLOW, buf,
						 sizeof(buf), cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_uint_eq(r.nseen, 3);
	ck_assert_uint_eq(r.seen[0].opcode, CAPCHAN_OP_OPEN);
	ck_assert_uint_eq(r.seen[0].flags, CAPCHAN_SQE_LINK);
	ck_assert_uint_eq(r.seen[0].handle, SIM_DIR);
	ck_assert_uint_eq(r.seen[0].rights, CAPCHAN_RIGHT_READ);
	ck_assert_uint_eq(r.seen[0].op_flags, (uint32_t)O_NOFOLLOW);
	ck_assert_uint_eq(r.seen[1].opcode, CAPCHAN_OP_READ);
	ck_assert_uint_eq(r.seen[1].flags, CAPCHAN_SQE_LINK);
	ck_assert_uint_eq(r.seen[1].handle, CAPCHAN_HANDLE_CHAIN);
	ck_assert_uint_eq(r.seen[1].off, CAPCHAN_OFF_CURRENT);
	ck_assert_uint_eq(r.seen[1].len, sizeof(buf));
	ck_assert_uint_eq(r.seen[2].opcode, CAPCHAN_OP_CLOSE);
	ck_assert_uint_eq(r.seen[2].flags, 0);
	ck_assert_uint_eq(r.seen[2].handle, CAPCHAN_HANDLE_CHAIN);
	ck_assert_int_eq(slot[0].d.res, 20);
	ck_assert_uint_eq(slot[0].d.op, CAPCHAN_ASYNC_OPEN_READ);
	ck_assert_int_eq(slot[0].d.step[0], SIM_H0);
	ck_assert_int_eq(slot[0].d.step[1], 20);
	ck_assert_int_eq(slot[0].d.step[2], 0);
	ck_assert_ptr_eq(slot[0].d.buf, buf);
	ck_assert_mem_eq(buf, sim_file, 20);
	/* CLOSE ran in the chain: no clean-up */
	ck_assert_uint_eq(invokes(CAPCHAN_OP_CLOSE), 0);
}
END_TEST

START_TEST(async_chain_open_fails)
{
	char buf[8];

	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "missing", 0, buf,
						 sizeof(buf), cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, -ENOENT);
	ck_assert_int_eq(slot[0].d.step[0], -ENOENT);
	ck_assert_int_eq(slot[0].d.step[1], -ECANCELED);
	ck_assert_int_eq(slot[0].d.step[2], -ECANCELED);
	ck_assert_uint_eq(sim_reads, 0);
	ck_assert_uint_eq(invokes(CAPCHAN_OP_CLOSE), 0);
}
END_TEST

/* READ fails: CLOSE is cancelled, so the library drops the handle. */
START_TEST(async_chain_read_fails)
{
	char buf[8];

	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "dir", 0, buf,
						 sizeof(buf), cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, -EISDIR);
	ck_assert_int_eq(slot[0].d.step[0], SIM_H0);
	ck_assert_int_eq(slot[0].d.step[1], -EISDIR);
	ck_assert_int_eq(slot[0].d.step[2], -ECANCELED);
	ck_assert_uint_eq(invokes(CAPCHAN_OP_CLOSE), 1);
	ck_assert_uint_eq(fake_last()->sqe.opcode, CAPCHAN_OP_CLOSE);
	ck_assert_uint_eq(fake_last()->sqe.handle, SIM_H0);
}
END_TEST

/* Two chains and a plain op in one batch: each chain's results are its own. */
START_TEST(async_chain_mixed)
{
	char a[8], b[8];

	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "missing", 0, a,
						 sizeof(a), cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_revoke(q, 9, cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", 0, b,
						 sizeof(b), cb_record, &slot[2]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 3);
	ck_assert_uint_eq(fake.nenter, 1);
	assert_once(0);
	assert_once(1);
	assert_once(2);
	ck_assert_int_eq(slot[0].d.res, -ENOENT);
	ck_assert_int_eq(slot[1].d.res, 3);
	ck_assert_int_eq(slot[2].d.res, 8);
	ck_assert_int_eq(slot[2].d.step[0], SIM_H0);
	ck_assert_mem_eq(b, sim_file, 8);
}
END_TEST

START_TEST(async_chain_refused)
{
	char buf[8];

	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", O_CREAT, buf, 8,
						 cb_record, &slot[0]), -EINVAL);
	/* a module without chain handles */
	ch.features &= ~CAPCHAN_FEAT_CHAIN_HANDLE;
	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", 0, buf, 8,
						 cb_record, &slot[0]), -EOPNOTSUPP);
	ch.features |= CAPCHAN_FEAT_CHAIN_HANDLE;
	/* an SQ too small for the three SQEs at once */
	fake_ring_free(&r);
	fake_ring_init(&r, 2, 4, 0);
	r.p.features |= CAPCHAN_FEAT_CHAIN_HANDLE;
	fake_ring_attach(&ch, &r, FAKE_FD);
	capchan_async_exit(q);
	ck_assert_int_eq(capchan_async_init(&q, &ch, 0), 0);
	ck_assert_int_eq(capchan_async_open_read(q, SIM_DIR, "f", 0, buf, 8,
						 cb_record, &slot[0]), -EINVAL);
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	ck_assert_uint_eq(ncalls, 0);
}
END_TEST

/* ------------------------------------------------------------ READ_TO_END */

START_TEST(async_read_to_end_library_buffer)
{
	char *buf;

	sim_chunk = 1500;
	sim_read_err = -EINTR;			/* retried, not reported */
	ck_assert_int_eq(capchan_async_read_to_end(q, 7, NULL, 0, cb_record,
						   &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_uint_eq(slot[0].d.op, CAPCHAN_ASYNC_READ_TO_END);
	ck_assert_int_eq(slot[0].d.res, SIM_FILE_LEN);
	ck_assert_uint_eq(slot[0].d.len, SIM_FILE_LEN);
	buf = slot[0].d.buf;
	ck_assert_ptr_nonnull(buf);
	ck_assert_mem_eq(buf, sim_file, SIM_FILE_LEN);
	ck_assert_int_eq(buf[SIM_FILE_LEN], '\0');
	/*
	 * EINTR, 8 READs of data (at most 1500 bytes, at most the room left
	 * in 4096, 8192, 16384 bytes), the READ that says end of file
	 */
	ck_assert_uint_eq(sim_reads, 1 + 8 + 1);
	free(buf);			/* the caller's now */
}
END_TEST

START_TEST(async_read_to_end_caller_buffer)
{
	char *mine = malloc(1);
	char *buf;

	ck_assert_ptr_nonnull(mine);
	sim_len = 5000;
	ck_assert_int_eq(capchan_async_read_to_end(q, 7, mine, 1, cb_record,
						   &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, 5000);
	buf = slot[0].d.buf;
	ck_assert_mem_eq(buf, sim_file, 5000);
	ck_assert_int_eq(buf[5000], '\0');
	free(buf);
	/* size without a buffer is refused; the buffer stays the caller's */
	ck_assert_int_eq(capchan_async_read_to_end(q, 7, NULL, 8, cb_record,
						   &slot[1]), -EINVAL);
}
END_TEST

/* A READ fails half way: the data so far comes back with the error. */
START_TEST(async_read_to_end_error)
{
	char *buf;

	sim_chunk = 4000;
	ck_assert_int_eq(capchan_async_read_to_end(q, 7, NULL, 0, cb_record,
						   &slot[0]), 0);
	/* one READ, then the error */
	ck_assert_int_eq(capchan_async_run(q, 0), 0);
	ck_assert_uint_eq(sim_reads, 1);
	sim_read_err = -EIO;
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, -EIO);
	ck_assert_uint_eq(slot[0].d.len, 4000);
	buf = slot[0].d.buf;
	ck_assert_mem_eq(buf, sim_file, 4000);
	ck_assert_int_eq(buf[4000], '\0');
	free(buf);
}
END_TEST

/* Cancelled by capchan_async_exit(): the buffer still comes back. */
START_TEST(async_read_to_end_cancelled)
{
	ck_assert_int_eq(capchan_async_read_to_end(q, 7, NULL, 0, cb_record,
						   &slot[0]), 0);
	capchan_async_exit(q);
	q = NULL;
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, -ECANCELED);
	ck_assert_ptr_nonnull(slot[0].d.buf);
	ck_assert_uint_eq(slot[0].d.len, 0);
	ck_assert_int_eq(((char *)slot[0].d.buf)[0], '\0');
	free(slot[0].d.buf);
	ck_assert_uint_eq(fake.nenter, 0);
}
END_TEST

/* ------------------------------------------------------------ INVOKE-only ops */

START_TEST(async_export_import_invoke)
{
	ck_assert_int_eq(capchan_async_revoke(q, 3, cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_export(q, 7, CAPCHAN_RIGHT_READ,
					      cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_import(q, 33, cb_record, &slot[2]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 3);
	/* only REVOKE went through the rings, and before EXPORT ran */
	ck_assert_uint_eq(r.nseen, 1);
	ck_assert_uint_eq(fake.log[0].cmd, CAPCHAN_IOC_ENTER);
	ck_assert_uint_eq(fake.log[1].cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_uint_eq(fake.log[1].sqe.opcode, CAPCHAN_OP_EXPORT);
	ck_assert_uint_eq(fake.log[1].sqe.handle, 7);
	ck_assert_uint_eq(fake.log[1].sqe.rights, CAPCHAN_RIGHT_READ);
	ck_assert_uint_eq(fake.log[2].cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_uint_eq(fake.log[2].sqe.opcode, CAPCHAN_OP_IMPORT);
	ck_assert_uint_eq(fake.log[2].sqe.off, 33);
	assert_once(0);
	assert_once(1);
	assert_once(2);
	ck_assert_int_eq(slot[1].d.res, 907);
	ck_assert_uint_eq(slot[1].d.op, CAPCHAN_ASYNC_EXPORT);
	ck_assert_uint_eq(slot[1].d.handle, 7);
	ck_assert_int_eq(slot[2].d.res, 700);
	ck_assert_uint_eq(slot[2].d.op, CAPCHAN_ASYNC_IMPORT);
}
END_TEST

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* EXPORT + SCM_RIGHTS one way, SCM_RIGHTS + IMPORT the other. */
START_TEST(async_send_recv_cap)
{
	int sv[2], p[2], imported_fd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	sim_export_fd = p[0];		/* the "capability file" */
	ck_assert_int_eq(capchan_async_send_cap(q, sv[0], 7, CAPCHAN_RIGHT_READ,
						cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(0);
	ck_assert_int_eq(slot[0].d.res, 0);
	ck_assert_uint_eq(slot[0].d.op, CAPCHAN_ASYNC_SEND_CAP);
	ck_assert_uint_eq(fake_last()->sqe.opcode, CAPCHAN_OP_EXPORT);
	ck_assert_uint_eq(fake_last()->sqe.rights, CAPCHAN_RIGHT_READ);
	/* the exported fd (dup of p[0]) was closed after sending */
	ck_assert(!fd_open(fake_last()->ret));

	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, &slot[1]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(1);
	ck_assert_int_eq(slot[1].d.res, 700);
	ck_assert_uint_eq(slot[1].d.op, CAPCHAN_ASYNC_RECV_CAP);
	ck_assert_uint_eq(fake_last()->sqe.opcode, CAPCHAN_OP_IMPORT);
	imported_fd = (int)fake_last()->sqe.off;
	ck_assert_int_ge(imported_fd, 0);
	/* what arrived was the pipe, and it is closed after IMPORT */
	ck_assert(!fd_open(imported_fd));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* What recv_cap refuses; the fds that came along are closed. */
START_TEST(async_recv_cap_refuses)
{
	int sv[2], p[2], fds[2];
	char byte = 'C';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	struct cmsghdr *c;
	int before;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	/* a byte and no fd */
	ck_assert_int_eq(write(sv[0], "C", 1), 1);
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -EPROTO);
	/* two fds at once: both closed */
	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	fds[0] = p[0];
	fds[1] = p[1];
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sv[0], &msg, 0), 1);
	before = dup(sv[0]);
	close(before);			/* the lowest free fd */
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -EPROTO);
	ck_assert(!fd_open(before));
	/* the wrong byte */
	byte = 'x';
	c->cmsg_len = CMSG_LEN(sizeof(int));
	msg.msg_controllen = CMSG_SPACE(sizeof(int));
	ck_assert_int_eq(sendmsg(sv[0], &msg, 0), 1);
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -EPROTO);
	ck_assert(!fd_open(before));
	/* nothing there on a non-blocking socket */
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -EAGAIN);
	/* the peer went away */
	close(sv[0]);
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, slot), -ECONNRESET);
	/* sending to a closed peer: -EPIPE in the callback, no SIGPIPE */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	close(fds[1]);
	sim_export_fd = p[0];
	ck_assert_int_eq(capchan_async_send_cap(q, fds[0], 7, 1, cb_record, &slot[3]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	assert_once(3);
	ck_assert_int_eq(slot[3].d.res, -EPIPE);
	close(fds[0]);
	/* nothing was queued by the refusals */
	ck_assert_uint_eq(capchan_async_pending(q), 0);
	ck_assert_uint_eq(ncalls, 1);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* A received capability file is closed when its IMPORT is cancelled. */
START_TEST(async_recv_cap_cancelled)
{
	int sv[2], p[2], fd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pipe(p), 0);
	sim_export_fd = p[0];
	ck_assert_int_eq(capchan_async_send_cap(q, sv[0], 7, 1, cb_record, &slot[0]), 0);
	ck_assert_int_eq(capchan_async_run(q, UINT_MAX), 1);
	fd = dup(sv[0]);
	close(fd);			/* where the received fd will land */
	ck_assert_int_eq(capchan_async_recv_cap(q, sv[1], cb_record, &slot[1]), 0);
	ck_assert(fd_open(fd));
	capchan_async_exit(q);
	q = NULL;
	assert_once(1);
	ck_assert_int_eq(slot[1].d.res, -ECANCELED);
	ck_assert(!fd_open(fd));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ------------------------------------------------------------ futures */

START_TEST(async_future)
{
	struct capchan_async_future f, g;
	struct capchan_stat st;

	memset(&f, 0xff, sizeof(f));		/* done is reset at submission */
	memset(&g, 0xff, sizeof(g));
	ck_assert_int_eq(capchan_async_stat(q, 9, &st, capchan_async_future_cb, &f), 0);
	ck_assert_int_eq(f.done, 0);
	ck_assert_int_eq(capchan_async_derive(q, 9, 1, capchan_async_future_cb, &g), 0);
	ck_assert_int_eq(capchan_async_wait(q, &g), 0);
	ck_assert_int_eq(g.done, 1);
	ck_assert_int_eq(g.d.res, 509);
	ck_assert_ptr_eq(g.d.data, &g);
	/* f completed in the same batch */
	ck_assert_int_eq(f.done, 1);
	ck_assert_int_eq(capchan_async_wait(q, &f), 0);
	ck_assert_int_eq(f.d.res, 0);
	ck_assert_uint_eq(st.size, 1009);
	ck_assert_uint_eq(fake.nenter, 1);
	/* a future of no request: nothing to wait for */
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(capchan_async_wait(q, &f), -EINVAL);
	ck_assert_int_eq(capchan_async_wait(q, NULL), -EINVAL);
}
END_TEST

Suite *async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *tc = tcase_create("async");

	tcase_add_checked_fixture(tc, async_setup, async_teardown);
	tcase_add_test(tc, async_init_args);
	tcase_add_test(tc, async_each_op_once);
	tcase_add_test(tc, async_open_mode_only_with_creat);
	tcase_add_test(tc, async_out_of_order);
	tcase_add_test(tc, async_stray_cqes_ignored);
	tcase_add_test(tc, async_run_min_complete);
	tcase_add_test(tc, async_reenter_ebusy);
	tcase_add_test(tc, async_submit_from_callback);
	tcase_add_test(tc, async_close_channel_in_callback);
	tcase_add_test(tc, async_after_queue_exit);
	tcase_add_test(tc, async_exit_queue_in_callback);
	tcase_add_test(tc, async_exit_drains_sq);
	tcase_add_test(tc, async_batches);
	tcase_add_test(tc, async_chain_ok);
	tcase_add_test(tc, async_chain_open_fails);
	tcase_add_test(tc, async_chain_read_fails);
	tcase_add_test(tc, async_chain_mixed);
	tcase_add_test(tc, async_chain_refused);
	tcase_add_test(tc, async_read_to_end_library_buffer);
	tcase_add_test(tc, async_read_to_end_caller_buffer);
	tcase_add_test(tc, async_read_to_end_error);
	tcase_add_test(tc, async_read_to_end_cancelled);
	tcase_add_test(tc, async_export_import_invoke);
	tcase_add_test(tc, async_send_recv_cap);
	tcase_add_test(tc, async_recv_cap_refuses);
	tcase_add_test(tc, async_recv_cap_cancelled);
	tcase_add_test(tc, async_future);
	suite_add_tcase(s, tc);
	return s;
}
