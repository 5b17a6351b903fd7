// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - OPEN: a path beneath a DIR capability.
 *
 * Two steps, both under the channel creator's credentials:
 *
 *  1. Resolve the path with the kernel's scoped lookup, rooted at the DIR:
 *     LOOKUP_BENEATH (".." or a symlink leaving the DIR: -EXDEV),
 *     LOOKUP_NO_MAGICLINKS (/proc magic links: -ELOOP), LOOKUP_NO_XDEV
 *     (mount crossings: -EXDEV).  Absolute paths are refused up front
 *     (-EXDEV) because a preset lookup root would silently re-root them.
 *     This makes every static escape fail closed with a clear errno.
 *
 *  2. Open with file_open_root() at the same DIR: full open(2) semantics
 *     (DAC, LSM hooks, O_CREAT/O_TRUNC), with the DIR as the root of the
 *     walk.  If the tree changes between 1 and 2 (a swapped symlink, a
 *     rename race), ".." and absolute symlinks are clamped at the DIR, so
 *     a race can at worst open something else *inside* it, never outside.
 */
#include "capchan.h"

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

/*
 * Step 1.  On success *@type is the inode type the path resolves to, or 0
 * when it does not exist yet and O_CREAT may create it (its parent was
 * checked instead).
 */
static int capchan_check_beneath(const struct path *root, char *name,
				 int flags, umode_t *type)
{
	unsigned int lookup = (flags & O_NOFOLLOW) ? 0 : LOOKUP_FOLLOW;
	struct path p;
	char *slash;
	int err;

	if (name[0] == '/')
		return -EXDEV;
	err = capchan_lookup_beneath(root, name, lookup, &p);
	if (!err) {
		*type = d_inode(p.dentry)->i_mode & S_IFMT;
		path_put(&p);
		return 0;
	}
	if (err != -ENOENT || !(flags & O_CREAT))
		return err;

	/* to be created: its parent must resolve beneath the DIR */
	*type = 0;
	slash = strrchr(name, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	err = capchan_lookup_beneath(root, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY,
				     &p);
	*slash = '/';
	if (err)
		return err;
	path_put(&p);
	return 0;
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

long capchan_issue_open(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_cap *dir = req->cap;
	int flags = sqe->op_flags;
	const struct cred *old;
	struct capchan_cap *cap;
	struct file *file;
	umode_t type;
	char *name;
	u32 cap_type;
	long ret;

	if (sqe->rights & ~dir->rights)
		return -EPERM;
	if ((flags & O_CREAT) && !(dir->rights & CAPCHAN_RIGHT_CREATE))
		return -EPERM;
	if ((flags & O_TRUNC) && !(sqe->rights & CAPCHAN_RIGHT_WRITE))
		return -EPERM;

	name = strndup_user(u64_to_user_ptr(sqe->addr), PATH_MAX);
	if (IS_ERR(name)) {
		ret = PTR_ERR(name);
		return ret == -EINVAL ? -ENAMETOOLONG : ret;
	}
	if (!name[0]) {
		ret = -ENOENT;
		goto out_name;
	}

	old = override_creds(ctx->cred);
	ret = capchan_check_beneath(&dir->file->f_path, name, flags, &type);
	if (ret)
		goto out_creds;
	/* never block in open() on a FIFO or reach a device node */
	if (type && type != S_IFDIR && type != S_IFREG &&
	    !(type == S_IFLNK && (flags & O_NOFOLLOW))) {
		ret = -EINVAL;
		goto out_creds;
	}
	file = file_open_root(&dir->file->f_path, name,
			      flags | capchan_open_mode(sqe->rights, type) |
			      O_LARGEFILE | O_CLOEXEC,
			      (umode_t)sqe->off);
	revert_creds(old);
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

out_creds:
	revert_creds(old);
out_name:
	kfree(name);
	return ret;
}
