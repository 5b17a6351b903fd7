// SPDX-License-Identifier: GPL-2.0
/*
 * Sharing and concurrency: a channel shared across fork (the child uses the
 * parent's channel and rings; opens run with the creator's credentials),
 * many threads invoking on one channel, threads each on their own channel,
 * many processes on one channel.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <grp.h>

FIXTURE(fork) {
	struct cc_tree t;
	struct capchan ch;
	uint32_t dh, fh;
};

FIXTURE_SETUP(fork)
{
	int h;

	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "fork"));
	ASSERT_EQ(0, capchan_queue_init(32, &self->ch, 0));
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0,
				 R_READ | R_SEEK | R_STAT | R_DERIVE);
	ASSERT_LT(0, h);
	self->fh = h;
}

FIXTURE_TEARDOWN(fork)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* The child's handles live in the parent's table (one channel). */
TEST_F(fork, child_uses_parent_channel)
{
	int pipefd[2];
	uint32_t h;
	char buf[64];
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b[64];
		int hh;

		close(pipefd[0]);
		/* the fixture's handles work in the child */
		if (capchan_read(&self->ch, self->fh, b, 16, 0) != 16 ||
		    memcmp(b, self->t.data, 16))
			_exit(10);
		hh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0,
					  R_READ | R_SEEK);
		if (hh <= 0)
			_exit(11);
		if (cc_send_u32(pipefd[1], hh))
			_exit(12);
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(0, cc_recv_u32(pipefd[0], &h));
	close(pipefd[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
	/* The child is gone; what it opened is still in our channel. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(strlen(CC_HELLO), capchan_read(&self->ch, h, buf, 64, 0));
	EXPECT_STREQ(CC_HELLO, buf);
	EXPECT_EQ(0, capchan_close(&self->ch, h));
}

/* Root's channel, used by a child that became nobody: root's credentials. */
TEST_F(fork, creator_credentials_in_child)
{
	int res[4];
	int pipefd[2];
	struct stat sb;
	pid_t pid;

	ASSERT_EQ(0, cc_put_file(self->t.jail_fd, "secret600", "root only\n",
				 10, 0600));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char b[32];
		int h;

		close(pipefd[0]);
		if (setgroups(0, NULL) || setgid(CC_GID_NOGROUP) ||
		    setuid(CC_UID_NOBODY))
			_exit(10);
		/* control: the child itself may not open it */
		res[0] = openat(self->t.jail_fd, "secret600", O_RDONLY) < 0 ?
			 -errno : 0;
		/* through root's channel it may */
		h = capchan_open_beneath(&self->ch, self->dh, "secret600", 0, 0,
					 R_READ | R_SEEK);
		res[1] = h;
		res[2] = h > 0 ? (int)capchan_read(&self->ch, h, b, sizeof(b), 0)
			       : h;
		/* and files it creates belong to root */
		h = capchan_open_beneath(&self->ch, self->dh, "by_child",
					 O_CREAT | O_EXCL, 0600, R_WRITE);
		res[3] = h > 0 ? 0 : h;
		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(11);
		_exit(0);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(res), read(pipefd[0], res, sizeof(res)));
	close(pipefd[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
	EXPECT_EQ(-EACCES, res[0]);
	EXPECT_LT(0, res[1]);
	EXPECT_EQ(10, res[2]);
	EXPECT_EQ(0, res[3]);
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "by_child", &sb, 0));
	EXPECT_EQ(0, sb.st_uid);
	EXPECT_EQ(0, sb.st_gid);
}

/* The child submits through the inherited mapping; the parent reaps. */
TEST_F(fork, child_submits_parent_reaps)
{
	struct capchan_cqe c;
	char *buf;
	pid_t pid;
	int n = 0;

	buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct capchan_sqe s;

		for (int i = 0; i < 8; i++) {
			capchan_prep_read(&s, self->fh, buf + i * 100, 100,
					  (uint64_t)i * 100);
			s.user_data = 500 + i;
			cc_sq_push(&self->ch, &s);
		}
		_exit(cc_enter(self->ch.fd, 8, 0, 0) == 8 ? 0 : 10);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	while (cc_cq_pop(&self->ch, &c) == 0) {
		EXPECT_EQ(500 + n, c.user_data);
		EXPECT_EQ(100, c.res);
		n++;
	}
	EXPECT_EQ(8, n);
	/* The child's buffer was in memory it shares with us. */
	EXPECT_EQ(0, memcmp(buf, self->t.data, 800));
	munmap(buf, 4096);
}

/* A child closing its copy of the fd and mapping does not affect us. */
TEST_F(fork, child_close_is_local)
{
	struct capchan_sqe s;
	struct capchan_cqe c;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		capchan_queue_exit(&self->ch);
		_exit(0);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	capchan_prep_nop(&s);
	s.user_data = 9;
	cc_sq_push(&self->ch, &s);
	EXPECT_EQ(1, cc_enter(self->ch.fd, 1, 1, CAPCHAN_ENTER_GETEVENTS));
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &c));
	EXPECT_EQ(9, c.user_data);
	EXPECT_EQ(16, capchan_read(&self->ch, self->fh, (char[16]){0}, 16, 0));
}

/* ------------------------------------------------------------------ */
/* Threads on one channel (INVOKE)                                     */
/* ------------------------------------------------------------------ */

struct worker {
	FIXTURE_DATA(fork) *self;
	int id, iters;
	unsigned long ok, bad;
	int last_bad, last_step;
};

static void worker_bad(struct worker *w, int step, long r)
{
	w->bad++;
	w->last_bad = (int)r;
	w->last_step = step;
}

static void *invoke_worker(void *arg)
{
	struct worker *w = arg;
	struct capchan *ch = &w->self->ch;
	unsigned char b[64];
	struct capchan_stat st;

	for (int i = 0; i < w->iters; i++) {
		uint64_t off = ((uint64_t)(w->id * 977 + i * 131)) % (CC_FILE_LEN - 64);
		int h = capchan_derive(ch, w->self->fh, R_READ | R_SEEK | R_STAT);
		ssize_t n;
		int r;

		if (h <= 0) {
			worker_bad(w, 1, h);
			continue;
		}
		n = capchan_read(ch, h, b, 64, off);
		if (n != 64 || memcmp(b, w->self->t.data + off, 64))
			worker_bad(w, 2, n);
		r = capchan_stat(ch, h, &st);
		if (r || st.size != CC_FILE_LEN || st.rights != (R_READ | R_SEEK | R_STAT))
			worker_bad(w, 3, r);
		/* open + read + close beneath the shared DIR */
		r = capchan_open_beneath(ch, w->self->dh, "sub/inner", 0, 0,
					 R_READ | R_SEEK);
		if (r <= 0) {
			worker_bad(w, 4, r);
		} else {
			n = capchan_read(ch, r, b, 64, 0);
			if (n != 6 || memcmp(b, "inner\n", 6))
				worker_bad(w, 5, n);
			if (capchan_close(ch, r))
				worker_bad(w, 6, -1);
		}
		r = capchan_close(ch, h);
		if (r)
			worker_bad(w, 7, r);
		else
			w->ok++;
	}
	return NULL;
}

TEST_F_TIMEOUT(fork, threads_invoke_one_channel, 300)
{
	enum { NT = 8 };
	struct worker w[NT];
	pthread_t th[NT];
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){ .self = self, .id = i, .iters = 500 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, invoke_worker, &w[i]));
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].bad) TH_LOG("thread %d step %d: %d", i,
					      w[i].last_step, w[i].last_bad);
		EXPECT_EQ(500, w[i].ok);
	}
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	free(fi);
}

/* Processes sharing one channel, concurrently. */
TEST_F_TIMEOUT(fork, processes_invoke_one_channel, 300)
{
	enum { NP = 4 };
	pid_t pid[NP];
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	for (int i = 0; i < NP; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			struct worker w = { .self = self, .id = i, .iters = 300 };

			invoke_worker(&w);
			_exit(w.bad ? 10 + (w.last_step & 0x3f) : 0);
		}
	}
	for (int i = 0; i < NP; i++) {
		EXPECT_EQ(0, cc_wait_child(pid[i])) TH_LOG("child %d", i);
	}
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);
	free(fi);
}

/* ------------------------------------------------------------------ */
/* Threads, each with its own channel and rings                        */
/* ------------------------------------------------------------------ */

struct ring_worker {
	int jail_fd, id, rounds;
	const unsigned char *data;
	unsigned long cqes, bad;
	int last_bad;
};

static void rw_bad(struct ring_worker *w, int r)
{
	w->bad++;
	w->last_bad = r;
}

static void *ring_worker_fn(void *arg)
{
	struct ring_worker *w = arg;
	struct capchan ch;
	char buf[64];
	int d, f;

	if (capchan_queue_init(16, &ch, 0)) {
		rw_bad(w, -1);
		return NULL;
	}
	d = capchan_grant(&ch, w->jail_fd, R_LOOKUP | R_READ | R_SEEK);
	if (d <= 0) {
		rw_bad(w, d);
		capchan_queue_exit(&ch);
		return NULL;
	}
	f = capchan_open_beneath(&ch, d, "file", 0, 0, R_READ | R_SEEK);
	for (int r = 0; r < w->rounds; r++) {
		struct capchan_sqe *s;
		struct capchan_cqe *cqe;
		uint64_t off = (uint64_t)(r * 61 + w->id * 7) % (CC_FILE_LEN - 32);
		char fbuf[32];
		int n = 0;

		memset(buf, 0, sizeof(buf));
		s = capchan_get_sqe(&ch);
		capchan_prep_open(s, d, "hello", 0, 0, R_READ);
		capchan_sqe_set_flags(s, CAPCHAN_SQE_LINK);
		capchan_sqe_set_data64(s, 0);
		s = capchan_get_sqe(&ch);
		capchan_prep_read(s, CAPCHAN_HANDLE_CHAIN, buf, sizeof(buf),
				  CAPCHAN_OFF_CURRENT);
		capchan_sqe_set_flags(s, CAPCHAN_SQE_LINK);
		capchan_sqe_set_data64(s, 1);
		s = capchan_get_sqe(&ch);
		capchan_prep_close(s, CAPCHAN_HANDLE_CHAIN);
		capchan_sqe_set_data64(s, 2);
		s = capchan_get_sqe(&ch);
		capchan_prep_read(s, f, fbuf, sizeof(fbuf), off);
		capchan_sqe_set_data64(s, 3);
		for (int k = 4; k < 8; k++) {
			s = capchan_get_sqe(&ch);
			capchan_prep_nop(s);
			capchan_sqe_set_data64(s, k);
		}
		if (capchan_submit_and_wait(&ch, 8) != 8) {
			rw_bad(w, -2);
			break;
		}
		while (capchan_peek_cqe(&ch, &cqe) == 0) {
			int want_ok;

			switch (cqe->user_data) {
			case 0: want_ok = cqe->res > 0; break;
			case 1: want_ok = cqe->res == (int)strlen(CC_HELLO) &&
					  !strcmp(buf, CC_HELLO); break;
			case 3: want_ok = cqe->res == sizeof(fbuf) &&
					  !memcmp(fbuf, w->data + off, sizeof(fbuf));
				break;
			default: want_ok = cqe->res == 0; break;
			}
			if (!want_ok || cqe->user_data != (uint64_t)n)
				rw_bad(w, cqe->res);
			n++;
			w->cqes++;
			capchan_cqe_seen(&ch, cqe);
		}
		if (n != 8)
			rw_bad(w, -3);
	}
	capchan_queue_exit(&ch);
	return NULL;
}

TEST_F_TIMEOUT(fork, threads_separate_channels, 300)
{
	enum { NT = 4, ROUNDS = 300 };
	struct ring_worker w[NT];
	pthread_t th[NT];

	for (int i = 0; i < NT; i++) {
		w[i] = (struct ring_worker){ .jail_fd = self->t.jail_fd, .id = i,
					     .rounds = ROUNDS,
					     .data = self->t.data };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, ring_worker_fn, &w[i]));
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].bad) TH_LOG("thread %d last %d", i, w[i].last_bad);
		EXPECT_EQ(8UL * ROUNDS, w[i].cqes);
	}
}

/* One thread waits in GETEVENTS while others INVOKE on the same channel. */
static void *getevents_waiter(void *arg)
{
	FIXTURE_DATA(fork) *self = arg;

	return (void *)(intptr_t)cc_enter(self->ch.fd, 0, 1,
					  CAPCHAN_ENTER_GETEVENTS);
}

TEST_F_TIMEOUT(fork, invoke_while_waiting, 60)
{
	struct capchan_sqe s;
	struct capchan_cqe c;
	pthread_t th;
	void *ret;
	char b[8];

	ASSERT_EQ(0, pthread_create(&th, NULL, getevents_waiter, self));
	usleep(200 * 1000);
	/* The waiter must not block INVOKE, nor ENTER from another thread. */
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(8, capchan_read(&self->ch, self->fh, b, 8, 0));
	capchan_prep_nop(&s);
	s.user_data = 31;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	pthread_join(th, &ret);
	EXPECT_EQ(0, (int)(intptr_t)ret);
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &c));
	EXPECT_EQ(31, c.user_data);
}

TEST_HARNESS_MAIN
