/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ready policies (BPF side only).
 *
 * The policies attach to the writable tracepoint capchan_authorize, whose
 * one argument points to the module's struct capchan_hook_ctx.  They only
 * ever write a verdict of -1..-4095, and never over a verdict an earlier
 * program already set: the first policy to deny decides the errno, and no
 * policy can turn another's deny back into an allow.
 */
#ifndef CAPCHAN_POLICY_BPF_H
#define CAPCHAN_POLICY_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/capchan.h>
#include <bpf/bpf_helpers.h>

#include "capchan_policy.h"

#define CAPCHAN_MAX_ERRNO	4095

/* The hook context: the tracepoint's first (and only) argument. */
static __always_inline struct capchan_hook_ctx *
capchan_hook(struct bpf_raw_tracepoint_args *ctx)
{
	return (struct capchan_hook_ctx *)ctx->args[0];
}

/* Deny with err (-errno); anything out of range becomes -EPERM here, so
 * that a bad loader setting never reaches the module as a bad verdict. */
static __always_inline void capchan_deny(struct capchan_hook_ctx *h, __s32 err)
{
	if (err >= 0 || err < -CAPCHAN_MAX_ERRNO)
		err = -EPERM;
	if (h->verdict == 0)
		h->verdict = err;
}

#endif /* CAPCHAN_POLICY_BPF_H */
