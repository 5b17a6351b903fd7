// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 2: random SQEs through INVOKE on two channels (live,
 * stale, forged and CHAIN handles), EXPORT/IMPORT between them, plus a
 * few exact checks: the depth limit, the table limit, REVOKE's counts.
 */
#include "fuzz.h"

/* Depth limit: exactly max_depth DERIVEs below a root, then -EMLINK. */
static void fz_depth_check(struct fz_w *w)
{
	struct fz_chan c;
	long h, prev;
	unsigned int i;

	if (fz_chan_open(&c, w->env, &w->r, false, false))
		return;
	prev = fz_grant(c.fd, w->env->t.jail_fd, R_ALL, NULL);
	FZ_CHECK(fz_handle_ok(prev), "grant -> %ld", prev);
	for (i = 1; i <= w->env->max_depth + 1 && fz_handle_ok(prev); i++) {
		struct capchan_sqe s;

		cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)prev);
		s.rights = i == 1 ? R_ALL : R_DERIVE | R_STAT;
		h = fz_invoke(c.fd, &s);
		if (i <= w->env->max_depth)
			FZ_CHECK(fz_handle_ok(h) || h == -EMFILE, "DERIVE at depth %u -> %ld", i, h);
		else
			FZ_CHECK(h == -EMLINK, "DERIVE at depth %u (max %u) -> %ld", i,
				 w->env->max_depth, h);
		prev = h;
	}
	fz_fdinfo_check(w, &c, c.fd, true);
	fz_chan_close(&c);
}

/* Table limit: exactly max_caps capabilities, then -EMFILE. */
static void fz_table_check(struct fz_w *w)
{
	struct fz_chan c;
	long root, h = 0;
	unsigned int n = 1;

	if (fz_chan_open(&c, w->env, &w->r, false, false))
		return;
	root = fz_grant(c.fd, w->env->t.jail_fd, R_ALL, NULL);
	FZ_CHECK(fz_handle_ok(root), "grant -> %ld", root);
	while (fz_handle_ok(root) && n < w->env->max_caps + 2) {
		struct capchan_sqe s;

		cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)root);
		s.rights = R_STAT;
		h = fz_invoke(c.fd, &s);
		if (h < 0)
			break;
		n++;
	}
	FZ_CHECK(h == -EMFILE && n == w->env->max_caps,
		 "table filled at %u capabilities (max_caps %u) with %ld", n,
		 w->env->max_caps, h);
	fz_chan_close(&c);
}

/* REVOKE counts and effects on a small tree spanning two channels. */
static void fz_revoke_check(struct fz_w *w)
{
	struct fz_chan a, b;
	long root, c1, c2, fd, imp, n, res;
	struct capchan_sqe s;

	if (fz_chan_open(&a, w->env, &w->r, false, false))
		return;
	if (fz_chan_open(&b, w->env, &w->r, false, false)) {
		fz_chan_close(&a);
		return;
	}
	root = fz_grant(a.fd, w->env->t.jail_fd, R_ALL, NULL);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)root);
	s.rights = R_ALL;
	c1 = fz_invoke(a.fd, &s);
	s.handle = (uint32_t)c1;
	s.rights = R_LOOKUP | R_READ | R_STAT;
	c2 = fz_invoke(a.fd, &s);
	cc_sqe(&s, CAPCHAN_OP_EXPORT, (uint32_t)c1);
	s.rights = R_LOOKUP | R_READ | R_STAT | R_DERIVE;
	fd = fz_invoke(a.fd, &s);
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = fd;
	imp = fz_invoke(b.fd, &s);
	FZ_CHECK(fz_handle_ok(root) && fz_handle_ok(c1) && fz_handle_ok(c2) && fd >= 0 &&
		 fz_handle_ok(imp), "tree: %ld %ld %ld %ld %ld", root, c1, c2, fd, imp);
	/* a child of the imported capability, in the other channel */
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)imp);
	s.rights = R_STAT;
	n = fz_invoke(b.fd, &s);
	FZ_CHECK(fz_handle_ok(n), "derive from import -> %ld", n);
	/* c1 has c2, the exported cap and its child below it: 3 */
	cc_sqe(&s, CAPCHAN_OP_REVOKE, (uint32_t)c1);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 3, "REVOKE -> %ld, expected 3", res);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 0, "second REVOKE -> %ld, expected 0", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)c2);
	s.rights = R_STAT;
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "DERIVE on revoked -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)imp);
	res = fz_invoke(b.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "DERIVE on revoked import -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = fd;
	res = fz_invoke(b.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "IMPORT of revoked -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)c1);	/* c1 itself stays valid */
	s.rights = R_STAT;
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(fz_handle_ok(res), "DERIVE on the revoker -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_CLOSE, (uint32_t)c2);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 0, "CLOSE of revoked -> %ld", res);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == -EBADF, "second CLOSE -> %ld", res);
	if (fd >= 0)
		close((int)fd);
	/* close the channels in a random order: the tree must come apart */
	if (fz_pct(&w->r, 50)) {
		fz_chan_close(&a);
		fz_chan_close(&b);
	} else {
		fz_chan_close(&b);
		fz_chan_close(&a);
	}
}

static void fz_invoke_child(struct fz_w *w, void *arg, double end)
{
	struct fz_chan *ch = arg;

	while (cc_now() < end) {
		struct fz_chan *c = &ch[fz_rn(&w->r, 2)];

		if (fz_pct(&w->r, 5))
			fz_fdinfo_check(w, c, c->fd, false);
		else
			fz_invoke_one(w, c, c->fd);
	}
}

void fz_body_invoke(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_chan ch[2];
	struct fz_w w;
	pid_t kids[4];
	int nkids = 0, forks = 0;
	long iters = 0;

	fz_w_init(&w, e, seed);
	if (fz_chan_open(&ch[0], e, &w.r, false, true) ||
	    fz_chan_open(&ch[1], e, &w.r, true, true)) {
		FZ_FAIL("cannot open channels");
		return;
	}
	fz_table_check(&w);
	fz_depth_check(&w);
	fz_revoke_check(&w);
	while (fz_going(end)) {
		struct fz_chan *c = &ch[fz_rn(&w.r, 2)];
		unsigned int k = fz_rn(&w.r, 1000);

		iters++;
		w.ring_addrs = true;
		if (k < 850) {
			fz_invoke_one(&w, c, c->fd);
		} else if (k < 900) {
			fz_fdinfo_check(&w, c, c->fd, true);
		} else if (k < 940) {
			w.c = c;
			fz_random_ioctl(&w, c);
		} else if (k < 950) {
			bool rings = c == &ch[1];

			fz_chan_close(c);
			if (fz_chan_open(c, e, &w.r, rings, true))
				FZ_FAIL("cannot reopen a channel");
		} else if (k < 960) {
			fz_depth_check(&w);
		} else if (k < 975) {
			fz_revoke_check(&w);
		} else if (k < 980 && nkids < 2 && forks < 6) {
			pid_t pid = fz_fork_helper(fz_invoke_child, &w, ch, 100);

			if (pid > 0) {
				kids[nkids++] = pid;
				forks++;
			}
		} else {
			fz_invoke_one(&w, c, c->fd);
		}
		fz_reap_helpers(kids, &nkids, 0);
	}
	fz_reap_helpers(kids, &nkids, cc_now() + 3);
	fz_chan_close(&ch[0]);
	fz_chan_close(&ch[1]);
	ksft_print_msg("fuzz invoke: %ld iterations, %d forks, %d failures\n", iters, forks,
		       atomic_load(&fz_nfail));
}
