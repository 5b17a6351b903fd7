/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the capchan selftests.
 *
 * Everything here returns a value (>= 0, or -errno) and never asserts: the
 * tests assert, so a failure is reported at the line that expected
 * something.  Include this header first in every *_test.c.
 */
#ifndef CAPCHAN_TEST_UTIL_H
#define CAPCHAN_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/capchan.h>
#include "capchan.h"		/* libcapchan */
#include "kselftest_harness.h"

#define CC_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define R_READ		CAPCHAN_RIGHT_READ
#define R_WRITE		CAPCHAN_RIGHT_WRITE
#define R_SEEK		CAPCHAN_RIGHT_SEEK
#define R_STAT		CAPCHAN_RIGHT_STAT
#define R_SYNC		CAPCHAN_RIGHT_SYNC
#define R_MMAP		CAPCHAN_RIGHT_MMAP
#define R_LOOKUP	CAPCHAN_RIGHT_LOOKUP
#define R_CREATE	CAPCHAN_RIGHT_CREATE
#define R_DERIVE	CAPCHAN_RIGHT_DERIVE
#define R_DELEGATE	CAPCHAN_RIGHT_DELEGATE
#define R_REVOKE	CAPCHAN_RIGHT_REVOKE
#define R_ALL		CAPCHAN_RIGHTS_ALL
/* The first bit this ABI does not define. */
#define R_UNKNOWN	(CAPCHAN_RIGHTS_ALL + 1)

/* Rights a plain file capability gets in most tests. */
#define R_FILE_ALL	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
			 R_DERIVE | R_DELEGATE | R_REVOKE)

#define CC_UID_NOBODY	65534
#define CC_GID_NOGROUP	65534

/* ------------------------------------------------------------------ */
/* Raw access to the module                                            */
/* ------------------------------------------------------------------ */

/* ioctl() as -errno. */
static inline int cc_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* A fresh channel fd (no rings), or -errno. */
static inline int cc_open_dev(void)
{
	int fd = open(CAPCHAN_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* An all-zero SQE for opcode op on handle h. */
static inline void cc_sqe(struct capchan_sqe *s, unsigned int op, uint32_t h)
{
	memset(s, 0, sizeof(*s));
	s->opcode = (uint8_t)op;
	s->handle = h;
}

/* CAPCHAN_IOC_INVOKE: the op's result or -errno. */
static inline int cc_invoke(int fd, const struct capchan_sqe *s)
{
	return cc_ioctl(fd, CAPCHAN_IOC_INVOKE, (void *)s);
}

/* CAPCHAN_IOC_ENTER: SQEs consumed or -errno. */
static inline int cc_enter(int fd, unsigned int to_submit,
			   unsigned int min_complete, unsigned int flags)
{
	struct capchan_enter e;

	memset(&e, 0, sizeof(e));
	e.to_submit = to_submit;
	e.min_complete = min_complete;
	e.flags = flags;
	return cc_ioctl(fd, CAPCHAN_IOC_ENTER, &e);
}

/* GRANT with the type reported back; handle or -errno. */
static inline int cc_grant(int chfd, int fd, uint64_t rights, uint32_t *type)
{
	struct capchan_grant g;
	int ret;

	memset(&g, 0, sizeof(g));
	g.fd = fd;
	g.rights = rights;
	ret = cc_ioctl(chfd, CAPCHAN_IOC_GRANT, &g);
	if (ret < 0)
		return ret;
	if (type)
		*type = g.cap_type;
	return (int)g.handle;
}

static inline int cc_version(int chfd, struct capchan_version *v)
{
	memset(v, 0, sizeof(*v));
	return cc_ioctl(chfd, CAPCHAN_IOC_VERSION, v);
}

/* A well-formed handle: 1..CAPCHAN_HANDLE_MAX (opaque otherwise). */
static inline bool cc_handle_ok(long h)
{
	return h > 0 && h <= (long)CAPCHAN_HANDLE_MAX;
}

/* ------------------------------------------------------------------ */
/* Raw ring access (independent of libcapchan's private counters)      */
/* ------------------------------------------------------------------ */

/*
 * Write one SQE at the SQ tail the application owns and publish it.
 * The caller must not mix this with capchan_get_sqe() on the same ring.
 */
static inline void cc_sq_push(struct capchan *ch, const struct capchan_sqe *s)
{
	unsigned int tail = *ch->sq.ktail;

	ch->sq.sqes[tail & ch->sq.ring_mask] = *s;
	/* SQE visible before the tail; pairs with the module's acquire. */
	__atomic_store_n(ch->sq.ktail, tail + 1, __ATOMIC_RELEASE);
}

/* Pending CQEs as the application sees them (tail - head). */
static inline unsigned int cc_cq_pending(const struct capchan *ch)
{
	return __atomic_load_n(ch->cq.ktail, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(ch->cq.khead, __ATOMIC_RELAXED);
}

/* Pop one CQE; 0 on success, -EAGAIN if none. */
static inline int cc_cq_pop(struct capchan *ch, struct capchan_cqe *out)
{
	unsigned int head = __atomic_load_n(ch->cq.khead, __ATOMIC_RELAXED);
	unsigned int tail = __atomic_load_n(ch->cq.ktail, __ATOMIC_ACQUIRE);

	if (head == tail)
		return -EAGAIN;
	*out = ch->cq.cqes[head & ch->cq.ring_mask];
	__atomic_store_n(ch->cq.khead, head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Temporary directory trees                                           */
/* ------------------------------------------------------------------ */

static inline const char *cc_tmpdir(void)
{
	const char *d = getenv("CAPCHAN_TEST_TMPDIR");

	if (d && *d)
		return d;
	/* A minimal initramfs may lack /tmp. */
	mkdir("/tmp", 01777);
	return "/tmp";
}

/* mkdtemp() a base directory; 0 or -errno.  base must hold PATH_MAX. */
static inline int cc_mkdtemp(char *base, const char *tag)
{
	snprintf(base, PATH_MAX, "%s/capchan-%s.XXXXXX", cc_tmpdir(), tag);
	if (!mkdtemp(base))
		return -errno;
	/* mkdtemp makes it 0700; other users must be able to walk it. */
	if (chmod(base, 0755))
		return -errno;
	return 0;
}

/* Create (or truncate) dirfd/name with exactly len bytes of data. */
static inline int cc_put_file(int dirfd, const char *name, const void *data,
			      size_t len, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			mode);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;

			close(fd);
			return err;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode)) {	/* not subject to the umask */
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

static inline int cc_put_str(int dirfd, const char *name, const char *s)
{
	return cc_put_file(dirfd, name, s, strlen(s), 0644);
}

/* Read a whole small file (at most cap-1 bytes) NUL-terminated; length or -errno. */
static inline ssize_t cc_get_file(int dirfd, const char *name, char *buf,
				  size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static inline int cc__rm_one(const char *path, const struct stat *sb,
			     int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* rm -rf; best effort (tests clean up in teardown). */
static inline void cc_rm_rf(const char *path)
{
	if (path && *path)
		nftw(path, cc__rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Deterministic byte pattern, so content checks catch offsets. */
static inline void cc_fill_pattern(unsigned char *buf, size_t len,
				   unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 12345;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

/* ------------------------------------------------------------------ */
/* fdinfo                                                              */
/* ------------------------------------------------------------------ */

#define CC_FDINFO_MAX_CAPS	256

struct cc_fdinfo_cap {
	uint32_t handle;
	char type[8];
	uint64_t rights;
	int revoked;
	unsigned int depth;
	unsigned int uid;		/* whose credentials its ops run with */
};

struct cc_fdinfo {
	long long sq_head, sq_tail, sq_entries;
	long long cq_head, cq_tail, cq_entries;
	long long sealed, seal_import, caps;
	long long user, user_channels, user_caps, user_files;
	int ncap;			/* cap: lines seen (all of them) */
	int bad_cap_lines;		/* cap: lines that did not parse */
	struct cc_fdinfo_cap cap[CC_FDINFO_MAX_CAPS];
};

static inline int cc__fdinfo_key(const char *line, const char *key,
				 long long *val)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) || line[n] != ':' || line[n + 1] != '\t')
		return 0;
	*val = strtoll(line + n + 2, NULL, 0);
	return 1;
}

/* Parse /proc/self/fdinfo/<fd>; 0 or -errno.  Missing keys stay -1. */
static inline int cc_read_fdinfo(int fd, struct cc_fdinfo *fi)
{
	char path[64], line[512];
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	fi->sq_head = fi->sq_tail = fi->sq_entries = -1;
	fi->cq_head = fi->cq_tail = fi->cq_entries = -1;
	fi->sealed = fi->seal_import = fi->caps = -1;
	fi->user = fi->user_channels = fi->user_caps = fi->user_files = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct cc_fdinfo_cap c;
		unsigned long long rights;
		int n = 0;

		if (cc__fdinfo_key(line, "sq-head", &fi->sq_head) ||
		    cc__fdinfo_key(line, "sq-tail", &fi->sq_tail) ||
		    cc__fdinfo_key(line, "sq-entries", &fi->sq_entries) ||
		    cc__fdinfo_key(line, "cq-head", &fi->cq_head) ||
		    cc__fdinfo_key(line, "cq-tail", &fi->cq_tail) ||
		    cc__fdinfo_key(line, "cq-entries", &fi->cq_entries) ||
		    cc__fdinfo_key(line, "sealed", &fi->sealed) ||
		    cc__fdinfo_key(line, "seal-import", &fi->seal_import) ||
		    cc__fdinfo_key(line, "user", &fi->user) ||
		    cc__fdinfo_key(line, "user-channels", &fi->user_channels) ||
		    cc__fdinfo_key(line, "user-caps", &fi->user_caps) ||
		    cc__fdinfo_key(line, "user-files", &fi->user_files) ||
		    cc__fdinfo_key(line, "caps", &fi->caps))
			continue;
		if (strncmp(line, "cap:\t", 5))
			continue;
		fi->ncap++;
		memset(&c, 0, sizeof(c));
		if (sscanf(line, "cap:\thandle=0x%x type=%7s rights=0x%llx revoked=%d depth=%u uid=%u%n",
			   &c.handle, c.type, &rights, &c.revoked, &c.depth,
			   &c.uid, &n) != 6 || (line[n] != '\n' && line[n] != '\0')) {
			fi->bad_cap_lines++;
			continue;
		}
		c.rights = rights;
		if (fi->ncap <= CC_FDINFO_MAX_CAPS)
			fi->cap[fi->ncap - 1] = c;
	}
	fclose(f);
	return 0;
}

/* The fdinfo line of handle h, or NULL. */
static inline const struct cc_fdinfo_cap *
cc_fdinfo_find(const struct cc_fdinfo *fi, uint32_t h)
{
	int n = fi->ncap < CC_FDINFO_MAX_CAPS ? fi->ncap : CC_FDINFO_MAX_CAPS;

	for (int i = 0; i < n; i++)
		if (fi->cap[i].handle == h)
			return &fi->cap[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* /proc and /sys                                                      */
/* ------------------------------------------------------------------ */

/* A "Key:   value kB" line of /proc/meminfo, in kB; -1 if missing. */
static inline long long cc_meminfo_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long long val = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			val = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* A whole small file as a number; -errno if unreadable. */
static inline long long cc_read_number(const char *path, int *err)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*err = 0;
	if (fd < 0) {
		*err = -errno;
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		*err = -errno;
	close(fd);
	if (n <= 0) {
		if (!*err)
			*err = -EIO;
		return -1;
	}
	buf[n] = '\0';
	return strtoll(buf, NULL, 0);
}

/* capchan's module reference count, or -1 (sysfs unavailable). */
static inline long long cc_module_refcnt(void)
{
	int err;
	long long v = cc_read_number("/sys/module/capchan/refcnt", &err);

	return err ? -1 : v;
}

/* A module parameter as a number; *err = -errno if unreadable. */
static inline long long cc_module_param(const char *name, int *err)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/capchan/parameters/%s", name);
	return cc_read_number(path, err);
}

static inline int cc_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Free what can be freed: page cache, dentries, inodes, then settle RCU. */
static inline void cc_drop_caches(void)
{
	sync();
	cc_write_str("/proc/sys/vm/drop_caches", "3");
}

/* ------------------------------------------------------------------ */
/* Passing file descriptors (SCM_RIGHTS)                               */
/* ------------------------------------------------------------------ */

static inline int cc_send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* The received fd, or -errno. */
static inline int cc_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Tiny synchronous messages between a test and its child. */
static inline int cc_send_u32(int fd, uint32_t v)
{
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -EIO;
}

static inline int cc_recv_u32(int fd, uint32_t *v)
{
	return read(fd, v, sizeof(*v)) == sizeof(*v) ? 0 : -EIO;
}

/* Wait for a child; its exit status, or 1000 + signal number. */
static inline int cc_wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return 2000;
}

static inline double cc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* The tree most tests work in                                         */
/* ------------------------------------------------------------------ */
/*
 *   <base>/                     not granted
 *     secret                    "OUTSIDE SECRET\n" (the escape target)
 *     jail/                     granted as a DIR capability
 *       file                    CC_FILE_LEN bytes of cc_fill_pattern(seed 1)
 *       hello                   "hello, capchan\n"
 *       sub/
 *         inner                 "inner\n"
 *         deeper/
 *           leaf                "leaf\n"
 */
#define CC_FILE_LEN	10000
#define CC_HELLO	"hello, capchan\n"
#define CC_SECRET	"OUTSIDE SECRET\n"

struct cc_tree {
	char base[PATH_MAX];
	char jail[PATH_MAX + 8];
	int base_fd;
	int jail_fd;			/* O_RDONLY | O_DIRECTORY */
	unsigned char data[CC_FILE_LEN];	/* content of jail/file */
};

/* 0 or -errno; on error whatever was made is left for cc_tree_destroy(). */
static inline int cc_tree_create(struct cc_tree *t, const char *tag)
{
	int ret;

	t->base_fd = t->jail_fd = -1;
	t->jail[0] = '\0';
	ret = cc_mkdtemp(t->base, tag);
	if (ret)
		return ret;
	snprintf(t->jail, sizeof(t->jail), "%s/jail", t->base);
	t->base_fd = open(t->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->base_fd < 0)
		return -errno;
	if (mkdirat(t->base_fd, "jail", 0755) ||
	    mkdirat(t->base_fd, "jail/sub", 0755) ||
	    mkdirat(t->base_fd, "jail/sub/deeper", 0755))
		return -errno;
	t->jail_fd = open(t->jail, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->jail_fd < 0)
		return -errno;
	cc_fill_pattern(t->data, sizeof(t->data), 1);
	ret = cc_put_str(t->base_fd, "secret", CC_SECRET);
	if (!ret)
		ret = cc_put_file(t->jail_fd, "file", t->data, sizeof(t->data),
				  0644);
	if (!ret)
		ret = cc_put_str(t->jail_fd, "hello", CC_HELLO);
	if (!ret)
		ret = cc_put_str(t->jail_fd, "sub/inner", "inner\n");
	if (!ret)
		ret = cc_put_str(t->jail_fd, "sub/deeper/leaf", "leaf\n");
	return ret;
}

static inline void cc_tree_destroy(struct cc_tree *t)
{
	if (t->jail_fd >= 0)
		close(t->jail_fd);
	if (t->base_fd >= 0)
		close(t->base_fd);
	t->jail_fd = t->base_fd = -1;
	if (t->base[0])
		cc_rm_rf(t->base);
	t->base[0] = '\0';
}

/* fstatat() the jail-relative path; inode number or 0. */
static inline ino_t cc_ino_at(int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	return st.st_ino;
}

/* ------------------------------------------------------------------ */
/* Other users                                                         */
/* ------------------------------------------------------------------ */

#include <grp.h>
#include <sys/prctl.h>

/*
 * Become uid/gid for good, with no supplementary groups.  setuid() clears
 * the dumpable flag, which would hide our own /proc/self/fdinfo from us:
 * set it again.  0 or -errno.
 */
static inline int cc_become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
		return -errno;
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

/*
 * The number after "key:\t" in /proc/self/fdinfo/<fd> (any kind of fd,
 * capability files included); -ENOENT if there is no such key.
 */
static inline long long cc_fdinfo_value(int fd, const char *key, int *err)
{
	char path[64], line[512];
	long long val = -1;
	FILE *f;

	*err = -ENOENT;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f) {
		*err = -errno;
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (cc__fdinfo_key(line, key, &val)) {
			*err = 0;
			break;
		}
	}
	fclose(f);
	return val;
}

#endif /* CAPCHAN_TEST_UTIL_H */
