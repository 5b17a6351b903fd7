// SPDX-License-Identifier: GPL-2.0
/*
 * Limits: what a user may hold through capabilities, and OPEN failing at a
 * limit without side effects.
 *
 * Files held through capabilities (GRANT and OPEN bring one each; DERIVE,
 * EXPORT and IMPORT share their parent's) count per user, the channel
 * creator's real uid, against the caller's soft RLIMIT_NOFILE (-EMFILE)
 * and max_user_files (-ENFILE); capabilities against max_user_caps
 * (-EDQUOT).  Every limit OPEN can hit (handle table, depth, the user's
 * capabilities and files) is checked before it creates or truncates.
 *
 * Each accounting test runs as a uid of its own, so its counts start at 0.
 */
#include <sys/resource.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* READ through REVOKE: every right the ops tested here need */
#define R_CORE	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
		 R_LOOKUP | R_CREATE | R_DERIVE | R_DELEGATE | R_REVOKE)

#define UID_BASE	60000
#define DATA		"precious content, must survive\n"

FIXTURE(limits) {
	struct cc_tree t;
	int pub_fd;		/* jail/pub: 0777, with data (0666, DATA) */
	/* module parameters changed by a test, restored in teardown */
	long long saved_user_caps, saved_user_files;
};

FIXTURE_SETUP(limits)
{
	self->pub_fd = -1;
	self->saved_user_caps = self->saved_user_files = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "limits"));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "pub", 0777));
	ASSERT_EQ(0, fchmodat(self->t.jail_fd, "pub", 0777, 0));
	self->pub_fd = openat(self->t.jail_fd, "pub",
			      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->pub_fd);
	ASSERT_EQ(0, cc_put_file(self->pub_fd, "data", DATA, strlen(DATA), 0666));
}

static void set_param(const char *name, long long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/capchan/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%lld", val);
	cc_write_str(path, buf);
}

FIXTURE_TEARDOWN(limits)
{
	if (self->saved_user_caps >= 0)
		set_param("max_user_caps", self->saved_user_caps);
	if (self->saved_user_files >= 0)
		set_param("max_user_files", self->saved_user_files);
	if (self->pub_fd >= 0)
		close(self->pub_fd);
	cc_tree_destroy(&self->t);
}

/* Set a writable module parameter, remembering the old value. */
static int change_param(const char *name, long long val, long long *saved)
{
	char path[128], buf[32];
	int err;

	*saved = cc_module_param(name, &err);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/sys/module/capchan/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%lld", val);
	return cc_write_str(path, buf);
}

/* A child process reports through EXPECT_* and its exit status. */
#define CHILD_EXIT()	_exit(_metadata->passed ? 0 : 1)

/* Put back what change_param() changed, as soon as the child is done. */
static void restore_param(const char *name, long long *saved)
{
	if (*saved >= 0)
		set_param(name, *saved);
	*saved = -1;
}

static bool exists_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* user: and its counts, from a channel's fdinfo. */
struct counts {
	long long user, caps, files;
};

static struct counts counts_of(struct capchan *ch)
{
	struct counts c = { -2, -2, -2 };
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	if (fi && !cc_read_fdinfo(ch->fd, fi)) {
		c.user = fi->user;
		c.caps = fi->user_caps;
		c.files = fi->user_files;
	}
	free(fi);
	return c;
}

#define EXPECT_COUNTS(ch, u, ncaps, nfiles) do {			\
	struct counts __c = counts_of(ch);				\
	EXPECT_EQ((long long)(u), __c.user);				\
	EXPECT_EQ((long long)(ncaps), __c.caps);			\
	EXPECT_EQ((long long)(nfiles), __c.files);			\
} while (0)

/* ------------------------------------------------------------------ */
/* Accounting                                                          */
/* ------------------------------------------------------------------ */

/*
 * RLIMIT_NOFILE 32, eight channels: 8 GRANTs and 24 OPENs make 32 files,
 * the next OPEN (or GRANT) in any channel is -EMFILE.  DERIVE, EXPORT and
 * IMPORT bring no file; a REVOKE lets go of the files of what it revoked,
 * and OPEN works again until the user is back at 32.
 */
static void nofile_child(struct __test_metadata *_metadata, int dirfd,
			 uid_t uid)
{
	enum { NCH = 8, LIMIT = 32 };
	struct rlimit rl = { LIMIT, LIMIT };
	struct capchan ch[NCH];
	int grant[NCH], h[LIMIT], i, d, x, capfd, n = 0;

	if (cc_become(uid, uid) || setrlimit(RLIMIT_NOFILE, &rl))
		_exit(100);
	for (i = 0; i < NCH; i++) {
		if (capchan_open_channel(&ch[i]))
			_exit(101);
		grant[i] = capchan_grant(&ch[i], dirfd, R_CORE);
		EXPECT_LT(0, grant[i]);
	}
	for (i = 0; i < LIMIT - NCH; i++) {
		h[i] = capchan_open_beneath(&ch[i % NCH], grant[i % NCH], "hello",
					    0, 0, R_READ | R_DERIVE | R_DELEGATE);
		EXPECT_LT(0, h[i]) TH_LOG("open %d", i);
	}
	/* the user holds 32 files, all channels together */
	EXPECT_EQ(-EMFILE, capchan_open_beneath(&ch[0], grant[0], "hello", 0, 0,
						R_READ));
	EXPECT_EQ(-EMFILE, capchan_open_beneath(&ch[5], grant[5], "sub", 0, 0,
						R_LOOKUP));
	EXPECT_EQ(-EMFILE, capchan_grant(&ch[1], dirfd, R_CORE));
	EXPECT_COUNTS(&ch[0], uid, 32, 32);

	/* no new file: these share their parent's */
	d = capchan_derive(&ch[0], h[0], R_READ);
	EXPECT_LT(0, d);
	capfd = capchan_export(&ch[0], h[0], R_READ);
	EXPECT_LE(0, capfd);
	x = capchan_import(&ch[1], capfd);
	EXPECT_LT(0, x);
	EXPECT_COUNTS(&ch[7], uid, 34, 32);	/* IMPORT makes no capability */

	/* ch[0]'s opens (0, 8, 16) and what was derived and exported below h[0] */
	EXPECT_EQ(5, capchan_revoke(&ch[0], grant[0]));
	EXPECT_COUNTS(&ch[0], uid, 34, 29);
	for (i = 1; i <= 3; i++) {
		int o = capchan_open_beneath(&ch[i], grant[i], "hello", 0, 0,
					     R_READ);

		EXPECT_LT(0, o) TH_LOG("open %d after revoke", i);
		n += o > 0;
	}
	EXPECT_EQ(3, n);
	EXPECT_EQ(-EMFILE, capchan_open_beneath(&ch[4], grant[4], "hello", 0, 0,
						R_READ));
	EXPECT_COUNTS(&ch[0], uid, 37, 32);

	/* closing the revoked ones uncharges their capabilities */
	EXPECT_EQ(0, capchan_close(&ch[0], h[0]));
	EXPECT_EQ(0, capchan_close(&ch[0], h[8]));
	EXPECT_EQ(0, capchan_close(&ch[0], h[16]));
	EXPECT_EQ(0, capchan_close(&ch[0], d));
	EXPECT_EQ(0, capchan_close(&ch[1], x));
	close(capfd);
	EXPECT_COUNTS(&ch[0], uid, 32, 32);
	CHILD_EXIT();
}

TEST_F(limits, files_count_against_rlimit_nofile)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		nofile_child(_metadata, self->t.jail_fd, UID_BASE + 1);
	EXPECT_EQ(0, cc_wait_child(pid));
}

/* max_user_files=10: the 10th file is the last one (-ENFILE after it). */
static void user_files_child(struct __test_metadata *_metadata, int dirfd,
			     uid_t uid)
{
	struct capchan ch;
	int g, h[9], d;

	if (cc_become(uid, uid) || capchan_open_channel(&ch))
		_exit(100);
	g = capchan_grant(&ch, dirfd, R_CORE);
	EXPECT_LT(0, g);
	for (int i = 0; i < 9; i++) {
		h[i] = capchan_open_beneath(&ch, g, "hello", 0, 0, R_READ);
		EXPECT_LT(0, h[i]) TH_LOG("open %d", i);
	}
	EXPECT_EQ(-ENFILE, capchan_open_beneath(&ch, g, "hello", 0, 0, R_READ));
	EXPECT_EQ(-ENFILE, capchan_grant(&ch, dirfd, R_READ));
	d = capchan_derive(&ch, g, R_LOOKUP | R_READ);
	EXPECT_LT(0, d);
	EXPECT_COUNTS(&ch, uid, 11, 10);
	/* closing an opened file's only capability lets it go */
	EXPECT_EQ(0, capchan_close(&ch, h[0]));
	EXPECT_COUNTS(&ch, uid, 10, 9);
	EXPECT_LT(0, capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ));
	EXPECT_EQ(-ENFILE, capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ));
	CHILD_EXIT();
}

TEST_F(limits, files_count_against_max_user_files)
{
	pid_t pid;

	ASSERT_EQ(0, change_param("max_user_files", 10, &self->saved_user_files));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		user_files_child(_metadata, self->t.jail_fd, UID_BASE + 2);
	EXPECT_EQ(0, cc_wait_child(pid));
	restore_param("max_user_files", &self->saved_user_files);
}

/* max_user_caps=10: every way of making a capability stops at 10. */
static void user_caps_child(struct __test_metadata *_metadata, int dirfd,
			    uid_t uid)
{
	struct capchan ch, ch2;
	int g, h[8], capfd, x;

	if (cc_become(uid, uid) || capchan_open_channel(&ch) ||
	    capchan_open_channel(&ch2))
		_exit(100);
	g = capchan_grant(&ch, dirfd, R_CORE);
	EXPECT_LT(0, g);
	capfd = capchan_export(&ch, g, R_LOOKUP | R_READ);
	EXPECT_LE(0, capfd);
	for (int i = 0; i < 8; i++) {
		h[i] = capchan_derive(&ch, g, R_LOOKUP | R_READ);
		EXPECT_LT(0, h[i]) TH_LOG("derive %d", i);
	}
	EXPECT_COUNTS(&ch, uid, 10, 1);
	EXPECT_EQ(-EDQUOT, capchan_derive(&ch, g, R_READ));
	EXPECT_EQ(-EDQUOT, capchan_open_beneath(&ch, g, "hello", 0, 0, R_READ));
	EXPECT_EQ(-EDQUOT, capchan_export(&ch, g, R_READ));
	EXPECT_EQ(-EDQUOT, capchan_grant(&ch2, dirfd, R_READ));
	/* IMPORT installs the capability that is there: nothing new */
	x = capchan_import(&ch2, capfd);
	EXPECT_LT(0, x);
	EXPECT_COUNTS(&ch2, uid, 10, 1);
	EXPECT_EQ(0, capchan_close(&ch, h[0]));
	EXPECT_LT(0, capchan_derive(&ch, g, R_READ));
	EXPECT_EQ(-EDQUOT, capchan_derive(&ch, g, R_READ));
	CHILD_EXIT();
}

TEST_F(limits, caps_count_against_max_user_caps)
{
	pid_t pid;

	ASSERT_EQ(0, change_param("max_user_caps", 10, &self->saved_user_caps));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		user_caps_child(_metadata, self->t.jail_fd, UID_BASE + 3);
	EXPECT_EQ(0, cc_wait_child(pid));
	restore_param("max_user_caps", &self->saved_user_caps);
}

/* ------------------------------------------------------------------ */
/* OPEN at a limit changes nothing                                     */
/* ------------------------------------------------------------------ */

/*
 * OPEN beneath @dh (a DIR on pub/ with CREATE and WRITE) fails with @err
 * for a new name (O_CREAT | O_EXCL and plain O_CREAT) and for O_TRUNC of
 * data, with and without O_CREAT.
 */
static void open_fails(struct __test_metadata *_metadata, struct capchan *ch,
		       int dh, int err)
{
	EXPECT_EQ(err, capchan_open_beneath(ch, dh, "new", O_CREAT | O_EXCL,
					    0644, R_WRITE));
	EXPECT_EQ(err, capchan_open_beneath(ch, dh, "new2", O_CREAT, 0644,
					    R_READ | R_WRITE));
	EXPECT_EQ(err, capchan_open_beneath(ch, dh, "data", O_TRUNC, 0,
					    R_WRITE));
	EXPECT_EQ(err, capchan_open_beneath(ch, dh, "data", O_CREAT | O_TRUNC,
					    0644, R_WRITE));
}

/* ...and nothing was created, nothing truncated. */
static void nothing_changed(struct __test_metadata *_metadata, int pub_fd)
{
	char buf[128];

	EXPECT_FALSE(exists_at(pub_fd, "new"));
	EXPECT_FALSE(exists_at(pub_fd, "new2"));
	EXPECT_EQ((ssize_t)strlen(DATA), cc_get_file(pub_fd, "data", buf,
						     sizeof(buf)));
	EXPECT_STREQ(DATA, buf);
}

static void open_changes_nothing(struct __test_metadata *_metadata,
				 struct capchan *ch, int dh, int pub_fd,
				 int err)
{
	open_fails(_metadata, ch, dh, err);
	nothing_changed(_metadata, pub_fd);
}

/* The handle table full (max_caps): -EMFILE, as a side-effect-free check. */
TEST_F(limits, open_with_full_table_changes_nothing)
{
	struct capchan ch;
	int max_caps, err = 0, dh, h = 0;

	max_caps = (int)cc_module_param("max_caps", &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, capchan_open_channel(&ch));
	dh = capchan_grant(&ch, self->pub_fd, R_CORE);
	ASSERT_LT(0, dh);
	for (int i = 1; i < max_caps; i++) {
		h = capchan_derive(&ch, dh, R_STAT);
		ASSERT_LT(0, h) TH_LOG("derive %d", i);
	}
	ASSERT_EQ(-EMFILE, capchan_derive(&ch, dh, R_STAT));
	open_changes_nothing(_metadata, &ch, dh, self->pub_fd, -EMFILE);
	/* with one slot free the same OPEN creates */
	ASSERT_EQ(0, capchan_close(&ch, h));
	EXPECT_LT(0, capchan_open_beneath(&ch, dh, "new", O_CREAT | O_EXCL, 0644,
					  R_WRITE));
	EXPECT_TRUE(exists_at(self->pub_fd, "new"));
	capchan_queue_exit(&ch);
}

/* A DIR at max_depth: what OPEN would make is one too deep, -EMLINK. */
TEST_F(limits, open_at_max_depth_changes_nothing)
{
	struct capchan ch;
	int max_depth, err = 0, h, up = 0;

	max_depth = (int)cc_module_param("max_depth", &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, capchan_open_channel(&ch));
	h = capchan_grant(&ch, self->pub_fd, R_CORE);
	ASSERT_LT(0, h);
	for (int d = 1; d <= max_depth; d++) {
		up = h;
		h = capchan_derive(&ch, h, R_CORE);
		ASSERT_LT(0, h) TH_LOG("depth %d", d);
	}
	ASSERT_EQ(-EMLINK, capchan_derive(&ch, h, R_CORE));
	open_changes_nothing(_metadata, &ch, h, self->pub_fd, -EMLINK);
	/* one level up the same OPEN creates */
	EXPECT_LT(0, capchan_open_beneath(&ch, up, "new", O_CREAT | O_EXCL, 0644,
					  R_WRITE));
	EXPECT_TRUE(exists_at(self->pub_fd, "new"));
	capchan_queue_exit(&ch);
}

/* As uid, with the limits already set: OPEN fails with @err. */
static void limit_child(struct __test_metadata *_metadata, int pub_fd,
			uid_t uid, rlim_t nofile, int err)
{
	struct rlimit rl = { nofile, nofile };
	struct capchan ch;
	int dh;

	if (cc_become(uid, uid) || capchan_open_channel(&ch))
		_exit(100);
	if (nofile && setrlimit(RLIMIT_NOFILE, &rl))
		_exit(101);
	dh = capchan_grant(&ch, pub_fd, R_CORE);
	EXPECT_LT(0, dh);
	/* the parent looks at the files: RLIMIT_NOFILE 1 would not let us */
	open_fails(_metadata, &ch, dh, err);
	CHILD_EXIT();
}

/* max_user_caps=1: the GRANT is the user's only capability, -EDQUOT. */
TEST_F(limits, open_over_max_user_caps_changes_nothing)
{
	pid_t pid;

	ASSERT_EQ(0, change_param("max_user_caps", 1, &self->saved_user_caps));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		limit_child(_metadata, self->pub_fd, UID_BASE + 4, 0, -EDQUOT);
	EXPECT_EQ(0, cc_wait_child(pid));
	restore_param("max_user_caps", &self->saved_user_caps);
	nothing_changed(_metadata, self->pub_fd);
}

/* max_user_files=1: the GRANT is the user's only file, -ENFILE. */
TEST_F(limits, open_over_max_user_files_changes_nothing)
{
	pid_t pid;

	ASSERT_EQ(0, change_param("max_user_files", 1, &self->saved_user_files));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		limit_child(_metadata, self->pub_fd, UID_BASE + 5, 0, -ENFILE);
	EXPECT_EQ(0, cc_wait_child(pid));
	restore_param("max_user_files", &self->saved_user_files);
	nothing_changed(_metadata, self->pub_fd);
}

/* RLIMIT_NOFILE 1: the GRANT is the one file allowed, -EMFILE. */
TEST_F(limits, open_over_rlimit_nofile_changes_nothing)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		limit_child(_metadata, self->pub_fd, UID_BASE + 6, 1, -EMFILE);
	EXPECT_EQ(0, cc_wait_child(pid));
	nothing_changed(_metadata, self->pub_fd);
}

TEST_HARNESS_MAIN
