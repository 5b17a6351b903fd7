// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the BTF layer: kfuncs for tracing programs, when the module
 * carries BTF (automatic with Debian's 6.12 headers; on 6.1 only after the
 * post-link pahole + resolve_btfids step of PLATFORM.md).
 *
 * With module BTF, capchan_execute() (every op), every capchan_issue_*()
 * and capchan_policy() (only while some policy is attached) are
 * fentry/fexit attach points whose struct capchan_req argument is typed,
 * and these kfuncs let such a program ask what the request acts on:
 *
 *   u64 bpf_capchan_req_rights(struct capchan_req *req)
 *       rights of the capability the request acts on (0: none yet/none)
 *   int bpf_capchan_req_path(struct capchan_req *req, void *buf, u32 buf__sz)
 *       where that capability's object is, as d_path() says, into buf;
 *       its length, -ENOENT without a capability, -EKEYREVOKED once its
 *       object is gone, -ENAMETOOLONG for a small buffer
 *
 * Registration is for BPF_PROG_TYPE_TRACING only.  Without module BTF
 * nothing is registered and VERSION does not report CAPCHAN_FEAT_BTF.
 */
#include "capchan.h"

#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/dcache.h>
#include <linux/module.h>
#include <linux/string.h>

static bool capchan_btf_live;

bool capchan_btf_enabled(void)
{
	return capchan_btf_live;
}

#if IS_ENABLED(CONFIG_DEBUG_INFO_BTF_MODULES)

/* kfuncs are called from BPF only: no prototypes elsewhere */
#ifndef __bpf_kfunc
#define __bpf_kfunc __used noinline
#endif
__diag_push();
__diag_ignore_all("-Wmissing-prototypes",
		  "kfuncs are called from BPF programs only");

__bpf_kfunc u64 bpf_capchan_req_rights(struct capchan_req *req)
{
	struct capchan_cap *cap = READ_ONCE(req->cap);

	return cap ? READ_ONCE(cap->rights) : 0;
}

__bpf_kfunc int bpf_capchan_req_path(struct capchan_req *req, void *mem,
				     u32 mem__sz)
{
	struct capchan_cap *cap = READ_ONCE(req->cap);
	/* void *: a kernel built with -funsigned-char has another "char" */
	char *buf = mem, *p;
	u32 buf__sz = mem__sz;
	int len;

	if (!buf__sz)
		return -EINVAL;
	buf[0] = '\0';
	/*
	 * The request's capability is alive (the request holds a reference
	 * for the whole op); its object only while it is entered.
	 */
	if (!cap)
		return -ENOENT;
	if (!capchan_cap_enter(cap))
		return -EKEYREVOKED;
	p = d_path(&capchan_cap_file(cap)->f_path, buf, buf__sz);
	capchan_cap_exit(cap);
	if (IS_ERR(p))
		return PTR_ERR(p);
	len = buf + buf__sz - 1 - p;
	memmove(buf, p, len + 1);
	return len;
}

__diag_pop();

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
BTF_KFUNCS_START(capchan_kfunc_ids)
#else
BTF_SET8_START(capchan_kfunc_ids)
#endif
/*
 * Not KF_TRUSTED_ARGS: fentry arguments are not "trusted" to the verifier
 * (6.12), so it would refuse every caller.  The verifier still allows only
 * a struct capchan_req pointer here, and the only ones a program can get
 * are the request arguments of capchan's own functions, alive for the
 * whole call (the request holds a reference on its capability).
 */
BTF_ID_FLAGS(func, bpf_capchan_req_rights)
BTF_ID_FLAGS(func, bpf_capchan_req_path)
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
BTF_KFUNCS_END(capchan_kfunc_ids)
#else
BTF_SET8_END(capchan_kfunc_ids)
#endif

static const struct btf_kfunc_id_set capchan_kfunc_set = {
	.owner	= THIS_MODULE,
	.set	= &capchan_kfunc_ids,
};

int capchan_btf_init(void)
{
	int err;

	/* without module BTF there are no types to attach to: say so */
	if (!THIS_MODULE->btf_data_size)
		return 0;
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &capchan_kfunc_set);
	if (err) {
		pr_info("kfuncs not registered (%d); the BTF layer is off\n", err);
		return 0;
	}
	capchan_btf_live = true;
	return 0;
}

#else

int capchan_btf_init(void)
{
	return 0;
}

#endif
