/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * capchan - capability channels for Linux.
 *
 * The one ABI header shared by the kernel module (module/) and user space
 * (libcapchan/, selftests/, examples/).  Installed as <linux/capchan.h>.
 *
 * Rules that let the ABI grow:
 *  - every struct has explicit reserved fields; the module rejects a
 *    non-zero reserved field, an unknown flag bit or an unknown opcode
 *    with -EINVAL;
 *  - sizes are fixed and checked with the ioctl number (_IOC_SIZE).
 */
#ifndef _UAPI_LINUX_CAPCHAN_H
#define _UAPI_LINUX_CAPCHAN_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define CAPCHAN_DEVICE		"/dev/capchan"
#define CAPCHAN_ABI_VERSION	2

/* ------------------------------------------------------------------ */
/* Rights: a 64-bit mask carried by every capability.                  */
/* Rights only ever shrink along a derivation path.                    */
/* ------------------------------------------------------------------ */
#define CAPCHAN_RIGHT_READ	(1ULL << 0)	/* READ op, PREFETCH */
#define CAPCHAN_RIGHT_WRITE	(1ULL << 1)	/* WRITE, TRUNCATE */
#define CAPCHAN_RIGHT_SEEK	(1ULL << 2)	/* explicit offsets on READ/WRITE */
#define CAPCHAN_RIGHT_STAT	(1ULL << 3)	/* STAT, STATAT beneath a DIR */
#define CAPCHAN_RIGHT_SYNC	(1ULL << 4)	/* FSYNC op */
#define CAPCHAN_RIGHT_MMAP	(1ULL << 5)	/* mmap(2) of a FILE's capability file */
#define CAPCHAN_RIGHT_LOOKUP	(1ULL << 6)	/* OPEN beneath a DIR */
#define CAPCHAN_RIGHT_CREATE	(1ULL << 7)	/* O_CREAT, MKDIR, SYMLINK, RENAME's target */
#define CAPCHAN_RIGHT_DERIVE	(1ULL << 8)	/* DERIVE attenuated copies */
#define CAPCHAN_RIGHT_DELEGATE	(1ULL << 9)	/* EXPORT as a capability file */
#define CAPCHAN_RIGHT_REVOKE	(1ULL << 10)	/* REVOKE what was derived */
#define CAPCHAN_RIGHT_LIST	(1ULL << 11)	/* READDIR */
#define CAPCHAN_RIGHT_REMOVE	(1ULL << 12)	/* UNLINK, RMDIR, RENAME's source */
#define CAPCHAN_RIGHTS_ALL	((1ULL << 13) - 1)

/* Capability types (capchan_stat.cap_type, GRANT's cap_type, fdinfo). */
enum capchan_cap_type {
	CAPCHAN_CAP_DIR		= 1,
	CAPCHAN_CAP_FILE	= 2,
};

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */
/*
 * A handle names a capability in one channel: an opaque number in
 * 1..CAPCHAN_HANDLE_MAX (bit 31 is always clear, so a handle fits a
 * non-negative CQE result).  A stale or guessed handle fails with -EBADF.
 * Handles are issued from a per-channel counter that runs through the
 * whole 31-bit space before it comes back, skipping values still in use:
 * a closed handle's value is issued again only after at least 2^29 more
 * handles were created in that channel (2^31 - 2 when few are open at a
 * time), so a stale handle never names a newer capability before then,
 * and a channel can create handles forever.  Handle 0 is never valid.
 */
#define CAPCHAN_HANDLE_MAX		0x7fffffffU

/*
 * In a linked chain (CAPCHAN_SQE_LINK), an SQE whose handle is
 * CAPCHAN_HANDLE_CHAIN acts on the handle created by the latest
 * OPEN/DERIVE/IMPORT earlier in the same chain.  This is how
 * open+read+close runs in one submission with no round trip.
 */
#define CAPCHAN_HANDLE_CHAIN		0xffffffffU

/* ------------------------------------------------------------------ */
/* Submission and completion queue entries                             */
/* ------------------------------------------------------------------ */
enum capchan_op {
	CAPCHAN_OP_NOP		= 0,
	CAPCHAN_OP_OPEN		= 1,
	CAPCHAN_OP_READ		= 2,
	CAPCHAN_OP_WRITE	= 3,
	CAPCHAN_OP_FSYNC	= 4,
	CAPCHAN_OP_STAT		= 5,
	CAPCHAN_OP_DERIVE	= 6,
	CAPCHAN_OP_REVOKE	= 7,
	CAPCHAN_OP_CLOSE	= 8,
	CAPCHAN_OP_EXPORT	= 9,
	CAPCHAN_OP_IMPORT	= 10,
	CAPCHAN_OP_PREFETCH	= 11,
	CAPCHAN_OP_READDIR	= 12,
	CAPCHAN_OP_STATAT	= 13,
	CAPCHAN_OP_MKDIR	= 14,
	CAPCHAN_OP_UNLINK	= 15,
	CAPCHAN_OP_RMDIR	= 16,
	CAPCHAN_OP_SYMLINK	= 17,
	CAPCHAN_OP_RENAME	= 18,
	CAPCHAN_OP_TRUNCATE	= 19,
	CAPCHAN_OP_LAST,
};

/* sqe->flags */
#define CAPCHAN_SQE_LINK	(1U << 0)	/* next SQE runs only if this one succeeds */
/*
 * Run this op in one of the channel's workers without trying it inline
 * first (rings only; -EINVAL through INVOKE).  For ops the application
 * knows will block: "Workers and completion order" below.
 */
#define CAPCHAN_SQE_ASYNC	(1U << 1)
#define CAPCHAN_SQE_FLAGS_ALL	(CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC)

/*
 * sqe->op_flags for OPEN: open(2)'s O_CREAT, O_EXCL, O_TRUNC, O_APPEND,
 * O_DIRECTORY, O_NOFOLLOW and O_NONBLOCK; any other bit is -EINVAL.  The
 * access mode comes from the rights asked for (READ, WRITE), never from
 * the flags; O_LARGEFILE and O_NOCTTY are implied.  A lease that would
 * have to be broken fails the OPEN with -EAGAIN rather than waiting.
 */

/* sqe->op_flags for FSYNC */
#define CAPCHAN_FSYNC_DATASYNC	(1U << 0)

/* sqe->op_flags for STATAT: do not follow a final symbolic link */
#define CAPCHAN_STATAT_NOFOLLOW	(1U << 0)

/* sqe->op_flags for RENAME: the values of renameat2(2)'s flags */
#define CAPCHAN_RENAME_NOREPLACE	(1U << 0)	/* RENAME_NOREPLACE */
#define CAPCHAN_RENAME_EXCHANGE		(1U << 1)	/* RENAME_EXCHANGE */

/* Offset value meaning "use and advance the file position". */
#define CAPCHAN_OFF_CURRENT	((__u64)-1)

/*
 * One operation.  64 bytes.  Field use per opcode:
 *
 *   op        handle   off/addr2     addr          len      op_flags  rights
 *   NOP       -        -             -             -        -         -
 *   OPEN      DIR      mode          path (NUL)    -        O_* bits  wanted
 *             (mode: creation mode with O_CREAT, else 0)
 *   READ      FILE     offset|-1     buffer        bytes    -         -
 *   WRITE     FILE     offset|-1     buffer        bytes    -         -
 *   FSYNC     FILE     -             -             -        DATASYNC  -
 *   STAT      any      -             capchan_stat  sizeof   -         -
 *   DERIVE    any      -             -             -        -         wanted
 *   REVOKE    any      -             -             -        -         -
 *   CLOSE     any      -             -             -        -         -
 *   EXPORT    any      -             -             -        -         wanted
 *   IMPORT    -        cap fd        -             -        -         -
 *   PREFETCH  FILE     offset        -             bytes    -         -
 *   READDIR   DIR      cookie        buffer        bytes    -         -
 *   STATAT    DIR      capchan_stat  path (NUL)    sizeof   NOFOLLOW  -
 *   MKDIR     DIR      mode          path (NUL)    -        -         -
 *   UNLINK    DIR      -             path (NUL)    -        -         -
 *   RMDIR     DIR      -             path (NUL)    -        -         -
 *   SYMLINK   DIR      link text     path (NUL)    -        -         -
 *   RENAME    DIR      new path      old path      new DIR  RENAME_*  -
 *   TRUNCATE  FILE     length        -             -        -         -
 *
 * Fields marked "-" must be zero.  OPEN, DERIVE, IMPORT complete with the
 * new handle; EXPORT with the new capability file descriptor; READDIR with
 * the bytes of records written (0: no more entries); the other new ops
 * with 0.  Every path is resolved beneath its DIR as OPEN's is.  RENAME's
 * len holds the handle of the target DIR (the source's own handle for a
 * rename within one DIR).
 */
struct capchan_sqe {
	__u8	opcode;
	__u8	flags;
	__u16	resv0;
	__u32	handle;
	union {
		__u64	off;
		__u64	addr2;	/* a second pointer, for ops that need one */
	};
	__u64	addr;
	__u32	len;
	__u32	op_flags;
	__u64	rights;
	__u64	user_data;
	__u64	resv1;
	__u64	resv2;
};

struct capchan_cqe {
	__u64	user_data;	/* echoed from the SQE */
	__s32	res;		/* >= 0 result, or -errno */
	__u32	flags;		/* none defined yet: 0 */
};

/*
 * READDIR fills its buffer with records, each at an 8-byte aligned offset:
 * a header, the name and a NUL, padded to reclen.  "." and ".." are never
 * listed.  To go on after any record, READDIR again with off = its next.
 * A buffer too small for the first record to come is -EINVAL.
 */
struct capchan_dirent {
	__u64	ino;
	__u64	next;		/* cookie: READDIR from here goes on after this entry */
	__u16	reclen;		/* size of this record, a multiple of 8 */
	__u16	namelen;	/* bytes of name, without the NUL */
	__u8	type;		/* DT_* of dirent.h; DT_UNKNOWN if the fs does not say */
	__u8	resv[3];
	char	name[];		/* namelen bytes, then a NUL */
};

/* Filled by OP_STAT and OP_STATAT.  Fixed layout, independent of libc's. */
struct capchan_stat {
	__u64	dev;
	__u64	ino;
	__u64	size;
	__u64	blocks;		/* 512-byte units */
	__s64	atime_ns;	/* since the epoch; negative before 1970 */
	__s64	mtime_ns;
	__s64	ctime_ns;
	__u64	rdev;
	__u32	mode;
	__u32	nlink;
	__u32	uid;
	__u32	gid;
	__u32	blksize;
	__u32	cap_type;	/* enum capchan_cap_type */
	__u64	rights;		/* rights of the capability stat'ed */
	__u64	resv[2];
};

/* ------------------------------------------------------------------ */
/* Rings                                                               */
/* ------------------------------------------------------------------ */
/*
 * One mapping at CAPCHAN_OFF_RINGS (mmap offset 0) holds, at the offsets
 * reported by CAPCHAN_IOC_SETUP: the SQ head/tail, the CQ head/tail (each on
 * its own cache line), the ring masks and sizes, the SQE array and the CQE
 * array.  Counters are free-running u32; index = counter & mask.
 * The application owns SQ tail and CQ head; the module owns SQ head and CQ
 * tail and never trusts values it did not write.
 */
#define CAPCHAN_OFF_RINGS	0ULL

struct capchan_sq_offsets {
	__u32	head;
	__u32	tail;
	__u32	ring_mask;
	__u32	ring_entries;
	__u32	flags;
	__u32	dropped;	/* always 0: there is no index array to get wrong */
	__u32	sqes;		/* the SQE array */
	__u32	resv;
};

struct capchan_cq_offsets {
	__u32	head;
	__u32	tail;
	__u32	ring_mask;
	__u32	ring_entries;
	__u32	overflow;	/* always 0: the module never drops a CQE */
	__u32	cqes;		/* the CQE array */
	__u32	resv[2];
};

/* params->flags */
#define CAPCHAN_SETUP_CQSIZE	(1U << 0)	/* cq_entries is given */
/* a kernel thread of the channel consumes the SQ: see "Poll thread" below */
#define CAPCHAN_SETUP_SQPOLL	(1U << 1)
/* with SQPOLL: the thread runs on CPU sq_thread_cpu only */
#define CAPCHAN_SETUP_SQ_AFF	(1U << 2)
/* max_inflight is given: see "Workers and completion order" below */
#define CAPCHAN_SETUP_INFLIGHT	(1U << 3)
#define CAPCHAN_SETUP_FLAGS_ALL	(CAPCHAN_SETUP_CQSIZE | CAPCHAN_SETUP_SQPOLL | \
				 CAPCHAN_SETUP_SQ_AFF | CAPCHAN_SETUP_INFLIGHT)

#define CAPCHAN_MAX_SQ_ENTRIES	4096
#define CAPCHAN_MAX_CQ_ENTRIES	(2 * CAPCHAN_MAX_SQ_ENTRIES)

struct capchan_params {
	__u32	sq_entries;	/* in: wanted (rounded up to 2^n); out */
	__u32	cq_entries;	/* in with SETUP_CQSIZE (>= sq); out (default 2*sq) */
	__u32	flags;
	__u32	features;	/* out: CAPCHAN_FEAT_* */
	__u32	ring_size;	/* out: bytes to mmap at CAPCHAN_OFF_RINGS */
	__u32	sq_thread_cpu;	/* in with SQ_AFF: the poll thread's CPU; else 0 */
	__u32	sq_thread_idle;	/* in with SQPOLL: ms before it sleeps, 0: default */
	__u32	max_inflight;	/* in with SETUP_INFLIGHT; out: the bound in force */
	struct capchan_sq_offsets sq_off;	/* out */
	struct capchan_cq_offsets cq_off;	/* out */
};

/*
 * Poll thread (CAPCHAN_SETUP_SQPOLL).  A kernel thread of the channel
 * consumes the SQ as ENTER would, so submitting costs no system call while
 * it is awake.  After sq_thread_idle ms with nothing to do it sets
 * CAPCHAN_SQ_NEED_WAKEUP in the SQ flags word (sq_off.flags) and sleeps.
 * A submitter publishes the SQ tail (store-release), then issues a full
 * barrier, then reads the flags word; only if NEED_WAKEUP is set does it
 * call ENTER with CAPCHAN_ENTER_SQ_WAKEUP.  The thread sets the flag, issues
 * a full barrier and looks at the SQ tail once more before it sleeps, so
 * one of the two always sees the other's store: no SQE is left behind.
 *
 * sq_thread_idle: 0 means CAPCHAN_SQ_THREAD_IDLE_DEFAULT; more than
 * CAPCHAN_SQ_THREAD_IDLE_MAX is -EINVAL.  sq_thread_cpu (with SQ_AFF) must
 * be an online CPU the caller may run on (-EINVAL).  SQ_AFF without SQPOLL,
 * or a non-zero sq_thread_cpu or sq_thread_idle without the flag that uses
 * it, is -EINVAL.  The thread reads and writes buffers in the address space
 * of the process that called SETUP, with that caller's credentials, rlimits
 * and memory cgroup; once that address space is gone (the process exited or
 * called execve) the thread consumes nothing more and ENTER fails with
 * -EOWNERDEAD.  Each user has at most the module parameter max_user_sqpoll
 * poll threads (default 4); SETUP beyond that fails with -EAGAIN.
 * On an SQPOLL channel ENTER never consumes SQEs itself: to_submit is
 * ignored and it returns 0 (or waits, with GETEVENTS).
 */
/*
 * Workers and completion order.  An op from the rings that would block is
 * handed to a worker of the channel (kernel threads, at most the module
 * parameter max_workers per channel, gone after a few idle seconds) and
 * the ENTER or poll thread goes on with the next SQE, so CQEs may arrive
 * in any order: user_data says which op each belongs to.  What would
 * block: a READ the file can tell (FMODE_NOWAIT: a page-cache miss on a
 * disk file system, an empty pipe) is tried with IOCB_NOWAIT first; an
 * FSYNC of a file whose fsync does real work; any op with
 * CAPCHAN_SQE_ASYNC; and on a file system with storage (not tmpfs, proc
 * or sysfs, which have none to wait for): an OPEN or STATAT whose path
 * is not all in the dentry cache (walked with LOOKUP_CACHED first), every
 * op that changes the file system (OPEN with O_CREAT or O_TRUNC, MKDIR,
 * SYMLINK, UNLINK, RMDIR, RENAME, TRUNCATE) and READDIR.  A positioned
 * WRITE is tried with IOCB_NOWAIT where the file system can be asked
 * (direct I/O; buffered writes where it takes them) and goes on in a
 * worker if it would wait; where it cannot be asked (buffered writes to
 * ext4) it goes to a worker whole, on storage, as io_uring's do.  I/O at
 * the file position runs inline.  A linked chain stays in
 * order: from its first op that goes to a worker, the rest of the chain
 * runs in that worker, one op after the other.  That holds for any chain:
 * one longer than 32 SQEs, or one that goes on past what an ENTER
 * consumes, runs a few SQEs at a time (those at the SQ head, at most 8),
 * each part without the ring lock, and while an op of it runs (in an
 * ENTER, the poll thread or a worker) each later SQE of the chain
 * consumed meanwhile is queued behind that op, to run after it where it
 * runs (an ENTER hands what queued behind its ops to a worker once they
 * are done, or runs it itself when no worker can be made);
 * when nothing is queued the chain goes on where its next SQE is
 * consumed, with the handle CAPCHAN_HANDLE_CHAIN names and its failure
 * carried over.  Queued SQEs run as that op's submitter, so only SQEs
 * consumed by the same process with the same credentials and umask are
 * queued behind it, and behind an ENTER at most what its closing bound
 * leaves after its own (31 at most); any other ENTER waits (killable) until the op is
 * done, as it would behind a full CQ, or returns what it consumed.  If an
 * SQE that would be queued finds no memory, ENTER consumes nothing more
 * and returns what it consumed, or -ENOMEM for none.
 *
 * Everything an op was checked against (handle, rights, policy, filters)
 * is decided before it leaves the submitter, with the submitter's
 * credentials; when a worker starts it, a capability revoked meanwhile
 * refuses it (-EKEYREVOKED: no op starts after the REVOKE that forbids it
 * returned) and filters attached meanwhile are asked too.  The worker
 * runs it in the submitter's address space (a buffer unmapped meanwhile:
 * -EFAULT for that op only), with its rlimits, umask and memory cgroup,
 * and under the capability's credentials like every op.  Ops later in a
 * chain are checked in the worker, which reads as the submitter too,
 * except for the pid the policy hook sees and what "self" means beneath a
 * DIR on /proc (the worker's).
 *
 * max_inflight bounds the ops consumed and not yet completed: running in
 * an ENTER, the poll thread or a worker, or queued for one (their CQEs
 * have room reserved in the CQ).  Without SETUP_INFLIGHT it
 * is sq_entries; 0 or more than CAPCHAN_MAX_INFLIGHT is -EINVAL.  At the
 * bound, ENTER consumes no more SQEs (like a full CQ: fewer than asked,
 * or -EBUSY for none) until a CQE comes: backpressure, never a lost CQE.
 * Closing the channel, or the submitting process exiting (or closing the
 * channel in execve), interrupts its ops in workers: their CQEs say
 * -EINTR, the rest of their chains -ECANCELED.  Workers are made in the
 * cgroups of the process that needed them; a user's channels have at
 * most the module parameter max_user_workers of them, and at most the
 * submitter's RLIMIT_NPROC: at that bound a channel queues for the
 * workers it has, or runs the op inline when it has none.
 */
#define CAPCHAN_MAX_INFLIGHT	CAPCHAN_MAX_CQ_ENTRIES

#define CAPCHAN_SQ_NEED_WAKEUP		(1U << 0)	/* SQ flags word */
#define CAPCHAN_SQ_THREAD_IDLE_DEFAULT	1000		/* ms */
#define CAPCHAN_SQ_THREAD_IDLE_MAX	10000		/* ms */

/* Feature bits (CAPCHAN_IOC_VERSION and params->features). */
#define CAPCHAN_FEAT_RINGS		(1U << 0)
#define CAPCHAN_FEAT_LINK		(1U << 1)
#define CAPCHAN_FEAT_CHAIN_HANDLE	(1U << 2)
#define CAPCHAN_FEAT_DIRECT_INVOKE	(1U << 3)
#define CAPCHAN_FEAT_NODROP		(1U << 4)
#define CAPCHAN_FEAT_POLL		(1U << 5)
/* ops run with their capability's credentials; SEAL takes CAPCHAN_SEAL_* */
#define CAPCHAN_FEAT_CAP_CREDS		(1U << 6)
/* the writable tracepoint capchan_authorize and the audit tracepoints */
#define CAPCHAN_FEAT_HOOK		(1U << 7)
/* CAPCHAN_IOC_FILTER: per-channel classic BPF filters */
#define CAPCHAN_FEAT_FILTER		(1U << 8)
/* module BTF is loaded: kfuncs and fentry-able hook functions exist */
#define CAPCHAN_FEAT_BTF		(1U << 9)
/* mmap(2) of a FILE capability's capability file (CAPCHAN_RIGHT_MMAP) */
#define CAPCHAN_FEAT_MMAP		(1U << 10)
/* CAPCHAN_SETUP_SQPOLL, CAPCHAN_SETUP_SQ_AFF, CAPCHAN_ENTER_SQ_WAKEUP */
#define CAPCHAN_FEAT_SQPOLL		(1U << 11)
/* workers: out-of-order CQEs, CAPCHAN_SQE_ASYNC, CAPCHAN_SETUP_INFLIGHT */
#define CAPCHAN_FEAT_WORKERS		(1U << 12)

/* ------------------------------------------------------------------ */
/* Bootstrap ioctls ("emergency syscalls")                             */
/* ------------------------------------------------------------------ */
struct capchan_version {
	__u32	abi_version;	/* out: CAPCHAN_ABI_VERSION */
	__u32	features;	/* out: CAPCHAN_FEAT_* */
	__u64	ops;		/* out: bit n set = opcode n supported and enabled */
	__u64	rights;		/* out: CAPCHAN_RIGHTS_ALL of this module */
	__u32	max_sq_entries;	/* out */
	__u32	max_cq_entries;	/* out */
	__u32	max_caps;	/* out: capabilities per channel */
	__u32	max_depth;	/* out: derivation depth */
	__u64	resv[4];	/* in: must be zero */
};

struct capchan_grant {
	__s32	fd;		/* in: a file descriptor the caller holds */
	__u32	flags;		/* in: none defined, must be 0 */
	__u64	rights;		/* in: rights of the root capability */
	__u32	handle;		/* out */
	__u32	cap_type;	/* out: CAPCHAN_CAP_DIR or CAPCHAN_CAP_FILE */
	__u64	resv[2];	/* in: must be zero */
};

/* CAPCHAN_IOC_SEAL argument */
#define CAPCHAN_SEAL_IMPORT	(1U << 0)	/* refuse IMPORT too: a closed world */
#define CAPCHAN_SEAL_FLAGS_ALL	(CAPCHAN_SEAL_IMPORT)

/* CAPCHAN_IOC_ENTER flags */
#define CAPCHAN_ENTER_GETEVENTS	(1U << 0)	/* wait for min_complete CQEs */
/* wake the poll thread (SQPOLL channels only; elsewhere -EINVAL) */
#define CAPCHAN_ENTER_SQ_WAKEUP	(1U << 1)
#define CAPCHAN_ENTER_FLAGS_ALL	(CAPCHAN_ENTER_GETEVENTS | CAPCHAN_ENTER_SQ_WAKEUP)

struct capchan_enter {
	__u32	to_submit;	/* SQEs to consume from the SQ */
	__u32	min_complete;	/* with GETEVENTS: CQEs to wait for */
	__u32	flags;
	__u32	resv0;
	__u64	resv[2];
};

/* ------------------------------------------------------------------ */
/* Policy: the eBPF hook and per-channel filters                       */
/* ------------------------------------------------------------------ */
/*
 * The context of the writable tracepoint capchan_authorize (attach with
 * SEC("raw_tp.w/capchan_authorize"); the program's first argument points
 * to it).  It runs at the single authorization point every op passes,
 * after the capability, type and rights checks and before the op does
 * anything, ring or INVOKE alike.  A program may write @verdict: 0 lets the
 * op run, -errno (-4095..-1) denies it with that errno; anything else
 * denies it with -EPERM and is counted (fdinfo "policy-bad-verdicts").
 * Every other field is the module's and is not read back.
 */
#define CAPCHAN_HOOK_PATH_MAX	256

struct capchan_hook_ctx {
	__u32	op;		/* enum capchan_op */
	__u32	cap_type;	/* the capability's; 0 for NOP, IMPORT */
	__u64	rights;		/* rights the capability holds */
	__u64	rights_wanted;	/* OPEN, DERIVE, EXPORT: asked for; else 0 */
	__u32	handle;
	__u32	op_flags;	/* the SQE's: O_* for OPEN, RENAME_* ... */
	__u64	channel_id;	/* as fdinfo's channel-id */
	__u32	pid;		/* the caller's thread group */
	__u32	caller_uid;	/* the caller's real uid */
	__u32	owner_uid;	/* fsuid of the capability's credentials */
	__u32	path_len;	/* bytes in path, without the NUL; 0: none */
	__u64	off;		/* the SQE's off (offset, mode, cookie, ...) */
	__u64	len;		/* the SQE's len */
	__s32	verdict;	/* in: 0; out: 0 or -errno */
	__u32	role;		/* CAPCHAN_ROLE_* */
	/*
	 * OPEN and the directory ops: the path (the one the op will use), NUL
	 * terminated, cut at CAPCHAN_HOOK_PATH_MAX - 1 bytes
	 */
	char	path[CAPCHAN_HOOK_PATH_MAX];
};

/*
 * An op on two capabilities (RENAME) is presented twice, to the hook and to
 * the filters: first as the op on its own capability (role SUBJECT), then
 * on the target DIR (role TARGET: cap_type, rights, handle, owner_uid and
 * path are the target's and its new path).  Either may refuse it.
 */
#define CAPCHAN_ROLE_SUBJECT	0
#define CAPCHAN_ROLE_TARGET	1

/*
 * Per-channel classic BPF filters (CAPCHAN_IOC_FILTER), seccomp-style: no
 * privilege needed; they stack, and once attached a filter can never be
 * removed or loosened, survives SEAL and goes wherever the channel fd goes.
 * Each runs on every op of the channel, right after the eBPF hook, over
 * this data; a filter may load only aligned 32-bit words of it
 * (BPF_LD|BPF_W|BPF_ABS) and return CAPCHAN_FILTER_ALLOW or
 * CAPCHAN_FILTER_ERRNO(e) (1 <= e <= 4095).  Filters run newest first; the
 * first that does not allow decides.  Any other return value denies with
 * -EPERM.
 */
struct capchan_filter_data {
	__u32	op;
	__u32	cap_type;
	__u32	rights_lo;	/* rights the capability holds */
	__u32	rights_hi;
	__u32	wanted_lo;	/* OPEN, DERIVE, EXPORT: rights asked for */
	__u32	wanted_hi;
	__u32	op_flags;
	__u32	handle;
	__u32	off_lo;
	__u32	off_hi;
	__u32	len;
	__u32	role;		/* CAPCHAN_ROLE_*, as in the hook's context */
};

#define CAPCHAN_FILTER_ALLOW		0x7fff0000U
#define CAPCHAN_FILTER_ERRNO(e)		(0x00050000U | ((e) & 0xffffU))
#define CAPCHAN_FILTER_MAX_INSNS	1024	/* per filter */
#define CAPCHAN_FILTER_MAX		16	/* filters per channel */

struct capchan_filter {
	__u32	len;		/* instructions (struct sock_filter) */
	__u32	flags;		/* none defined: 0 */
	__u64	insns;		/* pointer to the struct sock_filter array */
	__u64	resv[2];
};

#define CAPCHAN_IOC_MAGIC	0xCA

/* Query ABI version, features, enabled opcodes, limits. */
#define CAPCHAN_IOC_VERSION	_IOWR(CAPCHAN_IOC_MAGIC, 0x00, struct capchan_version)
/* Create the rings (once per channel). */
#define CAPCHAN_IOC_SETUP	_IOWR(CAPCHAN_IOC_MAGIC, 0x01, struct capchan_params)
/* Turn an fd the caller holds into a root capability (before SEAL only). */
#define CAPCHAN_IOC_GRANT	_IOWR(CAPCHAN_IOC_MAGIC, 0x02, struct capchan_grant)
/*
 * Forbid any further GRANT: no new root authority enters the channel.  The
 * argument is a mask of CAPCHAN_SEAL_* flags (0: GRANT only).  Sealing again
 * may add flags, never remove them.
 */
#define CAPCHAN_IOC_SEAL	_IO(CAPCHAN_IOC_MAGIC, 0x03)
/*
 * Submit and/or wait.  Returns the number of SQEs consumed.  Many threads
 * may ENTER at once: SQEs are taken out of the ring a few at a time under
 * a short lock, their CQE slots reserved, and run with no channel lock,
 * so an op blocked in one ENTER holds up no other ENTER or INVOKE; an op
 * that would block goes to a worker ("Workers and completion order").  A
 * linked chain of up to 32 SQEs is consumed whole and runs the same way.
 * A longer one, or one that goes on past what this ENTER consumes
 * (to_submit, the SQ tail, or CQ or in-flight room end it early), runs
 * a few SQEs at a time (at most 8 consumed together, their CQEs posted
 * together), each part without the ring lock: the chain's next SQEs queue
 * behind the part that runs ("Workers and completion order").
 */
#define CAPCHAN_IOC_ENTER	_IOW(CAPCHAN_IOC_MAGIC, 0x04, struct capchan_enter)
/*
 * Direct invocation: run one SQE synchronously, return its result.  Any
 * number of threads may INVOKE on one channel at once; none waits for
 * another's op.  An op that found its handle runs to its end even if
 * another thread CLOSEs the handle meanwhile; one that comes after the
 * CLOSE gets -EBADF.
 */
#define CAPCHAN_IOC_INVOKE	_IOW(CAPCHAN_IOC_MAGIC, 0x05, struct capchan_sqe)
/* Attach a classic BPF filter to the channel, for good. */
#define CAPCHAN_IOC_FILTER	_IOW(CAPCHAN_IOC_MAGIC, 0x06, struct capchan_filter)

#endif /* _UAPI_LINUX_CAPCHAN_H */
