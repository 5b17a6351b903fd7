// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - ops on capabilities themselves: DERIVE, REVOKE, CLOSE, EXPORT,
 * IMPORT.
 */
#include "capchan.h"

#include <linux/err.h>

#include "capchan_trace.h"

/* capchan_cap: what happened to which capability, for audit */
static void capchan_audit_cap(struct capchan_ctx *ctx, u32 event, u32 handle,
			      struct capchan_cap *cap, long count)
{
	trace_capchan_cap(event, ctx->id, handle, cap->type, cap->rights,
			  from_kuid_munged(current_user_ns(), cap->cred->fsuid),
			  cap->depth, count);
}

/* DERIVE and EXPORT: only the wanted rights. */
int capchan_prep_derive(const struct capchan_sqe *sqe)
{
	if (sqe->off || sqe->addr || sqe->len || sqe->op_flags)
		return -EINVAL;
	if (sqe->rights & ~CAPCHAN_RIGHTS_ALL)
		return -EINVAL;
	return 0;
}

/*
 * A child of req->cap with the wanted rights, which must be a subset: same
 * object, same credentials, charged to this channel's user.
 */
static struct capchan_cap *capchan_attenuate(struct capchan_ctx *ctx,
					     struct capchan_req *req)
{
	struct capchan_cap *parent = req->cap;
	struct capchan_cap *cap;
	int err;

	if (req->sqe.rights & ~parent->rights)
		return ERR_PTR(-EPERM);
	cap = capchan_cap_prepare_child(parent, parent->obj, parent->type,
					req->sqe.rights, ctx->user);
	if (IS_ERR(cap))
		return cap;
	err = capchan_cap_link(parent, cap);
	return err ? ERR_PTR(err) : cap;
}

long capchan_issue_derive(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap;
	int handle;

	/* the table limit first: nothing to undo if it is full */
	handle = capchan_table_reserve(&ctx->table);
	if (handle < 0)
		return handle;
	cap = capchan_attenuate(ctx, req);
	if (IS_ERR(cap)) {
		capchan_table_cancel(&ctx->table, handle);
		return PTR_ERR(cap);
	}
	/* before the commit: once in the table, another thread may close it */
	capchan_audit_cap(ctx, CAPCHAN_CAP_DERIVED, handle, cap, 1);
	capchan_table_commit(&ctx->table, handle, cap);
	return handle;
}

/* REVOKE and CLOSE: nothing but the handle. */
int capchan_prep_handle_only(const struct capchan_sqe *sqe)
{
	if (sqe->off || sqe->addr || sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	return 0;
}

long capchan_issue_revoke(struct capchan_ctx *ctx, struct capchan_req *req)
{
	long n = capchan_cap_revoke_descendants(req->cap);

	capchan_audit_cap(ctx, CAPCHAN_CAP_REVOKED, req->sqe.handle, req->cap, n);
	return n;
}

long capchan_issue_close(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap = capchan_table_remove(&ctx->table,
						       req->sqe.handle);

	/* another thread closed it since capchan_execute() looked it up */
	if (!cap)
		return -EBADF;
	capchan_audit_cap(ctx, CAPCHAN_CAP_CLOSED, req->sqe.handle, cap, 1);
	/* the op's own reference keeps it until capchan_execute() drops it */
	req->cap = NULL;
	capchan_cap_put(cap);
	return 0;
}

/*
 * EXPORT makes a new child, so the exporter can later revoke exactly what
 * it gave away by revoking the capability it exported from.  The child
 * keeps the exported capability's credentials wherever it is imported.
 */
long capchan_issue_export(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap = capchan_attenuate(ctx, req);

	if (IS_ERR(cap))
		return PTR_ERR(cap);
	/* before the fd exists: once installed, another thread may close it */
	capchan_audit_cap(ctx, CAPCHAN_CAP_EXPORTED, req->sqe.handle, cap, 1);
	return capchan_capfile_create(cap);
}

int capchan_prep_import(const struct capchan_sqe *sqe)
{
	if (sqe->addr || sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	return 0;
}

/*
 * IMPORT installs the very capability of the capability file, with the
 * credentials it was granted with: importing never lends it the
 * importer's.  A channel sealed with CAPCHAN_SEAL_IMPORT refuses it: the
 * check and the insert are under ctx->lock, which SEAL takes, so nothing
 * is imported once SEAL returned.
 */
long capchan_issue_import(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap;
	long ret;

	if (req->sqe.off > INT_MAX)
		return -EBADF;
	if (mutex_lock_killable(&ctx->lock))
		return -EINTR;
	if (ctx->sealed & CAPCHAN_SEAL_IMPORT) {
		ret = -EPERM;
		goto out_unlock;
	}
	cap = capchan_capfile_get((int)req->sqe.off);
	if (IS_ERR(cap)) {
		ret = PTR_ERR(cap);
		goto out_unlock;
	}
	if (capchan_cap_is_revoked(cap)) {
		mutex_unlock(&ctx->lock);
		capchan_cap_put(cap);
		return -EKEYREVOKED;
	}
	/* the capability is still ours to read until it is in the table */
	capchan_audit_cap(ctx, CAPCHAN_CAP_IMPORTED, 0, cap, 1);
	ret = capchan_table_insert(&ctx->table, cap);
out_unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}
