// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The async requests of one operation each, and the table that tells the
 * loop (async.c) how to send and finish every kind of request.  Each SQE
 * is made by the ring layer's prep helper for its op.
 */
#include <fcntl.h>

#include "async.h"

static void capchan__async_prep_one(const struct capchan__async_req *r,
				    unsigned step, struct capchan_sqe *sqe)
{
	(void)step;
	switch (r->op) {
	case CAPCHAN_ASYNC_OPEN:
		capchan_prep_open(sqe, r->handle, r->path, r->o_flags,
				  (mode_t)r->off, r->rights);
		break;
	case CAPCHAN_ASYNC_READ:
		capchan_prep_read(sqe, r->handle, r->buf, (unsigned)r->len,
				  r->off);
		break;
	case CAPCHAN_ASYNC_WRITE:
		capchan_prep_write(sqe, r->handle, r->buf, (unsigned)r->len,
				   r->off);
		break;
	case CAPCHAN_ASYNC_STAT:
		capchan_prep_stat(sqe, r->handle, r->buf);
		break;
	case CAPCHAN_ASYNC_DERIVE:
		capchan_prep_derive(sqe, r->handle, r->rights);
		break;
	case CAPCHAN_ASYNC_REVOKE:
		capchan_prep_revoke(sqe, r->handle);
		break;
	default:			/* CAPCHAN_ASYNC_CLOSE */
		capchan_prep_close(sqe, r->handle);
		break;
	}
}

/* EXPORT and IMPORT run only through INVOKE (the module refuses them on
 * the rings): the library runs them in their turn. */
static int32_t capchan__async_export_run(struct capchan_async *q,
					 struct capchan__async_req *r)
{
	return capchan_export(q->ch, r->handle, r->rights);
}

static int32_t capchan__async_import_run(struct capchan_async *q,
					 struct capchan__async_req *r)
{
	return capchan_import(q->ch, r->fd);
}

const struct capchan__async_opdef capchan__async_ops[] = {
	[CAPCHAN_ASYNC_OPEN]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_READ]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_READ_TO_END] = {
		.nsteps = 1,
		.prep = capchan__async_read_to_end_prep,
		.finish = capchan__async_read_to_end_finish,
	},
	[CAPCHAN_ASYNC_WRITE]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_STAT]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_DERIVE]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_REVOKE]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_CLOSE]	= { .nsteps = 1, .prep = capchan__async_prep_one },
	[CAPCHAN_ASYNC_EXPORT]	= { .run = capchan__async_export_run },
	[CAPCHAN_ASYNC_IMPORT]	= { .run = capchan__async_import_run },
	[CAPCHAN_ASYNC_OPEN_READ] = {
		.nsteps = 3,
		.prep = capchan__async_open_read_prep,
		.finish = capchan__async_open_read_finish,
	},
	[CAPCHAN_ASYNC_SEND_CAP] = { .run = capchan__async_send_cap_run },
	[CAPCHAN_ASYNC_RECV_CAP] = {
		.run = capchan__async_recv_cap_run,
		.cancel = capchan__async_recv_cap_cancel,
	},
};

/* Make and queue a one-op request on handle h. */
static struct capchan__async_req *
capchan__async_simple(struct capchan_async *q, unsigned op, uint32_t h,
		      capchan_async_cb cb, void *data, int *err)
{
	struct capchan__async_req *r = capchan__async_new(q, op, cb, data, err);

	if (r)
		r->handle = h;
	return r;
}

int capchan_async_open(struct capchan_async *q, uint32_t dir,
		       const char *path, int o_flags, mode_t mode,
		       uint64_t rights, capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_OPEN, dir, cb, data, &err);

	if (!r)
		return err;
	r->path = path;
	r->o_flags = o_flags;
	/* as open(2) and capchan_open_beneath(): a mode only with O_CREAT */
	r->off = o_flags & O_CREAT ? (uint64_t)mode : 0;
	r->rights = rights;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_read(struct capchan_async *q, uint32_t h, void *buf,
		       size_t len, uint64_t off, capchan_async_cb cb,
		       void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_READ, h, cb, data, &err);

	if (!r)
		return err;
	r->buf = buf;
	r->len = len > CAPCHAN__ASYNC_RW_MAX ? CAPCHAN__ASYNC_RW_MAX : len;
	r->off = off;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_write(struct capchan_async *q, uint32_t h,
			const void *buf, size_t len, uint64_t off,
			capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_WRITE, h, cb, data, &err);

	if (!r)
		return err;
	r->buf = (void *)buf;
	r->len = len > CAPCHAN__ASYNC_RW_MAX ? CAPCHAN__ASYNC_RW_MAX : len;
	r->off = off;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_stat(struct capchan_async *q, uint32_t h,
		       struct capchan_stat *st, capchan_async_cb cb,
		       void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_STAT, h, cb, data, &err);

	if (!r)
		return err;
	r->buf = st;
	r->len = sizeof(*st);
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_derive(struct capchan_async *q, uint32_t h,
			 uint64_t rights, capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_DERIVE, h, cb, data, &err);

	if (!r)
		return err;
	r->rights = rights;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_revoke(struct capchan_async *q, uint32_t h,
			 capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_REVOKE, h, cb, data, &err);

	if (!r)
		return err;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_close(struct capchan_async *q, uint32_t h,
		       capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_CLOSE, h, cb, data, &err);

	if (!r)
		return err;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_export(struct capchan_async *q, uint32_t h,
			 uint64_t rights, capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_EXPORT, h, cb, data, &err);

	if (!r)
		return err;
	r->rights = rights;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_import(struct capchan_async *q, int capfd,
			 capchan_async_cb cb, void *data)
{
	int err;
	struct capchan__async_req *r =
		capchan__async_simple(q, CAPCHAN_ASYNC_IMPORT, 0, cb, data, &err);

	if (!r)
		return err;
	r->fd = capfd;
	capchan__async_queue(q, r);
	return 0;
}
