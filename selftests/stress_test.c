// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress, each case a fixed amount of work:
 *
 *  - one ring shared by 8 threads, or by 4 processes of 2 threads, all
 *    pushing SQEs, calling ENTER and reaping each other's CQEs, with INVOKE
 *    in between: every SQE gets exactly one CQE with its user_data (a
 *    bitmap per worker), and every result is the op's exact success value;
 *  - REVOKE racing READ, WRITE, ring READ, DERIVE, REVOKE, EXPORT and
 *    IMPORT in other threads or processes, on one shared channel and on
 *    channels of their own: each result is the op's success value or
 *    -EKEYREVOKED, never a success for an op begun after REVOKE returned,
 *    and REVOKE's count is within what was made;
 *  - close() of the channel racing ENTER in another thread, and close()
 *    plus munmap() of a channel another thread is waiting on;
 *  - exec of /proc/self/exe with channels open: what an exec'd program
 *    still has (a channel without O_CLOEXEC, its handles, its rings once
 *    mapped again, an inherited capability file) and what it has not (the
 *    O_CLOEXEC channel and capability file, the old mappings, revoked and
 *    closed handles, GRANT after SEAL); and exec while other threads have
 *    ops in flight on the channel;
 *  - delete_module("capchan") refused with -EWOULDBLOCK again and again
 *    while channels are opened, used and closed, the load undisturbed.
 *
 * fork_test covers the plain cases (one child, INVOKE from many threads,
 * separate rings per thread); this file makes them race.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* The exec'd copy of this program finds its orders here. */
#define EXEC_ENV_MODE	"CAPCHAN_STRESS_EXEC"
#define EXEC_ENV_ARGS	"CAPCHAN_STRESS_ARGS"

/*
 * scratch: READ and WRITE target, SCR_LEN bytes of pattern seed 7 that
 * writes never change (each writes the pattern's own bytes back)
 */
#define SCR_SEED	7
#define SCR_LEN		(16 * 4096)
#define IO_LEN		64

static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Zeroed memory every process forked afterwards shares; NULL on failure. */
static void *shm_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int try_unload(void)
{
	return syscall(SYS_delete_module, "capchan", O_NONBLOCK) ? -errno : 0;
}

static long long fdinfo_num(int fd, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

/* The base tree plus jail/scratch; 0 or -errno. */
static int make_tree(struct cc_tree *t, const char *tag, unsigned char *pat)
{
	int ret = cc_tree_create(t, tag);

	if (ret)
		return ret;
	cc_fill_pattern(pat, SCR_LEN, SCR_SEED);
	return cc_put_file(t->jail_fd, "scratch", pat, SCR_LEN, 0644);
}

/* ------------------------------------------------------------------ */
/* One ring, many threads and processes                               */
/* ------------------------------------------------------------------ */
/*
 * The ring layer is not thread safe, so the workers serialise what user
 * space owns (the SQ tail, the CQ head, the records below) with one
 * process-shared mutex, and call ENTER without it: any ENTER may run
 * anyone's SQEs, any worker reaps anyone's CQEs and files each by its
 * user_data (worker << 32 | sequence).  Every buffer an SQE names is in
 * memory shared at the same address by every worker, since the SQE runs
 * in whichever process called the ENTER that consumed it.
 */
#define SR_MAXW		8
#define SR_BATCH	8	/* SQEs per batch, at most */
#define SR_ITERS	200
#define SR_MAXSEQ	(SR_ITERS * SR_BATCH)
#define SR_SQ		(SR_MAXW * SR_BATCH)	/* room for every batch at once */
#define SR_DRAIN_S	30	/* for CQEs of ops other ENTERs run */

enum sr_kind { SK_NOP, SK_READ, SK_STAT, SK_WRITE, SK_OPEN, SK_CREAD, SK_CCLOSE };

struct sr_slot {
	uint32_t kind;
	uint32_t off;
	int32_t res;
	uint32_t done;
	struct capchan_stat st;
	unsigned char buf[IO_LEN];
};

struct sr_worker {
	atomic_uint outstanding;	/* pushed, CQE not reaped yet */
	/* under the mutex: */
	uint32_t pushed;
	uint32_t dups;
	uint64_t seen[SR_MAXSEQ / 64];
	struct sr_slot slot[SR_BATCH];
	/* the owner's: */
	unsigned long ok, invokes, bad;
	int first_where;
	long first_res;
};

struct sr_ctx {
	pthread_mutex_t mu;
	struct capchan ch;
	uint32_t dh, fh;
	int nw;
	unsigned long cqes, bogus;	/* under the mutex */
	struct sr_worker w[SR_MAXW];
	unsigned char pat[SCR_LEN];
};

struct sr_arg {
	struct sr_ctx *x;
	int wi;
};

static void sr_bad(struct sr_worker *w, int where, long res)
{
	if (!w->bad++) {
		w->first_where = where;
		w->first_res = res;
	}
}

/* File every CQE there is with its owner.  Mutex held. */
static void sr_reap_locked(struct sr_ctx *x)
{
	struct capchan_cqe c;

	while (cc_cq_pop(&x->ch, &c) == 0) {
		uint32_t wi = (uint32_t)(c.user_data >> 32);
		uint32_t seq = (uint32_t)c.user_data;
		struct sr_worker *w;

		x->cqes++;
		if (wi >= (uint32_t)x->nw || seq >= x->w[wi].pushed) {
			x->bogus++;
			continue;
		}
		w = &x->w[wi];
		if (w->seen[seq / 64] & (1ULL << (seq % 64))) {
			w->dups++;
			continue;
		}
		w->seen[seq / 64] |= 1ULL << (seq % 64);
		w->slot[seq % SR_BATCH].res = c.res;
		w->slot[seq % SR_BATCH].done = 1;
		atomic_fetch_sub(&w->outstanding, 1);
	}
}

/* One SQE for a slot of kind k, its buffers in the slot. */
static void sr_prep(struct sr_ctx *x, struct sr_slot *sl, int wi, uint32_t seq,
		    uint32_t *rs, struct capchan_sqe *s)
{
	switch (sl->kind) {
	case SK_NOP:
		capchan_prep_nop(s);
		break;
	case SK_READ:
		sl->off = rnd(rs) % (SCR_LEN - IO_LEN);
		capchan_prep_read(s, x->fh, sl->buf, IO_LEN, sl->off);
		break;
	case SK_STAT:
		capchan_prep_stat(s, x->fh, &sl->st);
		break;
	case SK_WRITE:
		/* the worker's own page; the pattern's bytes go back */
		sl->off = (uint32_t)wi * 4096 + (seq % 64) * IO_LEN;
		capchan_prep_write(s, x->fh, x->pat + sl->off, IO_LEN, sl->off);
		break;
	case SK_OPEN:
		capchan_prep_open(s, x->dh, "hello", 0, 0, R_READ);
		capchan_sqe_set_flags(s, CAPCHAN_SQE_LINK);
		break;
	case SK_CREAD:
		capchan_prep_read(s, CAPCHAN_HANDLE_CHAIN, sl->buf, IO_LEN,
				  CAPCHAN_OFF_CURRENT);
		capchan_sqe_set_flags(s, CAPCHAN_SQE_LINK);
		break;
	case SK_CCLOSE:
		capchan_prep_close(s, CAPCHAN_HANDLE_CHAIN);
		break;
	}
	capchan_sqe_set_data64(s, (uint64_t)wi << 32 | seq);
}

/* Is a completed slot's result exactly what its op gives? */
static bool sr_result_ok(struct sr_ctx *x, const struct sr_slot *sl)
{
	switch (sl->kind) {
	case SK_NOP:
	case SK_CCLOSE:
		return sl->res == 0;
	case SK_READ:
		return sl->res == IO_LEN && !memcmp(sl->buf, x->pat + sl->off, IO_LEN);
	case SK_STAT:
		return sl->res == 0 && sl->st.size == SCR_LEN;
	case SK_WRITE:
		return sl->res == IO_LEN;
	case SK_OPEN:
		return cc_handle_ok(sl->res);
	case SK_CREAD:
		return sl->res == (int)strlen(CC_HELLO) &&
		       !memcmp(sl->buf, CC_HELLO, strlen(CC_HELLO));
	}
	return false;
}

/* INVOKE on the same channel: DERIVE, READ, STAT, CLOSE, exact. */
static void sr_invoke_round(struct sr_ctx *x, struct sr_worker *w, uint32_t *rs)
{
	unsigned char b[IO_LEN];
	struct capchan_stat st;
	uint32_t off = rnd(rs) % (SCR_LEN - IO_LEN);
	int d = capchan_derive(&x->ch, x->fh, R_READ | R_SEEK | R_STAT);
	long r;

	w->invokes++;
	if (!cc_handle_ok(d)) {
		sr_bad(w, 100, d);
		return;
	}
	r = capchan_read(&x->ch, d, b, IO_LEN, off);
	if (r != IO_LEN || memcmp(b, x->pat + off, IO_LEN))
		sr_bad(w, 101, r);
	r = capchan_stat(&x->ch, d, &st);
	if (r || st.rights != (R_READ | R_SEEK | R_STAT))
		sr_bad(w, 102, r);
	r = capchan_close(&x->ch, d);
	if (r)
		sr_bad(w, 103, r);
}

static void *sr_worker_fn(void *arg)
{
	struct sr_arg *a = arg;
	struct sr_ctx *x = a->x;
	struct sr_worker *w = &x->w[a->wi];
	uint32_t rs = 0x9e3779b9u * (a->wi + 1);

	for (int it = 0; it < SR_ITERS; it++) {
		struct capchan_sqe s[SR_BATCH];
		uint32_t base;
		int n = 0;
		long r;

		/* a batch: single ops and OPEN+READ+CLOSE chains */
		while (n < SR_BATCH) {
			uint32_t k = rnd(&rs) % (SK_WRITE + 2);

			if (k > SK_WRITE) {
				if (n + 3 > SR_BATCH)
					break;
				w->slot[(w->pushed + n) % SR_BATCH].kind = SK_OPEN;
				w->slot[(w->pushed + n + 1) % SR_BATCH].kind = SK_CREAD;
				w->slot[(w->pushed + n + 2) % SR_BATCH].kind = SK_CCLOSE;
				n += 3;
			} else {
				w->slot[(w->pushed + n) % SR_BATCH].kind = k;
				n++;
			}
			if (rnd(&rs) % 3 == 0)
				break;
		}
		pthread_mutex_lock(&x->mu);
		base = w->pushed;
		for (int i = 0; i < n; i++) {
			struct sr_slot *sl = &w->slot[(base + i) % SR_BATCH];

			sl->done = 0;
			sl->res = INT32_MIN;
			sr_prep(x, sl, a->wi, base + i, &rs, &s[i]);
			cc_sq_push(&x->ch, &s[i]);
		}
		w->pushed = base + n;
		atomic_fetch_add(&w->outstanding, n);
		pthread_mutex_unlock(&x->mu);

		/* others may have consumed some of ours, or we some of theirs */
		r = cc_enter(x->ch.fd, n, 0, 0);
		if (r < 0 || r > n)
			sr_bad(w, 1, r);
		for (double end = cc_now() + SR_DRAIN_S; ; ) {
			unsigned int pend;

			pthread_mutex_lock(&x->mu);
			sr_reap_locked(x);
			pthread_mutex_unlock(&x->mu);
			if (!atomic_load(&w->outstanding))
				break;
			/*
			 * Ours are still in the SQ (pushed by us, behind SQEs
			 * whose owner has not entered yet) or being run by
			 * another ENTER, which holds no lock while they run:
			 * with the SQ seen empty they need no ENTER of ours,
			 * only that one to finish (bounded: a CQE that never
			 * comes is a failure).
			 */
			pend = __atomic_load_n(x->ch.sq.ktail, __ATOMIC_ACQUIRE) -
			       __atomic_load_n(x->ch.sq.khead, __ATOMIC_ACQUIRE);
			if (!pend) {
				if (cc_now() > end) {
					sr_bad(w, 3, atomic_load(&w->outstanding));
					break;
				}
				usleep(100);
				continue;
			}
			r = cc_enter(x->ch.fd, pend, 0, 0);
			if (r < 0 || r > SR_SQ) {
				sr_bad(w, 2, r);
				break;
			}
		}
		for (int i = 0; i < n; i++) {
			struct sr_slot *sl = &w->slot[(base + i) % SR_BATCH];

			if (!sl->done || !sr_result_ok(x, sl))
				sr_bad(w, 10 + (int)sl->kind, sl->res);
			else
				w->ok++;
		}
		if (it % 2 == 0)
			sr_invoke_round(x, w, &rs);
	}
	return NULL;
}

FIXTURE(shring) {
	struct cc_tree t;
	struct sr_ctx *x;
};

FIXTURE_VARIANT(shring) {
	int procs;		/* 0: threads of the test process */
	int threads;		/* per process */
};

FIXTURE_VARIANT_ADD(shring, threads8) { .procs = 0, .threads = 8 };
FIXTURE_VARIANT_ADD(shring, procs4x2) { .procs = 4, .threads = 2 };

FIXTURE_SETUP(shring)
{
	pthread_mutexattr_t ma;
	struct sr_ctx *x;
	int h;

	self->x = x = shm_alloc(sizeof(*x));
	ASSERT_NE(NULL, x);
	ASSERT_EQ(0, make_tree(&self->t, "shring", x->pat));
	ASSERT_EQ(0, pthread_mutexattr_init(&ma));
	ASSERT_EQ(0, pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
	ASSERT_EQ(0, pthread_mutex_init(&x->mu, &ma));
	ASSERT_EQ(0, capchan_queue_init(SR_SQ, &x->ch, 0));
	ASSERT_EQ(SR_SQ, x->ch.sq.ring_entries);
	h = capchan_grant(&x->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	x->dh = h;
	h = capchan_open_beneath(&x->ch, x->dh, "scratch", 0, 0,
				 R_READ | R_WRITE | R_SEEK | R_STAT | R_DERIVE);
	ASSERT_LT(0, h);
	x->fh = h;
	x->nw = (variant->procs ? variant->procs : 1) * variant->threads;
	ASSERT_GE(SR_MAXW, x->nw);
}

FIXTURE_TEARDOWN(shring)
{
	if (self->x) {
		capchan_queue_exit(&self->x->ch);
		munmap(self->x, sizeof(*self->x));
	}
	cc_tree_destroy(&self->t);
}

/* Run threads workers, numbered from first, and wait for them. */
static int sr_run_threads(struct sr_ctx *x, int first, int threads)
{
	pthread_t th[SR_MAXW];
	struct sr_arg a[SR_MAXW];
	int ret = 0;

	for (int i = 0; i < threads; i++) {
		a[i] = (struct sr_arg){ .x = x, .wi = first + i };
		if (pthread_create(&th[i], NULL, sr_worker_fn, &a[i]))
			return -EAGAIN;
	}
	for (int i = 0; i < threads; i++)
		if (pthread_join(th[i], NULL))
			ret = -EINVAL;
	return ret;
}

TEST_F_TIMEOUT(shring, every_cqe_once, 60)
{
	struct sr_ctx *x = self->x;
	unsigned long total = 0;
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	unsigned char *now = malloc(SCR_LEN + 1);
	pid_t pid[SR_MAXW];

	ASSERT_NE(NULL, fi);
	ASSERT_NE(NULL, now);
	if (!variant->procs) {
		ASSERT_EQ(0, sr_run_threads(x, 0, variant->threads));
	} else {
		for (int p = 0; p < variant->procs; p++) {
			pid[p] = fork();
			ASSERT_LE(0, pid[p]);
			if (pid[p] == 0)
				_exit(sr_run_threads(x, p * variant->threads,
						     variant->threads) ? 1 : 0);
		}
		for (int p = 0; p < variant->procs; p++) {
			EXPECT_EQ(0, cc_wait_child(pid[p])) TH_LOG("process %d", p);
		}
	}
	for (int i = 0; i < x->nw; i++) {
		struct sr_worker *w = &x->w[i];
		unsigned int seen = 0;

		for (unsigned int j = 0; j < SR_MAXSEQ / 64; j++)
			seen += __builtin_popcountll(w->seen[j]);
		EXPECT_EQ(0, w->bad) TH_LOG("worker %d: first bad at %d: %ld", i,
					    w->first_where, w->first_res);
		EXPECT_EQ(0, w->dups) TH_LOG("worker %d", i);
		EXPECT_EQ(w->pushed, seen) TH_LOG("worker %d: CQEs lost", i);
		EXPECT_EQ(0, atomic_load(&w->outstanding));
		EXPECT_EQ(w->pushed, w->ok);
		EXPECT_EQ(SR_ITERS / 2, w->invokes);
		total += w->pushed;
	}
	EXPECT_EQ(0, x->bogus);
	EXPECT_EQ(total, x->cqes);
	/* nothing left in either ring, and the module agrees */
	EXPECT_EQ(*x->ch.sq.ktail, __atomic_load_n(x->ch.sq.khead, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0, cc_cq_pending(&x->ch));
	ASSERT_EQ(0, cc_read_fdinfo(x->ch.fd, fi));
	EXPECT_EQ((uint32_t)total, (uint32_t)fi->sq_head);
	EXPECT_EQ((uint32_t)total, (uint32_t)fi->sq_tail);
	EXPECT_EQ((uint32_t)total, (uint32_t)fi->cq_tail);
	EXPECT_EQ(2, fi->caps);		/* every derived and opened one closed */
	/* the writes put the pattern's own bytes back */
	EXPECT_EQ(SCR_LEN, cc_get_file(self->t.jail_fd, "scratch", (char *)now,
				       SCR_LEN + 1));
	EXPECT_EQ(0, memcmp(now, x->pat, SCR_LEN));
	free(now);
	free(fi);
}

/* ------------------------------------------------------------------ */
/* REVOKE racing everything                                            */
/* ------------------------------------------------------------------ */
/*
 * Each round: M = DERIVE of the scratch file's capability F in the shared
 * channel c0; S = DERIVE of M, also in c0; E = EXPORT of M (a child of M)
 * to capfd.  Workers on c0 DERIVE from S; workers with channels of their
 * own IMPORT capfd.  Then each, in a loop: READ, WRITE, ring READ (own
 * channel), DERIVE d, DERIVE d2 from d, REVOKE d, EXPORT d, IMPORT that,
 * READ it, CLOSE all.  The test REVOKEs M meanwhile.  Every result is the
 * op's success value or -EKEYREVOKED, and -EKEYREVOKED for each op begun
 * after REVOKE returned; REVOKE M counts at least S, E and the pins (one
 * DERIVE per worker kept to the end) and at most those plus every DERIVE
 * and EXPORT that succeeded.
 */
#define RV_MAXW		6
#define RV_ROUNDS	6
#define RV_RIGHTS	(R_READ | R_WRITE | R_SEEK | R_STAT | R_DERIVE | \
			 R_DELEGATE | R_REVOKE)

struct rv_worker {
	atomic_ulong loops, loops_after;
	unsigned long made;		/* DERIVEs and EXPORTs that succeeded */
	unsigned long ok, revoked, bad;
	int first_where;
	long first_res;
	int pin_ok;
};

struct rv_ctx {
	atomic_int revoke_done, stop;
	struct capchan c0;
	uint32_t f, m, s;		/* s: the shared workers' parent */
	int capfd;
	int nw, shared_w;		/* workers 0..shared_w-1 use c0 */
	struct rv_worker w[RV_MAXW];
	unsigned char pat[SCR_LEN];
};

struct rv_arg {
	struct rv_ctx *x;
	int wi;
};

static void rv_bad(struct rv_worker *w, int where, long res)
{
	if (!w->bad++) {
		w->first_where = where;
		w->first_res = res;
	}
}

/*
 * One result: ok says it is the op's success value; after that the op
 * began once REVOKE M had returned.
 */
static bool rv_expect(struct rv_worker *w, int where, long res, bool ok,
		      bool after)
{
	if (ok && !after) {
		w->ok++;
		return true;
	}
	if (res == -EKEYREVOKED) {
		w->revoked++;
		return false;
	}
	rv_bad(w, where + (after ? 1000 : 0), res);
	return false;
}

#define RV_AFTER(x)	(atomic_load(&(x)->revoke_done) != 0)

/* READ through the channel's own ring; the CQE's result. */
static long rv_ring_read(struct capchan *ch, uint32_t h, void *buf, uint32_t off,
			 uint64_t ud)
{
	struct capchan_sqe s;
	struct capchan_cqe c;
	long r;

	capchan_prep_read(&s, h, buf, IO_LEN, off);
	s.user_data = ud;
	cc_sq_push(ch, &s);
	r = cc_enter(ch->fd, 1, 1, CAPCHAN_ENTER_GETEVENTS);
	if (r != 1)
		return -10000 + r;
	if (cc_cq_pop(ch, &c) || c.user_data != ud || cc_cq_pending(ch))
		return -20000;
	return c.res;
}

static void rv_loop_once(struct rv_ctx *x, struct rv_worker *w, struct capchan *ch,
			 bool shared, uint32_t *rs, uint64_t *ud)
{
	unsigned char b[IO_LEN];
	uint32_t off = rnd(rs) % (SCR_LEN / 2 - IO_LEN);
	/* writes go to the upper half, each worker its own page */
	uint32_t woff = SCR_LEN / 2 + (uint32_t)(w - x->w) * 4096 + rnd(rs) % 64 * IO_LEN;
	bool after = RV_AFTER(x), loop_after = after;
	long h, r, d, d2, e, i;

	h = shared ? capchan_derive(ch, x->s, RV_RIGHTS) : capchan_import(ch, x->capfd);
	if (!rv_expect(w, 1, h, cc_handle_ok(h), after))
		goto out;
	if (shared)
		w->made++;
	after = RV_AFTER(x);
	r = capchan_read(ch, h, b, IO_LEN, off);
	rv_expect(w, 2, r, r == IO_LEN && !memcmp(b, x->pat + off, IO_LEN), after);
	after = RV_AFTER(x);
	r = capchan_write(ch, h, x->pat + woff, IO_LEN, woff);
	rv_expect(w, 3, r, r == IO_LEN, after);
	if (!shared) {
		after = RV_AFTER(x);
		memset(b, 0, sizeof(b));
		r = rv_ring_read(ch, h, b, off, ++*ud);
		rv_expect(w, 4, r, r == IO_LEN && !memcmp(b, x->pat + off, IO_LEN),
			  after);
	}
	after = RV_AFTER(x);
	d = capchan_derive(ch, h, RV_RIGHTS);
	if (rv_expect(w, 5, d, cc_handle_ok(d), after)) {
		w->made++;
		after = RV_AFTER(x);
		d2 = capchan_derive(ch, d, R_READ | R_SEEK);
		if (rv_expect(w, 6, d2, cc_handle_ok(d2), after))
			w->made++;
		/*
		 * d's one child is d2; a revoked d2 means a revoked d.  0: the
		 * REVOKE of M marked d after this one began and walked d's
		 * subtree before it: d is revoked now.
		 */
		after = RV_AFTER(x);
		r = capchan_revoke(ch, d);
		if (r == 0 && !after && cc_handle_ok(d2)) {
			r = capchan_read(ch, d, b, IO_LEN, off);
			if (r != -EKEYREVOKED)
				rv_bad(w, 7, 10000 + r);
		}
		rv_expect(w, 7, r, cc_handle_ok(d2) && r == 1, after);
		after = RV_AFTER(x);
		e = capchan_export(ch, d, R_READ | R_SEEK);
		if (rv_expect(w, 8, e, e >= 0, after)) {
			w->made++;
			after = RV_AFTER(x);
			i = capchan_import(ch, (int)e);
			close((int)e);
			if (rv_expect(w, 9, i, cc_handle_ok(i), after)) {
				after = RV_AFTER(x);
				r = capchan_read(ch, i, b, IO_LEN, off);
				rv_expect(w, 10, r, r == IO_LEN &&
					  !memcmp(b, x->pat + off, IO_LEN), after);
				if (capchan_close(ch, i))
					rv_bad(w, 11, i);
			}
		}
		if (cc_handle_ok(d2) && capchan_close(ch, d2))
			rv_bad(w, 12, d2);
		if (capchan_close(ch, d))
			rv_bad(w, 13, d);
	}
	if (capchan_close(ch, h))
		rv_bad(w, 14, h);
out:
	atomic_fetch_add(&w->loops, 1);
	if (loop_after)
		atomic_fetch_add(&w->loops_after, 1);
}

static void *rv_worker_fn(void *arg)
{
	struct rv_arg *a = arg;
	struct rv_ctx *x = a->x;
	struct rv_worker *w = &x->w[a->wi];
	bool shared = a->wi < x->shared_w;
	uint32_t rs = 0x51ed27u * (a->wi + 3);
	struct capchan own, *ch = &x->c0;
	uint64_t ud = 0;
	long h0 = 0, pin;
	char b[IO_LEN];

	if (!shared) {
		if (capchan_queue_init(4, &own, 0)) {
			rv_bad(w, 50, -1);
			return NULL;
		}
		ch = &own;
		h0 = capchan_import(ch, x->capfd);
		if (!cc_handle_ok(h0)) {
			rv_bad(w, 51, h0);
			goto out;
		}
	}
	/* the pin: a child of the subtree kept open to the end */
	pin = capchan_derive(ch, shared ? x->s : (uint32_t)h0, R_READ | R_SEEK);
	if (!cc_handle_ok(pin)) {
		rv_bad(w, 52, pin);
		goto out;
	}
	w->pin_ok = 1;
	while (!atomic_load(&x->stop))
		rv_loop_once(x, w, ch, shared, &rs, &ud);
	/* REVOKE M reached the pin, wherever it is */
	if (capchan_read(ch, pin, b, 4, 0) != -EKEYREVOKED)
		rv_bad(w, 53, 0);
	if (capchan_close(ch, pin))
		rv_bad(w, 54, pin);
out:
	if (!shared) {
		if (h0 > 0 && capchan_close(ch, h0))
			rv_bad(w, 55, h0);
		if (fdinfo_num(ch->fd, "caps") != 0)
			rv_bad(w, 56, fdinfo_num(ch->fd, "caps"));
		capchan_queue_exit(&own);
	}
	return NULL;
}

FIXTURE(revoke_race) {
	struct cc_tree t;
	struct rv_ctx *x;
};

FIXTURE_VARIANT(revoke_race) {
	int procs;		/* workers are processes (else threads) */
};

FIXTURE_VARIANT_ADD(revoke_race, threads) { .procs = 0 };
FIXTURE_VARIANT_ADD(revoke_race, procs) { .procs = 1 };

FIXTURE_SETUP(revoke_race)
{
	struct rv_ctx *x;
	int h;

	self->x = x = shm_alloc(sizeof(*x));
	ASSERT_NE(NULL, x);
	x->c0.fd = -1;
	ASSERT_EQ(0, make_tree(&self->t, "revoke_race", x->pat));
	ASSERT_EQ(0, capchan_queue_init(8, &x->c0, 0));
	h = capchan_grant(&x->c0, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	h = capchan_open_beneath(&x->c0, h, "scratch", 0, 0, RV_RIGHTS);
	ASSERT_LT(0, h);
	x->f = h;
	x->nw = RV_MAXW;
	x->shared_w = 2;
}

FIXTURE_TEARDOWN(revoke_race)
{
	if (self->x) {
		capchan_queue_exit(&self->x->c0);
		munmap(self->x, sizeof(*self->x));
	}
	cc_tree_destroy(&self->t);
}

/* Wait until every worker's counter (loops or loops_after) reached n. */
static bool rv_wait_loops(struct rv_ctx *x, bool after, unsigned long n)
{
	double end = cc_now() + 10;

	while (cc_now() < end) {
		int i;

		for (i = 0; i < x->nw; i++) {
			struct rv_worker *w = &x->w[i];

			if (w->bad || (after ? atomic_load(&w->loops_after) :
				       atomic_load(&w->loops)) < n)
				break;
		}
		if (i == x->nw || x->w[i].bad)
			return i == x->nw;
		usleep(1000);
	}
	return false;
}

TEST_F_TIMEOUT(revoke_race, ops_begun_after_revoke_fail, 60)
{
	struct rv_ctx *x = self->x;
	long long caps0 = fdinfo_num(x->c0.fd, "user-caps");
	uint32_t rs = 12345;

	ASSERT_LT(0, caps0);
	for (int round = 0; round < RV_ROUNDS; round++) {
		pthread_t th[RV_MAXW];
		struct rv_arg a[RV_MAXW];
		pid_t pid[RV_MAXW];
		unsigned long made = 0;
		char b[8];
		long m, n;

		memset(x->w, 0, sizeof(x->w));
		atomic_store(&x->revoke_done, 0);
		atomic_store(&x->stop, 0);
		m = capchan_derive(&x->c0, x->f, RV_RIGHTS);
		ASSERT_LT(0, m);
		x->m = m;
		m = capchan_derive(&x->c0, x->m, RV_RIGHTS);
		ASSERT_LT(0, m);
		x->s = m;
		x->capfd = capchan_export(&x->c0, x->m, RV_RIGHTS);
		ASSERT_LE(0, x->capfd);
		for (int i = 0; i < x->nw; i++) {
			a[i] = (struct rv_arg){ .x = x, .wi = i };
			if (variant->procs) {
				pid[i] = fork();
				ASSERT_LE(0, pid[i]);
				if (pid[i] == 0) {
					rv_worker_fn(&a[i]);
					_exit(0);
				}
			} else {
				ASSERT_EQ(0, pthread_create(&th[i], NULL,
							    rv_worker_fn, &a[i]));
			}
		}
		/* all at work, then REVOKE at a varying moment */
		EXPECT_TRUE(rv_wait_loops(x, false, 2));
		usleep(rnd(&rs) % 4000);
		n = capchan_revoke(&x->c0, x->m);
		atomic_store(&x->revoke_done, 1);
		EXPECT_TRUE(rv_wait_loops(x, true, 2));
		atomic_store(&x->stop, 1);
		for (int i = 0; i < x->nw; i++) {
			if (variant->procs) {
				EXPECT_EQ(0, cc_wait_child(pid[i]));
			} else {
				pthread_join(th[i], NULL);
			}
		}
		for (int i = 0; i < x->nw; i++) {
			struct rv_worker *w = &x->w[i];

			EXPECT_EQ(0, w->bad) TH_LOG("round %d worker %d: first bad at %d: %ld",
						    round, i, w->first_where,
						    w->first_res);
			EXPECT_EQ(1, w->pin_ok);
			EXPECT_LT(0, w->revoked);
			made += w->made;
		}
		/* S, E and the pins at least; at most those and all made */
		EXPECT_LE(2 + x->nw, n);
		EXPECT_GE((long)(2 + x->nw + made), n);
		/* M itself stays valid and has nothing left below it */
		EXPECT_EQ(8, capchan_read(&x->c0, x->m, b, 8, 0));
		EXPECT_EQ(0, capchan_revoke(&x->c0, x->m));
		EXPECT_EQ(-EKEYREVOKED, capchan_import(&x->c0, x->capfd));
		close(x->capfd);
		EXPECT_EQ(-EKEYREVOKED, capchan_derive(&x->c0, x->s, R_READ));
		EXPECT_EQ(0, capchan_close(&x->c0, x->s));
		EXPECT_EQ(0, capchan_close(&x->c0, x->m));
		/* every capability made in the round is gone */
		EXPECT_EQ(2, fdinfo_num(x->c0.fd, "caps"));
		EXPECT_EQ(caps0, fdinfo_num(x->c0.fd, "user-caps"));
		if (_metadata->passed == 0)
			break;
	}
}

/* ------------------------------------------------------------------ */
/* close() racing ENTER                                                */
/* ------------------------------------------------------------------ */

struct ce_ctx {
	struct capchan ch;
	uint32_t fh;
	const unsigned char *data;	/* jail/file */
	atomic_int closed;
	unsigned long consumed, reaped, bad, batches, after_close;
	long last;			/* the ENTER result that ended it */
	unsigned int unconsumed;	/* SQEs of that ENTER */
	int first_where;
	long first_res;
};

static void ce_bad(struct ce_ctx *c, int where, long res)
{
	if (!c->bad++) {
		c->first_where = where;
		c->first_res = res;
	}
}

/*
 * The ring's owner: batches of NOP and READ with increasing user_data,
 * each ENTER waiting for its batch.  It ends at the first ENTER the close
 * made fail (-EBADF); until then each ENTER consumed its batch.
 */
static void *ce_submitter(void *arg)
{
	struct ce_ctx *c = arg;
	unsigned char buf[4][IO_LEN];
	uint32_t rs = 777;
	uint64_t ud = 0;

	for (;;) {
		unsigned int k = 1 + rnd(&rs) % 4;
		uint64_t base = ud;
		long r;

		for (unsigned int i = 0; i < k; i++) {
			struct capchan_sqe s;

			if (i % 2)
				capchan_prep_read(&s, c->fh, buf[i], IO_LEN, i * IO_LEN);
			else
				capchan_prep_nop(&s);
			s.user_data = ud++;
			cc_sq_push(&c->ch, &s);
		}
		r = cc_enter(c->ch.fd, k, k, CAPCHAN_ENTER_GETEVENTS);
		if (r != (long)k) {
			c->last = r;
			c->unconsumed = k;
			if (r != -EBADF)
				ce_bad(c, 1, r);
			if (!atomic_load(&c->closed))
				ce_bad(c, 2, r);
			return NULL;
		}
		c->consumed += k;
		c->batches++;
		for (unsigned int i = 0; i < k; i++) {
			struct capchan_cqe cq;

			if (cc_cq_pop(&c->ch, &cq)) {
				ce_bad(c, 3, i);
				continue;
			}
			c->reaped++;
			if (cq.user_data != base + i)
				ce_bad(c, 4, (long)cq.user_data);
			else if (i % 2 ? cq.res != IO_LEN ||
					 memcmp(buf[i], c->data + i * IO_LEN, IO_LEN) :
				 cq.res != 0)
				ce_bad(c, 5, cq.res);
		}
		if (cc_cq_pending(&c->ch))
			ce_bad(c, 6, cc_cq_pending(&c->ch));
		/* the close was long done, and ENTER still works */
		if (atomic_load(&c->closed) && ++c->after_close > 1000) {
			ce_bad(c, 7, c->after_close);
			return NULL;
		}
	}
}


FIXTURE(chan) {
	struct cc_tree t;
};

FIXTURE_SETUP(chan)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "stress"));
}

FIXTURE_TEARDOWN(chan)
{
	cc_tree_destroy(&self->t);
}

/*
 * The close comes at a varying moment: before the first ENTER, between
 * two, or while one runs.  An ENTER that began before it finishes its
 * batch (it holds the file); the first one after it fails with -EBADF and
 * consumes nothing.  Every CQE of a consumed SQE was reaped, in order; the
 * rings, still mapped, show exactly the unconsumed batch left in the SQ;
 * the munmap lets go of the channel and of the module.
 */
TEST_F_TIMEOUT(chan, close_races_enter, 60)
{
	enum { ROUNDS = 40 };
	long long base = cc_module_refcnt();
	unsigned long batches = 0;
	uint32_t rs = 4242;

	for (int round = 0; round < ROUNDS; round++) {
		struct ce_ctx c = { .data = self->t.data };
		pthread_t th;
		int h;

		ASSERT_EQ(0, capchan_queue_init(16, &c.ch, 0));
		h = capchan_grant(&c.ch, self->t.jail_fd, R_ALL);
		ASSERT_LT(0, h);
		h = capchan_open_beneath(&c.ch, h, "file", 0, 0, R_READ | R_SEEK);
		ASSERT_LT(0, h);
		c.fh = h;
		ASSERT_EQ(0, pthread_create(&th, NULL, ce_submitter, &c));
		usleep(rnd(&rs) % 3000);
		atomic_store(&c.closed, 1);
		ASSERT_EQ(0, close(c.ch.fd));
		pthread_join(th, NULL);
		EXPECT_EQ(0, c.bad) TH_LOG("round %d: first bad at %d: %ld", round,
					   c.first_where, c.first_res);
		EXPECT_EQ(-EBADF, c.last);
		EXPECT_EQ(c.consumed, c.reaped);
		EXPECT_EQ((uint32_t)c.consumed,
			  __atomic_load_n(c.ch.sq.khead, __ATOMIC_ACQUIRE));
		EXPECT_EQ((uint32_t)(c.consumed + c.unconsumed), *c.ch.sq.ktail);
		EXPECT_EQ(0, cc_cq_pending(&c.ch));
		batches += c.batches;
		if (base >= 0) {
			EXPECT_LT(base, cc_module_refcnt());
		}
		ASSERT_EQ(0, munmap(c.ch.ring_ptr, c.ch.ring_sz));
		if (base >= 0) {
			EXPECT_EQ(base, cc_module_refcnt());
		}
	}
	/* the race was run, not only the close-first case */
	EXPECT_LT(0, batches);
}

/* ------------------------------------------------------------------ */
/* close() and munmap() under a waiter                                 */
/* ------------------------------------------------------------------ */

struct waiter {
	int fd;
	pid_t tid;
	atomic_int done;
	long res;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *waiter_fn(void *arg)
{
	struct waiter *wt = arg;

	wt->tid = (pid_t)syscall(SYS_gettid);
	wt->res = cc_enter(wt->fd, 0, 1, CAPCHAN_ENTER_GETEVENTS);
	atomic_store(&wt->done, 1);
	return NULL;
}

/* The system call a thread is blocked in (/proc/.../syscall), or -1. */
static long thread_syscall(pid_t tid)
{
	char path[64], buf[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * A thread sleeps in ENTER waiting for a CQE that will never come; another
 * closes the fd and unmaps the rings, the last references it holds.  The
 * sleeper's ioctl still holds the channel (and the module): it stays asleep
 * until a signal, answers -EINTR, and only then is the channel released.
 */
TEST_F_TIMEOUT(chan, close_and_unmap_under_waiter, 60)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	long long base = cc_module_refcnt();
	struct waiter wt = { 0 };
	struct capchan ch;
	pthread_t th;
	double end;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));	/* no SA_RESTART */
	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	ASSERT_LT(0, capchan_grant(&ch, self->t.jail_fd, R_ALL));
	wt.fd = ch.fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, waiter_fn, &wt));
	/* asleep in the ioctl */
	end = cc_now() + 20;
	while ((!wt.tid || thread_syscall(wt.tid) != SYS_ioctl) && cc_now() < end)
		usleep(1000);
	ASSERT_EQ(SYS_ioctl, thread_syscall(wt.tid));
	ASSERT_EQ(0, close(ch.fd));
	ASSERT_EQ(0, munmap(ch.ring_ptr, ch.ring_sz));
	usleep(20000);
	EXPECT_EQ(0, atomic_load(&wt.done));
	if (base >= 0) {
		EXPECT_LT(base, cc_module_refcnt());
	}
	end = cc_now() + 20;
	while (!atomic_load(&wt.done) && cc_now() < end) {
		pthread_kill(th, SIGUSR1);
		usleep(5000);
	}
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, wt.res);
	if (base >= 0) {
		EXPECT_EQ(base, cc_module_refcnt());
	}
}

/* ------------------------------------------------------------------ */
/* exec with channels open                                             */
/* ------------------------------------------------------------------ */

/* What the exec'd program is told: fds, handles, the ring layout. */
struct exec_args {
	int keep_fd, gone_fd, capfd_keep, capfd_gone;
	unsigned int ok, rev, closed;
	unsigned int ring_sz, sq_head, sq_tail, sq_mask, sqes;
	unsigned int cq_head, cq_tail, cq_mask, cqes;
};

#define EXEC_ARGS_FMT	"%d %d %d %d %u %u %u %u %u %u %u %u %u %u %u %u"

static void exec_args_fill(struct exec_args *a, const struct capchan *ch)
{
	const char *p = ch->ring_ptr;

	a->ring_sz = (unsigned int)ch->ring_sz;
	a->sq_head = (unsigned int)((const char *)ch->sq.khead - p);
	a->sq_tail = (unsigned int)((const char *)ch->sq.ktail - p);
	a->sq_mask = ch->sq.ring_mask;
	a->sqes = (unsigned int)((const char *)ch->sq.sqes - p);
	a->cq_head = (unsigned int)((const char *)ch->cq.khead - p);
	a->cq_tail = (unsigned int)((const char *)ch->cq.ktail - p);
	a->cq_mask = ch->cq.ring_mask;
	a->cqes = (unsigned int)((const char *)ch->cq.cqes - p);
}

/* exec this program in the given mode, here; returns only on failure. */
static void exec_now(const char *mode, const struct exec_args *a)
{
	char buf[256];

	snprintf(buf, sizeof(buf), EXEC_ARGS_FMT, a->keep_fd, a->gone_fd,
		 a->capfd_keep, a->capfd_gone, a->ok, a->rev, a->closed,
		 a->ring_sz, a->sq_head, a->sq_tail, a->sq_mask, a->sqes,
		 a->cq_head, a->cq_tail, a->cq_mask, a->cqes);
	setenv(EXEC_ENV_MODE, mode, 1);
	setenv(EXEC_ENV_ARGS, buf, 1);
	execl("/proc/self/exe", "stress_test", (char *)NULL);
}

/* fork, then exec this program in the given mode; the child's pid. */
static pid_t exec_self(const char *mode, const struct exec_args *a)
{
	pid_t pid = fork();

	if (pid == 0) {
		exec_now(mode, a);
		_exit(127);
	}
	return pid;
}

/* Does /proc/self/maps show a mapping of a capchan device file? */
static bool maps_have_capchan(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/capchan"))
			found = true;
	fclose(f);
	return found;
}

/* Map the rings of fd again, as told; 0 or -errno. */
static int exec_map_rings(const struct exec_args *a, struct capchan *ch)
{
	char *p = mmap(NULL, a->ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED,
		       a->keep_fd, CAPCHAN_OFF_RINGS);

	if (p == MAP_FAILED)
		return -errno;
	memset(ch, 0, sizeof(*ch));
	ch->fd = a->keep_fd;
	ch->ring_ptr = p;
	ch->ring_sz = a->ring_sz;
	ch->sq.khead = (unsigned int *)(p + a->sq_head);
	ch->sq.ktail = (unsigned int *)(p + a->sq_tail);
	ch->sq.ring_mask = a->sq_mask;
	ch->sq.ring_entries = a->sq_mask + 1;
	ch->sq.sqes = (struct capchan_sqe *)(p + a->sqes);
	ch->cq.khead = (unsigned int *)(p + a->cq_head);
	ch->cq.ktail = (unsigned int *)(p + a->cq_tail);
	ch->cq.ring_mask = a->cq_mask;
	ch->cq.ring_entries = a->cq_mask + 1;
	ch->cq.cqes = (struct capchan_cqe *)(p + a->cqes);
	return 0;
}

static bool fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* The first IO_LEN bytes of jail/file, read through handle h: ok? */
static bool exec_read_ok(struct capchan *ch, uint32_t h)
{
	unsigned char want[IO_LEN], got[IO_LEN];

	cc_fill_pattern(want, sizeof(want), 1);
	return capchan_read(ch, h, got, IO_LEN, 0) == IO_LEN &&
	       !memcmp(got, want, IO_LEN);
}

/* In the exec'd child: a failed check returns its number, with a line. */
#define EXEC_CHECK(n, cond) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "# exec'd child: check %d failed: %s\n",	\
			(n), #cond);					\
		return n;						\
	}								\
} while (0)

/* After exec: what is left and what is not.  0, or the failed check. */
static int exec_inherit_child(const struct exec_args *a)
{
	struct capchan ch = { .fd = a->keep_fd };
	unsigned char want[IO_LEN], buf[IO_LEN];
	struct capchan_cqe c1, c2;
	struct capchan_sqe s;
	int dfd, h;

	cc_fill_pattern(want, sizeof(want), 1);
	/* O_CLOEXEC (libcapchan's channel, EXPORT's capability file): gone */
	EXEC_CHECK(1, fd_closed(a->gone_fd));
	EXEC_CHECK(2, fd_closed(a->capfd_gone));
	/* and no mapping of any channel came through */
	EXEC_CHECK(3, !maps_have_capchan());
	EXEC_CHECK(4, fcntl(a->keep_fd, F_GETFD) == 0);
	EXEC_CHECK(5, fcntl(a->capfd_keep, F_GETFD) == 0);
	/* the kept channel: its handles, as they were */
	EXEC_CHECK(6, exec_read_ok(&ch, a->ok));
	EXEC_CHECK(7, capchan_read(&ch, a->rev, buf, 4, 0) == -EKEYREVOKED);
	EXEC_CHECK(8, capchan_read(&ch, a->closed, buf, 4, 0) == -EBADF);
	/* sealed before the exec: still sealed */
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXEC_CHECK(9, dfd >= 0 && capchan_grant(&ch, dfd, R_LOOKUP) == -EPERM);
	close(dfd);
	h = capchan_derive(&ch, a->ok, R_READ | R_SEEK);
	EXEC_CHECK(10, cc_handle_ok(h) && exec_read_ok(&ch, h));
	EXEC_CHECK(11, capchan_close(&ch, h) == 0);
	/* an inherited capability file imports */
	h = capchan_import(&ch, a->capfd_keep);
	EXEC_CHECK(12, cc_handle_ok(h) && exec_read_ok(&ch, h));
	EXEC_CHECK(13, capchan_close(&ch, h) == 0);
	/* the rings, mapped again: the same rings */
	EXEC_CHECK(14, exec_map_rings(a, &ch) == 0);
	EXEC_CHECK(15, maps_have_capchan());
	EXEC_CHECK(16, *ch.sq.ktail == __atomic_load_n(ch.sq.khead, __ATOMIC_ACQUIRE));
	capchan_prep_nop(&s);
	s.user_data = 0xE0;
	cc_sq_push(&ch, &s);
	capchan_prep_read(&s, a->ok, buf, IO_LEN, 0);
	s.user_data = 0xE1;
	cc_sq_push(&ch, &s);
	EXEC_CHECK(17, cc_enter(ch.fd, 2, 2, CAPCHAN_ENTER_GETEVENTS) == 2);
	EXEC_CHECK(18, cc_cq_pop(&ch, &c1) == 0 && cc_cq_pop(&ch, &c2) == 0);
	EXEC_CHECK(19, c1.user_data == 0xE0 && c1.res == 0);
	EXEC_CHECK(20, c2.user_data == 0xE1 && c2.res == IO_LEN &&
		   !memcmp(buf, want, IO_LEN));
	EXEC_CHECK(21, cc_cq_pending(&ch) == 0);
	return 0;
}

#define EXEC_LOAD_TAG	0xC0DEULL

/*
 * After an exec that killed threads busy on the channel: the channel works,
 * SQEs they left in the SQ are consumed by one ENTER, and the CQEs they left
 * are theirs, each once.  (Their SQEs are NOPs: a buffer address of the
 * dead image would mean nothing in this one.)
 */
static int exec_load_child(const struct exec_args *a)
{
	struct capchan ch = { .fd = a->keep_fd };
	struct capchan_cqe c, got[64];
	struct capchan_sqe s;
	unsigned int pend, n = 0;

	EXEC_CHECK(1, exec_read_ok(&ch, a->ok));
	EXEC_CHECK(2, exec_map_rings(a, &ch) == 0);
	pend = *ch.sq.ktail - __atomic_load_n(ch.sq.khead, __ATOMIC_ACQUIRE);
	EXEC_CHECK(3, pend <= ch.sq.ring_entries);
	if (pend)
		EXEC_CHECK(4, cc_enter(ch.fd, pend, 0, 0) == (int)pend);
	EXEC_CHECK(5, *ch.sq.ktail == __atomic_load_n(ch.sq.khead, __ATOMIC_ACQUIRE));
	EXEC_CHECK(6, cc_cq_pending(&ch) <= ch.cq.ring_entries);
	while (cc_cq_pop(&ch, &c) == 0) {
		EXEC_CHECK(7, n < CC_ARRAY_SIZE(got));
		EXEC_CHECK(8, c.user_data >> 48 == EXEC_LOAD_TAG && c.res == 0);
		for (unsigned int i = 0; i < n; i++)
			EXEC_CHECK(9, got[i].user_data != c.user_data);
		got[n++] = c;
	}
	capchan_prep_nop(&s);
	s.user_data = 0xE2;
	cc_sq_push(&ch, &s);
	EXEC_CHECK(10, cc_enter(ch.fd, 1, 1, CAPCHAN_ENTER_GETEVENTS) == 1);
	EXEC_CHECK(11, cc_cq_pop(&ch, &c) == 0 && c.user_data == 0xE2 && c.res == 0);
	EXEC_CHECK(12, cc_cq_pending(&ch) == 0);
	EXEC_CHECK(13, exec_read_ok(&ch, a->ok));
	return 0;
}

/* In the exec'd copy, before the harness: do as told and exit. */
static void __attribute__((constructor)) exec_child_main(void)
{
	const char *mode = getenv(EXEC_ENV_MODE);
	const char *args = getenv(EXEC_ENV_ARGS);
	struct exec_args a;

	if (!mode)
		return;
	if (!args || sscanf(args, EXEC_ARGS_FMT, &a.keep_fd, &a.gone_fd,
			    &a.capfd_keep, &a.capfd_gone, &a.ok, &a.rev,
			    &a.closed, &a.ring_sz, &a.sq_head, &a.sq_tail,
			    &a.sq_mask, &a.sqes, &a.cq_head, &a.cq_tail,
			    &a.cq_mask, &a.cqes) != 16)
		_exit(126);
	if (!strcmp(mode, "inherit"))
		_exit(exec_inherit_child(&a));
	if (!strcmp(mode, "load"))
		_exit(exec_load_child(&a));
	_exit(125);
}

/* A channel kept across exec (no O_CLOEXEC) with a FILE handle on jail/file. */
static int keep_channel(struct capchan *ch, int jail_fd, uint32_t *ok)
{
	int h, ret;

	ret = capchan_queue_init(8, ch, 0);
	if (ret)
		return ret;
	h = capchan_grant(ch, jail_fd, R_ALL);
	if (h <= 0)
		return h ? h : -EIO;
	h = capchan_open_beneath(ch, h, "file", 0, 0,
				 R_READ | R_SEEK | R_STAT | R_DERIVE |
				 R_DELEGATE | R_REVOKE);
	if (h <= 0)
		return h ? h : -EIO;
	*ok = h;
	return fcntl(ch->fd, F_SETFD, 0) ? -errno : 0;
}

TEST_F_TIMEOUT(chan, exec_keeps_what_is_inherited, 60)
{
	struct exec_args a = { 0 };
	struct capchan keep, gone;
	struct capchan_cqe c;
	struct capchan_sqe s;
	unsigned int sq0, cq0;
	uint32_t ok;
	int mid;
	pid_t pid;

	ASSERT_EQ(0, keep_channel(&keep, self->t.jail_fd, &ok));
	ASSERT_EQ(0, capchan_queue_init(8, &gone, 0));
	ASSERT_LT(0, capchan_grant(&gone, self->t.jail_fd, R_ALL));
	a.keep_fd = keep.fd;
	a.gone_fd = gone.fd;
	a.ok = ok;
	mid = capchan_derive(&keep, ok, R_READ | R_SEEK | R_DERIVE | R_REVOKE);
	ASSERT_LT(0, mid);
	a.rev = capchan_derive(&keep, mid, R_READ | R_SEEK);
	ASSERT_LT(0, (int)a.rev);
	ASSERT_EQ(1, capchan_revoke(&keep, mid));
	a.closed = capchan_derive(&keep, ok, R_READ);
	ASSERT_LT(0, (int)a.closed);
	ASSERT_EQ(0, capchan_close(&keep, a.closed));
	a.capfd_keep = capchan_export(&keep, ok, R_READ | R_SEEK);
	ASSERT_LE(0, a.capfd_keep);
	ASSERT_EQ(0, fcntl(a.capfd_keep, F_SETFD, 0));
	a.capfd_gone = capchan_export(&keep, ok, R_READ | R_SEEK);
	ASSERT_LE(0, a.capfd_gone);
	ASSERT_EQ(0, capchan_seal(&keep));
	exec_args_fill(&a, &keep);
	/* the child's check of the maps can fail: here they are */
	ASSERT_TRUE(maps_have_capchan());
	sq0 = *keep.sq.ktail;
	cq0 = *keep.cq.khead;
	pid = exec_self("inherit", &a);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, cc_wait_child(pid));
	/* the child's two SQEs went through our rings */
	EXPECT_EQ(sq0 + 2, *keep.sq.ktail);
	EXPECT_EQ(sq0 + 2, __atomic_load_n(keep.sq.khead, __ATOMIC_ACQUIRE));
	EXPECT_EQ(cq0 + 2, *keep.cq.khead);
	EXPECT_EQ(0, cc_cq_pending(&keep));
	capchan_prep_nop(&s);
	s.user_data = 77;
	cc_sq_push(&keep, &s);
	EXPECT_EQ(1, cc_enter(keep.fd, 1, 1, CAPCHAN_ENTER_GETEVENTS));
	ASSERT_EQ(0, cc_cq_pop(&keep, &c));
	EXPECT_EQ(77, c.user_data);
	EXPECT_EQ(0, c.res);
	/* what the child made it closed: dir, ok, mid, rev */
	EXPECT_EQ(4, fdinfo_num(keep.fd, "caps"));
	close(a.capfd_keep);
	close(a.capfd_gone);
	capchan_queue_exit(&gone);
	capchan_queue_exit(&keep);
}

struct load_thread {
	struct capchan *ch;
	uint32_t ok;
};

static void *load_invoker(void *arg)
{
	struct load_thread *l = arg;
	char b[IO_LEN];

	for (;;)
		capchan_read(l->ch, l->ok, b, IO_LEN, 0);
	return NULL;
}

static void *load_ring(void *arg)
{
	struct load_thread *l = arg;
	uint64_t seq = 0;

	for (;;) {
		struct capchan_cqe c;

		for (int i = 0; i < 4; i++) {
			struct capchan_sqe s;

			capchan_prep_nop(&s);
			s.user_data = EXEC_LOAD_TAG << 48 | seq++;
			cc_sq_push(l->ch, &s);
		}
		cc_enter(l->ch->fd, 4, 0, 0);
		while (cc_cq_pop(l->ch, &c) == 0)
			;
	}
	return NULL;
}

TEST_F_TIMEOUT(chan, exec_with_ops_in_flight, 60)
{
	struct exec_args a = { 0 };
	struct capchan keep;
	uint32_t ok;
	pid_t pid;

	ASSERT_EQ(0, keep_channel(&keep, self->t.jail_fd, &ok));
	a.keep_fd = keep.fd;
	a.gone_fd = -1;
	a.capfd_keep = a.capfd_gone = -1;
	a.ok = ok;
	exec_args_fill(&a, &keep);
	for (int round = 0; round < 6; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct load_thread l = { .ch = &keep, .ok = ok };
			pthread_t th;

			for (int i = 0; i < 3; i++)
				if (pthread_create(&th, NULL, load_invoker, &l))
					_exit(120);
			if (pthread_create(&th, NULL, load_ring, &l))
				_exit(121);
			usleep(5000 + round * 10000);
			/* the exec kills the threads wherever they are */
			exec_now("load", &a);
			_exit(127);
		}
		EXPECT_EQ(0, cc_wait_child(pid)) TH_LOG("round %d", round);
		EXPECT_TRUE(exec_read_ok(&keep, ok));
		EXPECT_EQ(0, cc_cq_pending(&keep));
		EXPECT_EQ(*keep.sq.ktail, __atomic_load_n(keep.sq.khead, __ATOMIC_ACQUIRE));
		EXPECT_EQ(2, fdinfo_num(keep.fd, "caps"));
	}
	capchan_queue_exit(&keep);
}

/* ------------------------------------------------------------------ */
/* delete_module under load                                            */
/* ------------------------------------------------------------------ */

struct ul_ctx {
	int jail_fd;
	const unsigned char *data;	/* jail/file */
	struct capchan *c0;
	uint32_t c0_file;
	atomic_int stop;
};

struct ul_thread {
	struct ul_ctx *x;
	unsigned long loops, bad;
	int first_where;
	long first_res;
};

static void ul_bad(struct ul_thread *t, int where, long res)
{
	if (!t->bad++) {
		t->first_where = where;
		t->first_res = res;
	}
}

/* Channels made, used through both rings and INVOKE, exported, closed. */
static void *ul_churn(void *arg)
{
	struct ul_thread *t = arg;
	char b[32];

	while (!atomic_load(&t->x->stop)) {
		struct capchan ch, ch2;
		struct capchan_sqe s;
		struct capchan_cqe c = { 0 };
		long d, f, capfd, i, r;

		r = capchan_queue_init(4, &ch, 0);
		if (r) {
			ul_bad(t, 1, r);
			break;
		}
		d = capchan_grant(&ch, t->x->jail_fd, R_ALL);
		if (!cc_handle_ok(d))
			ul_bad(t, 2, d);
		f = capchan_open_beneath(&ch, d, "hello", 0, 0,
					 R_READ | R_SEEK | R_DELEGATE);
		if (!cc_handle_ok(f))
			ul_bad(t, 3, f);
		capchan_prep_read(&s, f, b, sizeof(b), 0);
		s.user_data = t->loops;
		cc_sq_push(&ch, &s);
		r = cc_enter(ch.fd, 1, 1, CAPCHAN_ENTER_GETEVENTS);
		if (r != 1 || cc_cq_pop(&ch, &c) || c.user_data != t->loops ||
		    c.res != (int)strlen(CC_HELLO))
			ul_bad(t, 4, r == 1 ? c.res : r);
		capfd = capchan_export(&ch, f, R_READ | R_SEEK);
		if (capfd < 0)
			ul_bad(t, 5, capfd);
		capchan_queue_exit(&ch);
		/* the capability file outlives its channel */
		r = capchan_open_channel(&ch2);
		if (r) {
			ul_bad(t, 6, r);
			close((int)capfd);
			break;
		}
		i = capchan_import(&ch2, (int)capfd);
		close((int)capfd);
		if (!cc_handle_ok(i))
			ul_bad(t, 7, i);
		r = capchan_read(&ch2, i, b, sizeof(b), 0);
		if (r != (long)strlen(CC_HELLO))
			ul_bad(t, 8, r);
		capchan_queue_exit(&ch2);
		t->loops++;
	}
	return NULL;
}

/* DERIVE, READ, CLOSE on one channel that lives through it all. */
static void *ul_steady(void *arg)
{
	struct ul_thread *t = arg;
	struct ul_ctx *x = t->x;
	char b[16];

	while (!atomic_load(&x->stop)) {
		long h = capchan_derive(x->c0, x->c0_file, R_READ | R_SEEK), r;

		if (!cc_handle_ok(h)) {
			ul_bad(t, 20, h);
			continue;
		}
		r = capchan_read(x->c0, h, b, sizeof(b), 0);
		if (r != sizeof(b) || memcmp(b, x->data, sizeof(b)))
			ul_bad(t, 21, r);
		r = capchan_close(x->c0, h);
		if (r)
			ul_bad(t, 22, r);
		t->loops++;
	}
	return NULL;
}

/*
 * delete_module() while channels come and go in other threads: refused
 * with -EWOULDBLOCK (the module is in use: O_NONBLOCK's answer, as in
 * unload_test) every time, the module stays, and the load never sees an
 * error.  A channel held open throughout keeps the reference count above
 * zero, so the call can never really unload the module: it is only made
 * after checking the count.
 */
TEST_F_TIMEOUT(chan, unload_refused_under_load, 60)
{
	enum { CHURN = 2, STEADY = 2, TRIES = 40 };
	struct ul_thread t[CHURN + STEADY];
	pthread_t th[CHURN + STEADY];
	long long base = cc_module_refcnt();
	struct ul_ctx x = { .jail_fd = self->t.jail_fd, .data = self->t.data };
	struct capchan c0;
	char buf[16];
	int d, f;

	if (base < 0)
		SKIP(return, "no /sys/module/capchan/refcnt (CONFIG_MODULE_UNLOAD?)");
	ASSERT_EQ(0, capchan_open_channel(&c0));
	d = capchan_grant(&c0, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, d);
	f = capchan_open_beneath(&c0, d, "file", 0, 0, R_READ | R_SEEK | R_DERIVE);
	ASSERT_LT(0, f);
	x.c0 = &c0;
	x.c0_file = f;
	for (int i = 0; i < CHURN + STEADY; i++) {
		t[i] = (struct ul_thread){ .x = &x };
		ASSERT_EQ(0, pthread_create(&th[i], NULL,
					    i < CHURN ? ul_churn : ul_steady, &t[i]));
	}
	for (int i = 0; i < TRIES; i++) {
		/* c0 holds a reference: never call it without one */
		ASSERT_LT(base, cc_module_refcnt());
		EXPECT_EQ(-EWOULDBLOCK, try_unload()) TH_LOG("try %d", i);
		ASSERT_EQ(0, access("/sys/module/capchan", F_OK));
		usleep(2000);
	}
	atomic_store(&x.stop, 1);
	for (int i = 0; i < CHURN + STEADY; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].bad) TH_LOG("thread %d: first bad at %d: %ld", i,
					      t[i].first_where, t[i].first_res);
		EXPECT_LT(0, t[i].loops);
	}
	/* still loaded and working */
	EXPECT_EQ(16, capchan_read(&c0, f, buf, 16, 0));
	EXPECT_EQ(0, memcmp(buf, self->t.data, 16));
	EXPECT_EQ(2, fdinfo_num(c0.fd, "caps"));
	capchan_queue_exit(&c0);
	EXPECT_EQ(base, cc_module_refcnt());
}

TEST_HARNESS_MAIN
