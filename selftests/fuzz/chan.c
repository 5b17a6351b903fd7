// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: channels: open one (rings of random sizes, the usual grants),
 * map its rings, keep pools of the handles it hands out and of the
 * capability files EXPORT makes; ioctl() and INVOKE as -errno.
 */
#include "fuzz.h"

/* EXPORT results kept for IMPORT; owned (closed on eviction) unless threads. */
pthread_mutex_t fz_capfd_lock = PTHREAD_MUTEX_INITIALIZER;
static int fz_capfds[FZ_CAPFDS];
static unsigned int fz_ncapfds;
bool fz_capfds_owned = true;

void fz_capfd_add(int fd)
{
	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_ncapfds == FZ_CAPFDS) {
		if (fz_capfds_owned)
			close(fz_capfds[0]);
		memmove(fz_capfds, fz_capfds + 1, sizeof(int) * (FZ_CAPFDS - 1));
		fz_ncapfds--;
	}
	fz_capfds[fz_ncapfds++] = fd;
	pthread_mutex_unlock(&fz_capfd_lock);
}

int fz_capfd_pick(struct fz_rng *r)
{
	int fd = -1;

	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_ncapfds)
		fd = fz_capfds[fz_rn(r, fz_ncapfds)];
	pthread_mutex_unlock(&fz_capfd_lock);
	return fd;
}

void fz_capfd_close_all(void)
{
	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_capfds_owned)
		for (unsigned int i = 0; i < fz_ncapfds; i++)
			close(fz_capfds[i]);
	fz_ncapfds = 0;
	pthread_mutex_unlock(&fz_capfd_lock);
}

long fz_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	fz_count_ioctl(cmd);
	return ret < 0 ? -errno : ret;
}

long fz_invoke(int fd, const struct capchan_sqe *s)
{
	long ret = fz_ioctl(fd, CAPCHAN_IOC_INVOKE, (void *)s);

	fz_count_sqe(s, ret);
	return ret;
}

/* GRANT with the type reported back; handle or -errno. */
long fz_grant(int chfd, int fd, uint64_t rights, uint32_t *type)
{
	struct capchan_grant g;
	long ret;

	memset(&g, 0, sizeof(g));
	g.fd = fd;
	g.rights = rights;
	ret = fz_ioctl(chfd, CAPCHAN_IOC_GRANT, &g);
	if (ret < 0)
		return ret;
	if (type)
		*type = g.cap_type;
	return g.handle;
}

/* ENTER: SQEs consumed or -errno. */
long fz_enter(int fd, uint32_t to_submit, uint32_t min_complete, uint32_t flags)
{
	struct capchan_enter e;

	memset(&e, 0, sizeof(e));
	e.to_submit = to_submit;
	e.min_complete = min_complete;
	e.flags = flags;
	return fz_ioctl(fd, CAPCHAN_IOC_ENTER, &e);
}

bool fz_handle_ok(long h)
{
	return h > 0 && h <= (long)CAPCHAN_HANDLE_MAX;
}

void fz_pool_add(struct fz_chan *c, uint32_t h, uint64_t rights,
		 unsigned int type, bool close_evicted)
{
	struct fz_pool *p = &c->pool;
	unsigned int i;

	if (p->n < FZ_POOL) {
		i = p->n++;
	} else {
		i = p->next++ % FZ_POOL;
		if (close_evicted) {
			struct capchan_sqe s;

			cc_sqe(&s, CAPCHAN_OP_CLOSE, p->h[i]);
			fz_invoke(c->fd, &s);	/* may be stale already */
		}
	}
	p->h[i] = h;
	p->rights[i] = rights;
	p->type[i] = type;
}

static void fz_ring_ptrs(struct fz_chan *c)
{
	char *m = c->map;
	struct capchan_params *p = &c->p;

	c->sq_head = (uint32_t *)(m + p->sq_off.head);
	c->sq_tail = (uint32_t *)(m + p->sq_off.tail);
	c->cq_head = (uint32_t *)(m + p->cq_off.head);
	c->cq_tail = (uint32_t *)(m + p->cq_off.tail);
	c->words[0] = (uint32_t *)(m + p->sq_off.ring_mask);
	c->words[1] = (uint32_t *)(m + p->sq_off.ring_entries);
	c->words[2] = (uint32_t *)(m + p->sq_off.flags);
	c->words[3] = (uint32_t *)(m + p->sq_off.dropped);
	c->words[4] = (uint32_t *)(m + p->cq_off.ring_mask);
	c->words[5] = (uint32_t *)(m + p->cq_off.ring_entries);
	c->words[6] = (uint32_t *)(m + p->cq_off.overflow);
	c->sqes = (struct capchan_sqe *)(m + p->sq_off.sqes);
	c->cqes = (struct capchan_cqe *)(m + p->cq_off.cqes);
}

/* Check what SETUP returned against what was asked; 0 if consistent. */
void fz_check_params(const struct capchan_params *in,
		     const struct capchan_params *p)
{
	uint32_t sq = 1, cq;

	while (sq < in->sq_entries)
		sq <<= 1;
	if (in->flags & CAPCHAN_SETUP_CQSIZE)
		for (cq = 1; cq < in->cq_entries; cq <<= 1)
			;
	else
		cq = 2 * sq;
	FZ_CHECK(p->sq_entries == sq, "sq %u -> %u", in->sq_entries, p->sq_entries);
	FZ_CHECK(p->cq_entries == cq, "cq %u -> %u", in->cq_entries, p->cq_entries);
	FZ_CHECK((p->features & ~CAPCHAN_FEAT_BTF) == FZ_FEATURES, "features %#x", p->features);
	FZ_CHECK(p->ring_size && !(p->ring_size & 4095), "ring_size %u", p->ring_size);
	FZ_CHECK((uint64_t)p->sq_off.sqes + (uint64_t)sq * 64 <= p->ring_size &&
		 (uint64_t)p->cq_off.cqes + (uint64_t)cq * 16 <= p->ring_size &&
		 !(p->sq_off.sqes & 7) && !(p->cq_off.cqes & 7) &&
		 p->sq_off.head + 4 <= p->ring_size && p->sq_off.tail + 4 <= p->ring_size &&
		 p->cq_off.head + 4 <= p->ring_size && p->cq_off.tail + 4 <= p->ring_size,
		 "layout sqes %u cqes %u size %u", p->sq_off.sqes, p->cq_off.cqes,
		 p->ring_size);
	FZ_CHECK(p->sq_off.head != p->sq_off.tail && p->cq_off.head != p->cq_off.tail &&
		 p->sq_off.tail != p->cq_off.head, "index offsets overlap");
}

int fz_chan_map(struct fz_chan *c)
{
	void *m = mmap(NULL, c->p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	c->map = m;
	c->map_len = c->p.ring_size;
	c->mapped = true;
	fz_ring_ptrs(c);
	return 0;
}

static void fz_chan_grants(struct fz_chan *c, struct fz_env *e)
{
	const struct {
		int fd;
		uint64_t rights;
	} g[] = {
		{ e->t.jail_fd, R_ALL },
		{ e->file_rw, R_FILE_ALL },
		{ e->proc_fd, R_READ | R_SEEK | R_STAT | R_LOOKUP | R_DERIVE |
			      R_DELEGATE | R_REVOKE },
		{ e->file_ro, R_READ | R_SEEK | R_STAT | R_DERIVE | R_DELEGATE },
		{ e->sub_fd, R_LOOKUP | R_CREATE | R_READ | R_WRITE | R_STAT |
			     R_DERIVE | R_REVOKE },
		{ e->t.jail_fd, R_LOOKUP },
	};

	c->nroots = 0;
	for (size_t i = 0; i < CC_ARRAY_SIZE(g); i++) {
		uint32_t type = 0;
		long h;

		if (g[i].fd < 0)
			continue;
		h = fz_grant(c->fd, g[i].fd, g[i].rights, &type);
		if (h > 0) {
			c->roots[c->nroots] = h;
			c->root_type[c->nroots] = type;
			c->root_jail[c->nroots] = g[i].fd == e->t.jail_fd || g[i].fd == e->sub_fd;
			c->root_rights[c->nroots++] = g[i].rights;
		}
	}
}

/* A channel: rings (random sizes) if asked, grants if asked; 0 or -errno. */
int fz_chan_open(struct fz_chan *c, struct fz_env *e, struct fz_rng *r,
		 bool rings, bool grants)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8, 16, 64, 3, 5 };
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	fd = cc_open_dev();
	if (fd < 0)
		return fd;
	c->fd = fd;
	if (rings) {
		struct capchan_params in;

		memset(&c->p, 0, sizeof(c->p));
		c->p.sq_entries = sizes[fz_rn(r, CC_ARRAY_SIZE(sizes))];
		if (fz_pct(r, 40)) {
			c->p.flags = CAPCHAN_SETUP_CQSIZE;
			c->p.cq_entries = c->p.sq_entries * (1 + fz_rn(r, 8));
		}
		in = c->p;
		if (fz_ioctl(fd, CAPCHAN_IOC_SETUP, &c->p))
			return -EIO;
		fz_check_params(&in, &c->p);
		c->rings = true;
		c->sqn = c->p.sq_entries;
		c->cqn = c->p.cq_entries;
		if (fz_chan_map(c))
			return -EIO;
	}
	if (grants)
		fz_chan_grants(c, e);
	return 0;
}

void fz_chan_close(struct fz_chan *c)
{
	if (c->mapped)
		munmap(c->map, c->map_len);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}
