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
 * Seed: --seed N, else $CAPCHAN_FUZZ_SEED, else the first line of
 * /data/capchan_fuzz_seed (run.sh -f FILE:/data/capchan_fuzz_seed), else a
 * fixed default; each test mixes in its own name and prints both.  The
 * same seed gives the same random streams; what threads and time bounds
 * make of them varies from run to run.  Each test runs its body in a
 * worker process under a watchdog (worker.c).
 *
 * Two lengths.  The short run (no arguments; make check) takes about 17 s,
 * each test bounded by its own time.  The long run (--long, or
 * CAPCHAN_FUZZ_LONG=1; make fuzz) bounds each test by a share of a time
 * bound (--seconds, default 400) AND by a goal, stopping at whichever
 * comes first: the ioctls test once the run has made --ioctls ioctl()
 * calls (default 100000), invoke and rings once it has made 60% and all
 * of --sqes SQEs (default 1000000), threads at 10% of its own (see
 * fz_long_plan()); all but the threads test with a worker per CPU, each
 * in its own world.
 * --only TEST runs one test (the others skip), to repeat a failure fast.
 * Both print, at exit, what the run did: ioctls by command, SQEs by
 * opcode and result, CQEs checked (stats.c).
 *
 * The files of this folder are listed in fuzz.h.
 */
#include "fuzz.h"

#include <sys/resource.h>

#include "kselftest_harness.h"

/* One test: its body, its short time, its part in a long run. */
struct fz_test {
	const char *name;
	fz_body_fn body;
	double secs;			/* the short run */
	/* long run */
	unsigned int weight;		/* its share of the time left */
	unsigned int run_pct;		/* on until the run has this % of --sqes */
	unsigned int own_pct;		/* ... and this % of its own at least */
	bool ioctl_goal;		/* on until the run has --ioctls ioctls */
	bool parallel;			/* a worker per CPU */
};

/*
 * The long run's plan, from runs under TCG (2 CPUs, slub_debug, KFENCE):
 * INVOKE and the rings make SQEs fastest, so they carry --sqes, the rings
 * to the end; the threads test is about races, not volume (a tenth of
 * the others' rate): a goal of its own, on top.
 */
static const struct fz_test fz_tests[] = {
	{ "ioctls", fz_body_ioctls, 3.0, 1, 0, 0, true, true },
	{ "invoke", fz_body_invoke, 3.5, 3, 60, 10, false, true },
	{ "rings", fz_body_rings, 4.5, 3, 100, 10, false, true },
	{ "threads", fz_body_threads, 6.0, 1, 0, 10, false, false },
};
#define FZ_NTESTS	CC_ARRAY_SIZE(fz_tests)
#define FZ_MAX_WORKERS	4
#define FZ_WORKER_SEED_STEP	0x9e3779b97f4a7c15ULL	/* worker n: seed + n * it */

static struct {
	bool long_run;
	double seconds;
	uint64_t sqes, ioctls;
	const char *only;		/* run this test only (the others skip) */
	double start;
} fz_opt = { .seconds = 400, .sqes = 1000000, .ioctls = 100000 };

static struct fz_counts *fz_blocks;	/* one per test, shared */

/*
 * @t's part in a long run: its goals (fz_goal) and its time, which is the
 * run's time left shared by weight among the tests still to run, so that
 * time one test did not need goes to the next.  Its SQE goal counts the
 * whole run so far (the tests before it are done, their blocks final).
 */
static double fz_long_plan(const struct fz_test *t)
{
	size_t k = t - fz_tests;
	double left = fz_opt.seconds - (cc_now() - fz_opt.start);
	uint64_t done = 0, want, own;
	unsigned int w = 0;

	for (size_t i = k; i < FZ_NTESTS; i++)
		w += fz_tests[i].weight;
	for (size_t i = 0; i < k; i++)
		done += fz_blocks[i].sqes;
	if (t->ioctl_goal)
		fz_goal.ioctls = fz_opt.ioctls;
	own = fz_opt.sqes * t->own_pct / 100;
	want = fz_opt.sqes * t->run_pct / 100;
	fz_goal.sqes = want > done + own ? want - done : own;
	/* a run over its time still gives each test a little */
	return left * t->weight / w > 5 ? left * t->weight / w : 5;
}

/* A worker process running @t's body in @env until @secs from now. */
static pid_t fz_start_worker(const struct fz_test *t, struct fz_env *env,
			     uint64_t seed, double secs)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		fz_worker_init();
		env->proc_fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		t->body(env, seed, cc_now() + secs);
		fz_capfd_close_all();
		_exit(atomic_load(&fz_nfail) ? 1 : 0);
	}
	return pid;
}

/*
 * Run @t: one worker (a few in a long run, each in a world of its own),
 * then check each world's outside.  0 if all went well.
 */
static int fz_run(struct __test_metadata *_metadata, const struct fz_test *t)
{
	const char *name = t->name;
	double secs = t->secs, deadline, start;
	uint64_t seed = fz_test_seed(name);
	struct fz_env *env;
	pid_t pid[FZ_MAX_WORKERS];
	int err, st = 0, nw = 1, n;

	fz_cnt = &fz_blocks[t - fz_tests];
	memset(&fz_goal, 0, sizeof(fz_goal));
	if (fz_opt.long_run) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		if (t->parallel && cpus > 1)
			nw = cpus < FZ_MAX_WORKERS ? cpus : FZ_MAX_WORKERS;
		secs = fz_long_plan(t);
		ksft_print_msg("fuzz %s: long run: %d worker(s) until %llu ioctls or %llu SQEs or %.0f s\n",
			       name, nw, (unsigned long long)fz_goal.ioctls,
			       (unsigned long long)fz_goal.sqes, secs);
	}
	ksft_print_msg("fuzz %s: base seed %#llx (CAPCHAN_FUZZ_SEED), test seed %#llx, %.1f s\n",
		       name, (unsigned long long)fz_base_seed(),
		       (unsigned long long)seed, secs);
	if (access(CAPCHAN_DEVICE, R_OK | W_OK)) {
		SKIP(return 0, "%s: %s", CAPCHAN_DEVICE, strerror(errno));
	}
	if (fz_opt.only && strcmp(fz_opt.only, name)) {
		SKIP(return 0, "--only %s", fz_opt.only);
	}
	env = calloc(nw, sizeof(*env));
	if (!env)
		return -1;
	for (n = 0; n < nw; n++) {
		err = fz_env_init(&env[n]);
		if (err)
			break;
	}
	if (n < nw) {
		TH_LOG("environment setup failed: %s", strerror(-err));
		while (n >= 0)
			fz_env_destroy(&env[n--]);
		free(env);
		return -1;
	}
	/* worker 0 draws the short run's numbers; the others their own */
	start = cc_now();
	for (n = 0; n < nw; n++)
		pid[n] = fz_start_worker(t, &env[n], seed + n * FZ_WORKER_SEED_STEP, secs);
	deadline = cc_now() + secs + 10;
	for (n = 0; n < nw; n++) {
		unsigned long long wseed = seed + n * FZ_WORKER_SEED_STEP;
		int ws = pid[n] < 0 ? -1 : fz_wait_worker(pid[n], deadline, name);

		if (ws)
			ksft_print_msg("fuzz %s: worker %d status %d (seed %#llx)\n", name, n, ws,
				       wseed);
		if (pid[n] < 0)
			fz_env_destroy(&env[n]);
		if (ws >= 0) {
			/* only the threads test runs the renamer, which moves things out */
			int bad = fz_outside_check(&env[n], t->body == fz_body_threads);

			if (bad) {
				ksft_print_msg("fuzz %s: %d changes outside the jail (seed %#llx)\n",
					       name, bad, wseed);
				if (!ws)
					ws = 3;
			}
			fz_env_destroy(&env[n]);	/* a stuck worker may still use it */
		}
		if (!st || ws < 0)
			st = ws;
	}
	free(env);
	/* its forked helpers are gone too: their counts are in */
	if (st >= 0) {
		struct rusage ru = { 0 };

		fz_print_stats(name, fz_cnt, cc_now() - start);
		/* the harness runs each test in a child: all it reaped is this test's */
		getrusage(RUSAGE_CHILDREN, &ru);
		ksft_print_msg("fuzz %s: CPU time of its workers: %.1f s user, %.1f s system\n",
			       name, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	return st;
}

TEST(ioctls)
{
	ASSERT_EQ(0, fz_run(_metadata, &fz_tests[0]));
}

TEST(invoke)
{
	ASSERT_EQ(0, fz_run(_metadata, &fz_tests[1]));
}

TEST(rings)
{
	ASSERT_EQ(0, fz_run(_metadata, &fz_tests[2]));
}

TEST(threads)
{
	ASSERT_EQ(0, fz_run(_metadata, &fz_tests[3]));
}

/* At exit of the harness (the tests ran in its children): the run's sums. */
static void fz_summary(void)
{
	struct fz_counts *sum = calloc(1, sizeof(*sum));

	if (!sum)
		return;
	for (size_t i = 0; i < FZ_NTESTS; i++)
		fz_counts_add(sum, &fz_blocks[i]);
	ksft_print_msg("fuzz summary: %s run, base seed %#llx, %.0f s\n",
		       fz_opt.long_run ? "long" : "short",
		       (unsigned long long)fz_base_seed(), cc_now() - fz_opt.start);
	fz_print_summary(sum);
	fflush(stdout);
	free(sum);
}

static bool fz_number(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return s[0] && !*end && !errno;
}

static void fz_usage(void)
{
	fprintf(stderr, "usage: fuzz_test [--long] [--seed N] [--seconds N] [--sqes N] [--ioctls N] [--only TEST]\n");
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	const char *env = getenv("CAPCHAN_FUZZ_LONG");
	uint64_t v;

	fz_opt.long_run = env && *env && strcmp(env, "0");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--long")) {
			fz_opt.long_run = true;
			continue;
		}
		if (!strcmp(a, "--only") && i + 1 < argc) {
			fz_opt.only = argv[++i];
			continue;
		}
		if (i + 1 == argc || !fz_number(argv[i + 1], &v))
			fz_usage();
		i++;
		if (!strcmp(a, "--seed"))
			fz_set_base_seed(v);
		else if (!strcmp(a, "--seconds") && v)
			fz_opt.seconds = v;
		else if (!strcmp(a, "--sqes"))
			fz_opt.sqes = v;
		else if (!strcmp(a, "--ioctls"))
			fz_opt.ioctls = v;
		else
			fz_usage();
	}
	fz_blocks = fz_counts_map(FZ_NTESTS);
	if (!fz_blocks) {
		fprintf(stderr, "fuzz_test: no shared memory for the counters\n");
		return KSFT_FAIL;
	}
	/* the harness kills a test after 30 s: a long one may take its time */
	if (fz_opt.long_run)
		for (struct __test_metadata *t = _fixture_global.tests; t; t = t->next)
			t->timeout = fz_opt.seconds + 60;
	fz_opt.start = cc_now();
	atexit(fz_summary);
	return test_harness_run(argc, argv);
}
