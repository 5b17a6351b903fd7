// SPDX-License-Identifier: GPL-2.0
/*
 * audit: one record per op that reaches the authorization point, and one
 * per op refused (by rights, type, revocation, policy or a filter), into a
 * BPF ring buffer that capchan-policy audit prints.
 *
 * capchan_audit only reads the hook context: the verdict it records is the
 * one left by programs that ran before it on capchan_authorize (those
 * attached earlier), so the DENIED record from capchan_denied, emitted by
 * the module after it checked every policy, is the final word.
 */
#include "policy.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CAPCHAN_AUDIT_RING_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CAPCHAN_AUDIT_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void audit_lost(void)
{
	__u32 key = CAPCHAN_AUDIT_STAT_LOST;
	__u64 *n = bpf_map_lookup_elem(&stats, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("raw_tp.w/capchan_authorize")
int capchan_audit(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = capchan_hook(ctx);
	struct capchan_audit_rec *r;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		audit_lost();
		return 0;
	}
	r->ts_ns = bpf_ktime_get_ns();
	r->channel_id = h->channel_id;
	r->rights = h->rights;
	r->rights_wanted = h->rights_wanted;
	r->off = h->off;
	r->len = h->len;
	r->kind = CAPCHAN_AUDIT_AUTHORIZE;
	r->op = h->op;
	r->handle = h->handle;
	r->cap_type = h->cap_type;
	r->op_flags = h->op_flags;
	r->pid = h->pid;
	r->caller_uid = h->caller_uid;
	r->owner_uid = h->owner_uid;
	r->verdict = h->verdict;
	r->reason = 0;
	r->path_len = h->path_len;
	r->resv = 0;
	/* the module NUL-terminates path; copy it whole, the reader stops at
	 * the NUL (a fixed size keeps the verifier happy) */
	if (bpf_probe_read_kernel(r->path, sizeof(r->path), h->path))
		r->path[0] = '\0';
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* capchan_denied(channel_id, op, handle, reason, err) */
SEC("raw_tp/capchan_denied")
int capchan_auditdn(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_audit_rec *r;

	r = bpf_ringbuf_reserve(&events, CAPCHAN_AUDIT_DENIED_SIZE, 0);
	if (!r) {
		audit_lost();
		return 0;
	}
	r->ts_ns = bpf_ktime_get_ns();
	r->channel_id = ctx->args[0];
	r->rights = 0;
	r->rights_wanted = 0;
	r->off = 0;
	r->len = 0;
	r->kind = CAPCHAN_AUDIT_DENIED;
	r->op = (__u32)ctx->args[1];
	r->handle = (__u32)ctx->args[2];
	r->cap_type = 0;
	r->op_flags = 0;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->caller_uid = (__u32)bpf_get_current_uid_gid();
	r->owner_uid = 0;
	r->verdict = (__s32)ctx->args[4];
	r->reason = (__u32)ctx->args[3];
	r->path_len = 0;
	r->resv = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
