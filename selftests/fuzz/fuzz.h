/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz_test: randomized fuzzing of the whole channel ABI (main.c says
 * what each test does and what the oracles are).  One binary built from
 * the files of this folder:
 *
 *   main.c         the four TESTs, the worker each runs its body in,
 *                  the long mode (make fuzz), the run's summary
 *   fail.c         failure reports, usable from threads and children
 *   stats.c        what a run did: ioctls, SQEs by op and result, CQEs
 *   rng.c          seeds and the random number generator
 *   env.c          the world: a tree to grant, fds and memory of each kind
 *   arena.c        far from the rest: memory the module may write to
 *   outside.c      what lies outside the jail, recorded and re-checked
 *   chan.c         channels: open, rings, grants, handle pools, ioctl()
 *   fields.c       random pointers, buffers, rights and handles
 *   sqe.c          a random SQE: opcode, handle, flags, stray bits
 *   sqe_file.c     ... the fields of the file ops
 *   sqe_cap.c      ... of the capability ops
 *   sqe_dir.c      ... of OPEN and the directory ops (and their paths)
 *   errno.c        which errnos each op may return
 *   oracle.c       every result checked (and learnt from)
 *   fdinfo.c       /proc/self/fdinfo of a channel checked
 *   worker.c       worker processes and forked helpers under watchdogs
 *   ioctl_args.c   test 1: random ioctl numbers and argument buffers
 *   ioctls.c       test 1: mmap, poll, read, garbage rings, forks
 *   invoke.c       test 2: INVOKE, plus exact depth/table/REVOKE checks
 *   ring_model.c   test 3: the rings against a model, every CQE checked
 *   ring_tamper.c  test 3: scribbling on ring indices and slots
 *   rings.c        test 3: the body
 *   tworker.c      test 4: the worker threads on the shared channel fd
 *   closer.c       test 4: swapping the channel behind the fd
 *   renamer.c      test 4: files and directories moved across the DIR
 *   threads.c      test 4: the body
 *
 * Only main.c includes kselftest_harness.h (it defines global objects).
 */
#ifndef CAPCHAN_FUZZ_H
#define CAPCHAN_FUZZ_H

#include "capchan_test_util.h"
#include "kselftest.h"

#define FZ_DEFAULT_SEED		0xca9c4a2f0022ULL
#define FZ_SHARED_FD		900
#define FZ_MAX_RW		0x7ffff000L	/* MAX_RW_COUNT, 4 KiB pages */
#define FZ_SCRATCH		(1u << 20)
#define FZ_PRIV			(64u << 10)
#define FZ_NONE			(64u << 10)
#define FZ_NPATHS		64
#define FZ_POOL			32
#define FZ_CAPFDS		16
#define FZ_UD_MAGIC		0xf22cULL
#define FZ_NOUT			16
#define FZ_NCOOKIES		16
#define FZ_ENTER_CUT		32	/* ops an ENTER runs after a close */

#define FZ_FEATURES	(CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK | \
			 CAPCHAN_FEAT_CHAIN_HANDLE | CAPCHAN_FEAT_DIRECT_INVOKE | \
			 CAPCHAN_FEAT_NODROP | CAPCHAN_FEAT_POLL | \
			 CAPCHAN_FEAT_CAP_CREDS | CAPCHAN_FEAT_HOOK | \
			 CAPCHAN_FEAT_FILTER | CAPCHAN_FEAT_MMAP | \
			 CAPCHAN_FEAT_SQPOLL | CAPCHAN_FEAT_WORKERS)

/* ---- fail.c ------------------------------------------------------- */

extern atomic_int fz_nfail;

void __attribute__((format(printf, 3, 4)))
fz_fail_at(const char *file, int line, const char *fmt, ...);

#define FZ_FAIL(...)	fz_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define FZ_CHECK(c, fmt, ...) do { \
	if (!(c)) \
		FZ_FAIL("!(%s) " fmt, #c, ##__VA_ARGS__); \
} while (0)

/* ---- stats.c ------------------------------------------------------ */

enum fz_ioc_kind {
	FZ_IOC_VERSION, FZ_IOC_SETUP, FZ_IOC_GRANT, FZ_IOC_SEAL, FZ_IOC_ENTER,
	FZ_IOC_INVOKE, FZ_IOC_FILTER, FZ_IOC_OTHER, FZ_NIOC
};

enum fz_cqe_kind {
	FZ_CQE_POSTED,		/* matched to its SQE by the ring model */
	FZ_CQE_REAPED,		/* unchanged when the model reaps it */
	FZ_CQE_THREADS,		/* reaped by a worker thread (loose checks) */
	FZ_NCQE
};

/* Result classes: [0] success, [e] -e, [FZ_NCLASS - 1] anything else. */
#define FZ_NCLASS	160

/* One test's counts, in memory shared by all its processes. */
struct fz_counts {
	uint64_t ioctls;			/* ioctl() calls on channel fds */
	uint64_t ioctl[FZ_NIOC];		/* ... by command */
	uint64_t sqes;				/* SQEs submitted: sqe[][] + blind */
	uint64_t sqe[CAPCHAN_OP_LAST + 1][FZ_NCLASS];	/* by opcode, result */
	uint64_t blind;				/* consumed, result not followed */
	uint64_t cqe[FZ_NCQE];
};

/* Long runs: a test stops at its goal (0: none) or its time, which first. */
struct fz_goal {
	uint64_t ioctls, sqes;
};

extern struct fz_counts *fz_cnt;	/* the running test's block */
extern struct fz_goal fz_goal;		/* the running test's goal */

struct fz_counts *fz_counts_map(unsigned int n);
void fz_count_ioctl(unsigned long cmd);
void fz_count_sqe(const struct capchan_sqe *s, long res);
void fz_count_blind(long consumed);
void fz_count_cqes(enum fz_cqe_kind kind, uint64_t n);
bool fz_going(double end);
void fz_counts_add(struct fz_counts *sum, const struct fz_counts *c);
void fz_print_stats(const char *name, const struct fz_counts *c, double secs);
void fz_print_summary(const struct fz_counts *c);

/* ---- rng.c -------------------------------------------------------- */

struct fz_rng {
	uint64_t s;
};

void fz_srand(struct fz_rng *r, uint64_t seed);
uint64_t fz_r64(struct fz_rng *r);
uint32_t fz_rn(struct fz_rng *r, uint32_t n);	/* 0..n-1 (0 if n is 0) */
bool fz_pct(struct fz_rng *r, unsigned int p);	/* true p% of the time */
void fz_bytes(struct fz_rng *r, void *p, size_t n);
uint64_t fz_base_seed(void);
void fz_set_base_seed(uint64_t seed);
uint64_t fz_test_seed(const char *name);

/* ---- env.c, outside.c --------------------------------------------- */

/*
 *   <base>/secret, <base>/out/{secret2,secret3}   never beneath the DIR
 *   <base>/jail/                                  the DIR (cc_tree + ...)
 *     ln_in -> hello   ln_up -> ../secret   ln_abs -> <base>/secret
 *     ln_root -> /     ln_loop -> ln_loop   ln_dir -> sub
 *     ln_dotdot -> sub/../..   ln_proc -> /proc/self/root
 *     sub/ln_back -> ../hello  sub/ln_esc -> ../../secret
 *     fifo, null (char 1:3), mnt/ (a small tmpfs) with x, mv/x, mvd/
 */
struct fz_env {
	struct cc_tree t;
	char out[PATH_MAX + 16];
	char mnt[PATH_MAX + 16];
	int out_fd;
	bool mounted;
	int file_rw, file_ro, file_wo, sub_fd, null_fd, opath_fd, sock_fd;
	int pipe_fd[2];
	int proc_fd;			/* /proc/self of the worker */
	struct {
		uint64_t dev, ino;
		bool wanders;	/* visits a directory that was in the DIR */
	} bad[8];
	int nbad;
	dev_t jail_dev;
	/* everything outside the jail at setup, checked after each test */
	struct fz_out {
		char path[64];
		uint64_t ino, size, hash;
		uint32_t mode;
		bool wanders;	/* the renamer takes it into mvd */
	} outside[FZ_NOUT];
	int noutside;
	char *scratch;			/* FZ_SCRATCH bytes, then the guard page */
	char *guard;			/* PROT_NONE */
	char *ro;			/* one PROT_READ page of zeros */
	char *none;			/* FZ_NONE bytes of PROT_NONE */
	char *priv;			/* FZ_PRIV bytes: ioctl arguments */
	char *longpath;			/* PATH_MAX + 16 'a's: -ENAMETOOLONG */
	unsigned int max_caps, max_depth;
	uint64_t disabled_ops;
};

int fz_env_init(struct fz_env *e);
void *fz_arena_alloc(size_t len, int prot);	/* arena.c */
void fz_arena_free(void *p, size_t len);
void fz_env_destroy(struct fz_env *e);
int fz_outside_record(struct fz_env *e);
int fz_outside_check(struct fz_env *e, bool threads);

/* ---- chan.c ------------------------------------------------------- */

struct fz_pool {
	uint32_t h[FZ_POOL];
	uint64_t rights[FZ_POOL];
	uint8_t type[FZ_POOL];		/* CAPCHAN_CAP_*, 0: unknown */
	unsigned int n, next;
};

struct fz_chan {
	int fd;
	bool rings, sealed, mapped;
	struct capchan_params p;	/* as returned by SETUP (rings) */
	char *map;
	size_t map_len;
	uint32_t *sq_head, *sq_tail, *cq_head, *cq_tail;
	uint32_t *words[7];		/* masks, entries, flags, dropped, overflow */
	struct capchan_sqe *sqes;
	struct capchan_cqe *cqes;
	uint32_t sqn, cqn;
	struct fz_pool pool;
	uint32_t roots[8];
	uint64_t root_rights[8];
	uint8_t root_type[8];
	bool root_jail[8];		/* a DIR on the jail or on jail/sub */
	unsigned int nroots;
};

/* Per-thread (or per-process) fuzzing state. */
struct fz_w {
	struct fz_env *env;
	struct fz_rng r;
	struct fz_chan *c;		/* channel handles are picked from */
	char (*paths)[256];
	unsigned int path_next;
	bool ring_addrs;		/* buffers may point into c's ring */
	bool threads;			/* results may be racy (shared fd swaps) */
	uint64_t cookies[FZ_NCOOKIES];	/* READDIR cookies seen, for later READDIRs */
	unsigned int ncookies;
};

/* EXPORT results kept for IMPORT; owned (closed on eviction) unless threads. */
extern pthread_mutex_t fz_capfd_lock;
extern bool fz_capfds_owned;
void fz_capfd_add(int fd);
int fz_capfd_pick(struct fz_rng *r);
void fz_capfd_close_all(void);

/* ioctl() as -errno, counted; INVOKE, GRANT and ENTER through it */
long fz_ioctl(int fd, unsigned long cmd, void *arg);
long fz_invoke(int fd, const struct capchan_sqe *s);	/* counts the SQE too */
long fz_grant(int chfd, int fd, uint64_t rights, uint32_t *type);
long fz_enter(int fd, uint32_t to_submit, uint32_t min_complete, uint32_t flags);
bool fz_handle_ok(long h);
void fz_pool_add(struct fz_chan *c, uint32_t h, uint64_t rights,
		 unsigned int type, bool close_evicted);
void fz_check_params(const struct capchan_params *in,
		     const struct capchan_params *p);
int fz_chan_map(struct fz_chan *c);
int fz_chan_open(struct fz_chan *c, struct fz_env *e, struct fz_rng *r,
		 bool rings, bool grants);
void fz_chan_close(struct fz_chan *c);

/* ---- fields.c, sqe*.c --------------------------------------------- */

/* A user pointer for an object of @len bytes, and what kind it is. */
enum fz_ptr_kind { FZP_OK, FZP_RO, FZP_BAD };

uint64_t fz_kaddr(struct fz_rng *r);
uint64_t fz_objptr(struct fz_w *w, size_t len, enum fz_ptr_kind *kind);
uint64_t fz_buf(struct fz_w *w, uint32_t *len, bool write);
uint64_t fz_rights(struct fz_w *w);
uint32_t fz_handle(struct fz_w *w);
bool fz_typed_handle(struct fz_w *w, unsigned int type, uint32_t *h,
		     uint64_t *rights);
uint64_t fz_subset(struct fz_w *w, uint64_t have);
uint64_t fz_path(struct fz_w *w);

void fz_gen_sqe(struct fz_w *w, struct capchan_sqe *s);
/* The op-specific fields of s->opcode's family; false if not of it. */
bool fz_sqe_file(struct fz_w *w, struct capchan_sqe *s);
bool fz_sqe_cap(struct fz_w *w, struct capchan_sqe *s, uint64_t have_rights);
bool fz_sqe_dir(struct fz_w *w, struct capchan_sqe *s, uint64_t have_rights);

/* ---- errno.c, oracle.c, fdinfo.c ---------------------------------- */

#define FZ_M_INVOKE	(1u << 0)	/* result of INVOKE, not a CQE */
#define FZ_M_CANCEL	(1u << 1)	/* the chain failed earlier: -ECANCELED */
#define FZ_M_CHAIN0	(1u << 2)	/* no handle made earlier in this chain */
#define FZ_M_THREADS	(1u << 3)	/* the fd may be gone (concurrent close) */

bool fz_errno_ok(unsigned int op, int e);
const char *fz_s(const struct capchan_sqe *s);
void fz_check_res(struct fz_w *w, struct fz_chan *c,
		  const struct capchan_sqe *s, long res, unsigned int mode);
void fz_invoke_one(struct fz_w *w, struct fz_chan *c, int fd);
void fz_fdinfo_check(struct fz_w *w, struct fz_chan *c, int fd, bool exact);

/* ---- worker.c ----------------------------------------------------- */

void fz_worker_init(void);
void fz_arm(unsigned int ms);
void fz_disarm(void);
void fz_sleep_ms(double ms);
int fz_wait_worker(pid_t pid, double deadline, const char *name);
void fz_w_init(struct fz_w *w, struct fz_env *e, uint64_t seed);
void fz_w_free(struct fz_w *w);
pid_t fz_fork_helper(void (*fn)(struct fz_w *w, void *arg, double end),
		     struct fz_w *parent, void *arg, double ms);
void fz_reap_helpers(pid_t *kids, int *nkids, double deadline);

/* ---- the tests' bodies -------------------------------------------- */

typedef void (*fz_body_fn)(struct fz_env *e, uint64_t seed, double end);

void fz_random_ioctl(struct fz_w *w, struct fz_chan *c);	/* ioctl_args.c */
void fz_body_ioctls(struct fz_env *e, uint64_t seed, double end);
void fz_body_invoke(struct fz_env *e, uint64_t seed, double end);

/* test 3: what the module's private ring indices must be */
struct fz_exp {
	uint64_t user_data;
	int32_t res;
};

struct fz_model {
	struct fz_chan *c;
	uint32_t k_sq_head, k_cq_tail;	/* the module's private indices */
	bool sq_head_dirty, cq_tail_dirty;	/* we scribbled on its copies */
	uint32_t head;			/* CQEs we really consumed */
	bool cq_head_tampered;		/* *cq_head != head just now */
	bool in_link, link_failed;
	uint32_t chain_handle;
	struct capchan_sqe failed;	/* the SQE that failed the chain, */
	int32_t failed_res;		/* with its result (for messages) */
	struct fz_exp *exp;		/* cqn entries, indexed like the CQ */
	struct capchan_sqe *snap;	/* sqn entries */
	uint64_t consumed, reaped, lost, enters, ebusy, eintr, cuts;
};

void fz_model_push(struct fz_w *w, struct fz_model *m);
void fz_model_enter(struct fz_w *w, struct fz_model *m);
void fz_model_restore_head(struct fz_model *m);
void fz_model_reap(struct fz_w *w, struct fz_model *m);
void fz_model_tamper(struct fz_w *w, struct fz_model *m);
void fz_body_rings(struct fz_env *e, uint64_t seed, double end);

/* test 4: what its threads share */
#define FZ_NWORKERS	3
#define FZ_MAX_CHANS	160

struct fz_shared {
	struct fz_env *env;
	uint64_t seed;
	atomic_int stop;		/* 1: workers stop, 2: the watchdog too */
	atomic_int cur;			/* index of the channel behind FZ_SHARED_FD */
	int nchans;
	struct fz_chan chans[FZ_MAX_CHANS];
	atomic_int in_wait[FZ_NWORKERS];
	pthread_t tid[FZ_NWORKERS];
	atomic_long stats[8];
	atomic_int nkids;
	pid_t kids[8];
	pthread_mutex_t kids_lock;
};

struct fz_targ {
	struct fz_shared *sh;
	int idx;
};

void *fz_tworker(void *arg);		/* struct fz_targ */
void *fz_tcloser(void *arg);		/* struct fz_shared */
void fz_sweep_capfds(void);
void *fz_trenamer(void *arg);		/* struct fz_shared */
void fz_body_threads(struct fz_env *e, uint64_t seed, double end);

#endif /* CAPCHAN_FUZZ_H */
