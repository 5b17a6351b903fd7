// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - OPEN: a path beneath a DIR capability.
 *
 * Under the channel creator's credentials:
 *
 *  1. Resolve the whole path with the kernel's scoped lookup, rooted at the
 *     DIR: LOOKUP_BENEATH (".." or a symlink leaving the DIR: -EXDEV, and a
 *     concurrent rename or mount makes ".." fail with -EAGAIN instead of
 *     escaping), LOOKUP_NO_MAGICLINKS (/proc magic links: -ELOOP),
 *     LOOKUP_NO_XDEV (mount crossings: -EXDEV).  Absolute paths are refused
 *     up front (-EXDEV): a preset lookup root would silently re-root them.
 *
 *  2. Open the *final component only*, by name in its resolved parent, with
 *     file_open_root() and O_NOFOLLOW: full open(2) semantics (DAC, LSM
 *     and IMA hooks, O_CREAT) over a walk of one component that contains
 *     no "..", no "/" and follows no symlink.  The file it opens must be
 *     the very dentry step 1 found, or the open is retried (a rename
 *     raced with it) and finally fails with -EAGAIN.
 *
 * A file to be created (O_CREAT, step 1 found nothing) is created by name
 * in its parent, which step 1 resolved beneath the DIR instead, and must
 * still be beneath the DIR afterwards (is_subdir).  Creating through a
 * dangling symlink fails with -ELOOP: fail closed.  Side effects wait for
 * the verification: O_TRUNC is applied after it (vfs_truncate), and step 2
 * opens with O_NONBLOCK so a FIFO swapped in by a race cannot block.
 */
#include "capchan.h"

#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define CAPCHAN_OPEN_FLAGS \
	(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_NOFOLLOW | \
	 O_NONBLOCK)

/*
 * Exported by fs/namei.c (EXPORT_SYMBOL) but declared only in fs/internal.h,
 * which out-of-tree modules cannot include.  Same signature on 6.1 .. 6.12.
 */
int vfs_path_lookup(struct dentry *dentry, struct vfsmount *mnt,
		    const char *name, unsigned int flags, struct path *path);

/* scoped lookups may report a concurrent rename with -EAGAIN; retry a bit */
#define CAPCHAN_LOOKUP_RETRIES	8

/*
 * Internal: "what we opened is not what we looked up, walk again".  Kept
 * apart from -EAGAIN, which a leased file gives for our non-blocking open
 * and which is passed through (OPEN never waits for a lease break).
 */
#define CAPCHAN_ERACE		ESTALE

int capchan_prep_open(const struct capchan_sqe *sqe)
{
	if (sqe->len)
		return -EINVAL;
	if (sqe->op_flags & ~CAPCHAN_OPEN_FLAGS)
		return -EINVAL;
	if (sqe->rights & ~CAPCHAN_RIGHTS_ALL)
		return -EINVAL;
	if (sqe->op_flags & O_CREAT) {
		if (sqe->off & ~(u64)S_IALLUGO)
			return -EINVAL;
	} else if (sqe->off) {
		return -EINVAL;
	}
	return 0;
}

static int capchan_lookup_beneath(const struct path *root, const char *name,
				  unsigned int flags, struct path *out)
{
	int i, err;

	flags |= LOOKUP_BENEATH | LOOKUP_NO_MAGICLINKS | LOOKUP_NO_XDEV;
	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES; i++) {
		err = vfs_path_lookup(root->dentry, root->mnt, name, flags, out);
		if (err != -EAGAIN)
			break;
	}
	return err;
}

/* The access mode follows the rights asked for; it is never given. */
static int capchan_open_mode(u64 rights, umode_t type)
{
	if (type == S_IFDIR)
		return O_RDONLY;
	if ((rights & CAPCHAN_RIGHT_READ) && (rights & CAPCHAN_RIGHT_WRITE))
		return O_RDWR;
	if (rights & CAPCHAN_RIGHT_WRITE)
		return O_WRONLY;
	return O_RDONLY;
}

/*
 * Step 2: open the component @name of @parent (one component, no symlink
 * followed, no ".." possible).  Nothing with side effects happens before
 * the result is verified: O_TRUNC is applied afterwards, and O_NONBLOCK
 * keeps a FIFO swapped in by a race from blocking the channel.
 */
static struct file *capchan_open_in(const struct path *parent,
				    const char *name, int flags, u64 rights,
				    umode_t type, umode_t mode)
{
	flags &= ~O_TRUNC;
	flags |= O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_LARGEFILE | O_CLOEXEC |
		 capchan_open_mode(rights, type);
	return file_open_root(parent, name, flags, mode);
}

/* After verification: the type, the caller's O_NONBLOCK, then O_TRUNC. */
static struct file *capchan_open_finish(struct file *file, int flags)
{
	umode_t mode = file_inode(file)->i_mode;
	long err = 0;

	if (!S_ISDIR(mode) && !S_ISREG(mode))
		err = -EINVAL;
	else if (S_ISDIR(mode) && (flags & O_TRUNC))
		err = -EISDIR;
	if (!err && !(flags & O_NONBLOCK)) {
		spin_lock(&file->f_lock);
		file->f_flags &= ~O_NONBLOCK;
		spin_unlock(&file->f_lock);
	}
	/*
	 * Permission, leases, LSM truncate hook: all in vfs_truncate().  A file
	 * this open created is empty already and, like open(2), needs no
	 * write permission for it (it may have been created 0444).
	 */
	if (!err && (flags & O_TRUNC) && !(file->f_mode & FMODE_CREATED))
		err = vfs_truncate(&file->f_path, 0);
	if (err) {
		fput(file);
		return ERR_PTR(err);
	}
	return file;
}

/* Steps 1 and 2 for an existing target, found at @p. */
static struct file *capchan_open_found(const struct path *root,
				       const struct path *p, int flags,
				       u64 rights, umode_t mode)
{
	umode_t type = d_inode(p->dentry)->i_mode & S_IFMT;
	struct name_snapshot name;
	struct path parent;
	struct file *file;

	/* never open a FIFO or a device node; a symlink only to say -ELOOP */
	if (type != S_IFDIR && type != S_IFREG &&
	    !(type == S_IFLNK && (flags & O_NOFOLLOW)))
		return ERR_PTR(-EINVAL);
	/* the DIR itself ("." or "a/..") has no parent beneath the DIR */
	if (path_equal(p, root))
		return capchan_open_in(root, ".", flags, rights, type, mode);

	/* LOOKUP_NO_XDEV: @p is on the DIR's mount, so is its parent */
	parent.mnt = p->mnt;
	parent.dentry = dget_parent(p->dentry);
	take_dentry_name_snapshot(&name, p->dentry);
	file = capchan_open_in(&parent, name.name.name, flags, rights, type, mode);
	release_dentry_name_snapshot(&name);
	dput(parent.dentry);
	/*
	 * A rename between the lookup and the open can put another file under
	 * that name, or move ours to another parent: accept only the very
	 * dentry the scoped lookup found, which was beneath the DIR.
	 */
	if (!IS_ERR(file) && (file->f_path.dentry != p->dentry ||
			      file->f_path.mnt != p->mnt)) {
		fput(file);
		return ERR_PTR(-CAPCHAN_ERACE);
	}
	return file;
}

/*
 * Steps 1 and 2 for a target O_CREAT may create: by name in its parent,
 * resolved beneath the DIR, always with O_EXCL so step 2 never opens an
 * object step 1 did not see (something that appeared meanwhile sends us
 * back to step 1, which type-checks it).  If the parent was moved out of
 * the DIR meanwhile, the new empty file is left there but not handed out
 * (openat2's RESOLVE_BENEATH creates in a moved parent the same way).
 */
static struct file *capchan_open_create(const struct path *root, char *name,
					int flags, u64 rights, umode_t mode)
{
	char *slash = strrchr(name, '/');
	const char *base = name;
	struct path parent;
	struct file *file;
	int err;

	if (slash) {
		*slash = '\0';
		err = capchan_lookup_beneath(root, name,
					     LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &parent);
		*slash = '/';
		if (err)
			return ERR_PTR(err);
		base = slash + 1;
	} else {
		parent = *root;
		path_get(&parent);
	}
	file = capchan_open_in(&parent, base, flags | O_EXCL, rights, S_IFREG,
			       mode);
	path_put(&parent);
	if (PTR_ERR(file) == -EEXIST && !(flags & O_EXCL))
		return ERR_PTR(-CAPCHAN_ERACE);
	if (!IS_ERR(file) && (file->f_path.mnt != root->mnt ||
			      !is_subdir(file->f_path.dentry, root->dentry))) {
		fput(file);
		return ERR_PTR(-CAPCHAN_ERACE);
	}
	return file;
}

static struct file *capchan_open_beneath(const struct path *root, char *name,
					 int flags, u64 rights, umode_t mode)
{
	struct file *file = ERR_PTR(-CAPCHAN_ERACE);
	struct path p;
	int i, err;

	if (name[0] == '/')
		return ERR_PTR(-EXDEV);
	/* the tree changed under us: a few tries, then fail closed (-EAGAIN) */
	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES &&
		    PTR_ERR(file) == -CAPCHAN_ERACE; i++) {
		err = capchan_lookup_beneath(root, name,
					     (flags & O_NOFOLLOW) ? 0 : LOOKUP_FOLLOW,
					     &p);
		if (err == -ENOENT && (flags & O_CREAT)) {
			/* a dangling symlink: capchan never creates through links */
			if (!(flags & O_NOFOLLOW) &&
			    !capchan_lookup_beneath(root, name, 0, &p)) {
				path_put(&p);
				return ERR_PTR(-ELOOP);
			}
			file = capchan_open_create(root, name, flags, rights, mode);
			continue;
		}
		if (err)
			return ERR_PTR(err);
		file = capchan_open_found(root, &p, flags, rights, mode);
		path_put(&p);
	}
	if (PTR_ERR(file) == -CAPCHAN_ERACE)
		return ERR_PTR(-EAGAIN);
	return IS_ERR(file) ? file : capchan_open_finish(file, flags);
}

long capchan_issue_open(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_cap *dir = req->cap;
	int flags = sqe->op_flags;
	struct capchan_cap *cap;
	struct file *file;
	char *name;
	u32 cap_type;

	if (sqe->rights & ~dir->rights)
		return -EPERM;
	if ((flags & O_CREAT) && !(dir->rights & CAPCHAN_RIGHT_CREATE))
		return -EPERM;
	if ((flags & O_TRUNC) && !(sqe->rights & CAPCHAN_RIGHT_WRITE))
		return -EPERM;
	/* never mint set-user/group-ID files, whoever owns the channel */
	if ((flags & O_CREAT) && (sqe->off & (S_ISUID | S_ISGID)))
		return -EPERM;

	name = strndup_user(u64_to_user_ptr(sqe->addr), PATH_MAX);
	if (IS_ERR(name))
		return PTR_ERR(name) == -EINVAL ? -ENAMETOOLONG : PTR_ERR(name);
	if (name[0]) {
		/* the creator's credentials: capchan_execute()'s callers set them */
		file = capchan_open_beneath(&dir->file->f_path, name, flags,
					    sqe->rights, (umode_t)sqe->off);
	} else {
		file = ERR_PTR(-ENOENT);
	}
	kfree(name);
	if (IS_ERR(file))
		return PTR_ERR(file);

	/* capchan_open_finish() let through directories and regular files only */
	cap_type = S_ISDIR(file_inode(file)->i_mode) ? CAPCHAN_CAP_DIR :
						       CAPCHAN_CAP_FILE;
	cap = capchan_cap_new_child(dir, file, cap_type, sqe->rights);
	fput(file);	/* the capability took its own reference */
	if (IS_ERR(cap))
		return PTR_ERR(cap);
	return capchan_install(ctx, cap);
}
