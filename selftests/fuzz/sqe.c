// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: a random SQE: mostly well-formed ops with random fields
 * (their families fill those: sqe_file.c, sqe_cap.c, sqe_dir.c), some
 * garbage; a handle of the type the op wants half the time; stray bits in
 * unused and reserved fields; LINK now and then.
 */
#include "fuzz.h"

/* A random SQE: mostly well-formed ops with random fields, some garbage. */
void fz_gen_sqe(struct fz_w *w, struct capchan_sqe *s)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100), op;
	uint64_t have_rights = 0;

	memset(s, 0, sizeof(*s));
	if (k < 3) {
		fz_bytes(r, s, sizeof(*s));
		return;
	}
	if (k < 8) {
		op = CAPCHAN_OP_LAST + fz_rn(r, 256 - CAPCHAN_OP_LAST);
	} else {
		static const uint8_t weights[] = {
			CAPCHAN_OP_NOP, CAPCHAN_OP_NOP, CAPCHAN_OP_OPEN, CAPCHAN_OP_OPEN,
			CAPCHAN_OP_OPEN, CAPCHAN_OP_OPEN, CAPCHAN_OP_READ, CAPCHAN_OP_READ,
			CAPCHAN_OP_READ, CAPCHAN_OP_WRITE, CAPCHAN_OP_WRITE,
			CAPCHAN_OP_FSYNC, CAPCHAN_OP_STAT, CAPCHAN_OP_STAT,
			CAPCHAN_OP_DERIVE, CAPCHAN_OP_DERIVE, CAPCHAN_OP_REVOKE,
			CAPCHAN_OP_CLOSE, CAPCHAN_OP_CLOSE, CAPCHAN_OP_EXPORT,
			CAPCHAN_OP_IMPORT, CAPCHAN_OP_IMPORT, CAPCHAN_OP_PREFETCH,
			CAPCHAN_OP_READDIR, CAPCHAN_OP_READDIR, CAPCHAN_OP_STATAT,
			CAPCHAN_OP_STATAT, CAPCHAN_OP_MKDIR, CAPCHAN_OP_UNLINK,
			CAPCHAN_OP_RMDIR, CAPCHAN_OP_SYMLINK, CAPCHAN_OP_RENAME,
			CAPCHAN_OP_RENAME, CAPCHAN_OP_TRUNCATE,
		};

		op = weights[fz_rn(r, sizeof(weights))];
	}
	s->opcode = op;
	s->handle = fz_handle(w);
	{
		static const uint8_t want[CAPCHAN_OP_LAST] = {
			[CAPCHAN_OP_OPEN] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_READ] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_WRITE] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_FSYNC] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_PREFETCH] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_READDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_STATAT] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_MKDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_UNLINK] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_RMDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_SYMLINK] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_RENAME] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_TRUNCATE] = CAPCHAN_CAP_FILE,
		};
		uint64_t have;

		if (op < CAPCHAN_OP_LAST && op != CAPCHAN_OP_NOP && op != CAPCHAN_OP_IMPORT &&
		    fz_pct(r, 55) && fz_typed_handle(w, want[op], &s->handle, &have))
			have_rights = have;
		/* the directory ops mostly on the jail's DIR with every right */
		if (op >= CAPCHAN_OP_READDIR && op < CAPCHAN_OP_TRUNCATE && w->c &&
		    w->c->nroots && w->c->root_type[0] == CAPCHAN_CAP_DIR && fz_pct(r, 35))
			s->handle = w->c->roots[0];
	}
	if (op == CAPCHAN_OP_NOP) {
		if (fz_pct(r, 80))
			s->handle = 0;
	} else if (!fz_sqe_dir(w, s, have_rights) && !fz_sqe_file(w, s) &&
		   !fz_sqe_cap(w, s, have_rights)) {
		/* REVOKE, CLOSE and unknown opcodes: an offset they must ignore */
		s->off = fz_pct(r, 50) ? 0 : fz_r64(r);
	}
	/* stray bits: a field the op does not use, a reserved field */
	if (fz_pct(r, 5)) {
		unsigned char *b = (unsigned char *)s;

		b[fz_rn(r, sizeof(*s))] ^= 1 << fz_rn(r, 8);
	}
	if (fz_pct(r, 2))
		s->resv0 = fz_r64(r);
	if (fz_pct(r, 1))
		s->resv1 = fz_r64(r) | 1;
	if (fz_pct(r, 1))
		s->resv2 = fz_r64(r) | 1;
	k = fz_rn(r, 100);
	s->flags = k < 85 ? 0 : k < 97 ? CAPCHAN_SQE_LINK : (uint8_t)fz_r64(r);
	/*
	 * Never CAPCHAN_SQE_ASYNC: an op in a worker may complete after the
	 * SQEs behind it, and the ring model checks CQEs in submission order
	 * (workers_test and workers_attack_test cover the workers).
	 */
	s->flags &= ~CAPCHAN_SQE_ASYNC;
	s->user_data = fz_r64(r);
}
