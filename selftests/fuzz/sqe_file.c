// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the fields of the file ops' SQEs: READ, WRITE, FSYNC, STAT,
 * PREFETCH, TRUNCATE.
 */
#include "fuzz.h"

static uint64_t fz_rw_off(struct fz_rng *r)
{
	unsigned int k = fz_rn(r, 100);

	if (k < 45)
		return CAPCHAN_OFF_CURRENT;
	if (k < 75)
		return fz_rn(r, 16384);
	if (k < 86)
		return fz_rn(r, 1 << 20);
	if (k < 90)
		return (1ULL << 40) + fz_rn(r, 1 << 20);
	if (k < 94)
		return (uint64_t)LLONG_MAX - fz_rn(r, 8192);
	if (k < 97)
		return (uint64_t)LLONG_MAX + 1 + fz_rn(r, 1000);
	return fz_r64(r);
}

bool fz_sqe_file(struct fz_w *w, struct capchan_sqe *s)
{
	struct fz_rng *r = &w->r;
	unsigned int k;

	switch (s->opcode) {
	case CAPCHAN_OP_READ:
	case CAPCHAN_OP_WRITE:
		s->addr = fz_buf(w, &s->len, s->opcode == CAPCHAN_OP_WRITE);
		s->off = fz_rw_off(r);
		return true;
	case CAPCHAN_OP_FSYNC:
		s->op_flags = fz_pct(r, 40) ? CAPCHAN_FSYNC_DATASYNC : 0;
		return true;
	case CAPCHAN_OP_STAT: {
		enum fz_ptr_kind kind;

		s->addr = fz_objptr(w, sizeof(struct capchan_stat), &kind);
		s->len = fz_pct(r, 95) ? sizeof(struct capchan_stat) : fz_rn(r, 256);
		return true;
	}
	case CAPCHAN_OP_PREFETCH:
		s->off = fz_pct(r, 90) ? fz_rn(r, 1 << 20) : fz_r64(r);
		s->len = fz_rn(r, 1 << 20);
		return true;
	case CAPCHAN_OP_TRUNCATE:
		k = fz_rn(r, 100);
		s->off = k < 60 ? fz_rn(r, 20000) : k < 80 ? fz_rn(r, 1 << 20) :
			 k < 88 ? (1ULL << 40) + fz_rn(r, 1 << 20) :
			 k < 93 ? (uint64_t)LLONG_MAX - fz_rn(r, 8192) :
			 k < 97 ? (uint64_t)LLONG_MAX + 1 + fz_rn(r, 1000) : fz_r64(r);
		return true;
	}
	return false;
}
