// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 3: user space scribbling on the rings: the module's
 * own indices, every ring word, our indices (ahead, behind, random),
 * queued SQE bytes and free CQE slots.  The model (ring_model.c) knows
 * what may change and what must not.
 */
#include "fuzz.h"

void fz_model_tamper(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	struct fz_rng *r = &w->r;

	switch (fz_rn(r, 8)) {
	case 0:	/* the module's own index: it must not care */
		*c->sq_head = fz_r64(r);
		m->sq_head_dirty = true;
		break;
	case 1:
		*c->cq_tail = fz_r64(r);
		m->cq_tail_dirty = true;
		break;
	case 2:
		*c->words[fz_rn(r, 7)] = fz_pct(r, 50) ? fz_r64(r) : 0xffffffffu;
		break;
	case 3: {	/* our SQ tail: ahead, behind (clamped to a full ring) or random */
		uint32_t v;

		switch (fz_rn(r, 3)) {
		case 0: v = m->k_sq_head + fz_rn(r, c->sqn + 1); break;
		case 1: v = m->k_sq_head - 1 - fz_rn(r, 5); break;
		default: v = fz_r64(r); break;
		}
		__atomic_store_n(c->sq_tail, v, __ATOMIC_RELEASE);
		break;
	}
	case 4: {	/* our CQ head: nonsense until restored */
		uint32_t v;

		switch (fz_rn(r, 3)) {
		case 0: v = m->k_cq_tail + 1 + fz_rn(r, 3); break;		/* ahead */
		case 1: v = m->head + fz_rn(r, 2 * c->cqn + 1) - c->cqn; break;
		default: v = fz_r64(r); break;
		}
		__atomic_store_n(c->cq_head, v, __ATOMIC_RELEASE);
		m->cq_head_tampered = true;
		break;
	}
	case 5:
	case 6: {	/* garbage bytes into SQE slots, queued or not */
		uint32_t i = fz_rn(r, c->sqn);
		unsigned char *b = (unsigned char *)&c->sqes[i];
		uint32_t at = fz_rn(r, 64), len = 1 + fz_rn(r, 64 - at);

		fz_bytes(r, b + at, len);
		break;
	}
	default: {	/* garbage into CQE slots the module owns (free ones) */
		uint32_t free_n = c->cqn - (m->k_cq_tail - m->head);

		if (m->cq_head_tampered || m->k_cq_tail - m->head > c->cqn || !free_n)
			break;
		for (uint32_t i = fz_rn(r, free_n); i < free_n; i += 1 + fz_rn(r, 4))
			fz_bytes(r, &c->cqes[(m->k_cq_tail + i) & (c->cqn - 1)],
				 sizeof(struct capchan_cqe));
		break;
	}
	}
}
