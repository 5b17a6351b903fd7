// SPDX-License-Identifier: GPL-2.0
/*
 * libcapchan's async layer on the module: 10,000 requests in flight at once
 * (from the library's point of view; the SQ takes them in batches), each
 * callback run exactly once with the right data; open->read->close chains,
 * their failures and their handles; a capability sent to a child over a
 * socketpair and revoked while the child holds it; a callback that closes
 * the channel.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define NREQS		10000
#define SQ_ENTRIES	256
#define READ_LEN	8

FIXTURE(async) {
	struct cc_tree t;
	struct capchan ch;
	struct capchan_async *q;
	uint32_t dir;
};

FIXTURE_SETUP(async)
{
	int h;

	self->q = NULL;
	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "async"));
	ASSERT_EQ(0, capchan_queue_init(SQ_ENTRIES, &self->ch, 0));
	ASSERT_EQ(CAPCHAN_FEAT_LINK | CAPCHAN_FEAT_CHAIN_HANDLE,
		  self->ch.features & (CAPCHAN_FEAT_LINK | CAPCHAN_FEAT_CHAIN_HANDLE));
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dir = h;
	ASSERT_EQ(0, capchan_async_init(&self->q, &self->ch, NREQS));
}

FIXTURE_TEARDOWN(async)
{
	capchan_async_exit(self->q);
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* Capabilities in the channel's table (fdinfo "caps"), or -1. */
static long long caps_of(int chfd)
{
	struct cc_fdinfo fi;

	if (cc_read_fdinfo(chfd, &fi))
		return -1;
	return fi.caps;
}

/* ------------------------------------------------------------------ */
/* 10,000 requests in flight                                           */
/* ------------------------------------------------------------------ */

struct many {
	const unsigned char *data;	/* the file's content */
	unsigned char buf[NREQS][READ_LEN];
	struct capchan_stat st[NREQS];
	uint8_t calls[NREQS];
	unsigned bad;			/* wrong op, result or data */
	unsigned total;
};

struct many_req {
	struct many *m;
	unsigned i;
};

static uint64_t many_off(unsigned i)
{
	return (uint64_t)(i * 7919u) % (CC_FILE_LEN - READ_LEN);
}

static void many_cb(struct capchan_async *q, const struct capchan_async_done *d)
{
	const struct many_req *r = d->data;
	struct many *m = r->m;
	unsigned i = r->i;

	(void)q;
	m->total++;
	if (m->calls[i] < 255)
		m->calls[i]++;
	if (i % 10 == 9) {
		if (d->op != CAPCHAN_ASYNC_STAT || d->res != 0 ||
		    d->buf != &m->st[i] || m->st[i].size != CC_FILE_LEN)
			m->bad++;
		return;
	}
	if (d->op != CAPCHAN_ASYNC_READ || d->res != READ_LEN ||
	    d->buf != m->buf[i] ||
	    memcmp(m->buf[i], m->data + many_off(i), READ_LEN))
		m->bad++;
}

/*
 * 10,000 READs (each at its own offset, into its own buffer) and STATs
 * submitted before the loop runs once: all outstanding at once, sent in
 * batches of at most the SQ's 256, every callback exactly once with its
 * own data.
 */
TEST_F_TIMEOUT(async, ten_thousand_in_flight, 120)
{
	struct many *m = calloc(1, sizeof(*m));
	struct many_req *reqs = calloc(NREQS, sizeof(*reqs));
	unsigned i, once = 0;
	int h;

	ASSERT_NE(NULL, m);
	ASSERT_NE(NULL, reqs);
	m->data = self->t.data;
	h = capchan_open_beneath(&self->ch, self->dir, "file", 0, 0,
				 R_READ | R_SEEK | R_STAT);
	ASSERT_LT(0, h);
	for (i = 0; i < NREQS; i++) {
		reqs[i].m = m;
		reqs[i].i = i;
		if (i % 10 == 9) {
			ASSERT_EQ(0, capchan_async_stat(self->q, h, &m->st[i],
							many_cb, &reqs[i]));
		} else {
			ASSERT_EQ(0, capchan_async_read(self->q, h, m->buf[i],
							READ_LEN, many_off(i),
							many_cb, &reqs[i]));
		}
	}
	/* the pool is exactly used up */
	EXPECT_EQ(-EAGAIN, capchan_async_close(self->q, h, many_cb, &reqs[0]));
	EXPECT_EQ(NREQS, capchan_async_pending(self->q));
	EXPECT_EQ(0, m->total);

	EXPECT_EQ(NREQS, capchan_async_run(self->q, UINT_MAX));
	EXPECT_EQ(0, capchan_async_pending(self->q));
	EXPECT_EQ(NREQS, m->total);
	EXPECT_EQ(0, m->bad);
	for (i = 0; i < NREQS; i++)
		once += m->calls[i] == 1;
	EXPECT_EQ(NREQS, once);
	/* nothing left over in the rings */
	EXPECT_EQ(0, capchan_sq_ready(&self->ch));
	EXPECT_EQ(0, capchan_cq_ready(&self->ch));
	EXPECT_EQ(0, capchan_async_run(self->q, UINT_MAX));
	EXPECT_EQ(0, capchan_close(&self->ch, h));
	free(reqs);
	free(m);
}

/* ------------------------------------------------------------------ */
/* open -> read -> close                                               */
/* ------------------------------------------------------------------ */

TEST_F(async, chain_open_read_close)
{
	struct capchan_async_future f;
	long long caps = caps_of(self->ch.fd);
	char buf[64];

	ASSERT_LT(0, caps);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir, "hello", 0,
					     buf, sizeof(buf),
					     capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(1, f.done);
	EXPECT_EQ(strlen(CC_HELLO), f.d.res);
	EXPECT_EQ(CAPCHAN_ASYNC_OPEN_READ, f.d.op);
	EXPECT_STREQ(CC_HELLO, buf);
	EXPECT_TRUE(cc_handle_ok(f.d.step[0]));
	EXPECT_EQ(strlen(CC_HELLO), f.d.step[1]);
	EXPECT_EQ(0, f.d.step[2]);
	/* CLOSE ran in the chain: the handle is gone */
	EXPECT_EQ(caps, caps_of(self->ch.fd));
	EXPECT_EQ(-EBADF, capchan_close(&self->ch, (uint32_t)f.d.step[0]));

	/* a big file: the first len bytes */
	ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir, "file", 0,
					     buf, sizeof(buf),
					     capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(sizeof(buf), f.d.res);
	EXPECT_EQ(0, memcmp(buf, self->t.data, sizeof(buf)));
	EXPECT_EQ(caps, caps_of(self->ch.fd));
}

TEST_F(async, chain_failures)
{
	struct capchan_async_future f;
	long long caps = caps_of(self->ch.fd);
	char buf[64];

	/* OPEN fails: the rest is cancelled */
	ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir, "nope", 0, buf,
					     sizeof(buf), capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(-ENOENT, f.d.res);
	EXPECT_EQ(-ENOENT, f.d.step[0]);
	EXPECT_EQ(-ECANCELED, f.d.step[1]);
	EXPECT_EQ(-ECANCELED, f.d.step[2]);

	/* beneath means beneath, in a chain too */
	ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir, "../secret", 0,
					     buf, sizeof(buf),
					     capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(-EXDEV, f.d.res);

	/*
	 * READ fails (a directory): the module cancels CLOSE, the library
	 * drops the handle, and the table is as before.
	 */
	ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir, "sub", 0, buf,
					     sizeof(buf), capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(-EISDIR, f.d.res);
	EXPECT_TRUE(cc_handle_ok(f.d.step[0]));
	EXPECT_EQ(-EISDIR, f.d.step[1]);
	EXPECT_EQ(-ECANCELED, f.d.step[2]);
	EXPECT_EQ(caps, caps_of(self->ch.fd));
	EXPECT_EQ(-EBADF, capchan_close(&self->ch, (uint32_t)f.d.step[0]));
}

#define NCHAINS		500

struct chains {
	char buf[NCHAINS][32];
	uint8_t calls[NCHAINS];
	unsigned bad;
};

struct chain_req {
	struct chains *c;
	unsigned i;
};

static void chain_cb(struct capchan_async *q, const struct capchan_async_done *d)
{
	const struct chain_req *r = d->data;
	struct chains *c = r->c;
	/* even: "hello", odd: "sub/inner" */
	const char *want = r->i & 1 ? "inner\n" : CC_HELLO;

	(void)q;
	c->calls[r->i]++;
	if (d->op != CAPCHAN_ASYNC_OPEN_READ || d->res != (int64_t)strlen(want) ||
	    d->step[2] != 0 || memcmp(c->buf[r->i], want, strlen(want)))
		c->bad++;
}

/*
 * 500 chains (1,500 SQEs, the SQ holds 256) at once: chains never mix,
 * even when the module ends an ENTER half way through one after closing
 * files; every chain reads its own file and closes its handle.
 */
TEST_F_TIMEOUT(async, many_chains, 120)
{
	struct chains *c = calloc(1, sizeof(*c));
	struct chain_req *reqs = calloc(NCHAINS, sizeof(*reqs));
	long long caps = caps_of(self->ch.fd);
	unsigned i, once = 0;

	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, reqs);
	for (i = 0; i < NCHAINS; i++) {
		reqs[i].c = c;
		reqs[i].i = i;
		ASSERT_EQ(0, capchan_async_open_read(self->q, self->dir,
						     i & 1 ? "sub/inner" : "hello",
						     0, c->buf[i], sizeof(c->buf[i]),
						     chain_cb, &reqs[i]));
	}
	EXPECT_EQ(NCHAINS, capchan_async_run(self->q, UINT_MAX));
	EXPECT_EQ(0, c->bad);
	for (i = 0; i < NCHAINS; i++)
		once += c->calls[i] == 1;
	EXPECT_EQ(NCHAINS, once);
	EXPECT_EQ(caps, caps_of(self->ch.fd));
	free(reqs);
	free(c);
}

/* READ_TO_END through a future: the buffer comes back, the caller's. */
TEST_F(async, read_to_end_future)
{
	struct capchan_async_future f;
	int h = capchan_open_beneath(&self->ch, self->dir, "file", 0, 0, R_READ);

	ASSERT_LT(0, h);
	ASSERT_EQ(0, capchan_async_read_to_end(self->q, h, NULL, 0,
					       capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(CC_FILE_LEN, f.d.res);
	EXPECT_EQ(CC_FILE_LEN, f.d.len);
	ASSERT_NE(NULL, f.d.buf);
	EXPECT_EQ(0, memcmp(f.d.buf, self->t.data, CC_FILE_LEN));
	EXPECT_EQ(0, ((char *)f.d.buf)[CC_FILE_LEN]);
	free(f.d.buf);
	/* at end of file now: an empty string */
	ASSERT_EQ(0, capchan_async_read_to_end(self->q, h, NULL, 0,
					       capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(0, f.d.res);
	EXPECT_STREQ("", f.d.buf);
	free(f.d.buf);
	/* no READ right */
	EXPECT_EQ(0, capchan_async_read_to_end(self->q, self->dir, NULL, 0,
					       capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(-EISDIR, f.d.res);
	free(f.d.buf);
	EXPECT_EQ(0, capchan_close(&self->ch, h));
}

/* ------------------------------------------------------------------ */
/* A capability to another process, and back                          */
/* ------------------------------------------------------------------ */

/* In the child: one request through a future, its result. */
static int64_t child_wait(struct capchan_async *q, struct capchan_async_future *f,
			  int ret)
{
	if (ret)
		return ret;
	if (capchan_async_wait(q, f))
		return -10000;
	return f->d.res;
}

/*
 * The child, with a channel and a queue of its own: receive the
 * capability, read through it, report; wait; read again: -EKEYREVOKED.
 * Exit status: 0, or which step went wrong.
 */
static int child_main(int sock, int sync)
{
	struct capchan_async_future f;
	struct capchan_async *q;
	struct capchan ch;
	char buf[64];
	int64_t h, res;
	uint32_t go;

	if (capchan_queue_init(8, &ch, 0))
		return 10;
	if (capchan_async_init(&q, &ch, 0))
		return 11;
	h = child_wait(q, &f, capchan_async_recv_cap(q, sock, capchan_async_future_cb, &f));
	if (!cc_handle_ok(h))
		return 12;
	memset(buf, 0, sizeof(buf));
	res = child_wait(q, &f, capchan_async_read(q, (uint32_t)h, buf, sizeof(buf), 0,
						   capchan_async_future_cb, &f));
	if (res != (int64_t)strlen(CC_HELLO) || strcmp(buf, CC_HELLO))
		return 13;
	/* the rights came as sent: READ and SEEK only */
	res = child_wait(q, &f, capchan_async_derive(q, (uint32_t)h, R_READ,
						     capchan_async_future_cb, &f));
	if (res != -EPERM)
		return 14;
	if (cc_send_u32(sync, 1) || cc_recv_u32(sync, &go) || go != 2)
		return 15;
	/* the parent revoked it meanwhile */
	res = child_wait(q, &f, capchan_async_read(q, (uint32_t)h, buf, sizeof(buf), 0,
						   capchan_async_future_cb, &f));
	if (res != -EKEYREVOKED)
		return 16;
	/* a revoked handle can still be closed */
	res = child_wait(q, &f, capchan_async_close(q, (uint32_t)h,
						   capchan_async_future_cb, &f));
	if (res != 0)
		return 17;
	capchan_async_exit(q);
	capchan_queue_exit(&ch);
	return 0;
}

TEST_F_TIMEOUT(async, send_recv_revoke_across_fork, 60)
{
	struct capchan_async_future f;
	int sv[2], sy[2], h, status;
	char buf[64];
	uint32_t ready;
	pid_t pid;

	h = capchan_open_beneath(&self->ch, self->dir, "hello", 0, 0,
				 R_READ | R_SEEK | R_DELEGATE | R_REVOKE);
	ASSERT_LT(0, h);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sy));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		close(sy[0]);
		_exit(child_main(sv[1], sy[1]));
	}
	close(sv[1]);
	close(sy[1]);

	ASSERT_EQ(0, capchan_async_send_cap(self->q, sv[0], h, R_READ | R_SEEK,
					    capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(0, f.d.res);
	EXPECT_EQ(CAPCHAN_ASYNC_SEND_CAP, f.d.op);

	ready = 0;
	EXPECT_EQ(0, cc_recv_u32(sy[0], &ready));
	EXPECT_EQ(1, ready);
	/* take it back: exactly the exported child is revoked */
	ASSERT_EQ(0, capchan_async_revoke(self->q, h, capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(1, f.d.res);
	EXPECT_EQ(0, cc_send_u32(sy[0], 2));
	status = cc_wait_child(pid);
	EXPECT_EQ(0, status);

	/* ours is still good */
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, capchan_async_read(self->q, h, buf, sizeof(buf), 0,
					capchan_async_future_cb, &f));
	ASSERT_EQ(0, capchan_async_wait(self->q, &f));
	EXPECT_EQ(strlen(CC_HELLO), f.d.res);
	EXPECT_STREQ(CC_HELLO, buf);
	close(sv[0]);
	close(sy[0]);
}

/* ------------------------------------------------------------------ */
/* A callback closes the channel                                       */
/* ------------------------------------------------------------------ */

struct closer {
	struct capchan *ch;
	unsigned calls[4];
	int64_t res[4];
	unsigned n;
};

static struct closer *closer;

static void closer_cb(struct capchan_async *q, const struct capchan_async_done *d)
{
	unsigned i = (unsigned)(uintptr_t)d->data;

	(void)q;
	closer->calls[i]++;
	closer->res[i] = d->res;
	if (closer->n++ == 0)
		capchan_queue_exit(closer->ch);	/* rings unmapped, fd closed */
}

TEST_F(async, callback_closes_channel)
{
	struct closer c;
	struct capchan_stat st;
	unsigned i;

	memset(&c, 0, sizeof(c));
	c.ch = &self->ch;
	closer = &c;
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, capchan_async_stat(self->q, self->dir, &st, closer_cb,
						(void *)(uintptr_t)i));
	EXPECT_EQ(-EBADF, capchan_async_run(self->q, UINT_MAX));
	EXPECT_EQ(-1, self->ch.fd);
	EXPECT_EQ(1, c.calls[0]);
	EXPECT_EQ(0, c.res[0]);
	for (i = 1; i < 4; i++) {
		EXPECT_EQ(1, c.calls[i]);
		EXPECT_EQ(-ECANCELED, c.res[i]);
	}
	EXPECT_EQ(0, capchan_async_pending(self->q));
	EXPECT_EQ(-EBADF, capchan_async_stat(self->q, self->dir, &st, closer_cb,
					     (void *)(uintptr_t)0));
	EXPECT_EQ(-EBADF, capchan_async_run(self->q, 1));
	EXPECT_EQ(4, c.n);
}

TEST_HARNESS_MAIN
