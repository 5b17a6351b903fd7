// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the op table and the one authorization path every op takes.
 *
 * Like io_uring's opdef table: indexed by opcode, a prep step that
 * validates the op's own fields and an issue step that executes.  The
 * common checks (flags, reserved fields, handle, revoked, type, rights)
 * live here once, in the order the ABI documents.
 */
#include "capchan.h"

#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "capchan_trace.h"

const struct capchan_op_def capchan_ops[CAPCHAN_OP_LAST] = {
	[CAPCHAN_OP_NOP] = {
		.name		= "nop",
		.prep		= capchan_prep_nop,
		.issue		= capchan_issue_nop,
	},
	[CAPCHAN_OP_OPEN] = {
		.name		= "open",
		.rights		= CAPCHAN_RIGHT_LOOKUP,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.wants_rights	= true,
		.needs_cap	= true,
		.makes_handle	= true,
		.prep		= capchan_prep_open,
		.authorize	= capchan_authorize_open,
		.issue		= capchan_issue_open,
	},
	[CAPCHAN_OP_READ] = {
		.name		= "read",
		.rights		= CAPCHAN_RIGHT_READ,
		.type		= CAPCHAN_CAP_FILE,
		.needs_cap	= true,
		.prep		= capchan_prep_rw,
		.issue		= capchan_issue_read,
	},
	[CAPCHAN_OP_WRITE] = {
		.name		= "write",
		.rights		= CAPCHAN_RIGHT_WRITE,
		.type		= CAPCHAN_CAP_FILE,
		.needs_cap	= true,
		.prep		= capchan_prep_rw,
		.issue		= capchan_issue_write,
	},
	[CAPCHAN_OP_FSYNC] = {
		.name		= "fsync",
		.rights		= CAPCHAN_RIGHT_SYNC,
		.type		= CAPCHAN_CAP_FILE,
		.needs_cap	= true,
		.prep		= capchan_prep_fsync,
		.issue		= capchan_issue_fsync,
	},
	[CAPCHAN_OP_STAT] = {
		.name		= "stat",
		.rights		= CAPCHAN_RIGHT_STAT,
		.needs_cap	= true,
		.prep		= capchan_prep_stat,
		.issue		= capchan_issue_stat,
	},
	[CAPCHAN_OP_DERIVE] = {
		.name		= "derive",
		.rights		= CAPCHAN_RIGHT_DERIVE,
		.wants_rights	= true,
		.needs_cap	= true,
		.makes_handle	= true,
		.prep		= capchan_prep_derive,
		.issue		= capchan_issue_derive,
	},
	[CAPCHAN_OP_REVOKE] = {
		.name		= "revoke",
		.rights		= CAPCHAN_RIGHT_REVOKE,
		.needs_cap	= true,
		.prep		= capchan_prep_handle_only,
		.issue		= capchan_issue_revoke,
	},
	[CAPCHAN_OP_CLOSE] = {
		.name		= "close",
		.needs_cap	= true,
		.on_revoked	= true,
		.prep		= capchan_prep_handle_only,
		.issue		= capchan_issue_close,
	},
	[CAPCHAN_OP_EXPORT] = {
		.name		= "export",
		.rights		= CAPCHAN_RIGHT_DELEGATE,
		.wants_rights	= true,
		.needs_cap	= true,
		.invoke_only	= true,
		.caller_creds	= true,
		.prep		= capchan_prep_derive,
		.issue		= capchan_issue_export,
	},
	[CAPCHAN_OP_IMPORT] = {
		.name		= "import",
		.makes_handle	= true,
		.invoke_only	= true,
		.prep		= capchan_prep_import,
		.issue		= capchan_issue_import,
	},
	[CAPCHAN_OP_PREFETCH] = {
		.name		= "prefetch",
		.rights		= CAPCHAN_RIGHT_READ,
		.type		= CAPCHAN_CAP_FILE,
		.needs_cap	= true,
		.prep		= capchan_prep_prefetch,
		.issue		= capchan_issue_prefetch,
	},
	[CAPCHAN_OP_READDIR] = {
		.name		= "readdir",
		.rights		= CAPCHAN_RIGHT_LIST,
		.type		= CAPCHAN_CAP_DIR,
		.needs_cap	= true,
		.prep		= capchan_prep_readdir,
		.issue		= capchan_issue_readdir,
	},
	[CAPCHAN_OP_STATAT] = {
		.name		= "statat",
		.rights		= CAPCHAN_RIGHT_STAT,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_statat,
		.issue		= capchan_issue_statat,
	},
	[CAPCHAN_OP_MKDIR] = {
		.name		= "mkdir",
		.rights		= CAPCHAN_RIGHT_CREATE,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_mkdir,
		.issue		= capchan_issue_mkdir,
	},
	[CAPCHAN_OP_UNLINK] = {
		.name		= "unlink",
		.rights		= CAPCHAN_RIGHT_REMOVE,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_remove,
		.issue		= capchan_issue_unlink,
	},
	[CAPCHAN_OP_RMDIR] = {
		.name		= "rmdir",
		.rights		= CAPCHAN_RIGHT_REMOVE,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_remove,
		.issue		= capchan_issue_rmdir,
	},
	[CAPCHAN_OP_SYMLINK] = {
		.name		= "symlink",
		.rights		= CAPCHAN_RIGHT_CREATE,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_symlink,
		.issue		= capchan_issue_symlink,
	},
	[CAPCHAN_OP_RENAME] = {
		.name		= "rename",
		/* and what the target DIR needs: capchan_issue_rename() */
		.rights		= CAPCHAN_RIGHT_REMOVE,
		.type		= CAPCHAN_CAP_DIR,
		.path	= true,
		.needs_cap	= true,
		.prep		= capchan_prep_rename,
		.authorize	= capchan_authorize_rename,
		.issue		= capchan_issue_rename,
	},
	[CAPCHAN_OP_TRUNCATE] = {
		.name		= "truncate",
		.rights		= CAPCHAN_RIGHT_WRITE,
		.type		= CAPCHAN_CAP_FILE,
		.needs_cap	= true,
		.prep		= capchan_prep_truncate,
		.issue		= capchan_issue_truncate,
	},
};

/* Every opcode has an entry with both steps: checked once, at load. */
int capchan_ops_check(void)
{
	unsigned int op;

	BUILD_BUG_ON(ARRAY_SIZE(capchan_ops) != CAPCHAN_OP_LAST);
	BUILD_BUG_ON(CAPCHAN_OP_LAST > 64);	/* VERSION's ops mask, disabled_ops */
	/* the ABI's layouts: a field moved or resized breaks the build here */
	BUILD_BUG_ON(sizeof(struct capchan_sqe) != 64);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, opcode) != 0);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, flags) != 1);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, resv0) != 2);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, handle) != 4);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, off) != 8);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, addr2) != 8);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, addr) != 16);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, len) != 24);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, op_flags) != 28);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, rights) != 32);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, user_data) != 40);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, resv1) != 48);
	BUILD_BUG_ON(offsetof(struct capchan_sqe, resv2) != 56);
	BUILD_BUG_ON(sizeof(struct capchan_cqe) != 16);
	BUILD_BUG_ON(offsetof(struct capchan_cqe, user_data) != 0);
	BUILD_BUG_ON(offsetof(struct capchan_cqe, res) != 8);
	BUILD_BUG_ON(offsetof(struct capchan_cqe, flags) != 12);
	BUILD_BUG_ON(sizeof(struct capchan_stat) != 112);
	BUILD_BUG_ON(sizeof(struct capchan_dirent) != 24);
	BUILD_BUG_ON(offsetof(struct capchan_dirent, name) != 24);
	BUILD_BUG_ON(sizeof(struct capchan_params) != 96);
	BUILD_BUG_ON(sizeof(struct capchan_version) != 72);
	BUILD_BUG_ON(sizeof(struct capchan_grant) != 40);
	BUILD_BUG_ON(sizeof(struct capchan_enter) != 32);
	/* CAPCHAN_HANDLE_CHAIN must never be a handle the table issues */
	BUILD_BUG_ON(CAPCHAN_HANDLE_CHAIN <= CAPCHAN_HANDLE_MAX);
	for (op = 0; op < CAPCHAN_OP_LAST; op++) {
		if (!capchan_ops[op].name || !capchan_ops[op].prep ||
		    !capchan_ops[op].issue) {
			pr_err("opcode %u has no %s\n", op,
			       !capchan_ops[op].prep ? "prep" : "issue");
			return -EINVAL;
		}
	}
	return 0;
}

u64 capchan_ops_enabled(void)
{
	return GENMASK_ULL(CAPCHAN_OP_LAST - 1, 0) & READ_ONCE(capchan_allowed_ops) &
	       ~READ_ONCE(capchan_disabled_ops);
}

/*
 * The single fetch of an SQE from shared memory: every field is read once
 * into the kernel copy, and only the copy is ever validated and used, so
 * user space rewriting the ring meanwhile changes nothing (no TOCTOU).
 */
void capchan_sqe_copy(struct capchan_sqe *dst, const struct capchan_sqe *src)
{
	dst->opcode	= READ_ONCE(src->opcode);
	dst->flags	= READ_ONCE(src->flags);
	dst->resv0	= READ_ONCE(src->resv0);
	dst->handle	= READ_ONCE(src->handle);
	dst->off	= READ_ONCE(src->off);
	dst->addr	= READ_ONCE(src->addr);
	dst->len	= READ_ONCE(src->len);
	dst->op_flags	= READ_ONCE(src->op_flags);
	dst->rights	= READ_ONCE(src->rights);
	dst->user_data	= READ_ONCE(src->user_data);
	dst->resv1	= READ_ONCE(src->resv1);
	dst->resv2	= READ_ONCE(src->resv2);
}

static void capchan_req_free_paths(struct capchan_req *req)
{
	kfree(req->path);
	req->path = NULL;
	kfree(req->path2);
	req->path2 = NULL;
}

/*
 * Is anything watching ops: a program on the authorize hook or on
 * op_done, or a filter on some channel?  Three static keys, so three
 * patched-out branches when nothing is; -DCAPCHAN_NO_POLICY (bench only)
 * compiles even those out.
 */
static __always_inline bool capchan_hooked(void)
{
#ifdef CAPCHAN_NO_POLICY
	return false;
#else
	return trace_capchan_authorize_enabled() ||
	       trace_capchan_op_done_enabled() ||
	       static_branch_unlikely(&capchan_filters_key);
#endif
}

/*
 * Validate and run one op.  @chain_handle: in, the handle a
 * CAPCHAN_HANDLE_CHAIN reference resolves to (0: none); out, updated when
 * this op makes a handle: the caller's own (for a chain that goes on past
 * what its ENTER consumed: ctx->chain, under ring_lock).  No channel lock is held otherwise:
 * ops of one channel run in parallel, from INVOKE and from the rings.
 *
 * The capability is looked up with a user reference of the op's own
 * (capchan_table_get()), dropped when the op is done: a CLOSE of its
 * handle on another thread meanwhile frees the slot, not the capability.
 * An op on a capability runs inside capchan_cap_enter/exit (so revocation
 * waits for it before dropping the object) and with the capability's own
 * credentials, never the caller's or the channel creator's: whoever drives
 * the channel, a capability does exactly what its granter could.  The
 * common case, the granter itself, costs a pointer compare.
 */
static __always_inline long
capchan_execute_one(struct capchan_ctx *ctx, struct capchan_req *req,
		    u32 *chain_handle, bool from_ring, const bool hooked)
{
	const struct capchan_sqe *sqe = &req->sqe;
	const struct capchan_op_def *def;
	const struct cred *old = NULL;
	struct capchan_cap *cap = NULL;
	bool entered = false;
	u32 handle;
	long res;
	int err;

	/* the callers made it with capchan_req_init() */
	/* in the request, not a local: no register held across the op */
	if (hooked && trace_capchan_op_done_enabled())
		req->t0 = ktime_get_ns();
	if (sqe->opcode >= CAPCHAN_OP_LAST) {
		res = -EINVAL;
		goto done;
	}
	def = &capchan_ops[sqe->opcode];
	res = -EOPNOTSUPP;
	if (!(capchan_ops_enabled() & BIT_ULL(sqe->opcode)))
		goto done;
	res = -EINVAL;
	if ((sqe->flags & ~CAPCHAN_SQE_FLAGS_ALL) || sqe->resv0 ||
	    sqe->resv1 || sqe->resv2)
		goto done;
	/* the handle field is an unused field for ops on no capability */
	if (!def->needs_cap && sqe->handle)
		goto done;
	res = def->prep(sqe);
	if (res)
		goto done;

	if (def->needs_cap) {
		handle = sqe->handle;
		if (handle == CAPCHAN_HANDLE_CHAIN)
			handle = *chain_handle;
		cap = capchan_table_get(&ctx->table, handle);
		res = -EBADF;
		if (!cap)
			goto done;
		req->cap = cap;
		req->sqe.handle = handle;
		/* CLOSE: touches only the table, revoked or not */
		if (def->on_revoked) {
			res = def->issue(ctx, req);
			goto out_put;
		}
		if (!capchan_cap_enter(cap)) {
			res = -EKEYREVOKED;
			trace_capchan_denied(ctx->id, sqe->opcode, handle,
					     CAPCHAN_DENY_REVOKED, res);
			goto out_put;
		}
		entered = true;
		if (def->type && cap->type != def->type) {
			res = def->type == CAPCHAN_CAP_DIR ? -ENOTDIR : -EISDIR;
			trace_capchan_denied(ctx->id, sqe->opcode, handle,
					     CAPCHAN_DENY_TYPE, res);
			goto out_exit;
		}
		if ((cap->rights & def->rights) != def->rights) {
			res = -EPERM;
			trace_capchan_denied(ctx->id, sqe->opcode, handle,
					     CAPCHAN_DENY_RIGHTS, res);
			goto out_exit;
		}
	}
	/* a well-formed SQE that only INVOKE may run */
	res = -EOPNOTSUPP;
	if (from_ring && def->invoke_only)
		goto out_exit;
	if (def->authorize) {
		res = def->authorize(ctx, req);
		if (res)
			goto out_exit;
	}
	/* the one copy of the path: the policy sees what the op will use */
	if (def->path) {
		req->path = capchan_path_copy(sqe->addr);
		if (IS_ERR(req->path)) {
			res = PTR_ERR(req->path);
			req->path = NULL;
			goto out_exit;
		}
	}
	if (req->cap2) {
		req->path2 = capchan_path_copy(sqe->addr2);
		if (IS_ERR(req->path2)) {
			res = PTR_ERR(req->path2);
			req->path2 = NULL;
			goto out_exit;
		}
	}
	if (hooked) {
		err = capchan_policy(ctx, req);
		if (err) {
			res = err;
			goto out_exit;
		}
	}
	/* checked and authorized: a worker may do the rest (worker.c) */
	if (unlikely(sqe->flags & CAPCHAN_SQE_ASYNC) && req->may_punt) {
		req->entered = entered;
		return -EIOCBQUEUED;
	}
	if (cap && !def->caller_creds && cap->cred != current_cred())
		old = override_creds(cap->cred);
	res = def->issue(ctx, req);
	if (old)
		revert_creds(old);
	/* it would block: nothing done, a worker does it (worker.c) */
	if (unlikely(res == -EIOCBQUEUED)) {
		req->entered = entered;
		return res;
	}
	if (def->makes_handle && res > 0)
		*chain_handle = res;
out_exit:
	if (req->cap2) {
		capchan_cap_exit(req->cap2);
		capchan_cap_put(req->cap2);
		req->cap2 = NULL;
	}
	if (entered)
		capchan_cap_exit(cap);
	/* paths are copied only once the op got this far */
	if (unlikely(req->path || req->path2))
		capchan_req_free_paths(req);
out_put:
	/* may be the last reference: a CLOSE ran meanwhile */
	if (cap)
		capchan_cap_put(cap);
done:
	/* enabled while the op ran: t0 is 0 and the latency says nothing */
	if (hooked && trace_capchan_op_done_enabled())
		trace_capchan_op_done(ctx->id, sqe->opcode, sqe->handle,
				      sqe->user_data, res,
				      req->t0 ? ktime_get_ns() - req->t0 : 0);
	return res;
}

/*
 * One body, two copies: with nothing watching (the common case) the op
 * runs through a copy with no hook code at all, so the hooks cost the
 * three patched-out branches of capchan_hooked() and nothing else.  Which
 * copy runs is chosen per op: an op that starts after a filter's attach
 * returned is filtered.
 */
long capchan_execute(struct capchan_ctx *ctx, struct capchan_req *req,
		     u32 *chain_handle, bool from_ring)
{
	if (capchan_hooked())
		return capchan_execute_one(ctx, req, chain_handle, from_ring,
					   true);
	return capchan_execute_one(ctx, req, chain_handle, from_ring, false);
}

/*
 * What capchan_execute() lets go of after the issue step, for an op it
 * stopped with -EIOCBQUEUED: its capabilities and paths; then op_done
 * with @res.  After capchan_execute_finish(), or for such an op a worker
 * never runs (interrupted, refused at its start).
 */
void capchan_execute_cancel(struct capchan_ctx *ctx, struct capchan_req *req,
			    long res)
{
	if (req->cap2) {
		capchan_cap_exit(req->cap2);
		capchan_cap_put(req->cap2);
		req->cap2 = NULL;
	}
	if (req->cap) {
		if (req->entered)
			capchan_cap_exit(req->cap);
		capchan_cap_put(req->cap);
		req->cap = NULL;
	}
	capchan_req_free_paths(req);
	if (trace_capchan_op_done_enabled())
		trace_capchan_op_done(ctx->id, req->sqe.opcode, req->sqe.handle,
				      req->sqe.user_data, res,
				      req->t0 ? ktime_get_ns() - req->t0 : 0);
}

/*
 * In a worker: the issue step of an op capchan_execute() stopped with
 * -EIOCBQUEUED, now allowed to block, and what it held let go of.
 * @chain_handle as for capchan_execute().
 */
long capchan_execute_finish(struct capchan_ctx *ctx, struct capchan_req *req,
			    u32 *chain_handle)
{
	const struct capchan_op_def *def = &capchan_ops[req->sqe.opcode];
	const struct cred *old = NULL;
	long res;

	req->may_punt = false;
	if (req->cap && !def->caller_creds && req->cap->cred != current_cred())
		old = override_creds(req->cap->cred);
	res = def->issue(ctx, req);
	if (old)
		revert_creds(old);
	if (def->makes_handle && res > 0)
		*chain_handle = res;
	capchan_execute_cancel(ctx, req, res);
	return res;
}

/* ---- ops with no family of their own ------------------------------------- */

int capchan_prep_nop(const struct capchan_sqe *sqe)
{
	if (sqe->handle || sqe->off || sqe->addr || sqe->len ||
	    sqe->op_flags || sqe->rights)
		return -EINVAL;
	return 0;
}

long capchan_issue_nop(struct capchan_ctx *ctx, struct capchan_req *req)
{
	return 0;
}
