// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The capability layer: bootstrap ioctls (GRANT, SEAL) and one synchronous
 * operation per call through CAPCHAN_IOC_INVOKE.  Never touches the rings.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "capchan.h"
#include "syscall.h"

/*
 * Largest transfer asked of the module in one READ/WRITE: the result must
 * fit a non-negative int, and the kernel never moves more than this
 * (MAX_RW_COUNT with 4 KiB pages) in one call anyway.
 */
#define CAPCHAN__RW_MAX		0x7ffff000U

/* First buffer size of capchan_read_to_end(). */
#define CAPCHAN__READ_CHUNK	4096U

int capchan_invoke(struct capchan *ch, const struct capchan_sqe *sqe)
{
	return capchan__sys_ioctl(ch->fd, CAPCHAN_IOC_INVOKE,
				  (void *)(uintptr_t)sqe);
}

int capchan_grant(struct capchan *ch, int fd, uint64_t rights)
{
	struct capchan_grant g;
	int ret;

	memset(&g, 0, sizeof(g));
	g.fd = fd;
	g.rights = rights;
	ret = capchan__sys_ioctl(ch->fd, CAPCHAN_IOC_GRANT, &g);
	if (ret < 0)
		return ret;
	return (int)g.handle;
}

int capchan_seal(struct capchan *ch)
{
	return capchan_seal_flags(ch, 0);
}

int capchan_seal_flags(struct capchan *ch, unsigned int flags)
{
	/* the flags are the ioctl's argument itself, not a pointer */
	return capchan__sys_ioctl(ch->fd, CAPCHAN_IOC_SEAL,
				  (void *)(unsigned long)flags);
}

int capchan_open_beneath(struct capchan *ch, uint32_t dir, const char *path,
			 int o_flags, mode_t mode, uint64_t rights)
{
	struct capchan_sqe sqe;

	/* Like open(2): the mode only means something with O_CREAT. */
	if (!(o_flags & O_CREAT))
		mode = 0;
	capchan_prep_open(&sqe, dir, path, o_flags, mode, rights);
	return capchan_invoke(ch, &sqe);
}

ssize_t capchan_read(struct capchan *ch, uint32_t h, void *buf, size_t len,
		     uint64_t off)
{
	struct capchan_sqe sqe;

	if (len > CAPCHAN__RW_MAX)
		len = CAPCHAN__RW_MAX;
	capchan_prep_read(&sqe, h, buf, (unsigned)len, off);
	return capchan_invoke(ch, &sqe);
}

ssize_t capchan_write(struct capchan *ch, uint32_t h, const void *buf,
		      size_t len, uint64_t off)
{
	struct capchan_sqe sqe;

	if (len > CAPCHAN__RW_MAX)
		len = CAPCHAN__RW_MAX;
	capchan_prep_write(&sqe, h, buf, (unsigned)len, off);
	return capchan_invoke(ch, &sqe);
}

/*
 * Read from the file position to end of file into a malloc'd buffer that
 * is always NUL-terminated.  *bufp is set only on success.
 */
ssize_t capchan_read_to_end(struct capchan *ch, uint32_t h, void **bufp)
{
	size_t size = CAPCHAN__READ_CHUNK, len = 0;
	char *buf = malloc(size), *bigger;
	ssize_t ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (size - len < 2) {	/* room for one byte and the NUL */
			if (size > SSIZE_MAX / 2) {
				ret = -EOVERFLOW;
				goto err;
			}
			bigger = realloc(buf, size * 2);
			if (!bigger) {
				ret = -ENOMEM;
				goto err;
			}
			buf = bigger;
			size *= 2;
		}
		ret = capchan_read(ch, h, buf + len, size - len - 1,
				   CAPCHAN_OFF_CURRENT);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			goto err;
		if (ret == 0)
			break;
		len += (size_t)ret;
	}
	buf[len] = '\0';
	*bufp = buf;
	return (ssize_t)len;

err:
	free(buf);
	return ret;
}

int capchan_stat(struct capchan *ch, uint32_t h, struct capchan_stat *st)
{
	struct capchan_sqe sqe;

	capchan_prep_stat(&sqe, h, st);
	return capchan_invoke(ch, &sqe);
}

int capchan_fsync(struct capchan *ch, uint32_t h, unsigned flags)
{
	struct capchan_sqe sqe;

	capchan_prep_fsync(&sqe, h, flags);
	return capchan_invoke(ch, &sqe);
}

int capchan_derive(struct capchan *ch, uint32_t h, uint64_t rights)
{
	struct capchan_sqe sqe;

	capchan_prep_derive(&sqe, h, rights);
	return capchan_invoke(ch, &sqe);
}

int capchan_revoke(struct capchan *ch, uint32_t h)
{
	struct capchan_sqe sqe;

	capchan_prep_revoke(&sqe, h);
	return capchan_invoke(ch, &sqe);
}

int capchan_close(struct capchan *ch, uint32_t h)
{
	struct capchan_sqe sqe;

	capchan_prep_close(&sqe, h);
	return capchan_invoke(ch, &sqe);
}

int capchan_export(struct capchan *ch, uint32_t h, uint64_t rights)
{
	struct capchan_sqe sqe;

	capchan_prep_export(&sqe, h, rights);
	return capchan_invoke(ch, &sqe);
}

int capchan_import(struct capchan *ch, int capfd)
{
	struct capchan_sqe sqe;

	capchan_prep_import(&sqe, capfd);
	return capchan_invoke(ch, &sqe);
}

void capchan_scope_close(struct capchan_scope *s)
{
	if (s->ch && s->handle > 0)
		capchan_close(s->ch, (uint32_t)s->handle);
	s->handle = 0;
}

/*
 * The names of LIBCAPCHAN_0.1, before CLOSE had one name across the
 * library: kept for programs linked against them, not declared any more.
 */
int capchan_drop(struct capchan *ch, uint32_t h)
	__attribute__((alias("capchan_close")));
void capchan_scope_drop(struct capchan_scope *s)
	__attribute__((alias("capchan_scope_close")));
