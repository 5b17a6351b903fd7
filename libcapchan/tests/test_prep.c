// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Prep helpers write every field of the SQE, reserved fields included.
 * The SQE starts as junk, so a forgotten field fails the memcmp.
 */
#include <fcntl.h>
#include <string.h>

#include "fake.h"

static struct capchan_sqe sqe, want;

static void expect(uint8_t opcode, uint32_t handle, uint64_t off,
		   uint64_t addr, uint32_t len, uint32_t op_flags,
		   uint64_t rights)
{
	memset(&want, 0, sizeof(want));
	want.opcode = opcode;
	want.handle = handle;
	want.off = off;
	want.addr = addr;
	want.len = len;
	want.op_flags = op_flags;
	want.rights = rights;

	ck_assert_uint_eq(sqe.opcode, opcode);
	ck_assert_uint_eq(sqe.flags, 0);
	ck_assert_uint_eq(sqe.resv0, 0);
	ck_assert_uint_eq(sqe.handle, handle);
	ck_assert_uint_eq(sqe.off, off);
	ck_assert_uint_eq(sqe.addr, addr);
	ck_assert_uint_eq(sqe.len, len);
	ck_assert_uint_eq(sqe.op_flags, op_flags);
	ck_assert_uint_eq(sqe.rights, rights);
	ck_assert_uint_eq(sqe.user_data, 0);
	ck_assert_uint_eq(sqe.resv1, 0);
	ck_assert_uint_eq(sqe.resv2, 0);
	ck_assert_mem_eq(&sqe, &want, sizeof(sqe));
}

static void junk(void)
{
	fake_junk(&sqe, sizeof(sqe));
}

START_TEST(layout)
{
	ck_assert_uint_eq(sizeof(struct capchan_sqe), 64);
	ck_assert_uint_eq(sizeof(struct capchan_cqe), 16);
}
END_TEST

START_TEST(prep_nop)
{
	junk();
	capchan_prep_nop(&sqe);
	expect(CAPCHAN_OP_NOP, 0, 0, 0, 0, 0, 0);
}
END_TEST

START_TEST(prep_open)
{
	static const char path[] = "a/b.txt";

	junk();
	capchan_prep_open(&sqe, 0x10003, path, O_CREAT | O_EXCL, 0640,
			  CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_WRITE);
	expect(CAPCHAN_OP_OPEN, 0x10003, 0640, (uintptr_t)path, 0,
	       O_CREAT | O_EXCL, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_WRITE);
	/* The raw prep passes the mode as given, even without O_CREAT. */
	junk();
	capchan_prep_open(&sqe, 5, path, O_NOFOLLOW, 0644, CAPCHAN_RIGHTS_ALL);
	expect(CAPCHAN_OP_OPEN, 5, 0644, (uintptr_t)path, 0, O_NOFOLLOW,
	       CAPCHAN_RIGHTS_ALL);
	/* The chain handle goes through untouched. */
	junk();
	capchan_prep_open(&sqe, CAPCHAN_HANDLE_CHAIN, path, 0, 0, 0);
	expect(CAPCHAN_OP_OPEN, CAPCHAN_HANDLE_CHAIN, 0, (uintptr_t)path, 0,
	       0, 0);
}
END_TEST

START_TEST(prep_read_write)
{
	char buf[16];

	junk();
	capchan_prep_read(&sqe, 0x20001, buf, sizeof(buf), 4096);
	expect(CAPCHAN_OP_READ, 0x20001, 4096, (uintptr_t)buf, 16, 0, 0);
	junk();
	capchan_prep_read(&sqe, 9, buf, 0xffffffffU, CAPCHAN_OFF_CURRENT);
	expect(CAPCHAN_OP_READ, 9, CAPCHAN_OFF_CURRENT, (uintptr_t)buf,
	       0xffffffffU, 0, 0);
	junk();
	capchan_prep_write(&sqe, 0x30002, buf, 7, 0x123456789ULL);
	expect(CAPCHAN_OP_WRITE, 0x30002, 0x123456789ULL, (uintptr_t)buf, 7,
	       0, 0);
}
END_TEST

START_TEST(prep_fsync_stat)
{
	struct capchan_stat st;

	junk();
	capchan_prep_fsync(&sqe, 11, CAPCHAN_FSYNC_DATASYNC);
	expect(CAPCHAN_OP_FSYNC, 11, 0, 0, 0, CAPCHAN_FSYNC_DATASYNC, 0);
	junk();
	capchan_prep_fsync(&sqe, 12, 0);
	expect(CAPCHAN_OP_FSYNC, 12, 0, 0, 0, 0, 0);
	junk();
	capchan_prep_stat(&sqe, 13, &st);
	expect(CAPCHAN_OP_STAT, 13, 0, (uintptr_t)&st,
	       sizeof(struct capchan_stat), 0, 0);
	ck_assert_uint_eq(sqe.len, 112);
}
END_TEST

START_TEST(prep_cap_ops)
{
	junk();
	capchan_prep_derive(&sqe, 21, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	expect(CAPCHAN_OP_DERIVE, 21, 0, 0, 0, 0,
	       CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	junk();
	capchan_prep_revoke(&sqe, 22);
	expect(CAPCHAN_OP_REVOKE, 22, 0, 0, 0, 0, 0);
	junk();
	capchan_prep_close(&sqe, 23);
	expect(CAPCHAN_OP_CLOSE, 23, 0, 0, 0, 0, 0);
	junk();
	capchan_prep_export(&sqe, 24, CAPCHAN_RIGHT_STAT);
	expect(CAPCHAN_OP_EXPORT, 24, 0, 0, 0, 0, CAPCHAN_RIGHT_STAT);
	junk();
	capchan_prep_import(&sqe, 42);
	expect(CAPCHAN_OP_IMPORT, 0, 42, 0, 0, 0, 0);
	/* A negative fd stays negative (sign-extended) for the module. */
	junk();
	capchan_prep_import(&sqe, -1);
	expect(CAPCHAN_OP_IMPORT, 0, UINT64_MAX, 0, 0, 0, 0);
	junk();
	capchan_prep_prefetch(&sqe, 25, 1ULL << 40, 65536);
	expect(CAPCHAN_OP_PREFETCH, 25, 1ULL << 40, 0, 65536, 0, 0);
}
END_TEST

START_TEST(prep_dir_ops)
{
	static const char path[] = "a/b", newpath[] = "c/d", target[] = "../x";
	struct capchan_stat st;
	char buf[64];

	junk();
	capchan_prep_readdir(&sqe, 0x10001, buf, sizeof(buf), 0x7ffffffffffULL);
	expect(CAPCHAN_OP_READDIR, 0x10001, 0x7ffffffffffULL, (uintptr_t)buf,
	       64, 0, 0);
	junk();
	capchan_prep_readdir(&sqe, CAPCHAN_HANDLE_CHAIN, buf, 0, 0);
	expect(CAPCHAN_OP_READDIR, CAPCHAN_HANDLE_CHAIN, 0, (uintptr_t)buf,
	       0, 0, 0);

	/* STATAT: path in addr, the stat buffer in addr2 (off's storage) */
	junk();
	capchan_prep_statat(&sqe, 31, path, &st, CAPCHAN_STATAT_NOFOLLOW);
	expect(CAPCHAN_OP_STATAT, 31, (uintptr_t)&st, (uintptr_t)path,
	       sizeof(struct capchan_stat), CAPCHAN_STATAT_NOFOLLOW, 0);
	ck_assert_uint_eq(sqe.addr2, (uintptr_t)&st);
	junk();
	capchan_prep_statat(&sqe, 31, path, &st, 0);
	expect(CAPCHAN_OP_STATAT, 31, (uintptr_t)&st, (uintptr_t)path,
	       112, 0, 0);

	junk();
	capchan_prep_mkdir(&sqe, 32, path, 0755);
	expect(CAPCHAN_OP_MKDIR, 32, 0755, (uintptr_t)path, 0, 0, 0);
	junk();
	capchan_prep_mkdir(&sqe, 32, path, 07777);
	expect(CAPCHAN_OP_MKDIR, 32, 07777, (uintptr_t)path, 0, 0, 0);

	junk();
	capchan_prep_unlink(&sqe, 33, path);
	expect(CAPCHAN_OP_UNLINK, 33, 0, (uintptr_t)path, 0, 0, 0);
	junk();
	capchan_prep_rmdir(&sqe, 34, path);
	expect(CAPCHAN_OP_RMDIR, 34, 0, (uintptr_t)path, 0, 0, 0);

	/* SYMLINK: the new name in addr, the link text in addr2 */
	junk();
	capchan_prep_symlink(&sqe, 35, path, target);
	expect(CAPCHAN_OP_SYMLINK, 35, (uintptr_t)target, (uintptr_t)path,
	       0, 0, 0);
	ck_assert_uint_eq(sqe.addr2, (uintptr_t)target);

	/* RENAME: old path in addr, new path in addr2, target DIR in len */
	junk();
	capchan_prep_rename(&sqe, 36, path, 0x7ffffffe, newpath,
			    CAPCHAN_RENAME_NOREPLACE);
	expect(CAPCHAN_OP_RENAME, 36, (uintptr_t)newpath, (uintptr_t)path,
	       0x7ffffffe, CAPCHAN_RENAME_NOREPLACE, 0);
	ck_assert_uint_eq(sqe.addr2, (uintptr_t)newpath);
	junk();
	capchan_prep_rename(&sqe, 36, path, 36, newpath,
			    CAPCHAN_RENAME_EXCHANGE);
	expect(CAPCHAN_OP_RENAME, 36, (uintptr_t)newpath, (uintptr_t)path,
	       36, CAPCHAN_RENAME_EXCHANGE, 0);

	junk();
	capchan_prep_truncate(&sqe, 37, 1ULL << 33);
	expect(CAPCHAN_OP_TRUNCATE, 37, 1ULL << 33, 0, 0, 0, 0);
	junk();
	capchan_prep_truncate(&sqe, 37, 0);
	expect(CAPCHAN_OP_TRUNCATE, 37, 0, 0, 0, 0, 0);
}
END_TEST

START_TEST(set_data_flags)
{
	junk();
	capchan_prep_close(&sqe, 3);
	capchan_sqe_set_data64(&sqe, 0xdeadbeefcafef00dULL);
	capchan_sqe_set_flags(&sqe, CAPCHAN_SQE_LINK);
	ck_assert_uint_eq(sqe.user_data, 0xdeadbeefcafef00dULL);
	ck_assert_uint_eq(sqe.flags, CAPCHAN_SQE_LINK);
	/* Nothing else moved. */
	sqe.user_data = 0;
	sqe.flags = 0;
	expect(CAPCHAN_OP_CLOSE, 3, 0, 0, 0, 0, 0);
	/* set_flags replaces, it does not OR. */
	capchan_sqe_set_flags(&sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_flags(&sqe, 0);
	ck_assert_uint_eq(sqe.flags, 0);
}
END_TEST

Suite *prep_suite(void)
{
	Suite *s = suite_create("prep");
	TCase *tc = tcase_create("prep");

	tcase_add_test(tc, layout);
	tcase_add_test(tc, prep_nop);
	tcase_add_test(tc, prep_open);
	tcase_add_test(tc, prep_read_write);
	tcase_add_test(tc, prep_fsync_stat);
	tcase_add_test(tc, prep_cap_ops);
	tcase_add_test(tc, prep_dir_ops);
	tcase_add_test(tc, set_data_flags);
	suite_add_tcase(s, tc);
	return s;
}
