// SPDX-License-Identifier: GPL-2.0
/*
 * What a REVOKE lets go of, and what it does not hold up.
 *
 * A revoked capability drops its object (its open file) as soon as its
 * last running op is done, not when its last handle is closed: a file
 * system holding only revoked capabilities can be unmounted, and the space
 * of a deleted file comes back.  Each derivation tree has its own lock: a
 * long REVOKE does not stall ops on another tree.
 */
#include <sys/statvfs.h>

#include "capchan_test_util.h"
#include "kselftest_harness.h"

/* READ through REVOKE: every right the ops tested here need */
#define R_CORE	(R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC | R_MMAP | \
		 R_LOOKUP | R_CREATE | R_DERIVE | R_DELEGATE | R_REVOKE)

FIXTURE(rel) {
	char base[PATH_MAX];
	char m[PATH_MAX + 8];	/* a tmpfs of our own */
	bool mounted;
	int mfd;
	struct capchan ch;
};

FIXTURE_SETUP(rel)
{
	self->ch.fd = -1;
	self->mfd = -1;
	ASSERT_EQ(0, cc_mkdtemp(self->base, "release"));
	snprintf(self->m, sizeof(self->m), "%s/m", self->base);
	ASSERT_EQ(0, mkdir(self->m, 0755));
	ASSERT_EQ(0, mount("tmpfs", self->m, "tmpfs", MS_NOSUID | MS_NODEV,
			   "size=64m,mode=0755"));
	self->mounted = true;
	self->mfd = open(self->m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(0, capchan_open_channel(&self->ch));
}

FIXTURE_TEARDOWN(rel)
{
	capchan_queue_exit(&self->ch);
	if (self->mfd >= 0)
		close(self->mfd);
	if (self->mounted)
		umount2(self->m, MNT_DETACH);
	cc_rm_rf(self->base);
}

/* Free blocks of the tmpfs; -1 on error. */
static long long free_blocks(const char *path)
{
	struct statvfs sv;

	return statvfs(path, &sv) ? -1 : (long long)sv.f_bfree;
}

/* Wait up to 3 s for the free blocks to be back at @want; the last value. */
static long long wait_free_blocks(const char *path, long long want)
{
	long long now = free_blocks(path);

	for (int i = 0; i < 300 && now != want; i++) {
		usleep(10 * 1000);
		now = free_blocks(path);
	}
	return now;
}

static int write_big(int dirfd, const char *name, size_t size)
{
	size_t chunk = 1 << 20;
	unsigned char *buf = malloc(chunk);
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (size_t done = 0; done < size && !err; done += chunk) {
		cc_fill_pattern(buf, chunk, (unsigned int)(done / chunk));
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			err = -EIO;
	}
	close(fd);
	free(buf);
	return err;
}

/*
 * R = GRANT of the tmpfs root, C derived from R, F opened beneath C, C
 * exported to a capability file that stays open.  REVOKE R revokes C, F
 * and the exported capability; once R's handle is closed too, nothing but
 * revoked capabilities refers to the tmpfs, so it unmounts (it used to stay
 * busy until every revoked handle was closed), with F's handle still open.
 */
TEST_F(rel, revoked_capabilities_do_not_pin_a_mount)
{
	int R, C, F, capfd, err;
	char b[8];

	ASSERT_EQ(0, cc_put_str(self->mfd, "f", "data\n"));
	R = capchan_grant(&self->ch, self->mfd, R_CORE);
	ASSERT_LT(0, R);
	close(self->mfd);
	self->mfd = -1;
	C = capchan_derive(&self->ch, R, R_CORE);
	ASSERT_LT(0, C);
	F = capchan_open_beneath(&self->ch, C, "f", 0, 0, R_READ | R_STAT);
	ASSERT_LT(0, F);
	capfd = capchan_export(&self->ch, C, R_LOOKUP | R_READ);
	ASSERT_LE(0, capfd);
	EXPECT_EQ(1, capchan_read(&self->ch, F, b, 1, CAPCHAN_OFF_CURRENT));

	EXPECT_EQ(3, capchan_revoke(&self->ch, R));
	EXPECT_EQ(0, capchan_close(&self->ch, R));
	err = umount2(self->m, 0) ? errno : 0;
	EXPECT_EQ(0, err) TH_LOG("umount: %s", strerror(err));
	if (!err)
		self->mounted = false;
	/* the handles are still there, revoked */
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, F, b, 1,
					     CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(-EKEYREVOKED, capchan_import(&self->ch, capfd));
	EXPECT_EQ(0, capchan_close(&self->ch, F));
	EXPECT_EQ(0, capchan_close(&self->ch, C));
	close(capfd);
}

/*
 * A 16 MiB file opened beneath a derived capability, REVOKE above it, the
 * file unlinked: its space comes back while F's handle is still open (it
 * used to come back only when the handle was closed).
 */
TEST_F(rel, revoked_file_space_is_freed)
{
	const size_t size = 16 << 20;
	long long base_free, full_free, now;
	int R, D, F;
	char b[8];

	base_free = free_blocks(self->m);
	ASSERT_LT(0, base_free);
	ASSERT_EQ(0, write_big(self->mfd, "big", size));
	full_free = free_blocks(self->m);
	ASSERT_LE(full_free + (long long)(size / 4096), base_free);

	R = capchan_grant(&self->ch, self->mfd, R_CORE);
	ASSERT_LT(0, R);
	D = capchan_derive(&self->ch, R, R_CORE);
	ASSERT_LT(0, D);
	F = capchan_open_beneath(&self->ch, D, "big", 0, 0, R_READ | R_SEEK);
	ASSERT_LT(0, F);
	EXPECT_EQ(8, capchan_read(&self->ch, F, b, 8, size - 8));

	EXPECT_EQ(2, capchan_revoke(&self->ch, R));
	ASSERT_EQ(0, unlinkat(self->mfd, "big", 0));
	now = wait_free_blocks(self->m, base_free);
	EXPECT_EQ(base_free, now) TH_LOG("%lld blocks still held",
					 base_free - now);
	EXPECT_EQ(-EKEYREVOKED, capchan_read(&self->ch, F, b, 8, 0));
	EXPECT_EQ(0, capchan_close(&self->ch, F));
	EXPECT_EQ(base_free, free_blocks(self->m));
}

/* READ in a loop from its own channel, noting what came back when. */
struct reader {
	struct capchan ch;
	uint32_t h;
	const unsigned char *data;
	size_t size;
	atomic_int *revoke_done;
	atomic_int stop;
	atomic_ulong ok, revoked;
	unsigned long after_ok, bad_data, other;
	long last_other;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[4096];
	unsigned long i = 0;

	while (!atomic_load(&r->stop)) {
		int done_before = atomic_load(r->revoke_done);
		size_t off = (i++ * 7 * sizeof(buf)) % r->size;
		ssize_t n = capchan_read(&r->ch, r->h, buf, sizeof(buf), off);

		if (n == (ssize_t)sizeof(buf)) {
			atomic_fetch_add(&r->ok, 1);
			if (done_before)
				r->after_ok++;	/* began after REVOKE returned */
			if (memcmp(buf, r->data + off, sizeof(buf)))
				r->bad_data++;
		} else if (n == -EKEYREVOKED) {
			atomic_fetch_add(&r->revoked, 1);
		} else {
			r->other++;
			r->last_other = n;
		}
	}
	return NULL;
}

/*
 * Reads in flight on other channels while the capability is revoked: each
 * READ returns the right bytes or -EKEYREVOKED, none that began after
 * REVOKE returned succeeds, and the file is let go as soon as the last
 * read in flight finishes: its space comes back with every handle open.
 */
TEST_F_TIMEOUT(rel, revoke_under_concurrent_reads, 90)
{
	enum { NR = 3 };
	const size_t size = 4 << 20;
	struct reader *r = calloc(NR, sizeof(*r));
	unsigned char *data = malloc(size);
	long long base_free, now;
	atomic_int done = 0;
	pthread_t th[NR];
	int R, D, F, capfd, fd;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, data);
	base_free = free_blocks(self->m);
	for (size_t off = 0; off < size; off += 1 << 20)
		cc_fill_pattern(data + off, 1 << 20, (unsigned int)(off >> 20));
	ASSERT_EQ(0, write_big(self->mfd, "data", size));

	R = capchan_grant(&self->ch, self->mfd, R_CORE);
	ASSERT_LT(0, R);
	D = capchan_derive(&self->ch, R, R_CORE);
	ASSERT_LT(0, D);
	F = capchan_open_beneath(&self->ch, D, "data", 0, 0,
				 R_READ | R_SEEK | R_DELEGATE);
	ASSERT_LT(0, F);
	capfd = capchan_export(&self->ch, F, R_READ | R_SEEK);
	ASSERT_LE(0, capfd);
	ASSERT_EQ(0, unlinkat(self->mfd, "data", 0));
	for (int i = 0; i < NR; i++) {
		ASSERT_EQ(0, capchan_open_channel(&r[i].ch));
		fd = capchan_import(&r[i].ch, capfd);
		ASSERT_LT(0, fd);
		r[i].h = fd;
		r[i].data = data;
		r[i].size = size;
		r[i].revoke_done = &done;
	}
	close(capfd);
	for (int i = 0; i < NR; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, read_loop, &r[i]));
	for (int spin = 0; spin < 5000; spin++) {
		unsigned long min = ~0UL;

		for (int i = 0; i < NR; i++)
			if (atomic_load(&r[i].ok) < min)
				min = atomic_load(&r[i].ok);
		if (min >= 20)
			break;
		usleep(1000);
	}

	/* F and the exported capability the readers share */
	EXPECT_EQ(2, capchan_revoke(&self->ch, D));
	atomic_store(&done, 1);
	for (int spin = 0; spin < 5000; spin++) {
		unsigned long min = ~0UL;

		for (int i = 0; i < NR; i++)
			if (atomic_load(&r[i].revoked) < min)
				min = atomic_load(&r[i].revoked);
		if (min >= 10)
			break;
		usleep(1000);
	}
	for (int i = 0; i < NR; i++) {
		atomic_store(&r[i].stop, 1);
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < NR; i++) {
		EXPECT_LT(0, atomic_load(&r[i].ok)) TH_LOG("reader %d", i);
		EXPECT_LT(0, atomic_load(&r[i].revoked)) TH_LOG("reader %d", i);
		EXPECT_EQ(0, r[i].after_ok) TH_LOG("reader %d", i);
		EXPECT_EQ(0, r[i].bad_data) TH_LOG("reader %d", i);
		EXPECT_EQ(0, r[i].other) TH_LOG("reader %d: %ld", i,
						 r[i].last_other);
	}
	/* the last reader out closed the file: the space is back */
	now = wait_free_blocks(self->m, base_free);
	EXPECT_EQ(base_free, now) TH_LOG("%lld blocks still held",
					 base_free - now);
	for (int i = 0; i < NR; i++) {
		EXPECT_EQ(0, capchan_close(&r[i].ch, r[i].h));
		capchan_queue_exit(&r[i].ch);
	}
	EXPECT_EQ(0, capchan_close(&self->ch, F));
	free(data);
	free(r);
}

/* ------------------------------------------------------------------ */
/* One lock per tree                                                   */
/* ------------------------------------------------------------------ */

/* DERIVE + CLOSE on another tree, in another channel, counting. */
struct churn {
	struct capchan *ch;
	uint32_t root;
	atomic_int *started, *finished;	/* the revoker's flags */
	atomic_ulong done;		/* DERIVE + CLOSE pairs completed */
	atomic_int stop;
	unsigned long inside;		/* began after started, ended before finished */
	long bad;
};

static void *churn_loop(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		int s = atomic_load(c->started);
		int h = capchan_derive(c->ch, c->root, R_STAT);

		if (h <= 0) {
			c->bad = h ? h : -1;
			break;
		}
		if (capchan_close(c->ch, h)) {
			c->bad = -1000;
			break;
		}
		if (s && !atomic_load(c->finished))
			c->inside++;
		atomic_fetch_add(&c->done, 1);
	}
	return NULL;
}

struct revoker {
	struct capchan *ch;
	uint32_t h;
	atomic_int started, finished;
	long res;
	double secs;
};

static void *revoke_fn(void *arg)
{
	struct revoker *r = arg;
	double t0;

	atomic_store(&r->started, 1);
	t0 = cc_now();
	r->res = capchan_revoke(r->ch, r->h);
	r->secs = cc_now() - t0;
	atomic_store(&r->finished, 1);
	return NULL;
}

static bool is_revoked(struct capchan *ch, uint32_t h)
{
	struct capchan_stat st;

	return capchan_stat(ch, h, &st) == -EKEYREVOKED;
}

/* What one round saw. */
struct round {
	long res;		/* what REVOKE returned */
	double secs;		/* how long the REVOKE call took */
	double watched;		/* how long it was seen under way */
	double per_pair;	/* one DERIVE + CLOSE pair, nothing else going on */
	long in_window;		/* pairs begun and done while it was seen under way */
	unsigned long flagged;	/* pairs between the REVOKE call's flags */
	long bad;
};

/*
 * Export R, import the export into @nch channels, DERIVE PER in each, then
 * REVOKE R in one thread while the churn thread works on R2 and this one
 * watches.
 */
#define PER	4000

static void revoke_round(struct __test_metadata *_metadata,
			 struct capchan *a, uint32_t R, struct capchan *b,
			 uint32_t R2, int nch, struct round *out)
{
	struct capchan *chans = calloc(nch, sizeof(*chans));
	uint32_t first = 0, last = 0;
	unsigned long n1 = 0, n2 = 0, d0;
	double t0, t1 = 0, t2 = 0;
	struct revoker rv;
	struct churn c;
	pthread_t cth, rth;
	int capfd;

	memset(out, 0, sizeof(*out));
	ASSERT_NE(NULL, chans);
	capfd = capchan_export(a, R, R_STAT | R_DERIVE);
	ASSERT_LE(0, capfd);
	for (int i = 0; i < nch; i++) {
		int e, h;

		ASSERT_EQ(0, capchan_open_channel(&chans[i]));
		e = capchan_import(&chans[i], capfd);
		ASSERT_LT(0, e);
		for (int k = 0; k < PER; k++) {
			h = capchan_derive(&chans[i], e, R_STAT);
			ASSERT_LT(0, h) TH_LOG("channel %d derive %d", i, k);
			if (i == 0 && k == 0)
				first = h;
			last = h;
		}
	}
	close(capfd);

	memset(&rv, 0, sizeof(rv));
	rv.ch = a;
	rv.h = R;
	memset(&c, 0, sizeof(c));
	c.ch = b;
	c.root = R2;
	c.started = &rv.started;
	c.finished = &rv.finished;
	ASSERT_EQ(0, pthread_create(&cth, NULL, churn_loop, &c));
	/* how long a pair takes when nothing else is going on */
	for (int i = 0; i < 5000 && atomic_load(&c.done) < 20; i++)
		usleep(1000);
	d0 = atomic_load(&c.done);
	t0 = cc_now();
	while (atomic_load(&c.done) < d0 + 200 && cc_now() - t0 < 2)
		usleep(1000);
	out->per_pair = (cc_now() - t0) / (double)(atomic_load(&c.done) - d0 + 1);

	ASSERT_EQ(0, pthread_create(&rth, NULL, revoke_fn, &rv));
	while (!atomic_load(&rv.finished) && !is_revoked(&chans[0], first))
		;
	if (is_revoked(&chans[0], first) && !is_revoked(&chans[nch - 1], last)) {
		n1 = atomic_load(&c.done);
		t1 = cc_now();
		n2 = n1;
		t2 = t1;
		for (;;) {
			unsigned long n;
			double tn;

			usleep(200);
			n = atomic_load(&c.done);
			tn = cc_now();
			if (is_revoked(&chans[nch - 1], last))
				break;
			/* read while the revoke was still under way */
			n2 = n;
			t2 = tn;
		}
	}
	pthread_join(rth, NULL);
	atomic_store(&c.stop, 1);
	pthread_join(cth, NULL);
	out->res = rv.res;
	out->secs = rv.secs;
	out->watched = t2 - t1;
	/* the pair counted at n1 + 1 may have begun before t1 */
	out->in_window = (long)(n2 - n1) - 1;
	out->flagged = c.inside;
	out->bad = c.bad;
	for (int i = 0; i < nch; i++)
		capchan_queue_exit(&chans[i]);
	free(chans);
}

/*
 * A tree of 100000 capabilities under one root (its export imported into
 * 25 channels, 4000 DERIVEs in each), revoked in one thread while another
 * thread loops DERIVE + CLOSE on another root in another channel.
 *
 * Progress, not speed: the revoke marks the tree in creation order, so
 * "first leaf revoked, last leaf not yet" (seen through STAT, which takes
 * no tree lock) proves it is under way, and while it is, the other tree
 * must complete whole DERIVE + CLOSE pairs; under one global lock it
 * completes none.  A round whose revoke was over too soon to have room for
 * a few pairs proves nothing: the tree is made bigger.  A round with room
 * and no pair is run again (the VM's CPUs may have been away), up to three
 * times, before it counts as a stall.
 */
FIXTURE(tree) {
	struct cc_tree t;
};

FIXTURE_SETUP(tree)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "bigrevoke"));
}

FIXTURE_TEARDOWN(tree)
{
	cc_tree_destroy(&self->t);
}

TEST_F_TIMEOUT(tree, other_trees_progress_during_revoke, 300)
{
	struct capchan a, b;
	struct round rd;
	unsigned long flagged = 0;
	bool progress = false;
	int R, R2, nch = 25, watched = 0;

	ASSERT_EQ(0, capchan_open_channel(&a));
	ASSERT_EQ(0, capchan_open_channel(&b));
	R = capchan_grant(&a, self->t.jail_fd, R_CORE);
	ASSERT_LT(0, R);
	R2 = capchan_grant(&b, self->t.jail_fd, R_CORE);	/* a tree of its own */
	ASSERT_LT(0, R2);

	for (int round = 0; round < 5 && !progress && watched < 3; round++) {
		revoke_round(_metadata, &a, R, &b, R2, nch, &rd);
		EXPECT_EQ(0, rd.bad);
		/* the export, and everything derived from it */
		EXPECT_EQ(1 + (long)nch * PER, rd.res);
		/* revoking again: nothing newly revoked */
		EXPECT_EQ(0, capchan_revoke(&a, R));
		TH_LOG("%d caps: revoke %.3f s, under way for %.3f s, %ld pairs in it (%lu between the flags), %.6f s per pair",
		       nch * PER + 1, rd.secs, rd.watched, rd.in_window,
		       rd.flagged, rd.per_pair);
		if (rd.watched < 20 * rd.per_pair) {
			if (nch < 100)
				nch *= 2;
			continue;
		}
		watched++;
		if (rd.in_window > 0) {
			progress = true;
			flagged = rd.flagged;
		}
	}
	ASSERT_LT(0, watched) TH_LOG("revoke too fast to watch even at %d caps",
				     nch * PER);
	EXPECT_TRUE(progress) TH_LOG("no pair on another tree completed while %d revokes were under way",
				     watched);
	if (progress)
		EXPECT_LT(0, flagged);
	capchan_queue_exit(&a);
	capchan_queue_exit(&b);
}

TEST_HARNESS_MAIN
