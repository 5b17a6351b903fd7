// SPDX-License-Identifier: GPL-2.0
/*
 * REVOKE: transitive, exact counts, across channels and processes, the
 * REVOKE right, and revocation racing operations in other threads.
 * Scenarios after seL4's cnodeops (revoke deletes what was minted).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define FR	(R_READ | R_SEEK | R_STAT | R_DERIVE | R_DELEGATE | R_REVOKE)

FIXTURE(revoke) {
	struct cc_tree t;
	struct capchan ch;
	uint32_t dh, root;	/* root: FILE jail/file with FR */
	char buf[64];
};

FIXTURE_SETUP(revoke)
{
	int h;

	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "revoke"));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, FR);
	ASSERT_LT(0, h);
	self->root = h;
}

FIXTURE_TEARDOWN(revoke)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

static ssize_t rd(FIXTURE_DATA(revoke) *self, uint32_t h)
{
	return capchan_read(&self->ch, h, self->buf, 4, 0);
}

/* root -> a -> b -> c: revoking a revokes b and c, a stays valid. */
TEST_F(revoke, three_levels)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *e;
	int a, b, c, a2;

	a = capchan_derive(&self->ch, self->root, FR);
	b = capchan_derive(&self->ch, a, FR);
	c = capchan_derive(&self->ch, b, FR);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_LT(0, c);
	a2 = capchan_derive(&self->ch, self->root, R_READ | R_SEEK); /* sibling */
	ASSERT_LT(0, a2);

	EXPECT_EQ(2, capchan_revoke(&self->ch, a));
	EXPECT_EQ(4, rd(self, a));
	EXPECT_EQ(-EKEYREVOKED, rd(self, b));
	EXPECT_EQ(-EKEYREVOKED, rd(self, c));
	EXPECT_EQ(4, rd(self, a2));
	EXPECT_EQ(4, rd(self, self->root));
	/* Nothing new to revoke. */
	EXPECT_EQ(0, capchan_revoke(&self->ch, a));
	/* From the root: a and a2 are newly revoked, b and c already were. */
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(-EKEYREVOKED, rd(self, a));
	EXPECT_EQ(-EKEYREVOKED, rd(self, a2));
	EXPECT_EQ(4, rd(self, self->root));
	/* A revoked capability cannot revoke (or derive) any more. */
	EXPECT_EQ(-EKEYREVOKED, capchan_revoke(&self->ch, a));
	EXPECT_EQ(-EKEYREVOKED, capchan_derive(&self->ch, a, R_READ));
	/* New children of the root are fine. */
	a = capchan_derive(&self->ch, self->root, R_READ | R_SEEK);
	ASSERT_LT(0, a);
	EXPECT_EQ(4, rd(self, a));
	/* fdinfo agrees. */
	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	e = cc_fdinfo_find(fi, c);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(1, e->revoked);
	EXPECT_EQ(4, e->depth);		/* dh 0, root 1, a 2, b 3, c 4 */
	e = cc_fdinfo_find(fi, self->root);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, e->revoked);
	e = cc_fdinfo_find(fi, a);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, e->revoked);
	free(fi);
}

TEST_F(revoke, nothing_derived)
{
	EXPECT_EQ(0, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(4, rd(self, self->root));
}

TEST_F(revoke, needs_revoke_right)
{
	int a, b;

	a = capchan_derive(&self->ch, self->root, FR & ~R_REVOKE);
	ASSERT_LT(0, a);
	b = capchan_derive(&self->ch, a, R_READ | R_SEEK);
	ASSERT_LT(0, b);
	EXPECT_EQ(-EPERM, capchan_revoke(&self->ch, a));
	EXPECT_EQ(4, rd(self, b));
	/* The REVOKE right cannot be regained below. */
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, a, R_REVOKE));
	/* An ancestor with REVOKE still reaches b. */
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(-EKEYREVOKED, rd(self, b));
}

/* Wide and deep trees: the count is exact. */
TEST_F(revoke, big_tree)
{
	struct capchan_version v;
	int mid, h, depth_chain;
	int expect = 0;

	ASSERT_EQ(0, capchan_get_version(&self->ch, &v));
	mid = capchan_derive(&self->ch, self->root, FR);
	ASSERT_LT(0, mid);
	/* 500 direct children. */
	for (int i = 0; i < 500; i++) {
		ASSERT_LT(0, capchan_derive(&self->ch, mid, R_READ | R_SEEK));
		expect++;
	}
	/* A chain as deep as allowed below mid (depth 2). */
	depth_chain = (int)v.max_depth - 2;
	if (depth_chain > 60)
		depth_chain = 60;
	h = mid;
	for (int i = 0; i < depth_chain; i++) {
		h = capchan_derive(&self->ch, h, FR);
		ASSERT_LT(0, h) TH_LOG("depth %d", i + 3);
		expect++;
	}
	EXPECT_EQ(expect, capchan_revoke(&self->ch, mid));
	EXPECT_EQ(-EKEYREVOKED, rd(self, h));
	EXPECT_EQ(0, capchan_revoke(&self->ch, mid));
}

/* Closing an intermediate handle does not let descendants escape. */
TEST_F(revoke, closed_intermediate)
{
	int a, b, c, n;

	a = capchan_derive(&self->ch, self->root, FR);
	b = capchan_derive(&self->ch, a, FR);
	c = capchan_derive(&self->ch, b, R_READ | R_SEEK);
	ASSERT_LT(0, c);
	ASSERT_EQ(0, capchan_close(&self->ch, a));
	ASSERT_EQ(0, capchan_close(&self->ch, b));
	EXPECT_EQ(4, rd(self, c));
	n = capchan_revoke(&self->ch, self->root);
	/* c for sure; a and b live on (unreachable) as c's ancestors. */
	EXPECT_TRUE(n >= 1 && n <= 3) TH_LOG("revoked %d", n);
	EXPECT_EQ(-EKEYREVOKED, rd(self, c));
}

/* Caps opened beneath a DIR are its descendants. */
TEST_F(revoke, opened_beneath_dir)
{
	int d1, f1, f2, sub, f3;

	f1 = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0, R_READ | R_SEEK);
	d1 = capchan_derive(&self->ch, self->dh, R_LOOKUP | R_READ | R_SEEK);
	ASSERT_LT(0, f1);
	ASSERT_LT(0, d1);
	f2 = capchan_open_beneath(&self->ch, d1, "hello", 0, 0, R_READ | R_SEEK);
	sub = capchan_open_beneath(&self->ch, d1, "sub", 0, 0,
				   R_LOOKUP | R_READ | R_SEEK);
	ASSERT_LT(0, f2);
	ASSERT_LT(0, sub);
	f3 = capchan_open_beneath(&self->ch, sub, "inner", 0, 0, R_READ | R_SEEK);
	ASSERT_LT(0, f3);
	/* root(file), f1, d1, f2, sub, f3 */
	EXPECT_EQ(6, capchan_revoke(&self->ch, self->dh));
	EXPECT_EQ(-EKEYREVOKED, rd(self, self->root));
	EXPECT_EQ(-EKEYREVOKED, rd(self, f1));
	EXPECT_EQ(-EKEYREVOKED, rd(self, f3));
	EXPECT_EQ(-EKEYREVOKED, capchan_open_beneath(&self->ch, d1, "hello", 0,
						     0, R_READ));
	EXPECT_EQ(-EKEYREVOKED, capchan_open_beneath(&self->ch, sub, "inner", 0,
						     0, R_READ));
	/* The DIR itself still opens. */
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0,
					  R_READ));
}

/* EXPORT makes a child: revoking the exporter revokes it everywhere. */
TEST_F(revoke, export_import_same_process)
{
	struct capchan ch2;
	int fd, h2, h2b, h3;

	fd = capchan_export(&self->ch, self->root, R_READ | R_SEEK | R_DERIVE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, capchan_open_channel(&ch2));
	h2 = capchan_import(&ch2, fd);
	ASSERT_LT(0, h2);
	h2b = capchan_derive(&ch2, h2, R_READ | R_SEEK);
	ASSERT_LT(0, h2b);
	EXPECT_EQ(4, capchan_read(&ch2, h2, self->buf, 4, 0));
	/* The exported cap and what ch2 derived from it. */
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&ch2, h2, self->buf, 4, 0));
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&ch2, h2b, self->buf, 4, 0));
	EXPECT_EQ(0, capchan_close(&ch2, h2));
	/* Importing the (revoked) capability file again gives nothing usable. */
	h3 = capchan_import(&ch2, fd);
	if (h3 > 0)
		h3 = (int)capchan_read(&ch2, h3, self->buf, 4, 0);
	EXPECT_EQ(-EKEYREVOKED, h3);
	close(fd);
	capchan_queue_exit(&ch2);
	EXPECT_EQ(4, rd(self, self->root));
}

/* Revoked before anyone imported it. */
TEST_F(revoke, export_then_revoke_before_import)
{
	int fd, h;

	fd = capchan_export(&self->ch, self->root, R_READ | R_SEEK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, capchan_revoke(&self->ch, self->root));
	h = capchan_import(&self->ch, fd);
	if (h > 0)
		h = (int)rd(self, h);
	EXPECT_EQ(-EKEYREVOKED, h);
	close(fd);
}

/*
 * Across processes: the parent exports to a child over SCM_RIGHTS; the
 * child imports into its own channel, derives, reads; the parent revokes;
 * the child's next operations fail with EKEYREVOKED.
 */
TEST_F(revoke, across_processes)
{
	int sv[2], fd, status[6];
	uint32_t msg;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan c;
		char b[8];
		int capfd, h, hd;

		close(sv[0]);
		for (int i = 0; i < 6; i++)
			status[i] = -ENOSYS;
		if (capchan_open_channel(&c))
			_exit(10);
		capfd = cc_recv_fd(sv[1]);
		if (capfd < 0)
			_exit(11);
		h = capchan_import(&c, capfd);
		close(capfd);
		hd = h > 0 ? capchan_derive(&c, h, R_READ | R_SEEK) : h;
		status[0] = h;
		status[1] = (int)capchan_read(&c, h, b, 4, 0);
		status[2] = hd;
		/* tell the parent we are ready, wait for the revoke */
		if (cc_send_u32(sv[1], 1) || cc_recv_u32(sv[1], &msg))
			_exit(12);
		status[3] = (int)capchan_read(&c, h, b, 4, 0);
		status[4] = (int)capchan_read(&c, hd, b, 4, 0);
		status[5] = capchan_close(&c, h);
		if (write(sv[1], status, sizeof(status)) != sizeof(status))
			_exit(13);
		_exit(0);
	}
	close(sv[1]);
	fd = capchan_export(&self->ch, self->root, R_READ | R_SEEK | R_DERIVE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cc_send_fd(sv[0], fd));
	close(fd);
	ASSERT_EQ(0, cc_recv_u32(sv[0], &msg));
	/* exported cap + the child's derived one */
	EXPECT_EQ(2, capchan_revoke(&self->ch, self->root));
	ASSERT_EQ(0, cc_send_u32(sv[0], 2));
	ASSERT_EQ(sizeof(status), read(sv[0], status, sizeof(status)));
	EXPECT_EQ(0, cc_wait_child(pid));
	close(sv[0]);
	EXPECT_LT(0, status[0]);
	EXPECT_EQ(4, status[1]);
	EXPECT_LT(0, status[2]);
	EXPECT_EQ(-EKEYREVOKED, status[3]);
	EXPECT_EQ(-EKEYREVOKED, status[4]);
	EXPECT_EQ(0, status[5]);
	EXPECT_EQ(4, rd(self, self->root));
}

/* Revoke while other threads hammer reads on a descendant. */
struct reader {
	struct capchan *ch;
	uint32_t h;
	atomic_int *revoked_done;
	atomic_int stop;
	unsigned long ok, after_ok, errs_revoked, errs_other;
	int last_other;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	char b[16];

	while (!atomic_load(&r->stop)) {
		int done_before = atomic_load(r->revoked_done);
		ssize_t n = capchan_read(r->ch, r->h, b, sizeof(b), 0);

		if (n == sizeof(b)) {
			r->ok++;
			if (done_before)
				r->after_ok++;	/* started after REVOKE returned */
		} else if (n == -EKEYREVOKED) {
			r->errs_revoked++;
			if (r->errs_revoked > 100)
				break;
		} else {
			r->errs_other++;
			r->last_other = (int)n;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(revoke, concurrent_with_reads, 60)
{
	enum { NR = 4 };
	struct reader r[NR];
	pthread_t th[NR];
	atomic_int done = 0;
	int mid, leaf[NR];

	mid = capchan_derive(&self->ch, self->root, FR);
	ASSERT_LT(0, mid);
	for (int i = 0; i < NR; i++) {
		leaf[i] = capchan_derive(&self->ch, mid, R_READ | R_SEEK);
		ASSERT_LT(0, leaf[i]);
		memset(&r[i], 0, sizeof(r[i]));
		r[i].ch = &self->ch;
		r[i].h = leaf[i];
		r[i].revoked_done = &done;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, read_loop, &r[i]));
	}
	/* Let them run. */
	for (int spin = 0; spin < 2000; spin++) {
		unsigned long min = ~0UL;

		for (int i = 0; i < NR; i++)
			if (r[i].ok < min)
				min = r[i].ok;
		if (min >= 50)
			break;
		usleep(1000);
	}
	EXPECT_EQ(NR, capchan_revoke(&self->ch, mid));
	atomic_store(&done, 1);
	/* From now on every read fails. */
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, leaf[0], self->buf, 4, 0));
	usleep(100 * 1000);
	for (int i = 0; i < NR; i++) {
		atomic_store(&r[i].stop, 1);
		pthread_join(th[i], NULL);
		EXPECT_LT(0, r[i].ok);
		EXPECT_EQ(0, r[i].after_ok) TH_LOG("thread %d", i);
		EXPECT_EQ(0, r[i].errs_other) TH_LOG("thread %d: %d", i,
						     r[i].last_other);
		EXPECT_LT(0, r[i].errs_revoked);
	}
	EXPECT_EQ(4, rd(self, mid));
}

/* Revoke vs close vs derive racing on the same subtree. */
struct churn {
	struct capchan *ch;
	uint32_t parent;
	atomic_int stop;
	unsigned long derived, bad;
	int last_bad;
};

static void *churn_loop(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		int h = capchan_derive(c->ch, c->parent, R_READ | R_SEEK | R_DERIVE);

		if (h > 0) {
			int h2 = capchan_derive(c->ch, h, R_READ | R_SEEK);
			char b[4];
			ssize_t n;

			c->derived++;
			n = capchan_read(c->ch, h, b, 4, 0);
			if (n != 4 && n != -EKEYREVOKED) {
				c->bad++;
				c->last_bad = (int)n;
			}
			if (h2 > 0 && capchan_close(c->ch, h2)) {
				c->bad++;
				c->last_bad = -1000;
			}
			if (capchan_close(c->ch, h)) {
				c->bad++;
				c->last_bad = -1001;
			}
		} else if (h != -EKEYREVOKED) {
			c->bad++;
			c->last_bad = h;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(revoke, churn, 60)
{
	enum { NT = 3 };
	struct churn c[NT];
	pthread_t th[NT];
	unsigned long revokes = 0;
	double end;
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	for (int i = 0; i < NT; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].ch = &self->ch;
		c[i].parent = self->root;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_loop, &c[i]));
	}
	end = cc_now() + 1.5;
	while (cc_now() < end) {
		int n = capchan_revoke(&self->ch, self->root);

		EXPECT_LE(0, n);
		revokes++;
		usleep(500);
	}
	for (int i = 0; i < NT; i++) {
		atomic_store(&c[i].stop, 1);
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, c[i].bad) TH_LOG("thread %d last %d", i, c[i].last_bad);
		EXPECT_LT(0, c[i].derived);
	}
	/* Every thread closed what it made: dh and root remain. */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	EXPECT_EQ(0, capchan_revoke(&self->ch, self->root));
	EXPECT_EQ(4, rd(self, self->root));
	TH_LOG("%lu revokes", revokes);
	free(fi);
}

/* Closing the channel that holds the exporter: the import keeps working. */
TEST_F(revoke, exporter_channel_closed)
{
	struct capchan ch2;
	int fd, h;

	fd = capchan_export(&self->ch, self->root, R_READ | R_SEEK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, capchan_open_channel(&ch2));
	h = capchan_import(&ch2, fd);
	ASSERT_LT(0, h);
	close(fd);
	capchan_queue_exit(&self->ch);
	EXPECT_EQ(4, capchan_read(&ch2, h, self->buf, 4, 0));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 4));
	capchan_queue_exit(&ch2);
}

TEST_HARNESS_MAIN
