// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 1: random ioctl numbers (capchan's, with flipped size
 * and direction bits, made up, anything but the VFS's own) and argument
 * buffers of every kind, each result checked exactly against what the
 * arguments make of it.
 */
#include "fuzz.h"

static const unsigned long fz_cmds[] = {
	CAPCHAN_IOC_VERSION, CAPCHAN_IOC_SETUP, CAPCHAN_IOC_GRANT,
	CAPCHAN_IOC_SEAL, CAPCHAN_IOC_ENTER, CAPCHAN_IOC_INVOKE,
};

static bool fz_known_cmd(unsigned long cmd)
{
	/* attached filters stay: filter_test covers this one, not the fuzzer */
	if (cmd == CAPCHAN_IOC_FILTER)
		return true;
	for (size_t i = 0; i < CC_ARRAY_SIZE(fz_cmds); i++)
		if (cmd == fz_cmds[i])
			return true;
	return false;
}

/* ioctl types the VFS itself implements for every file (FIO*, FS_IOC_*...). */
static bool fz_vfs_type(unsigned int type)
{
	return type == 0x00 || type == 'T' || type == 'X' || type == 'f' ||
	       type == 'v' || type == 0x94 || type == 0x15;
}

static long fz_expect_version(const struct capchan_version *v)
{
	for (int i = 0; i < 4; i++)
		if (v->resv[i])
			return -EINVAL;
	return 0;
}

static void fz_ioc_version(struct fz_w *w, struct fz_chan *c)
{
	struct capchan_version *v;
	enum fz_ptr_kind kind;
	uint64_t p = fz_objptr(w, sizeof(*v), &kind);
	long ret, want;

	v = (void *)(uintptr_t)p;
	if (kind == FZP_OK) {
		memset(v, 0, sizeof(*v));
		if (fz_pct(&w->r, 20))	/* output-only fields: ignored */
			fz_bytes(&w->r, v, offsetof(struct capchan_version, resv));
		if (fz_pct(&w->r, 15))
			v->resv[fz_rn(&w->r, 4)] = fz_r64(&w->r) | 1;
		want = fz_expect_version(v);
	} else {
		want = -EFAULT;
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_VERSION, v);
	FZ_CHECK(ret == want, "VERSION(%#llx kind %d) -> %ld, expected %ld",
		 (unsigned long long)p, kind, ret, want);
	if (ret == 0 && kind == FZP_OK) {
		uint64_t ops = ((1ULL << CAPCHAN_OP_LAST) - 1) & ~w->env->disabled_ops;

		FZ_CHECK(v->abi_version == CAPCHAN_ABI_VERSION &&
			 (v->features & ~CAPCHAN_FEAT_BTF) == FZ_FEATURES &&
			 v->ops == ops && v->rights == R_ALL &&
			 v->max_sq_entries == CAPCHAN_MAX_SQ_ENTRIES &&
			 v->max_cq_entries == CAPCHAN_MAX_CQ_ENTRIES &&
			 v->max_caps == w->env->max_caps && v->max_depth == w->env->max_depth &&
			 !v->resv[0] && !v->resv[1] && !v->resv[2] && !v->resv[3],
			 "VERSION output abi %u feat %#x ops %#llx caps %u depth %u",
			 v->abi_version, v->features, (unsigned long long)v->ops,
			 v->max_caps, v->max_depth);
	}
}

static long fz_expect_setup(const struct fz_chan *c, const struct capchan_params *p)
{
	uint32_t sq = 1, cq = 1;

	if (c->rings)
		return -EBUSY;
	if (p->flags & ~CAPCHAN_SETUP_FLAGS_ALL)
		return -EINVAL;
	if (p->flags & CAPCHAN_SETUP_INFLIGHT) {
		if (!p->max_inflight || p->max_inflight > CAPCHAN_MAX_INFLIGHT)
			return -EINVAL;
	} else if (p->max_inflight) {
		return -EINVAL;
	}
	/* the poll thread's fields without CAPCHAN_SETUP_SQPOLL */
	if (p->sq_thread_cpu || p->sq_thread_idle)
		return -EINVAL;
	if (!p->sq_entries || p->sq_entries > CAPCHAN_MAX_SQ_ENTRIES)
		return -EINVAL;
	while (sq < p->sq_entries)
		sq <<= 1;
	if (p->flags & CAPCHAN_SETUP_CQSIZE) {
		if (!p->cq_entries || p->cq_entries > CAPCHAN_MAX_CQ_ENTRIES)
			return -EINVAL;
		while (cq < p->cq_entries)
			cq <<= 1;
		if (cq < sq)
			return -EINVAL;
	} else if (p->cq_entries) {
		return -EINVAL;
	}
	return 0;
}

static void fz_ioc_setup(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_params *p, in;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*p), &kind);
	bool ro_valid = false;
	long ret, want;

	p = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(p, 0, sizeof(*p));
		if (fz_pct(r, 10))	/* output-only fields: ignored */
			fz_bytes(r, &p->sq_off, sizeof(p->sq_off) + sizeof(p->cq_off));
		p->sq_entries = fz_pct(r, 80) ? 1 + fz_rn(r, 70) : fz_rn(r, 5000);
		if (fz_pct(r, 40)) {
			p->flags = CAPCHAN_SETUP_CQSIZE;
			p->cq_entries = fz_pct(r, 80) ? p->sq_entries * (1 + fz_rn(r, 4))
						      : fz_rn(r, 9000);
		} else if (fz_pct(r, 5)) {
			p->cq_entries = 1 + fz_rn(r, 100);
		}
		/* never SQPOLL (bits 1, 2): its thread would race this model */
		if (fz_pct(r, 4))
			p->flags |= 1u << (3 + fz_rn(r, 29));
		if (fz_pct(r, 4)) {
			uint32_t v = 1 + fz_rn(r, 100);

			switch (fz_rn(r, 3)) {
			case 0:
				/* with or without CAPCHAN_SETUP_INFLIGHT */
				p->max_inflight = fz_pct(r, 50) ? v : 0;
				if (fz_pct(r, 50))
					p->flags |= CAPCHAN_SETUP_INFLIGHT;
				break;
			case 1:
				p->sq_thread_cpu = v;
				break;
			default:
				p->sq_thread_idle = v;
				break;
			}
		}
		want = fz_expect_setup(c, p);
		/* setup succeeds but the copy-out faults: rings exist anyway */
		if (!want && fz_pct(r, 10) && !mprotect((void *)(ptr & ~4095ULL), 4096, PROT_READ))
			ro_valid = true;
	} else if (kind == FZP_RO) {
		want = c->rings ? -EBUSY : -EINVAL;	/* all zero: sq_entries 0 */
	} else {
		want = -EFAULT;
	}
	if (kind == FZP_OK)
		in = *p;
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_SETUP, p);
	if (ro_valid) {
		mprotect((void *)(ptr & ~4095ULL), 4096, PROT_READ | PROT_WRITE);
		FZ_CHECK(ret == -EFAULT, "SETUP into a read-only page -> %ld", ret);
		c->rings = true;
		c->p = in;
		return;
	}
	FZ_CHECK(ret == want || (want == 0 && ret == -ENOMEM),
		 "SETUP(sq %u cq %u flags %#x kind %d) -> %ld, expected %ld",
		 kind == FZP_OK ? in.sq_entries : 0, kind == FZP_OK ? in.cq_entries : 0,
		 kind == FZP_OK ? in.flags : 0, kind, ret, want);
	if (ret || kind != FZP_OK)
		return;
	fz_check_params(&in, p);
	c->rings = true;
	c->p = *p;
	c->sqn = p->sq_entries;
	c->cqn = p->cq_entries;
	if (fz_pct(r, 70) && fz_chan_map(c))
		FZ_FAIL("mmap of a fresh ring failed");
}

static int fz_grant_fd(struct fz_w *w, struct fz_chan *c, long *want, uint64_t *rights)
{
	struct fz_env *e = w->env;
	struct fz_rng *r = &w->r;
	int fd;

	*want = 0;
	switch (fz_rn(r, 15)) {
	case 0: fd = e->t.jail_fd; break;
	case 1: fd = e->sub_fd; break;
	case 2: fd = e->proc_fd;
		/* never /proc/self/mem for writing, nothing removed there */
		*rights &= ~(R_WRITE | R_CREATE | CAPCHAN_RIGHT_REMOVE);
		break;
	case 3: case 4: fd = e->file_rw; break;
	case 5: fd = e->file_ro;
		if (*rights & R_WRITE)
			*want = -EPERM;
		break;
	case 6: fd = e->file_wo;
		if (*rights & R_READ)
			*want = -EPERM;
		break;
	case 7: fd = c->fd; *want = -EINVAL; break;
	case 8: fd = e->null_fd; *want = -EINVAL; break;
	case 9: fd = e->pipe_fd[fz_rn(r, 2)]; *want = -EINVAL; break;
	case 10: fd = e->sock_fd; *want = -EINVAL; break;
	case 11: fd = e->opath_fd; *want = -EBADF; break;	/* fget() refuses O_PATH */
	case 12: fd = fz_capfd_pick(r);
		*want = fd < 0 ? -EBADF : -EINVAL;
		break;
	case 13: fd = -1 - (int)fz_rn(r, 100); *want = -EBADF; break;
	default: fd = 1000 + (int)fz_rn(r, 100000); *want = -EBADF; break;
	}
	return fd;
}

static void fz_ioc_grant(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_grant *g;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*g), &kind);
	long ret, want = -EFAULT, fdwant;
	uint64_t rights;
	int fd;

	g = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(g, 0, sizeof(*g));
		rights = fz_pct(r, 95) ? fz_r64(r) & R_ALL : fz_r64(r);
		fd = fz_grant_fd(w, c, &fdwant, &rights);
		g->fd = fd;
		g->rights = rights;
		if (fz_pct(r, 10)) {	/* output-only */
			g->handle = fz_r64(r);
			g->cap_type = fz_r64(r);
		}
		if (fz_pct(r, 3))
			g->flags = 1u << fz_rn(r, 32);
		if (fz_pct(r, 3))
			g->resv[fz_rn(r, 2)] = fz_r64(r) | 1;
		if (g->flags || g->resv[0] || g->resv[1] || (rights & ~R_ALL))
			want = -EINVAL;
		else if (fdwant)
			want = fdwant;
		else if (c->sealed)
			want = -EPERM;
		else
			want = 0;
	} else if (kind == FZP_RO) {
		want = 0x7fff;	/* fd 0: whatever it is; see below */
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_GRANT, g);
	if (kind == FZP_RO) {
		FZ_CHECK(ret == -EFAULT || ret == -EINVAL || ret == -EBADF || ret == -EPERM,
			 "GRANT from a read-only page -> %ld", ret);
		return;
	}
	FZ_CHECK(ret == want || (want == 0 && (ret == -EMFILE || ret == -ENOMEM)),
		 "GRANT(fd %d rights %#llx kind %d) -> %ld, expected %ld",
		 kind == FZP_OK ? g->fd : -1,
		 kind == FZP_OK ? (unsigned long long)g->rights : 0ULL, kind, ret, want);
	if (ret == 0 && kind == FZP_OK) {
		FZ_CHECK(fz_handle_ok(g->handle), "GRANT handle %#x", g->handle);
		FZ_CHECK(g->cap_type == CAPCHAN_CAP_DIR || g->cap_type == CAPCHAN_CAP_FILE,
			 "GRANT cap_type %u", g->cap_type);
		fz_pool_add(c, g->handle, g->rights, g->cap_type, true);
	}
}

static void fz_ioc_enter(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_enter *e;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*e), &kind);
	bool armed = false;
	uint32_t to_submit = 0;
	long ret, want = -EFAULT;

	e = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(e, 0, sizeof(*e));
		e->to_submit = to_submit = fz_pct(r, 80) ? fz_rn(r, 130) : fz_r64(r);
		if (fz_pct(r, 50))
			e->flags = CAPCHAN_ENTER_GETEVENTS;
		if (fz_pct(r, 4))
			e->flags |= 1u << (1 + fz_rn(r, 31));
		if (fz_pct(r, 60))
			e->min_complete = fz_pct(r, 70) ? fz_rn(r, 4) : fz_rn(r, 20000);
		if (fz_pct(r, 3))
			e->resv0 = 1;
		if (fz_pct(r, 3))
			e->resv[fz_rn(r, 2)] = fz_r64(r) | 1;
		if ((e->flags & ~CAPCHAN_ENTER_FLAGS_ALL) || e->resv0 || e->resv[0] || e->resv[1] ||
		    (!(e->flags & CAPCHAN_ENTER_GETEVENTS) && e->min_complete))
			want = -EINVAL;
		else if (!c->rings)
			want = -EBADFD;
		else if (e->min_complete > (c->cqn ? c->cqn : CAPCHAN_MAX_CQ_ENTRIES))
			want = c->cqn ? -EINVAL : 1;	/* cqn unknown: anything */
		else if (e->flags & CAPCHAN_ENTER_SQ_WAKEUP)
			want = -EINVAL;	/* no fuzzed channel has a poll thread */
		else
			want = 1;	/* a count, -EBUSY, or -EINTR if it waits */
		if (want == 1 && (e->flags & CAPCHAN_ENTER_GETEVENTS) && e->min_complete) {
			fz_arm(20);
			armed = true;
		}
	} else if (kind == FZP_RO) {
		want = c->rings ? 0 : -EBADFD;	/* all zero: a no-op */
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_ENTER, e);
	if (armed)
		fz_disarm();
	if (want == 1)
		FZ_CHECK((ret >= 0 && ret <= to_submit && ret <= CAPCHAN_MAX_SQ_ENTRIES) ||
			 ret == -EBUSY || ret == -EINTR || (ret == -EINVAL && !c->cqn),
			 "ENTER(to_submit %u) -> %ld", to_submit, ret);
	else
		FZ_CHECK(ret == want, "ENTER(kind %d) -> %ld, expected %ld", kind, ret, want);
}

static void fz_ioc_invoke(struct fz_w *w, struct fz_chan *c)
{
	struct capchan_sqe *s;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*s), &kind);
	long ret;

	s = (void *)(uintptr_t)ptr;
	if (kind == FZP_BAD) {
		ret = fz_ioctl(c->fd, CAPCHAN_IOC_INVOKE, s);
		FZ_CHECK(ret == -EFAULT, "INVOKE(%#llx) -> %ld", (unsigned long long)ptr, ret);
		return;
	}
	if (kind == FZP_OK) {
		w->c = c;
		fz_gen_sqe(w, s);
	}
	{
		struct capchan_sqe copy = *s;

		ret = fz_ioctl(c->fd, CAPCHAN_IOC_INVOKE, s);
		fz_count_sqe(&copy, ret);	/* an SQE the module could read */
		fz_check_res(w, c, &copy, ret, FZ_M_INVOKE);
	}
}

void fz_random_ioctl(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	unsigned long cmd;
	enum fz_ptr_kind kind;
	long ret;

	if (k < 60) {
		cmd = fz_cmds[fz_rn(r, CC_ARRAY_SIZE(fz_cmds))];
	} else if (k < 75) {
		cmd = _IOC(fz_rn(r, 4), CAPCHAN_IOC_MAGIC, fz_rn(r, 256), fz_rn(r, 1 << 14));
	} else if (k < 85) {
		cmd = fz_cmds[fz_rn(r, CC_ARRAY_SIZE(fz_cmds))];
		if (fz_pct(r, 50))
			cmd ^= 1ul << (_IOC_SIZESHIFT + fz_rn(r, _IOC_SIZEBITS));
		else
			cmd ^= 1ul << (_IOC_DIRSHIFT + fz_rn(r, _IOC_DIRBITS));
	} else {
		do
			cmd = (uint32_t)fz_r64(r);
		while (fz_vfs_type(_IOC_TYPE(cmd)) || _IOC_TYPE(cmd) == CAPCHAN_IOC_MAGIC);
	}
	switch (cmd) {
	case CAPCHAN_IOC_VERSION:
		fz_ioc_version(w, c);
		return;
	case CAPCHAN_IOC_SETUP:
		fz_ioc_setup(w, c);
		return;
	case CAPCHAN_IOC_GRANT:
		fz_ioc_grant(w, c);
		return;
	case CAPCHAN_IOC_SEAL: {
		unsigned long arg = fz_pct(r, 80) ? 0 : fz_pct(r, 30) ?
				    CAPCHAN_SEAL_IMPORT : fz_r64(r) | 2;
		bool bad = arg & ~(unsigned long)CAPCHAN_SEAL_FLAGS_ALL;

		ret = fz_ioctl(c->fd, CAPCHAN_IOC_SEAL, (void *)arg);
		FZ_CHECK(ret == (bad ? -EINVAL : 0), "SEAL(%#lx) -> %ld", arg, ret);
		if (!bad)
			c->sealed = true;
		return;
	}
	case CAPCHAN_IOC_ENTER:
		fz_ioc_enter(w, c);
		return;
	case CAPCHAN_IOC_INVOKE:
		fz_ioc_invoke(w, c);
		return;
	case CAPCHAN_IOC_FILTER:
		return;		/* drawn by chance: see fz_known_cmd() */
	}
	FZ_CHECK(!fz_known_cmd(cmd), "bad cmd choice");
	ret = fz_ioctl(c->fd, cmd, (void *)(uintptr_t)fz_objptr(w, 64, &kind));
	FZ_CHECK(ret == -ENOTTY, "unknown ioctl %#lx -> %ld", cmd, ret);
}
