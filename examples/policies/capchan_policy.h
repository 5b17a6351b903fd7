/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * What the ready capchan policies (the *.bpf.c next to this file) and the
 * programs that load them (capchan-policy, the selftests) agree on: map
 * value layouts, match flags, audit records.  Included by BPF programs and
 * by user space, so it uses only <linux/types.h> types.
 */
#ifndef CAPCHAN_POLICY_H
#define CAPCHAN_POLICY_H

#include <linux/types.h>
#include <linux/capchan.h>

/*
 * A uid listed in a policy's uid map applies to ops whose caller has it as
 * real uid (MATCH_CALLER), to ops on capabilities whose credentials have it
 * as fsuid (MATCH_OWNER), or both: a capability granted by root and handed
 * to a sandbox runs with root's credentials but is invoked by the sandbox.
 */
#define CAPCHAN_POLICY_MATCH_CALLER	(1U << 0)
#define CAPCHAN_POLICY_MATCH_OWNER	(1U << 1)

/* Value of the denyuid policy's uid map. */
struct capchan_policy_deny {
	__s32	err;		/* -errno, -4095..-1 */
	__u32	match;		/* CAPCHAN_POLICY_MATCH_* */
};

/* Entries per uid or cgroup map (a policy names people, not processes). */
#define CAPCHAN_POLICY_MAX_IDS		1024
/* Processes the rate limiter tracks at once (least recently used go). */
#define CAPCHAN_POLICY_MAX_PIDS		16384
/* The audit ring buffer: room for about 700 records unread. */
#define CAPCHAN_AUDIT_RING_BYTES	(256 * 1024)

/* Record kinds of the audit ring buffer. */
#define CAPCHAN_AUDIT_AUTHORIZE		1	/* capchan_authorize: every op */
#define CAPCHAN_AUDIT_DENIED		2	/* capchan_denied: an op refused */

/*
 * capchan_denied's reason (the tracepoint's "by=" field, tracefs format
 * file of events/capchan/capchan_denied).
 */
#define CAPCHAN_AUDIT_BY_RIGHTS		1
#define CAPCHAN_AUDIT_BY_TYPE		2
#define CAPCHAN_AUDIT_BY_REVOKED	3
#define CAPCHAN_AUDIT_BY_POLICY		4
#define CAPCHAN_AUDIT_BY_FILTER		5

/*
 * One audit record.  DENIED records stop at path (the tracepoint carries
 * no path): read path only when kind is AUTHORIZE.
 */
struct capchan_audit_rec {
	__u64	ts_ns;		/* CLOCK_MONOTONIC */
	__u64	channel_id;
	__u64	rights;		/* AUTHORIZE: rights the capability holds */
	__u64	rights_wanted;	/* AUTHORIZE: OPEN, DERIVE, EXPORT */
	__u64	off;		/* AUTHORIZE */
	__u64	len;		/* AUTHORIZE */
	__u32	kind;		/* CAPCHAN_AUDIT_* */
	__u32	op;
	__u32	handle;
	__u32	cap_type;	/* AUTHORIZE */
	__u32	op_flags;	/* AUTHORIZE */
	__u32	pid;		/* AUTHORIZE: the module's (caller's pid namespace);
				 * DENIED: the global thread group id */
	__u32	caller_uid;	/* AUTHORIZE: the module's; DENIED: global uid */
	__u32	owner_uid;	/* AUTHORIZE */
	__s32	verdict;	/* AUTHORIZE: as left by programs that ran
				 * before this one; DENIED: the errno returned */
	__u32	reason;		/* DENIED: CAPCHAN_AUDIT_BY_* */
	__u32	path_len;	/* AUTHORIZE */
	__u32	resv;
	char	path[CAPCHAN_HOOK_PATH_MAX];	/* AUTHORIZE, NUL terminated */
};

#define CAPCHAN_AUDIT_DENIED_SIZE	__builtin_offsetof(struct capchan_audit_rec, path)

/* Index of the audit stats map: records lost to a full ring buffer. */
#define CAPCHAN_AUDIT_STAT_LOST		0
#define CAPCHAN_AUDIT_NR_STATS		1

#endif /* CAPCHAN_POLICY_H */
