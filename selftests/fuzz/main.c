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
 * worker process under a watchdog (worker.c).
 *
 * At exit it prints what the run did: ioctls by command, SQEs by opcode
 * and result, CQEs checked (stats.c).
 *
 * The files of this folder are listed in fuzz.h.
 */
#include "fuzz.h"

#include "kselftest_harness.h"

/* The tests: about 17 s in all, each well under the harness's 30 s. */
struct fz_test {
	const char *name;
	fz_body_fn body;
	double secs;
};

static const struct fz_test fz_tests[] = {
	{ "ioctls", fz_body_ioctls, 3.0 },
	{ "invoke", fz_body_invoke, 3.5 },
	{ "rings", fz_body_rings, 4.5 },
	{ "threads", fz_body_threads, 6.0 },
};
#define FZ_NTESTS	CC_ARRAY_SIZE(fz_tests)

static struct fz_counts *fz_blocks;	/* one per test, shared */
static double fz_start;

static int fz_run(struct __test_metadata *_metadata, const struct fz_test *t)
{
	const char *name = t->name;
	double secs = t->secs;
	fz_body_fn body = t->body;
	struct fz_env env;
	uint64_t seed = fz_test_seed(name);
	int err, st;
	pid_t pid;

	fz_cnt = &fz_blocks[t - fz_tests];

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
		/* its forked helpers are gone too: their counts are in */
		fz_print_stats(name, fz_cnt);
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
	ksft_print_msg("fuzz summary: base seed %#llx, %.0f s\n",
		       (unsigned long long)fz_base_seed(), cc_now() - fz_start);
	fz_print_summary(sum);
	fflush(stdout);
	free(sum);
}

int main(int argc, char **argv)
{
	fz_blocks = fz_counts_map(FZ_NTESTS);
	if (!fz_blocks) {
		fprintf(stderr, "fuzz_test: no shared memory for the counters\n");
		return KSFT_FAIL;
	}
	fz_start = cc_now();
	atexit(fz_summary);
	return test_harness_run(argc, argv);
}
