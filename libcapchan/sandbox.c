// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Capability-only sandbox: a seccomp filter under which the process can
 * reach files only through what it already holds (capchan channels and
 * their capabilities, open file descriptors), never by naming a path.
 * Like Capsicum's capability mode, but built from classic BPF on stock
 * seccomp, so it needs no privilege and can never be lifted.
 *
 * A seccomp filter sees the call number and the six argument registers,
 * not the memory they point at: it cannot read a path string, a struct
 * open_how or a socket address.  So every call that takes a path is
 * refused whole, the fd-relative *at() forms included, and the few
 * decisions that depend on an argument look only at integers:
 *  - utimensat(fd, NULL, ...) changes the times of fd itself (futimens)
 *    and stays allowed; any non-NULL path is refused;
 *  - socket(AF_UNIX, ...) is refused: a new Unix socket could only be
 *    bound or connected by path or by abstract name;
 *  - ioctl(TIOCSTI) and ioctl(TIOCLINUX) are refused: they type into a
 *    terminal that an unconfined shell reads.
 * newfstatat() and statx() are refused even with AT_EMPTY_PATH, because
 * "" and "/etc/shadow" look the same from here; fstat() is the way to
 * ask about a descriptor.
 *
 * Calls that would reach outside through another process are refused as
 * well: ptrace, process_vm_readv/writev, pidfd_getfd.  So are io_uring
 * (its ops run past seccomp and open paths) and bpf (pinned objects are
 * paths).  A foreign ABI (i386 through int 0x80, x32's numbers) kills
 * the process: this list is of x86-64 numbers and means nothing there.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/ioctls.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include "capchan.h"
#include "sandbox.h"

#if defined(__x86_64__) && !defined(__ILP32__)

/* Numbers newer than the oldest uapi headers this builds with. */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2		452
#endif
#ifndef __NR_statmount
#define __NR_statmount		457
#endif
#ifndef __NR_listmount
#define __NR_listmount		458
#endif

/* x32 system calls are the x86-64 entry with this bit set in the number. */
#define CAPCHAN__X32_BIT	0x40000000U

/*
 * Refused with EPERM whatever their arguments.  Keep in step with
 * capchan_sandbox_enter(3), capchan(7) and the tests' tables.
 */
static const uint16_t capchan__sandbox_refused[] = {
	/* open a path */
	__NR_open, __NR_openat, __NR_openat2, __NR_creat,
	__NR_open_by_handle_at, __NR_name_to_handle_at,
	/* look at a path */
	__NR_stat, __NR_lstat, __NR_newfstatat, __NR_statx, __NR_statfs,
	__NR_access, __NR_faccessat, __NR_faccessat2,
	__NR_readlink, __NR_readlinkat,
	__NR_getxattr, __NR_lgetxattr, __NR_listxattr, __NR_llistxattr,
	/* change what a path names */
	__NR_mkdir, __NR_mkdirat, __NR_mknod, __NR_mknodat,
	__NR_unlink, __NR_unlinkat, __NR_rmdir,
	__NR_rename, __NR_renameat, __NR_renameat2,
	__NR_link, __NR_linkat, __NR_symlink, __NR_symlinkat,
	__NR_chmod, __NR_fchmodat, __NR_fchmodat2,
	__NR_chown, __NR_lchown, __NR_fchownat,
	__NR_truncate, __NR_utime, __NR_utimes, __NR_futimesat,
	__NR_setxattr, __NR_lsetxattr, __NR_removexattr, __NR_lremovexattr,
	/* run a path */
	__NR_execve, __NR_execveat, __NR_uselib,
	/* where relative paths resolve */
	__NR_chdir, __NR_fchdir, __NR_chroot,
	/* mounts */
	__NR_mount, __NR_umount2, __NR_pivot_root, __NR_move_mount,
	__NR_open_tree, __NR_fsopen, __NR_fsconfig, __NR_fsmount,
	__NR_fspick, __NR_mount_setattr, __NR_statmount, __NR_listmount,
	/* watch a path */
	__NR_inotify_add_watch, __NR_fanotify_mark,
	/* files named by the system call's caller */
	__NR_acct, __NR_swapon, __NR_swapoff, __NR_quotactl,
	__NR_mq_open, __NR_mq_unlink,
	/* paths reached some other way */
	__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
	__NR_bpf,
	/* another process's authority */
	__NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev,
	__NR_pidfd_getfd,
};

#define CAPCHAN__NREFUSED \
	(sizeof(capchan__sandbox_refused) / sizeof(capchan__sandbox_refused[0]))

/* Where the program's parts start (classic BPF jumps only forward). */
enum {
	SB_CHECK_IOCTL = 8 + CAPCHAN__NREFUSED + 1,
	SB_CHECK_SOCKET = SB_CHECK_IOCTL + 3,
	SB_CHECK_UTIMENSAT = SB_CHECK_SOCKET + 2,
	SB_ALLOW = SB_CHECK_UTIMENSAT + 4,
	SB_EPERM,
	SB_ENOSYS,
	SB_KILL,
	SB_LEN,
};

/* Every jump must fit classic BPF's 8-bit offsets, the program its room. */
_Static_assert(SB_KILL - 2 <= 255, "sandbox filter: jump out of range");
_Static_assert(SB_LEN <= CAPCHAN__SANDBOX_MAX_INSNS,
	       "sandbox filter: CAPCHAN__SANDBOX_MAX_INSNS too small");

#define SB_LD(off)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
/* The low and high 32-bit halves of argument n (x86-64 is little endian). */
#define SB_ARG_LO(n)	(offsetof(struct seccomp_data, args) + 8 * (n))
#define SB_ARG_HI(n)	(SB_ARG_LO(n) + 4)

/* A jump at instruction pc to instruction to. */
static uint8_t sb_off(unsigned pc, unsigned to)
{
	return (uint8_t)(to - pc - 1);
}

static struct sock_filter sb_jeq(unsigned pc, uint32_t k, unsigned jt,
				 unsigned jf)
{
	struct sock_filter in = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k,
					 sb_off(pc, jt), sb_off(pc, jf));

	return in;
}

static struct sock_filter sb_ret(uint32_t k)
{
	struct sock_filter in = BPF_STMT(BPF_RET | BPF_K, k);

	return in;
}

unsigned capchan__sandbox_filter(struct sock_filter *f)
{
	unsigned pc = 0, i;

	/* 0-1: anything but the x86-64 ABI is killed */
	f[pc++] = (struct sock_filter)SB_LD(offsetof(struct seccomp_data, arch));
	f[pc] = sb_jeq(pc, AUDIT_ARCH_X86_64, pc + 1, SB_KILL);
	pc++;
	/* 2-3: so is x32 (and any number with its bit: -1 included) */
	f[pc++] = (struct sock_filter)SB_LD(offsetof(struct seccomp_data, nr));
	f[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
					     CAPCHAN__X32_BIT,
					     sb_off(pc, SB_KILL), 0);
	pc++;
	/* 4: numbers no one has reviewed */
	f[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
					     CAPCHAN__SANDBOX_NR_UNREVIEWED,
					     sb_off(pc, SB_ENOSYS), 0);
	pc++;
	/* 5-7: the calls decided by an argument; ioctl first, it is hot */
	f[pc] = sb_jeq(pc, __NR_ioctl, SB_CHECK_IOCTL, pc + 1);
	pc++;
	f[pc] = sb_jeq(pc, __NR_socket, SB_CHECK_SOCKET, pc + 1);
	pc++;
	f[pc] = sb_jeq(pc, __NR_utimensat, SB_CHECK_UTIMENSAT, pc + 1);
	pc++;
	/* 8..: refused whatever the arguments */
	for (i = 0; i < CAPCHAN__NREFUSED; i++, pc++)
		f[pc] = sb_jeq(pc, capchan__sandbox_refused[i], SB_EPERM,
			       pc + 1);
	f[pc++] = sb_ret(SECCOMP_RET_ALLOW);

	/* ioctl: the command is an unsigned int, its low half all there is */
	f[pc++] = (struct sock_filter)SB_LD(SB_ARG_LO(1));
	f[pc] = sb_jeq(pc, TIOCSTI, SB_EPERM, pc + 1);
	pc++;
	f[pc] = sb_jeq(pc, TIOCLINUX, SB_EPERM, SB_ALLOW);
	pc++;
	/* socket: the domain is an int, likewise */
	f[pc++] = (struct sock_filter)SB_LD(SB_ARG_LO(0));
	f[pc] = sb_jeq(pc, AF_UNIX, SB_EPERM, SB_ALLOW);
	pc++;
	/* utimensat: a path pointer is all 64 bits; only NULL passes */
	f[pc++] = (struct sock_filter)SB_LD(SB_ARG_LO(1));
	f[pc] = sb_jeq(pc, 0, pc + 1, SB_EPERM);
	pc++;
	f[pc++] = (struct sock_filter)SB_LD(SB_ARG_HI(1));
	f[pc] = sb_jeq(pc, 0, SB_ALLOW, SB_EPERM);
	pc++;

	f[pc++] = sb_ret(SECCOMP_RET_ALLOW);
	f[pc++] = sb_ret(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	f[pc++] = sb_ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	f[pc++] = sb_ret(SECCOMP_RET_KILL_PROCESS);
	return pc;
}

#else	/* not the x86-64 ABI */

unsigned capchan__sandbox_filter(struct sock_filter *f)
{
	(void)f;
	return 0;
}

#endif

int capchan_sandbox_enter(unsigned int flags)
{
	struct sock_filter f[CAPCHAN__SANDBOX_MAX_INSNS];
	struct sock_fprog prog;
	int saved_errno, ret = 0;

	if (flags)
		return -EINVAL;
	prog.len = (unsigned short)capchan__sandbox_filter(f);
	prog.filter = f;
	if (!prog.len)
		return -EOPNOTSUPP;

	saved_errno = errno;
	/* what lets an unprivileged process install a filter at all */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		ret = -errno;
	/*
	 * TSYNC: every thread of the process, not only this one, or a thread
	 * started earlier would keep full access.  TSYNC_ESRCH: a thread that
	 * cannot be synchronised is -ESRCH rather than its thread id.
	 */
	else if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_TSYNC |
			 SECCOMP_FILTER_FLAG_TSYNC_ESRCH, &prog))
		ret = -errno;
	errno = saved_errno;
	return ret;
}
