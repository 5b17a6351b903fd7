// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 3: rounds of channels with rings of random sizes, each
 * driven against the model (push, enter, reap, tamper, invoke, fdinfo)
 * and drained at the end: every consumed SQE accounted for exactly once;
 * a child forked in the middle uses the channel meanwhile.
 */
#include "fuzz.h"

static void fz_rings_child(struct fz_w *w, void *arg, double end)
{
	struct fz_chan *c = arg;

	/* the child shares the channel (not the model): no ring access */
	while (cc_now() < end) {
		unsigned int k = fz_rn(&w->r, 100);

		if (k < 80) {
			w->ring_addrs = false;
			fz_invoke_one(w, c, c->fd);
		} else if (k < 90) {
			fz_fdinfo_check(w, c, c->fd, false);
		} else {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

			FZ_CHECK(poll(&pfd, 1, 0) >= 0, "poll in child");
		}
	}
	munmap(c->map, c->map_len);
	close(c->fd);
}

void fz_body_rings(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_chan c;
	struct fz_model m;
	struct fz_w w;
	pid_t kids[2];
	int nkids = 0, forks = 0, rounds = 0;

	fz_w_init(&w, e, seed);
	while (fz_going(end)) {
		double round_end = cc_now() + 0.4 + fz_rn(&w.r, 800) / 1000.0;

		if (fz_chan_open(&c, e, &w.r, true, true)) {
			FZ_FAIL("cannot open a channel with rings");
			return;
		}
		rounds++;
		memset(&m, 0, sizeof(m));
		m.c = &c;
		m.exp = calloc(c.cqn, sizeof(*m.exp));
		m.snap = calloc(c.sqn, sizeof(*m.snap));
		while (fz_going(end) && cc_now() < round_end) {
			unsigned int k = fz_rn(&w.r, 100);

			if (k < 30)
				fz_model_push(&w, &m);
			else if (k < 60)
				fz_model_enter(&w, &m);
			else if (k < 75)
				fz_model_reap(&w, &m);
			else if (k < 85)
				fz_model_tamper(&w, &m);
			else if (k < 95)
				fz_invoke_one(&w, &c, c.fd);
			else if (k < 97)
				fz_fdinfo_check(&w, &c, c.fd, true);
			else if (k < 98 && nkids < 1 && forks < 4) {
				pid_t pid = fz_fork_helper(fz_rings_child, &w, &c, 150);

				if (pid > 0) {
					kids[nkids++] = pid;
					forks++;
				}
			} else {
				/* fdinfo shows the module's view of the indices */
				struct cc_fdinfo *fi = malloc(sizeof(*fi));

				if (fi && !cc_read_fdinfo(c.fd, fi))
					FZ_CHECK(fi->sq_head == m.k_sq_head &&
						 fi->cq_tail == m.k_cq_tail &&
						 fi->sq_tail == *c.sq_tail &&
						 fi->cq_head == *c.cq_head,
						 "fdinfo indices %lld/%lld/%lld/%lld, model %u/%u/%u/%u",
						 fi->sq_head, fi->sq_tail, fi->cq_head, fi->cq_tail,
						 m.k_sq_head, *c.sq_tail, *c.cq_head, m.k_cq_tail);
				free(fi);
			}
			fz_reap_helpers(kids, &nkids, 0);
		}
		/* drain: everything consumed is accounted for exactly once */
		fz_model_restore_head(&m);
		while (m.head != m.k_cq_tail) {
			fz_model_reap(&w, &m);
		}
		FZ_CHECK(m.consumed == m.reaped + m.lost,
			 "consumed %llu, reaped %llu + lost to a tampered head %llu",
			 (unsigned long long)m.consumed, (unsigned long long)m.reaped,
			 (unsigned long long)m.lost);
		if (rounds == 1 || fz_pct(&w.r, 10))
			ksft_print_msg("fuzz rings: round %d sq %u cq %u: %llu ENTERs, %llu SQEs consumed, %llu reaped, %llu lost to tampering, %llu EBUSY, %llu EINTR, %llu cut after closes\n",
				       rounds, c.sqn, c.cqn, (unsigned long long)m.enters,
				       (unsigned long long)m.consumed, (unsigned long long)m.reaped,
				       (unsigned long long)m.lost, (unsigned long long)m.ebusy,
				       (unsigned long long)m.eintr, (unsigned long long)m.cuts);
		free(m.exp);
		free(m.snap);
		fz_chan_close(&c);
	}
	fz_reap_helpers(kids, &nkids, cc_now() + 3);
	ksft_print_msg("fuzz rings: %d rounds, %d forks, %d failures\n", rounds, forks,
		       atomic_load(&fz_nfail));
}
