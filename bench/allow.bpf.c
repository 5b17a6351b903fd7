// SPDX-License-Identifier: GPL-2.0
/*
 * The cheapest system policy there is, for bench/capbench's policy rows: a
 * program on the writable tracepoint capchan_authorize that looks at the
 * op and allows it.  What it costs per op is what attaching any policy
 * costs before the policy's own work.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/capchan.h>
#include <bpf/bpf_helpers.h>

__u64 seen;

SEC("raw_tp.w/capchan_authorize")
int capchan_allow(struct bpf_raw_tracepoint_args *ctx)
{
	struct capchan_hook_ctx *h = (void *)ctx->args[0];

	if (h->op != 0xffff)
		seen++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
