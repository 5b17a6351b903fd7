// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Directory operations: exact INVOKE encodings and results, and the
 * READDIR iterator against a fake directory whose READDIR handler writes
 * records the way the module does (8-byte aligned, NUL, zero padding, each
 * record's next the cookie of the entry after it).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fake.h"

static struct capchan ch;

static void dir_setup(void)
{
	fake_reset();
	memset(&ch, 0, sizeof(ch));
	ch.fd = FAKE_FD;
}

/* The last call was INVOKE of exactly this SQE (reserved fields zero). */
static void assert_invoked(uint8_t opcode, uint32_t handle, uint64_t off,
			   uint64_t addr, uint32_t len, uint32_t op_flags)
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
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_int_eq(c->fd, ch.fd);
	ck_assert_uint_eq(c->sqe.opcode, opcode);
	ck_assert_uint_eq(c->sqe.handle, handle);
	ck_assert_uint_eq(c->sqe.off, off);
	ck_assert_uint_eq(c->sqe.addr, addr);
	ck_assert_uint_eq(c->sqe.len, len);
	ck_assert_uint_eq(c->sqe.op_flags, op_flags);
	ck_assert_mem_eq(&c->sqe, &want, sizeof(want));
}

/* ------------------------------------------------------ encodings */

START_TEST(readdir_encoding)
{
	char buf[512];

	fake.invoke_ret = 96;
	ck_assert_int_eq(capchan_readdir(&ch, 0x10001, buf, sizeof(buf), 0), 96);
	assert_invoked(CAPCHAN_OP_READDIR, 0x10001, 0, (uintptr_t)buf, 512, 0);
	ck_assert_int_eq(capchan_readdir(&ch, 3, buf, 100, 0x123456789ULL), 96);
	assert_invoked(CAPCHAN_OP_READDIR, 3, 0x123456789ULL, (uintptr_t)buf,
		       100, 0);
	/* a length beyond what one call fills is clamped, never truncated */
	ck_assert_int_eq(capchan_readdir(&ch, 3, buf, 0x100000040ULL, 7), 96);
	assert_invoked(CAPCHAN_OP_READDIR, 3, 7, (uintptr_t)buf, 0x7ffff000U, 0);
	fake.invoke_ret = 0;
	ck_assert_int_eq(capchan_readdir(&ch, 3, buf, sizeof(buf), 9), 0);
	fake.invoke_ret = -EPERM;
	ck_assert_int_eq(capchan_readdir(&ch, 3, buf, sizeof(buf), 0), -EPERM);
	fake.invoke_ret = -ENOTDIR;
	ck_assert_int_eq(capchan_readdir(&ch, 3, buf, sizeof(buf), 0),
			 -ENOTDIR);
}
END_TEST

START_TEST(path_ops_encoding)
{
	static const char path[] = "a/b", newpath[] = "c", target[] = "b";
	struct capchan_stat st;

	fake.invoke_ret = 0;
	ck_assert_int_eq(capchan_statat(&ch, 7, path, &st,
					CAPCHAN_STATAT_NOFOLLOW), 0);
	assert_invoked(CAPCHAN_OP_STATAT, 7, (uintptr_t)&st, (uintptr_t)path,
		       sizeof(st), CAPCHAN_STATAT_NOFOLLOW);
	ck_assert_int_eq(capchan_mkdir_beneath(&ch, 7, path, 0750), 0);
	assert_invoked(CAPCHAN_OP_MKDIR, 7, 0750, (uintptr_t)path, 0, 0);
	ck_assert_int_eq(capchan_unlink_beneath(&ch, 7, path), 0);
	assert_invoked(CAPCHAN_OP_UNLINK, 7, 0, (uintptr_t)path, 0, 0);
	ck_assert_int_eq(capchan_rmdir_beneath(&ch, 8, path), 0);
	assert_invoked(CAPCHAN_OP_RMDIR, 8, 0, (uintptr_t)path, 0, 0);
	ck_assert_int_eq(capchan_symlink_beneath(&ch, 7, path, target), 0);
	assert_invoked(CAPCHAN_OP_SYMLINK, 7, (uintptr_t)target,
		       (uintptr_t)path, 0, 0);
	ck_assert_int_eq(capchan_rename_beneath(&ch, 7, path, 9, newpath,
						CAPCHAN_RENAME_EXCHANGE), 0);
	assert_invoked(CAPCHAN_OP_RENAME, 7, (uintptr_t)newpath,
		       (uintptr_t)path, 9, CAPCHAN_RENAME_EXCHANGE);
	ck_assert_int_eq(capchan_rename_beneath(&ch, 7, path, 7, newpath, 0),
			 0);
	assert_invoked(CAPCHAN_OP_RENAME, 7, (uintptr_t)newpath,
		       (uintptr_t)path, 7, 0);
	ck_assert_int_eq(capchan_truncate(&ch, 0x20002, 4096), 0);
	assert_invoked(CAPCHAN_OP_TRUNCATE, 0x20002, 4096, 0, 0, 0);
	/* a negative length as a caller might compute it: passed as is */
	ck_assert_int_eq(capchan_truncate(&ch, 0x20002, (uint64_t)-1), 0);
	assert_invoked(CAPCHAN_OP_TRUNCATE, 0x20002, UINT64_MAX, 0, 0, 0);
	ck_assert_uint_eq(fake.nlog, 9);
}
END_TEST

/* Every call passes the module's -errno through unchanged. */
START_TEST(path_ops_errors)
{
	struct capchan_stat st;

	fake.invoke_ret = -EXDEV;
	ck_assert_int_eq(capchan_statat(&ch, 7, "../x", &st, 0), -EXDEV);
	fake.invoke_ret = -EEXIST;
	ck_assert_int_eq(capchan_mkdir_beneath(&ch, 7, "d", 0700), -EEXIST);
	fake.invoke_ret = -EPERM;
	ck_assert_int_eq(capchan_unlink_beneath(&ch, 7, "f"), -EPERM);
	fake.invoke_ret = -ENOTEMPTY;
	ck_assert_int_eq(capchan_rmdir_beneath(&ch, 7, "d"), -ENOTEMPTY);
	fake.invoke_ret = -ENOENT;
	ck_assert_int_eq(capchan_symlink_beneath(&ch, 7, "l", ""), -ENOENT);
	fake.invoke_ret = -EBADF;
	ck_assert_int_eq(capchan_rename_beneath(&ch, 7, "a", 99, "b", 0),
			 -EBADF);
	fake.invoke_ret = -EISDIR;
	ck_assert_int_eq(capchan_truncate(&ch, 7, 0), -EISDIR);
	fake.invoke_ret = -EKEYREVOKED;
	ck_assert_int_eq(capchan_statat(&ch, 7, "x", &st, 0), -EKEYREVOKED);
}
END_TEST

/* ------------------------------------------------- a fake directory */

#define NENT_MAX	64
#define FAKE_DIR	0x10004U

static struct {
	char name[NENT_MAX][256];
	uint8_t type[NENT_MAX];
	unsigned n;
	unsigned max_per_call;		/* records per READDIR at most */
	unsigned calls;			/* READDIRs answered */
	uint64_t cookies[32];		/* the cookie each READDIR asked for */
	int fail_call;			/* this READDIR (1-based) fails... */
	int fail_err;			/* ...with -fail_err, once */
	/* what a broken module might do to the first record it writes */
	int corrupt;
} dir;

/* Cookies are file system positions, not indexes: make them look so. */
static uint64_t cookie_of(unsigned i)
{
	return 0x5000000000ULL + 977ULL * i;
}

static uint64_t ino_of(unsigned i)
{
	return 1000 + i;
}

static int fake_readdir(const struct capchan_sqe *sqe)
{
	char *buf = (char *)(uintptr_t)sqe->addr;
	unsigned i, used = 0, count = 0;

	ck_assert_uint_eq(sqe->opcode, CAPCHAN_OP_READDIR);
	ck_assert_uint_eq(sqe->handle, FAKE_DIR);
	ck_assert_uint_eq(sqe->flags | sqe->resv0 | sqe->op_flags, 0);
	ck_assert_uint_eq(sqe->rights | sqe->user_data | sqe->resv1 |
			  sqe->resv2, 0);
	/* the module's records are 8-byte aligned only in an aligned buffer */
	ck_assert_uint_eq(sqe->addr & 7, 0);
	if (dir.calls < 32)
		dir.cookies[dir.calls] = sqe->off;
	dir.calls++;
	if ((int)dir.calls == dir.fail_call) {
		dir.fail_call = 0;
		return -dir.fail_err;
	}

	if (sqe->off == 0) {
		i = 0;
	} else {
		for (i = 0; i <= dir.n; i++)
			if (cookie_of(i) == sqe->off)
				break;
		ck_assert_uint_le(i, dir.n);	/* a cookie we gave out */
	}
	/* whatever the buffer held before must not be read back */
	fake_junk(buf, sqe->len);
	for (; i < dir.n && count < dir.max_per_call; i++, count++) {
		struct capchan_dirent *d = (struct capchan_dirent *)(buf + used);
		size_t namelen = strlen(dir.name[i]);
		uint32_t reclen = (sizeof(*d) + namelen + 1 + 7) & ~7U;

		if (used + reclen > sqe->len) {
			if (!used)
				return -EINVAL;	/* as the module */
			break;
		}
		memset(d, 0, reclen);
		d->ino = ino_of(i);
		d->next = cookie_of(i + 1);
		d->reclen = (uint16_t)reclen;
		d->namelen = (uint16_t)namelen;
		d->type = dir.type[i];
		memcpy(d->name, dir.name[i], namelen + 1);
		used += reclen;
	}
	if (used && dir.corrupt) {
		struct capchan_dirent *d = (struct capchan_dirent *)buf;

		switch (dir.corrupt) {
		case 1:
			d->reclen = 0;
			break;
		case 2:
			d->reclen = (uint16_t)(used + 8);
			break;
		case 3:
			d->name[d->namelen] = 'x';
			break;
		case 4:
			d->namelen = (uint16_t)(d->reclen - sizeof(*d));
			break;
		case 5:
			return (int)sqe->len + 8;	/* more than asked */
		}
	}
	return (int)used;
}

static void fake_dir_init(unsigned n, unsigned max_per_call)
{
	unsigned i;

	memset(&dir, 0, sizeof(dir));
	ck_assert_uint_le(n, NENT_MAX);
	for (i = 0; i < n; i++) {
		/* names of many lengths, so reclen and padding vary */
		snprintf(dir.name[i], sizeof(dir.name[i]), "%0*u", (int)(1 + i % 13), i);
		dir.type[i] = i % 3 ? DT_REG : DT_DIR;
	}
	dir.n = n;
	dir.max_per_call = max_per_call;
	fake.invoke = fake_readdir;
}

/* Walk the whole directory; the entries must be exactly the fake's. */
static void walk_all(struct capchan_dir_iter *it, unsigned from)
{
	const struct capchan_dirent *ent;
	unsigned i;

	for (i = from; i < dir.n; i++) {
		ck_assert_int_eq(capchan_dir_next(it, &ent), 1);
		ck_assert_str_eq(ent->name, dir.name[i]);
		ck_assert_uint_eq(ent->namelen, strlen(dir.name[i]));
		ck_assert_uint_eq(ent->ino, ino_of(i));
		ck_assert_uint_eq(ent->type, dir.type[i]);
		ck_assert_uint_eq(ent->next, cookie_of(i + 1));
		ck_assert_uint_eq((uintptr_t)ent & 7, 0);
	}
	ck_assert_int_eq(capchan_dir_next(it, &ent), 0);
}

START_TEST(iter_walks_across_refills)
{
	struct capchan_dir_iter it;
	uint64_t buf[512];
	unsigned k;

	fake_dir_init(23, 4);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       sizeof(buf)), 0);
	ck_assert_uint_eq(fake.nlog, 0);	/* init does no I/O */
	walk_all(&it, 0);
	/* 23 entries, 4 a call: 6 READDIRs with records, then one that says 0 */
	ck_assert_uint_eq(dir.calls, 7);
	ck_assert_uint_eq(dir.cookies[0], 0);
	for (k = 1; k < 6; k++)
		ck_assert_uint_eq(dir.cookies[k], cookie_of(4 * k));
	/* the last record's next: where the end is */
	ck_assert_uint_eq(dir.cookies[6], cookie_of(23));
	ck_assert_uint_eq(fake_last()->sqe.len, sizeof(buf));
	ck_assert_uint_eq(fake_last()->sqe.addr, (uintptr_t)buf);
	/* the end stays the end, with no further READDIR */
	{
		const struct capchan_dirent *ent;

		ck_assert_int_eq(capchan_dir_next(&it, &ent), 0);
		ck_assert_int_eq(capchan_dir_next(&it, &ent), 0);
	}
	ck_assert_uint_eq(dir.calls, 7);
}
END_TEST

/*
 * The smallest buffer, not aligned, and a name of 255 bytes: the iterator
 * aligns the buffer itself, and the buffer alone bounds each refill.
 */
START_TEST(iter_min_unaligned_buffer)
{
	static uint64_t store[(CAPCHAN_DIR_BUF_MIN + 16) / 8];
	struct capchan_dir_iter it;
	char *buf = (char *)store + 3;

	fake_dir_init(10, 1000);
	memset(dir.name[4], 'n', 255);
	dir.name[4][255] = '\0';
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       CAPCHAN_DIR_BUF_MIN + 5), 0);
	walk_all(&it, 0);
	ck_assert_uint_eq(fake_last()->sqe.addr, (uintptr_t)(buf + 5));
	ck_assert_uint_eq(fake_last()->sqe.len, CAPCHAN_DIR_BUF_MIN);
	/* 280 bytes hold 8 short records, or the long one alone */
	ck_assert_uint_ge(dir.calls, 3);
}
END_TEST

START_TEST(iter_empty_dir)
{
	const struct capchan_dirent *ent = NULL;
	struct capchan_dir_iter it;
	uint64_t buf[64];

	fake_dir_init(0, 8);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       sizeof(buf)), 0);
	ck_assert_int_eq(capchan_dir_next(&it, &ent), 0);
	ck_assert_ptr_null(ent);
	ck_assert_uint_eq(dir.calls, 1);
}
END_TEST

/* An error mid-walk comes back as is; calling again goes on, no entry lost. */
START_TEST(iter_error_then_retry)
{
	const struct capchan_dirent *ent;
	struct capchan_dir_iter it;
	uint64_t buf[512];
	unsigned i;

	fake_dir_init(20, 5);
	dir.fail_call = 3;
	dir.fail_err = EKEYREVOKED;
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       sizeof(buf)), 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(capchan_dir_next(&it, &ent), 1);
		ck_assert_str_eq(ent->name, dir.name[i]);
	}
	ck_assert_int_eq(capchan_dir_next(&it, &ent), -EKEYREVOKED);
	ck_assert_int_eq(fake_last()->ret, -EKEYREVOKED);
	ck_assert_uint_eq(dir.cookies[2], cookie_of(10));
	walk_all(&it, 10);
	/* the retry asked for the same place again */
	ck_assert_uint_eq(dir.cookies[3], cookie_of(10));
}
END_TEST

START_TEST(iter_first_error)
{
	const struct capchan_dirent *ent = NULL;
	struct capchan_dir_iter it;
	uint64_t buf[64];

	fake_dir_init(3, 8);
	dir.fail_call = 1;
	dir.fail_err = EPERM;		/* a DIR without CAPCHAN_RIGHT_LIST */
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       sizeof(buf)), 0);
	ck_assert_int_eq(capchan_dir_next(&it, &ent), -EPERM);
	ck_assert_ptr_null(ent);
	walk_all(&it, 0);
}
END_TEST

START_TEST(iter_init_rejects)
{
	struct capchan_dir_iter it;
	uint64_t buf[64];

	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, NULL, 4096),
			 -EINVAL);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       CAPCHAN_DIR_BUF_MIN - 1), -EINVAL);
	/* enough bytes, but not once aligned */
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR,
					       (char *)buf + 1,
					       CAPCHAN_DIR_BUF_MIN), -EINVAL);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, (char *)buf + 1,
					       3), -EINVAL);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
					       CAPCHAN_DIR_BUF_MIN), 0);
	ck_assert_uint_eq(fake.nlog, 0);
}
END_TEST

/* Records that do not hold together are refused, never walked past. */
START_TEST(iter_bad_records)
{
	const struct capchan_dirent *ent;
	struct capchan_dir_iter it;
	uint64_t buf[128];
	int bad;

	for (bad = 1; bad <= 5; bad++) {
		fake_reset();
		fake_dir_init(4, 8);
		dir.corrupt = bad;
		ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, FAKE_DIR, buf,
						       sizeof(buf)), 0);
		ck_assert_int_eq(capchan_dir_next(&it, &ent), -EPROTO);
		ck_assert_int_eq(capchan_dir_next(&it, &ent), -EPROTO);
	}
}
END_TEST

/* A bad channel descriptor: every new call reports -EBADF from the kernel. */
START_TEST(dir_ops_bad_fd)
{
	const struct capchan_dirent *ent;
	struct capchan_dir_iter it;
	struct capchan_stat st;
	uint64_t buf[64];

	ch.fd = -1;
	ck_assert_int_eq(capchan_readdir(&ch, 1, buf, sizeof(buf), 0), -EBADF);
	ck_assert_int_eq(capchan_statat(&ch, 1, "x", &st, 0), -EBADF);
	ck_assert_int_eq(capchan_mkdir_beneath(&ch, 1, "x", 0700), -EBADF);
	ck_assert_int_eq(capchan_unlink_beneath(&ch, 1, "x"), -EBADF);
	ck_assert_int_eq(capchan_rmdir_beneath(&ch, 1, "x"), -EBADF);
	ck_assert_int_eq(capchan_symlink_beneath(&ch, 1, "x", "y"), -EBADF);
	ck_assert_int_eq(capchan_rename_beneath(&ch, 1, "x", 1, "y", 0),
			 -EBADF);
	ck_assert_int_eq(capchan_truncate(&ch, 1, 0), -EBADF);
	ck_assert_int_eq(capchan_dir_iter_init(&it, &ch, 1, buf, sizeof(buf)),
			 0);
	ck_assert_int_eq(capchan_dir_next(&it, &ent), -EBADF);
	ck_assert_uint_eq(fake.nlog, 9);
}
END_TEST

Suite *dir_suite(void)
{
	Suite *s = suite_create("dir");
	TCase *tc = tcase_create("dir");

	tcase_add_checked_fixture(tc, dir_setup, NULL);
	tcase_add_test(tc, readdir_encoding);
	tcase_add_test(tc, path_ops_encoding);
	tcase_add_test(tc, path_ops_errors);
	tcase_add_test(tc, iter_walks_across_refills);
	tcase_add_test(tc, iter_min_unaligned_buffer);
	tcase_add_test(tc, iter_empty_dir);
	tcase_add_test(tc, iter_error_then_retry);
	tcase_add_test(tc, iter_first_error);
	tcase_add_test(tc, iter_init_rejects);
	tcase_add_test(tc, iter_bad_records);
	tcase_add_test(tc, dir_ops_bad_fd);
	suite_add_tcase(s, tc);
	return s;
}
