// SPDX-License-Identifier: GPL-2.0
/*
 * OPEN with O_CREAT racing cross-directory renames.
 *
 * One thread keeps swapping D/sub with a directory outside D
 * (renameat2(RENAME_EXCHANGE)) while OPEN creates sub/f<i> beneath D.  One
 * OPEN creates at most one file, only in a directory beneath D at that
 * moment, and hands out what it created or what existed: it never creates
 * a file it then does not return (in both directories, or before failing).
 * A failed OPEN leaves nothing behind, and fails only because the tree
 * moved under it (-EXDEV, -EAGAIN, -ENOENT), never with -EEXIST (every
 * name is new) or -ELOOP (there are no links).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define NOPEN	4000

/*
 * <m>/            a tmpfs of our own (renames stay on one file system)
 *   D/            granted
 *     sub/        directory object A
 *   out/          directory object B; A and B keep swapping places
 */
FIXTURE(race) {
	char base[PATH_MAX];
	char m[PATH_MAX + 8];
	bool mounted;
	int mfd, afd, bfd;
	struct capchan ch;
	int dh;
};

FIXTURE_SETUP(race)
{
	int dfd;

	self->ch.fd = -1;
	self->mfd = self->afd = self->bfd = -1;
	ASSERT_EQ(0, cc_mkdtemp(self->base, "openrace"));
	snprintf(self->m, sizeof(self->m), "%s/m", self->base);
	ASSERT_EQ(0, mkdir(self->m, 0755));
	ASSERT_EQ(0, mount("tmpfs", self->m, "tmpfs", MS_NOSUID | MS_NODEV,
			   "size=32m,nr_inodes=65536,mode=0755"));
	self->mounted = true;
	self->mfd = open(self->m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(0, mkdirat(self->mfd, "D", 0755));
	ASSERT_EQ(0, mkdirat(self->mfd, "D/sub", 0755));
	ASSERT_EQ(0, mkdirat(self->mfd, "out", 0755));
	self->afd = openat(self->mfd, "D/sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->afd);
	self->bfd = openat(self->mfd, "out", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->bfd);
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	dfd = openat(self->mfd, "D", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	self->dh = capchan_grant(&self->ch, dfd, R_LOOKUP | R_CREATE | R_READ |
				 R_WRITE | R_STAT);
	close(dfd);
	ASSERT_LT(0, self->dh);
}

FIXTURE_TEARDOWN(race)
{
	capchan_queue_exit(&self->ch);
	if (self->afd >= 0)
		close(self->afd);
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->mfd >= 0)
		close(self->mfd);
	if (self->mounted)
		umount2(self->m, MNT_DETACH);
	cc_rm_rf(self->base);
}

struct swapper {
	int mfd;
	atomic_int stop;
	unsigned long swaps;
	int err;
};

static void *swap_loop(void *arg)
{
	struct swapper *s = arg;

	while (!atomic_load(&s->stop)) {
		if (renameat2(s->mfd, "D/sub", s->mfd, "out", RENAME_EXCHANGE)) {
			s->err = errno;
			break;
		}
		s->swaps++;
	}
	return NULL;
}

struct result {
	int ret;		/* 0, or the OPEN's -errno */
	ino_t ino;		/* what the handle STATs to */
};

/* Run the OPENs with the swapper going; per-OPEN results in @res. */
static void run_opens(struct __test_metadata *_metadata,
		      FIXTURE_DATA(race) *self, int flags,
		      struct result *res)
{
	struct swapper s = { .mfd = self->mfd };
	struct capchan_stat st;
	pthread_t th;
	char name[32];

	ASSERT_EQ(0, pthread_create(&th, NULL, swap_loop, &s));
	for (int i = 0; i < NOPEN; i++) {
		int h;

		snprintf(name, sizeof(name), "sub/f%d", i);
		h = capchan_open_beneath(&self->ch, self->dh, name, flags, 0644,
					 R_WRITE | R_STAT);
		res[i].ret = h > 0 ? 0 : h;
		res[i].ino = 0;
		if (h > 0) {
			if (capchan_stat(&self->ch, h, &st) == 0)
				res[i].ino = st.ino;
			capchan_close(&self->ch, h);
		}
	}
	atomic_store(&s.stop, 1);
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.err);
	/* it did race: the directories swapped many times meanwhile */
	EXPECT_LE(100, s.swaps);
	TH_LOG("%lu swaps during %d OPENs", s.swaps, NOPEN);
}

/* "EAGAIN 3 EXDEV 1", for the log. */
static const char *errno_summary(const struct result *res)
{
	static char buf[256];
	int count[512] = { 0 };
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < NOPEN; i++)
		if (res[i].ret < 0 && -res[i].ret < 512)
			count[-res[i].ret]++;
	for (int e = 1; e < 512 && len < sizeof(buf) - 32; e++)
		if (count[e])
			len += snprintf(buf + len, sizeof(buf) - len, "%s%s %d",
					len ? " " : "", strerrorname_np(e) ?: "?",
					count[e]);
	return buf;
}

static bool allowed_errno(int ret)
{
	return ret == -EXDEV || ret == -EAGAIN || ret == -ENOENT;
}

static void log_one(struct __test_metadata *_metadata, const char *what,
		    int i, const struct result *r, ino_t pre, ino_t a, ino_t b)
{
	TH_LOG("f%d %s: OPEN %d (ino %lu), existing %lu, in sub's dir %lu, in out's dir %lu",
	       i, what, r->ret, (unsigned long)r->ino, (unsigned long)pre,
	       (unsigned long)a, (unsigned long)b);
}

/*
 * O_CREAT | O_EXCL of a new name each time: success means exactly one of
 * the two directories holds f<i>, the one the handle names; failure means
 * neither does.
 */
TEST_F_TIMEOUT(race, exclusive_create_vs_exchange, 120)
{
	struct result *res = calloc(NOPEN, sizeof(*res));
	unsigned long ok = 0, failed = 0, logged = 0;
	unsigned long in_both = 0, not_returned = 0, left_behind = 0;
	unsigned long bad_errno = 0;
	char name[32];

	ASSERT_NE(NULL, res);
	run_opens(_metadata, self, O_CREAT | O_EXCL, res);
	for (int i = 0; i < NOPEN; i++) {
		const char *what = NULL;
		ino_t a, b;

		snprintf(name, sizeof(name), "f%d", i);
		a = cc_ino_at(self->afd, name);
		b = cc_ino_at(self->bfd, name);
		if (res[i].ret == 0) {
			ok++;
			if (a && b) {
				in_both++;
				what = "created twice";
			} else if (res[i].ino != (a ? a : b)) {
				not_returned++;
				what = "not the file created";
			}
		} else {
			failed++;
			if (a || b) {
				left_behind++;
				what = "created, then failed";
			} else if (!allowed_errno(res[i].ret)) {
				bad_errno++;
				what = "errno";
			}
		}
		if (what && logged++ < 8)
			log_one(_metadata, what, i, &res[i], 0, a, b);
	}
	TH_LOG("%lu created, %lu failed (%s)", ok, failed, errno_summary(res));
	EXPECT_EQ(0, in_both);
	EXPECT_EQ(0, not_returned);
	EXPECT_EQ(0, left_behind);
	EXPECT_EQ(0, bad_errno);
	EXPECT_LT(0, ok);
	free(res);
}

/*
 * Plain O_CREAT where sub/f<i> exists in sub's original directory (A) and
 * not in the other one (B): an OPEN opens A's file as it is, or, if B was
 * sub at that moment, creates B's and returns it.  It never creates a
 * second file when it opens the one that existed: if B holds f<i>, the
 * OPEN returned it.  A's file is never replaced.
 */
TEST_F_TIMEOUT(race, create_existing_vs_exchange, 120)
{
	struct result *res = calloc(NOPEN, sizeof(*res));
	ino_t *pre = calloc(NOPEN, sizeof(*pre));
	unsigned long opened = 0, created = 0, failed = 0, logged = 0;
	unsigned long replaced = 0, second = 0, wrong = 0, left_behind = 0;
	unsigned long bad_errno = 0;
	char name[32];

	ASSERT_NE(NULL, res);
	ASSERT_NE(NULL, pre);
	for (int i = 0; i < NOPEN; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_EQ(0, cc_put_str(self->afd, name, "existing\n"));
		pre[i] = cc_ino_at(self->afd, name);
		ASSERT_NE(0, pre[i]);
	}
	run_opens(_metadata, self, O_CREAT, res);
	for (int i = 0; i < NOPEN; i++) {
		const char *what = NULL;
		ino_t a, b;

		snprintf(name, sizeof(name), "f%d", i);
		a = cc_ino_at(self->afd, name);
		b = cc_ino_at(self->bfd, name);
		if (a != pre[i]) {
			replaced++;
			what = "existing file replaced";
		} else if (res[i].ret == 0) {
			if (b && res[i].ino == b) {
				created++;
			} else if (b) {
				second++;
				what = "second file created";
			} else if (res[i].ino == a) {
				opened++;
			} else {
				wrong++;
				what = "neither file";
			}
		} else {
			failed++;
			if (b) {
				left_behind++;
				what = "created, then failed";
			} else if (!allowed_errno(res[i].ret)) {
				bad_errno++;
				what = "errno";
			}
		}
		if (what && logged++ < 8)
			log_one(_metadata, what, i, &res[i], pre[i], a, b);
	}
	TH_LOG("%lu opened as they were, %lu created, %lu failed (%s)", opened,
	       created, failed, errno_summary(res));
	EXPECT_EQ(0, replaced);
	EXPECT_EQ(0, second);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, left_behind);
	EXPECT_EQ(0, bad_errno);
	EXPECT_LT(0, opened);
	free(pre);
	free(res);
}

TEST_HARNESS_MAIN
