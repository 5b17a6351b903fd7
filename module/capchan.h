/* SPDX-License-Identifier: GPL-2.0 */
/*
 * capchan - internal declarations shared by the module's files.
 *
 * pr_fmt ("capchan: ") is set once for every file, in Kbuild.
 */
#ifndef CAPCHAN_INTERNAL_H
#define CAPCHAN_INTERNAL_H

#include <linux/backing-dev.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/jump_label.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/version.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/capchan.h>

/*
 * Every allocation a user's request makes: charged to the caller's memory
 * cgroup, and when that is full, -ENOMEM for the request rather than the
 * cgroup's OOM killer or a warning (io_uring's allocations can do either).
 */
#define CAPCHAN_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* ---- module parameters (main.c) ---------------------------------------- */
/* the largest max_caps: a table of twice that many slots stays small */
#define CAPCHAN_MAX_CAPS	(1024U * 1024)
extern unsigned int capchan_max_caps;
extern unsigned int capchan_max_depth;
extern unsigned long capchan_disabled_ops;
extern unsigned long capchan_allowed_ops;
extern unsigned long capchan_max_user_channels;
extern unsigned long capchan_max_user_caps;
extern unsigned long capchan_max_user_files;
extern unsigned long capchan_max_user_sqpoll;
extern unsigned int capchan_max_workers;
extern unsigned long capchan_max_user_workers;
int capchan_may_open(void);

/* ---- per-user accounting (user.c) ---------------------------------------- */
struct capchan_user {
	struct hlist_node	node;		/* capchan_users_lock */
	kuid_t			uid;
	refcount_t		ref;
	atomic_long_t		caps;		/* live capabilities charged */
	atomic_long_t		files;		/* objects (open files) charged */
	atomic_long_t		channels;	/* open channels */
	atomic_long_t		sqpoll;		/* poll threads */
	atomic_long_t		workers;	/* worker threads (worker.c) */
};

struct capchan_user *capchan_user_get_current(void);
void capchan_user_get(struct capchan_user *u);
void capchan_user_put(struct capchan_user *u);
int capchan_user_charge_cap(struct capchan_user *u);
void capchan_user_uncharge_cap(struct capchan_user *u);
int capchan_user_charge_file(struct capchan_user *u);
void capchan_user_uncharge_file(struct capchan_user *u);
int capchan_user_charge_channel(struct capchan_user *u);
void capchan_user_uncharge_channel(struct capchan_user *u);
int capchan_user_charge_sqpoll(struct capchan_user *u);
void capchan_user_uncharge_sqpoll(struct capchan_user *u);
int capchan_user_charge_worker(struct capchan_user *u, unsigned long nproc);
void capchan_user_uncharge_worker(struct capchan_user *u);

/* ---- capabilities (cap.c) ---------------------------------------------- */

/*
 * What a capability names: one open file (a directory or a regular file).
 * GRANT and OPEN make one, charged as one open file to a user; DERIVE,
 * EXPORT and IMPORT share it.  Each capability holding it holds a reference.
 */
struct capchan_obj {
	refcount_t		ref;
	struct file		*file;
	struct capchan_user	*user;		/* charged one file */
};

/* The derivation tree of one root capability and everything below it. */
struct capchan_tree {
	struct mutex		lock;		/* children/siblings/flags/parent/mmaps */
	refcount_t		ref;		/* one per capability in the tree */
};

/* capchan_cap.flags: each set once, under tree->lock */
#define CAPCHAN_CAPF_REVOKED	BIT(0)	/* read without the lock too */
#define CAPCHAN_CAPF_RETIRED	BIT(1)	/* the live bias is dropped */

/*
 * A capability: an object, a rights mask and the credentials its ops run
 * with; a node of its root's tree.  Two counts: @users, the handle-table
 * slots and capability files that name it and the ops in flight that
 * looked it up by handle (the last one gone retires it:
 * its object is let go), and @ref, the structure, held by each user and
 * each child.  A child keeps its parent's structure alive so revoking an
 * ancestor still reaches it after the handles in between were closed.
 *
 * One is allocated per capability, so it is kept small: 96 bytes on 64-bit
 * (capchan_cap_cache_init() asserts it).  What ops read comes first.
 */
struct capchan_cap {
	refcount_t		ref;		/* the structure: users and children */
	refcount_t		users;		/* table slots and capability files */
	/* 1 (live) + ops in flight; 0: revoked and idle, @obj dropped */
	atomic_t		active;
	u16			depth;		/* 0 for a granted root; <= max_depth */
	u8			type;		/* enum capchan_cap_type */
	u8			flags;		/* CAPCHAN_CAPF_*; tree->lock */
	u64			rights;
	const struct cred	*cred;		/* every op on it runs with these */
	struct capchan_obj	*obj;		/* only inside capchan_cap_enter/exit */
	struct capchan_user	*user;		/* charged one capability */
	struct capchan_tree	*tree;
	struct capchan_cap	*parent;	/* holds a reference */
	/* live children, oldest first (cap.c); all three tree->lock */
	struct capchan_cap	*children;
	struct capchan_cap	*sib_next;	/* the next younger sibling */
	struct capchan_cap	*sib_prev;	/* older; NULL: on no list */
	struct hlist_head	mmaps;		/* its mappings (mmap.c); tree->lock */
};

/* the largest struct capchan_cap may be (64-bit); see above */
#define CAPCHAN_CAP_SIZE_MAX	96

int capchan_cap_cache_init(void);
void capchan_cap_cache_exit(void);
struct capchan_obj *capchan_obj_new(struct file *file, struct capchan_user *user);
void capchan_obj_set_file(struct capchan_obj *obj, struct file *file);
void capchan_obj_put(struct capchan_obj *obj);
struct capchan_cap *capchan_cap_new_root(struct capchan_obj *obj, u32 type,
					 u64 rights, struct capchan_user *user);
struct capchan_cap *capchan_cap_prepare_child(struct capchan_cap *parent,
					      struct capchan_obj *obj,
					      u32 type, u64 rights,
					      struct capchan_user *user);
int capchan_cap_link(struct capchan_cap *parent, struct capchan_cap *cap);
void capchan_cap_get(struct capchan_cap *cap);
void capchan_cap_put(struct capchan_cap *cap);
bool capchan_cap_enter(struct capchan_cap *cap);
void capchan_cap_exit(struct capchan_cap *cap);
long capchan_cap_revoke_descendants(struct capchan_cap *cap);

static inline bool capchan_cap_is_revoked(const struct capchan_cap *cap)
{
	return READ_ONCE(cap->flags) & CAPCHAN_CAPF_REVOKED;
}

/* The open file of a capability; only between capchan_cap_enter/exit. */
static inline struct file *capchan_cap_file(const struct capchan_cap *cap)
{
	return cap->obj->file;
}

/* Capability files: a capability exported as its own file descriptor. */
int capchan_capfile_create(struct capchan_cap *cap);
struct capchan_cap *capchan_capfile_get(int fd);

/* mmap(2) of a capability file, and REVOKE's teardown (mmap.c) */
int capchan_capfile_mmap(struct file *capfile, struct vm_area_struct *vma);
void capchan_mmap_revoked(struct capchan_cap *cap, struct list_head *dead);
void capchan_mmap_teardown(struct list_head *dead);

/* ---- handle table (table.c) -------------------------------------------- */
/*
 * Self-locking: every capchan_table_*() takes @lock itself (table.c).
 * Slot i is caps[i] and handles[i]: two arrays, so a slot takes 12 bytes
 * on 64-bit, not a padded 16.
 */
struct capchan_table {
	spinlock_t		lock;		/* all below; never held across an op */
	struct capchan_cap	**caps;		/* NULL: free */
	u32			*handles;	/* the handle each was issued under */
	u32			mask;		/* nr_slots - 1 */
	u32			nr_slots;	/* 0 or a power of two */
	u32			nr_used;	/* live and reserved */
	u32			nr_reserved;	/* reserved, not committed yet */
	u32			next;		/* next handle to try */
};

void capchan_table_init(struct capchan_table *t);
void capchan_table_destroy(struct capchan_table *t);
int capchan_table_reserve(struct capchan_table *t);
void capchan_table_commit(struct capchan_table *t, u32 handle,
			  struct capchan_cap *cap);
void capchan_table_cancel(struct capchan_table *t, u32 handle);
int capchan_table_insert(struct capchan_table *t, struct capchan_cap *cap);
struct capchan_cap *capchan_table_get(struct capchan_table *t, u32 handle);
struct capchan_cap *capchan_table_remove(struct capchan_table *t, u32 handle);
u32 capchan_table_live(const struct capchan_table *t);
struct capchan_cap *capchan_table_at(const struct capchan_table *t, u32 i,
				     u32 *handle);

/* what this module implements (VERSION and SETUP report it) */
#define CAPCHAN_FEATURES \
	(CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK | CAPCHAN_FEAT_CHAIN_HANDLE | \
	 CAPCHAN_FEAT_DIRECT_INVOKE | CAPCHAN_FEAT_NODROP | CAPCHAN_FEAT_POLL | \
	 CAPCHAN_FEAT_CAP_CREDS | CAPCHAN_FEAT_FILTER | CAPCHAN_FEAT_MMAP | \
	 CAPCHAN_FEAT_SQPOLL | CAPCHAN_FEAT_WORKERS | \
	 (IS_ENABLED(CONFIG_BPF_EVENTS) ? CAPCHAN_FEAT_HOOK : 0))

/* the BTF layer (btf.c): kfuncs when the module carries BTF */
int capchan_btf_init(void);
bool capchan_btf_enabled(void);
/* the kfuncs themselves: called from BPF programs only */
struct capchan_req;
u64 bpf_capchan_req_rights(struct capchan_req *req);
int bpf_capchan_req_path(struct capchan_req *req, void *mem, u32 mem__sz);

/* what VERSION and SETUP report: the build's features and live layers */
static inline u32 capchan_features(void)
{
	return CAPCHAN_FEATURES | (capchan_btf_enabled() ? CAPCHAN_FEAT_BTF : 0);
}

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

/* The link chain an op of the rings belongs to, as it runs. */
struct capchan_chain {
	bool	in_link;	/* the op before it had CAPCHAN_SQE_LINK */
	bool	failed;		/* an op before it in the chain failed */
	u32	handle;		/* what CAPCHAN_HANDLE_CHAIN resolves to */
};

/* ---- channel ------------------------------------------------------------ */
struct capchan_ctx {
	/*
	 * Many threads may use one channel at once; no lock is held across an
	 * op run by INVOKE, so an op that blocks stalls nobody else.
	 *
	 * @lock serialises the control ioctls: SETUP, GRANT, SEAL, FILTER and
	 * IMPORT's seal check with its insert.  Each holds it briefly; it is
	 * never held while an op runs.  Never taken under mmap_lock (mmap
	 * only reads ring_ready).
	 *
	 * @ring_lock: the one consumer of the SQ at a time (ENTER or the poll
	 * thread): the SQ head, the reservations of CQE slots, and the state
	 * of a chain run op by op.  Held while SQEs are copied out, never
	 * while they run (a chain run op by op: its next SQEs follow the op
	 * that runs, worker.c), so an op blocked in one ENTER holds up no
	 * other ENTER, INVOKE or fdinfo (ring.c).
	 *
	 * @table has its own spinlock (table.c).  Order: ring_lock, then
	 * lock, then table.lock; a tree->lock (cap.c) never under table.lock;
	 * ring_lock, then the workers' lock (worker.c).
	 */
	struct mutex		lock;		/* control ioctls, see above */
	struct mutex		ring_lock;	/* SQ consumer, see above */
	struct capchan_table	table;
	struct capchan_user	*user;		/* the creator's: charged for what it makes */
	u64			id;
	u32			sealed;		/* 0, or CAPCHAN_SEAL_* | SEALED; lock */

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
	u32			cached_sq_head;	/* private: consumed; ring_lock */
	u32			cached_cq_tail;	/* private: produced; cq_lock */
	u32			cq_published;	/* cq_tail as the app sees it [C3] */
	wait_queue_head_t	cq_wait;
	/*
	 * Ops consumed and not completed (running in an ENTER, the poll
	 * thread or a worker): each has its CQE's slot reserved, raised only
	 * under ring_lock.  Each is posted under @cq_lock and only then its
	 * count dropped (release), so a submitter reading the count (acquire)
	 * and then the tail never counts a slot free that is not.
	 */
	spinlock_t		cq_lock;
	atomic_t		inflight;
	u32			max_inflight;	/* SETUP's bound */

	/*
	 * policy: filters newest first, pushed under @lock and published with
	 * a store-release, read without a lock by ops (freed only at
	 * release); denials and bad verdicts
	 */
	struct capchan_filter_node *filters;
	unsigned int		nr_filters;
	atomic_long_t		policy_denied;
	atomic_long_t		policy_bad_verdicts;
	atomic_long_t		filter_denied;

	/*
	 * a chain run op by op (it goes on past what one ENTER consumes, so
	 * it spans ENTER calls: ring.c); ring_lock.  While an op of it runs
	 * (worker.c: it follows that op), only in_link is kept here; the rest
	 * is the op's runner's until it gives it back.
	 */
	struct capchan_chain	chain;
	/* a long chain's copies, kept for the next (ring.c); xchg/cmpxchg */
	struct capchan_sqe	*chain_spare;

	/* the poll thread (sqpoll.c): set before ring_ready, NULL without */
	struct capchan_sqpoll	*sqpoll;
	/* with one: the SETUP caller's namespace, for STAT (capchan_req_ns()) */
	struct user_namespace	*submit_ns;

	/* the workers (worker.c) */
	struct capchan_workers	*workers;
};

int capchan_ring_setup(struct capchan_ctx *ctx, struct capchan_params *p);
void capchan_ring_free(struct capchan_ctx *ctx);
int capchan_ring_mmap(struct capchan_ctx *ctx, struct vm_area_struct *vma);
long capchan_ring_enter(struct capchan_ctx *ctx, const struct capchan_enter *e);
u32 capchan_cq_pending(struct capchan_ctx *ctx);
long capchan_ring_submit(struct capchan_ctx *ctx, u32 to_submit, bool *cut);
bool capchan_sq_pending(struct capchan_ctx *ctx);
void capchan_post_cqe_locked(struct capchan_ctx *ctx, u64 user_data, long res);

/* ---- poll thread (sqpoll.c) ---------------------------------------------- */
struct seq_file;
int capchan_sqpoll_check(const struct capchan_params *p);
int capchan_sqpoll_create(struct capchan_ctx *ctx, const struct capchan_params *p);
void capchan_sqpoll_start(struct capchan_ctx *ctx);
void capchan_sqpoll_destroy(struct capchan_ctx *ctx);
int capchan_sqpoll_enter(struct capchan_ctx *ctx, u32 flags);
void capchan_sqpoll_show_fdinfo(struct capchan_ctx *ctx, struct seq_file *m);
struct pid *capchan_sqpoll_owner(struct capchan_ctx *ctx);

/* ---- ops (op_table.c and op_*.c) ---------------------------------------- */

/* One request: the kernel copy of an SQE plus what validation resolved. */
struct capchan_req {
	struct capchan_sqe	sqe;
	/* a user reference of the request's own (capchan_table_get()) */
	struct capchan_cap	*cap;
	/* ops with a path at addr: copied once, seen by policy and the op */
	char			*path;
	/* RENAME's target DIR (referenced, entered) and new path, likewise */
	struct capchan_cap	*cap2;
	char			*path2;
	u64			t0;		/* start, while op_done is traced */
	/*
	 * From the rings: an op that would block may stop before or in its
	 * issue step and return -EIOCBQUEUED, still holding what it took,
	 * for a worker to finish (capchan_execute_finish()).
	 */
	bool			may_punt;
	bool			entered;	/* holds capchan_cap_enter(cap) */
	u32			done;		/* bytes done before it was punted */
	/* in a worker: the submitter's namespace (capchan_req_ns()) */
	struct user_namespace	*caller_ns;
};

/* Where ids are shown: the caller's namespace, a worker's submitter's. */
static inline struct user_namespace *
capchan_req_ns(const struct capchan_req *req)
{
	return req->caller_ns ?: current_real_cred()->user_ns;
}

/*
 * Before a request reaches capchan_execute(): nothing borrowed yet, which
 * tracing programs attached to it may look at.  Every field but the SQE,
 * which the caller copies in: hot callers declare their request
 * __uninitialized, sparing the kernel's zeroing of it (INIT_STACK_ALL_ZERO)
 * on every op.
 */
static inline void capchan_req_init(struct capchan_req *req)
{
	req->cap = NULL;
	req->path = NULL;
	req->cap2 = NULL;
	req->path2 = NULL;
	req->t0 = 0;
	req->may_punt = false;
	req->entered = false;
	req->done = 0;
	req->caller_ns = NULL;
}

/* A channel's classic BPF filter; the list only ever grows. */
struct capchan_filter_node {
	struct bpf_prog			*prog;
	struct capchan_filter_node	*older;
};

/*
 * -DCAPCHAN_NO_POLICY compiles the hooks out, only so bench/policy.sh can
 * show what they cost with nothing attached.
 */
int capchan_policy(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_policy_since(struct capchan_ctx *ctx, struct capchan_req *req,
			 const struct capchan_filter_node *seen);
/* on while any channel has a filter: no op elsewhere pays for a load */
DECLARE_STATIC_KEY_FALSE(capchan_filters_key);
long capchan_attach_filter(struct capchan_ctx *ctx, void __user *arg);
void capchan_free_filters(struct capchan_ctx *ctx);

struct capchan_op_def {
	const char	*name;
	u64		rights;		/* rights the capability must hold */
	u32		type;		/* 0: any, else the cap type required */
	bool		needs_cap;	/* sqe->handle names a capability */
	bool		on_revoked;	/* allowed on a revoked capability */
	bool		makes_handle;	/* result is a handle (chain source) */
	bool		wants_rights;	/* sqe->rights are rights asked for */
	bool		path;		/* sqe->addr is a path beneath the DIR */
	/*
	 * runs with the caller's credentials: it touches no file system
	 * object, and what it allocates (EXPORT's fd and file) is the
	 * caller's, under the caller's limits
	 */
	bool		caller_creds;
	/*
	 * Names file descriptors, which belong to whoever makes the call:
	 * only through INVOKE, where the caller wrote the SQE itself.  From
	 * the rings the SQE's author is unknown (-EOPNOTSUPP).
	 */
	bool		invoke_only;
	/* validate the op's own SQE fields; runs before the handle lookup */
	int		(*prep)(const struct capchan_sqe *sqe);
	/*
	 * optional: the op's own capability rules (rights asked for, modes),
	 * after the common checks and before the path copy and the policy,
	 * so a capability rule always decides first
	 */
	int		(*authorize)(struct capchan_ctx *ctx,
				     struct capchan_req *req);
	/* execute; no channel lock held */
	long		(*issue)(struct capchan_ctx *ctx, struct capchan_req *req);
};

extern const struct capchan_op_def capchan_ops[CAPCHAN_OP_LAST];

long capchan_execute(struct capchan_ctx *ctx, struct capchan_req *req,
		     u32 *chain_handle, bool from_ring);
long capchan_execute_finish(struct capchan_ctx *ctx, struct capchan_req *req,
			    u32 *chain_handle);
void capchan_execute_cancel(struct capchan_ctx *ctx, struct capchan_req *req,
			    long res);

/* ---- workers (worker.c) ------------------------------------------------- */
/*
 * What a chain run op by op follows while an op of it runs (worker.c): a
 * work, or the ENTER (or poll thread) running it, which takes at most
 * @max SQEs behind it.  Its later SQEs, consumed meanwhile, wait on @more.
 */
struct capchan_follow {
	struct list_head	more;	/* capchan_more; the workers' lock */
	u32			nr;	/* ever put on @more; the workers' lock */
	u32			max;	/* an ENTER's bound; a work's: U32_MAX */
	/*
	 * Who may follow: SQEs run as their runner (its address space,
	 * credentials, limits, umask), so only SQEs consumed by the same
	 * process with the same credentials and umask follow it.
	 */
	const struct signal_struct *signal;
	const struct cred	*cred;
	umode_t			umask;
};

int capchan_workers_init(struct capchan_ctx *ctx);
int capchan_workers_punt(struct capchan_ctx *ctx, struct capchan_req *req,
			 u32 chain_handle, const struct capchan_sqe *rest,
			 size_t rest_stride, u32 nr_rest,
			 struct capchan_follow *lead);

struct capchan_more;
int capchan_workers_following(struct capchan_ctx *ctx);
struct capchan_more *capchan_more_alloc(void);
void capchan_more_free(struct capchan_more *m);
bool capchan_workers_follow(struct capchan_ctx *ctx,
			    const struct capchan_sqe *sqe,
			    struct capchan_chain *c, struct capchan_more **m);
void capchan_workers_lead(struct capchan_ctx *ctx, struct capchan_follow *f,
			  u32 max);
u32 capchan_workers_unlead(struct capchan_ctx *ctx, struct capchan_follow *f,
			   struct capchan_chain *c, bool *released);
int capchan_workers_wait_room(struct capchan_ctx *ctx);
void capchan_workers_cancel_task(struct capchan_ctx *ctx);
void capchan_workers_destroy(struct capchan_ctx *ctx);
void capchan_workers_show_fdinfo(struct capchan_ctx *ctx, struct seq_file *m);
void capchan_sqe_copy(struct capchan_sqe *dst, const struct capchan_sqe *src);
u64 capchan_ops_enabled(void);

/* op families */
int capchan_prep_nop(const struct capchan_sqe *sqe);
long capchan_issue_nop(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_open(const struct capchan_sqe *sqe);
int capchan_authorize_open(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_authorize_rename(struct capchan_ctx *ctx, struct capchan_req *req);
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
int capchan_prep_readdir(const struct capchan_sqe *sqe);
long capchan_issue_readdir(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_statat(const struct capchan_sqe *sqe);
long capchan_issue_statat(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_mkdir(const struct capchan_sqe *sqe);
long capchan_issue_mkdir(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_remove(const struct capchan_sqe *sqe);
long capchan_issue_unlink(struct capchan_ctx *ctx, struct capchan_req *req);
long capchan_issue_rmdir(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_symlink(const struct capchan_sqe *sqe);
long capchan_issue_symlink(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_rename(const struct capchan_sqe *sqe);
long capchan_issue_rename(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_prep_truncate(const struct capchan_sqe *sqe);
long capchan_issue_truncate(struct capchan_ctx *ctx, struct capchan_req *req);
int capchan_ops_check(void);

/* STAT and STATAT (op_file.c) */
int capchan_stat_path(const struct path *p, struct capchan_stat __user *ust,
		      u32 cap_type, u64 rights, struct user_namespace *ns);

/* ctx->sealed: SEAL was called (the CAPCHAN_SEAL_* bits say what else) */
#define CAPCHAN_SEALED		BIT(31)

/* ---- resolution beneath a DIR (beneath.c) -------------------------------- */

/*
 * From the rings, may @req wait for the storage of the file system at @p?
 * Then an op that changes that file system, or reads what may not be
 * cached with no way to ask, goes to a worker before it starts (worker.c).
 * Memory file systems (the no-op backing device: tmpfs, proc, sysfs) have
 * no storage to wait for: their ops run inline.
 */
static inline bool capchan_storage_punt(const struct capchan_req *req,
					const struct path *p)
{
	return req->may_punt && p->mnt->mnt_sb->s_bdi != &noop_backing_dev_info;
}

/* every walk capchan makes: beneath the DIR, no magic links, no mounts */
#define CAPCHAN_SCOPED	(LOOKUP_BENEATH | LOOKUP_NO_MAGICLINKS | LOOKUP_NO_XDEV)

/* the idmapping argument of the VFS helpers: a user_namespace before 6.3 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define capchan_idmap(mnt)	mnt_idmap(mnt)
#else
#define capchan_idmap(mnt)	mnt_user_ns(mnt)
#endif

/* The directory a path's last component is in, resolved beneath a DIR. */
struct capchan_parent {
	struct path		path;		/* the directory */
	struct qstr		last;		/* the last component (in @name) */
	int			type;		/* LAST_NORM, LAST_DOT, LAST_DOTDOT */
	bool			slash;		/* a trailing slash after @last */
	bool			locked;		/* capchan_parent_lock() holds it */
	bool			rename_locked;	/* ... with the rename mutex */
	int			write_err;	/* mnt_want_write()'s answer */
	struct filename		*name;
};

int capchan_lookup_beneath(const struct path *root, const char *name,
			   unsigned int flags, struct path *out);
int capchan_lookup_beneath_req(const struct capchan_req *req,
			       const struct path *root, unsigned int flags,
			       struct path *out);
int capchan_parent_beneath(const struct path *root, const char *name,
			   struct capchan_parent *p);
void capchan_parent_put(struct capchan_parent *p);
bool capchan_parent_leaves(const struct path *root,
			   const struct capchan_parent *p);
int capchan_parent_lock(const struct path *root, struct capchan_parent *p,
			int *write_err);
void capchan_parent_unlock(struct capchan_parent *p);
struct dentry *capchan_parent_child(struct capchan_parent *p);
int capchan_parent_resolve_lock(const struct path *root, const char *name,
				struct capchan_parent *p, int *write_err,
				int dot_err, int dotdot_err);
char *capchan_path_copy(u64 addr);

/* ---- channel file (channel.c) -------------------------------------------- */
extern const struct file_operations capchan_chan_fops;

#endif /* CAPCHAN_INTERNAL_H */
