// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The async capability layer: a queue of request records over a channel's
 * rings and the loop that feeds the SQ and reaps the CQ.  The requests
 * themselves are in async_ops.c, async_chain.c and unix.c.
 *
 * Rules the loop keeps (see async.h for the record states):
 *  - a callback runs exactly once per request, from the loop only, after
 *    its record went back to the free list (so the callback may submit at
 *    once, even into the same record);
 *  - a CQE is released to the module before its callback runs, and nothing
 *    of the rings is touched after a callback without checking that the
 *    channel is still there (a callback may capchan_queue_exit() it);
 *  - the queue is freed only outside every callback (a callback may
 *    capchan_async_exit() it).
 */
#include <stdlib.h>
#include <string.h>

#include "async.h"

/* ------------------------------------------------------------ records */

static uint64_t capchan__async_ud(const struct capchan_async *q,
				  const struct capchan__async_req *r,
				  unsigned step)
{
	return (uint64_t)r->gen << 32 | (uint64_t)step << CAPCHAN__ASYNC_IDX_BITS |
	       (uint64_t)(r - q->reqs);
}

static uint32_t capchan__async_idx(const struct capchan_async *q,
				   const struct capchan__async_req *r)
{
	return (uint32_t)(r - q->reqs);
}

/* Was the channel closed (capchan_queue_exit()) since the queue was made? */
static int capchan__async_gone(const struct capchan_async *q)
{
	return q->ch->fd != q->fd || q->ch->ring_ptr != q->ring_ptr;
}

/* Append to a FIFO given by its head and tail. */
static void capchan__async_fifo_add(struct capchan_async *q, uint32_t *head,
				    uint32_t *tail, uint32_t idx)
{
	q->reqs[idx].next = CAPCHAN__ASYNC_NIL;
	if (*head == CAPCHAN__ASYNC_NIL)
		*head = idx;
	else
		q->reqs[*tail].next = idx;
	*tail = idx;
}

static struct capchan__async_req *
capchan__async_fifo_pop(struct capchan_async *q, uint32_t *head)
{
	struct capchan__async_req *r;

	if (*head == CAPCHAN__ASYNC_NIL)
		return NULL;
	r = &q->reqs[*head];
	*head = r->next;
	r->next = CAPCHAN__ASYNC_NIL;
	return r;
}

/*
 * A record for a new request, or NULL and *err.  Nothing is queued until
 * capchan__async_queue(); capchan__async_unmake() gives it back unused.
 */
struct capchan__async_req *capchan__async_new(struct capchan_async *q,
					      unsigned op, capchan_async_cb cb,
					      void *data, int *err)
{
	struct capchan__async_req *r;
	uint32_t gen;

	if (!cb || (cb == capchan_async_future_cb && !data)) {
		*err = -EINVAL;
		return NULL;
	}
	if (q->exiting || capchan__async_gone(q)) {
		*err = -EBADF;
		return NULL;
	}
	r = capchan__async_fifo_pop(q, &q->free_head);
	if (!r) {
		*err = -EAGAIN;
		return NULL;
	}
	gen = r->gen;
	memset(r, 0, sizeof(*r));
	r->gen = gen + 1;
	r->next = CAPCHAN__ASYNC_NIL;
	r->fd = -1;
	r->op = (uint8_t)op;
	r->cb = cb;
	r->data = data;
	return r;
}

void capchan__async_unmake(struct capchan_async *q,
			   struct capchan__async_req *r)
{
	r->state = CAPCHAN__ASYNC_FREE;
	r->next = q->free_head;
	q->free_head = capchan__async_idx(q, r);
}

/* Submit a record made by capchan__async_new(): it cannot fail now. */
void capchan__async_queue(struct capchan_async *q,
			  struct capchan__async_req *r)
{
	if (r->cb == capchan_async_future_cb)
		((struct capchan_async_future *)r->data)->done = 0;
	r->state = CAPCHAN__ASYNC_BACKLOG;
	q->outstanding++;
	capchan__async_fifo_add(q, &q->bl_head, &q->bl_tail,
				capchan__async_idx(q, r));
}

/*
 * The one way a request ends: free the record, then run the callback with
 * what the record said.  The record is free before the callback runs, so
 * a request is delivered at most once even if its callback submits more.
 */
static void capchan__async_deliver(struct capchan_async *q,
				   struct capchan__async_req *r, int64_t res)
{
	struct capchan_async_done d;
	capchan_async_cb cb = r->cb;
	unsigned i;

	if (r->state == CAPCHAN__ASYNC_FREE)
		return;			/* never twice */
	memset(&d, 0, sizeof(d));
	d.data = r->data;
	d.res = res;
	d.op = r->op;
	d.handle = r->handle;
	switch (r->op) {
	case CAPCHAN_ASYNC_READ:
	case CAPCHAN_ASYNC_WRITE:
	case CAPCHAN_ASYNC_STAT:
	case CAPCHAN_ASYNC_OPEN_READ:
		d.buf = r->buf;
		d.len = r->len;
		break;
	case CAPCHAN_ASYNC_READ_TO_END:
		d.buf = r->buf;
		d.len = r->used;
		break;
	default:
		break;
	}
	for (i = 0; i < CAPCHAN__ASYNC_MAX_STEPS; i++)
		d.step[i] = r->res[i];

	q->outstanding--;
	capchan__async_unmake(q, r);
	cb(q, &d);
}

/* Deliver -ECANCELED to a request that never finished. */
static void capchan__async_cancel(struct capchan_async *q,
				  struct capchan__async_req *r)
{
	const struct capchan__async_opdef *def = &capchan__async_ops[r->op];

	if (def->cancel)
		def->cancel(r);
	capchan__async_deliver(q, r, -ECANCELED);
}

/* ------------------------------------------------------------ loop */

/* Why a loop stopped early; its caller must then not go on as usual. */
enum {
	CAPCHAN__ASYNC_GO = 0,
	CAPCHAN__ASYNC_GONE,	/* the channel was closed */
	CAPCHAN__ASYNC_EXIT,	/* capchan_async_exit() from a callback */
};

static int capchan__async_stopped(const struct capchan_async *q)
{
	if (q->exiting)
		return CAPCHAN__ASYNC_EXIT;
	if (capchan__async_gone(q))
		return CAPCHAN__ASYNC_GONE;
	return CAPCHAN__ASYNC_GO;
}

/* All of a record's CQEs are in: deliver it, or queue it again. */
static int capchan__async_finish(struct capchan_async *q,
				 struct capchan__async_req *r)
{
	const struct capchan__async_opdef *def = &capchan__async_ops[r->op];
	int64_t res = r->res[0];

	if (def->finish && def->finish(q, r, &res)) {
		if (q->exiting || capchan__async_gone(q)) {
			capchan__async_deliver(q, r, -ECANCELED);
			return 1;
		}
		r->gen++;		/* CQEs of the last round are stale now */
		r->state = CAPCHAN__ASYNC_BACKLOG;
		capchan__async_fifo_add(q, &q->bl_head, &q->bl_tail,
					capchan__async_idx(q, r));
		return 0;
	}
	capchan__async_deliver(q, r, res);
	return 1;
}

/* One CQE; 1 if a callback ran. */
static int capchan__async_cqe(struct capchan_async *q, uint64_t ud,
			      int32_t res)
{
	uint32_t idx = (uint32_t)ud & CAPCHAN__ASYNC_IDX_MASK;
	unsigned step = (unsigned)(ud >> CAPCHAN__ASYNC_IDX_BITS) & 0xff;
	struct capchan__async_req *r;

	if (idx >= q->nreqs)
		goto stray;
	r = &q->reqs[idx];
	if (r->state != CAPCHAN__ASYNC_KERNEL || r->gen != (uint32_t)(ud >> 32) ||
	    step >= capchan__async_ops[r->op].nsteps || r->got & (1U << step))
		goto stray;
	r->got |= 1U << step;
	r->res[step] = res;
	if (r->got != (1U << capchan__async_ops[r->op].nsteps) - 1)
		return 0;
	q->in_kernel--;
	return capchan__async_finish(q, r);

stray:
	q->strays++;
	return 0;
}

/*
 * Run the callbacks that are due: requests the library finished itself,
 * then CQEs.  Each CQE is copied and released before its callback.  Stops
 * when a callback closed the channel or the queue.
 */
static int capchan__async_reap(struct capchan_async *q, unsigned *ran)
{
	struct capchan__async_req *r;
	struct capchan_cqe *cqe;
	int stop = capchan__async_stopped(q);

	if (stop)
		return stop;
	while ((r = capchan__async_fifo_pop(q, &q->rd_head))) {
		capchan__async_deliver(q, r, r->res[0]);
		(*ran)++;
		stop = capchan__async_stopped(q);
		if (stop)
			return stop;
	}
	while (!capchan_peek_cqe(q->ch, &cqe)) {
		uint64_t ud = cqe->user_data;
		int32_t res = cqe->res;

		capchan_cqe_seen(q->ch, cqe);
		if (capchan__async_cqe(q, ud, res)) {
			(*ran)++;
			stop = capchan__async_stopped(q);
			if (stop)
				return stop;
		}
	}
	return CAPCHAN__ASYNC_GO;
}

/* Consume what is in the SQ; -EBUSY if the module took not all of it. */
static int capchan__async_flush(struct capchan_async *q)
{
	int ret;

	if (!capchan_sq_ready(q->ch))
		return 0;
	ret = capchan_submit(q->ch);
	if (ret < 0)
		return ret;
	return capchan_sq_ready(q->ch) ? -EBUSY : 0;
}

/*
 * Move the backlog to the SQ, in order, entering the module whenever the
 * next request does not fit; run the library's own ops in their turn
 * (after everything before them was consumed, so requests start in the
 * order they were made).  0 when the backlog is empty and the SQ consumed;
 * -EBUSY when the CQ must be reaped first; another -errno from ENTER.
 */
static int capchan__async_push(struct capchan_async *q)
{
	struct capchan *ch = q->ch;
	int ret;

	while (q->bl_head != CAPCHAN__ASYNC_NIL) {
		struct capchan__async_req *r = &q->reqs[q->bl_head];
		const struct capchan__async_opdef *def = &capchan__async_ops[r->op];
		unsigned s;

		if (!def->nsteps) {
			ret = capchan__async_flush(q);
			if (ret < 0)
				return ret;
			capchan__async_fifo_pop(q, &q->bl_head);
			r->res[0] = def->run(q, r);
			r->state = CAPCHAN__ASYNC_READY;
			capchan__async_fifo_add(q, &q->rd_head, &q->rd_tail,
						capchan__async_idx(q, r));
			continue;
		}
		if (capchan_sq_space_left(ch) < def->nsteps) {
			ret = capchan_submit(ch);
			if (ret < 0)
				return ret;
			if (capchan_sq_space_left(ch) < def->nsteps)
				return -EBUSY;
		}
		capchan__async_fifo_pop(q, &q->bl_head);
		/* a whole chain at once: nothing of ours can come between */
		for (s = 0; s < def->nsteps; s++) {
			struct capchan_sqe *sqe = capchan_get_sqe(ch);

			def->prep(r, s, sqe);
			capchan_sqe_set_data64(sqe, capchan__async_ud(q, r, s));
			if (s + 1 < def->nsteps)
				capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
		}
		r->got = 0;
		r->state = CAPCHAN__ASYNC_KERNEL;
		q->in_kernel++;
	}
	return capchan__async_flush(q);
}

/*
 * The loop: reap, push, and wait while fewer than min_complete callbacks
 * ran (or, with f, until f is done) and requests are outstanding.  Returns
 * the callbacks run, or -errno if an error stopped it before any ran; sets
 * *stop when a callback closed the channel or the queue.
 */
static int capchan__async_loop(struct capchan_async *q, unsigned min_complete,
			       const struct capchan_async_future *f, int *stop)
{
	struct capchan_cqe *cqe;
	unsigned ran = 0;
	int ret;

	for (;;) {
		*stop = capchan__async_reap(q, &ran);
		if (*stop)
			return (int)ran;
		ret = capchan__async_push(q);
		if (ret < 0 && ret != -EBUSY)
			break;
		/* the library's own results are never left behind */
		if (q->rd_head != CAPCHAN__ASYNC_NIL)
			continue;
		if ((f ? f->done : ran >= min_complete) || !q->outstanding)
			return (int)ran;
		if (capchan_cq_ready(q->ch))
			continue;
		if (!q->in_kernel) {
			/* outstanding, yet neither queued nor in the module */
			ret = -EPROTO;
			break;
		}
		ret = capchan_wait_cqe(q->ch, &cqe);
		if (ret < 0)
			break;
	}
	return ran ? (int)ran : ret;
}

/*
 * The channel is gone, or the queue ends: every request still outstanding
 * gets its callback, those the library finished with their result, the
 * others with -ECANCELED.  Callbacks can add none (submission is refused).
 */
static void capchan__async_cancel_all(struct capchan_async *q)
{
	struct capchan__async_req *r;
	unsigned i;

	while ((r = capchan__async_fifo_pop(q, &q->rd_head)))
		capchan__async_deliver(q, r, r->res[0]);
	while ((r = capchan__async_fifo_pop(q, &q->bl_head)))
		capchan__async_cancel(q, r);
	for (i = 0; i < q->nreqs && q->in_kernel; i++) {
		r = &q->reqs[i];
		if (r->state == CAPCHAN__ASYNC_KERNEL) {
			q->in_kernel--;
			capchan__async_cancel(q, r);
		}
	}
}

/*
 * The queue ends on a live channel: SQEs of ours already in the SQ name
 * our callers' buffers, so they are not left there for whoever enters
 * next.  Consume them and deliver their real results.
 */
static void capchan__async_drain(struct capchan_async *q)
{
	struct capchan_cqe *cqe;

	while (q->in_kernel && !capchan__async_gone(q)) {
		int ret = 0;

		if (capchan_sq_ready(q->ch)) {
			ret = capchan_submit(q->ch);
			if (ret < 0 && ret != -EBUSY)
				return;
		}
		if (!capchan_cq_ready(q->ch)) {
			ret = capchan_wait_cqe(q->ch, &cqe);
			if (ret == -EINTR)
				continue;
			if (ret < 0)
				return;
		}
		while (!capchan__async_gone(q) && !capchan_peek_cqe(q->ch, &cqe)) {
			uint64_t ud = cqe->user_data;
			int32_t res = cqe->res;

			capchan_cqe_seen(q->ch, cqe);
			capchan__async_cqe(q, ud, res);
		}
	}
}

static void capchan__async_free(struct capchan_async *q)
{
	q->exiting = 1;
	q->in_run = 1;
	capchan__async_drain(q);
	capchan__async_cancel_all(q);
	free(q->reqs);
	free(q);
}

/* After a loop that stopped early: 1 if q was freed. */
static int capchan__async_stop(struct capchan_async *q)
{
	if (!q->exiting && capchan__async_gone(q)) {
		q->in_run = 1;
		capchan__async_cancel_all(q);
		q->in_run = 0;
	}
	if (q->exiting) {
		capchan__async_free(q);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ queue */

int capchan_async_init(struct capchan_async **qp, struct capchan *ch,
		       unsigned max_reqs)
{
	struct capchan_async *q;
	unsigned i;

	if (!qp || !ch || ch->fd < 0 || !ch->ring_ptr)
		return -EINVAL;
	if (!max_reqs)
		max_reqs = ch->cq.ring_entries;
	if (max_reqs > CAPCHAN_ASYNC_MAX_REQS)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->reqs = calloc(max_reqs, sizeof(*q->reqs));
	if (!q->reqs) {
		free(q);
		return -ENOMEM;
	}
	q->ch = ch;
	q->fd = ch->fd;
	q->ring_ptr = ch->ring_ptr;
	q->nreqs = max_reqs;
	for (i = 0; i < max_reqs; i++)
		q->reqs[i].next = i + 1 < max_reqs ? i + 1 : CAPCHAN__ASYNC_NIL;
	q->free_head = 0;
	q->bl_head = q->bl_tail = CAPCHAN__ASYNC_NIL;
	q->rd_head = q->rd_tail = CAPCHAN__ASYNC_NIL;
	*qp = q;
	return 0;
}

void capchan_async_exit(struct capchan_async *q)
{
	if (!q)
		return;
	if (q->in_run) {
		/* from a callback: the loop frees q once the callback returns */
		q->exiting = 1;
		return;
	}
	capchan__async_free(q);
}

int capchan_async_run(struct capchan_async *q, unsigned min_complete)
{
	int ret, stop;

	if (q->in_run)
		return -EBUSY;
	q->in_run = 1;
	ret = capchan__async_loop(q, min_complete, NULL, &stop);
	q->in_run = 0;
	if (stop) {
		if (capchan__async_stop(q))
			return -ECANCELED;
		return -EBADF;
	}
	return ret;
}

int capchan_async_wait(struct capchan_async *q, struct capchan_async_future *f)
{
	int ret, stop;

	if (!f)
		return -EINVAL;
	if (q->in_run)
		return -EBUSY;
	if (f->done)
		return 0;
	q->in_run = 1;
	ret = capchan__async_loop(q, 0, f, &stop);
	q->in_run = 0;
	if (stop) {
		if (capchan__async_stop(q))
			return f->done ? 0 : -ECANCELED;
		return f->done ? 0 : -EBADF;
	}
	if (f->done)
		return 0;
	/* nothing outstanding, yet f is not done: not a request of q */
	return ret < 0 ? ret : -EINVAL;
}

unsigned capchan_async_pending(const struct capchan_async *q)
{
	return q->outstanding;
}

void capchan_async_future_cb(struct capchan_async *q,
			     const struct capchan_async_done *d)
{
	struct capchan_async_future *f = d->data;

	(void)q;
	f->d = *d;
	f->done = 1;
}
