// SPDX-License-Identifier: GPL-2.0
/*
 * A test program for capchan_authorize that does what no real policy may:
 * writes any verdict user space asks for (out-of-range ones included),
 * and can scribble over the rest of the hook context, for one channel.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/capchan.h>
#include <bpf/bpf_helpers.h>

__u64 target_channel;	/* only ops of this channel */
__s32 verdict;		/* written as is */
__u32 scribble;		/* non-zero: overwrite every other field too */
__u64 calls;		/* ops of target_channel seen */

SEC("raw_tp.w/capchan_authorize")
int capchan_verdict(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = (void *)ctx->args[0];

	if (h->channel_id != target_channel)
		return 0;
	__sync_fetch_and_add(&calls, 1);
	if (scribble) {
		h->op = 0xdead;
		h->cap_type = 0xdead;
		h->rights = ~0ULL;
		h->rights_wanted = ~0ULL;
		h->handle = 0xdead;
		h->op_flags = ~0U;
		h->channel_id = ~0ULL;
		h->pid = 0;
		h->caller_uid = 0;
		h->owner_uid = 0;
		h->path_len = 0xffff;
		h->off = ~0ULL;
		h->len = ~0ULL;
		h->role = ~0U;
		/* no NUL left: whatever reads it after us must bound it */
		__builtin_memset(h->path, 'A', sizeof(h->path));
	}
	h->verdict = verdict;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
