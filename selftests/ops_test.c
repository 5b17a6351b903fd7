// SPDX-License-Identifier: GPL-2.0
/*
 * Every operation through CAPCHAN_IOC_INVOKE: the success path with exact
 * results, and the exact errno of each bad input, in the contract's order
 * of checks: unknown opcode, disabled opcode, flags/reserved/unused fields,
 * handle lookup, revoked, capability type, rights.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define FH_RIGHTS	(R_READ | R_SEEK | R_STAT | R_SYNC | R_DERIVE | \
			 R_DELEGATE | R_REVOKE)
#define WH_RIGHTS	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_DERIVE)

FIXTURE(ops) {
	struct cc_tree t;
	struct capchan ch;
	int fd;			/* == ch.fd */
	uint32_t dh;		/* DIR jail, R_ALL */
	uint32_t fh;		/* FILE jail/file, FH_RIGHTS (read-only) */
	uint32_t wh;		/* FILE jail/hello, WH_RIGHTS (read-write) */
	char buf[CC_FILE_LEN + 64];
};

FIXTURE_SETUP(ops)
{
	int h;

	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "ops"));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	self->fd = self->ch.fd;
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, FH_RIGHTS);
	ASSERT_LT(0, h);
	self->fh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0, WH_RIGHTS);
	ASSERT_LT(0, h);
	self->wh = h;
}

FIXTURE_TEARDOWN(ops)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* ------------------------------------------------------------------ */
/* NOP, opcodes, flags, reserved fields                                */
/* ------------------------------------------------------------------ */

TEST_F(ops, nop)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	EXPECT_EQ(0, cc_invoke(self->fd, &s));
	s.user_data = ~0ULL;		/* user_data is never validated */
	EXPECT_EQ(0, cc_invoke(self->fd, &s));
	capchan_prep_nop(&s);
	EXPECT_EQ(0, capchan_invoke(&self->ch, &s));
}

TEST_F(ops, unknown_opcode)
{
	const unsigned int ops[] = {
		CAPCHAN_OP_LAST, CAPCHAN_OP_LAST + 1, 63, 64, 128, 255,
	};
	struct capchan_sqe s;

	for (size_t i = 0; i < CC_ARRAY_SIZE(ops); i++) {
		cc_sqe(&s, ops[i], 0);
		EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s)) TH_LOG("op %u", ops[i]);
		/* Before anything else: a valid handle changes nothing... */
		cc_sqe(&s, ops[i], self->fh);
		EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s)) TH_LOG("op %u", ops[i]);
		/* ...nor does garbage everywhere. */
		memset(&s, 0xff, sizeof(s));
		s.opcode = ops[i];
		s.flags = 0;
		EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s)) TH_LOG("op %u", ops[i]);
	}
}

/* LINK makes no sense outside the rings. */
TEST_F(ops, invoke_link_flag)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	s.flags = CAPCHAN_SQE_LINK;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	capchan_prep_read(&s, self->fh, self->buf, 10, CAPCHAN_OFF_CURRENT);
	s.flags = CAPCHAN_SQE_LINK;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
}

/* HANDLE_CHAIN outside a chain names nothing. */
TEST_F(ops, invoke_chain_handle)
{
	struct capchan_sqe s;

	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 10,
			  CAPCHAN_OFF_CURRENT);
	EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s));
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s));
	capchan_prep_derive(&s, CAPCHAN_HANDLE_CHAIN, R_READ);
	EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s));
}

/*
 * One valid SQE per opcode, then each field the op does not use (and the
 * reserved fields and unknown flag bits) made non-zero: -EINVAL, also when
 * the handle is bad, because fields are checked before the handle lookup.
 */
enum field {
	F_HANDLE, F_OFF, F_ADDR, F_LEN, F_OPFLAGS, F_RIGHTS,
	F_RESV0, F_RESV1, F_RESV2, F_NR
};
static const char *const field_name[F_NR] = {
	"handle", "off", "addr", "len", "op_flags", "rights",
	"resv0", "resv1", "resv2",
};

static void set_field(struct capchan_sqe *s, enum field f)
{
	switch (f) {
	case F_HANDLE: s->handle = 1; break;
	case F_OFF: s->off = 1; break;
	case F_ADDR: s->addr = 0x1000; break;
	case F_LEN: s->len = 1; break;
	case F_OPFLAGS: s->op_flags = 1U << 31; break;
	case F_RIGHTS: s->rights = R_READ; break;
	case F_RESV0: s->resv0 = 0x8000; break;
	case F_RESV1: s->resv1 = 1; break;
	case F_RESV2: s->resv2 = 1ULL << 63; break;
	default: break;
	}
}

/* Which fields each op uses (the others must be zero). */
static const unsigned int used_fields[CAPCHAN_OP_LAST] = {
	[CAPCHAN_OP_NOP] = 0,
	[CAPCHAN_OP_OPEN] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR |
			    1 << F_OPFLAGS | 1 << F_RIGHTS,
	[CAPCHAN_OP_READ] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR | 1 << F_LEN,
	[CAPCHAN_OP_WRITE] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR | 1 << F_LEN,
	[CAPCHAN_OP_FSYNC] = 1 << F_HANDLE | 1 << F_OPFLAGS,
	[CAPCHAN_OP_STAT] = 1 << F_HANDLE | 1 << F_ADDR | 1 << F_LEN,
	[CAPCHAN_OP_DERIVE] = 1 << F_HANDLE | 1 << F_RIGHTS,
	[CAPCHAN_OP_REVOKE] = 1 << F_HANDLE,
	[CAPCHAN_OP_CLOSE] = 1 << F_HANDLE,
	[CAPCHAN_OP_EXPORT] = 1 << F_HANDLE | 1 << F_RIGHTS,
	[CAPCHAN_OP_IMPORT] = 1 << F_OFF,
	[CAPCHAN_OP_PREFETCH] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_LEN,
	[CAPCHAN_OP_READDIR] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR | 1 << F_LEN,
	/* off is addr2: the capchan_stat (STATAT), the link text, the new path */
	[CAPCHAN_OP_STATAT] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR |
			      1 << F_LEN | 1 << F_OPFLAGS,
	[CAPCHAN_OP_MKDIR] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR,
	[CAPCHAN_OP_UNLINK] = 1 << F_HANDLE | 1 << F_ADDR,
	[CAPCHAN_OP_RMDIR] = 1 << F_HANDLE | 1 << F_ADDR,
	[CAPCHAN_OP_SYMLINK] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR,
	/* len is the target DIR's handle */
	[CAPCHAN_OP_RENAME] = 1 << F_HANDLE | 1 << F_OFF | 1 << F_ADDR |
			      1 << F_LEN | 1 << F_OPFLAGS,
	[CAPCHAN_OP_TRUNCATE] = 1 << F_HANDLE | 1 << F_OFF,
};

/* A valid SQE for op (fresh handles for the destructive ones). */
static void valid_sqe(FIXTURE_DATA(ops) *self, unsigned int op, int capfd,
		      struct capchan_sqe *s, struct capchan_stat *st)
{
	int h;

	switch (op) {
	case CAPCHAN_OP_NOP:
		capchan_prep_nop(s);
		break;
	case CAPCHAN_OP_OPEN:
		capchan_prep_open(s, self->dh, "hello", 0, 0, R_READ);
		break;
	case CAPCHAN_OP_READ:
		capchan_prep_read(s, self->fh, self->buf, 16, 0);
		break;
	case CAPCHAN_OP_WRITE:
		/* rewrite the first byte with itself */
		self->buf[CC_FILE_LEN] = CC_HELLO[0];
		capchan_prep_write(s, self->wh, &self->buf[CC_FILE_LEN], 1, 0);
		break;
	case CAPCHAN_OP_FSYNC:
		capchan_prep_fsync(s, self->fh, 0);
		break;
	case CAPCHAN_OP_STAT:
		capchan_prep_stat(s, self->fh, st);
		break;
	case CAPCHAN_OP_DERIVE:
		capchan_prep_derive(s, self->fh, R_READ);
		break;
	case CAPCHAN_OP_REVOKE:
	case CAPCHAN_OP_CLOSE:
		h = capchan_derive(&self->ch, self->fh, R_REVOKE);
		if (op == CAPCHAN_OP_REVOKE)
			capchan_prep_revoke(s, h > 0 ? h : 0);
		else
			capchan_prep_close(s, h > 0 ? h : 0);
		break;
	case CAPCHAN_OP_EXPORT:
		capchan_prep_export(s, self->fh, R_READ);
		break;
	case CAPCHAN_OP_IMPORT:
		capchan_prep_import(s, capfd);
		break;
	case CAPCHAN_OP_PREFETCH:
		capchan_prep_prefetch(s, self->fh, 0, 4096);
		break;
	/* the directory ops, by hand: their library helpers are not used here */
	case CAPCHAN_OP_READDIR:
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)self->buf;
		s->len = 4096;
		break;
	case CAPCHAN_OP_STATAT:
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"hello";
		s->addr2 = (uintptr_t)st;
		s->len = sizeof(*st);
		break;
	case CAPCHAN_OP_MKDIR:
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"made_dir";
		s->off = 0755;
		break;
	case CAPCHAN_OP_UNLINK:
		cc_put_str(self->t.jail_fd, "unlink_me", "x");
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"unlink_me";
		break;
	case CAPCHAN_OP_RMDIR:
		mkdirat(self->t.jail_fd, "rmdir_me", 0755);
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"rmdir_me";
		break;
	case CAPCHAN_OP_SYMLINK:
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"made_link";
		s->addr2 = (uintptr_t)"hello";
		break;
	case CAPCHAN_OP_RENAME:
		cc_put_str(self->t.jail_fd, "rename_me", "x");
		cc_sqe(s, op, self->dh);
		s->addr = (uintptr_t)"rename_me";
		s->addr2 = (uintptr_t)"renamed";
		s->len = self->dh;
		break;
	case CAPCHAN_OP_TRUNCATE:
		/* to its own size: a change of nothing */
		cc_sqe(s, op, self->wh);
		s->off = strlen(CC_HELLO);
		break;
	}
}

TEST_F(ops, fields_must_be_zero)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	int capfd, r;

	capfd = capchan_export(&self->ch, self->fh, R_READ);
	ASSERT_LE(0, capfd);

	for (unsigned int op = 0; op < CAPCHAN_OP_LAST; op++) {
		/* The unmodified SQE succeeds. */
		valid_sqe(self, op, capfd, &s, &st);
		r = cc_invoke(self->fd, &s);
		ASSERT_LE(0, r) TH_LOG("op %u valid SQE failed: %d", op, r);
		if (op == CAPCHAN_OP_EXPORT)
			close(r);

		for (int f = 0; f < F_NR; f++) {
			if (used_fields[op] & (1u << f))
				continue;
			valid_sqe(self, op, capfd, &s, &st);
			set_field(&s, f);
			EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s))
				TH_LOG("op %u field %s", op, field_name[f]);
			/* Still -EINVAL with a handle that does not exist. */
			if (f != F_HANDLE && (used_fields[op] & (1u << F_HANDLE))) {
				s.handle = 0x7ffffff0;	/* issued after 2^31 handles */
				EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s))
					TH_LOG("op %u field %s, bad handle", op,
					       field_name[f]);
			}
		}
		for (int bit = 1; bit < 8; bit++) {
			valid_sqe(self, op, capfd, &s, &st);
			s.flags = 1U << bit;
			EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s))
				TH_LOG("op %u flags bit %d", op, bit);
		}
	}
	close(capfd);
}

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

/* Run op on handle h with otherwise valid arguments; the result. */
static int op_on(FIXTURE_DATA(ops) *self, unsigned int op, uint32_t h)
{
	struct capchan_stat st;
	struct capchan_sqe s;

	switch (op) {
	case CAPCHAN_OP_OPEN:
		capchan_prep_open(&s, h, "hello", 0, 0, R_READ);
		break;
	case CAPCHAN_OP_READ:
		capchan_prep_read(&s, h, self->buf, 16, CAPCHAN_OFF_CURRENT);
		break;
	case CAPCHAN_OP_WRITE:
		capchan_prep_write(&s, h, "x", 1, CAPCHAN_OFF_CURRENT);
		break;
	case CAPCHAN_OP_FSYNC:
		capchan_prep_fsync(&s, h, 0);
		break;
	case CAPCHAN_OP_STAT:
		capchan_prep_stat(&s, h, &st);
		break;
	case CAPCHAN_OP_DERIVE:
		capchan_prep_derive(&s, h, 0);
		break;
	case CAPCHAN_OP_REVOKE:
		capchan_prep_revoke(&s, h);
		break;
	case CAPCHAN_OP_CLOSE:
		capchan_prep_close(&s, h);
		break;
	case CAPCHAN_OP_EXPORT:
		capchan_prep_export(&s, h, 0);
		break;
	case CAPCHAN_OP_PREFETCH:
		capchan_prep_prefetch(&s, h, 0, 16);
		break;
	case CAPCHAN_OP_READDIR:
		cc_sqe(&s, op, h);
		s.addr = (uintptr_t)self->buf;
		s.len = 4096;
		break;
	case CAPCHAN_OP_STATAT:
		cc_sqe(&s, op, h);
		s.addr = (uintptr_t)"hello";
		s.addr2 = (uintptr_t)&st;
		s.len = sizeof(st);
		break;
	case CAPCHAN_OP_MKDIR:
	case CAPCHAN_OP_UNLINK:
	case CAPCHAN_OP_RMDIR:
		cc_sqe(&s, op, h);
		s.addr = (uintptr_t)"never";
		break;
	case CAPCHAN_OP_SYMLINK:
		cc_sqe(&s, op, h);
		s.addr = (uintptr_t)"never";
		s.addr2 = (uintptr_t)"hello";
		break;
	case CAPCHAN_OP_RENAME:
		cc_sqe(&s, op, h);
		s.addr = (uintptr_t)"hello";
		s.addr2 = (uintptr_t)"never";
		s.len = self->dh;
		break;
	case CAPCHAN_OP_TRUNCATE:
		cc_sqe(&s, op, h);
		break;
	default:
		return -ENOSYS;
	}
	return cc_invoke(self->fd, &s);
}

static const unsigned int handle_ops[] = {
	CAPCHAN_OP_OPEN, CAPCHAN_OP_READ, CAPCHAN_OP_WRITE, CAPCHAN_OP_FSYNC,
	CAPCHAN_OP_STAT, CAPCHAN_OP_DERIVE, CAPCHAN_OP_REVOKE,
	CAPCHAN_OP_CLOSE, CAPCHAN_OP_EXPORT, CAPCHAN_OP_PREFETCH,
	CAPCHAN_OP_READDIR, CAPCHAN_OP_STATAT, CAPCHAN_OP_MKDIR,
	CAPCHAN_OP_UNLINK, CAPCHAN_OP_RMDIR, CAPCHAN_OP_SYMLINK,
	CAPCHAN_OP_RENAME, CAPCHAN_OP_TRUNCATE,
};

TEST_F(ops, invalid_handles)
{
	/*
	 * The table is far smaller than 2^16 slots here, so each forgery with
	 * the live handle's low bits names its slot with another number.
	 */
	const uint32_t bad[] = {
		0,					/* never valid */
		0x12345678,				/* random */
		0x7ffffffe,
		self->fh + 0x10000,			/* same slot, later */
		self->fh + 0x40000000,
		(self->fh & 0xffff) | 0x7fff0000,
		self->fh + 100000,			/* not issued yet */
		self->fh | 0x80000000u,			/* bit 31 */
		CAPCHAN_HANDLE_CHAIN,
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		for (size_t j = 0; j < CC_ARRAY_SIZE(handle_ops); j++) {
			EXPECT_EQ(-EBADF, op_on(self, handle_ops[j], bad[i]))
				TH_LOG("op %u handle 0x%x", handle_ops[j], bad[i]);
		}
	}
	/* The real handle still works. */
	EXPECT_EQ(16, op_on(self, CAPCHAN_OP_READ, self->fh));
}

TEST_F(ops, stale_after_close)
{
	int h, h2;

	h = capchan_derive(&self->ch, self->fh, FH_RIGHTS);
	ASSERT_LT(0, h);
	EXPECT_EQ(16, op_on(self, CAPCHAN_OP_READ, h));
	EXPECT_EQ(0, capchan_close(&self->ch, h));
	for (size_t j = 0; j < CC_ARRAY_SIZE(handle_ops); j++) {
		EXPECT_EQ(-EBADF, op_on(self, handle_ops[j], h))
			TH_LOG("op %u", handle_ops[j]);
	}
	/* The slot is reused with a new generation: the old handle stays dead. */
	for (int i = 0; i < 64; i++) {
		h2 = capchan_derive(&self->ch, self->fh, R_READ);
		ASSERT_LT(0, h2);
		EXPECT_NE(h, h2);
		EXPECT_EQ(-EBADF, capchan_read(&self->ch, h, self->buf, 4,
					       CAPCHAN_OFF_CURRENT));
		EXPECT_EQ(4, capchan_read(&self->ch, h2, self->buf, 4,
					  CAPCHAN_OFF_CURRENT));
		ASSERT_EQ(0, capchan_close(&self->ch, h2));
	}
}

/* Handles of one channel mean nothing in another. */
TEST_F(ops, handle_of_other_channel)
{
	struct capchan ch2;

	ASSERT_EQ(0, capchan_open_channel(&ch2));
	EXPECT_EQ(-EBADF, capchan_read(&ch2, self->fh, self->buf, 4,
				       CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EBADF, capchan_close(&ch2, self->fh));
	EXPECT_EQ(-EBADF, capchan_close(&ch2, self->dh));
	capchan_queue_exit(&ch2);
	EXPECT_EQ(4, capchan_read(&self->ch, self->fh, self->buf, 4,
				  CAPCHAN_OFF_CURRENT));
}

/* ------------------------------------------------------------------ */
/* READ                                                                */
/* ------------------------------------------------------------------ */

TEST_F(ops, read_exact)
{
	const unsigned char *d = self->t.data;
	char *b = self->buf;

	EXPECT_EQ(100, capchan_read(&self->ch, self->fh, b, 100, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(b, d, 100));
	/* The position advanced. */
	EXPECT_EQ(100, capchan_read(&self->ch, self->fh, b, 100, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(b, d + 100, 100));
	/* Explicit offsets (SEEK) are pread: position unchanged. */
	EXPECT_EQ(300, capchan_read(&self->ch, self->fh, b, 300, 5000));
	EXPECT_EQ(0, memcmp(b, d + 5000, 300));
	EXPECT_EQ(100, capchan_read(&self->ch, self->fh, b, 100, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(b, d + 200, 100));
	/* Short read at the end, then EOF. */
	EXPECT_EQ(10, capchan_read(&self->ch, self->fh, b, 100, CC_FILE_LEN - 10));
	EXPECT_EQ(0, memcmp(b, d + CC_FILE_LEN - 10, 10));
	EXPECT_EQ(0, capchan_read(&self->ch, self->fh, b, 100, CC_FILE_LEN));
	EXPECT_EQ(0, capchan_read(&self->ch, self->fh, b, 100, 1ULL << 40));
	/* Zero length. */
	EXPECT_EQ(0, capchan_read(&self->ch, self->fh, b, 0, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, capchan_read(&self->ch, self->fh, b, 0, 0));
	/* The whole file. */
	memset(b, 0, sizeof(self->buf));
	EXPECT_EQ(CC_FILE_LEN, capchan_read(&self->ch, self->fh, b,
					    sizeof(self->buf), 0));
	EXPECT_EQ(0, memcmp(b, d, CC_FILE_LEN));
}

TEST_F(ops, read_to_end)
{
	void *p = NULL;
	int h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, R_READ);

	ASSERT_LT(0, h);
	ASSERT_EQ(CC_FILE_LEN, capchan_read_to_end(&self->ch, h, &p));
	EXPECT_EQ(0, memcmp(p, self->t.data, CC_FILE_LEN));
	free(p);
	/* At EOF now. */
	ASSERT_EQ(0, capchan_read_to_end(&self->ch, h, &p));
	free(p);
}

/* Two OPENs of one file are two open files, with their own positions. */
TEST_F(ops, separate_opens_separate_positions)
{
	int a = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, R_READ);
	int b = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, R_READ);

	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	EXPECT_EQ(50, capchan_read(&self->ch, a, self->buf, 50, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(50, capchan_read(&self->ch, b, self->buf, 50, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 50));
}

TEST_F(ops, read_errors)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *ro;
	int h;

	/* Bad buffers. */
	EXPECT_EQ(-EFAULT, capchan_read(&self->ch, self->fh, NULL, 10, 0));
	EXPECT_EQ(-EFAULT, capchan_read(&self->ch, self->fh, (void *)1, 10, 0));
	ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, capchan_read(&self->ch, self->fh, ro, 10, 0));
	munmap(ro, pg);
	/* Offsets beyond LLONG_MAX (other than OFF_CURRENT). */
	EXPECT_EQ(-EINVAL, capchan_read(&self->ch, self->fh, self->buf, 10,
					1ULL << 63));
	EXPECT_EQ(-EINVAL, capchan_read(&self->ch, self->fh, self->buf, 10,
					CAPCHAN_OFF_CURRENT - 1));
	/* Type: a DIR is not readable. */
	EXPECT_EQ(-EISDIR, capchan_read(&self->ch, self->dh, self->buf, 10,
					CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EISDIR, capchan_read(&self->ch, self->dh, self->buf, 10, 0));
	/* Position untouched by the failures. */
	EXPECT_EQ(10, capchan_read(&self->ch, self->fh, self->buf, 10,
				   CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 10));
	/* Rights. */
	h = capchan_derive(&self->ch, self->fh, R_STAT);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_read(&self->ch, h, self->buf, 10,
				       CAPCHAN_OFF_CURRENT));
	h = capchan_derive(&self->ch, self->fh, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_read(&self->ch, h, self->buf, 10, 0));
	EXPECT_EQ(-EPERM, capchan_read(&self->ch, h, self->buf, 10, 1));
	EXPECT_EQ(10, capchan_read(&self->ch, h, self->buf, 10,
				   CAPCHAN_OFF_CURRENT));
	/* A DIR without READ is still EISDIR (type before rights). */
	h = capchan_derive(&self->ch, self->dh, R_LOOKUP);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EISDIR, capchan_read(&self->ch, h, self->buf, 10,
					CAPCHAN_OFF_CURRENT));
}

/* ------------------------------------------------------------------ */
/* WRITE                                                               */
/* ------------------------------------------------------------------ */

TEST_F(ops, write_then_read_back)
{
	char host[128];
	struct stat sb;
	int h;

	/* Positioned write (SEEK): pwrite. */
	EXPECT_EQ(5, capchan_write(&self->ch, self->wh, "HELLO", 5, 0));
	EXPECT_EQ(strlen(CC_HELLO), cc_get_file(self->t.jail_fd, "hello", host,
						sizeof(host)));
	EXPECT_STREQ("HELLO, capchan\n", host);
	/* Write at the position: starts at 0, advances. */
	EXPECT_EQ(3, capchan_write(&self->ch, self->wh, "abc", 3,
				   CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(3, capchan_write(&self->ch, self->wh, "def", 3,
				   CAPCHAN_OFF_CURRENT));
	cc_get_file(self->t.jail_fd, "hello", host, sizeof(host));
	EXPECT_STREQ("abcdef capchan\n", host);
	/* Read back through the capability. */
	EXPECT_EQ(strlen(CC_HELLO), capchan_read(&self->ch, self->wh, self->buf,
						 64, 0));
	EXPECT_EQ(0, memcmp(self->buf, "abcdef capchan\n", strlen(CC_HELLO)));
	/* Extending write. */
	EXPECT_EQ(4, capchan_write(&self->ch, self->wh, "tail", 4, 100));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(104, sb.st_size);
	EXPECT_EQ(0, capchan_write(&self->ch, self->wh, "x", 0, 0));
	/* A write-only capability (opened O_WRONLY). */
	h = capchan_open_beneath(&self->ch, self->dh, "hello", O_TRUNC, 0, R_WRITE);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(2, capchan_write(&self->ch, h, "wo", 2, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EPERM, capchan_read(&self->ch, h, self->buf, 2,
				       CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EPERM, capchan_write(&self->ch, h, "wo", 2, 0)); /* no SEEK */
	cc_get_file(self->t.jail_fd, "hello", host, sizeof(host));
	EXPECT_STREQ("wo", host);
}

TEST_F(ops, write_append)
{
	char host[128];
	int h;

	h = capchan_open_beneath(&self->ch, self->dh, "hello", O_APPEND, 0,
				 R_WRITE);
	ASSERT_LT(0, h);
	EXPECT_EQ(3, capchan_write(&self->ch, h, "+1\n", 3, CAPCHAN_OFF_CURRENT));
	cc_get_file(self->t.jail_fd, "hello", host, sizeof(host));
	EXPECT_STREQ(CC_HELLO "+1\n", host);
}

TEST_F(ops, write_errors)
{
	char host[64];
	int h;

	/* fh has no WRITE. */
	EXPECT_EQ(-EPERM, capchan_write(&self->ch, self->fh, "x", 1,
					CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EPERM, capchan_write(&self->ch, self->fh, "x", 1, 0));
	/* WRITE without SEEK at an explicit offset. */
	h = capchan_derive(&self->ch, self->wh, R_WRITE);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_write(&self->ch, h, "x", 1, 0));
	EXPECT_EQ(-EISDIR, capchan_write(&self->ch, self->dh, "x", 1,
					 CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EFAULT, capchan_write(&self->ch, self->wh, NULL, 10, 0));
	EXPECT_EQ(-EFAULT, capchan_write(&self->ch, self->wh, (void *)8, 10, 0));
	EXPECT_EQ(-EINVAL, capchan_write(&self->ch, self->wh, "x", 1, 1ULL << 63));
	/* Nothing changed. */
	cc_get_file(self->t.jail_fd, "hello", host, sizeof(host));
	EXPECT_STREQ(CC_HELLO, host);
}

/* ------------------------------------------------------------------ */
/* FSYNC, STAT, PREFETCH                                               */
/* ------------------------------------------------------------------ */

TEST_F(ops, fsync)
{
	int h;

	EXPECT_EQ(0, capchan_fsync(&self->ch, self->fh, 0));
	EXPECT_EQ(0, capchan_fsync(&self->ch, self->fh, CAPCHAN_FSYNC_DATASYNC));
	EXPECT_EQ(0, capchan_fsync(&self->ch, self->wh, 0));
	EXPECT_EQ(-EINVAL, capchan_fsync(&self->ch, self->fh, 2));
	EXPECT_EQ(-EINVAL, capchan_fsync(&self->ch, self->fh, 1U << 31));
	EXPECT_EQ(-EISDIR, capchan_fsync(&self->ch, self->dh, 0));
	h = capchan_derive(&self->ch, self->fh, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_fsync(&self->ch, h, 0));
	EXPECT_EQ(-EPERM, capchan_fsync(&self->ch, h, CAPCHAN_FSYNC_DATASYNC));
}

static void check_stat(struct __test_metadata *_metadata,
		       const struct capchan_stat *st, const struct stat *sb)
{
	EXPECT_EQ(sb->st_ino, st->ino);
	EXPECT_EQ(sb->st_size, st->size);
	EXPECT_EQ(sb->st_mode, st->mode);
	EXPECT_EQ(sb->st_nlink, st->nlink);
	EXPECT_EQ(sb->st_uid, st->uid);
	EXPECT_EQ(sb->st_gid, st->gid);
	EXPECT_EQ(sb->st_blocks, st->blocks);
	EXPECT_EQ(sb->st_blksize, st->blksize);
	EXPECT_EQ(sb->st_mtim.tv_sec * 1000000000ULL + sb->st_mtim.tv_nsec,
		  st->mtime_ns);
	EXPECT_EQ(sb->st_ctim.tv_sec * 1000000000ULL + sb->st_ctim.tv_nsec,
		  st->ctime_ns);
	/* dev: the user-space encoding (as stat(2)) or the kernel's dev_t */
	EXPECT_TRUE(st->dev == sb->st_dev ||
		    st->dev == (((uint64_t)major(sb->st_dev) << 20) |
				minor(sb->st_dev)))
		TH_LOG("dev 0x%llx vs st_dev 0x%llx",
		       (unsigned long long)st->dev,
		       (unsigned long long)sb->st_dev);
	EXPECT_EQ(0, st->resv[0]);
	EXPECT_EQ(0, st->resv[1]);
}

TEST_F(ops, stat)
{
	struct capchan_stat st;
	struct stat sb;
	int h;

	memset(&st, 0xff, sizeof(st));
	ASSERT_EQ(0, capchan_stat(&self->ch, self->fh, &st));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "file", &sb, 0));
	check_stat(_metadata, &st, &sb);
	EXPECT_EQ(CC_FILE_LEN, st.size);
	EXPECT_EQ(CAPCHAN_CAP_FILE, st.cap_type);
	EXPECT_EQ(FH_RIGHTS, st.rights);
	EXPECT_TRUE(S_ISREG(st.mode));

	memset(&st, 0xff, sizeof(st));
	ASSERT_EQ(0, capchan_stat(&self->ch, self->dh, &st));
	ASSERT_EQ(0, fstat(self->t.jail_fd, &sb));
	check_stat(_metadata, &st, &sb);
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_EQ(R_ALL, st.rights);

	/* Size follows writes. */
	ASSERT_EQ(3, capchan_write(&self->ch, self->wh, "xyz", 3, 1000));
	ASSERT_EQ(0, capchan_stat(&self->ch, self->wh, &st));
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "hello", &sb, 0));
	check_stat(_metadata, &st, &sb);
	EXPECT_EQ(1003, st.size);

	/* A derived capability reports its own rights. */
	h = capchan_derive(&self->ch, self->fh, R_STAT | R_READ);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(R_STAT | R_READ, st.rights);
}

TEST_F(ops, stat_errors)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	int h;

	capchan_prep_stat(&s, self->fh, &st);
	s.len = sizeof(st) - 8;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	s.len = sizeof(st) + 8;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	s.len = 0;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	capchan_prep_stat(&s, self->fh, NULL);
	EXPECT_EQ(-EFAULT, cc_invoke(self->fd, &s));
	capchan_prep_stat(&s, self->fh, (void *)0x10);
	EXPECT_EQ(-EFAULT, cc_invoke(self->fd, &s));
	h = capchan_derive(&self->ch, self->fh, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_stat(&self->ch, h, &st));
	h = capchan_derive(&self->ch, self->dh, R_LOOKUP);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_stat(&self->ch, h, &st));
}

TEST_F(ops, prefetch)
{
	int h;

	EXPECT_EQ(0, capchan_invoke(&self->ch, &(struct capchan_sqe){
		.opcode = CAPCHAN_OP_PREFETCH, .handle = self->fh,
		.off = 0, .len = CC_FILE_LEN }));
	EXPECT_EQ(0, capchan_invoke(&self->ch, &(struct capchan_sqe){
		.opcode = CAPCHAN_OP_PREFETCH, .handle = self->fh,
		.off = 1ULL << 40, .len = 4096 }));
	EXPECT_EQ(-EISDIR, capchan_invoke(&self->ch, &(struct capchan_sqe){
		.opcode = CAPCHAN_OP_PREFETCH, .handle = self->dh, .len = 1 }));
	h = capchan_derive(&self->ch, self->fh, R_STAT);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_invoke(&self->ch, &(struct capchan_sqe){
		.opcode = CAPCHAN_OP_PREFETCH, .handle = h, .len = 1 }));
	/* Prefetch does not move the position. */
	EXPECT_EQ(8, capchan_read(&self->ch, self->fh, self->buf, 8,
				  CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 8));
}

/* ------------------------------------------------------------------ */
/* DERIVE, CLOSE                                                       */
/* ------------------------------------------------------------------ */

TEST_F(ops, derive)
{
	struct capchan_stat st;
	int a, b, c, z;

	a = capchan_derive(&self->ch, self->fh, R_READ | R_STAT | R_DERIVE);
	ASSERT_LT(0, a);
	EXPECT_NE(self->fh, a);
	ASSERT_EQ(0, capchan_stat(&self->ch, a, &st));
	EXPECT_EQ(R_READ | R_STAT | R_DERIVE, st.rights);
	EXPECT_EQ(CAPCHAN_CAP_FILE, st.cap_type);
	/* Same object. */
	EXPECT_EQ(CC_FILE_LEN, st.size);
	/* Equal rights are a subset. */
	b = capchan_derive(&self->ch, a, R_READ | R_STAT | R_DERIVE);
	ASSERT_LT(0, b);
	/* Escalation: a bit the parent lacks. */
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, a, R_READ | R_WRITE));
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, a, R_SEEK));
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, self->fh, R_WRITE));
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, self->fh, R_ALL));
	/* Unknown bits are EINVAL, not EPERM. */
	EXPECT_EQ(-EINVAL, capchan_derive(&self->ch, a, R_UNKNOWN));
	EXPECT_EQ(-EINVAL, capchan_derive(&self->ch, a, R_READ | (1ULL << 63)));
	EXPECT_EQ(-EINVAL, capchan_derive(&self->ch, self->dh, ~0ULL));
	/* Without DERIVE. */
	c = capchan_derive(&self->ch, a, R_READ | R_STAT);
	ASSERT_LT(0, c);
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, c, R_READ));
	EXPECT_EQ(-EPERM, capchan_derive(&self->ch, c, 0));
	/* Zero rights: a capability that can only be closed. */
	z = capchan_derive(&self->ch, a, 0);
	ASSERT_LT(0, z);
	EXPECT_EQ(-EPERM, capchan_stat(&self->ch, z, &st));
	EXPECT_EQ(-EPERM, capchan_read(&self->ch, z, self->buf, 1,
				       CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, capchan_close(&self->ch, z));
	/* DIR stays DIR and keeps working beneath. */
	c = capchan_derive(&self->ch, self->dh, R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, c);
	ASSERT_EQ(0, capchan_stat(&self->ch, c, &st));
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_LT(0, capchan_open_beneath(&self->ch, c, "hello", 0, 0, R_READ));
}

TEST_F(ops, derive_depth_in_fdinfo)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *c;
	int a, b;

	ASSERT_NE(NULL, fi);
	a = capchan_derive(&self->ch, self->dh, R_LOOKUP | R_DERIVE | R_READ);
	ASSERT_LT(0, a);
	b = capchan_derive(&self->ch, a, R_LOOKUP | R_READ);
	ASSERT_LT(0, b);
	ASSERT_EQ(0, cc_read_fdinfo(self->fd, fi));
	EXPECT_EQ(5, fi->caps);
	EXPECT_EQ(5, fi->ncap);
	EXPECT_EQ(0, fi->bad_cap_lines);
	c = cc_fdinfo_find(fi, self->dh);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, c->depth);
	c = cc_fdinfo_find(fi, self->fh);	/* opened beneath dh */
	ASSERT_NE(NULL, c);
	EXPECT_EQ(1, c->depth);
	EXPECT_STREQ("file", c->type);
	EXPECT_EQ(FH_RIGHTS, c->rights);
	c = cc_fdinfo_find(fi, a);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(1, c->depth);
	EXPECT_STREQ("dir", c->type);
	c = cc_fdinfo_find(fi, b);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(2, c->depth);
	EXPECT_EQ(R_LOOKUP | R_READ, c->rights);
	EXPECT_EQ(0, c->revoked);
	free(fi);
}

TEST_F(ops, close)
{
	int h = capchan_derive(&self->ch, self->fh, R_READ);

	ASSERT_LT(0, h);
	EXPECT_EQ(0, capchan_close(&self->ch, h));
	EXPECT_EQ(-EBADF, capchan_close(&self->ch, h));
	/* Closing a parent leaves the child working. */
	h = capchan_derive(&self->ch, self->fh, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(0, capchan_close(&self->ch, self->fh));
	EXPECT_EQ(5, capchan_read(&self->ch, h, self->buf, 5, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 5));
	/* Closing the root DIR keeps caps opened beneath it. */
	EXPECT_EQ(0, capchan_close(&self->ch, self->dh));
	EXPECT_EQ(3, capchan_write(&self->ch, self->wh, "HEL", 3, 0));
	EXPECT_EQ(-EBADF, capchan_open_beneath(&self->ch, self->dh, "hello", 0,
					       0, R_READ));
	/* The granted fd is still ours. */
	EXPECT_EQ(0, fcntl(self->t.jail_fd, F_GETFD) & ~FD_CLOEXEC);
}

/* ------------------------------------------------------------------ */
/* OPEN (argument validation; path safety lives in beneath_test)       */
/* ------------------------------------------------------------------ */

TEST_F(ops, open_result_types)
{
	struct capchan_stat st;
	int h;

	h = capchan_open_beneath(&self->ch, self->dh, "sub", 0, 0,
				 R_LOOKUP | R_STAT | R_READ);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_EQ(cc_ino_at(self->t.jail_fd, "sub"), st.ino);
	EXPECT_EQ(R_LOOKUP | R_STAT | R_READ, st.rights);
	h = capchan_open_beneath(&self->ch, h, "inner", 0, 0, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(6, capchan_read(&self->ch, h, self->buf, 64,
				  CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, "inner\n", 6));
	/* "." is the DIR itself. */
	h = capchan_open_beneath(&self->ch, self->dh, ".", 0, 0, R_STAT);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_EQ(cc_ino_at(self->t.base_fd, "jail"), st.ino);
	/* O_DIRECTORY on a file. */
	EXPECT_EQ(-ENOTDIR, capchan_open_beneath(&self->ch, self->dh, "file",
						 O_DIRECTORY, 0, R_READ));
	EXPECT_LT(0, capchan_open_beneath(&self->ch, self->dh, "sub",
					  O_DIRECTORY, 0, R_LOOKUP));
}

TEST_F(ops, open_special_files)
{
	int r;

	ASSERT_EQ(0, mkfifoat(self->t.jail_fd, "fifo", 0666));
	ASSERT_EQ(0, mknodat(self->t.jail_fd, "null", S_IFCHR | 0666,
			     makedev(1, 3)));
	ASSERT_EQ(0, mknodat(self->t.jail_fd, "sock", S_IFSOCK | 0666, 0));
	EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh, "fifo",
						O_NONBLOCK, 0, R_READ));
	EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh, "null", 0,
						0, R_READ));
	/* the VFS may refuse to open a socket inode first */
	r = capchan_open_beneath(&self->ch, self->dh, "sock", 0, 0, R_READ);
	EXPECT_TRUE(r == -EINVAL || r == -ENXIO) TH_LOG("got %d", r);
}

TEST_F(ops, open_errors)
{
	char *longpath;
	int fileonly, nolookup;

	/* Type: OPEN on a FILE. */
	EXPECT_EQ(-ENOTDIR, capchan_open_beneath(&self->ch, self->fh, "x", 0, 0,
						 R_READ));
	/* Missing target. */
	EXPECT_EQ(-ENOENT, capchan_open_beneath(&self->ch, self->dh, "nope", 0,
						0, R_READ));
	EXPECT_EQ(-ENOENT, capchan_open_beneath(&self->ch, self->dh, "", 0, 0,
						R_READ));
	EXPECT_EQ(-ENOTDIR, capchan_open_beneath(&self->ch, self->dh, "file/x",
						 0, 0, R_READ));
	/* Bad path pointer. */
	EXPECT_EQ(-EFAULT, capchan_open_beneath(&self->ch, self->dh, NULL, 0, 0,
						R_READ));
	EXPECT_EQ(-EFAULT, capchan_open_beneath(&self->ch, self->dh,
						(const char *)1, 0, 0, R_READ));
	/* Too long: PATH_MAX bytes without a NUL. */
	longpath = malloc(PATH_MAX + 2);
	ASSERT_NE(NULL, longpath);
	memset(longpath, 'a', PATH_MAX + 1);
	longpath[PATH_MAX + 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, capchan_open_beneath(&self->ch, self->dh,
						      longpath, 0, 0, R_READ));
	free(longpath);
	/* Rights. */
	EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh, "hello", 0,
						0, R_UNKNOWN));
	EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh, "hello", 0,
						0, R_READ | (1ULL << 63)));
	fileonly = capchan_derive(&self->ch, self->dh, R_LOOKUP | R_READ);
	ASSERT_LT(0, fileonly);
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, fileonly, "hello", 0,
					       0, R_READ | R_WRITE));
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, fileonly, "hello", 0,
					       0, R_STAT));
	EXPECT_LT(0, capchan_open_beneath(&self->ch, fileonly, "hello", 0, 0,
					  R_READ));
	nolookup = capchan_derive(&self->ch, self->dh, R_READ | R_STAT);
	ASSERT_LT(0, nolookup);
	EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, nolookup, "hello", 0,
					       0, R_READ));
	/* Rights checked after type: a FILE without LOOKUP is still ENOTDIR. */
	EXPECT_EQ(-ENOTDIR, capchan_open_beneath(&self->ch, self->fh, "hello", 0,
						 0, R_READ));
}

TEST_F(ops, open_flags)
{
	const int bad[] = {
		O_WRONLY, O_RDWR, O_ACCMODE, O_PATH, O_CLOEXEC, O_NOCTTY,
		O_SYNC, O_DSYNC, O_DIRECT, O_NOATIME, O_TMPFILE,
		0100000 /* the kernel's O_LARGEFILE on x86-64 */,
		__O_TMPFILE, FASYNC, 1 << 30, (int)(1U << 31),
	};
	struct capchan_sqe s;
	int h;

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, capchan_open_beneath(&self->ch, self->dh,
							"hello", bad[i], 0,
							R_READ))
			TH_LOG("flags 0%o", bad[i]);
	}
	/* The accepted subset. */
	h = capchan_open_beneath(&self->ch, self->dh, "hello",
				 O_APPEND | O_NOFOLLOW | O_NONBLOCK, 0,
				 R_READ | R_WRITE);
	EXPECT_LT(0, h);
	/* mode (off) only with O_CREAT. */
	capchan_prep_open(&s, self->dh, "hello", 0, 0644, R_READ);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	capchan_prep_open(&s, self->dh, "hello", O_TRUNC, 1, R_WRITE);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	/* OPEN uses no len. */
	capchan_prep_open(&s, self->dh, "hello", 0, 0, R_READ);
	s.len = 5;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
}

/* ------------------------------------------------------------------ */
/* EXPORT / IMPORT                                                     */
/* ------------------------------------------------------------------ */

TEST_F(ops, export_import)
{
	struct capchan_stat st;
	struct capchan ch2;
	int fd, h, h2, flags;

	fd = capchan_export(&self->ch, self->fh, R_READ | R_STAT);
	ASSERT_LE(0, fd);
	flags = fcntl(fd, F_GETFD);
	EXPECT_EQ(FD_CLOEXEC, flags & FD_CLOEXEC);
	/* Import in this channel and in another one. */
	h = capchan_import(&self->ch, fd);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	EXPECT_EQ(R_READ | R_STAT, st.rights);
	EXPECT_EQ(CAPCHAN_CAP_FILE, st.cap_type);
	EXPECT_EQ(cc_ino_at(self->t.jail_fd, "file"), st.ino);
	ASSERT_EQ(0, capchan_open_channel(&ch2));
	h2 = capchan_import(&ch2, fd);
	ASSERT_LT(0, h2);
	/* Twice: two handles. */
	EXPECT_NE(h2, capchan_import(&ch2, fd));
	/* Closing the capability file keeps the imported handles. */
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(20, capchan_read(&ch2, h2, self->buf, 20, CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 20));
	/* Rights were attenuated on the way: no SEEK. */
	EXPECT_EQ(-EPERM, capchan_read(&ch2, h2, self->buf, 20, 0));
	capchan_queue_exit(&ch2);
	/* A DIR exports as a DIR. */
	fd = capchan_export(&self->ch, self->dh, R_LOOKUP | R_READ);
	ASSERT_LE(0, fd);
	h = capchan_import(&self->ch, fd);
	ASSERT_LT(0, h);
	close(fd);
	h = capchan_open_beneath(&self->ch, h, "hello", 0, 0, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(strlen(CC_HELLO), capchan_read(&self->ch, h, self->buf, 64,
						 CAPCHAN_OFF_CURRENT));
}

TEST_F(ops, export_errors)
{
	int h;

	EXPECT_EQ(-EPERM, capchan_export(&self->ch, self->fh, R_WRITE));
	EXPECT_EQ(-EPERM, capchan_export(&self->ch, self->fh, R_ALL));
	EXPECT_EQ(-EINVAL, capchan_export(&self->ch, self->fh, R_UNKNOWN));
	h = capchan_derive(&self->ch, self->fh, R_READ | R_DERIVE);
	ASSERT_LT(0, h);
	EXPECT_EQ(-EPERM, capchan_export(&self->ch, h, R_READ));
	EXPECT_EQ(-EBADF, capchan_export(&self->ch, 0, R_READ));
}

TEST_F(ops, import_errors)
{
	struct capchan_sqe s;
	int fd, closed;

	fd = openat(self->t.jail_fd, "hello", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, capchan_import(&self->ch, fd));	/* not a cap file */
	EXPECT_EQ(-EINVAL, capchan_import(&self->ch, self->fd));	/* a channel */
	EXPECT_EQ(-EINVAL, capchan_import(&self->ch, self->t.jail_fd));
	closed = dup(fd);
	ASSERT_LE(0, closed);
	close(closed);
	EXPECT_EQ(-EBADF, capchan_import(&self->ch, closed));
	EXPECT_EQ(-EBADF, capchan_import(&self->ch, 999999));
	close(fd);
	/* IMPORT uses only off. */
	fd = capchan_export(&self->ch, self->fh, R_READ);
	ASSERT_LE(0, fd);
	capchan_prep_import(&s, fd);
	s.handle = self->fh;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	capchan_prep_import(&s, fd);
	s.rights = R_READ;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	capchan_prep_import(&s, fd);
	EXPECT_LT(0, cc_invoke(self->fd, &s));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Revoked capabilities                                                */
/* ------------------------------------------------------------------ */

TEST_F(ops, after_revoke)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	int mid, c, cstat, dmid, dc;

	mid = capchan_derive(&self->ch, self->fh, FH_RIGHTS);
	ASSERT_LT(0, mid);
	c = capchan_derive(&self->ch, mid, FH_RIGHTS);
	ASSERT_LT(0, c);
	cstat = capchan_derive(&self->ch, mid, R_STAT);
	ASSERT_LT(0, cstat);
	dmid = capchan_derive(&self->ch, self->dh, R_ALL);
	ASSERT_LT(0, dmid);
	dc = capchan_derive(&self->ch, dmid, R_LOOKUP);
	ASSERT_LT(0, dc);

	ASSERT_EQ(2, capchan_revoke(&self->ch, mid));
	ASSERT_EQ(1, capchan_revoke(&self->ch, dmid));

	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, c, self->buf, 4,
					     CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, c, self->buf, 4, 0));
	EXPECT_EQ(-EKEYREVOKED, capchan_write(&self->ch, c, "x", 1,
					      CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EKEYREVOKED, capchan_stat(&self->ch, c, &st));
	EXPECT_EQ(-EKEYREVOKED, capchan_fsync(&self->ch, c, 0));
	EXPECT_EQ(-EKEYREVOKED, capchan_derive(&self->ch, c, R_READ));
	EXPECT_EQ(-EKEYREVOKED, capchan_revoke(&self->ch, c));
	EXPECT_EQ(-EKEYREVOKED, capchan_export(&self->ch, c, R_READ));
	capchan_prep_prefetch(&s, c, 0, 16);
	EXPECT_EQ(-EKEYREVOKED, cc_invoke(self->fd, &s));
	/* Revoked comes before type and rights. */
	EXPECT_EQ(-EKEYREVOKED, capchan_open_beneath(&self->ch, c, "x", 0, 0,
						     R_READ));	/* not ENOTDIR */
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, cstat, self->buf, 4,
					     CAPCHAN_OFF_CURRENT)); /* not EPERM */
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, dc, self->buf, 4,
					     CAPCHAN_OFF_CURRENT)); /* not EISDIR */
	EXPECT_EQ(-EKEYREVOKED, capchan_open_beneath(&self->ch, dc, "hello", 0,
						     0, R_READ));
	/* Fields are validated before: EINVAL, not EKEYREVOKED. */
	capchan_prep_read(&s, c, self->buf, 4, CAPCHAN_OFF_CURRENT);
	s.resv1 = 1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	/* CLOSE works on revoked capabilities. */
	EXPECT_EQ(0, capchan_close(&self->ch, c));
	EXPECT_EQ(0, capchan_close(&self->ch, cstat));
	EXPECT_EQ(0, capchan_close(&self->ch, dc));
	EXPECT_EQ(-EBADF, capchan_close(&self->ch, c));
	/* The revoking capabilities themselves still work. */
	EXPECT_EQ(4, capchan_read(&self->ch, mid, self->buf, 4, 0));
	EXPECT_LT(0, capchan_open_beneath(&self->ch, dmid, "hello", 0, 0, R_READ));
}

TEST_HARNESS_MAIN
