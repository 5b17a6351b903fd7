// SPDX-License-Identifier: GPL-2.0
/*
 * Per-channel classic BPF filters (CAPCHAN_IOC_FILTER) and libcapchan's
 * filter calls: what a filter sees and decides, how filters stack, that
 * they survive SEAL, cannot be removed or loosened, need no privilege and
 * travel with the channel fd, every way a filter is refused, and attaching
 * while other threads have ops in flight.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define FD_OFF(field)	offsetof(struct capchan_filter_data, field)

/* CAPCHAN_IOC_FILTER with every field given. */
static int filter_raw(int fd, const struct sock_filter *insns, uint32_t len,
		      uint32_t flags, uint64_t resv0, uint64_t resv1)
{
	struct capchan_filter f;

	memset(&f, 0, sizeof(f));
	f.len = len;
	f.flags = flags;
	f.insns = (uint64_t)(uintptr_t)insns;
	f.resv[0] = resv0;
	f.resv[1] = resv1;
	return cc_ioctl(fd, CAPCHAN_IOC_FILTER, &f);
}

static int filter(int fd, const struct sock_filter *insns, uint32_t len)
{
	return filter_raw(fd, insns, len, 0, 0, 0);
}

/* A filter returning ret for every op. */
static int filter_ret(int fd, uint32_t ret)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, ret) };

	return filter(fd, f, 1);
}

/* Deny with err when the data word at off, masked, equals val. */
static int filter_deny_eq(int fd, uint32_t off, uint32_t mask, uint32_t val,
			  int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, val, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(err)),
	};

	return filter(fd, f, CC_ARRAY_SIZE(f));
}

static long long fdinfo_num(int fd, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

FIXTURE(filter) {
	struct cc_tree t;
	struct capchan ch;
	int dir;		/* the jail, every right */
	int file;		/* jail/hello: read write seek stat derive delegate */
};

FIXTURE_SETUP(filter)
{
	struct capchan_version v;

	ASSERT_EQ(0, cc_tree_create(&self->t, "filter"));
	ASSERT_EQ(0, capchan_queue_init(64, &self->ch, 0));
	ASSERT_EQ(0, capchan_get_version(&self->ch, &v));
	if (!(v.features & CAPCHAN_FEAT_FILTER))
		SKIP(return, "module without CAPCHAN_FEAT_FILTER");
	self->dir = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, self->dir);
	self->file = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
					  R_READ | R_WRITE | R_SEEK | R_STAT |
					  R_DERIVE | R_DELEGATE);
	ASSERT_LT(0, self->file);
}

FIXTURE_TEARDOWN(filter)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

static ssize_t rd(struct capchan *ch, uint32_t h)
{
	char buf[64];

	return capchan_read(ch, h, buf, sizeof(buf), 0);
}

static ssize_t wr(struct capchan *ch, uint32_t h)
{
	return capchan_write(ch, h, "x", 1, 0);
}

static int nop(struct capchan *ch)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	return capchan_invoke(ch, &s);
}

TEST_F(filter, no_filter_counters_zero)
{
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "filters"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "filter-denied"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-denied"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-bad-verdicts"));
}

TEST_F(filter, deny_write_read_works)
{
	char buf[64];

	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EPERM));
	EXPECT_EQ(-EPERM, wr(&self->ch, self->file));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, self->file));
	EXPECT_EQ(0, nop(&self->ch));
	EXPECT_EQ(1, fdinfo_num(self->ch.fd, "filters"));
	EXPECT_EQ(1, fdinfo_num(self->ch.fd, "filter-denied"));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "policy-denied"));
	/* the file is untouched */
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), cc_get_file(self->t.jail_fd, "hello",
							  buf, sizeof(buf)));
	EXPECT_STREQ(CC_HELLO, buf);
}

TEST_F(filter, chosen_errno)
{
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EROFS));
	EXPECT_EQ(-EROFS, wr(&self->ch, self->file));
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_READ,
					     4095));
	EXPECT_EQ(-4095, rd(&self->ch, self->file));
}

/* The ring path is filtered like INVOKE. */
TEST_F(filter, ring_ops_filtered)
{
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	char buf[8];

	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     ENOLINK));
	sqe = capchan_get_sqe(&self->ch);
	capchan_prep_write(sqe, self->file, "x", 1, 0);
	capchan_sqe_set_data64(sqe, 1);
	sqe = capchan_get_sqe(&self->ch);
	capchan_prep_read(sqe, self->file, buf, sizeof(buf), 0);
	capchan_sqe_set_data64(sqe, 2);
	ASSERT_EQ(2, capchan_submit_and_wait(&self->ch, 2));
	ASSERT_EQ(0, capchan_peek_cqe(&self->ch, &cqe));
	EXPECT_EQ(1, cqe->user_data);
	EXPECT_EQ(-ENOLINK, cqe->res);
	capchan_cqe_seen(&self->ch, cqe);
	ASSERT_EQ(0, capchan_peek_cqe(&self->ch, &cqe));
	EXPECT_EQ(2, cqe->user_data);
	EXPECT_EQ((int)sizeof(buf), cqe->res);
	capchan_cqe_seen(&self->ch, cqe);
}

/* Return values: only ALLOW allows; ERRNO(1..4095) is that errno; any
 * other value (ERRNO(0), ERRNO(4096), 0, ALLOW + 1, from K or A) -EPERM. */
TEST(return_values)
{
	static const struct {
		uint32_t ret;
		int want;
	} cases[] = {
		{ CAPCHAN_FILTER_ALLOW, 0 },
		{ CAPCHAN_FILTER_ERRNO(1), -1 },
		{ CAPCHAN_FILTER_ERRNO(EACCES), -EACCES },
		{ CAPCHAN_FILTER_ERRNO(4095), -4095 },
		{ CAPCHAN_FILTER_ERRNO(0), -EPERM },
		{ CAPCHAN_FILTER_ERRNO(4096), -EPERM },
		{ CAPCHAN_FILTER_ERRNO(0xffff), -EPERM },
		{ 0, -EPERM },
		{ CAPCHAN_FILTER_ALLOW + 1, -EPERM },
		{ 0x7fff0000U | EACCES, -EPERM },
		{ 0x00060000U | EACCES, -EPERM },
		{ 0xffffffffU, -EPERM },
	};

	for (unsigned i = 0; i < CC_ARRAY_SIZE(cases); i++) {
		struct sock_filter by_a[] = {
			BPF_STMT(BPF_LD | BPF_IMM, cases[i].ret),
			BPF_STMT(BPF_RET | BPF_A, 0),
		};
		struct capchan ch;

		ASSERT_EQ(0, capchan_open_channel(&ch));
		ASSERT_EQ(0, filter_ret(ch.fd, cases[i].ret));
		EXPECT_EQ(cases[i].want, nop(&ch)) TH_LOG("ret 0x%x", cases[i].ret);
		capchan_queue_exit(&ch);

		ASSERT_EQ(0, capchan_open_channel(&ch));
		ASSERT_EQ(0, filter(ch.fd, by_a, 2));
		EXPECT_EQ(cases[i].want, nop(&ch)) TH_LOG("A = 0x%x", cases[i].ret);
		capchan_queue_exit(&ch);
	}
}

/* Every word of struct capchan_filter_data holds what it says. */
TEST_F(filter, data_op_and_cap_type)
{
	struct capchan_stat st;

	/* deny STAT on FILE capabilities only */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FD_OFF(op)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_STAT, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FD_OFF(cap_type)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_CAP_FILE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(ENOTBLK)),
	};

	ASSERT_EQ(0, filter(self->ch.fd, f, CC_ARRAY_SIZE(f)));
	EXPECT_EQ(-ENOTBLK, capchan_stat(&self->ch, self->file, &st));
	EXPECT_EQ(0, capchan_stat(&self->ch, self->dir, &st));
	EXPECT_EQ(0, nop(&self->ch));	/* cap_type 0: no capability */
}

TEST_F(filter, data_rights_held)
{
	int ro = capchan_derive(&self->ch, self->file, R_READ | R_SEEK | R_STAT);

	ASSERT_LT(0, ro);
	/* deny any op on a capability that holds WRITE */
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(rights_lo),
				    (uint32_t)R_WRITE, (uint32_t)R_WRITE, EBADE));
	EXPECT_EQ(-EBADE, rd(&self->ch, self->file));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, ro));
	/* no right above bit 31 exists: rights_hi is 0 */
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(rights_hi), ~0U, 0, EBADR));
	EXPECT_EQ(-EBADR, rd(&self->ch, ro));
}

TEST_F(filter, data_wanted_and_op_flags)
{
	int h;

	/* OPEN asking for WRITE, and OPEN with O_TRUNC, refused differently */
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(wanted_lo),
				    (uint32_t)R_WRITE, (uint32_t)R_WRITE, EXFULL));
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(op_flags), O_TRUNC,
				    O_TRUNC, ENOANO));
	EXPECT_EQ(-EXFULL, capchan_open_beneath(&self->ch, self->dir, "hello", 0,
						0, R_READ | R_WRITE));
	/* (O_TRUNC needs the write right; the newest filter decides) */
	EXPECT_EQ(-ENOANO, capchan_open_beneath(&self->ch, self->dir, "hello",
						O_TRUNC, 0, R_READ | R_WRITE));
	h = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0, R_READ);
	EXPECT_LT(0, h);
	/* DERIVE's wanted rights are in the data too */
	EXPECT_EQ(-EXFULL, capchan_derive(&self->ch, self->file, R_WRITE));
	EXPECT_LT(0, capchan_derive(&self->ch, self->file, R_READ));
	/* wanted_hi is 0 */
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(wanted_hi), ~0U, 1, EBADE));
	EXPECT_LT(0, capchan_derive(&self->ch, self->file, R_READ));
}

TEST_F(filter, data_handle)
{
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(handle), ~0U,
				    (uint32_t)self->file, ENOSTR));
	EXPECT_EQ(-ENOSTR, rd(&self->ch, self->file));
	EXPECT_EQ(0, nop(&self->ch));
}

TEST_F(filter, data_off_and_len)
{
	char buf[64];

	/* READ at offset 5, READ at the current position, READ of 7 bytes */
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(off_lo), ~0U, 5, ENOSR));
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(off_hi), ~0U,
				    0xffffffffU, ENODATA));
	ASSERT_EQ(0, filter_deny_eq(self->ch.fd, FD_OFF(len), ~0U, 7, ETIME));
	EXPECT_EQ(-ENOSR, capchan_read(&self->ch, self->file, buf, 3, 5));
	EXPECT_EQ(-ENODATA, capchan_read(&self->ch, self->file, buf, 3,
					 CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-ETIME, capchan_read(&self->ch, self->file, buf, 7, 0));
	EXPECT_EQ(3, capchan_read(&self->ch, self->file, buf, 3, 4));
}

/* BPF_LD|BPF_W|BPF_LEN is the size of the data; role is 0 (SUBJECT) for a NOP. */
TEST_F(filter, data_len_and_resv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 sizeof(struct capchan_filter_data), 0, 3),
		BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FD_OFF(role)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(EPROTO)),
		BPF_STMT(BPF_MISC | BPF_TXA, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 sizeof(struct capchan_filter_data), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(EDOM)),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(EPROTO)),
	};

	ASSERT_EQ(0, filter(self->ch.fd, f, CC_ARRAY_SIZE(f)));
	EXPECT_EQ(-EDOM, nop(&self->ch));
}

/* Newest first; the first that does not allow decides. */
TEST_F(filter, stacking_newest_first)
{
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_READ,
					     EACCES));
	EXPECT_EQ(-EACCES, rd(&self->ch, self->file));
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_READ,
					     EROFS));
	EXPECT_EQ(-EROFS, rd(&self->ch, self->file));
	/* a newer filter that allows everything passes to the older ones */
	ASSERT_EQ(0, filter_ret(self->ch.fd, CAPCHAN_FILTER_ALLOW));
	EXPECT_EQ(-EROFS, rd(&self->ch, self->file));
	/* one that denies WRITE decides WRITE; READ still goes down */
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     ENOSPC));
	EXPECT_EQ(-ENOSPC, wr(&self->ch, self->file));
	EXPECT_EQ(-EROFS, rd(&self->ch, self->file));
	EXPECT_EQ(4, fdinfo_num(self->ch.fd, "filters"));
	EXPECT_EQ(5, fdinfo_num(self->ch.fd, "filter-denied"));
}

TEST_F(filter, survives_seal)
{
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EPERM));
	ASSERT_EQ(0, capchan_seal_flags(&self->ch, CAPCHAN_SEAL_IMPORT));
	EXPECT_EQ(-EPERM, wr(&self->ch, self->file));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, self->file));
	/* a sealed channel still takes filters: they only take away */
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_READ,
					     EACCES));
	EXPECT_EQ(-EACCES, rd(&self->ch, self->file));
	EXPECT_EQ(2, fdinfo_num(self->ch.fd, "filters"));
}

/* There is no way to remove or loosen a filter: an allow-all on top
 * changes nothing, nor does a dup'd fd, nor re-sealing. */
TEST_F(filter, cannot_be_removed)
{
	struct capchan_sqe s;
	int fd2;

	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EPERM));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, filter_ret(self->ch.fd, CAPCHAN_FILTER_ALLOW));
	EXPECT_EQ(-EPERM, wr(&self->ch, self->file));
	ASSERT_EQ(0, capchan_seal(&self->ch));
	EXPECT_EQ(-EPERM, wr(&self->ch, self->file));
	fd2 = dup(self->ch.fd);
	ASSERT_LE(0, fd2);
	cc_sqe(&s, CAPCHAN_OP_WRITE, self->file);
	s.addr = (uint64_t)(uintptr_t)"x";
	s.len = 1;
	EXPECT_EQ(-EPERM, cc_invoke(fd2, &s));
	close(fd2);
	EXPECT_EQ(4, fdinfo_num(self->ch.fd, "filters"));
}

/* A capability exported from a filtered channel is not filtered in the
 * channel that imports it: filters belong to the channel.  The readonly
 * helper therefore refuses EXPORT of rights that change a file system. */
TEST_F(filter, readonly_helper)
{
	struct capchan_stat st;
	char buf[8192];
	int h;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "emptydir", 0755));
	ASSERT_EQ(0, capchan_filter_readonly(&self->ch, EROFS));
	EXPECT_EQ(-EROFS, wr(&self->ch, self->file));
	EXPECT_EQ(-EROFS, capchan_truncate(&self->ch, self->file, 0));
	EXPECT_EQ(-EROFS, capchan_mkdir_beneath(&self->ch, self->dir, "new", 0755));
	EXPECT_EQ(-EROFS, capchan_unlink_beneath(&self->ch, self->dir, "hello"));
	EXPECT_EQ(-EROFS, capchan_rmdir_beneath(&self->ch, self->dir, "emptydir"));
	EXPECT_EQ(-EROFS, capchan_symlink_beneath(&self->ch, self->dir, "ln", "hello"));
	EXPECT_EQ(-EROFS, capchan_rename_beneath(&self->ch, self->dir, "hello",
						 self->dir, "hello2", 0));
	EXPECT_EQ(-EROFS, capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
					       R_READ | R_WRITE));
	EXPECT_EQ(-EROFS, capchan_open_beneath(&self->ch, self->dir, "newfile",
					       O_CREAT, 0644, R_READ));
	EXPECT_EQ(-EROFS, capchan_open_beneath(&self->ch, self->dir, "hello",
					       O_TRUNC, 0, R_READ | R_WRITE));
	EXPECT_EQ(-EROFS, capchan_export(&self->ch, self->file, R_READ | R_WRITE));
	EXPECT_EQ(-EROFS, capchan_export(&self->ch, self->dir, R_LOOKUP | R_CREATE));
	EXPECT_EQ(-EROFS, capchan_export(&self->ch, self->dir,
					 R_LOOKUP | CAPCHAN_RIGHT_REMOVE));
	/* what only reads works */
	h = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0, R_READ);
	EXPECT_LT(0, h);
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, self->file));
	EXPECT_EQ(0, capchan_stat(&self->ch, self->file, &st));
	EXPECT_EQ(0, capchan_statat(&self->ch, self->dir, "sub", &st, 0));
	EXPECT_LT(0, capchan_readdir(&self->ch, self->dir, buf, sizeof(buf), 0));
	h = capchan_export(&self->ch, self->dir, R_LOOKUP | R_READ);
	EXPECT_LE(0, h);
	if (h >= 0)
		close(h);
	/* DERIVE stays inside the channel, where WRITE stays refused */
	h = capchan_derive(&self->ch, self->file, R_READ | R_WRITE);
	EXPECT_LT(0, h);
	EXPECT_EQ(-EROFS, wr(&self->ch, h));
	/* nothing changed on disk */
	EXPECT_EQ(0, faccessat(self->t.jail_fd, "hello", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->t.jail_fd, "new", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->t.jail_fd, "newfile", F_OK, 0));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), cc_get_file(self->t.jail_fd, "hello",
							  buf, sizeof(buf)));
}

TEST_F(filter, allow_ops_helper)
{
	ASSERT_EQ(0, capchan_filter_allow_ops(&self->ch, 1ULL << CAPCHAN_OP_READ,
					      EACCES));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, self->file));
	EXPECT_EQ(-EACCES, wr(&self->ch, self->file));
	EXPECT_EQ(-EACCES, nop(&self->ch));
	EXPECT_EQ(-EACCES, capchan_derive(&self->ch, self->file, R_READ));
	/* CLOSE is never filtered: a handle can always be let go */
	EXPECT_EQ(0, capchan_close(&self->ch, self->file));
	/* allowing nothing is a valid (dead) channel */
	ASSERT_EQ(0, capchan_filter_allow_ops(&self->ch, 0, ENOLINK));
	EXPECT_EQ(-ENOLINK, capchan_stat(&self->ch, self->dir,
					 &(struct capchan_stat){ 0 }));
}

TEST_F(filter, helper_bad_arguments)
{
	EXPECT_EQ(-EINVAL, capchan_filter_deny_ops(&self->ch, 1, 0));
	EXPECT_EQ(-EINVAL, capchan_filter_deny_ops(&self->ch, 1, -EPERM));
	EXPECT_EQ(-EINVAL, capchan_filter_deny_ops(&self->ch, 1, 4096));
	EXPECT_EQ(-EINVAL, capchan_filter_deny_ops(&self->ch, 0, EPERM));
	EXPECT_EQ(-EINVAL, capchan_filter_allow_ops(&self->ch, 1, 0));
	EXPECT_EQ(-EINVAL, capchan_filter_readonly(&self->ch, 0));
	EXPECT_EQ(-EINVAL, capchan_filter_readonly(&self->ch, 5000));
	EXPECT_EQ(0, fdinfo_num(self->ch.fd, "filters"));
	/* opcodes beyond the ABI's may be named: nothing matches them yet */
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << 63, EPERM));
	EXPECT_EQ((ssize_t)strlen(CC_HELLO), rd(&self->ch, self->file));
}

/* ------------------------------------------------------------ who */

/* No privilege: a process as nobody filters its own channel. */
TEST_F(filter, unprivileged)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		int d, h;

		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(10);
		if (capchan_open_channel(&ch))
			_exit(11);
		d = capchan_grant(&ch, self->t.jail_fd, R_LOOKUP | R_READ | R_STAT);
		if (d <= 0)
			_exit(12);
		h = capchan_open_beneath(&ch, d, "hello", 0, 0, R_READ | R_STAT);
		if (h <= 0)
			_exit(13);
		if (capchan_filter_deny_ops(&ch, 1ULL << CAPCHAN_OP_READ, EKEYREJECTED))
			_exit(14);
		if (rd(&ch, h) != -EKEYREJECTED)
			_exit(15);
		if (capchan_stat(&ch, h, &(struct capchan_stat){ 0 }))
			_exit(16);
		_exit(0);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
}

/* The filter is the channel's: an fd passed by SCM_RIGHTS to a process
 * that never had the channel carries it, both ways. */
TEST_F(filter, travels_with_scm_rights)
{
	int sv[2], ready[2];
	uint32_t v;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		uint32_t h;
		int fd;

		close(sv[0]);
		/* only the fd that comes by the socket */
		munmap(self->ch.ring_ptr, self->ch.ring_sz);
		close(self->ch.fd);
		fd = cc_recv_fd(sv[1]);
		if (fd < 0 || cc_recv_u32(sv[1], &h))
			_exit(10);
		memset(&ch, 0, sizeof(ch));
		ch.fd = fd;
		if (wr(&ch, h) != -EMLINK)
			_exit(11);
		if (rd(&ch, h) != (ssize_t)strlen(CC_HELLO))
			_exit(12);
		/* a filter added here holds in the sender's process too */
		if (capchan_filter_deny_ops(&ch, 1ULL << CAPCHAN_OP_STAT, ENOMEDIUM))
			_exit(13);
		cc_send_u32(ready[1], 1);
		_exit(0);
	}
	close(sv[1]);
	close(ready[1]);
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EMLINK));
	ASSERT_EQ(0, cc_send_fd(sv[0], self->ch.fd));
	ASSERT_EQ(0, cc_send_u32(sv[0], (uint32_t)self->file));
	ASSERT_EQ(0, cc_recv_u32(ready[0], &v));
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ(-ENOMEDIUM, capchan_stat(&self->ch, self->file,
					   &(struct capchan_stat){ 0 }));
	EXPECT_EQ(2, fdinfo_num(self->ch.fd, "filters"));
	close(sv[0]);
	close(ready[0]);
}

TEST_F(filter, inherited_by_fork)
{
	pid_t pid;

	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_WRITE,
					     EPERM));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(wr(&self->ch, self->file) == -EPERM ? 0 : 1);
	EXPECT_EQ(0, cc_wait_child(pid));
}

/* ------------------------------------------------------------ refused */

TEST(invalid_instructions)
{
	static const struct sock_filter bad[][2] = {
		/* unknown or not allowed: byte and half loads, scratch
		 * memory, indirect loads, MSH, extensions, junk */
		{ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_MEM, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LDX | BPF_MEM, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_ST, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_STX, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL),
		  BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(0xffff, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		/* loads outside the data, misaligned */
		{ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, sizeof(struct capchan_filter_data)),
		  BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0xfffffffcU), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 45), BPF_STMT(BPF_RET | BPF_K, 0) },
		/* classic checks: no return at the end, a jump out, / 0 */
		{ BPF_STMT(BPF_LD | BPF_IMM, 0), BPF_STMT(BPF_LD | BPF_IMM, 0) },
		{ BPF_JUMP(BPF_JMP | BPF_JA, 5, 0, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
		{ BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, 0) },
	};
	struct sock_filter ok[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 sizeof(struct capchan_filter_data) - 4),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
	};
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	for (unsigned i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, filter(fd, bad[i], 2)) TH_LOG("case %u", i);
	}
	EXPECT_EQ(0, fdinfo_num(fd, "filters"));
	EXPECT_EQ(0, filter(fd, ok, 2));
	EXPECT_EQ(1, fdinfo_num(fd, "filters"));
	close(fd);
}

TEST(too_long_and_empty)
{
	static struct sock_filter f[CAPCHAN_FILTER_MAX_INSNS + 1];
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	for (unsigned i = 0; i < CC_ARRAY_SIZE(f); i++)
		f[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, i);
	f[CAPCHAN_FILTER_MAX_INSNS] =
		(struct sock_filter)BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW);
	EXPECT_EQ(-EINVAL, filter(fd, f, CAPCHAN_FILTER_MAX_INSNS + 1));
	EXPECT_EQ(-EINVAL, filter(fd, f, 0));
	EXPECT_EQ(-EINVAL, filter(fd, f, 0xffffffffU));
	/* exactly the maximum is fine */
	f[CAPCHAN_FILTER_MAX_INSNS - 1] =
		(struct sock_filter)BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW);
	EXPECT_EQ(0, filter(fd, f, CAPCHAN_FILTER_MAX_INSNS));
	EXPECT_EQ(1, fdinfo_num(fd, "filters"));
	close(fd);
}

TEST(too_many)
{
	int fd = cc_open_dev();
	struct capchan ch = { .fd = fd };

	ASSERT_LE(0, fd);
	for (int i = 0; i < CAPCHAN_FILTER_MAX; i++) {
		ASSERT_EQ(0, filter_ret(fd, CAPCHAN_FILTER_ALLOW)) TH_LOG("filter %d", i);
	}
	EXPECT_EQ(-ENOSPC, filter_ret(fd, CAPCHAN_FILTER_ERRNO(EACCES)));
	EXPECT_EQ(-ENOSPC, capchan_filter_deny_ops(&ch, 1, EACCES));
	EXPECT_EQ(CAPCHAN_FILTER_MAX, fdinfo_num(fd, "filters"));
	/* the refused ones did not slip in */
	EXPECT_EQ(0, nop(&ch));
	close(fd);
}

TEST(reserved_fields)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW) };
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, filter_raw(fd, f, 1, 1, 0, 0));
	EXPECT_EQ(-EINVAL, filter_raw(fd, f, 1, 0x80000000U, 0, 0));
	EXPECT_EQ(-EINVAL, filter_raw(fd, f, 1, 0, 1, 0));
	EXPECT_EQ(-EINVAL, filter_raw(fd, f, 1, 0, 0, 1ULL << 63));
	EXPECT_EQ(0, fdinfo_num(fd, "filters"));
	close(fd);
}

TEST(bad_pointers)
{
	void *unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_NE(MAP_FAILED, unmapped);
	/* NULL is refused by the classic BPF core before any copy */
	EXPECT_EQ(-EINVAL, filter(fd, NULL, 1));
	EXPECT_EQ(-EFAULT, filter(fd, (void *)1, 1));
	EXPECT_EQ(-EFAULT, filter(fd, unmapped, 1));
	/* the kernel half of the address space */
	EXPECT_EQ(-EFAULT, filter(fd, (void *)0xffff888000000000ULL, 1));
	EXPECT_EQ(-EFAULT, cc_ioctl(fd, CAPCHAN_IOC_FILTER, NULL));
	EXPECT_EQ(-EFAULT, cc_ioctl(fd, CAPCHAN_IOC_FILTER, unmapped));
	EXPECT_EQ(0, fdinfo_num(fd, "filters"));
	munmap(unmapped, 4096);
	close(fd);
}

/* A filter on a capability file (not a channel) is not a thing. */
TEST_F(filter, not_a_channel)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW) };
	int capfd = capchan_export(&self->ch, self->file, R_READ);

	ASSERT_LE(0, capfd);
	EXPECT_NE(0, filter(capfd, f, 1));
	EXPECT_NE(0, filter(self->t.jail_fd, f, 1));
	close(capfd);
}

/* ------------------------------------------------------------ in flight */

#define FLIGHT_INVOKERS	3
#define FLIGHT_BATCH	32
#define FLIGHT_AFTER	200	/* rounds each thread runs after the attach */

struct flight {
	struct capchan *ch;
	uint32_t file;
	atomic_int attached;	/* the FILTER ioctl has returned */
	atomic_int started;
	atomic_int bad;		/* a result neither ok nor the filter's */
	atomic_int late_ok;	/* an op submitted after the attach ran */
	atomic_long submitted, completed;
};

/* INVOKE STAT from several threads at once. */
static void *flight_invoker(void *arg)
{
	struct flight *fl = arg;
	int after = 0;

	atomic_fetch_add(&fl->started, 1);
	while (after < FLIGHT_AFTER) {
		int was_attached = atomic_load(&fl->attached);
		struct capchan_stat st;
		int r = capchan_stat(fl->ch, fl->file, &st);

		if (r != 0 && r != -ENOTRECOVERABLE)
			atomic_fetch_add(&fl->bad, 1);
		if (was_attached && r == 0)
			atomic_fetch_add(&fl->late_ok, 1);
		if (was_attached)
			after++;
	}
	return NULL;
}

/* The ring's one owner: batches of NOPs, every CQE accounted for. */
static void *flight_ring(void *arg)
{
	struct flight *fl = arg;
	uint64_t seq = 0;
	int after = 0;

	atomic_fetch_add(&fl->started, 1);
	while (after < FLIGHT_AFTER) {
		int was_attached = atomic_load(&fl->attached);
		unsigned char seen[FLIGHT_BATCH] = { 0 };
		uint64_t base = seq;
		struct capchan_cqe *cqe;
		unsigned got = 0;

		for (int i = 0; i < FLIGHT_BATCH; i++) {
			struct capchan_sqe *sqe = capchan_get_sqe(fl->ch);

			if (!sqe) {
				atomic_fetch_add(&fl->bad, 1);
				return NULL;
			}
			capchan_prep_nop(sqe);
			capchan_sqe_set_data64(sqe, seq++);
		}
		if (capchan_submit_and_wait(fl->ch, FLIGHT_BATCH) != FLIGHT_BATCH) {
			atomic_fetch_add(&fl->bad, 1);
			return NULL;
		}
		atomic_fetch_add(&fl->submitted, FLIGHT_BATCH);
		while (got < FLIGHT_BATCH && capchan_peek_cqe(fl->ch, &cqe) == 0) {
			uint64_t i = cqe->user_data - base;

			if (i >= FLIGHT_BATCH || seen[i]++)
				atomic_fetch_add(&fl->bad, 1);
			if (cqe->res != 0 && cqe->res != -ENOTRECOVERABLE)
				atomic_fetch_add(&fl->bad, 1);
			if (was_attached && cqe->res == 0)
				atomic_fetch_add(&fl->late_ok, 1);
			capchan_cqe_seen(fl->ch, cqe);
			got++;
		}
		atomic_fetch_add(&fl->completed, got);
		if (got != FLIGHT_BATCH)
			atomic_fetch_add(&fl->bad, 1);
		if (was_attached)
			after++;
	}
	return NULL;
}

TEST_F(filter, attach_while_in_flight)
{
	pthread_t th[FLIGHT_INVOKERS + 1];
	struct flight fl = { .ch = &self->ch, .file = (uint32_t)self->file };

	for (int i = 0; i < FLIGHT_INVOKERS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, flight_invoker, &fl));
	ASSERT_EQ(0, pthread_create(&th[FLIGHT_INVOKERS], NULL, flight_ring, &fl));
	while (atomic_load(&fl.started) < FLIGHT_INVOKERS + 1)
		sched_yield();
	usleep(20000);		/* let them run a while */
	ASSERT_EQ(0, capchan_filter_deny_ops(&self->ch, 1ULL << CAPCHAN_OP_NOP |
					     1ULL << CAPCHAN_OP_STAT,
					     ENOTRECOVERABLE));
	atomic_store(&fl.attached, 1);
	for (int i = 0; i <= FLIGHT_INVOKERS; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(0, atomic_load(&fl.bad));
	EXPECT_EQ(0, atomic_load(&fl.late_ok));
	EXPECT_EQ(atomic_load(&fl.submitted), atomic_load(&fl.completed));
	EXPECT_LE(FLIGHT_AFTER * FLIGHT_BATCH, atomic_load(&fl.completed));
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	EXPECT_LE((long long)FLIGHT_AFTER * (FLIGHT_INVOKERS + FLIGHT_BATCH),
		  fdinfo_num(self->ch.fd, "filter-denied"));
}

TEST_HARNESS_MAIN
