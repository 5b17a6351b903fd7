// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test, test 4: threads, a swapped channel, renames, fork: the
 * workers (tworker.c), the closer (closer.c) and the renamer
 * (renamer.c) at once, and a watchdog that interrupts waiting workers.
 */
#include "fuzz.h"

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

void fz_body_threads(struct fz_env *e, uint64_t seed, double end)
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
	while (fz_going(end))
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
