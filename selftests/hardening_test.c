// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for what a security review of the module found:
 * set-ID files minted through OPEN, handle generations wrapping around,
 * fd-naming ops run from the rings, epoll registered before SETUP.
 */
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

FIXTURE(hard) {
	struct cc_tree t;
	struct capchan ch;
	int dh;
};

FIXTURE_SETUP(hard)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "hard"));
	ASSERT_EQ(0, capchan_queue_init(8, &self->ch, 0));
	self->dh = capchan_grant(&self->ch, self->t.jail_fd, CAPCHAN_RIGHTS_ALL);
	ASSERT_LT(0, self->dh);
}

FIXTURE_TEARDOWN(hard)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/*
 * A channel owned by root and driven by a sandbox must not create
 * set-user-ID or set-group-ID files: -EPERM, and no file appears.
 */
TEST_F(hard, no_setid_files)
{
	static const mode_t bad[] = { 04755, 02755, 06755, 04000, 02000 };
	struct stat st;

	for (size_t i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EPERM, capchan_open_beneath(&self->ch, self->dh, "setid",
						       O_CREAT, bad[i],
						       CAPCHAN_RIGHT_WRITE))
			TH_LOG("mode %o", bad[i]);
		EXPECT_EQ(-1, fstatat(self->t.jail_fd, "setid", &st, 0));
		EXPECT_EQ(ENOENT, errno);
	}
	/* the sticky bit and plain permission bits are fine */
	int h = capchan_open_beneath(&self->ch, self->dh, "plain", O_CREAT,
				     01755, CAPCHAN_RIGHT_WRITE);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "plain", &st, 0));
	EXPECT_EQ(0, st.st_mode & (S_ISUID | S_ISGID));
	EXPECT_EQ(0, capchan_close(&self->ch, h));
}

/*
 * No lifetime budget: a channel whose table is full but for one slot can
 * cycle that slot forever (a per-slot generation counter would wear it out
 * after 32767 cycles and leave the channel full), and no handle value comes
 * back meanwhile, so the first one stays dead.
 */
TEST_F(hard, handles_never_wear_out)
{
	int max_caps, err = 0, first, h, i, n = 0;
	int *held;

	max_caps = (int)cc_module_param("max_caps", &err);
	ASSERT_EQ(0, err);
	held = calloc(max_caps, sizeof(*held));
	ASSERT_NE(NULL, held);
	/* the grant holds one slot; fill all but one of the rest */
	for (n = 0; n < max_caps - 2; n++) {
		held[n] = capchan_derive(&self->ch, self->dh, CAPCHAN_RIGHT_STAT);
		ASSERT_LT(0, held[n]) TH_LOG("derive %d", n);
	}
	first = capchan_derive(&self->ch, self->dh, CAPCHAN_RIGHT_STAT);
	ASSERT_LT(0, first);
	EXPECT_EQ(-EMFILE, capchan_derive(&self->ch, self->dh, CAPCHAN_RIGHT_STAT));
	ASSERT_EQ(0, capchan_close(&self->ch, first));
	for (i = 1; i <= 40000; i++) {
		h = capchan_derive(&self->ch, self->dh, CAPCHAN_RIGHT_STAT);
		ASSERT_LT(0, h) TH_LOG("cycle %d: %d", i, h);
		ASSERT_NE(first, h) TH_LOG("handle 0x%x came back after %d cycles", h, i);
		ASSERT_EQ(0, capchan_close(&self->ch, h));
	}
	EXPECT_EQ(-EBADF, capchan_close(&self->ch, first));
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, capchan_close(&self->ch, held[i]));
	free(held);
}

/* EXPORT and IMPORT name fds of whoever calls: only INVOKE may run them. */
TEST_F(hard, fd_ops_not_from_rings)
{
	struct capchan_cqe *cqe;
	struct capchan_sqe *sqe;
	int capfd;

	capfd = capchan_export(&self->ch, self->dh, CAPCHAN_RIGHT_READ);
	ASSERT_LE(0, capfd);

	sqe = capchan_get_sqe(&self->ch);
	capchan_prep_import(sqe, capfd);
	capchan_sqe_set_data64(sqe, 1);
	sqe = capchan_get_sqe(&self->ch);
	capchan_prep_export(sqe, self->dh, CAPCHAN_RIGHT_READ);
	capchan_sqe_set_data64(sqe, 2);
	ASSERT_EQ(2, capchan_submit_and_wait(&self->ch, 2));
	for (int i = 1; i <= 2; i++) {
		ASSERT_EQ(0, capchan_peek_cqe(&self->ch, &cqe));
		EXPECT_EQ((uint64_t)i, cqe->user_data);
		EXPECT_EQ(-EOPNOTSUPP, cqe->res);
		capchan_cqe_seen(&self->ch, cqe);
	}
	/* through INVOKE the same import works */
	EXPECT_LT(0, capchan_import(&self->ch, capfd));
	close(capfd);
}

/*
 * O_CREAT|O_TRUNC of a new file needs no write permission on it, as with
 * open(2): an unprivileged creator making a 0444 file must succeed, and
 * O_EXCL must not find a half-made file afterwards.
 */
TEST_F(hard, create_trunc_readonly_mode)
{
	int pub, st;
	pid_t pid;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "pub", 0777));
	pub = openat(self->t.jail_fd, "pub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, pub);
	ASSERT_EQ(0, fchmod(pub, 0777));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan ch;
		int d, h;

		/* the channel's creator is nobody: its credentials apply */
		if (chdir("/") || setgid(65534) || setuid(65534))
			_exit(10);
		if (capchan_open_channel(&ch))
			_exit(11);
		d = capchan_grant(&ch, pub, CAPCHAN_RIGHTS_ALL);
		if (d <= 0)
			_exit(12);
		h = capchan_open_beneath(&ch, d, "ro", O_CREAT | O_TRUNC, 0444,
					 CAPCHAN_RIGHT_WRITE);
		if (h <= 0)
			_exit(20 + (-h & 0x3f));
		h = capchan_open_beneath(&ch, d, "ro2", O_CREAT | O_EXCL | O_TRUNC,
					 0444, CAPCHAN_RIGHT_WRITE);
		if (h <= 0)
			_exit(90 + (-h & 0x3f) % 30);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(pub);
}

/* capchan never creates through a symlink, dangling or not: -ELOOP. */
TEST_F(hard, create_through_dangling_link)
{
	struct stat st;

	ASSERT_EQ(0, symlinkat("nowhere", self->t.jail_fd, "dangle"));
	EXPECT_EQ(-ELOOP, capchan_open_beneath(&self->ch, self->dh, "dangle",
					       O_CREAT, 0644, CAPCHAN_RIGHT_WRITE));
	EXPECT_EQ(-1, fstatat(self->t.jail_fd, "nowhere", &st, 0));
	EXPECT_EQ(ENOENT, errno);
	/* with O_NOFOLLOW too */
	EXPECT_EQ(-ELOOP, capchan_open_beneath(&self->ch, self->dh, "dangle",
					       O_CREAT | O_NOFOLLOW, 0644,
					       CAPCHAN_RIGHT_WRITE));
}

/* An epoll registration made before SETUP still wakes on completions. */
TEST(epoll_before_setup)
{
	struct capchan_params p;
	struct epoll_event ev = { .events = EPOLLIN };
	struct capchan_sqe s;
	struct capchan ch;
	int fd, ep;

	fd = cc_open_dev();
	ASSERT_LE(0, fd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	memset(&p, 0, sizeof(p));
	p.sq_entries = 4;
	ASSERT_EQ(0, cc_ioctl(fd, CAPCHAN_IOC_SETUP, &p));
	memset(&ch, 0, sizeof(ch));
	ch.fd = fd;
	ch.ring_sz = p.ring_size;
	ch.ring_ptr = mmap(NULL, p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, CAPCHAN_OFF_RINGS);
	ASSERT_NE(MAP_FAILED, ch.ring_ptr);
	ch.sq.ktail = (unsigned *)((char *)ch.ring_ptr + p.sq_off.tail);
	ch.sq.ring_mask = p.sq_entries - 1;
	ch.sq.sqes = (struct capchan_sqe *)((char *)ch.ring_ptr + p.sq_off.sqes);
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	cc_sq_push(&ch, &s);
	ASSERT_EQ(1, cc_enter(fd, 1, 0, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 1000));
	EXPECT_EQ(EPOLLIN, ev.events & EPOLLIN);
	munmap(ch.ring_ptr, p.ring_size);
	close(ep);
	close(fd);
}

TEST_HARNESS_MAIN
