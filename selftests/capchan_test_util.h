/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the capchan selftests, compiled once
 * (capchan_test_util.c) and linked into every test binary.
 *
 * Everything here returns a value (>= 0, or -errno) and never asserts: the
 * tests assert, so a failure is reported at the line that expected
 * something.  Include this header first in every *_test.c, then
 * "kselftest_harness.h": the harness defines global objects, so exactly
 * one file of a test binary may include it (the one with the TESTs).
 * Only the ring accessors are inline here: tests call them in tight loops.
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
#include <grp.h>
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/capchan.h>
#include <linux/userfaultfd.h>
#include "capchan.h"		/* libcapchan */

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
int cc_ioctl(int fd, unsigned long cmd, void *arg);

/* A fresh channel fd (no rings), or -errno. */
int cc_open_dev(void);

/* An all-zero SQE for opcode op on handle h. */
void cc_sqe(struct capchan_sqe *s, unsigned int op, uint32_t h);

/* CAPCHAN_IOC_INVOKE: the op's result or -errno. */
int cc_invoke(int fd, const struct capchan_sqe *s);

/* CAPCHAN_IOC_ENTER: SQEs consumed or -errno. */
int cc_enter(int fd, unsigned int to_submit, unsigned int min_complete,
	     unsigned int flags);

/* GRANT with the type reported back; handle or -errno. */
int cc_grant(int chfd, int fd, uint64_t rights, uint32_t *type);

/* CAPCHAN_IOC_VERSION into a zeroed *v; 0 or -errno. */
int cc_version(int chfd, struct capchan_version *v);

/* A well-formed handle: 1..CAPCHAN_HANDLE_MAX (opaque otherwise). */
bool cc_handle_ok(long h);

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

/* $CAPCHAN_TEST_TMPDIR, else /tmp (made if missing). */
const char *cc_tmpdir(void);

/* mkdtemp() a base directory; 0 or -errno.  base must hold PATH_MAX. */
int cc_mkdtemp(char *base, const char *tag);

/* Create (or truncate) dirfd/name with exactly len bytes of data. */
int cc_put_file(int dirfd, const char *name, const void *data, size_t len,
		mode_t mode);

/* cc_put_file() of a string, mode 0644. */
int cc_put_str(int dirfd, const char *name, const char *s);

/* Read a whole small file (at most cap-1 bytes) NUL-terminated; length or -errno. */
ssize_t cc_get_file(int dirfd, const char *name, char *buf, size_t cap);

/* rm -rf; best effort (tests clean up in teardown). */
void cc_rm_rf(const char *path);

/* Deterministic byte pattern, so content checks catch offsets. */
void cc_fill_pattern(unsigned char *buf, size_t len, unsigned int seed);

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

/* Parse /proc/self/fdinfo/<fd>; 0 or -errno.  Missing keys stay -1. */
int cc_read_fdinfo(int fd, struct cc_fdinfo *fi);

/* The fdinfo line of handle h, or NULL. */
const struct cc_fdinfo_cap *
cc_fdinfo_find(const struct cc_fdinfo *fi, uint32_t h);

/* ------------------------------------------------------------------ */
/* /proc and /sys                                                      */
/* ------------------------------------------------------------------ */

/* A "Key:   value kB" line of /proc/meminfo, in kB; -1 if missing. */
long long cc_meminfo_kb(const char *key);

/* A whole small file as a number; -errno if unreadable. */
long long cc_read_number(const char *path, int *err);

/* capchan's module reference count, or -1 (sysfs unavailable). */
long long cc_module_refcnt(void);

/* A module parameter as a number; *err = -errno if unreadable. */
long long cc_module_param(const char *name, int *err);

/* Write a string to a (proc or sys) file; 0 or -errno. */
int cc_write_str(const char *path, const char *s);

/* Free what can be freed: page cache, dentries, inodes, then settle RCU. */
void cc_drop_caches(void);

/*
 * The VM's ext4 test disk: $CAPCHAN_TEST_DISK, else /mnt/disk.
 * cc_find_disk(): that directory as ext4, the VM's virtio disk (serial
 * "capchan-disk") mounted there if need be; 0, or -1 with the reason.
 */
const char *cc_disk_dir(void);
int cc_find_disk(char *why, size_t n);

/* ------------------------------------------------------------------ */
/* Passing file descriptors (SCM_RIGHTS)                               */
/* ------------------------------------------------------------------ */

/* Send fd over a unix socket (one byte of data); 0 or -errno. */
int cc_send_fd(int sock, int fd);

/* The received fd, or -errno. */
int cc_recv_fd(int sock);

/* Tiny synchronous messages between a test and its child. */
int cc_send_u32(int fd, uint32_t v);

int cc_recv_u32(int fd, uint32_t *v);

/* Wait for a child; its exit status, or 1000 + signal number. */
int cc_wait_child(pid_t pid);

/* CLOCK_MONOTONIC in seconds. */
double cc_now(void);
/* Wait up to @ms for a CQE in @ch's ring; 0 or -ETIMEDOUT. */
int cc_cq_wait(struct capchan *ch, unsigned int ms);

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
int cc_tree_create(struct cc_tree *t, const char *tag);

/* Close the tree's fds and remove it; safe after a failed create. */
void cc_tree_destroy(struct cc_tree *t);

/* fstatat() the jail-relative path; inode number or 0. */
ino_t cc_ino_at(int dirfd, const char *path);

/* ------------------------------------------------------------------ */
/* Other users                                                         */
/* ------------------------------------------------------------------ */

/*
 * Become uid/gid for good, with no supplementary groups.  setuid() clears
 * the dumpable flag, which would hide our own /proc/self/fdinfo from us:
 * set it again.  0 or -errno.
 */
int cc_become(uid_t uid, gid_t gid);

/*
 * The number after "key:\t" in /proc/self/fdinfo/<fd> (any kind of fd,
 * capability files included); -ENOENT if there is no such key.
 */
long long cc_fdinfo_value(int fd, const char *key, int *err);

/* ------------------------------------------------------------------ */
/* Ops, CQEs, fdinfo and threads, as the worker tests use them         */
/* ------------------------------------------------------------------ */

/* Publish one SQE made of these fields (cc_sq_push()). */
void cc_push(struct capchan *ch, unsigned int op, uint32_t h,
	     unsigned int flags, void *buf, uint32_t len, uint64_t off,
	     uint64_t ud);

/* Wait up to @ms for the next CQE and pop it; 0 or -ETIMEDOUT. */
int cc_reap(struct capchan *ch, struct capchan_cqe *c, unsigned int ms);

/*
 * Pop @n CQEs expected with user_data first, first + 1, ... into @res:
 * @n, the count popped before a wait of 5 s ran out, or -(i + 1) when
 * CQE i had another user_data.
 */
int cc_pop_seq(struct capchan *ch, uint64_t first, int n, int *res);

/* ENTER until @total SQEs are consumed; the count or the first error. */
int cc_enter_all(int fd, int total);

/*
 * A channel of @entries (with a poll thread if @sqpoll) holding the jail
 * @jail_fd as a DIR with @dir_rights (*@dh) and its "file" with
 * @file_rights (*@fh).  0 or -errno.
 */
int cc_channel_jail_file(struct capchan *ch, unsigned int entries, bool sqpoll,
			 int jail_fd, uint64_t dir_rights, uint64_t file_rights,
			 uint32_t *dh, uint32_t *fh);

/*
 * Have the published SQEs consumed: ENTER @n, or (@sqpoll) wake the poll
 * thread until its SQ head catches up, giving up after @ms.  What ENTER
 * returned, @n, or -errno.
 */
int cc_submit(struct capchan *ch, unsigned int n, bool sqpoll, unsigned int ms);

/* cc_submit() in a thread, for a submit that may wait behind an op. */
struct cc_submitter {
	pthread_t thread;
	struct capchan *ch;
	unsigned int n;
	bool sqpoll;
	unsigned int ms;
	int res;
};

int cc_submit_start(struct cc_submitter *s, struct capchan *ch,
		    unsigned int n, bool sqpoll, unsigned int ms);

/*
 * cc_submit() from a thread, then wait for an op to block in @u's page
 * and for the submit to return: 0 (its result in *@res), or -ETIMEDOUT
 * when it waited behind the blocked op (the page then supplied and the
 * thread joined) or the op never blocked.
 */
struct cc_uffd_page;
int cc_submit_past_block(struct capchan *ch, unsigned int n, bool sqpoll,
			 struct cc_uffd_page *u, unsigned int ms, int *res);

/* pthread_join() giving up after @s seconds: 0 or ETIMEDOUT. */
int cc_join_timeout(pthread_t thread, unsigned int s);

/* cc_fdinfo_value() of @key, or the -errno when it has none. */
long long cc_fdv(int fd, const char *key);

/* Wait up to @ms until fdinfo @key of @fd reads @want; the last value. */
long long cc_wait_fdv(int fd, const char *key, long long want,
		      unsigned int ms);

/* The pid of a task named @comm (a worker: "capchan-wk/<id>"), or 0. */
pid_t cc_find_comm(const char *comm);

/* Wait up to @ms until no task is named @comm; true if none is. */
bool cc_wait_comm_gone(const char *comm, unsigned int ms);

/* INVOKE of DERIVE (rights asked for), REVOKE, CLOSE: the op's result. */
int cc_derive(int chfd, uint32_t h, uint64_t rights);
int cc_revoke(int chfd, uint32_t h);
int cc_close_cap(int chfd, uint32_t h);

/* ------------------------------------------------------------------ */
/* userfaultfd: a page whose first touch waits for the test            */
/* ------------------------------------------------------------------ */
/*
 * An op whose buffer is such a page blocks in the module's copy (a page
 * fault) until the test supplies the page: an op blocked for exactly as
 * long as the test likes, known to be blocked by the fault event.
 */
struct cc_uffd_page {
	int uffd;
	long page;
	unsigned char *mem;	/* one page, registered, not populated */
};

/* 0, -ENOSYS/-EPERM (no userfaultfd here) or another -errno. */
int cc_uffd_page_init(struct cc_uffd_page *u);

/* Wait for the fault on the page (the op is blocked in it); 0 or -errno. */
int cc_uffd_wait_fault(struct cc_uffd_page *u);

/* The same, giving up after @ms: 0, -ETIMEDOUT or -errno. */
int cc_uffd_wait_fault_ms(struct cc_uffd_page *u, int ms);

/* Supply the page (filled with @fill), waking the blocked op; 0 or -errno. */
int cc_uffd_supply(struct cc_uffd_page *u, int fill);

void cc_uffd_page_destroy(struct cc_uffd_page *u);

#endif /* CAPCHAN_TEST_UTIL_H */
