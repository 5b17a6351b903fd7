/* SPDX-License-Identifier: GPL-2.0 */
/*
 * capchan's tracepoints: one writable hook where policy decides, and
 * read-only audit events.  All live under tracefs events/capchan/ and are
 * usable from perf, bpftrace and BPF programs; when nothing is attached
 * each costs one patched-out branch (a static key).
 *
 *   capchan_authorize  writable (raw_tp.w): struct capchan_hook_ctx, where
 *                      a program may set the verdict
 *   capchan_op_done    every op's result and latency
 *   capchan_cap        a capability made, exported, imported, revoked or
 *                      closed
 *   capchan_denied     an op refused, and by what
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM capchan

#if !defined(_CAPCHAN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CAPCHAN_TRACE_H

#include <linux/tracepoint.h>
#include <linux/version.h>
#include <linux/capchan.h>

/*
 * The hook's path, bounded: a BPF program on the same writable tracepoint
 * may have overwritten its NUL.  __assign_str() lost its source and
 * length arguments in 6.10 (__string_len() keeps them).
 */
#define capchan_hook_path_len(h)	strnlen((h)->path, CAPCHAN_HOOK_PATH_MAX - 1)
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define capchan_assign_path(dst, h)	__assign_str(dst)
#else
#define capchan_assign_path(dst, h)	__assign_str_len(dst, (h)->path, capchan_hook_path_len(h))
#endif

/* Why an op was refused (capchan_denied's reason). */
#define CAPCHAN_DENY_RIGHTS	1	/* the capability lacks a right */
#define CAPCHAN_DENY_TYPE	2	/* DIR vs FILE */
#define CAPCHAN_DENY_REVOKED	3
#define CAPCHAN_DENY_POLICY	4	/* the eBPF hook's verdict */
#define CAPCHAN_DENY_FILTER	5	/* a channel filter */

/* What capchan_cap reports. */
#define CAPCHAN_CAP_CREATED	1	/* GRANT, OPEN */
#define CAPCHAN_CAP_DERIVED	2
#define CAPCHAN_CAP_EXPORTED	3
#define CAPCHAN_CAP_IMPORTED	4
#define CAPCHAN_CAP_REVOKED	5	/* count: how many were revoked */
#define CAPCHAN_CAP_CLOSED	6

DECLARE_EVENT_CLASS(capchan_hook_class,

	TP_PROTO(struct capchan_hook_ctx *hctx),

	TP_ARGS(hctx),

	TP_STRUCT__entry(
		__field(u64, channel_id)
		__field(u32, op)
		__field(u32, handle)
		__field(u64, rights)
		__field(u32, owner_uid)
		__field(u32, caller_uid)
		__string_len(path, hctx->path, capchan_hook_path_len(hctx))
	),

	TP_fast_assign(
		__entry->channel_id = hctx->channel_id;
		__entry->op = hctx->op;
		__entry->handle = hctx->handle;
		__entry->rights = hctx->rights;
		__entry->owner_uid = hctx->owner_uid;
		__entry->caller_uid = hctx->caller_uid;
		capchan_assign_path(path, hctx);
	),

	TP_printk("channel=%llu op=%u handle=0x%x rights=0x%llx owner_uid=%u caller_uid=%u path=\"%s\"",
		  __entry->channel_id, __entry->op, __entry->handle,
		  __entry->rights, __entry->owner_uid, __entry->caller_uid,
		  __get_str(path))
);

/*
 * The writable form exists only in the BPF pass of this header (where
 * DEFINE_EVENT_WRITABLE is defined); the other passes see a plain event.
 */
#ifdef DEFINE_EVENT_WRITABLE
#undef CAPCHAN_DEFINE_HOOK
#define CAPCHAN_DEFINE_HOOK(template, call, proto, args, size)		\
	DEFINE_EVENT_WRITABLE(template, call, PARAMS(proto),		\
			      PARAMS(args), size)
#else
#undef CAPCHAN_DEFINE_HOOK
#define CAPCHAN_DEFINE_HOOK(template, call, proto, args, size)		\
	DEFINE_EVENT(template, call, PARAMS(proto), PARAMS(args))
#endif

CAPCHAN_DEFINE_HOOK(capchan_hook_class, capchan_authorize,

	TP_PROTO(struct capchan_hook_ctx *hctx),

	TP_ARGS(hctx),

	sizeof(struct capchan_hook_ctx)
);

TRACE_EVENT(capchan_op_done,

	TP_PROTO(u64 channel_id, u32 op, u32 handle, u64 user_data, s32 res,
		 u64 latency_ns),

	TP_ARGS(channel_id, op, handle, user_data, res, latency_ns),

	TP_STRUCT__entry(
		__field(u64, channel_id)
		__field(u32, op)
		__field(u32, handle)
		__field(u64, user_data)
		__field(s32, res)
		__field(u64, latency_ns)
	),

	TP_fast_assign(
		__entry->channel_id = channel_id;
		__entry->op = op;
		__entry->handle = handle;
		__entry->user_data = user_data;
		__entry->res = res;
		__entry->latency_ns = latency_ns;
	),

	TP_printk("channel=%llu op=%u handle=0x%x user_data=0x%llx res=%d latency_ns=%llu",
		  __entry->channel_id, __entry->op, __entry->handle,
		  __entry->user_data, __entry->res, __entry->latency_ns)
);

TRACE_EVENT(capchan_cap,

	TP_PROTO(u32 event, u64 channel_id, u32 handle, u32 type, u64 rights,
		 u32 owner_uid, u32 depth, long count),

	TP_ARGS(event, channel_id, handle, type, rights, owner_uid, depth, count),

	TP_STRUCT__entry(
		__field(u32, event)
		__field(u64, channel_id)
		__field(u32, handle)
		__field(u32, type)
		__field(u64, rights)
		__field(u32, owner_uid)
		__field(u32, depth)
		__field(long, count)
	),

	TP_fast_assign(
		__entry->event = event;
		__entry->channel_id = channel_id;
		__entry->handle = handle;
		__entry->type = type;
		__entry->rights = rights;
		__entry->owner_uid = owner_uid;
		__entry->depth = depth;
		__entry->count = count;
	),

	TP_printk("%s channel=%llu handle=0x%x type=%s rights=0x%llx owner_uid=%u depth=%u count=%ld",
		  __print_symbolic(__entry->event,
				   { CAPCHAN_CAP_CREATED, "created" },
				   { CAPCHAN_CAP_DERIVED, "derived" },
				   { CAPCHAN_CAP_EXPORTED, "exported" },
				   { CAPCHAN_CAP_IMPORTED, "imported" },
				   { CAPCHAN_CAP_REVOKED, "revoked" },
				   { CAPCHAN_CAP_CLOSED, "closed" }),
		  __entry->channel_id, __entry->handle,
		  __entry->type == CAPCHAN_CAP_DIR ? "dir" : "file",
		  __entry->rights, __entry->owner_uid, __entry->depth,
		  __entry->count)
);

TRACE_EVENT(capchan_denied,

	TP_PROTO(u64 channel_id, u32 op, u32 handle, u32 reason, s32 err),

	TP_ARGS(channel_id, op, handle, reason, err),

	TP_STRUCT__entry(
		__field(u64, channel_id)
		__field(u32, op)
		__field(u32, handle)
		__field(u32, reason)
		__field(s32, err)
	),

	TP_fast_assign(
		__entry->channel_id = channel_id;
		__entry->op = op;
		__entry->handle = handle;
		__entry->reason = reason;
		__entry->err = err;
	),

	TP_printk("channel=%llu op=%u handle=0x%x by=%s err=%d",
		  __entry->channel_id, __entry->op, __entry->handle,
		  __print_symbolic(__entry->reason,
				   { CAPCHAN_DENY_RIGHTS, "rights" },
				   { CAPCHAN_DENY_TYPE, "type" },
				   { CAPCHAN_DENY_REVOKED, "revoked" },
				   { CAPCHAN_DENY_POLICY, "policy" },
				   { CAPCHAN_DENY_FILTER, "filter" }),
		  __entry->err)
);

#endif /* _CAPCHAN_TRACE_H */

/* This part must be outside protection */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE capchan_trace
#include <trace/define_trace.h>
