// SPDX-License-Identifier: GPL-2.0
/*
 * Attacks on a channel used by many threads at once: INVOKE runs with no
 * channel lock, the handle table has its own lock, and every op holds a
 * reference of its own on the capability it looked up.  Each test races
 * two kinds of request on the same or related handles and asserts the
 * exact result of every one of them, then that nothing was left behind
 * (the table, the user's capability and file counts).
 *
 *  - double_close: four threads CLOSE one handle at once: exactly one
 *    gets 0, the others -EBADF, and the capability is gone once.
 *  - guess_reserved: while one thread DERIVEs, others CLOSE the handles
 *    it is about to be given (reserved, then committed): each handle is
 *    closed exactly once in all, every other CLOSE is -EBADF.
 *  - last_slot: four threads DERIVE until the table is full, racing for
 *    the last slots while it grows: exactly max_caps entries, never more;
 *    then all are closed concurrently.
 *  - user_limit: the same race for the last units of the per-user
 *    capability limit (max_user_caps) across two channels: exactly the
 *    limit, the rest -EDQUOT.
 *  - revoke_stops_ops: READ and DERIVE on a child while its parent is
 *    REVOKEd: every op that starts after REVOKE returned gets
 *    -EKEYREVOKED, through the child or anything derived from it.
 *  - rename_target_close: RENAME into a target DIR whose handle another
 *    thread closes and re-derives: 0 or -EBADF only, and the target's
 *    reference is dropped every time (nothing leaks).
 *  - seal_vs_import: IMPORT on three threads while SEAL(IMPORT) runs:
 *    nothing is imported by an IMPORT that starts after SEAL returned.
 *  - filter_vs_ops: a deny filter attached while threads STAT: every STAT
 *    that starts after the attach returned is denied with its errno.
 *  - fdinfo_churn: fdinfo read while threads DERIVE and CLOSE: each read
 *    lists exactly the "caps:" it reports, and every line parses.
 *  - ring_vs_invoke_close: READs through the ring (ENTER) while INVOKE
 *    on another thread CLOSEs their handle and OPENs or DERIVEs a new
 *    one: exact or -EBADF.  sqpoll_vs_invoke_close: the same with the
 *    poll thread consuming the ring.
 *  - close_channel_vs_invoke: the channel fd is closed while threads
 *    INVOKE on it: exact or -EBADF, and all it held is uncharged once
 *    the last op returned.
 *  - fork_shared: parent and child (threads of each) DERIVE and CLOSE on
 *    the channel they share: every result exact, nothing left.
 *
 * Loops are counted, not timed; the harness timeout bounds each test.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/wait.h>

#define IO_LEN		64
#define NR_THREADS	4

#define FILE_RIGHTS	(R_READ | R_SEEK | R_STAT | R_DERIVE | R_REVOKE | \
			 R_DELEGATE)

/* the last unexpected result, for the log: op << 32 | res */
static _Atomic long last_bad;

static void note_bad(unsigned int op, int res)
{
	atomic_store(&last_bad, ((long)op << 32) | (uint32_t)res);
}

#define BAD_LOG	TH_LOG("last unexpected: op %ld res %d", \
		       atomic_load(&last_bad) >> 32, (int)atomic_load(&last_bad))

static int inv_close(int fd, uint32_t h)
{
	struct capchan_sqe s;

	capchan_prep_close(&s, h);
	return cc_invoke(fd, &s);
}

static int inv_derive(int fd, uint32_t h, uint64_t rights)
{
	struct capchan_sqe s;

	capchan_prep_derive(&s, h, rights);
	return cc_invoke(fd, &s);
}

static int inv_read(int fd, uint32_t h, void *buf, uint64_t off)
{
	struct capchan_sqe s;

	capchan_prep_read(&s, h, buf, IO_LEN, off);
	return cc_invoke(fd, &s);
}

static long long fdinfo_num(int fd, const char *key)
{
	int err = 0;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

FIXTURE(attack)
{
	struct cc_tree t;
	struct capchan ch;
	uint32_t fh;			/* jail/file, FILE_RIGHTS */
	long long caps0, files0;	/* the user's, with fh in the table */
};

FIXTURE_SETUP(attack)
{
	int h, fd;

	ASSERT_EQ(0, cc_tree_create(&self->t, "threads-attack"));
	ASSERT_EQ(0, capchan_queue_init(8, &self->ch, 0));
	fd = openat(self->t.jail_fd, "file", O_RDONLY);
	ASSERT_LE(0, fd);
	h = cc_grant(self->ch.fd, fd, FILE_RIGHTS, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));
	self->fh = h;
	self->caps0 = fdinfo_num(self->ch.fd, "user-caps");
	self->files0 = fdinfo_num(self->ch.fd, "user-files");
	ASSERT_LT(0, self->caps0);
	ASSERT_LT(0, self->files0);
}

FIXTURE_TEARDOWN(attack)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* The table holds @caps entries and the user is charged for nothing else. */
#define EXPECT_LEFT(caps, extra_caps, extra_files) do {			\
	EXPECT_EQ((caps), fdinfo_num(self->ch.fd, "caps"));		\
	EXPECT_EQ(self->caps0 + (extra_caps),				\
		  fdinfo_num(self->ch.fd, "user-caps"));		\
	EXPECT_EQ(self->files0 + (extra_files),				\
		  fdinfo_num(self->ch.fd, "user-files"));		\
} while (0)

/* ---- double_close --------------------------------------------------------- */

#define DC_ROUNDS	300

struct dc {
	int fd;
	pthread_barrier_t go, done;
	_Atomic uint32_t h;
	_Atomic int zero, ebadf, bad;
};

static void *dc_main(void *arg)
{
	struct dc *d = arg;
	int i, res;

	for (i = 0; i < DC_ROUNDS; i++) {
		pthread_barrier_wait(&d->go);
		res = inv_close(d->fd, atomic_load(&d->h));
		if (res == 0) {
			d->zero++;
		} else if (res == -EBADF) {
			d->ebadf++;
		} else {
			d->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
		pthread_barrier_wait(&d->done);
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, double_close, 300)
{
	pthread_t th[NR_THREADS];
	struct dc *d = calloc(1, sizeof(*d));
	int i, h, once = 0;

	ASSERT_NE(NULL, d);
	d->fd = self->ch.fd;
	pthread_barrier_init(&d->go, NULL, NR_THREADS + 1);
	pthread_barrier_init(&d->done, NULL, NR_THREADS + 1);
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, dc_main, d));
	for (i = 0; i < DC_ROUNDS; i++) {
		int z = d->zero;

		h = inv_derive(self->ch.fd, self->fh, R_READ | R_STAT);
		ASSERT_TRUE(cc_handle_ok(h));
		atomic_store(&d->h, h);
		pthread_barrier_wait(&d->go);
		pthread_barrier_wait(&d->done);
		once += d->zero - z == 1;
	}
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, d->bad) BAD_LOG;
	EXPECT_EQ(DC_ROUNDS, once);
	EXPECT_EQ(DC_ROUNDS, d->zero);
	EXPECT_EQ(DC_ROUNDS * (NR_THREADS - 1), d->ebadf);
	EXPECT_LEFT(1, 0, 0);
	pthread_barrier_destroy(&d->go);
	pthread_barrier_destroy(&d->done);
	free(d);
}

/* ---- guess_reserved ------------------------------------------------------- */

#define GR_DERIVES	1500
#define GR_GUESSERS	3

struct gr {
	int fd;
	uint32_t fh;
	_Atomic uint32_t last;		/* the last handle DERIVE returned */
	_Atomic bool stop;
	_Atomic int closed, ebadf, bad, derived;
};

static void *gr_guesser(void *arg)
{
	struct gr *g = arg;
	unsigned int k = 0;

	while (!atomic_load(&g->stop)) {
		/*
		 * The handle DERIVE just returned (the deriver is about to
		 * close it) and the ones the next DERIVEs will get, reserved
		 * or not yet.
		 */
		uint32_t h = atomic_load(&g->last) + (k++ % 4);
		int res;

		if (h == g->fh)
			continue;
		res = inv_close(g->fd, h);
		if (res == 0) {
			g->closed++;
		} else if (res == -EBADF) {
			g->ebadf++;
		} else {
			g->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, guess_reserved, 300)
{
	pthread_t th[GR_GUESSERS];
	struct gr *g = calloc(1, sizeof(*g));
	int i, h, res, own = 0;

	ASSERT_NE(NULL, g);
	g->fd = self->ch.fd;
	g->fh = self->fh;
	atomic_store(&g->last, self->fh);
	for (i = 0; i < GR_GUESSERS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, gr_guesser, g));
	for (i = 0; i < GR_DERIVES; i++) {
		h = inv_derive(self->ch.fd, self->fh, R_READ);
		if (!cc_handle_ok(h)) {
			g->bad++;
			note_bad(CAPCHAN_OP_DERIVE, h);
			break;
		}
		g->derived++;
		atomic_store(&g->last, h);
		/* a window for the guessers, then ours unless one was first */
		sched_yield();
		res = inv_close(self->ch.fd, h);
		if (res == 0) {
			own++;
		} else if (res != -EBADF) {
			g->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
	}
	atomic_store(&g->stop, true);
	for (i = 0; i < GR_GUESSERS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, g->bad) BAD_LOG;
	EXPECT_EQ(GR_DERIVES, g->derived);
	/* every derived handle closed exactly once, by someone */
	EXPECT_EQ(GR_DERIVES, own + g->closed);
	TH_LOG("closed by guessers %d, by the deriver %d, %d -EBADF",
	       g->closed, own, g->ebadf);
	EXPECT_LEFT(1, 0, 0);
	free(g);
}

/* ---- last_slot ------------------------------------------------------------ */

struct ls {
	int fd;
	uint32_t fh;
	pthread_barrier_t go;
	uint32_t *h[NR_THREADS];
	int n[NR_THREADS], last_err[NR_THREADS], bad[NR_THREADS];
	unsigned int cap;
};

struct ls_arg {
	struct ls *l;
	int id;
};

static void *ls_main(void *arg)
{
	struct ls_arg *a = arg;
	struct ls *l = a->l;
	int id = a->id, res, i;

	pthread_barrier_wait(&l->go);
	for (;;) {
		res = inv_derive(l->fd, l->fh, R_READ);
		if (!cc_handle_ok(res)) {
			l->last_err[id] = res;
			break;
		}
		if (l->n[id] == (int)l->cap) {
			l->bad[id]++;
			break;
		}
		l->h[id][l->n[id]++] = res;
	}
	pthread_barrier_wait(&l->go);
	/* all full and looked at: every thread closes its own, together */
	pthread_barrier_wait(&l->go);
	for (i = 0; i < l->n[id]; i++) {
		res = inv_close(l->fd, l->h[id][i]);
		if (res) {
			l->bad[id]++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, last_slot, 600)
{
	struct ls *l = calloc(1, sizeof(*l));
	struct ls_arg a[NR_THREADS];
	pthread_t th[NR_THREADS];
	struct capchan_version v;
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));
	int i, total = 0;

	ASSERT_NE(NULL, l);
	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, cc_version(self->ch.fd, &v));
	ASSERT_LT(1, v.max_caps);
	if (v.max_caps > 65536)
		SKIP(return, "max_caps %u: too many for this test", v.max_caps);
	l->fd = self->ch.fd;
	l->fh = self->fh;
	l->cap = v.max_caps;
	pthread_barrier_init(&l->go, NULL, NR_THREADS + 1);
	for (i = 0; i < NR_THREADS; i++) {
		l->h[i] = calloc(v.max_caps, sizeof(uint32_t));
		ASSERT_NE(NULL, l->h[i]);
		a[i] = (struct ls_arg){ .l = l, .id = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, ls_main, &a[i]));
	}
	pthread_barrier_wait(&l->go);
	pthread_barrier_wait(&l->go);	/* all of them hit the limit */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(v.max_caps, fi->caps);
	EXPECT_EQ(v.max_caps, fi->ncap);
	EXPECT_EQ(0, fi->bad_cap_lines);
	EXPECT_EQ(self->caps0 + v.max_caps - 1, fi->user_caps);
	/* full: one more is refused, from here too */
	EXPECT_EQ(-EMFILE, inv_derive(self->ch.fd, self->fh, R_READ));
	pthread_barrier_wait(&l->go);
	for (i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ(-EMFILE, l->last_err[i]);
		EXPECT_EQ(0, l->bad[i]) BAD_LOG;
		total += l->n[i];
	}
	EXPECT_EQ(v.max_caps - 1, total);
	/* every handle issued once */
	{
		uint32_t *all = calloc(total + 1, sizeof(uint32_t));
		int j, k = 0;

		ASSERT_NE(NULL, all);
		for (i = 0; i < NR_THREADS; i++)
			for (j = 0; j < l->n[i]; j++)
				all[k++] = l->h[i][j];
		all[k++] = self->fh;
		for (i = 1; i < k; i++) {
			uint32_t x = all[i];

			for (j = i - 1; j >= 0 && all[j] > x; j--)
				all[j + 1] = all[j];
			all[j + 1] = x;
		}
		for (i = 1; i < k; i++)
			EXPECT_NE(all[i - 1], all[i]);
		free(all);
	}
	EXPECT_LEFT(1, 0, 0);
	/* and the table takes max_caps - 1 again */
	EXPECT_TRUE(cc_handle_ok(inv_derive(self->ch.fd, self->fh, R_READ)));
	for (i = 0; i < NR_THREADS; i++)
		free(l->h[i]);
	pthread_barrier_destroy(&l->go);
	free(fi);
	free(l);
}

/* ---- user_limit ----------------------------------------------------------- */

#define UL_ROOM		200

struct ul {
	int fd[2];
	uint32_t fh[2];
	pthread_barrier_t go;
	int n[NR_THREADS], last_err[NR_THREADS], bad[NR_THREADS];
	uint32_t h[NR_THREADS][UL_ROOM + 1];
};

struct ul_arg {
	struct ul *u;
	int id;
};

static void *ul_main(void *arg)
{
	struct ul_arg *a = arg;
	struct ul *u = a->u;
	int id = a->id, fd = u->fd[id & 1], res;

	pthread_barrier_wait(&u->go);
	for (;;) {
		res = inv_derive(fd, u->fh[id & 1], R_READ);
		if (!cc_handle_ok(res)) {
			u->last_err[id] = res;
			break;
		}
		if (u->n[id] == UL_ROOM + 1) {
			u->bad[id]++;
			break;
		}
		u->h[id][u->n[id]++] = res;
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, user_limit, 300)
{
	struct ul *u = calloc(1, sizeof(*u));
	struct ul_arg a[NR_THREADS];
	pthread_t th[NR_THREADS];
	struct capchan ch2;
	long long old, used;
	char buf[32];
	int i, j, h, err, total = 0;
	const char *param = "/sys/module/capchan/parameters/max_user_caps";

	ASSERT_NE(NULL, u);
	old = cc_read_number(param, &err);
	if (err)
		SKIP(return, "no %s: %d", param, err);
	ASSERT_EQ(0, capchan_queue_init(8, &ch2, 0));
	h = inv_derive(self->ch.fd, self->fh, R_READ | R_DERIVE | R_DELEGATE);
	ASSERT_TRUE(cc_handle_ok(h));
	{
		int capfd = capchan_export(&self->ch, h, R_READ | R_DERIVE);

		ASSERT_LE(0, capfd);
		u->fh[1] = capchan_import(&ch2, capfd);
		close(capfd);
	}
	ASSERT_TRUE(cc_handle_ok(u->fh[1]));
	ASSERT_EQ(0, inv_close(self->ch.fd, h));
	u->fd[0] = self->ch.fd;
	u->fd[1] = ch2.fd;
	u->fh[0] = self->fh;
	used = fdinfo_num(self->ch.fd, "user-caps");
	ASSERT_LT(0, used);
	snprintf(buf, sizeof(buf), "%lld", used + UL_ROOM);
	ASSERT_EQ(0, cc_write_str(param, buf));
	pthread_barrier_init(&u->go, NULL, NR_THREADS + 1);
	for (i = 0; i < NR_THREADS; i++) {
		a[i] = (struct ul_arg){ .u = u, .id = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, ul_main, &a[i]));
	}
	pthread_barrier_wait(&u->go);
	for (i = 0; i < NR_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		total += u->n[i];
	}
	EXPECT_EQ(used + UL_ROOM, fdinfo_num(self->ch.fd, "user-caps"));
	snprintf(buf, sizeof(buf), "%lld", old);
	ASSERT_EQ(0, cc_write_str(param, buf));
	for (i = 0; i < NR_THREADS; i++) {
		EXPECT_EQ(-EDQUOT, u->last_err[i]);
		EXPECT_EQ(0, u->bad[i]);
		for (j = 0; j < u->n[i]; j++)
			EXPECT_EQ(0, inv_close(u->fd[i & 1], u->h[i][j]));
	}
	EXPECT_EQ(UL_ROOM, total);
	EXPECT_EQ(used, fdinfo_num(self->ch.fd, "user-caps"));
	capchan_queue_exit(&ch2);
	EXPECT_LEFT(1, 0, 0);
	pthread_barrier_destroy(&u->go);
	free(u);
}

/* ---- revoke_stops_ops ----------------------------------------------------- */

#define RV_ROUNDS	40
#define RV_AFTER	30	/* ops each thread runs after the REVOKE */

struct rv {
	int fd;
	const unsigned char *data;
	_Atomic uint32_t child;
	_Atomic int gen;		/* the round; odd: REVOKE returned */
	pthread_barrier_t go, done;
	_Atomic int bad, before, after;
};

/* One op through @h, started in round state @g: is its result right? */
static bool rv_check(int res, bool after, bool exact)
{
	if (after)
		return res == -EKEYREVOKED;
	return exact || res == -EKEYREVOKED;
}

static void *rv_main(void *arg)
{
	struct rv *r = arg;
	unsigned char buf[IO_LEN];
	int round, k;

	for (round = 0; round < RV_ROUNDS; round++) {
		uint32_t c;
		int n_after = 0;

		pthread_barrier_wait(&r->go);
		c = atomic_load(&r->child);
		for (k = 0; n_after < RV_AFTER; k++) {
			bool after = atomic_load(&r->gen) & 1;
			uint64_t off = (k * 37u) % (CC_FILE_LEN - IO_LEN);
			int res, g;

			/* READ through the child */
			res = inv_read(r->fd, c, buf, off);
			if (!rv_check(res, after, res == IO_LEN &&
				      !memcmp(buf, r->data + off, IO_LEN))) {
				r->bad++;
				note_bad(CAPCHAN_OP_READ, res);
			}
			/* a grandchild, READ through it, CLOSE it */
			after = atomic_load(&r->gen) & 1;
			g = inv_derive(r->fd, c, R_READ | R_SEEK);
			if (cc_handle_ok(g)) {
				if (after) {
					r->bad++;
					note_bad(CAPCHAN_OP_DERIVE, g);
				}
				after = atomic_load(&r->gen) & 1;
				res = inv_read(r->fd, g, buf, off);
				if (!rv_check(res, after, res == IO_LEN &&
					      !memcmp(buf, r->data + off,
						      IO_LEN))) {
					r->bad++;
					note_bad(CAPCHAN_OP_READ, res);
				}
				res = inv_close(r->fd, g);
				if (res) {
					r->bad++;
					note_bad(CAPCHAN_OP_CLOSE, res);
				}
			} else if (g != -EKEYREVOKED) {
				r->bad++;
				note_bad(CAPCHAN_OP_DERIVE, g);
			}
			if (after) {
				n_after++;
				r->after++;
			} else {
				r->before++;
			}
		}
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, revoke_stops_ops, 600)
{
	pthread_t th[NR_THREADS];
	struct rv *r = calloc(1, sizeof(*r));
	struct capchan_sqe s;
	int i, round, c, p;

	ASSERT_NE(NULL, r);
	r->fd = self->ch.fd;
	r->data = self->t.data;
	pthread_barrier_init(&r->go, NULL, NR_THREADS + 1);
	pthread_barrier_init(&r->done, NULL, NR_THREADS + 1);
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, rv_main, r));
	for (round = 0; round < RV_ROUNDS; round++) {
		/* a fresh parent each round; its child is what the threads use */
		p = inv_derive(self->ch.fd, self->fh, R_READ | R_SEEK |
			       R_DERIVE | R_REVOKE);
		ASSERT_TRUE(cc_handle_ok(p));
		c = inv_derive(self->ch.fd, p, R_READ | R_SEEK | R_DERIVE);
		ASSERT_TRUE(cc_handle_ok(c));
		atomic_store(&r->child, c);
		pthread_barrier_wait(&r->go);
		/* let them get going, a varying amount */
		for (i = 0; i < round % 7; i++)
			sched_yield();
		cc_sqe(&s, CAPCHAN_OP_REVOKE, p);
		ASSERT_LE(1, cc_invoke(self->ch.fd, &s));
		atomic_fetch_add(&r->gen, 1);	/* odd: REVOKE returned */
		pthread_barrier_wait(&r->done);
		atomic_fetch_add(&r->gen, 1);
		EXPECT_EQ(0, inv_close(self->ch.fd, c));
		EXPECT_EQ(0, inv_close(self->ch.fd, p));
	}
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, r->bad) BAD_LOG;
	EXPECT_EQ(RV_ROUNDS * NR_THREADS * RV_AFTER, r->after);
	TH_LOG("%d rounds of ops before the REVOKE returned, %d after",
	       r->before, r->after);
	EXPECT_LEFT(1, 0, 0);
	pthread_barrier_destroy(&r->go);
	pthread_barrier_destroy(&r->done);
	free(r);
}

/* ---- rename_target_close -------------------------------------------------- */

#define RN_RENAMES	1500

struct rn {
	int fd;
	uint32_t dh;
	_Atomic uint32_t target;
	_Atomic bool stop;
	_Atomic int bad, redone;
	_Atomic int tries;		/* RENAMEs done */
};

static void *rn_closer(void *arg)
{
	struct rn *r = arg;
	int seen;

	while (!atomic_load(&r->stop)) {
		uint32_t t = atomic_load(&r->target);
		int res = inv_close(r->fd, t);

		if (res) {
			r->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
			break;
		}
		res = inv_derive(r->fd, r->dh, R_LOOKUP | R_CREATE);
		if (!cc_handle_ok(res)) {
			r->bad++;
			note_bad(CAPCHAN_OP_DERIVE, res);
			break;
		}
		seen = atomic_load(&r->tries);
		atomic_store(&r->target, res);
		r->redone++;
		/* RENAME tries it twice at least */
		while (atomic_load(&r->tries) - seen < 2 &&
		       !atomic_load(&r->stop))
			sched_yield();
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, rename_target_close, 600)
{
	struct rn *r = calloc(1, sizeof(*r));
	static const char *const name[2] = { "rn-a", "rn-b" };
	int i, h, res, ok = 0, ebadf = 0, at = 0;
	pthread_t th;

	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, name[0], "x"));
	h = cc_grant(self->ch.fd, self->t.jail_fd, R_LOOKUP | R_CREATE |
		     CAPCHAN_RIGHT_REMOVE | R_DERIVE, NULL);
	ASSERT_TRUE(cc_handle_ok(h));
	r->fd = self->ch.fd;
	r->dh = h;
	h = inv_derive(self->ch.fd, r->dh, R_LOOKUP | R_CREATE);
	ASSERT_TRUE(cc_handle_ok(h));
	atomic_store(&r->target, h);
	ASSERT_EQ(0, pthread_create(&th, NULL, rn_closer, r));
	/* until both sides did enough: the harness timeout bounds it */
	for (i = 0; i < RN_RENAMES || ok < RN_RENAMES / 10 ||
		    atomic_load(&r->redone) < RN_RENAMES / 10; i++) {
		if (r->bad)
			break;
		struct capchan_sqe s;

		capchan_prep_rename(&s, r->dh, name[at],
				    atomic_load(&r->target), name[!at], 0);
		res = cc_invoke(self->ch.fd, &s);
		if (res == 0) {
			ok++;
			at = !at;
		} else if (res == -EBADF) {
			ebadf++;
		} else {
			r->bad++;
			note_bad(CAPCHAN_OP_RENAME, res);
		}
		r->tries++;
	}
	atomic_store(&r->stop, true);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, r->bad) BAD_LOG;
	EXPECT_EQ(i, ok + ebadf);
	EXPECT_LE(RN_RENAMES / 10, ok);
	EXPECT_LE(RN_RENAMES / 10, r->redone);
	TH_LOG("%d renames, %d -EBADF, %d targets closed", ok, ebadf,
	       r->redone);
	/* the file is where the successful renames put it */
	EXPECT_NE(0, cc_ino_at(self->t.jail_fd, name[at]));
	EXPECT_EQ(0, cc_ino_at(self->t.jail_fd, name[!at]));
	/* fh, the DIR, the last target: nothing else, no lost reference */
	EXPECT_LEFT(3, 2, 1);
	EXPECT_EQ(0, inv_close(self->ch.fd, atomic_load(&r->target)));
	EXPECT_EQ(0, inv_close(self->ch.fd, r->dh));
	EXPECT_LEFT(1, 0, 0);
	free(r);
}

/* ---- seal_vs_import ------------------------------------------------------- */

#define SI_AFTER	50

struct si {
	int fd, capfd;
	_Atomic bool sealed;
	_Atomic int bad, imported, refused, after;
};

static void *si_main(void *arg)
{
	struct si *s = arg;
	int n_after = 0, res;

	while (n_after < SI_AFTER) {
		bool after = atomic_load(&s->sealed);
		struct capchan_sqe q;

		capchan_prep_import(&q, s->capfd);
		res = cc_invoke(s->fd, &q);
		if (cc_handle_ok(res) && !after) {
			s->imported++;
			res = inv_close(s->fd, res);
			if (res) {
				s->bad++;
				note_bad(CAPCHAN_OP_CLOSE, res);
			}
		} else if (res == -EPERM) {
			s->refused++;
		} else {
			s->bad++;
			note_bad(CAPCHAN_OP_IMPORT, res);
		}
		if (after) {
			n_after++;
			s->after++;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, seal_vs_import, 300)
{
	struct si *s = calloc(1, sizeof(*s));
	pthread_t th[NR_THREADS - 1];
	int i;

	ASSERT_NE(NULL, s);
	s->fd = self->ch.fd;
	s->capfd = capchan_export(&self->ch, self->fh, R_READ);
	ASSERT_LE(0, s->capfd);
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, si_main, s));
	/* some IMPORTs go through first */
	while (atomic_load(&s->imported) < 20 && !atomic_load(&s->bad))
		sched_yield();
	ASSERT_EQ(0, capchan_seal_flags(&self->ch, CAPCHAN_SEAL_IMPORT));
	atomic_store(&s->sealed, true);
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, s->bad) BAD_LOG;
	EXPECT_EQ((NR_THREADS - 1) * SI_AFTER, s->after);
	EXPECT_LE(20, s->imported);
	TH_LOG("%d imported, %d refused", s->imported, s->refused);
	close(s->capfd);
	/* the exported capability went with its file */
	EXPECT_LEFT(1, 0, 0);
	free(s);
}

/* ---- filter_vs_ops -------------------------------------------------------- */

#define FV_AFTER	100

struct fv {
	int fd;
	uint32_t fh;
	_Atomic bool attached;
	_Atomic int bad, ok, after;
};

static void *fv_main(void *arg)
{
	struct fv *f = arg;
	int n_after = 0;

	while (n_after < FV_AFTER) {
		bool after = atomic_load(&f->attached);
		struct capchan_stat st;
		struct capchan_sqe s;
		int res;

		memset(&st, 0, sizeof(st));
		capchan_prep_stat(&s, f->fh, &st);
		res = cc_invoke(f->fd, &s);
		if (res == 0 && !after && st.size == CC_FILE_LEN) {
			f->ok++;
		} else if (res != -EACCES) {
			f->bad++;
			note_bad(CAPCHAN_OP_STAT, res);
		}
		if (after) {
			n_after++;
			f->after++;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, filter_vs_ops, 300)
{
	struct fv *f = calloc(1, sizeof(*f));
	pthread_t th[NR_THREADS - 1];
	int i;

	ASSERT_NE(NULL, f);
	f->fd = self->ch.fd;
	f->fh = self->fh;
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fv_main, f));
	while (atomic_load(&f->ok) < 20 && !atomic_load(&f->bad))
		sched_yield();
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch,
					     1ULL << CAPCHAN_OP_STAT, EACCES));
	atomic_store(&f->attached, true);
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, f->bad) BAD_LOG;
	EXPECT_EQ((NR_THREADS - 1) * FV_AFTER, f->after);
	EXPECT_LE(20, f->ok);
	EXPECT_EQ(1, fdinfo_num(self->ch.fd, "filters"));
	EXPECT_LEFT(1, 0, 0);
	free(f);
}

/* ---- fdinfo_churn --------------------------------------------------------- */

#define FC_READS	200
#define FC_HELD		40	/* each churner keeps at most this many */

struct fc {
	int fd;
	uint32_t fh;
	_Atomic bool stop;
	_Atomic int bad;
};

static void *fc_main(void *arg)
{
	struct fc *c = arg;
	uint32_t held[FC_HELD];
	unsigned int n = 0, k = 0;
	int res;

	while (!atomic_load(&c->stop)) {
		if (n < FC_HELD && (k++ % 3)) {
			res = inv_derive(c->fd, c->fh, R_READ);
			if (!cc_handle_ok(res)) {
				c->bad++;
				note_bad(CAPCHAN_OP_DERIVE, res);
				break;
			}
			held[n++] = res;
		} else if (n) {
			res = inv_close(c->fd, held[--n]);
			if (res) {
				c->bad++;
				note_bad(CAPCHAN_OP_CLOSE, res);
			}
		}
	}
	while (n) {
		res = inv_close(c->fd, held[--n]);
		if (res) {
			c->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(attack, fdinfo_churn, 300)
{
	struct fc *c = calloc(1, sizeof(*c));
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));
	pthread_t th[NR_THREADS - 1];
	int i, bad_reads = 0;

	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, fi);
	c->fd = self->ch.fd;
	c->fh = self->fh;
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fc_main, c));
	for (i = 0; i < FC_READS; i++) {
		memset(fi, 0, sizeof(*fi));
		ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
		/* one snapshot: the count and the lines agree */
		if (fi->caps != fi->ncap || fi->bad_cap_lines ||
		    fi->caps < 1 || fi->caps > 1 + (NR_THREADS - 1) * FC_HELD ||
		    !cc_fdinfo_find(fi, self->fh)) {
			bad_reads++;
			TH_LOG("read %d: caps %lld, %d lines, %d bad", i,
			       fi->caps, fi->ncap, fi->bad_cap_lines);
		}
	}
	atomic_store(&c->stop, true);
	for (i = 0; i < NR_THREADS - 1; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, bad_reads);
	EXPECT_EQ(0, c->bad) BAD_LOG;
	EXPECT_LEFT(1, 0, 0);
	free(fi);
	free(c);
}

/* ---- ring_vs_invoke_close ------------------------------------------------- */

#define RI_BATCHES	300
#define RI_BATCH	4
#define RI_REOPENS	100	/* at least, while the ring reads */

struct ri {
	struct capchan *ch;
	uint32_t dh, fh;
	_Atomic uint32_t h;
	_Atomic bool stop;
	_Atomic int bad, reopened;
	_Atomic int batches;		/* ring batches reaped */
};

static void *ri_closer(void *arg)
{
	struct ri *r = arg;
	int i, res, seen;

	for (i = 0; !atomic_load(&r->stop); i++) {
		res = inv_close(r->ch->fd, atomic_load(&r->h));
		if (res) {
			r->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
			break;
		}
		if (i & 1)
			res = inv_derive(r->ch->fd, r->fh, R_READ | R_SEEK);
		else
			res = capchan_open_beneath(r->ch, r->dh, "file",
						   O_RDONLY, 0, R_READ | R_SEEK);
		if (!cc_handle_ok(res)) {
			r->bad++;
			note_bad(i & 1 ? CAPCHAN_OP_DERIVE : CAPCHAN_OP_OPEN,
				 res);
			break;
		}
		seen = atomic_load(&r->batches);
		atomic_store(&r->h, res);
		r->reopened++;
		/* the ring reads through it, two batches at least */
		while (atomic_load(&r->batches) - seen < 2 &&
		       !atomic_load(&r->stop))
			sched_yield();
	}
	return NULL;
}

/*
 * READs through @ch's ring (ENTER, or the poll thread) while a thread
 * INVOKEs CLOSE and re-OPENs or re-DERIVEs the handle they name.  @ch
 * holds only @fh, a FILE with FILE_RIGHTS, and is left so.
 */
static void ri_run(struct __test_metadata *_metadata, struct capchan *ch,
		   uint32_t fh, int jail_fd, const unsigned char *data,
		   bool sqpoll)
{
	struct ri *r = calloc(1, sizeof(*r));
	static unsigned char buf[RI_BATCH][IO_LEN];
	int i, j, h, ok = 0, ebadf = 0;
	pthread_t th;

	ASSERT_NE(NULL, r);
	r->ch = ch;
	r->fh = fh;
	h = cc_grant(ch->fd, jail_fd, R_LOOKUP | R_READ | R_SEEK, NULL);
	ASSERT_TRUE(cc_handle_ok(h));
	r->dh = h;
	h = capchan_open_beneath(ch, r->dh, "file", O_RDONLY, 0,
				 R_READ | R_SEEK);
	ASSERT_TRUE(cc_handle_ok(h));
	atomic_store(&r->h, h);
	ASSERT_EQ(0, pthread_create(&th, NULL, ri_closer, r));
	for (i = 0; i < RI_BATCHES || atomic_load(&r->reopened) < RI_REOPENS;
	     i++) {
		if (r->bad)
			break;
		for (j = 0; j < RI_BATCH; j++) {
			struct capchan_sqe s;

			capchan_prep_read(&s, atomic_load(&r->h), buf[j], IO_LEN,
					  j * 100);
			s.user_data = j;
			cc_sq_push(ch, &s);
		}
		if (sqpoll) {
			ASSERT_EQ(0, cc_enter(ch->fd, 0, RI_BATCH,
					      CAPCHAN_ENTER_GETEVENTS |
					      CAPCHAN_ENTER_SQ_WAKEUP));
		} else {
			ASSERT_EQ(RI_BATCH, cc_enter(ch->fd, RI_BATCH, RI_BATCH,
						     CAPCHAN_ENTER_GETEVENTS));
		}
		for (j = 0; j < RI_BATCH; j++) {
			struct capchan_cqe cqe;

			ASSERT_EQ(0, cc_cq_pop(ch, &cqe));
			ASSERT_GT(RI_BATCH, cqe.user_data);
			if (cqe.res == IO_LEN &&
			    !memcmp(buf[cqe.user_data],
				    data + cqe.user_data * 100, IO_LEN)) {
				ok++;
			} else if (cqe.res == -EBADF) {
				ebadf++;
			} else {
				r->bad++;
				note_bad(CAPCHAN_OP_READ, cqe.res);
			}
		}
		r->batches++;
	}
	atomic_store(&r->stop, true);
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, r->bad) BAD_LOG;
	EXPECT_EQ(i * RI_BATCH, ok + ebadf);
	EXPECT_LE(RI_REOPENS, r->reopened);
	TH_LOG("%d exact, %d -EBADF, %d reopened", ok, ebadf, r->reopened);
	EXPECT_LT(0, ok);
	EXPECT_EQ(0, inv_close(ch->fd, atomic_load(&r->h)));
	EXPECT_EQ(0, inv_close(ch->fd, r->dh));
	EXPECT_EQ(1, fdinfo_num(ch->fd, "caps"));
	free(r);
}

TEST_F_TIMEOUT(attack, ring_vs_invoke_close, 600)
{
	ri_run(_metadata, &self->ch, self->fh, self->t.jail_fd, self->t.data,
	       false);
	EXPECT_LEFT(1, 0, 0);
}

/* The same with the poll thread consuming the SQ. */
TEST_F_TIMEOUT(attack, sqpoll_vs_invoke_close, 600)
{
	struct capchan_params p;
	struct capchan ch2;
	int fd, h;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	p.sq_thread_idle = 20;
	ASSERT_EQ(0, capchan_queue_init_params(8, &ch2, &p));
	fd = openat(self->t.jail_fd, "file", O_RDONLY);
	ASSERT_LE(0, fd);
	h = cc_grant(ch2.fd, fd, FILE_RIGHTS, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));
	ri_run(_metadata, &ch2, h, self->t.jail_fd, self->t.data, true);
	capchan_queue_exit(&ch2);
	EXPECT_LEFT(1, 0, 0);
}

/* ---- close_channel_vs_invoke --------------------------------------------- */

#define CC_MIN_OPS	200	/* each thread's, before the channel goes */

struct cv {
	int fd;
	uint32_t fh;
	const unsigned char *data;
	_Atomic int bad, ops, gone;
};

/* READ, DERIVE + CLOSE until the channel fd is gone (-EBADF from READ). */
static void *cv_main(void *arg)
{
	struct cv *c = arg;
	unsigned char buf[IO_LEN];
	int k, res, g;

	for (k = 0;; k++) {
		uint64_t off = (k * 41u) % (CC_FILE_LEN - IO_LEN);

		res = inv_read(c->fd, c->fh, buf, off);
		if (res == -EBADF)
			break;
		if (res != IO_LEN || memcmp(buf, c->data + off, IO_LEN)) {
			c->bad++;
			note_bad(CAPCHAN_OP_READ, res);
			break;
		}
		g = inv_derive(c->fd, c->fh, R_READ);
		if (g == -EBADF)
			break;
		if (!cc_handle_ok(g)) {
			c->bad++;
			note_bad(CAPCHAN_OP_DERIVE, g);
			break;
		}
		res = inv_close(c->fd, g);
		if (res == -EBADF)
			break;
		if (res) {
			c->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
			break;
		}
		c->ops++;
	}
	c->gone++;
	return NULL;
}

/*
 * The channel's fd is closed while threads INVOKE on it: each op either
 * completes exactly or the fd is gone (-EBADF); the channel is released
 * once the last one returns, and everything it held is uncharged.
 */
TEST_F_TIMEOUT(attack, close_channel_vs_invoke, 300)
{
	struct cv *c = calloc(1, sizeof(*c));
	pthread_t th[NR_THREADS];
	int i, fd, h;

	ASSERT_NE(NULL, c);
	c->fd = cc_open_dev();
	ASSERT_LE(0, c->fd);
	fd = openat(self->t.jail_fd, "file", O_RDONLY);
	ASSERT_LE(0, fd);
	h = cc_grant(c->fd, fd, FILE_RIGHTS, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));
	c->fh = h;
	c->data = self->t.data;
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, cv_main, c));
	while (atomic_load(&c->ops) < NR_THREADS * CC_MIN_OPS &&
	       !atomic_load(&c->bad) && !atomic_load(&c->gone))
		sched_yield();
	/* nothing else opens a file meanwhile: the number is not reused */
	ASSERT_EQ(0, close(c->fd));
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	EXPECT_EQ(0, c->bad) BAD_LOG;
	EXPECT_EQ(NR_THREADS, c->gone);
	EXPECT_LE(NR_THREADS * CC_MIN_OPS, c->ops);
	/* the released channel's capabilities and file are uncharged */
	EXPECT_LEFT(1, 0, 0);
	free(c);
}

/* ---- fork_shared ---------------------------------------------------------- */

#define FS_OPS		400

struct fs {
	int fd;
	uint32_t fh;
	_Atomic int bad;
};

static void *fs_main(void *arg)
{
	struct fs *f = arg;
	unsigned char buf[IO_LEN];
	int i, h, res;

	for (i = 0; i < FS_OPS; i++) {
		h = inv_derive(f->fd, f->fh, R_READ | R_SEEK);
		if (!cc_handle_ok(h)) {
			f->bad++;
			note_bad(CAPCHAN_OP_DERIVE, h);
			break;
		}
		res = inv_read(f->fd, h, buf, i % 100);
		if (res != IO_LEN) {
			f->bad++;
			note_bad(CAPCHAN_OP_READ, res);
		}
		res = inv_close(f->fd, h);
		if (res) {
			f->bad++;
			note_bad(CAPCHAN_OP_CLOSE, res);
		}
	}
	return NULL;
}

/* Two threads in this process on the channel; 0 if all went exactly. */
static int fs_run(int fd, uint32_t fh)
{
	struct fs f = { .fd = fd, .fh = fh };
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, fs_main, &f))
			return -1;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return f.bad;
}

TEST_F_TIMEOUT(attack, fork_shared, 600)
{
	pid_t pid;
	int bad;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(fs_run(self->ch.fd, self->fh) ? 1 : 0);
	bad = fs_run(self->ch.fd, self->fh);
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ(0, bad) BAD_LOG;
	EXPECT_LEFT(1, 0, 0);
}

TEST_HARNESS_MAIN
