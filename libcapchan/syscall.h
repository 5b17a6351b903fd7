/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Internal system call wrappers: each returns the call's result, or -errno
 * on failure.  Not installed; nothing here is exported.
 */
#ifndef LIBCAPCHAN_SYSCALL_H
#define LIBCAPCHAN_SYSCALL_H

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int capchan__sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static inline int capchan__sys_open(const char *path, int flags)
{
	int ret = open(path, flags);

	return ret < 0 ? -errno : ret;
}

static inline int capchan__sys_close(int fd)
{
	int ret = close(fd);

	return ret < 0 ? -errno : ret;
}

/* Returns the mapping, or -errno encoded in *err (the mapping is then NULL). */
static inline void *capchan__sys_mmap(size_t len, int fd, off_t off, int *err)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, off);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*err = 0;
	return p;
}

static inline int capchan__sys_munmap(void *addr, size_t len)
{
	int ret = munmap(addr, len);

	return ret < 0 ? -errno : ret;
}

#endif /* LIBCAPCHAN_SYSCALL_H */
