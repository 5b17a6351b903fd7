// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the result oracle.  Every result (INVOKE's return value or
 * a CQE's res) is checked against what its SQE allows and learnt from:
 * new handles join the pool, capability files the IMPORT pool.  An OPEN
 * never yields an object known to be outside the DIR; READDIR records are
 * well formed and never name an outside object.
 */
#include "fuzz.h"

/* The SQE as text, for failure messages only (evaluated lazily). */
const char *fz_s(const struct capchan_sqe *s)
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
void fz_check_res(struct fz_w *w, struct fz_chan *c,
		  const struct capchan_sqe *s, long res, unsigned int mode)
{
	unsigned int op = s->opcode;

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
void fz_invoke_one(struct fz_w *w, struct fz_chan *c, int fd)
{
	struct capchan_sqe s;
	long res;

	w->c = c;
	fz_gen_sqe(w, &s);
	res = fz_invoke(fd, &s);
	fz_check_res(w, c, &s, res, FZ_M_INVOKE | (w->threads ? FZ_M_THREADS : 0));
}
