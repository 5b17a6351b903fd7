// SPDX-License-Identifier: GPL-2.0
/*
 * The poll thread (CAPCHAN_SETUP_SQPOLL): SQEs consumed by a kernel thread
 * across many idle sleeps and wake-ups with no CQE lost or duplicated,
 * READs into the SETUP process's buffers, linked chains, fdinfo counters,
 * close while busy, fork, execve of the SETUP process, bad input and the
 * per-user limit.  Every wait for a CQE is bounded (CQ_WAIT_MS): a lost
 * wake-up fails an assertion instead of hanging.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* how long any CQE may take; a sleeping thread nobody woke takes forever */
#define CQ_WAIT_MS	3000
#define EXEC_ENV	"CAPCHAN_SQPOLL_EXEC_FD"

/*
 * ENTER(SQ_WAKEUP) until it fails; its errno, or 0 if it never did within
 * CQ_WAIT_MS.  The poll thread holds the old address space from its batch
 * until it has posted the batch's CQEs and let go: a moment after the
 * exec, ENTER still finds a user of it (and wakes the thread, which then
 * finds it gone).
 */
static int sqpoll_enter_fails(int fd)
{
	struct capchan_enter e;
	int i;

	for (i = 0; i < CQ_WAIT_MS; i++) {
		memset(&e, 0, sizeof(e));
		e.flags = CAPCHAN_ENTER_SQ_WAKEUP;
		if (ioctl(fd, CAPCHAN_IOC_ENTER, &e) == -1)
			return errno;
		usleep(1000);
	}
	return 0;
}

/*
 * After execve() of the process that set the channel up (see
 * exec_of_setup_process): its address space is gone, so ENTER says
 * -EOWNERDEAD, INVOKE still works.  Runs before the harness's main().
 */
__attribute__((constructor)) static void sqpoll_exec_child(void)
{
	const char *env = getenv(EXEC_ENV);
	struct capchan_enter e;
	struct capchan_sqe s;
	int fd;

	if (!env)
		return;
	fd = atoi(env);
	if (sqpoll_enter_fails(fd) != EOWNERDEAD)
		_exit(20);
	memset(&e, 0, sizeof(e));
	e.to_submit = 1;
	if (ioctl(fd, CAPCHAN_IOC_ENTER, &e) != -1 || errno != EOWNERDEAD)
		_exit(21);
	memset(&s, 0, sizeof(s));
	if (ioctl(fd, CAPCHAN_IOC_INVOKE, &s) != 0)
		_exit(22);
	_exit(0);
}

/* SETUP with a poll thread through the library; 0 or -errno. */
static int sq_init(struct capchan *ch, unsigned int entries, unsigned int flags,
		   unsigned int idle_ms, unsigned int cpu)
{
	struct capchan_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	p.sq_thread_idle = idle_ms;
	p.sq_thread_cpu = cpu;
	return capchan_queue_init_params(entries, ch, &p);
}

/* Raw SETUP on a fresh channel: the errno, with nothing left behind. */
static int raw_setup(unsigned int flags, unsigned int cpu, unsigned int idle)
{
	struct capchan_params p;
	int fd = cc_open_dev(), ret;

	if (fd < 0)
		return fd;
	memset(&p, 0, sizeof(p));
	p.sq_entries = 8;
	p.flags = flags;
	p.sq_thread_cpu = cpu;
	p.sq_thread_idle = idle;
	ret = cc_ioctl(fd, CAPCHAN_IOC_SETUP, &p);
	close(fd);
	return ret;
}

static long long fdinfo(const struct capchan *ch, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(ch->fd, key, &err);

	return err ? err : v;
}

/*
 * The thread adds a batch to sq-thread-ops after the batch's CQEs are
 * posted, so a reaper can see a CQE before the count: wait (bounded) for
 * the count to reach want, and return what it is then.
 */
static long long thread_ops(const struct capchan *ch, long long want)
{
	double end = cc_now() + CQ_WAIT_MS / 1000.0;
	long long v;

	while ((v = fdinfo(ch, "sq-thread-ops")) != want && cc_now() < end)
		usleep(1000);
	return v;
}

/* Wait (bounded) until a CQE is there; 0, or -ETIMEDOUT. */
static int cq_wait(struct capchan *ch)
{
	return cc_cq_wait(ch, CQ_WAIT_MS);
}

/*
 * Has the thread gone to sleep (NEED_WAKEUP set)?  Waits up to 2 s, then
 * a little more: the flag comes just before the thread's last look at the
 * SQ and its sleep count.
 */
static bool thread_asleep(const struct capchan *ch)
{
	double end = cc_now() + 2;

	while (cc_now() < end) {
		if (__atomic_load_n(ch->sq.kflags, __ATOMIC_ACQUIRE) &
		    CAPCHAN_SQ_NEED_WAKEUP) {
			usleep(20000);
			return true;
		}
		usleep(1000);
	}
	return false;
}

FIXTURE(sqpoll) {
	struct cc_tree t;
	struct capchan ch;
	long long saved_limit;
};

FIXTURE_SETUP(sqpoll)
{
	self->ch.fd = -1;
	self->saved_limit = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "sqpoll"));
}

FIXTURE_TEARDOWN(sqpoll)
{
	char buf[32];

	if (self->saved_limit >= 0) {
		snprintf(buf, sizeof(buf), "%lld", self->saved_limit);
		cc_write_str("/sys/module/capchan/parameters/max_user_sqpoll", buf);
	}
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

#define NOPS		100000
#define PAUSE_EVERY	1000

/*
 * 100,000 NOPs through the library, a pause every 1000 so the thread (idle
 * 2 ms) sleeps about 100 times and must be woken each time; INVOKE NOPs in
 * between.  Every user_data comes back exactly once.
 */
TEST_F_TIMEOUT(sqpoll, nops_across_sleeps, 60)
{
	struct capchan *ch = &self->ch;
	unsigned char *seen = calloc(NOPS + 1, 1);
	unsigned int sent = 0, got = 0, pauses = 0, pause_at = PAUSE_EVERY;
	struct capchan_sqe inv;
	long long sleeps, wakeups;

	ASSERT_NE(NULL, seen);
	ASSERT_EQ(0, sq_init(ch, 64, CAPCHAN_SETUP_SQPOLL, 2, 0));
	cc_sqe(&inv, CAPCHAN_OP_NOP, 0);
	while (got < NOPS) {
		struct capchan_cqe *cqe;
		unsigned int n = 0;

		while (sent < pause_at && n < 48) {
			struct capchan_sqe *sqe = capchan_get_sqe(ch);

			if (!sqe)
				break;
			capchan_prep_nop(sqe);
			capchan_sqe_set_data64(sqe, ++sent);
			n++;
		}
		if (n)
			ASSERT_EQ((int)n, capchan_submit(ch));
		if (sent % 7919 == 0)
			ASSERT_EQ(0, cc_invoke(ch->fd, &inv));
		ASSERT_EQ(0, cq_wait(ch)) TH_LOG("sent %u got %u: no CQE", sent, got);
		while (!capchan_peek_cqe(ch, &cqe)) {
			ASSERT_EQ(0, cqe->res);
			ASSERT_LT(0, cqe->user_data);
			ASSERT_GE(NOPS, cqe->user_data);
			ASSERT_EQ(0, seen[cqe->user_data]) TH_LOG("ud %llu twice",
				(unsigned long long)cqe->user_data);
			seen[cqe->user_data] = 1;
			got++;
			capchan_cqe_seen(ch, cqe);
		}
		/* everything so far back: let the thread fall asleep */
		if (got == sent && sent == pause_at) {
			if (sent < NOPS) {
				ASSERT_TRUE(thread_asleep(ch));
				pauses++;
			}
			pause_at += PAUSE_EVERY;
		}
	}
	EXPECT_EQ(0, capchan_cq_ready(ch));
	EXPECT_EQ(NOPS / PAUSE_EVERY - 1, pauses);
	EXPECT_EQ(NOPS, thread_ops(ch, NOPS));
	sleeps = fdinfo(ch, "sq-thread-idle-sleeps");
	wakeups = fdinfo(ch, "sq-thread-wakeups");
	/* one sleep per pause at least; each woken by the library's ENTER */
	EXPECT_LE(pauses, sleeps);
	EXPECT_LE(pauses, wakeups);
	free(seen);
}

/* READs of a known file, into this process's buffers, and linked chains. */
TEST_F_TIMEOUT(sqpoll, reads_and_chains, 60)
{
	static char bufs[64][100];
	struct capchan *ch = &self->ch;
	struct capchan_cqe *cqe;
	struct capchan_sqe *sqe;
	char cbuf[sizeof(CC_HELLO)];
	int dh, fh, round;

	ASSERT_EQ(0, sq_init(ch, 64, CAPCHAN_SETUP_SQPOLL, 1, 0));
	dh = capchan_grant(ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, dh);
	fh = capchan_open_beneath(ch, dh, "file", 0, 0, R_READ | R_SEEK);
	ASSERT_LT(0, fh);
	for (round = 0; round < 20; round++) {
		unsigned int i, n = 0;

		memset(bufs, 0, sizeof(bufs));
		for (i = 0; i < 64; i++) {
			sqe = capchan_get_sqe(ch);
			ASSERT_NE(NULL, sqe);
			capchan_prep_read(sqe, fh, bufs[i], 100, (round * 64 + i) * 7);
			capchan_sqe_set_data64(sqe, i);
		}
		ASSERT_EQ(64, capchan_submit(ch));
		while (n < 64) {
			ASSERT_EQ(0, cq_wait(ch));
			while (!capchan_peek_cqe(ch, &cqe)) {
				i = cqe->user_data;
				ASSERT_GT(64, i);
				ASSERT_EQ(100, cqe->res);
				EXPECT_EQ(0, memcmp(bufs[i],
						    self->t.data + (round * 64 + i) * 7, 100));
				capchan_cqe_seen(ch, cqe);
				n++;
			}
		}
		if (round % 4 == 0)
			ASSERT_TRUE(thread_asleep(ch));
	}

	/* OPEN -> READ -> CLOSE, then a chain cut by a failing OPEN */
	memset(cbuf, 0, sizeof(cbuf));
	sqe = capchan_get_sqe(ch);
	capchan_prep_open(sqe, dh, "hello", 0, 0, R_READ | R_SEEK);
	capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_data64(sqe, 1);
	sqe = capchan_get_sqe(ch);
	capchan_prep_read(sqe, CAPCHAN_HANDLE_CHAIN, cbuf, sizeof(CC_HELLO) - 1, 0);
	capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_data64(sqe, 2);
	sqe = capchan_get_sqe(ch);
	capchan_prep_close(sqe, CAPCHAN_HANDLE_CHAIN);
	capchan_sqe_set_data64(sqe, 3);
	sqe = capchan_get_sqe(ch);
	capchan_prep_open(sqe, dh, "missing", 0, 0, R_READ);
	capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_data64(sqe, 4);
	sqe = capchan_get_sqe(ch);
	capchan_prep_read(sqe, CAPCHAN_HANDLE_CHAIN, cbuf, 1, 0);
	capchan_sqe_set_data64(sqe, 5);
	ASSERT_EQ(5, capchan_submit(ch));
	for (int k = 1; k <= 5; k++) {
		static const int want[] = { 0, 1, sizeof(CC_HELLO) - 1, 0,
					    -ENOENT, -ECANCELED };

		ASSERT_EQ(0, cq_wait(ch));
		ASSERT_EQ(0, capchan_peek_cqe(ch, &cqe));
		ASSERT_EQ(k, cqe->user_data);
		if (k == 1) {
			EXPECT_TRUE(cc_handle_ok(cqe->res));
		} else {
			EXPECT_EQ(want[k], cqe->res);
		}
		capchan_cqe_seen(ch, cqe);
	}
	EXPECT_STREQ(CC_HELLO, cbuf);
}

/*
 * The CQ-space rule: with the CQ full the thread consumes nothing (no CQE
 * dropped or overwritten) and keeps polling; once the CQ is reaped the
 * rest completes, in order, each exactly once, with no ENTER needed.
 */
TEST_F_TIMEOUT(sqpoll, cq_full_holds_back, 60)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe *cqe;
	unsigned int i, k;

	ASSERT_EQ(0, sq_init(ch, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	ASSERT_EQ(16, ch->cq.ring_entries);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 8; i++) {
			struct capchan_sqe *sqe = capchan_get_sqe(ch);

			ASSERT_NE(NULL, sqe);
			capchan_prep_nop(sqe);
			capchan_sqe_set_data64(sqe, k * 8 + i + 1);
		}
		ASSERT_EQ(8, capchan_submit(ch));
		if (k < 2) {
			double end = cc_now() + CQ_WAIT_MS / 1000.0;

			while (capchan_cq_ready(ch) < 8 * (k + 1) && cc_now() < end)
				usleep(1000);
			ASSERT_EQ(8 * (k + 1), capchan_cq_ready(ch));
		}
	}
	usleep(100000);		/* well past the idle time */
	EXPECT_EQ(16, capchan_cq_ready(ch));
	EXPECT_EQ(16, __atomic_load_n(ch->sq.khead, __ATOMIC_ACQUIRE));
	EXPECT_EQ(16, thread_ops(ch, 16));
	for (i = 1; i <= 24; i++) {
		ASSERT_EQ(0, cq_wait(ch)) TH_LOG("CQE %u", i);
		ASSERT_EQ(0, capchan_peek_cqe(ch, &cqe));
		EXPECT_EQ(i, cqe->user_data);
		EXPECT_EQ(0, cqe->res);
		capchan_cqe_seen(ch, cqe);
	}
	EXPECT_EQ(0, capchan_cq_ready(ch));
	EXPECT_EQ(24, thread_ops(ch, 24));
}

/* fdinfo: pid, cpu, idle, and counters that move only when they should. */
TEST_F_TIMEOUT(sqpoll, fdinfo_counters, 60)
{
	struct capchan *ch = &self->ch;
	struct capchan ch2;
	char path[64], comm[32] = "";
	long long pid, sleeps;
	int i, fd;

	/* idle at its maximum: awake all along, never a system call */
	ASSERT_EQ(0, sq_init(ch, 16, CAPCHAN_SETUP_SQPOLL,
			     CAPCHAN_SQ_THREAD_IDLE_MAX, 0));
	EXPECT_EQ(-1, fdinfo(ch, "sq-thread-cpu"));
	EXPECT_EQ(CAPCHAN_SQ_THREAD_IDLE_MAX, fdinfo(ch, "sq-thread-idle-ms"));
	pid = fdinfo(ch, "sq-thread-pid");
	ASSERT_LT(0, pid);
	snprintf(path, sizeof(path), "/proc/%lld/comm", pid);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, read(fd, comm, sizeof(comm) - 1));
	close(fd);
	EXPECT_EQ(0, strncmp(comm, "capchan-sq/", 11)) TH_LOG("comm %s", comm);
	for (i = 0; i < 1000; i++) {
		struct capchan_sqe *sqe = capchan_get_sqe(ch);
		struct capchan_cqe *cqe;

		ASSERT_NE(NULL, sqe);
		capchan_prep_nop(sqe);
		capchan_sqe_set_data64(sqe, i);
		ASSERT_EQ(1, capchan_submit(ch));
		ASSERT_EQ(0, cq_wait(ch));
		ASSERT_EQ(0, capchan_peek_cqe(ch, &cqe));
		ASSERT_EQ(i, cqe->user_data);
		capchan_cqe_seen(ch, cqe);
	}
	EXPECT_EQ(1000, thread_ops(ch, 1000));
	EXPECT_EQ(0, fdinfo(ch, "sq-thread-wakeups"));
	EXPECT_EQ(0, fdinfo(ch, "sq-thread-idle-sleeps"));
	EXPECT_EQ(0, fdinfo(ch, "sq-thread-owner-gone"));
	/* ENTER consumes nothing itself and says 0 */
	EXPECT_EQ(0, cc_enter(ch->fd, 5, 0, 0));
	EXPECT_EQ(1, fdinfo(ch, "user-sqpoll"));
	capchan_queue_exit(ch);

	/* pinned to CPU 0, idle 5 ms: one sleep, one wake-up, one op */
	ASSERT_EQ(0, sq_init(&ch2, 16, CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF,
			     5, 0));
	*ch = ch2;
	EXPECT_EQ(0, fdinfo(ch, "sq-thread-cpu"));
	EXPECT_EQ(5, fdinfo(ch, "sq-thread-idle-ms"));
	ASSERT_TRUE(thread_asleep(ch));
	sleeps = fdinfo(ch, "sq-thread-idle-sleeps");
	EXPECT_EQ(1, sleeps);
	EXPECT_EQ(0, fdinfo(ch, "sq-thread-wakeups"));
	usleep(50000);		/* asleep: nothing moves */
	EXPECT_EQ(1, fdinfo(ch, "sq-thread-idle-sleeps"));
	capchan_prep_nop(capchan_get_sqe(ch));
	ASSERT_EQ(1, capchan_submit(ch));
	ASSERT_EQ(0, cq_wait(ch));
	EXPECT_EQ(1, fdinfo(ch, "sq-thread-wakeups"));
	EXPECT_EQ(1, thread_ops(ch, 1));
	ASSERT_TRUE(thread_asleep(ch));
	EXPECT_EQ(2, fdinfo(ch, "sq-thread-idle-sleeps"));

	/* default idle */
	capchan_queue_exit(ch);
	ASSERT_EQ(0, sq_init(ch, 8, CAPCHAN_SETUP_SQPOLL, 0, 0));
	EXPECT_EQ(CAPCHAN_SQ_THREAD_IDLE_DEFAULT, fdinfo(ch, "sq-thread-idle-ms"));
}

/* Close with a big batch in flight, over and over: no warning, no leak. */
TEST_F_TIMEOUT(sqpoll, close_while_busy, 60)
{
	int dh, fh, round;

	for (round = 0; round < 10; round++) {
		struct capchan ch;
		static char buf[4096];
		unsigned int i;

		ASSERT_EQ(0, sq_init(&ch, CAPCHAN_MAX_SQ_ENTRIES,
				     CAPCHAN_SETUP_SQPOLL, 1, 0));
		dh = capchan_grant(&ch, self->t.jail_fd, R_ALL);
		ASSERT_LT(0, dh);
		fh = capchan_open_beneath(&ch, dh, "file", 0, 0, R_READ | R_SEEK);
		ASSERT_LT(0, fh);
		for (i = 0; i < CAPCHAN_MAX_SQ_ENTRIES; i++) {
			struct capchan_sqe *sqe = capchan_get_sqe(&ch);

			ASSERT_NE(NULL, sqe);
			if (i % 2)
				capchan_prep_read(sqe, fh, buf, sizeof(buf), i);
			else
				capchan_prep_nop(sqe);
		}
		ASSERT_EQ(CAPCHAN_MAX_SQ_ENTRIES, capchan_submit(&ch));
		if (round % 2)
			usleep(round * 100);
		capchan_queue_exit(&ch);
	}
	/* every thread gone, every charge back */
	ASSERT_EQ(0, sq_init(&self->ch, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	EXPECT_EQ(1, fdinfo(&self->ch, "user-sqpoll"));
}

/*
 * A child shares the channel and submits; the thread reads into the SETUP
 * process's address space: the parent's copy of the buffer gets the data,
 * the child's stays zero.
 */
TEST_F_TIMEOUT(sqpoll, fork_child_submits, 60)
{
	static char buf[sizeof(CC_HELLO)];
	struct capchan *ch = &self->ch;
	int dh, fh, status;
	pid_t pid;

	ASSERT_EQ(0, sq_init(ch, 16, CAPCHAN_SETUP_SQPOLL, 2, 0));
	dh = capchan_grant(ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, dh);
	fh = capchan_open_beneath(ch, dh, "hello", 0, 0, R_READ | R_SEEK);
	ASSERT_LT(0, fh);
	memset(buf, 0, sizeof(buf));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan_cqe *cqe;
		int i;

		for (i = 0; i < 100; i++) {
			capchan_prep_nop(capchan_get_sqe(ch));
			if (capchan_submit(ch) != 1 || cq_wait(ch) ||
			    capchan_peek_cqe(ch, &cqe) || cqe->res)
				_exit(10);
			capchan_cqe_seen(ch, cqe);
			if (i % 20 == 0 && !thread_asleep(ch))
				_exit(11);
		}
		capchan_prep_read(capchan_get_sqe(ch), fh, buf, sizeof(CC_HELLO) - 1, 0);
		if (capchan_submit(ch) != 1 || cq_wait(ch) ||
		    capchan_peek_cqe(ch, &cqe) || cqe->res != sizeof(CC_HELLO) - 1)
			_exit(12);
		capchan_cqe_seen(ch, cqe);
		/* not here: in the parent's address space */
		_exit(buf[0] ? 13 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_STREQ(CC_HELLO, buf);
	EXPECT_EQ(101, thread_ops(ch, 101));
	/* and the parent goes on, from where the child left the SQ */
	ch->sq.sqe_tail = *ch->sq.ktail;
	ch->sq.sqe_head = ch->sq.sqe_tail;
	capchan_prep_nop(capchan_get_sqe(ch));
	ASSERT_EQ(1, capchan_submit(ch));
	ASSERT_EQ(0, cq_wait(ch));
}

/*
 * The SETUP process calls execve() with the channel open: the address space
 * the thread works in is gone, ENTER says -EOWNERDEAD (checked by the new
 * image, sqpoll_exec_child()), INVOKE works.
 */
TEST_F_TIMEOUT(sqpoll, exec_of_setup_process, 60)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		char env[64];
		char *argv[] = { "sqpoll_test", NULL };
		char *envp[] = { env, NULL };

		if (sq_init(&ch, 8, CAPCHAN_SETUP_SQPOLL, 1, 0))
			_exit(1);
		capchan_prep_nop(capchan_get_sqe(&ch));
		if (capchan_submit(&ch) != 1 || cq_wait(&ch))
			_exit(2);
		if (fcntl(ch.fd, F_SETFD, 0))
			_exit(3);
		snprintf(env, sizeof(env), "%s=%d", EXEC_ENV, ch.fd);
		execve("/proc/self/exe", argv, envp);
		_exit(4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* The SETUP process exits while a child still holds the channel. */
TEST_F_TIMEOUT(sqpoll, setup_process_exits, 60)
{
	int pipefd[2], status;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		pid_t grandchild, setup_pid = getpid();

		close(pipefd[0]);
		if (sq_init(&ch, 8, CAPCHAN_SETUP_SQPOLL, 1, 0))
			_exit(1);
		grandchild = fork();
		if (grandchild < 0)
			_exit(2);
		if (grandchild == 0) {
			char code = '0';

			/* wait for the SETUP process to be gone (reparented) */
			while (getppid() == setup_pid)
				usleep(1000);
			if (cc_enter(ch.fd, 0, 0, 0) != -EOWNERDEAD)
				code = '4';
			else if (fdinfo(&ch, "sq-thread-owner-gone") != 1)
				code = '5';
			/* asleep: the library enters, and learns it */
			else if (!thread_asleep(&ch))
				code = '6';
			if (code == '0') {
				capchan_prep_nop(capchan_get_sqe(&ch));
				if (capchan_submit(&ch) != -EOWNERDEAD)
					code = '3';
			}
			/* released before the report: the next test counts */
			capchan_queue_exit(&ch);
			if (write(pipefd[1], &code, 1) != 1)
				_exit(7);
			_exit(0);
		}
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* the grandchild reports through the pipe: '0' when all went well */
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	EXPECT_EQ('0', c);
	close(pipefd[0]);
}

/* Every bad input with its exact errno, and nothing charged by a refusal. */
TEST_F_TIMEOUT(sqpoll, bad_input, 60)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct capchan plain;
	cpu_set_t set, old;

	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQ_AFF, 0, 0));
	EXPECT_EQ(-EINVAL, raw_setup(0, 0, 5));
	EXPECT_EQ(-EINVAL, raw_setup(0, 1, 0));
	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL, 1, 0));
	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL, 0,
				     CAPCHAN_SQ_THREAD_IDLE_MAX + 1));
	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL, 0, ~0U));
	EXPECT_EQ(0, raw_setup(CAPCHAN_SETUP_SQPOLL, 0, CAPCHAN_SQ_THREAD_IDLE_MAX));
	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF,
				     4096, 0));
	EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF,
				     ~0U, 0));
	EXPECT_EQ(0, raw_setup(CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF, 0, 0));

	/* a CPU the caller may not run on */
	if (ncpu >= 2) {
		ASSERT_EQ(0, sched_getaffinity(0, sizeof(old), &old));
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
		EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL |
					     CAPCHAN_SETUP_SQ_AFF, 1, 0));
		EXPECT_EQ(0, raw_setup(CAPCHAN_SETUP_SQPOLL |
				       CAPCHAN_SETUP_SQ_AFF, 0, 0));
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(old), &old));
		/* an offline CPU */
		if (!cc_write_str("/sys/devices/system/cpu/cpu1/online", "0")) {
			EXPECT_EQ(-EINVAL, raw_setup(CAPCHAN_SETUP_SQPOLL |
						     CAPCHAN_SETUP_SQ_AFF, 1, 0));
			ASSERT_EQ(0, cc_write_str("/sys/devices/system/cpu/cpu1/online", "1"));
		} else {
			TH_LOG("cpu1 cannot go offline: offline case not run");
		}
		ASSERT_EQ(0, sched_setaffinity(0, sizeof(old), &old));
		EXPECT_EQ(0, raw_setup(CAPCHAN_SETUP_SQPOLL |
				       CAPCHAN_SETUP_SQ_AFF, 1, 0));
	}

	/* SQ_WAKEUP on a channel without a poll thread */
	ASSERT_EQ(0, capchan_queue_init(8, &plain, 0));
	EXPECT_EQ(-EINVAL, cc_enter(plain.fd, 0, 0, CAPCHAN_ENTER_SQ_WAKEUP));
	EXPECT_EQ(0, fdinfo(&plain, "user-sqpoll"));
	EXPECT_EQ(-ENOENT, fdinfo(&plain, "sq-thread-pid"));
	capchan_queue_exit(&plain);

	/* a refused SETUP leaves the channel as it was: it can be set up */
	{
		struct capchan_params p;
		int fd = cc_open_dev();

		ASSERT_LE(0, fd);
		memset(&p, 0, sizeof(p));
		p.sq_entries = 8;
		p.flags = CAPCHAN_SETUP_SQPOLL;
		p.sq_thread_idle = CAPCHAN_SQ_THREAD_IDLE_MAX + 1;
		EXPECT_EQ(-EINVAL, cc_ioctl(fd, CAPCHAN_IOC_SETUP, &p));
		p.sq_thread_idle = 1;
		EXPECT_EQ(0, cc_ioctl(fd, CAPCHAN_IOC_SETUP, &p));
		close(fd);
	}
}

/* At most max_user_sqpoll poll threads per user: -EAGAIN beyond. */
TEST_F_TIMEOUT(sqpoll, per_user_limit, 60)
{
	struct capchan a, b, c, plain;
	int err, status;
	pid_t pid;

	self->saved_limit = cc_module_param("max_user_sqpoll", &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(4, self->saved_limit);	/* the documented default */
	ASSERT_EQ(0, cc_write_str("/sys/module/capchan/parameters/max_user_sqpoll", "2"));
	ASSERT_EQ(0, sq_init(&a, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	ASSERT_EQ(0, sq_init(&b, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	EXPECT_EQ(-EAGAIN, sq_init(&c, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	EXPECT_EQ(2, fdinfo(&a, "user-sqpoll"));
	/* channels without a thread are not counted */
	ASSERT_EQ(0, capchan_queue_init(8, &plain, 0));
	capchan_queue_exit(&plain);
	/* another user has its own count */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan d;

		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(1);
		if (sq_init(&d, 8, CAPCHAN_SETUP_SQPOLL, 1, 0))
			_exit(2);
		capchan_queue_exit(&d);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* closing one gives its place back */
	capchan_queue_exit(&b);
	ASSERT_EQ(0, sq_init(&c, 8, CAPCHAN_SETUP_SQPOLL, 1, 0));
	EXPECT_EQ(2, fdinfo(&c, "user-sqpoll"));
	capchan_queue_exit(&c);
	capchan_queue_exit(&a);
}

TEST_HARNESS_MAIN
