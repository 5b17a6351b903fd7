/* SPDX-License-Identifier: GPL-2.0 */
/*
 * capchan - internal declarations shared by the module's files.
 *
 * Include this first in every .c so pr_fmt is set before <linux/printk.h>.
 */
#ifndef CAPCHAN_INTERNAL_H
#define CAPCHAN_INTERNAL_H

#ifndef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#endif

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/capchan.h>

/* ---- module parameters (main.c) ---------------------------------------- */
extern unsigned int capchan_max_caps;
extern unsigned int capchan_max_depth;
extern unsigned long capchan_disabled_ops;
int capchan_may_open(void);

/* ---- capabilities (cap.c) ---------------------------------------------- */

/*
 * A capability: one object plus a rights mask, a node in the global
 * derivation tree.  Reference counted: each handle-table slot, each
 * capability file and each child holds one reference.  A child keeps its
 * parent alive so revoking an ancestor still reaches it after the handles
 * in between were closed.
 */
struct capchan_cap {
	refcount_t		ref;
	u32			type;		/* enum capchan_cap_type */
	u32			depth;		/* 0 for a granted root */
	u64			rights;
	bool			revoked;	/* set once, under capchan_tree_lock */
	struct file		*file;		/* the object; lives as long as the cap */
	struct capchan_cap	*parent;	/* holds a reference */
	struct list_head	children;	/* capchan_tree_lock */
	struct list_head	sibling;	/* capchan_tree_lock */
};

int capchan_cap_cache_init(void);
void capchan_cap_cache_exit(void);
struct capchan_cap *capchan_cap_new_root(struct file *file, u32 type, u64 rights);
struct capchan_cap *capchan_cap_new_child(struct capchan_cap *parent,
					  struct file *file, u32 type,
					  u64 rights);
void capchan_cap_get(struct capchan_cap *cap);
void capchan_cap_put(struct capchan_cap *cap);
long capchan_cap_revoke_descendants(struct capchan_cap *cap);

static inline bool capchan_cap_is_revoked(const struct capchan_cap *cap)
{
	return READ_ONCE(cap->revoked);
}

/* Capability files: a capability exported as its own file descriptor. */
int capchan_capfile_create(struct capchan_cap *cap);
struct capchan_cap *capchan_capfile_get(int fd);

/* ---- handle table (table.c) -------------------------------------------- */
struct capchan_slot {
	struct capchan_cap	*cap;
	u32			gen;		/* 1..CAPCHAN_HANDLE_GEN_MASK */
	u32			next_free;
};

struct capchan_table {
	struct capchan_slot	*slots;
	u32			nr_slots;
	u32			nr_used;
	u32			free_head;	/* U32_MAX: no free slot */
};

void capchan_table_init(struct capchan_table *t);
void capchan_table_destroy(struct capchan_table *t);
int capchan_table_insert(struct capchan_table *t, struct capchan_cap *cap);
struct capchan_cap *capchan_table_lookup(const struct capchan_table *t, u32 handle);
struct capchan_cap *capchan_table_remove(struct capchan_table *t, u32 handle);
u32 capchan_table_handle(const struct capchan_table *t, u32 slot);

/* what this module implements (VERSION and SETUP report it) */
#define CAPCHAN_FEATURES \
	(CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK | CAPCHAN_FEAT_CHAIN_HANDLE | \
	 CAPCHAN_FEAT_DIRECT_INVOKE | CAPCHAN_FEAT_NODROP | CAPCHAN_FEAT_POLL)

/* ---- rings (ring.c) ----------------------------------------------------- */

/*
 * Head of the shared ring region.  Each counter has its own cache line so
 * producer and consumer never share one.  The application writes sq_tail
 * and cq_head; the module writes the rest and never reads back what it wrote.
 */
struct capchan_ring_hdr {
	u32 sq_head ____cacheline_aligned_in_smp;
	u32 sq_tail ____cacheline_aligned_in_smp;
	u32 cq_head ____cacheline_aligned_in_smp;
	u32 cq_tail ____cacheline_aligned_in_smp;
	u32 sq_ring_mask ____cacheline_aligned_in_smp;
	u32 cq_ring_mask;
	u32 sq_ring_entries;
	u32 cq_ring_entries;
	u32 sq_flags;
	u32 sq_dropped;
	u32 cq_overflow;
};

/* ---- channel ------------------------------------------------------------ */
struct capchan_ctx {
	/*
	 * Serialises everything that executes ops or touches the table or the
	 * module's private ring indices: ENTER, INVOKE, GRANT, fdinfo.  Never
	 * taken under mmap_lock (mmap only reads ring_ready).
	 */
	struct mutex		lock;
	struct capchan_table	table;
	const struct cred	*cred;		/* the creator's, for OPEN */
	u64			id;
	bool			sealed;

	/* rings: valid once ring_ready is set (store-release in setup) */
	bool			ring_ready;
	struct page		*ring_pages;
	unsigned int		ring_order;
	u32			ring_size;
	struct capchan_ring_hdr	*rings;
	struct capchan_sqe	*sqes;
	struct capchan_cqe	*cqes;
	u32			sq_entries, sq_mask;
	u32			cq_entries, cq_mask;
	u32			cached_sq_head;	/* private: what we consumed */
	u32			cached_cq_tail;	/* private: what we produced */
	wait_queue_head_t	cq_wait;

	/* link chain state: a chain may span ENTER calls */
	bool			in_link;
	bool			link_failed;
	u32			chain_handle;
};

int capchan_ring_setup(struct capchan_ctx *ctx, struct capchan_params *p);
void capchan_ring_free(struct capchan_ctx *ctx);
int capchan_ring_mmap(struct capchan_ctx *ctx, struct vm_area_struct *vma);
long capchan_ring_enter(struct capchan_ctx *ctx, const struct capchan_enter *e);
u32 capchan_cq_pending(struct capchan_ctx *ctx);

/* ---- ops (op_table.c and op_*.c) ---------------------------------------- */

/* One request: the kernel copy of an SQE plus what validation resolved. */
struct capchan_req {
	struct capchan_sqe	sqe;
	struct capchan_cap	*cap;		/* borrowed: the table holds a ref */
};

struct capchan_op_def {
	const char	*name;
	u64		rights;		/* rights the capability must hold */
	u32		type;		/* 0: any, else the cap type required */
	bool		needs_cap;	/* sqe->handle names a capability */
	bool		on_revoked;	/* allowed on a revoked capability */
	bool		makes_handle;	/* result is a handle (chain source) */
	/*
	 * Names file descriptors, which belong to whoever makes the call:
	 * only through INVOKE, where the caller wrote the SQE itself.  From
	 * the rings the SQE's author is unknown (-EOPNOTSUPP).
	 */
	bool		invoke_only;
	/* validate the op's own SQE fields; runs before the handle lookup */
	int		(*prep)(const struct capchan_sqe *sqe);
	/* execute; ctx->lock held */
	long		(*issue)(struct capchan_ctx *ctx, struct capchan_req *req);
};

extern const struct capchan_op_def capchan_ops[CAPCHAN_OP_LAST];

long capchan_execute(struct capchan_ctx *ctx, struct capchan_req *req,
		     u32 *chain_handle, bool from_ring);
const struct cred *capchan_override_creds(struct capchan_ctx *ctx);
void capchan_revert_creds(const struct cred *old);
void capchan_sqe_copy(struct capchan_sqe *dst, const struct capchan_sqe *src);
u64 capchan_ops_enabled(void);

/* op families */
int capchan_prep_nop(const struct capchan_sqe *sqe);
long capchan_issue_nop(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_open(const struct capchan_sqe *sqe);
long capchan_issue_open(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_rw(const struct capchan_sqe *sqe);
long capchan_issue_read(struct capchan_ctx *ctx, struct capchan_req *req);
long capchan_issue_write(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_fsync(const struct capchan_sqe *sqe);
long capchan_issue_fsync(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_stat(const struct capchan_sqe *sqe);
long capchan_issue_stat(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_prefetch(const struct capchan_sqe *sqe);
long capchan_issue_prefetch(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_derive(const struct capchan_sqe *sqe);
long capchan_issue_derive(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_handle_only(const struct capchan_sqe *sqe);
long capchan_issue_revoke(struct capchan_ctx *ctx, struct capchan_req *req);
long capchan_issue_close(struct capchan_ctx *ctx, struct capchan_req *req);
long capchan_issue_export(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_import(const struct capchan_sqe *sqe);
long capchan_issue_import(struct capchan_ctx *ctx, struct capchan_req *req);

/* Install a new capability in the channel's table; drops it on failure. */
long capchan_install(struct capchan_ctx *ctx, struct capchan_cap *cap);

/* ---- channel file (channel.c) -------------------------------------------- */
extern const struct file_operations capchan_chan_fops;
int capchan_grant(struct capchan_ctx *ctx, struct capchan_grant *g);

#endif /* CAPCHAN_INTERNAL_H */
