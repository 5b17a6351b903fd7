// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the poll thread (CAPCHAN_SETUP_SQPOLL).
 *
 * One kernel thread per channel consumes the SQ through the path ENTER
 * uses (capchan_ring_submit(): the same ops, the same linked chains, the
 * same CQ-space rule), so a submitter that finds it
 * awake makes no system call at all.  Idle for sq_thread_idle ms, it sets
 * CAPCHAN_SQ_NEED_WAKEUP and sleeps; ENTER(CAPCHAN_ENTER_SQ_WAKEUP) wakes
 * it.  The protocol, whose both halves must keep their full barrier [W1]:
 *
 *   submitter                          thread
 *   store-release sq_tail  [S1]        store sq_flags |= NEED_WAKEUP
 *   smp_mb()               [W1]        smp_mb()                [W1]
 *   load sq_flags                      load sq_tail
 *   NEED_WAKEUP: ENTER(SQ_WAKEUP)      SQ empty: sleep
 *
 * Each side's load comes after its own store, so at least one of them sees
 * the other's: either the thread finds the SQE or the submitter wakes it
 * (the thread is already on its waitqueue when it sets the flag, so the
 * wake-up cannot fall between its check and its sleep).
 *
 * What the thread runs ops as: the SETUP caller.  It takes a reference to
 * that caller's address space (mmgrab, not mm_users: the thread never keeps
 * the address space alive) and enters it around each batch with
 * mmget_not_zero() + kthread_use_mm(): user buffers are those of the
 * process that called SETUP, whoever wrote the SQE (a forked child shares
 * the rings, not the address space).  Once that address space is gone (the
 * process exited or called execve) the thread consumes nothing more and
 * ENTER fails with -EOWNERDEAD; SQEs still in the SQ are never consumed.
 * It acts with a copy of the caller's credentials around each batch
 * (override_creds(): the base under each capability's, which ops switch
 * to as under ENTER; the policy hook's caller_uid sees the caller's, STAT
 * maps ids in the caller's namespace through ctx->submit_ns) but never
 * commits them: its own stay the kernel's, so the caller has no owner's
 * rights over the thread (ptrace_may_access(), its /proc links, signals);
 * it copies the caller's
 * rlimits at SETUP (RLIMIT_NOFILE for the file charge, RLIMIT_FSIZE for
 * WRITE; later setrlimit() calls are not followed) and charges what it
 * allocates to the caller's memory cgroup, and takes its umask at SETUP
 * (in an fs_struct of its own).  What it cannot take over: the policy
 * hook's pid (the thread's own), and task work: its fput()s go to the kernel's delayed fput work,
 * so ENTER's cut after CAPCHAN_OPS_WHILE_CLOSING ops does not apply;
 * files let go of are closed by that work within a jiffy or so.  EXPORT
 * and IMPORT name file descriptors and are INVOKE-only (-EOPNOTSUPP from
 * the rings): the thread never touches a file table.
 *
 * No privilege is needed, as for io_uring's since 5.11; each user has at
 * most max_user_sqpoll poll threads (-EAGAIN), and SQ_AFF pins only to a
 * CPU the caller may run on itself.  An unpinned thread keeps the caller's
 * CPU mask for good: being a kernel thread it is in no cpuset of the
 * caller's, so nobody may move it with sched_setaffinity(2).
 */
#include "capchan.h"

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/fs_struct.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/memcontrol.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

struct capchan_sqpoll {
	struct task_struct	*thread;
	struct mm_struct	*mm;		/* mmgrab()'d: the SETUP caller's */
	struct pid		*owner;		/* the SETUP caller's process */
	/* the caller's: the thread's subjective credentials around each batch */
	const struct cred	*cred;
	struct mem_cgroup	*memcg;		/* the caller's, with a reference */
	struct rlimit		rlim[RLIM_NLIMITS];
	umode_t			umask;		/* the caller's, at SETUP */
	wait_queue_head_t	wait;		/* the thread, asleep */
	unsigned long		idle;		/* jiffies */
	u32			idle_ms;
	int			cpu;		/* -1: not pinned */
	u32			sq_flags;	/* what the thread last wrote */
	bool			owner_gone;	/* the address space is gone */
	atomic_long_t		wakeups;	/* ENTER(SQ_WAKEUP) calls */
	atomic_long_t		sleeps;		/* idle sleeps */
	atomic_long_t		ops;		/* SQEs consumed */
};

/* SETUP's rules for the poll thread fields; before anything is made. */
int capchan_sqpoll_check(const struct capchan_params *p)
{
	if (!(p->flags & CAPCHAN_SETUP_SQPOLL))
		return (p->flags & CAPCHAN_SETUP_SQ_AFF) || p->sq_thread_cpu ||
		       p->sq_thread_idle ? -EINVAL : 0;
	if (p->sq_thread_idle > CAPCHAN_SQ_THREAD_IDLE_MAX)
		return -EINVAL;
	if (!(p->flags & CAPCHAN_SETUP_SQ_AFF))
		return p->sq_thread_cpu ? -EINVAL : 0;
	/* online is checked again under cpus_read_lock() when binding */
	if (p->sq_thread_cpu >= nr_cpu_ids || !cpu_online(p->sq_thread_cpu) ||
	    !cpumask_test_cpu(p->sq_thread_cpu, current->cpus_ptr))
		return -EINVAL;
	return 0;
}

/* The thread is the only writer of the flags word. */
static void capchan_sqpoll_set_flags(struct capchan_ctx *ctx, u32 flags)
{
	ctx->sqpoll->sq_flags = flags;
	WRITE_ONCE(ctx->rings->sq_flags, flags);
}

/*
 * One batch in the SETUP caller's address space: everything published,
 * as far as the CQ has room.  The SQEs consumed, 0 for none (an empty SQ
 * or a full CQ), -EOWNERDEAD once the address space is gone.
 */
static long capchan_sqpoll_batch(struct capchan_ctx *ctx)
{
	struct capchan_sqpoll *sq = ctx->sqpoll;
	struct mem_cgroup *old_memcg;
	const struct cred *old_cred;
	bool cut = false;
	long done;

	if (!capchan_sq_pending(ctx))
		return 0;
	if (!mmget_not_zero(sq->mm)) {
		WRITE_ONCE(sq->owner_gone, true);
		return -EOWNERDEAD;
	}
	kthread_use_mm(sq->mm);
	old_memcg = set_active_memcg(sq->memcg);
	old_cred = override_creds(sq->cred);
	done = capchan_ring_submit(ctx, ctx->sq_entries, &cut);
	revert_creds(old_cred);
	set_active_memcg(old_memcg);
	kthread_unuse_mm(sq->mm);
	/*
	 * May be the last user: the address space is torn down here, and the
	 * channel file its mapping held is let go of through delayed fput,
	 * never released in this thread (release waits for it).
	 */
	mmput(sq->mm);
	if (done < 0)		/* -EBUSY: the CQ is full, wait for the reaper */
		return 0;
	atomic_long_add(done, &sq->ops);
	return done;
}

/*
 * Take over the SETUP caller's rlimits and umask (in an fs_struct of the
 * thread's own: kernel threads share one, 022; without memory for a copy
 * the thread keeps that one).  Its credentials are not
 * committed: the thread's own (objective) ones stay the kernel's, and it
 * acts with the caller's only around each batch (override_creds()).  With
 * the caller's committed, the caller passed ptrace_may_access() for the
 * thread whenever it was inside a batch (its mm then the caller's,
 * dumpable): /proc/<tid>/root and cwd led out of a chroot.
 */
static void capchan_sqpoll_become_owner(struct capchan_sqpoll *sq)
{
	struct task_struct *leader = current->group_leader;

	/* a kernel thread has a signal_struct of its own: no one else's */
	task_lock(leader);
	memcpy(current->signal->rlim, sq->rlim, sizeof(sq->rlim));
	task_unlock(leader);
	if (!unshare_fs_struct())
		WRITE_ONCE(current->fs->umask, sq->umask);
	/* nobody moves it out of the caller's CPUs (top of file) */
	current->flags |= PF_NO_SETAFFINITY;
}

static int capchan_sqpoll_thread(void *data)
{
	struct capchan_ctx *ctx = data;
	struct capchan_sqpoll *sq = ctx->sqpoll;
	unsigned long idle_end;
	DEFINE_WAIT(wait);

	capchan_sqpoll_become_owner(sq);
	idle_end = jiffies + sq->idle;
	while (!kthread_should_stop()) {
		long done = capchan_sqpoll_batch(ctx);

		if (done > 0 || (!done && time_before(jiffies, idle_end))) {
			if (done > 0)
				idle_end = jiffies + sq->idle;
			cond_resched();
			continue;
		}

		/* on the waitqueue before the flag: no wake-up falls between */
		prepare_to_wait(&sq->wait, &wait, TASK_INTERRUPTIBLE);
		capchan_sqpoll_set_flags(ctx, sq->sq_flags | CAPCHAN_SQ_NEED_WAKEUP);
		/* [W1] pairs with the submitter's full barrier after its tail store */
		smp_mb();
		if ((!READ_ONCE(sq->owner_gone) && capchan_sq_pending(ctx)) ||
		    kthread_should_stop()) {
			capchan_sqpoll_set_flags(ctx, sq->sq_flags & ~CAPCHAN_SQ_NEED_WAKEUP);
			finish_wait(&sq->wait, &wait);
			/* SQEs a full CQ holds back: poll on until it is reaped */
			cond_resched();
			continue;
		}
		atomic_long_inc(&sq->sleeps);
		schedule();
		finish_wait(&sq->wait, &wait);
		capchan_sqpoll_set_flags(ctx, sq->sq_flags & ~CAPCHAN_SQ_NEED_WAKEUP);
		idle_end = jiffies + sq->idle;
	}
	return 0;
}

static void capchan_sqpoll_free(struct capchan_ctx *ctx)
{
	struct capchan_sqpoll *sq = ctx->sqpoll;

	ctx->submit_ns = NULL;
	put_cred(sq->cred);
	mem_cgroup_put(sq->memcg);
	put_pid(sq->owner);
	mmdrop(sq->mm);
	capchan_user_uncharge_sqpoll(ctx->user);
	kfree(sq);
	ctx->sqpoll = NULL;
}

/*
 * Make the thread, not running yet: SETUP publishes the rings, then
 * capchan_sqpoll_start() wakes it.  ctx->lock held (SETUP).
 */
int capchan_sqpoll_create(struct capchan_ctx *ctx, const struct capchan_params *p)
{
	struct capchan_sqpoll *sq;
	struct task_struct *t;
	int err;

	lockdep_assert_held(&ctx->lock);
	err = capchan_user_charge_sqpoll(ctx->user);
	if (err)
		return err;
	sq = kzalloc(sizeof(*sq), CAPCHAN_GFP);
	if (!sq) {
		capchan_user_uncharge_sqpoll(ctx->user);
		return -ENOMEM;
	}
	sq->cred = prepare_creds();
	if (!sq->cred) {
		kfree(sq);
		capchan_user_uncharge_sqpoll(ctx->user);
		return -ENOMEM;
	}
	/* STAT shows ids as the caller sees them (capchan_req_ns()) */
	ctx->submit_ns = sq->cred->user_ns;
	mmgrab(current->mm);
	sq->mm = current->mm;
	sq->owner = get_pid(task_tgid(current));
	sq->memcg = get_mem_cgroup_from_mm(current->mm);
	task_lock(current->group_leader);
	memcpy(sq->rlim, current->signal->rlim, sizeof(sq->rlim));
	task_unlock(current->group_leader);
	sq->umask = current_umask();
	init_waitqueue_head(&sq->wait);
	sq->idle_ms = p->sq_thread_idle ?: CAPCHAN_SQ_THREAD_IDLE_DEFAULT;
	sq->idle = msecs_to_jiffies(sq->idle_ms);
	sq->cpu = -1;
	atomic_long_set(&sq->wakeups, 0);
	atomic_long_set(&sq->sleeps, 0);
	atomic_long_set(&sq->ops, 0);
	ctx->sqpoll = sq;

	t = kthread_create_on_node(capchan_sqpoll_thread, ctx,
				   page_to_nid(ctx->ring_pages),
				   "capchan-sq/%llu", ctx->id);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		goto err_free;
	}
	sq->thread = t;
	if (p->flags & CAPCHAN_SETUP_SQ_AFF) {
		cpus_read_lock();
		if (cpu_online(p->sq_thread_cpu)) {
			kthread_bind(t, p->sq_thread_cpu);
			sq->cpu = p->sq_thread_cpu;
		} else {
			err = -EINVAL;
		}
		cpus_read_unlock();
		if (err)
			goto err_stop;
	} else {
		/* only where the caller may run, for good (top of file) */
		err = set_cpus_allowed_ptr(t, current->cpus_ptr);
		if (err)
			goto err_stop;
	}
	return 0;

err_stop:
	/* never woken: the thread function never runs */
	kthread_stop(t);
err_free:
	capchan_sqpoll_free(ctx);
	return err;
}

void capchan_sqpoll_start(struct capchan_ctx *ctx)
{
	wake_up_process(ctx->sqpoll->thread);
}

/*
 * Release: stop the thread before anything it uses goes.  kthread_stop()
 * returns once it has left its loop: a batch it began is finished, its
 * CQEs are posted, and no op starts after.
 */
void capchan_sqpoll_destroy(struct capchan_ctx *ctx)
{
	if (!ctx->sqpoll)
		return;
	kthread_stop(ctx->sqpoll->thread);
	capchan_sqpoll_free(ctx);
}

/*
 * The process the poll thread submits for, when @current is that thread:
 * an op it hands to a worker is that process's, interrupted at its exit
 * (worker.c).  NULL for anyone else.
 */
struct pid *capchan_sqpoll_owner(struct capchan_ctx *ctx)
{
	if (ctx->sqpoll && current == ctx->sqpoll->thread)
		return ctx->sqpoll->owner;
	return NULL;
}

/* ENTER on an SQPOLL channel: the address space must be there; wake. */
int capchan_sqpoll_enter(struct capchan_ctx *ctx, u32 flags)
{
	struct capchan_sqpoll *sq = ctx->sqpoll;

	/* mm_users never comes back from 0: the thread would consume nothing */
	if (READ_ONCE(sq->owner_gone) || !atomic_read(&sq->mm->mm_users))
		return -EOWNERDEAD;
	if (flags & CAPCHAN_ENTER_SQ_WAKEUP) {
		atomic_long_inc(&sq->wakeups);
		wake_up(&sq->wait);
	}
	return 0;
}

void capchan_sqpoll_show_fdinfo(struct capchan_ctx *ctx, struct seq_file *m)
{
	struct capchan_sqpoll *sq = ctx->sqpoll;

	/* 0 when the reader's pid namespace does not see the thread */
	seq_printf(m, "sq-thread-pid:\t%d\nsq-thread-cpu:\t%d\nsq-thread-idle-ms:\t%u\n",
		   task_pid_nr_ns(sq->thread, task_active_pid_ns(current)),
		   sq->cpu, sq->idle_ms);
	seq_printf(m, "sq-thread-wakeups:\t%ld\nsq-thread-idle-sleeps:\t%ld\nsq-thread-ops:\t%ld\nsq-thread-owner-gone:\t%d\n",
		   atomic_long_read(&sq->wakeups), atomic_long_read(&sq->sleeps),
		   atomic_long_read(&sq->ops), READ_ONCE(sq->owner_gone) ||
		   !atomic_read(&sq->mm->mm_users));
}
