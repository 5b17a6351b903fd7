// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the fields of the capability ops' SQEs: DERIVE, EXPORT,
 * IMPORT (REVOKE and CLOSE take nothing but a handle).
 */
#include "fuzz.h"

/* An fd number for IMPORT (sqe->off). */
static uint64_t fz_import_fd(struct fz_w *w)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	int fd;

	if (k < 55 && (fd = fz_capfd_pick(r)) >= 0)
		return fd;
	if (k < 75)
		return fz_rn(r, 40);
	if (k < 80)
		return w->env->file_rw;
	if (k < 85)
		return (uint64_t)-1;
	if (k < 90)
		return (uint64_t)INT_MAX + fz_rn(r, 3);
	return fz_r64(r);
}

bool fz_sqe_cap(struct fz_w *w, struct capchan_sqe *s, uint64_t have_rights)
{
	switch (s->opcode) {
	case CAPCHAN_OP_DERIVE:
	case CAPCHAN_OP_EXPORT:
		s->rights = have_rights ? fz_subset(w, have_rights) : fz_rights(w);
		return true;
	case CAPCHAN_OP_IMPORT:
		if (fz_pct(&w->r, 85))
			s->handle = 0;
		s->off = fz_import_fd(w);
		return true;
	}
	return false;
}
