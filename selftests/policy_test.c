// SPDX-License-Identifier: GPL-2.0
/*
 * The eBPF hook capchan_authorize with the ready policies of
 * examples/policies (readonly, denyuid, ratelimit, audit, loaded from
 * their libbpf skeletons as capchan-policy loads them) and with a test
 * program that writes any verdict: each policy's effect with exact
 * errnos, out-of-range verdicts (-EPERM, counted, no warning), the hook
 * context that is not read back, the order hook-then-filters, the module
 * reference an attached program holds, and a pinned link that outlives
 * its loader.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/statfs.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capchan_policy.h"
#include "readonly.skel.h"
#include "denyuid.skel.h"
#include "ratelimit.skel.h"
#include "audit.skel.h"
#include "policy_verdict.skel.h"

#define UID_OTHER	65533	/* a second unprivileged uid */
#define CGROUP_ROOT	"/sys/fs/cgroup"
#define PIN_DIR		"/sys/fs/bpf"

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* warnings explain a failed load (the verifier log) */
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static long long fdinfo_num(int fd, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

static long long bad_verdicts_stat(void)
{
	int err;
	long long v = cc_module_param("policy_bad_verdicts", &err);

	return err ? err : v;
}

static int try_unload(void)
{
	return syscall(SYS_delete_module, "capchan", O_NONBLOCK) ? -errno : 0;
}

/* ------------------------------------------------------------ ops */

enum opk {
	K_NOP, K_READ, K_STAT, K_READDIR, K_STATAT, K_OPEN_RD, K_DERIVE,
	K_WRITE, K_TRUNCATE, K_OPEN_WR, K_OPEN_CREAT, K_OPEN_TRUNC, K_MKDIR,
	K_UNLINK, K_RMDIR, K_SYMLINK, K_RENAME,
};

static const char *const opk_name[] = {
	"NOP", "READ", "STAT", "READDIR", "STATAT", "OPEN(read)", "DERIVE",
	"WRITE", "TRUNCATE", "OPEN(write)", "OPEN(O_CREAT)", "OPEN(O_TRUNC)",
	"MKDIR", "UNLINK", "RMDIR", "SYMLINK", "RENAME",
};

/* The op's result: 0 for success (new handles are dropped), or -errno.
 * Ops that change something are aimed so that, allowed, they change
 * nothing a later check depends on (WRITE rewrites hello's first byte). */
static int run_op(struct capchan *ch, uint32_t dir, uint32_t file, enum opk k)
{
	struct capchan_stat st;
	char buf[8192];
	long r = -ENOSYS;

	switch (k) {
	case K_NOP: {
		struct capchan_sqe s;

		cc_sqe(&s, CAPCHAN_OP_NOP, 0);
		r = capchan_invoke(ch, &s);
		break;
	}
	case K_READ: r = capchan_read(ch, file, buf, 4, 0); break;
	case K_STAT: r = capchan_stat(ch, file, &st); break;
	case K_READDIR: r = capchan_readdir(ch, dir, buf, sizeof(buf), 0); break;
	case K_STATAT: r = capchan_statat(ch, dir, "sub", &st, 0); break;
	case K_OPEN_RD:
		r = capchan_open_beneath(ch, dir, "hello", 0, 0, R_READ);
		break;
	case K_DERIVE: r = capchan_derive(ch, file, R_READ); break;
	case K_WRITE: r = capchan_write(ch, file, "h", 1, 0); break;
	case K_TRUNCATE: r = capchan_truncate(ch, file, strlen(CC_HELLO)); break;
	case K_OPEN_WR:
		r = capchan_open_beneath(ch, dir, "hello", 0, 0, R_READ | R_WRITE);
		break;
	case K_OPEN_CREAT:
		r = capchan_open_beneath(ch, dir, "newfile", O_CREAT, 0644, R_READ);
		break;
	case K_OPEN_TRUNC:
		r = capchan_open_beneath(ch, dir, "sub/inner", O_TRUNC, 0, R_READ);
		break;
	case K_MKDIR: r = capchan_mkdir_beneath(ch, dir, "newdir", 0755); break;
	case K_UNLINK: r = capchan_unlink_beneath(ch, dir, "sub/inner"); break;
	case K_RMDIR: r = capchan_rmdir_beneath(ch, dir, "sub/deeper"); break;
	case K_SYMLINK: r = capchan_symlink_beneath(ch, dir, "ln", "hello"); break;
	case K_RENAME:
		r = capchan_rename_beneath(ch, dir, "sub/inner", dir, "moved", 0);
		break;
	}
	if (r > 0 && (k == K_OPEN_RD || k == K_OPEN_WR || k == K_OPEN_CREAT ||
		      k == K_OPEN_TRUNC || k == K_DERIVE))
		capchan_close(ch, (uint32_t)r);
	return r < 0 ? (int)r : 0;
}

struct opcase {
	enum opk k;
	int want;		/* 0 or -errno */
};

/*
 * Run the cases in a child that became uid (0: stays root), on the
 * channel it inherits; 0 if each gave what it should, else 100 + the
 * first case that did not (and a line on stderr).
 */
static int ops_as(struct capchan *ch, uint32_t dir, uint32_t file, uid_t uid,
		  const struct opcase *c, int n)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (uid && cc_become(uid, uid))
			_exit(99);
		for (int i = 0; i < n; i++) {
			int r = run_op(ch, dir, file, c[i].k);

			if (r != c[i].want) {
				fprintf(stderr, "# uid %u: %s gave %d (%s), want %d\n",
					uid, opk_name[c[i].k], r,
					r ? strerrorname_np(-r) : "ok", c[i].want);
				_exit(100 + i);
			}
		}
		_exit(0);
	}
	return cc_wait_child(pid);
}

/*
 * The fs-changing ops, all refused with err, and the reading ones fine.
 * OPEN with O_TRUNC but without the write right never reaches the hook:
 * the module refuses it first (-EPERM); with the write right it is
 * OPEN(write).
 */
static int readonly_cases(struct opcase *c, int err)
{
	static const enum opk deny[] = {
		K_WRITE, K_TRUNCATE, K_OPEN_WR, K_OPEN_CREAT,
		K_MKDIR, K_UNLINK, K_RMDIR, K_SYMLINK, K_RENAME,
	};
	static const enum opk allow[] = {
		K_NOP, K_READ, K_STAT, K_READDIR, K_STATAT, K_OPEN_RD, K_DERIVE,
	};
	int n = 0;

	for (unsigned i = 0; i < CC_ARRAY_SIZE(deny); i++)
		c[n++] = (struct opcase){ deny[i], err };
	for (unsigned i = 0; i < CC_ARRAY_SIZE(allow); i++)
		c[n++] = (struct opcase){ allow[i], 0 };
	c[n++] = (struct opcase){ K_OPEN_TRUNC, -EPERM };
	return n;
}
#define N_READONLY_DENIED	9

/* ------------------------------------------------------------ fixture */

FIXTURE(policy) {
	struct cc_tree t;
	struct capchan ch;
	int dir;		/* the jail, every right, root's */
	int file;		/* jail/hello: read write seek stat derive */
	uint64_t channel_id;
	struct capchan_readonly *ro;
	struct capchan_denyuid *du;
	struct capchan_ratelimit *rl;
	struct capchan_audit *au;
	struct policy_verdict *pv;
	char cgroup[PATH_MAX];
};

FIXTURE_SETUP(policy)
{
	struct capchan_version v;
	int err;

	libbpf_set_print(quiet_libbpf);
	ASSERT_EQ(0, cc_tree_create(&self->t, "policy"));
	ASSERT_EQ(0, capchan_queue_init(16, &self->ch, 0));
	ASSERT_EQ(0, capchan_get_version(&self->ch, &v));
	if (!(v.features & CAPCHAN_FEAT_HOOK))
		SKIP(return, "module without CAPCHAN_FEAT_HOOK (no CONFIG_BPF_EVENTS)");
	self->dir = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, self->dir);
	self->file = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
					  R_READ | R_WRITE | R_SEEK | R_STAT |
					  R_DERIVE);
	ASSERT_LT(0, self->file);
	self->channel_id = cc_fdinfo_value(self->ch.fd, "channel-id", &err);
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN(policy)
{
	/* a failed test must not leave a policy behind for the next one */
	capchan_readonly__destroy(self->ro);
	capchan_denyuid__destroy(self->du);
	capchan_ratelimit__destroy(self->rl);
	capchan_audit__destroy(self->au);
	policy_verdict__destroy(self->pv);
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
	if (self->cgroup[0])
		rmdir(self->cgroup);
}

/* The test program, loaded and attached, for this fixture's channel. */
static struct policy_verdict *verdict_prog(uint64_t channel, int32_t verdict)
{
	struct policy_verdict *pv = policy_verdict__open_and_load();

	if (!pv)
		return NULL;
	pv->bss->target_channel = channel;
	pv->bss->verdict = verdict;
	if (policy_verdict__attach(pv)) {
		policy_verdict__destroy(pv);
		return NULL;
	}
	return pv;
}

static struct capchan_readonly *readonly_prog(int32_t err)
{
	struct capchan_readonly *ro = capchan_readonly__open();

	if (!ro)
		return NULL;
	ro->rodata->ro_errno = err;
	if (capchan_readonly__load(ro) || capchan_readonly__attach(ro)) {
		capchan_readonly__destroy(ro);
		return NULL;
	}
	return ro;
}

static int add_uid(struct bpf_map *map, uint32_t uid, uint32_t match)
{
	return bpf_map__update_elem(map, &uid, sizeof(uid), &match,
				    sizeof(match), BPF_ANY);
}

static int add_deny(struct bpf_map *map, uint32_t uid, int32_t err,
		    uint32_t match)
{
	struct capchan_policy_deny d = { .err = err, .match = match };

	return bpf_map__update_elem(map, &uid, sizeof(uid), &d, sizeof(d),
				    BPF_ANY);
}

/*
 * A directory capability granted into the fixture's channel by nobody: its
 * credentials (owner uid) are nobody's.  The handle, or -errno.
 */
static int grant_as_nobody(struct cc_tree *t, struct capchan *ch)
{
	int pipefd[2];
	uint32_t h = 0;
	pid_t pid;

	if (mkdirat(t->base_fd, "nobody", 0755) ||
	    fchownat(t->base_fd, "nobody", CC_UID_NOBODY, CC_GID_NOGROUP, 0))
		return -errno;
	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd, d;

		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(1);
		fd = openat(t->base_fd, "nobody", O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			_exit(2);
		d = capchan_grant(ch, fd, R_LOOKUP | CAPCHAN_RIGHT_LIST | R_STAT | R_CREATE |
				  R_READ | R_DERIVE);
		if (d <= 0) {
			fprintf(stderr, "# grant as nobody: %d\n", d);
			_exit(3);
		}
		cc_send_u32(pipefd[1], (uint32_t)d);
		_exit(0);
	}
	close(pipefd[1]);
	if (cc_recv_u32(pipefd[0], &h))
		h = 0;
	close(pipefd[0]);
	if (cc_wait_child(pid) || !h)
		return -EIO;
	return (int)h;
}

/* ------------------------------------------------------------ readonly */

TEST_F(policy, readonly_caller_uid)
{
	struct opcase c[32];
	int n = readonly_cases(c, -EROFS);
	struct opcase root_writes[] = { { K_WRITE, 0 }, { K_MKDIR, 0 } };

	self->ro = readonly_prog(-EROFS);
	ASSERT_NE(NULL, self->ro);
	ASSERT_EQ(0, add_uid(self->ro->maps.uids, CC_UID_NOBODY,
			     CAPCHAN_POLICY_MATCH_CALLER));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY, c, n));
	EXPECT_EQ(N_READONLY_DENIED, fdinfo_num(self->ch.fd, "policy-denied"));
	/* root is not listed */
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, 0, root_writes, 2));
	/* nothing was changed by nobody */
	EXPECT_EQ(0, faccessat(self->t.jail_fd, "sub/inner", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->t.jail_fd, "newfile", F_OK, 0));
	/* detached: nobody writes again */
	capchan_readonly__destroy(self->ro);
	self->ro = NULL;
	c[0] = (struct opcase){ K_WRITE, 0 };
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY, c, 1));
}

TEST_F(policy, readonly_chosen_errno)
{
	struct opcase c[32];
	int n = readonly_cases(c, -EACCES);

	self->ro = readonly_prog(-EACCES);
	ASSERT_NE(NULL, self->ro);
	ASSERT_EQ(0, add_uid(self->ro->maps.uids, CC_UID_NOBODY,
			     CAPCHAN_POLICY_MATCH_CALLER));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY, c, n));
}

/* A loader's out-of-range errno never reaches the module as such: the
 * policy itself turns it into -EPERM, and no bad verdict is counted. */
TEST_F(policy, readonly_bad_errno_is_eperm)
{
	static const int32_t bad[] = { 5, -5000, INT32_MIN, 0 };

	for (unsigned i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		struct opcase c[] = { { K_WRITE, -EPERM }, { K_READ, 0 } };
		long long before = bad_verdicts_stat();

		self->ro = readonly_prog(bad[i]);
		ASSERT_NE(NULL, self->ro);
		ASSERT_EQ(0, add_uid(self->ro->maps.uids, CC_UID_NOBODY,
				     CAPCHAN_POLICY_MATCH_CALLER));
		EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file,
				    CC_UID_NOBODY, c, 2)) TH_LOG("ro_errno %d", bad[i]);
		EXPECT_EQ(before, bad_verdicts_stat());
		capchan_readonly__destroy(self->ro);
		self->ro = NULL;
	}
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-bad-verdicts"));
}

/* Matched by the capability's owner: root using nobody's capability. */
TEST_F(policy, readonly_owner_uid)
{
	int nd = grant_as_nobody(&self->t, &self->ch);
	struct capchan_stat st;
	char buf[4096];

	ASSERT_LT(0, nd);
	self->ro = readonly_prog(-EROFS);
	ASSERT_NE(NULL, self->ro);
	ASSERT_EQ(0, add_uid(self->ro->maps.uids, CC_UID_NOBODY,
			     CAPCHAN_POLICY_MATCH_OWNER));
	EXPECT_EQ(-EROFS, capchan_mkdir_beneath(&self->ch, nd, "d", 0755));
	EXPECT_EQ(-EROFS, capchan_open_beneath(&self->ch, nd, "f", O_CREAT, 0644,
					       R_READ));
	EXPECT_LE(0, capchan_readdir(&self->ch, nd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, capchan_stat(&self->ch, nd, &st));
	EXPECT_EQ(CC_UID_NOBODY, st.uid);
	/* root's own capabilities are not nobody's */
	EXPECT_EQ(0, capchan_mkdir_beneath(&self->ch, self->dir, "d", 0755));
	/* a caller-only entry does not match owners, and the reverse */
	ASSERT_EQ(0, add_uid(self->ro->maps.uids, CC_UID_NOBODY,
			     CAPCHAN_POLICY_MATCH_CALLER));
	EXPECT_EQ(0, capchan_mkdir_beneath(&self->ch, nd, "d", 0755));
}

static int cgroup2_ready(void)
{
	struct statfs fs;

	if (!statfs(CGROUP_ROOT, &fs) && fs.f_type == CGROUP2_SUPER_MAGIC)
		return 0;
	if (mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
		return -errno;
	return 0;
}

TEST_F(policy, readonly_cgroup)
{
	struct opcase c[] = {
		{ K_WRITE, -EROFS }, { K_MKDIR, -EROFS }, { K_READ, 0 },
	};
	struct opcase root_writes[] = { { K_WRITE, 0 } };
	struct stat st;
	uint64_t id;
	uint32_t one = 1;
	pid_t pid;

	if (cgroup2_ready())
		SKIP(return, "no cgroup v2 at " CGROUP_ROOT);
	snprintf(self->cgroup, sizeof(self->cgroup), CGROUP_ROOT "/capchan-ro.%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->cgroup, 0755));
	ASSERT_EQ(0, stat(self->cgroup, &st));
	id = st.st_ino;		/* a cgroup's id is its kernfs inode number */
	self->ro = readonly_prog(-EROFS);
	ASSERT_NE(NULL, self->ro);
	ASSERT_EQ(0, bpf_map__update_elem(self->ro->maps.cgroups, &id, sizeof(id),
					  &one, sizeof(one), BPF_ANY));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char procs[PATH_MAX + 16];

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", self->cgroup);
		if (cc_write_str(procs, "0"))
			_exit(90);
		for (unsigned i = 0; i < CC_ARRAY_SIZE(c); i++)
			if (run_op(&self->ch, self->dir, self->file, c[i].k) != c[i].want)
				_exit(100 + i);
		_exit(0);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	/* this process is not in that cgroup */
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, 0, root_writes, 1));
}

/* ------------------------------------------------------------ denyuid */

TEST_F(policy, denyuid)
{
	struct opcase nobody[] = {
		{ K_NOP, -EACCES }, { K_READ, -EACCES }, { K_STAT, -EACCES },
		{ K_OPEN_RD, -EACCES }, { K_WRITE, -EACCES },
	};
	struct opcase other[] = { { K_READ, -ENOKEY }, { K_NOP, -ENOKEY } };
	struct opcase root[] = { { K_NOP, 0 }, { K_READ, 0 }, { K_WRITE, 0 } };
	uint32_t uid = CC_UID_NOBODY;

	self->du = capchan_denyuid__open_and_load();
	ASSERT_NE(NULL, self->du);
	ASSERT_EQ(0, add_deny(self->du->maps.uids, CC_UID_NOBODY, -EACCES,
			      CAPCHAN_POLICY_MATCH_CALLER));
	ASSERT_EQ(0, add_deny(self->du->maps.uids, UID_OTHER, -ENOKEY,
			      CAPCHAN_POLICY_MATCH_CALLER));
	ASSERT_EQ(0, capchan_denyuid__attach(self->du));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY,
			    nobody, CC_ARRAY_SIZE(nobody)));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, UID_OTHER,
			    other, CC_ARRAY_SIZE(other)));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, 0, root,
			    CC_ARRAY_SIZE(root)));
	EXPECT_EQ(7, fdinfo_num(self->ch.fd, "policy-denied"));
	/* removing the map entry lets nobody in again, policy still attached */
	ASSERT_EQ(0, bpf_map__delete_elem(self->du->maps.uids, &uid,
					  sizeof(uid), 0));
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY,
			    root, 2));
	capchan_denyuid__destroy(self->du);
	self->du = NULL;
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, UID_OTHER, root, 2));
}

TEST_F(policy, denyuid_owner)
{
	int nd = grant_as_nobody(&self->t, &self->ch);
	struct opcase root[] = { { K_NOP, 0 }, { K_READ, 0 } };
	char buf[4096];

	ASSERT_LT(0, nd);
	self->du = capchan_denyuid__open_and_load();
	ASSERT_NE(NULL, self->du);
	ASSERT_EQ(0, add_deny(self->du->maps.uids, CC_UID_NOBODY, -EXFULL,
			      CAPCHAN_POLICY_MATCH_OWNER));
	ASSERT_EQ(0, capchan_denyuid__attach(self->du));
	EXPECT_EQ(-EXFULL, capchan_readdir(&self->ch, nd, buf, sizeof(buf), 0));
	EXPECT_EQ(-EXFULL, capchan_derive(&self->ch, nd, R_LOOKUP));
	/* root's capabilities and ops on none (NOP) are not nobody's */
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, 0, root, 2));
	/* nobody as a caller is not listed */
	EXPECT_EQ(0, ops_as(&self->ch, self->dir, self->file, CC_UID_NOBODY,
			    root, 2));
}

/*
 * RENAME acts through two capabilities; the target DIR is presented to the
 * policy too (role TARGET), so a policy refusing ops on nobody's
 * capabilities refuses a rename into nobody's DIR.
 */
TEST_F(policy, denyuid_owner_rename_target)
{
	int nd = grant_as_nobody(&self->t, &self->ch);

	ASSERT_LT(0, nd);
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd, "tomove", "x"));
	self->du = capchan_denyuid__open_and_load();
	ASSERT_NE(NULL, self->du);
	ASSERT_EQ(0, add_deny(self->du->maps.uids, CC_UID_NOBODY, -EXFULL,
			      CAPCHAN_POLICY_MATCH_OWNER));
	ASSERT_EQ(0, capchan_denyuid__attach(self->du));
	EXPECT_EQ(-EXFULL, capchan_rename_beneath(&self->ch, self->dir, "tomove",
						  nd, "moved", 0));
	EXPECT_EQ(0, faccessat(self->t.jail_fd, "tomove", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->t.base_fd, "nobody/moved", F_OK, 0));
	/* the same rename with no policy: both capabilities allow it */
	capchan_denyuid__destroy(self->du);
	self->du = NULL;
	EXPECT_EQ(0, capchan_rename_beneath(&self->ch, self->dir, "tomove", nd,
					    "moved", 0));
	EXPECT_EQ(0, faccessat(self->t.base_fd, "nobody/moved", F_OK, 0));
}

/* ------------------------------------------------------------ ratelimit */

static int nop(struct capchan *ch)
{
	return run_op(ch, 0, 0, K_NOP);
}

static void *nop_thread(void *arg)
{
	return (void *)(intptr_t)nop(arg);
}

TEST_F(policy, ratelimit)
{
	pthread_t th;
	void *ret;
	pid_t pid;

	self->rl = capchan_ratelimit__open();
	ASSERT_NE(NULL, self->rl);
	/* one op every two seconds, bursts of three: slow enough for a
	 * loaded emulator to do the steps below well within one interval */
	self->rl->rodata->interval_ns = 2000000000ULL;
	self->rl->rodata->tolerance_ns = 2 * 2000000000ULL;
	ASSERT_EQ(0, capchan_ratelimit__load(self->rl));
	ASSERT_EQ(0, capchan_ratelimit__attach(self->rl));

	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0, nop(&self->ch)) TH_LOG("op %d of the burst", i);
	}
	EXPECT_EQ(-EAGAIN, nop(&self->ch));
	EXPECT_EQ(-EAGAIN, run_op(&self->ch, self->dir, self->file, K_READ));
	/* a thread of this process shares its bucket */
	ASSERT_EQ(0, pthread_create(&th, NULL, nop_thread, &self->ch));
	pthread_join(th, &ret);
	EXPECT_EQ(-EAGAIN, (int)(intptr_t)ret);
	/* another process has its own */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			if (nop(&self->ch))
				_exit(10 + i);
		_exit(nop(&self->ch) == -EAGAIN ? 0 : 20);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	/* tokens come back at the rate; a denied op took none */
	usleep(2400 * 1000);
	EXPECT_EQ(0, nop(&self->ch));
	EXPECT_EQ(-EAGAIN, nop(&self->ch));
	capchan_ratelimit__destroy(self->rl);
	self->rl = NULL;
	for (int i = 0; i < 10; i++)
		EXPECT_EQ(0, nop(&self->ch));
}

/* ------------------------------------------------------------ audit */

#define MAX_RECS	64

struct recs {
	uint64_t channel;
	int n;
	struct capchan_audit_rec r[MAX_RECS];
};

static int keep_rec(void *ctx, void *data, size_t size)
{
	struct recs *rs = ctx;
	const struct capchan_audit_rec *r = data;

	if (size < CAPCHAN_AUDIT_DENIED_SIZE || r->channel_id != rs->channel ||
	    rs->n == MAX_RECS)
		return 0;
	memset(&rs->r[rs->n], 0, sizeof(rs->r[0]));
	memcpy(&rs->r[rs->n], data, size < sizeof(*r) ? size : sizeof(*r));
	rs->n++;
	return 0;
}

TEST_F(policy, audit)
{
	static struct recs rs;
	struct ring_buffer *rb;
	struct capchan_stat st;
	const struct capchan_audit_rec *r;
	uint32_t key = CAPCHAN_AUDIT_STAT_LOST;
	uint64_t lost = 1;
	char buf[16];
	int h, ro;

	/* the verdict program first: audit, attached after it, sees its
	 * verdict; it denies only when asked (verdict 0 for now) */
	self->pv = verdict_prog(self->channel_id, 0);
	ASSERT_NE(NULL, self->pv);
	self->au = capchan_audit__open_and_load();
	ASSERT_NE(NULL, self->au);
	ASSERT_EQ(0, capchan_audit__attach(self->au));

	h = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
				 R_READ | R_SEEK | R_STAT | R_DERIVE);
	ASSERT_LT(0, h);
	EXPECT_EQ(7, capchan_read(&self->ch, h, buf, 7, 3));
	ro = capchan_derive(&self->ch, h, R_READ);
	ASSERT_LT(0, ro);
	/* refused by rights, before the hook: a DENIED record only */
	EXPECT_EQ(-EPERM, capchan_write(&self->ch, ro, "x", 1, 0));
	/* refused by a filter, after the hook */
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_STAT,
					     ENOTBLK));
	EXPECT_EQ(-ENOTBLK, capchan_stat(&self->ch, h, &st));
	/* refused by the policy */
	self->pv->bss->verdict = -EACCES;
	EXPECT_EQ(-EACCES, nop(&self->ch));
	self->pv->bss->verdict = 0;

	rs.channel = self->channel_id;
	rs.n = 0;
	rb = ring_buffer__new(bpf_map__fd(self->au->maps.events), keep_rec, &rs,
			      NULL);
	ASSERT_NE(NULL, rb);
	EXPECT_LE(0, ring_buffer__consume(rb));
	ring_buffer__free(rb);
	ASSERT_EQ(8, rs.n);

	r = &rs.r[0];	/* OPEN hello */
	EXPECT_EQ(CAPCHAN_AUDIT_AUTHORIZE, r->kind);
	EXPECT_EQ(CAPCHAN_OP_OPEN, r->op);
	EXPECT_EQ((uint32_t)self->dir, r->handle);
	EXPECT_EQ(CAPCHAN_CAP_DIR, r->cap_type);
	EXPECT_EQ(R_ALL, r->rights);
	EXPECT_EQ(R_READ | R_SEEK | R_STAT | R_DERIVE, r->rights_wanted);
	EXPECT_EQ(0, r->op_flags);
	EXPECT_EQ((uint32_t)getpid(), r->pid);
	EXPECT_EQ(0, r->caller_uid);
	EXPECT_EQ(0, r->owner_uid);
	EXPECT_EQ(0, r->verdict);
	EXPECT_EQ(5, r->path_len);
	EXPECT_STREQ("hello", r->path);

	r = &rs.r[1];	/* READ 7 bytes at 3 */
	EXPECT_EQ(CAPCHAN_AUDIT_AUTHORIZE, r->kind);
	EXPECT_EQ(CAPCHAN_OP_READ, r->op);
	EXPECT_EQ((uint32_t)h, r->handle);
	EXPECT_EQ(CAPCHAN_CAP_FILE, r->cap_type);
	EXPECT_EQ(R_READ | R_SEEK | R_STAT | R_DERIVE, r->rights);
	EXPECT_EQ(3, r->off);
	EXPECT_EQ(7, r->len);
	EXPECT_EQ(0, r->path_len);
	EXPECT_EQ(0, r->verdict);
	EXPECT_LE(rs.r[0].ts_ns, r->ts_ns);

	r = &rs.r[2];	/* DERIVE */
	EXPECT_EQ(CAPCHAN_OP_DERIVE, r->op);
	EXPECT_EQ(R_READ, r->rights_wanted);

	r = &rs.r[3];	/* WRITE refused by rights */
	EXPECT_EQ(CAPCHAN_AUDIT_DENIED, r->kind);
	EXPECT_EQ(CAPCHAN_OP_WRITE, r->op);
	EXPECT_EQ((uint32_t)ro, r->handle);
	EXPECT_EQ(CAPCHAN_AUDIT_BY_RIGHTS, r->reason);
	EXPECT_EQ(-EPERM, r->verdict);
	EXPECT_EQ((uint32_t)getpid(), r->pid);

	r = &rs.r[4];	/* STAT: the hook saw it, then the filter refused */
	EXPECT_EQ(CAPCHAN_AUDIT_AUTHORIZE, r->kind);
	EXPECT_EQ(CAPCHAN_OP_STAT, r->op);
	EXPECT_EQ(0, r->verdict);
	r = &rs.r[5];
	EXPECT_EQ(CAPCHAN_AUDIT_DENIED, r->kind);
	EXPECT_EQ(CAPCHAN_OP_STAT, r->op);
	EXPECT_EQ(CAPCHAN_AUDIT_BY_FILTER, r->reason);
	EXPECT_EQ(-ENOTBLK, r->verdict);

	r = &rs.r[6];	/* NOP: the earlier program's verdict, then DENIED */
	EXPECT_EQ(CAPCHAN_AUDIT_AUTHORIZE, r->kind);
	EXPECT_EQ(CAPCHAN_OP_NOP, r->op);
	EXPECT_EQ(0, r->cap_type);
	EXPECT_EQ(-EACCES, r->verdict);
	r = &rs.r[7];
	EXPECT_EQ(CAPCHAN_AUDIT_DENIED, r->kind);
	EXPECT_EQ(CAPCHAN_AUDIT_BY_POLICY, r->reason);
	EXPECT_EQ(-EACCES, r->verdict);

	EXPECT_EQ(0, bpf_map__lookup_elem(self->au->maps.stats, &key, sizeof(key),
					  &lost, sizeof(lost), 0));
	EXPECT_EQ(0, lost);
}

/* A full ring buffer loses records, counts them, and slows nothing down. */
TEST_F(policy, audit_ring_full)
{
	uint32_t key = CAPCHAN_AUDIT_STAT_LOST;
	uint64_t lost = 0;
	int n = CAPCHAN_AUDIT_RING_BYTES / sizeof(struct capchan_audit_rec) + 50;

	self->au = capchan_audit__open_and_load();
	ASSERT_NE(NULL, self->au);
	ASSERT_EQ(0, capchan_audit__attach(self->au));
	for (int i = 0; i < n; i++)
		ASSERT_EQ(0, nop(&self->ch));
	EXPECT_EQ(0, bpf_map__lookup_elem(self->au->maps.stats, &key, sizeof(key),
					  &lost, sizeof(lost), 0));
	EXPECT_LE(50, lost);
}

/* ------------------------------------------------------------ verdicts */

TEST_F(policy, bad_verdicts_are_eperm)
{
	static const int32_t bad[] = {
		1, 4096, INT32_MAX, -4096, -5000, INT32_MIN,
	};
	struct capchan other;
	long long stat0 = bad_verdicts_stat(), denied;

	ASSERT_LE(0, stat0);
	self->pv = verdict_prog(self->channel_id, 0);
	ASSERT_NE(NULL, self->pv);
	ASSERT_EQ(0, nop(&self->ch));
	for (unsigned i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		self->pv->bss->verdict = bad[i];
		EXPECT_EQ(-EPERM, nop(&self->ch)) TH_LOG("verdict %d", bad[i]);
		EXPECT_EQ(-EPERM, run_op(&self->ch, self->dir, self->file, K_READ));
		EXPECT_EQ(stat0 + 2 * (i + 1), bad_verdicts_stat());
		EXPECT_EQ(2 * (i + 1), fdinfo_num(self->ch.fd, "policy-bad-verdicts"));
	}
	denied = fdinfo_num(self->ch.fd, "policy-denied");
	EXPECT_EQ(2 * CC_ARRAY_SIZE(bad), denied);
	/* the extremes of the valid range are not bad */
	self->pv->bss->verdict = -4095;
	EXPECT_EQ(-4095, nop(&self->ch));
	self->pv->bss->verdict = -1;
	EXPECT_EQ(-1, nop(&self->ch));
	EXPECT_EQ(stat0 + 2 * CC_ARRAY_SIZE(bad), bad_verdicts_stat());
	EXPECT_EQ(2 * CC_ARRAY_SIZE(bad), fdinfo_num(self->ch.fd,
						     "policy-bad-verdicts"));
	EXPECT_EQ(denied + 2, fdinfo_num(self->ch.fd, "policy-denied"));
	/* another channel is not this program's business */
	self->pv->bss->verdict = INT32_MIN;
	ASSERT_EQ(0, capchan_open_channel(&other));
	EXPECT_EQ(0, nop(&other));
	EXPECT_EQ(0, fdinfo_num(other.fd, "policy-bad-verdicts"));
	capchan_queue_exit(&other);
	self->pv->bss->verdict = 0;
	EXPECT_EQ(0, nop(&self->ch));
	EXPECT_LT(0, self->pv->bss->calls);
}

/* Every field but the verdict is the module's: scribbling over them
 * changes nothing, the path the op uses included. */
TEST_F(policy, context_not_read_back)
{
	char buf[64];
	ssize_t n;
	int h;

	self->pv = verdict_prog(self->channel_id, 0);
	ASSERT_NE(NULL, self->pv);
	self->pv->bss->scribble = 1;
	h = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
				 R_READ | R_SEEK);
	ASSERT_LT(0, h);
	n = capchan_read(&self->ch, h, buf, sizeof(buf) - 1, 0);
	ASSERT_EQ((ssize_t)strlen(CC_HELLO), n);
	buf[n] = '\0';
	EXPECT_STREQ(CC_HELLO, buf);
	EXPECT_EQ(0, nop(&self->ch));
	EXPECT_EQ(-ENOENT, capchan_open_beneath(&self->ch, self->dir, "nosuch",
						0, 0, R_READ));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-denied"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-bad-verdicts"));
}

/*
 * The authorize event's path comes from the context a program may have
 * written: it is bounded by the field, never read past it.
 */
TEST_F(policy, trace_event_path_bounded)
{
	static const char ev[] = "/sys/kernel/tracing/events/capchan/capchan_authorize/enable";
	static char buf[1 << 16];
	struct capchan_stat st;
	char *p, *q;
	ssize_t n;
	int fd;

	if (access("/sys/kernel/tracing/trace", R_OK))
		mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	if (access(ev, W_OK))
		SKIP(return, "no tracefs");
	self->pv = verdict_prog(self->channel_id, 0);
	ASSERT_NE(NULL, self->pv);
	self->pv->bss->scribble = 1;	/* fills path with 'A', no NUL */
	/* the event's probe after the program's: it sees the scribbled path */
	fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);	/* clears it */
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, cc_write_str(ev, "1"));
	EXPECT_EQ(0, capchan_statat(&self->ch, self->dir, "hello", &st, 0));
	ASSERT_EQ(0, cc_write_str(ev, "0"));
	fd = open("/sys/kernel/tracing/trace", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	p = strstr(buf, "path=\"");
	ASSERT_NE(NULL, p);
	p += 6;
	q = strchr(p, '"');
	ASSERT_NE(NULL, q);
	EXPECT_EQ(CAPCHAN_HOOK_PATH_MAX - 1, q - p);
}

/* System policy first, then the channel's filters. */
TEST_F(policy, hook_before_filters)
{
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_NOP,
					     ENOTBLK));
	self->pv = verdict_prog(self->channel_id, -EACCES);
	ASSERT_NE(NULL, self->pv);
	EXPECT_EQ(-EACCES, nop(&self->ch));
	EXPECT_EQ(1, fdinfo_num(self->ch.fd, "policy-denied"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "filter-denied"));
	self->pv->bss->verdict = 0;
	EXPECT_EQ(-ENOTBLK, nop(&self->ch));
	EXPECT_EQ(1, fdinfo_num(self->ch.fd, "filter-denied"));
}

/* ------------------------------------------------------------ lifetime */

/*
 * An attached program holds a reference on the module (rmmod fails while
 * it is attached, with EWOULDBLOCK, like unload_test's cases); detaching
 * gives it back.  The VM runner's final rmmod shows unload then works.
 */
TEST_F(policy, attach_holds_module)
{
	long long base = cc_module_refcnt();

	if (base < 0)
		SKIP(return, "no /sys/module/capchan/refcnt");
	self->pv = verdict_prog(self->channel_id, 0);
	ASSERT_NE(NULL, self->pv);
	EXPECT_EQ(base + 1, cc_module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, try_unload());
	self->au = capchan_audit__open_and_load();
	ASSERT_NE(NULL, self->au);
	ASSERT_EQ(0, capchan_audit__attach(self->au));
	EXPECT_EQ(base + 3, cc_module_refcnt());	/* two tracepoints */
	capchan_audit__destroy(self->au);
	self->au = NULL;
	policy_verdict__destroy(self->pv);
	self->pv = NULL;
	EXPECT_EQ(base, cc_module_refcnt());
}

static int bpffs_ready(void)
{
	struct statfs fs;

	if (!statfs(PIN_DIR, &fs) && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", PIN_DIR, "bpf", 0, NULL))
		return -errno;
	return 0;
}

/* A pinned link keeps the policy after its loader let go of everything;
 * unpinning removes it (soon: bpffs frees the pin after an RCU grace
 * period), and the module reference with it. */
TEST_F(policy, pinned_outlives_loader)
{
	char pin[64];
	long long base = cc_module_refcnt();
	int i;

	if (bpffs_ready())
		SKIP(return, "no bpffs at " PIN_DIR);
	snprintf(pin, sizeof(pin), PIN_DIR "/capchan-test-%d", getpid());
	self->pv = verdict_prog(self->channel_id, -ENOLINK);
	ASSERT_NE(NULL, self->pv);
	ASSERT_EQ(0, bpf_link__pin(self->pv->links.capchan_verdict, pin));
	/* closes every fd of ours: only the pin holds the link now */
	policy_verdict__destroy(self->pv);
	self->pv = NULL;
	EXPECT_EQ(-ENOLINK, nop(&self->ch));
	if (base >= 0)
		EXPECT_EQ(base + 1, cc_module_refcnt());
	ASSERT_EQ(0, unlink(pin));
	for (i = 0; i < 500 && nop(&self->ch) == -ENOLINK; i++)
		usleep(10000);
	EXPECT_EQ(0, nop(&self->ch));
	for (i = 0; base >= 0 && i < 500 && cc_module_refcnt() != base; i++)
		usleep(10000);
	if (base >= 0)
		EXPECT_EQ(base, cc_module_refcnt());
}

TEST_HARNESS_MAIN
