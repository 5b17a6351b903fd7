// SPDX-License-Identifier: GPL-2.0
/*
 * Attacks on what goes to a worker on a file system with storage (uapi:
 * "Workers and completion order"): OPEN and STATAT walk the dentry cache
 * alone first and a miss goes to a worker; MKDIR, SYMLINK, UNLINK, RMDIR,
 * RENAME, TRUNCATE, READDIR and OPEN with O_CREAT or O_TRUNC go to a
 * worker before they start (capchan_storage_punt()).  tmpfs has no
 * storage, so the same ops run inline there: the tests compare the two,
 * and the ring against INVOKE (which never hands off) on the same disk.
 * The disk is the VM's ext4 test disk at /mnt/disk, found or mounted as
 * workers_disk_test.c does ($CAPCHAN_TEST_DISK names another ext4
 * directory); without one every test skips and says why.
 *
 *  - symlink_text_copied_in_submitter (a finding, fails on the code it
 *    was written against): capchan.7 says all checks, "the path copy"
 *    among them, are made before an op leaves the submitter, and paths
 *    are: OPEN's, RENAME's two.  SYMLINK's link text is not: on storage
 *    capchan_issue_symlink() punts before it copies the text, so the
 *    worker reads it from user memory after ENTER returned and the SQE
 *    was consumed; on tmpfs ENTER reads it.  An application that reuses
 *    its text buffer once ENTER has consumed the SQE (as it may with
 *    every path) gets a link to whatever the buffer holds when the worker
 *    gets to it, on ext4 only.  The test puts the text on a userfaultfd
 *    page and asks which thread touches it (UFFD_FEATURE_THREAD_ID): the
 *    thread in ENTER, on tmpfs and on ext4 alike; the link made is the
 *    text that thread saw.
 *    Fixed: capchan_issue_symlink() copies the text in the submitter and
 *    keeps it in req->path2 (freed with the paths; policy shows path2
 *    only in RENAME's target view), which the worker uses.
 *  - errno_table: the same bad inputs (missing names, existing names,
 *    a file as a directory, escapes by "..", by absolute and relative
 *    symbolic links and by an absolute path, a link loop, a directory
 *    opened for writing, a name too long, a bad path pointer, an empty and
 *    a bad link text, RMDIR of a non-empty directory, RENAME beneath
 *    itself) give the exact same errno on tmpfs from the ring, on ext4
 *    through INVOKE, from the ring with the names cached, and from the
 *    ring after the dentry cache was dropped (the walk misses: a worker
 *    answers); each run is checked against the expected errno.
 *  - umask_per_submitter: a parent (umask 077) and its child (umask 0)
 *    submit MKDIR and O_CREAT on one channel after fork, one after the
 *    other, so one worker serves both: each gets its own umask.
 *  - revoke_queued_storage_ops: with max_workers at 1 and the worker held
 *    in a userfaultfd fault, an OPEN O_CREAT, a MKDIR and a RENAME whose
 *    target DIR is the one revoked are queued; REVOKE returns; the page
 *    is supplied: each is -EKEYREVOKED and nothing was made or moved.
 *  - chain_punted_open_write: OPEN O_CREAT (a worker's) linked to a WRITE
 *    and a CLOSE of CAPCHAN_HANDLE_CHAIN, and a chain whose first OPEN is
 *    cached (inline) and whose TRUNCATE of the chained handle punts: each
 *    op exactly once, in order, the bytes and the size as asked.
 *  - fsize_signal: past RLIMIT_FSIZE a TRUNCATE or WRITE fails with -EFBIG;
 *    inline it also raises SIGXFSZ in the submitter, as setrlimit(2)
 *    says; in a worker (every TRUNCATE on ext4, any op with
 *    CAPCHAN_SQE_ASYNC) it raises none, as capchan.7 documents (and as
 *    io_uring's workers, which block the signal).
 *  - rename_target_creds: RENAME into a DIR granted by nobody, who may
 *    not write its directory: -EACCES on tmpfs, through INVOKE and from a
 *    worker on ext4; into one nobody may write: done; back from there
 *    with nobody's DIR as the source: -EACCES (the top is not nobody's
 *    to write), with ours: done.
 *  - dio_write_short_at_limit: the one short non-blocking WRITE on ext4
 *    (O_DIRECT overwrite cut at RLIMIT_FSIZE): the worker goes on from
 *    req->done, gets -EFBIG, and the answer is the bytes written, exactly
 *    those, with no SIGXFSZ, as pwrite(2).
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define CQ_WAIT_MS	30000
#define MAXW_PATH	"/sys/module/capchan/parameters/max_workers"

static int set_max_workers(long long v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", v);
	return cc_write_str(MAXW_PATH, s);
}

/*
 * The tree each test gets, on ext4 (d[1]) and on tmpfs (d[0]):
 *   f            "file", 4 bytes
 *   d/x          a directory with a file in it
 *   e/           an empty directory
 *   abs   -> /etc            up    -> ../..
 *   loop  -> loop            rel   -> d/x
 */
#define FS_TMP	0
#define FS_DISK	1

FIXTURE(st) {
	char dir[2][PATH_MAX];
	int dfd[2];
	uint32_t dh[2];			/* DIR capability of each, all rights */
	struct capchan ch;
	long long maxw0;
	char why[400];			/* set: no disk, every test skips */
};

#define NEED_DISK()						\
	do {							\
		if (self->why[0])				\
			SKIP(return, "%s", self->why);		\
	} while (0)

static int make_tree(int dfd)
{
	if (cc_put_str(dfd, "f", "file") || mkdirat(dfd, "d", 0755) ||
	    cc_put_str(dfd, "d/x", "x") || mkdirat(dfd, "e", 0755) ||
	    symlinkat("/etc", dfd, "abs") || symlinkat("../..", dfd, "up") ||
	    symlinkat("loop", dfd, "loop") || symlinkat("d/x", dfd, "rel"))
		return -1;
	return 0;
}

#define DIR_RIGHTS	(R_LOOKUP | R_READ | R_WRITE | R_SEEK | R_STAT | \
			 R_CREATE | CAPCHAN_RIGHT_REMOVE | CAPCHAN_RIGHT_LIST | \
			 R_DERIVE | R_REVOKE)

FIXTURE_SETUP(st)
{
	int i, r, err;

	self->ch.fd = -1;
	self->dfd[0] = self->dfd[1] = -1;
	self->dir[0][0] = self->dir[1][0] = '\0';
	self->maxw0 = cc_module_param("max_workers", &err);
	ASSERT_EQ(0, err);
	if (cc_find_disk(self->why, sizeof(self->why)))
		SKIP(return, "%s", self->why);
	ASSERT_EQ(0, cc_mkdtemp(self->dir[FS_TMP], "stoatk"));
	snprintf(self->dir[FS_DISK], sizeof(self->dir[FS_DISK]),
		 "%s/stoatk.XXXXXX", cc_disk_dir());
	ASSERT_NE(NULL, mkdtemp(self->dir[FS_DISK]));
	ASSERT_EQ(0, capchan_queue_init(16, &self->ch, 0));
	ASSERT_NE(0, self->ch.features & CAPCHAN_FEAT_WORKERS);
	for (i = 0; i < 2; i++) {
		self->dfd[i] = open(self->dir[i], O_RDONLY | O_DIRECTORY |
				    O_CLOEXEC);
		ASSERT_LE(0, self->dfd[i]);
		ASSERT_EQ(0, make_tree(self->dfd[i])) TH_LOG("%s", strerror(errno));
		r = cc_grant(self->ch.fd, self->dfd[i], DIR_RIGHTS, NULL);
		ASSERT_TRUE(cc_handle_ok(r)) TH_LOG("grant: %d", r);
		self->dh[i] = r;
	}
}

FIXTURE_TEARDOWN(st)
{
	int i;

	if (self->maxw0 > 0)
		set_max_workers(self->maxw0);
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	for (i = 0; i < 2; i++) {
		if (self->dfd[i] >= 0)
			close(self->dfd[i]);
		if (self->dir[i][0])
			cc_rm_rf(self->dir[i]);
	}
}

/* One SQE through the ring, one ENTER, its CQE: the result. */
static int ring1(struct capchan *ch, struct capchan_sqe *s)
{
	struct capchan_cqe c;
	int r;

	s->user_data = 0x5707;
	cc_sq_push(ch, s);
	r = cc_enter(ch->fd, 1, 0, 0);
	if (r != 1)
		return r < 0 ? r : -EPROTO;
	r = cc_reap(ch, &c, CQ_WAIT_MS);
	if (r)
		return r;
	return c.user_data == 0x5707 ? c.res : -EPROTO;
}

/* ---- symlink_text_copied_in_submitter ------------------------------------ */

struct enter_arg {
	struct capchan *ch;
	pid_t tid;
	int res;
	int done;		/* ENTER returned */
};

static void *enter_thread(void *p)
{
	struct enter_arg *a = p;

	a->tid = (pid_t)syscall(SYS_gettid);
	a->res = cc_enter(a->ch->fd, 1, 0, 0);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A userfaultfd page that reports the faulting thread; 0, or -errno
 * (-ENOSYS, -EPERM, -EINVAL: not here).
 */
static int uffd_tid_page(int *uffd, char **mem, long page)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_THREAD_ID };
	struct uffdio_register reg = { 0 };

	*mem = MAP_FAILED;
	/* no UFFD_USER_MODE_ONLY: the fault to catch is the module's copy */
	*uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (*uffd < 0)
		return -errno;
	if (ioctl(*uffd, UFFDIO_API, &api))
		return -errno;
	*mem = mmap(NULL, page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*mem == MAP_FAILED)
		return -errno;
	reg.range.start = (unsigned long)*mem;
	reg.range.len = page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(*uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

/* The thread id of the fault on the page, within @ms; or -errno. */
static long uffd_fault_tid(int uffd, int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	ssize_t n;

	n = poll(&pfd, 1, ms);
	if (n <= 0)
		return n ? -errno : -ETIMEDOUT;
	n = read(uffd, &msg, sizeof(msg));
	if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		return -EPROTO;
	return msg.arg.pagefault.feat.ptid;
}

static int uffd_supply_text(int uffd, char *mem, long page, const char *text)
{
	struct uffdio_copy copy = { 0 };
	char *src = calloc(1, page);
	int ret = 0;

	if (!src)
		return -ENOMEM;
	strcpy(src, text);
	copy.dst = (unsigned long)mem;
	copy.src = (unsigned long)src;
	copy.len = page;
	if (ioctl(uffd, UFFDIO_COPY, &copy))
		ret = -errno;
	free(src);
	return ret;
}

static void symlink_text_on(struct __test_metadata *_metadata,
			    FIXTURE_DATA(st) *self, int fs)
{
	long page = sysconf(_SC_PAGESIZE);
	struct enter_arg a = { .ch = &self->ch };
	struct capchan_sqe s;
	struct capchan_cqe c;
	char got[64];
	pthread_t t;
	long tid;
	char *mem;
	int uffd, r;
	ssize_t n;

	r = uffd_tid_page(&uffd, &mem, page);
	if (r == -ENOSYS || r == -EPERM || r == -EINVAL) {
		if (mem != MAP_FAILED)
			munmap(mem, page);
		if (uffd >= 0)
			close(uffd);
		SKIP(return, "no userfaultfd with thread ids for kernel faults: %d", r);
	}
	ASSERT_EQ(0, r);
	capchan_prep_symlink(&s, self->dh[fs], "lnk", mem);
	s.user_data = 77;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(0, pthread_create(&t, NULL, enter_thread, &a));
	tid = uffd_fault_tid(uffd, CQ_WAIT_MS);
	/* whoever touched it waits for the page: let it go on */
	ASSERT_EQ(0, uffd_supply_text(uffd, mem, page, "seen-by-copy"));
	pthread_join(t, NULL);
	/* ENTER returned: the SQE is consumed, the buffer the caller's again */
	strcpy(mem, "later-text");
	EXPECT_EQ(1, a.res);
	ASSERT_LT(0, tid) TH_LOG("no fault on the link text: %ld", tid);
	EXPECT_EQ(a.tid, tid)
		TH_LOG("%s: the link text was read by thread %ld, not by ENTER's %d: after the SQE left the submitter",
		       fs == FS_DISK ? "ext4" : "tmpfs", tid, a.tid);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(77, c.user_data);
	EXPECT_EQ(0, c.res);
	n = readlinkat(self->dfd[fs], "lnk", got, sizeof(got) - 1);
	ASSERT_LT(0, n) TH_LOG("readlink: %s", strerror(errno));
	got[n] = '\0';
	EXPECT_STREQ("seen-by-copy", got);
	munmap(mem, page);
	close(uffd);
}

/* the control: tmpfs runs SYMLINK inline, in ENTER */
TEST_F_TIMEOUT(st, symlink_text_copied_in_submitter_tmpfs, 120)
{
	NEED_DISK();
	symlink_text_on(_metadata, self, FS_TMP);
}

TEST_F_TIMEOUT(st, symlink_text_copied_in_submitter, 120)
{
	NEED_DISK();
	symlink_text_on(_metadata, self, FS_DISK);
}

/* ---- errno_table ---------------------------------------------------------- */

enum how { RING_TMP, INVOKE_DISK, RING_DISK_CACHED, RING_DISK_DROPPED, HOW_N };
static const char *const how_name[HOW_N] = {
	"tmpfs ring", "ext4 INVOKE", "ext4 ring cached", "ext4 ring dropped",
};

struct bad {
	unsigned int op;
	const char *path;
	unsigned int oflags;
	uint64_t rights;	/* OPEN */
	const char *text;	/* SYMLINK text, RENAME's new path */
	bool bad_ptr;		/* path pointer 1; for SYMLINK the text's */
	int err;
};

static char longname[300];

static const struct bad bad[] = {
	{ CAPCHAN_OP_OPEN, "nope", O_RDONLY, R_READ, NULL, false, ENOENT },
	{ CAPCHAN_OP_OPEN, "d/nope/x", O_RDONLY, R_READ, NULL, false, ENOENT },
	{ CAPCHAN_OP_OPEN, "f", O_CREAT | O_EXCL, R_READ, NULL, false, EEXIST },
	{ CAPCHAN_OP_OPEN, "f/x", O_RDONLY, R_READ, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_OPEN, "f/x", O_CREAT, R_READ, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_OPEN, "../f", O_RDONLY, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "d/../../f", O_RDONLY, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "/etc/passwd", O_RDONLY, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "abs", O_RDONLY, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "up/x", O_RDONLY, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "abs", O_CREAT, R_READ, NULL, false, EXDEV },
	{ CAPCHAN_OP_OPEN, "loop", O_RDONLY, R_READ, NULL, false, ELOOP },
	{ CAPCHAN_OP_OPEN, "rel", O_RDONLY | O_NOFOLLOW, R_READ, NULL, false, ELOOP },
	{ CAPCHAN_OP_OPEN, "d", O_TRUNC, R_WRITE, NULL, false, EISDIR },
	{ CAPCHAN_OP_OPEN, "f", O_DIRECTORY, R_READ, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_OPEN, longname, O_RDONLY, R_READ, NULL, false, ENAMETOOLONG },
	{ CAPCHAN_OP_OPEN, longname, O_CREAT, R_READ, NULL, false, ENAMETOOLONG },
	{ CAPCHAN_OP_OPEN, NULL, O_RDONLY, R_READ, NULL, true, EFAULT },
	{ CAPCHAN_OP_OPEN, NULL, O_CREAT, R_READ, NULL, true, EFAULT },
	{ CAPCHAN_OP_STATAT, "nope", 0, 0, NULL, false, ENOENT },
	{ CAPCHAN_OP_STATAT, "f/x", 0, 0, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_STATAT, "abs", 0, 0, NULL, false, EXDEV },
	{ CAPCHAN_OP_STATAT, "loop", 0, 0, NULL, false, ELOOP },
	{ CAPCHAN_OP_STATAT, "..", 0, 0, NULL, false, EXDEV },
	{ CAPCHAN_OP_STATAT, longname, 0, 0, NULL, false, ENAMETOOLONG },
	{ CAPCHAN_OP_MKDIR, "f", 0, 0, NULL, false, EEXIST },
	{ CAPCHAN_OP_MKDIR, "abs", 0, 0, NULL, false, EEXIST },
	{ CAPCHAN_OP_MKDIR, "nope/x", 0, 0, NULL, false, ENOENT },
	{ CAPCHAN_OP_MKDIR, "f/x", 0, 0, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_MKDIR, "../x", 0, 0, NULL, false, EXDEV },
	{ CAPCHAN_OP_MKDIR, "up/x", 0, 0, NULL, false, EXDEV },
	{ CAPCHAN_OP_MKDIR, longname, 0, 0, NULL, false, ENAMETOOLONG },
	{ CAPCHAN_OP_MKDIR, NULL, 0, 0, NULL, true, EFAULT },
	{ CAPCHAN_OP_UNLINK, "nope", 0, 0, NULL, false, ENOENT },
	{ CAPCHAN_OP_UNLINK, "d", 0, 0, NULL, false, EISDIR },
	{ CAPCHAN_OP_UNLINK, "f/", 0, 0, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_UNLINK, "../x", 0, 0, NULL, false, EXDEV },
	{ CAPCHAN_OP_RMDIR, "f", 0, 0, NULL, false, ENOTDIR },
	{ CAPCHAN_OP_RMDIR, "d", 0, 0, NULL, false, ENOTEMPTY },
	{ CAPCHAN_OP_RMDIR, "nope", 0, 0, NULL, false, ENOENT },
	{ CAPCHAN_OP_SYMLINK, "f", 0, 0, "t", false, EEXIST },
	{ CAPCHAN_OP_SYMLINK, "s1", 0, 0, "", false, ENOENT },
	{ CAPCHAN_OP_SYMLINK, "s2", 0, 0, NULL, true, EFAULT },
	{ CAPCHAN_OP_SYMLINK, "../s3", 0, 0, "t", false, EXDEV },
	{ CAPCHAN_OP_RENAME, "nope", 0, 0, "y", false, ENOENT },
	{ CAPCHAN_OP_RENAME, "d", 0, 0, "d/x2", false, EINVAL },
	{ CAPCHAN_OP_RENAME, "f", 0, 0, "../y", false, EXDEV },
	{ CAPCHAN_OP_RENAME, "e", 0, 0, "d", false, ENOTEMPTY },
	{ CAPCHAN_OP_RENAME, "f", CAPCHAN_RENAME_NOREPLACE, 0, "rel", false, EEXIST },
};

static void make_bad_sqe(struct capchan_sqe *s, const struct bad *b,
			 uint32_t dh, struct capchan_stat *stbuf)
{
	const char *path = b->bad_ptr && b->op != CAPCHAN_OP_SYMLINK ?
			   (const char *)1 : b->path;

	switch (b->op) {
	case CAPCHAN_OP_OPEN:
		capchan_prep_open(s, dh, path, b->oflags,
				  (b->oflags & O_CREAT) ? 0644 : 0, b->rights);
		break;
	case CAPCHAN_OP_STATAT:
		capchan_prep_statat(s, dh, path, stbuf, 0);
		break;
	case CAPCHAN_OP_MKDIR:
		capchan_prep_mkdir(s, dh, path, 0755);
		break;
	case CAPCHAN_OP_UNLINK:
		capchan_prep_unlink(s, dh, path);
		break;
	case CAPCHAN_OP_RMDIR:
		capchan_prep_rmdir(s, dh, path);
		break;
	case CAPCHAN_OP_SYMLINK:
		capchan_prep_symlink(s, dh, path,
				     b->bad_ptr ? (const char *)1 : b->text);
		break;
	case CAPCHAN_OP_RENAME:
		capchan_prep_rename(s, dh, path, dh, b->text, b->oflags);
		break;
	}
}

TEST_F_TIMEOUT(st, errno_table, 600)
{
	struct capchan_stat stbuf;
	struct capchan_sqe s;
	long long punted0;
	int res[HOW_N];
	size_t i;
	int how;

	NEED_DISK();
	memset(longname, 'n', sizeof(longname) - 1);
	punted0 = cc_fdv(self->ch.fd, "worker-punted");
	ASSERT_LE(0, punted0);
	for (i = 0; i < CC_ARRAY_SIZE(bad); i++) {
		const struct bad *b = &bad[i];

		for (how = 0; how < HOW_N; how++) {
			uint32_t dh = self->dh[how == RING_TMP ? FS_TMP : FS_DISK];

			make_bad_sqe(&s, b, dh, &stbuf);
			if (how == RING_DISK_DROPPED)
				cc_drop_caches();
			if (how == INVOKE_DISK)
				res[how] = cc_invoke(self->ch.fd, &s);
			else
				res[how] = ring1(&self->ch, &s);
		}
		for (how = 0; how < HOW_N; how++) {
			const char *name = b->path && !b->bad_ptr ? b->path :
					   "(bad pointer)";
			int got = res[how];

			EXPECT_EQ(-b->err, got)
				TH_LOG("case %zu: op %u \"%.40s\" flags %#x: %s gives %d (%s), want %d",
				       i, b->op, name, b->oflags, how_name[how],
				       got, strerror(-got), -b->err);
		}
	}
	/* nothing was made by any of them */
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "s1", F_OK, AT_SYMLINK_NOFOLLOW));
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "s2", F_OK, AT_SYMLINK_NOFOLLOW));
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "y", F_OK, AT_SYMLINK_NOFOLLOW));
	EXPECT_EQ(0, faccessat(self->dfd[FS_DISK], "f", F_OK, AT_SYMLINK_NOFOLLOW));
	EXPECT_EQ(0, faccessat(self->dfd[FS_DISK], "d/x", F_OK, AT_SYMLINK_NOFOLLOW));
	/* the storage paths were taken: most of the ext4 ring runs punted */
	EXPECT_LT(punted0 + (long long)CC_ARRAY_SIZE(bad),
		  cc_fdv(self->ch.fd, "worker-punted"));
	TH_LOG("%zu bad inputs, 4 ways each; %lld went to a worker",
	       CC_ARRAY_SIZE(bad), cc_fdv(self->ch.fd, "worker-punted") - punted0);
}

/* ---- umask_per_submitter ---------------------------------------------------- */

/* MKDIR "m<tag>" and OPEN O_CREAT "c<tag>" (0777/0666) through the ring */
static int make_two(struct capchan *ch, uint32_t dh, const char *tag)
{
	char m[16], c[16];
	struct capchan_sqe s;
	int r;

	snprintf(m, sizeof(m), "m%s", tag);
	snprintf(c, sizeof(c), "c%s", tag);
	capchan_prep_mkdir(&s, dh, m, 0777);
	r = ring1(ch, &s);
	if (r)
		return r;
	capchan_prep_open(&s, dh, c, O_CREAT | O_EXCL, 0666, R_READ);
	r = ring1(ch, &s);
	return r > 0 ? 0 : (r ? r : -EPROTO);
}

static mode_t mode_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) ? (mode_t)-1 :
	       st.st_mode & 07777;
}

TEST_F_TIMEOUT(st, umask_per_submitter, 180)
{
	long long punted0;
	char tag[8];
	pid_t pid;
	int round;

	NEED_DISK();
	punted0 = cc_fdv(self->ch.fd, "worker-punted");
	for (round = 0; round < 3; round++) {
		snprintf(tag, sizeof(tag), "k%d", round);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			umask(0);
			_exit(make_two(&self->ch, self->dh[FS_DISK], tag) ? 1 : 0);
		}
		ASSERT_EQ(0, cc_wait_child(pid));
		umask(077);
		snprintf(tag, sizeof(tag), "p%d", round);
		ASSERT_EQ(0, make_two(&self->ch, self->dh[FS_DISK], tag));
		umask(022);
		snprintf(tag, sizeof(tag), "mk%d", round);
		EXPECT_EQ(0777, mode_at(self->dfd[FS_DISK], tag));
		snprintf(tag, sizeof(tag), "ck%d", round);
		EXPECT_EQ(0666, mode_at(self->dfd[FS_DISK], tag));
		snprintf(tag, sizeof(tag), "mp%d", round);
		EXPECT_EQ(0700, mode_at(self->dfd[FS_DISK], tag));
		snprintf(tag, sizeof(tag), "cp%d", round);
		EXPECT_EQ(0600, mode_at(self->dfd[FS_DISK], tag));
	}
	/* all twelve went to a worker (one, kept between them: 5 s idle) */
	EXPECT_EQ(punted0 + 12, cc_fdv(self->ch.fd, "worker-punted"));
}

/* ---- revoke_queued_storage_ops ---------------------------------------------- */

TEST_F_TIMEOUT(st, revoke_queued_storage_ops, 180)
{
	struct cc_uffd_page u = { .uffd = -1, .mem = MAP_FAILED };
	struct capchan_sqe s;
	struct capchan_cqe c;
	uint32_t top, a, b;
	int fd, fh, r, i, seen = 0;

	NEED_DISK();
	r = cc_uffd_page_init(&u);
	if (r == -ENOSYS || r == -EPERM) {
		cc_uffd_page_destroy(&u);
		SKIP(return, "no userfaultfd here: %d", r);
	}
	ASSERT_EQ(0, r);
	fd = openat(self->dfd[FS_DISK], "f", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fh = cc_grant(self->ch.fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(fh));
	/* a: derived from the DIR, revoked below; b: the same DIR, kept */
	r = cc_derive(self->ch.fd, self->dh[FS_DISK], DIR_RIGHTS);
	ASSERT_TRUE(cc_handle_ok(r));
	top = r;
	r = cc_derive(self->ch.fd, top, DIR_RIGHTS & ~(R_REVOKE | R_DERIVE));
	ASSERT_TRUE(cc_handle_ok(r));
	a = r;
	fd = open(self->dir[FS_DISK], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	r = cc_grant(self->ch.fd, fd, DIR_RIGHTS, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(r));
	b = r;

	ASSERT_EQ(0, set_max_workers(1));
	/* the one worker waits in the copy to the page */
	cc_push(&self->ch, CAPCHAN_OP_READ, fh, CAPCHAN_SQE_ASYNC, u.mem, 4, 0, 1);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(0, cc_uffd_wait_fault(&u));

	capchan_prep_open(&s, a, "newf", O_CREAT | O_EXCL, 0644, R_READ);
	s.user_data = 2;
	cc_sq_push(&self->ch, &s);
	capchan_prep_mkdir(&s, a, "newd", 0755);
	s.user_data = 3;
	cc_sq_push(&self->ch, &s);
	/* from a DIR kept to one revoked: the target's revocation counts */
	capchan_prep_rename(&s, b, "f", a, "moved", 0);
	s.user_data = 4;
	cc_sq_push(&self->ch, &s);
	capchan_prep_unlink(&s, a, "d/x");
	s.user_data = 5;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(4, cc_enter(self->ch.fd, 4, 0, 0));
	EXPECT_EQ(5, cc_fdv(self->ch.fd, "inflight"));
	EXPECT_EQ(1, cc_fdv(self->ch.fd, "workers"));

	ASSERT_EQ(1, cc_revoke(self->ch.fd, top));
	ASSERT_EQ(0, cc_uffd_supply(&u, 'z'));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
		ASSERT_LE(1, c.user_data);
		ASSERT_GE(5, c.user_data);
		seen |= 1 << c.user_data;
		if (c.user_data == 1) {
			EXPECT_EQ(4, c.res);
		} else {
			EXPECT_EQ(-EKEYREVOKED, c.res)
				TH_LOG("queued op %llu: %d",
				       (unsigned long long)c.user_data, c.res);
		}
	}
	EXPECT_EQ(0x3e, seen);
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "newf", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "newd", F_OK, 0));
	EXPECT_EQ(-1, faccessat(self->dfd[FS_DISK], "moved", F_OK, 0));
	EXPECT_EQ(0, faccessat(self->dfd[FS_DISK], "f", F_OK, 0));
	EXPECT_EQ(0, faccessat(self->dfd[FS_DISK], "d/x", F_OK, 0));
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
	cc_uffd_page_destroy(&u);
}

/* ---- chain_punted_open_write -------------------------------------------------- */

TEST_F_TIMEOUT(st, chain_punted_open_write, 120)
{
	static const char msg[] = "chained bytes";
	char back[64];
	struct capchan_sqe s;
	struct capchan_cqe c;
	struct stat st;
	long long punted0;
	int i, h = 0;

	NEED_DISK();
	punted0 = cc_fdv(self->ch.fd, "worker-punted");
	capchan_prep_open(&s, self->dh[FS_DISK], "chained", O_CREAT | O_EXCL,
			  0644, R_READ | R_WRITE | R_SEEK);
	s.flags = CAPCHAN_SQE_LINK;
	s.user_data = 1;
	cc_sq_push(&self->ch, &s);
	capchan_prep_write(&s, CAPCHAN_HANDLE_CHAIN, msg, sizeof(msg) - 1, 3);
	s.flags = CAPCHAN_SQE_LINK;
	s.user_data = 2;
	cc_sq_push(&self->ch, &s);
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	s.user_data = 3;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
		EXPECT_EQ(i, c.user_data);
		if (i == 1) {
			EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN %d", c.res);
			h = c.res;
		} else {
			EXPECT_EQ(i == 2 ? (int)sizeof(msg) - 1 : 0, c.res);
		}
	}
	EXPECT_EQ(punted0 + 1, cc_fdv(self->ch.fd, "worker-punted"));
	/* the CLOSE closed what the OPEN made */
	EXPECT_EQ(-EBADF, cc_close_cap(self->ch.fd, h));
	ASSERT_EQ(0, fstatat(self->dfd[FS_DISK], "chained", &st, 0));
	EXPECT_EQ(3 + sizeof(msg) - 1, st.st_size);
	ASSERT_EQ((ssize_t)(sizeof(msg) - 1),
		  cc_get_file(self->dfd[FS_DISK], "chained", back, sizeof(back)) - 3);
	EXPECT_EQ(0, memcmp(back + 3, msg, sizeof(msg) - 1));

	/* a cached OPEN (inline) whose chained TRUNCATE punts */
	capchan_prep_open(&s, self->dh[FS_DISK], "chained", O_RDONLY,
			  0, R_WRITE);
	s.flags = CAPCHAN_SQE_LINK;
	s.user_data = 4;
	cc_sq_push(&self->ch, &s);
	capchan_prep_truncate(&s, CAPCHAN_HANDLE_CHAIN, 5);
	s.flags = CAPCHAN_SQE_LINK;
	s.user_data = 5;
	cc_sq_push(&self->ch, &s);
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	s.user_data = 6;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	for (i = 4; i <= 6; i++) {
		ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
		EXPECT_EQ(i, c.user_data);
		if (i == 4) {
			EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN %d", c.res);
		} else {
			EXPECT_EQ(0, c.res);
		}
	}
	EXPECT_EQ(punted0 + 2, cc_fdv(self->ch.fd, "worker-punted"));
	ASSERT_EQ(0, fstatat(self->dfd[FS_DISK], "chained", &st, 0));
	EXPECT_EQ(5, st.st_size);
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
}

/* ---- fsize_signal ------------------------------------------------------------ */

/* Is SIGXFSZ pending (blocked)?  Takes it if so: 1, 0, or -errno. */
static int take_sigxfsz(void)
{
	struct timespec zero = { 0 };
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	r = sigtimedwait(&set, NULL, &zero);
	if (r == SIGXFSZ)
		return 1;
	return errno == EAGAIN ? 0 : -errno;
}

/*
 * In a child with RLIMIT_FSIZE 4096 and SIGXFSZ blocked: @op (TRUNCATE
 * to 8192, or WRITE at 8192 with @flags) on @fh.  Bits of the exit code:
 * 1 the result was not -EFBIG, 2 no SIGXFSZ came, 4 setup failed.
 */
static int fsize_child(struct capchan *ch, uint32_t fh, unsigned int op,
		       unsigned int flags)
{
	struct rlimit rl = { 4096, 4096 };
	struct capchan_sqe s;
	sigset_t set;
	int r, code = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (sigprocmask(SIG_BLOCK, &set, NULL) || setrlimit(RLIMIT_FSIZE, &rl))
		return 4;
	if (take_sigxfsz())
		return 4;
	if (op == CAPCHAN_OP_TRUNCATE)
		capchan_prep_truncate(&s, fh, 8192);
	else
		capchan_prep_write(&s, fh, "abcd", 4, 8192);
	s.flags = flags;
	r = ring1(ch, &s);
	if (r != -EFBIG)
		code |= 1;
	if (take_sigxfsz() != 1)
		code |= 2;
	return code;
}

/* fsize_child()'s exit code, or -1; *punted: how many went to a worker */
static int fsize_run(struct capchan *ch, uint32_t fh, unsigned int op,
		     unsigned int flags, long long *punted)
{
	long long before = cc_fdv(ch->fd, "worker-punted");
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fsize_child(ch, fh, op, flags));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	*punted = cc_fdv(ch->fd, "worker-punted") - before;
	return WEXITSTATUS(st);
}

/*
 * setrlimit(2): a write or truncate past RLIMIT_FSIZE fails with EFBIG
 * and sends SIGXFSZ.  Inline (tmpfs) the VFS signals the submitter; a
 * worker has the submitter's RLIMIT_FSIZE (worker.c copies it), so the op
 * still fails with -EFBIG, but the VFS signals current, the worker, a
 * kernel thread: no SIGXFSZ reaches the submitter, as capchan.7 and
 * capchan_prep_truncate.3 say (io_uring's workers block it too).  On ext4
 * every TRUNCATE goes to a worker.  The review that wrote this test found
 * the pages promising the signal; they were corrected.
 */
TEST_F_TIMEOUT(st, fsize_signal, 120)
{
	long long punted = -1;
	uint32_t fh[2];
	int fs, fd, r;

	NEED_DISK();
	for (fs = 0; fs < 2; fs++) {
		fd = openat(self->dfd[fs], "f", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		r = cc_grant(self->ch.fd, fd, R_READ | R_WRITE | R_SEEK, NULL);
		close(fd);
		ASSERT_TRUE(cc_handle_ok(r));
		fh[fs] = r;
	}
	/* inline: -EFBIG and the signal */
	EXPECT_EQ(0, fsize_run(&self->ch, fh[FS_TMP], CAPCHAN_OP_TRUNCATE, 0,
			       &punted));
	EXPECT_EQ(0, punted);
	EXPECT_EQ(0, fsize_run(&self->ch, fh[FS_TMP], CAPCHAN_OP_WRITE, 0,
			       &punted));
	EXPECT_EQ(0, punted);
	/* a buffered positioned ext4 WRITE goes to a worker: no signal */
	EXPECT_EQ(2, fsize_run(&self->ch, fh[FS_DISK], CAPCHAN_OP_WRITE, 0,
			       &punted));
	EXPECT_EQ(1, punted);
	/* in a worker: -EFBIG and no signal (bit 2), says capchan.7 */
	EXPECT_EQ(2, fsize_run(&self->ch, fh[FS_DISK], CAPCHAN_OP_TRUNCATE, 0,
			       &punted))
		TH_LOG("ext4 TRUNCATE (%lld punted): exit bits 1 no -EFBIG, 2 no SIGXFSZ",
		       punted);
	EXPECT_EQ(1, punted);
	EXPECT_EQ(2, fsize_run(&self->ch, fh[FS_TMP], CAPCHAN_OP_WRITE,
			       CAPCHAN_SQE_ASYNC, &punted))
		TH_LOG("tmpfs WRITE with ASYNC (%lld punted): exit bits 1 no -EFBIG, 2 no SIGXFSZ",
		       punted);
	EXPECT_EQ(1, punted);
	/* nothing grew past the limit */
	for (fs = 0; fs < 2; fs++) {
		struct stat st;

		ASSERT_EQ(0, fstatat(self->dfd[fs], "f", &st, 0));
		EXPECT_EQ(4, st.st_size);
	}
}

/* ---- dio_write_short_at_limit -------------------------------------------------- */

/*
 * The one way a non-blocking WRITE stops short on ext4: O_DIRECT over
 * written blocks, cut at RLIMIT_FSIZE.  In a child with the limit at
 * 4096: a positioned WRITE of 8192 'b' at 0 over 8192 'a' is tried
 * without blocking (an overwrite: ext4 takes it), writes 4096, and a
 * worker goes on from req->done, where the limit says -EFBIG, so the
 * answer is the 4096 written, as pwrite(2)'s would be; and, as pwrite(2),
 * no SIGXFSZ: the write started below the limit.  Exit bits: 1 wrong
 * result, 2 a SIGXFSZ, 4 setup, 8 not tried without blocking (no punt).
 */
static int dio_child(struct capchan *ch, int dfd)
{
	struct rlimit rl = { 4096, 4096 };
	struct capchan_sqe s;
	long long before;
	sigset_t set;
	void *buf;
	int fd, r, code = 0;

	fd = openat(dfd, "dio", O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, 4096, 8192))
		return 4;
	memset(buf, 'b', 8192);
	r = cc_grant(ch->fd, fd, R_WRITE | R_SEEK, NULL);
	if (!cc_handle_ok(r))
		return 4;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (sigprocmask(SIG_BLOCK, &set, NULL) || setrlimit(RLIMIT_FSIZE, &rl))
		return 4;
	before = cc_fdv(ch->fd, "worker-punted");
	capchan_prep_write(&s, r, buf, 8192, 0);
	if (ring1(ch, &s) != 4096)
		code |= 1;
	if (take_sigxfsz() != 0)
		code |= 2;
	if (cc_fdv(ch->fd, "worker-punted") != before + 1)
		code |= 8;
	return code;
}

TEST_F_TIMEOUT(st, dio_write_short_at_limit, 120)
{
	char back[8192 + 16], want[8192];
	pid_t pid;
	int fd, st;

	NEED_DISK();
	memset(want, 'a', sizeof(want));
	ASSERT_EQ(0, cc_put_file(self->dfd[FS_DISK], "dio", want, sizeof(want),
				 0644));
	fd = openat(self->dfd[FS_DISK], "dio", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(dio_child(&self->ch, self->dfd[FS_DISK]));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("exit bits: 1 not 4096, 2 SIGXFSZ, 4 setup, 8 no punt");
	memset(want, 'b', 4096);
	ASSERT_EQ((ssize_t)sizeof(want),
		  cc_get_file(self->dfd[FS_DISK], "dio", back, sizeof(back)));
	EXPECT_EQ(0, memcmp(back, want, sizeof(want)));
}

/* ---- rename_target_creds ------------------------------------------------------- */

/*
 * A capability granted by nobody (a child that became nobody, on the
 * shared channel) for directory @name: its handle, or a negative value.
 */
static long grant_as_nobody(struct capchan *ch, int dfd, const char *name)
{
	int p[2], fd;
	uint32_t h = 0;
	pid_t pid;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int r;

		close(p[0]);
		if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
			_exit(1);
		r = cc_grant(ch->fd, fd, DIR_RIGHTS, NULL);
		_exit(cc_send_u32(p[1], (uint32_t)r) ? 1 : 0);
	}
	close(p[1]);
	close(fd);
	if (cc_recv_u32(p[0], &h))
		h = (uint32_t)-EIO;
	close(p[0]);
	if (cc_wait_child(pid))
		return -ECHILD;
	return (int)h;
}

/*
 * RENAME into a DIR whose granter (nobody) may not write the target
 * directory: -EACCES inline (tmpfs), through INVOKE and from a worker
 * (ext4), the file stays; into one nobody may write (0777): done, in both
 * directions, both ways.  The worker checks with the target's
 * credentials as the submitter would.
 */
TEST_F_TIMEOUT(st, rename_target_creds, 120)
{
	struct capchan_sqe s;
	long long punted;
	long ro, rw;
	int fs, i;

	NEED_DISK();
	for (fs = 0; fs < 2; fs++) {
		ASSERT_EQ(0, mkdirat(self->dfd[fs], "w", 0777));
		ASSERT_EQ(0, fchmodat(self->dfd[fs], "w", 0777, 0));
		ro = grant_as_nobody(&self->ch, self->dfd[fs], "e");
		ASSERT_TRUE(cc_handle_ok(ro)) TH_LOG("grant e: %ld", ro);
		rw = grant_as_nobody(&self->ch, self->dfd[fs], "w");
		ASSERT_TRUE(cc_handle_ok(rw)) TH_LOG("grant w: %ld", rw);
		for (i = 0; i < 2; i++) {
			punted = cc_fdv(self->ch.fd, "worker-punted");
			capchan_prep_rename(&s, self->dh[fs], "f", ro, "moved", 0);
			EXPECT_EQ(-EACCES, i ? cc_invoke(self->ch.fd, &s) :
					       ring1(&self->ch, &s))
				TH_LOG("%s %s", fs ? "ext4" : "tmpfs",
				       i ? "INVOKE" : "ring");
			capchan_prep_rename(&s, self->dh[fs], "f", rw, "moved", 0);
			EXPECT_EQ(0, i ? cc_invoke(self->ch.fd, &s) :
					 ring1(&self->ch, &s));
			EXPECT_EQ(0, faccessat(self->dfd[fs], "w/moved", F_OK, 0));
			/* back: nobody's source may not write the top, ours may */
			capchan_prep_rename(&s, rw, "moved", self->dh[fs], "f", 0);
			EXPECT_EQ(-EACCES, i ? cc_invoke(self->ch.fd, &s) :
					       ring1(&self->ch, &s));
			capchan_prep_rename(&s, self->dh[fs], "w/moved",
					    self->dh[fs], "f", 0);
			EXPECT_EQ(0, i ? cc_invoke(self->ch.fd, &s) :
					 ring1(&self->ch, &s));
			EXPECT_EQ(0, faccessat(self->dfd[fs], "f", F_OK, 0));
			EXPECT_EQ(-1, faccessat(self->dfd[fs], "e/moved", F_OK, 0));
			/* from the ring on ext4, each of the four a worker's */
			EXPECT_EQ(punted + (fs == FS_DISK && !i ? 4 : 0),
				  cc_fdv(self->ch.fd, "worker-punted"));
		}
	}
}

TEST_HARNESS_MAIN
