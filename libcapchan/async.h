/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Internal to the async layer: the queue, its request records and the
 * table of what each kind of request does.  Not installed.
 *
 * Records live in one array allocated by capchan_async_init(), so memory
 * is bounded and nothing is allocated per request (READ_TO_END's buffer
 * aside).  A record is in exactly one state:
 *
 *   FREE     on the free list;
 *   BACKLOG  made, waiting in the library's FIFO for room in the SQ (or,
 *            for the ops the library runs itself, for its turn);
 *   KERNEL   its SQEs are in the SQ or consumed; CQEs outstanding;
 *   READY    finished by the library itself; its callback is due.
 *
 * It leaves FREE in one submission call and goes back to FREE only in
 * capchan__async_deliver(), right before its callback: once each.
 *
 * Each SQE's user_data names its record and the record's generation, so a
 * CQE is matched to its request whatever the order, and a CQE that names
 * no request in flight (stale, duplicated, foreign) is ignored.
 */
#ifndef LIBCAPCHAN_ASYNC_H
#define LIBCAPCHAN_ASYNC_H

#include "capchan.h"

#define CAPCHAN__ASYNC_NIL		0xffffffffU
/* user_data: generation in bits 63..32, step in 31..24, index in 23..0 */
#define CAPCHAN__ASYNC_IDX_BITS		24
#define CAPCHAN__ASYNC_IDX_MASK		((1U << CAPCHAN__ASYNC_IDX_BITS) - 1)
#define CAPCHAN__ASYNC_MAX_STEPS	3

/* Largest READ/WRITE asked of the module at once (as cap.c's). */
#define CAPCHAN__ASYNC_RW_MAX		0x7ffff000U

enum capchan__async_state {
	CAPCHAN__ASYNC_FREE = 0,
	CAPCHAN__ASYNC_BACKLOG,
	CAPCHAN__ASYNC_KERNEL,
	CAPCHAN__ASYNC_READY,
};

struct capchan__async_req {
	capchan_async_cb cb;
	void *data;
	/* READ, WRITE, READ_TO_END, OPEN_READ: data; STAT: capchan_stat */
	void *buf;
	const char *path;	/* OPEN, OPEN_READ */
	size_t len;		/* bytes asked; READ_TO_END: size of buf */
	size_t used;		/* READ_TO_END: bytes read so far */
	uint64_t off;		/* READ, WRITE: offset; OPEN: mode */
	uint64_t rights;	/* OPEN, DERIVE, EXPORT, SEND_CAP */
	uint32_t handle;
	/* IMPORT: the capability file; SEND_CAP: the socket; RECV_CAP: the
	 * received capability file, -1 once closed */
	int fd;
	int o_flags;		/* OPEN, OPEN_READ */
	uint32_t gen;		/* bumped each time the record is (re)queued */
	uint32_t next;		/* link in the free list, backlog or ready list */
	int32_t res[CAPCHAN__ASYNC_MAX_STEPS];	/* each step's result */
	uint8_t op;		/* enum capchan_async_op */
	uint8_t state;		/* enum capchan__async_state */
	uint8_t got;		/* bit s: step s's CQE arrived */
	uint8_t resv;
};

struct capchan_async {
	struct capchan *ch;
	/* the channel as it was at init: capchan_queue_exit() changes both */
	int fd;
	void *ring_ptr;
	struct capchan__async_req *reqs;
	unsigned nreqs;
	unsigned outstanding;	/* records not FREE */
	unsigned in_kernel;	/* records in KERNEL */
	uint32_t free_head;
	uint32_t bl_head, bl_tail;	/* backlog FIFO */
	uint32_t rd_head, rd_tail;	/* ready FIFO */
	int in_run;		/* a loop (or the teardown) runs callbacks */
	int exiting;		/* capchan_async_exit() was called */
	unsigned long strays;	/* CQEs that named no request in flight */
};

/* What the library does for one kind of request. */
struct capchan__async_opdef {
	/* SQEs per submission, linked; 0: the library runs it (INVOKE) */
	unsigned nsteps;
	void (*prep)(const struct capchan__async_req *r, unsigned step,
		     struct capchan_sqe *sqe);
	/* nsteps == 0: run it now; the result goes to res[0] */
	int32_t (*run)(struct capchan_async *q, struct capchan__async_req *r);
	/*
	 * Every CQE is in: 0 to deliver *res (res[0] when there is no
	 * finish), 1 to queue the record again (READ_TO_END goes on).
	 */
	int (*finish)(struct capchan_async *q, struct capchan__async_req *r,
		      int64_t *res);
	/* Let go of what a request never completed holds (a received fd). */
	void (*cancel)(struct capchan__async_req *r);
};

/* async_ops.c: indexed by enum capchan_async_op */
extern const struct capchan__async_opdef capchan__async_ops[];

/* async.c */
struct capchan__async_req *capchan__async_new(struct capchan_async *q,
					      unsigned op, capchan_async_cb cb,
					      void *data, int *err);
void capchan__async_queue(struct capchan_async *q,
			  struct capchan__async_req *r);
void capchan__async_unmake(struct capchan_async *q,
			   struct capchan__async_req *r);

/* async_chain.c: OPEN_READ and READ_TO_END */
void capchan__async_open_read_prep(const struct capchan__async_req *r,
				   unsigned step, struct capchan_sqe *sqe);
int capchan__async_open_read_finish(struct capchan_async *q,
				    struct capchan__async_req *r,
				    int64_t *res);
void capchan__async_read_to_end_prep(const struct capchan__async_req *r,
				     unsigned step, struct capchan_sqe *sqe);
int capchan__async_read_to_end_finish(struct capchan_async *q,
				      struct capchan__async_req *r,
				      int64_t *res);

/* unix.c: SEND_CAP and RECV_CAP */
int32_t capchan__async_send_cap_run(struct capchan_async *q,
				    struct capchan__async_req *r);
int32_t capchan__async_recv_cap_run(struct capchan_async *q,
				    struct capchan__async_req *r);
void capchan__async_recv_cap_cancel(struct capchan__async_req *r);

#endif /* LIBCAPCHAN_ASYNC_H */
