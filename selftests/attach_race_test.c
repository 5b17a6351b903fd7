// SPDX-License-Identifier: GPL-2.0
/*
 * Policy changes while ops are in flight: 8 threads submit ops through
 * the rings (shared by the threads of a channel) and through INVOKE, on
 * one channel or on four, while the test thread attaches and detaches the
 * ready eBPF policies readonly and denyuid (for uid 0, the tests' own) on
 * the writable tracepoint, and stacks classic BPF filters on every channel
 * up to CAPCHAN_FILTER_MAX.
 *
 * The sites the kernel patches when a first program or filter comes or the
 * last goes (the tracepoint's static key and static call, the filters'
 * static key) stay as they are while the threads run: two idle policies
 * (readonly and denyuid with empty maps, which refuse nothing) stay
 * attached, and a spare channel holds a filter that allows everything.
 * QEMU's TCG, which runs these tests, can keep executing the int3 that
 * text_poke_bp() leaves at such a site for a moment after the site was
 * rewritten, and the kernel's int3 handler, which finds no int3 there any
 * more, sends it back to the site for good (a soft lockup in
 * capchan_execute() with the jump in memory).  The variant that flips the
 * sites under load runs where the CPU is not TCG's.
 *
 * Each change is an epoch: the policy state it leads to is written down
 * before the change begins, and the epoch counted done once the change
 * returned.  An op is checked against every state it may have met: from
 * the last epoch done before it was submitted to the last begun once its
 * result was seen.  Its result must be exactly what one of those states
 * gives: the op's success value, or the errno of the policy or filter
 * that decides (each has its own errno).  So an op begun after a detach
 * succeeds, one begun after an attach is refused, and nothing else ever
 * comes back.  Every SQE gets exactly one CQE (a bitmap per thread), and
 * the channels' denial counters (fdinfo) match the denials seen.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <cpuid.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capchan_policy.h"
#include "readonly.skel.h"
#include "denyuid.skel.h"

/* errnos no kernel code returns: a result is nobody's but its decider's */
#define E_RO		3001		/* readonly, for callers of uid 0 */
#define E_DENY		3002		/* denyuid, for callers of uid 0 */
#define E_FILTER(j)	(3100 + (j))	/* a channel's j-th filter, 1-based */

#define NW		8		/* worker threads */
#define MAXCH		4
#define BATCH		4		/* ring SQEs per batch, at most */
#define SQ_ENTRIES	(NW * BATCH)	/* room for every batch at once */
#define MAXE		128		/* epochs */
#define MAXSEQ		(1U << 15)	/* ring SQEs per worker, at most */
#define SCR_LEN		(NW * 4096)
#define IO_LEN		64
#define DRAIN_S		30		/* for CQEs of ops other ENTERs run */

/* eBPF policies attached */
#define P_RO		1
#define P_DENY		2

enum kind {
	K_NOP, K_READ, K_STAT, K_WRITE, K_DERIVE, K_OPEN_RD, K_OPEN_WR,
	K_PREFETCH, NKINDS,
};

static const uint8_t kind_op[NKINDS] = {
	[K_NOP] = CAPCHAN_OP_NOP,
	[K_READ] = CAPCHAN_OP_READ,
	[K_STAT] = CAPCHAN_OP_STAT,
	[K_WRITE] = CAPCHAN_OP_WRITE,
	[K_DERIVE] = CAPCHAN_OP_DERIVE,
	[K_OPEN_RD] = CAPCHAN_OP_OPEN,
	[K_OPEN_WR] = CAPCHAN_OP_OPEN,
	[K_PREFETCH] = CAPCHAN_OP_PREFETCH,
};

/* The opcode a channel's j-th filter refuses: every kind's, twice round. */
static unsigned int filter_op(int j)
{
	return kind_op[(j - 1) % NKINDS];
}

struct pstate {
	uint8_t ebpf;			/* P_* */
	uint8_t nf[MAXCH];		/* filters on each channel */
};

struct slot {
	uint32_t kind, off, lo, hi;
	int32_t res;
	uint32_t done;
	struct capchan_stat st;
	unsigned char buf[IO_LEN];
};

struct worker {
	int wi, c;
	pid_t tid;
	atomic_int phase;		/* where it is, for a stall report */
	atomic_uint outstanding;
	/* under the channel's mutex: */
	uint32_t pushed, dups;
	uint64_t *seen;			/* MAXSEQ bits */
	struct slot slot[BATCH];
	/* the worker's own: */
	unsigned long ops, ring_ops, exact_ok, exact_denied, bad;
	int first_kind, first_where;
	long first_res;
	uint32_t first_lo, first_hi;
};

struct chan {
	pthread_mutex_t mu;
	struct capchan ch;
	uint32_t dh, fh;
	unsigned long cqes, bogus;	/* under mu */
	atomic_ulong policy_seen, filter_seen;
};

struct ctx {
	int nch;
	struct chan chan[MAXCH];
	struct worker w[NW];
	atomic_int stop;
	atomic_uint started, done;	/* epochs */
	struct pstate st[MAXE];
	atomic_uint exact[MAXE];	/* ops wholly inside each epoch */
	unsigned char pat[SCR_LEN];
};

static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static long long fdinfo_num(int fd, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* ------------------------------------------------------------ results */

/* What state st gives an op of kind k on channel c: success, or errnos. */
struct want {
	bool success;
	int nerr;
	int err[2];
};

static void want_of(const struct pstate *st, int k, int c, struct want *w)
{
	memset(w, 0, sizeof(*w));
	/*
	 * The hook first; when both policies refuse, the first attached
	 * decides, and the attach order varies: either errno.
	 */
	if (st->ebpf & P_DENY)
		w->err[w->nerr++] = -E_DENY;
	if ((st->ebpf & P_RO) && (k == K_WRITE || k == K_OPEN_WR))
		w->err[w->nerr++] = -E_RO;
	if (w->nerr)
		return;
	/* then the channel's filters, newest first */
	for (int j = st->nf[c]; j >= 1; j--) {
		if (filter_op(j) == kind_op[k]) {
			w->err[w->nerr++] = -E_FILTER(j);
			return;
		}
	}
	w->success = true;
}

/* The op's own success value, exactly. */
static bool success_ok(struct ctx *x, int k, long res, const struct slot *sl)
{
	switch (k) {
	case K_NOP:
	case K_PREFETCH:
		return res == 0;
	case K_READ:
		return res == IO_LEN && !memcmp(sl->buf, x->pat + sl->off, IO_LEN);
	case K_STAT:
		return res == 0 && sl->st.size == SCR_LEN;
	case K_WRITE:
		return res == IO_LEN;
	case K_DERIVE:
	case K_OPEN_RD:
	case K_OPEN_WR:
		return cc_handle_ok(res);
	}
	return false;
}

static void bad(struct worker *w, int where, int k, long res, uint32_t lo,
		uint32_t hi)
{
	if (!w->bad++) {
		w->first_where = where;
		w->first_kind = k;
		w->first_res = res;
		w->first_lo = lo;
		w->first_hi = hi;
	}
}

/*
 * Check one result against the states of epochs lo..hi and account for
 * it; a new handle is closed (CLOSE passes no policy: it always works).
 */
static void judge(struct ctx *x, struct worker *w, int where,
		  const struct slot *sl)
{
	struct chan *ch = &x->chan[w->c];
	int k = (int)sl->kind;
	long res = sl->res;
	bool ok = false, denied = false;

	if (sl->lo > sl->hi || sl->hi >= MAXE) {
		bad(w, where + 1, k, res, sl->lo, sl->hi);
		return;
	}
	for (uint32_t e = sl->lo; e <= sl->hi && !ok; e++) {
		struct want wt;

		want_of(&x->st[e], k, w->c, &wt);
		if (wt.success && success_ok(x, k, res, sl))
			ok = true;
		for (int i = 0; i < wt.nerr; i++)
			if (res == wt.err[i])
				ok = denied = true;
	}
	w->ops++;
	if (!ok) {
		bad(w, where, k, res, sl->lo, sl->hi);
		return;
	}
	if (res == -E_RO || res == -E_DENY)
		atomic_fetch_add(&ch->policy_seen, 1);
	else if (res < 0)
		atomic_fetch_add(&ch->filter_seen, 1);
	if (sl->lo == sl->hi) {
		atomic_fetch_add(&x->exact[sl->lo], 1);
		if (denied)
			w->exact_denied++;
		else
			w->exact_ok++;
	}
	if (!denied && (k == K_DERIVE || k == K_OPEN_RD || k == K_OPEN_WR) &&
	    capchan_close(&ch->ch, (uint32_t)res))
		bad(w, where + 2, k, res, sl->lo, sl->hi);
}

/* ------------------------------------------------------------ ops */

static void prep(struct ctx *x, struct worker *w, struct slot *sl, uint32_t *rs,
		 struct capchan_sqe *s)
{
	struct chan *ch = &x->chan[w->c];

	switch (sl->kind) {
	case K_NOP:
		capchan_prep_nop(s);
		break;
	case K_READ:
		sl->off = rnd(rs) % (SCR_LEN - IO_LEN);
		capchan_prep_read(s, ch->fh, sl->buf, IO_LEN, sl->off);
		break;
	case K_STAT:
		capchan_prep_stat(s, ch->fh, &sl->st);
		break;
	case K_WRITE:
		/* the worker's own page gets the pattern's bytes back */
		sl->off = (uint32_t)w->wi * 4096 + rnd(rs) % 64 * IO_LEN;
		capchan_prep_write(s, ch->fh, x->pat + sl->off, IO_LEN, sl->off);
		break;
	case K_DERIVE:
		capchan_prep_derive(s, ch->fh, R_READ | R_SEEK);
		break;
	case K_OPEN_RD:
		capchan_prep_open(s, ch->dh, "hello", 0, 0, R_READ);
		break;
	case K_OPEN_WR:
		capchan_prep_open(s, ch->dh, "hello", 0, 0, R_READ | R_WRITE);
		break;
	case K_PREFETCH:
		capchan_prep_prefetch(s, ch->fh, 0, 4096);
		break;
	}
}

static void invoke_one(struct ctx *x, struct worker *w, uint32_t *rs)
{
	struct chan *ch = &x->chan[w->c];
	struct capchan_sqe s;
	struct slot sl = { .kind = rnd(rs) % NKINDS };

	prep(x, w, &sl, rs, &s);
	sl.lo = atomic_load(&x->done);
	atomic_store(&w->phase, 1);
	sl.res = capchan_invoke(&ch->ch, &s);
	sl.hi = atomic_load(&x->started);
	atomic_store(&w->phase, 2);
	judge(x, w, 100, &sl);
	atomic_store(&w->phase, 0);
}

/* File every CQE there is with its owner.  The channel's mutex held. */
static void reap_locked(struct ctx *x, struct chan *ch)
{
	struct capchan_cqe c;

	while (cc_cq_pop(&ch->ch, &c) == 0) {
		uint32_t wi = (uint32_t)(c.user_data >> 32);
		uint32_t seq = (uint32_t)c.user_data;
		struct worker *w;
		struct slot *sl;

		ch->cqes++;
		if (wi >= NW || &x->chan[x->w[wi].c] != ch ||
		    seq >= x->w[wi].pushed) {
			ch->bogus++;
			continue;
		}
		w = &x->w[wi];
		if (w->seen[seq / 64] & (1ULL << (seq % 64))) {
			w->dups++;
			continue;
		}
		w->seen[seq / 64] |= 1ULL << (seq % 64);
		sl = &w->slot[seq % BATCH];
		/* the op ran before its CQE was there to be seen */
		sl->hi = atomic_load(&x->started);
		sl->res = c.res;
		sl->done = 1;
		atomic_fetch_sub(&w->outstanding, 1);
	}
}

/* A batch through the channel's ring, shared with its other workers. */
static void ring_batch(struct ctx *x, struct worker *w, uint32_t *rs)
{
	struct chan *ch = &x->chan[w->c];
	uint32_t n = 1 + rnd(rs) % BATCH, base;
	long r;

	if (w->pushed + n > MAXSEQ) {
		invoke_one(x, w, rs);
		return;
	}
	atomic_store(&w->phase, 10);
	pthread_mutex_lock(&ch->mu);
	base = w->pushed;
	for (uint32_t i = 0; i < n; i++) {
		struct slot *sl = &w->slot[(base + i) % BATCH];
		struct capchan_sqe s;

		memset(sl, 0, sizeof(*sl));
		sl->kind = rnd(rs) % NKINDS;
		sl->res = INT32_MIN;
		prep(x, w, sl, rs, &s);
		capchan_sqe_set_data64(&s, (uint64_t)w->wi << 32 | (base + i));
		/* it cannot run before it is pushed */
		sl->lo = atomic_load(&x->done);
		cc_sq_push(&ch->ch, &s);
	}
	w->pushed = base + n;
	atomic_fetch_add(&w->outstanding, n);
	pthread_mutex_unlock(&ch->mu);

	atomic_store(&w->phase, 11);
	r = cc_enter(ch->ch.fd, n, 0, 0);
	if (r < 0 || r > (long)n)
		bad(w, 200, -1, r, 0, 0);
	for (double end = cc_now() + DRAIN_S; ; ) {
		unsigned int pend;

		atomic_store(&w->phase, 12);
		pthread_mutex_lock(&ch->mu);
		reap_locked(x, ch);
		pthread_mutex_unlock(&ch->mu);
		atomic_store(&w->phase, 13);
		if (!atomic_load(&w->outstanding))
			break;
		/*
		 * Ours wait behind SQEs whose owner has not entered yet, or
		 * were consumed by another thread's ENTER, which runs them
		 * holding no lock: with the SQ seen empty they need no ENTER
		 * of ours, only that one to finish (bounded: a CQE that never
		 * comes is a failure, not a wait).
		 */
		pend = __atomic_load_n(ch->ch.sq.ktail, __ATOMIC_ACQUIRE) -
		       __atomic_load_n(ch->ch.sq.khead, __ATOMIC_ACQUIRE);
		if (!pend) {
			if (cc_now() > end) {
				bad(w, 203, -1, atomic_load(&w->outstanding),
				    0, 0);
				break;
			}
			usleep(100);
			continue;
		}
		atomic_store(&w->phase, 14);
		r = cc_enter(ch->ch.fd, pend, 0, 0);
		atomic_store(&w->phase, 15);
		if (r < 0 || r > SQ_ENTRIES) {
			bad(w, 201, -1, r, 0, 0);
			return;
		}
	}
	atomic_store(&w->phase, 16);
	for (uint32_t i = 0; i < n; i++) {
		struct slot *sl = &w->slot[(base + i) % BATCH];

		w->ring_ops++;
		if (!sl->done)
			bad(w, 202, (int)sl->kind, sl->res, sl->lo, sl->hi);
		else
			judge(x, w, 300, sl);
	}
}

struct warg {
	struct ctx *x;
	struct worker *w;
};

static void *worker_fn(void *arg)
{
	struct warg *a = arg;
	struct ctx *x = a->x;
	struct worker *w = a->w;
	uint32_t rs = 0x2545f491u * (w->wi + 1);

	w->tid = (pid_t)syscall(SYS_gettid);
	while (!atomic_load(&x->stop)) {
		if (rnd(&rs) % 2)
			invoke_one(x, w, &rs);
		else
			ring_batch(x, w, &rs);
	}
	return NULL;
}

/* ------------------------------------------------------------ fixture */

FIXTURE(race) {
	struct cc_tree t;
	struct ctx *x;
	struct capchan_readonly *ro, *idle_ro;
	struct capchan_denyuid *du, *idle_du;
	struct capchan spare;		/* holds the filters' static key on */
	pthread_t th[NW];
	struct warg arg[NW];
	int running;
};

FIXTURE_VARIANT(race) {
	int nch;
	bool ebpf;		/* attach and detach the eBPF policies */
	bool filters;		/* stack filters on every channel */
	bool flips;		/* let the patched sites change under load */
};

FIXTURE_VARIANT_ADD(race, ebpf_one_channel) { .nch = 1, .ebpf = true };
FIXTURE_VARIANT_ADD(race, ebpf_four_channels) { .nch = 4, .ebpf = true };
FIXTURE_VARIANT_ADD(race, filters_one_channel) { .nch = 1, .filters = true };
FIXTURE_VARIANT_ADD(race, both_four_channels) {
	.nch = 4, .ebpf = true, .filters = true,
};
FIXTURE_VARIANT_ADD(race, both_four_channels_sites_flip) {
	.nch = 4, .ebpf = true, .filters = true, .flips = true,
};

/* QEMU's TCG says so in the hypervisor CPUID leaf. */
static bool cpu_is_tcg(void)
{
	unsigned int a, b, c, d;
	char sig[13];

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1U << 31)))
		return false;		/* no hypervisor */
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	return !strcmp(sig, "TCGTCGTCGTCG");
}

/* readonly for callers of uid 0, or for nobody (idle: an empty map). */
static struct capchan_readonly *readonly_load(bool idle)
{
	struct capchan_readonly *ro = capchan_readonly__open();
	uint32_t uid = 0, match = CAPCHAN_POLICY_MATCH_CALLER;

	if (!ro)
		return NULL;
	ro->rodata->ro_errno = -E_RO;
	if (capchan_readonly__load(ro) ||
	    (!idle && bpf_map__update_elem(ro->maps.uids, &uid, sizeof(uid),
					   &match, sizeof(match), BPF_ANY)) ||
	    (idle && capchan_readonly__attach(ro))) {
		capchan_readonly__destroy(ro);
		return NULL;
	}
	return ro;
}

static struct capchan_denyuid *denyuid_load(bool idle)
{
	struct capchan_denyuid *du = capchan_denyuid__open_and_load();
	struct capchan_policy_deny d = {
		.err = -E_DENY, .match = CAPCHAN_POLICY_MATCH_CALLER,
	};
	uint32_t uid = 0;

	if (!du)
		return NULL;
	if ((!idle && bpf_map__update_elem(du->maps.uids, &uid, sizeof(uid),
					   &d, sizeof(d), BPF_ANY)) ||
	    (idle && capchan_denyuid__attach(du))) {
		capchan_denyuid__destroy(du);
		return NULL;
	}
	return du;
}

FIXTURE_SETUP(race)
{
	struct ctx *x;

	self->spare.fd = -1;
	ASSERT_GE(MAXCH, variant->nch);
	if (variant->flips && cpu_is_tcg())
		SKIP(return, "QEMU TCG runs stale code at a site patched under load");
	self->x = x = calloc(1, sizeof(*x));
	ASSERT_NE(NULL, x);
	for (int c = 0; c < MAXCH; c++)
		x->chan[c].ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "attach_race"));
	cc_fill_pattern(x->pat, SCR_LEN, 7);
	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "scratch", x->pat, SCR_LEN, 0644));
	x->nch = variant->nch;
	for (int c = 0; c < x->nch; c++) {
		struct chan *ch = &x->chan[c];
		int h;

		ASSERT_EQ(0, pthread_mutex_init(&ch->mu, NULL));
		ASSERT_EQ(0, capchan_queue_init(SQ_ENTRIES, &ch->ch, 0));
		h = capchan_grant(&ch->ch, self->t.jail_fd, R_ALL);
		ASSERT_LT(0, h);
		ch->dh = h;
		h = capchan_open_beneath(&ch->ch, ch->dh, "scratch", 0, 0,
					 R_READ | R_WRITE | R_SEEK | R_STAT | R_DERIVE);
		ASSERT_LT(0, h);
		ch->fh = h;
	}
	for (int i = 0; i < NW; i++) {
		x->w[i].wi = i;
		x->w[i].c = i % x->nch;
		x->w[i].seen = calloc(MAXSEQ / 64, sizeof(uint64_t));
		ASSERT_NE(NULL, x->w[i].seen);
	}
	if (variant->ebpf) {
		struct capchan_version v;

		ASSERT_EQ(0, capchan_get_version(&x->chan[0].ch, &v));
		if (!(v.features & CAPCHAN_FEAT_HOOK))
			SKIP(return, "module without CAPCHAN_FEAT_HOOK");
		libbpf_set_print(quiet_libbpf);
		self->ro = readonly_load(false);
		ASSERT_NE(NULL, self->ro);
		self->du = denyuid_load(false);
		ASSERT_NE(NULL, self->du);
		if (!variant->flips) {
			/* two: the static call stays on the iterator too */
			self->idle_ro = readonly_load(true);
			ASSERT_NE(NULL, self->idle_ro);
			self->idle_du = denyuid_load(true);
			ASSERT_NE(NULL, self->idle_du);
		}
	}
	if (variant->filters && !variant->flips) {
		struct sock_filter allow[] = {
			BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
		};

		ASSERT_EQ(0, capchan_open_channel(&self->spare));
		ASSERT_EQ(0, capchan_filter_attach(&self->spare, allow, 1));
	}
}

FIXTURE_TEARDOWN(race)
{
	struct ctx *x = self->x;

	if (x) {
		atomic_store(&x->stop, 1);
		for (int i = 0; i < self->running; i++)
			pthread_join(self->th[i], NULL);
	}
	/* a failed test must not leave a policy behind */
	capchan_readonly__destroy(self->ro);
	capchan_denyuid__destroy(self->du);
	capchan_readonly__destroy(self->idle_ro);
	capchan_denyuid__destroy(self->idle_du);
	if (self->spare.fd >= 0)
		capchan_queue_exit(&self->spare);
	if (!x)
		return;
	for (int c = 0; c < MAXCH; c++)
		if (x->chan[c].ch.fd >= 0)
			capchan_queue_exit(&x->chan[c].ch);
	for (int i = 0; i < NW; i++)
		free(x->w[i].seen);
	free(x);
	cc_tree_destroy(&self->t);
}

/* ------------------------------------------------------------ epochs */

/* The next epoch leads to *st; the change is made between these two. */
static uint32_t epoch_begin(struct ctx *x, const struct pstate *st)
{
	uint32_t e = atomic_load(&x->started) + 1;

	x->st[e] = *st;
	atomic_store(&x->started, e);	/* publishes st[e] */
	return e;
}

static void epoch_end(struct ctx *x, uint32_t e)
{
	atomic_store(&x->done, e);
}

/* A small /proc file of a thread, on one line, to stderr. */
static void show_task_file(pid_t tid, const char *name)
{
	char path[96], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = '|';
	fprintf(stderr, "#   %s: %s\n", name, buf);
}

/* Where every worker is: for a report of a stall. */
static void show_workers(struct ctx *x)
{
	for (int c = 0; c < x->nch; c++) {
		struct chan *ch = &x->chan[c];

		fprintf(stderr, "# channel %d: sq %u/%u cq %u/%u, fdinfo sq-head %lld cq-tail %lld\n",
			c, __atomic_load_n(ch->ch.sq.khead, __ATOMIC_ACQUIRE),
			__atomic_load_n(ch->ch.sq.ktail, __ATOMIC_ACQUIRE),
			__atomic_load_n(ch->ch.cq.khead, __ATOMIC_ACQUIRE),
			__atomic_load_n(ch->ch.cq.ktail, __ATOMIC_ACQUIRE),
			fdinfo_num(ch->ch.fd, "sq-head"),
			fdinfo_num(ch->ch.fd, "cq-tail"));
	}
	for (int i = 0; i < NW; i++) {
		struct worker *w = &x->w[i];

		fprintf(stderr, "# worker %d (tid %d, channel %d): phase %d, outstanding %u, pushed %u, ops %lu\n",
			i, w->tid, w->c, atomic_load(&w->phase),
			atomic_load(&w->outstanding), w->pushed, w->ops);
		show_task_file(w->tid, "stat");
		show_task_file(w->tid, "wchan");
		show_task_file(w->tid, "syscall");
		show_task_file(w->tid, "stack");
	}
}

/* Wait until NW ops ran wholly inside epoch e; false after 10 s. */
static bool epoch_wait(struct ctx *x, uint32_t e)
{
	double end = cc_now() + 10;

	while (atomic_load(&x->exact[e]) < NW) {
		if (cc_now() > end) {
			show_workers(x);
			return false;
		}
		usleep(500);
	}
	return true;
}

/* One eBPF change: attach (+) or detach (-) readonly or denyuid. */
struct ebpf_step {
	int policy;		/* P_RO or P_DENY */
	bool attach;
};

static const struct ebpf_step ebpf_cycle[] = {
	{ P_RO, true }, { P_DENY, true }, { P_RO, false }, { P_DENY, false },
	{ P_DENY, true }, { P_RO, true }, { P_DENY, false }, { P_RO, false },
};

static int ebpf_apply(struct capchan_readonly *ro, struct capchan_denyuid *du,
		      const struct ebpf_step *s)
{
	if (s->policy == P_RO) {
		if (!s->attach) {
			capchan_readonly__detach(ro);
			return 0;
		}
		return capchan_readonly__attach(ro);
	}
	if (!s->attach) {
		capchan_denyuid__detach(du);
		return 0;
	}
	return capchan_denyuid__attach(du);
}

/* Filter j on a channel: every other one through each library call. */
static int filter_apply(struct capchan *ch, int j)
{
	uint64_t bit = 1ULL << filter_op(j);

	if (j % 2)
		return capchan_filter_deny_ops(ch, bit, E_FILTER(j));
	return capchan_filter_allow_ops(ch, ~bit, E_FILTER(j));
}

TEST_F_TIMEOUT(race, policy_changes_under_load, 60)
{
	struct ctx *x = self->x;
	struct pstate st = { 0 };
	unsigned long exact_ok = 0, exact_denied = 0;
	int nebpf = 0, nfilt = 0, steps;
	uint32_t e;

	if (_metadata->skip)
		return;
	/* eBPF: three cycles; filters: CAPCHAN_FILTER_MAX; both: interleaved */
	steps = (variant->ebpf ? 3 * (int)CC_ARRAY_SIZE(ebpf_cycle) : 0) +
		(variant->filters ? CAPCHAN_FILTER_MAX : 0);
	ASSERT_GT(MAXE - 4, steps);
	for (int i = 0; i < NW; i++) {
		self->arg[i] = (struct warg){ .x = x, .w = &x->w[i] };
		ASSERT_EQ(0, pthread_create(&self->th[i], NULL, worker_fn,
					    &self->arg[i]));
		self->running++;
	}
	EXPECT_TRUE(epoch_wait(x, 0));
	for (int s = 0; s < steps; s++) {
		bool do_filter = variant->filters && nfilt < CAPCHAN_FILTER_MAX &&
				 (!variant->ebpf || s % 2 || nebpf >= 3 *
				  (int)CC_ARRAY_SIZE(ebpf_cycle));

		if (do_filter) {
			nfilt++;
			for (int c = 0; c < x->nch; c++)
				st.nf[c] = nfilt;
			e = epoch_begin(x, &st);
			for (int c = 0; c < x->nch; c++) {
				/* a varying order of channels */
				int cc = (c + nfilt) % x->nch;

				EXPECT_EQ(0, filter_apply(&x->chan[cc].ch, nfilt))
					TH_LOG("filter %d, channel %d", nfilt, cc);
			}
		} else {
			const struct ebpf_step *es =
				&ebpf_cycle[nebpf++ % CC_ARRAY_SIZE(ebpf_cycle)];

			if (es->attach)
				st.ebpf |= es->policy;
			else
				st.ebpf &= ~es->policy;
			e = epoch_begin(x, &st);
			EXPECT_EQ(0, ebpf_apply(self->ro, self->du, es))
				TH_LOG("eBPF step %d", nebpf);
		}
		epoch_end(x, e);
		if (!epoch_wait(x, e)) {
			/* stuck, or every op judged wrong: no use going on */
			EXPECT_TRUE(false) TH_LOG("epoch %u: no progress", e);
			break;
		}
	}
	EXPECT_EQ(0, st.ebpf);		/* the cycles end detached */
	if (variant->filters) {
		/* one too many: refused, and it changes nothing */
		e = epoch_begin(x, &st);
		for (int c = 0; c < x->nch; c++) {
			EXPECT_EQ(-ENOSPC, filter_apply(&x->chan[c].ch,
							CAPCHAN_FILTER_MAX + 1));
			EXPECT_EQ(CAPCHAN_FILTER_MAX, fdinfo_num(x->chan[c].ch.fd,
								 "filters"));
		}
		epoch_end(x, e);
		EXPECT_TRUE(epoch_wait(x, e));
	}
	atomic_store(&x->stop, 1);
	for (int i = 0; i < NW; i++)
		pthread_join(self->th[i], NULL);
	self->running = 0;

	for (int i = 0; i < NW; i++) {
		struct worker *w = &x->w[i];
		unsigned int seen = 0;

		for (unsigned int j = 0; j < MAXSEQ / 64; j++)
			seen += __builtin_popcountll(w->seen[j]);
		EXPECT_EQ(0, w->bad)
			TH_LOG("worker %d: at %d, kind %d gave %ld in epochs %u..%u",
			       i, w->first_where, w->first_kind, w->first_res,
			       w->first_lo, w->first_hi);
		EXPECT_EQ(0, w->dups) TH_LOG("worker %d", i);
		EXPECT_EQ(w->pushed, seen) TH_LOG("worker %d: CQEs lost", i);
		EXPECT_EQ(w->pushed, w->ring_ops);
		EXPECT_EQ(0, atomic_load(&w->outstanding));
		exact_ok += w->exact_ok;
		exact_denied += w->exact_denied;
	}
	for (int c = 0; c < x->nch; c++) {
		struct chan *ch = &x->chan[c];
		unsigned long pushed = 0;

		for (int i = 0; i < NW; i++)
			if (x->w[i].c == c)
				pushed += x->w[i].pushed;
		EXPECT_EQ(0, ch->bogus);
		EXPECT_EQ(pushed, ch->cqes);
		EXPECT_EQ(0, cc_cq_pending(&ch->ch));
		EXPECT_EQ((uint32_t)pushed, fdinfo_num(ch->ch.fd, "sq-head"));
		EXPECT_EQ((uint32_t)pushed, fdinfo_num(ch->ch.fd, "cq-tail"));
		/* the module counted each denial we saw, and no other */
		EXPECT_EQ((long long)atomic_load(&ch->policy_seen),
			  fdinfo_num(ch->ch.fd, "policy-denied"));
		EXPECT_EQ((long long)atomic_load(&ch->filter_seen),
			  fdinfo_num(ch->ch.fd, "filter-denied"));
		EXPECT_EQ(2, fdinfo_num(ch->ch.fd, "caps"));	/* all closed */
	}
	/* both sides of every change were seen */
	EXPECT_LT(0, exact_ok);
	EXPECT_LT(0, exact_denied);
	/* detached: with no filter, an op runs as if nothing had been */
	if (!variant->filters) {
		struct capchan_sqe s;
		struct capchan_cqe c;
		struct capchan *ch = &x->chan[0].ch;
		char b[4];

		EXPECT_EQ(4, capchan_write(ch, x->chan[0].fh, x->pat, 4, 0));
		EXPECT_EQ(4, capchan_read(ch, x->chan[0].fh, b, 4, 0));
		capchan_prep_write(&s, x->chan[0].fh, x->pat, 4, 0);
		s.user_data = 1ULL << 63;
		cc_sq_push(ch, &s);
		EXPECT_EQ(1, cc_enter(ch->fd, 1, 1, CAPCHAN_ENTER_GETEVENTS));
		ASSERT_EQ(0, cc_cq_pop(ch, &c));
		EXPECT_EQ(1ULL << 63, c.user_data);
		EXPECT_EQ(4, c.res);
	}
	TH_LOG("%d epochs; ops wholly inside one: %lu allowed, %lu refused",
	       atomic_load(&x->started), exact_ok, exact_denied);
}

TEST_HARNESS_MAIN
