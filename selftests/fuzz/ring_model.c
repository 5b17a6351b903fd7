// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 3: SQEs through a ring, checked against a model of the
 * module's private indices: ENTER must return exactly the number of SQEs
 * that could be consumed, every consumed SQE yields exactly one CQE (same
 * user_data, in order), chains cancel exactly when they should, and the
 * indices the module owns read back right even after user space
 * scribbled on them (ring_tamper.c).
 */
#include "fuzz.h"

static bool fz_makes_handle(unsigned int op)
{
	return op == CAPCHAN_OP_OPEN || op == CAPCHAN_OP_DERIVE || op == CAPCHAN_OP_IMPORT;
}

void fz_model_push(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	uint32_t tail = *c->sq_tail, space, n;

	if (tail - m->k_sq_head > c->sqn) {	/* after tampering: start over */
		tail = m->k_sq_head;
		__atomic_store_n(c->sq_tail, tail, __ATOMIC_RELEASE);
	}
	space = c->sqn - (tail - m->k_sq_head);
	n = fz_rn(&w->r, space + 1);
	for (uint32_t i = 0; i < n; i++) {
		struct capchan_sqe *s = &c->sqes[tail & (c->sqn - 1)];

		w->c = c;
		w->ring_addrs = false;
		fz_gen_sqe(w, s);
		s->user_data = FZ_UD_MAGIC << 48 | (m->consumed + i) << 8 | s->opcode;
		tail++;
		/* SQE before tail; pairs with the module's load-acquire */
		__atomic_store_n(c->sq_tail, tail, __ATOMIC_RELEASE);
	}
}

void fz_model_enter(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	struct fz_rng *r = &w->r;
	struct capchan_enter e;
	uint32_t tail, avail, n_sub, cqh, used, space, n = 0, pending;
	long want, ret;
	bool invalid = false, armed = false, may_block = false;
	unsigned int k;

	memset(&e, 0, sizeof(e));
	k = fz_rn(r, 100);
	e.to_submit = k < 60 ? fz_rn(r, c->sqn + 1) : k < 80 ? fz_rn(r, 4 * c->sqn + 2) :
		      k < 90 ? 0xffffffffu : 0;
	if (fz_pct(r, 60))
		e.flags = CAPCHAN_ENTER_GETEVENTS;
	if (fz_pct(r, 2)) {
		e.flags |= 1u << (1 + fz_rn(r, 31));
		invalid = true;
	}
	if (fz_pct(r, 2)) {
		e.resv[fz_rn(r, 2)] = 1;
		invalid = true;
	}
	tail = *c->sq_tail;
	avail = tail - m->k_sq_head;
	if (avail > c->sqn)
		avail = c->sqn;
	n_sub = e.to_submit < avail ? e.to_submit : avail;
	cqh = *c->cq_head;
	used = m->k_cq_tail - cqh;
	space = used > c->cqn ? 0 : c->cqn - used;
	n = n_sub < space ? n_sub : space;
	pending = m->k_cq_tail + n - cqh;
	if (pending > c->cqn)
		pending = c->cqn;
	if (e.flags & CAPCHAN_ENTER_GETEVENTS) {
		k = fz_rn(r, 100);
		if (k < 88) {
			e.min_complete = fz_rn(r, pending + 1);
		} else if (k < 93) {
			e.min_complete = c->cqn + 1 + fz_rn(r, 5);
			invalid = true;
		} else if (pending < c->cqn) {	/* cannot be met: a signal ends it */
			e.min_complete = pending + 1 + fz_rn(r, c->cqn - pending);
			may_block = true;
		}
	} else if (fz_pct(r, 2)) {
		e.min_complete = 1;
		invalid = true;
	}
	if (invalid)
		want = -EINVAL;
	else if (n_sub && !n)
		want = -EBUSY;
	else
		want = n;
	if (!invalid && !(n_sub && !n))
		for (uint32_t i = 0; i < n; i++)
			m->snap[i] = c->sqes[(m->k_sq_head + i) & (c->sqn - 1)];
	if (may_block && want >= 0) {
		fz_arm(15);
		armed = true;
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_ENTER, &e);
	if (armed)
		fz_disarm();
	m->enters++;
	if (may_block && want == 0 && ret == -EINTR) {
		m->eintr++;
		return;
	}
	/*
	 * The module stops early, without waiting, once it has run 32 ops
	 * after one of them let go of a file (capchan_submit(3)): then at
	 * least 32 were consumed, and fewer than could have been.
	 */
	if (want > 0 && ret >= FZ_ENTER_CUT && ret < want) {
		m->cuts++;
		want = ret;
		n = ret;
	}
	FZ_CHECK(ret == want, "ENTER{to_submit %u min %u flags %#x} -> %ld, expected %ld (sq_tail %u k_head %u cq_head %u k_tail %u)",
		 e.to_submit, e.min_complete, e.flags, ret, want, tail, m->k_sq_head, cqh,
		 m->k_cq_tail);
	if (ret == -EBUSY)
		m->ebusy++;
	if (ret != want || ret < 0) {
		if (ret == -EBUSY && want == -EBUSY) {
			FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u after EBUSY, expected %u",
				 *c->sq_head, m->k_sq_head);
			m->sq_head_dirty = false;
		}
		return;
	}
	/* the n new CQEs, checked and learnt from right away, in order */
	for (uint32_t i = 0; i < n; i++) {
		const struct capchan_sqe *s = &m->snap[i];
		uint32_t pos = m->k_cq_tail + i;
		struct capchan_cqe cqe = c->cqes[pos & (c->cqn - 1)];
		unsigned int mode = 0;
		bool linked = m->in_link;

		if (!linked) {
			m->link_failed = false;
			m->chain_handle = 0;
		}
		if (m->link_failed)
			mode |= FZ_M_CANCEL;
		if (!m->chain_handle)
			mode |= FZ_M_CHAIN0;
		FZ_CHECK(cqe.user_data == s->user_data && cqe.flags == 0,
			 "CQE %u: user_data %#llx flags %#x, expected %#llx", pos,
			 (unsigned long long)cqe.user_data, cqe.flags,
			 (unsigned long long)s->user_data);
		fz_count_sqe(s, cqe.res);
		fz_check_res(w, c, s, cqe.res, mode);
		if ((mode & FZ_M_CANCEL) && cqe.res != -ECANCELED)
			FZ_FAIL("the chain failed at %s with %d", fz_s(&m->failed),
				m->failed_res);
		if (!(mode & FZ_M_CANCEL)) {
			if (cqe.res < 0) {
				m->link_failed = true;
				m->failed = *s;
				m->failed_res = cqe.res;
			} else if (s->opcode < CAPCHAN_OP_LAST && fz_makes_handle(s->opcode) &&
				 cqe.res > 0)
				m->chain_handle = cqe.res;
		}
		m->in_link = s->flags & CAPCHAN_SQE_LINK;
		m->exp[pos & (c->cqn - 1)].user_data = cqe.user_data;
		m->exp[pos & (c->cqn - 1)].res = cqe.res;
	}
	fz_count_cqes(FZ_CQE_POSTED, n);
	m->k_sq_head += n;
	m->k_cq_tail += n;
	m->consumed += n;
	if (n_sub) {
		FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u, expected %u", *c->sq_head,
			 m->k_sq_head);
		m->sq_head_dirty = false;
	}
	if (n) {
		FZ_CHECK(__atomic_load_n(c->cq_tail, __ATOMIC_ACQUIRE) == m->k_cq_tail,
			 "cq_tail %u, expected %u", *c->cq_tail, m->k_cq_tail);
		m->cq_tail_dirty = false;
	}
	if (!m->sq_head_dirty)
		FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u, expected %u", *c->sq_head,
			 m->k_sq_head);
	if (!m->cq_tail_dirty)
		FZ_CHECK(*c->cq_tail == m->k_cq_tail, "cq_tail %u, expected %u", *c->cq_tail,
			 m->k_cq_tail);
}

void fz_model_restore_head(struct fz_model *m)
{
	struct fz_chan *c = m->c;

	if (!m->cq_head_tampered)
		return;
	/* the module may have overwritten what we had not consumed yet */
	if (m->k_cq_tail - m->head > c->cqn) {
		m->lost += (m->k_cq_tail - c->cqn) - m->head;
		m->head = m->k_cq_tail - c->cqn;
	}
	__atomic_store_n(c->cq_head, m->head, __ATOMIC_RELEASE);
	m->cq_head_tampered = false;
}

void fz_model_reap(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	uint32_t n;

	fz_model_restore_head(m);
	FZ_CHECK(m->k_cq_tail - m->head <= c->cqn, "CQ overflow: tail %u head %u",
		 m->k_cq_tail, m->head);
	n = fz_rn(&w->r, m->k_cq_tail - m->head + 1);
	while (n--) {
		struct capchan_cqe cqe = c->cqes[m->head & (c->cqn - 1)];
		struct fz_exp *x = &m->exp[m->head & (c->cqn - 1)];

		FZ_CHECK(cqe.user_data == x->user_data && cqe.res == x->res && !cqe.flags,
			 "CQE %u changed: %#llx/%d, posted as %#llx/%d", m->head,
			 (unsigned long long)cqe.user_data, cqe.res,
			 (unsigned long long)x->user_data, x->res);
		m->head++;
		m->reaped++;
		fz_count_cqes(FZ_CQE_REAPED, 1);
		/* pairs with the module's load-acquire of cq_head */
		__atomic_store_n(c->cq_head, m->head, __ATOMIC_RELEASE);
	}
}
