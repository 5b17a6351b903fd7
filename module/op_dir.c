// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - directory ops beneath a DIR capability: READDIR, STATAT, MKDIR,
 * UNLINK, RMDIR, SYMLINK, RENAME.
 *
 * Paths resolve as OPEN's do (beneath.c), and an op that changes a
 * directory does so with the parent locked and proven beneath the DIR, so
 * a rename race can make it fail (-EAGAIN) but never act outside.  Each op
 * answers as its system call (mkdirat, unlinkat, renameat2, ...) would for
 * the same credentials, with capchan's scoping errors (-EXDEV, -ELOOP)
 * where the path would leave the DIR.  A delegation or lease on the victim
 * is not waited for: -EAGAIN, as OPEN.
 *
 * Two LSM path hooks that these ops need are not exported to modules:
 * security_path_rmdir and security_path_symlink.  The closest exported
 * ones stand in, each at least as strict for the path-based LSMs (AppArmor,
 * Landlock, TOMOYO): SYMLINK asks security_path_mknod for an S_IFLNK node
 * (Landlock's MAKE_SYM, AppArmor's create); RMDIR asks security_path_rename
 * for moving the directory onto itself (Landlock: REMOVE_DIR and MAKE_DIR;
 * AppArmor: delete and create).  The inode hooks run inside vfs_rmdir()
 * and vfs_symlink() as always.
 */
#include "capchan.h"

#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* ---- READDIR ------------------------------------------------------------ */

int capchan_prep_readdir(const struct capchan_sqe *sqe)
{
	if (sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off > LLONG_MAX)
		return -EINVAL;
	return 0;
}

struct capchan_readdir_ctx {
	struct dir_context	ctx;
	char __user		*buf;
	u32			space;		/* bytes left */
	u32			used;		/* bytes written */
	struct capchan_dirent __user *prev;	/* its next is set by the one after */
	int			err;
};

/* Called for each entry; false stops the walk (the kernel's convention). */
static bool capchan_filldir(struct dir_context *dctx, const char *name,
			    int namelen, loff_t offset, u64 ino,
			    unsigned int type)
{
	struct capchan_readdir_ctx *rc =
		container_of(dctx, struct capchan_readdir_ctx, ctx);
	struct capchan_dirent __user *d;
	struct capchan_dirent hdr;
	u32 reclen;

	/* "." and ".." say nothing a capability holder needs */
	if ((namelen == 1 && name[0] == '.') ||
	    (namelen == 2 && name[0] == '.' && name[1] == '.')) {
		/* still the place to go on from, if it is the last one */
		if (rc->prev && put_user(offset, &rc->prev->next))
			goto fault;
		return true;
	}
	reclen = ALIGN(sizeof(hdr) + namelen + 1, sizeof(u64));
	if (reclen > rc->space) {
		/* the first record must fit, or the buffer is useless */
		if (!rc->used)
			rc->err = -EINVAL;
		return false;
	}
	/* the previous record's cookie: where this entry starts */
	if (rc->prev && put_user(offset, &rc->prev->next))
		goto fault;
	d = (struct capchan_dirent __user *)(rc->buf + rc->used);
	memset(&hdr, 0, sizeof(hdr));
	hdr.ino = ino;
	hdr.next = 0;	/* set by the next entry, or at the end */
	hdr.reclen = reclen;
	hdr.namelen = namelen;
	hdr.type = type;
	if (copy_to_user(d, &hdr, sizeof(hdr)) ||
	    copy_to_user(d->name, name, namelen) ||
	    put_user(0, d->name + namelen) ||
	    clear_user(d->name + namelen + 1, reclen - sizeof(hdr) - namelen - 1))
		goto fault;
	rc->prev = d;
	rc->used += reclen;
	rc->space -= reclen;
	return true;
fault:
	rc->err = -EFAULT;
	return false;
}

/*
 * The entries of the DIR from @off (a cookie from an earlier READDIR of the
 * same directory, or 0) into the buffer.  The object's file position is
 * shared, so it is moved only under f_pos_lock and each READDIR seeks to
 * its own cookie first: callers never disturb each other.
 */
long capchan_issue_readdir(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct file *file = capchan_cap_file(req->cap);
	struct capchan_readdir_ctx rc = {
		.ctx.actor	= capchan_filldir,
		.buf		= u64_to_user_ptr(sqe->addr),
		.space		= min_t(u32, sqe->len, MAX_RW_COUNT),
	};
	loff_t pos;
	int err;

	/* directory blocks may not be cached, and there is no asking */
	if (capchan_storage_punt(req, &file->f_path))
		return -EIOCBQUEUED;
	if (!access_ok(rc.buf, rc.space))
		return -EFAULT;
	if (mutex_lock_killable(&file->f_pos_lock))
		return -EINTR;
	pos = vfs_llseek(file, sqe->off, SEEK_SET);
	if (pos < 0) {
		err = pos;
		goto out;
	}
	err = iterate_dir(file, &rc.ctx);
	if (!err)
		err = rc.err;
	/* the last record goes on from where the walk stopped */
	if (!err && rc.prev && put_user(file->f_pos, &rc.prev->next))
		err = -EFAULT;
out:
	mutex_unlock(&file->f_pos_lock);
	if (err)
		return err;
	return rc.used;
}

/* ---- STATAT -------------------------------------------------------------- */

int capchan_prep_statat(const struct capchan_sqe *sqe)
{
	if (sqe->rights || (sqe->op_flags & ~CAPCHAN_STATAT_NOFOLLOW))
		return -EINVAL;
	if (sqe->len != sizeof(struct capchan_stat))
		return -EINVAL;
	return 0;
}

long capchan_issue_statat(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	const struct path *root = &capchan_cap_file(req->cap)->f_path;
	unsigned int flags = 0;
	struct path p;
	int err;

	if (!(sqe->op_flags & CAPCHAN_STATAT_NOFOLLOW))
		flags |= LOOKUP_FOLLOW;
	/* as OPEN's walk: the dentry cache alone first, a miss to a worker */
	err = capchan_lookup_beneath_req(req, root, flags, &p);
	if (err)
		return err;
	/* a path, not a capability: no type, no rights to report */
	err = capchan_stat_path(&p, u64_to_user_ptr(sqe->addr2), 0, 0,
				capchan_req_ns(req));
	path_put(&p);
	return err;
}

/* ---- MKDIR, SYMLINK ---------------------------------------------------------- */

int capchan_prep_mkdir(const struct capchan_sqe *sqe)
{
	if (sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off & ~(u64)S_IALLUGO)
		return -EINVAL;
	return 0;
}

int capchan_prep_symlink(const struct capchan_sqe *sqe)
{
	if (sqe->len || sqe->op_flags || sqe->rights || !sqe->addr2)
		return -EINVAL;
	return 0;
}

/*
 * Create a name beneath the DIR: a directory (@target NULL) or a symbolic
 * link to @target.  As mkdirat(2)/symlinkat(2): an existing name, "." or
 * ".." is -EEXIST; a trailing slash is allowed for a directory only.
 */
static long capchan_make(struct capchan_req *req, umode_t mode,
			 const char *target)
{
	const struct path *root = &capchan_cap_file(req->cap)->f_path;
	struct capchan_parent par;
	struct dentry *dentry;
	struct inode *dir;
	int err, werr;

	/* it changes the file system: with storage, a worker does it */
	if (capchan_storage_punt(req, root))
		return -EIOCBQUEUED;
	/* mkdirat(2), symlinkat(2): "." and ".." exist */
	err = capchan_parent_resolve_lock(root, req->path, &par, &werr,
					  -EEXIST, -EEXIST);
	if (err)
		return err;
	dir = d_inode(par.path.dentry);
	dentry = capchan_parent_child(&par);
	err = PTR_ERR_OR_ZERO(dentry);
	if (err)
		goto out;
	if (d_is_positive(dentry))
		err = -EEXIST;
	else if (par.slash && target)
		err = -ENOENT;		/* symlinkat(2): no slash after a new name */
	else
		err = werr;
	if (!err && target) {
		/* the nearest exported path hook: see the top of the file */
		err = security_path_mknod(&par.path, dentry, S_IFLNK | 0777, 0);
		if (!err)
			err = vfs_symlink(capchan_idmap(par.path.mnt), dir, dentry,
					  target);
	} else if (!err) {
		if (!IS_POSIXACL(dir))
			mode &= ~current_umask();
		err = security_path_mkdir(&par.path, dentry, mode);
		if (!err)
			err = vfs_mkdir(capchan_idmap(par.path.mnt), dir, dentry,
					mode);
	}
	dput(dentry);
out:
	capchan_parent_unlock(&par);
	capchan_parent_put(&par);
	return err;
}

long capchan_issue_mkdir(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_make(req, (umode_t)req->sqe.off, NULL);
}

long capchan_issue_symlink(struct capchan_ctx *ctx, struct capchan_req *req)
{
	/*
	 * The link text is copied once, in the submitter, and kept with the
	 * paths (req->path2, freed with them; only RENAME shows policy a
	 * path2): a worker that makes the link (capchan_make() hands it over
	 * on storage) uses this copy, never user memory the application may
	 * have reused once ENTER consumed the SQE.  Stored as given;
	 * following it later is scoped like any walk.
	 */
	if (!req->path2) {
		char *target = capchan_path_copy(req->sqe.addr2);

		if (IS_ERR(target))
			return PTR_ERR(target);
		req->path2 = target;
	}
	return req->path2[0] ? capchan_make(req, 0, req->path2) : -ENOENT;
}

/* ---- UNLINK, RMDIR -------------------------------------------------------------- */

int capchan_prep_remove(const struct capchan_sqe *sqe)
{
	if (sqe->off || sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	return 0;
}

/* As unlinkat(2) (@dir_op false) or unlinkat(AT_REMOVEDIR) (true). */
static long capchan_remove(struct capchan_req *req, bool dir_op)
{
	const struct path *root = &capchan_cap_file(req->cap)->f_path;
	struct capchan_parent par;
	struct dentry *dentry;
	struct inode *dir, *victim = NULL;
	int err, werr;

	/* it changes the file system: with storage, a worker does it */
	if (capchan_storage_punt(req, root))
		return -EIOCBQUEUED;
	/* unlinkat(2): a dot is a directory; rmdir(2): "." -EINVAL, ".." not empty */
	err = capchan_parent_resolve_lock(root, req->path, &par, &werr,
					  dir_op ? -EINVAL : -EISDIR,
					  dir_op ? -ENOTEMPTY : -EISDIR);
	if (err)
		return err;
	dir = d_inode(par.path.dentry);
	dentry = capchan_parent_child(&par);
	err = PTR_ERR_OR_ZERO(dentry);
	if (err)
		goto out;
	if (d_is_negative(dentry))
		err = -ENOENT;
	else if (dir_op && !d_is_dir(dentry))
		err = -ENOTDIR;
	else if (!dir_op && d_is_dir(dentry))
		err = -EISDIR;
	else if (!dir_op && par.slash)
		err = -ENOTDIR;
	else
		err = werr;
	if (!err && dir_op) {
		/* the nearest exported path hook: see the top of the file */
		err = security_path_rename(&par.path, dentry, &par.path, dentry, 0);
		if (!err)
			err = vfs_rmdir(capchan_idmap(par.path.mnt), dir, dentry);
	} else if (!err) {
		err = security_path_unlink(&par.path, dentry);
		if (!err) {
			/* the last iput may truncate: do it outside the lock */
			victim = d_inode(dentry);
			ihold(victim);
			/* a delegation is broken, not waited for: -EWOULDBLOCK */
			err = vfs_unlink(capchan_idmap(par.path.mnt), dir, dentry,
					 NULL);
		}
	}
	dput(dentry);
out:
	capchan_parent_unlock(&par);
	capchan_parent_put(&par);
	if (victim)
		iput(victim);
	return err == -EWOULDBLOCK ? -EAGAIN : err;
}

long capchan_issue_unlink(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_remove(req, false);
}

long capchan_issue_rmdir(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return capchan_remove(req, true);
}

/* ---- RENAME ------------------------------------------------------------------ */

int capchan_prep_rename(const struct capchan_sqe *sqe)
{
	if (sqe->rights || !sqe->len)
		return -EINVAL;
	if (sqe->op_flags & ~(CAPCHAN_RENAME_NOREPLACE | CAPCHAN_RENAME_EXCHANGE))
		return -EINVAL;
	if ((sqe->op_flags & CAPCHAN_RENAME_NOREPLACE) &&
	    (sqe->op_flags & CAPCHAN_RENAME_EXCHANGE))
		return -EINVAL;
	return 0;
}

/* Lock two directories of one file system, ancestor first; rename mutex held. */
static void capchan_lock_two(struct dentry *a, struct dentry *b)
{
	if (a == b) {
		inode_lock_nested(d_inode(a), I_MUTEX_PARENT);
	} else if (is_subdir(b, a)) {
		inode_lock_nested(d_inode(a), I_MUTEX_PARENT);
		inode_lock_nested(d_inode(b), I_MUTEX_CHILD);
	} else if (is_subdir(a, b)) {
		inode_lock_nested(d_inode(b), I_MUTEX_PARENT);
		inode_lock_nested(d_inode(a), I_MUTEX_CHILD);
	} else {
		/* unrelated: any order, nobody else holds two under the mutex */
		inode_lock_nested(d_inode(a), I_MUTEX_PARENT);
		inode_lock_nested(d_inode(b), I_MUTEX_PARENT2);
	}
}

static void capchan_unlock_two(struct dentry *a, struct dentry *b)
{
	inode_unlock(d_inode(a));
	if (a != b)
		inode_unlock(d_inode(b));
}

/*
 * The rename itself, both parents resolved; as renameat2(2) from here on,
 * with the rename mutex held for the whole of it so neither parent can
 * leave its DIR (checked under it) nor change ancestry meanwhile.
 */
/*
 * What the target DIR's credentials must allow in the target directory:
 * writing it, the LSMs' say on the rename, and, if the new name exists,
 * removing that entry (the sticky-directory rule of rename(2)).  Parents
 * locked.
 */
static int capchan_rename_target_allowed(const struct cred *cred,
					 const struct path *odir,
					 struct dentry *od,
					 const struct path *dir,
					 struct dentry *victim,
					 unsigned int flags)
{
	const struct cred *old = override_creds(cred);
	struct inode *d = d_inode(dir->dentry);
	int err;

	err = inode_permission(capchan_idmap(dir->mnt), d, MAY_WRITE | MAY_EXEC);
	/* and the path-based LSMs of the target's domain (Landlock, ...) */
	if (!err)
		err = security_path_rename(odir, od, dir, victim, flags);
	if (!err && d_is_positive(victim) && (d->i_mode & S_ISVTX)) {
		struct inode *v = d_inode(victim);
		vfsuid_t owner = i_uid_into_vfsuid(capchan_idmap(dir->mnt), v);
		vfsuid_t downer = i_uid_into_vfsuid(capchan_idmap(dir->mnt), d);

		if (!vfsuid_eq_kuid(owner, current_fsuid()) &&
		    !vfsuid_eq_kuid(downer, current_fsuid()) &&
		    !capable_wrt_inode_uidgid(capchan_idmap(dir->mnt), v, CAP_FOWNER))
			err = -EPERM;
	}
	revert_creds(old);
	return err;
}

static int capchan_rename_locked(const struct path *oroot,
				 const struct path *nroot,
				 struct capchan_parent *op,
				 struct capchan_parent *np, unsigned int flags,
				 const struct cred *dcred)
{
	struct super_block *sb = op->path.dentry->d_sb;
	struct dentry *od, *nd = NULL;
	struct renamedata rd = { };
	int err;

	err = mnt_want_write(op->path.mnt);
	if (err)
		return err;
	mutex_lock(&sb->s_vfs_rename_mutex);
	if ((!path_equal(&op->path, oroot) &&
	     !is_subdir(op->path.dentry, oroot->dentry)) ||
	    (!path_equal(&np->path, nroot) &&
	     !is_subdir(np->path.dentry, nroot->dentry))) {
		err = -EAGAIN;		/* moved out since resolved: walk again */
		goto out_mutex;
	}
	capchan_lock_two(op->path.dentry, np->path.dentry);
	od = lookup_one(capchan_idmap(op->path.mnt), op->last.name,
			op->path.dentry, op->last.len);
	err = PTR_ERR_OR_ZERO(od);
	if (err)
		goto out_unlock;
	err = -ENOENT;
	if (d_is_negative(od))
		goto out_od;
	nd = lookup_one(capchan_idmap(np->path.mnt), np->last.name,
			np->path.dentry, np->last.len);
	err = PTR_ERR_OR_ZERO(nd);
	if (err) {
		nd = NULL;
		goto out_od;
	}
	err = -EEXIST;
	if ((flags & RENAME_NOREPLACE) && d_is_positive(nd))
		goto out_nd;
	if (flags & RENAME_EXCHANGE) {
		err = -ENOENT;
		if (d_is_negative(nd))
			goto out_nd;
		err = -ENOTDIR;
		if (!d_is_dir(nd) && np->slash)
			goto out_nd;
	}
	/* unless the source is a directory, trailing slashes are -ENOTDIR */
	err = -ENOTDIR;
	if (!d_is_dir(od) &&
	    (op->slash || (!(flags & RENAME_EXCHANGE) && np->slash)))
		goto out_nd;
	/* never a directory beneath itself, nor a target above the source */
	err = -EINVAL;
	if (is_subdir(np->path.dentry, od))
		goto out_nd;
	err = (flags & RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
	if (d_is_positive(nd) && is_subdir(op->path.dentry, nd))
		goto out_nd;
	/* the target DIR's own authority over the target directory */
	if (dcred) {
		err = capchan_rename_target_allowed(dcred, &op->path, od,
						    &np->path, nd, flags);
		if (err)
			goto out_nd;
	}
	err = security_path_rename(&op->path, od, &np->path, nd, flags);
	if (err)
		goto out_nd;
	rd.old_dir = d_inode(op->path.dentry);
	rd.old_dentry = od;
	rd.new_dir = d_inode(np->path.dentry);
	rd.new_dentry = nd;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	rd.old_mnt_idmap = capchan_idmap(op->path.mnt);
	rd.new_mnt_idmap = capchan_idmap(np->path.mnt);
#else
	rd.old_mnt_userns = capchan_idmap(op->path.mnt);
	rd.new_mnt_userns = capchan_idmap(np->path.mnt);
#endif
	/* a delegation is broken, not waited for: -EWOULDBLOCK */
	rd.delegated_inode = NULL;
	rd.flags = flags;
	err = vfs_rename(&rd);
out_nd:
	dput(nd);
out_od:
	dput(od);
out_unlock:
	capchan_unlock_two(op->path.dentry, np->path.dentry);
out_mutex:
	mutex_unlock(&sb->s_vfs_rename_mutex);
	mnt_drop_write(op->path.mnt);
	return err == -EWOULDBLOCK ? -EAGAIN : err;
}

/*
 * Resolve the new path beneath the target DIR with the target's own
 * credentials (its walk is its authority), and when they are not the
 * source's, check with them that the target directory may be written: the
 * rename itself then runs with the source's, which must allow it too.
 */
static int capchan_rename_target(struct capchan_cap *dst,
				 struct capchan_cap *src,
				 const struct path *nroot, const char *nname,
				 struct capchan_parent *np)
{
	const struct cred *old = NULL;
	int err;

	if (dst->cred != src->cred)
		old = override_creds(dst->cred);
	err = capchan_parent_beneath(nroot, nname, np);
	if (!err && old && np->type == LAST_NORM) {
		err = inode_permission(capchan_idmap(np->path.mnt),
				       d_inode(np->path.dentry),
				       MAY_WRITE | MAY_EXEC);
		if (err)
			capchan_parent_put(np);
	}
	if (old)
		revert_creds(old);
	return err;
}

/*
 * RENAME old path beneath the source DIR (this capability, REMOVE) to new
 * path beneath the target DIR (sqe->len, CREATE; EXCHANGE moves both ways,
 * so both need both).  It runs with the source's credentials; when the
 * target's differ, they must allow writing the target directory too: a
 * capability never lends another its authority.
 */
/*
 * RENAME's capabilities, before the paths are copied and policy runs: the
 * source (this capability) needs REMOVE, the target DIR (sqe->len, this
 * capability's own handle for a rename within it) CREATE; EXCHANGE moves
 * both ways, so both need both.  The target is entered for the whole op
 * (capchan_execute lets it go), so policy sees it and it stays usable.
 */
int capchan_authorize_rename(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	u64 need_src = CAPCHAN_RIGHT_REMOVE, need_dst = CAPCHAN_RIGHT_CREATE;
	struct capchan_cap *dst;

	BUILD_BUG_ON(CAPCHAN_RENAME_NOREPLACE != RENAME_NOREPLACE);
	BUILD_BUG_ON(CAPCHAN_RENAME_EXCHANGE != RENAME_EXCHANGE);
	if (sqe->op_flags & RENAME_EXCHANGE) {
		need_src |= CAPCHAN_RIGHT_CREATE;
		need_dst |= CAPCHAN_RIGHT_REMOVE;
	}
	if ((req->cap->rights & need_src) != need_src)
		return -EPERM;
	dst = capchan_table_get(&ctx->table, sqe->len);
	if (!dst)
		return -EBADF;
	if (!capchan_cap_enter(dst)) {
		capchan_cap_put(dst);
		return -EKEYREVOKED;
	}
	/* capchan_execute() exits and puts it */
	req->cap2 = dst;
	if (dst->type != CAPCHAN_CAP_DIR)
		return -ENOTDIR;
	if ((dst->rights & need_dst) != need_dst)
		return -EPERM;
	return 0;
}

/*
 * RENAME old path beneath the source DIR to new path beneath the target
 * DIR.  It runs with the source's credentials; when the target's differ,
 * they must allow what happens in the target directory too: a capability
 * never lends another its authority.
 */
long capchan_issue_rename(struct capchan_ctx *ctx, struct capchan_req *req)
{
	unsigned int flags = req->sqe.op_flags;
	struct capchan_cap *dst = req->cap2;
	const struct path *oroot = &capchan_cap_file(req->cap)->f_path;
	const struct path *nroot = &capchan_cap_file(dst)->f_path;
	struct capchan_parent op, np;
	int i, err;

	/* it changes the file system: with storage, a worker does it */
	if (capchan_storage_punt(req, oroot))
		return -EIOCBQUEUED;
	for (i = 0; i < 8; i++) {
		err = capchan_parent_beneath(oroot, req->path, &op);
		if (err)
			break;
		err = capchan_rename_target(dst, req->cap, nroot, req->path2, &np);
		if (err) {
			capchan_parent_put(&op);
			break;
		}
		if (op.path.mnt != np.path.mnt)
			err = -EXDEV;
		else if (capchan_parent_leaves(oroot, &op) ||
			 capchan_parent_leaves(nroot, &np))
			err = -EXDEV;
		else if (op.type != LAST_NORM)
			err = -EBUSY;
		else if (np.type != LAST_NORM)
			err = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
		else
			err = capchan_rename_locked(oroot, nroot, &op, &np, flags,
						    dst->cred != req->cap->cred ?
						    dst->cred : NULL);
		capchan_parent_put(&np);
		capchan_parent_put(&op);
		if (err != -EAGAIN)
			break;
	}
	return err;
}
