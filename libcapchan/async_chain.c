// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Async requests made of more than one operation: OPEN+READ+CLOSE as one
 * linked chain with one callback, and READ_TO_END, which reads again and
 * again, growing its buffer, until a READ says end of file.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include "async.h"

/* First buffer size of capchan_async_read_to_end() (as cap.c's). */
#define CAPCHAN__ASYNC_READ_CHUNK	4096U

/* ------------------------------------------------------------ OPEN_READ */

/*
 * OPEN (rights READ only) -> READ of the chain's handle -> CLOSE of it,
 * linked: READ and CLOSE name CAPCHAN_HANDLE_CHAIN, the handle OPEN made,
 * so no round trip is needed between them.
 */
void capchan__async_open_read_prep(const struct capchan__async_req *r,
				   unsigned step, struct capchan_sqe *sqe)
{
	switch (step) {
	case 0:
		capchan_prep_open(sqe, r->handle, r->path, r->o_flags, 0,
				  CAPCHAN_RIGHT_READ);
		break;
	case 1:
		capchan_prep_read(sqe, CAPCHAN_HANDLE_CHAIN, r->buf,
				  (unsigned)r->len, CAPCHAN_OFF_CURRENT);
		break;
	default:
		capchan_prep_close(sqe, CAPCHAN_HANDLE_CHAIN);
		break;
	}
}

/*
 * The chain's result is its first failure, else READ's byte count.  A
 * failed READ cancels the CLOSE after it (-ECANCELED): the handle OPEN
 * made would stay in the table for good, so the library drops it here.
 */
int capchan__async_open_read_finish(struct capchan_async *q,
				    struct capchan__async_req *r,
				    int64_t *res)
{
	if (r->res[0] < 0) {
		*res = r->res[0];
		return 0;
	}
	if (r->res[2] != 0)
		capchan_close(q->ch, (uint32_t)r->res[0]);
	*res = r->res[1];
	return 0;
}

int capchan_async_open_read(struct capchan_async *q, uint32_t dir,
			    const char *path, int o_flags, void *buf,
			    size_t len, capchan_async_cb cb, void *data)
{
	const unsigned need = CAPCHAN_FEAT_LINK | CAPCHAN_FEAT_CHAIN_HANDLE;
	struct capchan__async_req *r;
	int err;

	r = capchan__async_new(q, CAPCHAN_ASYNC_OPEN_READ, cb, data, &err);
	if (!r)
		return err;
	if ((q->ch->features & need) != need) {
		capchan__async_unmake(q, r);
		return -EOPNOTSUPP;
	}
	/* it opens to read: nothing to create; the three SQEs go to the SQ
	 * together, so it must hold them */
	if (o_flags & O_CREAT || q->ch->sq.ring_entries < 3) {
		capchan__async_unmake(q, r);
		return -EINVAL;
	}
	r->handle = dir;
	r->path = path;
	r->o_flags = o_flags;
	r->buf = buf;
	r->len = len > CAPCHAN__ASYNC_RW_MAX ? CAPCHAN__ASYNC_RW_MAX : len;
	capchan__async_queue(q, r);
	return 0;
}

/* ------------------------------------------------------------ READ_TO_END */

/* Room for one more byte and the NUL, at most CAPCHAN__ASYNC_RW_MAX. */
void capchan__async_read_to_end_prep(const struct capchan__async_req *r,
				     unsigned step, struct capchan_sqe *sqe)
{
	size_t room = r->len - r->used - 1;

	(void)step;
	if (room > CAPCHAN__ASYNC_RW_MAX)
		room = CAPCHAN__ASYNC_RW_MAX;
	capchan_prep_read(sqe, r->handle, (char *)r->buf + r->used,
			  (unsigned)room, CAPCHAN_OFF_CURRENT);
}

/* Double the buffer when fewer than 2 bytes are left; 0 or -errno. */
static int capchan__async_grow(struct capchan__async_req *r)
{
	void *bigger;

	if (r->len - r->used >= 2)
		return 0;
	if (r->len > SSIZE_MAX / 2)
		return -EOVERFLOW;
	bigger = realloc(r->buf, r->len * 2);
	if (!bigger)
		return -ENOMEM;
	r->buf = bigger;
	r->len *= 2;
	return 0;
}

/*
 * One READ is in.  Data: grow if needed and read again (1).  End of file
 * or an error: deliver (0).  The buffer is NUL-terminated after the data
 * at every step, so whatever ends the request leaves it a string.
 */
int capchan__async_read_to_end_finish(struct capchan_async *q,
				      struct capchan__async_req *r,
				      int64_t *res)
{
	int32_t n = r->res[0];
	int err;

	(void)q;
	if (n == -EINTR)
		return 1;
	if (n <= 0) {
		*res = n < 0 ? n : (int64_t)r->used;
		return 0;
	}
	if ((size_t)n > r->len - r->used - 1) {
		*res = -EPROTO;		/* more than was asked for */
		return 0;
	}
	r->used += (size_t)n;
	((char *)r->buf)[r->used] = '\0';
	err = capchan__async_grow(r);
	if (err) {
		*res = err;
		return 0;
	}
	return 1;
}

int capchan_async_read_to_end(struct capchan_async *q, uint32_t h,
			      void *buf, size_t size, capchan_async_cb cb,
			      void *data)
{
	struct capchan__async_req *r;
	int err;

	if (!buf && size)
		return -EINVAL;
	r = capchan__async_new(q, CAPCHAN_ASYNC_READ_TO_END, cb, data, &err);
	if (!r)
		return err;
	if (size < 2) {
		/* no buffer, or no room: start with a chunk (buf stays the
		 * caller's if that fails) */
		void *chunk = realloc(buf, CAPCHAN__ASYNC_READ_CHUNK);

		if (!chunk) {
			capchan__async_unmake(q, r);
			return -ENOMEM;
		}
		buf = chunk;
		size = CAPCHAN__ASYNC_READ_CHUNK;
	}
	r->handle = h;
	r->buf = buf;
	r->len = size;
	((char *)buf)[0] = '\0';
	capchan__async_queue(q, r);
	return 0;
}
