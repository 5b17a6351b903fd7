// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the channel file: open/release, the bootstrap ioctls, mmap,
 * poll and fdinfo.
 */
#include "capchan.h"

#include <linux/atomic.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "capchan_trace.h"

static atomic64_t capchan_next_id = ATOMIC64_INIT(0);

static int capchan_chan_open(struct inode *inode, struct file *file)
{
	struct capchan_ctx *ctx;
	int err;

	err = capchan_may_open();
	if (err)
		return err;
	ctx = kzalloc(sizeof(*ctx), CAPCHAN_GFP);
	if (!ctx)
		return -ENOMEM;
	ctx->user = capchan_user_get_current();
	if (IS_ERR(ctx->user)) {
		err = PTR_ERR(ctx->user);
		goto err_ctx;
	}
	err = capchan_user_charge_channel(ctx->user);
	if (err)
		goto err_user;
	mutex_init(&ctx->lock);
	mutex_init(&ctx->ring_lock);
	spin_lock_init(&ctx->cq_lock);
	init_waitqueue_head(&ctx->cq_wait);
	capchan_table_init(&ctx->table);
	ctx->id = atomic64_inc_return(&capchan_next_id);
	file->private_data = ctx;
	return stream_open(inode, file);

err_user:
	capchan_user_put(ctx->user);
err_ctx:
	kfree(ctx);
	return err;
}

static int capchan_chan_release(struct inode *inode, struct file *file)
{
	struct capchan_ctx *ctx = file->private_data;

	/*
	 * No ioctl is running: each holds the file.  First the poll thread,
	 * then the workers: once they are gone no op runs, nothing below is
	 * in use.
	 */
	capchan_sqpoll_destroy(ctx);
	capchan_workers_destroy(ctx);
	capchan_table_destroy(&ctx->table);
	capchan_free_filters(ctx);
	capchan_ring_free(ctx);
	capchan_user_uncharge_channel(ctx->user);
	capchan_user_put(ctx->user);
	mutex_destroy(&ctx->ring_lock);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

/*
 * Every close of a descriptor of the channel.  One from a process that is
 * exiting (or closing it at execve) interrupts that process's ops in
 * workers, which hold its old address space (and, through the rings'
 * mapping there, this very file) for as long as they block.
 */
static int capchan_chan_flush(struct file *file, fl_owner_t id)
{
	struct capchan_ctx *ctx = file->private_data;

	/* pairs with setup's smp_store_release(ring_ready): workers made */
	if (smp_load_acquire(&ctx->ring_ready))
		capchan_workers_cancel_task(ctx);
	return 0;
}

/*
 * GRANT: the only way authority enters a channel.  It never gives more than
 * the fd already gives: a FILE capability gets READ/WRITE only if the file
 * was opened for them.  A DIR's READ/WRITE are the ceiling for files opened
 * beneath it, which are themselves checked by DAC at open time, so they are
 * not tied to the directory fd's own open mode.  The capability carries the
 * caller's credentials: whatever is done through it later, by whichever
 * process, is done with the authority of the one who granted it.
 *
 * The handle is reserved first and copied out before the capability is
 * installed, so a bad output pointer leaves nothing behind.
 */
static long capchan_grant(struct capchan_ctx *ctx, struct capchan_grant __user *ug)
{
	struct capchan_grant g;
	struct capchan_obj *obj;
	struct capchan_cap *cap;
	struct file *file;
	umode_t mode;
	int handle;
	long err;
	u32 type;

	if (copy_from_user(&g, ug, sizeof(g)))
		return -EFAULT;
	/* handle and cap_type are output-only: ignored on input */
	if (g.flags || memchr_inv(g.resv, 0, sizeof(g.resv)))
		return -EINVAL;
	if (g.rights & ~CAPCHAN_RIGHTS_ALL)
		return -EINVAL;

	file = fget(g.fd);
	if (!file)
		return -EBADF;
	mode = file_inode(file)->i_mode;
	if (S_ISDIR(mode)) {
		type = CAPCHAN_CAP_DIR;
		/* listing reads the directory itself: an O_PATH fd cannot */
		if ((g.rights & CAPCHAN_RIGHT_LIST) && !(file->f_mode & FMODE_READ)) {
			err = -EPERM;
			goto out_fput;
		}
	} else if (S_ISREG(mode)) {
		type = CAPCHAN_CAP_FILE;
		if (((g.rights & CAPCHAN_RIGHT_READ) && !(file->f_mode & FMODE_READ)) ||
		    ((g.rights & CAPCHAN_RIGHT_WRITE) && !(file->f_mode & FMODE_WRITE))) {
			err = -EPERM;
			goto out_fput;
		}
	} else {
		err = -EINVAL;
		goto out_fput;
	}

	if (mutex_lock_killable(&ctx->lock)) {
		err = -EINTR;
		goto out_fput;
	}
	if (ctx->sealed) {
		err = -EPERM;
		goto out_unlock;
	}
	handle = capchan_table_reserve(&ctx->table);
	if (handle < 0) {
		err = handle;
		goto out_unlock;
	}
	obj = capchan_obj_new(file, ctx->user);
	if (IS_ERR(obj)) {
		err = PTR_ERR(obj);
		goto out_cancel;
	}
	cap = capchan_cap_new_root(obj, type, g.rights, ctx->user);
	capchan_obj_put(obj);		/* the capability holds its own */
	if (IS_ERR(cap)) {
		err = PTR_ERR(cap);
		goto out_cancel;
	}
	if (put_user(handle, &ug->handle) || put_user(type, &ug->cap_type)) {
		capchan_cap_put(cap);
		err = -EFAULT;
		goto out_cancel;
	}
	capchan_table_commit(&ctx->table, handle, cap);
	trace_capchan_cap(CAPCHAN_CAP_CREATED, ctx->id, handle, type, g.rights,
			  from_kuid_munged(current_user_ns(), current_fsuid()),
			  0, 1);
	err = 0;
	goto out_unlock;

out_cancel:
	capchan_table_cancel(&ctx->table, handle);
out_unlock:
	mutex_unlock(&ctx->lock);
out_fput:
	fput(file);
	return err;
}

/* SEAL: no GRANT from now on; CAPCHAN_SEAL_IMPORT: no IMPORT either. */
static long capchan_seal(struct capchan_ctx *ctx, unsigned long flags)
{
	if (flags & ~(unsigned long)CAPCHAN_SEAL_FLAGS_ALL)
		return -EINVAL;
	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	/* only ever tighter; fdinfo reads it without the lock */
	WRITE_ONCE(ctx->sealed, ctx->sealed | CAPCHAN_SEALED | flags);
	mutex_unlock(&ctx->lock);
	return 0;
}

static long capchan_ioc_version(void __user *arg)
{
	struct capchan_version v;

	if (copy_from_user(&v, arg, sizeof(v)))
		return -EFAULT;
	/* everything but resv is output-only and ignored on input */
	if (memchr_inv(v.resv, 0, sizeof(v.resv)))
		return -EINVAL;
	v.abi_version = CAPCHAN_ABI_VERSION;
	v.features = capchan_features();
	v.ops = capchan_ops_enabled();
	v.rights = CAPCHAN_RIGHTS_ALL;
	v.max_sq_entries = CAPCHAN_MAX_SQ_ENTRIES;
	v.max_cq_entries = CAPCHAN_MAX_CQ_ENTRIES;
	v.max_caps = READ_ONCE(capchan_max_caps);
	v.max_depth = READ_ONCE(capchan_max_depth);
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long capchan_ioc_setup(struct capchan_ctx *ctx, void __user *arg)
{
	struct capchan_params p;
	long ret;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	ret = capchan_ring_setup(ctx, &p);
	mutex_unlock(&ctx->lock);
	if (ret)
		return ret;
	/* on a failed copy-out the rings stay set up; a retry gets -EBUSY */
	return copy_to_user(arg, &p, sizeof(p)) ? -EFAULT : 0;
}

static long capchan_ioc_invoke(struct capchan_ctx *ctx, void __user *arg)
{
	/* all of it written below (capchan_req_init(), the copy) */
	struct capchan_req req __uninitialized;
	u32 no_chain = 0;

	capchan_req_init(&req);
	/* one copy, then only the kernel copy is looked at */
	if (copy_from_user(&req.sqe, arg, sizeof(req.sqe)))
		return -EFAULT;
	/* a chain, or a worker to run it: INVOKE runs one op itself */
	if (req.sqe.flags & (CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC))
		return -EINVAL;
	/* no channel lock: INVOKEs of many threads run side by side */
	return capchan_execute(ctx, &req, &no_chain, false);
}

static long capchan_chan_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct capchan_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;
	struct capchan_enter e;

	switch (cmd) {
	case CAPCHAN_IOC_VERSION:
		return capchan_ioc_version(argp);
	case CAPCHAN_IOC_SETUP:
		return capchan_ioc_setup(ctx, argp);
	case CAPCHAN_IOC_GRANT:
		return capchan_grant(ctx, argp);
	case CAPCHAN_IOC_SEAL:
		return capchan_seal(ctx, arg);
	case CAPCHAN_IOC_ENTER:
		if (copy_from_user(&e, argp, sizeof(e)))
			return -EFAULT;
		return capchan_ring_enter(ctx, &e);
	case CAPCHAN_IOC_INVOKE:
		return capchan_ioc_invoke(ctx, argp);
	case CAPCHAN_IOC_FILTER:
		return capchan_attach_filter(ctx, argp);
	default:
		return -ENOTTY;
	}
}

static int capchan_chan_mmap(struct file *file, struct vm_area_struct *vma)
{
	return capchan_ring_mmap(file->private_data, vma);
}

static __poll_t capchan_chan_poll(struct file *file, poll_table *wait)
{
	struct capchan_ctx *ctx = file->private_data;
	__poll_t mask = 0;

	/* register even before SETUP, so an early epoll_ctl still wakes up */
	poll_wait(file, &ctx->cq_wait, wait);
	/*
	 * Full barrier between joining the waitqueue and reading the CQ
	 * tail: pairs with wq_has_sleeper()'s barrier after the submitter's
	 * tail store (capchan_submit_sqes), as sock_poll_wait() does.
	 */
	smp_mb();
	/* pairs with setup's smp_store_release(ring_ready): rings fully built */
	if (!smp_load_acquire(&ctx->ring_ready))
		return 0;
	if (capchan_cq_pending(ctx))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/*
 * Takes no mutex: an op blocked on another thread (in a chain holding
 * ring_lock, or no lock at all) never stalls it.  The ring indices and
 * counters are snapshots; the table is walked under its spinlock, in one hold so the
 * count matches the lines (an op waits for the walk: about 1.5 s at
 * 400,000 capabilities under TCG, microseconds at the default max_caps).
 */
static void capchan_chan_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct capchan_ctx *ctx = file->private_data;
	struct capchan_table *t = &ctx->table;
	struct user_namespace *ns = current_user_ns();
	u32 i, sealed = READ_ONCE(ctx->sealed);

	seq_printf(m, "channel-id:\t%llu\n", ctx->id);
	/* pairs with setup's smp_store_release(ring_ready): rings fully built */
	if (smp_load_acquire(&ctx->ring_ready)) {
		seq_printf(m, "sq-head:\t%u\nsq-tail:\t%u\nsq-entries:\t%u\n",
			   READ_ONCE(ctx->cached_sq_head),
			   READ_ONCE(ctx->rings->sq_tail), ctx->sq_entries);
		seq_printf(m, "cq-head:\t%u\ncq-tail:\t%u\ncq-entries:\t%u\n",
			   READ_ONCE(ctx->rings->cq_head),
			   READ_ONCE(ctx->cached_cq_tail), ctx->cq_entries);
		if (ctx->sqpoll)
			capchan_sqpoll_show_fdinfo(ctx, m);
		capchan_workers_show_fdinfo(ctx, m);
	}
	seq_printf(m, "sealed:\t%d\nseal-import:\t%d\n",
		   !!sealed, !!(sealed & CAPCHAN_SEAL_IMPORT));
	seq_printf(m, "user:\t%u\nuser-channels:\t%ld\nuser-caps:\t%ld\nuser-files:\t%ld\nuser-sqpoll:\t%ld\n",
		   from_kuid_munged(ns, ctx->user->uid),
		   atomic_long_read(&ctx->user->channels),
		   atomic_long_read(&ctx->user->caps),
		   atomic_long_read(&ctx->user->files),
		   atomic_long_read(&ctx->user->sqpoll));
	seq_printf(m, "filters:\t%u\npolicy-denied:\t%ld\npolicy-bad-verdicts:\t%ld\nfilter-denied:\t%ld\n",
		   READ_ONCE(ctx->nr_filters),
		   atomic_long_read(&ctx->policy_denied),
		   atomic_long_read(&ctx->policy_bad_verdicts),
		   atomic_long_read(&ctx->filter_denied));
	spin_lock(&t->lock);
	/* an OPEN on another thread may hold a slot not filled yet: not counted */
	seq_printf(m, "caps:\t%u\n", capchan_table_live(t));
	for (i = 0; i < t->nr_slots; i++) {
		struct capchan_cap *cap;
		u32 handle;

		cap = capchan_table_at(t, i, &handle);
		if (!cap)
			continue;
		seq_printf(m, "cap:\thandle=0x%x type=%s rights=0x%llx revoked=%d depth=%u uid=%u\n",
			   handle, cap->type == CAPCHAN_CAP_DIR ? "dir" : "file",
			   cap->rights, capchan_cap_is_revoked(cap), cap->depth,
			   from_kuid_munged(ns, cap->cred->fsuid));
		/* the buffer is full: seq_file retries with a bigger one */
		if (seq_has_overflowed(m))
			break;
	}
	spin_unlock(&t->lock);
}

const struct file_operations capchan_chan_fops = {
	.owner		= THIS_MODULE,
	.open		= capchan_chan_open,
	.release	= capchan_chan_release,
	.flush		= capchan_chan_flush,
	.unlocked_ioctl	= capchan_chan_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= capchan_chan_mmap,
	.poll		= capchan_chan_poll,
	.show_fdinfo	= capchan_chan_show_fdinfo,
};
