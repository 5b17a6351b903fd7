// SPDX-License-Identifier: GPL-2.0
/*
 * OPEN answers as openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV) does for the same tree, path, flags and credentials,
 * where no capability rule decides first.  The cases here are the ones
 * where OPEN used to differ: O_CREAT through a protected symlink in the
 * middle of the path, O_CREAT | O_EXCL on a symlink, O_CREAT | O_DIRECTORY,
 * O_CREAT with a trailing slash.  openat2 itself is asked first, as the
 * reference, wherever the two must agree.
 */
#include <linux/openat2.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* READ through REVOKE: every right the ops tested here need */
#define R_CORE	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
		 R_LOOKUP | R_CREATE | R_DERIVE | R_DELEGATE | R_REVOKE)

#define PROTECTED_SYMLINKS	"/proc/sys/fs/protected_symlinks"

FIXTURE(sem) {
	struct cc_tree t;
	struct capchan ch;
	int dh;
	long long saved_protected;	/* -1: not changed */
};

FIXTURE_SETUP(sem)
{
	self->ch.fd = -1;
	self->saved_protected = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "opensem"));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	self->dh = capchan_grant(&self->ch, self->t.jail_fd, R_CORE);
	ASSERT_LT(0, self->dh);
}

FIXTURE_TEARDOWN(sem)
{
	char buf[32];

	if (self->saved_protected >= 0) {
		snprintf(buf, sizeof(buf), "%lld", self->saved_protected);
		cc_write_str(PROTECTED_SYMLINKS, buf);
	}
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
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

static bool exists_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static ino_t stat_ino(FIXTURE_DATA(sem) *self, int h)
{
	struct capchan_stat st;

	return capchan_stat(&self->ch, h, &st) ? 0 : (ino_t)st.ino;
}

/*
 * fs.protected_symlinks=1, a world-writable sticky directory stk/ holding
 * lnk -> ../tgt owned by nobody.  The protection applies to a link that is
 * the last component; stk/lnk/new goes through it as a directory, so root
 * creates tgt/new, as with openat2.  (OPEN looked up the parent of the new
 * name as a path of its own, with lnk last: -EACCES.)
 */
TEST_F(sem, create_beneath_protected_link_to_dir)
{
	int err, h;
	ino_t ino;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "stk", 01777));
	ASSERT_EQ(0, fchmodat(self->t.jail_fd, "stk", 01777, 0));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "tgt", 0755));
	ASSERT_EQ(0, symlinkat("../tgt", self->t.jail_fd, "stk/lnk"));
	ASSERT_EQ(0, fchownat(self->t.jail_fd, "stk/lnk", CC_UID_NOBODY,
			      CC_GID_NOGROUP, AT_SYMLINK_NOFOLLOW));
	self->saved_protected = cc_read_number(PROTECTED_SYMLINKS, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, cc_write_str(PROTECTED_SYMLINKS, "1"));

	/* the reference: through the link yes, onto the link no */
	ASSERT_EQ(0, openat2_beneath(self->t.jail_fd, "stk/lnk/ref",
				     O_CREAT | O_WRONLY, 0644));
	ASSERT_EQ(-EACCES, openat2_beneath(self->t.jail_fd, "stk/lnk",
					   O_RDONLY, 0));

	h = capchan_open_beneath(&self->ch, self->dh, "stk/lnk/new", O_CREAT,
				 0644, R_WRITE | R_STAT);
	EXPECT_LT(0, h);
	ino = cc_ino_at(self->t.jail_fd, "tgt/new");
	EXPECT_NE(0, ino);
	if (h > 0)
		EXPECT_EQ(ino, stat_ino(self, h));
	/* with O_EXCL, and a second time without (it exists now) */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "stk/lnk/new2",
					  O_CREAT | O_EXCL, 0644, R_WRITE));
	EXPECT_TRUE(exists_at(self->t.jail_fd, "tgt/new2"));
	h = capchan_open_beneath(&self->ch, self->dh, "stk/lnk/new", O_CREAT,
				 0644, R_WRITE | R_STAT);
	EXPECT_LT(0, h);
	if (h > 0)
		EXPECT_EQ(ino, stat_ino(self, h));
	/* onto the link itself: refused, as openat2 refuses it */
	EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, self->dh, "stk/lnk",
						0, 0, R_LOOKUP));
}

/*
 * O_CREAT | O_EXCL never follows a symlink in the last component, dangling
 * or not: -EEXIST, as openat2 (and open(2)) say, and nothing is created at
 * the target.  (A dangling one gave -ELOOP.)
 */
TEST_F(sem, exclusive_create_on_symlink_is_eexist)
{
	static const char *const links[] = {
		"dangle", "sub/dangle2", "tohello", "todir",
	};
	static const int extra[] = { 0, O_NOFOLLOW };
	char buf[64];

	ASSERT_EQ(0, symlinkat("nowhere", self->t.jail_fd, "dangle"));
	ASSERT_EQ(0, symlinkat("../nowhere2", self->t.jail_fd, "sub/dangle2"));
	ASSERT_EQ(0, symlinkat("hello", self->t.jail_fd, "tohello"));
	ASSERT_EQ(0, symlinkat("sub", self->t.jail_fd, "todir"));
	for (size_t i = 0; i < CC_ARRAY_SIZE(links); i++) {
		for (size_t j = 0; j < CC_ARRAY_SIZE(extra); j++) {
			int flags = O_CREAT | O_EXCL | extra[j];

			ASSERT_EQ(-EEXIST, openat2_beneath(self->t.jail_fd, links[i],
							   flags | O_WRONLY, 0644));
			EXPECT_EQ(-EEXIST, capchan_open_beneath(&self->ch, self->dh,
								links[i], flags,
								0644, R_WRITE))
				TH_LOG("%s, flags %#x", links[i], flags);
		}
	}
	EXPECT_FALSE(exists_at(self->t.jail_fd, "nowhere"));
	EXPECT_FALSE(exists_at(self->t.jail_fd, "nowhere2"));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO),
		  cc_get_file(self->t.jail_fd, "hello", buf, sizeof(buf)));
	EXPECT_STREQ(CC_HELLO, buf);
}

/*
 * O_CREAT | O_DIRECTORY is -EINVAL before any lookup, whatever the path:
 * one that does not resolve, a new name, a directory, a file, empty.
 */
TEST_F(sem, create_directory_is_einval)
{
	static const char *const paths[] = {
		"no/such/dir/x", "newd", "sub", "hello", "", "../escape",
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(paths); i++) {
		EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh,
							paths[i],
							O_CREAT | O_DIRECTORY,
							0755, R_WRITE))
			TH_LOG("'%s'", paths[i]);
		EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh,
							paths[i],
							O_CREAT | O_EXCL |
							O_DIRECTORY,
							0755, R_WRITE))
			TH_LOG("'%s' with O_EXCL", paths[i]);
	}
	EXPECT_FALSE(exists_at(self->t.jail_fd, "newd"));
	/* the reference agrees where a lookup would have said otherwise */
	EXPECT_EQ(-EINVAL, openat2_beneath(self->t.jail_fd, "newd",
					   O_CREAT | O_DIRECTORY | O_RDONLY,
					   0755));
	EXPECT_FALSE(exists_at(self->t.jail_fd, "newd"));
}

/* O_CREAT with a trailing slash never creates: -EISDIR, existing or not. */
TEST_F(sem, create_with_trailing_slash_is_eisdir)
{
	static const char *const paths[] = {
		"newdir/", "sub/", "sub/newdir/", "hello/", "newdir//",
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(paths); i++) {
		ASSERT_EQ(-EISDIR, openat2_beneath(self->t.jail_fd, paths[i],
						   O_CREAT | O_WRONLY, 0644))
			TH_LOG("openat2 '%s'", paths[i]);
		EXPECT_EQ(-EISDIR, capchan_open_beneath(&self->ch, self->dh,
							paths[i], O_CREAT, 0644,
							R_WRITE))
			TH_LOG("'%s'", paths[i]);
		EXPECT_EQ(-EISDIR, capchan_open_beneath(&self->ch, self->dh,
							paths[i],
							O_CREAT | O_EXCL, 0644,
							R_WRITE))
			TH_LOG("'%s' with O_EXCL", paths[i]);
	}
	EXPECT_FALSE(exists_at(self->t.jail_fd, "newdir"));
	EXPECT_FALSE(exists_at(self->t.jail_fd, "sub/newdir"));
}

/*
 * A directory asked for with WRITE among the rights is a DIR capability
 * holding WRITE (opened read-only, WRITE being the ceiling for files
 * opened beneath it): documented, where openat2(O_RDWR) says -EISDIR.
 */
TEST_F(sem, directory_with_write_right_is_dir_cap)
{
	const uint64_t want = R_LOOKUP | R_READ | R_WRITE | R_CREATE | R_STAT;
	struct capchan_stat st;
	int h, f;

	h = capchan_open_beneath(&self->ch, self->dh, "sub", 0, 0, want);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_EQ(want, st.rights);
	EXPECT_EQ(cc_ino_at(self->t.jail_fd, "sub"), st.ino);
	/* with O_DIRECTORY too */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "sub",
					  O_DIRECTORY, 0, want));
	/* beneath it, files open for writing */
	f = capchan_open_beneath(&self->ch, h, "inner", 0, 0, R_WRITE);
	EXPECT_LT(0, f);
	EXPECT_EQ(1, capchan_write(&self->ch, f, "I", 1, CAPCHAN_OFF_CURRENT));
	/* O_TRUNC of a directory is still -EISDIR */
	EXPECT_EQ(-EISDIR, capchan_open_beneath(&self->ch, self->dh, "sub",
						O_TRUNC, 0, want));
}

TEST_HARNESS_MAIN
