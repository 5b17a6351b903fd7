// SPDX-License-Identifier: GPL-2.0
/*
 * Authority belongs to capabilities: every op runs with the credentials of
 * whoever granted the capability's root, whoever drives the channel and
 * wherever the capability travels.  An unprivileged process handed a root
 * channel gains no root authority over what it grants or imports itself;
 * what root delegates keeps root's authority.  Also the SEAL flags, and
 * the two ways authority enters a channel failing cleanly (GRANT whose
 * result cannot be copied out, IMPORT with a stray handle field).
 */
#include <sys/fsuid.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* READ through REVOKE: every right the ops tested here need */
#define R_CORE	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
		 R_LOOKUP | R_CREATE | R_DERIVE | R_DELEGATE | R_REVOKE)

#define SECRET_DATA	"ROOT ONLY\n"

/*
 * <base>/                 0755, granted by root where a test needs it
 *   T/                    0777: anyone may open and grant it
 *     hello               0644 "hello, capchan\n"
 *     secret/             0700 root
 *       file              0600 root: SECRET_DATA
 */
FIXTURE(auth) {
	char base[PATH_MAX];
	char T[PATH_MAX + 8];
	int base_fd, t_fd;
	struct capchan ch;		/* opened by root */
};

FIXTURE_SETUP(auth)
{
	self->ch.fd = -1;
	self->base_fd = self->t_fd = -1;
	ASSERT_EQ(0, cc_mkdtemp(self->base, "auth"));
	snprintf(self->T, sizeof(self->T), "%s/T", self->base);
	self->base_fd = open(self->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->base_fd);
	ASSERT_EQ(0, mkdirat(self->base_fd, "T", 0777));
	ASSERT_EQ(0, fchmodat(self->base_fd, "T", 0777, 0));
	self->t_fd = open(self->T, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->t_fd);
	ASSERT_EQ(0, cc_put_str(self->t_fd, "hello", CC_HELLO));
	ASSERT_EQ(0, mkdirat(self->t_fd, "secret", 0700));
	ASSERT_EQ(0, cc_put_file(self->t_fd, "secret/file", SECRET_DATA,
				 strlen(SECRET_DATA), 0600));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
}

FIXTURE_TEARDOWN(auth)
{
	capchan_queue_exit(&self->ch);
	if (self->t_fd >= 0)
		close(self->t_fd);
	if (self->base_fd >= 0)
		close(self->base_fd);
	cc_rm_rf(self->base);
}

/* A child process reports through EXPECT_* and its exit status. */
#define CHILD_EXIT()	_exit(_metadata->passed ? 0 : 1)

static bool exists_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The uid= of the one cap: line whose handle is not @skip; -1 if none. */
static long other_cap_uid(const struct cc_fdinfo *fi, uint32_t skip)
{
	for (int i = 0; i < fi->ncap && i < CC_FDINFO_MAX_CAPS; i++)
		if (fi->cap[i].handle != skip)
			return fi->cap[i].uid;
	return -1;
}

/*
 * Root's channel, not sealed, in the hands of a process that dropped to
 * nobody: the directory the child grants carries the child's credentials,
 * so secret/ stays as closed to it as to the child's own open(2).  (Every
 * op used to run with the channel creator's credentials: root.)
 */
TEST_F(auth, child_grant_into_root_channel_is_child_authority)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *c;
	int hroot;
	pid_t pid;

	ASSERT_NE(NULL, fi);
	hroot = capchan_grant(&self->ch, self->base_fd, R_CORE);
	ASSERT_LT(0, hroot);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int h, f;

		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(100);
		h = capchan_grant(&self->ch, self->t_fd, R_CORE);
		EXPECT_LT(0, h);
		EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, h, "secret/file",
							0, 0, R_READ));
		EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, h, "secret/new",
							O_CREAT, 0644, R_WRITE));
		/* the capability itself works, with the child's authority */
		f = capchan_open_beneath(&self->ch, h, "hello", 0, 0, R_READ);
		EXPECT_LT(0, f);
		EXPECT_EQ(0, capchan_close(&self->ch, f));
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
	EXPECT_FALSE(exists_at(self->t_fd, "secret/new"));
	/* fdinfo names whose credentials each capability runs with */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	EXPECT_EQ(0, fi->bad_cap_lines);
	c = cc_fdinfo_find(fi, hroot);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, c->uid);
	EXPECT_EQ(CC_UID_NOBODY, other_cap_uid(fi, hroot));
	/* and root's own grant still reaches secret/ */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, hroot, "T/secret/file", 0,
					  0, R_READ));
	free(fi);
}

/*
 * Root's channel, sealed: the child cannot GRANT, but makes its own
 * channel, grants T there, exports it and imports the capability file into
 * root's channel.  The imported capability keeps the child's credentials.
 */
TEST_F(auth, child_import_into_sealed_root_channel_is_child_authority)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	int hroot;
	pid_t pid;

	ASSERT_NE(NULL, fi);
	hroot = capchan_grant(&self->ch, self->base_fd, R_CORE);
	ASSERT_LT(0, hroot);
	ASSERT_EQ(0, capchan_seal(&self->ch));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan own;
		int h, capfd, hi, f, err;

		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(100);
		EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->t_fd, R_CORE));
		if (capchan_open_channel(&own))
			_exit(101);
		h = capchan_grant(&own, self->t_fd, R_CORE);
		EXPECT_LT(0, h);
		capfd = capchan_export(&own, h, R_CORE);
		EXPECT_LE(0, capfd);
		hi = capchan_import(&self->ch, capfd);
		EXPECT_LT(0, hi);
		EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, hi, "secret/file",
							0, 0, R_READ));
		EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, hi, "secret/new",
							O_CREAT, 0644, R_WRITE));
		f = capchan_open_beneath(&self->ch, hi, "hello", 0, 0, R_READ);
		EXPECT_LT(0, f);
		EXPECT_EQ(0, capchan_close(&self->ch, f));
		/* the capability file says whose credentials it carries */
		EXPECT_EQ(CC_UID_NOBODY, cc_fdinfo_value(capfd, "cap-uid", &err));
		EXPECT_EQ(0, err);
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
	EXPECT_FALSE(exists_at(self->t_fd, "secret/new"));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	EXPECT_EQ(0, fi->bad_cap_lines);
	EXPECT_EQ(CC_UID_NOBODY, other_cap_uid(fi, hroot));
	EXPECT_EQ(0, fi->user);		/* the channel is still charged to root */
	free(fi);
}

/*
 * Delegation: root grants secret/ in its own channel and exports it; a
 * child running as nobody imports it into the child's own channel and
 * reads secret/file.  Root's authority over what root granted travels with
 * the capability (the importer's credentials are not the ones used).
 */
TEST_F(auth, delegated_capability_keeps_granter_authority)
{
	int sfd, hs, capfd, err;
	pid_t pid;

	sfd = openat(self->t_fd, "secret", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, sfd);
	hs = capchan_grant(&self->ch, sfd, R_LOOKUP | R_READ | R_STAT | R_DELEGATE);
	close(sfd);
	ASSERT_LT(0, hs);
	capfd = capchan_export(&self->ch, hs, R_LOOKUP | R_READ);
	ASSERT_LE(0, capfd);
	EXPECT_EQ(0, cc_fdinfo_value(capfd, "cap-uid", &err));
	EXPECT_EQ(0, err);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct cc_fdinfo *fi = malloc(sizeof(*fi));
		const struct cc_fdinfo_cap *c;
		struct capchan own;
		char buf[64] = "";
		int hi, f;

		if (!fi || cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(100);
		/* nobody's own open(2) is refused... */
		EXPECT_EQ(-1, openat(self->t_fd, "secret/file", O_RDONLY));
		EXPECT_EQ(EACCES, errno);
		if (capchan_open_channel(&own))
			_exit(101);
		hi = capchan_import(&own, capfd);
		EXPECT_LT(0, hi);
		/* ...the capability root delegated is not */
		f = capchan_open_beneath(&own, hi, "file", 0, 0, R_READ);
		EXPECT_LT(0, f);
		EXPECT_EQ((ssize_t)strlen(SECRET_DATA),
			  capchan_read(&own, f, buf, sizeof(buf) - 1,
				       CAPCHAN_OFF_CURRENT));
		EXPECT_STREQ(SECRET_DATA, buf);
		/* charged to nobody, running as root */
		EXPECT_EQ(0, cc_read_fdinfo(own.fd, fi));
		EXPECT_EQ(CC_UID_NOBODY, fi->user);
		c = cc_fdinfo_find(fi, hi);
		EXPECT_NE(NULL, c);
		if (c)
			EXPECT_EQ(0, c->uid);
		c = cc_fdinfo_find(fi, f);
		EXPECT_NE(NULL, c);
		if (c)
			EXPECT_EQ(0, c->uid);
		CHILD_EXIT();
	}
	ASSERT_EQ(0, cc_wait_child(pid));
	close(capfd);
}

/*
 * The credentials are the granter's at GRANT time, fsuid included, not
 * those the channel was opened with: root with fsuid nobody grants T, and
 * with fsuid 0 again still cannot reach secret/ through that capability.
 */
TEST_F(auth, grant_takes_the_granter_fsuid)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *c;
	int h, hroot;

	ASSERT_NE(NULL, fi);
	hroot = capchan_grant(&self->ch, self->t_fd, R_CORE);
	ASSERT_LT(0, hroot);
	/* setfsuid() returns the fsuid before the call: check it took */
	setfsuid(CC_UID_NOBODY);
	ASSERT_EQ(CC_UID_NOBODY, setfsuid(CC_UID_NOBODY));
	h = capchan_grant(&self->ch, self->t_fd, R_CORE);
	setfsuid(0);
	ASSERT_EQ(0, setfsuid(0));
	ASSERT_LT(0, h);
	EXPECT_EQ(-EACCES, capchan_open_beneath(&self->ch, h, "secret/file", 0, 0,
						R_READ));
	h = capchan_open_beneath(&self->ch, hroot, "secret/file", 0, 0, R_READ);
	EXPECT_LT(0, h);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	c = cc_fdinfo_find(fi, hroot);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, c->uid);
	EXPECT_EQ(3, fi->caps);
	EXPECT_EQ(0, fi->bad_cap_lines);
	free(fi);
}

/* ------------------------------------------------------------------ */
/* SEAL flags                                                          */
/* ------------------------------------------------------------------ */

FIXTURE(seal) {
	struct cc_tree t;
	struct capchan ch, other;
	int dh;			/* ch's grant of the jail */
	int capfd;		/* a capability file from another channel */
};

FIXTURE_SETUP(seal)
{
	int h;

	self->ch.fd = self->other.fd = self->capfd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "seal"));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	ASSERT_EQ(0, capchan_open_channel(&self->other));
	self->dh = capchan_grant(&self->ch, self->t.jail_fd, R_CORE);
	ASSERT_LT(0, self->dh);
	h = capchan_grant(&self->other, self->t.jail_fd, R_CORE);
	ASSERT_LT(0, h);
	self->capfd = capchan_export(&self->other, h, R_LOOKUP | R_READ);
	ASSERT_LE(0, self->capfd);
}

FIXTURE_TEARDOWN(seal)
{
	if (self->capfd >= 0)
		close(self->capfd);
	capchan_queue_exit(&self->other);
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

static long seal(FIXTURE_DATA(seal) *self, unsigned long flags)
{
	return cc_ioctl(self->ch.fd, CAPCHAN_IOC_SEAL, (void *)flags);
}

TEST_F(seal, seal_import_refuses_import_and_grant)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, seal(self, CAPCHAN_SEAL_IMPORT));
	EXPECT_EQ(-EPERM, capchan_import(&self->ch, self->capfd));
	EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->t.jail_fd, R_CORE));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->sealed);
	EXPECT_EQ(1, fi->seal_import);
	EXPECT_EQ(1, fi->caps);
	/* a closed world still works inside: children of what it holds */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0,
					  R_READ));
	free(fi);
}

/* Sealing again may add SEAL_IMPORT, never take it away. */
TEST_F(seal, seal_again_never_loosens)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, seal(self, CAPCHAN_SEAL_IMPORT));
	ASSERT_EQ(0, seal(self, 0));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->sealed);
	EXPECT_EQ(1, fi->seal_import);
	EXPECT_EQ(-EPERM, capchan_import(&self->ch, self->capfd));
	free(fi);
}

/* Plain SEAL then SEAL_IMPORT: the second one tightens. */
TEST_F(seal, seal_import_after_plain_seal)
{
	int h;

	ASSERT_EQ(0, seal(self, 0));
	h = capchan_import(&self->ch, self->capfd);
	EXPECT_LT(0, h);
	ASSERT_EQ(0, seal(self, CAPCHAN_SEAL_IMPORT));
	EXPECT_EQ(-EPERM, capchan_import(&self->ch, self->capfd));
	/* what was imported before stays */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, h, "hello", 0, 0, R_READ));
}

TEST_F(seal, unknown_seal_bits)
{
	static const unsigned long bad[] = {
		CAPCHAN_SEAL_FLAGS_ALL + 1, 1UL << 31, CAPCHAN_SEAL_IMPORT | 4,
		~0UL,
	};
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, seal(self, bad[i]))
			TH_LOG("flags %#lx", bad[i]);
	}
	/* a refused SEAL sealed nothing */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(0, fi->sealed);
	EXPECT_EQ(0, fi->seal_import);
	EXPECT_LT(0, capchan_grant(&self->ch, self->t.jail_fd, R_READ));
	EXPECT_LT(0, capchan_import(&self->ch, self->capfd));
	free(fi);
}

/* SEAL(0) forbids GRANT only: a sandbox still receives capabilities. */
TEST_F(seal, plain_seal_allows_import)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	int h;

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, seal(self, 0));
	EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->t.jail_fd, R_CORE));
	h = capchan_import(&self->ch, self->capfd);
	EXPECT_LT(0, h);
	EXPECT_LT(0, capchan_open_beneath(&self->ch, h, "hello", 0, 0, R_READ));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->sealed);
	EXPECT_EQ(0, fi->seal_import);
	free(fi);
}

/* ------------------------------------------------------------------ */
/* GRANT and IMPORT failing cleanly                                    */
/* ------------------------------------------------------------------ */

struct grant_racer {
	int chfd;
	uint32_t first, step;		/* handle of attempt k: first + k * step */
	atomic_uint attempt;
	atomic_int stop;
	unsigned long tries, leaked;
	uint32_t leaked_handle;
};

/*
 * Use the capability a failing GRANT would have installed, if anyone
 * could: DERIVE from the handle the GRANT in progress would get.
 */
static void *grant_racer(void *arg)
{
	struct grant_racer *r = arg;
	struct capchan_sqe s;

	while (!atomic_load(&r->stop)) {
		uint32_t h = r->first + atomic_load(&r->attempt) * r->step;
		int ret;

		cc_sqe(&s, CAPCHAN_OP_DERIVE, h);
		s.rights = R_STAT;
		ret = cc_invoke(r->chfd, &s);
		r->tries++;
		if (ret > 0) {
			r->leaked++;
			r->leaked_handle = h;
		}
	}
	return NULL;
}

/*
 * GRANT whose struct lies across a page boundary: the input fields in a
 * writable page, handle and cap_type in a read-only one, so reading the
 * struct works and writing the handle back fails.  -EFAULT, and nothing is
 * installed, not even for a moment: a thread using the handle the GRANT
 * would have returned never gets anything from it.  (The handle used to be
 * installed first and removed again after the failed copy-out, with the
 * channel unlocked in between.)
 */
TEST_F_TIMEOUT(auth, grant_efault_installs_nothing, 120)
{
	enum { ATTEMPTS = 3000 };
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	struct grant_racer r;
	struct capchan_grant *g;
	long pg = sysconf(_SC_PAGESIZE);
	unsigned long wrong = 0;
	int h1, h2, last = 0;
	pthread_t th;
	char *map;

	ASSERT_NE(NULL, fi);
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	g = (struct capchan_grant *)(map + pg -
				     offsetof(struct capchan_grant, handle));
	g->fd = self->t_fd;
	g->flags = 0;
	g->rights = R_CORE;
	ASSERT_EQ(0, mprotect(map + pg, pg, PROT_READ));

	/*
	 * Handles are opaque, but a fresh channel issues them in a pattern:
	 * learn it from two GRANT + CLOSE rounds to aim at the next ones.
	 */
	h1 = capchan_grant(&self->ch, self->t_fd, R_CORE);
	ASSERT_LT(0, h1);
	ASSERT_EQ(0, capchan_close(&self->ch, h1));
	h2 = capchan_grant(&self->ch, self->t_fd, R_CORE);
	ASSERT_LT(h1, h2);
	ASSERT_EQ(0, capchan_close(&self->ch, h2));

	memset(&r, 0, sizeof(r));
	r.chfd = self->ch.fd;
	r.step = h2 - h1;
	r.first = h2 + r.step;
	ASSERT_EQ(0, pthread_create(&th, NULL, grant_racer, &r));
	for (unsigned int k = 0; k < ATTEMPTS; k++) {
		int ret;

		atomic_store(&r.attempt, k);
		ret = cc_ioctl(self->ch.fd, CAPCHAN_IOC_GRANT, g);
		if (ret != -EFAULT) {
			wrong++;
			last = ret;
		}
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	TH_LOG("%lu derive attempts on the handles in flight", r.tries);
	EXPECT_EQ(0, wrong) TH_LOG("GRANT returned %d", last);
	EXPECT_EQ(0, r.leaked) TH_LOG("DERIVE from handle 0x%x of a failed GRANT worked",
				      r.leaked_handle);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(0, fi->caps);
	EXPECT_EQ(0, fi->ncap);
	munmap(map, 2 * pg);
	free(fi);
}

/*
 * IMPORT works on no capability: its handle field is an unused field and
 * must be zero (-EINVAL), checked before the fd in off (-EBADF for
 * (u64)-1).  The order is the documented one: unused fields first.
 */
TEST_F(auth, import_handle_field_must_be_zero)
{
	struct capchan_sqe s;
	int capfd, h;

	h = capchan_grant(&self->ch, self->t_fd, R_CORE);
	ASSERT_LT(0, h);
	capfd = capchan_export(&self->ch, h, R_READ);
	ASSERT_LE(0, capfd);

	cc_sqe(&s, CAPCHAN_OP_IMPORT, 1);
	s.off = (uint64_t)-1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->ch.fd, &s));
	cc_sqe(&s, CAPCHAN_OP_IMPORT, (uint32_t)h);
	s.off = (uint64_t)capfd;
	EXPECT_EQ(-EINVAL, cc_invoke(self->ch.fd, &s));
	cc_sqe(&s, CAPCHAN_OP_IMPORT, CAPCHAN_HANDLE_CHAIN);
	s.off = (uint64_t)-1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->ch.fd, &s));
	/* with the handle field zero, the fd decides */
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = (uint64_t)-1;
	EXPECT_EQ(-EBADF, cc_invoke(self->ch.fd, &s));
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = (uint64_t)capfd;
	EXPECT_LT(0, cc_invoke(self->ch.fd, &s));
	close(capfd);
}

TEST_HARNESS_MAIN
