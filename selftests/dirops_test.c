// SPDX-License-Identifier: GPL-2.0
/*
 * The directory operations beneath a DIR capability: READDIR, STATAT,
 * MKDIR, UNLINK, RMDIR, SYMLINK, RENAME and TRUNCATE (a FILE op), through
 * INVOKE and the rings.  Exact results on success, exact errnos on bad
 * input, a table of escape attempts applied to every path-taking op, the
 * rights each op needs, and RENAME between capabilities of different
 * users.  Every SQE is built here by hand (no library helpers for these
 * ops).  Runs as root.
 *
 *   <base>/                     not granted
 *     secret                    "OUTSIDE SECRET\n"
 *     out/                      the escape target of the table
 *       victim                  "OUTSIDE VICTIM\n"
 *       emptydir/
 *   <base>/jail/                granted as a DIR capability (R_ALL)
 *     cc_tree's file, hello, sub/inner, sub/deeper/leaf
 *     victim, emptydir/, mvsrc  same names inside
 *     mnt/                      a small tmpfs (victim, emptydir/): not beneath
 *     dir_out -> ..   rel_out -> ../out/victim   abs_out -> <base>/out/victim
 *     ... (the links of jail_links[] below)
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <linux/landlock.h>
#include <sys/prctl.h>

#include <grp.h>

#ifndef R_LIST
#define R_LIST		CAPCHAN_RIGHT_LIST
#endif
#ifndef R_REMOVE
#define R_REMOVE	CAPCHAN_RIGHT_REMOVE
#endif

#define DIRENT_HDR	((int)sizeof(struct capchan_dirent))
#define OUT_VICTIM	"OUTSIDE VICTIM\n"
#define MNT_VICTIM	"MOUNTED VICTIM\n"
#define IN_VICTIM	"inside victim\n"

FIXTURE(dirops) {
	struct cc_tree t;
	struct capchan ch;
	int fd;			/* == ch.fd */
	uint32_t dh;		/* DIR jail, R_ALL */
	int out_fd;
	bool mounted;
	char out[PATH_MAX + 16];
	char mnt[PATH_MAX + 16];
	char abs_out[PATH_MAX + 32];
	char abs_out_victim[PATH_MAX + 32];
	char buf[65536];
};

/* The links of the jail, made at setup and put back by jail_repair(). */
struct jlink {
	const char *name;
	char target[PATH_MAX + 32];
};

static struct jlink jail_links[] = {
	{ "dir_out", ".." },
	{ "rel_out_dir", "../out" },
	{ "abs_out_dir", "" },		/* <base>/out */
	{ "rel_out", "../out/victim" },
	{ "abs_out", "" },		/* <base>/out/victim */
	{ "abs_root", "/" },
	{ "dangle_out", "../out/newdir" },
	{ "chain1", "chain2" },
	{ "chain2", "sub/chain3" },
	{ "sub/chain3", "../../out" },
	{ "loop1", "loop2" },
	{ "loop2", "loop1" },
	{ "dot", "." },
	{ "to_mnt", "mnt" },
	{ "to_proc", "/proc/self/cwd" },
	{ "ln_hello", "hello" },
	{ "ln_sub", "sub" },
};

/* ------------------------------------------------------------------ */
/* SQEs, by hand                                                       */
/* ------------------------------------------------------------------ */

static void sq_readdir(struct capchan_sqe *s, uint32_t h, uint64_t cookie,
		       void *buf, uint32_t len)
{
	cc_sqe(s, CAPCHAN_OP_READDIR, h);
	s->off = cookie;
	s->addr = (uintptr_t)buf;
	s->len = len;
}

static void sq_statat(struct capchan_sqe *s, uint32_t h, const char *path,
		      struct capchan_stat *st, uint32_t flags)
{
	cc_sqe(s, CAPCHAN_OP_STATAT, h);
	s->addr = (uintptr_t)path;
	s->addr2 = (uintptr_t)st;
	s->len = sizeof(*st);
	s->op_flags = flags;
}

static void sq_path(struct capchan_sqe *s, unsigned int op, uint32_t h,
		    const char *path)
{
	cc_sqe(s, op, h);
	s->addr = (uintptr_t)path;
}

static void sq_mkdir(struct capchan_sqe *s, uint32_t h, const char *path,
		     mode_t mode)
{
	sq_path(s, CAPCHAN_OP_MKDIR, h, path);
	s->off = mode;
}

/* SYMLINK: the new name at addr, the link text at addr2. */
static void sq_symlink(struct capchan_sqe *s, uint32_t h, const char *text,
		       const char *path)
{
	sq_path(s, CAPCHAN_OP_SYMLINK, h, path);
	s->addr2 = (uintptr_t)text;
}

static void sq_rename(struct capchan_sqe *s, uint32_t h, const char *from,
		      uint32_t to_dir, const char *to, uint32_t flags)
{
	sq_path(s, CAPCHAN_OP_RENAME, h, from);
	s->addr2 = (uintptr_t)to;
	s->len = to_dir;
	s->op_flags = flags;
}

static void sq_truncate(struct capchan_sqe *s, uint32_t h, uint64_t len)
{
	cc_sqe(s, CAPCHAN_OP_TRUNCATE, h);
	s->off = len;
}

static int do_readdir(int fd, uint32_t h, uint64_t cookie, void *buf,
		      uint32_t len)
{
	struct capchan_sqe s;

	sq_readdir(&s, h, cookie, buf, len);
	return cc_invoke(fd, &s);
}

static int do_statat(int fd, uint32_t h, const char *path,
		     struct capchan_stat *st, uint32_t flags)
{
	struct capchan_sqe s;

	sq_statat(&s, h, path, st, flags);
	return cc_invoke(fd, &s);
}

static int do_mkdir(int fd, uint32_t h, const char *path, mode_t mode)
{
	struct capchan_sqe s;

	sq_mkdir(&s, h, path, mode);
	return cc_invoke(fd, &s);
}

static int do_unlink(int fd, uint32_t h, const char *path)
{
	struct capchan_sqe s;

	sq_path(&s, CAPCHAN_OP_UNLINK, h, path);
	return cc_invoke(fd, &s);
}

static int do_rmdir(int fd, uint32_t h, const char *path)
{
	struct capchan_sqe s;

	sq_path(&s, CAPCHAN_OP_RMDIR, h, path);
	return cc_invoke(fd, &s);
}

static int do_symlink(int fd, uint32_t h, const char *text, const char *path)
{
	struct capchan_sqe s;

	sq_symlink(&s, h, text, path);
	return cc_invoke(fd, &s);
}

static int do_rename(int fd, uint32_t h, const char *from, uint32_t to_dir,
		     const char *to, uint32_t flags)
{
	struct capchan_sqe s;

	sq_rename(&s, h, from, to_dir, to, flags);
	return cc_invoke(fd, &s);
}

static int do_truncate(int fd, uint32_t h, uint64_t len)
{
	struct capchan_sqe s;

	sq_truncate(&s, h, len);
	return cc_invoke(fd, &s);
}

/* ------------------------------------------------------------------ */
/* Host-side views: stat, link text, tree snapshots                    */
/* ------------------------------------------------------------------ */

/* fstatat() as 0 or -errno. */
static int host_stat(int dirfd, const char *path, struct stat *sb, int flags)
{
	return fstatat(dirfd, path, sb, flags) ? -errno : 0;
}

static bool host_exists(int dirfd, const char *path)
{
	struct stat sb;

	return !fstatat(dirfd, path, &sb, AT_SYMLINK_NOFOLLOW);
}

/* The text of a symlink, or "" if it is not one. */
static const char *host_readlink(int dirfd, const char *path, char *buf,
				 size_t len)
{
	ssize_t n = readlinkat(dirfd, path, buf, len - 1);

	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

struct lines {
	char **v;
	int n, cap;
};

static void lines_add(struct lines *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = strdup(s);
}

static int lines_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted and joined, one per line; the lines are freed. */
static char *lines_join(struct lines *l)
{
	size_t len = 1, at = 0;
	char *out;

	qsort(l->v, l->n, sizeof(*l->v), lines_cmp);
	for (int i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	out = malloc(len);
	for (int i = 0; i < l->n; i++) {
		at += sprintf(out + at, "%s\n", l->v[i]);
		free(l->v[i]);
	}
	out[at] = '\0';
	free(l->v);
	memset(l, 0, sizeof(*l));
	return out;
}

/* FNV-1a of a regular file's content (its first MiB). */
static uint64_t host_hash(int dirfd, const char *name)
{
	uint64_t h = 14695981039346656037ULL;
	char buf[4096];
	size_t total = 0;
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (total < (1u << 20) && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
		total += n;
	}
	close(fd);
	return h;
}

static void stat_line(struct lines *l, const char *path, const struct stat *sb,
		      int dirfd, const char *name)
{
	char line[PATH_MAX + 512], text[PATH_MAX];
	int n;

	n = snprintf(line, sizeof(line),
		     "%s mode=%o size=%lld ino=%llu nlink=%llu uid=%u gid=%u mtime=%lld.%09ld ctime=%lld.%09ld",
		     path, sb->st_mode, (long long)sb->st_size,
		     (unsigned long long)sb->st_ino,
		     (unsigned long long)sb->st_nlink, sb->st_uid, sb->st_gid,
		     (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec,
		     (long long)sb->st_ctim.tv_sec, sb->st_ctim.tv_nsec);
	if (S_ISLNK(sb->st_mode))
		snprintf(line + n, sizeof(line) - n, " link=%s",
			 host_readlink(dirfd, name, text, sizeof(text)));
	else if (S_ISREG(sb->st_mode))
		snprintf(line + n, sizeof(line) - n, " hash=%016llx",
			 (unsigned long long)host_hash(dirfd, name));
	lines_add(l, line);
}

/* Every entry below dirfd (not crossing mounts), "skip" left out at the top. */
static void snap_walk(int dirfd, const char *prefix, dev_t dev,
		      const char *skip, struct lines *l)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (skip && !strcmp(de->d_name, skip)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", prefix, de->d_name);
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		stat_line(l, path, &sb, dirfd, de->d_name);
		if (S_ISDIR(sb.st_mode) && sb.st_dev == dev) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				snap_walk(sub, path, dev, NULL, l);
				close(sub);
			}
		}
	}
	closedir(d);
}

static void snap_add_tree(struct lines *l, int dirfd, const char *tag,
			  const char *skip)
{
	struct stat sb;

	if (fstat(dirfd, &sb))
		return;
	stat_line(l, tag, &sb, dirfd, ".");
	snap_walk(dirfd, tag, sb.st_dev, skip, l);
}

/* Everything a capability on the jail must never touch. */
static char *snap_outside(FIXTURE_DATA(dirops) *self)
{
	struct lines l = { 0 };

	snap_add_tree(&l, self->t.base_fd, "base", "jail");
	if (self->mounted) {
		int m = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (m >= 0) {
			snap_add_tree(&l, m, "mnt", NULL);
			close(m);
		}
	}
	return lines_join(&l);
}

static char *snap_jail(FIXTURE_DATA(dirops) *self)
{
	struct lines l = { 0 };

	snap_add_tree(&l, self->t.jail_fd, "jail", NULL);
	return lines_join(&l);
}

/* Equal snapshots, or a log of the first line that differs. */
static void same_tree(struct __test_metadata *_metadata, const char *what,
		      const char *before, const char *after, const char *ctx)
{
	size_t i = 0, a, b;

	if (!strcmp(before, after))
		return;
	while (before[i] && before[i] == after[i])
		i++;
	while (i && before[i - 1] != '\n')
		i--;
	a = strcspn(before + i, "\n");
	b = strcspn(after + i, "\n");
	EXPECT_EQ(0, strcmp(before, after))
		TH_LOG("%s changed by %s: before \"%.*s\", after \"%.*s\"", what,
		       ctx, (int)a, before + i, (int)b, after + i);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

static int make_links(FIXTURE_DATA(dirops) *self)
{
	for (size_t i = 0; i < CC_ARRAY_SIZE(jail_links); i++) {
		if (symlinkat(jail_links[i].target, self->t.jail_fd,
			      jail_links[i].name) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* Remove whatever is at name, file, link or (empty-able) directory. */
static void host_remove(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) && errno == EISDIR) {
		char path[PATH_MAX];
		int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		/* a directory made by a test: take it and its content away */
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", fd, name);
		cc_rm_rf(path);
		unlinkat(dirfd, name, AT_REMOVEDIR);
		close(fd);
	}
}

/* Put the jail back as setup made it (after an op that was meant to work). */
static void jail_repair(FIXTURE_DATA(dirops) *self)
{
	static const char *const made[] = {
		"moved", "newdir", "newlink", "newname",
	};
	int j = self->t.jail_fd;
	char text[PATH_MAX];
	struct stat sb;

	for (size_t i = 0; i < CC_ARRAY_SIZE(made); i++)
		host_remove(j, made[i]);
	for (size_t i = 0; i < CC_ARRAY_SIZE(jail_links); i++) {
		if (!strcmp(host_readlink(j, jail_links[i].name, text, sizeof(text)),
			    jail_links[i].target))
			continue;
		host_remove(j, jail_links[i].name);
		symlinkat(jail_links[i].target, j, jail_links[i].name);
	}
	if (fstatat(j, "mvsrc", &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode)) {
		host_remove(j, "mvsrc");
		cc_put_str(j, "mvsrc", "mvsrc\n");
	}
	if (fstatat(j, "victim", &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode)) {
		host_remove(j, "victim");
		cc_put_str(j, "victim", IN_VICTIM);
	}
	if (fstatat(j, "emptydir", &sb, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(sb.st_mode)) {
		host_remove(j, "emptydir");
		mkdirat(j, "emptydir", 0755);
	}
}

FIXTURE_SETUP(dirops)
{
	int j, m, h;

	self->ch.fd = -1;
	self->out_fd = -1;
	umask(022);
	ASSERT_EQ(0, cc_tree_create(&self->t, "dirops"));
	j = self->t.jail_fd;
	snprintf(self->out, sizeof(self->out), "%s/out", self->t.base);
	snprintf(self->mnt, sizeof(self->mnt), "%s/mnt", self->t.jail);
	snprintf(self->abs_out, sizeof(self->abs_out), "%s/out", self->t.base);
	snprintf(self->abs_out_victim, sizeof(self->abs_out_victim),
		 "%s/out/victim", self->t.base);
	for (size_t i = 0; i < CC_ARRAY_SIZE(jail_links); i++) {
		struct jlink *l = &jail_links[i];

		if (!strcmp(l->name, "abs_out_dir"))
			snprintf(l->target, sizeof(l->target), "%s", self->abs_out);
		else if (!strcmp(l->name, "abs_out"))
			snprintf(l->target, sizeof(l->target), "%s",
				 self->abs_out_victim);
	}

	ASSERT_EQ(0, mkdirat(self->t.base_fd, "out", 0755));
	self->out_fd = open(self->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->out_fd);
	ASSERT_EQ(0, cc_put_str(self->out_fd, "victim", OUT_VICTIM));
	ASSERT_EQ(0, mkdirat(self->out_fd, "emptydir", 0755));
	ASSERT_EQ(0, cc_put_str(j, "victim", IN_VICTIM));
	ASSERT_EQ(0, mkdirat(j, "emptydir", 0755));
	ASSERT_EQ(0, cc_put_str(j, "mvsrc", "mvsrc\n"));
	ASSERT_EQ(0, make_links(self));
	ASSERT_EQ(0, mkdirat(j, "mnt", 0755));
	if (!mount("capchan-dirops", self->mnt, "tmpfs", 0, "size=1m,mode=0755")) {
		self->mounted = true;
		m = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_LE(0, m);
		ASSERT_EQ(0, cc_put_str(m, "victim", MNT_VICTIM));
		ASSERT_EQ(0, mkdirat(m, "emptydir", 0755));
		close(m);
	}

	ASSERT_EQ(0, capchan_queue_init(32, &self->ch, 0));
	self->fd = self->ch.fd;
	h = capchan_grant(&self->ch, j, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
}

FIXTURE_TEARDOWN(dirops)
{
	if (chdir("/"))
		;	/* the /proc rows chdir into <base>/out */
	capchan_queue_exit(&self->ch);
	if (self->out_fd >= 0)
		close(self->out_fd);
	if (self->mounted)
		umount2(self->mnt, MNT_DETACH);
	cc_tree_destroy(&self->t);
}

/* ------------------------------------------------------------------ */
/* READDIR                                                             */
/* ------------------------------------------------------------------ */

struct ent {
	char name[256];
	uint64_t ino, next;
	unsigned int type, reclen;
};

/*
 * Parse the n bytes READDIR wrote into buf (filled with 0xaa before):
 * every record well formed, nothing after the last.  Returns the number
 * of records, or -1 after logging what was wrong.
 */
static int parse_dirents(struct __test_metadata *_metadata,
			 const unsigned char *buf, int n, struct ent *out,
			 int max)
{
	int at = 0, cnt = 0;

	while (at < n) {
		struct capchan_dirent d;
		const char *name;

		if (n - at < DIRENT_HDR) {
			TH_LOG("record at %d: %d bytes left, header is %d", at,
			       n - at, DIRENT_HDR);
			return -1;
		}
		memcpy(&d, buf + at, sizeof(d));
		name = (const char *)buf + at + DIRENT_HDR;
		if (d.reclen % 8 || d.reclen < DIRENT_HDR + d.namelen + 1 ||
		    d.reclen > n - at || !d.namelen || d.namelen > 255) {
			TH_LOG("record at %d: reclen %u namelen %u (n %d)", at,
			       d.reclen, d.namelen, n);
			return -1;
		}
		if (name[d.namelen] != '\0' || memchr(name, '\0', d.namelen) ||
		    memchr(name, '/', d.namelen)) {
			TH_LOG("record at %d: name not NUL-terminated or has / or NUL",
			       at);
			return -1;
		}
		/* the padding is the module's: no stale bytes, no leak */
		for (int i = DIRENT_HDR + d.namelen + 1; i < d.reclen; i++) {
			if (buf[at + i]) {
				TH_LOG("record at %d (%s): padding byte %d is %#x",
				       at, name, i, buf[at + i]);
				return -1;
			}
		}
		if (d.resv[0] || d.resv[1] || d.resv[2]) {
			TH_LOG("record at %d: resv not zero", at);
			return -1;
		}
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			TH_LOG("record at %d: \"%s\" listed", at, name);
			return -1;
		}
		if (cnt < max) {
			memcpy(out[cnt].name, name, d.namelen + 1);
			out[cnt].ino = d.ino;
			out[cnt].next = d.next;
			out[cnt].type = d.type;
			out[cnt].reclen = d.reclen;
		}
		cnt++;
		at += d.reclen;
	}
	return cnt;
}

/* DT_* of a host lstat mode. */
static unsigned int dt_of(mode_t m)
{
	return S_ISREG(m) ? DT_REG : S_ISDIR(m) ? DT_DIR : S_ISLNK(m) ? DT_LNK :
	       S_ISFIFO(m) ? DT_FIFO : DT_UNKNOWN;
}

#define NLIST	40

/* jail/list with NLIST entries of three types and varied name lengths. */
static int make_list(FIXTURE_DATA(dirops) *self, const char *dir,
		     char names[NLIST][64])
{
	int j = self->t.jail_fd, d;

	if (mkdirat(j, dir, 0755))
		return -errno;
	d = openat(j, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	for (int i = 0; i < NLIST; i++) {
		int r = 0;

		/* lengths 1..~50, so records of every size class */
		snprintf(names[i], 64, "%c%0*d", "fdl"[i % 3], 1 + (i * 7) % 48, i);
		if (i % 3 == 0)
			r = cc_put_str(d, names[i], names[i]);
		else if (i % 3 == 1)
			r = mkdirat(d, names[i], 0755) ? -errno : 0;
		else
			r = symlinkat("target", d, names[i]) ? -errno : 0;
		if (r) {
			close(d);
			return r;
		}
	}
	close(d);
	return 0;
}

/* How many of the n records (at most CC_ARRAY_SIZE of the caller's) are name. */
static int count_name(const struct ent *e, int n, const char *name)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += !strcmp(e[i].name, name);
	return c;
}

static int find_name(char names[NLIST][64], const char *name)
{
	for (int i = 0; i < NLIST; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

/* A DIR capability on jail/<dir> (OPEN: READDIR works on those too). */
static int open_dir(FIXTURE_DATA(dirops) *self, uint32_t dh, const char *dir,
		    uint64_t rights)
{
	return capchan_open_beneath(&self->ch, dh, dir, O_DIRECTORY, 0, rights);
}

TEST_F(dirops, readdir_records)
{
	char names[NLIST][64];
	struct ent e[NLIST + 8];
	int seen[NLIST] = { 0 };
	int lh, n, cnt, ld;

	ASSERT_EQ(0, make_list(self, "list", names));
	lh = open_dir(self, self->dh, "list", R_LIST | R_STAT);
	ASSERT_LT(0, lh);
	ld = openat(self->t.jail_fd, "list", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, ld);

	memset(self->buf, 0xaa, sizeof(self->buf));
	n = do_readdir(self->fd, lh, 0, self->buf, sizeof(self->buf));
	ASSERT_LT(0, n);
	EXPECT_EQ(0, n % 8);
	/* nothing written past the records */
	EXPECT_EQ(0xaa, (unsigned char)self->buf[n]);
	cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, e,
			    CC_ARRAY_SIZE(e));
	ASSERT_EQ(NLIST, cnt);
	for (int i = 0; i < cnt; i++) {
		struct stat sb;
		int k = find_name(names, e[i].name);

		ASSERT_LE(0, k) TH_LOG("unknown name \"%s\"", e[i].name);
		seen[k]++;
		ASSERT_EQ(0, host_stat(ld, e[i].name, &sb, AT_SYMLINK_NOFOLLOW));
		EXPECT_EQ(sb.st_ino, e[i].ino) TH_LOG("%s", e[i].name);
		EXPECT_EQ(dt_of(sb.st_mode), e[i].type) TH_LOG("%s", e[i].name);
		EXPECT_NE(0, e[i].next) TH_LOG("%s", e[i].name);
	}
	for (int i = 0; i < NLIST; i++) {
		EXPECT_EQ(1, seen[i]) TH_LOG("%s listed %d times", names[i], seen[i]);
	}
	/* from the last record's cookie: the end */
	EXPECT_EQ(0, do_readdir(self->fd, lh, e[cnt - 1].next, self->buf,
				sizeof(self->buf)));
	/* the DIR itself, granted: its own entries, not list's */
	n = do_readdir(self->fd, self->dh, 0, self->buf, sizeof(self->buf));
	ASSERT_LT(0, n);
	cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, e,
			    CC_ARRAY_SIZE(e));
	ASSERT_LT(0, cnt);
	for (int i = 0; i < cnt && i < (int)CC_ARRAY_SIZE(e); i++) {
		EXPECT_GT(0, find_name(names, e[i].name));
	}
	EXPECT_EQ(1, count_name(e, cnt, "list"));
	EXPECT_EQ(1, count_name(e, cnt, "hello"));
	close(ld);
}

/*
 * Small buffers, resumed with each last record's next: every entry once.
 * A buffer too small for the record to come is -EINVAL (no record here is
 * over 80 bytes): then try again with twice as much.
 */
TEST_F(dirops, readdir_small_buffers)
{
	static const uint32_t sizes[] = { 32, 40, 48, 64, 100, 150, 256, 57 };
	char names[NLIST][64];
	int seen[NLIST] = { 0 };
	uint64_t cookie = 0;
	int lh, total = 0, calls = 0;

	ASSERT_EQ(0, make_list(self, "list", names));
	lh = open_dir(self, self->dh, "list", R_LIST);
	ASSERT_LT(0, lh);
	for (;;) {
		uint32_t len = sizes[calls % CC_ARRAY_SIZE(sizes)];
		struct ent e[16];
		int n, cnt;

		memset(self->buf, 0xaa, sizeof(self->buf));
		n = do_readdir(self->fd, lh, cookie, self->buf, len);
		calls++;
		while (n == -EINVAL && len < 80) {
			len *= 2;
			n = do_readdir(self->fd, lh, cookie, self->buf, len);
		}
		ASSERT_LE(0, n) TH_LOG("call %d len %u: %d", calls, len, n);
		ASSERT_GE(len, n);
		if (!n)
			break;
		cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, e,
				    CC_ARRAY_SIZE(e));
		ASSERT_LT(0, cnt);
		for (int i = 0; i < cnt; i++) {
			int k = find_name(names, e[i].name);

			ASSERT_LE(0, k) TH_LOG("unknown name \"%s\"", e[i].name);
			seen[k]++;
		}
		total += cnt;
		cookie = e[cnt - 1].next;
		ASSERT_GT(200, calls);
	}
	EXPECT_EQ(NLIST, total);
	for (int i = 0; i < NLIST; i++) {
		EXPECT_EQ(1, seen[i]) TH_LOG("%s listed %d times", names[i], seen[i]);
	}
	/* and again at the end */
	EXPECT_EQ(0, do_readdir(self->fd, lh, cookie, self->buf, 64));
}

/* Resuming from any record's next goes on with the record after it. */
TEST_F(dirops, readdir_resume_anywhere)
{
	char names[NLIST][64];
	struct ent all[NLIST + 8], e[NLIST + 8];
	int lh, n, cnt;

	ASSERT_EQ(0, make_list(self, "list", names));
	lh = open_dir(self, self->dh, "list", R_LIST);
	ASSERT_LT(0, lh);
	n = do_readdir(self->fd, lh, 0, self->buf, sizeof(self->buf));
	ASSERT_LT(0, n);
	cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, all,
			    CC_ARRAY_SIZE(all));
	ASSERT_EQ(NLIST, cnt);
	for (int i = 0; i < cnt; i++) {
		int m, k;

		/* out of order on purpose: each READDIR seeks itself */
		k = (i * 17) % cnt;
		memset(self->buf, 0xaa, sizeof(self->buf));
		n = do_readdir(self->fd, lh, all[k].next, self->buf,
			       sizeof(self->buf));
		if (k == cnt - 1) {
			EXPECT_EQ(0, n);
			continue;
		}
		ASSERT_LT(0, n) TH_LOG("after %s", all[k].name);
		m = parse_dirents(_metadata, (unsigned char *)self->buf, n, e,
				  CC_ARRAY_SIZE(e));
		ASSERT_EQ(cnt - k - 1, m) TH_LOG("after %s", all[k].name);
		for (int x = 0; x < m; x++) {
			EXPECT_STREQ(all[k + 1 + x].name, e[x].name);
			EXPECT_EQ(all[k + 1 + x].ino, e[x].ino);
			EXPECT_EQ(all[k + 1 + x].next, e[x].next);
		}
	}
	/* the same with a buffer for one record: exactly the next one */
	for (int k = 0; k + 1 < cnt; k += 5) {
		uint32_t len = all[k + 1].reclen;

		n = do_readdir(self->fd, lh, all[k].next, self->buf, len);
		ASSERT_EQ((int)len, n);
		ASSERT_EQ(1, parse_dirents(_metadata, (unsigned char *)self->buf,
					   n, e, 1));
		EXPECT_STREQ(all[k + 1].name, e[0].name);
		EXPECT_EQ(all[k + 1].next, e[0].next);
	}
}

TEST_F(dirops, readdir_buffer_too_small)
{
	struct ent e[4];
	int lh, eh, n;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "one", 0755));
	/* one entry whose record is 24 + 40 + 1 -> 72 bytes */
	ASSERT_EQ(0, cc_put_str(self->t.jail_fd,
				"one/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x"));
	lh = open_dir(self, self->dh, "one", R_LIST);
	ASSERT_LT(0, lh);
	n = do_readdir(self->fd, lh, 0, self->buf, sizeof(self->buf));
	ASSERT_LT(0, n);
	ASSERT_EQ(1, parse_dirents(_metadata, (unsigned char *)self->buf, n, e, 4));
	EXPECT_EQ(0, e[0].reclen % 8);
	EXPECT_LE(DIRENT_HDR + 41, e[0].reclen);
	/* one byte short of the first record, and smaller still */
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 0, self->buf, e[0].reclen - 1));
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 0, self->buf, DIRENT_HDR));
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 0, self->buf, 1));
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 0, self->buf, 0));
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 0, NULL, 0));
	/* exactly enough */
	EXPECT_EQ((int)e[0].reclen, do_readdir(self->fd, lh, 0, self->buf,
					       e[0].reclen));
	/* at the end nothing has to fit */
	EXPECT_EQ(0, do_readdir(self->fd, lh, e[0].next, self->buf, 0));
	EXPECT_EQ(0, do_readdir(self->fd, lh, e[0].next, NULL, 0));
	/* an empty directory lists nothing, whatever the buffer */
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "empty", 0755));
	eh = open_dir(self, self->dh, "empty", R_LIST);
	ASSERT_LT(0, eh);
	EXPECT_EQ(0, do_readdir(self->fd, eh, 0, self->buf, sizeof(self->buf)));
	EXPECT_EQ(0, do_readdir(self->fd, eh, 0, self->buf, 1));
	/* bad buffers */
	EXPECT_EQ(-EFAULT, do_readdir(self->fd, lh, 0, NULL, 4096));
	EXPECT_EQ(-EFAULT, do_readdir(self->fd, lh, 0, (void *)8, 4096));
	/* cookies are file positions: above LLONG_MAX is -EINVAL up front */
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, 1ULL << 63, self->buf, 4096));
	EXPECT_EQ(-EINVAL, do_readdir(self->fd, lh, ~0ULL, self->buf, 4096));
}

/*
 * A cookie from another directory, or made up: the module seeks this
 * directory there, so a READDIR lists some of this directory's entries
 * (each at most once), nothing, or fails with -EINVAL; never anything of
 * another directory, never another error.
 */
TEST_F(dirops, readdir_foreign_cookies)
{
	char names[NLIST][64], other[NLIST][64];
	struct ent a[NLIST + 8], e[NLIST + 8];
	uint64_t cookies[NLIST + 16];
	int lh, oh, n, cnt, nc = 0;

	ASSERT_EQ(0, make_list(self, "list", names));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "other", 0755));
	for (int i = 0; i < NLIST; i++)
		snprintf(other[i], 64, "other_%d", i);
	{
		int od = openat(self->t.jail_fd, "other", O_RDONLY | O_DIRECTORY);

		ASSERT_LE(0, od);
		for (int i = 0; i < NLIST; i++) {
			ASSERT_EQ(0, cc_put_str(od, other[i], "o"));
		}
		close(od);
	}
	lh = open_dir(self, self->dh, "list", R_LIST);
	oh = open_dir(self, self->dh, "other", R_LIST);
	ASSERT_LT(0, lh);
	ASSERT_LT(0, oh);
	n = do_readdir(self->fd, oh, 0, self->buf, sizeof(self->buf));
	ASSERT_LT(0, n);
	cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, a,
			    CC_ARRAY_SIZE(a));
	ASSERT_EQ(NLIST, cnt);
	for (int i = 0; i < cnt; i++)
		cookies[nc++] = a[i].next;
	cookies[nc++] = 1;
	cookies[nc++] = 2;
	cookies[nc++] = 3;
	cookies[nc++] = 7;
	cookies[nc++] = 12345;
	cookies[nc++] = 1ULL << 32;
	cookies[nc++] = 1ULL << 40;
	cookies[nc++] = (uint64_t)LLONG_MAX;
	cookies[nc++] = (uint64_t)LLONG_MAX - 1;
	cookies[nc++] = 0x5555555555555555ULL;

	for (int c = 0; c < nc; c++) {
		int seen[NLIST] = { 0 };

		memset(self->buf, 0xaa, sizeof(self->buf));
		n = do_readdir(self->fd, lh, cookies[c], self->buf,
			       sizeof(self->buf));
		EXPECT_TRUE(n >= 0 || n == -EINVAL)
			TH_LOG("cookie %#llx: %d", (unsigned long long)cookies[c], n);
		if (n <= 0)
			continue;
		cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, e,
				    CC_ARRAY_SIZE(e));
		ASSERT_LT(0, cnt) TH_LOG("cookie %#llx", (unsigned long long)cookies[c]);
		ASSERT_GE(NLIST, cnt);
		for (int i = 0; i < cnt; i++) {
			int k = find_name(names, e[i].name);

			EXPECT_LE(0, k) TH_LOG("cookie %#llx listed \"%s\"",
					       (unsigned long long)cookies[c],
					       e[i].name);
			if (k >= 0) {
				EXPECT_EQ(1, ++seen[k]);
			}
		}
	}
	/* the capability is none the worse: a listing from 0 is whole */
	n = do_readdir(self->fd, lh, 0, self->buf, sizeof(self->buf));
	EXPECT_EQ(NLIST, parse_dirents(_metadata, (unsigned char *)self->buf,
				       n, e, CC_ARRAY_SIZE(e)));
}

/* Two capabilities sharing one open directory do not disturb each other. */
TEST_F(dirops, readdir_shared_position)
{
	char names[NLIST][64];
	struct ent a[NLIST + 8], b[4];
	int lh, l2, n, cnt;

	ASSERT_EQ(0, make_list(self, "list", names));
	lh = open_dir(self, self->dh, "list", R_LIST | R_DERIVE);
	ASSERT_LT(0, lh);
	l2 = capchan_derive(&self->ch, lh, R_LIST);
	ASSERT_LT(0, l2);
	n = do_readdir(self->fd, lh, 0, self->buf, sizeof(self->buf));
	cnt = parse_dirents(_metadata, (unsigned char *)self->buf, n, a,
			    CC_ARRAY_SIZE(a));
	ASSERT_EQ(NLIST, cnt);
	/* interleaved: each call starts at its own cookie */
	for (int i = 0; i + 1 < cnt; i++) {
		n = do_readdir(self->fd, i % 2 ? lh : l2, a[i].next, self->buf,
			       a[i + 1].reclen);
		ASSERT_EQ((int)a[i + 1].reclen, n);
		ASSERT_EQ(1, parse_dirents(_metadata, (unsigned char *)self->buf,
					   n, b, 1));
		EXPECT_STREQ(a[i + 1].name, b[0].name);
		/* the other one from the start meanwhile */
		n = do_readdir(self->fd, i % 2 ? l2 : lh, 0, self->buf,
			       a[0].reclen);
		ASSERT_EQ((int)a[0].reclen, n);
	}
}

/* ------------------------------------------------------------------ */
/* STATAT                                                              */
/* ------------------------------------------------------------------ */

static void check_statat(struct __test_metadata *_metadata,
			 const struct capchan_stat *st, const struct stat *sb,
			 const char *what)
{
	EXPECT_EQ(sb->st_ino, st->ino) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_size, st->size) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_mode, st->mode) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_nlink, st->nlink) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_uid, st->uid) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_gid, st->gid) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_blocks, st->blocks) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_blksize, st->blksize) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_atim.tv_sec * 1000000000LL + sb->st_atim.tv_nsec,
		  st->atime_ns) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec,
		  st->mtime_ns) TH_LOG("%s", what);
	EXPECT_EQ(sb->st_ctim.tv_sec * 1000000000LL + sb->st_ctim.tv_nsec,
		  st->ctime_ns) TH_LOG("%s", what);
	EXPECT_TRUE(st->dev == sb->st_dev ||
		    st->dev == (((uint64_t)major(sb->st_dev) << 20) |
				minor(sb->st_dev)))
		TH_LOG("%s: dev %#llx vs %#llx", what, (unsigned long long)st->dev,
		       (unsigned long long)sb->st_dev);
	/* a path, not a capability */
	EXPECT_EQ(0, st->cap_type) TH_LOG("%s", what);
	EXPECT_EQ(0, st->rights) TH_LOG("%s", what);
	EXPECT_EQ(0, st->resv[0]);
	EXPECT_EQ(0, st->resv[1]);
}

TEST_F(dirops, statat)
{
	static const struct { const char *path; int flags, host_flags; } ok[] = {
		{ "hello", 0, 0 },
		{ "file", 0, 0 },
		{ "sub", 0, 0 },
		{ "sub/deeper/leaf", 0, 0 },
		{ "sub/../hello", 0, 0 },
		{ ".", 0, 0 },
		{ "sub/..", 0, 0 },
		{ "ln_hello", 0, 0 },				/* followed */
		{ "ln_hello", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
		{ "ln_sub", 0, 0 },
		{ "ln_sub", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
		{ "ln_sub/inner", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
		{ "ln_sub/", CAPCHAN_STATAT_NOFOLLOW, 0 },	/* / follows */
		{ "rel_out", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
		{ "loop1", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
		{ "hello", CAPCHAN_STATAT_NOFOLLOW, AT_SYMLINK_NOFOLLOW },
	};
	struct capchan_stat st;
	struct stat sb;
	int sh;

	for (size_t i = 0; i < CC_ARRAY_SIZE(ok); i++) {
		memset(&st, 0xff, sizeof(st));
		ASSERT_EQ(0, do_statat(self->fd, self->dh, ok[i].path, &st,
				       ok[i].flags)) TH_LOG("%s", ok[i].path);
		ASSERT_EQ(0, host_stat(self->t.jail_fd, ok[i].path, &sb,
				       ok[i].host_flags));
		check_statat(_metadata, &st, &sb, ok[i].path);
	}
	/* the symlink itself: its size is its text's length */
	ASSERT_EQ(0, do_statat(self->fd, self->dh, "ln_hello", &st,
			       CAPCHAN_STATAT_NOFOLLOW));
	EXPECT_TRUE(S_ISLNK(st.mode));
	EXPECT_EQ(strlen("hello"), st.size);
	ASSERT_EQ(0, do_statat(self->fd, self->dh, "ln_hello", &st, 0));
	EXPECT_TRUE(S_ISREG(st.mode));
	EXPECT_EQ(strlen(CC_HELLO), st.size);
	/* errors as fstatat(2), scoping errors where it would leave */
	EXPECT_EQ(-ENOENT, do_statat(self->fd, self->dh, "nope", &st, 0));
	EXPECT_EQ(-ENOENT, do_statat(self->fd, self->dh, "", &st, 0));
	EXPECT_EQ(-ENOTDIR, do_statat(self->fd, self->dh, "hello/x", &st, 0));
	EXPECT_EQ(-ENOTDIR, do_statat(self->fd, self->dh, "hello/", &st, 0));
	EXPECT_EQ(0, do_statat(self->fd, self->dh, "dangle_out", &st,
			       CAPCHAN_STATAT_NOFOLLOW));
	EXPECT_EQ(-EXDEV, do_statat(self->fd, self->dh, "dangle_out", &st, 0));
	EXPECT_EQ(-ELOOP, do_statat(self->fd, self->dh, "loop1", &st, 0));
	EXPECT_EQ(-EXDEV, do_statat(self->fd, self->dh, "rel_out", &st, 0));
	EXPECT_EQ(-EXDEV, do_statat(self->fd, self->dh, "abs_out", &st, 0));
	EXPECT_EQ(-EXDEV, do_statat(self->fd, self->dh, "..", &st, 0));
	EXPECT_EQ(-EFAULT, do_statat(self->fd, self->dh, "hello", NULL, 0));
	EXPECT_EQ(-EFAULT, do_statat(self->fd, self->dh, NULL, &st, 0));
	/* a DIR opened beneath stats relative to itself */
	sh = open_dir(self, self->dh, "sub", R_STAT);
	ASSERT_LT(0, sh);
	ASSERT_EQ(0, do_statat(self->fd, sh, "inner", &st, 0));
	ASSERT_EQ(0, host_stat(self->t.jail_fd, "sub/inner", &sb, 0));
	check_statat(_metadata, &st, &sb, "sub/inner");
	EXPECT_EQ(-EXDEV, do_statat(self->fd, sh, "../hello", &st, 0));
}

/* ------------------------------------------------------------------ */
/* MKDIR, UNLINK, RMDIR                                                */
/* ------------------------------------------------------------------ */

TEST_F(dirops, mkdir)
{
	static const struct { const char *path; mode_t mode, want; } ok[] = {
		{ "d1", 0777, 0755 },		/* umask 022 */
		{ "d2", 0700, 0700 },
		{ "d3", 01777, 01755 },
		{ "d4", 0, 0 },
		{ "sub/d5", 0751, 0751 },
		{ "d6/", 0755, 0755 },		/* a trailing slash is fine */
		{ "sub/../d7", 0755, 0755 },
		{ "ln_sub/d8", 0755, 0755 },	/* through a link inside */
		{ "d10", 07777, 01755 },	/* set-ID bits: not on directories */
	};
	struct stat sb;
	char *before, *after;

	for (size_t i = 0; i < CC_ARRAY_SIZE(ok); i++) {
		ASSERT_EQ(0, do_mkdir(self->fd, self->dh, ok[i].path, ok[i].mode))
			TH_LOG("%s", ok[i].path);
		ASSERT_EQ(0, host_stat(self->t.jail_fd, ok[i].path, &sb,
				       AT_SYMLINK_NOFOLLOW));
		EXPECT_EQ(S_IFDIR | ok[i].want, sb.st_mode) TH_LOG("%s", ok[i].path);
		EXPECT_EQ(0, sb.st_uid);
		EXPECT_EQ(2, sb.st_nlink);
	}
	/* a different umask is the caller's, as mkdir(2) */
	umask(077);
	ASSERT_EQ(0, do_mkdir(self->fd, self->dh, "d9", 0777));
	umask(022);
	ASSERT_EQ(0, host_stat(self->t.jail_fd, "d9", &sb, 0));
	EXPECT_EQ(S_IFDIR | 0700, sb.st_mode);

	before = snap_jail(self);
	EXPECT_EQ(-EEXIST, do_mkdir(self->fd, self->dh, "d1", 0755));
	EXPECT_EQ(-EEXIST, do_mkdir(self->fd, self->dh, "hello", 0755));
	EXPECT_EQ(-EEXIST, do_mkdir(self->fd, self->dh, "ln_hello", 0755));
	EXPECT_EQ(-EEXIST, do_mkdir(self->fd, self->dh, "dangle_out", 0755));
	EXPECT_EQ(-ENOENT, do_mkdir(self->fd, self->dh, "nope/d", 0755));
	EXPECT_EQ(-ENOTDIR, do_mkdir(self->fd, self->dh, "hello/d", 0755));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed MKDIRs");
	free(before);
	free(after);
}

TEST_F(dirops, unlink)
{
	struct stat sb;
	char *before, *after;
	ino_t hello = cc_ino_at(self->t.jail_fd, "hello");

	ASSERT_EQ(0, do_unlink(self->fd, self->dh, "victim"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "victim"));
	ASSERT_EQ(0, do_unlink(self->fd, self->dh, "sub/inner"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "sub/inner"));
	/* a symlink goes, its target stays */
	ASSERT_EQ(0, do_unlink(self->fd, self->dh, "ln_hello"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "ln_hello"));
	EXPECT_EQ(hello, cc_ino_at(self->t.jail_fd, "hello"));
	/* a link to outside: only the link */
	ASSERT_EQ(0, do_unlink(self->fd, self->dh, "rel_out"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "rel_out"));
	EXPECT_TRUE(host_exists(self->out_fd, "victim"));
	/* a FIFO is a name like any other */
	ASSERT_EQ(0, mkfifoat(self->t.jail_fd, "fifo", 0644));
	ASSERT_EQ(0, do_unlink(self->fd, self->dh, "fifo"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "fifo"));

	before = snap_jail(self);
	EXPECT_EQ(-ENOENT, do_unlink(self->fd, self->dh, "victim"));
	EXPECT_EQ(-EISDIR, do_unlink(self->fd, self->dh, "sub"));
	EXPECT_EQ(-EISDIR, do_unlink(self->fd, self->dh, "emptydir"));
	EXPECT_EQ(-EISDIR, do_unlink(self->fd, self->dh, "emptydir/"));
	EXPECT_EQ(-ENOTDIR, do_unlink(self->fd, self->dh, "hello/"));
	EXPECT_EQ(-ENOTDIR, do_unlink(self->fd, self->dh, "hello/x"));
	EXPECT_EQ(-ENOENT, do_unlink(self->fd, self->dh, "nope/x"));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed UNLINKs");
	free(before);
	free(after);
	ASSERT_EQ(0, host_stat(self->t.jail_fd, "hello", &sb, 0));
	EXPECT_EQ(1, sb.st_nlink);
}

TEST_F(dirops, rmdir)
{
	char *before, *after;

	ASSERT_EQ(0, do_rmdir(self->fd, self->dh, "emptydir"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "emptydir"));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "sub/e", 0755));
	ASSERT_EQ(0, do_rmdir(self->fd, self->dh, "sub/e/"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "sub/e"));
	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "e2", 0755));
	ASSERT_EQ(0, do_rmdir(self->fd, self->dh, "sub/../e2"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "e2"));

	before = snap_jail(self);
	EXPECT_EQ(-ENOTEMPTY, do_rmdir(self->fd, self->dh, "sub"));
	EXPECT_EQ(-ENOTEMPTY, do_rmdir(self->fd, self->dh, "sub/deeper"));
	EXPECT_EQ(-ENOTDIR, do_rmdir(self->fd, self->dh, "hello"));
	EXPECT_EQ(-ENOTDIR, do_rmdir(self->fd, self->dh, "ln_sub"));
	EXPECT_EQ(-ENOENT, do_rmdir(self->fd, self->dh, "emptydir"));
	EXPECT_EQ(-ENOENT, do_rmdir(self->fd, self->dh, "nope/x"));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed RMDIRs");
	free(before);
	free(after);
}

/* ------------------------------------------------------------------ */
/* SYMLINK                                                             */
/* ------------------------------------------------------------------ */

TEST_F(dirops, symlink_text_as_given)
{
	static const char *const texts[] = {
		"hello", "../out/victim", "/etc/passwd", "a//b/../c/", ".",
		"..", "with space", "sub/deeper/../../hello", "\x01\x7f\xff",
	};
	char name[32], got[PATH_MAX];
	struct capchan_stat st;
	char *longtext;

	for (size_t i = 0; i < CC_ARRAY_SIZE(texts); i++) {
		snprintf(name, sizeof(name), "sl%zu", i);
		ASSERT_EQ(0, do_symlink(self->fd, self->dh, texts[i], name))
			TH_LOG("%s", texts[i]);
		EXPECT_STREQ(texts[i], host_readlink(self->t.jail_fd, name, got,
						     sizeof(got)));
		ASSERT_EQ(0, do_statat(self->fd, self->dh, name, &st,
				       CAPCHAN_STATAT_NOFOLLOW));
		EXPECT_EQ(S_IFLNK | 0777, st.mode);
		EXPECT_EQ(strlen(texts[i]), st.size);
	}
	/* beneath a directory, and through a link inside */
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, "inner", "ln_sub/sl_in"));
	EXPECT_STREQ("inner", host_readlink(self->t.jail_fd, "sub/sl_in", got,
					    sizeof(got)));
	/* the longest text a page holds: 4095 bytes and the NUL */
	longtext = malloc(8192);
	ASSERT_NE(NULL, longtext);
	memset(longtext, 'x', 4095);
	longtext[4095] = '\0';
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, longtext, "sl_long"));
	EXPECT_EQ(4095, readlinkat(self->t.jail_fd, "sl_long", got, sizeof(got)));
	free(longtext);
}

/* A link made by SYMLINK is followed later as any other: scoped. */
TEST_F(dirops, symlink_followed_scoped)
{
	struct capchan_stat st;
	char buf[64];
	int h;

	ASSERT_EQ(0, do_symlink(self->fd, self->dh, "../out/victim", "esc"));
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, "..", "esc_dir"));
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, self->abs_out_victim, "esc_abs"));
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, "/proc/self/cwd", "esc_proc"));
	ASSERT_EQ(0, do_symlink(self->fd, self->dh, "sub/inner", "good"));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh, "esc", 0, 0,
					       R_READ));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh,
					       "esc_dir/out/victim", 0, 0, R_READ));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh, "esc_abs", 0,
					       0, R_READ));
	EXPECT_EQ(-EXDEV, capchan_open_beneath(&self->ch, self->dh,
					       "esc_proc/x", 0, 0, R_READ));
	EXPECT_EQ(-EXDEV, do_statat(self->fd, self->dh, "esc", &st, 0));
	EXPECT_EQ(-EXDEV, do_mkdir(self->fd, self->dh, "esc_dir/out/newdir", 0755));
	EXPECT_EQ(-EXDEV, do_unlink(self->fd, self->dh, "esc_dir/out/victim"));
	EXPECT_TRUE(host_exists(self->out_fd, "victim"));
	EXPECT_FALSE(host_exists(self->out_fd, "newdir"));
	/* and one that stays inside works */
	h = capchan_open_beneath(&self->ch, self->dh, "good", 0, 0, R_READ);
	ASSERT_LT(0, h);
	EXPECT_EQ(6, capchan_read(&self->ch, h, buf, sizeof(buf),
				  CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(0, memcmp(buf, "inner\n", 6));
}

/* ------------------------------------------------------------------ */
/* RENAME                                                              */
/* ------------------------------------------------------------------ */

TEST_F(dirops, rename_within)
{
	int j = self->t.jail_fd;
	ino_t v = cc_ino_at(j, "victim"), m = cc_ino_at(j, "mvsrc");
	ino_t sub = cc_ino_at(j, "sub"), e = cc_ino_at(j, "emptydir");
	char *before, *after;

	ASSERT_EQ(0, do_rename(self->fd, self->dh, "victim", self->dh, "v2", 0));
	EXPECT_FALSE(host_exists(j, "victim"));
	EXPECT_EQ(v, cc_ino_at(j, "v2"));
	/* replacing a file */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "v2", self->dh, "mvsrc", 0));
	EXPECT_EQ(v, cc_ino_at(j, "mvsrc"));
	EXPECT_FALSE(host_exists(j, "v2"));
	/* across directories of the DIR; a directory; a trailing slash */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "mvsrc", self->dh,
			       "sub/deeper/m", 0));
	EXPECT_EQ(v, cc_ino_at(j, "sub/deeper/m"));
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "sub/", self->dh, "sub2/", 0));
	EXPECT_EQ(sub, cc_ino_at(j, "sub2"));
	EXPECT_EQ(v, cc_ino_at(j, "sub2/deeper/m"));
	/* a directory onto an empty one */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "sub2", self->dh, "emptydir", 0));
	EXPECT_EQ(sub, cc_ino_at(j, "emptydir"));
	EXPECT_NE(e, cc_ino_at(j, "emptydir"));
	/* a symlink moves as itself */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "rel_out", self->dh, "ro2", 0));
	EXPECT_TRUE(host_exists(self->out_fd, "victim"));
	m = cc_ino_at(j, "ro2");
	EXPECT_NE(0, m);

	before = snap_jail(self);
	EXPECT_EQ(-ENOENT, do_rename(self->fd, self->dh, "nope", self->dh, "x", 0));
	EXPECT_EQ(-EISDIR, do_rename(self->fd, self->dh, "hello", self->dh,
				     "emptydir", 0));
	EXPECT_EQ(-ENOTDIR, do_rename(self->fd, self->dh, "emptydir", self->dh,
				      "hello", 0));
	EXPECT_EQ(-ENOTDIR, do_rename(self->fd, self->dh, "hello/", self->dh,
				      "x", 0));
	EXPECT_EQ(-ENOTDIR, do_rename(self->fd, self->dh, "hello", self->dh,
				      "x/", 0));
	EXPECT_EQ(-EISDIR, do_rename(self->fd, self->dh, "ln_sub", self->dh,
				     "emptydir", 0));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed RENAMEs");
	free(before);
	free(after);
	ASSERT_EQ(0, mkdirat(j, "e3", 0755));
	before = snap_jail(self);
	EXPECT_EQ(-ENOTEMPTY, do_rename(self->fd, self->dh, "e3", self->dh,
					"emptydir", 0));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed RENAMEs");
	free(before);
	free(after);
}

TEST_F(dirops, rename_noreplace_exchange)
{
	int j = self->t.jail_fd;
	ino_t hello = cc_ino_at(j, "hello"), v = cc_ino_at(j, "victim");
	ino_t sub = cc_ino_at(j, "sub"), file = cc_ino_at(j, "file");
	ino_t inner = cc_ino_at(j, "sub/inner");
	char *before, *after;

	before = snap_jail(self);
	EXPECT_EQ(-EEXIST, do_rename(self->fd, self->dh, "hello", self->dh,
				     "victim", CAPCHAN_RENAME_NOREPLACE));
	EXPECT_EQ(-EEXIST, do_rename(self->fd, self->dh, "hello", self->dh,
				     "sub", CAPCHAN_RENAME_NOREPLACE));
	EXPECT_EQ(-EEXIST, do_rename(self->fd, self->dh, "hello", self->dh,
				     ".", CAPCHAN_RENAME_NOREPLACE));
	EXPECT_EQ(-ENOENT, do_rename(self->fd, self->dh, "hello", self->dh,
				     "nope", CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(-ENOENT, do_rename(self->fd, self->dh, "nope", self->dh,
				     "hello", CAPCHAN_RENAME_EXCHANGE));
	/* both flags at once: refused before anything */
	EXPECT_EQ(-EINVAL, do_rename(self->fd, self->dh, "hello", self->dh,
				     "victim", CAPCHAN_RENAME_NOREPLACE |
				     CAPCHAN_RENAME_EXCHANGE));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "failed RENAMEs");
	free(before);
	free(after);

	ASSERT_EQ(0, do_rename(self->fd, self->dh, "hello", self->dh, "new",
			       CAPCHAN_RENAME_NOREPLACE));
	EXPECT_EQ(hello, cc_ino_at(j, "new"));
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "new", self->dh, "victim",
			       CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(hello, cc_ino_at(j, "victim"));
	EXPECT_EQ(v, cc_ino_at(j, "new"));
	/* a file and a directory trade places */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "file", self->dh, "sub",
			       CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(file, cc_ino_at(j, "sub"));
	EXPECT_EQ(sub, cc_ino_at(j, "file"));
	EXPECT_EQ(inner, cc_ino_at(j, "file/inner"));
}

/* Between two DIR capabilities of the channel. */
TEST_F(dirops, rename_between_dirs)
{
	int j = self->t.jail_fd, sfd, gh, sh, d2;
	ino_t v = cc_ino_at(j, "victim"), inner = cc_ino_at(j, "sub/inner");

	/* a DIR opened beneath, one granted on its own, one derived */
	sh = open_dir(self, self->dh, "sub", R_ALL);
	ASSERT_LT(0, sh);
	sfd = openat(j, "sub/deeper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, sfd);
	gh = capchan_grant(&self->ch, sfd, R_CREATE | R_REMOVE);
	ASSERT_LT(0, gh);
	d2 = capchan_derive(&self->ch, self->dh, R_CREATE | R_REMOVE);
	ASSERT_LT(0, d2);

	ASSERT_EQ(0, do_rename(self->fd, self->dh, "victim", sh, "v_in_sub", 0));
	EXPECT_EQ(v, cc_ino_at(j, "sub/v_in_sub"));
	ASSERT_EQ(0, do_rename(self->fd, sh, "v_in_sub", gh, "v_deeper", 0));
	EXPECT_EQ(v, cc_ino_at(j, "sub/deeper/v_deeper"));
	ASSERT_EQ(0, do_rename(self->fd, gh, "v_deeper", d2, "victim", 0));
	EXPECT_EQ(v, cc_ino_at(j, "victim"));
	/* the target's path is resolved beneath the target */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "victim", sh,
			       "deeper/../v2", 0));
	EXPECT_EQ(v, cc_ino_at(j, "sub/v2"));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, self->dh, "sub/v2", sh, "../v3", 0));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, sh, "../hello", self->dh, "v3", 0));
	EXPECT_EQ(v, cc_ino_at(j, "sub/v2"));
	EXPECT_FALSE(host_exists(j, "v3"));
	/* EXCHANGE across, NOREPLACE across */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "hello", sh, "inner",
			       CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(inner, cc_ino_at(j, "hello"));
	EXPECT_EQ(-EEXIST, do_rename(self->fd, sh, "inner", self->dh, "hello",
				     CAPCHAN_RENAME_NOREPLACE));
	close(sfd);
}

/* ------------------------------------------------------------------ */
/* TRUNCATE                                                            */
/* ------------------------------------------------------------------ */

/* dirfd/name is len bytes: prefix, then zeros.  0, or where it differs + 1. */
static long host_zero_after(int dirfd, const char *name, const char *prefix,
			    long len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	char *b = malloc(len + 1);
	long n, bad = 0, plen = strlen(prefix);

	if (fd < 0 || !b) {
		free(b);
		return -1;
	}
	n = read(fd, b, len + 1);
	close(fd);
	if (n != len || memcmp(b, prefix, plen))
		bad = -1;
	for (long i = plen; !bad && i < len; i++)
		if (b[i])
			bad = i + 1;
	free(b);
	return bad;
}

TEST_F(dirops, truncate)
{
	int j = self->t.jail_fd, fh, wo, ro;
	char host[256];
	struct stat sb;

	fh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0,
				  R_READ | R_WRITE | R_STAT);
	ASSERT_LT(0, fh);
	ASSERT_EQ(0, do_truncate(self->fd, fh, 5));
	ASSERT_EQ(5, cc_get_file(j, "hello", host, sizeof(host)));
	EXPECT_STREQ("hello", host);
	ASSERT_EQ(0, do_truncate(self->fd, fh, 100000));
	ASSERT_EQ(0, host_stat(j, "hello", &sb, 0));
	EXPECT_EQ(100000, sb.st_size);
	EXPECT_EQ(0, host_zero_after(j, "hello", "hello", 100000));
	ASSERT_EQ(0, do_truncate(self->fd, fh, 0));
	ASSERT_EQ(0, host_stat(j, "hello", &sb, 0));
	EXPECT_EQ(0, sb.st_size);
	/* the file position is not TRUNCATE's business */
	ASSERT_EQ(3, capchan_write(&self->ch, fh, "abc", 3, CAPCHAN_OFF_CURRENT));
	ASSERT_EQ(0, do_truncate(self->fd, fh, 1));
	ASSERT_EQ(1, capchan_write(&self->ch, fh, "d", 1, CAPCHAN_OFF_CURRENT));
	ASSERT_EQ(4, cc_get_file(j, "hello", host, sizeof(host)));
	EXPECT_EQ(0, memcmp(host, "a\0\0d", 4));
	/* a write-only capability truncates too */
	wo = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0, R_WRITE);
	ASSERT_LT(0, wo);
	ASSERT_EQ(0, do_truncate(self->fd, wo, 10));
	ASSERT_EQ(0, host_stat(j, "file", &sb, 0));
	EXPECT_EQ(10, sb.st_size);
	/* errors */
	ro = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0,
				  R_READ | R_STAT | R_SEEK);
	ASSERT_LT(0, ro);
	EXPECT_EQ(-EPERM, do_truncate(self->fd, ro, 0));
	EXPECT_EQ(-EISDIR, do_truncate(self->fd, self->dh, 0));
	EXPECT_EQ(-EINVAL, do_truncate(self->fd, fh, 1ULL << 63));
	EXPECT_EQ(-EINVAL, do_truncate(self->fd, fh, ~0ULL));
	ASSERT_EQ(0, host_stat(j, "file", &sb, 0));
	EXPECT_EQ(10, sb.st_size);
}

/* ------------------------------------------------------------------ */
/* The rings: every op in one linked chain                             */
/* ------------------------------------------------------------------ */

/* Push n SQEs (user_data 100 + i), enter, pop n CQEs; CQEs popped. */
static int ring_run(FIXTURE_DATA(dirops) *self, struct capchan_sqe *s, int n,
		    struct capchan_cqe *c)
{
	int r, got = 0;

	for (int i = 0; i < n; i++) {
		s[i].user_data = 100 + i;
		cc_sq_push(&self->ch, &s[i]);
	}
	r = cc_enter(self->fd, n, n, CAPCHAN_ENTER_GETEVENTS);
	if (r != n)
		return r < 0 ? r : -EIO;
	while (got < n && cc_cq_pop(&self->ch, &c[got]) == 0)
		got++;
	return got;
}

TEST_F(dirops, ring_chain)
{
	struct capchan_sqe s[12];
	struct capchan_cqe c[12];
	struct capchan_stat st;
	int j = self->t.jail_fd, n = 0, nrec;
	struct ent e[64];
	char host[64];
	struct stat sb;

	memset(self->buf, 0xaa, 4096);
	sq_mkdir(&s[n++], self->dh, "rd", 0700);
	/* relative to where it ends up: jail/rl -> hello */
	sq_symlink(&s[n++], self->dh, "hello", "rd/l");
	sq_rename(&s[n++], self->dh, "rd/l", self->dh, "rl", 0);
	sq_statat(&s[n++], self->dh, "rl", &st, 0);
	sq_readdir(&s[n++], self->dh, 0, self->buf, 4096);
	sq_path(&s[n++], CAPCHAN_OP_UNLINK, self->dh, "rl");
	sq_path(&s[n++], CAPCHAN_OP_RMDIR, self->dh, "rd");
	cc_sqe(&s[n], CAPCHAN_OP_OPEN, self->dh);
	s[n].addr = (uintptr_t)"hello";
	s[n++].rights = R_WRITE;
	sq_truncate(&s[n++], CAPCHAN_HANDLE_CHAIN, 4);
	cc_sqe(&s[n++], CAPCHAN_OP_CLOSE, CAPCHAN_HANDLE_CHAIN);
	for (int i = 0; i < n - 1; i++)
		s[i].flags = CAPCHAN_SQE_LINK;
	ASSERT_EQ(n, ring_run(self, s, n, c));
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(100 + i, c[i].user_data);
		EXPECT_EQ(0, c[i].flags);
		if (s[i].opcode == CAPCHAN_OP_READDIR ||
		    s[i].opcode == CAPCHAN_OP_OPEN) {
			EXPECT_LT(0, c[i].res) TH_LOG("SQE %d op %u", i, s[i].opcode);
		} else {
			EXPECT_EQ(0, c[i].res) TH_LOG("SQE %d op %u", i, s[i].opcode);
		}
	}
	/* STATAT followed rl, moved before it, to hello */
	ASSERT_EQ(0, host_stat(j, "hello", &sb, 0));
	EXPECT_EQ(sb.st_ino, st.ino);
	EXPECT_EQ(4, sb.st_size);
	ASSERT_EQ(4, cc_get_file(j, "hello", host, sizeof(host)));
	EXPECT_EQ(0, memcmp(host, CC_HELLO, 4));
	/* READDIR saw rd and rl */
	nrec = parse_dirents(_metadata, (unsigned char *)self->buf, c[4].res, e,
			     CC_ARRAY_SIZE(e));
	ASSERT_LT(0, nrec);
	ASSERT_GE((int)CC_ARRAY_SIZE(e), nrec);
	EXPECT_EQ(1, count_name(e, nrec, "rd"));
	EXPECT_EQ(1, count_name(e, nrec, "rl"));
	EXPECT_FALSE(host_exists(j, "rd"));
	EXPECT_FALSE(host_exists(j, "rl"));

	/* a failure cancels the rest of the chain: nothing after it is done */
	n = 0;
	sq_mkdir(&s[n++], self->dh, "c1", 0755);
	sq_mkdir(&s[n++], self->dh, "hello", 0755);		/* -EEXIST */
	sq_symlink(&s[n++], self->dh, "x", "c2");
	sq_path(&s[n++], CAPCHAN_OP_UNLINK, self->dh, "victim");
	sq_rename(&s[n++], self->dh, "file", self->dh, "c3", 0);
	for (int i = 0; i < n - 1; i++)
		s[i].flags = CAPCHAN_SQE_LINK;
	ASSERT_EQ(n, ring_run(self, s, n, c));
	EXPECT_EQ(0, c[0].res);
	EXPECT_EQ(-EEXIST, c[1].res);
	for (int i = 2; i < n; i++) {
		EXPECT_EQ(-ECANCELED, c[i].res);
	}
	EXPECT_TRUE(host_exists(j, "c1"));
	EXPECT_FALSE(host_exists(j, "c2"));
	EXPECT_TRUE(host_exists(j, "victim"));
	EXPECT_TRUE(host_exists(j, "file"));
	EXPECT_FALSE(host_exists(j, "c3"));

	/* a READDIR that fails fails the chain like any op */
	n = 0;
	sq_readdir(&s[n++], self->dh, 0, NULL, 4096);		/* -EFAULT */
	sq_mkdir(&s[n++], self->dh, "c4", 0755);
	sq_readdir(&s[n++], self->dh, 0, self->buf, 1);		/* -EINVAL */
	sq_mkdir(&s[n++], self->dh, "c5", 0755);
	s[0].flags = CAPCHAN_SQE_LINK;
	s[2].flags = CAPCHAN_SQE_LINK;
	ASSERT_EQ(n, ring_run(self, s, n, c));
	EXPECT_EQ(-EFAULT, c[0].res);
	EXPECT_EQ(-ECANCELED, c[1].res);
	EXPECT_EQ(-EINVAL, c[2].res);
	EXPECT_EQ(-ECANCELED, c[3].res);
	EXPECT_FALSE(host_exists(j, "c4"));
	EXPECT_FALSE(host_exists(j, "c5"));

	/* a DIR made by OPEN in the chain is the next ops' CHAIN handle */
	n = 0;
	sq_mkdir(&s[n++], self->dh, "cd", 0755);
	cc_sqe(&s[n], CAPCHAN_OP_OPEN, self->dh);
	s[n].addr = (uintptr_t)"cd";
	s[n].op_flags = O_DIRECTORY;
	s[n++].rights = R_ALL;
	sq_symlink(&s[n++], CAPCHAN_HANDLE_CHAIN, "t", "l");
	sq_rename(&s[n], CAPCHAN_HANDLE_CHAIN, "l", self->dh, "cl", 0);
	n++;
	sq_mkdir(&s[n++], CAPCHAN_HANDLE_CHAIN, "sub", 0755);
	cc_sqe(&s[n++], CAPCHAN_OP_CLOSE, CAPCHAN_HANDLE_CHAIN);
	for (int i = 0; i < n - 1; i++)
		s[i].flags = CAPCHAN_SQE_LINK;
	ASSERT_EQ(n, ring_run(self, s, n, c));
	for (int i = 0; i < n; i++) {
		if (i == 1) {
			EXPECT_LT(0, c[i].res);
		} else {
			EXPECT_EQ(0, c[i].res) TH_LOG("SQE %d", i);
		}
	}
	EXPECT_STREQ("t", host_readlink(j, "cl", host, sizeof(host)));
	EXPECT_TRUE(host_exists(j, "cd/sub"));
	EXPECT_FALSE(host_exists(j, "cd/l"));
}

/* ------------------------------------------------------------------ */
/* Escapes: every path-taking op against every way out                 */
/* ------------------------------------------------------------------ */

enum col {
	C_STATAT, C_STATAT_NF, C_MKDIR, C_UNLINK, C_RMDIR, C_SYMLINK,
	C_REN_SRC, C_REN_DST, C_NR
};

static const char *const col_name[C_NR] = {
	"STATAT", "STATAT(NOFOLLOW)", "MKDIR", "UNLINK", "RMDIR", "SYMLINK",
	"RENAME(from)", "RENAME(to)",
};

/* The leaf appended to a prefix row: what the op would damage outside. */
static const char *const col_leaf[C_NR] = {
	"victim", "victim", "newdir", "victim", "emptydir", "newlink",
	"victim", "newname",
};

#define ALL(e)	{ e, e, e, e, e, e, e, e }

struct esc_row {
	const char *path;
	bool proc;		/* beneath the DIR on /proc/self (cwd: <base>/out) */
	bool prefix;		/* each op's leaf is appended */
	int err[C_NR];
};

/* Rows whose path is made at run time: "%B" is <base>, "%J" the jail, ... */
static void expand(char *dst, size_t len, const char *fmt,
		   FIXTURE_DATA(dirops) *self, int out_fd)
{
	size_t at = 0;

	for (; *fmt && at + 1 < len; fmt++) {
		if (fmt[0] == '%' && fmt[1]) {
			const char *sub = NULL;
			char num[32];

			fmt++;
			if (*fmt == 'B')
				sub = self->t.base;
			else if (*fmt == 'J')
				sub = self->t.jail;
			else if (*fmt == 'F') {
				snprintf(num, sizeof(num), "%d", out_fd);
				sub = num;
			} else if (*fmt == 'T') {
				snprintf(num, sizeof(num), "%d", (int)syscall(SYS_gettid));
				sub = num;
			}
			at += snprintf(dst + at, len - at, "%s", sub ? sub : "");
			continue;
		}
		dst[at++] = *fmt;
	}
	dst[at < len ? at : len - 1] = '\0';
}

static const struct esc_row esc_rows[] = {
	/* ".." and absolute paths */
	{ "../out/", false, true, ALL(-EXDEV) },
	{ "sub/../../out/", false, true, ALL(-EXDEV) },
	{ "sub/deeper/../../../out/", false, true, ALL(-EXDEV) },
	{ "./../out/", false, true, ALL(-EXDEV) },
	{ "sub/../sub/../../out/", false, true, ALL(-EXDEV) },
	{ "%B/out/", false, true, ALL(-EXDEV) },
	{ "%J/", false, true, ALL(-EXDEV) },		/* absolute, even if inside */
	{ "/etc/", false, true, ALL(-EXDEV) },
	{ "//", false, true, ALL(-EXDEV) },
	/* symlinks out, relative and absolute, direct and chained */
	{ "dir_out/out/", false, true, ALL(-EXDEV) },
	{ "rel_out_dir/", false, true, ALL(-EXDEV) },
	{ "abs_out_dir/", false, true, ALL(-EXDEV) },
	{ "abs_root%B/out/", false, true, ALL(-EXDEV) },
	{ "chain1/", false, true, ALL(-EXDEV) },
	{ "dot/dir_out/out/", false, true, ALL(-EXDEV) },
	{ "ln_sub/chain3/", false, true, ALL(-EXDEV) },
	{ "to_proc/", false, true, ALL(-EXDEV) },	/* absolute: /proc/self/cwd */
	/* loops */
	{ "loop1/", false, true, ALL(-ELOOP) },
	{ "loop2/x/", false, true, ALL(-ELOOP) },
	/* a mount inside the DIR */
	{ "mnt/", false, true, ALL(-EXDEV) },
	{ "sub/../mnt/", false, true, ALL(-EXDEV) },
	{ "to_mnt/", false, true, ALL(-EXDEV) },
	/* /proc magic links, the DIR on /proc/self */
	{ "cwd/", true, true, ALL(-ELOOP) },
	{ "root%B/out/", true, true, ALL(-ELOOP) },
	{ "fd/%F/", true, true, ALL(-ELOOP) },
	{ "task/%T/cwd/", true, true, ALL(-ELOOP) },
	{ "../self/cwd/", true, true, ALL(-EXDEV) },
	/* whole paths: the last component itself */
	/* STATAT, NOFOLLOW, MKDIR, UNLINK, RMDIR, SYMLINK, RENAME from, to */
	{ "", false, false, { -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT } },
	{ ".", false, false, { 0, 0, -EEXIST, -EISDIR, -EINVAL, -EEXIST, -EBUSY, -EBUSY } },
	{ "sub/.", false, false, { 0, 0, -EEXIST, -EISDIR, -EINVAL, -EEXIST, -EBUSY, -EBUSY } },
	{ "sub/..", false, false, { 0, 0, -EEXIST, -EISDIR, -ENOTEMPTY, -EEXIST, -EBUSY, -EBUSY } },
	{ "..", false, false, ALL(-EXDEV) },		/* ".." of the DIR itself leaves */
	{ "sub/../..", false, false, ALL(-EXDEV) },
	{ "rel_out", false, false, { -EXDEV, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "abs_out", false, false, { -EXDEV, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "dangle_out", false, false, { -EXDEV, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "dir_out", false, false, { -EXDEV, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "dir_out/", false, false, { -EXDEV, -EXDEV, -EEXIST, -ENOTDIR, -ENOTDIR, -EEXIST, -ENOTDIR, -ENOTDIR } },
	{ "to_proc", false, false, { -EXDEV, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "loop1", false, false, { -ELOOP, 0, -EEXIST, 0, -ENOTDIR, -EEXIST, 0, 0 } },
	{ "mnt", false, false, { -EXDEV, -EXDEV, -EEXIST, -EISDIR, -EBUSY, -EEXIST, -EBUSY, -EISDIR } },
	{ "cwd", true, false, { -ELOOP, 0, -EEXIST, -EPERM, -ENOTDIR, -EEXIST, -EXDEV, -EXDEV } },
};

/* Run column c of a row with path p beneath DIR h; the result. */
static int esc_op(FIXTURE_DATA(dirops) *self, enum col c, uint32_t h,
		  const char *p)
{
	struct capchan_stat st;

	switch (c) {
	case C_STATAT:
		return do_statat(self->fd, h, p, &st, 0);
	case C_STATAT_NF:
		return do_statat(self->fd, h, p, &st, CAPCHAN_STATAT_NOFOLLOW);
	case C_MKDIR:
		return do_mkdir(self->fd, h, p, 0755);
	case C_UNLINK:
		return do_unlink(self->fd, h, p);
	case C_RMDIR:
		return do_rmdir(self->fd, h, p);
	case C_SYMLINK:
		return do_symlink(self->fd, h, "x", p);
	case C_REN_SRC:
		return do_rename(self->fd, h, p, self->dh, "moved", 0);
	case C_REN_DST:
		return do_rename(self->fd, self->dh, "mvsrc", h, p, 0);
	default:
		return -ENOSYS;
	}
}

TEST_F_TIMEOUT(dirops, escape_table, 120)
{
	char *out_before, *out_after, *jail_before, *jail_after;
	char path[PATH_MAX + 64], prefix[PATH_MAX + 32], ctx[PATH_MAX + 128];
	int pfd, ph, ofd;
	unsigned long runs = 0;

	if (!self->mounted)
		SKIP(return, "cannot mount tmpfs");
	/* the /proc rows: cwd is the outside directory */
	ASSERT_EQ(0, chdir(self->out));
	ofd = open(self->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, ofd);
	pfd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ph = capchan_grant(&self->ch, pfd, R_ALL);
	ASSERT_LT(0, ph);

	out_before = snap_outside(self);
	for (size_t r = 0; r < CC_ARRAY_SIZE(esc_rows); r++) {
		const struct esc_row *row = &esc_rows[r];

		expand(prefix, sizeof(prefix), row->path, self, ofd);
		for (int c = 0; c < C_NR; c++) {
			int want = row->err[c], got;

			snprintf(path, sizeof(path), "%s%s", prefix,
				 row->prefix ? col_leaf[c] : "");
			snprintf(ctx, sizeof(ctx), "%s \"%s\"%s", col_name[c],
				 path, row->proc ? " beneath /proc/self" : "");
			jail_repair(self);
			jail_before = snap_jail(self);
			got = esc_op(self, c, row->proc ? ph : self->dh, path);
			runs++;
			EXPECT_EQ(want, got) TH_LOG("%s", ctx);
			out_after = snap_outside(self);
			same_tree(_metadata, "outside", out_before, out_after, ctx);
			free(out_after);
			if (got) {
				/* a failed op changed nothing inside either */
				jail_after = snap_jail(self);
				same_tree(_metadata, "jail", jail_before,
					  jail_after, ctx);
				free(jail_after);
			}
			free(jail_before);
		}
	}
	/* nothing appeared where absolute paths point */
	EXPECT_FALSE(host_exists(AT_FDCWD, "/etc/newdir"));
	EXPECT_FALSE(host_exists(AT_FDCWD, "/etc/newlink"));
	EXPECT_FALSE(host_exists(AT_FDCWD, "/etc/newname"));
	EXPECT_FALSE(host_exists(AT_FDCWD, "/newdir"));
	EXPECT_FALSE(host_exists(AT_FDCWD, "/newlink"));
	EXPECT_FALSE(host_exists(AT_FDCWD, "/newname"));
	out_after = snap_outside(self);
	same_tree(_metadata, "outside", out_before, out_after, "the table");
	{
		char got[256];

		EXPECT_EQ(strlen(OUT_VICTIM), cc_get_file(self->out_fd, "victim",
							  got, sizeof(got)));
		EXPECT_STREQ(OUT_VICTIM, got);
		EXPECT_TRUE(host_exists(self->out_fd, "emptydir"));
	}
	TH_LOG("%lu (scenario, op) pairs", runs);
	free(out_before);
	free(out_after);
	close(pfd);
	close(ofd);
}

/* The same escapes through a DIR opened beneath: its own root is the limit. */
TEST_F(dirops, escape_from_opened_dir)
{
	char *out_before, *out_after, *jail_before, *jail_after;
	struct capchan_stat st;
	int sh;

	sh = open_dir(self, self->dh, "sub", R_ALL);
	ASSERT_LT(0, sh);
	out_before = snap_outside(self);
	jail_before = snap_jail(self);
	EXPECT_EQ(-EXDEV, do_statat(self->fd, sh, "../hello", &st, 0));
	EXPECT_EQ(-EXDEV, do_mkdir(self->fd, sh, "../newdir", 0755));
	EXPECT_EQ(-EXDEV, do_unlink(self->fd, sh, "../hello"));
	EXPECT_EQ(-EXDEV, do_unlink(self->fd, sh, "deeper/../../hello"));
	EXPECT_EQ(-EXDEV, do_rmdir(self->fd, sh, "../emptydir"));
	EXPECT_EQ(-EXDEV, do_symlink(self->fd, sh, "x", "../newlink"));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, sh, "../hello", sh, "h", 0));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, sh, "inner", sh, "../inner", 0));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, sh, "inner", sh, "..", 0));
	EXPECT_EQ(-EXDEV, do_rmdir(self->fd, sh, ".."));
	EXPECT_EQ(-EXDEV, do_unlink(self->fd, sh, "chain3/victim"));
	jail_after = snap_jail(self);
	out_after = snap_outside(self);
	same_tree(_metadata, "jail", jail_before, jail_after, "escapes from sub");
	same_tree(_metadata, "outside", out_before, out_after, "escapes from sub");
	free(jail_before);
	free(jail_after);
	free(out_before);
	free(out_after);
}

/* ------------------------------------------------------------------ */
/* Rights, types, revoked and stale handles, fields                    */
/* ------------------------------------------------------------------ */

enum dop {
	D_READDIR, D_STATAT, D_MKDIR, D_UNLINK, D_RMDIR, D_SYMLINK, D_RENAME,
	D_TRUNCATE, D_NR
};

static const char *const dop_name[D_NR] = {
	"READDIR", "STATAT", "MKDIR", "UNLINK", "RMDIR", "SYMLINK", "RENAME",
	"TRUNCATE",
};

static const uint64_t dop_right[D_NR] = {
	R_LIST, R_STAT, R_CREATE, R_REMOVE,
	R_REMOVE, R_CREATE, R_REMOVE, R_WRITE,
};

/* A valid SQE for op on handle h (a DIR, or a FILE for TRUNCATE). */
static void dop_sqe(FIXTURE_DATA(dirops) *self, enum dop op, uint32_t h,
		    struct capchan_sqe *s, struct capchan_stat *st)
{
	switch (op) {
	case D_READDIR:
		sq_readdir(s, h, 0, self->buf, 4096);
		break;
	case D_STATAT:
		sq_statat(s, h, "hello", st, 0);
		break;
	case D_MKDIR:
		sq_mkdir(s, h, "newdir", 0755);
		break;
	case D_UNLINK:
		sq_path(s, CAPCHAN_OP_UNLINK, h, "victim");
		break;
	case D_RMDIR:
		sq_path(s, CAPCHAN_OP_RMDIR, h, "emptydir");
		break;
	case D_SYMLINK:
		sq_symlink(s, h, "hello", "newlink");
		break;
	case D_RENAME:
		sq_rename(s, h, "mvsrc", h, "newname", 0);
		break;
	default:
		sq_truncate(s, h, 3);
		break;
	}
}

/* Each op with every right but its own: -EPERM, nothing done; with only its own: done. */
TEST_F(dirops, rights_matrix)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	char *before, *after;
	int fh;

	for (int op = 0; op < D_NR; op++) {
		int without, only, r;

		if (op == D_TRUNCATE) {
			fh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0,
						  R_FILE_ALL);
			ASSERT_LT(0, fh);
			without = capchan_derive(&self->ch, fh, R_FILE_ALL & ~R_WRITE);
			only = capchan_derive(&self->ch, fh, R_WRITE);
		} else {
			without = capchan_derive(&self->ch, self->dh,
						 R_ALL & ~dop_right[op]);
			only = capchan_derive(&self->ch, self->dh, dop_right[op]);
		}
		ASSERT_LT(0, without);
		ASSERT_LT(0, only);
		jail_repair(self);
		before = snap_jail(self);
		dop_sqe(self, op, without, &s, &st);
		EXPECT_EQ(-EPERM, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
		after = snap_jail(self);
		same_tree(_metadata, "jail", before, after, dop_name[op]);
		free(before);
		free(after);
		/* the right alone is enough (RENAME within one DIR needs CREATE too) */
		dop_sqe(self, op, only, &s, &st);
		r = cc_invoke(self->fd, &s);
		if (op == D_RENAME) {
			EXPECT_EQ(-EPERM, r);
		} else {
			EXPECT_LE(0, r) TH_LOG("%s with only its right: %d",
					       dop_name[op], r);
		}
	}
}

TEST_F(dirops, rename_rights)
{
	const uint64_t RM = CAPCHAN_RIGHT_REMOVE, CR = R_CREATE;
	int rm = capchan_derive(&self->ch, self->dh, RM);
	int cr = capchan_derive(&self->ch, self->dh, CR);
	int both = capchan_derive(&self->ch, self->dh, RM | CR);
	int none = capchan_derive(&self->ch, self->dh, R_ALL & ~(RM | CR));
	int j = self->t.jail_fd;
	ino_t v = cc_ino_at(j, "victim"), m = cc_ino_at(j, "mvsrc");
	char *before, *after;

	ASSERT_LT(0, rm);
	ASSERT_LT(0, cr);
	ASSERT_LT(0, both);
	ASSERT_LT(0, none);
	before = snap_jail(self);
	/* the source needs REMOVE, the target CREATE */
	EXPECT_EQ(-EPERM, do_rename(self->fd, cr, "victim", both, "n1", 0));
	EXPECT_EQ(-EPERM, do_rename(self->fd, none, "victim", both, "n1", 0));
	EXPECT_EQ(-EPERM, do_rename(self->fd, rm, "victim", rm, "n1", 0));
	EXPECT_EQ(-EPERM, do_rename(self->fd, both, "victim", rm, "n1", 0));
	EXPECT_EQ(-EPERM, do_rename(self->fd, both, "victim", none, "n1", 0));
	/* within one DIR: both on it */
	EXPECT_EQ(-EPERM, do_rename(self->fd, rm, "victim", rm, "n1", 0));
	EXPECT_EQ(-EPERM, do_rename(self->fd, cr, "victim", cr, "n1", 0));
	/* EXCHANGE moves both ways: both rights on both */
	EXPECT_EQ(-EPERM, do_rename(self->fd, rm, "victim", both, "mvsrc",
				    CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(-EPERM, do_rename(self->fd, both, "victim", cr, "mvsrc",
				    CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(-EPERM, do_rename(self->fd, both, "victim", rm, "mvsrc",
				    CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(-EPERM, do_rename(self->fd, cr, "victim", both, "mvsrc",
				    CAPCHAN_RENAME_EXCHANGE));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "RENAMEs without rights");
	free(before);
	free(after);
	/* and with them */
	ASSERT_EQ(0, do_rename(self->fd, rm, "victim", cr, "n1", 0));
	EXPECT_EQ(v, cc_ino_at(j, "n1"));
	ASSERT_EQ(0, do_rename(self->fd, both, "n1", both, "mvsrc",
			       CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(v, cc_ino_at(j, "mvsrc"));
	EXPECT_EQ(m, cc_ino_at(j, "n1"));
	ASSERT_EQ(0, do_rename(self->fd, both, "n1", self->dh, "n2",
			       CAPCHAN_RENAME_NOREPLACE));
}

TEST_F(dirops, wrong_type_revoked_stale)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	char *before, *after;
	int fh, mid, dead, dfile, closed;

	fh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0, R_FILE_ALL);
	ASSERT_LT(0, fh);
	before = snap_jail(self);
	/* a FILE for a directory op, a DIR for TRUNCATE */
	for (int op = 0; op < D_NR; op++) {
		dop_sqe(self, op, op == D_TRUNCATE ? self->dh : (uint32_t)fh, &s, &st);
		if (op == D_RENAME)	/* the target stays a DIR */
			s.len = self->dh;
		EXPECT_EQ(op == D_TRUNCATE ? -EISDIR : -ENOTDIR, cc_invoke(self->fd, &s))
			TH_LOG("%s", dop_name[op]);
	}
	/* revoked: before type and rights */
	mid = capchan_derive(&self->ch, self->dh, R_ALL);
	ASSERT_LT(0, mid);
	dead = capchan_derive(&self->ch, mid, R_ALL);
	ASSERT_LT(0, dead);
	dfile = capchan_open_beneath(&self->ch, mid, "file", 0, 0, R_READ | R_WRITE);
	ASSERT_LT(0, dfile);
	ASSERT_EQ(2, capchan_revoke(&self->ch, mid));
	for (int op = 0; op < D_NR; op++) {
		dop_sqe(self, op, op == D_TRUNCATE ? dfile : dead, &s, &st);
		EXPECT_EQ(-EKEYREVOKED, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
		/* wrong type too: revoked first */
		dop_sqe(self, op, op == D_TRUNCATE ? dead : dfile, &s, &st);
		if (op == D_RENAME)
			s.len = self->dh;
		EXPECT_EQ(-EKEYREVOKED, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
	}
	/* closed: stale */
	closed = capchan_derive(&self->ch, self->dh, R_ALL);
	ASSERT_LT(0, closed);
	ASSERT_EQ(0, capchan_close(&self->ch, closed));
	for (int op = 0; op < D_NR; op++) {
		dop_sqe(self, op, closed, &s, &st);
		EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
		dop_sqe(self, op, 0x7ffffff0, &s, &st);
		EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
		dop_sqe(self, op, CAPCHAN_HANDLE_CHAIN, &s, &st);
		EXPECT_EQ(-EBADF, cc_invoke(self->fd, &s)) TH_LOG("%s", dop_name[op]);
	}
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "refused ops");
	free(before);
	free(after);
}

/* RENAME's target handle is checked like the source's. */
TEST_F(dirops, rename_target_handle)
{
	int fh, mid, dead, closed;
	char *before, *after;

	fh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0, R_READ);
	ASSERT_LT(0, fh);
	mid = capchan_derive(&self->ch, self->dh, R_ALL);
	ASSERT_LT(0, mid);
	dead = capchan_derive(&self->ch, mid, R_ALL);
	ASSERT_LT(0, dead);
	ASSERT_EQ(1, capchan_revoke(&self->ch, mid));
	closed = capchan_derive(&self->ch, self->dh, R_ALL);
	ASSERT_LT(0, closed);
	ASSERT_EQ(0, capchan_close(&self->ch, closed));

	before = snap_jail(self);
	EXPECT_EQ(-EBADF, do_rename(self->fd, self->dh, "victim", 0x7ffffff0, "x", 0));
	EXPECT_EQ(-EBADF, do_rename(self->fd, self->dh, "victim", closed, "x", 0));
	EXPECT_EQ(-EBADF, do_rename(self->fd, self->dh, "victim",
				    self->dh | 0x80000000u, "x", 0));
	/* CHAIN means nothing in len, and nothing in INVOKE anyway */
	EXPECT_EQ(-EBADF, do_rename(self->fd, self->dh, "victim",
				    CAPCHAN_HANDLE_CHAIN, "x", 0));
	EXPECT_EQ(-ENOTDIR, do_rename(self->fd, self->dh, "victim", fh, "x", 0));
	EXPECT_EQ(-EKEYREVOKED, do_rename(self->fd, self->dh, "victim", dead,
					  "x", 0));
	/* len 0 is no handle at all: a malformed SQE */
	EXPECT_EQ(-EINVAL, do_rename(self->fd, self->dh, "victim", 0, "x", 0));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "bad target handles");
	free(before);
	free(after);
}

/* Unused fields, reserved fields, unknown flags: -EINVAL before the handle. */
TEST_F(dirops, fields_and_flags)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	char *before, *after;
	int fh;

	fh = capchan_open_beneath(&self->ch, self->dh, "hello", 0, 0, R_FILE_ALL);
	ASSERT_LT(0, fh);
	before = snap_jail(self);
	for (int op = 0; op < D_NR; op++) {
		uint32_t h = op == D_TRUNCATE ? (uint32_t)fh : self->dh;

		for (int bad = 0; bad < 8; bad++) {
			for (int hv = 0; hv < 2; hv++) {
				dop_sqe(self, op, hv ? 0x7ffffff0 : h, &s, &st);
				switch (bad) {
				case 0: s.rights = R_READ; break;
				case 1: s.resv0 = 1; break;
				case 2: s.resv1 = 1; break;
				case 3: s.resv2 = 1ULL << 63; break;
				case 4: s.flags = 1U << 1; break;
				case 5: s.flags = 0x80; break;
				case 6: s.op_flags |= 1U << 31; break;
				default: s.op_flags |= 1U << 2; break;
				}
				EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s))
					TH_LOG("%s bad %d handle %#x", dop_name[op],
					       bad, s.handle);
			}
		}
	}
	/* op-specific */
	sq_readdir(&s, self->dh, 1ULL << 63, self->buf, 64);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_statat(&s, self->dh, "hello", &st, 0);
	s.len = sizeof(st) - 8;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	s.len = sizeof(st) + 8;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	s.len = 0;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_statat(&s, self->dh, "hello", &st, 2);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_mkdir(&s, self->dh, "newdir", 010000);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_mkdir(&s, self->dh, "newdir", S_IFDIR | 0755);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_mkdir(&s, self->dh, "newdir", 0755);
	s.len = 1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_path(&s, CAPCHAN_OP_UNLINK, self->dh, "victim");
	s.off = 1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_path(&s, CAPCHAN_OP_RMDIR, self->dh, "emptydir");
	s.len = self->dh;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_symlink(&s, self->dh, NULL, "newlink");	/* no text */
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_symlink(&s, self->dh, "x", "newlink");
	s.op_flags = CAPCHAN_RENAME_NOREPLACE;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_rename(&s, self->dh, "mvsrc", self->dh, "newname", 4);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_rename(&s, self->dh, "mvsrc", self->dh, "newname",
		  CAPCHAN_RENAME_NOREPLACE | CAPCHAN_RENAME_EXCHANGE);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_rename(&s, self->dh, "mvsrc", 0, "newname", 0);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_truncate(&s, fh, (uint64_t)LLONG_MAX + 1);
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_truncate(&s, fh, 0);
	s.addr = (uintptr_t)self->buf;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	sq_truncate(&s, fh, 0);
	s.len = 1;
	EXPECT_EQ(-EINVAL, cc_invoke(self->fd, &s));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "malformed SQEs");
	free(before);
	free(after);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */
/* ------------------------------------------------------------------ */

/* Expect op to fail with want and to leave the jail as it was. */
#define FAILS_CLEANLY(want, call) do {					\
	char *b_ = snap_jail(self), *a_;				\
	int r_ = (call);						\
	EXPECT_EQ(want, r_) TH_LOG("%s", #call);			\
	a_ = snap_jail(self);						\
	same_tree(_metadata, "jail", b_, a_, #call);			\
	free(b_);							\
	free(a_);							\
} while (0)

TEST_F(dirops, bad_input_names)
{
	struct capchan_stat st;
	char *longname, *longpath;
	int fd = self->fd, dh = self->dh;

	/* empty names, everywhere */
	FAILS_CLEANLY(-ENOENT, do_statat(fd, dh, "", &st, 0));
	FAILS_CLEANLY(-ENOENT, do_mkdir(fd, dh, "", 0755));
	FAILS_CLEANLY(-ENOENT, do_unlink(fd, dh, ""));
	FAILS_CLEANLY(-ENOENT, do_rmdir(fd, dh, ""));
	FAILS_CLEANLY(-ENOENT, do_symlink(fd, dh, "x", ""));
	FAILS_CLEANLY(-ENOENT, do_rename(fd, dh, "", dh, "x", 0));
	FAILS_CLEANLY(-ENOENT, do_rename(fd, dh, "hello", dh, "", 0));
	/* "." and ".." as targets (".." of the DIR itself leaves it) */
	FAILS_CLEANLY(-EEXIST, do_mkdir(fd, dh, ".", 0755));
	FAILS_CLEANLY(-EEXIST, do_mkdir(fd, dh, "sub/..", 0755));
	FAILS_CLEANLY(-EXDEV, do_mkdir(fd, dh, "..", 0755));
	FAILS_CLEANLY(-EISDIR, do_unlink(fd, dh, "."));
	FAILS_CLEANLY(-EISDIR, do_unlink(fd, dh, "sub/.."));
	FAILS_CLEANLY(-EXDEV, do_unlink(fd, dh, ".."));
	FAILS_CLEANLY(-EINVAL, do_rmdir(fd, dh, "."));
	FAILS_CLEANLY(-EINVAL, do_rmdir(fd, dh, "sub/."));
	FAILS_CLEANLY(-ENOTEMPTY, do_rmdir(fd, dh, "sub/.."));
	FAILS_CLEANLY(-ENOTEMPTY, do_rmdir(fd, dh, "sub/deeper/.."));
	FAILS_CLEANLY(-EXDEV, do_rmdir(fd, dh, ".."));
	FAILS_CLEANLY(-EEXIST, do_symlink(fd, dh, "x", "."));
	FAILS_CLEANLY(-EEXIST, do_symlink(fd, dh, "x", "sub/.."));
	FAILS_CLEANLY(-EBUSY, do_rename(fd, dh, ".", dh, "x", 0));
	FAILS_CLEANLY(-EBUSY, do_rename(fd, dh, "sub/..", dh, "x", 0));
	FAILS_CLEANLY(-EBUSY, do_rename(fd, dh, "sub/deeper/..", dh, "x", 0));
	FAILS_CLEANLY(-EBUSY, do_rename(fd, dh, "hello", dh, ".", 0));
	FAILS_CLEANLY(-EBUSY, do_rename(fd, dh, "hello", dh, "sub/..", 0));
	FAILS_CLEANLY(-EEXIST, do_rename(fd, dh, "hello", dh, "sub/..",
					 CAPCHAN_RENAME_NOREPLACE));
	FAILS_CLEANLY(-EXDEV, do_rename(fd, dh, "..", dh, "x", 0));
	FAILS_CLEANLY(-EXDEV, do_rename(fd, dh, "hello", dh, "..", 0));
	/* a directory beneath itself; a target above the source */
	FAILS_CLEANLY(-EINVAL, do_rename(fd, dh, "sub", dh, "sub/deeper/x", 0));
	FAILS_CLEANLY(-EINVAL, do_rename(fd, dh, "sub", dh, "sub/x", 0));
	FAILS_CLEANLY(-EINVAL, do_rename(fd, dh, "sub", dh, "sub/deeper",
					 CAPCHAN_RENAME_EXCHANGE));
	FAILS_CLEANLY(-ENOTEMPTY, do_rename(fd, dh, "sub/deeper", dh, "sub", 0));
	FAILS_CLEANLY(-EINVAL, do_rename(fd, dh, "sub/deeper", dh, "sub",
					 CAPCHAN_RENAME_EXCHANGE));
	/* SYMLINK: no slash after a new name, as symlinkat(2) */
	FAILS_CLEANLY(-ENOENT, do_symlink(fd, dh, "x", "newlink/"));
	FAILS_CLEANLY(-EEXIST, do_symlink(fd, dh, "x", "sub/"));
	/* renaming onto itself is done, and does nothing */
	FAILS_CLEANLY(0, do_rename(fd, dh, "hello", dh, "hello", 0));
	FAILS_CLEANLY(0, do_rename(fd, dh, "hello", dh, "sub/../hello", 0));
	FAILS_CLEANLY(0, do_rename(fd, dh, "hello", dh, "hello",
				   CAPCHAN_RENAME_EXCHANGE));
	/* SYMLINK texts: empty, and a page or more */
	FAILS_CLEANLY(-ENOENT, do_symlink(fd, dh, "", "newlink"));
	longname = malloc(8192);
	ASSERT_NE(NULL, longname);
	memset(longname, 'y', 8191);
	longname[8191] = '\0';
	FAILS_CLEANLY(-ENAMETOOLONG, do_symlink(fd, dh, longname, "newlink"));
	longname[4096] = '\0';
	FAILS_CLEANLY(-ENAMETOOLONG, do_symlink(fd, dh, longname, "newlink"));
	/* paths of PATH_MAX and more, a component over NAME_MAX */
	longpath = longname;
	memset(longpath, 'a', 8191);
	longpath[PATH_MAX] = '\0';
	FAILS_CLEANLY(-ENAMETOOLONG, do_statat(fd, dh, longpath, &st, 0));
	FAILS_CLEANLY(-ENAMETOOLONG, do_mkdir(fd, dh, longpath, 0755));
	FAILS_CLEANLY(-ENAMETOOLONG, do_unlink(fd, dh, longpath));
	FAILS_CLEANLY(-ENAMETOOLONG, do_rmdir(fd, dh, longpath));
	FAILS_CLEANLY(-ENAMETOOLONG, do_symlink(fd, dh, "x", longpath));
	FAILS_CLEANLY(-ENAMETOOLONG, do_rename(fd, dh, longpath, dh, "x", 0));
	FAILS_CLEANLY(-ENAMETOOLONG, do_rename(fd, dh, "hello", dh, longpath, 0));
	longpath[NAME_MAX + 1] = '\0';
	FAILS_CLEANLY(-ENAMETOOLONG, do_mkdir(fd, dh, longpath, 0755));
	FAILS_CLEANLY(-ENAMETOOLONG, do_symlink(fd, dh, "x", longpath));
	FAILS_CLEANLY(-ENAMETOOLONG, do_rename(fd, dh, "hello", dh, longpath, 0));
	free(longname);
	/* bad pointers */
	FAILS_CLEANLY(-EFAULT, do_mkdir(fd, dh, NULL, 0755));
	FAILS_CLEANLY(-EFAULT, do_unlink(fd, dh, (const char *)8));
	FAILS_CLEANLY(-EFAULT, do_symlink(fd, dh, (const char *)8, "newlink"));
	FAILS_CLEANLY(-EFAULT, do_rename(fd, dh, "hello", dh, NULL, 0));
	FAILS_CLEANLY(-EFAULT, do_rename(fd, dh, NULL, dh, "x", 0));
}

/* INVOKE's return value as the system call gives it, all 64 bits. */
static long raw_invoke(int fd, const struct capchan_sqe *s)
{
	long r = syscall(SYS_ioctl, fd, CAPCHAN_IOC_INVOKE, s);

	return r == -1 ? -errno : r;
}

/* Every failure is a -errno (the rings' chains rely on the sign). */
TEST_F(dirops, errors_are_negative)
{
	struct capchan_sqe s[16];
	struct capchan_stat st;
	int n = 0, gh;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "gone", 0755));
	gh = open_dir(self, self->dh, "gone", R_ALL);
	ASSERT_LT(0, gh);
	ASSERT_EQ(0, unlinkat(self->t.jail_fd, "gone", AT_REMOVEDIR));

	sq_readdir(&s[n++], self->dh, 0, NULL, 4096);		/* -EFAULT */
	sq_readdir(&s[n++], self->dh, 0, self->buf, 1);		/* -EINVAL */
	sq_readdir(&s[n++], gh, 0, self->buf, 4096);		/* -ENOENT */
	sq_readdir(&s[n++], self->dh, 1ULL << 63, self->buf, 64);	/* -EINVAL */
	sq_statat(&s[n++], self->dh, "nope", &st, 0);
	sq_mkdir(&s[n++], self->dh, "hello", 0755);
	sq_path(&s[n++], CAPCHAN_OP_UNLINK, self->dh, "nope");
	sq_path(&s[n++], CAPCHAN_OP_RMDIR, self->dh, "sub");
	sq_symlink(&s[n++], self->dh, "", "newlink");
	sq_rename(&s[n++], self->dh, "nope", self->dh, "x", 0);
	sq_truncate(&s[n++], self->dh, 0);
	for (int i = 0; i < n; i++) {
		long r = raw_invoke(self->fd, &s[i]);

		EXPECT_TRUE(r < 0 && r >= -4095)
			TH_LOG("op %u: INVOKE returned %ld (%#lx)", s[i].opcode, r,
			       (unsigned long)r);
	}
}

/* A DIR whose directory was removed: its ops fail as in a deleted cwd. */
TEST_F(dirops, removed_dir)
{
	struct capchan_stat st;
	int gh;

	ASSERT_EQ(0, mkdirat(self->t.jail_fd, "gone", 0755));
	gh = open_dir(self, self->dh, "gone", R_ALL);
	ASSERT_LT(0, gh);
	ASSERT_EQ(0, do_rmdir(self->fd, self->dh, "gone"));
	EXPECT_FALSE(host_exists(self->t.jail_fd, "gone"));
	FAILS_CLEANLY(-ENOENT, do_mkdir(self->fd, gh, "d", 0755));
	FAILS_CLEANLY(-ENOENT, do_symlink(self->fd, gh, "x", "l"));
	FAILS_CLEANLY(-ENOENT, do_unlink(self->fd, gh, "x"));
	FAILS_CLEANLY(-ENOENT, do_rename(self->fd, self->dh, "hello", gh, "h", 0));
	FAILS_CLEANLY(-ENOENT, do_readdir(self->fd, gh, 0, self->buf, 4096));
	FAILS_CLEANLY(-EXDEV, do_statat(self->fd, gh, "..", &st, 0));
	/* "." is still the (removed) directory itself */
	EXPECT_EQ(0, do_statat(self->fd, gh, ".", &st, 0));
	EXPECT_EQ(0, st.nlink);
}

/* A handle of another channel is no target. */
TEST_F(dirops, rename_target_other_channel)
{
	struct capchan ch2;
	int h2;

	ASSERT_EQ(0, capchan_open_channel(&ch2));
	h2 = capchan_grant(&ch2, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h2);
	/* make the number mean nothing here */
	if ((uint32_t)h2 == self->dh)
		h2 = capchan_derive(&ch2, h2, R_ALL);
	ASSERT_LT(0, h2);
	FAILS_CLEANLY(-EBADF, do_rename(self->fd, self->dh, "hello", h2, "x", 0));
	capchan_queue_exit(&ch2);
}

/* RENAME across mounts: -EXDEV, whether by walk or between two DIRs. */
TEST_F(dirops, rename_cross_mount)
{
	char *before, *after, *mbefore, *mafter;
	int mfd, mh;

	if (!self->mounted)
		SKIP(return, "cannot mount tmpfs");
	mfd = open(self->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, mfd);
	mh = capchan_grant(&self->ch, mfd, R_ALL);
	ASSERT_LT(0, mh);
	before = snap_jail(self);
	mbefore = snap_outside(self);
	EXPECT_EQ(-EXDEV, do_rename(self->fd, self->dh, "hello", mh, "x", 0));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, mh, "victim", self->dh, "x", 0));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, self->dh, "hello", mh, "victim",
				    CAPCHAN_RENAME_EXCHANGE));
	EXPECT_EQ(-EXDEV, do_rename(self->fd, self->dh, "hello", self->dh,
				    "mnt/x", 0));
	EXPECT_EQ(-EBUSY, do_rename(self->fd, self->dh, "mnt", self->dh, "m2", 0));
	EXPECT_EQ(-EBUSY, do_rmdir(self->fd, self->dh, "mnt"));
	after = snap_jail(self);
	mafter = snap_outside(self);
	same_tree(_metadata, "jail", before, after, "cross-mount RENAME");
	same_tree(_metadata, "outside", mbefore, mafter, "cross-mount RENAME");
	/* within the mount, through its own DIR, it works */
	EXPECT_EQ(0, do_rename(self->fd, mh, "victim", mh, "emptydir/v", 0));
	EXPECT_TRUE(host_exists(mfd, "emptydir/v"));
	free(before);
	free(after);
	free(mbefore);
	free(mafter);
	close(mfd);
}

/* ------------------------------------------------------------------ */
/* Credentials: RENAME between capabilities of two users               */
/* ------------------------------------------------------------------ */

static int become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(CC_GID_NOGROUP) ||
	    setuid(CC_UID_NOBODY))
		return -errno;
	return 0;
}

/*
 * A DIR capability on the jail granted by nobody, in this (root's)
 * channel: a child drops to nobody, opens its own channel, grants the jail
 * fd it inherited, EXPORTs and sends the capability file; we IMPORT it.
 */
static int nobody_dir(FIXTURE_DATA(dirops) *self,
		      struct __test_metadata *_metadata)
{
	struct stat st;
	int sv[2], capfd, h;
	mode_t old = 0;
	pid_t pid;

	if (!stat(CAPCHAN_DEVICE, &st) && (st.st_mode & 0006) != 0006) {
		old = st.st_mode & 07777;
		chmod(CAPCHAN_DEVICE, old | 0006);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct capchan_sqe s;
		int ch, g, fd;

		close(sv[0]);
		/* /dev while still root: nothing above needs to be searchable */
		if (chdir("/dev") || become_nobody())
			_exit(10);
		ch = open("capchan", O_RDWR | O_CLOEXEC);
		if (ch < 0)
			_exit(11);
		g = cc_grant(ch, self->t.jail_fd, R_ALL, NULL);
		if (g < 0)
			_exit(12);
		cc_sqe(&s, CAPCHAN_OP_EXPORT, g);
		s.rights = R_ALL;
		fd = cc_invoke(ch, &s);
		if (fd < 0)
			_exit(13);
		_exit(cc_send_fd(sv[1], fd) ? 14 : 0);
	}
	close(sv[1]);
	capfd = cc_recv_fd(sv[0]);
	close(sv[0]);
	EXPECT_EQ(0, cc_wait_child(pid));
	if (old)
		chmod(CAPCHAN_DEVICE, old);
	if (capfd < 0)
		return capfd;
	h = capchan_import(&self->ch, capfd);
	close(capfd);
	return h;
}

static void cred_tree(struct __test_metadata *_metadata, int j)
{
	ASSERT_EQ(0, mkdirat(j, "pub", 0777));
	ASSERT_EQ(0, fchmodat(j, "pub", 0777, 0));
	ASSERT_EQ(0, mkdirat(j, "priv", 0755));
	ASSERT_EQ(0, mkdirat(j, "closed", 0700));
	ASSERT_EQ(0, mkdirat(j, "closed/inner", 0777));
	ASSERT_EQ(0, fchmodat(j, "closed/inner", 0777, 0));
	ASSERT_EQ(0, cc_put_str(j, "root_a", "root a\n"));
	ASSERT_EQ(0, cc_put_str(j, "priv/root_file", "root file\n"));
	ASSERT_EQ(0, cc_put_str(j, "pub/nob_file", "nobody's\n"));
	ASSERT_EQ(0, fchownat(j, "pub/nob_file", CC_UID_NOBODY, CC_GID_NOGROUP, 0));
	ASSERT_EQ(0, fchmod(j, 0755));
}

TEST_F(dirops, rename_two_users)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *c;
	int j = self->t.jail_fd, nh, fh;
	ino_t a, nf;
	char *before, *after;
	struct stat sb;

	ASSERT_NE(NULL, fi);
	cred_tree(_metadata, j);
	a = cc_ino_at(j, "root_a");
	nf = cc_ino_at(j, "pub/nob_file");
	nh = nobody_dir(self, _metadata);
	ASSERT_LT(0, nh);
	ASSERT_EQ(0, cc_read_fdinfo(self->fd, fi));
	c = cc_fdinfo_find(fi, nh);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(CC_UID_NOBODY, c->uid);
	c = cc_fdinfo_find(fi, self->dh);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, c->uid);
	free(fi);

	before = snap_jail(self);
	/* the target's user may not write there */
	EXPECT_EQ(-EACCES, do_rename(self->fd, self->dh, "root_a", nh,
				     "priv/x", 0));
	/* ...nor walk there */
	EXPECT_EQ(-EACCES, do_rename(self->fd, self->dh, "root_a", nh,
				     "closed/inner/x", 0));
	/* the source's user (nobody) may not remove from priv */
	EXPECT_EQ(-EACCES, do_rename(self->fd, nh, "priv/root_file", self->dh,
				     "pub/y", 0));
	/* the rename runs as the source's user: nobody may not create in priv */
	EXPECT_EQ(-EACCES, do_rename(self->fd, nh, "pub/nob_file", self->dh,
				     "priv/z", 0));
	/* EXCHANGE writes both directories */
	EXPECT_EQ(-EACCES, do_rename(self->fd, self->dh, "root_a", nh,
				     "priv/root_file", CAPCHAN_RENAME_EXCHANGE));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "RENAMEs between users");
	free(before);
	free(after);

	/* both allowed: it works */
	ASSERT_EQ(0, do_rename(self->fd, self->dh, "root_a", nh, "pub/x", 0));
	EXPECT_EQ(a, cc_ino_at(j, "pub/x"));
	ASSERT_EQ(0, do_rename(self->fd, nh, "pub/nob_file", self->dh, "pub/w", 0));
	EXPECT_EQ(nf, cc_ino_at(j, "pub/w"));
	ASSERT_EQ(0, do_rename(self->fd, nh, "pub/w", nh, "pub/w2", 0));
	EXPECT_EQ(nf, cc_ino_at(j, "pub/w2"));
	/* TRUNCATE checks write permission now, for nobody: as truncate(2) */
	fh = capchan_open_beneath(&self->ch, nh, "pub/w2", 0, 0, R_WRITE);
	ASSERT_LT(0, fh);
	ASSERT_EQ(0, fchmodat(j, "pub/w2", 0444, 0));
	EXPECT_EQ(-EACCES, do_truncate(self->fd, fh, 1));
	ASSERT_EQ(0, fchmodat(j, "pub/w2", 0644, 0));
	EXPECT_EQ(0, do_truncate(self->fd, fh, 1));
	ASSERT_EQ(0, host_stat(j, "pub/w2", &sb, 0));
	EXPECT_EQ(1, sb.st_size);
	/* and nobody's own ops are nobody's */
	EXPECT_EQ(-EACCES, do_mkdir(self->fd, nh, "priv/d", 0755));
	EXPECT_EQ(-EACCES, do_unlink(self->fd, nh, "priv/root_file"));
	EXPECT_EQ(0, do_mkdir(self->fd, nh, "pub/d", 0755));
	ASSERT_EQ(0, host_stat(j, "pub/d", &sb, 0));
	EXPECT_EQ(CC_UID_NOBODY, sb.st_uid);
}

/*
 * A sticky directory nobody may write, holding a root-owned file nobody
 * may not remove, reached only through nobody's DIR; root's DIR is on
 * another directory.  A RENAME from root's DIR onto that file (or an
 * EXCHANGE with it) would do what neither capability can do alone:
 * root's does not reach the sticky directory, nobody's may not remove the
 * entry.  Expected: nobody's -EPERM, as unlinkat(2) by nobody says.
 */
TEST_F(dirops, rename_two_users_sticky)
{
	int j = self->t.jail_fd, nh, rh;
	ino_t rf, rb;
	char *before, *after;

	ASSERT_EQ(0, mkdirat(j, "sticky", 01777));
	ASSERT_EQ(0, fchmodat(j, "sticky", 01777, 0));
	ASSERT_EQ(0, cc_put_str(j, "sticky/root_file", "root's, sticky\n"));
	ASSERT_EQ(0, mkdirat(j, "rootarea", 0755));
	ASSERT_EQ(0, cc_put_str(j, "rootarea/root_b", "root b\n"));
	rf = cc_ino_at(j, "sticky/root_file");
	rb = cc_ino_at(j, "rootarea/root_b");
	nh = nobody_dir(self, _metadata);
	ASSERT_LT(0, nh);
	rh = open_dir(self, self->dh, "rootarea", R_ALL);
	ASSERT_LT(0, rh);
	ASSERT_EQ(0, capchan_close(&self->ch, self->dh));
	/* each alone: no */
	EXPECT_EQ(-EPERM, do_unlink(self->fd, nh, "sticky/root_file"));
	EXPECT_EQ(-EPERM, do_rename(self->fd, nh, "sticky/root_file", nh,
				    "sticky/mine", 0));
	EXPECT_EQ(-EXDEV, do_unlink(self->fd, rh, "../sticky/root_file"));
	before = snap_jail(self);
	EXPECT_EQ(-EPERM, do_rename(self->fd, rh, "root_b", nh,
				    "sticky/root_file", CAPCHAN_RENAME_EXCHANGE));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "EXCHANGE with a sticky entry");
	free(after);
	/* independent of the above: both files back where they were */
	if (cc_ino_at(j, "sticky/root_file") != rf)
		renameat2(j, "rootarea/root_b", j, "sticky/root_file",
			  RENAME_EXCHANGE);
	EXPECT_EQ(-EPERM, do_rename(self->fd, rh, "root_b", nh,
				    "sticky/root_file", 0));
	after = snap_jail(self);
	same_tree(_metadata, "jail", before, after, "RENAME onto a sticky entry");
	EXPECT_EQ(rf, cc_ino_at(j, "sticky/root_file"));
	EXPECT_EQ(rb, cc_ino_at(j, "rootarea/root_b"));
	free(before);
	free(after);
	if (!cc_ino_at(j, "rootarea/root_b"))
		ASSERT_EQ(0, cc_put_str(j, "rootarea/root_b", "root b\n"));
	rb = cc_ino_at(j, "rootarea/root_b");
	/* a new name there is within both users' rights */
	EXPECT_EQ(0, do_rename(self->fd, rh, "root_b", nh, "sticky/new", 0));
	EXPECT_EQ(rb, cc_ino_at(j, "sticky/new"));
}

/*
 * RENAME into a DIR whose granter is confined by Landlock (no making or
 * removing entries) is refused by the granter's own LSM domain, as MKDIR
 * and UNLINK through that DIR are: a capability never lends another its
 * authority, LSMs included.
 */
TEST(rename_target_landlock)
{
	struct landlock_ruleset_attr ra = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_REG |
				     LANDLOCK_ACCESS_FS_MAKE_DIR |
				     LANDLOCK_ACCESS_FS_REMOVE_FILE |
				     LANDLOCK_ACCESS_FS_REMOVE_DIR,
	};
	char base[PATH_MAX], path[PATH_MAX + 16];
	int bfd, afd, ll, ha, st;
	struct capchan ch;
	uint32_t hd;
	pid_t pid;

	ll = syscall(SYS_landlock_create_ruleset, NULL, 0,
		     LANDLOCK_CREATE_RULESET_VERSION);
	if (ll < 1)
		SKIP(return, "no Landlock");
	ASSERT_EQ(0, cc_mkdtemp(base, "ll"));
	bfd = open(base, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, mkdirat(bfd, "a", 0755));
	ASSERT_EQ(0, mkdirat(bfd, "d", 0755));
	afd = openat(bfd, "a", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, cc_put_str(afd, "f", "x"));
	ASSERT_EQ(0, cc_put_str(afd, "g", "y"));
	ASSERT_EQ(0, capchan_open_channel(&ch));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int rs = syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
		int dfd = openat(bfd, "d", O_RDONLY | O_DIRECTORY);

		if (rs < 0 || dfd < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_landlock_restrict_self, rs, 0))
			_exit(1);
		_exit(capchan_grant(&ch, dfd, R_ALL) == 1 ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st));
	hd = 1;
	ha = capchan_grant(&ch, afd, R_ALL);
	ASSERT_LT(0, ha);
	/* the confined DIR: its own ops refused by its domain */
	EXPECT_EQ(-EACCES, capchan_mkdir_beneath(&ch, hd, "viacap", 0755));
	/* a rename into it, or an exchange with it, likewise */
	EXPECT_EQ(-EACCES, capchan_rename_beneath(&ch, ha, "f", hd, "moved", 0));
	ASSERT_EQ(0, cc_put_str(bfd, "d/keep", "k"));
	EXPECT_EQ(-EACCES, capchan_rename_beneath(&ch, ha, "g", hd, "keep",
						  CAPCHAN_RENAME_EXCHANGE));
	snprintf(path, sizeof(path), "%s/d/moved", base);
	EXPECT_EQ(-1, access(path, F_OK));
	EXPECT_EQ(0, faccessat(afd, "f", F_OK, 0));
	EXPECT_EQ(0, faccessat(afd, "g", F_OK, 0));
	/* within the unconfined DIR, the same rename works */
	EXPECT_EQ(0, capchan_rename_beneath(&ch, ha, "f", ha, "f2", 0));
	capchan_queue_exit(&ch);
	close(afd);
	close(bfd);
	cc_rm_rf(base);
}

TEST_HARNESS_MAIN
