// SPDX-License-Identifier: GPL-2.0
/*
 * Rename races against the directory ops, after openat2's
 * rename_attack_test: a thread swaps a directory beneath the DIR with one
 * outside it (RENAME_EXCHANGE, on a tmpfs of our own) as fast as it can,
 * while the test runs UNLINK, RMDIR, MKDIR and RENAME through capchan on
 * paths through the swapped directory.  Nothing may happen outside the DIR.
 *
 *   <m>/                  a tmpfs mounted for the test
 *     v d/ r              outside sentinels (n and r2 must never appear)
 *     a/b/                lets a walk that climbed out go on to <m>/<leaf>
 *     x/y/                swapped with jail/a/b
 *     jail/               the DIR
 *       v d/ r            the targets of "a/b/../../a/b/../../<leaf>"
 *       a/b/              swapped with x/y; it and x/y hold v d/ r too
 *
 * Two kinds of path per op class:
 *
 *  - "a/b/../../a/b/../../<leaf>" always means jail/<leaf> when resolved
 *    atomically.  If b moves out while the walk is in it, ".." climbs to
 *    <m>/x and then <m>, and the op would act on <m>/<leaf>: an outside
 *    sentinel removed or renamed, or <m>/n or <m>/r2 created.  After every
 *    op the sentinels are checked.
 *
 *  - "a/b/<leaf>" names whichever of the two directories is inside.  If
 *    the op resolved the parent while it was inside and acted after the
 *    swap took it out, it would change a directory that is outside: the
 *    swapper compares the outgoing directory's entries right after it
 *    left and again just before it goes back (then puts them back in
 *    order itself, being the only one who touches what is outside).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define RACE_SECS	3.0

enum race_op { RO_UNLINK, RO_RMDIR, RO_MKDIR, RO_RENAME, RO_NR };

static const char *const ro_name[RO_NR] = { "UNLINK", "RMDIR", "MKDIR", "RENAME" };

/* The names the ops touch, in every directory of the game. */
static const char *const leaves[] = { "v", "d", "r", "n", "r2" };

struct state {
	ino_t ino[5];		/* 0: absent */
};

FIXTURE(race) {
	char base[PATH_MAX];
	char m[PATH_MAX + 8];
	bool mounted;
	int m_fd, jail_fd;
	struct capchan ch;
	uint32_t dh;
};

/* v and r files, d an empty directory, n and r2 absent; 0 or -errno. */
static int canon(int dfd)
{
	struct stat sb;

	if (fstatat(dfd, "v", &sb, AT_SYMLINK_NOFOLLOW) && cc_put_str(dfd, "v", "v\n"))
		return -EIO;
	if (fstatat(dfd, "r", &sb, AT_SYMLINK_NOFOLLOW) && cc_put_str(dfd, "r", "r\n"))
		return -EIO;
	if (mkdirat(dfd, "d", 0755) && errno != EEXIST)
		return -errno;
	if (unlinkat(dfd, "n", AT_REMOVEDIR) && errno != ENOENT)
		return -errno;
	if (unlinkat(dfd, "r2", 0) && errno != ENOENT)
		return -errno;
	return 0;
}

static void state_of(int dfd, struct state *s)
{
	for (size_t i = 0; i < CC_ARRAY_SIZE(leaves); i++)
		s->ino[i] = cc_ino_at(dfd, leaves[i]);
}

static bool state_eq(const struct state *a, const struct state *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The outside names an op of the class could damage: cheap to look at. */
static const int class_leaves[RO_NR][2] = {
	[RO_UNLINK] = { 0, -1 },	/* v */
	[RO_RMDIR] = { 1, -1 },		/* d */
	[RO_MKDIR] = { 3, -1 },		/* n */
	[RO_RENAME] = { 2, 4 },		/* r, r2 */
};

static bool class_same(int dfd, enum race_op op, const struct state *s)
{
	for (int i = 0; i < 2; i++) {
		int l = class_leaves[op][i];

		if (l >= 0 && cc_ino_at(dfd, leaves[l]) != s->ino[l])
			return false;
	}
	return true;
}

FIXTURE_SETUP(race)
{
	static const char *const dirs[] = {
		"a", "a/b", "x", "x/y", "jail", "jail/a", "jail/a/b",
	};
	int h, b, y;

	self->ch.fd = -1;
	self->m_fd = self->jail_fd = -1;
	ASSERT_EQ(0, cc_mkdtemp(self->base, "dirrace"));
	snprintf(self->m, sizeof(self->m), "%s/m", self->base);
	ASSERT_EQ(0, mkdir(self->m, 0755));
	if (mount("capchan-dirrace", self->m, "tmpfs", 0, "size=16m,mode=0755"))
		SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	self->mounted = true;
	self->m_fd = open(self->m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->m_fd);
	for (size_t i = 0; i < CC_ARRAY_SIZE(dirs); i++)
		ASSERT_EQ(0, mkdirat(self->m_fd, dirs[i], 0755));
	self->jail_fd = openat(self->m_fd, "jail", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->jail_fd);
	ASSERT_EQ(0, canon(self->m_fd));
	ASSERT_EQ(0, canon(self->jail_fd));
	b = openat(self->m_fd, "jail/a/b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	y = openat(self->m_fd, "x/y", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, b);
	ASSERT_LE(0, y);
	ASSERT_EQ(0, canon(b));
	ASSERT_EQ(0, canon(y));
	close(b);
	close(y);
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	h = capchan_grant(&self->ch, self->jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
}

FIXTURE_TEARDOWN(race)
{
	capchan_queue_exit(&self->ch);
	if (self->jail_fd >= 0)
		close(self->jail_fd);
	if (self->m_fd >= 0)
		close(self->m_fd);
	if (self->mounted)
		umount2(self->m, MNT_DETACH);
	cc_rm_rf(self->base);
}

struct swapper {
	int m_fd;
	atomic_int stop;
	unsigned long swaps, checks, changed_outside;
	int err;
	char what[128];
};

/*
 * Swap jail/a/b and x/y as fast as possible; every fourth time, watch the
 * directory that just left for a while, then put it back in order.
 */
static void *swap_loop(void *arg)
{
	struct swapper *sw = arg;
	struct state s1, s2;

	while (!atomic_load(&sw->stop)) {
		if (renameat2(sw->m_fd, "jail/a/b", sw->m_fd, "x/y",
			      RENAME_EXCHANGE)) {
			sw->err = errno;
			break;
		}
		sw->swaps++;
		if (sw->swaps % 4 == 0) {
			int y = openat(sw->m_fd, "x/y", O_RDONLY | O_DIRECTORY |
				       O_CLOEXEC);

			if (y < 0) {
				sw->err = errno;
				break;
			}
			state_of(y, &s1);
			for (int i = 0; i < 20; i++)
				sched_yield();
			state_of(y, &s2);
			sw->checks++;
			if (!state_eq(&s1, &s2)) {
				sw->changed_outside++;
				for (size_t i = 0; i < CC_ARRAY_SIZE(leaves); i++)
					if (s1.ino[i] != s2.ino[i])
						snprintf(sw->what, sizeof(sw->what),
							 "%s: ino %lu -> %lu", leaves[i],
							 (unsigned long)s1.ino[i],
							 (unsigned long)s2.ino[i]);
			}
			if (canon(y)) {
				sw->err = EIO;
				close(y);
				break;
			}
			close(y);
		}
	}
	return NULL;
}

/* One op of the class on the given form of path; the result. */
static int race_op(FIXTURE_DATA(race) *self, enum race_op op, bool dotdot)
{
	static const char *const pre[2] = { "a/b/", "a/b/../../a/b/../../" };
	char p[64], p2[64];
	struct capchan_sqe s;

	switch (op) {
	case RO_UNLINK:
		snprintf(p, sizeof(p), "%sv", pre[dotdot]);
		cc_sqe(&s, CAPCHAN_OP_UNLINK, self->dh);
		break;
	case RO_RMDIR:
		snprintf(p, sizeof(p), "%sd", pre[dotdot]);
		cc_sqe(&s, CAPCHAN_OP_RMDIR, self->dh);
		break;
	case RO_MKDIR:
		snprintf(p, sizeof(p), "%sn", pre[dotdot]);
		cc_sqe(&s, CAPCHAN_OP_MKDIR, self->dh);
		s.off = 0755;
		break;
	default:
		snprintf(p, sizeof(p), "%sr", pre[dotdot]);
		snprintf(p2, sizeof(p2), "%sr2", pre[dotdot]);
		cc_sqe(&s, CAPCHAN_OP_RENAME, self->dh);
		s.addr2 = (uintptr_t)p2;
		s.len = self->dh;
		break;
	}
	s.addr = (uintptr_t)p;
	return cc_invoke(self->ch.fd, &s);
}

/* After a success on jail/<leaf>: the jail as it was (it never moves). */
static void undo_in_jail(FIXTURE_DATA(race) *self, enum race_op op)
{
	if (op == RO_RENAME)
		renameat(self->jail_fd, "r2", self->jail_fd, "r");
	else
		canon(self->jail_fd);
}

static bool allowed(enum race_op op, bool dotdot, int res)
{
	if (res == 0 || res == -EAGAIN || res == -EXDEV)
		return true;
	if (dotdot)	/* jail/<leaf> is put back after every success */
		return false;
	/* the inside directory may still show an earlier op's effect */
	return op == RO_MKDIR ? res == -EEXIST : res == -ENOENT;
}

static void race_class(struct __test_metadata *_metadata,
		       FIXTURE_DATA(race) *self, enum race_op op)
{
	struct swapper sw = { .m_fd = self->m_fd };
	unsigned long tries = 0, ok[2] = { 0 }, eagain = 0, exdev = 0;
	unsigned long benign = 0, other = 0, escapes = 0;
	struct state outside, now;
	int last_other = 0;
	pthread_t th;
	double end;

	state_of(self->m_fd, &outside);
	ASSERT_EQ(0, pthread_create(&th, NULL, swap_loop, &sw));
	end = cc_now() + RACE_SECS;
	while (cc_now() < end) {
		bool dotdot = tries % 2;
		int res = race_op(self, op, dotdot);

		tries++;
		if (res == 0)
			ok[dotdot]++;
		else if (res == -EAGAIN)
			eagain++;
		else if (res == -EXDEV)
			exdev++;
		else if (allowed(op, dotdot, res))
			benign++;
		if (!allowed(op, dotdot, res)) {
			other++;
			last_other = res;
		}
		if (res == 0 && dotdot)
			undo_in_jail(self, op);
		/* the outside sentinels: each op is judged on its own */
		if (!class_same(self->m_fd, op, &outside)) {
			escapes++;
			TH_LOG("%s through \"%s\" acted outside (res %d)",
			       ro_name[op], dotdot ? "a/b/../../a/b/../.." : "a/b",
			       res);
			canon(self->m_fd);
			state_of(self->m_fd, &outside);
		}
	}
	atomic_store(&sw.stop, 1);
	pthread_join(th, NULL);
	/* and all of them, at the end */
	state_of(self->m_fd, &now);
	if (!state_eq(&outside, &now))
		escapes++;
	TH_LOG("%s: %lu tries, %lu swaps (%lu watched): ok %lu+%lu EAGAIN %lu EXDEV %lu ENOENT/EEXIST %lu other %lu (last %d), acted outside %lu+%lu",
	       ro_name[op], tries, sw.swaps, sw.checks, ok[0], ok[1], eagain,
	       exdev, benign, other, last_other, escapes, sw.changed_outside);
	EXPECT_EQ(0, sw.err);
	EXPECT_LT(100, sw.swaps);
	EXPECT_EQ(0, escapes);
	EXPECT_EQ(0, sw.changed_outside) TH_LOG("%s", sw.what);
	EXPECT_EQ(0, other);
	EXPECT_LT(0, ok[0] + ok[1]);
	/* still whole: the exchange left both directories where they belong */
	EXPECT_NE(0, cc_ino_at(self->m_fd, "jail/a/b"));
	EXPECT_NE(0, cc_ino_at(self->m_fd, "x/y"));
}

TEST_F_TIMEOUT(race, unlink, 60)
{
	race_class(_metadata, self, RO_UNLINK);
}

TEST_F_TIMEOUT(race, rmdir, 60)
{
	race_class(_metadata, self, RO_RMDIR);
}

TEST_F_TIMEOUT(race, mkdir, 60)
{
	race_class(_metadata, self, RO_MKDIR);
}

TEST_F_TIMEOUT(race, rename, 60)
{
	race_class(_metadata, self, RO_RENAME);
}

TEST_HARNESS_MAIN
