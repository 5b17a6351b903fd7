// SPDX-License-Identifier: GPL-2.0
/*
 * CAPCHAN_IOC_GRANT and CAPCHAN_IOC_SEAL.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/eventfd.h>

FIXTURE(grant) {
	struct cc_tree t;
	struct capchan ch;
	int file_ro, file_wo, file_rw;
};

FIXTURE_SETUP(grant)
{
	self->ch.fd = -1;
	self->file_ro = self->file_wo = self->file_rw = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "grant"));
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
	self->file_ro = openat(self->t.jail_fd, "hello", O_RDONLY | O_CLOEXEC);
	self->file_wo = openat(self->t.jail_fd, "hello", O_WRONLY | O_CLOEXEC);
	self->file_rw = openat(self->t.jail_fd, "hello", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->file_ro);
	ASSERT_LE(0, self->file_wo);
	ASSERT_LE(0, self->file_rw);
}

FIXTURE_TEARDOWN(grant)
{
	if (self->file_ro >= 0)
		close(self->file_ro);
	if (self->file_wo >= 0)
		close(self->file_wo);
	if (self->file_rw >= 0)
		close(self->file_rw);
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* A handle is never 0 and never has bit 31 set. */
static bool handle_ok(int h)
{
	return cc_handle_ok(h);
}

TEST_F(grant, dir)
{
	uint32_t type = 0;
	struct capchan_stat st;
	struct stat sb;
	int h;

	h = cc_grant(self->ch.fd, self->t.jail_fd, R_ALL, &type);
	ASSERT_TRUE(handle_ok(h)) TH_LOG("handle %d", h);
	EXPECT_EQ(CAPCHAN_CAP_DIR, type);
	ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
	ASSERT_EQ(0, fstat(self->t.jail_fd, &sb));
	EXPECT_EQ(sb.st_ino, st.ino);
	EXPECT_EQ(CAPCHAN_CAP_DIR, st.cap_type);
	EXPECT_EQ(R_ALL, st.rights);
	EXPECT_TRUE(S_ISDIR(st.mode));
}

/* A directory opened O_RDONLY still grants WRITE/CREATE for what is beneath. */
TEST_F(grant, dir_rights_any)
{
	uint32_t type;
	const uint64_t sets[] = {
		R_LOOKUP, R_LOOKUP | R_READ, R_LOOKUP | R_WRITE | R_CREATE,
		R_STAT, 0x0, R_ALL,
	};

	for (size_t i = 0; i < CC_ARRAY_SIZE(sets); i++) {
		struct capchan_stat st;
		int h = cc_grant(self->ch.fd, self->t.jail_fd, sets[i], &type);

		ASSERT_TRUE(handle_ok(h)) TH_LOG("rights 0x%llx: %d",
				(unsigned long long)sets[i], h);
		EXPECT_EQ(CAPCHAN_CAP_DIR, type);
		if (sets[i] & R_STAT) {
			ASSERT_EQ(0, capchan_stat(&self->ch, h, &st));
			EXPECT_EQ(sets[i], st.rights);
		}
	}
}

TEST_F(grant, file_types_and_modes)
{
	uint32_t type = 0;
	int h;

	h = cc_grant(self->ch.fd, self->file_ro, R_READ | R_SEEK | R_STAT, &type);
	ASSERT_TRUE(handle_ok(h));
	EXPECT_EQ(CAPCHAN_CAP_FILE, type);

	h = cc_grant(self->ch.fd, self->file_wo, R_WRITE | R_SEEK | R_STAT, &type);
	ASSERT_TRUE(handle_ok(h));
	EXPECT_EQ(CAPCHAN_CAP_FILE, type);

	h = cc_grant(self->ch.fd, self->file_rw, R_ALL, &type);
	ASSERT_TRUE(handle_ok(h));
	EXPECT_EQ(CAPCHAN_CAP_FILE, type);
}

/* Rights the fd's open mode does not give: -EPERM. */
TEST_F(grant, rights_vs_open_mode)
{
	int fd, h;

	EXPECT_EQ(-EPERM, cc_grant(self->ch.fd, self->file_ro, R_WRITE, NULL));
	EXPECT_EQ(-EPERM, cc_grant(self->ch.fd, self->file_ro,
				   R_READ | R_WRITE, NULL));
	EXPECT_EQ(-EPERM, cc_grant(self->ch.fd, self->file_ro, R_ALL, NULL));
	EXPECT_EQ(-EPERM, cc_grant(self->ch.fd, self->file_wo, R_READ, NULL));
	EXPECT_EQ(-EPERM, cc_grant(self->ch.fd, self->file_wo,
				   R_READ | R_WRITE, NULL));
	/* O_PATH gives neither. */
	fd = openat(self->t.jail_fd, "hello", O_PATH | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* An O_PATH fd has no open mode: EBADF or EPERM, never a cap. */
	h = cc_grant(self->ch.fd, fd, R_READ, NULL);
	EXPECT_TRUE(h == -EPERM || h == -EBADF) TH_LOG("got %d", h);
	h = cc_grant(self->ch.fd, fd, R_WRITE, NULL);
	EXPECT_TRUE(h == -EPERM || h == -EBADF) TH_LOG("got %d", h);
	h = cc_grant(self->ch.fd, fd, R_STAT, NULL);
	if (h > 0) {
		EXPECT_EQ(-EPERM, capchan_read(&self->ch, h, (char[4]){0},
					       4, CAPCHAN_OFF_CURRENT));
	}
	close(fd);
	/* The same grants work with the right modes. */
	EXPECT_LT(0, cc_grant(self->ch.fd, self->file_rw, R_READ | R_WRITE, NULL));
	EXPECT_LT(0, cc_grant(self->ch.fd, self->file_ro, R_READ, NULL));
	EXPECT_LT(0, cc_grant(self->ch.fd, self->file_wo, R_WRITE, NULL));
}

TEST_F(grant, other_inode_types)
{
	int pipefd[2], sv[2], efd, nullfd, devfd, sockfd;
	uint32_t type = 0xdead;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nullfd);
	devfd = cc_open_dev();		/* a channel is not a file either */
	ASSERT_LE(0, devfd);
	sockfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, pipefd[0], R_READ, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, pipefd[1], R_WRITE, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, sv[0], R_READ, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, efd, R_READ, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, nullfd, R_READ, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, devfd, R_READ, &type));
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, self->ch.fd, R_READ, &type));
	if (sockfd >= 0)
		EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, sockfd, R_READ, &type));
	EXPECT_EQ(0xdead, type);

	close(pipefd[0]); close(pipefd[1]); close(sv[0]); close(sv[1]);
	close(efd); close(nullfd); close(devfd);
	if (sockfd >= 0)
		close(sockfd);
}

TEST_F(grant, bad_fd)
{
	int fd = dup(self->file_ro);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-EBADF, cc_grant(self->ch.fd, -1, R_READ, NULL));
	EXPECT_EQ(-EBADF, cc_grant(self->ch.fd, fd, R_READ, NULL));
	EXPECT_EQ(-EBADF, cc_grant(self->ch.fd, 999999, R_READ, NULL));
	EXPECT_EQ(-EBADF, cc_grant(self->ch.fd, INT32_MIN, R_READ, NULL));
}

TEST_F(grant, unknown_rights_bits)
{
	for (int bit = __builtin_popcountll(CAPCHAN_RIGHTS_ALL); bit < 64; bit++) {
		EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, self->t.jail_fd,
					    1ULL << bit, NULL))
			TH_LOG("bit %d", bit);
		EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, self->file_rw,
					    R_READ | (1ULL << bit), NULL))
			TH_LOG("bit %d", bit);
	}
	EXPECT_EQ(-EINVAL, cc_grant(self->ch.fd, self->t.jail_fd, ~0ULL, NULL));
}

TEST_F(grant, flags_and_reserved)
{
	struct capchan_grant g;

	for (int bit = 0; bit < 32; bit++) {
		memset(&g, 0, sizeof(g));
		g.fd = self->t.jail_fd;
		g.rights = R_LOOKUP;
		g.flags = 1U << bit;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_GRANT, &g));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
	}
	for (int i = 0; i < 2; i++) {
		memset(&g, 0, sizeof(g));
		g.fd = self->t.jail_fd;
		g.rights = R_LOOKUP;
		g.resv[i] = 1ULL << 40;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_GRANT, &g));
		EXPECT_EQ(EINVAL, errno) TH_LOG("resv[%d]", i);
	}
}

TEST_F(grant, bad_pointer)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_GRANT, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_GRANT, (void *)16));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(grant, seal)
{
	struct capchan ch2;
	int h, d;

	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	EXPECT_EQ(0, capchan_seal(&self->ch));
	EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->t.jail_fd, R_ALL));
	EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->file_ro, R_READ));
	/* Idempotent. */
	EXPECT_EQ(0, capchan_seal(&self->ch));
	EXPECT_EQ(0, ioctl(self->ch.fd, CAPCHAN_IOC_SEAL, 0));
	EXPECT_EQ(-EPERM, capchan_grant(&self->ch, self->file_rw, R_READ));
	/* Authority can still shrink: derive and open beneath work. */
	d = capchan_derive(&self->ch, h, R_LOOKUP | R_READ | R_STAT);
	EXPECT_LT(0, d);
	EXPECT_LT(0, capchan_open_beneath(&self->ch, d, "hello", 0, 0, R_READ));
	/* A different channel is not sealed. */
	ASSERT_EQ(0, capchan_open_channel(&ch2));
	EXPECT_LT(0, capchan_grant(&ch2, self->t.jail_fd, R_ALL));
	capchan_queue_exit(&ch2);
}

/* The fd stays the caller's: closing it does not affect the capability. */
TEST_F(grant, fd_independent_of_cap)
{
	char buf[64];
	int fd, h;

	fd = openat(self->t.jail_fd, "hello", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = capchan_grant(&self->ch, fd, R_READ);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(strlen(CC_HELLO), capchan_read(&self->ch, h, buf, sizeof(buf),
						 CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(buf, CC_HELLO, strlen(CC_HELLO)));
	/* And the capability does not keep the fd number alive. */
	errno = 0;
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
	EXPECT_EQ(EBADF, errno);
}

/* Granting the same fd twice gives two distinct handles. */
TEST_F(grant, twice_distinct)
{
	int a = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	int b = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);

	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	EXPECT_NE(a, b);
	EXPECT_EQ(0, capchan_close(&self->ch, a));
	EXPECT_EQ(0, capchan_stat(&self->ch, b,
				  &(struct capchan_stat){ 0 }));
}

/* fdinfo reflects grants and seal. */
TEST_F(grant, fdinfo)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *c;
	int d, f;

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(0, fi->sealed);
	EXPECT_EQ(0, fi->caps);
	EXPECT_EQ(0, fi->ncap);

	d = capchan_grant(&self->ch, self->t.jail_fd, R_LOOKUP | R_READ);
	f = capchan_grant(&self->ch, self->file_rw, R_READ | R_WRITE | R_STAT);
	ASSERT_LT(0, d);
	ASSERT_LT(0, f);
	ASSERT_EQ(0, capchan_seal(&self->ch));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->sealed);
	EXPECT_EQ(2, fi->caps);
	EXPECT_EQ(2, fi->ncap);
	EXPECT_EQ(0, fi->bad_cap_lines);
	c = cc_fdinfo_find(fi, d);
	ASSERT_NE(NULL, c);
	EXPECT_STREQ("dir", c->type);
	EXPECT_EQ(R_LOOKUP | R_READ, c->rights);
	EXPECT_EQ(0, c->revoked);
	EXPECT_EQ(0, c->depth);
	c = cc_fdinfo_find(fi, f);
	ASSERT_NE(NULL, c);
	EXPECT_STREQ("file", c->type);
	EXPECT_EQ(R_READ | R_WRITE | R_STAT, c->rights);
	EXPECT_EQ(0, c->depth);
	free(fi);
}

TEST_HARNESS_MAIN
