// SPDX-License-Identifier: GPL-2.0
/*
 * CAPCHAN_IOC_VERSION and ioctl number validation.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define ALL_FEATURES	(CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK |		\
			 CAPCHAN_FEAT_CHAIN_HANDLE |				\
			 CAPCHAN_FEAT_DIRECT_INVOKE | CAPCHAN_FEAT_NODROP |	\
			 CAPCHAN_FEAT_POLL | CAPCHAN_FEAT_CAP_CREDS |	\
			 CAPCHAN_FEAT_HOOK | CAPCHAN_FEAT_FILTER |		\
			 CAPCHAN_FEAT_MMAP | CAPCHAN_FEAT_SQPOLL |		\
			 CAPCHAN_FEAT_WORKERS)
#define ALL_OPS		((1ULL << CAPCHAN_OP_LAST) - 1)

FIXTURE(version) {
	int fd;
};

FIXTURE_SETUP(version)
{
	self->fd = cc_open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", CAPCHAN_DEVICE,
				      strerror(-self->fd));
}

FIXTURE_TEARDOWN(version)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Expected value of a module parameter, or its documented default. */
static long long param_or(const char *name, long long dflt)
{
	int err;
	long long v = cc_module_param(name, &err);

	return err ? dflt : v;
}

TEST_F(version, fields_exact)
{
	struct capchan_version v;

	memset(&v, 0, sizeof(v));
	ASSERT_EQ(0, cc_ioctl(self->fd, CAPCHAN_IOC_VERSION, &v));
	EXPECT_EQ(CAPCHAN_ABI_VERSION, v.abi_version);
	EXPECT_EQ(2, v.abi_version);
	EXPECT_EQ(CAPCHAN_RIGHTS_ALL, v.rights);
	/* the BTF layer is live exactly where the module carries BTF */
	EXPECT_EQ(ALL_FEATURES, v.features & ~CAPCHAN_FEAT_BTF);
	EXPECT_EQ(access("/sys/kernel/btf/capchan", R_OK) == 0,
		  !!(v.features & CAPCHAN_FEAT_BTF));
	/* Bits 0..11: NOP..PREFETCH, minus the ones disabled by parameter. */
	EXPECT_EQ(ALL_OPS & ~(unsigned long long)param_or("disabled_ops", 0),
		  v.ops);
	EXPECT_EQ(CAPCHAN_MAX_SQ_ENTRIES, v.max_sq_entries);
	EXPECT_EQ(CAPCHAN_MAX_CQ_ENTRIES, v.max_cq_entries);
	EXPECT_EQ(param_or("max_caps", 4096), v.max_caps);
	EXPECT_EQ(param_or("max_depth", 64), v.max_depth);
	EXPECT_LE(1, v.max_caps);
	EXPECT_GE(65535, v.max_caps);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, v.resv[i]);
}

/* Defaults when the runner loads the module without parameters. */
TEST_F(version, default_limits)
{
	struct capchan_version v;
	int err;

	cc_module_param("max_caps", &err);
	if (err)
		SKIP(return, "no /sys/module/capchan/parameters");
	ASSERT_EQ(0, cc_version(self->fd, &v));
	if (param_or("max_caps", 4096) != 4096 ||
	    param_or("max_depth", 64) != 64 ||
	    param_or("disabled_ops", 0) != 0)
		SKIP(return, "module loaded with non-default parameters");
	EXPECT_EQ(4096, v.max_caps);
	EXPECT_EQ(64, v.max_depth);
	EXPECT_EQ(ALL_OPS, v.ops);
	EXPECT_EQ(0xfffffULL, v.ops);	/* opcodes 0..19 */
}

TEST_F(version, library_agrees)
{
	struct capchan ch;
	struct capchan_version v1, v2;

	ASSERT_EQ(0, capchan_open_channel(&ch));
	ASSERT_EQ(0, capchan_get_version(&ch, &v1));
	ASSERT_EQ(0, cc_version(self->fd, &v2));
	EXPECT_EQ(0, memcmp(&v1, &v2, sizeof(v1)));
	capchan_queue_exit(&ch);
}

TEST_F(version, reserved_nonzero)
{
	for (int i = 0; i < 4; i++) {
		for (int bit = 0; bit < 64; bit += 63) {
			struct capchan_version v;

			memset(&v, 0, sizeof(v));
			v.resv[i] = 1ULL << bit;
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_VERSION, &v));
			EXPECT_EQ(EINVAL, errno) TH_LOG("resv[%d] bit %d", i, bit);
		}
	}
}

TEST_F(version, bad_pointer)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_VERSION, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_VERSION,
			    (void *)0xffffffffffff0000ULL));
	EXPECT_EQ(EFAULT, errno);
}

/* The struct straddles the end of a mapping: partial copy is still EFAULT. */
TEST_F(version, pointer_past_mapping)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + pg, pg));
	memset(p, 0, pg);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, CAPCHAN_IOC_VERSION,
			    p + pg - sizeof(struct capchan_version) / 2));
	EXPECT_EQ(EFAULT, errno);
	munmap(p, pg);
}

TEST_F(version, unknown_cmd)
{
	struct capchan_version v;
	const unsigned long cmds[] = {
		_IOWR(CAPCHAN_IOC_MAGIC, 0x06, struct capchan_version),
		_IOWR(CAPCHAN_IOC_MAGIC, 0x7f, struct capchan_version),
		_IOWR(CAPCHAN_IOC_MAGIC, 0xff, struct capchan_version),
		_IO(CAPCHAN_IOC_MAGIC, 0x06),
		_IOWR(0xCB, 0x00, struct capchan_version),	/* other magic */
		_IOWR('T', 0x00, struct capchan_version),
		0,
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(cmds); i++) {
		memset(&v, 0, sizeof(v));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &v));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd 0x%lx", cmds[i]);
	}
}

/* Terminal and generic file ioctls are not ours either. */
TEST_F(version, foreign_ioctls)
{
	int n = 0;
	char buf[64] = { 0 };

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, TCGETS, buf));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, TIOCGWINSZ, buf));
	EXPECT_EQ(ENOTTY, errno);
	/* FIONREAD is answered by the VFS only for regular files. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, FIONREAD, &n));
	EXPECT_EQ(ENOTTY, errno);
}

/* The size and direction encoded in the command must match exactly. */
TEST_F(version, wrong_size_or_direction)
{
	char buf[256];
	struct capchan_version v;
	const unsigned long sz = sizeof(struct capchan_version);
	const unsigned long cmds[] = {
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x00, sz - 8),
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x00, sz + 8),
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x00, 0),
		_IOC(_IOC_READ, CAPCHAN_IOC_MAGIC, 0x00, sz),
		_IOC(_IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x00, sz),
		_IOC(_IOC_NONE, CAPCHAN_IOC_MAGIC, 0x00, 0),
		/* the other commands with a wrong size too */
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x01,
		     sizeof(struct capchan_params) - 4),
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x02,
		     sizeof(struct capchan_grant) + 8),
		_IOC(_IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x03, 8),
		_IOC(_IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x04,
		     sizeof(struct capchan_enter) - 8),
		_IOC(_IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x05,
		     sizeof(struct capchan_sqe) - 8),
		_IOC(_IOC_READ | _IOC_WRITE, CAPCHAN_IOC_MAGIC, 0x05,
		     sizeof(struct capchan_sqe)),
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, sizeof(buf));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], buf));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd 0x%lx", cmds[i]);
	}
	/* Still fine afterwards. */
	EXPECT_EQ(0, cc_version(self->fd, &v));
	EXPECT_EQ(2, v.abi_version);
}

TEST_F(version, device_node)
{
	struct stat st;
	int err;
	long long mode, group;
	int fd2;

	ASSERT_EQ(0, stat(CAPCHAN_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	mode = cc_module_param("dev_mode", &err);
	if (!err)
		EXPECT_EQ(mode & 07777, st.st_mode & 07777);
	group = cc_module_param("dev_group", &err);
	if (!err && group >= 0)
		EXPECT_EQ(group, st.st_gid);
	/* Every open is its own channel. */
	fd2 = cc_open_dev();
	ASSERT_LE(0, fd2);
	EXPECT_NE(self->fd, fd2);
	close(fd2);
}

/*
 * disabled_ops: if the parameter is writable at run time, a disabled op
 * answers -EOPNOTSUPP and vanishes from VERSION.ops.
 */
TEST_F(version, disabled_ops_param)
{
	const char *path = "/sys/module/capchan/parameters/disabled_ops";
	struct capchan_version v;
	struct capchan_sqe s;
	char old[64];
	int err, ofd;
	ssize_t n;

	cc_module_param("disabled_ops", &err);
	if (err)
		SKIP(return, "disabled_ops not visible in sysfs");
	ofd = open(path, O_RDONLY);
	ASSERT_LE(0, ofd);
	n = read(ofd, old, sizeof(old) - 1);
	close(ofd);
	ASSERT_LT(0, n);
	old[n] = '\0';
	if (cc_write_str(path, "1"))	/* bit 0: NOP */
		SKIP(return, "disabled_ops is not writable at run time");

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	EXPECT_EQ(-EOPNOTSUPP, cc_invoke(self->fd, &s));
	/* Unknown opcodes still come first. */
	cc_sqe(&s, CAPCHAN_OP_LAST, 0);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	/* Disabled comes before field validation. */
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	s.resv1 = 1;
	EXPECT_EQ(-EOPNOTSUPP, cc_invoke(self->fd, &s));
	EXPECT_EQ(0, cc_version(self->fd, &v));
	EXPECT_EQ(ALL_OPS & ~1ULL, v.ops);

	ASSERT_EQ(0, cc_write_str(path, old));
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	EXPECT_EQ(0, cc_invoke(self->fd, &s));
}

TEST_HARNESS_MAIN
