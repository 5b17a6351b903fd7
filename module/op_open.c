// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - OPEN: a path beneath a DIR capability, with openat2's answers.
 *
 * For the same tree, path, flags and credentials, OPEN succeeds exactly when
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) would,
 * reaches the same inode, and otherwise fails with the same errno, except
 * where a capability rule decides first (rights, set-ID modes, types other
 * than directories and regular files, creation through a dangling symlink,
 * O_CREAT on someone else's file in a sticky directory: capchan.7 lists
 * them).  It runs with the DIR capability's credentials (capchan_execute).
 *
 * No name is ever resolved twice into something else: the kernel's scoped
 * lookup does every walk (LOOKUP_BENEATH: ".." or a symlink leaving the DIR
 * is -EXDEV, and a concurrent rename or mount makes ".." fail with -EAGAIN
 * instead of escaping; LOOKUP_NO_MAGICLINKS; LOOKUP_NO_XDEV), and the
 * object it found is opened as such, by its dentry:
 *
 *  - without O_CREAT, the whole path is looked up and its final object
 *    opened (capchan_open_path: open(2)'s permission checks, LSM open and
 *    IMA hooks, leases; O_TRUNC only after it is open);
 *
 *  - with O_CREAT, the parent is looked up (its last component walked as
 *    a directory on the way, not as a trailing link, as open(2) does) and
 *    the final name is looked up, and created if missing, under the
 *    parent's lock and the file system's rename mutex, after checking that
 *    the parent is still beneath the DIR.  So one OPEN creates at most one
 *    file, only beneath its DIR, and O_EXCL keeps its meaning: a cross-
 *    directory rename cannot move the parent out in between.  An existing
 *    target is opened without O_CREAT.
 *
 * open(2)'s checks (may_open() and do_open() in fs/namei.c, read in the 6.1
 * and 6.12 sources) and the call that makes each for OPEN; the ones marked
 * [t] have cases in selftests/open_checks_test.c:
 *
 *  open(2) checks                     OPEN gets it from
 *  ---------------------------------  --------------------------------------
 *  [t] permission, MAY_OPEN | access  inode_permission(), open(2)'s mask
 *      (DAC, ACLs, LSM inode hooks,   (capchan_acc_mask); for a file OPEN
 *      read-only sb: EACCES, EROFS)   created, MAY_OPEN alone, as open(2)
 *  [t] append-only: writing without   the IS_APPEND() test right after it
 *      O_APPEND, or O_TRUNC: EPERM
 *  [t] device nodes (and nodev        never reached: the type rule refuses
 *      mounts: EACCES), FIFOs,        every type but directories and
 *      sockets                        regular files first (-EINVAL), so the
 *                                     nodev rule, which dentry_open() would
 *                                     not apply, never arises
 *  [t] noexec mounts                  nothing to do: open(2) applies them
 *                                     only with MAY_EXEC, and OPEN never
 *                                     asks it (there is no exec right)
 *  [t] O_NOATIME for the owner only   the flag is not accepted (-EINVAL,
 *      (EPERM)                        capchan_prep_open); dentry_open()
 *                                     would not check the owner
 *  [t] write access to a read-only    dentry_open(): do_dentry_open() takes
 *      mount (EROFS); to a file       write access to the inode and mount
 *      being executed (ETXTBSY, not
 *      tested)
 *      LSM file_open, fanotify's      dentry_open(): security_file_open()
 *      open permission event          (which sends the fanotify event)
 *  [t] leases                         dentry_open(): break_lease() with the
 *                                     open's flags, O_NONBLOCK always added
 *                                     here: a lease to break is -EAGAIN at
 *                                     once (__break_lease's -EWOULDBLOCK)
 *      IMA's file check               ima_file_check() before 6.9, after it
 *                                     security_file_post_open() (whose one
 *                                     hook on 6.12 is ima_file_check), with
 *                                     open(2)'s mask, created files too
 *  [t] fsnotify: IN_OPEN              fsnotify_open() before 6.8; on 6.12
 *                                     vfs_open(), inside dentry_open()
 *  [t] O_TRUNC, after all the above   vfs_truncate() once the file is open:
 *      (IN_MODIFY)                    MAY_WRITE, append-only, write access,
 *                                     LSM path_truncate, do_truncate(); its
 *                                     blocking break_lease() finds no lease
 *                                     (the open would have failed, and none
 *                                     is granted while the file is open for
 *                                     writing)
 *  [t] O_CREAT: parent write+search,  vfs_create() (may_create(), LSM
 *      LSM path_mknod, inode_create,  inode_create, fsnotify_create()) after
 *      IN_CREATE (the parent's        security_path_mknod()
 *      permission: open_diff_test)
 *
 * Where the two differ: open(2)'s O_TRUNC goes through do_truncate() with
 * the file (ATTR_FILE | ATTR_OPEN) and, on 6.12, LSM file_truncate instead
 * of path_truncate (AppArmor, Landlock and TOMOYO hook both); on 6.1 open(2)
 * sends IN_OPEN after the truncation's IN_MODIFY, OPEN before it; open(2)'s
 * audit_inode() record is not made.
 *
 * Every limit (table slot, depth, capabilities and files of the user) is
 * reserved before any of this, so a failed OPEN has created or truncated
 * nothing.  The one window left: a device node or FIFO renamed over the
 * final name of an existing target between lookup and open is not opened
 * (the type is checked on the dentry first), but one renamed over it by a
 * same-directory rename after the lookup does not change what we open
 * either, since the dentry, not the name, is opened.
 */
#include "capchan.h"

#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/fsnotify.h>
#include <linux/ima.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "capchan_trace.h"

#define CAPCHAN_OPEN_FLAGS \
	(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_NOFOLLOW | \
	 O_NONBLOCK)

int capchan_prep_open(const struct capchan_sqe *sqe)
{
	if (sqe->len)
		return -EINVAL;
	if (sqe->op_flags & ~CAPCHAN_OPEN_FLAGS)
		return -EINVAL;
	/* as openat2: O_CREAT | O_DIRECTORY is refused before any lookup */
	if ((sqe->op_flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
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

/* The access mode follows the rights asked for; it is never given. */
static int capchan_open_accmode(u64 rights, bool dir)
{
	if (dir)
		return O_RDONLY;
	if ((rights & CAPCHAN_RIGHT_READ) && (rights & CAPCHAN_RIGHT_WRITE))
		return O_RDWR;
	if (rights & CAPCHAN_RIGHT_WRITE)
		return O_WRONLY;
	return O_RDONLY;
}

/* open(2)'s MAY_* mask for @flags, as build_open_flags() makes it */
static int capchan_acc_mask(int flags)
{
	int mask = 0;

	if ((flags & O_ACCMODE) != O_WRONLY)
		mask |= MAY_READ;
	if ((flags & O_ACCMODE) != O_RDONLY)
		mask |= MAY_WRITE;
	if (flags & O_TRUNC)
		mask |= MAY_WRITE;
	if (flags & O_APPEND)
		mask |= MAY_APPEND;
	return mask;
}

/*
 * O_CREAT on an existing file someone else owns in a sticky directory:
 * refused as open(2) refuses it with fs.protected_regular=2 (its strictest
 * setting), whatever the sysctl says, which a module cannot read: a
 * capability never opens a file an attacker planted under its name.
 */
static int capchan_sticky_check(const struct path *p)
{
	struct inode *inode = d_inode(p->dentry);
	struct dentry *parent = dget_parent(p->dentry);
	struct inode *dir = d_inode(parent);
	umode_t dir_mode = dir->i_mode;
	/* owners as this mount shows them (idmapped mounts), as open(2) does */
	vfsuid_t dir_uid = i_uid_into_vfsuid(capchan_idmap(p->mnt), dir);
	vfsuid_t owner = i_uid_into_vfsuid(capchan_idmap(p->mnt), inode);
	int err = 0;

	dput(parent);
	/* other types meet their own rule (EISDIR, EINVAL) later */
	if (!S_ISREG(inode->i_mode) && !S_ISLNK(inode->i_mode))
		return 0;
	if (!(dir_mode & S_ISVTX) || vfsuid_eq(owner, dir_uid) ||
	    vfsuid_eq_kuid(owner, current_fsuid()))
		return 0;
	if ((dir_mode & 0002) || ((dir_mode & 0020) && S_ISREG(inode->i_mode)))
		err = -EACCES;
	return err;
}

/*
 * Open the object at @p: a directory or regular file the scoped lookup
 * found (or, @created, just created).  open(2)'s last step, by dentry: its
 * checks in its order, then the open (LSM and lease hooks inside), IMA, and
 * O_TRUNC last.
 */
static struct file *capchan_open_path(const struct path *p, int flags,
				      u64 rights, bool created)
{
	struct inode *inode = d_inode(p->dentry);
	umode_t type = inode->i_mode & S_IFMT;
	struct file *file;
	int mask, err;

	if ((flags & O_DIRECTORY) && !d_can_lookup(p->dentry))
		return ERR_PTR(-ENOTDIR);
	if (type == S_IFLNK)
		return ERR_PTR(-ELOOP);
	/* a capability rule: only directories and regular files */
	if (type != S_IFDIR && type != S_IFREG)
		return ERR_PTR(-EINVAL);

	flags &= ~O_ACCMODE;
	flags |= capchan_open_accmode(rights, type == S_IFDIR);
	mask = capchan_acc_mask(flags);
	if (!created) {
		if (type == S_IFDIR && (mask & MAY_WRITE))
			return ERR_PTR(-EISDIR);
		err = inode_permission(capchan_idmap(p->mnt), inode,
				       MAY_OPEN | mask);
		if (err)
			return ERR_PTR(err);
		/* an append-only file must be opened in append mode for writing */
		if (IS_APPEND(inode) &&
		    (((flags & O_ACCMODE) != O_RDONLY && !(flags & O_APPEND)) ||
		     (flags & O_TRUNC)))
			return ERR_PTR(-EPERM);
	} else {
		/* a file this open made: MAY_OPEN only, as open(2) asks LSMs */
		err = inode_permission(capchan_idmap(p->mnt), inode, MAY_OPEN);
		if (err)
			return ERR_PTR(err);
	}

	/*
	 * Always non-blocking here: a lease being broken fails the OPEN with
	 * -EAGAIN instead of stalling the channel for the lease-break time.
	 */
	file = dentry_open(p, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) |
			      O_NONBLOCK | O_NOCTTY | O_LARGEFILE | O_CLOEXEC,
			   current_cred());
	if (IS_ERR(file))
		return file;
	if (!(flags & O_NONBLOCK)) {
		spin_lock(&file->f_lock);
		file->f_flags &= ~O_NONBLOCK;
		spin_unlock(&file->f_lock);
	}
	/* IMA and others tell a new file by this, as after open(2) */
	if (created)
		file->f_mode |= FMODE_CREATED;
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
	/* since 6.8 the open itself sends it */
	fsnotify_open(file);
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	err = security_file_post_open(file, mask);
#else
	err = ima_file_check(file, mask);
#endif
	/* permission, leases and the LSM truncate hook: vfs_truncate() */
	if (!err && !created && type == S_IFREG && (flags & O_TRUNC))
		err = vfs_truncate(&file->f_path, 0);
	if (err) {
		fput(file);
		return ERR_PTR(err);
	}
	return file;
}

/*
 * O_CREAT: the parent is resolved and locked beneath the DIR (beneath.c),
 * the last component looked up in it and created if missing.  Then, outside
 * the lock, what was found or made is opened by its dentry.
 */
static struct file *capchan_open_create(const struct path *root,
					const char *name, int flags, u64 rights,
					umode_t mode)
{
	struct capchan_parent par;
	struct path p, target;
	bool created = false;
	struct dentry *dentry;
	struct file *file;
	int err, werr;

	/* "." and ".." exist (O_EXCL) and are directories */
	err = capchan_parent_resolve_lock(root, name, &par, &werr,
					  (flags & O_EXCL) ? -EEXIST : -EISDIR,
					  (flags & O_EXCL) ? -EEXIST : -EISDIR);
	if (err)
		return ERR_PTR(err);
	if (par.slash) {
		/* a trailing slash: open(2) never creates a directory */
		capchan_parent_unlock(&par);
		capchan_parent_put(&par);
		return ERR_PTR(-EISDIR);
	}

	dentry = capchan_parent_child(&par);
	err = PTR_ERR_OR_ZERO(dentry);
	if (!err && d_is_negative(dentry)) {
		struct inode *dir = d_inode(par.path.dentry);
		umode_t m = mode;

		/* open(2) says EROFS and the like only when it must create */
		err = werr;
		if (!IS_POSIXACL(dir))
			m &= ~current_umask();
		if (!err)
			err = security_path_mknod(&par.path, dentry, m, 0);
		if (!err)
			err = vfs_create(capchan_idmap(par.path.mnt), dir, dentry,
					 mode, true);
		if (err)
			dput(dentry);
		created = !err;
	}
	capchan_parent_unlock(&par);
	if (err) {
		capchan_parent_put(&par);
		return ERR_PTR(err);
	}
	p.mnt = mntget(par.path.mnt);
	p.dentry = dentry;
	capchan_parent_put(&par);
	if (created) {
		file = capchan_open_path(&p, flags, rights, true);
		path_put(&p);
		return file;
	}

	/*
	 * It exists: open(2)'s O_CREAT checks, then open it as it is.  A mount
	 * point is stepped onto before anything else, which LOOKUP_NO_XDEV
	 * refuses.
	 */
	if (path_is_mountpoint(&p)) {
		err = -EXDEV;
	} else if (flags & O_EXCL) {
		err = -EEXIST;
	} else if (d_is_symlink(p.dentry) && !(flags & O_NOFOLLOW)) {
		/* follow the trailing link, scoped like every walk */
		err = capchan_lookup_beneath(root, name, LOOKUP_FOLLOW, &target);
		/* a link to nothing: capchan never creates through a link */
		if (err == -ENOENT)
			err = -ELOOP;
		if (!err) {
			path_put(&p);
			p = target;
		}
	}
	if (!err && d_is_dir(p.dentry))
		err = -EISDIR;
	if (!err)
		err = capchan_sticky_check(&p);
	file = err ? ERR_PTR(err) :
		     capchan_open_path(&p, flags & ~O_CREAT, rights, false);
	path_put(&p);
	return file;
}

/* The walk an OPEN without O_CREAT makes, as open(2) would. */
static unsigned int capchan_open_lookup_flags(int flags)
{
	unsigned int lookup = 0;

	if (!(flags & O_NOFOLLOW))
		lookup |= LOOKUP_FOLLOW;
	if (flags & O_DIRECTORY)
		lookup |= LOOKUP_DIRECTORY;
	return lookup;
}

/*
 * @found: what a cached-only walk already found (capchan_issue_open()),
 * else NULL.
 */
static struct file *capchan_open_beneath(const struct path *root,
					 const char *name, int flags,
					 u64 rights, umode_t mode,
					 const struct path *found)
{
	struct file *file;
	struct path p;
	int err;

	if (found)
		return capchan_open_path(found, flags, rights, false);
	if (flags & O_CREAT)
		return capchan_open_create(root, name, flags, rights, mode);

	err = capchan_lookup_beneath(root, name,
				     capchan_open_lookup_flags(flags), &p);
	if (err)
		return ERR_PTR(err);
	file = capchan_open_path(&p, flags, rights, false);
	path_put(&p);
	return file;
}

/*
 * OPEN reserves everything it will need before it looks at the file
 * system (a table slot, the new capability with its depth and the user's
 * capability count, an object with the user's file count), so a limit can
 * never make it fail after it created or truncated something.
 */
/* OPEN's capability rules, before anything else looks at the request. */
int capchan_authorize_open(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	u64 held = req->cap->rights;
	int flags = sqe->op_flags;

	if (sqe->rights & ~held)
		return -EPERM;
	if ((flags & O_CREAT) && !(held & CAPCHAN_RIGHT_CREATE))
		return -EPERM;
	if ((flags & O_TRUNC) && !(sqe->rights & CAPCHAN_RIGHT_WRITE))
		return -EPERM;
	/* never mint set-user/group-ID files, whoever granted the DIR */
	if ((flags & O_CREAT) && (sqe->off & (S_ISUID | S_ISGID)))
		return -EPERM;
	return 0;
}

long capchan_issue_open(struct capchan_ctx *ctx, struct capchan_req *req)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_cap *dir = req->cap;
	const struct path *root = &capchan_cap_file(dir)->f_path;
	int flags = sqe->op_flags;
	struct path found, *have = NULL;
	struct capchan_obj *obj;
	struct capchan_cap *cap;
	struct file *file;
	int handle, err;

	/*
	 * From the rings, on a file system with storage (not tmpfs, proc,
	 * sysfs: capchan_storage_punt()), an OPEN that changes the file
	 * system (O_CREAT, O_TRUNC) goes to a worker, and the walk of one
	 * that does not is tried in the dentry cache alone first
	 * (LOOKUP_CACHED, openat2's RESOLVE_CACHED): a name not cached there
	 * would wait for the storage, so a worker makes the whole OPEN
	 * (worker.c).  The walk changes nothing, so doing it before the
	 * reservations below keeps their rule: nothing is made that a limit
	 * could undo.
	 */
	if (capchan_storage_punt(req, root)) {
		if (flags & (O_CREAT | O_TRUNC))
			return -EIOCBQUEUED;
		err = capchan_lookup_beneath_req(req, root,
						 capchan_open_lookup_flags(flags),
						 &found);
		if (err)
			return err;
		have = &found;
	}

	handle = capchan_table_reserve(&ctx->table);
	if (handle < 0) {
		err = handle;
		goto out_found;
	}
	/* the type is fixed below, once we know what was opened */
	cap = capchan_cap_prepare_child(dir, NULL, 0, sqe->rights, ctx->user);
	if (IS_ERR(cap)) {
		err = PTR_ERR(cap);
		goto out_cancel;
	}
	obj = capchan_obj_new(NULL, ctx->user);
	if (IS_ERR(obj)) {
		err = PTR_ERR(obj);
		goto out_cap;
	}

	/* the path capchan_execute() copied once, the one policy saw */
	file = capchan_open_beneath(root, req->path, flags, sqe->rights,
				    (umode_t)sqe->off, have);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		capchan_obj_put(obj);
		goto out_cap;
	}
	/* capchan_open_path() let through directories and regular files only */
	cap->type = S_ISDIR(file_inode(file)->i_mode) ? CAPCHAN_CAP_DIR :
							CAPCHAN_CAP_FILE;
	capchan_obj_set_file(obj, file);
	fput(file);		/* the object took its own reference */
	cap->obj = obj;		/* the prepared capability takes this one */
	/* fails only if the DIR was revoked meanwhile: the cap goes with it */
	err = capchan_cap_link(dir, cap);
	if (err)
		goto out_cancel;
	/* before the commit: once in the table, another thread may close it */
	trace_capchan_cap(CAPCHAN_CAP_CREATED, ctx->id, handle, cap->type,
			  cap->rights, from_kuid_munged(current_user_ns(),
							cap->cred->fsuid),
			  cap->depth, 1);
	capchan_table_commit(&ctx->table, handle, cap);
	if (have)
		path_put(have);
	return handle;

out_cap:
	capchan_cap_put(cap);
out_cancel:
	capchan_table_cancel(&ctx->table, handle);
out_found:
	if (have)
		path_put(have);
	return err;
}
