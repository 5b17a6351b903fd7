// SPDX-License-Identifier: GPL-2.0
/*
 * Module unload is refused while anything of capchan is alive: a channel,
 * a mapping of its rings (after the fd is closed), a capability file, a
 * capability imported elsewhere.  Tested with the module's reference count
 * (/sys/module/capchan/refcnt) and delete_module(2) with O_NONBLOCK, which
 * the kernel answers with EWOULDBLOCK (== EAGAIN) for a module in use.
 *
 * The module is never actually unloaded here: delete_module() is only
 * called after checking that the reference count is above zero.  The VM
 * runner does the real rmmod at the end and fails the run if it fails.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

static int try_unload(void)
{
	return syscall(SYS_delete_module, "capchan", O_NONBLOCK) ? -errno : 0;
}

FIXTURE(unload) {
	struct cc_tree t;
	long long base;
};

FIXTURE_SETUP(unload)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "unload"));
	self->base = cc_module_refcnt();
	if (self->base < 0)
		SKIP(return, "no /sys/module/capchan/refcnt (CONFIG_MODULE_UNLOAD?)");
}

FIXTURE_TEARDOWN(unload)
{
	cc_tree_destroy(&self->t);
}

/* Refused, without unloading: only call delete_module with refs held. */
#define ASSERT_UNLOAD_REFUSED() do {					\
	long long r_ = cc_module_refcnt();				\
	ASSERT_LT(self->base, r_) TH_LOG("refcnt %lld", r_);		\
	EXPECT_EQ(-EWOULDBLOCK, try_unload());				\
	EXPECT_NE(NULL, opendir("/sys/module/capchan"));		\
} while (0)

/* Nothing of ours alive: unload would succeed (refcount 0). */
TEST_F(unload, idle_refcount_zero)
{
	EXPECT_EQ(0, self->base);
}

/*
 * A poll thread runs module code, but holds no reference of its own: the
 * channel's fd does, and release stops the thread before letting go.
 */
TEST_F(unload, sqpoll_channel_open)
{
	struct capchan_params p;
	struct capchan ch;
	int i;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_SQPOLL;
	p.sq_thread_idle = 1;
	ASSERT_EQ(0, capchan_queue_init_params(8, &ch, &p));
	for (i = 0; i < 8; i++)
		capchan_prep_nop(capchan_get_sqe(&ch));
	ASSERT_EQ(8, capchan_submit(&ch));
	ASSERT_UNLOAD_REFUSED();
	capchan_queue_exit(&ch);
	EXPECT_EQ(self->base, cc_module_refcnt());
}

TEST_F(unload, channel_open)
{
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_UNLOAD_REFUSED();
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(self->base, cc_module_refcnt());
}

TEST_F(unload, channel_with_caps)
{
	struct capchan ch;

	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	ASSERT_LT(0, capchan_grant(&ch, self->t.jail_fd, R_ALL));
	ASSERT_UNLOAD_REFUSED();
	capchan_queue_exit(&ch);
	EXPECT_EQ(self->base, cc_module_refcnt());
}

TEST_F(unload, mapping_outlives_fd)
{
	struct capchan ch;
	void *ring;
	size_t sz;

	ASSERT_EQ(0, capchan_queue_init(8, &ch, 0));
	ring = ch.ring_ptr;
	sz = ch.ring_sz;
	ASSERT_EQ(0, close(ch.fd));
	ASSERT_UNLOAD_REFUSED();
	/* The memory is still there and ours. */
	*(volatile unsigned int *)ch.sq.ktail = 3;
	EXPECT_EQ(3, *ch.sq.ktail);
	ASSERT_EQ(0, munmap(ring, sz));
	EXPECT_EQ(self->base, cc_module_refcnt());
}

TEST_F(unload, capability_file_outlives_channel)
{
	struct capchan ch;
	int d, capfd;

	ASSERT_EQ(0, capchan_open_channel(&ch));
	d = capchan_grant(&ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, d);
	capfd = capchan_export(&ch, d, R_LOOKUP | R_READ);
	ASSERT_LE(0, capfd);
	capchan_queue_exit(&ch);
	ASSERT_UNLOAD_REFUSED();
	ASSERT_EQ(0, close(capfd));
	EXPECT_EQ(self->base, cc_module_refcnt());
}

TEST_F(unload, imported_capability)
{
	struct capchan a, b;
	int d, capfd;

	ASSERT_EQ(0, capchan_open_channel(&a));
	ASSERT_EQ(0, capchan_open_channel(&b));
	d = capchan_grant(&a, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, d);
	capfd = capchan_export(&a, d, R_LOOKUP | R_READ);
	ASSERT_LE(0, capfd);
	ASSERT_LT(0, capchan_import(&b, capfd));
	close(capfd);
	capchan_queue_exit(&a);
	ASSERT_UNLOAD_REFUSED();
	capchan_queue_exit(&b);
	EXPECT_EQ(self->base, cc_module_refcnt());
}

/* A channel fd in flight in a UNIX socket still pins the module. */
TEST_F(unload, fd_in_flight)
{
	int sv[2], fd, got;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	fd = cc_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cc_send_fd(sv[0], fd));
	close(fd);
	ASSERT_UNLOAD_REFUSED();
	got = cc_recv_fd(sv[1]);
	ASSERT_LE(0, got);
	ASSERT_UNLOAD_REFUSED();
	close(got);
	close(sv[0]);
	close(sv[1]);
	EXPECT_EQ(self->base, cc_module_refcnt());
}

/* A child holding an inherited channel keeps it; its exit releases it. */
TEST_F(unload, inherited_by_child)
{
	int fd = cc_open_dev(), pipefd[2];
	pid_t pid;
	char c;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);	/* until the parent says */
		_exit(0);
	}
	close(pipefd[0]);
	ASSERT_EQ(0, close(fd));
	ASSERT_UNLOAD_REFUSED();
	close(pipefd[1]);
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ(self->base, cc_module_refcnt());
}

/* Many of everything at once, then all released. */
TEST_F(unload, many_then_none)
{
	struct capchan ch[16];
	int capfd[16];

	for (int i = 0; i < 16; i++) {
		int d;

		ASSERT_EQ(0, capchan_queue_init(4, &ch[i], 0));
		d = capchan_grant(&ch[i], self->t.jail_fd, R_ALL);
		ASSERT_LT(0, d);
		capfd[i] = capchan_export(&ch[i], d, R_READ);
		ASSERT_LE(0, capfd[i]);
	}
	ASSERT_UNLOAD_REFUSED();
	for (int i = 0; i < 16; i++) {
		capchan_queue_exit(&ch[i]);
		close(capfd[i]);
	}
	EXPECT_EQ(self->base, cc_module_refcnt());
	EXPECT_EQ(0, cc_module_refcnt());
}

TEST_HARNESS_MAIN
