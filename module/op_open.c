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
 *     hooks, O_CREAT, O_TRUNC) over a walk of one component that contains
 *     no "..", no "/" and follows no symlink; the file it opens must be
 *     the very dentry step 1 found, or the open is retried (a rename
 *     raced with it) and finally fails with -EAGAIN.
 *
 * A file to be created (O_CREAT, step 1 found nothing) is created by name
 * in its parent, which step 1 resolved beneath the DIR instead.  Creating
 * through a dangling symlink therefore fails with -ELOOP: fail closed.
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
 * followed, no ".." possible).
 */
static struct file *capchan_open_in(const struct path *parent,
				    const char *name, int flags, u64 rights,
				    umode_t type, umode_t mode)
{
	flags |= O_NOFOLLOW | O_LARGEFILE | O_CLOEXEC |
		 capchan_open_mode(rights, type);
	return file_open_root(parent, name, flags, mode);
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

	/* never block in open() on a FIFO, never reach a device node */
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
		return ERR_PTR(-EAGAIN);
	}
	return file;
}

/* Steps 1 and 2 for a target O_CREAT may create: by name in its parent. */
static struct file *capchan_open_create(const struct path *root, char *name,
					int flags, u64 rights, umode_t mode)
{
	char *slash = strrchr(name, '/');
	struct path parent;
	struct file *file;
	int err;

	if (!slash)
		return capchan_open_in(root, name, flags, rights, S_IFREG, mode);
	*slash = '\0';
	err = capchan_lookup_beneath(root, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY,
				     &parent);
	*slash = '/';
	if (err)
		return ERR_PTR(err);
	file = capchan_open_in(&parent, slash + 1, flags, rights, S_IFREG, mode);
	path_put(&parent);
	return file;
}

static struct file *capchan_open_beneath(const struct path *root, char *name,
					 int flags, u64 rights, umode_t mode)
{
	struct file *file = ERR_PTR(-EAGAIN);
	struct path p;
	int i, err;

	if (name[0] == '/')
		return ERR_PTR(-EXDEV);
	/* -EAGAIN: the tree changed under us; a few tries, then fail closed */
	for (i = 0; i < CAPCHAN_LOOKUP_RETRIES && PTR_ERR(file) == -EAGAIN; i++) {
		err = capchan_lookup_beneath(root, name,
					     (flags & O_NOFOLLOW) ? 0 : LOOKUP_FOLLOW,
					     &p);
		if (err == -ENOENT && (flags & O_CREAT))
			return capchan_open_create(root, name, flags, rights, mode);
		if (err)
			return ERR_PTR(err);
		file = capchan_open_found(root, &p, flags, rights, mode);
		path_put(&p);
	}
	return file;
}

long capchan_issue_open(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_cap *dir = req->cap;
	int flags = sqe->op_flags;
	const struct cred *old;
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

	name = strndup_user(u64_to_user_ptr(sqe->addr), PATH_MAX);
	if (IS_ERR(name))
		return PTR_ERR(name) == -EINVAL ? -ENAMETOOLONG : PTR_ERR(name);
	if (name[0]) {
		old = override_creds(ctx->cred);
		file = capchan_open_beneath(&dir->file->f_path, name, flags,
					    sqe->rights, (umode_t)sqe->off);
		revert_creds(old);
	} else {
		file = ERR_PTR(-ENOENT);
	}
	kfree(name);
	if (IS_ERR(file))
		return PTR_ERR(file);

	if (S_ISDIR(file_inode(file)->i_mode)) {
		cap_type = CAPCHAN_CAP_DIR;
	} else if (S_ISREG(file_inode(file)->i_mode)) {
		cap_type = CAPCHAN_CAP_FILE;
	} else {
		fput(file);
		return -EINVAL;
	}
	cap = capchan_cap_new_child(dir, file, cap_type, sqe->rights);
	fput(file);	/* the capability took its own reference */
	if (IS_ERR(cap))
		return PTR_ERR(cap);
	return capchan_install(ctx, cap);
}
