// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - ops on FILE capabilities: READ, WRITE, FSYNC, STAT, PREFETCH.
 */
#include "capchan.h"

#include <linux/fadvise.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/version.h>

int capchan_prep_rw(const struct capchan_sqe *sqe)
{
	if (sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off != CAPCHAN_OFF_CURRENT && sqe->off > LLONG_MAX)
		return -EINVAL;
	return 0;
}

/*
 * Freeze protection: vfs_iter_write() takes it itself only since 6.8;
 * before that its callers do, as the write(2) paths do (without blocking
 * for a non-blocking attempt: a frozen file system is -EAGAIN).
 */
static ssize_t capchan_iter_write(struct file *file, struct iov_iter *iter,
				  loff_t *pos, rwf_t flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
	ssize_t ret;

	if (!S_ISREG(file_inode(file)->i_mode))
		return vfs_iter_write(file, iter, pos, flags);
	if (!(flags & RWF_NOWAIT))
		sb_start_write(file_inode(file)->i_sb);
	else if (!sb_start_write_trylock(file_inode(file)->i_sb))
		return -EAGAIN;
	ret = vfs_iter_write(file, iter, pos, flags);
	sb_end_write(file_inode(file)->i_sb);
	return ret;
#else
	return vfs_iter_write(file, iter, pos, flags);
#endif
}

/*
 * Can a WRITE to @file be tried without blocking?  Where the file system
 * says so: direct I/O, or buffered writes it can refuse to wait for (ext4
 * on 6.1 refuses IOCB_NOWAIT for those: they run inline).
 */
static bool capchan_write_nowait(const struct file *file)
{
	if (!(file->f_mode & FMODE_NOWAIT))
		return false;
	if (file->f_flags & O_DIRECT)
		return true;
#ifdef FOP_BUFFER_WASYNC
	return file->f_op->fop_flags & FOP_BUFFER_WASYNC;
#else
	return file->f_mode & FMODE_BUF_WASYNC;
#endif
}

/*
 * The non-blocking attempt of a positioned READ: IOCB_NOWAIT alone, as
 * io_uring's first attempt.  RWF_NOWAIT would add IOCB_NOIO on 6.1
 * (kiocb_set_rw_flags()), and then a miss starts no I/O: each worker
 * would start its own page's read and wait for it, one at a time.  This
 * way the submitter starts the read of every page it misses (readahead),
 * gives up while the pages are locked under I/O, and the workers only
 * wait for reads already on their way.  vfs_iocb_iter_read() makes the
 * checks vfs_iter_read() makes (rw_verify_area(), fsnotify).
 */
static ssize_t capchan_read_nowait(struct file *file, struct iov_iter *iter,
				   loff_t *pos)
{
	struct kiocb kiocb;
	ssize_t ret;

	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = *pos;
	kiocb.ki_flags |= IOCB_NOWAIT;
	ret = vfs_iocb_iter_read(file, &kiocb, iter);
	/*
	 * A kiocb without ki_complete is never queued (vfs_iter_read()
	 * BUG()s on it): never let one pass for capchan's own hand-over.
	 */
	if (unlikely(ret == -EIOCBQUEUED))
		return -EIO;
	if (ret > 0)
		*pos = kiocb.ki_pos;
	return ret;
}

/*
 * Shared by READ and WRITE.  An explicit offset is positioned I/O and
 * needs SEEK; CAPCHAN_OFF_CURRENT uses and advances the file position,
 * which derived capabilities share (they share the open file, like dup).
 */
static long capchan_rw(struct capchan_req *req, unsigned int dir)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct file *file = capchan_cap_file(req->cap);
	void __user *buf = u64_to_user_ptr(sqe->addr);
	size_t len = min_t(size_t, sqe->len, MAX_RW_COUNT);
	bool use_pos = sqe->off == CAPCHAN_OFF_CURRENT;
	struct iov_iter iter;
	bool locked = false;
	bool nowait;
	loff_t pos;
	ssize_t ret;

	/*
	 * From the rings, a positioned READ of a file that can tell is tried
	 * without blocking first (IOCB_NOWAIT: the read of what is not
	 * cached is started, capchan_read_nowait()), and so is a positioned
	 * WRITE where the file system can say (capchan_write_nowait(); where
	 * it cannot, on storage, the WRITE goes to a worker whole); what it
	 * could not do a worker finishes (worker.c).  I/O at the file position runs inline:
	 * finishing one in two parts would let another at the shared
	 * position in between.
	 */
	nowait = req->may_punt && !use_pos &&
		 (dir == ITER_DEST ? !!(file->f_mode & FMODE_NOWAIT) :
				     capchan_write_nowait(file));
	if (req->done) {
		/* a worker, after a short non-blocking part */
		buf += req->done;
		len -= req->done;
	}

	if (!use_pos && !(req->cap->rights & CAPCHAN_RIGHT_SEEK))
		return -EPERM;
	/* positioned I/O on a file that has no positions, as pread(2) says */
	if (!use_pos && !(file->f_mode & (dir == ITER_DEST ? FMODE_PREAD : FMODE_PWRITE)))
		return -ESPIPE;
	/*
	 * Files with only ->read/->write (some procfs files) cannot be driven
	 * through an iov_iter by a module, and the exported helpers that
	 * would (vfs_read/vfs_write) are not exported: say so clearly.
	 */
	if (dir == ITER_DEST ? !file->f_op->read_iter : !file->f_op->write_iter)
		return -EOPNOTSUPP;
	if (!access_ok(buf, len))
		return -EFAULT;
	/*
	 * A positioned WRITE to a regular file on storage that the file
	 * system will not try without blocking (buffered, on ext4): a worker
	 * does all of it, as io_uring's io-wq does (capchan_storage_punt()).
	 */
	if (req->may_punt && !use_pos && !nowait && dir == ITER_SOURCE &&
	    S_ISREG(file_inode(file)->i_mode) &&
	    capchan_storage_punt(req, &file->f_path))
		return -EIOCBQUEUED;
	iov_iter_ubuf(&iter, dir, buf, len);

	/*
	 * The file position is shared with every capability naming this open
	 * file (and with read(2) on it, for a granted fd): serialise its
	 * read-modify-write as read(2) does with fdget_pos().
	 */
	if (use_pos && (file->f_mode & FMODE_ATOMIC_POS)) {
		if (mutex_lock_killable(&file->f_pos_lock))
			return -EINTR;
		locked = true;
	}
	pos = use_pos ? file->f_pos : (loff_t)sqe->off + req->done;
	if (dir == ITER_DEST && nowait)
		ret = capchan_read_nowait(file, &iter, &pos);
	else if (dir == ITER_DEST)
		ret = vfs_iter_read(file, &iter, &pos, 0);
	else
		ret = capchan_iter_write(file, &iter, &pos,
					 nowait ? RWF_NOWAIT : 0);
	if (use_pos && ret >= 0)
		file->f_pos = pos;
	if (locked)
		mutex_unlock(&file->f_pos_lock);
	if (nowait) {
		/* all of it would block: a worker does it all */
		if (ret == -EAGAIN)
			return -EIOCBQUEUED;
		/*
		 * Part of a regular file is not cached (or could not be
		 * written without waiting): a worker does the rest, as
		 * read(2) and write(2) would have (a short read at the end of
		 * the file, or of a pipe or socket, is the answer itself).
		 */
		if (ret > 0 && ret < len && S_ISREG(file_inode(file)->i_mode) &&
		    (dir == ITER_SOURCE || pos < i_size_read(file_inode(file)))) {
			req->done = ret;
			return -EIOCBQUEUED;
		}
	}
	if (req->done)
		return ret < 0 ? req->done : req->done + ret;
	return ret;
}

long capchan_issue_read(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_rw(req, ITER_DEST);
}

long capchan_issue_write(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_rw(req, ITER_SOURCE);
}

int capchan_prep_fsync(const struct capchan_sqe *sqe)
{
	if (sqe->off || sqe->addr || sqe->len || sqe->rights ||
	    (sqe->op_flags & ~CAPCHAN_FSYNC_DATASYNC))
		return -EINVAL;
	return 0;
}

long capchan_issue_fsync(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct file *file = capchan_cap_file(req->cap);

	/* from the rings, an fsync that may wait for a disk goes to a worker */
	if (req->may_punt && file->f_op->fsync != noop_fsync)
		return -EIOCBQUEUED;
	return vfs_fsync(file,
			 !!(req->sqe.op_flags & CAPCHAN_FSYNC_DATASYNC));
}

int capchan_prep_stat(const struct capchan_sqe *sqe)
{
	if (sqe->off || sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->len != sizeof(struct capchan_stat))
		return -EINVAL;
	return 0;
}

/* Signed: times before 1970 are negative, as in struct statx. */
static s64 capchan_ts_ns(struct timespec64 ts)
{
	return timespec64_to_ns(&ts);
}

/* Fill a capchan_stat for @p; STAT names the capability, STATAT a path. */
int capchan_stat_path(const struct path *p, struct capchan_stat __user *ust,
		      u32 cap_type, u64 rights, struct user_namespace *ns)
{
	struct capchan_stat st;
	struct kstat ks;
	int err;

	err = vfs_getattr(p, &ks, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	if (err)
		return err;
	memset(&st, 0, sizeof(st));
	st.dev = new_encode_dev(ks.dev);
	st.ino = ks.ino;
	st.size = ks.size;
	st.blocks = ks.blocks;
	st.atime_ns = capchan_ts_ns(ks.atime);
	st.mtime_ns = capchan_ts_ns(ks.mtime);
	st.ctime_ns = capchan_ts_ns(ks.ctime);
	st.rdev = new_encode_dev(ks.rdev);
	st.mode = ks.mode;
	st.nlink = ks.nlink;
	/* ids as the caller's namespace maps them, not the granter's */
	st.uid = from_kuid_munged(ns, ks.uid);
	st.gid = from_kgid_munged(ns, ks.gid);
	st.blksize = ks.blksize;
	st.cap_type = cap_type;
	st.rights = rights;
	return copy_to_user(ust, &st, sizeof(st)) ? -EFAULT : 0;
}

long capchan_issue_stat(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_stat_path(&capchan_cap_file(req->cap)->f_path,
				 u64_to_user_ptr(req->sqe.addr), req->cap->type,
				 req->cap->rights, capchan_req_ns(req));
}

int capchan_prep_prefetch(const struct capchan_sqe *sqe)
{
	if (sqe->addr || sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off > LLONG_MAX)
		return -EINVAL;
	return 0;
}

long capchan_issue_prefetch(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return vfs_fadvise(capchan_cap_file(req->cap), req->sqe.off, req->sqe.len,
			   POSIX_FADV_WILLNEED);
}

int capchan_prep_truncate(const struct capchan_sqe *sqe)
{
	if (sqe->addr || sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off > LLONG_MAX)
		return -EINVAL;
	return 0;
}

/*
 * TRUNCATE a FILE capability to off bytes.  As truncate(2) on its path, so
 * write permission is checked for the capability's credentials and the LSM
 * truncate hook runs (ftruncate(2)'s own hook is not exported to modules).
 */
long capchan_issue_truncate(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct path *p = &capchan_cap_file(req->cap)->f_path;

	/* it changes the file system: with storage, a worker does it */
	if (capchan_storage_punt(req, p))
		return -EIOCBQUEUED;
	return vfs_truncate(p, req->sqe.off);
}
