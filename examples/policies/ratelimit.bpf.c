// SPDX-License-Identifier: GPL-2.0
/*
 * ratelimit: at most ops_per_sec capchan ops per second per process, with
 * bursts of up to burst ops; ops over the limit fail with -EAGAIN.
 *
 * A token bucket, kept in the form of the generic cell rate algorithm so
 * that a process's whole state is one u64 updated by compare-and-swap
 * (tracing programs cannot take BPF spin locks): tat is the theoretical
 * arrival time, when the bucket will be full again.  An op at time now is
 * allowed if tat - now <= (burst - 1) * interval (a token is left), and
 * then moves tat to max(tat, now) + interval (takes the token).  A denied
 * op takes no token, so a process that keeps trying is not starved.
 *
 * Processes are keyed by their global thread group id (not the pid the
 * hook context reports, which is in the caller's pid namespace and so not
 * unique); the map is an LRU, so dead processes age out.
 */
#include "policy.bpf.h"

/* nanoseconds per op (1e9 / ops per second) and the burst allowance */
const volatile __u64 interval_ns = 1000000000ULL;
const volatile __u64 tolerance_ns;	/* (burst - 1) * interval_ns */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CAPCHAN_POLICY_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u64);
} buckets SEC(".maps");

/* a few rounds of compare-and-swap against other threads of the process */
#define RL_TRIES	4

SEC("raw_tp.w/capchan_authorize")
int capchan_ratelim(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = capchan_hook(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns(), *tat, old, start, next;
	int i;

	tat = bpf_map_lookup_elem(&buckets, &tgid);
	if (!tat) {
		/* first op of this process: a full bucket, minus this token */
		next = now + interval_ns;
		if (!bpf_map_update_elem(&buckets, &tgid, &next, BPF_NOEXIST))
			return 0;
		/* another thread got there first */
		tat = bpf_map_lookup_elem(&buckets, &tgid);
		if (!tat)
			return 0;
	}
	for (i = 0; i < RL_TRIES; i++) {
		old = *(volatile __u64 *)tat;
		start = old > now ? old : now;
		if (start - now > tolerance_ns) {
			capchan_deny(h, -EAGAIN);
			return 0;
		}
		next = start + interval_ns;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 0;
	}
	/* lost every race: the other threads are taking the tokens */
	capchan_deny(h, -EAGAIN);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
