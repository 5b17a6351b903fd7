// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: worker processes under a watchdog.  Each test runs its body
 * in a worker process: one that does not finish in time is killed, one
 * that cannot be killed (stuck in the kernel) is reported with its kernel
 * stacks instead of hanging the harness.  Bodies fork helpers that use
 * their channels concurrently for a while.
 */
#include "fuzz.h"
#include <sys/resource.h>
#include <sys/time.h>

static void fz_noop(int sig)
{
	(void)sig;
}

void fz_worker_init(void)
{
	struct sigaction sa;
	struct rlimit rl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_noop;	/* no SA_RESTART: waits end with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 2048) {
		rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	atomic_store(&fz_nfail, 0);
}

/*
 * SIGALRM after @ms and every @ms after that, until fz_disarm(), to end a
 * wait that cannot be met (single-threaded bodies only).  Not once: on a
 * loaded machine the first one may come before the wait has begun, in
 * user space, and then nothing would ever end it.
 */
void fz_arm(unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	struct itimerval it = { .it_value = tv, .it_interval = tv };

	setitimer(ITIMER_REAL, &it, NULL);
}

void fz_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

void fz_sleep_ms(double ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)((ms - 1000 * (long)(ms / 1000)) * 1e6) };

	nanosleep(&ts, NULL);
}

static void fz_dump(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	ksft_print_msg("%s:\n%s%s", path, buf, buf[n - 1] == '\n' ? "" : "\n");
}

/* The state letter of /proc/<pid>/stat, or 0. */
static char fz_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

/* Each thread's system call (number, arguments, sp, pc) and kernel stack. */
static void fz_dump_tasks(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char p2[320];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/syscall", pid, de->d_name);
		fz_dump(p2);
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/stack", pid, de->d_name);
		fz_dump(p2);
	}
	if (d)
		closedir(d);
}

/*
 * Wait for a worker (and its process group) until @deadline, then kill.
 * Returns its exit status, 1000+signal, or -1 if it cannot be reaped (a
 * task stuck in the kernel, reported with its stacks).
 */
int fz_wait_worker(pid_t pid, double deadline, const char *name)
{
	int status;
	bool killed = false;
	double give_up = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (!killed && cc_now() > deadline) {
			ksft_print_msg("fuzz %s: worker %d still running at its deadline (state %c): SIGKILL\n",
				       name, pid, fz_proc_state(pid));
			fz_dump_tasks(pid);	/* where it was: a hang or a slow loop */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = true;
			give_up = cc_now() + 5;
		}
		if (killed && cc_now() > give_up) {
			ksft_print_msg("fuzz %s: worker %d cannot be killed (state %c): stuck in the kernel\n",
				       name, pid, fz_proc_state(pid));
			fz_dump_tasks(pid);
			return -1;
		}
		fz_sleep_ms(10);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 1000 + WTERMSIG(status);
}

/* The paths a worker hands the module, in the arena (arena.c says why). */
static char (*fz_paths_alloc(void))[256]
{
	return fz_arena_alloc(FZ_NPATHS * 256, PROT_READ | PROT_WRITE);
}

void fz_w_free(struct fz_w *w)
{
	fz_arena_free(w->paths, FZ_NPATHS * 256);
	w->paths = NULL;
}

void fz_w_init(struct fz_w *w, struct fz_env *e, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->env = e;
	fz_srand(&w->r, seed);
	w->paths = fz_paths_alloc();
}

/* A forked helper: runs @fn for @ms with its own seed, exits 0 or 1. */
pid_t fz_fork_helper(void (*fn)(struct fz_w *w, void *arg, double end),
		     struct fz_w *parent, void *arg, double ms)
{
	uint64_t seed = fz_r64(&parent->r);
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		struct fz_w w = *parent;

		atomic_store(&fz_nfail, 0);
		/* another thread may have held it at fork() */
		pthread_mutex_init(&fz_capfd_lock, NULL);
		fz_srand(&w.r, seed);
		w.paths = fz_paths_alloc();
		fn(&w, arg, cc_now() + ms / 1000);
		_exit(atomic_load(&fz_nfail) ? 1 : 0);
	}
	return pid;
}

/* Reap forked helpers; with @deadline, wait (then kill) until then. */
void fz_reap_helpers(pid_t *kids, int *nkids, double deadline)
{
	for (int i = 0; i < *nkids;) {
		int st;
		pid_t r = waitpid(kids[i], &st, WNOHANG);

		if (r == 0 && deadline > 0) {
			if (cc_now() > deadline)
				kill(kids[i], SIGKILL);
			fz_sleep_ms(5);
			continue;
		}
		if (r == kids[i]) {
			FZ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				 "forked helper %d failed (status %#x)", kids[i], st);
		} else if (r == 0) {
			i++;
			continue;
		}
		kids[i] = kids[--*nkids];
	}
}
