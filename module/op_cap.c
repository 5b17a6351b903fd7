// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - ops on capabilities themselves: DERIVE, REVOKE, CLOSE, EXPORT,
 * IMPORT.
 */
#include "capchan.h"

#include <linux/err.h>

/* Install @cap (reference passed in) in the channel; handle or -errno. */
long capchan_install(struct capchan_ctx *ctx, struct capchan_cap *cap)
{
	int handle = capchan_table_insert(&ctx->table, cap);

	if (handle < 0)
		capchan_cap_put(cap);
	return handle;
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

/* A child of req->cap with the wanted rights, which must be a subset. */
static struct capchan_cap *capchan_attenuate(struct capchan_req *req)
{
	struct capchan_cap *parent = req->cap;

	if (req->sqe.rights & ~parent->rights)
		return ERR_PTR(-EPERM);
	return capchan_cap_new_child(parent, parent->file, parent->type,
				     req->sqe.rights);
}

long capchan_issue_derive(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap = capchan_attenuate(req);

	if (IS_ERR(cap))
		return PTR_ERR(cap);
	return capchan_install(ctx, cap);
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
	return capchan_cap_revoke_descendants(req->cap);
}

long capchan_issue_close(struct capchan_ctx *ctx, struct capchan_req *req)
{
	capchan_cap_put(capchan_table_remove(&ctx->table, req->sqe.handle));
	return 0;
}

/*
 * EXPORT makes a new child, so the exporter can later revoke exactly what
 * it gave away by revoking the capability it exported from.
 */
long capchan_issue_export(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap = capchan_attenuate(req);

	if (IS_ERR(cap))
		return PTR_ERR(cap);
	return capchan_capfile_create(cap);
}

int capchan_prep_import(const struct capchan_sqe *sqe)
{
	if (sqe->addr || sqe->len || sqe->op_flags || sqe->rights)
		return -EINVAL;
	if (sqe->off > INT_MAX)
		return -EBADF;
	return 0;
}

long capchan_issue_import(struct capchan_ctx *ctx, struct capchan_req *req)
{
	struct capchan_cap *cap = capchan_capfile_get((int)req->sqe.off);

	if (IS_ERR(cap))
		return PTR_ERR(cap);
	if (capchan_cap_is_revoked(cap)) {
		capchan_cap_put(cap);
		return -EKEYREVOKED;
	}
	return capchan_install(ctx, cap);
}
