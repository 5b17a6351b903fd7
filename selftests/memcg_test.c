// SPDX-License-Identifier: GPL-2.0
/*
 * capchan under a memory cgroup limit: what a user asks capchan to
 * allocate (rings, capabilities, handle tables) is charged to its memory
 * cgroup, and when the cgroup is full the request fails with -ENOMEM: no
 * OOM kill, no kernel warning (the runner scans the log), and the memory
 * comes back when the channels close.
 *
 * Each test runs in a child moved into a fresh cgroup whose memory.max is
 * its current usage plus a few MiB.  Everything that is not capchan's
 * (the channel files themselves) is allocated first, while there is room,
 * so the allocation that meets the limit is capchan's.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define CGROOT		"/sys/fs/cgroup"
#define CG		CGROOT "/capchan-memcg-test"
#define HEADROOM	(8LL << 20)

static long long cg_read(const char *file)
{
	char path[128];
	int err = 0;
	long long v;

	snprintf(path, sizeof(path), CG "/%s", file);
	v = cc_read_number(path, &err);
	return err ? -1 : v;
}

/* A counter of memory.events ("oom", "oom_kill", ...), -1 if missing. */
static long long cg_event(const char *key)
{
	char line[128];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen(CG "/memory.events", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			v = strtoll(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static int cg_write(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", strncmp(file, "/", 1) ? CG : "", file);
	return cc_write_str(path, val);
}

/* A cgroup v2 hierarchy with the memory controller for our test group. */
static int cg_setup(void)
{
	if (mount("none", CGROOT, "cgroup2", 0, NULL) && errno != EBUSY)
		return -errno;
	if (cc_write_str(CGROOT "/cgroup.subtree_control", "+memory"))
		return -EOPNOTSUPP;
	if (mkdir(CG, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Move ourselves in and leave HEADROOM above what we use now. */
static int cg_enter_limited(void)
{
	char buf[32];
	long long cur;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (cg_write("cgroup.procs", buf))
		return -1;
	cur = cg_read("memory.current");
	if (cur < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%lld", cur + HEADROOM);
	if (cg_write("memory.max", buf))
		return -1;
	/* a safety net only: capchan's allocations never call the OOM killer */
	return cc_write_str("/proc/self/oom_score_adj", "-1000");
}

FIXTURE(memcg) {
	int skip;
};

FIXTURE_SETUP(memcg)
{
	self->skip = cg_setup();
}

FIXTURE_TEARDOWN(memcg)
{
	rmdir(CG);
}

/* Exit codes of the children: 0 ok, 10+ which step failed. */

/* Rings: SETUP of the largest rings until -ENOMEM, never anything else. */
static int rings_child(void)
{
	static int fds[256];
	struct capchan_params p;
	int n = 0, i, ret = 0;

	if (cg_enter_limited())
		return 10;
	for (n = 0; n < 256; n++) {
		fds[n] = cc_open_dev();
		if (fds[n] < 0)
			return 11;
		memset(&p, 0, sizeof(p));
		p.sq_entries = CAPCHAN_MAX_SQ_ENTRIES;
		ret = cc_ioctl(fds[n], CAPCHAN_IOC_SETUP, &p);
		if (ret)
			break;
	}
	if (ret != -ENOMEM)
		return 12;	/* the limit must stop it, before 256 rings */
	if (n < 2)
		return 13;	/* 8 MiB hold more than one 512 KiB ring */
	/* the channel that failed still works without rings */
	{
		struct capchan_version v;

		if (cc_version(fds[n], &v))
			return 14;
	}
	for (i = 0; i <= n; i++)
		close(fds[i]);
	/* and what was freed is usable again */
	fds[0] = cc_open_dev();
	memset(&p, 0, sizeof(p));
	p.sq_entries = CAPCHAN_MAX_SQ_ENTRIES;
	if (fds[0] < 0 || cc_ioctl(fds[0], CAPCHAN_IOC_SETUP, &p))
		return 15;
	return 0;
}

#define NCHAN	64

/* Capabilities and tables: DERIVE across many channels until -ENOMEM. */
static int caps_child(const char *dir)
{
	static int fds[NCHAN];
	static uint32_t roots[NCHAN];
	long long made = 0;
	int i, ret = 0, dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 20;
	/* the channel files first, while there is room */
	for (i = 0; i < NCHAN; i++) {
		fds[i] = cc_open_dev();
		if (fds[i] < 0)
			return 21;
		ret = cc_grant(fds[i], dfd, R_READ | R_DERIVE, NULL);
		if (ret <= 0)
			return 22;
		roots[i] = ret;
	}
	if (cg_enter_limited())
		return 23;
	for (i = 0; i < NCHAN && ret != -ENOMEM; i++) {
		struct capchan_sqe s;

		for (;;) {
			cc_sqe(&s, CAPCHAN_OP_DERIVE, roots[i]);
			s.rights = R_READ;
			ret = cc_invoke(fds[i], &s);
			if (ret <= 0)
				break;
			made++;
		}
		if (ret != -EMFILE && ret != -ENOMEM)
			return 24;
	}
	if (ret != -ENOMEM)
		return 25;	/* 64 full tables did not reach 8 MiB? */
	if (made < 1000)
		return 26;
	for (i = 0; i < NCHAN; i++)
		close(fds[i]);
	close(dfd);
	return 0;
}

static void run_child(struct __test_metadata *_metadata, int (*fn)(void *),
		      void *arg)
{
	long long before, after;
	pid_t pid;
	int st;

	before = cg_read("memory.current");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fn(arg));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	/* not killed (no OOM kill), and every step as expected */
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("child killed by signal %d", WTERMSIG(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	/* nothing left charged once the child and its channels are gone */
	after = cg_read("memory.current");
	EXPECT_GT(before + (1LL << 20), after) TH_LOG("memory.current %lld -> %lld", before, after);
	EXPECT_EQ(0, cg_event("oom_kill"));
	EXPECT_EQ(0, cg_event("oom"));
}

static int rings_fn(void *arg)
{
	return rings_child();
}

static int caps_fn(void *arg)
{
	return caps_child(arg);
}

TEST_F(memcg, rings_fail_with_enomem)
{
	if (self->skip)
		SKIP(return, "no cgroup v2 memory controller (%d)", self->skip);
	run_child(_metadata, rings_fn, NULL);
}

TEST_F(memcg, caps_fail_with_enomem)
{
	if (self->skip)
		SKIP(return, "no cgroup v2 memory controller (%d)", self->skip);
	run_child(_metadata, caps_fn, (void *)cc_tmpdir());
}

TEST_HARNESS_MAIN
