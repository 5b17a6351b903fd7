// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 4: the renamer moves files and directories across the
 * DIR boundary while the workers open, list and rename beneath it: a
 * file leaves the DIR and an outside secret takes its name; a directory
 * leaves and an outside secret moves in.  Nothing outside may be reached.
 */
#include "fuzz.h"

void *fz_trenamer(void *arg)
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
