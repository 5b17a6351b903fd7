/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Internal: the seccomp program capchan_sandbox_enter() installs, built
 * apart from the call so that the host tests can check it instruction by
 * instruction.  Not installed; nothing here is exported.
 */
#ifndef LIBCAPCHAN_SANDBOX_H
#define LIBCAPCHAN_SANDBOX_H

#include <linux/filter.h>

/* Room for the program; sandbox.c checks at build time that it fits. */
#define CAPCHAN__SANDBOX_MAX_INSNS	160

/*
 * The first x86-64 system call number the filter's lists were not
 * reviewed against (Linux 6.12's last call is mseal, 462).  Every number
 * from here up fails with ENOSYS: a call added later may well resolve
 * paths (6.13's setxattrat family does).
 */
#define CAPCHAN__SANDBOX_NR_UNREVIEWED	463

/*
 * Fill f (CAPCHAN__SANDBOX_MAX_INSNS entries) with the program; returns
 * its length, or 0 where the sandbox is not available (any ABI but
 * x86-64's).
 */
__attribute__((visibility("hidden")))
unsigned capchan__sandbox_filter(struct sock_filter *f);

#endif
