// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - policy: the writable eBPF hook every op passes, per-channel
 * classic BPF filters, and the tracepoints' definitions.
 *
 * The single authorization point (capchan_execute) calls capchan_policy()
 * once the capability, its type and its rights have been checked and before
 * the op does anything.  First the writable tracepoint capchan_authorize:
 * system policy, attached by a privileged eBPF program, which may set a
 * verdict; the module re-validates it (0, or -4095..-1; anything else is a
 * deny with -EPERM, counted).  Then the channel's own classic BPF filters,
 * which need no privilege, newest first.  Both see the path an op will use
 * (the op uses the very copy the policy saw: no second fetch), and both
 * cost nothing when absent: the tracepoint is a static key, the filters a
 * NULL pointer.
 */
#include "capchan.h"

#include <linux/filter.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#define CREATE_TRACE_POINTS
#include "capchan_trace.h"

DEFINE_STATIC_KEY_FALSE(capchan_filters_key);

/* verdicts out of range, all channels together (module stat) */
static atomic_long_t capchan_bad_verdicts = ATOMIC_LONG_INIT(0);

static int capchan_get_bad_verdicts(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&capchan_bad_verdicts));
}

static const struct kernel_param_ops capchan_stat_ops = {
	.get = capchan_get_bad_verdicts,
};
module_param_cb(policy_bad_verdicts, &capchan_stat_ops, NULL, 0444);
MODULE_PARM_DESC(policy_bad_verdicts,
		 "(read only) eBPF verdicts outside 0 and -4095..-1, each turned into -EPERM");

/* A verdict as the program left it: 0, -errno, or a deny for garbage. */
static int capchan_check_verdict(struct capchan_ctx *ctx, s32 v)
{
	if (v == 0)
		return 0;
	if (v < 0 && v >= -MAX_ERRNO)
		return v;
	atomic_long_inc(&capchan_bad_verdicts);
	atomic_long_inc(&ctx->policy_bad_verdicts);
	return -EPERM;
}

/* What one role of a request shows policy: its capability, handle, path. */
struct capchan_view {
	u32			role;
	u32			handle;
	struct capchan_cap	*cap;
	const char		*path;
};

static void capchan_view_of(const struct capchan_req *req, u32 role,
			    struct capchan_view *v)
{
	v->role = role;
	if (role == CAPCHAN_ROLE_TARGET) {
		v->handle = req->sqe.len;
		v->cap = req->cap2;
		v->path = req->path2;
	} else {
		v->handle = req->sqe.handle;
		v->cap = req->cap;
		v->path = req->path;
	}
}

static int capchan_run_hook(struct capchan_ctx *ctx, struct capchan_req *req,
			    const struct capchan_view *v)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_cap *cap = v->cap;
	struct capchan_hook_ctx hook = { }, *h = &hook;
	int err;

	h->op = sqe->opcode;
	h->role = v->role;
	h->handle = v->handle;
	h->op_flags = sqe->op_flags;
	h->off = sqe->off;
	h->len = sqe->len;
	h->channel_id = ctx->id;
	h->pid = task_tgid_vnr(current);
	h->caller_uid = from_kuid_munged(current_user_ns(), current_uid());
	if (cap) {
		h->cap_type = cap->type;
		h->rights = cap->rights;
		h->owner_uid = from_kuid_munged(current_user_ns(),
						cap->cred->fsuid);
	}
	if (capchan_ops[sqe->opcode].wants_rights)
		h->rights_wanted = sqe->rights;
	if (v->path) {
		h->path_len = strscpy(h->path, v->path, sizeof(h->path));
		if ((int)h->path_len < 0)
			h->path_len = sizeof(h->path) - 1;
	}
	trace_capchan_authorize(h);
	/* the program may have written anything anywhere in *h */
	err = capchan_check_verdict(ctx, READ_ONCE(h->verdict));
	if (err) {
		atomic_long_inc(&ctx->policy_denied);
		trace_capchan_denied(ctx->id, sqe->opcode, v->handle,
				     CAPCHAN_DENY_POLICY, err);
	}
	return err;
}

/* The filters attached after @seen (NULL: all), newest first. */
static int capchan_run_filters(struct capchan_ctx *ctx, struct capchan_req *req,
			       const struct capchan_view *v,
			       const struct capchan_filter_node *seen)
{
	const struct capchan_sqe *sqe = &req->sqe;
	struct capchan_filter_data d = {
		.op		= sqe->opcode,
		.role		= v->role,
		.op_flags	= sqe->op_flags,
		.handle		= v->handle,
		.off_lo		= lower_32_bits(sqe->off),
		.off_hi		= upper_32_bits(sqe->off),
		.len		= sqe->len,
	};
	struct capchan_filter_node *f;

	if (v->cap) {
		d.cap_type = v->cap->type;
		d.rights_lo = lower_32_bits(v->cap->rights);
		d.rights_hi = upper_32_bits(v->cap->rights);
	}
	if (capchan_ops[sqe->opcode].wants_rights) {
		d.wanted_lo = lower_32_bits(sqe->rights);
		d.wanted_hi = upper_32_bits(sqe->rights);
	}
	/* pairs with the store-release in capchan_attach_filter() */
	for (f = smp_load_acquire(&ctx->filters); f && f != seen; f = f->older) {
		u32 ret = bpf_prog_run_pin_on_cpu(f->prog, &d);
		int err;

		if (ret == CAPCHAN_FILTER_ALLOW)
			continue;
		if ((ret & 0xffff0000U) == CAPCHAN_FILTER_ERRNO(0) &&
		    (ret & 0xffffU) >= 1 && (ret & 0xffffU) <= MAX_ERRNO)
			err = -(int)(ret & 0xffffU);
		else
			err = -EPERM;
		atomic_long_inc(&ctx->filter_denied);
		trace_capchan_denied(ctx->id, sqe->opcode, v->handle,
				     CAPCHAN_DENY_FILTER, err);
		return err;
	}
	return 0;
}

/*
 * System policy, then the channel's filters.  No channel lock: the filter
 * list only grows, each node published complete, freed only at release.
 */
int capchan_policy(struct capchan_ctx *ctx, struct capchan_req *req)
{
	u32 role, last = req->cap2 ? CAPCHAN_ROLE_TARGET : CAPCHAN_ROLE_SUBJECT;
	struct capchan_view v;
	int err = 0;

	/* an op on two capabilities: each is asked about, either may refuse */
	for (role = CAPCHAN_ROLE_SUBJECT; !err && role <= last; role++) {
		capchan_view_of(req, role, &v);
		if (trace_capchan_authorize_enabled())
			err = capchan_run_hook(ctx, req, &v);
		if (!err && READ_ONCE(ctx->filters))
			err = capchan_run_filters(ctx, req, &v, NULL);
	}
	return err;
}

/*
 * An op a worker starts (worker.c): the filters attached since it was
 * checked in its submitter (@seen: the newest one then) ask about it too,
 * as about any op that starts after their attach returned.  The eBPF hook
 * is not asked again: it decided once, at submission.
 */
int capchan_policy_since(struct capchan_ctx *ctx, struct capchan_req *req,
			 const struct capchan_filter_node *seen)
{
	u32 role, last = req->cap2 ? CAPCHAN_ROLE_TARGET : CAPCHAN_ROLE_SUBJECT;
	struct capchan_view v;
	int err = 0;

	/* pairs with the store-release in capchan_attach_filter() */
	if (smp_load_acquire(&ctx->filters) == seen)
		return 0;
	for (role = CAPCHAN_ROLE_SUBJECT; !err && role <= last; role++) {
		capchan_view_of(req, role, &v);
		err = capchan_run_filters(ctx, req, &v, seen);
	}
	return err;
}

/*
 * Classic BPF over struct capchan_filter_data, seccomp's way: loads of
 * aligned 32-bit words inside the data, ALU, jumps, returns; nothing else
 * (no packet loads, no scratch memory, no extensions).  Called by
 * bpf_prepare_filter() after its own classic checks; rewrites the loads
 * into context loads, as bpf_convert_filter() expects of non-socket users.
 */
static int capchan_filter_check(struct sock_filter *insns, unsigned int len)
{
	unsigned int pc;

	for (pc = 0; pc < len; pc++) {
		struct sock_filter *in = &insns[pc];

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (in->k >= sizeof(struct capchan_filter_data) || (in->k & 3))
				return -EINVAL;
			in->code = BPF_LDX | BPF_W | BPF_ABS;
			break;
		case BPF_LD | BPF_W | BPF_LEN:
			in->code = BPF_LD | BPF_IMM;
			in->k = sizeof(struct capchan_filter_data);
			break;
		case BPF_LDX | BPF_W | BPF_LEN:
			in->code = BPF_LDX | BPF_IMM;
			in->k = sizeof(struct capchan_filter_data);
			break;
		case BPF_RET | BPF_K:
		case BPF_RET | BPF_A:
		case BPF_ALU | BPF_ADD | BPF_K:
		case BPF_ALU | BPF_ADD | BPF_X:
		case BPF_ALU | BPF_SUB | BPF_K:
		case BPF_ALU | BPF_SUB | BPF_X:
		case BPF_ALU | BPF_MUL | BPF_K:
		case BPF_ALU | BPF_MUL | BPF_X:
		case BPF_ALU | BPF_DIV | BPF_K:
		case BPF_ALU | BPF_DIV | BPF_X:
		case BPF_ALU | BPF_AND | BPF_K:
		case BPF_ALU | BPF_AND | BPF_X:
		case BPF_ALU | BPF_OR | BPF_K:
		case BPF_ALU | BPF_OR | BPF_X:
		case BPF_ALU | BPF_XOR | BPF_K:
		case BPF_ALU | BPF_XOR | BPF_X:
		case BPF_ALU | BPF_LSH | BPF_K:
		case BPF_ALU | BPF_LSH | BPF_X:
		case BPF_ALU | BPF_RSH | BPF_K:
		case BPF_ALU | BPF_RSH | BPF_X:
		case BPF_ALU | BPF_NEG:
		case BPF_LD | BPF_IMM:
		case BPF_LDX | BPF_IMM:
		case BPF_MISC | BPF_TAX:
		case BPF_MISC | BPF_TXA:
		case BPF_JMP | BPF_JA:
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_X:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_X:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_X:
		case BPF_JMP | BPF_JSET | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_X:
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * CAPCHAN_IOC_FILTER: attach a filter for good.  No privilege needed, as
 * with seccomp: a filter can only take authority away, never give any.
 */
long capchan_attach_filter(struct capchan_ctx *ctx, void __user *arg)
{
	struct capchan_filter_node *node;
	struct capchan_filter uf;
	struct sock_fprog fprog;
	int err;

	if (copy_from_user(&uf, arg, sizeof(uf)))
		return -EFAULT;
	if (uf.flags || uf.resv[0] || uf.resv[1])
		return -EINVAL;
	if (!uf.len || uf.len > CAPCHAN_FILTER_MAX_INSNS)
		return -EINVAL;
	node = kzalloc(sizeof(*node), CAPCHAN_GFP);
	if (!node)
		return -ENOMEM;
	fprog.len = uf.len;
	fprog.filter = u64_to_user_ptr(uf.insns);
	err = bpf_prog_create_from_user(&node->prog, &fprog,
					capchan_filter_check, false);
	if (err) {
		kfree(node);
		return err;
	}
	if (mutex_lock_killable(&ctx->lock)) {
		err = -EINTR;
		goto err_prog;
	}
	if (ctx->nr_filters >= CAPCHAN_FILTER_MAX) {
		mutex_unlock(&ctx->lock);
		err = -ENOSPC;
		goto err_prog;
	}
	/* the channel's first filter turns the check on for all ops */
	if (!ctx->filters)
		static_branch_inc(&capchan_filters_key);
	node->older = ctx->filters;
	/* pairs with the load-acquire in capchan_run_filters(): ops run unlocked */
	smp_store_release(&ctx->filters, node);
	WRITE_ONCE(ctx->nr_filters, ctx->nr_filters + 1);
	mutex_unlock(&ctx->lock);
	return 0;

err_prog:
	bpf_prog_destroy(node->prog);
	kfree(node);
	return err;
}

/* The channel is going away: its filters with it. */
void capchan_free_filters(struct capchan_ctx *ctx)
{
	struct capchan_filter_node *f = ctx->filters;

	if (f)
		static_branch_dec(&capchan_filters_key);
	while (f) {
		struct capchan_filter_node *older = f->older;

		bpf_prog_destroy(f->prog);
		kfree(f);
		f = older;
	}
	ctx->filters = NULL;
}
