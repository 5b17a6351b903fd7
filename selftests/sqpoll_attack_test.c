// SPDX-License-Identifier: GPL-2.0
/*
 * The poll thread (CAPCHAN_SETUP_SQPOLL) under attack: SQEs that point the
 * thread's user copies at kernel addresses, at memory the SETUP process
 * unmapped or may only read, and at a capchan mapping revoked meanwhile;
 * signals sent to the thread; what its caller can do to the thread itself
 * (move it out of the caller's cpuset, follow its /proc links out of a
 * chroot).  Each test asserts the defended behaviour: the op fails with
 * EFAULT, nothing is written where it must not be, the thread goes on
 * serving the channel, and its caller has no owner's rights over it.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/resource.h>

#define CQ_WAIT_MS	3000
#define RMAP		(R_READ | R_WRITE | R_MMAP | R_DELEGATE)

static long pg;

/* Wait (bounded) until a CQE is there; 0, or -ETIMEDOUT. */
static int cq_wait(struct capchan *ch)
{
	return cc_cq_wait(ch, CQ_WAIT_MS);
}

/* Submit the SQEs prepared so far (one): its result, or INT_MIN. */
static int complete1(struct capchan *ch)
{
	struct capchan_cqe *cqe;
	int res;

	if (capchan_submit(ch) != 1 || cq_wait(ch) || capchan_peek_cqe(ch, &cqe))
		return INT_MIN;
	res = cqe->res;
	capchan_cqe_seen(ch, cqe);
	return res;
}

static int sq_read(struct capchan *ch, uint32_t h, void *buf, unsigned int len,
		   uint64_t off)
{
	struct capchan_sqe *sqe = capchan_get_sqe(ch);

	if (!sqe)
		return INT_MIN;
	capchan_prep_read(sqe, h, buf, len, off);
	return complete1(ch);
}

static int sq_write(struct capchan *ch, uint32_t h, const void *buf,
		    unsigned int len, uint64_t off)
{
	struct capchan_sqe *sqe = capchan_get_sqe(ch);

	if (!sqe)
		return INT_MIN;
	capchan_prep_write(sqe, h, buf, len, off);
	return complete1(ch);
}

static int sq_stat(struct capchan *ch, uint32_t h, struct capchan_stat *st)
{
	struct capchan_sqe *sqe = capchan_get_sqe(ch);

	if (!sqe)
		return INT_MIN;
	capchan_prep_stat(sqe, h, st);
	return complete1(ch);
}

FIXTURE(sqa) {
	struct cc_tree t;
	struct capchan ch;
	int dh;			/* the jail, every right */
	int fh;			/* jail/file: READ, SEEK, STAT */
};

FIXTURE_SETUP(sqa)
{
	struct capchan_params p;

	pg = sysconf(_SC_PAGESIZE);
	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "sqatk"));
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	p.sq_thread_idle = 10;
	ASSERT_EQ(0, capchan_queue_init_params(16, &self->ch, &p));
	self->dh = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, self->dh);
	self->fh = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0,
					R_READ | R_SEEK | R_STAT);
	ASSERT_LT(0, self->fh);
}

FIXTURE_TEARDOWN(sqa)
{
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* The thread's copies are user copies: a kernel address is EFAULT. */
TEST_F_TIMEOUT(sqa, kernel_addresses, 60)
{
	static void *const bad[] = {
		(void *)0xffff888000000000UL,	/* the direct map */
		(void *)0xffffffff81000000UL,	/* kernel text */
		(void *)-4096L,
		(void *)0x800000000000UL,	/* just past user space */
		NULL,
	};
	struct capchan_stat st;
	char buf[64];

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, bad[i], 64, 0))
			TH_LOG("address %p", bad[i]);
		EXPECT_EQ(-EFAULT, sq_stat(&self->ch, self->fh, bad[i]))
			TH_LOG("address %p", bad[i]);
	}
	/* and the thread is fine */
	EXPECT_EQ(64, sq_read(&self->ch, self->fh, buf, 64, 100));
	EXPECT_EQ(0, memcmp(buf, self->t.data + 100, 64));
	EXPECT_EQ(0, sq_stat(&self->ch, self->fh, &st));
	EXPECT_EQ(CC_FILE_LEN, st.size);
}

/*
 * Memory the SETUP process unmapped, or may only read: the thread has no
 * more rights in the address space than the process.
 */
TEST_F_TIMEOUT(sqa, unmapped_and_readonly_buffers, 60)
{
	unsigned char *p, *ro;

	p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, 2 * pg));
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, p, 64, 0));
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, p + pg, 64, 0));

	ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, ro, 64, 0));
	for (long i = 0; i < pg; i++) {
		ASSERT_EQ(0, ro[i]);
	}
	ASSERT_EQ(0, mprotect(ro, pg, PROT_NONE));
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, ro, 64, 0));
	EXPECT_EQ(0, munmap(ro, pg));
}

/*
 * A READ into a capchan mapping writes the mapped file through the
 * mapping while the capability lives; once it is revoked the thread
 * faults like the process would (EFAULT), reading from it as well, and
 * the mapped file keeps what it had.
 */
TEST_F_TIMEOUT(sqa, revoked_mapping_as_buffer, 60)
{
	unsigned char *want, *got, *p = NULL;
	int fd, g, a;

	want = calloc(1, 2 * pg);
	got = calloc(1, 2 * pg);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "mapped", want, 2 * pg, 0644));
	fd = openat(self->t.jail_fd, "mapped", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	g = capchan_grant(&self->ch, fd, RMAP | R_DERIVE | R_REVOKE | R_SEEK);
	ASSERT_LT(0, g);
	a = capchan_derive(&self->ch, g, RMAP | R_SEEK);
	ASSERT_LT(0, a);
	ASSERT_EQ(0, capchan_mmap(&self->ch, a, 2 * pg, PROT_READ | PROT_WRITE,
				  MAP_SHARED, 0, (void **)&p));

	/* live: the thread's READ lands in the mapped file */
	EXPECT_EQ(100, sq_read(&self->ch, self->fh, p + 10, 100, 0));
	memcpy(want + 10, self->t.data, 100);
	ASSERT_EQ(2 * pg, pread(fd, got, 2 * pg, 0));
	EXPECT_EQ(0, memcmp(want, got, 2 * pg));

	EXPECT_EQ(2, capchan_revoke(&self->ch, g));
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, p + pg, 100, 200));
	EXPECT_EQ(-EFAULT, sq_read(&self->ch, self->fh, p, 100, 200));
	/* from it: the root g writes, but cannot read the revoked mapping */
	EXPECT_EQ(-EFAULT, sq_write(&self->ch, g, p, 100, pg));
	ASSERT_EQ(2 * pg, pread(fd, got, 2 * pg, 0));
	EXPECT_EQ(0, memcmp(want, got, 2 * pg));
	EXPECT_EQ(0, munmap(p, 2 * pg));

	/* the thread goes on */
	EXPECT_EQ(100, sq_read(&self->ch, self->fh, got, 100, 0));
	EXPECT_EQ(0, memcmp(got, self->t.data, 100));
	close(fd);
	free(want);
	free(got);
}

/*
 * Root may signal the thread (its caller may not: no_owner_rights_over_thread):
 * SIGSTOP and SIGKILL must neither stop nor kill it.
 */
TEST_F_TIMEOUT(sqa, signals_do_not_stop_the_thread, 60)
{
	int err;
	long long pid = cc_fdinfo_value(self->ch.fd, "sq-thread-pid", &err);
	char buf[16];

	ASSERT_EQ(0, err);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, kill((pid_t)pid, SIGSTOP));
	EXPECT_EQ(0, kill((pid_t)pid, SIGKILL));
	EXPECT_EQ(0, kill((pid_t)pid, SIGTERM));
	usleep(50000);
	EXPECT_EQ(16, sq_read(&self->ch, self->fh, buf, 16, 0));
	EXPECT_EQ(0, memcmp(buf, self->t.data, 16));
	EXPECT_EQ(pid, cc_fdinfo_value(self->ch.fd, "sq-thread-pid", &err));
}

/* ---- CPU placement -------------------------------------------------------- */

#define CGROOT		"/sys/fs/cgroup"
#define CG		CGROOT "/capchan-sqatk"

/* Cpus_allowed_list of a task, "" if unreadable. */
static void cpus_allowed(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			char *v = line + 18;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(out, len, "%s", v);
		}
	}
	fclose(f);
}

/*
 * In a cpuset of CPU 0 only, as an unprivileged user: SETUP makes an
 * unpinned thread on CPU 0 and refuses SQ_AFF to CPU 1; the user then must
 * not be able to move the thread, whose credentials are its own, to CPU 1
 * with sched_setaffinity() (the kernel thread is in no cpuset of the
 * user's). Exit codes: 0, or the step that failed.
 */
static int confined_child(void)
{
	struct capchan_params p;
	struct capchan ch;
	char buf[32], mask[64];
	cpu_set_t set;
	long long tid;
	int err;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (cc_write_str(CG "/cgroup.procs", buf))
		return 10;
	if (cc_become(65534, 65534))
		return 11;
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) != 1 ||
	    !CPU_ISSET(0, &set))
		return 12;
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF;
	p.sq_thread_cpu = 1;
	if (capchan_queue_init_params(8, &ch, &p) != -EINVAL)
		return 13;
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	if (capchan_queue_init_params(8, &ch, &p))
		return 14;
	tid = cc_fdinfo_value(ch.fd, "sq-thread-pid", &err);
	if (err || tid <= 0)
		return 15;
	/* an op done: the thread runs as its caller by now */
	{
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		capchan_prep_nop(sqe);
		if (complete1(&ch) != 0)
			return 21;
	}
	cpus_allowed((pid_t)tid, mask, sizeof(mask));
	if (strcmp(mask, "0"))
		return 16;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CPU_SET(1, &set);
	if (sched_setaffinity((pid_t)tid, sizeof(set), &set) != -1)
		return 17;
	if (errno != EINVAL)
		return 18;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	if (sched_setaffinity((pid_t)tid, sizeof(set), &set) != -1)
		return 19;
	cpus_allowed((pid_t)tid, mask, sizeof(mask));
	if (strcmp(mask, "0"))
		return 20;
	capchan_queue_exit(&ch);
	return 0;
}

TEST(thread_stays_in_callers_cpuset)
{
	pid_t pid;
	int st;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU");
	if (mount("none", CGROOT, "cgroup2", 0, NULL) && errno != EBUSY)
		SKIP(return, "no cgroup2: %s", strerror(errno));
	if (cc_write_str(CGROOT "/cgroup.subtree_control", "+cpuset"))
		SKIP(return, "no cpuset controller");
	ASSERT_TRUE(!mkdir(CG, 0755) || errno == EEXIST);
	ASSERT_EQ(0, cc_write_str(CG "/cpuset.cpus", "0"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(confined_child());
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	/* the thread is gone with the channel: the cgroup empties */
	for (int i = 0; i < 100 && rmdir(CG); i++)
		usleep(10000);
	EXPECT_EQ(-1, access(CG, F_OK));
	cc_write_str(CGROOT "/cgroup.subtree_control", "-cpuset");
}

/* ---- the thread's /proc links ------------------------------------------------ */

/*
 * In a chroot, as an unprivileged user: the thread's /proc/<tid>/root,
 * cwd and ns links lead to the kernel threads' root and namespaces, the
 * system's, outside the jail.  The caller must not pass
 * ptrace_may_access() for the thread (which runs ops as the caller, but
 * is not the caller's to inspect).  Exit codes: 0, or the step that
 * failed; 30+ for a path that did escape.
 */
/* Can the caller follow the thread's /proc links?  0, or the exit code. */
static int thread_links_closed(long long tid, const char *secret)
{
	char path[PATH_MAX + 64], buf[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/root%s", tid, secret);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		return n > 0 && !strncmp(buf, CC_SECRET, n) ? 30 : 31;
	}
	if (errno != EACCES)
		return 15;
	snprintf(path, sizeof(path), "/proc/%lld/root/", tid);
	if (!stat(path, &st))
		return 32;
	if (errno != EACCES)
		return 16;
	snprintf(path, sizeof(path), "/proc/%lld/cwd/", tid);
	if (!stat(path, &st))
		return 33;
	if (errno != EACCES)
		return 17;
	snprintf(path, sizeof(path), "/proc/%lld/ns/mnt", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 34;
	}
	if (errno != EACCES)
		return 18;
	return 0;
}

/*
 * The same while the thread is inside a batch (its mm the caller's): a
 * READ of jail/file into a userfaultfd page waits in the thread's copy
 * until the page is supplied.  With the caller's credentials committed
 * as the thread's own, this is when the links opened.  0, or 40+.
 */
static int links_closed_in_batch(struct capchan *ch, struct cc_uffd_page *u,
				 long long tid, const char *secret)
{
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	int fd, h, ret;

	fd = open("/file", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 40;
	h = capchan_grant(ch, fd, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	close(fd);
	if (h <= 0)
		return 41;
	sqe = capchan_get_sqe(ch);
	capchan_prep_read(sqe, h, u->mem, 64, 0);
	if (capchan_submit(ch) != 1 || cc_uffd_wait_fault(u))
		return 42;
	ret = thread_links_closed(tid, secret);
	if (cc_uffd_supply(u, 0) || cq_wait(ch) || capchan_peek_cqe(ch, &cqe))
		return 43;
	if (cqe->res != 64)
		return 44;
	capchan_cqe_seen(ch, cqe);
	return ret;
}

static int jailed_child(const char *jail, const char *secret,
			const struct stat *realroot)
{
	struct cc_uffd_page u;
	struct capchan_params p;
	struct capchan ch;
	struct stat st;
	long long tid;
	int err;

	/* as root: a kernel-mode fault needs it, nobody then uses it */
	if (cc_uffd_page_init(&u))
		return 9;
	if (chroot(jail) || chdir("/"))
		return 10;
	if (cc_become(65534, 65534))
		return 11;
	/* the jail holds neither the secret nor the real root */
	if (!access(secret, F_OK) || stat("/", &st) ||
	    (st.st_dev == realroot->st_dev && st.st_ino == realroot->st_ino))
		return 12;
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	if (capchan_queue_init_params(8, &ch, &p))
		return 13;
	tid = cc_fdinfo_value(ch.fd, "sq-thread-pid", &err);
	if (err || tid <= 0)
		return 14;
	/* an op done: the thread runs as its caller by now */
	{
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		capchan_prep_nop(sqe);
		if (complete1(&ch) != 0)
			return 20;
	}

	err = thread_links_closed(tid, secret);
	if (err)
		return err;
	err = links_closed_in_batch(&ch, &u, tid, secret);
	if (err)
		return err;
	/* the thread still works for its caller */
	{
		struct capchan_sqe *sqe = capchan_get_sqe(&ch);

		capchan_prep_nop(sqe);
		if (complete1(&ch) != 0)
			return 19;
	}
	capchan_queue_exit(&ch);
	return 0;
}

TEST_F_TIMEOUT(sqa, proc_links_of_thread_closed, 60)
{
	char jail[PATH_MAX + 16], sub[PATH_MAX + 32], secret[PATH_MAX + 16];
	struct stat realroot;
	pid_t pid;
	int st, fd;

	ASSERT_EQ(0, stat("/", &realroot));
	snprintf(secret, sizeof(secret), "%s/secret", self->t.base);
	snprintf(jail, sizeof(jail), "%s/chroot", self->t.base);
	ASSERT_EQ(0, mkdir(jail, 0755));
	snprintf(sub, sizeof(sub), "%s/proc", jail);
	ASSERT_EQ(0, mkdir(sub, 0755));
	ASSERT_EQ(0, mount("proc", sub, "proc", 0, NULL));
	snprintf(sub, sizeof(sub), "%s/file", jail);
	fd = open(sub, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(64, write(fd, self->t.data, 64));
	close(fd);
	snprintf(sub, sizeof(sub), "%s/dev", jail);
	ASSERT_EQ(0, mkdir(sub, 0755));
	snprintf(sub, sizeof(sub), "%s/dev/capchan", jail);
	fd = open(sub, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, mount("/dev/capchan", sub, NULL, MS_BIND, NULL));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(jailed_child(jail, secret, &realroot));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));

	EXPECT_EQ(0, umount2(sub, MNT_DETACH));
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/file", jail);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/dev", jail);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/proc", jail);
	EXPECT_EQ(0, umount2(sub, MNT_DETACH));
	rmdir(sub);
	rmdir(jail);
}

/*
 * What an owner may do to a task of its own (signal it, read its rlimits,
 * lower its priority or move it to SCHED_IDLE) its caller may not do to
 * the thread: the thread's own credentials are the kernel's, the caller's
 * are only its subjective ones inside a batch.  Each call must fail with
 * EPERM, idle and while a READ into a userfaultfd page holds the thread
 * inside a batch.  0, or the step that failed (+10 inside a batch).
 */
static int owner_rights_refused(pid_t tid)
{
	struct sched_param sp = { .sched_priority = 0 };
	struct rlimit rl;

	errno = 0;
	if (kill(tid, 0) != -1 || errno != EPERM)
		return 1;
	if (kill(tid, SIGKILL) != -1 || errno != EPERM)
		return 2;
	if (prlimit(tid, RLIMIT_NOFILE, NULL, &rl) != -1 || errno != EPERM)
		return 3;
	if (setpriority(PRIO_PROCESS, tid, 19) != -1 || errno != EPERM)
		return 4;
	if (sched_setscheduler(tid, SCHED_IDLE, &sp) != -1 || errno != EPERM)
		return 5;
	return 0;
}

static int unowned_child(int jail_fd)
{
	struct cc_uffd_page u;
	struct capchan_params p;
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	struct capchan ch;
	long long tid;
	int err, fd, h, ret;

	/* as root: a kernel-mode fault needs it, nobody then uses it */
	if (cc_uffd_page_init(&u))
		return 30;
	fd = openat(jail_fd, "file", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 31;
	if (cc_become(65534, 65534))
		return 32;
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	if (capchan_queue_init_params(8, &ch, &p))
		return 33;
	tid = cc_fdinfo_value(ch.fd, "sq-thread-pid", &err);
	if (err || tid <= 0)
		return 34;
	h = capchan_grant(&ch, fd, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	close(fd);
	if (h <= 0)
		return 35;
	sqe = capchan_get_sqe(&ch);
	capchan_prep_nop(sqe);
	if (complete1(&ch) != 0)
		return 36;
	ret = owner_rights_refused((pid_t)tid);
	if (ret)
		return ret;
	sqe = capchan_get_sqe(&ch);
	capchan_prep_read(sqe, h, u.mem, 64, 0);
	if (capchan_submit(&ch) != 1 || cc_uffd_wait_fault(&u))
		return 37;
	ret = owner_rights_refused((pid_t)tid);
	if (cc_uffd_supply(&u, 0) || cq_wait(&ch) || capchan_peek_cqe(&ch, &cqe))
		return 38;
	if (cqe->res != 64)
		return 39;
	capchan_cqe_seen(&ch, cqe);
	if (ret)
		return ret + 10;
	capchan_queue_exit(&ch);
	return 0;
}

TEST_F_TIMEOUT(sqa, no_owner_rights_over_thread, 60)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(unowned_child(self->t.jail_fd));
	/* 1..5 idle, 11..15 in a batch: that call was not EPERM */
	EXPECT_EQ(0, cc_wait_child(pid));
}

/*
 * STAT through the poll thread shows ids in its SETUP caller's user
 * namespace, as ENTER does (the thread's own credentials are the initial
 * namespace's): a child where host root is 1000 sees 1000 for root's
 * file through both channels, made in that namespace.
 */
TEST_F_TIMEOUT(sqa, userns_stat_same_as_enter, 60)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct capchan_params p;
		struct capchan_stat st[2];
		struct capchan_sqe *sqe;
		struct capchan sq, en;
		int fd, hs, he;

		if (unshare(CLONE_NEWUSER))
			_exit(99);
		fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1000 0 1", 8) != 8)
			_exit(10);
		close(fd);
		memset(&p, 0, sizeof(p));
		p.flags = CAPCHAN_SETUP_SQPOLL;
		if (capchan_queue_init_params(8, &sq, &p) ||
		    capchan_queue_init(8, &en, 0))
			_exit(11);
		fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(12);
		hs = capchan_grant(&sq, fd, CAPCHAN_RIGHT_STAT);
		he = capchan_grant(&en, fd, CAPCHAN_RIGHT_STAT);
		if (hs <= 0 || he <= 0)
			_exit(13);
		memset(st, 0, sizeof(st));
		if (sq_stat(&sq, hs, &st[0]) != 0)
			_exit(14);
		sqe = capchan_get_sqe(&en);
		capchan_prep_stat(sqe, he, &st[1]);
		if (complete1(&en) != 0)
			_exit(15);
		if (st[1].uid != 1000)
			_exit(1);	/* ENTER: not the caller's view */
		if (st[0].uid != 1000)
			_exit(2);	/* the poll thread: not the caller's */
		if (st[0].gid != st[1].gid || st[0].ino != st[1].ino)
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
}

TEST_HARNESS_MAIN
