// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The capability-only sandbox on the host: the seccomp program is checked
 * the way the kernel checks one and run by a small interpreter over every
 * system call number, and a forked child enters the real thing (seccomp
 * needs no module): paths are refused with EPERM, descriptors still work,
 * threads started earlier are covered, foreign ABIs are killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include "fake.h"
#include "sandbox.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2		452
#endif
#ifndef __NR_statmount
#define __NR_statmount		457
#endif
#ifndef __NR_listmount
#define __NR_listmount		458
#endif

#define N_ELEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define RET_EPERM	(SECCOMP_RET_ERRNO | EPERM)
#define RET_ENOSYS	(SECCOMP_RET_ERRNO | ENOSYS)

/* What the sandbox must refuse whatever the arguments: the spec, kept
 * apart from sandbox.c's own list on purpose. */
static const struct {
	const char *name;
	int nr;
} refused[] = {
#define R(n) { #n, __NR_##n }
	R(open), R(openat), R(openat2), R(creat), R(open_by_handle_at),
	R(name_to_handle_at), R(stat), R(lstat), R(newfstatat), R(statx),
	R(statfs), R(access), R(faccessat), R(faccessat2), R(readlink),
	R(readlinkat), R(getxattr), R(lgetxattr), R(listxattr),
	R(llistxattr), R(mkdir), R(mkdirat), R(mknod), R(mknodat),
	R(unlink), R(unlinkat), R(rmdir), R(rename), R(renameat),
	R(renameat2), R(link), R(linkat), R(symlink), R(symlinkat),
	R(chmod), R(fchmodat), R(fchmodat2), R(chown), R(lchown),
	R(fchownat), R(truncate), R(utime), R(utimes), R(futimesat),
	R(setxattr), R(lsetxattr), R(removexattr), R(lremovexattr),
	R(execve), R(execveat), R(uselib), R(chdir), R(fchdir), R(chroot),
	R(mount), R(umount2), R(pivot_root), R(move_mount), R(open_tree),
	R(fsopen), R(fsconfig), R(fsmount), R(fspick), R(mount_setattr),
	R(statmount), R(listmount), R(inotify_add_watch),
	R(fanotify_mark), R(acct), R(swapon), R(swapoff), R(quotactl),
	R(mq_open), R(mq_unlink), R(io_uring_setup), R(io_uring_enter),
	R(io_uring_register), R(bpf), R(ptrace), R(process_vm_readv),
	R(process_vm_writev), R(pidfd_getfd),
#undef R
};

/* Decided by an argument (below); every other reviewed number is allowed. */
static int decided_by_arg(int nr)
{
	return nr == __NR_ioctl || nr == __NR_socket || nr == __NR_utimensat;
}

static int is_refused(int nr)
{
	size_t i;

	for (i = 0; i < N_ELEMS(refused); i++)
		if (refused[i].nr == nr)
			return 1;
	return 0;
}

static struct sock_filter prog[CAPCHAN__SANDBOX_MAX_INSNS];
static unsigned prog_len;

static void sandbox_setup(void)
{
	memset(prog, 0, sizeof(prog));
	prog_len = capchan__sandbox_filter(prog);
}

/* Run the program over one seccomp_data, as the kernel would. */
static uint32_t run(uint32_t arch, uint32_t nr, const uint64_t args[6])
{
	struct seccomp_data d;

	memset(&d, 0, sizeof(d));
	d.arch = arch;
	d.nr = (int)nr;
	d.instruction_pointer = 0x401000;
	if (args)
		memcpy(d.args, args, sizeof(d.args));
	return cbpf_run(prog, prog_len, &d, prog_len);
}

static uint32_t run_nr(uint32_t nr, uint64_t fill)
{
	uint64_t args[6] = { fill, fill, fill, fill, fill, fill };

	return run(AUDIT_ARCH_X86_64, nr, args);
}

static uint32_t run_arg(uint32_t nr, unsigned n, uint64_t val)
{
	uint64_t args[6] = { 0 };

	args[n] = val;
	return run(AUDIT_ARCH_X86_64, nr, args);
}

/* The kernel's checks for a seccomp program, for the instructions used. */
START_TEST(filter_well_formed)
{
	unsigned pc;

	ck_assert_uint_le(prog_len, CAPCHAN__SANDBOX_MAX_INSNS);
	ck_assert_uint_le(prog_len, BPF_MAXINSNS);
	cbpf_assert_shape(prog, prog_len, sizeof(struct seccomp_data), true);
	/* and it only ever allows, refuses, says ENOSYS or kills */
	for (pc = 0; pc < prog_len; pc++)
		if (prog[pc].code == (BPF_RET | BPF_K))
			ck_assert_msg(prog[pc].k == SECCOMP_RET_ALLOW ||
				      prog[pc].k == RET_EPERM ||
				      prog[pc].k == RET_ENOSYS ||
				      prog[pc].k == SECCOMP_RET_KILL_PROCESS,
				      "instruction %u returns 0x%x", pc,
				      prog[pc].k);
	/* the first thing it looks at is the ABI */
	ck_assert_uint_eq(prog[0].code, BPF_LD | BPF_W | BPF_ABS);
	ck_assert_uint_eq(prog[0].k, offsetof(struct seccomp_data, arch));
}
END_TEST

START_TEST(refuses_every_listed_call)
{
	size_t i;

	for (i = 0; i < N_ELEMS(refused); i++) {
		ck_assert_msg(run_nr(refused[i].nr, 0) == RET_EPERM,
			      "%s (%d) not refused", refused[i].name,
			      refused[i].nr);
		ck_assert_msg(run_nr(refused[i].nr, ~0ULL) == RET_EPERM,
			      "%s (%d) not refused with other arguments",
			      refused[i].name, refused[i].nr);
	}
}
END_TEST

/* Everything else reviewed runs untouched: the sandbox must not break
 * read, write, mmap, the capchan ioctls... */
START_TEST(allows_every_other_call)
{
	int nr;

	for (nr = 0; nr < CAPCHAN__SANDBOX_NR_UNREVIEWED; nr++) {
		if (is_refused(nr) || decided_by_arg(nr))
			continue;
		ck_assert_msg(run_nr(nr, 0) == SECCOMP_RET_ALLOW, "nr %d", nr);
		ck_assert_msg(run_nr(nr, ~0ULL) == SECCOMP_RET_ALLOW, "nr %d",
			      nr);
	}
	/* spot checks of what a capchan sandbox lives on */
	ck_assert_uint_eq(run_nr(__NR_read, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_pread64, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_write, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_mmap, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_fstat, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_close, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_exit_group, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_memfd_create, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_socketpair, AF_UNIX), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_nr(__NR_seccomp, 0), SECCOMP_RET_ALLOW);
}
END_TEST

START_TEST(unreviewed_numbers_enosys)
{
	uint32_t nr;

	for (nr = CAPCHAN__SANDBOX_NR_UNREVIEWED; nr < 2048; nr++)
		ck_assert_msg(run_nr(nr, 0) == RET_ENOSYS, "nr %u", nr);
	ck_assert_uint_eq(run_nr(0x3fffffff, 0), RET_ENOSYS);
	/* bit 31 alone is no ABI: as unknown as any */
	ck_assert_uint_eq(run_nr(0x80000000u, 0), RET_ENOSYS);
}
END_TEST

START_TEST(foreign_abis_killed)
{
	static const uint32_t arches[] = {
		AUDIT_ARCH_I386, 0, AUDIT_ARCH_X86_64 ^ 1, AUDIT_ARCH_AARCH64,
		AUDIT_ARCH_X86_64 & ~__AUDIT_ARCH_64BIT,
	};
	static const uint32_t nrs[] = {
		__NR_read, __NR_write, __NR_openat, __NR_ioctl, 11, 5,
	};
	size_t i, j;

	for (i = 0; i < N_ELEMS(arches); i++)
		for (j = 0; j < N_ELEMS(nrs); j++)
			ck_assert_msg(run(arches[i], nrs[j], NULL) ==
				      SECCOMP_RET_KILL_PROCESS,
				      "arch 0x%x nr %u", arches[i], nrs[j]);
	/* x32: the x86-64 arch with bit 30 in the number; -1 has it too */
	ck_assert_uint_eq(run_nr(0x40000000u | __NR_read, 0),
			  SECCOMP_RET_KILL_PROCESS);
	ck_assert_uint_eq(run_nr(0x40000000u | __NR_openat, 0),
			  SECCOMP_RET_KILL_PROCESS);
	ck_assert_uint_eq(run_nr(0x40000000u | 545, 0), /* x32 execve */
			  SECCOMP_RET_KILL_PROCESS);
	ck_assert_uint_eq(run_nr(0xffffffffu, 0), SECCOMP_RET_KILL_PROCESS);
}
END_TEST

START_TEST(argument_decisions)
{
	static const uint64_t hi = 0xffffffff00000000ULL;

	/* ioctl: the terminal injectors, whatever the upper half says */
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, TIOCSTI), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, hi | TIOCSTI), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, TIOCLINUX), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, hi | TIOCLINUX), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, CAPCHAN_IOC_INVOKE),
			  SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, CAPCHAN_IOC_ENTER),
			  SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, CAPCHAN_IOC_GRANT),
			  SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, TCGETS), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 1, FIONREAD), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_ioctl, 0, TIOCSTI), SECCOMP_RET_ALLOW);
	/* socket: AF_UNIX (= AF_LOCAL), also with junk above the int */
	ck_assert_uint_eq(run_arg(__NR_socket, 0, AF_UNIX), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_socket, 0, hi | AF_UNIX), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_socket, 0, AF_INET), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_socket, 0, AF_INET6), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_socket, 0, AF_NETLINK),
			  SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_socket, 1, AF_UNIX), SECCOMP_RET_ALLOW);
	/* utimensat: only a NULL path, all 64 bits of it */
	ck_assert_uint_eq(run_arg(__NR_utimensat, 1, 0), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_utimensat, 0, ~0ULL), SECCOMP_RET_ALLOW);
	ck_assert_uint_eq(run_arg(__NR_utimensat, 1, 1), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_utimensat, 1, 1ULL << 32), RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_utimensat, 1, 0x7ffc12345678ULL),
			  RET_EPERM);
	ck_assert_uint_eq(run_arg(__NR_utimensat, 1, ~0ULL), RET_EPERM);
}
END_TEST

/* ------------------------------------------------------------ real kernel */

/* Where a forked child reports its first failed check. */
struct report {
	int line;
	long want, got;
};

static struct report *report;

#define CHILD_EQ(expect, actual)					\
	do {								\
		long w_ = (long)(expect), g_ = (long)(actual);		\
		if (w_ != g_) {						\
			report->line = __LINE__;			\
			report->want = w_;				\
			report->got = g_;				\
			_exit(1);					\
		}							\
	} while (0)

/* A raw call as -errno. */
static long sys(long nr, long a, long b, long c, long d)
{
	long ret = syscall(nr, a, b, c, d, 0, 0);

	return ret < 0 ? -errno : ret;
}

/* Run body in a child; its exit status, or 1000 + signal. */
static int in_child(void (*body)(void))
{
	int status;
	pid_t pid;

	report = mmap(NULL, sizeof(*report), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(report, MAP_FAILED);
	memset(report, 0, sizeof(*report));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		body();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	ck_assert_msg(WEXITSTATUS(status) == 0 || report->line == 0,
		      "child: line %d: want %ld, got %ld", report->line,
		      report->want, report->got);
	return WEXITSTATUS(status);
}

/* Seccomp_filters: of /proc/self/status, read through an fd opened before
 * the sandbox (pread at 0 makes the kernel write it anew). */
static long filters_in(int statusfd)
{
	char buf[4096], *p;
	ssize_t n = pread(statusfd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nSeccomp_filters:");
	return p ? strtol(p + 17, NULL, 10) : -1;
}

static int status_fd(void)
{
	return open("/proc/self/status", O_RDONLY | O_CLOEXEC);
}

/* Unknown flags: -EINVAL and nothing happens, errno untouched. */
static void bad_flags_body(void)
{
	int sfd = status_fd();
	long filters = filters_in(sfd);
	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	unsigned bit;
	int fd;

	for (bit = 0; bit < 32; bit++) {
		errno = 4242;
		CHILD_EQ(-EINVAL, capchan_sandbox_enter(1u << bit));
		CHILD_EQ(4242, errno);
	}
	CHILD_EQ(-EINVAL, capchan_sandbox_enter(~0u));
	CHILD_EQ(1, filters >= 0);
	CHILD_EQ(filters, filters_in(sfd));
	CHILD_EQ(nnp, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	fd = open("/etc/passwd", O_RDONLY);
	CHILD_EQ(1, fd >= 0);
}

START_TEST(bad_flags)
{
	ck_assert_int_eq(in_child(bad_flags_body), 0);
}
END_TEST

static void enter_body(void)
{
	char buf[8];
	int sfd = status_fd();
	long filters = filters_in(sfd);
	int p[2], fd;
	struct stat st;

	CHILD_EQ(0, pipe(p));
	fd = open("/etc/passwd", O_RDONLY);
	CHILD_EQ(1, fd >= 0);

	errno = 4242;
	CHILD_EQ(0, capchan_sandbox_enter(0));
	CHILD_EQ(4242, errno);		/* success leaves errno alone */
	CHILD_EQ(1, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

	/* paths: refused, by the kernel's own call and by libc's open */
	CHILD_EQ(-EPERM, sys(__NR_open, (long)"/etc/passwd", O_RDONLY, 0, 0));
	CHILD_EQ(-EPERM, sys(__NR_openat, AT_FDCWD, (long)"/etc/passwd",
			     O_RDONLY, 0));
	CHILD_EQ(-1, open("/etc/passwd", O_RDONLY));
	CHILD_EQ(EPERM, errno);
	CHILD_EQ(-EPERM, sys(__NR_newfstatat, fd, (long)"", (long)&st,
			     AT_EMPTY_PATH));
	CHILD_EQ(-EPERM, sys(__NR_socket, AF_UNIX, SOCK_STREAM, 0, 0));
	/* unreviewed numbers */
	CHILD_EQ(-ENOSYS, sys(CAPCHAN__SANDBOX_NR_UNREVIEWED, 0, 0, 0, 0));

	/* descriptors: still there */
	CHILD_EQ(3, write(p[1], "abc", 3));
	CHILD_EQ(3, read(p[0], buf, sizeof(buf)));
	CHILD_EQ(0, memcmp(buf, "abc", 3));
	CHILD_EQ(4, pread(fd, buf, 4, 0));
	CHILD_EQ(0, memcmp(buf, "root", 4));
	CHILD_EQ(0, sys(__NR_fstat, fd, (long)&st, 0, 0));
	CHILD_EQ(1, S_ISREG(st.st_mode));
	CHILD_EQ(0, close(fd));

	/* exactly one filter more */
	CHILD_EQ(1, filters >= 0);
	CHILD_EQ(filters + 1, filters_in(sfd));
}

START_TEST(enter_in_child)
{
	ck_assert_int_eq(in_child(enter_body), 0);
}
END_TEST

/* Foreign ABIs: killed with SIGSYS, not refused. */
static void x32_body(void)
{
	CHILD_EQ(0, capchan_sandbox_enter(0));
	syscall(0x40000000L | __NR_getpid);
	CHILD_EQ(0, 1);			/* not reached */
}

static long int80_getpid(void)
{
	long ret = 20;			/* i386 getpid */

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return ret;
}

static void int80_body(void)
{
	CHILD_EQ(0, capchan_sandbox_enter(0));
	int80_getpid();
	CHILD_EQ(0, 1);
}

static void int80_probe_body(void)
{
	CHILD_EQ(getpid(), int80_getpid());
}

START_TEST(foreign_abis_die)
{
	ck_assert_int_eq(in_child(x32_body), 1000 + SIGSYS);
	/* i386 only where the kernel runs it at all */
	if (in_child(int80_probe_body) == 0)
		ck_assert_int_eq(in_child(int80_body), 1000 + SIGSYS);
}
END_TEST

/* A thread started before the call is sandboxed too (TSYNC). */
static int go[2], done[2];

static void *early_thread(void *arg)
{
	char c;
	long ret;

	(void)arg;
	if (read(go[0], &c, 1) != 1)
		return NULL;
	ret = sys(__NR_openat, AT_FDCWD, (long)"/etc/passwd", O_RDONLY, 0);
	if (write(done[1], &ret, sizeof(ret)) != sizeof(ret))
		return NULL;
	return NULL;
}

static void threads_body(void)
{
	pthread_t t;
	long ret = 0;

	CHILD_EQ(0, pipe(go));
	CHILD_EQ(0, pipe(done));
	CHILD_EQ(0, pthread_create(&t, NULL, early_thread, NULL));
	CHILD_EQ(0, capchan_sandbox_enter(0));
	CHILD_EQ(1, write(go[1], "g", 1));
	CHILD_EQ(sizeof(ret), read(done[0], &ret, sizeof(ret)));
	CHILD_EQ(-EPERM, ret);
	CHILD_EQ(0, pthread_join(t, NULL));
}

START_TEST(earlier_threads)
{
	ck_assert_int_eq(in_child(threads_body), 0);
}
END_TEST

/*
 * A thread with a filter of its own cannot be synchronised: the call
 * fails with -ESRCH (not a thread id), errno untouched, and nothing is
 * installed on anyone.
 */
static void *own_filter_thread(void *arg)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog p = { .len = 1, .filter = &allow };
	char c;

	(void)arg;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p))
		return (void *)1;
	if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
		return (void *)1;
	return NULL;
}

static void tsync_body(void)
{
	pthread_t t;
	int sfd = status_fd();
	long filters = filters_in(sfd);
	void *tret;
	char c;
	int fd;

	CHILD_EQ(0, pipe(go));
	CHILD_EQ(0, pipe(done));
	CHILD_EQ(0, pthread_create(&t, NULL, own_filter_thread, NULL));
	CHILD_EQ(1, read(done[0], &c, 1));
	errno = 4242;
	CHILD_EQ(-ESRCH, capchan_sandbox_enter(0));
	CHILD_EQ(4242, errno);
	/* the thread's filter is not the caller's */
	CHILD_EQ(filters, filters_in(sfd));
	fd = open("/etc/passwd", O_RDONLY);
	CHILD_EQ(1, fd >= 0);
	CHILD_EQ(1, write(go[1], "g", 1));
	CHILD_EQ(0, pthread_join(t, &tret));
	CHILD_EQ(0, (long)tret);
}

START_TEST(tsync_failure)
{
	ck_assert_int_eq(in_child(tsync_body), 0);
}
END_TEST

Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("filter");
	TCase *live = tcase_create("live");

	tcase_add_checked_fixture(tc, sandbox_setup, NULL);
	tcase_add_test(tc, filter_well_formed);
	tcase_add_test(tc, refuses_every_listed_call);
	tcase_add_test(tc, allows_every_other_call);
	tcase_add_test(tc, unreviewed_numbers_enosys);
	tcase_add_test(tc, foreign_abis_killed);
	tcase_add_test(tc, argument_decisions);
	suite_add_tcase(s, tc);

	/* valgrind has no seccomp(2): make check runs these without it */
	tcase_set_tags(live, "seccomp");
	tcase_add_test(live, bad_flags);
	tcase_add_test(live, enter_in_child);
	tcase_add_test(live, foreign_abis_die);
	tcase_add_test(live, earlier_threads);
	tcase_add_test(live, tsync_failure);
	suite_add_tcase(s, live);
	return s;
}
