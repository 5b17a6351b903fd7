// SPDX-License-Identifier: GPL-2.0
/*
 * readonly: no capchan op may change a file system for the chosen uids or
 * cgroups.  Refused: WRITE, TRUNCATE, OPEN asking for the write right or
 * with O_CREAT or O_TRUNC, MKDIR, UNLINK, RMDIR, SYMLINK, RENAME.
 * Everything else (READ, STAT, OPEN for reading, READDIR, DERIVE ...)
 * runs as before.
 *
 * Maps: uids (uid -> CAPCHAN_POLICY_MATCH_* bits) and cgroups (cgroup v2
 * id -> 1, the caller's cgroup); ro_errno is set before load.
 */
#include <linux/fcntl.h>

#include "policy.bpf.h"

/* -errno for a refused op (loader-set; -EROFS unless told otherwise) */
const volatile __s32 ro_errno = -EROFS;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CAPCHAN_POLICY_MAX_IDS);
	__type(key, __u32);
	__type(value, __u32);
} uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CAPCHAN_POLICY_MAX_IDS);
	__type(key, __u64);
	__type(value, __u32);
} cgroups SEC(".maps");

static __always_inline int ro_changes_fs(const struct capchan_hook_ctx *h)
{
	switch (h->op) {
	case CAPCHAN_OP_WRITE:
	case CAPCHAN_OP_TRUNCATE:
	case CAPCHAN_OP_MKDIR:
	case CAPCHAN_OP_UNLINK:
	case CAPCHAN_OP_RMDIR:
	case CAPCHAN_OP_SYMLINK:
	case CAPCHAN_OP_RENAME:
		return 1;
	case CAPCHAN_OP_OPEN:
		/* a write capability, a new file or an emptied one */
		return (h->rights_wanted & CAPCHAN_RIGHT_WRITE) ||
		       (h->op_flags & (O_CREAT | O_TRUNC));
	}
	return 0;
}

static __always_inline int ro_applies(const struct capchan_hook_ctx *h)
{
	__u32 caller = h->caller_uid, owner = h->owner_uid, *m;
	__u64 cg;

	m = bpf_map_lookup_elem(&uids, &caller);
	if (m && (*m & CAPCHAN_POLICY_MATCH_CALLER))
		return 1;
	m = bpf_map_lookup_elem(&uids, &owner);
	if (m && (*m & CAPCHAN_POLICY_MATCH_OWNER))
		return 1;
	/* the hook runs in the caller's context: its cgroup is current's */
	cg = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&cgroups, &cg) != NULL;
}

SEC("raw_tp.w/capchan_authorize")
int capchan_rdonly(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = capchan_hook(ctx);

	if (ro_changes_fs(h) && ro_applies(h))
		capchan_deny(h, ro_errno);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
