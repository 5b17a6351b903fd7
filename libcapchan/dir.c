// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Directory operations beneath a DIR capability, one synchronous operation
 * per call through CAPCHAN_IOC_INVOKE, and an iterator over READDIR's
 * records so that callers never parse them.
 */
#include <string.h>

#include "capchan.h"

/*
 * Largest READDIR buffer asked for: the result must fit a non-negative int,
 * and the module never fills more than MAX_RW_COUNT anyway.
 */
#define CAPCHAN__READDIR_MAX	0x7ffff000U

ssize_t capchan_readdir(struct capchan *ch, uint32_t dir, void *buf,
			size_t len, uint64_t cookie)
{
	struct capchan_sqe sqe;

	if (len > CAPCHAN__READDIR_MAX)
		len = CAPCHAN__READDIR_MAX;
	capchan_prep_readdir(&sqe, dir, buf, (unsigned)len, cookie);
	return capchan_invoke(ch, &sqe);
}

int capchan_dir_iter_init(struct capchan_dir_iter *it, struct capchan *ch,
			  uint32_t dir, void *buf, size_t len)
{
	/* records sit at 8-byte aligned offsets: start the buffer on one */
	size_t skip = (8 - ((uintptr_t)buf & 7)) & 7;

	if (!buf || len < skip || len - skip < CAPCHAN_DIR_BUF_MIN)
		return -EINVAL;
	len -= skip;
	if (len > CAPCHAN__READDIR_MAX)
		len = CAPCHAN__READDIR_MAX;
	memset(it, 0, sizeof(*it));
	it->ch = ch;
	it->buf = (char *)buf + skip;
	it->len = (uint32_t)(len & ~(size_t)7);
	it->dir = dir;
	return 0;
}

/*
 * The next entry, refilling the buffer with READDIR from the last returned
 * record's cookie when it is used up.  A failed READDIR leaves the iterator
 * where it was, so calling again retries from the same entry.
 */
int capchan_dir_next(struct capchan_dir_iter *it,
		     const struct capchan_dirent **ent)
{
	const struct capchan_dirent *d;
	uint32_t left;
	ssize_t n;

	while (it->pos == it->end) {
		if (it->done)
			return 0;
		n = capchan_readdir(it->ch, it->dir, it->buf, it->len,
				    it->cookie);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			it->done = 1;
			return 0;
		}
		if ((size_t)n > it->len)
			return -EPROTO;
		it->pos = 0;
		it->end = (uint32_t)n;
	}
	/*
	 * The module is trusted, but a record that does not hold together
	 * would send the caller reading past the buffer: refuse it.
	 */
	left = it->end - it->pos;
	d = (const struct capchan_dirent *)(it->buf + it->pos);
	if (left < sizeof(*d) || d->reclen > left || d->reclen & 7 ||
	    d->reclen < sizeof(*d) + d->namelen + 1U ||
	    d->name[d->namelen] != '\0')
		return -EPROTO;
	it->pos += d->reclen;
	it->cookie = d->next;
	*ent = d;
	return 1;
}

int capchan_statat(struct capchan *ch, uint32_t dir, const char *path,
		   struct capchan_stat *st, unsigned flags)
{
	struct capchan_sqe sqe;

	capchan_prep_statat(&sqe, dir, path, st, flags);
	return capchan_invoke(ch, &sqe);
}

int capchan_mkdir_beneath(struct capchan *ch, uint32_t dir, const char *path,
			  mode_t mode)
{
	struct capchan_sqe sqe;

	capchan_prep_mkdir(&sqe, dir, path, mode);
	return capchan_invoke(ch, &sqe);
}

int capchan_unlink_beneath(struct capchan *ch, uint32_t dir, const char *path)
{
	struct capchan_sqe sqe;

	capchan_prep_unlink(&sqe, dir, path);
	return capchan_invoke(ch, &sqe);
}

int capchan_rmdir_beneath(struct capchan *ch, uint32_t dir, const char *path)
{
	struct capchan_sqe sqe;

	capchan_prep_rmdir(&sqe, dir, path);
	return capchan_invoke(ch, &sqe);
}

int capchan_symlink_beneath(struct capchan *ch, uint32_t dir,
			    const char *path, const char *target)
{
	struct capchan_sqe sqe;

	capchan_prep_symlink(&sqe, dir, path, target);
	return capchan_invoke(ch, &sqe);
}

int capchan_rename_beneath(struct capchan *ch, uint32_t olddir,
			   const char *oldpath, uint32_t newdir,
			   const char *newpath, unsigned flags)
{
	struct capchan_sqe sqe;

	capchan_prep_rename(&sqe, olddir, oldpath, newdir, newpath, flags);
	return capchan_invoke(ch, &sqe);
}

int capchan_truncate(struct capchan *ch, uint32_t file, uint64_t length)
{
	struct capchan_sqe sqe;

	capchan_prep_truncate(&sqe, file, length);
	return capchan_invoke(ch, &sqe);
}
