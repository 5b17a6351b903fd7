// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Capability layer: exact INVOKE/GRANT encodings, result passing,
 * read_to_end, the scope guard, and -EBADF on invalid descriptors.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"

static struct capchan ch;

static void cap_setup(void)
{
	fake_reset();
	memset(&ch, 0, sizeof(ch));
	ch.fd = FAKE_FD;
}

/* The last call was INVOKE of exactly this SQE (reserved fields zero). */
static void assert_invoked(uint8_t opcode, uint32_t handle, uint64_t off,
			   uint64_t addr, uint32_t len, uint32_t op_flags,
			   uint64_t rights)
{
	const struct fake_call *c = fake_last();
	struct capchan_sqe want;

	memset(&want, 0, sizeof(want));
	want.opcode = opcode;
	want.handle = handle;
	want.off = off;
	want.addr = addr;
	want.len = len;
	want.op_flags = op_flags;
	want.rights = rights;
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_int_eq(c->fd, ch.fd);
	ck_assert_uint_eq(c->sqe.opcode, opcode);
	ck_assert_uint_eq(c->sqe.handle, handle);
	ck_assert_uint_eq(c->sqe.off, off);
	ck_assert_uint_eq(c->sqe.addr, addr);
	ck_assert_uint_eq(c->sqe.len, len);
	ck_assert_uint_eq(c->sqe.op_flags, op_flags);
	ck_assert_uint_eq(c->sqe.rights, rights);
	ck_assert_mem_eq(&c->sqe, &want, sizeof(want));
}

START_TEST(grant_encoding)
{
	const struct fake_call *c;

	fake.grant_handle = 0x50007;
	ck_assert_int_eq(capchan_grant(&ch, 3, CAPCHAN_RIGHT_LOOKUP |
				       CAPCHAN_RIGHT_READ), 0x50007);
	c = fake_last();
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_GRANT);
	ck_assert_int_eq(c->grant.fd, 3);
	ck_assert_uint_eq(c->grant.flags, 0);
	ck_assert_uint_eq(c->grant.rights,
			  CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_READ);
	ck_assert_uint_eq(c->grant.handle | c->grant.cap_type, 0);
	ck_assert_uint_eq(c->grant.resv[0] | c->grant.resv[1], 0);
	fake.grant_errno = EPERM;
	ck_assert_int_eq(capchan_grant(&ch, 3, CAPCHAN_RIGHT_WRITE), -EPERM);
}
END_TEST

START_TEST(seal)
{
	ck_assert_int_eq(capchan_seal(&ch), 0);
	ck_assert_uint_eq(fake_last()->cmd, CAPCHAN_IOC_SEAL);
	ck_assert_int_eq(fake_last()->fd, FAKE_FD);
	ck_assert_uint_eq(fake_last()->arg, 0);
}
END_TEST

START_TEST(seal_flags)
{
	ck_assert_int_eq(capchan_seal_flags(&ch, CAPCHAN_SEAL_IMPORT), 0);
	ck_assert_uint_eq(fake_last()->cmd, CAPCHAN_IOC_SEAL);
	ck_assert_uint_eq(fake_last()->arg, CAPCHAN_SEAL_IMPORT);
	ck_assert_int_eq(capchan_seal_flags(&ch, 0), 0);
	ck_assert_uint_eq(fake_last()->arg, 0);
}
END_TEST

START_TEST(invoke_results)
{
	struct capchan_sqe sqe;

	capchan_prep_nop(&sqe);
	capchan_sqe_set_data64(&sqe, 99);
	fake.invoke_ret = 0;
	ck_assert_int_eq(capchan_invoke(&ch, &sqe), 0);
	ck_assert_mem_eq(&fake_last()->sqe, &sqe, sizeof(sqe));
	fake.invoke_ret = 0x7fff0001;
	ck_assert_int_eq(capchan_invoke(&ch, &sqe), 0x7fff0001);
	fake.invoke_ret = -EKEYREVOKED;
	ck_assert_int_eq(capchan_invoke(&ch, &sqe), -EKEYREVOKED);
	ck_assert_int_eq(fake_last()->ret, -EKEYREVOKED);
}
END_TEST

START_TEST(open_beneath_encoding)
{
	static const char path[] = "sub/file";

	fake.invoke_ret = 0x30004;
	ck_assert_int_eq(capchan_open_beneath(&ch, 0x10001, path,
					      O_CREAT | O_TRUNC, 0600,
					      CAPCHAN_RIGHT_WRITE), 0x30004);
	assert_invoked(CAPCHAN_OP_OPEN, 0x10001, 0600, (uintptr_t)path, 0,
		       O_CREAT | O_TRUNC, CAPCHAN_RIGHT_WRITE);
	/* Without O_CREAT the mode is dropped, as open(2) ignores it. */
	fake.invoke_ret = -ENOENT;
	ck_assert_int_eq(capchan_open_beneath(&ch, 0x10001, path, O_NOFOLLOW,
					      0644, CAPCHAN_RIGHT_READ),
			 -ENOENT);
	assert_invoked(CAPCHAN_OP_OPEN, 0x10001, 0, (uintptr_t)path, 0,
		       O_NOFOLLOW, CAPCHAN_RIGHT_READ);
}
END_TEST

START_TEST(read_write_encoding)
{
	char buf[32];

	fake.invoke_ret = 17;
	ck_assert_int_eq(capchan_read(&ch, 5, buf, sizeof(buf), 100), 17);
	assert_invoked(CAPCHAN_OP_READ, 5, 100, (uintptr_t)buf, 32, 0, 0);
	ck_assert_int_eq(capchan_write(&ch, 6, buf, 3, CAPCHAN_OFF_CURRENT),
			 17);
	assert_invoked(CAPCHAN_OP_WRITE, 6, CAPCHAN_OFF_CURRENT,
		       (uintptr_t)buf, 3, 0, 0);
	/* Huge lengths are clamped to what one call can move. */
	ck_assert_int_eq(capchan_read(&ch, 5, buf, SIZE_MAX, 0), 17);
	assert_invoked(CAPCHAN_OP_READ, 5, 0, (uintptr_t)buf, 0x7ffff000U,
		       0, 0);
	ck_assert_int_eq(capchan_write(&ch, 5, buf, 0x100000000ULL, 0), 17);
	assert_invoked(CAPCHAN_OP_WRITE, 5, 0, (uintptr_t)buf, 0x7ffff000U,
		       0, 0);
	fake.invoke_ret = -EPERM;
	ck_assert_int_eq(capchan_read(&ch, 5, buf, 1, 0), -EPERM);
	ck_assert_int_eq(capchan_write(&ch, 5, buf, 1, 0), -EPERM);
}
END_TEST

START_TEST(other_ops_encoding)
{
	struct capchan_stat st;

	fake.invoke_ret = 0;
	ck_assert_int_eq(capchan_stat(&ch, 7, &st), 0);
	assert_invoked(CAPCHAN_OP_STAT, 7, 0, (uintptr_t)&st,
		       sizeof(st), 0, 0);
	ck_assert_int_eq(capchan_fsync(&ch, 7, CAPCHAN_FSYNC_DATASYNC), 0);
	assert_invoked(CAPCHAN_OP_FSYNC, 7, 0, 0, 0,
		       CAPCHAN_FSYNC_DATASYNC, 0);
	fake.invoke_ret = 0x20009;
	ck_assert_int_eq(capchan_derive(&ch, 7, CAPCHAN_RIGHT_READ), 0x20009);
	assert_invoked(CAPCHAN_OP_DERIVE, 7, 0, 0, 0, 0, CAPCHAN_RIGHT_READ);
	fake.invoke_ret = 12;
	ck_assert_int_eq(capchan_revoke(&ch, 7), 12);
	assert_invoked(CAPCHAN_OP_REVOKE, 7, 0, 0, 0, 0, 0);
	fake.invoke_ret = 0;
	ck_assert_int_eq(capchan_close(&ch, 7), 0);
	assert_invoked(CAPCHAN_OP_CLOSE, 7, 0, 0, 0, 0, 0);
	fake.invoke_ret = 9;
	ck_assert_int_eq(capchan_export(&ch, 7, CAPCHAN_RIGHT_STAT), 9);
	assert_invoked(CAPCHAN_OP_EXPORT, 7, 0, 0, 0, 0, CAPCHAN_RIGHT_STAT);
	fake.invoke_ret = 0x40002;
	ck_assert_int_eq(capchan_import(&ch, 9), 0x40002);
	assert_invoked(CAPCHAN_OP_IMPORT, 0, 9, 0, 0, 0, 0);
	ck_assert_uint_eq(fake.nlog, 7);
}
END_TEST

/* ------------------------------------------------------ read_to_end */

static char file[10000];
static size_t file_pos, file_size, max_chunk;
static unsigned nreads;
static int fail_at, fail_err, eintr_at;

static int fake_file_read(const struct capchan_sqe *sqe)
{
	size_t n;

	nreads++;
	ck_assert_uint_eq(sqe->opcode, CAPCHAN_OP_READ);
	ck_assert_uint_eq(sqe->handle, 0x10002);
	ck_assert_uint_eq(sqe->off, CAPCHAN_OFF_CURRENT);
	ck_assert_uint_gt(sqe->len, 0);
	if ((int)nreads == eintr_at)
		return -EINTR;
	if ((int)nreads == fail_at)
		return -fail_err;
	n = file_size - file_pos;
	if (n > sqe->len)
		n = sqe->len;
	if (n > max_chunk)
		n = max_chunk;
	memcpy((void *)(uintptr_t)sqe->addr, file + file_pos, n);
	file_pos += n;
	return (int)n;
}

static void file_setup(size_t size, size_t chunk)
{
	size_t i;

	for (i = 0; i < sizeof(file); i++)
		file[i] = (char)('a' + i % 26);
	file_pos = 0;
	file_size = size;
	max_chunk = chunk;
	nreads = 0;
	fail_at = eintr_at = 0;
	fake.invoke = fake_file_read;
}

START_TEST(read_to_end_grows)
{
	void *buf = NULL;

	file_setup(10000, 3000);
	ck_assert_int_eq(capchan_read_to_end(&ch, 0x10002, &buf), 10000);
	ck_assert_ptr_nonnull(buf);
	ck_assert_mem_eq(buf, file, 10000);
	ck_assert_int_eq(((char *)buf)[10000], '\0');
	/* 3000+1095 (first 4096 less the NUL), then 3000-sized reads, 0. */
	ck_assert_uint_eq(fake.log[0].sqe.len, 4095);
	ck_assert_uint_eq(fake.log[1].sqe.len, 1095);
	ck_assert_uint_eq(fake_last()->ret, 0);
	ck_assert_uint_eq(fake.nlog, nreads);
	free(buf);
}
END_TEST

START_TEST(read_to_end_exact_chunk)
{
	void *buf = NULL;

	/* 4095 bytes fill the first buffer exactly; EOF needs one more. */
	file_setup(4095, 100000);
	ck_assert_int_eq(capchan_read_to_end(&ch, 0x10002, &buf), 4095);
	ck_assert_mem_eq(buf, file, 4095);
	ck_assert_int_eq(((char *)buf)[4095], '\0');
	ck_assert_uint_eq(nreads, 2);
	ck_assert_uint_eq(fake.log[1].sqe.len, 8192 - 4095 - 1);
	free(buf);
}
END_TEST

START_TEST(read_to_end_empty)
{
	void *buf = NULL;

	file_setup(0, 100);
	ck_assert_int_eq(capchan_read_to_end(&ch, 0x10002, &buf), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(nreads, 1);
	free(buf);
}
END_TEST

START_TEST(read_to_end_eintr_retried)
{
	void *buf = NULL;

	file_setup(5000, 1000);
	eintr_at = 2;
	ck_assert_int_eq(capchan_read_to_end(&ch, 0x10002, &buf), 5000);
	ck_assert_mem_eq(buf, file, 5000);
	free(buf);
}
END_TEST

START_TEST(read_to_end_error)
{
	void *buf = (void *)&buf;

	file_setup(10000, 1000);
	fail_at = 3;
	fail_err = EKEYREVOKED;
	ck_assert_int_eq(capchan_read_to_end(&ch, 0x10002, &buf),
			 -EKEYREVOKED);
	ck_assert_ptr_eq(buf, (void *)&buf);	/* untouched on error */
	ck_assert_uint_eq(nreads, 3);
}
END_TEST

/* ------------------------------------------------------ scope guard */

START_TEST(scope_guard_drops)
{
	fake.invoke_ret = 0;
	{
		CAPCHAN_SCOPED(a, &ch, 0x10005);
		CAPCHAN_SCOPED(b, &ch, 0x20006);

		ck_assert_int_eq(a.handle, 0x10005);
		ck_assert_int_eq(b.handle, 0x20006);
		ck_assert_uint_eq(fake.nlog, 0);
	}
	/* Both dropped, in reverse order of declaration. */
	ck_assert_uint_eq(fake.nlog, 2);
	ck_assert_uint_eq(fake.log[0].cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_uint_eq(fake.log[0].sqe.opcode, CAPCHAN_OP_CLOSE);
	ck_assert_uint_eq(fake.log[0].sqe.handle, 0x20006);
	assert_invoked(CAPCHAN_OP_CLOSE, 0x10005, 0, 0, 0, 0, 0);
}
END_TEST

START_TEST(scope_guard_skips)
{
	{
		CAPCHAN_SCOPED(failed, &ch, -ENOENT);
		CAPCHAN_SCOPED(zero, &ch, 0);
		CAPCHAN_SCOPED(kept, &ch, 0x10005);

		ck_assert_int_eq(failed.handle, -ENOENT);
		(void)zero;
		kept.handle = 0;	/* keep it past the block */
	}
	ck_assert_uint_eq(fake.nlog, 0);
}
END_TEST

/* A guard on an invalid channel: the drop runs and fails with -EBADF. */
START_TEST(scope_guard_bad_fd)
{
	ch.fd = -1;
	{
		CAPCHAN_SCOPED(g, &ch, 42);

		(void)g;
	}
	ck_assert_uint_eq(fake.nlog, 1);
	ck_assert_int_eq(fake_last()->fd, -1);
	ck_assert_int_eq(fake_last()->ret, -EBADF);
	assert_invoked(CAPCHAN_OP_CLOSE, 42, 0, 0, 0, 0, 0);
}
END_TEST

START_TEST(scope_close_direct)
{
	struct capchan_scope s = { &ch, 0x10009 };

	capchan_scope_close(&s);
	ck_assert_int_eq(s.handle, 0);
	assert_invoked(CAPCHAN_OP_CLOSE, 0x10009, 0, 0, 0, 0, 0);
	capchan_scope_close(&s);		/* a second time: nothing */
	s.ch = NULL;
	s.handle = 5;
	capchan_scope_close(&s);		/* no channel: nothing */
	ck_assert_uint_eq(fake.nlog, 1);
}
END_TEST

/* --------------------------------------- real kernel, invalid fds */

static void check_all_ebadf(void)
{
	struct capchan_version v;
	struct capchan_stat st;
	struct capchan_sqe sqe;
	void *buf = (void *)&buf;
	char b[8];

	capchan_prep_nop(&sqe);
	ck_assert_int_eq(capchan_get_version(&ch, &v), -EBADF);
	ck_assert_int_eq(capchan_grant(&ch, 0, CAPCHAN_RIGHT_READ), -EBADF);
	ck_assert_int_eq(capchan_seal(&ch), -EBADF);
	ck_assert_int_eq(capchan_invoke(&ch, &sqe), -EBADF);
	ck_assert_int_eq(capchan_open_beneath(&ch, 1, "x", 0, 0,
					      CAPCHAN_RIGHT_READ), -EBADF);
	ck_assert_int_eq(capchan_read(&ch, 1, b, sizeof(b), 0), -EBADF);
	ck_assert_int_eq(capchan_write(&ch, 1, b, sizeof(b), 0), -EBADF);
	ck_assert_int_eq(capchan_read_to_end(&ch, 1, &buf), -EBADF);
	ck_assert_ptr_eq(buf, (void *)&buf);
	ck_assert_int_eq(capchan_stat(&ch, 1, &st), -EBADF);
	ck_assert_int_eq(capchan_fsync(&ch, 1, 0), -EBADF);
	ck_assert_int_eq(capchan_derive(&ch, 1, 0), -EBADF);
	ck_assert_int_eq(capchan_revoke(&ch, 1), -EBADF);
	ck_assert_int_eq(capchan_close(&ch, 1), -EBADF);
	ck_assert_int_eq(capchan_export(&ch, 1, 0), -EBADF);
	ck_assert_int_eq(capchan_import(&ch, 0), -EBADF);
	ck_assert_uint_eq(fake.nlog, 15);
}

START_TEST(closed_fd_ebadf)
{
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	close(fds[1]);
	ch.fd = fds[1];
	check_all_ebadf();
}
END_TEST

START_TEST(negative_fd_ebadf)
{
	ch.fd = -1;
	check_all_ebadf();
}
END_TEST

/* Not a channel: the kernel's own answer to an unknown ioctl. */
START_TEST(not_a_channel_enotty)
{
	struct capchan_version v;

	ch.fd = open("/dev/null", O_RDWR);
	ck_assert_int_ge(ch.fd, 0);
	ck_assert_int_eq(capchan_get_version(&ch, &v), -ENOTTY);
	ck_assert_int_eq(capchan_close(&ch, 1), -ENOTTY);
	close(ch.fd);
}
END_TEST

Suite *cap_suite(void)
{
	Suite *s = suite_create("cap");
	TCase *tc = tcase_create("cap");

	tcase_add_checked_fixture(tc, cap_setup, NULL);
	tcase_add_test(tc, grant_encoding);
	tcase_add_test(tc, seal);
	tcase_add_test(tc, seal_flags);
	tcase_add_test(tc, invoke_results);
	tcase_add_test(tc, open_beneath_encoding);
	tcase_add_test(tc, read_write_encoding);
	tcase_add_test(tc, other_ops_encoding);
	tcase_add_test(tc, read_to_end_grows);
	tcase_add_test(tc, read_to_end_exact_chunk);
	tcase_add_test(tc, read_to_end_empty);
	tcase_add_test(tc, read_to_end_eintr_retried);
	tcase_add_test(tc, read_to_end_error);
	tcase_add_test(tc, scope_guard_drops);
	tcase_add_test(tc, scope_guard_skips);
	tcase_add_test(tc, scope_guard_bad_fd);
	tcase_add_test(tc, scope_close_direct);
	tcase_add_test(tc, closed_fd_ebadf);
	tcase_add_test(tc, negative_fd_ebadf);
	tcase_add_test(tc, not_a_channel_enotty);
	suite_add_tcase(s, tc);
	return s;
}
