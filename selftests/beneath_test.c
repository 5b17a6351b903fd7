// SPDX-License-Identifier: GPL-2.0
/*
 * OPEN beneath a DIR capability: no path escapes (.., absolute paths,
 * absolute and relative symlinks, /proc magic links, mount crossings,
 * rename races), O_CREAT/O_TRUNC rights, DAC with the channel creator's
 * credentials.  Scenarios after capsicum-test OpenAtDirectoryTraversal,
 * Landlock's fs tests and openat2's rename_attack_test.  Runs as root.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <grp.h>

FIXTURE(beneath) {
	struct cc_tree t;
	struct capchan ch;
	uint32_t dh;
	char buf[256];
	char mnt[PATH_MAX + 16];
	char bind[PATH_MAX + 16];
};

static int mksymlink(int dirfd, const char *target, const char *name)
{
	return symlinkat(target, dirfd, name) ? -errno : 0;
}

FIXTURE_SETUP(beneath)
{
	char target[PATH_MAX + 32];
	int j, h;

	self->ch.fd = -1;
	umask(022);
	ASSERT_EQ(0, cc_tree_create(&self->t, "beneath"));
	j = self->t.jail_fd;
	snprintf(self->mnt, sizeof(self->mnt), "%s/mnt", self->t.jail);
	snprintf(self->bind, sizeof(self->bind), "%s/bind", self->t.jail);

	snprintf(target, sizeof(target), "%s/secret", self->t.base);
	ASSERT_EQ(0, mksymlink(j, target, "abs_out"));
	snprintf(target, sizeof(target), "%s/hello", self->t.jail);
	ASSERT_EQ(0, mksymlink(j, target, "abs_in"));
	ASSERT_EQ(0, mksymlink(j, "/", "abs_root"));
	ASSERT_EQ(0, mksymlink(j, "../secret", "rel_out"));
	ASSERT_EQ(0, mksymlink(j, "sub/inner", "rel_in"));
	ASSERT_EQ(0, mksymlink(j, "sub/../hello", "rel_in_dotdot"));
	ASSERT_EQ(0, mksymlink(j, "../../secret", "sub/up"));
	ASSERT_EQ(0, mksymlink(j, "../hello", "sub/up_in"));
	ASSERT_EQ(0, mksymlink(j, "..", "dir_out"));
	ASSERT_EQ(0, mksymlink(j, "sub", "dir_in"));
	ASSERT_EQ(0, mksymlink(j, ".", "dot"));
	/* chains: out and in */
	ASSERT_EQ(0, mksymlink(j, "chain2", "chain1"));
	ASSERT_EQ(0, mksymlink(j, "sub/chain3", "chain2"));
	ASSERT_EQ(0, mksymlink(j, "../../secret", "sub/chain3"));
	ASSERT_EQ(0, mksymlink(j, "ok2", "ok1"));
	ASSERT_EQ(0, mksymlink(j, "sub/ok3", "ok2"));
	ASSERT_EQ(0, mksymlink(j, "deeper/leaf", "sub/ok3"));
	ASSERT_EQ(0, mksymlink(j, "loop2", "loop1"));
	ASSERT_EQ(0, mksymlink(j, "loop1", "loop2"));
	/* dangling: O_CREAT through it must not create outside */
	ASSERT_EQ(0, mksymlink(j, "../created_outside", "dangle_out"));
	ASSERT_EQ(0, mksymlink(j, "created_inside", "dangle_in"));

	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
}

FIXTURE_TEARDOWN(beneath)
{
	capchan_queue_exit(&self->ch);
	umount2(self->bind, MNT_DETACH);
	umount2(self->mnt, MNT_DETACH);
	cc_tree_destroy(&self->t);
}

static int open_rd(FIXTURE_DATA(beneath) *self, uint32_t dir, const char *p)
{
	return capchan_open_beneath(&self->ch, dir, p, 0, 0, R_READ | R_STAT);
}

/* Open p beneath the jail and return what it reads, or the error. */
static const char *open_read(FIXTURE_DATA(beneath) *self, const char *p,
			     int *err)
{
	int h = open_rd(self, self->dh, p);
	ssize_t n;

	*err = 0;
	if (h < 0) {
		*err = h;
		return NULL;
	}
	n = capchan_read(&self->ch, h, self->buf, sizeof(self->buf) - 1,
			 CAPCHAN_OFF_CURRENT);
	capchan_close(&self->ch, h);
	if (n < 0) {
		*err = (int)n;
		return NULL;
	}
	self->buf[n] = '\0';
	return self->buf;
}

TEST_F(beneath, dotdot)
{
	const char *const bad[] = {
		"..", "../", "../secret", "../jail/hello", "sub/../..",
		"sub/../../secret", "sub/../../jail/hello",
		"sub/deeper/../../../secret", "sub/deeper/../../..",
		"./../secret", "sub/./../../secret", ".//..//secret",
		"sub/../sub/../../secret",
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EXDEV, open_rd(self, self->dh, bad[i]))
			TH_LOG("path %s", bad[i]);
	}
	/* The same from a DIR opened beneath: its own root is the limit. */
	{
		int sub = capchan_open_beneath(&self->ch, self->dh, "sub", 0, 0,
					       R_LOOKUP | R_READ | R_STAT);

		ASSERT_LT(0, sub);
		EXPECT_EQ(-EXDEV, open_rd(self, sub, "../hello"));
		EXPECT_EQ(-EXDEV, open_rd(self, sub, "deeper/../../hello"));
		EXPECT_EQ(-EXDEV, open_rd(self, sub, "up_in"));
		EXPECT_LT(0, open_rd(self, sub, "deeper/../inner"));
	}
}

TEST_F(beneath, inner_dotdot_allowed)
{
	const struct { const char *path, *content; } ok[] = {
		{ "sub/../hello", CC_HELLO },
		{ "./sub/./../hello", CC_HELLO },
		{ "sub/deeper/../inner", "inner\n" },
		{ "sub/deeper/../../sub/deeper/leaf", "leaf\n" },
		{ "sub//inner", "inner\n" },
		{ "sub/deeper/./leaf", "leaf\n" },
	};
	int err;

	for (size_t i = 0; i < CC_ARRAY_SIZE(ok); i++) {
		const char *got = open_read(self, ok[i].path, &err);

		EXPECT_EQ(0, err) TH_LOG("path %s", ok[i].path);
		if (got)
			EXPECT_STREQ(ok[i].content, got);
	}
	/* "." and "sub/.." are the jail itself. */
	{
		struct capchan_stat st;
		int h = capchan_open_beneath(&self->ch, self->dh, "sub/..", 0, 0,
					     R_STAT);

		ASSERT_LT(0, h);
		ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
		EXPECT_EQ(cc_ino_at(self->t.base_fd, "jail"), st.ino);
	}
}

TEST_F(beneath, absolute_paths)
{
	char p[PATH_MAX + 32];

	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "/"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "//"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "/proc/self/status"));
	snprintf(p, sizeof(p), "%s/secret", self->t.base);
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, p));
	/* Even when the absolute path names something inside. */
	snprintf(p, sizeof(p), "%s/hello", self->t.jail);
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, p));
}

TEST_F(beneath, symlinks_out)
{
	const char *const bad[] = {
		"abs_out", "abs_root", "abs_root/proc/self/status", "rel_out",
		"sub/up", "dir_out", "dir_out/secret", "dir_out/jail/hello",
		"chain1", "chain2", "sub/chain3", "dot/dir_out/secret",
		"dir_in/up", "dir_in/chain3",
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EXDEV, open_rd(self, self->dh, bad[i]))
			TH_LOG("path %s", bad[i]);
	}
}

TEST_F(beneath, symlinks_in)
{
	const struct { const char *path, *content; } ok[] = {
		{ "rel_in", "inner\n" },
		{ "rel_in_dotdot", CC_HELLO },
		{ "sub/up_in", CC_HELLO },
		{ "dir_in/inner", "inner\n" },
		{ "dir_in/deeper/leaf", "leaf\n" },
		{ "ok1", "leaf\n" },
		{ "dot/hello", CC_HELLO },
		{ "dot/dot/dir_in/up_in", CC_HELLO },
	};
	int err;

	for (size_t i = 0; i < CC_ARRAY_SIZE(ok); i++) {
		const char *got = open_read(self, ok[i].path, &err);

		EXPECT_EQ(0, err) TH_LOG("path %s", ok[i].path);
		if (got)
			EXPECT_STREQ(ok[i].content, got);
	}
	/* A loop, and O_NOFOLLOW on a final symlink. */
	EXPECT_EQ(-ELOOP, open_rd(self, self->dh, "loop1"));
	EXPECT_EQ(-ELOOP, capchan_open_beneath(&self->ch, self->dh, "rel_in",
					       O_NOFOLLOW, 0, R_READ));
	/* O_NOFOLLOW only concerns the last component. */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "dir_in/inner",
					  O_NOFOLLOW, 0, R_READ));
}

/* Grant /proc/self: its magic links (fd/N, exe, cwd, root) are refused. */
TEST_F(beneath, proc_magic_links)
{
	const char *const magic[] = {
		"exe", "cwd", "root", "cwd/x", "root/proc", "ns/net", NULL,
	};
	char p[64];
	int pfd, ph, h;

	pfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ph = capchan_grant(&self->ch, pfd, R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, ph);
	for (int i = 0; magic[i]; i++) {
		EXPECT_EQ(-ELOOP, open_rd(self, ph, magic[i]))
			TH_LOG("/proc/self/%s", magic[i]);
	}
	/* A magic link to a directory we hold. */
	snprintf(p, sizeof(p), "fd/%d", self->t.jail_fd);
	EXPECT_EQ(-ELOOP, capchan_open_beneath(&self->ch, ph, p, 0, 0,
					       R_LOOKUP));
	snprintf(p, sizeof(p), "fd/%d/hello", self->t.jail_fd);
	EXPECT_EQ(-ELOOP, open_rd(self, ph, p));
	snprintf(p, sizeof(p), "fd/%d", pfd);
	EXPECT_EQ(-ELOOP, capchan_open_beneath(&self->ch, ph, p, 0, 0,
					       R_LOOKUP));
	/* Magic links to files. */
	snprintf(p, sizeof(p), "fd/%d", self->t.base_fd);
	EXPECT_EQ(-ELOOP, open_rd(self, ph, p));
	snprintf(p, sizeof(p), "fd/%d", self->ch.fd);
	EXPECT_EQ(-ELOOP, open_rd(self, ph, p));
	snprintf(p, sizeof(p), "task/%d/exe", (int)syscall(SYS_gettid));
	EXPECT_EQ(-ELOOP, open_rd(self, ph, p));
	/* Leaving /proc/<pid>. */
	EXPECT_EQ(-EXDEV, open_rd(self, ph, "../self/status"));
	/* Ordinary proc files open fine. */
	h = open_rd(self, ph, "status");
	EXPECT_LT(0, h);
	close(pfd);
}

/* A FILE capability on a procfs file reads like read(2) would. */
TEST_F(beneath, proc_file_read)
{
	int pfd, ph, h;
	ssize_t n;

	pfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ph = capchan_grant(&self->ch, pfd, R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, ph);
	h = open_rd(self, ph, "status");
	ASSERT_LT(0, h);
	/*
	 * /proc/<pid>/status has only ->read, which a module cannot drive:
	 * the module says so instead of failing obscurely.  STAT still works.
	 */
	n = capchan_read(&self->ch, h, self->buf, sizeof(self->buf) - 1,
			 CAPCHAN_OFF_CURRENT);
	EXPECT_EQ(-EOPNOTSUPP, n);
	close(pfd);
}

/* A magic link planted as an ordinary symlink target inside the jail. */
TEST_F(beneath, symlink_into_proc)
{
	ASSERT_EQ(0, mksymlink(self->t.jail_fd, "/proc/self/cwd", "to_proc"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "to_proc"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "to_proc/secret"));
}

TEST_F(beneath, mount_crossing)
{
	struct capchan_stat st;
	int mfd, mh, h;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "mnt", 0755));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "bind", 0755));
	if (mount("capchan-test", self->mnt, "tmpfs", 0, "size=1m,mode=0755"))
		SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "mnt/x", "on tmpfs\n"));
	ASSERT_EQ(0, mount(self->t.jail, self->bind, NULL, MS_BIND, NULL));

	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh, "mnt", 0, 0,
					       R_LOOKUP));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "mnt/x"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "sub/../mnt/x"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "bind/hello"));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh, "mnt/x",
					       O_CREAT, 0644, R_WRITE));
	/* A symlink into the mount. */
	ASSERT_EQ(0, mksymlink(self->t.jail_fd, "mnt/x", "to_mnt"));
	EXPECT_EQ(-EXDEV, open_rd(self, self->dh, "to_mnt"));

	/* Granting the mount's root directly works within that mount. */
	mfd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, mfd);
	mh = capchan_grant(&self->ch, mfd, R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, mh);
	h = open_rd(self, mh, "x");
	ASSERT_LT(0, h);
	EXPECT_EQ(9, capchan_read(&self->ch, h, self->buf, 64,
				  CAPCHAN_OFF_CURRENT));
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(cc_ino_at(mfd, "x"), st.ino);
	/* ...and ".." from a mount root is an escape. */
	EXPECT_EQ(-EXDEV, open_rd(self, mh, "../hello"));
	EXPECT_EQ(-EXDEV, open_rd(self, mh, ".."));
	close(mfd);
}

TEST_F(beneath, create_needs_create)
{
	struct capchan_stat st;
	struct stat sb;
	int nocreate, h;

	nocreate = capchan_derive(&self->ch, self->dh,
				  R_LOOKUP | R_READ | R_WRITE | R_STAT);
	ASSERT_LT(0, nocreate);
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, nocreate, "new",
					       O_CREAT, 0644, R_WRITE));
	EXPECT_EQ(-ENOENT, fstatat(self->t.jail_fd, "new", &sb, 0) ? -errno : 0);
	/* O_CREAT needs CREATE even if the file exists. */
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, nocreate, "hello",
					       O_CREAT, 0644, R_READ));

	/* With CREATE: the file is made, mode through the umask (022). */
	h = capchan_open_beneath(&self->ch, self->dh, "new", O_CREAT, 0666,
				 R_READ | R_WRITE | R_STAT);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "new", &sb, 0));
	EXPECT_EQ(S_IFREG | 0644, sb.st_mode);
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(getuid(), sb.st_uid);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(sb.st_ino, st.ino);
	EXPECT_EQ(CAPCHAN_CAP_FILE, st.cap_type);
	EXPECT_EQ(4, capchan_write(&self->ch, h, "new\n", 4, CAPCHAN_OFF_CURRENT));
	/* Beneath a subdirectory; and O_EXCL on what exists. */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "sub/newer",
					  O_CREAT | O_EXCL, 0600, R_WRITE));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "sub/newer", &sb, 0));
	EXPECT_EQ(S_IFREG | 0600, sb.st_mode);
	EXPECT_EQ(-EEXIST, capchan_open_beneath(&self->ch, self->dh, "new",
						O_CREAT | O_EXCL, 0644, R_WRITE));
	EXPECT_EQ(-EEXIST, capchan_open_beneath(&self->ch, self->dh, "rel_in",
						O_CREAT | O_EXCL, 0644, R_WRITE));
	/* Creating where a directory is. */
	EXPECT_EQ(-EISDIR, capchan_open_beneath(&self->ch, self->dh, "sub",
						O_CREAT, 0644, R_WRITE));
	/* CREATE in the wanted rights is not needed, and READ alone is enough. */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "ro_new",
					  O_CREAT, 0644, R_READ));
	EXPECT_EQ(0, fstatat(self->t.jail_fd, "ro_new", &sb, 0));
}

TEST_F(beneath, create_cannot_escape)
{
	struct stat sb;
	int r;

	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh,
					       "../created_outside", O_CREAT,
					       0644, R_WRITE));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh, "dangle_out",
					       O_CREAT, 0644, R_WRITE));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh,
					       "dir_out/created_outside",
					       O_CREAT, 0644, R_WRITE));
	EXPECT_EQ(-1, fstatat(self->t.base_fd, "created_outside", &sb, 0));
	EXPECT_EQ(ENOENT, errno);
	/* With O_EXCL: EEXIST (open(2)) or EXDEV, never a creation. */
	r = capchan_open_beneath(&self->ch, self->dh, "dangle_out",
				 O_CREAT | O_EXCL, 0644, R_WRITE);
	EXPECT_TRUE(r == -EEXIST || r == -EXDEV) TH_LOG("got %d", r);
	EXPECT_EQ(-1, fstatat(self->t.base_fd, "created_outside", &sb, 0));
	/*
	 * A dangling symlink inside the jail: open(2) would create its target;
	 * failing closed with ELOOP is fine too.  Never anything else.
	 */
	r = capchan_open_beneath(&self->ch, self->dh, "dangle_in", O_CREAT,
				 0644, R_WRITE);
	if (r > 0) {
		EXPECT_EQ(0, fstatat(self->t.jail_fd, "created_inside", &sb, 0));
	} else {
		EXPECT_EQ(-ELOOP, r);
	}
}

TEST_F(beneath, trunc_needs_write)
{
	struct stat sb;
	int ro;

	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, self->dh, "hello",
					       O_TRUNC, 0, R_READ));
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, self->dh, "hello",
					       O_TRUNC, 0, R_READ | R_STAT));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(strlen(CC_HELLO), sb.st_size);
	/* Not even with O_CREAT, whose CREATE is held. */
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, self->dh, "hello",
					       O_CREAT | O_TRUNC, 0644, R_READ));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(strlen(CC_HELLO), sb.st_size);
	/* A DIR capability without WRITE cannot hand it out either. */
	ro = capchan_derive(&self->ch, self->dh, R_LOOKUP | R_READ);
	ASSERT_LT(0, ro);
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, ro, "hello", O_TRUNC,
					       0, R_READ | R_WRITE));
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, ro, "hello", O_TRUNC,
					       0, R_READ));
	/* With WRITE it truncates. */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "hello", O_TRUNC,
					  0, R_WRITE));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(0, sb.st_size);
}

/* ------------------------------------------------------------------ */
/* Credentials                                                         */
/* ------------------------------------------------------------------ */

/* Make /dev/capchan usable by nobody for the test; returns the old mode. */
static mode_t open_up_device(void)
{
	struct stat st;

	if (stat(CAPCHAN_DEVICE, &st))
		return 0;
	if ((st.st_mode & 0006) != 0006)
		chmod(CAPCHAN_DEVICE, (st.st_mode & 07777) | 0006);
	return st.st_mode & 07777;
}

static int become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(CC_GID_NOGROUP) ||
	    setuid(CC_UID_NOBODY))
		return -errno;
	return 0;
}

/*
 * Open a channel as whoever we are now.  The caller chdir()ed to /dev while
 * still root, so no directory above (a minimal initramfs may have a 0700
 * "/") needs to be searchable by nobody.
 */
static int open_channel_here(struct capchan *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd = open("capchan", O_RDWR | O_CLOEXEC);
	return ch->fd < 0 ? -errno : 0;
}

static void dac_files(struct __test_metadata *_metadata, struct cc_tree *t)
{
	ASSERT_EQ(0, cc_put_file(t->jail_fd, "secret600", "root only\n", 10, 0600));
	ASSERT_EQ(0, cc_put_file(t->jail_fd, "pub644", "public\n", 7, 0644));
	ASSERT_EQ(0, mkdirat(t->jail_fd, "dir700", 0700));
	ASSERT_EQ(0, fchmodat(t->jail_fd, "dir700", 0700, 0));
	ASSERT_EQ(0, cc_put_str(t->jail_fd, "dir700/x", "x\n"));
	ASSERT_EQ(0, mkdirat(t->jail_fd, "pubdir", 0777));
	ASSERT_EQ(0, fchmodat(t->jail_fd, "pubdir", 0777, 0));
	ASSERT_EQ(0, fchmod(t->jail_fd, 0755));
}

#define DAC_N 8

/* What the nobody-owned channel gets; run in a child that is nobody. */
static void dac_probe(struct capchan *ch, uint32_t dh, int res[DAC_N])
{
	char buf[32];
	int h;

	res[0] = capchan_open_beneath(ch, dh, "secret600", 0, 0, R_READ);
	res[1] = capchan_open_beneath(ch, dh, "secret600", 0, 0, R_WRITE);
	h = capchan_open_beneath(ch, dh, "pub644", 0, 0, R_READ);
	res[2] = h < 0 ? h : (int)capchan_read(ch, h, buf, sizeof(buf),
						   CAPCHAN_OFF_CURRENT);
	res[3] = capchan_open_beneath(ch, dh, "pub644", 0, 0, R_WRITE);
	res[4] = capchan_open_beneath(ch, dh, "dir700/x", 0, 0, R_READ);
	res[5] = capchan_open_beneath(ch, dh, "made_by_nobody", O_CREAT, 0644,
				      R_WRITE);
	h = capchan_open_beneath(ch, dh, "pubdir/mine", O_CREAT, 0644, R_WRITE);
	res[6] = h < 0 ? h : 0;
	res[7] = capchan_open_beneath(ch, dh, "dir700", 0, 0, R_LOOKUP);
}

static void dac_check(struct __test_metadata *_metadata, struct cc_tree *t,
		      const int res[DAC_N])
{
	struct stat sb;

	EXPECT_EQ(-EACCES, res[0]);
	EXPECT_EQ(-EACCES, res[1]);
	EXPECT_EQ(7, res[2]);
	EXPECT_EQ(-EACCES, res[3]);
	EXPECT_EQ(-EACCES, res[4]);
	EXPECT_EQ(-EACCES, res[5]);
	EXPECT_EQ(0, res[6]);
	/* opening a 0700 dir for lookup needs read permission too */
	EXPECT_EQ(-EACCES, res[7]);
	ASSERT_EQ(0, fstatat(t->jail_fd, "pubdir/mine", &sb, 0));
	EXPECT_EQ(CC_UID_NOBODY, sb.st_uid);
	EXPECT_EQ(CC_GID_NOGROUP, sb.st_gid);
	EXPECT_EQ(-1, fstatat(t->jail_fd, "made_by_nobody", &sb, 0));
}

/*
 * The child drops to nobody *before* opening /dev/capchan, so the channel
 * carries nobody's credentials: DAC denies what root could open.
 */
TEST_F(beneath, dac_applies)
{
	int res[DAC_N], pipefd[2], h;
	mode_t old;
	pid_t pid;

	dac_files(_metadata, &self->t);
	/* Root's own channel opens everything (control). */
	h = capchan_open_beneath(&self->ch, self->dh, "secret600", 0, 0,
				 R_READ | R_WRITE);
	EXPECT_LT(0, h);
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "dir700/x", 0, 0,
					  R_READ));

	old = open_up_device();
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		int dfd, dh;

		int r;

		for (int i = 0; i < DAC_N; i++)
			res[i] = -ENOSYS;
		/* the jail fd was opened by root: an object, not authority */
		dfd = self->t.jail_fd;
		if (chdir("/dev") || become_nobody())
			_exit(10);
		r = open_channel_here(&ch);
		if (r)
			_exit(100 + (-r & 0x7f));
		dh = capchan_grant(&ch, dfd, R_ALL);
		if (dh < 0)
			_exit(13);
		dac_probe(&ch, dh, res);
		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(14);
		_exit(0);
	}
	close(pipefd[1]);
	memset(res, 0, sizeof(res));
	EXPECT_EQ(sizeof(res), read(pipefd[0], res, sizeof(res)));
	close(pipefd[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
	chmod(CAPCHAN_DEVICE, old);
	dac_check(_metadata, &self->t, res);
}

/*
 * A channel created by nobody and handed to root over SCM_RIGHTS: root's
 * submissions still run with nobody's credentials.
 */
TEST_F(beneath, creator_creds_not_submitter)
{
	int sv[2], res[DAC_N], chfd;
	uint32_t dh;
	struct capchan ch;
	mode_t old;
	pid_t pid;

	dac_files(_metadata, &self->t);
	old = open_up_device();
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan c;
		int dfd, h;

		close(sv[0]);
		dfd = self->t.jail_fd;
		if (chdir("/dev") || become_nobody())
			_exit(10);
		h = open_channel_here(&c);
		if (h)
			_exit(100 + (-h & 0x7f));
		h = capchan_grant(&c, dfd, R_ALL);
		if (h < 0)
			_exit(13);
		if (cc_send_fd(sv[1], c.fd) || cc_send_u32(sv[1], h))
			_exit(14);
		/* Exit: the channel lives on in the parent. */
		_exit(0);
	}
	close(sv[1]);
	chfd = cc_recv_fd(sv[0]);
	ASSERT_LE(0, chfd);
	ASSERT_EQ(0, cc_recv_u32(sv[0], &dh));
	close(sv[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
	chmod(CAPCHAN_DEVICE, old);

	memset(&ch, 0, sizeof(ch));
	ch.fd = chfd;
	ASSERT_EQ(0, getuid());
	dac_probe(&ch, dh, res);
	dac_check(_metadata, &self->t, res);
	close(chfd);
}

/* ------------------------------------------------------------------ */
/* Rename race (after openat2's rename_attack_test)                    */
/* ------------------------------------------------------------------ */
/*
 *   base/secret          "OUTSIDE SECRET"
 *   base/x/y/            swapped with jail/a/b by a thread (RENAME_EXCHANGE)
 *   base/jail/secret     "inside"
 *   base/jail/a/b/
 *
 * The victim path "a/b/../../" x24 + "secret" always stays inside when
 * resolved atomically.  If b moves to base/x while the walk is inside it,
 * ".." climbs out: the open then finds base/secret, or fails with ENOENT
 * looking for "a" in base.  Both are escapes; EXDEV and EAGAIN are the
 * kernel detecting the race.
 */
struct swapper {
	int base_fd;
	atomic_int stop;
	unsigned long swaps;
	int err;
};

static void *swap_loop(void *arg)
{
	struct swapper *sw = arg;

	while (!atomic_load(&sw->stop)) {
		if (renameat2(sw->base_fd, "jail/a/b", sw->base_fd, "x/y",
			      RENAME_EXCHANGE)) {
			sw->err = errno;
			break;
		}
		sw->swaps++;
	}
	return NULL;
}

TEST_F_TIMEOUT(beneath, rename_race, 120)
{
	char victim[1024] = "";
	unsigned long successes = 0, escapes = 0, exdev = 0, eagain = 0;
	unsigned long other = 0, tries = 0;
	struct swapper sw = { .base_fd = self->t.base_fd };
	ino_t in_ino, out_ino;
	pthread_t th;
	double end;
	int dh, last_other = 0;

	/* many "a/b/../.." steps: many windows per walk */
	for (int i = 0; i < 24; i++)
		strcat(victim, "a/b/../../");
	strcat(victim, "secret");
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "a", 0755));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "a/b", 0755));
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "x", 0755));
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "x/y", 0755));
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "secret", "inside\n"));
	in_ino = cc_ino_at(self->t.jail_fd, "secret");
	out_ino = cc_ino_at(self->t.base_fd, "secret");
	ASSERT_NE(0, in_ino);
	ASSERT_NE(0, out_ino);
	dh = capchan_grant(&self->ch, self->t.jail_fd,
			   R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, dh);
	/* Sanity before the race. */
	EXPECT_LT(0, open_rd(self, dh, victim));

	ASSERT_EQ(0, pthread_create(&th, NULL, swap_loop, &sw));
	end = cc_now() + 2.0;
	while (cc_now() < end) {
		int h = open_rd(self, dh, victim);

		tries++;
		if (h > 0) {
			struct capchan_stat st;

			if (capchan_stat(&self->ch, h, &st) == 0 &&
			    st.ino == in_ino)
				successes++;
			else
				escapes++;
			capchan_close(&self->ch, h);
		} else if (h == -EXDEV) {
			exdev++;
		} else if (h == -EAGAIN) {
			eagain++;
		} else if (h == -ENOENT) {
			escapes++;	/* walked out and looked for "a" */
		} else {
			other++;
			last_other = h;
		}
	}
	atomic_store(&sw.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu tries, %lu swaps: success=%lu EXDEV=%lu EAGAIN=%lu other=%lu (last %d) escapes=%lu",
	       tries, sw.swaps, successes, exdev, eagain, other, last_other,
	       escapes);
	EXPECT_EQ(0, sw.err);
	EXPECT_LT(100, sw.swaps);
	EXPECT_EQ(0, escapes);
	EXPECT_EQ(0, other);
	EXPECT_LT(0, successes);
}

/* The same race against O_CREAT: nothing is ever created outside. */
TEST_F_TIMEOUT(beneath, rename_race_create, 120)
{
	const char *victim = "a/b/../../a/b/../../made";
	struct swapper sw = { .base_fd = self->t.base_fd };
	unsigned long tries = 0, made = 0;
	struct stat sb;
	pthread_t th;
	double end;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "a", 0755));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "a/b", 0755));
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "x", 0755));
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "x/y", 0755));
	ASSERT_EQ(0, pthread_create(&th, NULL, swap_loop, &sw));
	end = cc_now() + 2.0;
	while (cc_now() < end) {
		int h = capchan_open_beneath(&self->ch, self->dh, victim,
					     O_CREAT, 0644, R_WRITE);

		tries++;
		if (h > 0) {
			made++;
			capchan_close(&self->ch, h);
			unlinkat(self->t.jail_fd, "made", 0);
		}
		if (fstatat(self->t.base_fd, "made", &sb, 0) == 0)
			break;
	}
	atomic_store(&sw.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu tries, %lu created inside, %lu swaps", tries, made,
	       sw.swaps);
	EXPECT_EQ(-1, fstatat(self->t.base_fd, "made", &sb, 0));
	EXPECT_EQ(-1, fstatat(self->t.base_fd, "x/made", &sb, 0));
	EXPECT_LT(0, made);
}

/*
 * The final component moved out and replaced while being opened:
 *
 *   base/jail/sub/target   T_in, moved to base/out/target and back
 *   base/hold/target       T_secret, exchanged with base/out/target while
 *                          T_in is there: T_secret is never in the jail
 *
 * An open of "sub/target" may find T_in (inside), or nothing; it must
 * never return T_secret, which no moment of the race puts beneath the DIR.
 */
struct mover {
	int base_fd;
	atomic_int stop;
	unsigned long rounds;
	int err;
};

static void *move_loop(void *arg)
{
	struct mover *m = arg;
	int b = m->base_fd;

	while (!atomic_load(&m->stop)) {
		if (renameat(b, "jail/sub/target", b, "out/target") ||
		    renameat2(b, "out/target", b, "hold/target", RENAME_EXCHANGE) ||
		    renameat2(b, "out/target", b, "hold/target", RENAME_EXCHANGE) ||
		    renameat(b, "out/target", b, "jail/sub/target")) {
			m->err = errno;
			break;
		}
		m->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(beneath, rename_race_final_component, 120)
{
	struct mover m = { .base_fd = self->t.base_fd };
	unsigned long tries = 0, inside = 0, enoent = 0, escapes = 0, other = 0;
	unsigned long secret_read = 0;
	ino_t in_ino, secret_ino;
	int last_other = 0;
	pthread_t th;
	double end;

	ASSERT_EQ(0, mkdirat(self->t.base_fd, "out", 0755));
	ASSERT_EQ(0, mkdirat(self->t.base_fd, "hold", 0755));
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "sub/target", "inside\n"));
	ASSERT_EQ(0, cc_put_str(self->t.base_fd, "hold/target", CC_SECRET));
	in_ino = cc_ino_at(self->t.jail_fd, "sub/target");
	secret_ino = cc_ino_at(self->t.base_fd, "hold/target");
	ASSERT_NE(0, in_ino);
	ASSERT_NE(0, secret_ino);

	ASSERT_EQ(0, pthread_create(&th, NULL, move_loop, &m));
	end = cc_now() + 3.0;
	while (cc_now() < end) {
		int h = open_rd(self, self->dh, "sub/target");

		tries++;
		if (h > 0) {
			struct capchan_stat st;

			if (capchan_stat(&self->ch, h, &st) == 0 &&
			    st.ino == in_ino) {
				inside++;
			} else {
				escapes++;
				memset(self->buf, 0, sizeof(self->buf));
				if (st.ino == secret_ino &&
				    capchan_read(&self->ch, h, self->buf, 64,
						 CAPCHAN_OFF_CURRENT) > 0 &&
				    !strcmp(self->buf, CC_SECRET))
					secret_read++;
			}
			capchan_close(&self->ch, h);
		} else if (h == -ENOENT) {
			enoent++;
		} else {
			other++;
			last_other = h;
		}
	}
	atomic_store(&m.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu tries, %lu mover rounds: inside=%lu ENOENT=%lu other=%lu (last %d) escapes=%lu (outside secret read: %lu)",
	       tries, m.rounds, inside, enoent, other, last_other, escapes,
	       secret_read);
	EXPECT_EQ(0, m.err);
	EXPECT_EQ(0, escapes);
	EXPECT_LT(0, inside);
}

TEST_HARNESS_MAIN
