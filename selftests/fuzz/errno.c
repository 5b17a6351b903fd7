// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the errnos each op may fail with, and nothing else: every
 * result is success or a -errno from its op's set (which check fails
 * first is not modelled).
 */
#include "fuzz.h"

static bool fz_in(int e, const int *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == e)
			return true;
	return false;
}

/* May op fail with -e?  (The order of checks is not modelled here.) */
bool fz_errno_ok(unsigned int op, int e)
{
	static const int common[] = {
		EINVAL, EOPNOTSUPP, EBADF, EKEYREVOKED, ENOTDIR, EISDIR, EPERM,
	};
	static const int open_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EEXIST, EMFILE,
		EMLINK, EAGAIN, ENOMEM, ENOSPC, ENXIO, ENODEV, EIO,
		ESRCH,	/* procfs beneath the granted /proc/<pid> of a dead task */
		EDQUOT, ENFILE,	/* the user's capability and file limits */
	};
	static const int rw_e[] = { EFAULT, EIO, ENOMEM, EAGAIN, ENOSPC, EFBIG };
	static const int stat_e[] = { EFAULT };
	static const int make_e[] = { EMFILE, EMLINK, ENOMEM, ENFILE, EDQUOT };
	static const int misc_e[] = { EIO, ESPIPE };
	/* a removed directory lists as ENOENT; /proc of a dead task as ESRCH */
	static const int readdir_e[] = {
		EFAULT, ENOENT, EIO, ENOMEM, EACCES, ESRCH, EINTR,
	};
	static const int statat_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EAGAIN, ENOMEM,
		ESRCH, EIO,
	};
	/* MKDIR, SYMLINK, UNLINK, RMDIR, RENAME: what their system calls say */
	static const int dir_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EAGAIN, ENOMEM,
		ESRCH, EIO, EEXIST, ENOSPC, EMLINK, EROFS, EDQUOT, EBUSY, ENOTEMPTY,
	};
	static const int truncate_e[] = {
		EFBIG, EACCES, ETXTBSY, EIO, EAGAIN, ENOMEM, ENOSPC, EINTR,
	};

	if (fz_in(e, common, CC_ARRAY_SIZE(common)))
		return true;
	switch (op) {
	case CAPCHAN_OP_OPEN:
		return fz_in(e, open_e, CC_ARRAY_SIZE(open_e));
	case CAPCHAN_OP_READ:
	case CAPCHAN_OP_WRITE:
		return fz_in(e, rw_e, CC_ARRAY_SIZE(rw_e));
	case CAPCHAN_OP_STAT:
		return fz_in(e, stat_e, CC_ARRAY_SIZE(stat_e));
	case CAPCHAN_OP_DERIVE:
	case CAPCHAN_OP_EXPORT:
	case CAPCHAN_OP_IMPORT:
		return fz_in(e, make_e, CC_ARRAY_SIZE(make_e));
	case CAPCHAN_OP_FSYNC:
	case CAPCHAN_OP_PREFETCH:
		return fz_in(e, misc_e, CC_ARRAY_SIZE(misc_e));
	case CAPCHAN_OP_READDIR:
		return fz_in(e, readdir_e, CC_ARRAY_SIZE(readdir_e));
	case CAPCHAN_OP_STATAT:
		return fz_in(e, statat_e, CC_ARRAY_SIZE(statat_e));
	case CAPCHAN_OP_MKDIR:
	case CAPCHAN_OP_SYMLINK:
		/* creating never finds a directory not empty, nor busy */
		return e != EBUSY && e != ENOTEMPTY && fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_UNLINK:
		return e != ENOTEMPTY && e != EEXIST && e != EMLINK && e != EDQUOT &&
		       e != ENOSPC && fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_RMDIR:
		return e != EEXIST && e != EMLINK && e != EDQUOT && e != ENOSPC &&
		       fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_RENAME:
		return fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_TRUNCATE:
		return fz_in(e, truncate_e, CC_ARRAY_SIZE(truncate_e));
	default:
		return false;
	}
}
