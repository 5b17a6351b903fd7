// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - submission and completion rings.
 *
 * One physically contiguous, zeroed, memcg-charged region holds the ring
 * header, the SQE array and the CQE array; user space maps it once.  The
 * module keeps private copies of the indices it owns (cached_sq_head,
 * cached_cq_tail) and only ever *reads* the two the application owns
 * (sq_tail, cq_head), clamping whatever it finds there.
 *
 * Memory ordering (each pair named on both sides):
 *  [S1] app: write SQEs, store-release sq_tail
 *       -> module: load-acquire sq_tail, then read SQEs.
 *  [S2] module: read SQEs, store-release sq_head
 *       -> app: load-acquire sq_head before reusing those SQE slots.
 *  [C1] module: write CQEs, store-release cq_tail
 *       -> app: load-acquire cq_tail, then read CQEs.
 *  [C2] app: read CQEs, store-release cq_head
 *       -> module: load-acquire cq_head before overwriting those CQE slots.
 *  [C3] module: store-release cq_tail [C1], then store-release cq_published
 *       -> waiter (ENTER, poll): load-acquire cq_published, count from it,
 *       so a CQE it counts is one the app sees.  cached_cq_tail runs ahead
 *       of both for the whole batch: counting from it let ENTER(GETEVENTS)
 *       return while a batch was half done, with its CQEs not yet visible.
 */
#include "capchan.h"

#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/version.h>

static size_t capchan_sqes_offset(void)
{
	return ALIGN(sizeof(struct capchan_ring_hdr), 64);
}

int capchan_ring_setup(struct capchan_ctx *ctx, struct capchan_params *p)
{
	u32 sq, cq;
	size_t sqes_off, cqes_off, size;
	struct page *pages;
	unsigned int order;
	int err;

	lockdep_assert_held(&ctx->lock);
	if (ctx->ring_ready)
		return -EBUSY;
	if (p->flags & ~CAPCHAN_SETUP_FLAGS_ALL)
		return -EINVAL;
	err = capchan_sqpoll_check(p);
	if (err)
		return err;
	if (p->flags & CAPCHAN_SETUP_INFLIGHT) {
		if (!p->max_inflight || p->max_inflight > CAPCHAN_MAX_INFLIGHT)
			return -EINVAL;
	} else if (p->max_inflight) {
		return -EINVAL;
	}
	if (!p->sq_entries || p->sq_entries > CAPCHAN_MAX_SQ_ENTRIES)
		return -EINVAL;
	sq = roundup_pow_of_two(p->sq_entries);
	if (p->flags & CAPCHAN_SETUP_CQSIZE) {
		if (!p->cq_entries || p->cq_entries > CAPCHAN_MAX_CQ_ENTRIES)
			return -EINVAL;
		/* compare rounded sizes, as the rings will be */
		cq = roundup_pow_of_two(p->cq_entries);
		if (cq < sq)
			return -EINVAL;
	} else {
		if (p->cq_entries)
			return -EINVAL;
		cq = 2 * sq;
	}

	err = capchan_workers_init(ctx);
	if (err)
		return err;

	sqes_off = capchan_sqes_offset();
	cqes_off = sqes_off + (size_t)sq * sizeof(struct capchan_sqe);
	size = PAGE_ALIGN(cqes_off + (size_t)cq * sizeof(struct capchan_cqe));
	order = get_order(size);
	/* bounded by the MAX_*_ENTRIES checks above: at most 512 KiB */
	pages = alloc_pages(CAPCHAN_GFP | __GFP_ZERO |
			    __GFP_COMP, order);
	if (!pages)
		return -ENOMEM;

	ctx->ring_pages = pages;
	ctx->ring_order = order;
	ctx->ring_size = size;
	ctx->rings = page_address(pages);
	ctx->sqes = (void *)ctx->rings + sqes_off;
	ctx->cqes = (void *)ctx->rings + cqes_off;
	ctx->sq_entries = sq;
	ctx->sq_mask = sq - 1;
	ctx->cq_entries = cq;
	ctx->cq_mask = cq - 1;
	ctx->cached_sq_head = 0;
	ctx->cached_cq_tail = 0;
	ctx->cq_published = 0;
	ctx->max_inflight = (p->flags & CAPCHAN_SETUP_INFLIGHT) ?
			    p->max_inflight : sq;
	p->max_inflight = ctx->max_inflight;
	ctx->rings->sq_ring_mask = sq - 1;
	ctx->rings->cq_ring_mask = cq - 1;
	ctx->rings->sq_ring_entries = sq;
	ctx->rings->cq_ring_entries = cq;

	memset(&p->sq_off, 0, sizeof(p->sq_off));
	memset(&p->cq_off, 0, sizeof(p->cq_off));
	p->sq_entries = sq;
	p->cq_entries = cq;
	p->ring_size = size;
	p->features = capchan_features();
	p->sq_off.head = offsetof(struct capchan_ring_hdr, sq_head);
	p->sq_off.tail = offsetof(struct capchan_ring_hdr, sq_tail);
	p->sq_off.ring_mask = offsetof(struct capchan_ring_hdr, sq_ring_mask);
	p->sq_off.ring_entries = offsetof(struct capchan_ring_hdr, sq_ring_entries);
	p->sq_off.flags = offsetof(struct capchan_ring_hdr, sq_flags);
	p->sq_off.dropped = offsetof(struct capchan_ring_hdr, sq_dropped);
	p->sq_off.sqes = sqes_off;
	p->cq_off.head = offsetof(struct capchan_ring_hdr, cq_head);
	p->cq_off.tail = offsetof(struct capchan_ring_hdr, cq_tail);
	p->cq_off.ring_mask = offsetof(struct capchan_ring_hdr, cq_ring_mask);
	p->cq_off.ring_entries = offsetof(struct capchan_ring_hdr, cq_ring_entries);
	p->cq_off.overflow = offsetof(struct capchan_ring_hdr, cq_overflow);
	p->cq_off.cqes = cqes_off;

	/* made (not running) before the rings are published: nothing to undo */
	if (p->flags & CAPCHAN_SETUP_SQPOLL) {
		err = capchan_sqpoll_create(ctx, p);
		if (err) {
			capchan_ring_free(ctx);
			return err;
		}
	}

	/* pairs with the load-acquire in capchan_ring_mmap/enter/poll */
	smp_store_release(&ctx->ring_ready, true);
	if (ctx->sqpoll)
		capchan_sqpoll_start(ctx);
	return 0;
}

void capchan_ring_free(struct capchan_ctx *ctx)
{
	kvfree(ctx->chain_spare);
	ctx->chain_spare = NULL;
	if (ctx->ring_pages)
		__free_pages(ctx->ring_pages, ctx->ring_order);
	ctx->ring_pages = NULL;
}

/*
 * The mapping's vma holds a reference on the channel file, so the pages
 * (freed only when the file is released) outlive every mapping: munmap and
 * close may come in either order.  No channel lock here: we run under
 * mmap_lock, which ENTER may need while holding ring_lock (user copies).
 */
int capchan_ring_mmap(struct capchan_ctx *ctx, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;

	/* pairs with setup's smp_store_release(ring_ready): rings fully built */
	if (!smp_load_acquire(&ctx->ring_ready))
		return -EBADFD;
	/* a private (copy-on-write) mapping would never see the module's writes */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* the rings are data: never executable, now or after mprotect() */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, VM_MAYEXEC);
#else
	vma->vm_flags &= ~VM_MAYEXEC;
#endif
	if (vma->vm_pgoff != (CAPCHAN_OFF_RINGS >> PAGE_SHIFT) ||
	    len > ctx->ring_size)
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start, page_to_pfn(ctx->ring_pages),
			       len, vma->vm_page_prot);
}

/* Completions the application can see and has not consumed (clamped). */
u32 capchan_cq_pending(struct capchan_ctx *ctx)
{
	/* [C3] pairs with the store-release after the batch's cq_tail */
	u32 pending = smp_load_acquire(&ctx->cq_published) -
		      READ_ONCE(ctx->rings->cq_head);

	return min(pending, ctx->cq_entries);
}

/*
 * Free CQE slots, from the application's cq_head [C2].  @reserved: the
 * slots of ops in workers, which count as used.  A worker posts (tail +
 * 1), then drops its count (release): the caller read the count first
 * (acquire), so tail + count is never below the truth.
 */
static u32 capchan_cq_space(struct capchan_ctx *ctx, u32 reserved)
{
	u32 tail = READ_ONCE(ctx->cached_cq_tail);
	/* pairs with the application's store-release of cq_head [C2] */
	u32 head = smp_load_acquire(&ctx->rings->cq_head);
	u32 used = tail - head;

	/*
	 * A head ahead of our tail or too far behind is garbage: no space.
	 * Checked before the reservations are added, which could otherwise
	 * carry a head a little ahead back into range.
	 */
	if (used > ctx->cq_entries || reserved > ctx->cq_entries - used)
		return 0;
	return ctx->cq_entries - used - reserved;
}

static void capchan_post_cqe(struct capchan_ctx *ctx, u64 user_data, long res)
{
	struct capchan_cqe *cqe = &ctx->cqes[ctx->cached_cq_tail & ctx->cq_mask];

	WRITE_ONCE(cqe->user_data, user_data);
	WRITE_ONCE(cqe->res, (s32)res);
	WRITE_ONCE(cqe->flags, 0);
	/* fdinfo and poll read it without ring_lock */
	WRITE_ONCE(ctx->cached_cq_tail, ctx->cached_cq_tail + 1);
}

/* Publish what is posted [C1] [C3]; the caller's lock orders the tails. */
static void capchan_publish_cqes(struct capchan_ctx *ctx)
{
	/* [C1] pairs with the application's load-acquire of cq_tail */
	smp_store_release(&ctx->rings->cq_tail, ctx->cached_cq_tail);
	/* [C3] pairs with capchan_cq_pending()'s load-acquire */
	smp_store_release(&ctx->cq_published, ctx->cached_cq_tail);
}

static void capchan_wake_cq(struct capchan_ctx *ctx)
{
	/*
	 * Skip the waitqueue lock when nobody sleeps: wq_has_sleeper()'s
	 * full barrier orders the tail store before it against the check,
	 * pairing with set_current_state() in ENTER's wait and the smp_mb()
	 * after poll_wait() in poll, each before the waiter re-reads the
	 * condition.
	 */
	if (wq_has_sleeper(&ctx->cq_wait))
		wake_up_interruptible(&ctx->cq_wait);
}

/*
 * A worker's CQE (worker.c), into the slot reserved for it: posted and
 * published at once under cq_lock, and only then its reservation dropped
 * (release: an ENTER that sees the count fall to 0 sees the tail too).
 */
void capchan_post_cqe_locked(struct capchan_ctx *ctx, u64 user_data, long res)
{
	spin_lock(&ctx->cq_lock);
	capchan_post_cqe(ctx, user_data, res);
	capchan_publish_cqes(ctx);
	spin_unlock(&ctx->cq_lock);
	atomic_dec_return_release(&ctx->inflight);
	capchan_wake_cq(ctx);
}

/*
 * How many SQEs one ENTER copies out of the SQ at a time, each straight
 * into the request that runs it (about 1 KiB of its stack).  They are
 * consumed, their CQE slots reserved, and ring_lock let go of before any
 * of them runs.
 */
#define CAPCHAN_SUBMIT_BATCH	8

/* SQEs taken out of the SQ together, their results, who went to a worker */
struct capchan_batch {
	u32			nr;
	u32			posted;		/* the first @posted are done with */
	u32			punted;		/* bit i: SQE i is a worker's */
	/*
	 * Part of a long chain (capchan_chain_run()): the batch's SQEs are
	 * copies of src[0..nr), and the chain goes on to src[src_left - 1].
	 */
	const struct capchan_sqe *src;
	u32			src_left;
	/* the one SQE of a chain run op by op that its next SQEs follow */
	struct capchan_follow	*lead;
	s32			res[CAPCHAN_SUBMIT_BATCH];
	struct capchan_req	reqs[CAPCHAN_SUBMIT_BATCH];
};

/*
 * Copy SQEs from the head, at most @max, ending where a chain ends: how
 * many (0 when the first chain goes on past them).  The copies are what
 * runs and what the chains are read from: a LINK bit flipped in the ring
 * afterwards changes nothing.  ring_lock held; nothing is consumed yet.
 */
static u32 capchan_batch_fill(struct capchan_ctx *ctx, struct capchan_batch *b,
			      u32 max)
{
	u32 head = ctx->cached_sq_head, n = 0, whole = 0;

	lockdep_assert_held(&ctx->ring_lock);
	max = min_t(u32, max, CAPCHAN_SUBMIT_BATCH);
	while (n < max) {
		capchan_sqe_copy(&b->reqs[n].sqe,
				 &ctx->sqes[(head + n) & ctx->sq_mask]);
		if (!(b->reqs[n++].sqe.flags & CAPCHAN_SQE_LINK))
			whole = n;
	}
	b->nr = whole;
	b->posted = 0;
	b->punted = 0;
	b->src = NULL;
	b->lead = NULL;
	return whole;
}

/*
 * A chain that does not end within a batch but does within @max SQEs at
 * the head: copied whole onto the heap (@max is at most
 * CAPCHAN_CHAIN_COPY_MAX: 2 KiB, charged), its length in *@len.
 * Where the ring says it ends bounds the copy; the copies say where it
 * really ends (a LINK bit flipped meanwhile ends it earlier, or leaves it
 * going on: then NULL).  NULL too when it
 * goes on past @max or no memory: it runs op by op under ring_lock.
 */
/* The longest chain copied whole: room for it is kept per channel. */
#define CAPCHAN_CHAIN_COPY_MAX	32

/* Give back copies taken by capchan_chain_copy(): kept if none is. */
static void capchan_chain_put(struct capchan_ctx *ctx, struct capchan_sqe *sqes)
{
	if (cmpxchg(&ctx->chain_spare, NULL, sqes))
		kvfree(sqes);
}

/* not on the path of batches: kept out of capchan_ring_submit() */
static noinline struct capchan_sqe *
capchan_chain_copy(struct capchan_ctx *ctx, u32 max, u32 *len)
{
	u32 head = ctx->cached_sq_head, n, i;
	struct capchan_sqe *sqes;

	lockdep_assert_held(&ctx->ring_lock);
	if (WARN_ON_ONCE(max > CAPCHAN_CHAIN_COPY_MAX))
		return NULL;
	for (n = 0; n < max; n++)
		if (!(READ_ONCE(ctx->sqes[(head + n) & ctx->sq_mask].flags) &
		      CAPCHAN_SQE_LINK))
			break;
	if (n == max)
		return NULL;
	/* the channel's spare (another ENTER may run a long chain too) */
	sqes = xchg(&ctx->chain_spare, NULL);
	if (!sqes)
		sqes = kvmalloc_array(CAPCHAN_CHAIN_COPY_MAX, sizeof(*sqes),
				      CAPCHAN_GFP);
	if (!sqes)
		return NULL;
	for (i = 0; i <= n; i++) {
		capchan_sqe_copy(&sqes[i], &ctx->sqes[(head + i) & ctx->sq_mask]);
		if (!(sqes[i].flags & CAPCHAN_SQE_LINK)) {
			*len = i + 1;
			return sqes;
		}
	}
	capchan_chain_put(ctx, sqes);
	return NULL;
}

/*
 * Post the CQEs of @b's ops before @upto that ran here and are not posted
 * yet into the slots reserved for them, publish them, then drop their
 * reservations (release: a submitter that sees the count fall sees the
 * tail too).  Other ENTERs and workers post beside it: cq_lock orders the
 * tails.
 */
static void capchan_batch_post(struct capchan_ctx *ctx, struct capchan_batch *b,
			       u32 upto)
{
	u32 i, n = 0;

	spin_lock(&ctx->cq_lock);
	for (i = b->posted; i < upto; i++) {
		if (b->punted & BIT(i))
			continue;
		capchan_post_cqe(ctx, b->reqs[i].sqe.user_data, b->res[i]);
		n++;
	}
	if (n)
		capchan_publish_cqes(ctx);
	spin_unlock(&ctx->cq_lock);
	b->posted = upto;
	if (n) {
		atomic_sub_return_release(n, &ctx->inflight);
		capchan_wake_cq(ctx);
	}
}

/*
 * Run SQE @i of @b in chain @c.  An op that would block may go to a
 * worker, with the rest of its chain in @b (or what follows @b->lead).  Returns the number of
 * SQEs it accounted for (1, or the chain it handed over).
 */
static __always_inline u32
capchan_batch_run_one(struct capchan_ctx *ctx, struct capchan_batch *b, u32 i,
		      struct capchan_chain *c)
{
	struct capchan_req *req = &b->reqs[i];
	const struct capchan_sqe *sqe = &req->sqe;
	long res;

	if (!c->in_link) {
		c->failed = false;
		c->handle = 0;
	}
	/* even an SQE rejected for bad flags keeps its chain's shape */
	c->in_link = sqe->flags & CAPCHAN_SQE_LINK;
	if (c->failed) {
		b->res[i] = -ECANCELED;
		return 1;
	}
	capchan_req_init(req);
	/* the poll thread's caller (NULL from ENTER: the caller is here) */
	req->caller_ns = ctx->submit_ns;
	req->may_punt = true;
	res = capchan_execute(ctx, req, &c->handle, true);
	if (unlikely(res == -EIOCBQUEUED)) {
		const struct capchan_sqe *rest;
		u32 end = i, nr_rest;
		size_t stride;

		/* a batch ends where a chain does: the rest is all in it */
		while (end + 1 < b->nr &&
		       (b->reqs[end].sqe.flags & CAPCHAN_SQE_LINK))
			end++;
		rest = &b->reqs[i + 1].sqe;
		stride = sizeof(b->reqs[0]);
		nr_rest = end - i;
		/* a long chain's part: all of the chain after it goes too */
		if (b->src) {
			rest = &b->src[i + 1];
			stride = sizeof(b->src[0]);
			nr_rest = b->src_left - i - 1;
			end = b->nr - 1;
		}
		/*
		 * The chain's ops that ran here post first: the worker posts
		 * the rest as they finish, and a chain's CQEs keep its order.
		 */
		capchan_batch_post(ctx, b, i);
		if (!capchan_workers_punt(ctx, req, c->handle, rest, stride,
					  nr_rest, b->lead)) {
			b->punted |= GENMASK(end, i);
			/* the chain, if any, ends in the worker */
			c->in_link = false;
			return 1 + end - i;
		}
		res = capchan_execute_finish(ctx, req, &c->handle);
	}
	if (res < 0)
		c->failed = true;
	b->res[i] = res;
	return 1;
}

/*
 * Run @b: with @c NULL, whole chains on a chain of their own (ring_lock
 * not held); else SQEs of a chain that spans batches, in @c: part of a
 * long chain with its own state (ring_lock not held, it may go to a
 * worker with the rest) or the one SQE of a chain run op by op with the
 * channel's (ring_lock held; going to a worker, it takes the chain along).
 * Whether an op queued closes (task work) is told to @released.
 */
static void capchan_batch_run(struct capchan_ctx *ctx, struct capchan_batch *b,
			      struct capchan_chain *c, bool *released)
{
	struct capchan_chain own = {};
	u32 i = 0;

	while (i < b->nr) {
		struct callback_head *works = READ_ONCE(current->task_works);

		i += capchan_batch_run_one(ctx, b, i, c ?: &own);
		if (READ_ONCE(current->task_works) != works)
			*released = true;
		cond_resched();
	}
	capchan_batch_post(ctx, b, b->nr);
}

/*
 * Run a chain copied by capchan_chain_copy() (ring_lock not held) through
 * @b, a batch's worth at a time with one chain state: the batch protocol
 * (slots reserved under ring_lock, CQEs posted under cq_lock a batch at a
 * time, the reservations dropped after).  An op that would block goes to
 * a worker with all of the chain after it (copied into the work: @sqes
 * may be freed once this returns).
 */
static noinline void
capchan_chain_run(struct capchan_ctx *ctx, struct capchan_batch *b,
		  const struct capchan_sqe *sqes, u32 len, bool *released)
{
	struct capchan_chain c = {};
	u32 i = 0, j;

	while (i < len) {
		b->nr = min_t(u32, len - i, CAPCHAN_SUBMIT_BATCH);
		b->posted = 0;
		b->punted = 0;
		b->src = &sqes[i];
		b->src_left = len - i;
		b->lead = NULL;
		for (j = 0; j < b->nr; j++)
			b->reqs[j].sqe = sqes[i + j];
		capchan_batch_run(ctx, b, &c, released);
		/* an op went to a worker with all of the chain after it */
		if (b->punted)
			break;
		i += b->nr;
	}
}

/*
 * Ops that may run in one ENTER after one of them let go of a file.  A
 * capability's file is uncharged from its user when capchan lets go of it,
 * but the file is really closed by task work when the syscall returns;
 * without a bound a ring of OPEN+CLOSE pairs would hold thousands of files
 * at once for a user limited to a few (each op opens at most one).  An op
 * that queued task work (fput's) is told by the task's work list head.
 * Counted a whole batch at a time (the ops before the release too), and
 * a batch after a release is cut to what the bound leaves.
 */
#define CAPCHAN_OPS_WHILE_CLOSING	32

/*
 * Are there published SQEs not consumed yet?  Only for the poll thread,
 * the one consumer of an SQPOLL channel, right after its full barrier
 * (sqpoll.c): a plain read of the tail, its own cached head.
 */
bool capchan_sq_pending(struct capchan_ctx *ctx)
{
	return READ_ONCE(ctx->rings->sq_tail) != READ_ONCE(ctx->cached_sq_head);
}

/*
 * How many SQEs at the head may be consumed now, at most @want: published
 * ones whose CQEs have a reserved place, within the in-flight bound.
 * *@busy when SQEs wait but the CQ or the bound has no room.
 */
static u32 capchan_ring_room(struct capchan_ctx *ctx, u32 want, bool *busy)
{
	u32 tail, inflight, space, room;

	lockdep_assert_held(&ctx->ring_lock);
	/* [S1] pairs with the application's store-release of sq_tail */
	tail = smp_load_acquire(&ctx->rings->sq_tail);
	want = min3(want, tail - ctx->cached_sq_head, ctx->sq_entries);
	if (!want)
		return 0;
	/*
	 * The in-flight count before the CQ tail (capchan_cq_space()).
	 * Acquire: a slot whose reservation is seen dropped is seen posted.
	 * Only ring_lock's holder raises the count.
	 */
	inflight = atomic_read_acquire(&ctx->inflight);
	space = capchan_cq_space(ctx, inflight);
	room = inflight < ctx->max_inflight ? ctx->max_inflight - inflight : 0;
	want = min3(want, space, room);
	*busy = !want;
	return want;
}

/* Consume @n SQEs (copied): their CQE slots reserved, the head published. */
static void capchan_ring_consume(struct capchan_ctx *ctx, u32 n)
{
	lockdep_assert_held(&ctx->ring_lock);
	atomic_add(n, &ctx->inflight);
	WRITE_ONCE(ctx->cached_sq_head, ctx->cached_sq_head + n);
	/* [S2] pairs with the application's load-acquire of sq_head */
	smp_store_release(&ctx->rings->sq_head, ctx->cached_sq_head);
}

/*
 * The SQE at the head, of a chain run op by op (longer than a chain
 * copied whole, or going on past what may be consumed now), in the
 * channel's chain state.  Consumed, then put on the list of what the
 * chain follows (worker.c: the ENTER or work running an op of it), or
 * else run here without ring_lock, its state taken out of ctx->chain
 * (given back after), together with the chain's next SQEs at the head:
 * at most @n (the room), a batch, and what the closing bound leaves
 * @closing.  The chain's next SQEs consumed meanwhile follow this caller,
 * at most what that bound leaves after the batch (so that when no worker
 * can take them over they may run here).  An op of it that would block
 * goes to a worker, and the rest of the batch and what follows go along.
 * 0: one consumed, ring_lock still held (followed: nothing ran here); 1:
 * *@taken consumed and run here, ring_lock let go of, *@ran ops run here
 * (with what followed); -EAGAIN: nothing consumed, the caller this chain
 * follows has as many SQEs behind it as it may take; -ENOMEM: nothing
 * consumed.
 */
static noinline int capchan_chain_step(struct capchan_ctx *ctx,
				       struct capchan_batch *b, u32 n,
				       u32 closing, bool *released,
				       u32 *taken, u32 *ran)
{
	struct capchan_chain *c = &ctx->chain, own;
	struct capchan_req *req = &b->reqs[0];
	struct capchan_more *m = NULL;
	struct capchan_follow lead;
	u32 max;
	bool link;
	int f;

	lockdep_assert_held(&ctx->ring_lock);
	f = capchan_workers_following(ctx);
	if (f < 0)
		return f;
	/* ready before the SQE is consumed: it cannot be given back */
	if (f) {
		m = capchan_more_alloc();
		if (!m)
			return -ENOMEM;
	}
	capchan_sqe_copy(&req->sqe,
			 &ctx->sqes[ctx->cached_sq_head & ctx->sq_mask]);
	capchan_ring_consume(ctx, 1);
	link = req->sqe.flags & CAPCHAN_SQE_LINK;
	if (capchan_workers_follow(ctx, &req->sqe, c, &m)) {
		/* the chain goes on, or ends in what it followed */
		c->in_link = link;
		return 0;
	}
	capchan_more_free(m);
	/*
	 * Nothing follows anything now (ring_lock held): the chain's SQEs
	 * after it at the head run with it, one lead for them all.  The
	 * caller stopped before the closing bound: @max is at least 1.
	 */
	max = min3(n, CAPCHAN_OPS_WHILE_CLOSING - closing,
		   (u32)CAPCHAN_SUBMIT_BATCH);
	b->nr = 1;
	while (link && b->nr < max) {
		struct capchan_sqe *sqe = &b->reqs[b->nr++].sqe;

		capchan_sqe_copy(sqe, &ctx->sqes[(ctx->cached_sq_head +
						  b->nr - 2) & ctx->sq_mask]);
		link = sqe->flags & CAPCHAN_SQE_LINK;
	}
	capchan_ring_consume(ctx, b->nr - 1);
	*taken = b->nr;
	/* the state runs with the ops; the ring keeps where the chain is */
	own = *c;
	c->in_link = link;
	b->posted = 0;
	b->punted = 0;
	b->src = NULL;
	b->lead = NULL;
	/* the chain goes on: its next SQEs follow these ops */
	if (link) {
		capchan_workers_lead(ctx, &lead,
				     CAPCHAN_OPS_WHILE_CLOSING - closing - b->nr);
		b->lead = &lead;
	}
	mutex_unlock(&ctx->ring_lock);
	capchan_batch_run(ctx, b, &own, released);
	*ran = b->nr;
	/* handed over, what followed went along; else it goes or runs now */
	if (link && !b->punted)
		*ran += capchan_workers_unlead(ctx, &lead, &own, released);
	return 1;
}

/*
 * Consume up to @to_submit SQEs; each one produces exactly one CQE, and an
 * SQE is consumed only when its CQE has a reserved place.  ring_lock is
 * held only while SQEs are copied out and consumed, a batch at a time: the
 * ops run without it, so an op blocked in one ENTER holds up no other
 * ENTER, INVOKE or fdinfo of the channel.  A chain longer than a batch
 * that ends within what may be consumed now and within the closing bound
 * (32) is copied and consumed whole and runs the same way.  A chain that
 * goes on past that (or from an earlier ENTER) runs a batch at a time,
 * its state the channel's, each batch without ring_lock and the chain's
 * next SQEs following it (capchan_chain_step()), counted against the
 * bound with what followed.  From ENTER or the poll thread.
 * Sets *@cut when it stopped early so the pending closes can run (never
 * in the poll thread: a kernel thread has no task work, its fput()s go to
 * the kernel's delayed work).
 */
long capchan_ring_submit(struct capchan_ctx *ctx, u32 to_submit, bool *cut)
{
	/* each part written before it is read: nr, punted, requests, results */
	struct capchan_batch b __uninitialized;
	struct capchan_sqe *chain;
	u32 done = 0, closing = 0;
	bool released = false, busy = false, whole;
	int err = 0;

	/* what capchan_chain_copy() may be asked for */
	BUILD_BUG_ON(CAPCHAN_OPS_WHILE_CLOSING > CAPCHAN_CHAIN_COPY_MAX);
	/* one pass over the SQ at most, whatever its tail says */
	to_submit = min(to_submit, ctx->sq_entries);
	/* a chain step may block here: waiters must stay killable */
	if (mutex_lock_killable(&ctx->ring_lock))
		return -EINTR;
	while (done < to_submit) {
		u32 n = capchan_ring_room(ctx, to_submit - done, &busy), ran = 0;
		u32 taken = 1;

		if (!n)
			break;
		/* after a release, no batch goes past the bound */
		if (released)
			n = min_t(u32, n, CAPCHAN_OPS_WHILE_CLOSING - closing);
		/* a batch of whole chains, a long chain whole, or one SQE */
		chain = NULL;
		whole = false;
		if (likely(!ctx->chain.in_link)) {
			whole = capchan_batch_fill(ctx, &b, n);
			if (whole) {
				n = b.nr;
			} else {
				/*
				 * Not longer than the closing bound leaves,
				 * whether or not an op released yet: any op
				 * of it may, and a chain run unlocked cannot
				 * be cut.
				 */
				u32 left = CAPCHAN_OPS_WHILE_CLOSING - closing;

				chain = capchan_chain_copy(ctx, min(n, left), &n);
				whole = chain;
			}
		}
		if (unlikely(!whole)) {
			/* SQEs of a chain going on past n */
			int r = capchan_chain_step(ctx, &b, n, closing,
						   &released, &taken, &ran);

			if (r == -EAGAIN && !done && !ctx->sqpoll) {
				/* behind a full ENTER: wait for it, unlocked */
				mutex_unlock(&ctx->ring_lock);
				if (capchan_workers_wait_room(ctx) ||
				    mutex_lock_killable(&ctx->ring_lock))
					return -EINTR;
				continue;
			}
			if (r < 0) {
				err = r == -EAGAIN ? 0 : r;
				break;
			}
			done += taken;
			if (!r) {
				/* it followed: nothing ran here, still locked */
				if (fatal_signal_pending(current))
					break;
				continue;
			}
			/* it ran here (with what followed), unlocked */
		} else {
			capchan_ring_consume(ctx, n);
			mutex_unlock(&ctx->ring_lock);
			if (unlikely(chain)) {
				capchan_chain_run(ctx, &b, chain, n, &released);
				capchan_chain_put(ctx, chain);
			} else {
				capchan_batch_run(ctx, &b, NULL, &released);
			}
			done += n;
			ran = n;
		}
		/* @ran ops ran here without ring_lock */
		if (released)
			closing += ran;
		if (done == to_submit)
			return done;
		if (closing >= CAPCHAN_OPS_WHILE_CLOSING) {
			*cut = true;
			return done;
		}
		/*
		 * A task being killed takes no more SQEs: the mutex looks at
		 * signals only when it has to wait.
		 */
		if (mutex_lock_killable(&ctx->ring_lock))
			return done;
		if (fatal_signal_pending(current))
			break;
	}
	/* [S2] again: a head the application scribbled on is put right */
	smp_store_release(&ctx->rings->sq_head, ctx->cached_sq_head);
	mutex_unlock(&ctx->ring_lock);
	if (done)
		return done;
	/* no memory for an SQE to follow its chain's work: none consumed */
	if (err)
		return err;
	/* SQEs were waiting but the CQ or the bound had no room for even one */
	return busy ? -EBUSY : 0;
}

long capchan_ring_enter(struct capchan_ctx *ctx, const struct capchan_enter *e)
{
	long submitted = 0;
	bool cut = false;
	int err;

	if (e->flags & ~CAPCHAN_ENTER_FLAGS_ALL)
		return -EINVAL;
	/* hot path: plain compares, not memchr_inv() */
	if (e->resv0 || e->resv[0] || e->resv[1])
		return -EINVAL;
	if (!(e->flags & CAPCHAN_ENTER_GETEVENTS) && e->min_complete)
		return -EINVAL;
	/* pairs with setup's smp_store_release(ring_ready): rings fully built */
	if (!smp_load_acquire(&ctx->ring_ready))
		return -EBADFD;
	if (e->min_complete > ctx->cq_entries)
		return -EINVAL;

	if (ctx->sqpoll) {
		/* the thread consumes: to_submit is not looked at */
		err = capchan_sqpoll_enter(ctx, e->flags);
		if (err)
			return err;
	} else if (e->flags & CAPCHAN_ENTER_SQ_WAKEUP) {
		return -EINVAL;
	} else if (e->to_submit) {
		submitted = capchan_ring_submit(ctx, e->to_submit, &cut);
		if (submitted < 0)
			return submitted;
	}

	/*
	 * Stopped early: return now (fewer consumed than asked, as when the CQ
	 * is full) so the closes run; waiting could wait for CQEs of SQEs not
	 * consumed.
	 */
	if ((e->flags & CAPCHAN_ENTER_GETEVENTS) && !cut) {
		err = wait_event_interruptible(ctx->cq_wait,
					       capchan_cq_pending(ctx) >= e->min_complete);
		/* a signal: report it, unless work was already consumed */
		if (err && !submitted)
			return -EINTR;
	}
	return submitted;
}
