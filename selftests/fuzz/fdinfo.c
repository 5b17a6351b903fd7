// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: /proc/self/fdinfo of a channel must always parse and be
 * self-consistent, and match what we know of the channel.
 */
#include "fuzz.h"

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

/* /proc/self/fdinfo/<fd> must always parse and be self-consistent. */
void fz_fdinfo_check(struct fz_w *w, struct fz_chan *c, int fd, bool exact)
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
