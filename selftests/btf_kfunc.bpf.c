// SPDX-License-Identifier: GPL-2.0
/*
 * The BTF layer seen from a tracing program: fentry on capchan_policy(),
 * whose struct capchan_req argument is typed by the module's BTF, asking
 * the module's kfuncs what the request acts on.  Loaded only where VERSION
 * reports CAPCHAN_FEAT_BTF.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct capchan_ctx {};
struct capchan_req {};

extern __u64 bpf_capchan_req_rights(struct capchan_req *req) __ksym;
extern int bpf_capchan_req_path(struct capchan_req *req, void *mem,
				__u32 mem__sz) __ksym;

__u32 target_pid;	/* only this process's ops */
__u64 calls;
__u64 rights;		/* of the last op's capability */
int path_len;		/* bpf_capchan_req_path()'s answer for it */
char path[256];

SEC("fentry/capchan_policy")
int BPF_PROG(capchan_policy_probe, struct capchan_ctx *chan,
	     struct capchan_req *req)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	calls++;
	rights = bpf_capchan_req_rights(req);
	path_len = bpf_capchan_req_path(req, path, sizeof(path));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
