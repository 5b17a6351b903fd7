// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 4: the closer: a new channel behind the shared fd every
 * few milliseconds (dup2, sometimes after a window with no channel at
 * all) while the workers use it; the old channels live on through their
 * mappings.  Capability files nobody keeps are swept now and then.
 */
#include "fuzz.h"
#include <dirent.h>

/* Close every capability file descriptor (EXPORT results nobody keeps). */
void fz_sweep_capfds(void)
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

void *fz_tcloser(void *arg)
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
