// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capchan_mmap(): the capability file it exports (rights exactly what the
 * mapping needs), what it hands mmap(2), that the capability file is
 * always closed, and results as -errno.  The fake INVOKE answers EXPORT
 * with FAKE_FD, whose mmap the fake serves from a ring region.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "fake.h"

static struct capchan ch;
static struct fake_ring ring;

static void map_setup(void)
{
	fake_reset();
	memset(&ch, 0, sizeof(ch));
	ch.fd = FAKE_FD;
	fake_ring_init(&ring, 4, 8, 0);
	fake.ring = &ring;
	fake.invoke_ret = FAKE_FD;
}

static void map_teardown(void)
{
	fake_ring_free(&ring);
}

/* The one ioctl was EXPORT of h with exactly these rights. */
static void assert_exported(uint32_t h, uint64_t rights)
{
	const struct fake_call *c = fake_last();

	ck_assert_uint_eq(fake.nlog, 1);
	ck_assert_uint_eq(c->cmd, CAPCHAN_IOC_INVOKE);
	ck_assert_uint_eq(c->sqe.opcode, CAPCHAN_OP_EXPORT);
	ck_assert_uint_eq(c->sqe.handle, h);
	ck_assert_uint_eq(c->sqe.rights, rights);
	ck_assert_uint_eq(c->sqe.off | c->sqe.addr | c->sqe.len |
			  c->sqe.op_flags, 0);
}

START_TEST(shared_read)
{
	void *p = NULL;

	ck_assert_int_eq(capchan_mmap(&ch, 0x20003, 256, PROT_READ,
				      MAP_SHARED, 0, &p), 0);
	assert_exported(0x20003, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP);
	ck_assert_ptr_eq(p, ring.mem);
	ck_assert_uint_eq(fake.nmmap, 1);
	ck_assert_uint_eq(fake.mmap_len, 256);
	ck_assert_int_eq(fake.mmap_prot, PROT_READ);
	ck_assert_int_eq(fake.mmap_flags, MAP_SHARED);
	ck_assert_int_eq(fake.mmap_off, 0);
	ck_assert_uint_eq(fake.nclose, 1);
}
END_TEST

START_TEST(shared_write_needs_write)
{
	void *p = NULL;

	ck_assert_int_eq(capchan_mmap(&ch, 7, 64, PROT_READ | PROT_WRITE,
				      MAP_SHARED, 0, &p), 0);
	assert_exported(7, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP |
			   CAPCHAN_RIGHT_WRITE);
	ck_assert_int_eq(fake.mmap_prot, PROT_READ | PROT_WRITE);
	fake_reset();
	fake.ring = &ring;
	fake.invoke_ret = FAKE_FD;
	ck_assert_int_eq(capchan_mmap(&ch, 7, 64, PROT_WRITE,
				      MAP_SHARED_VALIDATE, 0, &p), 0);
	assert_exported(7, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP |
			   CAPCHAN_RIGHT_WRITE);
	ck_assert_int_eq(fake.mmap_flags, MAP_SHARED_VALIDATE);
	ck_assert_uint_eq(fake.nclose, 1);
}
END_TEST

/* A private mapping copies on write: the file is only read. */
START_TEST(private_write_reads_only)
{
	void *p = NULL;

	ck_assert_int_eq(capchan_mmap(&ch, 7, 64, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_POPULATE, 0, &p), 0);
	assert_exported(7, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP);
	ck_assert_int_eq(fake.mmap_flags, MAP_PRIVATE | MAP_POPULATE);
	ck_assert_uint_eq(fake.nclose, 1);
}
END_TEST

START_TEST(export_error)
{
	void *p = &ch;

	fake.invoke_ret = -EKEYREVOKED;
	ck_assert_int_eq(capchan_mmap(&ch, 9, 4096, PROT_READ, MAP_SHARED, 0,
				      &p), -EKEYREVOKED);
	ck_assert_ptr_eq(p, &ch);
	ck_assert_uint_eq(fake.nmmap, 0);
	ck_assert_uint_eq(fake.nclose, 0);
}
END_TEST

START_TEST(mmap_error_closes)
{
	void *p = &ch;

	fake.mmap_errno = EPERM;
	ck_assert_int_eq(capchan_mmap(&ch, 9, 4096, PROT_READ, MAP_SHARED, 0,
				      &p), -EPERM);
	ck_assert_ptr_eq(p, &ch);
	ck_assert_uint_eq(fake.nmmap, 1);
	ck_assert_uint_eq(fake.nclose, 1);
	/* the offset reaches mmap(2) as is */
	fake.mmap_errno = 0;
	ck_assert_int_eq(capchan_mmap(&ch, 9, 4096, PROT_READ, MAP_SHARED,
				      8192, &p), -EINVAL);
	ck_assert_int_eq(fake.mmap_off, 8192);
	ck_assert_uint_eq(fake.nclose, 2);
}
END_TEST

START_TEST(bad_arguments)
{
	void *p = NULL;

	ck_assert_int_eq(capchan_mmap(&ch, 9, 4096, PROT_READ, MAP_SHARED,
				      1ULL << 63, &p), -EOVERFLOW);
	ck_assert_int_eq(capchan_mmap(&ch, 9, 4096, PROT_READ, MAP_SHARED, 0,
				      NULL), -EINVAL);
	ck_assert_uint_eq(fake.nlog, 0);
	ck_assert_ptr_null(p);
}
END_TEST

Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("map");

	tcase_add_checked_fixture(tc, map_setup, map_teardown);
	tcase_add_test(tc, shared_read);
	tcase_add_test(tc, shared_write_needs_write);
	tcase_add_test(tc, private_write_reads_only);
	tcase_add_test(tc, export_error);
	tcase_add_test(tc, mmap_error_closes);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}
