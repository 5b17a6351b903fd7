// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: what lies outside the jail (the DIR every channel is granted),
 * recorded at setup and checked after each test: nothing there may change,
 * go or come, except what the renamer of the threads test moves.
 */
#include "fuzz.h"

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
int fz_outside_record(struct fz_env *e)
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
int fz_outside_check(struct fz_env *e, bool threads)
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
