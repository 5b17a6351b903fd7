// SPDX-License-Identifier: GPL-2.0
/*
 * denyuid: every capchan op of a listed uid is refused with that uid's
 * errno.  Map uids: uid -> struct capchan_policy_deny (errno, and whether
 * the uid is matched as the caller's real uid, as the capability's owner,
 * or both).  The caller is looked up first.
 */
#include "policy.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CAPCHAN_POLICY_MAX_IDS);
	__type(key, __u32);
	__type(value, struct capchan_policy_deny);
} uids SEC(".maps");

SEC("raw_tp.w/capchan_authorize")
int capchan_denyuid(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = capchan_hook(ctx);
	__u32 caller = h->caller_uid, owner = h->owner_uid;
	struct capchan_policy_deny *d;

	d = bpf_map_lookup_elem(&uids, &caller);
	if (d && (d->match & CAPCHAN_POLICY_MATCH_CALLER)) {
		capchan_deny(h, d->err);
		return 0;
	}
	/* ops on no capability (NOP, IMPORT) have no owner */
	if (h->cap_type == 0)
		return 0;
	d = bpf_map_lookup_elem(&uids, &owner);
	if (d && (d->match & CAPCHAN_POLICY_MATCH_OWNER))
		capchan_deny(h, d->err);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
