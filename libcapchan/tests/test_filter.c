// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Channel filters: the CAPCHAN_IOC_FILTER encoding, and what the built
 * filters decide.  The instructions the fake module receives are checked
 * the way the module checks them (aligned word loads inside struct
 * capchan_filter_data, forward jumps in range, a return at the end) and
 * then run by a small classic BPF interpreter over every opcode.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

static struct capchan ch;

static void filter_setup(void)
{
	fake_reset();
	memset(&ch, 0, sizeof(ch));
	ch.fd = FAKE_FD;
}

/* The module's acceptance rules for the subset the library emits. */
static void assert_valid(const struct sock_filter *f, unsigned len)
{
	ck_assert_uint_le(len, CAPCHAN_FILTER_MAX_INSNS);
	cbpf_assert_shape(f, len, sizeof(struct capchan_filter_data), false);
}

/* Run the last attached filter over d. */
static uint32_t run(const struct capchan_filter_data *d)
{
	return cbpf_run(fake.filter_insns, fake.filter_len, d,
			CAPCHAN_FILTER_MAX_INSNS);
}

static uint32_t run_op(uint32_t op, uint64_t wanted, uint32_t op_flags)
{
	struct capchan_filter_data d;

	/* junk in the words the filters must not look at */
	fake_junk(&d, sizeof(d));
	d.op = op;
	d.wanted_lo = (uint32_t)wanted;
	d.wanted_hi = (uint32_t)(wanted >> 32);
	d.op_flags = op_flags;
	return run(&d);
}

static void assert_attached(void)
{
	const struct fake_call *c = fake_last();

	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_FILTER);
	ck_assert_int_eq(c->fd, FAKE_FD);
	ck_assert_uint_eq(c->filter.flags, 0);
	ck_assert_uint_eq(c->filter.resv[0] | c->filter.resv[1], 0);
	ck_assert_uint_eq(c->filter.len, fake.filter_len);
	assert_valid(fake.filter_insns, fake.filter_len);
}

START_TEST(attach_encoding)
{
	const struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ERRNO(EPERM)),
		BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
	};
	const struct fake_call *c;

	ck_assert_int_eq(capchan_filter_attach(&ch, f, 4), 0);
	c = fake_last();
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_FILTER);
	ck_assert_int_eq(c->fd, FAKE_FD);
	ck_assert_uint_eq(c->filter.len, 4);
	ck_assert_uint_eq(c->filter.flags, 0);
	ck_assert_uint_eq(c->filter.insns, (uint64_t)(uintptr_t)f);
	ck_assert_uint_eq(c->filter.resv[0] | c->filter.resv[1], 0);
	ck_assert_mem_eq(fake.filter_insns, f, sizeof(f));
	ck_assert_uint_eq(fake.nfilters, 1);
}
END_TEST

/* The module's answer comes back as is; nothing is checked twice. */
START_TEST(attach_errors)
{
	const struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, 0) };

	fake.filter_errno = ENOSPC;
	ck_assert_int_eq(capchan_filter_attach(&ch, f, 1), -ENOSPC);
	fake.filter_errno = EFAULT;
	ck_assert_int_eq(capchan_filter_attach(&ch, f, 1), -EFAULT);
	fake.filter_errno = 0;
	ck_assert_int_eq(capchan_filter_attach(&ch, f, 0), -EINVAL);
	ck_assert_uint_eq(fake_last()->filter.len, 0);
	ck_assert_int_eq(capchan_filter_attach(&ch, NULL, 1), -EINVAL);
	ck_assert_uint_eq(fake.nlog, 4);
	ch.fd = -1;
	ck_assert_int_eq(capchan_filter_attach(&ch, f, 1), -EBADF);
}
END_TEST

START_TEST(deny_ops_decides)
{
	const uint64_t mask = 1ULL << CAPCHAN_OP_WRITE | 1ULL << CAPCHAN_OP_NOP |
			      1ULL << CAPCHAN_OP_TRUNCATE | 1ULL << 63;
	uint32_t op;

	ck_assert_int_eq(capchan_filter_deny_ops(&ch, mask, EROFS), 0);
	assert_attached();
	for (op = 0; op < 64; op++)
		ck_assert_uint_eq(run_op(op, 0, 0), ((mask >> op) & 1) ?
				  CAPCHAN_FILTER_ERRNO(EROFS) : CAPCHAN_FILTER_ALLOW);
	/* opcodes past 63 cannot be named: allowed */
	ck_assert_uint_eq(run_op(64, 0, 0), CAPCHAN_FILTER_ALLOW);
	ck_assert_uint_eq(run_op(0xffffffffU, 0, 0), CAPCHAN_FILTER_ALLOW);
}
END_TEST

/* Every opcode named: the longest filter, jumps still in range. */
START_TEST(deny_ops_all)
{
	uint32_t op;

	ck_assert_int_eq(capchan_filter_deny_ops(&ch, ~0ULL, 4095), 0);
	assert_attached();
	ck_assert_uint_eq(fake.filter_len, 64 + 3);
	for (op = 0; op < 64; op++)
		ck_assert_uint_eq(run_op(op, 0, 0), CAPCHAN_FILTER_ERRNO(4095));
	ck_assert_uint_eq(run_op(100, 0, 0), CAPCHAN_FILTER_ALLOW);
}
END_TEST

START_TEST(allow_ops_decides)
{
	const uint64_t mask = 1ULL << CAPCHAN_OP_READ | 1ULL << CAPCHAN_OP_STAT;
	uint32_t op;

	ck_assert_int_eq(capchan_filter_allow_ops(&ch, mask, EACCES), 0);
	assert_attached();
	for (op = 0; op < 64; op++)
		ck_assert_uint_eq(run_op(op, 0, 0), ((mask >> op) & 1) ?
				  CAPCHAN_FILTER_ALLOW : CAPCHAN_FILTER_ERRNO(EACCES));
	ck_assert_uint_eq(run_op(64, 0, 0), CAPCHAN_FILTER_ERRNO(EACCES));
	/* nothing allowed */
	ck_assert_int_eq(capchan_filter_allow_ops(&ch, 0, ENOLINK), 0);
	assert_attached();
	for (op = 0; op < 64; op++)
		ck_assert_uint_eq(run_op(op, 0, 0), CAPCHAN_FILTER_ERRNO(ENOLINK));
}
END_TEST

START_TEST(readonly_decides)
{
	const uint32_t deny = CAPCHAN_FILTER_ERRNO(EROFS);
	const uint32_t allow = CAPCHAN_FILTER_ALLOW;
	const uint64_t rd = CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_STAT;
	const struct {
		uint32_t op;
		uint64_t wanted;
		uint32_t flags;
		uint32_t want;
	} cases[] = {
		{ CAPCHAN_OP_OPEN, rd, 0, allow },
		{ CAPCHAN_OP_OPEN, rd, O_EXCL | O_NOFOLLOW | O_DIRECTORY, allow },
		{ CAPCHAN_OP_OPEN, CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_CREATE, 0, allow },
		{ CAPCHAN_OP_OPEN, rd | CAPCHAN_RIGHT_WRITE, 0, deny },
		{ CAPCHAN_OP_OPEN, CAPCHAN_RIGHT_WRITE, 0, deny },
		{ CAPCHAN_OP_OPEN, rd, O_CREAT, deny },
		{ CAPCHAN_OP_OPEN, rd, O_TRUNC, deny },
		{ CAPCHAN_OP_OPEN, rd, O_CREAT | O_EXCL, deny },
		{ CAPCHAN_OP_EXPORT, rd | CAPCHAN_RIGHT_LOOKUP, 0, allow },
		{ CAPCHAN_OP_EXPORT, rd | CAPCHAN_RIGHT_WRITE, 0, deny },
		{ CAPCHAN_OP_EXPORT, CAPCHAN_RIGHT_CREATE, 0, deny },
		{ CAPCHAN_OP_EXPORT, CAPCHAN_RIGHT_REMOVE, 0, deny },
		{ CAPCHAN_OP_DERIVE, CAPCHAN_RIGHT_WRITE, 0, allow },
	};
	uint32_t op;
	unsigned i;

	ck_assert_int_eq(capchan_filter_readonly(&ch, EROFS), 0);
	assert_attached();
	for (op = 0; op < 64; op++) {
		int changes = op == CAPCHAN_OP_WRITE || op == CAPCHAN_OP_TRUNCATE ||
			      op == CAPCHAN_OP_MKDIR || op == CAPCHAN_OP_UNLINK ||
			      op == CAPCHAN_OP_RMDIR || op == CAPCHAN_OP_SYMLINK ||
			      op == CAPCHAN_OP_RENAME;

		if (op == CAPCHAN_OP_OPEN || op == CAPCHAN_OP_EXPORT)
			continue;
		ck_assert_msg(run_op(op, 0, 0) == (changes ? deny : allow),
			      "op %u", op);
		/* rights and flags matter only for OPEN and EXPORT */
		ck_assert_msg(run_op(op, ~0ULL, ~0U) == (changes ? deny : allow),
			      "op %u with every right and flag", op);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(run_op(cases[i].op, cases[i].wanted, cases[i].flags) ==
			      cases[i].want, "case %u", i);
}
END_TEST

/* Out-of-range errnos and an empty deny list are the caller's mistake:
 * -EINVAL, and nothing reaches the module. */
START_TEST(bad_arguments)
{
	ck_assert_int_eq(capchan_filter_deny_ops(&ch, 1, 0), -EINVAL);
	ck_assert_int_eq(capchan_filter_deny_ops(&ch, 1, -EPERM), -EINVAL);
	ck_assert_int_eq(capchan_filter_deny_ops(&ch, 1, 4096), -EINVAL);
	ck_assert_int_eq(capchan_filter_deny_ops(&ch, 0, EPERM), -EINVAL);
	ck_assert_int_eq(capchan_filter_allow_ops(&ch, 1, 0), -EINVAL);
	ck_assert_int_eq(capchan_filter_allow_ops(&ch, 1, 65536 + EPERM), -EINVAL);
	ck_assert_int_eq(capchan_filter_readonly(&ch, 0), -EINVAL);
	ck_assert_int_eq(capchan_filter_readonly(&ch, -EROFS), -EINVAL);
	ck_assert_uint_eq(fake.nlog, 0);
}
END_TEST

START_TEST(helpers_pass_errors)
{
	fake.filter_errno = ENOSPC;
	ck_assert_int_eq(capchan_filter_deny_ops(&ch, 1, EPERM), -ENOSPC);
	ck_assert_int_eq(capchan_filter_allow_ops(&ch, 1, EPERM), -ENOSPC);
	ck_assert_int_eq(capchan_filter_readonly(&ch, EPERM), -ENOSPC);
	ck_assert_uint_eq(fake.nlog, 3);
}
END_TEST

Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("filter");

	tcase_add_checked_fixture(tc, filter_setup, NULL);
	tcase_add_test(tc, attach_encoding);
	tcase_add_test(tc, attach_errors);
	tcase_add_test(tc, deny_ops_decides);
	tcase_add_test(tc, deny_ops_all);
	tcase_add_test(tc, allow_ops_decides);
	tcase_add_test(tc, readonly_decides);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, helpers_pass_errors);
	suite_add_tcase(s, tc);
	return s;
}
