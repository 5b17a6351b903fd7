// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - workers: ops from the rings that would block, run off the
 * submitter's path so the next SQE does not wait for them.
 *
 * capchan_ring_submit() runs every op as before, with req->may_punt set.
 * An op that would block (op_file.c: a READ the file answers -EAGAIN
 * under IOCB_NOWAIT, an FSYNC that does real work) or carries
 * CAPCHAN_SQE_ASYNC stops before or in its issue step with -EIOCBQUEUED,
 * still holding everything capchan_execute() took for it: its capability
 * (referenced and entered, so REVOKE's teardown of the object waits for it),
 * its copied paths.  All its checks, the policy hook included, are done.
 * The submitter then hands it here with the rest of its linked chain (the
 * SQEs copied, consumed from the SQ) and a CQE slot reserved for each
 * (ctx->inflight), and goes on.
 *
 * A worker is a kernel thread of the channel, made on demand (at most
 * max_workers, read when one is needed) and gone after CAPCHAN_WORKER_IDLE
 * with nothing to do.  For each work it takes on what the submitter was:
 * the address space (mmgrab()'d at hand-over, entered with
 * mmget_not_zero() + kthread_use_mm() only while the work runs, so a work
 * never keeps a dead process's memory alive while it waits in the queue;
 * gone: -EFAULT), its credentials as the base (the op switches to its
 * capability's, as always), its RLIMIT_FSIZE and RLIMIT_NOFILE, and its
 * memory cgroup.  It runs the punted op's issue step and then the rest of
 * the chain through capchan_execute(), each op checked there as from the
 * rings, posting each CQE under ctx->cq_lock as it completes.
 *
 * Interrupting: a worker accepts SIGKILL from the kernel only
 * (allow_kernel_signal(): user space cannot signal it).  Channel release
 * and the submitting process's exit (or exec: channel flush) send it to
 * the workers running that process's works, under @lock while the work is
 * theirs, so the signal never lands on a later work: the op returns
 * -EINTR (or whatever the interrupted wait returns, -ERESTART* as -EINTR)
 * and the rest of its chain is cancelled.  Release then waits for every
 * worker to be gone before anything they use is freed.
 *
 * A chain run op by op (longer than what an ENTER copies whole, or cut by
 * what one consumes: ring.c; its SQEs at the SQ head taken a batch at a
 * time) follows what runs its ops (@park, a capchan_follow): the ENTER or
 * poll thread that runs them without ring_lock (capchan_workers_lead()),
 * or the work they were handed to, until the chain ends.  Each later SQE
 * of it, consumed under ring_lock by the same process with the same
 * credentials and umask (it runs as the runner: capchan_follow_mine()),
 * is put on that follow's @more list instead of running; any other
 * consumer waits until the runner is done (capchan_workers_wait_room()).
 * An ENTER done with its ops hands what followed them to a worker (a work
 * with no op of its own), or runs it itself when no worker can be made,
 * which is why an ENTER is followed by at most @max SQEs (what the
 * closing bound leaves after its own, ring.c); a worker runs what
 * followed its work after the rest, in order.  Whoever finds
 * none left while the chain goes on gives the chain's state (handle,
 * failed) back (@back) and the next SQE of it runs where it is consumed
 * again.  Both sides decide under @lock, so an SQE is either on the list
 * before the runner looks or finds the state back.
 *
 * Lock order: ring_lock, then workers->lock, then ctx->cq_lock; a submitter
 * hands over with cq_lock not held, and a worker never holds @lock while
 * running an op.
 */
#include "capchan.h"

#include <linux/cgroup.h>
#include <linux/fs_struct.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "capchan_trace.h"

/* a worker with nothing to do for this long goes */
#define CAPCHAN_WORKER_IDLE	(5 * HZ)
#define CAPCHAN_WORKERS_MAX	64

struct capchan_workers {
	spinlock_t		lock;		/* what says @lock below */
	struct list_head	queue;		/* works not started; @lock */
	struct list_head	busy;		/* works running; @lock */
	wait_queue_head_t	idle_wait;	/* idle workers */
	wait_queue_head_t	gone_wait;	/* release, for nr == 0 */
	unsigned int		nr;		/* workers alive; @lock */
	unsigned int		nr_idle;	/* of those, waiting; @lock */
	unsigned int		nr_making;	/* being made, not in @nr; @lock */
	bool			dying;		/* release: cancel, then go; @lock */
	/* what a chain run op by op follows, or NULL; @lock */
	struct capchan_follow	*park;
	/* ENTERs waiting for room behind a followed ENTER */
	wait_queue_head_t	follow_wait;
	/* the chain's state, given back by the work it followed; @lock */
	bool			back;
	bool			back_failed;
	u32			back_handle;
	atomic_long_t		punted;		/* works handed over */
	atomic_long_t		made;		/* workers made */
	atomic_long_t		interrupted;	/* works signalled or cancelled */
};

/* One punted op and the rest of its chain. */
struct capchan_work {
	struct list_head	node;		/* queue or busy; @lock */
	struct task_struct	*worker;	/* running it; @lock */
	struct capchan_ctx	*ctx;
	struct mm_struct	*mm;		/* mmgrab()'d: the submitter's */
	const struct cred	*cred;		/* the submitter's */
	struct mem_cgroup	*memcg;		/* referenced */
	struct pid		*tgid;		/* the submitter's process */
	struct rlimit		fsize, nofile;
	umode_t			umask;		/* the submitter's */
	bool			cancelled;	/* @lock: finish with -EINTR */
	bool			owner_watched;	/* @owner_wait is queued */
	/* on tgid's wait_pidfd: the submitting process's death interrupts */
	wait_queue_entry_t	owner_wait;
	/* the newest filter when it was checked (capchan_policy_since()) */
	const struct capchan_filter_node *filters;
	u32			chain_handle;
	u32			nr_rest;
	/* SQEs of its chain consumed after the hand-over */
	struct capchan_follow	follow;
	/* no op of its own: only what followed an ENTER, in this state */
	bool			no_op;
	bool			chain_failed;
	struct capchan_req	req;		/* the punted op */
	struct capchan_sqe	rest[];		/* the rest of its chain */
};

/* An SQE of a chain that follows its work (capchan_workers_follow()). */
struct capchan_more {
	struct list_head	node;		/* on work->more; @lock */
	struct capchan_sqe	sqe;		/* the consumed copy */
};

int capchan_workers_init(struct capchan_ctx *ctx)
{
	struct capchan_workers *w;

	/* a SETUP that failed after this may be tried again */
	if (ctx->workers)
		return 0;
	w = kzalloc(sizeof(*w), CAPCHAN_GFP);
	if (!w)
		return -ENOMEM;
	spin_lock_init(&w->lock);
	INIT_LIST_HEAD(&w->queue);
	INIT_LIST_HEAD(&w->busy);
	init_waitqueue_head(&w->idle_wait);
	init_waitqueue_head(&w->follow_wait);
	init_waitqueue_head(&w->gone_wait);
	ctx->workers = w;
	return 0;
}

static void capchan_work_free(struct capchan_work *work)
{
	/* the worker ran all of it: never freed while a chain follows it */
	WARN_ON_ONCE(!list_empty(&work->follow.more));
	/* after this no wake-up of the owner's death can reach the work */
	if (work->owner_watched)
		remove_wait_queue(&work->tgid->wait_pidfd, &work->owner_wait);
	put_pid(work->tgid);
	mem_cgroup_put(work->memcg);
	put_cred(work->cred);
	mmdrop(work->mm);
	kvfree(work);
}

/* A result the interrupted wait returned: never a -ERESTART* to user space. */
static long capchan_work_res(long res)
{
	if (res == -ERESTARTSYS || res == -ERESTARTNOINTR ||
	    res == -ERESTARTNOHAND || res == -ERESTART_RESTARTBLOCK)
		return -EINTR;
	return res;
}

/*
 * The op starts here, not at submission: one whose capability was revoked
 * meanwhile (REVOKE returned while it waited in the queue) does not run,
 * and filters attached meanwhile ask about it (capchan_policy_since()).
 * 0, or the op's result.
 */
static long capchan_work_recheck(struct capchan_work *work)
{
	struct capchan_req *req = &work->req;

	if ((req->cap && capchan_cap_is_revoked(req->cap)) ||
	    (req->cap2 && capchan_cap_is_revoked(req->cap2))) {
		trace_capchan_denied(work->ctx->id, req->sqe.opcode,
				     req->sqe.handle, CAPCHAN_DENY_REVOKED,
				     -EKEYREVOKED);
		return -EKEYREVOKED;
	}
	return capchan_policy_since(work->ctx, req, work->filters);
}

/*
 * Run one SQE of the chain after the work's op, in chain state @c, and
 * post its CQE: cancelled once the chain failed, the address space is
 * gone (@mm_in false) or the work was interrupted.
 */
static void capchan_work_next(struct capchan_work *work,
			      const struct capchan_sqe *sqe,
			      struct capchan_chain *c, bool mm_in)
{
	struct capchan_req req;
	long res;

	capchan_req_init(&req);
	req.sqe = *sqe;
	req.caller_ns = work->cred->user_ns;
	/* the SQE copies may have lost a LINK bit: a new chain starts */
	if (!c->in_link) {
		c->failed = false;
		c->handle = 0;
	}
	if (c->failed || !mm_in || fatal_signal_pending(current))
		res = -ECANCELED;
	else
		res = capchan_work_res(capchan_execute(work->ctx, &req,
						       &c->handle, true));
	if (res < 0)
		c->failed = true;
	c->in_link = req.sqe.flags & CAPCHAN_SQE_LINK;
	capchan_post_cqe_locked(work->ctx, req.sqe.user_data, res);
	cond_resched();
}

/*
 * The next SQE that followed @f, taken off its list, or NULL when none is
 * left: then, if the chain still follows @f, its state @c is given back
 * for the SQE of it consumed next (capchan_workers_follow()), and ENTERs
 * waiting for room behind @f are woken.
 */
static struct capchan_more *capchan_follow_next(struct capchan_workers *w,
						struct capchan_follow *f,
						const struct capchan_chain *c)
{
	struct capchan_more *m;
	bool gone = false;

	spin_lock(&w->lock);
	m = list_first_entry_or_null(&f->more, struct capchan_more, node);
	if (m) {
		list_del(&m->node);
	} else if (w->park == f) {
		/* it is followed only by a chain that goes on */
		WARN_ON_ONCE(!c->in_link);
		w->back_failed = c->failed;
		w->back_handle = c->handle;
		WRITE_ONCE(w->back, true);
		/*
		 * Last, release: capchan_workers_follow()'s look without the
		 * lock that sees nothing followed sees the state given back.
		 */
		smp_store_release(&w->park, NULL);
		gone = true;
	}
	spin_unlock(&w->lock);
	/* ENTERs that could not follow may go on now */
	if (gone && wq_has_sleeper(&w->follow_wait))
		wake_up_all(&w->follow_wait);
	return m;
}

/*
 * Run the SQEs of the chain that followed the work, as they come, until
 * there are none (capchan_follow_next()).
 */
static void capchan_work_follow(struct capchan_work *work,
				struct capchan_chain *c, bool mm_in)
{
	struct capchan_more *m;

	while ((m = capchan_follow_next(work->ctx->workers, &work->follow, c))) {
		capchan_work_next(work, &m->sqe, c, mm_in);
		kfree(m);
	}
}

/*
 * Finish a work: its op (unless cancelled, the address space is gone or
 * the recheck refuses it), then the rest of its chain in order, one CQE
 * each.
 */
static void capchan_work_run(struct capchan_work *work, bool cancelled,
			     bool own_fs)
{
	struct capchan_ctx *ctx = work->ctx;
	u32 chain_handle = work->chain_handle;
	struct capchan_chain c;
	bool mm_in = false;
	struct mem_cgroup *old_memcg = NULL;
	const struct cred *old_cred = NULL;
	long res;
	u32 i;

	if (!cancelled && mmget_not_zero(work->mm)) {
		struct task_struct *leader = current->group_leader;

		kthread_use_mm(work->mm);
		mm_in = true;
		old_memcg = set_active_memcg(work->memcg);
		old_cred = override_creds(work->cred);
		/* a kernel thread has a signal_struct of its own */
		task_lock(leader);
		current->signal->rlim[RLIMIT_FSIZE] = work->fsize;
		current->signal->rlim[RLIMIT_NOFILE] = work->nofile;
		task_unlock(leader);
		/* MKDIR and O_CREAT read it from the fs_struct, ours alone */
		if (own_fs)
			WRITE_ONCE(current->fs->umask, work->umask);
	}

	if (work->no_op) {
		c.handle = chain_handle;
		c.failed = work->chain_failed;
		c.in_link = true;
		goto follow;
	}
	work->req.caller_ns = work->cred->user_ns;
	res = mm_in ? capchan_work_recheck(work) : 0;
	if (mm_in && res) {
		/* a non-blocking part already read stays the answer */
		if (work->req.done)
			res = work->req.done;
		capchan_execute_cancel(ctx, &work->req, res);
	} else if (mm_in) {
		res = capchan_work_res(capchan_execute_finish(ctx, &work->req,
							      &chain_handle));
		/* interrupted in a copy to user memory: say why */
		if (res == -EFAULT && READ_ONCE(work->cancelled))
			res = -EINTR;
	} else {
		/* interrupted before it ran, or the submitter's memory is gone */
		res = cancelled ? -EINTR : -EFAULT;
		capchan_execute_cancel(ctx, &work->req, res);
	}
	c.handle = chain_handle;
	c.failed = res < 0;
	c.in_link = work->req.sqe.flags & CAPCHAN_SQE_LINK;
	capchan_post_cqe_locked(ctx, work->req.sqe.user_data, res);

	for (i = 0; i < work->nr_rest; i++)
		capchan_work_next(work, &work->rest[i], &c, mm_in);
follow:
	capchan_work_follow(work, &c, mm_in);

	if (mm_in) {
		revert_creds(old_cred);
		set_active_memcg(old_memcg);
		kthread_unuse_mm(work->mm);
		mmput(work->mm);
	}
}

static int capchan_worker(void *data)
{
	struct capchan_ctx *ctx = data;
	struct capchan_workers *w = ctx->workers;
	/*
	 * Kernel threads share one fs_struct (umask 022): a copy of our own
	 * takes each submitter's umask.  Without memory for it, 022 it is.
	 */
	bool own_fs = !unshare_fs_struct();

	/* only the kernel's SIGKILL (interrupt a work) ever reaches it */
	allow_kernel_signal(SIGKILL);
	current->flags |= PF_NO_SETAFFINITY;

	spin_lock(&w->lock);
	for (;;) {
		struct capchan_work *work;
		bool cancelled;
		long left;

		work = list_first_entry_or_null(&w->queue, struct capchan_work,
						node);
		if (work) {
			list_move_tail(&work->node, &w->busy);
			work->worker = current;
			cancelled = work->cancelled || w->dying;
			spin_unlock(&w->lock);

			capchan_work_run(work, cancelled, own_fs);

			spin_lock(&w->lock);
			list_del(&work->node);
			work->worker = NULL;
			/* a SIGKILL for this work must not reach the next */
			flush_signals(current);
			spin_unlock(&w->lock);
			capchan_work_free(work);
			cond_resched();
			spin_lock(&w->lock);
			continue;
		}
		if (w->dying)
			break;
		w->nr_idle++;
		spin_unlock(&w->lock);
		left = wait_event_timeout(w->idle_wait,
					  READ_ONCE(w->dying) ||
					  !list_empty_careful(&w->queue),
					  CAPCHAN_WORKER_IDLE);
		spin_lock(&w->lock);
		w->nr_idle--;
		if (!left && list_empty(&w->queue))
			break;
	}
	capchan_user_uncharge_worker(ctx->user);
	/* after this unlock @ctx may be freed: touch nothing of it */
	w->nr--;
	if (!w->nr)
		wake_up(&w->gone_wait);
	spin_unlock(&w->lock);
	module_put_and_kthread_exit(0);
}

/* Interrupt one work: cancelled if queued, its worker signalled if running. */
static void capchan_work_interrupt(struct capchan_workers *w,
				   struct capchan_work *work)
{
	lockdep_assert_held(&w->lock);
	if (work->cancelled)
		return;
	atomic_long_inc(&w->interrupted);
	work->cancelled = true;
	/* still this worker's: @lock is held */
	if (work->worker)
		send_sig_info(SIGKILL, SEND_SIG_PRIV, work->worker);
}

/*
 * The submitting process died (its pid's wait_pidfd, woken once the whole
 * thread group has exited, as for a pidfd's poll): interrupt its work.
 * This covers what the channel's flush cannot see: a process that closed
 * its descriptors of the channel before it exited, its rings still mapped.
 * Runs under the wait queue's lock; removed before the work is freed.
 */
static int capchan_work_owner_died(wait_queue_entry_t *wq, unsigned int mode,
				   int sync, void *key)
{
	struct capchan_work *work = container_of(wq, struct capchan_work,
						 owner_wait);
	struct capchan_workers *w = work->ctx->workers;

	spin_lock(&w->lock);
	capchan_work_interrupt(w, work);
	spin_unlock(&w->lock);
	return 0;
}

/* Has the process of @tgid exited, all of it (or been reaped)? */
static bool capchan_pid_dead(struct pid *tgid)
{
	struct task_struct *leader;
	bool dead;

	rcu_read_lock();
	leader = pid_task(tgid, PIDTYPE_TGID);
	dead = !leader || (READ_ONCE(leader->exit_state) &&
			   thread_group_empty(leader));
	rcu_read_unlock();
	return dead;
}

/* Make a worker, counted in w->nr before it runs.  It runs at once. */
static int capchan_worker_make(struct capchan_ctx *ctx)
{
	struct task_struct *t;
	int err;

	/* the user's bound (max_user_workers): -EAGAIN, never shown */
	err = capchan_user_charge_worker(ctx->user, rlimit(RLIMIT_NPROC));
	if (err)
		return err;
	/* the worker's own reference: dropped by its last instruction */
	__module_get(THIS_MODULE);
	t = kthread_create(capchan_worker, ctx, "capchan-wk/%llu", ctx->id);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		goto err_put;
	}
	/*
	 * Into the cgroups of the process that needed it, as vhost does with
	 * its worker, so its CPU time, I/O and the thread itself count where
	 * that process is limited.  A poll thread (root cgroup) makes its
	 * workers where it is.
	 */
	if (!(current->flags & PF_KTHREAD)) {
		err = cgroup_attach_task_all(current, t);
		if (err) {
			/* never woken: the thread function never runs */
			kthread_stop(t);
			goto err_put;
		}
	}
	/* where the submitter may run, as the poll thread (sqpoll.c) */
	set_cpus_allowed_ptr(t, current->cpus_ptr);
	atomic_long_inc(&ctx->workers->made);
	/* counted before it runs: it leaves only with nr-- (capchan_worker()) */
	spin_lock(&ctx->workers->lock);
	ctx->workers->nr++;
	spin_unlock(&ctx->workers->lock);
	wake_up_process(t);
	return 0;

err_put:
	module_put(THIS_MODULE);
	capchan_user_uncharge_worker(ctx->user);
	return err;
}

/*
 * Queued under @lock: what followed @lead (an ENTER, or a work gone
 * before) now follows @work, and so does the chain if it still followed
 * @lead (the chain may have ended among what followed).
 */
static void capchan_work_park(struct capchan_workers *w,
			      struct capchan_work *work,
			      struct capchan_follow *lead)
{
	lockdep_assert_held(&w->lock);
	if (!lead)
		return;
	list_splice_tail_init(&lead->more, &work->follow.more);
	work->follow.nr = lead->nr;
	if (w->park == lead)
		WRITE_ONCE(w->park, &work->follow);
}

/*
 * Does a chain run op by op follow what runs an op of it?  Asked under
 * ring_lock, which every lead (capchan_workers_lead()) holds: 0 (no)
 * stays 0 until then; else it may turn to 0 when the runner is done (a
 * capchan_workers_follow() then finds the state back).  1: get a
 * capchan_more ready.  -EAGAIN: an ENTER is followed by as many SQEs as
 * it may take (capchan_workers_wait_room()).
 */
/* What @f's runner is, for who may follow it (struct capchan_follow). */
static void capchan_follow_init(struct capchan_follow *f, u32 max)
{
	INIT_LIST_HEAD(&f->more);
	f->nr = 0;
	f->max = max;
	f->signal = current->signal;
	f->cred = current_cred();
	f->umask = current_umask();
}

/*
 * May the caller's SQE follow @f?  Only as the same process, credentials
 * and umask: it will run as @f's runner (else another process, or a
 * thread that dropped privileges, would run its ops as the runner).
 */
static bool capchan_follow_mine(const struct capchan_follow *f)
{
	return f->signal == current->signal && f->cred == current_cred() &&
	       f->umask == current_umask();
}

/* 0: nothing followed; 1: room; -EAGAIN: full, or not the caller's */
static int capchan_follow_room(struct capchan_workers *w)
{
	int ret = 1;

	if (!READ_ONCE(w->park))
		return 0;
	spin_lock(&w->lock);
	if (!w->park)
		ret = 0;
	else if (w->park->nr >= w->park->max || !capchan_follow_mine(w->park))
		ret = -EAGAIN;
	spin_unlock(&w->lock);
	return ret;
}

int capchan_workers_following(struct capchan_ctx *ctx)
{
	lockdep_assert_held(&ctx->ring_lock);
	return capchan_follow_room(ctx->workers);
}

/* Memory for an SQE that may follow: ring_lock held, may sleep. */
struct capchan_more *capchan_more_alloc(void)
{
	return kmalloc(sizeof(struct capchan_more), CAPCHAN_GFP);
}

void capchan_more_free(struct capchan_more *m)
{
	kfree(m);
}

/*
 * The SQE of a chain run op by op just consumed (copied in @sqe, its CQE
 * slot reserved): true when it followed the chain's runner, put on its
 * list with *@m (taken: set to NULL), which then runs it and posts its
 * CQE.  Else it runs where it is, in @c, which takes the chain's state
 * back if a runner gave it.  ring_lock held.
 */
bool capchan_workers_follow(struct capchan_ctx *ctx,
			    const struct capchan_sqe *sqe,
			    struct capchan_chain *c, struct capchan_more **m)
{
	struct capchan_workers *w = ctx->workers;
	struct capchan_follow *f;

	lockdep_assert_held(&ctx->ring_lock);
	/*
	 * Nothing followed or given back, the common case: no lock.  Only
	 * ring_lock's holder makes a chain follow anything; a runner gives
	 * the state back before it lets go (release, capchan_follow_next()).
	 */
	if (!smp_load_acquire(&w->park) && !READ_ONCE(w->back))
		return false;
	spin_lock(&w->lock);
	f = w->park;
	/* capchan_workers_following() said so, under this ring_lock */
	if (f && WARN_ON_ONCE(!*m || f->nr >= f->max ||
			      !capchan_follow_mine(f)))
		f = NULL;
	if (f) {
		(*m)->sqe = *sqe;
		list_add_tail(&(*m)->node, &f->more);
		f->nr++;
		*m = NULL;
		/* the chain ends in what it followed: waiters may go on */
		if (!(sqe->flags & CAPCHAN_SQE_LINK))
			WRITE_ONCE(w->park, NULL);
		spin_unlock(&w->lock);
		if (!READ_ONCE(w->park) && wq_has_sleeper(&w->follow_wait))
			wake_up_all(&w->follow_wait);
		return true;
	}
	if (w->back) {
		WRITE_ONCE(w->back, false);
		c->failed = w->back_failed;
		c->handle = w->back_handle;
	}
	spin_unlock(&w->lock);
	return false;
}

/*
 * The caller (ENTER or the poll thread, ring_lock held, the chain's state
 * taken back) is about to run an op of a chain that goes on, without
 * ring_lock: the chain's next SQEs follow @f, at most @max of them.
 */
void capchan_workers_lead(struct capchan_ctx *ctx, struct capchan_follow *f,
			  u32 max)
{
	struct capchan_workers *w = ctx->workers;

	lockdep_assert_held(&ctx->ring_lock);
	capchan_follow_init(f, max);
	spin_lock(&w->lock);
	/* capchan_workers_follow() found nothing followed and took back */
	WARN_ON_ONCE(w->park || w->back);
	WRITE_ONCE(w->park, f);
	spin_unlock(&w->lock);
}

/*
 * Wait, with nothing consumed and ring_lock not held, until what the
 * chain at the SQ head follows has room again for the caller's SQEs (an
 * ENTER full, or another process's or credentials' runner) or is done.
 * 0, or -EINTR when killed.
 */
int capchan_workers_wait_room(struct capchan_ctx *ctx)
{
	struct capchan_workers *w = ctx->workers;

	if (wait_event_killable(w->follow_wait,
				capchan_follow_room(w) != -EAGAIN))
		return -EINTR;
	return 0;
}

/*
 * A work taking on what the caller is (address space, credentials,
 * limits, memory cgroup), with room for @nr_rest SQEs; NULL: no memory.
 */
static struct capchan_work *capchan_work_new(struct capchan_ctx *ctx,
					     u32 chain_handle, u32 nr_rest)
{
	struct task_struct *leader = current->group_leader;
	struct capchan_work *work;

	work = kvzalloc(struct_size(work, rest, nr_rest), CAPCHAN_GFP);
	if (!work)
		return NULL;
	work->ctx = ctx;
	mmgrab(current->mm);
	work->mm = current->mm;
	work->cred = get_current_cred();
	work->memcg = get_mem_cgroup_from_mm(current->mm);
	/* from the poll thread: the process that made it */
	work->tgid = get_pid(capchan_sqpoll_owner(ctx) ?: task_tgid(current));
	task_lock(leader);
	work->fsize = current->signal->rlim[RLIMIT_FSIZE];
	work->nofile = current->signal->rlim[RLIMIT_NOFILE];
	task_unlock(leader);
	work->umask = current_umask();
	work->chain_handle = chain_handle;
	work->nr_rest = nr_rest;
	capchan_follow_init(&work->follow, U32_MAX);
	/* pairs with the store-release in capchan_attach_filter() */
	work->filters = smp_load_acquire(&ctx->filters);
	init_waitqueue_func_entry(&work->owner_wait, capchan_work_owner_died);
	add_wait_queue(&work->tgid->wait_pidfd, &work->owner_wait);
	work->owner_watched = true;
	/* a poll thread's owner may be dying already: no wake-up to come */
	if (capchan_pid_dead(work->tgid))
		work->cancelled = true;
	return work;
}

/*
 * Queue @work for a worker, making one if the channel may have more, and
 * (@lead) have what followed @lead follow it (capchan_work_park()).  0,
 * or no worker at all: the work is freed, the caller runs it inline.
 *
 * A work is queued only while a worker exists (w->nr, under @lock): a
 * worker leaves only with the queue empty under @lock, so a queued work
 * always has one that will see it.  Workers being made are not in w->nr:
 * a make that fails must not leave a work queued on the strength of
 * another submitter's make, which may fail too.
 */
static int capchan_work_queue(struct capchan_ctx *ctx,
			      struct capchan_work *work,
			      struct capchan_follow *lead)
{
	struct capchan_workers *w = ctx->workers;
	unsigned int max = clamp_t(unsigned int, READ_ONCE(capchan_max_workers),
				   1, CAPCHAN_WORKERS_MAX);
	bool grow = false, queued = false;
	int err;

	spin_lock(&w->lock);
	if (w->nr && (w->nr_idle || w->nr + w->nr_making >= max)) {
		list_add_tail(&work->node, &w->queue);
		queued = true;
		capchan_work_park(w, work, lead);
	} else if (w->nr + w->nr_making < max) {
		w->nr_making++;
		grow = true;
	}
	spin_unlock(&w->lock);

	if (!queued) {
		err = grow ? capchan_worker_make(ctx) : -EAGAIN;
		spin_lock(&w->lock);
		if (grow)
			w->nr_making--;
		if (w->nr) {
			list_add_tail(&work->node, &w->queue);
			queued = true;
			capchan_work_park(w, work, lead);
		}
		spin_unlock(&w->lock);
		if (!queued) {
			capchan_work_free(work);
			return err;
		}
	}
	atomic_long_inc(&w->punted);
	wake_up(&w->idle_wait);
	/* an ENTER followed no more: room for those waiting behind it */
	if (lead && wq_has_sleeper(&w->follow_wait))
		wake_up_all(&w->follow_wait);
	return 0;
}

/*
 * Hand @req (stopped with -EIOCBQUEUED) and the @nr_rest SQEs of its chain
 * after it (consumed copies, not started: SQE i at @rest + i *
 * @rest_stride bytes, in a batch's requests or a chain's copies) to a
 * worker, with the CQE slots the submitter reserved for them
 * (ctx->inflight), which the worker drops as it posts.  @lead: @req is
 * the op of a chain run op by op that the caller leads
 * (capchan_workers_lead()): what followed it and the chain go to the
 * work.  0: the work owns @req and the slots; else nothing changed, the
 * caller runs them inline.
 */
int capchan_workers_punt(struct capchan_ctx *ctx, struct capchan_req *req,
			 u32 chain_handle, const struct capchan_sqe *rest,
			 size_t rest_stride, u32 nr_rest,
			 struct capchan_follow *lead)
{
	struct capchan_work *work;
	u32 i;

	if (!current->mm)
		return -EINVAL;
	work = capchan_work_new(ctx, chain_handle, nr_rest);
	if (!work)
		return -ENOMEM;
	work->req = *req;
	for (i = 0; i < nr_rest; i++)
		work->rest[i] = *(const struct capchan_sqe *)
				((const char *)rest + i * rest_stride);
	return capchan_work_queue(ctx, work, lead);
}

/*
 * Run an SQE that followed the caller's op here, in chain state @c, and
 * post its CQE (no worker could take it), as capchan_work_next() does.
 */
static void capchan_follow_run_here(struct capchan_ctx *ctx,
				    const struct capchan_sqe *sqe,
				    struct capchan_chain *c, bool *released)
{
	struct callback_head *works = READ_ONCE(current->task_works);
	struct capchan_req req;
	long res;

	capchan_req_init(&req);
	req.sqe = *sqe;
	req.caller_ns = ctx->submit_ns;
	if (!c->in_link) {
		c->failed = false;
		c->handle = 0;
	}
	if (c->failed || fatal_signal_pending(current))
		res = -ECANCELED;
	else
		res = capchan_execute(ctx, &req, &c->handle, true);
	if (res < 0)
		c->failed = true;
	c->in_link = req.sqe.flags & CAPCHAN_SQE_LINK;
	capchan_post_cqe_locked(ctx, req.sqe.user_data, res);
	if (READ_ONCE(current->task_works) != works)
		*released = true;
	cond_resched();
}

/*
 * The caller ran the op it led with (capchan_workers_lead()) here, in
 * chain state @c: what followed it goes to a worker, a work of no op of
 * its own in that state; or, when no worker can be made, runs here (at
 * most f->max SQEs; whether one queued closes is told to @released).
 * With nothing followed, the state is given back.  The number of SQEs run
 * here.
 */
u32 capchan_workers_unlead(struct capchan_ctx *ctx, struct capchan_follow *f,
			   struct capchan_chain *c, bool *released)
{
	struct capchan_workers *w = ctx->workers;
	struct capchan_work *work;
	struct capchan_more *m;
	u32 n = 0;

	/*
	 * A look without the lock (only the caller takes entries off): one
	 * put on meanwhile is run here below, within f->max like any.
	 */
	if (!list_empty(&f->more) && current->mm) {
		work = capchan_work_new(ctx, c->handle, 0);
		if (work) {
			work->no_op = true;
			work->chain_failed = c->failed;
			if (!capchan_work_queue(ctx, work, f))
				return 0;
		}
	}
	/* nothing followed, or no worker: here, then the state given back */
	while ((m = capchan_follow_next(w, f, c))) {
		capchan_follow_run_here(ctx, &m->sqe, c, released);
		kfree(m);
		n++;
	}
	return n;
}

/*
 * Interrupt the works of @tgid (all with NULL): queued ones are marked
 * cancelled (they finish with -EINTR and never run), running ones get
 * SIGKILL while still theirs.
 */
static void capchan_workers_interrupt(struct capchan_workers *w,
				      struct pid *tgid)
{
	struct capchan_work *work;

	spin_lock(&w->lock);
	list_for_each_entry(work, &w->queue, node)
		if (!tgid || work->tgid == tgid)
			capchan_work_interrupt(w, work);
	list_for_each_entry(work, &w->busy, node)
		if (!tgid || work->tgid == tgid)
			capchan_work_interrupt(w, work);
	spin_unlock(&w->lock);
}

/*
 * Channel flush (a close of one of its descriptors).  One by a process
 * that is exiting, or closing it in execve (O_CLOEXEC: on 6.1 before the
 * address space is replaced, on 6.12 after, so in_execve says it, not
 * the mm), interrupts that process's works: they would keep its old
 * address space alive, and with its mapping of the rings this very
 * channel, for as long as they block.  Others' works are not touched,
 * nor are the process's own on any other close.
 */
void capchan_workers_cancel_task(struct capchan_ctx *ctx)
{
	if (!ctx->workers)
		return;
	if (!(current->flags & PF_EXITING) && !current->in_execve)
		return;
	capchan_workers_interrupt(ctx->workers, task_tgid(current));
}

static bool capchan_workers_gone(struct capchan_workers *w)
{
	bool gone;

	spin_lock(&w->lock);
	gone = !w->nr;
	spin_unlock(&w->lock);
	return gone;
}

/*
 * Release: nothing submits any more (no ENTER, the poll thread stopped).
 * Interrupt every work, let the workers finish them (-EINTR CQEs into the
 * rings nobody reads, the capabilities let go of) and wait until the last
 * worker is gone.
 */
void capchan_workers_destroy(struct capchan_ctx *ctx)
{
	struct capchan_workers *w = ctx->workers;

	if (!w)
		return;
	spin_lock(&w->lock);
	w->dying = true;
	spin_unlock(&w->lock);
	capchan_workers_interrupt(w, NULL);
	wake_up_all(&w->idle_wait);
	wait_event(w->gone_wait, capchan_workers_gone(w));
	WARN_ON_ONCE(atomic_read(&ctx->inflight));
	kfree(w);
	ctx->workers = NULL;
}

void capchan_workers_show_fdinfo(struct capchan_ctx *ctx, struct seq_file *m)
{
	struct capchan_workers *w = ctx->workers;
	unsigned int nr = 0, idle = 0;

	if (w) {
		spin_lock(&w->lock);
		nr = w->nr;
		idle = w->nr_idle;
		spin_unlock(&w->lock);
	}
	seq_printf(m, "inflight:\t%d\nmax-inflight:\t%u\nworkers:\t%u\nworkers-idle:\t%u\n",
		   atomic_read(&ctx->inflight), ctx->max_inflight, nr, idle);
	seq_printf(m, "worker-punted:\t%ld\nworkers-made:\t%ld\nworker-interrupted:\t%ld\n",
		   w ? atomic_long_read(&w->punted) : 0,
		   w ? atomic_long_read(&w->made) : 0,
		   w ? atomic_long_read(&w->interrupted) : 0);
}
