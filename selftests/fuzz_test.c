// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized fuzzing of the whole channel ABI, bounded in time and
 * reproducible from a seed:
 *
 *   ioctls   random ioctl numbers and argument buffers (valid, read-only,
 *            straddling a guard page, unmapped, kernel addresses) on
 *            channels with and without rings; mmap/poll/read/lseek/fdinfo
 *            on the channel; garbage written all over a mapped ring; fork.
 *   invoke   random SQEs through INVOKE on two channels (live, stale,
 *            forged and CHAIN handles), EXPORT/IMPORT between them, plus a
 *            few exact checks (depth limit, table limit, REVOKE counts).
 *   rings    random SQEs through a ring checked against a model of the
 *            module's private indices: ENTER must return exactly the
 *            number of SQEs that could be consumed, every consumed SQE
 *            yields exactly one CQE (same user_data, in order), chains
 *            cancel exactly when they should, and the indices the module
 *            owns read back right even after user space scribbled on them;
 *            tampering with every ring word and with queued SQE bytes;
 *            fork in the middle.
 *   threads  workers submitting, entering, reaping, invoking and
 *            scribbling concurrently on one channel while another thread
 *            swaps the channel behind the shared fd (dup2/close), a
 *            renamer moves files and directories across the DIR boundary,
 *            and a child process forked in the middle uses the channel.
 *
 * The directory ops (READDIR, STATAT, MKDIR, UNLINK, RMDIR, SYMLINK,
 * RENAME, TRUNCATE) run in all of them: the jail is scratch, they may
 * remove, rename and truncate anything beneath it.
 *
 * Oracles: every result is success or a -errno from the op's allowed set
 * (never positive garbage where 0 is the only success), the model checks
 * above, an OPEN never yields an object known to be outside the DIR,
 * READDIR records are well formed and never name an outside object, the
 * outside sentinels are byte for byte what they were and nothing new
 * appears outside (checked after each test), and the kernel log (run.sh
 * fails on any WARNING/BUG/KFENCE/slub report).
 *
 * Seed: $CAPCHAN_FUZZ_SEED, else the first line of /data/capchan_fuzz_seed
 * (run.sh -f FILE:/data/capchan_fuzz_seed), else a fixed default; each test
 * mixes in its own name and prints both.  Each test runs its body in a
 * worker process under a watchdog: a worker that does not finish in time
 * is killed, and one that cannot be killed (stuck in the kernel) is
 * reported with its kernel stack instead of hanging the harness.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>

#define FZ_DEFAULT_SEED		0xca9c4a2f0022ULL
#define FZ_SHARED_FD		900
#define FZ_MAX_RW		0x7ffff000L	/* MAX_RW_COUNT, 4 KiB pages */
#define FZ_SCRATCH		(1u << 20)
#define FZ_PRIV			(64u << 10)
#define FZ_NONE			(64u << 10)
#define FZ_NPATHS		64
#define FZ_POOL			32
#define FZ_CAPFDS		16
#define FZ_UD_MAGIC		0xf22cULL
#define FZ_NOUT			16
#define FZ_NCOOKIES		16
#define FZ_ENTER_CUT		32	/* ops an ENTER runs after a close */

#define FZ_FEATURES	(CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK | \
			 CAPCHAN_FEAT_CHAIN_HANDLE | CAPCHAN_FEAT_DIRECT_INVOKE | \
			 CAPCHAN_FEAT_NODROP | CAPCHAN_FEAT_POLL | \
			 CAPCHAN_FEAT_CAP_CREDS | CAPCHAN_FEAT_HOOK | \
			 CAPCHAN_FEAT_FILTER)

/* ------------------------------------------------------------------ */
/* Failures (usable from threads and forked children)                  */
/* ------------------------------------------------------------------ */

static atomic_int fz_nfail;

/* Per-opcode outcome counts, printed by each test (coverage at a glance). */
static atomic_long fz_nok[CAPCHAN_OP_LAST + 1], fz_nerr[CAPCHAN_OP_LAST + 1];
static atomic_long fz_open_errno[160];
static atomic_long fz_dir_errno[160];	/* READDIR .. TRUNCATE together */

static void __attribute__((format(printf, 2, 3)))
fz_fail_at(int line, const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	int n;

	if (atomic_fetch_add(&fz_nfail, 1) >= 30)
		return;
	n = snprintf(buf, sizeof(buf), "# FUZZ FAIL [pid %d] fuzz_test.c:%d: ",
		     getpid(), line);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, n) < 0)
		return;
}

#define FZ_FAIL(...)	fz_fail_at(__LINE__, __VA_ARGS__)
#define FZ_CHECK(c, fmt, ...) do { \
	if (!(c)) \
		FZ_FAIL("!(%s) " fmt, #c, ##__VA_ARGS__); \
} while (0)

/* ------------------------------------------------------------------ */
/* Seeds and random numbers                                            */
/* ------------------------------------------------------------------ */

struct fz_rng {
	uint64_t s;
};

static uint64_t fz_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fz_srand(struct fz_rng *r, uint64_t seed)
{
	r->s = fz_mix(seed) | 1;
}

static uint64_t fz_r64(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static uint32_t fz_rn(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_r64(r) % n) : 0;
}

static bool fz_pct(struct fz_rng *r, unsigned int p)
{
	return fz_rn(r, 100) < p;
}

static void fz_bytes(struct fz_rng *r, void *p, size_t n)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)fz_r64(r);
}

static uint64_t fz_base_seed(void)
{
	static uint64_t seed;
	static bool have;
	char buf[64];
	const char *s;

	if (have)
		return seed;
	seed = FZ_DEFAULT_SEED;
	s = getenv("CAPCHAN_FUZZ_SEED");
	if (!s || !*s) {
		int fd = open("/data/capchan_fuzz_seed", O_RDONLY | O_CLOEXEC);

		s = NULL;
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			if (n > 0) {
				buf[n] = '\0';
				s = buf;
			}
			close(fd);
		}
	}
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	have = true;
	return seed;
}

static uint64_t fz_test_seed(const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return fz_base_seed() ^ h;
}

/* ------------------------------------------------------------------ */
/* The world: a tree to grant, fds of every kind, memory of every kind  */
/* ------------------------------------------------------------------ */
/*
 *   <base>/secret, <base>/out/{secret2,secret3}   never beneath the DIR
 *   <base>/jail/                                  the DIR (cc_tree + ...)
 *     ln_in -> hello   ln_up -> ../secret   ln_abs -> <base>/secret
 *     ln_root -> /     ln_loop -> ln_loop   ln_dir -> sub
 *     ln_dotdot -> sub/../..   ln_proc -> /proc/self/root
 *     sub/ln_back -> ../hello  sub/ln_esc -> ../../secret
 *     fifo, null (char 1:3), mnt/ (a small tmpfs) with x, mv/x, mvd/
 */
struct fz_env {
	struct cc_tree t;
	char out[PATH_MAX + 16];
	char mnt[PATH_MAX + 16];
	int out_fd;
	bool mounted;
	int file_rw, file_ro, file_wo, sub_fd, null_fd, opath_fd, sock_fd;
	int pipe_fd[2];
	int proc_fd;			/* /proc/self of the worker */
	struct {
		uint64_t dev, ino;
		bool wanders;	/* visits a directory that was in the DIR */
	} bad[8];
	int nbad;
	dev_t jail_dev;
	/* everything outside the jail at setup, checked after each test */
	struct fz_out {
		char path[64];
		uint64_t ino, size, hash;
		uint32_t mode;
		bool wanders;	/* the renamer takes it into mvd */
	} outside[FZ_NOUT];
	int noutside;
	char *scratch;			/* FZ_SCRATCH bytes, then the guard page */
	char *guard;			/* PROT_NONE */
	char *ro;			/* one PROT_READ page of zeros */
	char *none;			/* FZ_NONE bytes of PROT_NONE */
	char *priv;			/* FZ_PRIV bytes: ioctl arguments */
	char *longpath;			/* PATH_MAX + 16 'a's: -ENAMETOOLONG */
	unsigned int max_caps, max_depth;
	uint64_t disabled_ops;
};

static int fz_bad_add(struct fz_env *e, int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	e->bad[e->nbad].dev = st.st_dev;
	e->bad[e->nbad].ino = st.st_ino;
	e->nbad++;
	return 0;
}

/* FNV-1a of a small file's content; 0 if unreadable. */
static uint64_t fz_hash_at(int dirfd, const char *name)
{
	uint64_t h = 14695981039346656037ULL;
	char buf[4096];
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
	close(fd);
	return h;
}

/*
 * Everything below dirfd (relative names under prefix), the jail left out;
 * calls fn for each entry.  Directories are walked, links not followed.
 */
static void fz_walk(int dirfd, const char *prefix, int depth,
		    void (*fn)(void *arg, int dirfd, const char *name,
			       const char *path, const struct stat *st),
		    void *arg)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || depth > 16 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!depth && !strcmp(de->d_name, "jail")))
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "",
			 de->d_name);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		fn(arg, dirfd, de->d_name, path, &st);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
					 O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				fz_walk(sub, path, depth + 1, fn, arg);
				close(sub);
			}
		}
	}
	closedir(d);
}

static void fz_outside_add(void *arg, int dirfd, const char *name,
			   const char *path, const struct stat *st)
{
	struct fz_env *e = arg;
	struct fz_out *o;

	if (e->noutside == FZ_NOUT)
		return;
	o = &e->outside[e->noutside++];
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->ino = st->st_ino;
	o->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	o->mode = st->st_mode;
	o->hash = S_ISREG(st->st_mode) ? fz_hash_at(dirfd, name) : 0;
	o->wanders = !strcmp(path, "out/secret3");
}

/* The outside of the jail as it is at setup (the jail's mount included). */
static int fz_outside_record(struct fz_env *e)
{
	e->noutside = 0;
	fz_walk(e->t.base_fd, "", 0, fz_outside_add, e);
	if (e->mounted) {
		int m = open(e->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (m < 0)
			return -errno;
		fz_walk(m, "mnt:", 1, fz_outside_add, e);
		close(m);
	}
	return e->noutside >= 4 && e->noutside < FZ_NOUT ? 0 : -EIO;
}

struct fz_outside_seen {
	struct fz_env *e;
	bool threads;
	bool found[FZ_NOUT];
	int bad;
};

static void fz_outside_one(void *arg, int dirfd, const char *name,
			   const char *path, const struct stat *st)
{
	struct fz_outside_seen *v = arg;
	struct fz_env *e = v->e;

	for (int i = 0; i < e->noutside; i++) {
		struct fz_out *o = &e->outside[i];

		if (o->ino != st->st_ino || ((o->mode ^ st->st_mode) & S_IFMT))
			continue;
		v->found[i] = true;
		if (o->wanders && v->threads)
			return;	/* the renamer may leave it in mvd, and mvd's DIR may act on it */
		if (o->mode != st->st_mode || (S_ISREG(o->mode) &&
		    (o->size != (uint64_t)st->st_size || o->hash != fz_hash_at(dirfd, name)))) {
			ksft_print_msg("fuzz: outside %s changed (mode %o size %lld)\n",
				       path, st->st_mode, (long long)st->st_size);
			v->bad++;
		}
		/* the renamer trades names outside; without it, nothing moves */
		if (!v->threads && strcmp(o->path, path)) {
			ksft_print_msg("fuzz: outside %s is now at %s\n", o->path, path);
			v->bad++;
		}
		return;
	}
	/*
	 * What the renamer took out of the jail and could not put back, with
	 * whatever was made in it while it was inside (the ops may have
	 * turned mv/x into a directory: out/x/...).  An op that created in it
	 * while it was outside would have failed its beneath check.
	 */
	if (v->threads && (!strcmp(path, "out/x") || !strncmp(path, "out/x/", 6) ||
			   !strncmp(path, "out/mvd", 7)))
		return;
	ksft_print_msg("fuzz: something new outside the jail: %s (mode %o)\n", path,
		       st->st_mode);
	v->bad++;
}

/* Nothing outside changed, went or came; the number of problems. */
static int fz_outside_check(struct fz_env *e, bool threads)
{
	struct fz_outside_seen v = { .e = e, .threads = threads };

	fz_walk(e->t.base_fd, "", 0, fz_outside_one, &v);
	if (e->mounted) {
		int m = open(e->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (m >= 0) {
			fz_walk(m, "mnt:", 1, fz_outside_one, &v);
			close(m);
		}
	}
	for (int i = 0; i < e->noutside; i++) {
		if (v.found[i] || (threads && e->outside[i].wanders))
			continue;
		ksft_print_msg("fuzz: outside %s is gone\n", e->outside[i].path);
		v.bad++;
	}
	return v.bad;
}

static int fz_env_init(struct fz_env *e)
{
	char abs_secret[PATH_MAX + 32];
	int err, j, sv[2];
	long long v;

	memset(e, 0, sizeof(*e));
	e->out_fd = e->file_rw = e->file_ro = e->file_wo = e->sub_fd = -1;
	e->null_fd = e->opath_fd = e->sock_fd = e->proc_fd = -1;
	e->pipe_fd[0] = e->pipe_fd[1] = -1;
	err = cc_tree_create(&e->t, "fuzz");
	if (err)
		return err;
	j = e->t.jail_fd;
	snprintf(abs_secret, sizeof(abs_secret), "%s/secret", e->t.base);
	if (symlinkat("hello", j, "ln_in") || symlinkat("../secret", j, "ln_up") ||
	    symlinkat(abs_secret, j, "ln_abs") || symlinkat("/", j, "ln_root") ||
	    symlinkat("ln_loop", j, "ln_loop") || symlinkat("sub", j, "ln_dir") ||
	    symlinkat("sub/../..", j, "ln_dotdot") ||
	    symlinkat("/proc/self/root", j, "ln_proc") ||
	    symlinkat("../hello", j, "sub/ln_back") ||
	    symlinkat("../../secret", j, "sub/ln_esc"))
		return -errno;
	if (mkfifoat(j, "fifo", 0644))
		return -errno;
	mknodat(j, "null", S_IFCHR | 0666, makedev(1, 3));	/* root only */
	if (mkdirat(j, "mnt", 0755) || mkdirat(j, "mv", 0755) ||
	    mkdirat(j, "mvd", 0755) || mkdirat(e->t.base_fd, "out", 0755))
		return -errno;
	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->t.jail);
	if (!mount("capchan-fuzz", e->mnt, "tmpfs", 0, "size=1m,mode=0755"))
		e->mounted = true;
	snprintf(e->out, sizeof(e->out), "%s/out", e->t.base);
	e->out_fd = open(e->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->out_fd < 0)
		return -errno;
	err = cc_put_str(j, "mnt/x", "mounted\n");
	if (!err)
		err = cc_put_str(j, "mv/x", "inside\n");
	if (!err)
		err = cc_put_str(e->out_fd, "secret2", CC_SECRET);
	if (!err)
		err = cc_put_str(e->out_fd, "secret3", CC_SECRET);
	if (err)
		return err;
	if (fz_bad_add(e, e->t.base_fd, ".") || fz_bad_add(e, e->t.base_fd, "secret") ||
	    fz_bad_add(e, e->out_fd, ".") || fz_bad_add(e, e->out_fd, "secret2") ||
	    fz_bad_add(e, AT_FDCWD, "/") || fz_bad_add(e, e->out_fd, "secret3"))
		return -EIO;
	/*
	 * The renamer moves secret3 into mvd while mvd is outside: a DIR
	 * capability on mvd itself may legitimately reach it then, a DIR
	 * capability on the jail (or sub) never.
	 */
	e->bad[e->nbad - 1].wanders = true;
	if (fz_outside_record(e))
		return -EIO;
	{
		struct stat st;

		if (fstat(j, &st))
			return -errno;
		e->jail_dev = st.st_dev;
	}

	e->file_rw = openat(j, "file", O_RDWR | O_CLOEXEC);
	e->file_ro = openat(j, "hello", O_RDONLY | O_CLOEXEC);
	e->file_wo = openat(j, "sub/inner", O_WRONLY | O_CLOEXEC);
	e->sub_fd = openat(j, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	e->opath_fd = openat(j, "hello", O_PATH | O_CLOEXEC);
	if (e->file_rw < 0 || e->file_ro < 0 || e->file_wo < 0 || e->sub_fd < 0 ||
	    e->null_fd < 0 || e->opath_fd < 0)
		return -errno;
	if (pipe2(e->pipe_fd, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	e->sock_fd = sv[0];
	close(sv[1]);

	e->scratch = mmap(NULL, FZ_SCRATCH + 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e->ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e->none = mmap(NULL, FZ_NONE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	e->priv = mmap(NULL, FZ_PRIV, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->scratch == MAP_FAILED || e->ro == MAP_FAILED ||
	    e->none == MAP_FAILED || e->priv == MAP_FAILED)
		return -ENOMEM;
	e->guard = e->scratch + FZ_SCRATCH;
	if (mprotect(e->guard, 4096, PROT_NONE))
		return -errno;
	e->longpath = malloc(PATH_MAX + 32);
	if (!e->longpath)
		return -ENOMEM;
	memset(e->longpath, 'a', PATH_MAX + 16);
	e->longpath[PATH_MAX + 16] = '\0';

	v = cc_module_param("max_caps", &err);
	e->max_caps = err ? 4096 : (unsigned int)v;
	v = cc_module_param("max_depth", &err);
	e->max_depth = err ? 64 : (unsigned int)v;
	v = cc_module_param("disabled_ops", &err);
	e->disabled_ops = err ? 0 : (uint64_t)v;
	return 0;
}

static void fz_env_destroy(struct fz_env *e)
{
	int fds[] = { e->out_fd, e->file_rw, e->file_ro, e->file_wo, e->sub_fd,
		      e->null_fd, e->opath_fd, e->sock_fd, e->pipe_fd[0],
		      e->pipe_fd[1], e->proc_fd };

	for (size_t i = 0; i < CC_ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (e->mounted)
		umount2(e->mnt, MNT_DETACH);
	if (e->scratch && e->scratch != MAP_FAILED)
		munmap(e->scratch, FZ_SCRATCH + 4096);
	if (e->ro && e->ro != MAP_FAILED)
		munmap(e->ro, 4096);
	if (e->none && e->none != MAP_FAILED)
		munmap(e->none, FZ_NONE);
	if (e->priv && e->priv != MAP_FAILED)
		munmap(e->priv, FZ_PRIV);
	free(e->longpath);
	cc_tree_destroy(&e->t);
}

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

struct fz_pool {
	uint32_t h[FZ_POOL];
	uint64_t rights[FZ_POOL];
	uint8_t type[FZ_POOL];		/* CAPCHAN_CAP_*, 0: unknown */
	unsigned int n, next;
};

struct fz_chan {
	int fd;
	bool rings, sealed, mapped;
	struct capchan_params p;	/* as returned by SETUP (rings) */
	char *map;
	size_t map_len;
	uint32_t *sq_head, *sq_tail, *cq_head, *cq_tail;
	uint32_t *words[7];		/* masks, entries, flags, dropped, overflow */
	struct capchan_sqe *sqes;
	struct capchan_cqe *cqes;
	uint32_t sqn, cqn;
	struct fz_pool pool;
	uint32_t roots[8];
	uint64_t root_rights[8];
	uint8_t root_type[8];
	bool root_jail[8];		/* a DIR on the jail or on jail/sub */
	unsigned int nroots;
};

/* Per-thread (or per-process) fuzzing state. */
struct fz_w {
	struct fz_env *env;
	struct fz_rng r;
	struct fz_chan *c;		/* channel handles are picked from */
	char (*paths)[256];
	unsigned int path_next;
	bool ring_addrs;		/* buffers may point into c's ring */
	bool threads;			/* results may be racy (shared fd swaps) */
	uint64_t cookies[FZ_NCOOKIES];	/* READDIR cookies seen, for later READDIRs */
	unsigned int ncookies;
};

/* EXPORT results kept for IMPORT; owned (closed on eviction) unless threads. */
static pthread_mutex_t fz_capfd_lock = PTHREAD_MUTEX_INITIALIZER;
static int fz_capfds[FZ_CAPFDS];
static unsigned int fz_ncapfds;
static bool fz_capfds_owned = true;

static void fz_capfd_add(int fd)
{
	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_ncapfds == FZ_CAPFDS) {
		if (fz_capfds_owned)
			close(fz_capfds[0]);
		memmove(fz_capfds, fz_capfds + 1, sizeof(int) * (FZ_CAPFDS - 1));
		fz_ncapfds--;
	}
	fz_capfds[fz_ncapfds++] = fd;
	pthread_mutex_unlock(&fz_capfd_lock);
}

static int fz_capfd_pick(struct fz_rng *r)
{
	int fd = -1;

	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_ncapfds)
		fd = fz_capfds[fz_rn(r, fz_ncapfds)];
	pthread_mutex_unlock(&fz_capfd_lock);
	return fd;
}

static void fz_capfd_close_all(void)
{
	pthread_mutex_lock(&fz_capfd_lock);
	if (fz_capfds_owned)
		for (unsigned int i = 0; i < fz_ncapfds; i++)
			close(fz_capfds[i]);
	fz_ncapfds = 0;
	pthread_mutex_unlock(&fz_capfd_lock);
}

static long fz_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static long fz_invoke(int fd, const struct capchan_sqe *s)
{
	return fz_ioctl(fd, CAPCHAN_IOC_INVOKE, (void *)s);
}

static bool fz_handle_ok(long h)
{
	return h > 0 && h <= (long)CAPCHAN_HANDLE_MAX;
}

static void fz_pool_add(struct fz_chan *c, uint32_t h, uint64_t rights,
			unsigned int type, bool close_evicted)
{
	struct fz_pool *p = &c->pool;
	unsigned int i;

	if (p->n < FZ_POOL) {
		i = p->n++;
	} else {
		i = p->next++ % FZ_POOL;
		if (close_evicted) {
			struct capchan_sqe s;

			cc_sqe(&s, CAPCHAN_OP_CLOSE, p->h[i]);
			fz_invoke(c->fd, &s);	/* may be stale already */
		}
	}
	p->h[i] = h;
	p->rights[i] = rights;
	p->type[i] = type;
}

static void fz_ring_ptrs(struct fz_chan *c)
{
	char *m = c->map;
	struct capchan_params *p = &c->p;

	c->sq_head = (uint32_t *)(m + p->sq_off.head);
	c->sq_tail = (uint32_t *)(m + p->sq_off.tail);
	c->cq_head = (uint32_t *)(m + p->cq_off.head);
	c->cq_tail = (uint32_t *)(m + p->cq_off.tail);
	c->words[0] = (uint32_t *)(m + p->sq_off.ring_mask);
	c->words[1] = (uint32_t *)(m + p->sq_off.ring_entries);
	c->words[2] = (uint32_t *)(m + p->sq_off.flags);
	c->words[3] = (uint32_t *)(m + p->sq_off.dropped);
	c->words[4] = (uint32_t *)(m + p->cq_off.ring_mask);
	c->words[5] = (uint32_t *)(m + p->cq_off.ring_entries);
	c->words[6] = (uint32_t *)(m + p->cq_off.overflow);
	c->sqes = (struct capchan_sqe *)(m + p->sq_off.sqes);
	c->cqes = (struct capchan_cqe *)(m + p->cq_off.cqes);
}

/* Check what SETUP returned against what was asked; 0 if consistent. */
static void fz_check_params(const struct capchan_params *in,
			    const struct capchan_params *p)
{
	uint32_t sq = 1, cq;

	while (sq < in->sq_entries)
		sq <<= 1;
	if (in->flags & CAPCHAN_SETUP_CQSIZE)
		for (cq = 1; cq < in->cq_entries; cq <<= 1)
			;
	else
		cq = 2 * sq;
	FZ_CHECK(p->sq_entries == sq, "sq %u -> %u", in->sq_entries, p->sq_entries);
	FZ_CHECK(p->cq_entries == cq, "cq %u -> %u", in->cq_entries, p->cq_entries);
	FZ_CHECK((p->features & ~CAPCHAN_FEAT_BTF) == FZ_FEATURES, "features %#x", p->features);
	FZ_CHECK(p->ring_size && !(p->ring_size & 4095), "ring_size %u", p->ring_size);
	FZ_CHECK((uint64_t)p->sq_off.sqes + (uint64_t)sq * 64 <= p->ring_size &&
		 (uint64_t)p->cq_off.cqes + (uint64_t)cq * 16 <= p->ring_size &&
		 !(p->sq_off.sqes & 7) && !(p->cq_off.cqes & 7) &&
		 p->sq_off.head + 4 <= p->ring_size && p->sq_off.tail + 4 <= p->ring_size &&
		 p->cq_off.head + 4 <= p->ring_size && p->cq_off.tail + 4 <= p->ring_size,
		 "layout sqes %u cqes %u size %u", p->sq_off.sqes, p->cq_off.cqes,
		 p->ring_size);
	FZ_CHECK(p->sq_off.head != p->sq_off.tail && p->cq_off.head != p->cq_off.tail &&
		 p->sq_off.tail != p->cq_off.head, "index offsets overlap");
}

static int fz_chan_map(struct fz_chan *c)
{
	void *m = mmap(NULL, c->p.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	c->map = m;
	c->map_len = c->p.ring_size;
	c->mapped = true;
	fz_ring_ptrs(c);
	return 0;
}

static void fz_chan_grants(struct fz_chan *c, struct fz_env *e)
{
	const struct {
		int fd;
		uint64_t rights;
	} g[] = {
		{ e->t.jail_fd, R_ALL },
		{ e->file_rw, R_FILE_ALL },
		{ e->proc_fd, R_READ | R_SEEK | R_STAT | R_LOOKUP | R_DERIVE |
			      R_DELEGATE | R_REVOKE },
		{ e->file_ro, R_READ | R_SEEK | R_STAT | R_DERIVE | R_DELEGATE },
		{ e->sub_fd, R_LOOKUP | R_CREATE | R_READ | R_WRITE | R_STAT |
			     R_DERIVE | R_REVOKE },
		{ e->t.jail_fd, R_LOOKUP },
	};

	c->nroots = 0;
	for (size_t i = 0; i < CC_ARRAY_SIZE(g); i++) {
		uint32_t type = 0;
		int h;

		if (g[i].fd < 0)
			continue;
		h = cc_grant(c->fd, g[i].fd, g[i].rights, &type);
		if (h > 0) {
			c->roots[c->nroots] = h;
			c->root_type[c->nroots] = type;
			c->root_jail[c->nroots] = g[i].fd == e->t.jail_fd || g[i].fd == e->sub_fd;
			c->root_rights[c->nroots++] = g[i].rights;
		}
	}
}

/* A channel: rings (random sizes) if asked, grants if asked; 0 or -errno. */
static int fz_chan_open(struct fz_chan *c, struct fz_env *e, struct fz_rng *r,
			bool rings, bool grants)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8, 16, 64, 3, 5 };
	int fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	fd = cc_open_dev();
	if (fd < 0)
		return fd;
	c->fd = fd;
	if (rings) {
		struct capchan_params in;

		memset(&c->p, 0, sizeof(c->p));
		c->p.sq_entries = sizes[fz_rn(r, CC_ARRAY_SIZE(sizes))];
		if (fz_pct(r, 40)) {
			c->p.flags = CAPCHAN_SETUP_CQSIZE;
			c->p.cq_entries = c->p.sq_entries * (1 + fz_rn(r, 8));
		}
		in = c->p;
		if (fz_ioctl(fd, CAPCHAN_IOC_SETUP, &c->p))
			return -EIO;
		fz_check_params(&in, &c->p);
		c->rings = true;
		c->sqn = c->p.sq_entries;
		c->cqn = c->p.cq_entries;
		if (fz_chan_map(c))
			return -EIO;
	}
	if (grants)
		fz_chan_grants(c, e);
	return 0;
}

static void fz_chan_close(struct fz_chan *c)
{
	if (c->mapped)
		munmap(c->map, c->map_len);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* ------------------------------------------------------------------ */
/* Random fields                                                       */
/* ------------------------------------------------------------------ */

static uint64_t fz_kaddr(struct fz_rng *r)
{
	static const uint64_t k[] = {
		0xffff888000000000ULL, 0xffffffff81000000ULL,
		0xffffc90000000000ULL, 0x0000800000000000ULL,	/* non-canonical */
		0xfffffffffffff000ULL, 0x00007ffffffff000ULL,
	};

	return k[fz_rn(r, CC_ARRAY_SIZE(k))] + (fz_r64(r) & 0xfff);
}

/* A user pointer for an object of @len bytes, and what kind it is. */
enum fz_ptr_kind { FZP_OK, FZP_RO, FZP_BAD };

static uint64_t fz_objptr(struct fz_w *w, size_t len, enum fz_ptr_kind *kind)
{
	struct fz_env *e = w->env;
	unsigned int k = fz_rn(&w->r, 100);

	*kind = FZP_BAD;
	if (k < 3)
		return 0;
	if (k < 5)
		return fz_rn(&w->r, 4096);
	if (k < 7)
		return fz_kaddr(&w->r);
	if (k < 9)
		return (uintptr_t)e->none + fz_rn(&w->r, FZ_NONE - 64);
	if (k < 12)	/* straddles the guard page: a partial copy faults */
		return (uintptr_t)e->guard - 1 - fz_rn(&w->r, len > 1 ? len - 1 : 1);
	if (k < 15) {
		*kind = FZP_RO;
		return (uintptr_t)e->ro + fz_rn(&w->r, 4096 - len);
	}
	*kind = FZP_OK;
	return (uintptr_t)e->priv + 64 * fz_rn(&w->r, (FZ_PRIV - 4096) / 64);
}

/* A buffer for READ/WRITE/STAT and its length. */
static uint64_t fz_buf(struct fz_w *w, uint32_t *len, bool write)
{
	struct fz_env *e = w->env;
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);

	if (k < 50) {
		*len = fz_pct(r, 60) ? fz_rn(r, 600) : fz_rn(r, 65537);
		return (uintptr_t)e->scratch + fz_rn(r, FZ_SCRATCH - 65536);
	}
	if (k < 58) {
		uint32_t before = 1 + fz_rn(r, 4096);

		*len = before + fz_rn(r, 8192);
		return (uintptr_t)e->guard - before;
	}
	if (k < 62) {
		*len = fz_pct(r, 50) ? 0 : fz_rn(r, 4096);
		return 0;
	}
	if (k < 65) {
		*len = fz_rn(r, 4096);
		return fz_kaddr(r);
	}
	if (k < 70) {
		*len = fz_rn(r, 4097);
		return (uintptr_t)e->ro;
	}
	if (k < 74) {
		*len = fz_rn(r, 4096);
		return (uintptr_t)e->none + fz_rn(r, 4096);
	}
	if (k < 78) {	/* huge lengths: clamped, faulting at the guard page */
		*len = fz_pct(r, 50) ? 0xffffffffu : 0x80000000u;
		if (write)	/* keep the tmpfs small */
			return (uintptr_t)e->guard - 4096 * (1 + fz_rn(r, 16));
		return (uintptr_t)e->scratch + fz_rn(r, 4096);
	}
	if (k < 86 && w->ring_addrs && w->c && w->c->mapped) {
		*len = fz_rn(r, (uint32_t)w->c->map_len + 1);
		return (uintptr_t)w->c->map + fz_rn(r, (uint32_t)w->c->map_len);
	}
	*len = fz_rn(r, 4096);
	return (uintptr_t)e->scratch + FZ_SCRATCH - 65536 + fz_rn(r, 60000);
}

static uint64_t fz_rw_off(struct fz_rng *r)
{
	unsigned int k = fz_rn(r, 100);

	if (k < 45)
		return CAPCHAN_OFF_CURRENT;
	if (k < 75)
		return fz_rn(r, 16384);
	if (k < 86)
		return fz_rn(r, 1 << 20);
	if (k < 90)
		return (1ULL << 40) + fz_rn(r, 1 << 20);
	if (k < 94)
		return (uint64_t)LLONG_MAX - fz_rn(r, 8192);
	if (k < 97)
		return (uint64_t)LLONG_MAX + 1 + fz_rn(r, 1000);
	return fz_r64(r);
}

static uint64_t fz_rights(struct fz_w *w)
{
	static const uint64_t common[] = {
		R_READ | R_STAT, R_READ | R_WRITE | R_SEEK | R_STAT,
		R_LOOKUP | R_READ | R_STAT | R_DERIVE | R_DELEGATE | R_REVOKE,
		R_LOOKUP | R_CREATE | R_READ | R_WRITE | R_SEEK | R_STAT | R_SYNC,
		R_ALL, 0, R_WRITE, R_READ | R_SEEK | R_STAT | R_DERIVE | R_REVOKE,
	};
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);

	if (k < 3)
		return fz_r64(r);
	if (k < 5)
		return R_UNKNOWN << fz_rn(r, 20);
	if (k < 35)
		return fz_r64(r) & R_ALL;
	if (k < 60 && w->c && w->c->pool.n)
		return w->c->pool.rights[fz_rn(r, w->c->pool.n)] & fz_r64(r);
	return common[fz_rn(r, CC_ARRAY_SIZE(common))];
}

static uint32_t fz_handle(struct fz_w *w)
{
	struct fz_chan *c = w->c;
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	uint32_t h;

	if (!c)
		return fz_r64(r);
	if (k < 30 && c->nroots)
		return c->roots[fz_rn(r, c->nroots)];
	if (k < 65 && c->pool.n)
		return c->pool.h[fz_rn(r, c->pool.n)];
	if (k < 75)
		return CAPCHAN_HANDLE_CHAIN;
	if (k < 80)
		return 0;
	if (k < 88)
		return (uint32_t)fz_r64(r);
	/* a live handle, forged: its slot under another number, or bit 31 */
	h = c->nroots ? c->roots[fz_rn(r, c->nroots)] : 0x10000;
	switch (fz_rn(r, 5)) {
	case 0: return h + 0x10000;
	case 1: return h - 0x10000;
	case 2: return h + 1 + fz_rn(r, 70000);
	case 3: return h | 0x80000000u;
	default: return h ^ 0x40000000u;
	}
}

/* A handle of a known type (0: any) from the roots and the pool, if any. */
static bool fz_typed_handle(struct fz_w *w, unsigned int type, uint32_t *h,
			    uint64_t *rights)
{
	struct fz_chan *c = w->c;
	unsigned int n = 0, pick;

	if (!c)
		return false;
	for (unsigned int i = 0; i < c->nroots; i++)
		n += !type || c->root_type[i] == type;
	for (unsigned int i = 0; i < c->pool.n; i++)
		n += !type || c->pool.type[i] == type;
	if (!n)
		return false;
	pick = fz_rn(&w->r, n);
	for (unsigned int i = 0; i < c->nroots; i++)
		if ((!type || c->root_type[i] == type) && !pick--) {
			*h = c->roots[i];
			*rights = c->root_rights[i];
			return true;
		}
	for (unsigned int i = 0; i < c->pool.n; i++)
		if ((!type || c->pool.type[i] == type) && !pick--) {
			*h = c->pool.h[i];
			*rights = c->pool.rights[i];
			return true;
		}
	return false;
}

/* Mostly a subset of @have: what a well-behaved caller would ask for. */
static uint64_t fz_subset(struct fz_w *w, uint64_t have)
{
	if (fz_pct(&w->r, 30))
		return have;
	if (fz_pct(&w->r, 85))
		return have & fz_r64(&w->r);
	return fz_rights(w);
}

static const char *const fz_jail_paths[] = {
	"file", "hello", "sub", "sub/inner", "sub/deeper/leaf", "sub/deeper",
	"sub/../hello", "sub/./inner", "./hello", ".", "./", "..", "../secret",
	"../jail/hello", "/etc/passwd", "/", "ln_in", "ln_up", "ln_abs",
	"ln_root", "ln_root/etc", "ln_loop", "ln_dir", "ln_dir/inner",
	"ln_dir/../hello", "ln_dir/../../secret", "ln_dotdot", "ln_proc",
	"sub/ln_back", "sub/ln_esc", "fifo", "null", "mnt", "mnt/x", "mnt/../hello",
	"mv/x", "mv", "mvd", "mvd/y", "nonexistent", "nonexistent/x", "sub/",
	"hello/", "file/x", "sub//inner", "inner", "deeper/leaf", "../sub/inner",
	"ln_back", "ln_esc", "x", "y",
};

static const char *const fz_proc_paths[] = {
	"status", "stat", "maps", "mem", "fd", "fd/0", "fd/1", "fd/3", "fdinfo",
	"fdinfo/0", "fdinfo/3", "exe", "cwd", "root", "root/etc", "ns/net",
	"ns", "task", "environ", "cmdline", "attr/current", "pagemap", "..",
	"../self/status", "net/dev", "comm", "limits", "clear_refs", "mountinfo",
	"task/../status", "oom_score_adj", "io", "wchan", "personality",
};

static const char *const fz_comp[] = {
	"sub", "..", ".", "ln_dir", "deeper", "inner", "hello", "file", "mnt",
	"x", "mv", "mvd", "ln_up", "ln_in", "ln_loop", "fifo", "", "y", "leaf",
	"fd", "task", "root", "new0",
};

/* A path for OPEN: in the per-worker arena, or a hostile pointer. */
static uint64_t fz_path(struct fz_w *w)
{
	struct fz_env *e = w->env;
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	char *buf;

	if (k < 3)
		return 0;
	if (k < 5)
		return fz_kaddr(r);
	if (k < 7)
		return (uintptr_t)e->none + fz_rn(r, FZ_NONE);
	if (k < 9)
		return (uintptr_t)e->longpath + fz_rn(r, 16);
	if (k < 11) {	/* unterminated, running into the guard page */
		char *p = e->guard - 1 - fz_rn(r, 128);

		memset(p, 'a', e->guard - p);
		return (uintptr_t)p;
	}
	buf = w->paths[w->path_next++ % FZ_NPATHS];
	if (k < 16) {
		size_t n = fz_rn(r, 40);

		fz_bytes(r, buf, n);
		buf[n] = '\0';
	} else if (k < 40) {
		unsigned int n = 1 + fz_rn(r, 4);

		buf[0] = '\0';
		for (unsigned int i = 0; i < n; i++) {
			if (i)
				strcat(buf, "/");
			strcat(buf, fz_comp[fz_rn(r, CC_ARRAY_SIZE(fz_comp))]);
		}
	} else if (k < 55) {
		snprintf(buf, 256, "%s", fz_proc_paths[fz_rn(r, CC_ARRAY_SIZE(fz_proc_paths))]);
	} else if (k < 65) {
		static const char *const dirs[] = { "", "sub/", "mnt/", "ln_dir/",
						    "mv/", "mvd/", "nonexistent/" };

		snprintf(buf, 256, "%snew%u", dirs[fz_rn(r, CC_ARRAY_SIZE(dirs))],
			 fz_rn(r, 12));
	} else {
		snprintf(buf, 256, "%s", fz_jail_paths[fz_rn(r, CC_ARRAY_SIZE(fz_jail_paths))]);
	}
	return (uintptr_t)buf;
}

/*
 * A path for the directory ops: half the time one of the few names they
 * (and OPEN with O_CREAT) make, so that what one makes another removes or
 * renames; else any path.
 */
static uint64_t fz_dpath(struct fz_w *w)
{
	static const char *const dirs[] = { "", "sub/", "new0/", "new1/", "mv/",
					    "mvd/", "ln_dir/", "sub/deeper/" };
	struct fz_rng *r = &w->r;
	char *buf;

	if (fz_pct(r, 50))
		return fz_path(w);
	buf = w->paths[w->path_next++ % FZ_NPATHS];
	snprintf(buf, 256, "%snew%u%s", dirs[fz_rn(r, CC_ARRAY_SIZE(dirs))],
		 fz_rn(r, 6), fz_pct(r, 5) ? "/" : "");
	return (uintptr_t)buf;
}

/* An fd number for IMPORT (sqe->off). */
static uint64_t fz_import_fd(struct fz_w *w)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	int fd;

	if (k < 55 && (fd = fz_capfd_pick(r)) >= 0)
		return fd;
	if (k < 75)
		return fz_rn(r, 40);
	if (k < 80)
		return w->env->file_rw;
	if (k < 85)
		return (uint64_t)-1;
	if (k < 90)
		return (uint64_t)INT_MAX + fz_rn(r, 3);
	return fz_r64(r);
}

/* A READDIR cookie: the start, one seen before, or made up. */
static uint64_t fz_cookie(struct fz_w *w)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);

	if (k < 40)
		return 0;
	if (k < 70 && w->ncookies)
		return w->cookies[fz_rn(r, w->ncookies < FZ_NCOOKIES ?
					      w->ncookies : FZ_NCOOKIES)];
	if (k < 82)
		return fz_rn(r, 64);
	if (k < 90)
		return fz_rn(r, 1 << 20);
	if (k < 95)
		return (uint64_t)LLONG_MAX + 1 + fz_rn(r, 1000);
	return fz_r64(r);
}

static const int fz_oflag_bits[] = {
	O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK,
};
static const int fz_oflag_junk[] = {
	O_RDWR, O_WRONLY, O_PATH, O_TMPFILE, O_SYNC, O_DIRECT, O_NOCTTY,
	O_NOATIME, O_CLOEXEC, (int)0x80000000u, 3,
};

/* A random SQE: mostly well-formed ops with random fields, some garbage. */
static void fz_gen_sqe(struct fz_w *w, struct capchan_sqe *s)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100), op;
	uint64_t have_rights = 0;

	memset(s, 0, sizeof(*s));
	if (k < 3) {
		fz_bytes(r, s, sizeof(*s));
		return;
	}
	if (k < 8) {
		op = CAPCHAN_OP_LAST + fz_rn(r, 256 - CAPCHAN_OP_LAST);
	} else {
		static const uint8_t weights[] = {
			CAPCHAN_OP_NOP, CAPCHAN_OP_NOP, CAPCHAN_OP_OPEN, CAPCHAN_OP_OPEN,
			CAPCHAN_OP_OPEN, CAPCHAN_OP_OPEN, CAPCHAN_OP_READ, CAPCHAN_OP_READ,
			CAPCHAN_OP_READ, CAPCHAN_OP_WRITE, CAPCHAN_OP_WRITE,
			CAPCHAN_OP_FSYNC, CAPCHAN_OP_STAT, CAPCHAN_OP_STAT,
			CAPCHAN_OP_DERIVE, CAPCHAN_OP_DERIVE, CAPCHAN_OP_REVOKE,
			CAPCHAN_OP_CLOSE, CAPCHAN_OP_CLOSE, CAPCHAN_OP_EXPORT,
			CAPCHAN_OP_IMPORT, CAPCHAN_OP_IMPORT, CAPCHAN_OP_PREFETCH,
			CAPCHAN_OP_READDIR, CAPCHAN_OP_READDIR, CAPCHAN_OP_STATAT,
			CAPCHAN_OP_STATAT, CAPCHAN_OP_MKDIR, CAPCHAN_OP_UNLINK,
			CAPCHAN_OP_RMDIR, CAPCHAN_OP_SYMLINK, CAPCHAN_OP_RENAME,
			CAPCHAN_OP_RENAME, CAPCHAN_OP_TRUNCATE,
		};

		op = weights[fz_rn(r, sizeof(weights))];
	}
	s->opcode = op;
	s->handle = fz_handle(w);
	{
		static const uint8_t want[CAPCHAN_OP_LAST] = {
			[CAPCHAN_OP_OPEN] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_READ] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_WRITE] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_FSYNC] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_PREFETCH] = CAPCHAN_CAP_FILE,
			[CAPCHAN_OP_READDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_STATAT] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_MKDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_UNLINK] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_RMDIR] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_SYMLINK] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_RENAME] = CAPCHAN_CAP_DIR,
			[CAPCHAN_OP_TRUNCATE] = CAPCHAN_CAP_FILE,
		};
		uint64_t have;

		if (op < CAPCHAN_OP_LAST && op != CAPCHAN_OP_NOP && op != CAPCHAN_OP_IMPORT &&
		    fz_pct(r, 55) && fz_typed_handle(w, want[op], &s->handle, &have))
			have_rights = have;
		/* the directory ops mostly on the jail's DIR with every right */
		if (op >= CAPCHAN_OP_READDIR && op < CAPCHAN_OP_TRUNCATE && w->c &&
		    w->c->nroots && w->c->root_type[0] == CAPCHAN_CAP_DIR && fz_pct(r, 35))
			s->handle = w->c->roots[0];
	}
	switch (op) {
	case CAPCHAN_OP_NOP:
		if (fz_pct(r, 80))
			s->handle = 0;
		break;
	case CAPCHAN_OP_OPEN: {
		int flags = 0;

		for (size_t i = 0; i < CC_ARRAY_SIZE(fz_oflag_bits); i++)
			if (fz_pct(r, fz_oflag_bits[i] == O_CREAT ? 25 : 7))
				flags |= fz_oflag_bits[i];
		if (fz_pct(r, 3))
			flags |= fz_oflag_junk[fz_rn(r, CC_ARRAY_SIZE(fz_oflag_junk))];
		s->op_flags = flags;
		s->addr = fz_path(w);
		if (flags & O_CREAT)
			s->off = fz_pct(r, 95) ? fz_rn(r, 01000) | (fz_pct(r, 5) ? 07000 : 0)
					      : fz_r64(r);
		else if (fz_pct(r, 3))
			s->off = 1 + fz_rn(r, 0777);
		s->rights = have_rights ? fz_subset(w, have_rights) : fz_rights(w);
		break;
	}
	case CAPCHAN_OP_READ:
	case CAPCHAN_OP_WRITE:
		s->addr = fz_buf(w, &s->len, op == CAPCHAN_OP_WRITE);
		s->off = fz_rw_off(r);
		break;
	case CAPCHAN_OP_FSYNC:
		s->op_flags = fz_pct(r, 40) ? CAPCHAN_FSYNC_DATASYNC : 0;
		break;
	case CAPCHAN_OP_STAT: {
		enum fz_ptr_kind kind;

		s->addr = fz_objptr(w, sizeof(struct capchan_stat), &kind);
		s->len = fz_pct(r, 95) ? sizeof(struct capchan_stat) : fz_rn(r, 256);
		break;
	}
	case CAPCHAN_OP_DERIVE:
	case CAPCHAN_OP_EXPORT:
		s->rights = have_rights ? fz_subset(w, have_rights) : fz_rights(w);
		break;
	case CAPCHAN_OP_IMPORT:
		if (fz_pct(r, 85))
			s->handle = 0;
		s->off = fz_import_fd(w);
		break;
	case CAPCHAN_OP_PREFETCH:
		s->off = fz_pct(r, 90) ? fz_rn(r, 1 << 20) : fz_r64(r);
		s->len = fz_rn(r, 1 << 20);
		break;
	case CAPCHAN_OP_READDIR:
		s->addr = fz_buf(w, &s->len, false);
		s->off = fz_cookie(w);
		break;
	case CAPCHAN_OP_STATAT: {
		enum fz_ptr_kind kind;

		s->addr = fz_dpath(w);
		s->addr2 = fz_objptr(w, sizeof(struct capchan_stat), &kind);
		s->len = fz_pct(r, 95) ? sizeof(struct capchan_stat) : fz_rn(r, 256);
		s->op_flags = fz_pct(r, 50) ? CAPCHAN_STATAT_NOFOLLOW : 0;
		if (fz_pct(r, 3))
			s->op_flags = fz_r64(r);
		break;
	}
	case CAPCHAN_OP_MKDIR:
		s->addr = fz_dpath(w);
		s->off = fz_pct(r, 95) ? fz_rn(r, 01000) | (fz_pct(r, 5) ? 07000 : 0)
				      : fz_r64(r);
		break;
	case CAPCHAN_OP_UNLINK:
	case CAPCHAN_OP_RMDIR:
		s->addr = fz_dpath(w);
		break;
	case CAPCHAN_OP_SYMLINK:
		s->addr = fz_dpath(w);
		/* link texts as hostile as the paths: followed later, scoped */
		s->addr2 = fz_pct(r, 95) ? fz_path(w) : 0;
		break;
	case CAPCHAN_OP_RENAME: {
		uint64_t have;
		uint32_t to;

		s->addr = fz_dpath(w);
		s->addr2 = fz_dpath(w);
		s->len = s->handle;
		/*
		 * Not across DIRs while the renamer runs: a DIR on mvd, taken
		 * outside by it, could bring the outside secret3 in (legitimately,
		 * its DIR names it) and the OPEN oracle would cry wolf.
		 */
		if (!w->threads && fz_pct(r, 50)) {
			if (fz_pct(r, 70) && fz_typed_handle(w, CAPCHAN_CAP_DIR, &to, &have))
				s->len = to;
			else
				s->len = fz_handle(w);
		}
		k = fz_rn(r, 100);
		s->op_flags = k < 60 ? 0 : k < 75 ? CAPCHAN_RENAME_NOREPLACE :
			      k < 90 ? CAPCHAN_RENAME_EXCHANGE :
			      k < 95 ? fz_rn(r, 8) : (uint32_t)fz_r64(r);
		break;
	}
	case CAPCHAN_OP_TRUNCATE:
		k = fz_rn(r, 100);
		s->off = k < 60 ? fz_rn(r, 20000) : k < 80 ? fz_rn(r, 1 << 20) :
			 k < 88 ? (1ULL << 40) + fz_rn(r, 1 << 20) :
			 k < 93 ? (uint64_t)LLONG_MAX - fz_rn(r, 8192) :
			 k < 97 ? (uint64_t)LLONG_MAX + 1 + fz_rn(r, 1000) : fz_r64(r);
		break;
	default:
		s->off = fz_pct(r, 50) ? 0 : fz_r64(r);
		break;
	}
	/* stray bits: a field the op does not use, a reserved field */
	if (fz_pct(r, 5)) {
		unsigned char *b = (unsigned char *)s;

		b[fz_rn(r, sizeof(*s))] ^= 1 << fz_rn(r, 8);
	}
	if (fz_pct(r, 2))
		s->resv0 = fz_r64(r);
	if (fz_pct(r, 1))
		s->resv1 = fz_r64(r) | 1;
	if (fz_pct(r, 1))
		s->resv2 = fz_r64(r) | 1;
	k = fz_rn(r, 100);
	s->flags = k < 85 ? 0 : k < 97 ? CAPCHAN_SQE_LINK : (uint8_t)fz_r64(r);
	s->user_data = fz_r64(r);
}

/* ------------------------------------------------------------------ */
/* Result oracle                                                       */
/* ------------------------------------------------------------------ */

#define FZ_M_INVOKE	(1u << 0)	/* result of INVOKE, not a CQE */
#define FZ_M_CANCEL	(1u << 1)	/* the chain failed earlier: -ECANCELED */
#define FZ_M_CHAIN0	(1u << 2)	/* no handle made earlier in this chain */
#define FZ_M_THREADS	(1u << 3)	/* the fd may be gone (concurrent close) */

static bool fz_in(int e, const int *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == e)
			return true;
	return false;
}

/* May op fail with -e?  (The order of checks is not modelled here.) */
static bool fz_errno_ok(unsigned int op, int e)
{
	static const int common[] = {
		EINVAL, EOPNOTSUPP, EBADF, EKEYREVOKED, ENOTDIR, EISDIR, EPERM,
	};
	static const int open_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EEXIST, EMFILE,
		EMLINK, EAGAIN, ENOMEM, ENOSPC, ENXIO, ENODEV, EIO,
		ESRCH,	/* procfs beneath the granted /proc/<pid> of a dead task */
		EDQUOT, ENFILE,	/* the user's capability and file limits */
	};
	static const int rw_e[] = { EFAULT, EIO, ENOMEM, EAGAIN, ENOSPC, EFBIG };
	static const int stat_e[] = { EFAULT };
	static const int make_e[] = { EMFILE, EMLINK, ENOMEM, ENFILE, EDQUOT };
	static const int misc_e[] = { EIO, ESPIPE };
	/* a removed directory lists as ENOENT; /proc of a dead task as ESRCH */
	static const int readdir_e[] = {
		EFAULT, ENOENT, EIO, ENOMEM, EACCES, ESRCH, EINTR,
	};
	static const int statat_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EAGAIN, ENOMEM,
		ESRCH, EIO,
	};
	/* MKDIR, SYMLINK, UNLINK, RMDIR, RENAME: what their system calls say */
	static const int dir_e[] = {
		ENAMETOOLONG, EFAULT, ENOENT, EXDEV, ELOOP, EACCES, EAGAIN, ENOMEM,
		ESRCH, EIO, EEXIST, ENOSPC, EMLINK, EROFS, EDQUOT, EBUSY, ENOTEMPTY,
	};
	static const int truncate_e[] = {
		EFBIG, EACCES, ETXTBSY, EIO, EAGAIN, ENOMEM, ENOSPC, EINTR,
	};

	if (fz_in(e, common, CC_ARRAY_SIZE(common)))
		return true;
	switch (op) {
	case CAPCHAN_OP_OPEN:
		return fz_in(e, open_e, CC_ARRAY_SIZE(open_e));
	case CAPCHAN_OP_READ:
	case CAPCHAN_OP_WRITE:
		return fz_in(e, rw_e, CC_ARRAY_SIZE(rw_e));
	case CAPCHAN_OP_STAT:
		return fz_in(e, stat_e, CC_ARRAY_SIZE(stat_e));
	case CAPCHAN_OP_DERIVE:
	case CAPCHAN_OP_EXPORT:
	case CAPCHAN_OP_IMPORT:
		return fz_in(e, make_e, CC_ARRAY_SIZE(make_e));
	case CAPCHAN_OP_FSYNC:
	case CAPCHAN_OP_PREFETCH:
		return fz_in(e, misc_e, CC_ARRAY_SIZE(misc_e));
	case CAPCHAN_OP_READDIR:
		return fz_in(e, readdir_e, CC_ARRAY_SIZE(readdir_e));
	case CAPCHAN_OP_STATAT:
		return fz_in(e, statat_e, CC_ARRAY_SIZE(statat_e));
	case CAPCHAN_OP_MKDIR:
	case CAPCHAN_OP_SYMLINK:
		/* creating never finds a directory not empty, nor busy */
		return e != EBUSY && e != ENOTEMPTY && fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_UNLINK:
		return e != ENOTEMPTY && e != EEXIST && e != EMLINK && e != EDQUOT &&
		       e != ENOSPC && fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_RMDIR:
		return e != EEXIST && e != EMLINK && e != EDQUOT && e != ENOSPC &&
		       fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_RENAME:
		return fz_in(e, dir_e, CC_ARRAY_SIZE(dir_e));
	case CAPCHAN_OP_TRUNCATE:
		return fz_in(e, truncate_e, CC_ARRAY_SIZE(truncate_e));
	default:
		return false;
	}
}

/* The SQE as text, for failure messages only (evaluated lazily). */
static const char *fz_s(const struct capchan_sqe *s)
{
	static __thread char buf[320];

	snprintf(buf, sizeof(buf), "{op %u flags %#x resv0 %#x handle %#x off %#llx addr %#llx len %u op_flags %#x rights %#llx ud %#llx resv %#llx/%#llx}",
		 s->opcode, s->flags, s->resv0, s->handle,
		 (unsigned long long)s->off, (unsigned long long)s->addr, s->len,
		 s->op_flags, (unsigned long long)s->rights,
		 (unsigned long long)s->user_data, (unsigned long long)s->resv1,
		 (unsigned long long)s->resv2);
	return buf;
}

/*
 * Is the object behind a new handle one we know to be outside the DIR?
 * Returns the capability type if STAT worked, else 0.
 */
static unsigned int fz_escape_oracle(struct fz_w *w, struct fz_chan *c, int fd,
				     uint32_t dirh, uint32_t h, const char *how)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	bool jail_root = false;

	for (unsigned int i = 0; i < c->nroots; i++)
		jail_root |= c->roots[i] == dirh && c->root_jail[i];

	cc_sqe(&s, CAPCHAN_OP_STAT, h);
	s.addr = (uintptr_t)&st;
	s.len = sizeof(st);
	memset(&st, 0, sizeof(st));
	if (fz_invoke(fd, &s) != 0)
		return 0;
	for (int i = 0; i < w->env->nbad; i++)
		FZ_CHECK(!(st.dev == w->env->bad[i].dev && st.ino == w->env->bad[i].ino &&
			   (jail_root || !w->env->bad[i].wanders)),
			 "%s: handle %#x names an object outside the DIR (dev %#llx ino %llu)",
			 how, h, (unsigned long long)st.dev, (unsigned long long)st.ino);
	FZ_CHECK(st.cap_type == CAPCHAN_CAP_DIR || st.cap_type == CAPCHAN_CAP_FILE,
		 "stat cap_type %u", st.cap_type);
	FZ_CHECK(!(st.rights & ~R_ALL), "stat rights %#llx",
		 (unsigned long long)st.rights);
	return st.cap_type;
}

static void fz_capfd_check(struct fz_w *w, int fd)
{
	char path[64], link[128];
	ssize_t n;
	int fl;

	if (w->threads)
		return;		/* the sweeper may have closed it already */
	fl = fcntl(fd, F_GETFD);
	FZ_CHECK(fl >= 0 && (fl & FD_CLOEXEC), "EXPORT fd %d flags %d", fd, fl);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n >= 0)
		link[n] = '\0';
	FZ_CHECK(n > 0 && !strcmp(link, "anon_inode:[capchan-cap]"),
		 "EXPORT fd %d is %s", fd, n > 0 ? link : "?");
}

/*
 * The records a READDIR wrote into the scratch buffer: well formed, no
 * "." or "..", nothing stale in the padding, and, listing a DIR granted on
 * the jail or sub, no object known to be outside.  Cookies are kept for
 * later READDIRs.
 */
static void fz_readdir_check(struct fz_w *w, struct fz_chan *c,
			     const struct capchan_sqe *s, long res)
{
	struct fz_env *e = w->env;
	const unsigned char *buf = (const unsigned char *)(uintptr_t)s->addr;
	bool jail_root = false;
	long at = 0;

	if (s->addr < (uintptr_t)e->scratch ||
	    s->addr + res > (uintptr_t)e->scratch + FZ_SCRATCH)
		return;
	for (unsigned int i = 0; i < c->nroots; i++)
		jail_root |= c->roots[i] == s->handle && c->root_jail[i];
	while (at < res) {
		struct capchan_dirent d;
		const char *name = (const char *)buf + at + sizeof(d);

		if (res - at < (long)sizeof(d)) {
			FZ_FAIL("READDIR: %ld bytes after the last record %s", res - at, fz_s(s));
			return;
		}
		memcpy(&d, buf + at, sizeof(d));
		if (d.reclen % 8 || d.reclen < sizeof(d) + d.namelen + 1 ||
		    d.reclen > res - at || !d.namelen || name[d.namelen] ||
		    memchr(name, '\0', d.namelen) || d.resv[0] || d.resv[1] || d.resv[2]) {
			FZ_FAIL("READDIR: bad record at %ld: reclen %u namelen %u %s", at,
				d.reclen, d.namelen, fz_s(s));
			return;
		}
		for (unsigned int i = sizeof(d) + d.namelen + 1; i < d.reclen; i++)
			if (buf[at + i]) {
				FZ_FAIL("READDIR: padding byte %u of \"%s\" is %#x %s", i,
					name, buf[at + i], fz_s(s));
				return;
			}
		FZ_CHECK(strcmp(name, ".") && strcmp(name, ".."), "READDIR listed \"%s\" %s",
			 name, fz_s(s));
		for (int i = 0; jail_root && i < e->nbad; i++)
			FZ_CHECK(!(e->bad[i].dev == e->jail_dev && e->bad[i].ino == d.ino &&
				   !e->bad[i].wanders),
				 "READDIR of the jail listed an outside object: \"%s\" ino %llu %s",
				 name, (unsigned long long)d.ino, fz_s(s));
		w->cookies[w->ncookies++ % FZ_NCOOKIES] = d.next;
		at += d.reclen;
	}
}

/*
 * Check one result of @s (INVOKE's return value or a CQE's res) executed on
 * channel @c, and learn from it (new handles, capability fds).
 */
static void fz_check_res(struct fz_w *w, struct fz_chan *c,
			 const struct capchan_sqe *s, long res, unsigned int mode)
{
	unsigned int op = s->opcode;

	atomic_fetch_add(res >= 0 ? &fz_nok[op < CAPCHAN_OP_LAST ? op : CAPCHAN_OP_LAST]
				  : &fz_nerr[op < CAPCHAN_OP_LAST ? op : CAPCHAN_OP_LAST], 1);
	if (op == CAPCHAN_OP_OPEN && res < 0 && res > -160)
		atomic_fetch_add(&fz_open_errno[-res], 1);
	if (op >= CAPCHAN_OP_READDIR && op < CAPCHAN_OP_LAST && res < 0 && res > -160)
		atomic_fetch_add(&fz_dir_errno[-res], 1);
	if ((mode & FZ_M_THREADS) && res == -EBADF)
		return;		/* the shared fd was closed under us */
	if (mode & FZ_M_CANCEL) {
		FZ_CHECK(res == -ECANCELED, "chained SQE after a failure: res %ld %s", res, fz_s(s));
		return;
	}
	FZ_CHECK(res != -ECANCELED, "ECANCELED outside a failed chain %s", fz_s(s));
	FZ_CHECK(res >= -4095 && res <= 0x7fffffffL, "res %ld %s", res, fz_s(s));
	if ((mode & FZ_M_INVOKE) && (s->flags & CAPCHAN_SQE_LINK)) {
		FZ_CHECK(res == -EINVAL, "INVOKE with LINK: res %ld %s", res, fz_s(s));
		return;
	}
	if (op >= CAPCHAN_OP_LAST) {
		FZ_CHECK(res == -EINVAL, "unknown opcode: res %ld %s", res, fz_s(s));
		return;
	}
	if (w->env->disabled_ops & (1ULL << op)) {
		FZ_CHECK(res == -EOPNOTSUPP, "disabled op: res %ld %s", res, fz_s(s));
		return;
	}
	if ((s->flags & ~CAPCHAN_SQE_FLAGS_ALL) || s->resv0 || s->resv1 || s->resv2) {
		FZ_CHECK(res == -EINVAL, "bad flags/resv: res %ld %s", res, fz_s(s));
		return;
	}
	if (s->handle == CAPCHAN_HANDLE_CHAIN &&
	    (mode & (FZ_M_INVOKE | FZ_M_CHAIN0)))
		FZ_CHECK(res == -EINVAL || res == -EBADF,
			 "CHAIN handle with nothing to chain: res %ld %s", res, fz_s(s));
	if (op == CAPCHAN_OP_NOP && !s->handle && !s->off && !s->addr && !s->len &&
	    !s->op_flags && !s->rights)
		FZ_CHECK(res == 0, "NOP: res %ld %s", res, fz_s(s));
	/* fds belong to whoever calls: from the rings EXPORT/IMPORT never run */
	if (!(mode & FZ_M_INVOKE) &&
	    (op == CAPCHAN_OP_EXPORT || op == CAPCHAN_OP_IMPORT)) {
		FZ_CHECK(res == -EOPNOTSUPP || (res < 0 && fz_errno_ok(op, (int)-res)),
			 "op %u from the rings: res %ld %s", op, res, fz_s(s));
		return;
	}
	if (res < 0) {
		FZ_CHECK(fz_errno_ok(op, (int)-res), "op %u: unexpected errno %ld (%s) %s",
			 op, -res, strerror((int)-res), fz_s(s));
		return;
	}
	switch (op) {
	case CAPCHAN_OP_NOP:
	case CAPCHAN_OP_FSYNC:
	case CAPCHAN_OP_STAT:
	case CAPCHAN_OP_CLOSE:
	case CAPCHAN_OP_PREFETCH:
	case CAPCHAN_OP_STATAT:
	case CAPCHAN_OP_MKDIR:
	case CAPCHAN_OP_UNLINK:
	case CAPCHAN_OP_RMDIR:
	case CAPCHAN_OP_SYMLINK:
	case CAPCHAN_OP_RENAME:
	case CAPCHAN_OP_TRUNCATE:
		FZ_CHECK(res == 0, "op %u succeeded with %ld %s", op, res, fz_s(s));
		break;
	case CAPCHAN_OP_READDIR:
		FZ_CHECK(res <= (long)s->len && res % 8 == 0,
			 "READDIR: %ld bytes of %u %s", res, s->len, fz_s(s));
		/* the buffer is still as READDIR left it only right after INVOKE */
		if ((mode & FZ_M_INVOKE) && !w->threads)
			fz_readdir_check(w, c, s, res);
		break;
	case CAPCHAN_OP_READ:
	case CAPCHAN_OP_WRITE:
		FZ_CHECK(res <= (long)s->len && res <= FZ_MAX_RW,
			 "op %u: %ld bytes of %u %s", op, res, s->len, fz_s(s));
		break;
	case CAPCHAN_OP_REVOKE:
		FZ_CHECK(res < 10000000, "REVOKE count %ld %s", res, fz_s(s));
		break;
	case CAPCHAN_OP_EXPORT:
		fz_capfd_check(w, (int)res);
		fz_capfd_add((int)res);
		break;
	case CAPCHAN_OP_OPEN:
	case CAPCHAN_OP_DERIVE:
	case CAPCHAN_OP_IMPORT:
		FZ_CHECK(fz_handle_ok(res), "op %u: bad handle %#lx %s", op, res, fz_s(s));
		if (!fz_handle_ok(res))
			break;
		fz_pool_add(c, (uint32_t)res, op == CAPCHAN_OP_IMPORT ? R_ALL : s->rights,
			    op == CAPCHAN_OP_OPEN ?
			    fz_escape_oracle(w, c, c->fd, s->handle, (uint32_t)res, fz_s(s)) : 0,
			    !w->threads);
		break;
	}
}

/* One random INVOKE on @c. */
static void fz_invoke_one(struct fz_w *w, struct fz_chan *c, int fd)
{
	struct capchan_sqe s;
	long res;

	w->c = c;
	fz_gen_sqe(w, &s);
	res = fz_invoke(fd, &s);
	fz_check_res(w, c, &s, res, FZ_M_INVOKE | (w->threads ? FZ_M_THREADS : 0));
}

static void fz_fdinfo_exact(const struct cc_fdinfo *fi, const struct fz_chan *c);

/* /proc/self/fdinfo/<fd> must always parse and be self-consistent. */
static void fz_fdinfo_check(struct fz_w *w, struct fz_chan *c, int fd, bool exact)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	int n;

	if (!fi)
		return;
	if (cc_read_fdinfo(fd, fi) || (w->threads && fi->caps == -1 && !fi->ncap)) {
		/* threads: the fd may be closed between open and read */
		FZ_CHECK(w->threads, "fdinfo of channel fd %d unreadable", fd);
		free(fi);
		return;
	}
	FZ_CHECK(fi->bad_cap_lines == 0, "%d unparsable cap lines", fi->bad_cap_lines);
	FZ_CHECK(fi->caps == fi->ncap, "caps: %lld but %d cap lines", fi->caps, fi->ncap);
	FZ_CHECK(fi->sealed == 0 || fi->sealed == 1, "sealed: %lld", fi->sealed);
	n = fi->ncap < CC_FDINFO_MAX_CAPS ? fi->ncap : CC_FDINFO_MAX_CAPS;
	for (int i = 0; i < n; i++) {
		FZ_CHECK(fz_handle_ok(fi->cap[i].handle), "fdinfo handle %#x", fi->cap[i].handle);
		FZ_CHECK(!(fi->cap[i].rights & ~R_ALL), "fdinfo rights %#llx",
			 (unsigned long long)fi->cap[i].rights);
		FZ_CHECK(fi->cap[i].depth <= w->env->max_depth, "fdinfo depth %u",
			 fi->cap[i].depth);
		FZ_CHECK(!strcmp(fi->cap[i].type, "dir") || !strcmp(fi->cap[i].type, "file"),
			 "fdinfo type %s", fi->cap[i].type);
	}
	if (exact && c)
		fz_fdinfo_exact(fi, c);
	free(fi);
}

static void fz_fdinfo_exact(const struct cc_fdinfo *fi, const struct fz_chan *c)
{
	FZ_CHECK(fi->sealed == c->sealed, "fdinfo sealed %lld, expected %d", fi->sealed,
		 c->sealed);
	if (c->rings && c->sqn) {
		FZ_CHECK(fi->sq_entries == c->sqn && fi->cq_entries == c->cqn,
			 "fdinfo entries %lld/%lld, expected %u/%u", fi->sq_entries,
			 fi->cq_entries, c->sqn, c->cqn);
	} else {
		FZ_CHECK(c->rings || (fi->sq_head == -1 && fi->cq_tail == -1),
			 "fdinfo shows rings on a channel without");
	}
}

/* ------------------------------------------------------------------ */
/* Worker processes under a watchdog                                   */
/* ------------------------------------------------------------------ */

typedef void (*fz_body_fn)(struct fz_env *e, uint64_t seed, double end);

static void fz_body_threads(struct fz_env *e, uint64_t seed, double end);

static void fz_noop(int sig)
{
	(void)sig;
}

static void fz_worker_init(void)
{
	struct sigaction sa;
	struct rlimit rl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_noop;	/* no SA_RESTART: waits end with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 2048) {
		rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	atomic_store(&fz_nfail, 0);
}

/* One-shot SIGALRM after @ms (single-threaded bodies only). */
static void fz_arm(unsigned int ms)
{
	struct itimerval it = { .it_value = { .tv_sec = ms / 1000,
					      .tv_usec = (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void fz_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void fz_sleep_ms(double ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)((ms - 1000 * (long)(ms / 1000)) * 1e6) };

	nanosleep(&ts, NULL);
}

static void fz_dump(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	ksft_print_msg("%s:\n%s%s", path, buf, buf[n - 1] == '\n' ? "" : "\n");
}

/* The state letter of /proc/<pid>/stat, or 0. */
static char fz_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

/*
 * Wait for a worker (and its process group) until @deadline, then kill.
 * Returns its exit status, 1000+signal, or -1 if it cannot be reaped (a
 * task stuck in the kernel, reported with its stacks).
 */
static int fz_wait_worker(pid_t pid, double deadline, const char *name)
{
	int status;
	bool killed = false;
	double give_up = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (!killed && cc_now() > deadline) {
			ksft_print_msg("fuzz %s: worker %d still running at its deadline: SIGKILL\n",
				       name, pid);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = true;
			give_up = cc_now() + 5;
		}
		if (killed && cc_now() > give_up) {
			char path[64];
			DIR *d;
			struct dirent *de;

			ksft_print_msg("fuzz %s: worker %d cannot be killed (state %c): stuck in the kernel\n",
				       name, pid, fz_proc_state(pid));
			snprintf(path, sizeof(path), "/proc/%d/task", pid);
			d = opendir(path);
			while (d && (de = readdir(d))) {
				char p2[320];

				if (de->d_name[0] == '.')
					continue;
				snprintf(p2, sizeof(p2), "/proc/%d/task/%s/stack", pid, de->d_name);
				fz_dump(p2);
			}
			if (d)
				closedir(d);
			return -1;
		}
		fz_sleep_ms(10);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 1000 + WTERMSIG(status);
}

static void fz_print_stats(const char *name)
{
	static const char *const names[] = {
		"nop", "open", "read", "write", "fsync", "stat", "derive", "revoke",
		"close", "export", "import", "prefetch", "readdir", "statat",
		"mkdir", "unlink", "rmdir", "symlink", "rename", "truncate",
		"unknown",
	};
	char buf[1024];
	int n = 0;

	_Static_assert(sizeof(names) / sizeof(names[0]) == CAPCHAN_OP_LAST + 1,
		       "a name per opcode, and one for the rest");
	for (int i = 0; i <= CAPCHAN_OP_LAST; i++)
		n += snprintf(buf + n, sizeof(buf) - n, " %s %ld/%ld", names[i],
			      atomic_load(&fz_nok[i]), atomic_load(&fz_nerr[i]));
	ksft_print_msg("fuzz %s: results ok/err:%s\n", name, buf);
	n = 0;
	for (int i = 1; i < 160; i++)
		if (atomic_load(&fz_open_errno[i]))
			n += snprintf(buf + n, sizeof(buf) - n, " %s %ld", strerrorname_np(i),
				      atomic_load(&fz_open_errno[i]));
	ksft_print_msg("fuzz %s: OPEN errors:%s\n", name, buf);
	n = 0;
	for (int i = 1; i < 160; i++)
		if (atomic_load(&fz_dir_errno[i]))
			n += snprintf(buf + n, sizeof(buf) - n, " %s %ld", strerrorname_np(i),
				      atomic_load(&fz_dir_errno[i]));
	ksft_print_msg("fuzz %s: directory op errors:%s\n", name, buf);
}

static int fz_run(struct __test_metadata *_metadata, const char *name,
		  double secs, fz_body_fn body)
{
	struct fz_env env;
	uint64_t seed = fz_test_seed(name);
	int err, st;
	pid_t pid;

	ksft_print_msg("fuzz %s: base seed %#llx (CAPCHAN_FUZZ_SEED), test seed %#llx, %.1f s\n",
		       name, (unsigned long long)fz_base_seed(),
		       (unsigned long long)seed, secs);
	if (access(CAPCHAN_DEVICE, R_OK | W_OK)) {
		SKIP(return 0, "%s: %s", CAPCHAN_DEVICE, strerror(errno));
	}
	err = fz_env_init(&env);
	if (err) {
		fz_env_destroy(&env);
		TH_LOG("environment setup failed: %s", strerror(-err));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fz_env_destroy(&env);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		fz_worker_init();
		env.proc_fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		body(&env, seed, cc_now() + secs);
		fz_capfd_close_all();
		fz_print_stats(name);
		_exit(atomic_load(&fz_nfail) ? 1 : 0);
	}
	st = fz_wait_worker(pid, cc_now() + secs + 10, name);
	if (st)
		ksft_print_msg("fuzz %s: worker status %d (seed %#llx)\n", name, st,
			       (unsigned long long)seed);
	if (st >= 0) {
		/* only the threads test runs the renamer, which moves things out */
		int bad = fz_outside_check(&env, body == fz_body_threads);

		if (bad) {
			ksft_print_msg("fuzz %s: %d changes outside the jail (seed %#llx)\n",
				       name, bad, (unsigned long long)seed);
			if (!st)
				st = 3;
		}
		fz_env_destroy(&env);	/* a stuck worker may still use it */
	}
	return st;
}

static void fz_w_init(struct fz_w *w, struct fz_env *e, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->env = e;
	fz_srand(&w->r, seed);
	w->paths = calloc(FZ_NPATHS, sizeof(*w->paths));
}

/* A forked helper: runs @fn for @ms with its own seed, exits 0 or 1. */
static pid_t fz_fork_helper(void (*fn)(struct fz_w *w, void *arg, double end),
			    struct fz_w *parent, void *arg, double ms)
{
	uint64_t seed = fz_r64(&parent->r);
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		struct fz_w w = *parent;

		atomic_store(&fz_nfail, 0);
		/* another thread may have held it at fork() */
		pthread_mutex_init(&fz_capfd_lock, NULL);
		fz_srand(&w.r, seed);
		w.paths = calloc(FZ_NPATHS, sizeof(*w.paths));
		fn(&w, arg, cc_now() + ms / 1000);
		_exit(atomic_load(&fz_nfail) ? 1 : 0);
	}
	return pid;
}

/* Reap forked helpers; with @deadline, wait (then kill) until then. */
static void fz_reap_helpers(pid_t *kids, int *nkids, double deadline)
{
	for (int i = 0; i < *nkids;) {
		int st;
		pid_t r = waitpid(kids[i], &st, WNOHANG);

		if (r == 0 && deadline > 0) {
			if (cc_now() > deadline)
				kill(kids[i], SIGKILL);
			fz_sleep_ms(5);
			continue;
		}
		if (r == kids[i]) {
			FZ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				 "forked helper %d failed (status %#x)", kids[i], st);
		} else if (r == 0) {
			i++;
			continue;
		}
		kids[i] = kids[--*nkids];
	}
}

/* ------------------------------------------------------------------ */
/* Test 1: ioctl numbers and arguments                                 */
/* ------------------------------------------------------------------ */

static const unsigned long fz_cmds[] = {
	CAPCHAN_IOC_VERSION, CAPCHAN_IOC_SETUP, CAPCHAN_IOC_GRANT,
	CAPCHAN_IOC_SEAL, CAPCHAN_IOC_ENTER, CAPCHAN_IOC_INVOKE,
};

static bool fz_known_cmd(unsigned long cmd)
{
	/* attached filters stay: filter_test covers this one, not the fuzzer */
	if (cmd == CAPCHAN_IOC_FILTER)
		return true;
	for (size_t i = 0; i < CC_ARRAY_SIZE(fz_cmds); i++)
		if (cmd == fz_cmds[i])
			return true;
	return false;
}

/* ioctl types the VFS itself implements for every file (FIO*, FS_IOC_*...). */
static bool fz_vfs_type(unsigned int type)
{
	return type == 0x00 || type == 'T' || type == 'X' || type == 'f' ||
	       type == 'v' || type == 0x94 || type == 0x15;
}

static long fz_expect_version(const struct capchan_version *v)
{
	for (int i = 0; i < 4; i++)
		if (v->resv[i])
			return -EINVAL;
	return 0;
}

static void fz_ioc_version(struct fz_w *w, struct fz_chan *c)
{
	struct capchan_version *v;
	enum fz_ptr_kind kind;
	uint64_t p = fz_objptr(w, sizeof(*v), &kind);
	long ret, want;

	v = (void *)(uintptr_t)p;
	if (kind == FZP_OK) {
		memset(v, 0, sizeof(*v));
		if (fz_pct(&w->r, 20))	/* output-only fields: ignored */
			fz_bytes(&w->r, v, offsetof(struct capchan_version, resv));
		if (fz_pct(&w->r, 15))
			v->resv[fz_rn(&w->r, 4)] = fz_r64(&w->r) | 1;
		want = fz_expect_version(v);
	} else {
		want = -EFAULT;
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_VERSION, v);
	FZ_CHECK(ret == want, "VERSION(%#llx kind %d) -> %ld, expected %ld",
		 (unsigned long long)p, kind, ret, want);
	if (ret == 0 && kind == FZP_OK) {
		uint64_t ops = ((1ULL << CAPCHAN_OP_LAST) - 1) & ~w->env->disabled_ops;

		FZ_CHECK(v->abi_version == CAPCHAN_ABI_VERSION &&
			 (v->features & ~CAPCHAN_FEAT_BTF) == FZ_FEATURES &&
			 v->ops == ops && v->rights == R_ALL &&
			 v->max_sq_entries == CAPCHAN_MAX_SQ_ENTRIES &&
			 v->max_cq_entries == CAPCHAN_MAX_CQ_ENTRIES &&
			 v->max_caps == w->env->max_caps && v->max_depth == w->env->max_depth &&
			 !v->resv[0] && !v->resv[1] && !v->resv[2] && !v->resv[3],
			 "VERSION output abi %u feat %#x ops %#llx caps %u depth %u",
			 v->abi_version, v->features, (unsigned long long)v->ops,
			 v->max_caps, v->max_depth);
	}
}

static long fz_expect_setup(const struct fz_chan *c, const struct capchan_params *p)
{
	uint32_t sq = 1, cq = 1;

	if (c->rings)
		return -EBUSY;
	if (p->flags & ~CAPCHAN_SETUP_FLAGS_ALL)
		return -EINVAL;
	if (p->resv[0] || p->resv[1] || p->resv[2])
		return -EINVAL;
	if (!p->sq_entries || p->sq_entries > CAPCHAN_MAX_SQ_ENTRIES)
		return -EINVAL;
	while (sq < p->sq_entries)
		sq <<= 1;
	if (p->flags & CAPCHAN_SETUP_CQSIZE) {
		if (!p->cq_entries || p->cq_entries > CAPCHAN_MAX_CQ_ENTRIES)
			return -EINVAL;
		while (cq < p->cq_entries)
			cq <<= 1;
		if (cq < sq)
			return -EINVAL;
	} else if (p->cq_entries) {
		return -EINVAL;
	}
	return 0;
}

static void fz_ioc_setup(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_params *p, in;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*p), &kind);
	bool ro_valid = false;
	long ret, want;

	p = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(p, 0, sizeof(*p));
		if (fz_pct(r, 10))	/* output-only fields: ignored */
			fz_bytes(r, &p->sq_off, sizeof(p->sq_off) + sizeof(p->cq_off));
		p->sq_entries = fz_pct(r, 80) ? 1 + fz_rn(r, 70) : fz_rn(r, 5000);
		if (fz_pct(r, 40)) {
			p->flags = CAPCHAN_SETUP_CQSIZE;
			p->cq_entries = fz_pct(r, 80) ? p->sq_entries * (1 + fz_rn(r, 4))
						      : fz_rn(r, 9000);
		} else if (fz_pct(r, 5)) {
			p->cq_entries = 1 + fz_rn(r, 100);
		}
		if (fz_pct(r, 4))
			p->flags |= 1u << (1 + fz_rn(r, 31));
		if (fz_pct(r, 4))
			p->resv[fz_rn(r, 3)] = 1 + fz_rn(r, 100);
		want = fz_expect_setup(c, p);
		/* setup succeeds but the copy-out faults: rings exist anyway */
		if (!want && fz_pct(r, 10) && !mprotect((void *)(ptr & ~4095ULL), 4096, PROT_READ))
			ro_valid = true;
	} else if (kind == FZP_RO) {
		want = c->rings ? -EBUSY : -EINVAL;	/* all zero: sq_entries 0 */
	} else {
		want = -EFAULT;
	}
	if (kind == FZP_OK)
		in = *p;
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_SETUP, p);
	if (ro_valid) {
		mprotect((void *)(ptr & ~4095ULL), 4096, PROT_READ | PROT_WRITE);
		FZ_CHECK(ret == -EFAULT, "SETUP into a read-only page -> %ld", ret);
		c->rings = true;
		c->p = in;
		return;
	}
	FZ_CHECK(ret == want || (want == 0 && ret == -ENOMEM),
		 "SETUP(sq %u cq %u flags %#x kind %d) -> %ld, expected %ld",
		 kind == FZP_OK ? in.sq_entries : 0, kind == FZP_OK ? in.cq_entries : 0,
		 kind == FZP_OK ? in.flags : 0, kind, ret, want);
	if (ret || kind != FZP_OK)
		return;
	fz_check_params(&in, p);
	c->rings = true;
	c->p = *p;
	c->sqn = p->sq_entries;
	c->cqn = p->cq_entries;
	if (fz_pct(r, 70) && fz_chan_map(c))
		FZ_FAIL("mmap of a fresh ring failed");
}

static int fz_grant_fd(struct fz_w *w, struct fz_chan *c, long *want, uint64_t *rights)
{
	struct fz_env *e = w->env;
	struct fz_rng *r = &w->r;
	int fd;

	*want = 0;
	switch (fz_rn(r, 15)) {
	case 0: fd = e->t.jail_fd; break;
	case 1: fd = e->sub_fd; break;
	case 2: fd = e->proc_fd;
		/* never /proc/self/mem for writing, nothing removed there */
		*rights &= ~(R_WRITE | R_CREATE | CAPCHAN_RIGHT_REMOVE);
		break;
	case 3: case 4: fd = e->file_rw; break;
	case 5: fd = e->file_ro;
		if (*rights & R_WRITE)
			*want = -EPERM;
		break;
	case 6: fd = e->file_wo;
		if (*rights & R_READ)
			*want = -EPERM;
		break;
	case 7: fd = c->fd; *want = -EINVAL; break;
	case 8: fd = e->null_fd; *want = -EINVAL; break;
	case 9: fd = e->pipe_fd[fz_rn(r, 2)]; *want = -EINVAL; break;
	case 10: fd = e->sock_fd; *want = -EINVAL; break;
	case 11: fd = e->opath_fd; *want = -EBADF; break;	/* fget() refuses O_PATH */
	case 12: fd = fz_capfd_pick(r);
		*want = fd < 0 ? -EBADF : -EINVAL;
		break;
	case 13: fd = -1 - (int)fz_rn(r, 100); *want = -EBADF; break;
	default: fd = 1000 + (int)fz_rn(r, 100000); *want = -EBADF; break;
	}
	return fd;
}

static void fz_ioc_grant(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_grant *g;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*g), &kind);
	long ret, want = -EFAULT, fdwant;
	uint64_t rights;
	int fd;

	g = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(g, 0, sizeof(*g));
		rights = fz_pct(r, 95) ? fz_r64(r) & R_ALL : fz_r64(r);
		fd = fz_grant_fd(w, c, &fdwant, &rights);
		g->fd = fd;
		g->rights = rights;
		if (fz_pct(r, 10)) {	/* output-only */
			g->handle = fz_r64(r);
			g->cap_type = fz_r64(r);
		}
		if (fz_pct(r, 3))
			g->flags = 1u << fz_rn(r, 32);
		if (fz_pct(r, 3))
			g->resv[fz_rn(r, 2)] = fz_r64(r) | 1;
		if (g->flags || g->resv[0] || g->resv[1] || (rights & ~R_ALL))
			want = -EINVAL;
		else if (fdwant)
			want = fdwant;
		else if (c->sealed)
			want = -EPERM;
		else
			want = 0;
	} else if (kind == FZP_RO) {
		want = 0x7fff;	/* fd 0: whatever it is; see below */
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_GRANT, g);
	if (kind == FZP_RO) {
		FZ_CHECK(ret == -EFAULT || ret == -EINVAL || ret == -EBADF || ret == -EPERM,
			 "GRANT from a read-only page -> %ld", ret);
		return;
	}
	FZ_CHECK(ret == want || (want == 0 && (ret == -EMFILE || ret == -ENOMEM)),
		 "GRANT(fd %d rights %#llx kind %d) -> %ld, expected %ld",
		 kind == FZP_OK ? g->fd : -1,
		 kind == FZP_OK ? (unsigned long long)g->rights : 0ULL, kind, ret, want);
	if (ret == 0 && kind == FZP_OK) {
		FZ_CHECK(fz_handle_ok(g->handle), "GRANT handle %#x", g->handle);
		FZ_CHECK(g->cap_type == CAPCHAN_CAP_DIR || g->cap_type == CAPCHAN_CAP_FILE,
			 "GRANT cap_type %u", g->cap_type);
		fz_pool_add(c, g->handle, g->rights, g->cap_type, true);
	}
}

static void fz_ioc_enter(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	struct capchan_enter *e;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*e), &kind);
	bool armed = false;
	uint32_t to_submit = 0;
	long ret, want = -EFAULT;

	e = (void *)(uintptr_t)ptr;
	if (kind == FZP_OK) {
		memset(e, 0, sizeof(*e));
		e->to_submit = to_submit = fz_pct(r, 80) ? fz_rn(r, 130) : fz_r64(r);
		if (fz_pct(r, 50))
			e->flags = CAPCHAN_ENTER_GETEVENTS;
		if (fz_pct(r, 4))
			e->flags |= 1u << (1 + fz_rn(r, 31));
		if (fz_pct(r, 60))
			e->min_complete = fz_pct(r, 70) ? fz_rn(r, 4) : fz_rn(r, 20000);
		if (fz_pct(r, 3))
			e->resv0 = 1;
		if (fz_pct(r, 3))
			e->resv[fz_rn(r, 2)] = fz_r64(r) | 1;
		if ((e->flags & ~CAPCHAN_ENTER_FLAGS_ALL) || e->resv0 || e->resv[0] || e->resv[1] ||
		    (!(e->flags & CAPCHAN_ENTER_GETEVENTS) && e->min_complete))
			want = -EINVAL;
		else if (!c->rings)
			want = -EBADFD;
		else if (e->min_complete > (c->cqn ? c->cqn : CAPCHAN_MAX_CQ_ENTRIES))
			want = c->cqn ? -EINVAL : 1;	/* cqn unknown: anything */
		else
			want = 1;	/* a count, -EBUSY, or -EINTR if it waits */
		if (want == 1 && (e->flags & CAPCHAN_ENTER_GETEVENTS) && e->min_complete) {
			fz_arm(20);
			armed = true;
		}
	} else if (kind == FZP_RO) {
		want = c->rings ? 0 : -EBADFD;	/* all zero: a no-op */
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_ENTER, e);
	if (armed)
		fz_disarm();
	if (want == 1)
		FZ_CHECK((ret >= 0 && ret <= to_submit && ret <= CAPCHAN_MAX_SQ_ENTRIES) ||
			 ret == -EBUSY || ret == -EINTR || (ret == -EINVAL && !c->cqn),
			 "ENTER(to_submit %u) -> %ld", to_submit, ret);
	else
		FZ_CHECK(ret == want, "ENTER(kind %d) -> %ld, expected %ld", kind, ret, want);
}

static void fz_ioc_invoke(struct fz_w *w, struct fz_chan *c)
{
	struct capchan_sqe *s;
	enum fz_ptr_kind kind;
	uint64_t ptr = fz_objptr(w, sizeof(*s), &kind);
	long ret;

	s = (void *)(uintptr_t)ptr;
	if (kind == FZP_BAD) {
		ret = fz_ioctl(c->fd, CAPCHAN_IOC_INVOKE, s);
		FZ_CHECK(ret == -EFAULT, "INVOKE(%#llx) -> %ld", (unsigned long long)ptr, ret);
		return;
	}
	if (kind == FZP_OK) {
		w->c = c;
		fz_gen_sqe(w, s);
	}
	{
		struct capchan_sqe copy = *s;

		ret = fz_ioctl(c->fd, CAPCHAN_IOC_INVOKE, s);
		fz_check_res(w, c, &copy, ret, FZ_M_INVOKE);
	}
}

static void fz_random_ioctl(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	unsigned int k = fz_rn(r, 100);
	unsigned long cmd;
	enum fz_ptr_kind kind;
	long ret;

	if (k < 60) {
		cmd = fz_cmds[fz_rn(r, CC_ARRAY_SIZE(fz_cmds))];
	} else if (k < 75) {
		cmd = _IOC(fz_rn(r, 4), CAPCHAN_IOC_MAGIC, fz_rn(r, 256), fz_rn(r, 1 << 14));
	} else if (k < 85) {
		cmd = fz_cmds[fz_rn(r, CC_ARRAY_SIZE(fz_cmds))];
		if (fz_pct(r, 50))
			cmd ^= 1ul << (_IOC_SIZESHIFT + fz_rn(r, _IOC_SIZEBITS));
		else
			cmd ^= 1ul << (_IOC_DIRSHIFT + fz_rn(r, _IOC_DIRBITS));
	} else {
		do
			cmd = (uint32_t)fz_r64(r);
		while (fz_vfs_type(_IOC_TYPE(cmd)) || _IOC_TYPE(cmd) == CAPCHAN_IOC_MAGIC);
	}
	switch (cmd) {
	case CAPCHAN_IOC_VERSION:
		fz_ioc_version(w, c);
		return;
	case CAPCHAN_IOC_SETUP:
		fz_ioc_setup(w, c);
		return;
	case CAPCHAN_IOC_GRANT:
		fz_ioc_grant(w, c);
		return;
	case CAPCHAN_IOC_SEAL: {
		unsigned long arg = fz_pct(r, 80) ? 0 : fz_pct(r, 30) ?
				    CAPCHAN_SEAL_IMPORT : fz_r64(r) | 2;
		bool bad = arg & ~(unsigned long)CAPCHAN_SEAL_FLAGS_ALL;

		ret = ioctl(c->fd, CAPCHAN_IOC_SEAL, arg) < 0 ? -errno : 0;
		FZ_CHECK(ret == (bad ? -EINVAL : 0), "SEAL(%#lx) -> %ld", arg, ret);
		if (!bad)
			c->sealed = true;
		return;
	}
	case CAPCHAN_IOC_ENTER:
		fz_ioc_enter(w, c);
		return;
	case CAPCHAN_IOC_INVOKE:
		fz_ioc_invoke(w, c);
		return;
	case CAPCHAN_IOC_FILTER:
		return;		/* drawn by chance: see fz_known_cmd() */
	}
	FZ_CHECK(!fz_known_cmd(cmd), "bad cmd choice");
	ret = fz_ioctl(c->fd, cmd, (void *)(uintptr_t)fz_objptr(w, 64, &kind));
	FZ_CHECK(ret == -ENOTTY, "unknown ioctl %#lx -> %ld", cmd, ret);
}

/* mmap with random length/offset/flags; what is expected of each. */
static void fz_mmap_fuzz(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	size_t size = c->p.ring_size, len;
	bool shared = fz_pct(r, 85);
	long off = fz_pct(r, 80) ? 0 : 4096L * (1 + fz_rn(r, 8));
	int prot = fz_pct(r, 80) ? PROT_READ | PROT_WRITE : PROT_READ;
	long want;
	char *m;

	switch (fz_rn(r, 4)) {
	case 0: len = size ? size : 4096; break;
	case 1: len = size ? 1 + fz_rn(r, size) : 4096; break;
	case 2: len = (size ? size : 4096) + 4096 * (1 + fz_rn(r, 4)); break;
	default: len = 4096; break;
	}
	if (!c->rings)
		want = -EBADFD;
	else if (!shared || off || ((len + 4095) & ~4095UL) > size)
		want = -EINVAL;
	else
		want = 0;
	m = mmap(NULL, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, c->fd, off);
	if (c->rings && !size) {	/* SETUP's copy-out failed: size unknown */
		if (m != MAP_FAILED)
			munmap(m, len);
		return;
	}
	FZ_CHECK((m == MAP_FAILED ? -errno : 0) == want,
		 "mmap(len %zu off %ld %s) -> %d, expected %ld (ring_size %zu)", len, off,
		 shared ? "shared" : "private", m == MAP_FAILED ? -errno : 0, want, size);
	if (m == MAP_FAILED)
		return;
	if ((prot & PROT_WRITE) && fz_pct(r, 50)) {
		size_t at = fz_rn(r, ((len + 4095) & ~4095UL) - 8);

		fz_bytes(r, m + at, 8);	/* garbage anywhere, even indices */
	}
	if (fz_pct(r, 30)) {
		void *m2 = mremap(m, len, len + 8192, MREMAP_MAYMOVE);

		FZ_CHECK(m2 == MAP_FAILED, "ring mapping grew with mremap");
		if (m2 != MAP_FAILED) {
			m = m2;
			len += 8192;
		}
	}
	if (len > 4096 && fz_pct(r, 50)) {
		munmap(m + 4096, len - 4096);
		len = 4096;
	}
	munmap(m, len);
}

static void fz_misc_syscalls(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	char buf[64];
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN | POLLOUT | POLLPRI };
	int n;

	switch (fz_rn(r, 5)) {
	case 0:
		n = poll(&pfd, 1, 0);
		FZ_CHECK(n >= 0 && !(pfd.revents & ~(POLLIN | POLLRDNORM)),
			 "poll -> %d revents %#x", n, pfd.revents);
		if (!c->rings)
			FZ_CHECK(!pfd.revents, "poll before SETUP: %#x", pfd.revents);
		break;
	case 1: {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN }, out;

		FZ_CHECK(ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev),
			 "epoll add: %s", strerror(errno));
		n = epoll_wait(ep, &out, 1, 0);
		FZ_CHECK(n == 0 || n == 1, "epoll_wait -> %d", n);
		close(ep);
		break;
	}
	case 2:
		n = read(c->fd, buf, sizeof(buf));
		FZ_CHECK(n < 0 && errno == EINVAL, "read(channel) -> %d (%s)", n, strerror(errno));
		n = write(c->fd, buf, sizeof(buf));
		FZ_CHECK(n < 0 && errno == EINVAL, "write(channel) -> %d (%s)", n, strerror(errno));
		break;
	case 3: {
		off_t o = lseek(c->fd, fz_rn(r, 100), SEEK_SET);

		FZ_CHECK(o < 0 && errno == ESPIPE, "lseek(channel) -> %lld (%s)", (long long)o,
			 strerror(errno));
		break;
	}
	default:
		fz_fdinfo_check(w, c, c->fd, true);
		break;
	}
}

/* Garbage over a mapped ring, then a non-blocking ENTER. */
static void fz_ring_garbage(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	int n = 1 + fz_rn(r, 16);
	long ret;
	uint32_t to;

	if (!c->mapped)
		return;
	while (n--) {
		size_t at = fz_rn(r, (uint32_t)c->map_len - 8);

		fz_bytes(r, c->map + at, 1 + fz_rn(r, 8));
	}
	if (fz_pct(r, 50))	/* valid-looking SQEs at least some of the time */
		for (uint32_t i = 0; i < c->sqn; i++)
			if (fz_pct(r, 50)) {
				w->c = c;
				fz_gen_sqe(w, &c->sqes[i]);
			}
	to = fz_pct(r, 80) ? fz_rn(r, 2 * c->sqn + 2) : fz_r64(r);
	ret = cc_enter(c->fd, to, 0, 0);
	FZ_CHECK((ret >= 0 && ret <= to && ret <= c->sqn) || ret == -EBUSY,
		 "ENTER(%u) on a garbage ring -> %ld (sq %u)", to, ret, c->sqn);
}

struct fz_ioctl_state {
	struct fz_chan ch[4];
	pid_t kids[4];
	int nkids;
	int forks;
};

static void fz_ioctl_iter(struct fz_w *w, struct fz_ioctl_state *s, bool child);

static void fz_ioctl_child(struct fz_w *w, void *arg, double end)
{
	struct fz_ioctl_state *s = arg;
	struct fz_chan inh[4];

	/* the parent models its channels' state: only INVOKE on those */
	memcpy(inh, s->ch, sizeof(inh));
	for (int i = 0; i < 4; i++)
		s->ch[i].fd = -1;
	s->nkids = 0;
	while (cc_now() < end) {
		struct fz_chan *c = &inh[fz_rn(&w->r, 4)];

		if (fz_pct(&w->r, 30) && c->fd >= 0)
			fz_invoke_one(w, c, c->fd);
		else
			fz_ioctl_iter(w, s, true);
	}
}

static void fz_ioctl_iter(struct fz_w *w, struct fz_ioctl_state *s, bool child)
{
	struct fz_rng *r = &w->r;
	struct fz_chan *c = &s->ch[fz_rn(r, 4)];
	unsigned int k = fz_rn(r, 100);

	if (c->fd < 0 || k < 3) {
		fz_chan_close(c);
		if (fz_chan_open(c, w->env, r, fz_pct(r, 50), fz_pct(r, 80)))
			FZ_FAIL("cannot open a channel");
		return;
	}
	w->c = c;
	w->ring_addrs = true;
	if (k < 55)
		fz_random_ioctl(w, c);
	else if (k < 63 && c->rings)
		fz_mmap_fuzz(w, c);
	else if (k < 73)
		fz_misc_syscalls(w, c);
	else if (k < 83)
		fz_ring_garbage(w, c);
	else if (k < 85 && !child && s->nkids < 2 && s->forks < 6) {
		pid_t pid = fz_fork_helper(fz_ioctl_child, w, s, 150);

		if (pid > 0) {
			s->kids[s->nkids++] = pid;
			s->forks++;
		}
	} else {
		fz_invoke_one(w, c, c->fd);
	}
}

static void fz_body_ioctls(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_ioctl_state s;
	struct fz_w w;
	long iters = 0;

	fz_w_init(&w, e, seed);
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		s.ch[i].fd = -1;
	while (cc_now() < end) {
		fz_ioctl_iter(&w, &s, false);
		fz_reap_helpers(s.kids, &s.nkids, 0);
		iters++;
	}
	fz_reap_helpers(s.kids, &s.nkids, cc_now() + 3);
	for (int i = 0; i < 4; i++)
		fz_chan_close(&s.ch[i]);
	ksft_print_msg("fuzz ioctls: %ld iterations, %d forks, %d failures\n", iters,
		       s.forks, atomic_load(&fz_nfail));
}

/* ------------------------------------------------------------------ */
/* Test 2: INVOKE                                                      */
/* ------------------------------------------------------------------ */

/* Depth limit: exactly max_depth DERIVEs below a root, then -EMLINK. */
static void fz_depth_check(struct fz_w *w)
{
	struct fz_chan c;
	long h, prev;
	unsigned int i;

	if (fz_chan_open(&c, w->env, &w->r, false, false))
		return;
	prev = cc_grant(c.fd, w->env->t.jail_fd, R_ALL, NULL);
	FZ_CHECK(fz_handle_ok(prev), "grant -> %ld", prev);
	for (i = 1; i <= w->env->max_depth + 1 && fz_handle_ok(prev); i++) {
		struct capchan_sqe s;

		cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)prev);
		s.rights = i == 1 ? R_ALL : R_DERIVE | R_STAT;
		h = fz_invoke(c.fd, &s);
		if (i <= w->env->max_depth)
			FZ_CHECK(fz_handle_ok(h) || h == -EMFILE, "DERIVE at depth %u -> %ld", i, h);
		else
			FZ_CHECK(h == -EMLINK, "DERIVE at depth %u (max %u) -> %ld", i,
				 w->env->max_depth, h);
		prev = h;
	}
	fz_fdinfo_check(w, &c, c.fd, true);
	fz_chan_close(&c);
}

/* Table limit: exactly max_caps capabilities, then -EMFILE. */
static void fz_table_check(struct fz_w *w)
{
	struct fz_chan c;
	long root, h = 0;
	unsigned int n = 1;

	if (fz_chan_open(&c, w->env, &w->r, false, false))
		return;
	root = cc_grant(c.fd, w->env->t.jail_fd, R_ALL, NULL);
	FZ_CHECK(fz_handle_ok(root), "grant -> %ld", root);
	while (fz_handle_ok(root) && n < w->env->max_caps + 2) {
		struct capchan_sqe s;

		cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)root);
		s.rights = R_STAT;
		h = fz_invoke(c.fd, &s);
		if (h < 0)
			break;
		n++;
	}
	FZ_CHECK(h == -EMFILE && n == w->env->max_caps,
		 "table filled at %u capabilities (max_caps %u) with %ld", n,
		 w->env->max_caps, h);
	fz_chan_close(&c);
}

/* REVOKE counts and effects on a small tree spanning two channels. */
static void fz_revoke_check(struct fz_w *w)
{
	struct fz_chan a, b;
	long root, c1, c2, fd, imp, n, res;
	struct capchan_sqe s;

	if (fz_chan_open(&a, w->env, &w->r, false, false))
		return;
	if (fz_chan_open(&b, w->env, &w->r, false, false)) {
		fz_chan_close(&a);
		return;
	}
	root = cc_grant(a.fd, w->env->t.jail_fd, R_ALL, NULL);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)root);
	s.rights = R_ALL;
	c1 = fz_invoke(a.fd, &s);
	s.handle = (uint32_t)c1;
	s.rights = R_LOOKUP | R_READ | R_STAT;
	c2 = fz_invoke(a.fd, &s);
	cc_sqe(&s, CAPCHAN_OP_EXPORT, (uint32_t)c1);
	s.rights = R_LOOKUP | R_READ | R_STAT | R_DERIVE;
	fd = fz_invoke(a.fd, &s);
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = fd;
	imp = fz_invoke(b.fd, &s);
	FZ_CHECK(fz_handle_ok(root) && fz_handle_ok(c1) && fz_handle_ok(c2) && fd >= 0 &&
		 fz_handle_ok(imp), "tree: %ld %ld %ld %ld %ld", root, c1, c2, fd, imp);
	/* a child of the imported capability, in the other channel */
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)imp);
	s.rights = R_STAT;
	n = fz_invoke(b.fd, &s);
	FZ_CHECK(fz_handle_ok(n), "derive from import -> %ld", n);
	/* c1 has c2, the exported cap and its child below it: 3 */
	cc_sqe(&s, CAPCHAN_OP_REVOKE, (uint32_t)c1);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 3, "REVOKE -> %ld, expected 3", res);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 0, "second REVOKE -> %ld, expected 0", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)c2);
	s.rights = R_STAT;
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "DERIVE on revoked -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)imp);
	res = fz_invoke(b.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "DERIVE on revoked import -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_IMPORT, 0);
	s.off = fd;
	res = fz_invoke(b.fd, &s);
	FZ_CHECK(res == -EKEYREVOKED, "IMPORT of revoked -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_DERIVE, (uint32_t)c1);	/* c1 itself stays valid */
	s.rights = R_STAT;
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(fz_handle_ok(res), "DERIVE on the revoker -> %ld", res);
	cc_sqe(&s, CAPCHAN_OP_CLOSE, (uint32_t)c2);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == 0, "CLOSE of revoked -> %ld", res);
	res = fz_invoke(a.fd, &s);
	FZ_CHECK(res == -EBADF, "second CLOSE -> %ld", res);
	if (fd >= 0)
		close((int)fd);
	/* close the channels in a random order: the tree must come apart */
	if (fz_pct(&w->r, 50)) {
		fz_chan_close(&a);
		fz_chan_close(&b);
	} else {
		fz_chan_close(&b);
		fz_chan_close(&a);
	}
}

static void fz_invoke_child(struct fz_w *w, void *arg, double end)
{
	struct fz_chan *ch = arg;

	while (cc_now() < end) {
		struct fz_chan *c = &ch[fz_rn(&w->r, 2)];

		if (fz_pct(&w->r, 5))
			fz_fdinfo_check(w, c, c->fd, false);
		else
			fz_invoke_one(w, c, c->fd);
	}
}

static void fz_body_invoke(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_chan ch[2];
	struct fz_w w;
	pid_t kids[4];
	int nkids = 0, forks = 0;
	long iters = 0;

	fz_w_init(&w, e, seed);
	if (fz_chan_open(&ch[0], e, &w.r, false, true) ||
	    fz_chan_open(&ch[1], e, &w.r, true, true)) {
		FZ_FAIL("cannot open channels");
		return;
	}
	fz_table_check(&w);
	fz_depth_check(&w);
	fz_revoke_check(&w);
	while (cc_now() < end) {
		struct fz_chan *c = &ch[fz_rn(&w.r, 2)];
		unsigned int k = fz_rn(&w.r, 1000);

		iters++;
		w.ring_addrs = true;
		if (k < 850) {
			fz_invoke_one(&w, c, c->fd);
		} else if (k < 900) {
			fz_fdinfo_check(&w, c, c->fd, true);
		} else if (k < 940) {
			w.c = c;
			fz_random_ioctl(&w, c);
		} else if (k < 950) {
			bool rings = c == &ch[1];

			fz_chan_close(c);
			if (fz_chan_open(c, e, &w.r, rings, true))
				FZ_FAIL("cannot reopen a channel");
		} else if (k < 960) {
			fz_depth_check(&w);
		} else if (k < 975) {
			fz_revoke_check(&w);
		} else if (k < 980 && nkids < 2 && forks < 6) {
			pid_t pid = fz_fork_helper(fz_invoke_child, &w, ch, 100);

			if (pid > 0) {
				kids[nkids++] = pid;
				forks++;
			}
		} else {
			fz_invoke_one(&w, c, c->fd);
		}
		fz_reap_helpers(kids, &nkids, 0);
	}
	fz_reap_helpers(kids, &nkids, cc_now() + 3);
	fz_chan_close(&ch[0]);
	fz_chan_close(&ch[1]);
	ksft_print_msg("fuzz invoke: %ld iterations, %d forks, %d failures\n", iters, forks,
		       atomic_load(&fz_nfail));
}

/* ------------------------------------------------------------------ */
/* Test 3: the rings, against a model                                  */
/* ------------------------------------------------------------------ */

struct fz_exp {
	uint64_t user_data;
	int32_t res;
};

struct fz_model {
	struct fz_chan *c;
	uint32_t k_sq_head, k_cq_tail;	/* the module's private indices */
	bool sq_head_dirty, cq_tail_dirty;	/* we scribbled on its copies */
	uint32_t head;			/* CQEs we really consumed */
	bool cq_head_tampered;		/* *cq_head != head just now */
	bool in_link, link_failed;
	uint32_t chain_handle;
	struct capchan_sqe failed;	/* the SQE that failed the chain, */
	int32_t failed_res;		/* with its result (for messages) */
	struct fz_exp *exp;		/* cqn entries, indexed like the CQ */
	struct capchan_sqe *snap;	/* sqn entries */
	uint64_t consumed, reaped, lost, enters, ebusy, eintr, cuts;
};

static bool fz_makes_handle(unsigned int op)
{
	return op == CAPCHAN_OP_OPEN || op == CAPCHAN_OP_DERIVE || op == CAPCHAN_OP_IMPORT;
}

static void fz_model_push(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	uint32_t tail = *c->sq_tail, space, n;

	if (tail - m->k_sq_head > c->sqn) {	/* after tampering: start over */
		tail = m->k_sq_head;
		__atomic_store_n(c->sq_tail, tail, __ATOMIC_RELEASE);
	}
	space = c->sqn - (tail - m->k_sq_head);
	n = fz_rn(&w->r, space + 1);
	for (uint32_t i = 0; i < n; i++) {
		struct capchan_sqe *s = &c->sqes[tail & (c->sqn - 1)];

		w->c = c;
		w->ring_addrs = false;
		fz_gen_sqe(w, s);
		s->user_data = FZ_UD_MAGIC << 48 | (m->consumed + i) << 8 | s->opcode;
		tail++;
		/* SQE before tail; pairs with the module's load-acquire */
		__atomic_store_n(c->sq_tail, tail, __ATOMIC_RELEASE);
	}
}

static void fz_model_enter(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	struct fz_rng *r = &w->r;
	struct capchan_enter e;
	uint32_t tail, avail, n_sub, cqh, used, space, n = 0, pending;
	long want, ret;
	bool invalid = false, armed = false, may_block = false;
	unsigned int k;

	memset(&e, 0, sizeof(e));
	k = fz_rn(r, 100);
	e.to_submit = k < 60 ? fz_rn(r, c->sqn + 1) : k < 80 ? fz_rn(r, 4 * c->sqn + 2) :
		      k < 90 ? 0xffffffffu : 0;
	if (fz_pct(r, 60))
		e.flags = CAPCHAN_ENTER_GETEVENTS;
	if (fz_pct(r, 2)) {
		e.flags |= 1u << (1 + fz_rn(r, 31));
		invalid = true;
	}
	if (fz_pct(r, 2)) {
		e.resv[fz_rn(r, 2)] = 1;
		invalid = true;
	}
	tail = *c->sq_tail;
	avail = tail - m->k_sq_head;
	if (avail > c->sqn)
		avail = c->sqn;
	n_sub = e.to_submit < avail ? e.to_submit : avail;
	cqh = *c->cq_head;
	used = m->k_cq_tail - cqh;
	space = used > c->cqn ? 0 : c->cqn - used;
	n = n_sub < space ? n_sub : space;
	pending = m->k_cq_tail + n - cqh;
	if (pending > c->cqn)
		pending = c->cqn;
	if (e.flags & CAPCHAN_ENTER_GETEVENTS) {
		k = fz_rn(r, 100);
		if (k < 88) {
			e.min_complete = fz_rn(r, pending + 1);
		} else if (k < 93) {
			e.min_complete = c->cqn + 1 + fz_rn(r, 5);
			invalid = true;
		} else if (pending < c->cqn) {	/* cannot be met: a signal ends it */
			e.min_complete = pending + 1 + fz_rn(r, c->cqn - pending);
			may_block = true;
		}
	} else if (fz_pct(r, 2)) {
		e.min_complete = 1;
		invalid = true;
	}
	if (invalid)
		want = -EINVAL;
	else if (n_sub && !n)
		want = -EBUSY;
	else
		want = n;
	if (!invalid && !(n_sub && !n))
		for (uint32_t i = 0; i < n; i++)
			m->snap[i] = c->sqes[(m->k_sq_head + i) & (c->sqn - 1)];
	if (may_block && want >= 0) {
		fz_arm(15);
		armed = true;
	}
	ret = fz_ioctl(c->fd, CAPCHAN_IOC_ENTER, &e);
	if (armed)
		fz_disarm();
	m->enters++;
	if (may_block && want == 0 && ret == -EINTR) {
		m->eintr++;
		return;
	}
	/*
	 * The module stops early, without waiting, once it has run 32 ops
	 * after one of them let go of a file (capchan_submit(3)): then at
	 * least 32 were consumed, and fewer than could have been.
	 */
	if (want > 0 && ret >= FZ_ENTER_CUT && ret < want) {
		m->cuts++;
		want = ret;
		n = ret;
	}
	FZ_CHECK(ret == want, "ENTER{to_submit %u min %u flags %#x} -> %ld, expected %ld (sq_tail %u k_head %u cq_head %u k_tail %u)",
		 e.to_submit, e.min_complete, e.flags, ret, want, tail, m->k_sq_head, cqh,
		 m->k_cq_tail);
	if (ret == -EBUSY)
		m->ebusy++;
	if (ret != want || ret < 0) {
		if (ret == -EBUSY && want == -EBUSY) {
			FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u after EBUSY, expected %u",
				 *c->sq_head, m->k_sq_head);
			m->sq_head_dirty = false;
		}
		return;
	}
	/* the n new CQEs, checked and learnt from right away, in order */
	for (uint32_t i = 0; i < n; i++) {
		const struct capchan_sqe *s = &m->snap[i];
		uint32_t pos = m->k_cq_tail + i;
		struct capchan_cqe cqe = c->cqes[pos & (c->cqn - 1)];
		unsigned int mode = 0;
		bool linked = m->in_link;

		if (!linked) {
			m->link_failed = false;
			m->chain_handle = 0;
		}
		if (m->link_failed)
			mode |= FZ_M_CANCEL;
		if (!m->chain_handle)
			mode |= FZ_M_CHAIN0;
		FZ_CHECK(cqe.user_data == s->user_data && cqe.flags == 0,
			 "CQE %u: user_data %#llx flags %#x, expected %#llx", pos,
			 (unsigned long long)cqe.user_data, cqe.flags,
			 (unsigned long long)s->user_data);
		fz_check_res(w, c, s, cqe.res, mode);
		if ((mode & FZ_M_CANCEL) && cqe.res != -ECANCELED)
			FZ_FAIL("the chain failed at %s with %d", fz_s(&m->failed),
				m->failed_res);
		if (!(mode & FZ_M_CANCEL)) {
			if (cqe.res < 0) {
				m->link_failed = true;
				m->failed = *s;
				m->failed_res = cqe.res;
			} else if (s->opcode < CAPCHAN_OP_LAST && fz_makes_handle(s->opcode) &&
				 cqe.res > 0)
				m->chain_handle = cqe.res;
		}
		m->in_link = s->flags & CAPCHAN_SQE_LINK;
		m->exp[pos & (c->cqn - 1)].user_data = cqe.user_data;
		m->exp[pos & (c->cqn - 1)].res = cqe.res;
	}
	m->k_sq_head += n;
	m->k_cq_tail += n;
	m->consumed += n;
	if (n_sub) {
		FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u, expected %u", *c->sq_head,
			 m->k_sq_head);
		m->sq_head_dirty = false;
	}
	if (n) {
		FZ_CHECK(__atomic_load_n(c->cq_tail, __ATOMIC_ACQUIRE) == m->k_cq_tail,
			 "cq_tail %u, expected %u", *c->cq_tail, m->k_cq_tail);
		m->cq_tail_dirty = false;
	}
	if (!m->sq_head_dirty)
		FZ_CHECK(*c->sq_head == m->k_sq_head, "sq_head %u, expected %u", *c->sq_head,
			 m->k_sq_head);
	if (!m->cq_tail_dirty)
		FZ_CHECK(*c->cq_tail == m->k_cq_tail, "cq_tail %u, expected %u", *c->cq_tail,
			 m->k_cq_tail);
}

static void fz_model_restore_head(struct fz_model *m)
{
	struct fz_chan *c = m->c;

	if (!m->cq_head_tampered)
		return;
	/* the module may have overwritten what we had not consumed yet */
	if (m->k_cq_tail - m->head > c->cqn) {
		m->lost += (m->k_cq_tail - c->cqn) - m->head;
		m->head = m->k_cq_tail - c->cqn;
	}
	__atomic_store_n(c->cq_head, m->head, __ATOMIC_RELEASE);
	m->cq_head_tampered = false;
}

static void fz_model_reap(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	uint32_t n;

	fz_model_restore_head(m);
	FZ_CHECK(m->k_cq_tail - m->head <= c->cqn, "CQ overflow: tail %u head %u",
		 m->k_cq_tail, m->head);
	n = fz_rn(&w->r, m->k_cq_tail - m->head + 1);
	while (n--) {
		struct capchan_cqe cqe = c->cqes[m->head & (c->cqn - 1)];
		struct fz_exp *x = &m->exp[m->head & (c->cqn - 1)];

		FZ_CHECK(cqe.user_data == x->user_data && cqe.res == x->res && !cqe.flags,
			 "CQE %u changed: %#llx/%d, posted as %#llx/%d", m->head,
			 (unsigned long long)cqe.user_data, cqe.res,
			 (unsigned long long)x->user_data, x->res);
		m->head++;
		m->reaped++;
		/* pairs with the module's load-acquire of cq_head */
		__atomic_store_n(c->cq_head, m->head, __ATOMIC_RELEASE);
	}
}

static void fz_model_tamper(struct fz_w *w, struct fz_model *m)
{
	struct fz_chan *c = m->c;
	struct fz_rng *r = &w->r;

	switch (fz_rn(r, 8)) {
	case 0:	/* the module's own index: it must not care */
		*c->sq_head = fz_r64(r);
		m->sq_head_dirty = true;
		break;
	case 1:
		*c->cq_tail = fz_r64(r);
		m->cq_tail_dirty = true;
		break;
	case 2:
		*c->words[fz_rn(r, 7)] = fz_pct(r, 50) ? fz_r64(r) : 0xffffffffu;
		break;
	case 3: {	/* our SQ tail: ahead, behind (clamped to a full ring) or random */
		uint32_t v;

		switch (fz_rn(r, 3)) {
		case 0: v = m->k_sq_head + fz_rn(r, c->sqn + 1); break;
		case 1: v = m->k_sq_head - 1 - fz_rn(r, 5); break;
		default: v = fz_r64(r); break;
		}
		__atomic_store_n(c->sq_tail, v, __ATOMIC_RELEASE);
		break;
	}
	case 4: {	/* our CQ head: nonsense until restored */
		uint32_t v;

		switch (fz_rn(r, 3)) {
		case 0: v = m->k_cq_tail + 1 + fz_rn(r, 3); break;		/* ahead */
		case 1: v = m->head + fz_rn(r, 2 * c->cqn + 1) - c->cqn; break;
		default: v = fz_r64(r); break;
		}
		__atomic_store_n(c->cq_head, v, __ATOMIC_RELEASE);
		m->cq_head_tampered = true;
		break;
	}
	case 5:
	case 6: {	/* garbage bytes into SQE slots, queued or not */
		uint32_t i = fz_rn(r, c->sqn);
		unsigned char *b = (unsigned char *)&c->sqes[i];
		uint32_t at = fz_rn(r, 64), len = 1 + fz_rn(r, 64 - at);

		fz_bytes(r, b + at, len);
		break;
	}
	default: {	/* garbage into CQE slots the module owns (free ones) */
		uint32_t free_n = c->cqn - (m->k_cq_tail - m->head);

		if (m->cq_head_tampered || m->k_cq_tail - m->head > c->cqn || !free_n)
			break;
		for (uint32_t i = fz_rn(r, free_n); i < free_n; i += 1 + fz_rn(r, 4))
			fz_bytes(r, &c->cqes[(m->k_cq_tail + i) & (c->cqn - 1)],
				 sizeof(struct capchan_cqe));
		break;
	}
	}
}

static void fz_rings_child(struct fz_w *w, void *arg, double end)
{
	struct fz_chan *c = arg;

	/* the child shares the channel (not the model): no ring access */
	while (cc_now() < end) {
		unsigned int k = fz_rn(&w->r, 100);

		if (k < 80) {
			w->ring_addrs = false;
			fz_invoke_one(w, c, c->fd);
		} else if (k < 90) {
			fz_fdinfo_check(w, c, c->fd, false);
		} else {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

			FZ_CHECK(poll(&pfd, 1, 0) >= 0, "poll in child");
		}
	}
	munmap(c->map, c->map_len);
	close(c->fd);
}

static void fz_body_rings(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_chan c;
	struct fz_model m;
	struct fz_w w;
	pid_t kids[2];
	int nkids = 0, forks = 0, rounds = 0;

	fz_w_init(&w, e, seed);
	while (cc_now() < end) {
		double round_end = cc_now() + 0.4 + fz_rn(&w.r, 800) / 1000.0;

		if (fz_chan_open(&c, e, &w.r, true, true)) {
			FZ_FAIL("cannot open a channel with rings");
			return;
		}
		rounds++;
		memset(&m, 0, sizeof(m));
		m.c = &c;
		m.exp = calloc(c.cqn, sizeof(*m.exp));
		m.snap = calloc(c.sqn, sizeof(*m.snap));
		while (cc_now() < end && cc_now() < round_end) {
			unsigned int k = fz_rn(&w.r, 100);

			if (k < 30)
				fz_model_push(&w, &m);
			else if (k < 60)
				fz_model_enter(&w, &m);
			else if (k < 75)
				fz_model_reap(&w, &m);
			else if (k < 85)
				fz_model_tamper(&w, &m);
			else if (k < 95)
				fz_invoke_one(&w, &c, c.fd);
			else if (k < 97)
				fz_fdinfo_check(&w, &c, c.fd, true);
			else if (k < 98 && nkids < 1 && forks < 4) {
				pid_t pid = fz_fork_helper(fz_rings_child, &w, &c, 150);

				if (pid > 0) {
					kids[nkids++] = pid;
					forks++;
				}
			} else {
				/* fdinfo shows the module's view of the indices */
				struct cc_fdinfo *fi = malloc(sizeof(*fi));

				if (fi && !cc_read_fdinfo(c.fd, fi))
					FZ_CHECK(fi->sq_head == m.k_sq_head &&
						 fi->cq_tail == m.k_cq_tail &&
						 fi->sq_tail == *c.sq_tail &&
						 fi->cq_head == *c.cq_head,
						 "fdinfo indices %lld/%lld/%lld/%lld, model %u/%u/%u/%u",
						 fi->sq_head, fi->sq_tail, fi->cq_head, fi->cq_tail,
						 m.k_sq_head, *c.sq_tail, *c.cq_head, m.k_cq_tail);
				free(fi);
			}
			fz_reap_helpers(kids, &nkids, 0);
		}
		/* drain: everything consumed is accounted for exactly once */
		fz_model_restore_head(&m);
		while (m.head != m.k_cq_tail) {
			fz_model_reap(&w, &m);
		}
		FZ_CHECK(m.consumed == m.reaped + m.lost,
			 "consumed %llu, reaped %llu + lost to a tampered head %llu",
			 (unsigned long long)m.consumed, (unsigned long long)m.reaped,
			 (unsigned long long)m.lost);
		if (rounds == 1 || fz_pct(&w.r, 10))
			ksft_print_msg("fuzz rings: round %d sq %u cq %u: %llu ENTERs, %llu SQEs consumed, %llu reaped, %llu lost to tampering, %llu EBUSY, %llu EINTR, %llu cut after closes\n",
				       rounds, c.sqn, c.cqn, (unsigned long long)m.enters,
				       (unsigned long long)m.consumed, (unsigned long long)m.reaped,
				       (unsigned long long)m.lost, (unsigned long long)m.ebusy,
				       (unsigned long long)m.eintr, (unsigned long long)m.cuts);
		free(m.exp);
		free(m.snap);
		fz_chan_close(&c);
	}
	fz_reap_helpers(kids, &nkids, cc_now() + 3);
	ksft_print_msg("fuzz rings: %d rounds, %d forks, %d failures\n", rounds, forks,
		       atomic_load(&fz_nfail));
}

/* ------------------------------------------------------------------ */
/* Test 4: threads, a swapped channel, renames, fork                   */
/* ------------------------------------------------------------------ */

#define FZ_NWORKERS	3
#define FZ_MAX_CHANS	160

struct fz_shared {
	struct fz_env *env;
	uint64_t seed;
	atomic_int stop;		/* 1: workers stop, 2: the watchdog too */
	atomic_int cur;			/* index of the channel behind FZ_SHARED_FD */
	int nchans;
	struct fz_chan chans[FZ_MAX_CHANS];
	atomic_int in_wait[FZ_NWORKERS];
	pthread_t tid[FZ_NWORKERS];
	atomic_long stats[8];
	atomic_int nkids;
	pid_t kids[8];
	pthread_mutex_t kids_lock;
};

struct fz_targ {
	struct fz_shared *sh;
	int idx;
};

static void fz_threads_child(struct fz_w *w, void *arg, double end)
{
	struct fz_shared *sh = arg;

	while (cc_now() < end) {
		struct fz_chan *c = &sh->chans[atomic_load(&sh->cur)];
		unsigned int k = fz_rn(&w->r, 100);

		w->c = c;
		if (k < 60) {
			fz_invoke_one(w, c, FZ_SHARED_FD);
		} else if (k < 85) {
			long ret = cc_enter(FZ_SHARED_FD, fz_rn(&w->r, 8), 0, 0);

			FZ_CHECK(ret >= -4095 && ret <= 8, "ENTER in child -> %ld", ret);
		} else {
			fz_fdinfo_check(w, c, FZ_SHARED_FD, false);
		}
	}
}

static void fz_tw_enter(struct fz_w *w, struct fz_shared *sh, int idx, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	uint32_t n = fz_rn(r, 5), to;
	long ret;
	unsigned int flags = 0, min = 0;

	for (uint32_t i = 0; i < n; i++) {	/* racy on purpose */
		uint32_t tail = *c->sq_tail;

		fz_gen_sqe(w, &c->sqes[tail & (c->sqn - 1)]);
		__atomic_store_n(c->sq_tail, tail + 1, __ATOMIC_RELEASE);
	}
	to = fz_pct(r, 90) ? fz_rn(r, 2 * c->sqn + 1) : fz_r64(r);
	if (fz_pct(r, 50)) {
		flags = CAPCHAN_ENTER_GETEVENTS;
		min = fz_rn(r, c->cqn + 1);
	}
	atomic_store(&sh->in_wait[idx], flags ? 1 : 0);
	ret = cc_enter(FZ_SHARED_FD, to, min, flags);
	atomic_store(&sh->in_wait[idx], 0);
	atomic_fetch_add(&sh->stats[1], 1);
	/* the channel behind the fd may have changed: sizes are unknown */
	FZ_CHECK((ret >= 0 && ret <= to && ret <= CAPCHAN_MAX_SQ_ENTRIES) || ret == -EBUSY ||
		 ret == -EINTR || ret == -EINVAL || ret == -EBADF || ret == -EBADFD,
		 "ENTER(%u, %u, %#x) -> %ld", to, min, flags, ret);
}

static void fz_tw_reap(struct fz_w *w, struct fz_chan *c)
{
	uint32_t head = __atomic_load_n(c->cq_head, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(c->cq_tail, __ATOMIC_ACQUIRE);
	uint32_t n = tail - head;

	if (n > c->cqn)
		n = c->cqn;
	n = fz_rn(&w->r, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		struct capchan_cqe cqe = c->cqes[(head + i) & (c->cqn - 1)];

		/* another thread may have reaped (and the module reused) it */
		FZ_CHECK(cqe.res >= -4095 || (cqe.user_data >> 48) != FZ_UD_MAGIC,
			 "CQE res %d", cqe.res);
	}
	__atomic_store_n(c->cq_head, head + n, __ATOMIC_RELEASE);
}

static void fz_tw_tamper(struct fz_w *w, struct fz_chan *c)
{
	struct fz_rng *r = &w->r;
	uint32_t *words[] = { c->sq_head, c->sq_tail, c->cq_head, c->cq_tail,
			      c->words[fz_rn(r, 7)] };

	if (fz_pct(r, 60)) {
		*words[fz_rn(r, 5)] = fz_pct(r, 50) ? fz_r64(r) : *words[fz_rn(r, 5)] + 1;
	} else {
		size_t at = fz_rn(r, (uint32_t)c->map_len - 8);

		fz_bytes(r, c->map + at, 1 + fz_rn(r, 8));
	}
}

static void *fz_tworker(void *arg)
{
	struct fz_targ *a = arg;
	struct fz_shared *sh = a->sh;
	struct fz_chan priv;
	struct fz_w w;
	long iters = 0;

	fz_w_init(&w, sh->env, sh->seed ^ (0x1000 + a->idx));
	w.threads = true;
	/*
	 * No buffers in the rings here: another thread may close a channel
	 * and unmap its rings while an op of ours still writes there, and
	 * glibc reuses the range for a thread's heap (a SIGABRT from malloc
	 * once in a few runs).  The single-threaded tests cover such buffers.
	 */
	w.ring_addrs = false;
	if (fz_chan_open(&priv, sh->env, &w.r, false, true))
		priv.fd = -1;
	while (!atomic_load(&sh->stop)) {
		struct fz_chan *c = &sh->chans[atomic_load(&sh->cur)];
		unsigned int k = fz_rn(&w.r, 100);

		iters++;
		w.c = c;
		if (k < 35) {
			fz_invoke_one(&w, c, FZ_SHARED_FD);
		} else if (k < 55) {
			fz_tw_enter(&w, sh, a->idx, c);
		} else if (k < 68) {
			fz_tw_reap(&w, c);
		} else if (k < 76) {
			fz_tw_tamper(&w, c);
		} else if (k < 82) {
			/* known commands only: a random one could be a VFS ioctl */
			atomic_store(&sh->in_wait[a->idx], 1);
			switch (fz_rn(&w.r, 4)) {
			case 0: {
				struct capchan_sqe s;
				long res;

				fz_gen_sqe(&w, &s);
				res = fz_invoke(FZ_SHARED_FD, &s);
				fz_check_res(&w, c, &s, res, FZ_M_INVOKE | FZ_M_THREADS);
				break;
			}
			case 1: {
				struct capchan_version v;
				long res;

				memset(&v, 0, sizeof(v));
				res = fz_ioctl(FZ_SHARED_FD, CAPCHAN_IOC_VERSION, &v);
				FZ_CHECK(res == 0 || res == -EBADF, "VERSION -> %ld", res);
				break;
			}
			case 2: {
				struct capchan_params p;
				long res;

				memset(&p, 0, sizeof(p));
				p.sq_entries = 1 + fz_rn(&w.r, 8);
				res = fz_ioctl(FZ_SHARED_FD, CAPCHAN_IOC_SETUP, &p);
				FZ_CHECK(res == -EBUSY || res == -EBADF, "SETUP again -> %ld", res);
				break;
			}
			default: {
				unsigned long cmd = _IOC(fz_rn(&w.r, 4), CAPCHAN_IOC_MAGIC,
							 7 + fz_rn(&w.r, 249), fz_rn(&w.r, 512));
				long res = fz_ioctl(FZ_SHARED_FD, cmd, NULL);

				FZ_CHECK(res == -ENOTTY || res == -EBADF, "ioctl %#lx -> %ld", cmd, res);
				break;
			}
			}
			atomic_store(&sh->in_wait[a->idx], 0);
		} else if (k < 87) {
			fz_fdinfo_check(&w, c, FZ_SHARED_FD, false);
		} else if (k < 90) {
			struct pollfd pfd = { .fd = FZ_SHARED_FD, .events = POLLIN };
			int n = poll(&pfd, 1, 0);

			FZ_CHECK(n >= 0 && !(pfd.revents & ~(POLLIN | POLLRDNORM | POLLNVAL)),
				 "poll -> %d revents %#x", n, pfd.revents);
		} else if (k < 92 && a->idx == 0 && atomic_load(&sh->nkids) < 2) {
			pid_t pid = fz_fork_helper(fz_threads_child, &w, sh, 120);

			if (pid > 0) {
				pthread_mutex_lock(&sh->kids_lock);
				sh->kids[atomic_fetch_add(&sh->nkids, 1)] = pid;
				pthread_mutex_unlock(&sh->kids_lock);
				atomic_fetch_add(&sh->stats[3], 1);
			}
		} else if (priv.fd >= 0) {
			/* a private channel: IMPORT what the others EXPORTed */
			fz_invoke_one(&w, &priv, priv.fd);
		}
		if (a->idx == 0 && atomic_load(&sh->nkids)) {
			pthread_mutex_lock(&sh->kids_lock);
			{
				int n = atomic_load(&sh->nkids);

				fz_reap_helpers(sh->kids, &n, 0);
				atomic_store(&sh->nkids, n);
			}
			pthread_mutex_unlock(&sh->kids_lock);
		}
	}
	if (priv.fd >= 0)
		fz_chan_close(&priv);
	atomic_fetch_add(&sh->stats[0], iters);
	free(w.paths);
	return NULL;
}

/* Close every capability file descriptor (EXPORT results nobody keeps). */
static void fz_sweep_capfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[64], link[64];
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:[capchan-cap]"))
			close(fd);
	}
	if (d)
		closedir(d);
}

static void *fz_tcloser(void *arg)
{
	struct fz_shared *sh = arg;
	struct fz_rng r;
	int round = 0;

	fz_srand(&r, sh->seed ^ 0xc105e);
	while (!atomic_load(&sh->stop)) {
		struct fz_chan *c;

		fz_sleep_ms(5 + fz_rn(&r, 40));
		if (++round % 4 == 0)
			fz_sweep_capfds();
		if (sh->nchans >= FZ_MAX_CHANS)
			continue;
		c = &sh->chans[sh->nchans];
		if (fz_chan_open(c, sh->env, &r, true, true)) {
			fz_chan_close(c);
			continue;	/* EMFILE before the sweep: try later */
		}
		if (fz_pct(&r, 25)) {	/* a window with no channel at all */
			close(FZ_SHARED_FD);
			fz_sleep_ms(fz_rn(&r, 3));
		}
		if (dup2(c->fd, FZ_SHARED_FD) != FZ_SHARED_FD)
			FZ_FAIL("dup2: %s", strerror(errno));
		close(c->fd);
		c->fd = FZ_SHARED_FD;	/* the mapping keeps the old channel alive */
		atomic_store(&sh->cur, sh->nchans++);
		atomic_fetch_add(&sh->stats[2], 1);
	}
	return NULL;
}

static void *fz_trenamer(void *arg)
{
	struct fz_shared *sh = arg;
	struct fz_env *e = sh->env;
	int j = e->t.jail_fd, o = e->out_fd;
	bool x_ok = true, d_ok = true;
	struct fz_rng r;

	fz_srand(&r, sh->seed ^ 0x4e4a3e);
	while (!atomic_load(&sh->stop)) {
		/* a file leaves the DIR; outside, the secret takes its name */
		if (x_ok && !renameat(j, "mv/x", o, "x")) {
			if (!renameat2(o, "x", o, "secret2", RENAME_EXCHANGE))
				x_ok = !renameat2(o, "x", o, "secret2", RENAME_EXCHANGE);
			if (x_ok)
				x_ok = !renameat(o, "x", j, "mv/x");
		}
		/* a directory leaves the DIR; outside, the secret moves in */
		if (d_ok && !renameat(j, "mvd", o, "mvd")) {
			if (!renameat(o, "secret3", o, "mvd/y")) {
				sched_yield();
				d_ok = !renameat(o, "mvd/y", o, "secret3");
			}
			/* an OPEN with O_CREAT may have made a file "mvd" meanwhile */
			if (d_ok && renameat(o, "mvd", j, "mvd"))
				d_ok = !unlinkat(j, "mvd", 0) && !renameat(o, "mvd", j, "mvd");
		}
		/* inside only */
		renameat2(j, "sub/inner", j, "sub/deeper/leaf", RENAME_EXCHANGE);
		if (fz_pct(&r, 10))
			fz_sleep_ms(fz_rn(&r, 2));
	}
	if (!x_ok || !d_ok)
		ksft_print_msg("fuzz threads: renamer stopped a dance early (x %d, dir %d)\n",
			       x_ok, d_ok);
	return NULL;
}

static void *fz_twatchdog(void *arg)
{
	struct fz_shared *sh = arg;

	/* runs until every worker has returned (see the body) */
	while (atomic_load(&sh->stop) != 2) {
		for (int i = 0; i < FZ_NWORKERS; i++)
			if (atomic_load(&sh->in_wait[i]))
				pthread_kill(sh->tid[i], SIGUSR1);
		fz_sleep_ms(2);
	}
	return NULL;
}

static void fz_body_threads(struct fz_env *e, uint64_t seed, double end)
{
	struct fz_shared *sh = calloc(1, sizeof(*sh));
	struct fz_targ args[FZ_NWORKERS];
	pthread_t closer, renamer, dog;
	struct fz_rng r;

	fz_capfds_owned = false;	/* the closer's sweep closes them */
	fz_srand(&r, seed);
	sh->env = e;
	sh->seed = seed;
	pthread_mutex_init(&sh->kids_lock, NULL);
	if (fz_chan_open(&sh->chans[0], e, &r, true, true) ||
	    dup2(sh->chans[0].fd, FZ_SHARED_FD) != FZ_SHARED_FD) {
		FZ_FAIL("first channel: %s", strerror(errno));
		return;
	}
	close(sh->chans[0].fd);
	sh->chans[0].fd = FZ_SHARED_FD;
	sh->nchans = 1;
	atomic_store(&sh->cur, 0);
	for (int i = 0; i < FZ_NWORKERS; i++) {
		args[i].sh = sh;
		args[i].idx = i;
		pthread_create(&sh->tid[i], NULL, fz_tworker, &args[i]);
	}
	pthread_create(&dog, NULL, fz_twatchdog, sh);
	pthread_create(&closer, NULL, fz_tcloser, sh);
	pthread_create(&renamer, NULL, fz_trenamer, sh);
	while (cc_now() < end)
		fz_sleep_ms(20);
	atomic_store(&sh->stop, 1);
	pthread_join(closer, NULL);
	pthread_join(renamer, NULL);
	for (int i = 0; i < FZ_NWORKERS; i++)
		pthread_join(sh->tid[i], NULL);
	atomic_store(&sh->stop, 2);
	pthread_join(dog, NULL);
	{
		int n = atomic_load(&sh->nkids);

		fz_reap_helpers(sh->kids, &n, cc_now() + 3);
	}
	close(FZ_SHARED_FD);
	for (int i = 0; i < sh->nchans; i++) {
		sh->chans[i].fd = -1;
		fz_chan_close(&sh->chans[i]);
	}
	fz_sweep_capfds();
	ksft_print_msg("fuzz threads: %ld worker iterations, %ld ENTERs, %ld channel swaps, %ld forks, %d failures\n",
		       atomic_load(&sh->stats[0]), atomic_load(&sh->stats[1]),
		       atomic_load(&sh->stats[2]), atomic_load(&sh->stats[3]),
		       atomic_load(&fz_nfail));
	free(sh);
}

/* ------------------------------------------------------------------ */
/* The tests: about 17 s in all, each well under the harness's 30 s     */
/* ------------------------------------------------------------------ */

TEST(ioctls)
{
	ASSERT_EQ(0, fz_run(_metadata, "ioctls", 3.0, fz_body_ioctls));
}

TEST(invoke)
{
	ASSERT_EQ(0, fz_run(_metadata, "invoke", 3.5, fz_body_invoke));
}

TEST(rings)
{
	ASSERT_EQ(0, fz_run(_metadata, "rings", 4.5, fz_body_rings));
}

TEST(threads)
{
	ASSERT_EQ(0, fz_run(_metadata, "threads", 6.0, fz_body_threads));
}

TEST_HARNESS_MAIN
