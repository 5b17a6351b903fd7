// SPDX-License-Identifier: GPL-2.0
/*
 * The BTF layer seen from a tracing program: fexit on capchan_execute(),
 * whose struct capchan_req argument is typed by the module's BTF, asking
 * the module's kfuncs what the request acted on (every op passes there;
 * capchan_policy() runs only when some policy is attached).  Loaded only where VERSION
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

SEC("fexit/capchan_execute")
int BPF_PROG(capchan_execute_probe, struct capchan_ctx *chan,
	     struct capchan_req *req, __u32 *chain_handle, _Bool from_ring,
	     long ret)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	calls++;
	rights = bpf_capchan_req_rights(req);
	path_len = bpf_capchan_req_path(req, path, sizeof(path));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
