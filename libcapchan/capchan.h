/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcapchan - user-space library for capchan capability channels.
 *
 * Two layers:
 *  - the ring layer (liburing-like): a channel's submission queue (SQ) and
 *    completion queue (CQ) live in one shared mapping; SQEs are prepared in
 *    place, published with capchan_submit(), completions reaped with
 *    capchan_peek_cqe()/capchan_wait_cqe() and released with
 *    capchan_cqe_seen()/capchan_cq_advance();
 *  - the capability layer: synchronous calls that run one operation through
 *    CAPCHAN_IOC_INVOKE and never touch the rings.
 *
 * Every function returns a result >= 0 or -errno and never sets errno on
 * purpose (errno may still be clobbered by the C library's system call
 * wrappers).  The ring layer is not thread safe: one thread owns a ring, or
 * the caller serialises access.
 *
 * This header is written for C (gnu11 and later).
 */
#ifndef LIBCAPCHAN_CAPCHAN_H
#define LIBCAPCHAN_CAPCHAN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/capchan.h>
#include <linux/filter.h>		/* struct sock_filter, BPF_STMT, BPF_JUMP */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/*
 * Submission queue.  khead is written by the module (SQEs consumed), ktail
 * by the library (SQEs published).  sqe_tail counts SQEs handed out by
 * capchan_get_sqe(); sqe_head counts SQEs already published to *ktail.
 */
struct capchan_sq {
	unsigned *khead;
	unsigned *ktail;
	unsigned *kflags;
	unsigned *kdropped;
	unsigned ring_mask;
	unsigned ring_entries;
	struct capchan_sqe *sqes;
	unsigned sqe_head;
	unsigned sqe_tail;
	unsigned resv[4];		/* the library's, for later: keep 0 */
};

/*
 * Completion queue.  ktail is written by the module (CQEs posted), khead by
 * the library (CQEs consumed).
 */
struct capchan_cq {
	unsigned *khead;
	unsigned *ktail;
	unsigned *koverflow;
	unsigned ring_mask;
	unsigned ring_entries;
	struct capchan_cqe *cqes;
	unsigned resv[4];		/* the library's, for later: keep 0 */
};

/* One channel: the /dev/capchan file descriptor and its rings. */
struct capchan {
	int fd;
	unsigned features;		/* CAPCHAN_FEAT_* from setup */
	struct capchan_sq sq;
	struct capchan_cq cq;
	void *ring_ptr;			/* the mapping at CAPCHAN_OFF_RINGS */
	size_t ring_sz;			/* its length */
	/*
	 * Room to grow without changing the size of a struct applications
	 * embed (a request pool): zeroed by capchan_queue_init(), the
	 * library's alone.
	 */
	unsigned setup_flags;		/* CAPCHAN_SETUP_* the rings were made with */
	unsigned resv32;
	uint64_t resv[7];
};

/* Scope guard: see CAPCHAN_SCOPED below. */
struct capchan_scope {
	struct capchan *ch;
	int handle;			/* > 0: dropped at scope exit */
};

/*
 * Directory iterator: see capchan_dir_iter_init(3).  The caller owns the
 * struct and the buffer; the fields are the library's, not to be touched.
 */
struct capchan_dir_iter {
	struct capchan *ch;
	char *buf;			/* 8-byte aligned part of the caller's buffer */
	uint32_t len;			/* its usable length */
	uint32_t dir;			/* the DIR capability walked */
	uint32_t pos;			/* next record in buf */
	uint32_t end;			/* bytes of records in buf */
	uint64_t cookie;		/* READDIR from here refills */
	int done;			/* READDIR said 0: no more entries */
	int resv;			/* 0: keeps the layout explicit */
	uint64_t resv2[2];		/* room to grow: zeroed by init */
};

/*
 * Smallest iterator buffer: one record with the longest name a Linux file
 * system gives (NAME_MAX, 255 bytes), so that no entry can be too big.
 */
#define CAPCHAN_DIR_BUF_MIN	(sizeof(struct capchan_dirent) + 256)

/* ------------------------------------------------------------------ */
/* Prototypes (out of line, in libcapchan.so / libcapchan.a)           */
/* ------------------------------------------------------------------ */

/* Channel setup and teardown (setup.c). */
int capchan_queue_init(unsigned entries, struct capchan *ch, unsigned flags);
int capchan_queue_init_params(unsigned entries, struct capchan *ch,
			      struct capchan_params *p);
int capchan_open_channel(struct capchan *ch);
void capchan_queue_exit(struct capchan *ch);
int capchan_get_version(struct capchan *ch, struct capchan_version *v);

/* Submission and waiting (submit.c). */
int capchan_submit(struct capchan *ch);
int capchan_submit_and_wait(struct capchan *ch, unsigned wait_nr);
int capchan_wait_cqe(struct capchan *ch, struct capchan_cqe **cqe_ptr);

/* Direct invocation and the capability layer (cap.c). */
int capchan_invoke(struct capchan *ch, const struct capchan_sqe *sqe);
int capchan_grant(struct capchan *ch, int fd, uint64_t rights);
int capchan_seal(struct capchan *ch);
int capchan_seal_flags(struct capchan *ch, unsigned int flags);
int capchan_open_beneath(struct capchan *ch, uint32_t dir, const char *path,
			 int o_flags, mode_t mode, uint64_t rights);
ssize_t capchan_read(struct capchan *ch, uint32_t h, void *buf, size_t len,
		     uint64_t off);
ssize_t capchan_write(struct capchan *ch, uint32_t h, const void *buf,
		      size_t len, uint64_t off);
ssize_t capchan_read_to_end(struct capchan *ch, uint32_t h, void **bufp);
int capchan_stat(struct capchan *ch, uint32_t h, struct capchan_stat *st);
int capchan_fsync(struct capchan *ch, uint32_t h, unsigned flags);
int capchan_derive(struct capchan *ch, uint32_t h, uint64_t rights);
int capchan_revoke(struct capchan *ch, uint32_t h);
int capchan_close(struct capchan *ch, uint32_t h);
int capchan_export(struct capchan *ch, uint32_t h, uint64_t rights);
int capchan_import(struct capchan *ch, int capfd);
void capchan_scope_close(struct capchan_scope *s);

/* Directory operations beneath a DIR capability (dir.c). */
ssize_t capchan_readdir(struct capchan *ch, uint32_t dir, void *buf,
			size_t len, uint64_t cookie);
int capchan_dir_iter_init(struct capchan_dir_iter *it, struct capchan *ch,
			  uint32_t dir, void *buf, size_t len);
int capchan_dir_next(struct capchan_dir_iter *it,
		     const struct capchan_dirent **ent);
int capchan_statat(struct capchan *ch, uint32_t dir, const char *path,
		   struct capchan_stat *st, unsigned flags);
int capchan_mkdir_beneath(struct capchan *ch, uint32_t dir, const char *path,
			  mode_t mode);
int capchan_unlink_beneath(struct capchan *ch, uint32_t dir,
			   const char *path);
int capchan_rmdir_beneath(struct capchan *ch, uint32_t dir, const char *path);
int capchan_symlink_beneath(struct capchan *ch, uint32_t dir,
			    const char *path, const char *target);
int capchan_rename_beneath(struct capchan *ch, uint32_t olddir,
			   const char *oldpath, uint32_t newdir,
			   const char *newpath, unsigned flags);
int capchan_truncate(struct capchan *ch, uint32_t file, uint64_t length);

/*
 * Zero-copy mapping of the FILE capability h (map.c): mmap(2) of a
 * capability file exported with the rights the mapping needs.  *addrp is
 * mmap's address hint on input and the mapping on success; unmap it with
 * munmap(2).
 */
int capchan_mmap(struct capchan *ch, uint32_t h, size_t len, int prot,
		 int flags, uint64_t off, void **addrp);

/*
 * Per-channel classic BPF filters (filter.c): no privilege needed, never
 * removed.  err is a positive errno (1..4095) for the ops refused; opmask
 * has bit n set for opcode n.
 */
int capchan_filter_attach(struct capchan *ch, const struct sock_filter *insns,
			  unsigned len);
int capchan_filter_deny_ops(struct capchan *ch, uint64_t opmask, int err);
int capchan_filter_allow_ops(struct capchan *ch, uint64_t opmask, int err);
int capchan_filter_readonly(struct capchan *ch, int err);

/* ------------------------------------------------------------------ */
/* Capability-only sandbox (sandbox.c)                                 */
/* ------------------------------------------------------------------ */
/*
 * Put every thread of the process, and all it forks, under a seccomp
 * filter refusing with EPERM each system call that names a file by path
 * (the fd-relative *at() forms too); capchan channels and open file
 * descriptors keep working.  For good: it stacks, never loosens.  flags
 * must be 0.  See capchan_sandbox_enter(3) for the list of calls.
 */
int capchan_sandbox_enter(unsigned int flags);

/*
 * CAPCHAN_SCOPED(name, ch, expr): declare a scope guard holding the handle
 * returned by expr (a handle, or -errno); when name goes out of scope the
 * handle is dropped with capchan_close() if it is > 0.  Set name.handle = 0
 * to keep the capability past the block.
 */
#define CAPCHAN_SCOPED(name, ch, expr)					\
	struct capchan_scope name					\
	__attribute__((cleanup(capchan_scope_close))) = { (ch), (expr) }

/* ------------------------------------------------------------------ */
/* Memory ordering helpers (internal to the inline functions below)   */
/* ------------------------------------------------------------------ */
/*
 * The module's side of each pair:
 *  - it smp_load_acquire()s the SQ tail before reading SQEs, and
 *    smp_store_release()s the SQ head after it has copied them;
 *  - it writes CQEs, then smp_store_release()s the CQ tail, and
 *    smp_load_acquire()s the CQ head before reusing a CQE slot.
 */
#define capchan__smp_store_release(p, v)				\
	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define capchan__smp_load_acquire(p)					\
	__atomic_load_n((p), __ATOMIC_ACQUIRE)
/* A counter only this side writes: no ordering needed to read it back. */
#define capchan__read_once(p)						\
	__atomic_load_n((p), __ATOMIC_RELAXED)

/* ------------------------------------------------------------------ */
/* Hot paths: SQ                                                       */
/* ------------------------------------------------------------------ */

/* SQEs handed out and not yet consumed by the module. */
static inline unsigned capchan_sq_ready(const struct capchan *ch)
{
	/*
	 * Pairs with the module's smp_store_release of the SQ head after it
	 * copied the SQEs: once we see the new head the slots are free.
	 */
	return ch->sq.sqe_tail - capchan__smp_load_acquire(ch->sq.khead);
}

/*
 * A channel with a poll thread (CAPCHAN_SETUP_SQPOLL), after publishing the
 * SQ tail: must the thread be woken (ENTER with CAPCHAN_ENTER_SQ_WAKEUP)?
 * The full barrier [W1] keeps the load of the flags word after the tail
 * store: it pairs with the poll thread's smp_mb() between setting
 * CAPCHAN_SQ_NEED_WAKEUP and its last look at the SQ tail before it
 * sleeps, so either the thread sees the new SQEs or we see the flag.
 * Without it the load could pass the store (x86 lets it, from the store
 * buffer) and both sides miss each other: SQEs left with the thread asleep.
 */
static inline int capchan_sq_needs_wakeup(const struct capchan *ch)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !!(capchan__read_once(ch->sq.kflags) & CAPCHAN_SQ_NEED_WAKEUP);
}

/* Free SQ slots: how many capchan_get_sqe() calls can succeed now. */
static inline unsigned capchan_sq_space_left(const struct capchan *ch)
{
	return ch->sq.ring_entries - capchan_sq_ready(ch);
}

/*
 * Next free SQE, or NULL when the SQ is full.  The SQE holds stale data:
 * fill it with one capchan_prep_*() call before anything else.
 */
static inline struct capchan_sqe *capchan_get_sqe(struct capchan *ch)
{
	struct capchan_sq *sq = &ch->sq;
	/*
	 * Pairs with the module's smp_store_release of the SQ head in ENTER:
	 * the module has finished reading every SQE below head, so their
	 * slots may be rewritten.
	 */
	unsigned head = capchan__smp_load_acquire(sq->khead);
	unsigned next = sq->sqe_tail + 1;
	struct capchan_sqe *sqe;

	if (next - head > sq->ring_entries)
		return NULL;
	sqe = &sq->sqes[sq->sqe_tail & sq->ring_mask];
	sq->sqe_tail = next;
	return sqe;
}

/* Fill every field of an SQE, reserved fields included (all zero). */
static inline void capchan__prep(struct capchan_sqe *sqe, uint8_t opcode,
				 uint32_t handle, uint64_t off, uint64_t addr,
				 uint32_t len, uint32_t op_flags,
				 uint64_t rights)
{
	sqe->opcode = opcode;
	sqe->flags = 0;
	sqe->resv0 = 0;
	sqe->handle = handle;
	sqe->off = off;
	sqe->addr = addr;
	sqe->len = len;
	sqe->op_flags = op_flags;
	sqe->rights = rights;
	sqe->user_data = 0;
	sqe->resv1 = 0;
	sqe->resv2 = 0;
}

static inline void capchan_prep_nop(struct capchan_sqe *sqe)
{
	capchan__prep(sqe, CAPCHAN_OP_NOP, 0, 0, 0, 0, 0, 0);
}

/*
 * OPEN path beneath the DIR capability dir.  mode goes to the SQE as is;
 * the module wants it 0 unless o_flags has O_CREAT.
 */
static inline void capchan_prep_open(struct capchan_sqe *sqe, uint32_t dir,
				     const char *path, int o_flags,
				     mode_t mode, uint64_t rights)
{
	capchan__prep(sqe, CAPCHAN_OP_OPEN, dir, (uint64_t)mode,
		      (uint64_t)(uintptr_t)path, 0, (uint32_t)o_flags, rights);
}

static inline void capchan_prep_read(struct capchan_sqe *sqe, uint32_t h,
				     void *buf, unsigned len, uint64_t off)
{
	capchan__prep(sqe, CAPCHAN_OP_READ, h, off, (uint64_t)(uintptr_t)buf,
		      len, 0, 0);
}

static inline void capchan_prep_write(struct capchan_sqe *sqe, uint32_t h,
				      const void *buf, unsigned len,
				      uint64_t off)
{
	capchan__prep(sqe, CAPCHAN_OP_WRITE, h, off, (uint64_t)(uintptr_t)buf,
		      len, 0, 0);
}

static inline void capchan_prep_fsync(struct capchan_sqe *sqe, uint32_t h,
				      unsigned flags)
{
	capchan__prep(sqe, CAPCHAN_OP_FSYNC, h, 0, 0, 0, flags, 0);
}

static inline void capchan_prep_stat(struct capchan_sqe *sqe, uint32_t h,
				     struct capchan_stat *st)
{
	capchan__prep(sqe, CAPCHAN_OP_STAT, h, 0, (uint64_t)(uintptr_t)st,
		      (uint32_t)sizeof(struct capchan_stat), 0, 0);
}

static inline void capchan_prep_derive(struct capchan_sqe *sqe, uint32_t h,
				       uint64_t rights)
{
	capchan__prep(sqe, CAPCHAN_OP_DERIVE, h, 0, 0, 0, 0, rights);
}

static inline void capchan_prep_revoke(struct capchan_sqe *sqe, uint32_t h)
{
	capchan__prep(sqe, CAPCHAN_OP_REVOKE, h, 0, 0, 0, 0, 0);
}

static inline void capchan_prep_close(struct capchan_sqe *sqe, uint32_t h)
{
	capchan__prep(sqe, CAPCHAN_OP_CLOSE, h, 0, 0, 0, 0, 0);
}

static inline void capchan_prep_export(struct capchan_sqe *sqe, uint32_t h,
				       uint64_t rights)
{
	capchan__prep(sqe, CAPCHAN_OP_EXPORT, h, 0, 0, 0, 0, rights);
}

/* IMPORT the capability file capfd; the fd travels sign-extended in off. */
static inline void capchan_prep_import(struct capchan_sqe *sqe, int capfd)
{
	capchan__prep(sqe, CAPCHAN_OP_IMPORT, 0, (uint64_t)(int64_t)capfd,
		      0, 0, 0, 0);
}

static inline void capchan_prep_prefetch(struct capchan_sqe *sqe, uint32_t h,
					 uint64_t off, unsigned len)
{
	capchan__prep(sqe, CAPCHAN_OP_PREFETCH, h, off, 0, len, 0, 0);
}

/*
 * READDIR: records of the DIR from cookie (0: the start; else the next of a
 * record an earlier READDIR of this DIR returned) into buf.
 */
static inline void capchan_prep_readdir(struct capchan_sqe *sqe, uint32_t dir,
					void *buf, unsigned len,
					uint64_t cookie)
{
	capchan__prep(sqe, CAPCHAN_OP_READDIR, dir, cookie,
		      (uint64_t)(uintptr_t)buf, len, 0, 0);
}

/* STATAT path beneath dir into *st; flags: CAPCHAN_STATAT_NOFOLLOW. */
static inline void capchan_prep_statat(struct capchan_sqe *sqe, uint32_t dir,
				       const char *path,
				       struct capchan_stat *st,
				       unsigned flags)
{
	/* the stat buffer goes in addr2, which shares off's storage */
	capchan__prep(sqe, CAPCHAN_OP_STATAT, dir, (uint64_t)(uintptr_t)st,
		      (uint64_t)(uintptr_t)path,
		      (uint32_t)sizeof(struct capchan_stat), flags, 0);
}

static inline void capchan_prep_mkdir(struct capchan_sqe *sqe, uint32_t dir,
				      const char *path, mode_t mode)
{
	capchan__prep(sqe, CAPCHAN_OP_MKDIR, dir, (uint64_t)mode,
		      (uint64_t)(uintptr_t)path, 0, 0, 0);
}

static inline void capchan_prep_unlink(struct capchan_sqe *sqe, uint32_t dir,
				       const char *path)
{
	capchan__prep(sqe, CAPCHAN_OP_UNLINK, dir, 0,
		      (uint64_t)(uintptr_t)path, 0, 0, 0);
}

static inline void capchan_prep_rmdir(struct capchan_sqe *sqe, uint32_t dir,
				      const char *path)
{
	capchan__prep(sqe, CAPCHAN_OP_RMDIR, dir, 0,
		      (uint64_t)(uintptr_t)path, 0, 0, 0);
}

/* SYMLINK: make path beneath dir a symbolic link whose text is target. */
static inline void capchan_prep_symlink(struct capchan_sqe *sqe, uint32_t dir,
					const char *path, const char *target)
{
	/* the link text goes in addr2, which shares off's storage */
	capchan__prep(sqe, CAPCHAN_OP_SYMLINK, dir,
		      (uint64_t)(uintptr_t)target, (uint64_t)(uintptr_t)path,
		      0, 0, 0);
}

/*
 * RENAME oldpath beneath olddir to newpath beneath newdir (olddir itself
 * for a rename within one DIR); flags: CAPCHAN_RENAME_*.  The ABI carries
 * the target DIR's handle in len and the new path in addr2.
 */
static inline void capchan_prep_rename(struct capchan_sqe *sqe,
				       uint32_t olddir, const char *oldpath,
				       uint32_t newdir, const char *newpath,
				       unsigned flags)
{
	capchan__prep(sqe, CAPCHAN_OP_RENAME, olddir,
		      (uint64_t)(uintptr_t)newpath, (uint64_t)(uintptr_t)oldpath,
		      newdir, flags, 0);
}

static inline void capchan_prep_truncate(struct capchan_sqe *sqe,
					 uint32_t file, uint64_t length)
{
	capchan__prep(sqe, CAPCHAN_OP_TRUNCATE, file, length, 0, 0, 0, 0);
}

/* After prep: the value echoed in the CQE's user_data. */
static inline void capchan_sqe_set_data64(struct capchan_sqe *sqe,
					  uint64_t data)
{
	sqe->user_data = data;
}

/* After prep: CAPCHAN_SQE_* flags (replaces the flags byte). */
static inline void capchan_sqe_set_flags(struct capchan_sqe *sqe,
					 unsigned flags)
{
	sqe->flags = (uint8_t)flags;
}

/* ------------------------------------------------------------------ */
/* Hot paths: CQ                                                       */
/* ------------------------------------------------------------------ */

/* CQEs posted by the module and not yet consumed. */
static inline unsigned capchan_cq_ready(const struct capchan *ch)
{
	/*
	 * Pairs with the module's smp_store_release of the CQ tail after it
	 * wrote the CQEs: every CQE below the tail we see is complete.
	 */
	return capchan__smp_load_acquire(ch->cq.ktail) -
	       capchan__read_once(ch->cq.khead);
}

/* Oldest pending CQE in *cqe_ptr, or -EAGAIN (and NULL) when none. */
static inline int capchan_peek_cqe(struct capchan *ch,
				   struct capchan_cqe **cqe_ptr)
{
	struct capchan_cq *cq = &ch->cq;
	unsigned head = capchan__read_once(cq->khead);
	/*
	 * Pairs with the module's smp_store_release of the CQ tail after it
	 * wrote the CQEs, so the CQE at head is fully visible.
	 */
	unsigned tail = capchan__smp_load_acquire(cq->ktail);

	if (head == tail) {
		*cqe_ptr = NULL;
		return -EAGAIN;
	}
	*cqe_ptr = &cq->cqes[head & cq->ring_mask];
	return 0;
}

/* Release nr CQEs back to the module. */
static inline void capchan_cq_advance(struct capchan *ch, unsigned nr)
{
	if (nr) {
		struct capchan_cq *cq = &ch->cq;
		/*
		 * Pairs with the module's smp_load_acquire of the CQ head
		 * before it reuses a CQE slot: our reads of the released
		 * CQEs are done before the module can overwrite them.
		 */
		capchan__smp_store_release(cq->khead,
					  capchan__read_once(cq->khead) + nr);
	}
}

/* Release the CQE returned by capchan_peek_cqe()/capchan_wait_cqe(). */
static inline void capchan_cqe_seen(struct capchan *ch,
				    struct capchan_cqe *cqe)
{
	if (cqe)
		capchan_cq_advance(ch, 1);
}

/* ================================================================== */
/* Async capability layer (async*.c, unix.c)                          */
/* ================================================================== */
/*
 * A queue (struct capchan_async, opaque) runs capability operations on a
 * channel's rings and reports each one's completion exactly once, to a
 * callback.  Submission calls (capchan_async_open() ...) only record the
 * request and return 0 or -errno; capchan_async_run() moves requests to the
 * SQ (in batches the SQ can hold), enters the module, reaps CQEs and runs
 * the callbacks.  Callbacks run only inside capchan_async_run(),
 * capchan_async_wait() and capchan_async_exit(), on the caller's thread.
 *
 * Completions are matched to requests by the CQE's user_data only, never
 * by their order.  Requests start in the order they were made; they may
 * complete in any order.  While a queue is attached to a channel, nothing
 * else may use that channel's rings.  One thread owns a queue.
 *
 * A future: pass capchan_async_future_cb as the callback and a struct
 * capchan_async_future as its data; capchan_async_wait() runs the queue
 * until that request is done.
 */
struct capchan_async;

/* What a request was: capchan_async_done.op. */
enum capchan_async_op {
	CAPCHAN_ASYNC_OPEN		= 1,
	CAPCHAN_ASYNC_READ		= 2,
	CAPCHAN_ASYNC_READ_TO_END	= 3,
	CAPCHAN_ASYNC_WRITE		= 4,
	CAPCHAN_ASYNC_STAT		= 5,
	CAPCHAN_ASYNC_DERIVE		= 6,
	CAPCHAN_ASYNC_REVOKE		= 7,
	CAPCHAN_ASYNC_CLOSE		= 8,
	CAPCHAN_ASYNC_EXPORT		= 9,
	CAPCHAN_ASYNC_IMPORT		= 10,
	CAPCHAN_ASYNC_OPEN_READ		= 11,
	CAPCHAN_ASYNC_SEND_CAP		= 12,
	CAPCHAN_ASYNC_RECV_CAP		= 13,
};

/*
 * A completion, valid for the duration of the callback only (copy what
 * you keep).  The request record behind it is already free.
 */
struct capchan_async_done {
	void *data;		/* the caller's pointer, as given */
	int64_t res;		/* the result (see each call's page), or -errno */
	uint32_t op;		/* enum capchan_async_op */
	uint32_t handle;	/* the handle the request acted on; 0: none */
	/*
	 * READ, WRITE, OPEN_READ: the caller's buffer; STAT: the caller's
	 * struct capchan_stat; READ_TO_END: the buffer, which belongs to the
	 * caller from now on, whatever res is (free it); others: NULL.
	 */
	void *buf;
	size_t len;		/* READ_TO_END: bytes in buf; others: bytes asked */
	int32_t step[3];	/* OPEN_READ: the OPEN, READ and CLOSE results */
};

typedef void (*capchan_async_cb)(struct capchan_async *q,
				 const struct capchan_async_done *d);

/* Filled in by capchan_async_future_cb(); the caller owns it. */
struct capchan_async_future {
	int done;			/* 1 once d holds the completion */
	struct capchan_async_done d;
};

/* Limit of capchan_async_init()'s max_reqs. */
#define CAPCHAN_ASYNC_MAX_REQS		((1U << 24) - 1)

int capchan_async_init(struct capchan_async **qp, struct capchan *ch,
		       unsigned max_reqs);
void capchan_async_exit(struct capchan_async *q);
int capchan_async_run(struct capchan_async *q, unsigned min_complete);
int capchan_async_wait(struct capchan_async *q,
		       struct capchan_async_future *f);
unsigned capchan_async_pending(const struct capchan_async *q);
void capchan_async_future_cb(struct capchan_async *q,
			     const struct capchan_async_done *d);

int capchan_async_open(struct capchan_async *q, uint32_t dir,
		       const char *path, int o_flags, mode_t mode,
		       uint64_t rights, capchan_async_cb cb, void *data);
int capchan_async_read(struct capchan_async *q, uint32_t h, void *buf,
		       size_t len, uint64_t off, capchan_async_cb cb,
		       void *data);
int capchan_async_read_to_end(struct capchan_async *q, uint32_t h,
			      void *buf, size_t size, capchan_async_cb cb,
			      void *data);
int capchan_async_write(struct capchan_async *q, uint32_t h,
			const void *buf, size_t len, uint64_t off,
			capchan_async_cb cb, void *data);
int capchan_async_stat(struct capchan_async *q, uint32_t h,
		       struct capchan_stat *st, capchan_async_cb cb,
		       void *data);
int capchan_async_derive(struct capchan_async *q, uint32_t h,
			 uint64_t rights, capchan_async_cb cb, void *data);
int capchan_async_revoke(struct capchan_async *q, uint32_t h,
			 capchan_async_cb cb, void *data);
int capchan_async_close(struct capchan_async *q, uint32_t h,
		       capchan_async_cb cb, void *data);
int capchan_async_export(struct capchan_async *q, uint32_t h,
			 uint64_t rights, capchan_async_cb cb, void *data);
int capchan_async_import(struct capchan_async *q, int capfd,
			 capchan_async_cb cb, void *data);

/* Chain: OPEN path beneath dir, READ up to len bytes, CLOSE; one callback. */
int capchan_async_open_read(struct capchan_async *q, uint32_t dir,
			    const char *path, int o_flags, void *buf,
			    size_t len, capchan_async_cb cb, void *data);

/* A capability over a UNIX socket: EXPORT + SCM_RIGHTS, SCM_RIGHTS + IMPORT. */
int capchan_async_send_cap(struct capchan_async *q, int sock, uint32_t h,
			   uint64_t rights, capchan_async_cb cb, void *data);
int capchan_async_recv_cap(struct capchan_async *q, int sock,
			   capchan_async_cb cb, void *data);

#ifdef __cplusplus
}
#endif

#endif /* LIBCAPCHAN_CAPCHAN_H */
