// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - module entry: parameters and the /dev/capchan misc device.
 */
#include "capchan.h"

#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static ushort dev_mode = 0666;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "permission bits of /dev/capchan (default 0666)");

static int dev_group = -1;
module_param(dev_group, int, 0444);
MODULE_PARM_DESC(dev_group,
		 "only members of this group (or CAP_SYS_ADMIN) may open /dev/capchan; -1: anyone (default)");

unsigned int capchan_max_caps = 4096;
module_param_named(max_caps, capchan_max_caps, uint, 0444);
MODULE_PARM_DESC(max_caps, "capabilities per channel, 1..1048576 (default 4096)");

unsigned int capchan_max_depth = 64;
module_param_named(max_depth, capchan_max_depth, uint, 0444);
MODULE_PARM_DESC(max_depth, "maximum derivation depth, 1..1024 (default 64)");

unsigned long capchan_disabled_ops;
module_param_named(disabled_ops, capchan_disabled_ops, ulong, 0644);
MODULE_PARM_DESC(disabled_ops,
		 "bit mask of opcodes refused with -EOPNOTSUPP (default 0)");

unsigned long capchan_allowed_ops = ~0UL;
module_param_named(allowed_ops, capchan_allowed_ops, ulong, 0644);
MODULE_PARM_DESC(allowed_ops,
		 "bit mask of the only opcodes allowed, the rest -EOPNOTSUPP (default: all)");

/* the kill switch: 0 refuses new channels, the open ones keep working */
static bool capchan_accept_channels = true;
module_param_named(accept_channels, capchan_accept_channels, bool, 0644);
MODULE_PARM_DESC(accept_channels,
		 "0: opening /dev/capchan fails with -EPERM; channels already open keep working (default 1)");

unsigned long capchan_max_user_channels = 1024;
module_param_named(max_user_channels, capchan_max_user_channels, ulong, 0644);
MODULE_PARM_DESC(max_user_channels,
		 "open channels of one user; opening more fails with -EMFILE (default 1024)");

unsigned long capchan_max_user_caps = 1UL << 20;
module_param_named(max_user_caps, capchan_max_user_caps, ulong, 0644);
MODULE_PARM_DESC(max_user_caps,
		 "live capabilities charged to one user, all channels together; over it: -EDQUOT (default 1048576)");

unsigned long capchan_max_user_files = 65536;
module_param_named(max_user_files, capchan_max_user_files, ulong, 0644);
MODULE_PARM_DESC(max_user_files,
		 "open files held through capabilities by one user, all channels together; over it: -ENFILE (default 65536; each user is also held to its RLIMIT_NOFILE: -EMFILE)");

unsigned long capchan_max_user_sqpoll = 4;
module_param_named(max_user_sqpoll, capchan_max_user_sqpoll, ulong, 0644);
MODULE_PARM_DESC(max_user_sqpoll,
		 "poll threads (CAPCHAN_SETUP_SQPOLL) of one user, all channels together; over it: -EAGAIN (default 4)");

/* 1..64 at load and at run time alike: a write outside is -EINVAL */
static int capchan_set_max_workers(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 64);
}

static const struct kernel_param_ops capchan_max_workers_ops = {
	.set	= capchan_set_max_workers,
	.get	= param_get_uint,
};

unsigned int capchan_max_workers = 4;
module_param_cb(max_workers, &capchan_max_workers_ops, &capchan_max_workers, 0644);
MODULE_PARM_DESC(max_workers,
		 "workers per channel for ops that would block, 1..64 (default 4; a channel makes them when it needs them, they go after 5 s idle)");

unsigned long capchan_max_user_workers = 32;
module_param_named(max_user_workers, capchan_max_user_workers, ulong, 0644);
MODULE_PARM_DESC(max_user_workers,
		 "worker threads of one user's channels, all together (default 32; at the bound a channel queues for the workers it has, or runs the op inline)");

static struct miscdevice capchan_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "capchan",
	.fops	= &capchan_chan_fops,
};

/* Called by the channel's open(): the dev_group restriction. */
int capchan_may_open(void)
{
	if (!READ_ONCE(capchan_accept_channels))
		return -EPERM;
	if (dev_group >= 0) {
		kgid_t gid = make_kgid(&init_user_ns, dev_group);

		if (!in_group_p(gid) && !capable(CAP_SYS_ADMIN))
			return -EACCES;
	}
	return 0;
}

static int __init capchan_init(void)
{
	int err;

	if (!capchan_max_caps || capchan_max_caps > CAPCHAN_MAX_CAPS) {
		pr_err("max_caps must be 1..%u\n", CAPCHAN_MAX_CAPS);
		return -EINVAL;
	}
	if (!capchan_max_depth || capchan_max_depth > 1024) {
		pr_err("max_depth must be 1..1024\n");
		return -EINVAL;
	}

	err = capchan_ops_check();
	if (err)
		return err;
	err = capchan_cap_cache_init();
	if (err)
		goto err_cache;
	/* a missing BTF layer is reported by VERSION, never a load failure */
	capchan_btf_init();

	capchan_misc.mode = dev_mode;
	err = misc_register(&capchan_misc);
	if (err) {
		pr_err("misc_register failed: %d\n", err);
		goto err_misc;
	}
	pr_info("loaded, abi %u, /dev/capchan mode %04o\n",
		CAPCHAN_ABI_VERSION, dev_mode);
	return 0;

err_misc:
	capchan_cap_cache_exit();
err_cache:
	return err;
}

static void __exit capchan_exit(void)
{
	misc_deregister(&capchan_misc);
	capchan_cap_cache_exit();
	pr_info("unloaded\n");
}

module_init(capchan_init);
module_exit(capchan_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("capchan developers");
MODULE_DESCRIPTION("capability channels: capabilities invoked through mmap'd rings");
MODULE_VERSION(CAPCHAN_VERSION);
