// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 1: ioctls (ioctl_args.c), mmap, poll, epoll, read,
 * write, lseek and fdinfo on four channels with and without rings,
 * garbage written all over mapped rings, and forked children using the
 * channels meanwhile.
 */
#include "fuzz.h"
#include <sys/epoll.h>

/* mmap with random length/offset/flags; what is expected of each. */
static void fz_mmap_fuzz(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	size_t size = c->p.ring_size, len;
	bool shared = fz_pct(r, 85);
	long off = fz_pct(r, 80) ? 0 : 4096L * (1 + fz_rn(r, 8));
	int prot = fz_pct(r, 80) ? PROT_READ | PROT_WRITE : PROT_READ;
	long want;
	char *m;

	switch (fz_rn(r, 4)) {
	case 0: len = size ? size : 4096; break;
	case 1: len = size ? 1 + fz_rn(r, size) : 4096; break;
	case 2: len = (size ? size : 4096) + 4096 * (1 + fz_rn(r, 4)); break;
	default: len = 4096; break;
	}
	if (!c->rings)
		want = -EBADFD;
	else if (!shared || off || ((len + 4095) & ~4095UL) > size)
		want = -EINVAL;
	else
		want = 0;
	m = mmap(NULL, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, c->fd, off);
	if (c->rings && !size) {	/* SETUP's copy-out failed: size unknown */
		if (m != MAP_FAILED)
			munmap(m, len);
		return;
	}
	FZ_CHECK((m == MAP_FAILED ? -errno : 0) == want,
		 "mmap(len %zu off %ld %s) -> %d, expected %ld (ring_size %zu)", len, off,
		 shared ? "shared" : "private", m == MAP_FAILED ? -errno : 0, want, size);
	if (m == MAP_FAILED)
		return;
	if ((prot & PROT_WRITE) && fz_pct(r, 50)) {
		size_t at = fz_rn(r, ((len + 4095) & ~4095UL) - 8);

		fz_bytes(r, m + at, 8);	/* garbage anywhere, even indices */
	}
	if (fz_pct(r, 30)) {
		void *m2 = mremap(m, len, len + 8192, MREMAP_MAYMOVE);

		FZ_CHECK(m2 == MAP_FAILED, "ring mapping grew with mremap");
		if (m2 != MAP_FAILED) {
			m = m2;
			len += 8192;
		}
	}
	if (len > 4096 && fz_pct(r, 50)) {
		munmap(m + 4096, len - 4096);
		len = 4096;
	}
	munmap(m, len);
}

static void fz_misc_syscalls(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	char buf[64];
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN | POLLOUT | POLLPRI };
	int n;

	switch (fz_rn(r, 5)) {
	case 0:
		n = poll(&pfd, 1, 0);
		FZ_CHECK(n >= 0 && !(pfd.revents & ~(POLLIN | POLLRDNORM)),
			 "poll -> %d revents %#x", n, pfd.revents);
		if (!c->rings)
			FZ_CHECK(!pfd.revents, "poll before SETUP: %#x", pfd.revents);
		break;
	case 1: {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN }, out;

		FZ_CHECK(ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev),
			 "epoll add: %s", strerror(errno));
		n = epoll_wait(ep, &out, 1, 0);
		FZ_CHECK(n == 0 || n == 1, "epoll_wait -> %d", n);
		close(ep);
		break;
	}
	case 2:
		n = read(c->fd, buf, sizeof(buf));
		FZ_CHECK(n < 0 && errno == EINVAL, "read(channel) -> %d (%s)", n, strerror(errno));
		n = write(c->fd, buf, sizeof(buf));
		FZ_CHECK(n < 0 && errno == EINVAL, "write(channel) -> %d (%s)", n, strerror(errno));
		break;
	case 3: {
		off_t o = lseek(c->fd, fz_rn(r, 100), SEEK_SET);

		FZ_CHECK(o < 0 && errno == ESPIPE, "lseek(channel) -> %lld (%s)", (long long)o,
			 strerror(errno));
		break;
	}
	default:
		fz_fdinfo_check(w, c, c->fd, true);
		break;
	}
}

/* Garbage over a mapped ring, then a non-blocking ENTER. */
static void fz_ring_garbage(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	int n = 1 + fz_rn(r, 16);
	long ret;
	uint32_t to;

	if (!c->mapped)
		return;
	while (n--) {
		size_t at = fz_rn(r, (uint32_t)c->map_len - 8);

		fz_bytes(r, c->map + at, 1 + fz_rn(r, 8));
	}
	if (fz_pct(r, 50))	/* valid-looking SQEs at least some of the time */
		for (uint32_t i = 0; i < c->sqn; i++)
			if (fz_pct(r, 50)) {
				w->c = c;
				fz_gen_sqe(w, &c->sqes[i]);
			}
	to = fz_pct(r, 80) ? fz_rn(r, 2 * c->sqn + 2) : fz_r64(r);
	ret = fz_enter(c->fd, to, 0, 0);
	fz_count_blind(ret);
	FZ_CHECK((ret >= 0 && ret <= to && ret <= c->sqn) || ret == -EBUSY,
		 "ENTER(%u) on a garbage ring -> %ld (sq %u)", to, ret, c->sqn);
}

struct fz_ioctl_state {
	struct fz_chan ch[4];
	pid_t kids[4];
	int nkids;
	int forks;
};

static void fz_ioctl_iter(struct fz_w *w, struct fz_ioctl_state *s, bool child);

static void fz_ioctl_child(struct fz_w *w, void *arg, double end)
{
	struct fz_ioctl_state *s = arg;
	struct fz_chan inh[4];

	/* the parent models its channels' state: only INVOKE on those */
	memcpy(inh, s->ch, sizeof(inh));
	for (int i = 0; i < 4; i++)
		s->ch[i].fd = -1;
	s->nkids = 0;
	while (cc_now() < end) {
		struct fz_chan *c = &inh[fz_rn(&w->r, 4)];

		if (fz_pct(&w->r, 30) && c->fd >= 0)
			fz_invoke_one(w, c, c->fd);
		else
			fz_ioctl_iter(w, s, true);
	}
}

static void fz_ioctl_iter(struct fz_w *w, struct fz_ioctl_state *s, bool child)
{
	struct fz_rng *r = &w->r;
	struct fz_chan *c = &s->ch[fz_rn(r, 4)];
	unsigned int k = fz_rn(r, 100);

	if (c->fd < 0 || k < 3) {
		fz_chan_close(c);
		if (fz_chan_open(c, w->env, r, fz_pct(r, 50), fz_pct(r, 80)))
			FZ_FAIL("cannot open a channel");
		return;
	}
	w->c = c;
	w->ring_addrs = true;
	if (k < 55)
		fz_random_ioctl(w, c);
	else if (k < 63 && c->rings)
		fz_mmap_fuzz(w, c);
	else if (k < 73)
		fz_misc_syscalls(w, c);
	else if (k < 83)
		fz_ring_garbage(w, c);
	else if (k < 85 && !child && s->nkids < 2 && s->forks < 6) {
		pid_t pid = fz_fork_helper(fz_ioctl_child, w, s, 150);

		if (pid > 0) {
			s->kids[s->nkids++] = pid;
			s->forks++;
		}
	} else {
		fz_invoke_one(w, c, c->fd);
	}
}

void fz_body_ioctls(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_ioctl_state s;
	struct fz_w w;
	long iters = 0;

	fz_w_init(&w, e, seed);
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		s.ch[i].fd = -1;
	while (fz_going(end)) {
		fz_ioctl_iter(&w, &s, false);
		fz_reap_helpers(s.kids, &s.nkids, 0);
		iters++;
	}
	fz_reap_helpers(s.kids, &s.nkids, cc_now() + 3);
	for (int i = 0; i < 4; i++)
		fz_chan_close(&s.ch[i]);
	ksft_print_msg("fuzz ioctls: %ld iterations, %d forks, %d failures\n", iters,
		       s.forks, atomic_load(&fz_nfail));
}
