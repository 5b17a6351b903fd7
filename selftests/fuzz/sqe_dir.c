// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the fields of OPEN's and the directory ops' SQEs (READDIR,
 * STATAT, MKDIR, UNLINK, RMDIR, SYMLINK, RENAME), and the hostile paths
 * they take.
 */
#include "fuzz.h"

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
uint64_t fz_path(struct fz_w *w)
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

bool fz_sqe_dir(struct fz_w *w, struct capchan_sqe *s, uint64_t have_rights)
{
	struct fz_rng *r = &w->r;
	unsigned int k;

	switch (s->opcode) {
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
		return true;
	}
	case CAPCHAN_OP_READDIR:
		s->addr = fz_buf(w, &s->len, false);
		s->off = fz_cookie(w);
		return true;
	case CAPCHAN_OP_STATAT: {
		enum fz_ptr_kind kind;

		s->addr = fz_dpath(w);
		s->addr2 = fz_objptr(w, sizeof(struct capchan_stat), &kind);
		s->len = fz_pct(r, 95) ? sizeof(struct capchan_stat) : fz_rn(r, 256);
		s->op_flags = fz_pct(r, 50) ? CAPCHAN_STATAT_NOFOLLOW : 0;
		if (fz_pct(r, 3))
			s->op_flags = fz_r64(r);
		return true;
	}
	case CAPCHAN_OP_MKDIR:
		s->addr = fz_dpath(w);
		s->off = fz_pct(r, 95) ? fz_rn(r, 01000) | (fz_pct(r, 5) ? 07000 : 0)
				      : fz_r64(r);
		return true;
	case CAPCHAN_OP_UNLINK:
	case CAPCHAN_OP_RMDIR:
		s->addr = fz_dpath(w);
		return true;
	case CAPCHAN_OP_SYMLINK:
		s->addr = fz_dpath(w);
		/* link texts as hostile as the paths: followed later, scoped */
		s->addr2 = fz_pct(r, 95) ? fz_path(w) : 0;
		return true;
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
		return true;
	}
	}
	return false;
}
