// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: random fields shared by the SQE and ioctl fuzzers: user
 * pointers of every kind (valid, read-only, straddling a guard page,
 * unmapped, kernel), buffers, rights and handles (live, stale, forged).
 */
#include "fuzz.h"

/* A kernel address, or a non-canonical one, or the last user page. */
uint64_t fz_kaddr(struct fz_rng *r)
{
	static const uint64_t k[] = {
		0xffff888000000000ULL, 0xffffffff81000000ULL,
		0xffffc90000000000ULL, 0x0000800000000000ULL,	/* non-canonical */
		0xfffffffffffff000ULL, 0x00007ffffffff000ULL,
	};

	return k[fz_rn(r, CC_ARRAY_SIZE(k))] + (fz_r64(r) & 0xfff);
}

/* A user pointer for an object of @len bytes, and what kind it is. */
uint64_t fz_objptr(struct fz_w *w, size_t len, enum fz_ptr_kind *kind)
{
	struct fz_env *e = w->env;
	unsigned int k = fz_rn(&w->r, 100);

	*kind = FZP_BAD;
	if (k < 3)
		return 0;
	if (k < 5)
		return fz_rn(&w->r, 4096);
	if (k < 7)
		return fz_kaddr(&w->r);
	if (k < 9)
		return (uintptr_t)e->none + fz_rn(&w->r, FZ_NONE - 64);
	if (k < 12)	/* straddles the guard page: a partial copy faults */
		return (uintptr_t)e->guard - 1 - fz_rn(&w->r, len > 1 ? len - 1 : 1);
	if (k < 15) {
		*kind = FZP_RO;
		return (uintptr_t)e->ro + fz_rn(&w->r, 4096 - len);
	}
	*kind = FZP_OK;
	return (uintptr_t)e->priv + 64 * fz_rn(&w->r, (FZ_PRIV - 4096) / 64);
}

/* A buffer for READ/WRITE/STAT and its length. */
uint64_t fz_buf(struct fz_w *w, uint32_t *len, bool write)
{
	struct fz_env *e = w->env;
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);

	if (k < 50) {
		*len = fz_pct(r, 60) ? fz_rn(r, 600) : fz_rn(r, 65537);
		return (uintptr_t)e->scratch + fz_rn(r, FZ_SCRATCH - 65536);
	}
	if (k < 58) {
		uint32_t before = 1 + fz_rn(r, 4096);

		*len = before + fz_rn(r, 8192);
		return (uintptr_t)e->guard - before;
	}
	if (k < 62) {
		*len = fz_pct(r, 50) ? 0 : fz_rn(r, 4096);
		return 0;
	}
	if (k < 65) {
		*len = fz_rn(r, 4096);
		return fz_kaddr(r);
	}
	if (k < 70) {
		*len = fz_rn(r, 4097);
		return (uintptr_t)e->ro;
	}
	if (k < 74) {
		*len = fz_rn(r, 4096);
		return (uintptr_t)e->none + fz_rn(r, 4096);
	}
	if (k < 78) {	/* huge lengths: clamped, faulting at the guard page */
		*len = fz_pct(r, 50) ? 0xffffffffu : 0x80000000u;
		if (write)	/* keep the tmpfs small */
			return (uintptr_t)e->guard - 4096 * (1 + fz_rn(r, 16));
		return (uintptr_t)e->scratch + fz_rn(r, 4096);
	}
	if (k < 86 && w->ring_addrs && w->c && w->c->mapped) {
		/*
		 * Within the ring, never past its end: the ring is an mmap
		 * like any other, and what lies right after it is whatever
		 * was mapped before it (the harness's results page, then the
		 * shared counters), not a guard page.
		 */
		uint32_t at = fz_rn(r, (uint32_t)w->c->map_len);

		*len = fz_rn(r, (uint32_t)w->c->map_len - at + 1);
		return (uintptr_t)w->c->map + at;
	}
	*len = fz_rn(r, 4096);
	return (uintptr_t)e->scratch + FZ_SCRATCH - 65536 + fz_rn(r, 60000);
}

/* Rights: any bits, unknown ones, a pool entry's masked, or a usual set. */
uint64_t fz_rights(struct fz_w *w)
{
	static const uint64_t common[] = {
		R_READ | R_STAT, R_READ | R_WRITE | R_SEEK | R_STAT,
		R_LOOKUP | R_READ | R_STAT | R_DERIVE | R_DELEGATE | R_REVOKE,
		R_LOOKUP | R_CREATE | R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC,
		R_ALL, 0, R_WRITE, R_READ | R_SEEK | R_STAT | R_DERIVE | R_REVOKE,
	};
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);

	if (k < 3)
		return fz_r64(r);
	if (k < 5)
		return R_UNKNOWN << fz_rn(r, 20);
	if (k < 35)
		return fz_r64(r) & R_ALL;
	if (k < 60 && w->c && w->c->pool.n)
		return w->c->pool.rights[fz_rn(r, w->c->pool.n)] & fz_r64(r);
	return common[fz_rn(r, CC_ARRAY_SIZE(common))];
}

/* A handle: a root, a pool entry, CHAIN, 0, any number, or a live one forged. */
uint32_t fz_handle(struct fz_w *w)
{
	struct fz_chan *c = w->c;
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	uint32_t h;

	if (!c)
		return fz_r64(r);
	if (k < 30 && c->nroots)
		return c->roots[fz_rn(r, c->nroots)];
	if (k < 65 && c->pool.n)
		return c->pool.h[fz_rn(r, c->pool.n)];
	if (k < 75)
		return CAPCHAN_HANDLE_CHAIN;
	if (k < 80)
		return 0;
	if (k < 88)
		return (uint32_t)fz_r64(r);
	/* a live handle, forged: its slot under another number, or bit 31 */
	h = c->nroots ? c->roots[fz_rn(r, c->nroots)] : 0x10000;
	switch (fz_rn(r, 5)) {
	case 0: return h + 0x10000;
	case 1: return h - 0x10000;
	case 2: return h + 1 + fz_rn(r, 70000);
	case 3: return h | 0x80000000u;
	default: return h ^ 0x40000000u;
	}
}

/* A handle of a known type (0: any) from the roots and the pool, if any. */
bool fz_typed_handle(struct fz_w *w, unsigned int type, uint32_t *h,
		     uint64_t *rights)
{
	struct fz_chan *c = w->c;
	unsigned int n = 0, pick;

	if (!c)
		return false;
	for (unsigned int i = 0; i < c->nroots; i++)
		n += !type || c->root_type[i] == type;
	for (unsigned int i = 0; i < c->pool.n; i++)
		n += !type || c->pool.type[i] == type;
	if (!n)
		return false;
	pick = fz_rn(&w->r, n);
	for (unsigned int i = 0; i < c->nroots; i++)
		if ((!type || c->root_type[i] == type) && !pick--) {
			*h = c->roots[i];
			*rights = c->root_rights[i];
			return true;
		}
	for (unsigned int i = 0; i < c->pool.n; i++)
		if ((!type || c->pool.type[i] == type) && !pick--) {
			*h = c->pool.h[i];
			*rights = c->pool.rights[i];
			return true;
		}
	return false;
}

/* Mostly a subset of @have: what a well-behaved caller would ask for. */
uint64_t fz_subset(struct fz_w *w, uint64_t have)
{
	if (fz_pct(&w->r, 30))
		return have;
	if (fz_pct(&w->r, 85))
		return have & fz_r64(&w->r);
	return fz_rights(w);
}
