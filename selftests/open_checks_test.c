// SPDX-License-Identifier: GPL-2.0
/*
 * Every check open(2) makes still applies to OPEN, which resolves its path
 * once and opens the dentry it found (module/op_open.c names the kernel
 * call behind each): permission with MAY_OPEN (DAC, read-only mounts),
 * append-only files, O_TRUNC only after permission, device, FIFO and socket
 * nodes (refused by capchan's type rule before the nodev mount rule can
 * apply), O_NOATIME (not accepted), leases (never waited for), fsnotify.
 *
 * Each case asserts OPEN's exact answer and, next to it, what
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) says
 * for the same file, flags and credentials: the same, or the documented
 * capability rule that decides first.  Cases for another user run in a
 * child that became nobody and granted the DIR itself, so the capability
 * carries nobody's credentials, as its own open(2) does.
 */
#include <sys/inotify.h>
#include <sys/un.h>
#include <linux/openat2.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* <linux/fs.h> does not mix with <sys/mount.h>; the ioctl ABI is fixed */
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS		_IOR('f', 1, long)
#define FS_IOC_SETFLAGS		_IOW('f', 2, long)
#endif
#ifndef FS_APPEND_FL
#define FS_APPEND_FL		0x00000020
#endif

/* READ through REVOKE: every right the ops tested here need */
#define R_CORE	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
		 R_LOOKUP | R_CREATE | R_DERIVE | R_DELEGATE | R_REVOKE)

#define RO_DATA		"read only\n"
#define APPEND_DATA	"append only\n"

/*
 * The jail of cc_tree (0755, root) with, per test, the files it needs;
 * mounts go to <base>/mnt, outside the jail, and are granted themselves.
 */
FIXTURE(oc) {
	struct cc_tree t;
	struct capchan ch;		/* root's, the jail granted as dh */
	int dh;
	char mnt[PATH_MAX + 8];
	bool mounted;
	bool append_set;		/* jail/append carries FS_APPEND_FL */
};

FIXTURE_SETUP(oc)
{
	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "openchk"));
	snprintf(self->mnt, sizeof(self->mnt), "%s/mnt", self->t.base);
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "mnt", 0755));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	self->dh = capchan_grant(&self->ch, self->t.jail_fd, R_CORE);
	ASSERT_LT(0, self->dh);
}

static int set_append(int dirfd, const char *name, bool on)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	int flags, err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags)) {
		err = -errno;
	} else {
		flags = on ? flags | FS_APPEND_FL : flags & ~FS_APPEND_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
			err = -errno;
	}
	close(fd);
	return err;
}

FIXTURE_TEARDOWN(oc)
{
	capchan_queue_exit(&self->ch);
	/* an append-only file cannot be removed */
	if (self->append_set)
		set_append(self->t.jail_fd, "append", false);
	if (self->mounted)
		umount2(self->mnt, MNT_DETACH);
	cc_tree_destroy(&self->t);
}

/* A child process reports through EXPECT_* and its exit status. */
#define CHILD_EXIT()	_exit(_metadata->passed ? 0 : 1)

/* open(2)'s access mode for OPEN's rights, as op_open.c derives it */
static int acc_mode(uint64_t rights)
{
	if ((rights & R_READ) && (rights & R_WRITE))
		return O_RDWR;
	return (rights & R_WRITE) ? O_WRONLY : O_RDONLY;
}

/* openat2 beneath @dirfd as OPEN scopes it: 0 (and closed) or -errno. */
static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* OPEN's answer as 0 (the new handle closed again) or -errno. */
static int cap_open(struct capchan *ch, int dh, const char *path, int flags,
		    uint64_t rights)
{
	int h = capchan_open_beneath(ch, dh, path, flags, 0644, rights);

	if (h > 0)
		return capchan_close(ch, h) ? -EIO : 0;
	return h;
}

struct oc_case {
	const char *path;
	int flags;		/* O_* besides the access mode */
	uint64_t rights;	/* OPEN's; openat2's access mode follows them */
	int cap;		/* OPEN's answer: 0 (opened) or -errno */
	int ref;		/* openat2's, same credentials */
};

/* Both answers of every case, each exactly. */
static void check_cases(struct __test_metadata *_metadata, struct capchan *ch,
			int dh, int dirfd, const struct oc_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ref = openat2_beneath(dirfd, c[i].path,
					  c[i].flags | acc_mode(c[i].rights),
					  0644);
		int got = cap_open(ch, dh, c[i].path, c[i].flags, c[i].rights);

		EXPECT_EQ(c[i].ref, ref)
			TH_LOG("openat2 '%s' flags %#x rights %#llx", c[i].path,
			       c[i].flags, (unsigned long long)c[i].rights);
		EXPECT_EQ(c[i].cap, got)
			TH_LOG("OPEN '%s' flags %#x rights %#llx", c[i].path,
			       c[i].flags, (unsigned long long)c[i].rights);
	}
}

static off_t size_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, 0) ? -1 : st.st_size;
}

/* Become nobody with a channel of its own holding nobody's grant of @dirfd. */
static int nobody_grant(struct capchan *own, int dirfd)
{
	int err = cc_become(CC_UID_NOBODY, CC_GID_NOGROUP);

	if (err)
		return err;
	err = capchan_open_channel(own);
	if (err)
		return err;
	return capchan_grant(own, dirfd, R_CORE);
}

/* ------------------------------------------------------------------ */
/* Permission: inode_permission(MAY_OPEN | access)                     */
/* ------------------------------------------------------------------ */

/*
 * A mode-0000 file and directory: nobody may open them in any mode,
 * -EACCES as from openat2; root may (CAP_DAC_OVERRIDE), through its own
 * grant as through openat2.
 */
TEST_F(oc, mode_0000_is_eacces_for_others)
{
	static const struct oc_case as_nobody[] = {
		{ "zero", 0, R_READ, -EACCES, -EACCES },
		{ "zero", 0, R_WRITE, -EACCES, -EACCES },
		{ "zero", 0, R_READ | R_WRITE, -EACCES, -EACCES },
		{ "zero", O_APPEND, R_WRITE, -EACCES, -EACCES },
		{ "zero", O_NONBLOCK, R_READ, -EACCES, -EACCES },
		{ "zero", O_CREAT, R_WRITE, -EACCES, -EACCES },
		{ "closed", O_DIRECTORY, R_LOOKUP | R_READ, -EACCES, -EACCES },
		{ "closed", 0, R_LOOKUP, -EACCES, -EACCES },
		/* the control: the same user opens a readable file */
		{ "hello", 0, R_READ, 0, 0 },
	};
	static const struct oc_case as_root[] = {
		{ "zero", 0, R_READ | R_WRITE, 0, 0 },
		{ "closed", O_DIRECTORY, R_LOOKUP | R_READ, 0, 0 },
	};
	pid_t pid;

	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "zero", "zero\n"));
	ASSERT_EQ(0, fchmodat(self->t.jail_fd, "zero", 0, 0));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "closed", 0));
	ASSERT_EQ(0, fchmodat(self->t.jail_fd, "closed", 0, 0));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan own;
		int h = nobody_grant(&own, self->t.jail_fd);

		if (h <= 0)
			_exit(100);
		check_cases(_metadata, &own, h, self->t.jail_fd, as_nobody,
			    CC_ARRAY_SIZE(as_nobody));
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
	check_cases(_metadata, &self->ch, self->dh, self->t.jail_fd, as_root,
		    CC_ARRAY_SIZE(as_root));
}

/* A 0444 file: read yes, write in any form -EACCES, for nobody. */
TEST_F(oc, write_to_0444_is_eacces)
{
	static const struct oc_case as_nobody[] = {
		{ "ro", 0, R_READ, 0, 0 },
		{ "ro", 0, R_WRITE, -EACCES, -EACCES },
		{ "ro", 0, R_READ | R_WRITE, -EACCES, -EACCES },
		{ "ro", O_APPEND, R_WRITE, -EACCES, -EACCES },
		{ "ro", O_CREAT, R_WRITE, -EACCES, -EACCES },
	};
	pid_t pid;

	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "ro", RO_DATA,
				 strlen(RO_DATA), 0444));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan own;
		int h = nobody_grant(&own, self->t.jail_fd);

		if (h <= 0)
			_exit(100);
		check_cases(_metadata, &own, h, self->t.jail_fd, as_nobody,
			    CC_ARRAY_SIZE(as_nobody));
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
}

/*
 * O_TRUNC truncates only once the open is allowed: a 0444 file keeps its
 * bytes (-EACCES), one nobody may write loses them.  The truncation
 * itself is seen to happen, so an unchanged size means something.
 */
TEST_F(oc, truncate_only_after_permission)
{
	static const struct oc_case as_nobody[] = {
		{ "ro", O_TRUNC, R_WRITE, -EACCES, -EACCES },
		{ "ro", O_TRUNC, R_READ | R_WRITE, -EACCES, -EACCES },
		{ "ro", O_TRUNC | O_CREAT, R_WRITE, -EACCES, -EACCES },
		{ "ro", O_TRUNC | O_APPEND, R_WRITE, -EACCES, -EACCES },
	};
	pid_t pid;

	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "ro", RO_DATA,
				 strlen(RO_DATA), 0444));
	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "mine", RO_DATA,
				 strlen(RO_DATA), 0644));
	ASSERT_EQ(0, fchownat(self->t.jail_fd, "mine", CC_UID_NOBODY,
			      CC_GID_NOGROUP, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan own;
		int h = nobody_grant(&own, self->t.jail_fd);

		if (h <= 0)
			_exit(100);
		check_cases(_metadata, &own, h, self->t.jail_fd, as_nobody,
			    CC_ARRAY_SIZE(as_nobody));
		EXPECT_EQ((off_t)strlen(RO_DATA), size_at(self->t.jail_fd, "ro"));
		/* OPEN alone, then openat2 on the refilled file */
		EXPECT_EQ(0, cap_open(&own, h, "mine", O_TRUNC, R_WRITE));
		EXPECT_EQ(0, size_at(self->t.jail_fd, "mine"));
		EXPECT_EQ(0, cc_put_file(self->t.jail_fd, "mine", RO_DATA,
					 strlen(RO_DATA), 0644));
		EXPECT_EQ(0, openat2_beneath(self->t.jail_fd, "mine",
					     O_WRONLY | O_TRUNC, 0));
		EXPECT_EQ(0, size_at(self->t.jail_fd, "mine"));
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ((off_t)strlen(RO_DATA), size_at(self->t.jail_fd, "ro"));
}

/* ------------------------------------------------------------------ */
/* Append-only files: the IS_APPEND check                              */
/* ------------------------------------------------------------------ */

/*
 * chattr +a: writing needs O_APPEND (-EPERM without), O_TRUNC is -EPERM
 * even with it and truncates nothing, reading and appending work.  The
 * same requests on a plain file all open, so each -EPERM is the
 * append-only rule and not a capability rule.
 */
TEST_F(oc, append_only_needs_o_append)
{
	static const struct oc_case cases[] = {
		{ "append", 0, R_WRITE, -EPERM, -EPERM },
		{ "append", 0, R_READ | R_WRITE, -EPERM, -EPERM },
		{ "append", O_CREAT, R_WRITE, -EPERM, -EPERM },
		{ "append", O_TRUNC, R_WRITE, -EPERM, -EPERM },
		{ "append", O_TRUNC | O_APPEND, R_WRITE, -EPERM, -EPERM },
		{ "append", O_TRUNC | O_APPEND, R_READ | R_WRITE, -EPERM, -EPERM },
		{ "append", O_APPEND, R_WRITE, 0, 0 },
		{ "append", O_APPEND, R_READ | R_WRITE, 0, 0 },
		{ "append", 0, R_READ, 0, 0 },
	};
	struct oc_case plain[CC_ARRAY_SIZE(cases)];
	char buf[64];
	int err, h;

	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "append", APPEND_DATA));
	err = set_append(self->t.jail_fd, "append", true);
	if (err == -EOPNOTSUPP || err == -ENOTTY)
		SKIP(return, "no append-only flag on %s: %s", cc_tmpdir(),
		     strerror(-err));
	ASSERT_EQ(0, err);
	self->append_set = true;

	check_cases(_metadata, &self->ch, self->dh, self->t.jail_fd, cases,
		    CC_ARRAY_SIZE(cases));
	EXPECT_EQ((off_t)strlen(APPEND_DATA),
		  size_at(self->t.jail_fd, "append"));

	/* appending through OPEN's handle lands at the end */
	h = capchan_open_beneath(&self->ch, self->dh, "append", O_APPEND, 0,
				 R_WRITE);
	ASSERT_LT(0, h);
	EXPECT_EQ(1, capchan_write(&self->ch, h, "+", 1, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, capchan_close(&self->ch, h));
	EXPECT_EQ((ssize_t)strlen(APPEND_DATA) + 1,
		  cc_get_file(self->t.jail_fd, "append", buf, sizeof(buf)));
	EXPECT_STREQ(APPEND_DATA "+", buf);

	/* the control: a plain file opens for all of them */
	for (size_t i = 0; i < CC_ARRAY_SIZE(cases); i++) {
		plain[i] = cases[i];
		plain[i].path = "hello";
		plain[i].cap = 0;
		plain[i].ref = 0;
	}
	check_cases(_metadata, &self->ch, self->dh, self->t.jail_fd, plain,
		    CC_ARRAY_SIZE(plain));
}

/* ------------------------------------------------------------------ */
/* Types and mount rules                                               */
/* ------------------------------------------------------------------ */

static int make_socket_at(const char *dir, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err = 0;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = -errno;
	close(fd);
	return err;
}

/*
 * A FIFO, a character device and a socket: OPEN refuses each with -EINVAL
 * (capchan's type rule, capchan.7), in every mode and with O_CREAT, where
 * openat2 opens the FIFO and the device and says -ENXIO for the socket.
 */
TEST_F(oc, special_files_are_einval)
{
	static const struct oc_case cases[] = {
		{ "fifo", O_NONBLOCK, R_READ, -EINVAL, 0 },
		{ "fifo", O_NONBLOCK | O_CREAT, R_READ, -EINVAL, 0 },
		{ "null", 0, R_READ, -EINVAL, 0 },
		{ "null", 0, R_READ | R_WRITE, -EINVAL, 0 },
		{ "null", O_TRUNC, R_WRITE, -EINVAL, 0 },
		{ "null", O_CREAT, R_WRITE, -EINVAL, 0 },
		{ "sock", 0, R_READ, -EINVAL, -ENXIO },
		{ "sock", O_CREAT, R_WRITE, -EINVAL, -ENXIO },
	};

	ASSERT_EQ(0, mkfifoat(self->t.jail_fd, "fifo", 0666));
	ASSERT_EQ(0, mknodat(self->t.jail_fd, "null", S_IFCHR | 0666,
			     makedev(1, 3)));
	ASSERT_EQ(0, make_socket_at(self->t.jail, "sock"));
	check_cases(_metadata, &self->ch, self->dh, self->t.jail_fd, cases,
		    CC_ARRAY_SIZE(cases));
}

/*
 * On a nodev mount open(2) refuses a device node with -EACCES; OPEN has
 * refused it already by its type (-EINVAL), so the mount rule never
 * arises.  Regular files there open as anywhere.
 */
TEST_F(oc, nodev_mount_device_is_refused)
{
	static const struct oc_case cases[] = {
		{ "null", 0, R_READ, -EINVAL, -EACCES },
		{ "null", 0, R_WRITE, -EINVAL, -EACCES },
		{ "fifo", O_NONBLOCK, R_READ, -EINVAL, 0 },
		{ "reg", 0, R_READ | R_WRITE, 0, 0 },
	};
	int fd, h;

	if (mount("capchan-test", self->mnt, "tmpfs", MS_NODEV,
		  "size=1m,mode=0755"))
		SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	self->mounted = true;
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mknodat(fd, "null", S_IFCHR | 0666, makedev(1, 3)));
	ASSERT_EQ(0, mkfifoat(fd, "fifo", 0666));
	ASSERT_EQ(0, cc_put_str(fd, "reg", "regular\n"));
	h = capchan_grant(&self->ch, fd, R_CORE);
	ASSERT_LT(0, h);
	check_cases(_metadata, &self->ch, h, fd, cases, CC_ARRAY_SIZE(cases));
	close(fd);
}

/*
 * Read-only: a read-only file system (inode_permission says -EROFS) and a
 * read-only bind mount of a writable one (only the open itself, taking
 * write access to the mount, can say it).  Writing, truncating and
 * creating are -EROFS; reading works.
 */
TEST_F(oc, read_only_mounts_are_erofs)
{
	static const struct oc_case cases[] = {
		{ "f", 0, R_READ, 0, 0 },
		{ "f", 0, R_WRITE, -EROFS, -EROFS },
		{ "f", O_APPEND, R_READ | R_WRITE, -EROFS, -EROFS },
		{ "f", O_TRUNC, R_WRITE, -EROFS, -EROFS },
		{ "new", O_CREAT, R_WRITE, -EROFS, -EROFS },
	};
	char src[sizeof(self->t.jail) + 8];
	int fd, h;

	if (mount("capchan-test", self->mnt, "tmpfs", 0, "size=1m,mode=0755"))
		SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	self->mounted = true;
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cc_put_str(fd, "f", RO_DATA));
	close(fd);

	/* the whole file system read-only */
	ASSERT_EQ(0, mount(NULL, self->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = capchan_grant(&self->ch, fd, R_CORE);
	ASSERT_LT(0, h);
	check_cases(_metadata, &self->ch, h, fd, cases, CC_ARRAY_SIZE(cases));
	close(fd);
	EXPECT_EQ((off_t)strlen(RO_DATA), size_at(self->t.base_fd, "mnt/f"));
	ASSERT_EQ(0, umount2(self->mnt, MNT_DETACH));

	/* a read-only bind mount of the (writable) jail's sub/ */
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "sub/f", RO_DATA));
	snprintf(src, sizeof(src), "%s/sub", self->t.jail);
	ASSERT_EQ(0, mount(src, self->mnt, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, mount(NULL, self->mnt, NULL,
			   MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = capchan_grant(&self->ch, fd, R_CORE);
	ASSERT_LT(0, h);
	check_cases(_metadata, &self->ch, h, fd, cases, CC_ARRAY_SIZE(cases));
	close(fd);
	EXPECT_EQ((off_t)strlen(RO_DATA), size_at(self->t.jail_fd, "sub/f"));
	/* the file system under it is writable: through the jail, it opens */
	EXPECT_EQ(0, cap_open(&self->ch, self->dh, "sub/f", 0, R_WRITE));
}

/*
 * noexec restricts execution only; no open here asks for it (capchan has
 * no exec right), so a noexec mount opens for reading and writing as
 * openat2 does.
 */
TEST_F(oc, noexec_mount_opens)
{
	static const struct oc_case cases[] = {
		{ "x", 0, R_READ | R_WRITE, 0, 0 },
		{ "y", O_CREAT, R_WRITE, 0, 0 },
	};
	int fd, h;

	if (mount("capchan-test", self->mnt, "tmpfs", MS_NOEXEC,
		  "size=1m,mode=0755"))
		SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	self->mounted = true;
	fd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cc_put_file(fd, "x", "#!/bin/sh\n", 10, 0755));
	h = capchan_grant(&self->ch, fd, R_CORE);
	ASSERT_LT(0, h);
	check_cases(_metadata, &self->ch, h, fd, cases, CC_ARRAY_SIZE(cases));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* O_NOATIME                                                           */
/* ------------------------------------------------------------------ */

/*
 * O_NOATIME is not a flag OPEN accepts: -EINVAL for root and for nobody,
 * where openat2 lets the owner (or root) have it and says -EPERM to
 * anyone else.
 */
TEST_F(oc, noatime_is_einval)
{
	static const struct oc_case as_root[] = {
		{ "hello", O_NOATIME, R_READ, -EINVAL, 0 },
		{ "sub", O_NOATIME, R_LOOKUP, -EINVAL, 0 },
	};
	static const struct oc_case as_nobody[] = {
		{ "hello", O_NOATIME, R_READ, -EINVAL, -EPERM },
		{ "mine", O_NOATIME, R_READ, -EINVAL, 0 },
		{ "hello", 0, R_READ, 0, 0 },
	};
	pid_t pid;

	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "mine", "mine\n"));
	ASSERT_EQ(0, fchownat(self->t.jail_fd, "mine", CC_UID_NOBODY,
			      CC_GID_NOGROUP, 0));
	check_cases(_metadata, &self->ch, self->dh, self->t.jail_fd, as_root,
		    CC_ARRAY_SIZE(as_root));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan own;
		int h = nobody_grant(&own, self->t.jail_fd);

		if (h <= 0)
			_exit(100);
		check_cases(_metadata, &own, h, self->t.jail_fd, as_nobody,
			    CC_ARRAY_SIZE(as_nobody));
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
}

/* ------------------------------------------------------------------ */
/* Leases: dentry_open's break_lease, never waited for                 */
/* ------------------------------------------------------------------ */

enum { LEASE_QUERY = 1, LEASE_DROP = 2, LEASE_QUIT = 3 };

static volatile sig_atomic_t lease_sigio;

static void on_sigio(int sig)
{
	(void)sig;
	lease_sigio++;
}

/*
 * A lease holder: opens @path O_RDONLY in its own process, takes a lease
 * of @type, reports fcntl's answer (0 or errno), then serves commands on
 * @sock: QUERY answers F_GETLEASE | (break signals seen << 8), DROP
 * releases the lease and answers 0 or errno, QUIT exits.
 */
static void lease_holder(int dirfd, const char *path, int type, int sock)
{
	struct sigaction sa = { .sa_handler = on_sigio, .sa_flags = SA_RESTART };
	uint32_t cmd, ret;
	int fd;

	sigaction(SIGIO, &sa, NULL);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 || fcntl(fd, F_SETLEASE, type) ? (uint32_t)errno : 0;
	cc_send_u32(sock, ret);
	while (!cc_recv_u32(sock, &cmd) && cmd != LEASE_QUIT) {
		if (cmd == LEASE_QUERY)
			ret = (uint32_t)fcntl(fd, F_GETLEASE) |
			      ((uint32_t)lease_sigio << 8);
		else
			ret = fcntl(fd, F_SETLEASE, F_UNLCK) ? (uint32_t)errno : 0;
		cc_send_u32(sock, ret);
	}
	_exit(0);
}

static uint32_t lease_cmd(int sock, uint32_t cmd)
{
	uint32_t ret = 0xffffffff;

	if (cc_send_u32(sock, cmd) || cc_recv_u32(sock, &ret))
		return 0xffffffff;
	return ret;
}

/* cap_open() with the time it took */
static int timed_open(struct capchan *ch, int dh, const char *path, int flags,
		      uint64_t rights, double *secs)
{
	double t0 = cc_now();
	int ret = cap_open(ch, dh, path, flags, rights);

	*secs = cc_now() - t0;
	return ret;
}

/*
 * A write lease held by another process: a read OPEN breaks it (the holder
 * gets SIGIO, its lease is being downgraded to a read lease) and fails
 * with -EAGAIN at once, with or without O_NONBLOCK, where a blocking
 * open(2) would wait up to fs.lease-break-time (45 s); openat2 with
 * O_NONBLOCK says -EAGAIN too.  Once the lease is gone, OPEN opens.
 */
TEST_F(oc, write_lease_is_eagain_without_waiting)
{
	int sv[2];
	uint32_t r;
	double secs;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		lease_holder(self->t.jail_fd, "hello", F_WRLCK, sv[1]);
	}
	close(sv[1]);
	ASSERT_EQ(0, cc_recv_u32(sv[0], &r));
	ASSERT_EQ(0, r) TH_LOG("F_SETLEASE F_WRLCK: %s", strerror((int)r));
	EXPECT_EQ(F_WRLCK, lease_cmd(sv[0], LEASE_QUERY));

	EXPECT_EQ(-EAGAIN, timed_open(&self->ch, self->dh, "hello", 0, R_READ,
				      &secs));
	EXPECT_GT(10.0, secs);
	/* the OPEN started the break: downgrade pending, holder signalled */
	r = lease_cmd(sv[0], LEASE_QUERY);
	EXPECT_EQ(F_RDLCK, r & 0xff);
	EXPECT_LE(1, r >> 8);
	EXPECT_EQ(-EAGAIN, timed_open(&self->ch, self->dh, "hello", O_NONBLOCK,
				      R_READ, &secs));
	EXPECT_GT(10.0, secs);
	EXPECT_EQ(-EAGAIN, openat2_beneath(self->t.jail_fd, "hello",
					   O_RDONLY | O_NONBLOCK, 0));

	EXPECT_EQ(0, lease_cmd(sv[0], LEASE_DROP));
	EXPECT_EQ(0, cap_open(&self->ch, self->dh, "hello", 0, R_READ));
	EXPECT_EQ(0, cc_send_u32(sv[0], LEASE_QUIT));
	close(sv[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
}

/*
 * A read lease: reading opens (no conflict, the lease stays), writing or
 * truncating breaks it, -EAGAIN at once (the lease is being removed).
 */
TEST_F(oc, read_lease_is_eagain_for_write)
{
	int sv[2];
	uint32_t r;
	double secs;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		lease_holder(self->t.jail_fd, "file", F_RDLCK, sv[1]);
	}
	close(sv[1]);
	ASSERT_EQ(0, cc_recv_u32(sv[0], &r));
	ASSERT_EQ(0, r) TH_LOG("F_SETLEASE F_RDLCK: %s", strerror((int)r));

	EXPECT_EQ(0, cap_open(&self->ch, self->dh, "file", 0, R_READ));
	EXPECT_EQ(0, openat2_beneath(self->t.jail_fd, "file", O_RDONLY, 0));
	EXPECT_EQ(F_RDLCK, lease_cmd(sv[0], LEASE_QUERY));

	EXPECT_EQ(-EAGAIN, timed_open(&self->ch, self->dh, "file", 0, R_WRITE,
				      &secs));
	EXPECT_GT(10.0, secs);
	r = lease_cmd(sv[0], LEASE_QUERY);
	EXPECT_EQ(F_UNLCK, r & 0xff);
	EXPECT_LE(1, r >> 8);
	EXPECT_EQ(-EAGAIN, timed_open(&self->ch, self->dh, "file", O_TRUNC,
				      R_WRITE, &secs));
	EXPECT_GT(10.0, secs);
	EXPECT_EQ(CC_FILE_LEN, size_at(self->t.jail_fd, "file"));
	EXPECT_EQ(-EAGAIN, openat2_beneath(self->t.jail_fd, "file",
					   O_WRONLY | O_NONBLOCK, 0));

	EXPECT_EQ(0, lease_cmd(sv[0], LEASE_DROP));
	EXPECT_EQ(0, cap_open(&self->ch, self->dh, "file", 0, R_WRITE));
	EXPECT_EQ(0, cc_send_u32(sv[0], LEASE_QUIT));
	close(sv[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
}

/* ------------------------------------------------------------------ */
/* fsnotify                                                            */
/* ------------------------------------------------------------------ */

#define EV_MASK	(IN_OPEN | IN_CREATE | IN_MODIFY)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The events queued on @ifd, each "MASK name", sorted and joined with ", "
 * into @out (the order of an O_TRUNC's MODIFY and OPEN differs between
 * open(2) and OPEN on 6.1: what is compared is which events came).
 */
static void drain_events(int ifd, char *out, size_t cap)
{
	union {
		struct inotify_event e;	/* aligns the buffer for it */
		char b[4096];
	} u;
	char ev[16][80];
	const char *sorted[16];
	size_t n = 0, off = 0;
	ssize_t len;

	while ((len = read(ifd, u.b, sizeof(u.b))) > 0) {
		for (char *p = u.b; p < u.b + len;) {
			const struct inotify_event *e = (const void *)p;

			if (n < CC_ARRAY_SIZE(ev)) {
				snprintf(ev[n], sizeof(ev[n]), "%s%s%s%s %s",
					 e->mask & IN_CREATE ? "CREATE" : "",
					 e->mask & IN_MODIFY ? "MODIFY" : "",
					 e->mask & IN_OPEN ? "OPEN" : "",
					 e->mask & IN_ISDIR ? "|ISDIR" : "",
					 e->len ? e->name : "-");
				sorted[n] = ev[n];
				n++;
			}
			p += sizeof(*e) + e->len;
		}
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, off < cap ? cap - off : 0,
					"%s%s", i ? ", " : "", sorted[i]);
}

/*
 * An inotify watch on the jail sees the same events from OPEN as from
 * openat2: IN_OPEN for an open (fsnotify_open), IN_CREATE as well for a
 * file O_CREAT made, IN_MODIFY as well for O_TRUNC.
 */
TEST_F(oc, fsnotify_sees_open_create_truncate)
{
	static const struct {
		const char *path;
		int flags;
		uint64_t rights;
		bool made;		/* created: removed after each open */
		const char *events;
	} cases[] = {
		{ "hello", 0, R_READ, false, "OPEN hello" },
		{ "hello", O_CREAT, R_READ | R_WRITE, false, "OPEN hello" },
		{ "newf", O_CREAT, R_WRITE, true, "CREATE newf, OPEN newf" },
		{ "newf", O_CREAT | O_EXCL, R_READ, true, "CREATE newf, OPEN newf" },
		{ "file", O_TRUNC, R_WRITE, false, "MODIFY file, OPEN file" },
		{ "sub", 0, R_LOOKUP, false, "OPEN|ISDIR sub" },
	};
	char ref[512], got[512];
	int ifd;

	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ASSERT_LE(0, ifd);
	ASSERT_LE(0, inotify_add_watch(ifd, self->t.jail, EV_MASK));
	for (size_t i = 0; i < CC_ARRAY_SIZE(cases); i++) {
		const char *p = cases[i].path;
		int flags = cases[i].flags;

		/* the reference: openat2, then the tree put back */
		ASSERT_EQ(0, openat2_beneath(self->t.jail_fd, p,
					     flags | acc_mode(cases[i].rights),
					     0644));
		drain_events(ifd, ref, sizeof(ref));
		if (cases[i].made)
			ASSERT_EQ(0, unlinkat(self->t.jail_fd, p, 0));
		if (flags & O_TRUNC)
			ASSERT_EQ(0, cc_put_file(self->t.jail_fd, p,
						 self->t.data, CC_FILE_LEN,
						 0644));
		drain_events(ifd, got, sizeof(got));

		EXPECT_EQ(0, cap_open(&self->ch, self->dh, p, flags,
				      cases[i].rights));
		drain_events(ifd, got, sizeof(got));
		EXPECT_STREQ(cases[i].events, ref) TH_LOG("openat2 '%s'", p);
		EXPECT_STREQ(ref, got) TH_LOG("OPEN '%s' flags %#x", p, flags);
		if (cases[i].made)
			ASSERT_EQ(0, unlinkat(self->t.jail_fd, p, 0));
		drain_events(ifd, got, sizeof(got));
	}
	close(ifd);
}

TEST_HARNESS_MAIN
