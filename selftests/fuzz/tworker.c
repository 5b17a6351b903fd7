// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 4: the worker threads.  Each submits, enters, reaps,
 * invokes and scribbles on whichever channel is behind the shared fd
 * right now (the closer swaps it), and one forks children that do the
 * same.  Results may be racy: only what holds regardless is checked.
 */
#include "fuzz.h"

static void fz_threads_child(struct fz_w *w, void *arg, double end)
{
	struct fz_shared *sh = arg;

	while (cc_now() < end) {
		struct fz_chan *c = &sh->chans[atomic_load(&sh->cur)];
		unsigned int k = fz_rn(&w->r, 100);

		w->c = c;
		if (k < 60) {
			fz_invoke_one(w, c, FZ_SHARED_FD);
		} else if (k < 85) {
			long ret = fz_enter(FZ_SHARED_FD, fz_rn(&w->r, 8), 0, 0);

			fz_count_blind(ret);

			FZ_CHECK(ret >= -4095 && ret <= 8, "ENTER in child -> %ld", ret);
		} else {
			fz_fdinfo_check(w, c, FZ_SHARED_FD, false);
		}
	}
}

static void fz_tw_enter(struct fz_w *w, struct fz_shared *sh, int idx, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	uint32_t n = fz_rn(r, 5), to;
	long ret;
	unsigned int flags = 0, min = 0;

	for (uint32_t i = 0; i < n; i++) {	/* racy on purpose */
		uint32_t tail = *c->sq_tail;

		fz_gen_sqe(w, &c->sqes[tail & (c->sqn - 1)]);
		__atomic_store_n(c->sq_tail, tail + 1, __ATOMIC_RELEASE);
	}
	to = fz_pct(r, 90) ? fz_rn(r, 2 * c->sqn + 1) : fz_r64(r);
	if (fz_pct(r, 50)) {
		flags = CAPCHAN_ENTER_GETEVENTS;
		min = fz_rn(r, c->cqn + 1);
	}
	atomic_store(&sh->in_wait[idx], flags ? 1 : 0);
	ret = fz_enter(FZ_SHARED_FD, to, min, flags);
	fz_count_blind(ret);
	atomic_store(&sh->in_wait[idx], 0);
	atomic_fetch_add(&sh->stats[1], 1);
	/* the channel behind the fd may have changed: sizes are unknown */
	FZ_CHECK((ret >= 0 && ret <= to && ret <= CAPCHAN_MAX_SQ_ENTRIES) || ret == -EBUSY ||
		 ret == -EINTR || ret == -EINVAL || ret == -EBADF || ret == -EBADFD,
		 "ENTER(%u, %u, %#x) -> %ld", to, min, flags, ret);
}

static void fz_tw_reap(struct fz_w *w, struct fz_chan *c)
{
	uint32_t head = __atomic_load_n(c->cq_head, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(c->cq_tail, __ATOMIC_ACQUIRE);
	uint32_t n = tail - head;

	if (n > c->cqn)
		n = c->cqn;
	n = fz_rn(&w->r, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		struct capchan_cqe cqe = c->cqes[(head + i) & (c->cqn - 1)];

		/* another thread may have reaped (and the module reused) it */
		FZ_CHECK(cqe.res >= -4095 || (cqe.user_data >> 48) != FZ_UD_MAGIC,
			 "CQE res %d", cqe.res);
	}
	fz_count_cqes(FZ_CQE_THREADS, n);
	__atomic_store_n(c->cq_head, head + n, __ATOMIC_RELEASE);
}

static void fz_tw_tamper(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	uint32_t *words[] = { c->sq_head, c->sq_tail, c->cq_head, c->cq_tail,
			      c->words[fz_rn(r, 7)] };

	if (fz_pct(r, 60)) {
		*words[fz_rn(r, 5)] = fz_pct(r, 50) ? fz_r64(r) : *words[fz_rn(r, 5)] + 1;
	} else {
		size_t at = fz_rn(r, (uint32_t)c->map_len - 8);

		fz_bytes(r, c->map + at, 1 + fz_rn(r, 8));
	}
}

void *fz_tworker(void *arg)
{
	struct fz_targ *a = arg;
	struct fz_shared *sh = a->sh;
	struct fz_chan priv;
	struct fz_w w;
	long iters = 0;

	fz_w_init(&w, sh->env, sh->seed ^ (0x1000 + a->idx));
	w.threads = true;
	/*
	 * No buffers in the rings here: another thread may close a channel
	 * and unmap its rings while an op of ours still writes there, and
	 * glibc reuses the range for a thread's heap (a SIGABRT from malloc
	 * once in a few runs).  The single-threaded tests cover such buffers.
	 */
	w.ring_addrs = false;
	if (fz_chan_open(&priv, sh->env, &w.r, false, true))
		priv.fd = -1;
	while (!atomic_load(&sh->stop)) {
		struct fz_chan *c = &sh->chans[atomic_load(&sh->cur)];
		unsigned int k = fz_rn(&w.r, 100);

		iters++;
		w.c = c;
		if (k < 35) {
			fz_invoke_one(&w, c, FZ_SHARED_FD);
		} else if (k < 55) {
			fz_tw_enter(&w, sh, a->idx, c);
		} else if (k < 68) {
			fz_tw_reap(&w, c);
		} else if (k < 76) {
			fz_tw_tamper(&w, c);
		} else if (k < 82) {
			/* known commands only: a random one could be a VFS ioctl */
			atomic_store(&sh->in_wait[a->idx], 1);
			switch (fz_rn(&w.r, 4)) {
			case 0: {
				struct capchan_sqe s;
				long res;

				fz_gen_sqe(&w, &s);
				res = fz_invoke(FZ_SHARED_FD, &s);
				fz_check_res(&w, c, &s, res, FZ_M_INVOKE | FZ_M_THREADS);
				break;
			}
			case 1: {
				struct capchan_version v;
				long res;

				memset(&v, 0, sizeof(v));
				res = fz_ioctl(FZ_SHARED_FD, CAPCHAN_IOC_VERSION, &v);
				FZ_CHECK(res == 0 || res == -EBADF, "VERSION -> %ld", res);
				break;
			}
			case 2: {
				struct capchan_params p;
				long res;

				memset(&p, 0, sizeof(p));
				p.sq_entries = 1 + fz_rn(&w.r, 8);
				res = fz_ioctl(FZ_SHARED_FD, CAPCHAN_IOC_SETUP, &p);
				FZ_CHECK(res == -EBUSY || res == -EBADF, "SETUP again -> %ld", res);
				break;
			}
			default: {
				unsigned long cmd = _IOC(fz_rn(&w.r, 4), CAPCHAN_IOC_MAGIC,
							 7 + fz_rn(&w.r, 249), fz_rn(&w.r, 512));
				long res = fz_ioctl(FZ_SHARED_FD, cmd, NULL);

				FZ_CHECK(res == -ENOTTY || res == -EBADF, "ioctl %#lx -> %ld", cmd, res);
				break;
			}
			}
			atomic_store(&sh->in_wait[a->idx], 0);
		} else if (k < 87) {
			fz_fdinfo_check(&w, c, FZ_SHARED_FD, false);
		} else if (k < 90) {
			struct pollfd pfd = { .fd = FZ_SHARED_FD, .events = POLLIN };
			int n = poll(&pfd, 1, 0);

			/*
			 * The watchdog's SIGUSR1 for a wait that just ended may
			 * come now: it saw in_wait set before we cleared it.
			 */
			FZ_CHECK((n >= 0 && !(pfd.revents & ~(POLLIN | POLLRDNORM | POLLNVAL))) ||
				 (n < 0 && errno == EINTR),
				 "poll -> %d (%s) revents %#x", n, n < 0 ? strerror(errno) : "",
				 pfd.revents);
		} else if (k < 92 && a->idx == 0 && atomic_load(&sh->nkids) < 2) {
			pid_t pid = fz_fork_helper(fz_threads_child, &w, sh, 120);

			if (pid > 0) {
				pthread_mutex_lock(&sh->kids_lock);
				sh->kids[atomic_fetch_add(&sh->nkids, 1)] = pid;
				pthread_mutex_unlock(&sh->kids_lock);
				atomic_fetch_add(&sh->stats[3], 1);
			}
		} else if (priv.fd >= 0) {
			/* a private channel: IMPORT what the others EXPORTed */
			fz_invoke_one(&w, &priv, priv.fd);
		}
		if (a->idx == 0 && atomic_load(&sh->nkids)) {
			pthread_mutex_lock(&sh->kids_lock);
			{
				int n = atomic_load(&sh->nkids);

				fz_reap_helpers(sh->kids, &n, 0);
				atomic_store(&sh->nkids, n);
			}
			pthread_mutex_unlock(&sh->kids_lock);
		}
	}
	if (priv.fd >= 0)
		fz_chan_close(&priv);
	atomic_fetch_add(&sh->stats[0], iters);
	fz_w_free(&w);
	return NULL;
}
