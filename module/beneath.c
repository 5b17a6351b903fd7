// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - resolving paths beneath a DIR capability, shared by OPEN and
 * the directory ops.
 *
 * Every walk is the kernel's own scoped lookup rooted at the DIR:
 * LOOKUP_BENEATH (".." or a symlink leaving the DIR: -EXDEV; a concurrent
 * rename or mount makes ".." fail with -EAGAIN instead of escaping),
 * LOOKUP_NO_MAGICLINKS (/proc magic links: -ELOOP), LOOKUP_NO_XDEV (mount
 * crossings: -EXDEV).  Absolute paths are refused up front (-EXDEV): a
 * preset lookup root would silently re-root them.
 *
 * An op that changes a directory (create, remove, rename) looks up the
 * parent of its last component and then locks it with capchan_parent_lock:
 * write access to the mount, the file system's rename mutex unless the
 * parent is the DIR itself, a check that the parent is still beneath the
 * DIR, and the parent's inode lock, in the order rename takes them.  While
 * the rename mutex is held no cross-directory rename (the only kind that
 * changes ancestry) can move the parent out, so what the op does happens
 * beneath the DIR, once.
 */
#include "capchan.h"

#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/*
 * Exported by fs/namei.c (EXPORT_SYMBOL) but declared only in fs/internal.h
 * on 6.1, which out-of-tree modules cannot include.  Same signature on
 * 6.1 .. 6.12.
 */
int vfs_path_lookup(struct dentry *dentry, struct vfsmount *mnt,
		    const char *name, unsigned int flags, struct path *path);

/* scoped lookups report a concurrent rename with -EAGAIN; retry a bit */
#define CAPCHAN_LOOKUP_RETRIES	8

/*
 * A path from user space, copied once (PATH_MAX bounded): one too long is
 * -ENAMETOOLONG, as the system calls say, not strndup_user()'s -EINVAL.
 */
char *capchan_path_copy(u64 addr)
{
	char *name = strndup_user(u64_to_user_ptr(addr), PATH_MAX);

	if (IS_ERR(name) && PTR_ERR(name) == -EINVAL)
		return ERR_PTR(-ENAMETOOLONG);
	return name;
}

int capchan_lookup_beneath(const struct path *root, const char *name,
			   unsigned int flags, struct path *out)
{
	int i, err;

	if (!name[0])
		return -ENOENT;
	if (name[0] == '/')
		return -EXDEV;
	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES; i++) {
		err = vfs_path_lookup(root->dentry, root->mnt, name,
				      flags | CAPCHAN_SCOPED, out);
		/* a cached-only walk says -EAGAIN for a miss: the caller's */
		if (err != -EAGAIN || (flags & LOOKUP_CACHED))
			break;
	}
	return err;
}

/*
 * The walk of @req's path for an op that only reads the tree.  From the
 * rings on storage (capchan_storage_punt()) it is made in the dentry
 * cache alone (LOOKUP_CACHED, openat2's RESOLVE_CACHED): a name not
 * cached there would wait for the storage, and is -EIOCBQUEUED, for a
 * worker to walk it all.  Otherwise the whole walk.
 */
int capchan_lookup_beneath_req(const struct capchan_req *req,
			       const struct path *root, unsigned int flags,
			       struct path *out)
{
	bool cached = capchan_storage_punt(req, root);
	int err;

	err = capchan_lookup_beneath(root, req->path,
				     cached ? flags | LOOKUP_CACHED : flags, out);
	return cached && err == -EAGAIN ? -EIOCBQUEUED : err;
}

/*
 * Resolve the parent of @name's last component beneath @root; the last
 * component itself is not walked (its type, LAST_NORM or a dot, and any
 * trailing slash are reported).  Undo with capchan_parent_put().
 */
int capchan_parent_beneath(const struct path *root, const char *name,
			   struct capchan_parent *p)
{
	int i, err;

	if (!name[0])
		return -ENOENT;
	if (name[0] == '/')
		return -EXDEV;
	p->name = getname_kernel(name);
	if (IS_ERR(p->name))
		return PTR_ERR(p->name);
	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES; i++) {
		err = vfs_path_parent_lookup(p->name, CAPCHAN_SCOPED, &p->path,
					     &p->last, &p->type, root);
		if (err != -EAGAIN)
			break;
	}
	if (err) {
		putname(p->name);
		return err;
	}
	/* the qstr points into p->name, which lives until capchan_parent_put */
	p->slash = p->type == LAST_NORM && p->last.name[p->last.len];
	p->locked = false;
	return 0;
}

void capchan_parent_put(struct capchan_parent *p)
{
	path_put(&p->path);
	putname(p->name);
}

/* ".." of the DIR itself leaves it; any other dot stays beneath */
bool capchan_parent_leaves(const struct path *root,
			   const struct capchan_parent *p)
{
	return p->type == LAST_DOTDOT && path_equal(&p->path, root);
}

/*
 * Lock @p's directory for a change beneath @root (see the top of the file).
 * -EAGAIN: the parent was moved out since it was resolved; nothing was
 * done, resolve again.  @want_write: the op writes, get write access first
 * (its error, EROFS say, is returned in @write_err for the op to report
 * only where it must change something, as the system calls do).
 */
int capchan_parent_lock(const struct path *root, struct capchan_parent *p,
			int *write_err)
{
	struct mutex *rename_mutex = &p->path.dentry->d_sb->s_vfs_rename_mutex;

	*write_err = mnt_want_write(p->path.mnt);
	p->rename_locked = !path_equal(&p->path, root);
	if (p->rename_locked) {
		mutex_lock(rename_mutex);
		if (!is_subdir(p->path.dentry, root->dentry)) {
			mutex_unlock(rename_mutex);
			if (!*write_err)
				mnt_drop_write(p->path.mnt);
			return -EAGAIN;
		}
	}
	p->write_err = *write_err;
	inode_lock_nested(d_inode(p->path.dentry), I_MUTEX_PARENT);
	p->locked = true;
	return 0;
}

void capchan_parent_unlock(struct capchan_parent *p)
{
	if (!p->locked)
		return;
	inode_unlock(d_inode(p->path.dentry));
	if (p->rename_locked)
		mutex_unlock(&p->path.dentry->d_sb->s_vfs_rename_mutex);
	if (!p->write_err)
		mnt_drop_write(p->path.mnt);
	p->locked = false;
}

/* The last component in the locked parent (a new reference, maybe negative). */
struct dentry *capchan_parent_child(struct capchan_parent *p)
{
	lockdep_assert_held(&d_inode(p->path.dentry)->i_rwsem);
	return lookup_one(capchan_idmap(p->path.mnt), p->last.name,
			  p->path.dentry, p->last.len);
}

/*
 * Resolve and lock in one go, retrying when a rename moved the parent out
 * between the two.  A last component "." or ".." is answered here, as the
 * ops that change a directory all do: -EXDEV when ".." would leave the DIR,
 * else @dot_err or @dotdot_err (each system call has its own).  On success
 * the parent is locked; on failure nothing is held.
 */
int capchan_parent_resolve_lock(const struct path *root, const char *name,
				struct capchan_parent *p, int *write_err,
				int dot_err, int dotdot_err)
{
	int i, err;

	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES; i++) {
		err = capchan_parent_beneath(root, name, p);
		if (err)
			return err;
		if (p->type != LAST_NORM) {
			if (capchan_parent_leaves(root, p))
				err = -EXDEV;
			else
				err = p->type == LAST_DOT ? dot_err : dotdot_err;
			capchan_parent_put(p);
			return err;
		}
		err = capchan_parent_lock(root, p, write_err);
		if (!err)
			return 0;
		capchan_parent_put(p);
		if (err != -EAGAIN)
			return err;
	}
	return -EAGAIN;
}
