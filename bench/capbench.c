// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capbench - capchan against plain system calls and io_uring, side by side
 * in one process on one kernel boot.
 *
 *   capbench [-r ROUNDS] [-s SCALE] [-w WORKLOAD,...]
 *
 * Prints CSV on stdout, header first:
 *
 *   workload,variant,batch,ops,ns_per_op,crossings_per_op
 *
 * ns_per_op is CLOCK_MONOTONIC time around a fixed number of ops, taken
 * after an untimed warm-up; with ROUNDS > 1 the best round counts (noise
 * under emulation only ever adds time).  Under QEMU's -icount shift=0 the
 * guest clock advances one nanosecond per instruction, so there ns_per_op
 * reads "instructions per op".  crossings_per_op is user->kernel entries
 * (system calls, ioctls included) per op.  For "lookup" and "revoke" the
 * batch column holds N, the number of capabilities (or tree nodes); a
 * revoke row's op is one REVOKE of the whole tree.
 *
 * Workloads (-w picks some; default the first six):
 *   nop     NOP at batch 1..256: getppid(2), io_uring (four
 *           configurations, see uring_kinds), capchan rings, capchan
 *           INVOKE; at batch 1 also the floors: ENOSYS and ENOTTY entries
 *   read    4 KiB page-cache read at offset 0 of a file in /tmp (rows
 *           named read4k); floors: the same copy done in user space
 *   orc     open+read+close of a small file beneath a directory
 *   lookup  STAT of a random one of N live capabilities (fstat of a random
 *           one of N fds as the baseline)
 *   revoke  REVOKE of a tree of N derived capabilities
 *   capmem  kernel memory per capability (N DERIVEs, slab growth / N)
 * and, only when named: contend, policy, policy-none (bench/README),
 *   chain   linked chains of NOPs, 8 to 64 long, one chain per ENTER
 *           (io_uring: IOSQE_IO_LINK), batch = the chain's length
 *   readmiss  random 4 KiB reads that miss the page cache, batch 32, on
 *           the test VM's ext4 disk (/mnt/disk; wall clock only)
 *   phases  batch-1 variants stopping at successive phases of INVOKE,
 *           ENTER and OPEN (bench/phases.sh)
 *   sqpoll  poll threads, capchan's and io_uring's; needs two CPUs
 *           (bench/sqpoll.sh)
 *   threads INVOKE NOP from 1, 2 and 4 threads on one channel; run
 *           beside sqpoll by bench/sqpoll.sh (two CPUs)
 *
 * Exit status: 0 when every variant ran and returned what it should, 1
 * otherwise (a failing variant prints no row, and says why on stderr).
 * Diagnostics and notes go to stderr, prefixed "capbench: ".
 *
 * Before measuring it waits until no other task wants the CPU (see
 * settle()).  Needs /dev/capchan; lookup up to N=65000 and revoke of 100000
 * need the module loaded with max_caps=65535 (larger N are skipped, with a
 * note, otherwise).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <capchan.h>
#include <bpf/libbpf.h>

#include "allow.skel.h"

#define WORKDIR		"/tmp/capbench"
#define DATA_NAME	"data"		/* 64 KiB, read at offset 0 */
#define SMALL_NAME	"small"		/* SMALL_SIZE bytes, opened and read */
#define SMALL_SIZE	100
#define DATA_SIZE	(64 * 1024)
#define IO_SIZE		4096
#define RING_ENTRIES	256		/* SQ size of every ring, all kinds */
#define MAX_BATCH	256
#define ORC_MAX_BATCH	16		/* 3 SQEs per file: 48 of 256 */
#define RAND_SLOTS	4096		/* pre-drawn random picks, reused cyclically */
#define CHAN_CAPS	65000		/* nodes per channel in the revoke trees */
#define TREE_FANOUT	8		/* revoke trees: keeps depth < max_depth */

/* ---- options and global state ------------------------------------------- */

static int rounds = 1;
static double scale = 1.0;
static const char *workloads = "capmem,nop,read,orc,lookup,revoke";
static int failed;

/*
 * Kernel entries counted by the program at each call site in the measured
 * loops that makes one (setup code is not counted: it is never measured).
 * Cross-checked against the kernel's own count (raw_syscalls:sys_enter)
 * during the warm-up when the kernel lets us count it.
 */
static unsigned long xings;
#define CROSS(n) (xings += (n))

static void note(const char *fmt, ...)
{
	va_list ap;

	fputs("capbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("capbench: FATAL ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int want(const char *w)
{
	size_t n = strlen(w);
	const char *p = workloads;

	while ((p = strstr(p, w))) {
		if ((p == workloads || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* ops * SCALE, rounded up so that ops/4 (the warm-up) is whole batches */
static unsigned long scaled(unsigned long ops, unsigned max_batch)
{
	unsigned long gran = 4ul * max_batch;
	unsigned long n = (unsigned long)(ops * scale);

	return (n + gran - 1) / gran * gran;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: reproducible picks, no libc state */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- the kernel's count of system call entries ---------------------------- */

/*
 * A perf counter on the raw_syscalls:sys_enter tracepoint, for this task
 * only, counts every entry the process makes, so the call-site count can
 * be checked against the kernel.  The counter exists only during warm-ups:
 * while any syscall tracepoint is registered -- even a disabled perf event
 * keeps it registered -- every system call of every task takes the slow
 * path (about 90 more instructions per call on 6.1), so it is opened at
 * sc_start() and closed at sc_stop(), never left behind for a timed loop.
 */
static long sc_id = -1;
static int sc_fd = -1;
static long sc_bias;

static long sc_tracepoint_id(void)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};
	char buf[32];
	unsigned i;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "r");

		if (i == 0 && !f) {
			/* the test VM mounts no tracefs: try to, we are root there */
			mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
			f = fopen(paths[i], "r");
		}
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			fclose(f);
			return strtol(buf, NULL, 10);
		}
		fclose(f);
	}
	return -1;
}

static int sc_open(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)sc_id;
	a.disabled = 1;
	/* threads the variant starts count too (the threads rows), once joined */
	a.inherit = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void sc_start(void)
{
	if (sc_id < 0)
		return;
	sc_fd = sc_open();
	/* not counted: sys_enter of the ENABLE ioctl fires before it enables */
	if (sc_fd >= 0)
		ioctl(sc_fd, PERF_EVENT_IOC_ENABLE, 0);
}

/* Entries since sc_start(), or -1 when the kernel does not count them. */
static long sc_stop(void)
{
	uint64_t v;
	long ret = -1;

	if (sc_fd < 0)
		return -1;
	/* counted: the tracepoint fires before the ioctl disables it (bias) */
	ioctl(sc_fd, PERF_EVENT_IOC_DISABLE, 0);
	if (read(sc_fd, &v, sizeof(v)) == sizeof(v))
		ret = (long)v - sc_bias;
	close(sc_fd);
	sc_fd = -1;
	return ret;
}

static void sc_init(void)
{
	long id = sc_tracepoint_id();
	int fd;

	if (id < 0) {
		note("no raw_syscalls tracepoint: crossings are call-site counts only");
		return;
	}
	sc_id = id;
	fd = sc_open();
	if (fd < 0) {
		note("perf_event_open(raw_syscalls:sys_enter): %s: crossings are call-site counts only",
		     strerror(errno));
		sc_id = -1;
		return;
	}
	close(fd);
	/* what an empty start/stop pair counts */
	sc_start();
	sc_bias = sc_stop();
	note("crossings counted by the kernel (raw_syscalls:sys_enter, bias %ld)", sc_bias);
}

/* ---- one measurement ------------------------------------------------------- */

/*
 * A variant runs @ops operations, @batch at a time, and returns 0, or a
 * negative errno when the kernel answered something unexpected.
 */
typedef int (*run_fn)(void *arg, unsigned batch, unsigned long ops);

static void emit(const char *workload, const char *variant, unsigned long col,
		 unsigned long ops, double ns_per_op, double xings_per_op)
{
	printf("%s,%s,%lu,%lu,%.1f,%.4f\n", workload, variant, col, ops,
	       ns_per_op, xings_per_op);
	fflush(stdout);
}

/*
 * The variants of one workload at one batch size (or N) form a group, run
 * side by side: each is warmed up first (ops/4 untimed, with the kernel
 * counting crossings), then they are timed round-robin, @rounds times, and
 * each keeps its best round.  A burst of host noise thus costs one round
 * of every variant instead of every round of one.
 */
struct job {
	const char *variant;
	unsigned batch;
	run_fn fn;
	void *arg;
	double xings;		/* crossings per op */
	uint64_t best;		/* ns for ops, best round */
	int err;
};

#define MAX_JOBS 16
static struct job jobs[MAX_JOBS];
static int njobs;

/*
 * Called before every warm-up and every timed round of a group, untimed;
 * NULL for most workloads (readmiss drops its file's pages there).
 */
static void (*group_prep)(void);

static void add(const char *variant, unsigned batch, run_fn fn, void *arg)
{
	if (njobs == MAX_JOBS)
		die("too many variants in one group");
	jobs[njobs++] = (struct job){ .variant = variant, .batch = batch,
				      .fn = fn, .arg = arg, .best = UINT64_MAX };
}

/* @col is what the batch column shows; every job's batch must divide @ops. */
static void run_group(const char *workload, unsigned long col, unsigned long ops)
{
	unsigned long warm, x0, xcount;
	uint64_t t0, t1;
	long kcount;
	int r, j;

	warm = ops / 4;
	for (j = 0; j < njobs; j++) {
		struct job *jb = &jobs[j];

		if (ops % jb->batch || warm % jb->batch)
			die("%s %s: batch %u does not divide %lu", workload,
			    jb->variant, jb->batch, warm);
		if (group_prep)
			group_prep();
		x0 = xings;
		sc_start();
		jb->err = jb->fn(jb->arg, jb->batch, warm);
		kcount = sc_stop();
		xcount = xings - x0;
		if (jb->err)
			continue;
		if (kcount >= 0 && (unsigned long)kcount != xcount)
			note("%s %s batch %lu: kernel counted %ld entries, call sites %lu (reporting the kernel's)",
			     workload, jb->variant, col, kcount, xcount);
		if (kcount >= 0)
			xcount = (unsigned long)kcount;
		jb->xings = (double)xcount / warm;
	}
	for (r = 0; r < rounds; r++)
		for (j = 0; j < njobs; j++) {
			struct job *jb = &jobs[j];

			if (jb->err)
				continue;
			if (group_prep)
				group_prep();
			t0 = now_ns();
			jb->err = jb->fn(jb->arg, jb->batch, ops);
			t1 = now_ns();
			if (!jb->err && t1 - t0 < jb->best)
				jb->best = t1 - t0;
		}
	for (j = 0; j < njobs; j++) {
		struct job *jb = &jobs[j];

		if (jb->err) {
			note("FAIL %s %s batch %lu: %s", workload, jb->variant, col,
			     strerror(-jb->err));
			failed = 1;
			continue;
		}
		emit(workload, jb->variant, col, ops, (double)jb->best / ops, jb->xings);
	}
	njobs = 0;
}

/* ---- expected results, carried in user_data ---------------------------- */

/*
 * Every SQE's user_data holds the result it must complete with, so one
 * reaping loop checks every workload.  EXPECT_HANDLE: any handle (> 0).
 */
#define EXPECT_HANDLE	((uint64_t)-1)

static int check_res(uint64_t expect, int res)
{
	if (expect == EXPECT_HANDLE ? res > 0 : res == (int)expect)
		return 0;
	return res < 0 ? res : -EPROTO;
}

/* ---- io_uring ------------------------------------------------------------- */

struct uring {
	struct io_uring ring;
	int ok;
	int fixed;		/* read4k: datafd_g is fixed file 0 */
};

static int uring_init(struct uring *u, unsigned flags, const char *what)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	u->fixed = 0;
	ret = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
	u->ok = ret == 0;
	if (ret) {
		note("io_uring %s: setup failed: %s", what, strerror(-ret));
		failed = 1;
	}
	return ret;
}

static void uring_exit(struct uring *u)
{
	if (u->ok)
		io_uring_queue_exit(&u->ring);
	u->ok = 0;
}

/*
 * The io_uring configurations every workload runs, weakest first:
 *   io_uring         liburing's default ring
 *   io_uring-dt      IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN
 *   io_uring-reg     default ring, its fd registered
 *                    (io_uring_register_ring_fd: io_uring_enter then skips
 *                    the fd table lookup and reference)
 *   io_uring-dt-reg  SINGLE_ISSUER|DEFER_TASKRUN and the fd registered
 * The -reg rings also read read4k's file as fixed file 0
 * (io_uring_register_files + IOSQE_FIXED_FILE), see uring_set_init().
 */
enum { UR_DEF, UR_DT, UR_REG, UR_DT_REG, UR_KINDS };

static const struct uring_kind {
	const char *name;
	unsigned flags;
	int reg;
} uring_kinds[UR_KINDS] = {
	[UR_DEF]	= { "io_uring", 0, 0 },
	[UR_DT]		= { "io_uring-dt", IORING_SETUP_SINGLE_ISSUER |
			    IORING_SETUP_DEFER_TASKRUN, 0 },
	[UR_REG]	= { "io_uring-reg", 0, 1 },
	[UR_DT_REG]	= { "io_uring-dt-reg", IORING_SETUP_SINGLE_ISSUER |
			    IORING_SETUP_DEFER_TASKRUN, 1 },
};

/* @fixed_fd >= 0: register it as fixed file 0 of the -reg rings */
static void uring_set_init(struct uring *set, int fixed_fd)
{
	unsigned k;
	int ret;

	for (k = 0; k < UR_KINDS; k++) {
		struct uring *u = &set[k];

		if (uring_init(u, uring_kinds[k].flags, uring_kinds[k].name))
			continue;
		if (!uring_kinds[k].reg)
			continue;
		/* returns how many it registered: 1 */
		ret = io_uring_register_ring_fd(&u->ring);
		if (ret != 1) {
			note("%s: register ring fd: %s", uring_kinds[k].name,
			     ret < 0 ? strerror(-ret) : "not registered");
			uring_exit(u);
			failed = 1;
			continue;
		}
		if (fixed_fd < 0)
			continue;
		ret = io_uring_register_files(&u->ring, &fixed_fd, 1);
		if (ret) {
			note("%s: register files: %s", uring_kinds[k].name, strerror(-ret));
			uring_exit(u);
			failed = 1;
			continue;
		}
		u->fixed = 1;
	}
}

static void uring_set_exit(struct uring *set)
{
	unsigned k;

	for (k = 0; k < UR_KINDS; k++)
		uring_exit(&set[k]);
}

/* one job per configuration that set up */
static void uring_set_add(struct uring *set, unsigned batch, run_fn fn)
{
	unsigned k;

	for (k = 0; k < UR_KINDS; k++)
		if (set[k].ok)
			add(uring_kinds[k].name, batch, fn, &set[k]);
}

/*
 * Submit what was prepared and wait for @n completions in one
 * io_uring_enter (GETEVENTS is always set when waiting, which
 * DEFER_TASKRUN needs to run its completions), then check them all.
 */
static int uring_submit_reap(struct io_uring *ring, unsigned n)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int ret, err = 0;

	ret = io_uring_submit_and_wait(ring, n);
	CROSS(1);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	io_uring_for_each_cqe(ring, head, cqe) {
		if (!err)
			err = check_res(cqe->user_data, cqe->res);
		if (++seen == n)
			break;
	}
	io_uring_cq_advance(ring, seen);
	return err ? err : seen == n ? 0 : -EIO;
}

/* ---- capchan rings ---------------------------------------------------------- */

/* Same shape as uring_submit_reap(): one ENTER, then a batch advance. */
static int cc_submit_reap(struct capchan *ch, unsigned n)
{
	struct capchan_cq *cq = &ch->cq;
	unsigned head, tail, i;
	int ret, err = 0;

	ret = capchan_submit_and_wait(ch, n);
	CROSS(1);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	head = __atomic_load_n(cq->khead, __ATOMIC_RELAXED);
	/* pairs with the module's store-release of the CQ tail */
	tail = __atomic_load_n(cq->ktail, __ATOMIC_ACQUIRE);
	if (tail - head < n)
		return -EIO;
	for (i = 0; i < n && !err; i++) {
		struct capchan_cqe *cqe = &cq->cqes[(head + i) & cq->ring_mask];

		err = check_res(cqe->user_data, cqe->res);
	}
	capchan_cq_advance(ch, n);
	return err;
}

/*
 * capchan_get_sqe() cannot fail here: every batch fits the SQ and is
 * consumed whole by the ENTER that submits it.
 */
static struct capchan_sqe *cc_sqe(struct capchan *ch)
{
	struct capchan_sqe *sqe = capchan_get_sqe(ch);

	if (!sqe)
		die("capchan SQ full");
	return sqe;
}

static struct io_uring_sqe *ur_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		die("io_uring SQ full");
	return sqe;
}

static int cc_invoke(struct capchan *ch, const struct capchan_sqe *sqe,
		     uint64_t expect)
{
	int res = capchan_invoke(ch, sqe);

	CROSS(1);
	return check_res(expect, res);
}

/* ---- NOP ----------------------------------------------------------------- */

static int nop_syscall(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;

	(void)arg;
	(void)batch;
	/* getppid: the cheapest system call glibc never caches */
	for (i = 0; i < ops; i++) {
		getppid();
		CROSS(1);
	}
	return 0;
}

/*
 * Floors: the cheapest kernel entries there are.  A system call number
 * the kernel does not have (-ENOSYS straight from the dispatcher), and an
 * ioctl with a command nobody implements (-ENOTTY), on /dev/null (no ioctl
 * method: the VFS answers) and on a capchan channel (the module's ioctl
 * switch answers: what an INVOKE pays before it does anything).
 */
#define NOSYS_NR	4095		/* above every x86-64 system call */
#define BAD_IOCTL	0u		/* no generic VFS ioctl, no capchan one */

static int nop_enosys(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;

	(void)arg;
	(void)batch;
	for (i = 0; i < ops; i++) {
		long r = syscall(NOSYS_NR);

		CROSS(1);
		if (r != -1 || errno != ENOSYS)
			return r == -1 ? -errno : -EPROTO;
	}
	return 0;
}

static int nop_enotty(void *arg, unsigned batch, unsigned long ops)
{
	int fd = *(int *)arg;
	unsigned long i;

	(void)batch;
	for (i = 0; i < ops; i++) {
		int r = ioctl(fd, BAD_IOCTL, 0);

		CROSS(1);
		if (r != -1 || errno != ENOTTY)
			return r == -1 ? -errno : -EPROTO;
	}
	return 0;
}

static int nop_uring(void *arg, unsigned batch, unsigned long ops)
{
	struct io_uring *ring = &((struct uring *)arg)->ring;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = ur_sqe(ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, 0);
		}
		err = uring_submit_reap(ring, batch);
		if (err)
			return err;
	}
	return 0;
}

static int nop_cc_ring(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan *ch = arg;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++)
			capchan_prep_nop(cc_sqe(ch));	/* user_data 0 = expected */
		err = cc_submit_reap(ch, batch);
		if (err)
			return err;
	}
	return 0;
}

static int nop_cc_invoke(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan_sqe sqe;
	unsigned long i;
	int err;

	(void)batch;
	for (i = 0; i < ops; i++) {
		/* prepared per call, as a caller passing arguments would */
		capchan_prep_nop(&sqe);
		err = cc_invoke(arg, &sqe, 0);
		if (err)
			return err;
	}
	return 0;
}

static void open_channel(struct capchan *ch, int rings)
{
	int ret = rings ? capchan_queue_init(RING_ENTRIES, ch, 0) :
			  capchan_open_channel(ch);

	if (ret)
		die("capchan channel: %s", strerror(-ret));
}

static void bench_nop(void)
{
	static const unsigned batches[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
	unsigned long ops = scaled(16384, MAX_BATCH);
	struct uring set[UR_KINDS];
	struct capchan ch;
	int nullfd;
	unsigned i;

	uring_set_init(set, -1);
	open_channel(&ch, 1);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		note("/dev/null: %s: no syscall-enotty-null floor", strerror(errno));
		failed = 1;
	}
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		unsigned b = batches[i];

		add("syscall", b, nop_syscall, NULL);
		if (b == 1) {
			add("syscall-enosys", b, nop_enosys, NULL);
			if (nullfd >= 0)
				add("syscall-enotty-null", b, nop_enotty, &nullfd);
			add("syscall-enotty-capchan", b, nop_enotty, &ch.fd);
		}
		uring_set_add(set, b, nop_uring);
		add("capchan-ring", b, nop_cc_ring, &ch);
		if (b == 1)
			add("capchan-invoke", b, nop_cc_invoke, &ch);
		run_group("nop", b, ops);
	}
	if (nullfd >= 0)
		close(nullfd);
	uring_set_exit(set);
	capchan_queue_exit(&ch);
}

/* ---- linked chains of NOPs ------------------------------------------------- */

/*
 * nop_uring() and nop_cc_ring() with the LINK flag.  Kept apart rather
 * than one loop with a flag: folding them together moved io_uring's NOP
 * rows by up to 8 instructions per op (a branch and a spill in the loop),
 * and those rows are the baseline of every NOP ratio.
 */

static int chain_uring(void *arg, unsigned batch, unsigned long ops)
{
	struct io_uring *ring = &((struct uring *)arg)->ring;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = ur_sqe(ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, 0);
			if (i + 1 < batch)
				sqe->flags |= IOSQE_IO_LINK;
		}
		err = uring_submit_reap(ring, batch);
		if (err)
			return err;
	}
	return 0;
}

static int chain_cc_ring(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan *ch = arg;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(ch);

			capchan_prep_nop(sqe);
			if (i + 1 < batch)
				sqe->flags |= CAPCHAN_SQE_LINK;
		}
		err = cc_submit_reap(ch, batch);
		if (err)
			return err;
	}
	return 0;
}

/*
 * One chain per ENTER: 8 fits one of the module's batches, 16 and 32 are
 * copied whole and run without the ring lock, 64 runs op by op under it
 * (module/ring.c).
 */
static void bench_chain(void)
{
	static const unsigned lens[] = { 8, 16, 32, 64 };
	unsigned long ops = scaled(16384, MAX_BATCH);
	struct uring set[UR_KINDS];
	struct capchan ch;
	unsigned i;

	uring_set_init(set, -1);
	open_channel(&ch, 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uring_set_add(set, lens[i], chain_uring);
		add("capchan-ring", lens[i], chain_cc_ring, &ch);
		run_group("chain", lens[i], ops);
	}
	uring_set_exit(set);
	capchan_queue_exit(&ch);
}

/* ---- files used by read and orc ------------------------------------------- */

static int dirfd_g = -1, datafd_g = -1;
static char *bufs;		/* MAX_BATCH buffers of IO_SIZE */
static char *copy_src;		/* IO_SIZE bytes: the memcpy floors' source */

static void make_file(const char *name, size_t size)
{
	char *p = malloc(size);
	int fd;

	if (!p)
		die("out of memory");
	memset(p, 'c', size);
	fd = openat(dirfd_g, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p, size) != (ssize_t)size)
		die("writing %s/%s: %s", WORKDIR, name, strerror(errno));
	close(fd);
	free(p);
}

static void setup_files(void)
{
	mkdir(WORKDIR, 0755);
	dirfd_g = open(WORKDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_g < 0)
		die("%s: %s", WORKDIR, strerror(errno));
	make_file(DATA_NAME, DATA_SIZE);
	make_file(SMALL_NAME, SMALL_SIZE);
	datafd_g = openat(dirfd_g, DATA_NAME, O_RDONLY | O_CLOEXEC);
	if (datafd_g < 0)
		die("%s: %s", DATA_NAME, strerror(errno));
	if (posix_memalign((void **)&bufs, 4096, (size_t)MAX_BATCH * IO_SIZE))
		die("out of memory");
	if (posix_memalign((void **)&copy_src, 4096, IO_SIZE))
		die("out of memory");
	/* fault the buffers in now, not inside a timed loop */
	memset(bufs, 0, (size_t)MAX_BATCH * IO_SIZE);
	memset(copy_src, 'c', IO_SIZE);
}

#define BUF(i) (bufs + (size_t)(i) * IO_SIZE)

/* ---- 4 KiB page-cache read ------------------------------------------------ */

struct cc_file {
	struct capchan ch;
	uint32_t h;		/* FILE cap with READ|SEEK, or DIR with LOOKUP */
};

static int read_syscall(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long done;
	unsigned i;

	(void)arg;
	for (done = 0; done < ops; done += batch)
		for (i = 0; i < batch; i++) {
			ssize_t n = pread(datafd_g, BUF(i), IO_SIZE, 0);

			CROSS(1);
			if (n != IO_SIZE)
				return n < 0 ? -errno : -EIO;
		}
	return 0;
}

/*
 * Floors for a read: the same 4 KiB copied in user space, page to page,
 * with glibc's memcpy and with `rep movsb` (what the Debian kernels copy
 * to user space with; under icount one instruction per byte).
 */
static int read_memcpy(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long done;
	unsigned i;

	(void)arg;
	for (done = 0; done < ops; done += batch)
		for (i = 0; i < batch; i++) {
			memcpy(BUF(i), copy_src, IO_SIZE);
			/* the copy is observable: not elided or merged */
			__asm__ volatile("" ::: "memory");
		}
	return 0;
}

static int read_memcpy_rep(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long done;
	unsigned i;

	(void)arg;
	for (done = 0; done < ops; done += batch)
		for (i = 0; i < batch; i++) {
			void *d = BUF(i);
			const void *s = copy_src;
			size_t n = IO_SIZE;

			__asm__ volatile("rep movsb"
					 : "+D"(d), "+S"(s), "+c"(n) : : "memory");
		}
	return 0;
}

static int read_uring(void *arg, unsigned batch, unsigned long ops)
{
	struct uring *u = arg;
	struct io_uring *ring = &u->ring;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = ur_sqe(ring);

			if (u->fixed) {
				io_uring_prep_read(sqe, 0, BUF(i), IO_SIZE, 0);
				sqe->flags |= IOSQE_FIXED_FILE;
			} else {
				io_uring_prep_read(sqe, datafd_g, BUF(i), IO_SIZE, 0);
			}
			io_uring_sqe_set_data64(sqe, IO_SIZE);
		}
		err = uring_submit_reap(ring, batch);
		if (err)
			return err;
	}
	return 0;
}

static int read_cc_ring(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *f = arg;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(&f->ch);

			capchan_prep_read(sqe, f->h, BUF(i), IO_SIZE, 0);
			capchan_sqe_set_data64(sqe, IO_SIZE);
		}
		err = cc_submit_reap(&f->ch, batch);
		if (err)
			return err;
	}
	return 0;
}

static int read_cc_invoke(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *f = arg;
	struct capchan_sqe sqe;
	unsigned long i;
	int err;

	(void)batch;
	for (i = 0; i < ops; i++) {
		capchan_prep_read(&sqe, f->h, BUF(0), IO_SIZE, 0);
		err = cc_invoke(&f->ch, &sqe, IO_SIZE);
		if (err)
			return err;
	}
	return 0;
}

static void bench_read(void)
{
	static const unsigned batches[] = { 1, 32 };
	unsigned long ops = scaled(8192, 32);
	struct uring set[UR_KINDS];
	struct cc_file f;
	unsigned i;
	int h;

	uring_set_init(set, datafd_g);
	open_channel(&f.ch, 1);
	h = capchan_grant(&f.ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	if (h < 0)
		die("grant %s: %s", DATA_NAME, strerror(-h));
	f.h = (uint32_t)h;
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		unsigned b = batches[i];

		add("syscall", b, read_syscall, NULL);
		add("memcpy", b, read_memcpy, NULL);
		add("memcpy-rep", b, read_memcpy_rep, NULL);
		uring_set_add(set, b, read_uring);
		add("capchan-ring", b, read_cc_ring, &f);
		if (b == 1)
			add("capchan-invoke", b, read_cc_invoke, &f);
		run_group("read4k", b, ops);
	}
	uring_set_exit(set);
	capchan_queue_exit(&f.ch);
}

/* ---- open + read + close ---------------------------------------------------- */

/* One op is one whole file: open, read it (SMALL_SIZE bytes), close. */

static int orc_syscall(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;

	(void)arg;
	(void)batch;
	for (i = 0; i < ops; i++) {
		int fd = openat(dirfd_g, SMALL_NAME, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		CROSS(1);
		if (fd < 0)
			return -errno;
		n = read(fd, BUF(0), IO_SIZE);
		CROSS(2);
		close(fd);
		if (n != SMALL_SIZE)
			return n < 0 ? -EIO : -EPROTO;
	}
	return 0;
}

/*
 * The like-for-like baseline: capchan's OPEN resolves beneath its DIR with
 * the same scoping openat2(RESOLVE_BENEATH|...) gives.
 */
static int orc_openat2(void *arg, unsigned batch, unsigned long ops)
{
	struct open_how how;
	unsigned long i;

	(void)arg;
	(void)batch;
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	for (i = 0; i < ops; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd_g, SMALL_NAME, &how, sizeof(how));
		ssize_t n;

		CROSS(1);
		if (fd < 0)
			return -errno;
		n = read(fd, BUF(0), IO_SIZE);
		CROSS(2);
		close(fd);
		if (n != SMALL_SIZE)
			return n < 0 ? -EIO : -EPROTO;
	}
	return 0;
}

/*
 * io_uring in 6.1 cannot hand a normal fd from an OPENAT to a linked READ,
 * so the chain uses a direct descriptor: OPENAT into fixed-file slot i,
 * READ with IOSQE_FIXED_FILE from slot i, CLOSE of slot i, linked.
 */
static int orc_uring_len(struct io_uring *ring, unsigned batch,
			 unsigned long ops, unsigned len)
{
	struct io_uring_sqe *sqe;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			sqe = ur_sqe(ring);
			io_uring_prep_openat_direct(sqe, dirfd_g, SMALL_NAME, O_RDONLY, 0, i);
			sqe->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data64(sqe, 0);
			sqe = ur_sqe(ring);
			/*
			 * A short read (the file is smaller than the buffer)
			 * breaks an ordinary link, so the CLOSE hangs on a
			 * hard link: it runs whatever the READ returned.
			 */
			io_uring_prep_read(sqe, (int)i, BUF(i), len, 0);
			sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
			io_uring_sqe_set_data64(sqe, SMALL_SIZE);
			sqe = ur_sqe(ring);
			io_uring_prep_close_direct(sqe, i);
			io_uring_sqe_set_data64(sqe, 0);
		}
		err = uring_submit_reap(ring, 3 * batch);
		if (err)
			return err;
	}
	return 0;
}

/* Every variant reads the file into a 4 KiB buffer, as a caller that does
 * not know the size would. */
static int orc_uring(void *arg, unsigned batch, unsigned long ops)
{
	return orc_uring_len(&((struct uring *)arg)->ring, batch, ops, IO_SIZE);
}

/*
 * On 6.1 a buffered io_uring READ that comes back short on a regular file
 * is retried to fill the buffer (need_complete_io()), which costs more than
 * the open itself; a caller that knows the size asks for exactly that.
 */
static int orc_uring_exact(void *arg, unsigned batch, unsigned long ops)
{
	return orc_uring_len(&((struct uring *)arg)->ring, batch, ops, SMALL_SIZE);
}

/* OPEN -> READ(CHAIN) -> CLOSE(CHAIN), linked: the flagship batch. */
static int orc_cc_ring(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *d = arg;
	struct capchan_sqe *sqe;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			sqe = cc_sqe(&d->ch);
			capchan_prep_open(sqe, d->h, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_READ);
			capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
			capchan_sqe_set_data64(sqe, EXPECT_HANDLE);
			sqe = cc_sqe(&d->ch);
			capchan_prep_read(sqe, CAPCHAN_HANDLE_CHAIN, BUF(i), IO_SIZE,
					  CAPCHAN_OFF_CURRENT);
			capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
			capchan_sqe_set_data64(sqe, SMALL_SIZE);
			sqe = cc_sqe(&d->ch);
			capchan_prep_close(sqe, CAPCHAN_HANDLE_CHAIN);
			capchan_sqe_set_data64(sqe, 0);
		}
		err = cc_submit_reap(&d->ch, 3 * batch);
		if (err)
			return err;
	}
	return 0;
}

static int orc_cc_invoke(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *d = arg;
	struct capchan_sqe sqe;
	unsigned long i;
	int h, err;

	(void)batch;
	for (i = 0; i < ops; i++) {
		capchan_prep_open(&sqe, d->h, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_READ);
		h = capchan_invoke(&d->ch, &sqe);
		CROSS(1);
		if (h <= 0)
			return h < 0 ? h : -EPROTO;
		capchan_prep_read(&sqe, (uint32_t)h, BUF(0), IO_SIZE, CAPCHAN_OFF_CURRENT);
		err = cc_invoke(&d->ch, &sqe, SMALL_SIZE);
		capchan_prep_close(&sqe, (uint32_t)h);
		if (err) {
			capchan_invoke(&d->ch, &sqe);
			return err;
		}
		err = cc_invoke(&d->ch, &sqe, 0);
		if (err)
			return err;
	}
	return 0;
}

static void bench_orc(void)
{
	static const unsigned batches[] = { 1, ORC_MAX_BATCH };
	unsigned long ops = scaled(2048, ORC_MAX_BATCH);
	static char exact_names[UR_KINDS][32];
	struct uring set[UR_KINDS];
	struct cc_file d;
	unsigned i, k;
	int h, ret;

	uring_set_init(set, -1);
	/* a sparse fixed-file table: the direct descriptors' slots */
	for (k = 0; k < UR_KINDS; k++) {
		snprintf(exact_names[k], sizeof(exact_names[k]), "%s-exact",
			 uring_kinds[k].name);
		if (set[k].ok &&
		    (ret = io_uring_register_files_sparse(&set[k].ring, ORC_MAX_BATCH))) {
			note("%s: sparse file table: %s", uring_kinds[k].name,
			     strerror(-ret));
			uring_exit(&set[k]);
			failed = 1;
		}
	}
	open_channel(&d.ch, 1);
	h = capchan_grant(&d.ch, dirfd_g, CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_READ);
	if (h < 0)
		die("grant %s: %s", WORKDIR, strerror(-h));
	d.h = (uint32_t)h;
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		unsigned b = batches[i];

		add("syscall", b, orc_syscall, NULL);
		add("syscall-beneath", b, orc_openat2, NULL);
		uring_set_add(set, b, orc_uring);
		for (k = 0; k < UR_KINDS; k++)
			if (set[k].ok)
				add(exact_names[k], b, orc_uring_exact, &set[k]);
		add("capchan-ring", b, orc_cc_ring, &d);
		if (b == 1)
			add("capchan-invoke", b, orc_cc_invoke, &d);
		run_group("orc", b, ops);
	}
	uring_set_exit(set);
	capchan_queue_exit(&d.ch);
}

/* ---- capability lookup --------------------------------------------------- */

/*
 * Random picks are drawn before timing, so both variants pay the same
 * small user-space cost per op: one load from this array.
 */
static uint32_t fd_picks[RAND_SLOTS], handle_picks[RAND_SLOTS];

static int lookup_fstat(void *arg, unsigned batch, unsigned long ops)
{
	const uint32_t *picks = arg;
	struct stat st;
	unsigned long i;

	(void)batch;
	for (i = 0; i < ops; i++) {
		/*
		 * The raw fstat system call: glibc's fstat() is
		 * newfstatat(fd, "", AT_EMPTY_PATH), which on 6.1 also copies
		 * and walks an empty path name.
		 */
		CROSS(1);
		if (syscall(SYS_fstat, (int)picks[i % RAND_SLOTS], &st))
			return -errno;
	}
	return 0;
}

static int lookup_cc_invoke(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan_stat st;
	struct capchan_sqe sqe;
	unsigned long i;
	int err;

	(void)batch;
	for (i = 0; i < ops; i++) {
		capchan_prep_stat(&sqe, handle_picks[i % RAND_SLOTS], &st);
		err = cc_invoke(arg, &sqe, 0);
		if (err)
			return err;
	}
	return 0;
}

static unsigned max_caps(void)
{
	struct capchan_version v;
	struct capchan ch;
	int ret;

	open_channel(&ch, 0);
	ret = capchan_get_version(&ch, &v);
	capchan_queue_exit(&ch);
	if (ret)
		die("capchan version: %s", strerror(-ret));
	return v.max_caps;
}

static void bench_lookup(void)
{
	static const unsigned ns[] = { 1, 10, 100, 1000, 10000, 65000 };
	unsigned long ops = scaled(8192, 1);
	unsigned limit = max_caps(), i, k, nfd;
	uint32_t *handles;
	int *fds;
	struct rlimit rl;

	handles = calloc(65536, sizeof(*handles));
	fds = calloc(65536, sizeof(*fds));
	if (!handles || !fds)
		die("out of memory");
	/* room for 65000 descriptors for the fstat baseline (root in the VM) */
	rl.rlim_cur = rl.rlim_max = 70000;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		note("setrlimit(NOFILE, 70000): %s", strerror(errno));

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		unsigned n = ns[i];
		struct capchan ch;
		int h;

		if (n > limit) {
			note("lookup N=%u skipped: max_caps is %u (load with max_caps=65535)",
			     n, limit);
			continue;
		}
		/* N live capabilities: one granted root, N-1 derived from it */
		open_channel(&ch, 0);
		h = capchan_grant(&ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK |
				  CAPCHAN_RIGHT_STAT | CAPCHAN_RIGHT_DERIVE);
		if (h < 0)
			die("grant: %s", strerror(-h));
		handles[0] = (uint32_t)h;
		for (k = 1; k < n; k++) {
			h = capchan_derive(&ch, handles[0], CAPCHAN_RIGHT_STAT);
			if (h < 0)
				die("derive %u of %u: %s", k, n, strerror(-h));
			handles[k] = (uint32_t)h;
		}
		/* the baseline: N descriptors for the same file */
		fds[0] = datafd_g;
		for (nfd = 1; nfd < n; nfd++) {
			fds[nfd] = fcntl(datafd_g, F_DUPFD_CLOEXEC, 0);
			if (fds[nfd] < 0)
				break;
		}
		if (nfd == n) {
			for (k = 0; k < RAND_SLOTS; k++)
				fd_picks[k] = (uint32_t)fds[rnd() % n];
			add("syscall-fstat", 1, lookup_fstat, fd_picks);
		} else {
			note("lookup N=%u: only %u fds (%s): no fstat baseline", n, nfd,
			     strerror(errno));
			failed = 1;
		}
		for (k = 0; k < RAND_SLOTS; k++)
			handle_picks[k] = handles[rnd() % n];
		add("capchan-invoke", 1, lookup_cc_invoke, &ch);
		run_group("lookup", n, ops);
		while (nfd-- > 1)
			close(fds[nfd]);
		capchan_queue_exit(&ch);
	}
	free(handles);
	free(fds);
}

/* ---- memory per capability ---------------------------------------------- */

/*
 * What a capability costs in kernel memory: CAPMEM_N capabilities DERIVEd
 * in one channel, and the growth of the kernel's counters divided by N.
 * Run before the workloads that create tens of thousands of capabilities,
 * whose freed slabs the allocator could otherwise hand back to this one.
 * Rows (workload capmem, batch and ops = N, ns_per_op column = bytes per
 * capability, may be negative):
 *   slab        /proc/meminfo Slab (every slab page, and large kmallocs)
 *   sunreclaim  /proc/meminfo SUnreclaim
 *   vmalloc     /proc/meminfo VmallocUsed (kvmalloc'ed handle tables)
 *   memfree     the fall of /proc/meminfo MemFree (everything, but per-CPU
 *               page lists make it coarse)
 *   cap-object  /proc/slabinfo capchan_cap: active objects x object size
 *               (the capability structure alone; absent if the cache was
 *               merged into another)
 *   cap-slab-size, cap-object-size
 *               not per capability: /sys/kernel/slab/capchan_cap/slab_size
 *               (what one capability structure takes in its slab, padding
 *               and alignment included) and object_size (its sizeof)
 * The handle table is per channel and doubles as it fills, so its share
 * per capability depends on N: N = 10000 sits in a 16384-slot table.
 */
#define CAPMEM_N	10000

struct memstat {
	long slab, sunreclaim, vmalloc, memfree;	/* kB */
	long cap_objs, cap_size;			/* -1: not found */
};

static void memstat_read(struct memstat *m)
{
	char line[256], name[64];
	long v, a, o, sz;
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->cap_objs = m->cap_size = -1;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %ld", name, &v) != 2)
			continue;
		if (!strcmp(name, "Slab"))
			m->slab = v;
		else if (!strcmp(name, "SUnreclaim"))
			m->sunreclaim = v;
		else if (!strcmp(name, "VmallocUsed"))
			m->vmalloc = v;
		else if (!strcmp(name, "MemFree"))
			m->memfree = v;
	}
	fclose(f);
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "capchan_cap %ld %ld %ld", &a, &o, &sz) == 3) {
			m->cap_objs = a;
			m->cap_size = sz;
		}
	fclose(f);
}

/* /sys/kernel/slab/capchan_cap/@attr (also there when merged), or -1 */
static long cap_slab_attr(const char *attr)
{
	char path[96];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/capchan_cap/%s", attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void bench_capmem(void)
{
	unsigned limit = max_caps(), n = CAPMEM_N, k;
	struct memstat m0, m1, m2;
	struct capchan ch;
	int root, h;

	if (limit < n + 1) {
		note("capmem skipped: max_caps %u < %u", limit, n + 1);
		return;
	}
	open_channel(&ch, 0);
	root = capchan_grant(&ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_DERIVE);
	if (root < 0)
		die("capmem grant: %s", strerror(-root));
	memstat_read(&m0);
	for (k = 0; k < n; k++) {
		h = capchan_derive(&ch, (uint32_t)root, CAPCHAN_RIGHT_READ);
		if (h < 0)
			die("capmem derive %u of %u: %s", k, n, strerror(-h));
	}
	memstat_read(&m1);
	capchan_queue_exit(&ch);
	memstat_read(&m2);
	emit("capmem", "slab", n, n, (m1.slab - m0.slab) * 1024.0 / n, 1.0);
	emit("capmem", "sunreclaim", n, n, (m1.sunreclaim - m0.sunreclaim) * 1024.0 / n, 1.0);
	emit("capmem", "vmalloc", n, n, (m1.vmalloc - m0.vmalloc) * 1024.0 / n, 1.0);
	emit("capmem", "memfree", n, n, (m0.memfree - m1.memfree) * 1024.0 / n, 1.0);
	if (m0.cap_objs >= 0 && m1.cap_objs >= 0)
		emit("capmem", "cap-object", n, n,
		     (double)(m1.cap_objs - m0.cap_objs) * m1.cap_size / n, 1.0);
	else
		note("capmem: no capchan_cap line in /proc/slabinfo (cache merged?)");
	if (cap_slab_attr("slab_size") > 0 && cap_slab_attr("object_size") > 0) {
		emit("capmem", "cap-slab-size", n, 1, (double)cap_slab_attr("slab_size"), 0.0);
		emit("capmem", "cap-object-size", n, 1, (double)cap_slab_attr("object_size"), 0.0);
	} else {
		note("capmem: no /sys/kernel/slab/capchan_cap");
	}
	note("capmem: N=%u: Slab %+ld kB, SUnreclaim %+ld kB, VmallocUsed %+ld kB, MemFree %+ld kB; after closing the channel Slab %+ld kB from the start",
	     n, m1.slab - m0.slab, m1.sunreclaim - m0.sunreclaim,
	     m1.vmalloc - m0.vmalloc, m1.memfree - m0.memfree, m2.slab - m0.slab);
	if (m0.cap_objs >= 0 && m1.cap_objs >= 0)
		note("capmem: capchan_cap objects %ld -> %ld, object size %ld",
		     m0.cap_objs, m1.cap_objs, m1.cap_size);
}

/* ---- revocation --------------------------------------------------------- */

/*
 * A tree of N capabilities below a granted root R, built with DERIVE.  One
 * channel holds at most max_caps handles and a capability whose last handle
 * is closed leaves the tree, so trees larger than a channel span several
 * channels: channel 0 derives its part directly below R; every further
 * channel IMPORTs a capability EXPORTed from R (a child of R, counted) and
 * derives its part below that.  Within a channel node j's parent is node
 * (j-1)/TREE_FANOUT, so depth stays far below max_depth.
 */
struct tree {
	struct capchan ch[4];
	unsigned nch;
	uint32_t root;
};

#define NODE_RIGHTS	(CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_DERIVE)

static uint32_t *tree_handles;

static int tree_build(struct tree *t, unsigned n, unsigned per_chan)
{
	unsigned built = 0, c, j;
	int h;

	memset(t, 0, sizeof(*t));
	for (c = 0; built < n; c++) {
		unsigned part = n - built < per_chan ? n - built : per_chan;
		unsigned first;

		if (c >= sizeof(t->ch) / sizeof(t->ch[0]))
			return -E2BIG;
		open_channel(&t->ch[c], 0);
		t->nch = c + 1;
		if (c == 0) {
			h = capchan_grant(&t->ch[0], datafd_g, NODE_RIGHTS |
					  CAPCHAN_RIGHT_DELEGATE | CAPCHAN_RIGHT_REVOKE);
			if (h < 0)
				return h;
			t->root = (uint32_t)h;
			tree_handles[0] = t->root;	/* R: not counted */
			first = 1;
			part++;
		} else {
			int fd = capchan_export(&t->ch[0], t->root, NODE_RIGHTS);

			if (fd < 0)
				return fd;
			h = capchan_import(&t->ch[c], fd);
			close(fd);	/* the imported handle keeps it alive */
			if (h < 0)
				return h;
			tree_handles[0] = (uint32_t)h;
			built++;
			first = 1;
		}
		for (j = first; j < part; j++) {
			h = capchan_derive(&t->ch[c], tree_handles[(j - 1) / TREE_FANOUT],
					   NODE_RIGHTS);
			if (h < 0)
				return h;
			tree_handles[j] = (uint32_t)h;
			built++;
		}
	}
	return 0;
}

static void tree_free(struct tree *t)
{
	unsigned c;

	/* closing a channel drops its handles; the tree goes with the last */
	for (c = t->nch; c-- > 0;)
		capchan_queue_exit(&t->ch[c]);
	t->nch = 0;
}

/* clock_gettime's own cost, taken off single-op timings */
static uint64_t timer_cost(void)
{
	uint64_t best = UINT64_MAX, t0, t1;
	int i;

	for (i = 0; i < 64; i++) {
		t0 = now_ns();
		t1 = now_ns();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

static void bench_revoke(void)
{
	static const unsigned ns[] = { 10, 100, 1000, 10000, 100000 };
	unsigned limit = max_caps(), per_chan, i;
	uint64_t tc = timer_cost();

	/* a little room in each table beyond the tree: the root, spare slots */
	if (limit < 32) {
		note("revoke skipped: max_caps %u", limit);
		return;
	}
	per_chan = limit - 16 < CHAN_CAPS ? limit - 16 : CHAN_CAPS;
	tree_handles = calloc(CHAN_CAPS + 1, sizeof(*tree_handles));
	if (!tree_handles)
		die("out of memory");
	note("timer cost %" PRIu64 " ns, taken off each revoke", tc);

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		unsigned n = ns[i];
		/* small trees: repeat so the result is not one timer tick's noise */
		unsigned reps = n >= 1000 ? 1 : 1000 / n, r, rr;
		uint64_t best = UINT64_MAX;
		struct tree t;
		int err = 0;

		if ((n + per_chan - 1) / per_chan > sizeof(t.ch) / sizeof(t.ch[0])) {
			note("revoke N=%u skipped: max_caps %u too small", n, limit);
			continue;
		}
		for (rr = 0; rr < (unsigned)rounds && !err; rr++) {
			uint64_t sum = 0;

			for (r = 0; r < reps && !err; r++) {
				struct capchan_sqe sqe;
				uint64_t t0, t1;
				int res;

				err = tree_build(&t, n, per_chan);
				if (err) {
					tree_free(&t);
					break;
				}
				/* one ioctl, timed alone: the crossing count is 1 */
				capchan_prep_revoke(&sqe, t.root);
				t0 = now_ns();
				res = capchan_invoke(&t.ch[0], &sqe);
				t1 = now_ns();
				tree_free(&t);
				if (res != (int)n) {
					err = res < 0 ? res : -EPROTO;
					note("revoke N=%u revoked %d", n, res);
					break;
				}
				sum += t1 - t0 > tc ? t1 - t0 - tc : 0;
			}
			if (!err && sum / reps < best)
				best = sum / reps;
		}
		if (err) {
			note("FAIL revoke N=%u: %s", n, strerror(-err));
			failed = 1;
			continue;
		}
		emit("revoke", "capchan-invoke", n, reps, (double)best, 1.0);
	}
	free(tree_handles);
}

/* ---- contend: another user's ops while a big tree is revoked ---------- */

/*
 * Revocation must not stall anyone outside the tree it revokes.  A second
 * process, running as another user (uid 65534) with its own channel and
 * its own granted root, times DERIVE+CLOSE pairs in a loop while this
 * process revokes a tree of N = 100000 capabilities once and then revokes
 * it again CONTEND_AGAIN times (nothing left to revoke: that must cost
 * nothing).  Each of the other user's pairs is filed under the phase it
 * started in: idle (before the first REVOKE) or revoking (from the first
 * REVOKE's start to the last one's end).  Rows (batch = N):
 *   other-idle, other-revoking   mean ns per DERIVE+CLOSE pair (ops: pairs)
 *   other-revoking-max           the slowest pair while revoking
 *   revoke-first, revoke-again   ns per REVOKE of the tree
 * bench/contend.sh runs it on one vCPU under icount (QEMU's icount does
 * not boot with two here): the other user runs whenever the scheduler
 * preempts the revoker, so its worst pair is one time slice when nothing
 * is shared, and the whole REVOKE when it waits for a lock the REVOKE
 * holds.
 */
#define CONTEND_N	100000
#define CONTEND_AGAIN	10

struct contend_shared {
	volatile int phase;		/* 0 idle, 1 revoking, 2 stop */
	volatile int ready;
	unsigned long n[2];
	uint64_t sum[2], max[2];
	int err;
};

static void contend_other(struct contend_shared *sh)
{
	struct capchan ch;
	int root;

	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
		sh->err = -errno;
		sh->ready = 1;
		_exit(1);
	}
	open_channel(&ch, 0);
	root = capchan_grant(&ch, datafd_g, NODE_RIGHTS);
	if (root < 0) {
		sh->err = root;
		sh->ready = 1;
		_exit(1);
	}
	sh->ready = 1;
	while (sh->phase != 2) {
		int ph = sh->phase, h;
		uint64_t t0 = now_ns(), dt;

		h = capchan_derive(&ch, (uint32_t)root, CAPCHAN_RIGHT_READ);
		if (h < 0 || capchan_close(&ch, (uint32_t)h)) {
			sh->err = h < 0 ? h : -EPROTO;
			_exit(1);
		}
		dt = now_ns() - t0;
		if (ph == 2)
			break;
		sh->n[ph]++;
		sh->sum[ph] += dt;
		if (dt > sh->max[ph])
			sh->max[ph] = dt;
	}
	_exit(0);
}

static void bench_contend(void)
{
	unsigned limit = max_caps(), per_chan = limit - 16 < CHAN_CAPS ? limit - 16 : CHAN_CAPS;
	uint64_t t0, first, again = 0;
	struct contend_shared *sh;
	struct capchan_sqe sqe;
	struct tree t;
	int res, i, st;
	pid_t pid;

	if ((CONTEND_N + per_chan - 1) / per_chan > sizeof(t.ch) / sizeof(t.ch[0])) {
		note("contend skipped: max_caps %u too small", limit);
		return;
	}
	tree_handles = calloc(CHAN_CAPS + 1, sizeof(*tree_handles));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!tree_handles || sh == MAP_FAILED)
		die("out of memory");
	memset(sh, 0, sizeof(*sh));
	res = tree_build(&t, CONTEND_N, per_chan);
	if (res)
		die("contend: tree of %u: %s", CONTEND_N, strerror(-res));

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid)
		contend_other(sh);
	while (!sh->ready)
		usleep(1000);
	/* the other user alone for a while: its idle baseline */
	t0 = now_ns();
	while (now_ns() - t0 < 200000000ull && !sh->err)
		sched_yield();

	sh->phase = 1;
	capchan_prep_revoke(&sqe, t.root);
	t0 = now_ns();
	res = capchan_invoke(&t.ch[0], &sqe);
	first = now_ns() - t0;
	if (res != CONTEND_N) {
		note("FAIL contend: REVOKE revoked %d of %u", res, CONTEND_N);
		failed = 1;
	}
	for (i = 0; i < CONTEND_AGAIN; i++) {
		t0 = now_ns();
		res = capchan_invoke(&t.ch[0], &sqe);
		again += now_ns() - t0;
		if (res != 0) {
			note("FAIL contend: REVOKE again revoked %d", res);
			failed = 1;
		}
	}
	sh->phase = 2;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || sh->err) {
		note("FAIL contend: other user: status %d err %d", st, sh->err);
		failed = 1;
	}
	tree_free(&t);
	if (!sh->n[0] || !sh->n[1]) {
		note("FAIL contend: other user ran %lu idle, %lu revoking pairs",
		     sh->n[0], sh->n[1]);
		failed = 1;
	} else {
		emit("contend", "other-idle", CONTEND_N, sh->n[0],
		     (double)sh->sum[0] / sh->n[0], 2.0);
		emit("contend", "other-revoking", CONTEND_N, sh->n[1],
		     (double)sh->sum[1] / sh->n[1], 2.0);
		emit("contend", "other-revoking-max", CONTEND_N, 1,
		     (double)sh->max[1], 2.0);
	}
	emit("contend", "revoke-first", CONTEND_N, 1, (double)first, 1.0);
	emit("contend", "revoke-again", CONTEND_N, CONTEND_AGAIN,
	     (double)again / CONTEND_AGAIN, 1.0);
	munmap(sh, sizeof(*sh));
	free(tree_handles);
}

/* ---- policy: the cost of the hooks -------------------------------------- */

/*
 * NOP through INVOKE (batch 1) and the rings (batch 64), and a 4 KiB READ
 * through the rings (batch 32): with no policy (variant none), with the
 * cheapest eBPF program attached to capchan_authorize (hook), and with a
 * classic BPF channel filter that allows everything (filter).  The hook is
 * global, so each state is its own group, measured one after the other.
 * bench/policy.sh also boots a module built with -DCAPCHAN_NO_POLICY (the
 * hooks compiled out) to show what "none" costs.
 */
static void policy_group(const char *variant, struct capchan *ch,
			 struct cc_file *f, unsigned long nops,
			 unsigned long rops)
{
	add(variant, 1, nop_cc_invoke, ch);
	run_group("policy-nop-invoke", 1, nops);
	add(variant, 64, nop_cc_ring, ch);
	run_group("policy-nop-ring", 64, nops);
	add(variant, 32, read_cc_ring, f);
	run_group("policy-read4k-ring", 32, rops);
}

/* @all: also the hook and filter groups (policy), else only none */
static void bench_policy(int all)
{
	unsigned long nops = scaled(16384, 64), rops = scaled(8192, 32);
	struct capchan ch, fch;
	struct cc_file f;
	struct allow *skel;
	int h, err;

	open_channel(&ch, 1);
	open_channel(&f.ch, 1);
	h = capchan_grant(&f.ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	if (h < 0)
		die("grant %s: %s", DATA_NAME, strerror(-h));
	f.h = (uint32_t)h;
	policy_group("none", &ch, &f, nops, rops);
	if (!all) {
		capchan_queue_exit(&f.ch);
		capchan_queue_exit(&ch);
		return;
	}

	skel = allow__open_and_load();
	err = skel ? allow__attach(skel) : -errno;
	if (err) {
		note("policy hook rows skipped: cannot attach (%d)", err);
	} else {
		policy_group("hook", &ch, &f, nops, rops);
		if (!skel->bss->seen) {
			note("FAIL policy: the hook program never ran");
			failed = 1;
		}
	}
	if (skel)
		allow__destroy(skel);

	/* filters are for good: fresh channels for them */
	open_channel(&fch, 1);
	err = capchan_filter_allow_ops(&fch, ~0ULL, EPERM);
	if (!err)
		err = capchan_filter_allow_ops(&f.ch, ~0ULL, EPERM);
	if (err) {
		note("FAIL policy: filter: %s", strerror(-err));
		failed = 1;
	} else {
		policy_group("filter", &fch, &f, nops, rops);
	}
	capchan_queue_exit(&fch);
	capchan_queue_exit(&f.ch);
	capchan_queue_exit(&ch);
}

static int procs_running(void);

/* ---- INVOKE from several threads on one channel --------------------------- */

/*
 * The "batch" of a threads row is the number of threads: each INVOKEs
 * ops / threads NOPs on the same channel, at once, on whatever CPUs the
 * guest has (bench/sqpoll.sh boots two).  ns per op is wall time over all
 * the ops, so with perfect scaling it halves from 1 to 2 threads on two
 * CPUs; thread start and join are inside the timed round (about 2 of
 * 16384 ops' worth).
 */
#define MT_MAX	4

struct mt_arg {
	struct capchan *ch;
	unsigned long ops;
	int err;
};

static void *mt_main(void *p)
{
	struct mt_arg *a = p;

	a->err = nop_cc_invoke(a->ch, 1, a->ops);
	return NULL;
}

static int mt_invoke(void *arg, unsigned threads, unsigned long ops)
{
	struct mt_arg a[MT_MAX];
	pthread_t t[MT_MAX];
	unsigned i, made;
	int err = 0;

	for (made = 0; made < threads; made++) {
		a[made] = (struct mt_arg){ .ch = arg, .ops = ops / threads };
		err = -pthread_create(&t[made], NULL, mt_main, &a[made]);
		if (err)
			break;
	}
	for (i = 0; i < made; i++) {
		pthread_join(t[i], NULL);
		if (!err)
			err = a[i].err;
	}
	return err;
}

static void bench_threads(void)
{
	unsigned long ops = scaled(16384, MT_MAX);
	cpu_set_t all;
	struct capchan ch;
	unsigned n;
	int c;

	/* the poll-thread rows pin this process to CPU 0: undo it */
	CPU_ZERO(&all);
	for (c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	if (sched_setaffinity(0, sizeof(all), &all))
		note("threads: sched_setaffinity: %s", strerror(errno));
	note("threads: %ld CPUs online", sysconf(_SC_NPROCESSORS_ONLN));
	open_channel(&ch, 0);
	for (n = 1; n <= MT_MAX; n *= 2) {
		add("capchan-invoke", n, mt_invoke, &ch);
		run_group("threads", n, ops);
	}
	capchan_queue_exit(&ch);
}

/* ---- poll threads: io_uring SQPOLL and capchan's SETUP_SQPOLL ------------ */

/*
 * NOP and the 4 KiB read with a kernel thread consuming the SQ, needing
 * two CPUs: this process is pinned to CPU 0 and every poll thread to CPU
 * 1 (IORING_SETUP_SQ_AFF, CAPCHAN_SETUP_SQ_AFF).  Variants:
 *   io_uring-sqpoll        IORING_SETUP_SQPOLL; io_uring_submit() (enters
 *                          only when the thread sleeps), then spin on the
 *                          CQ tail with `pause` until the batch is back
 *   io_uring-sqpoll-wait   the same ring, io_uring_submit_and_wait(): one
 *                          io_uring_enter(GETEVENTS) per batch
 *   capchan-sqpoll         CAPCHAN_SETUP_SQPOLL; capchan_submit() (ENTER
 *                          only to wake a sleeping thread), then spin
 *   capchan-sqpoll-wait    the same channel, capchan_submit_and_wait():
 *                          one ENTER(GETEVENTS) per batch
 *   io_uring-reg,          no poll thread, as in nop/read4k (submit and
 *   capchan-ring           wait in one call), same pinning, for reference
 * Each poll-thread variant gets a ring of its own, made just before its
 * group and closed after it (then the CPU is let settle): an idle thread
 * of another variant would otherwise spin on CPU 1 beside it for its
 * sq_thread_idle (1000 ms here, both).  Rows: workloads sqpoll-nop and
 * sqpoll-read4k.  A thread that sleeps is woken by the library's ENTER,
 * counted as a crossing (the kernel's count during warm-up is reported).
 */
#define SQPOLL_IDLE_MS	1000
#define SQPOLL_CPU	1

struct sqp {
	int capchan;			/* else io_uring */
	int spin;			/* else wait in the kernel */
	int read;			/* else NOP */
	struct io_uring ring;
	struct capchan ch;
	uint32_t h;			/* read: the data file's FILE cap */
	unsigned long short_waits;	/* waits back before the whole batch */
};

static void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* the SQ flags word says the thread sleeps: the submit will enter */
static int uring_needs_wakeup(struct io_uring *ring)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !!(__atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED) &
		  IORING_SQ_NEED_WAKEUP);
}

static unsigned sqp_cq_ready(struct sqp *s)
{
	return s->capchan ? capchan_cq_ready(&s->ch) : io_uring_cq_ready(&s->ring);
}

/*
 * Until the batch's CQEs are all there: spinning, or after a wait in the
 * kernel that should have waited for them all (a wait that returned
 * short is counted and noted, not failed: the rows say what it cost).
 */
static void sqp_wait_cq(struct sqp *s, unsigned batch)
{
	if (!s->spin && sqp_cq_ready(s) < batch)
		s->short_waits++;
	while (sqp_cq_ready(s) < batch)
		cpu_relax();
}

static int sqp_uring(struct sqp *s, unsigned batch, unsigned long ops)
{
	struct io_uring *ring = &s->ring;
	unsigned long done;
	unsigned i;
	int ret;

	for (done = 0; done < ops; done += batch) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int err = 0;

		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = ur_sqe(ring);

			if (s->read) {
				io_uring_prep_read(sqe, datafd_g, BUF(i), IO_SIZE, 0);
				io_uring_sqe_set_data64(sqe, IO_SIZE);
			} else {
				io_uring_prep_nop(sqe);
				io_uring_sqe_set_data64(sqe, 0);
			}
		}
		/*
		 * What these return is not the batch: liburing counts what
		 * the thread has not taken yet, and a thread on another CPU
		 * may have taken some already.
		 */
		if (!s->spin) {
			ret = io_uring_submit_and_wait(ring, batch);
			CROSS(1);
		} else {
			/* estimate: liburing looks at the same flag after its flush */
			if (uring_needs_wakeup(ring))
				CROSS(1);
			ret = io_uring_submit(ring);
		}
		if (ret < 0)
			return ret;
		sqp_wait_cq(s, batch);
		io_uring_for_each_cqe(ring, head, cqe) {
			if (!err)
				err = check_res(cqe->user_data, cqe->res);
			if (++seen == batch)
				break;
		}
		io_uring_cq_advance(ring, seen);
		if (err)
			return err;
	}
	return 0;
}

static int sqp_capchan(struct sqp *s, unsigned batch, unsigned long ops)
{
	struct capchan *ch = &s->ch;
	struct capchan_cq *cq = &ch->cq;
	unsigned long done;
	unsigned i;
	int ret;

	for (done = 0; done < ops; done += batch) {
		unsigned head;
		int err = 0;

		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(ch);

			if (s->read) {
				capchan_prep_read(sqe, s->h, BUF(i), IO_SIZE, 0);
				capchan_sqe_set_data64(sqe, IO_SIZE);
			} else {
				capchan_prep_nop(sqe);	/* user_data 0 = expected */
			}
		}
		if (!s->spin) {
			ret = capchan_submit_and_wait(ch, batch);
			CROSS(1);
		} else {
			/* estimate: the library looks at the same flag after its flush */
			if (capchan_sq_needs_wakeup(ch))
				CROSS(1);
			ret = capchan_submit(ch);
		}
		if (ret != (int)batch)
			return ret < 0 ? ret : -EIO;
		sqp_wait_cq(s, batch);
		head = __atomic_load_n(cq->khead, __ATOMIC_RELAXED);
		for (i = 0; i < batch && !err; i++) {
			struct capchan_cqe *cqe = &cq->cqes[(head + i) & cq->ring_mask];

			err = check_res(cqe->user_data, cqe->res);
		}
		capchan_cq_advance(ch, batch);
		if (err)
			return err;
	}
	return 0;
}

static int sqp_run(void *arg, unsigned batch, unsigned long ops)
{
	struct sqp *s = arg;

	return s->capchan ? sqp_capchan(s, batch, ops) : sqp_uring(s, batch, ops);
}

static int sqp_init(struct sqp *s)
{
	int ret;

	if (s->capchan) {
		struct capchan_params p;

		memset(&p, 0, sizeof(p));
		p.flags = CAPCHAN_SETUP_SQPOLL | CAPCHAN_SETUP_SQ_AFF;
		p.sq_thread_cpu = SQPOLL_CPU;
		p.sq_thread_idle = SQPOLL_IDLE_MS;
		ret = capchan_queue_init_params(RING_ENTRIES, &s->ch, &p);
		if (ret)
			return ret;
		if (s->read) {
			ret = capchan_grant(&s->ch, datafd_g,
					    CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
			if (ret < 0) {
				capchan_queue_exit(&s->ch);
				return ret;
			}
			s->h = (uint32_t)ret;
		}
	} else {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
		p.sq_thread_cpu = SQPOLL_CPU;
		p.sq_thread_idle = SQPOLL_IDLE_MS;
		ret = io_uring_queue_init_params(RING_ENTRIES, &s->ring, &p);
		if (ret)
			return ret;
	}
	return 0;
}

static void sqp_exit(struct sqp *s)
{
	if (s->capchan)
		capchan_queue_exit(&s->ch);
	else
		io_uring_queue_exit(&s->ring);
}

/* pin this process to @cpu, or to every CPU (@cpu < 0) */
static int pin_to(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	else
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Up to 1 s until nothing else is runnable (settle() would wait much
 * longer on a busy two-CPU guest; this only lets a closed ring's thread go).
 */
static void settle_briefly(void)
{
	int i;

	for (i = 0; i < 100 && procs_running() > 1; i++)
		usleep(10000);
	usleep(10000);
}

static void sqpoll_groups(const char *workload, int read, unsigned b,
			  unsigned long ops, void *reg_ring, struct cc_file *ccf)
{
	static const struct { const char *name; int capchan, spin; } v[] = {
		{ "io_uring-sqpoll", 0, 1 },
		{ "io_uring-sqpoll-wait", 0, 0 },
		{ "capchan-sqpoll", 1, 1 },
		{ "capchan-sqpoll-wait", 1, 0 },
	};
	static struct sqp s;
	unsigned i;
	int ret;

	/* the references, without poll threads, side by side */
	add("io_uring-reg", b, read ? read_uring : nop_uring, reg_ring);
	add("capchan-ring", b, read ? read_cc_ring : nop_cc_ring,
	    read ? (void *)ccf : (void *)&ccf->ch);
	run_group(workload, b, ops);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.capchan = v[i].capchan;
		s.spin = v[i].spin;
		s.read = read;
		/* SQ_AFF wants a CPU the caller may run on: unpin for setup */
		pin_to(-1);
		ret = sqp_init(&s);
		if (ret) {
			note("FAIL %s %s batch %u: setup: %s", workload, v[i].name,
			     b, strerror(-ret));
			failed = 1;
			pin_to(0);
			continue;
		}
		pin_to(0);
		add(v[i].name, b, sqp_run, &s);
		run_group(workload, b, ops);
		/*
		 * Steady state: one more pass, the thread awake since the
		 * timed round, with the kernel counting this task's entries
		 * (with none to count, the counter costs nothing).
		 */
		if (sc_id >= 0) {
			long k;

			sc_start();
			ret = sqp_run(&s, b, ops);
			k = sc_stop();
			note("%s %s batch %u steady: %ld kernel entries in %lu ops%s%s",
			     workload, v[i].name, b, k, ops, ret ? " FAILED: " : "",
			     ret ? strerror(-ret) : "");
		}
		if (s.short_waits)
			note("%s %s batch %u: %lu waits in the kernel came back before the whole batch",
			     workload, v[i].name, b, s.short_waits);
		sqp_exit(&s);
		/* the thread's teardown, off the next measurement */
		settle_briefly();
	}
}

static void bench_sqpoll(void)
{
	static const unsigned nop_batches[] = { 1, 8, 32 };
	static const unsigned read_batches[] = { 1, 32 };
	unsigned long nops = scaled(4096, 32), rops = scaled(2048, 32);
	struct uring set[UR_KINDS];
	struct cc_file f;
	unsigned i;
	int h;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		/*
		 * QEMU's icount hangs bringing up a second vCPU at boot;
		 * a guest booted with maxcpus=1 may still online it now.
		 */
		FILE *f = fopen("/sys/devices/system/cpu/cpu1/online", "w");

		if (f) {
			fputs("1\n", f);
			fclose(f);
			note("sqpoll: onlined cpu1: %ld CPUs online",
			     sysconf(_SC_NPROCESSORS_ONLN));
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		note("FAIL sqpoll: needs two CPUs, have %ld",
		     sysconf(_SC_NPROCESSORS_ONLN));
		failed = 1;
		return;
	}
	memset(set, 0, sizeof(set));
	uring_init(&set[UR_REG], 0, "io_uring-reg");
	if (!set[UR_REG].ok || io_uring_register_ring_fd(&set[UR_REG].ring) != 1 ||
	    io_uring_register_files(&set[UR_REG].ring, &datafd_g, 1))
		die("io_uring-reg: setup failed");
	set[UR_REG].fixed = 1;	/* as in read4k: the file is fixed file 0 */
	open_channel(&f.ch, 1);
	h = capchan_grant(&f.ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	if (h < 0)
		die("grant %s: %s", DATA_NAME, strerror(-h));
	f.h = (uint32_t)h;
	if (pin_to(0))
		die("sched_setaffinity: %s", strerror(errno));
	for (i = 0; i < sizeof(nop_batches) / sizeof(nop_batches[0]); i++)
		sqpoll_groups("sqpoll-nop", 0, nop_batches[i], nops, &set[UR_REG], &f);
	for (i = 0; i < sizeof(read_batches) / sizeof(read_batches[0]); i++)
		sqpoll_groups("sqpoll-read4k", 1, read_batches[i], rops, &set[UR_REG], &f);
	pin_to(-1);
	uring_exit(&set[UR_REG]);
	capchan_queue_exit(&f.ch);
}

/* ---- phases: where an ENTER and an OPEN spend their instructions ---------- */

/*
 * Variants that stop at successive phases of the same path, batch 1, so
 * that differences between rows name what each phase costs (bench/README,
 * "Phases").  All on one channel with rings, each SQE prepared once
 * (INVOKE copies it in anew every call).  Every result is checked exactly:
 *   invoke-link-einval   INVOKE of a NOP with CAPCHAN_SQE_LINK: -EINVAL
 *                        right after the SQE is copied in
 *   invoke-badop-einval  opcode CAPCHAN_OP_LAST: -EINVAL, first check of
 *                        the op dispatcher
 *   invoke-nop           a whole NOP
 *   invoke-stat-ebadf    STAT of a handle not in the table: -EBADF
 *   enter-empty          ENTER with nothing to submit, no GETEVENTS: 0
 *   enter-nop            one NOP published, ENTER(to_submit 1), CQE
 *                        reaped in user space
 *   enter-nop-getevents  the same, ENTER also waits (GETEVENTS, 1): what
 *                        capchan-ring does at batch 1
 *   open-ebadf           OPEN beneath a handle not in the table: -EBADF
 *   open-enotdir         OPEN beneath a FILE capability: -ENOTDIR
 *   open-eperm           OPEN asking WRITE of a DIR without it: -EPERM
 *                        (capchan_authorize_open)
 *   open-empty-enoent    OPEN of "": -ENOENT from the module's own check
 *                        before the path walk (everything OPEN reserves
 *                        first is made and undone)
 *   open-enoent          OPEN of a name that does not exist: -ENOENT
 *   open                 OPEN of the 100-byte file, timed alone (each
 *                        OPEN and CLOSE between two clock reads, the
 *                        clock's own cost taken off)
 *   close                the CLOSE of that capability, timed alone
 *   open-close           both, timed together
 *   openat2-enoent, openat2, close-fd, openat2-close
 *                        the same for openat2(RESOLVE_BENEATH|
 *                        NO_MAGICLINKS|NO_XDEV) and close(2)
 */
#define PH_BAD_HANDLE	60000u		/* never handed out: few caps here */
#define PH_MISSING	"missing"

struct ph {
	struct capchan *ch;
	struct capchan_sqe sqe;
	int expect;
};

static int ph_invoke(void *arg, unsigned batch, unsigned long ops)
{
	struct ph *p = arg;
	unsigned long i;

	(void)batch;
	for (i = 0; i < ops; i++) {
		int res = capchan_invoke(p->ch, &p->sqe);

		CROSS(1);
		if (res != p->expect)
			return res < 0 ? res : -EPROTO;
	}
	return 0;
}

static int ph_enter_empty(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan *ch = arg;
	struct capchan_enter e;
	unsigned long i;

	(void)batch;
	memset(&e, 0, sizeof(e));
	for (i = 0; i < ops; i++) {
		int res = ioctl(ch->fd, CAPCHAN_IOC_ENTER, &e);

		CROSS(1);
		if (res)
			return res < 0 ? -errno : -EPROTO;
	}
	return 0;
}

/* one NOP, ENTER without waiting, the CQE reaped here */
static int ph_enter_nop(void *arg, unsigned batch, unsigned long ops)
{
	struct capchan *ch = arg;
	struct capchan_cqe *cqe;
	unsigned long i;
	int res;

	(void)batch;
	for (i = 0; i < ops; i++) {
		capchan_prep_nop(cc_sqe(ch));
		res = capchan_submit(ch);
		CROSS(1);
		if (res != 1)
			return res < 0 ? res : -EPROTO;
		if (capchan_peek_cqe(ch, &cqe))
			return -EIO;
		res = cqe->res;
		capchan_cq_advance(ch, 1);
		if (res)
			return res < 0 ? res : -EPROTO;
	}
	return 0;
}

static uint64_t ph_open_ns, ph_close_ns, ph_clock;

/* OPEN then CLOSE, each timed alone; sums of the last call */
static int ph_open_close(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *d = arg;
	struct capchan_sqe o, c;
	unsigned long i;
	uint64_t t0, t1, t2;
	int h, res;

	(void)batch;
	ph_open_ns = ph_close_ns = 0;
	capchan_prep_open(&o, d->h, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_READ);
	for (i = 0; i < ops; i++) {
		t0 = now_ns();
		h = capchan_invoke(&d->ch, &o);
		t1 = now_ns();
		CROSS(1);
		if (h <= 0)
			return h < 0 ? h : -EPROTO;
		capchan_prep_close(&c, (uint32_t)h);
		t2 = now_ns();
		res = capchan_invoke(&d->ch, &c);
		ph_close_ns += now_ns() - t2;
		ph_open_ns += t1 - t0;
		CROSS(1);
		if (res)
			return res;
	}
	return 0;
}

static int ph_openat2_how(int dfd, const char *name)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
}

static int ph_openat2_enoent(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;

	(void)arg;
	(void)batch;
	for (i = 0; i < ops; i++) {
		int fd = ph_openat2_how(dirfd_g, PH_MISSING);

		CROSS(1);
		if (fd != -1 || errno != ENOENT)
			return fd < 0 ? -errno : -EPROTO;
	}
	return 0;
}

static int ph_openat2_close(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;
	uint64_t t0, t1, t2;
	int fd, res;

	(void)arg;
	(void)batch;
	ph_open_ns = ph_close_ns = 0;
	for (i = 0; i < ops; i++) {
		t0 = now_ns();
		fd = ph_openat2_how(dirfd_g, SMALL_NAME);
		t1 = now_ns();
		CROSS(1);
		if (fd < 0)
			return -errno;
		t2 = now_ns();
		res = close(fd);
		ph_close_ns += now_ns() - t2;
		ph_open_ns += t1 - t0;
		CROSS(1);
		if (res)
			return -errno;
	}
	return 0;
}

/* the open and close rows of the last (timed) call, clock cost taken off */
static void ph_emit_split(const char *open_name, const char *close_name,
			  unsigned long ops)
{
	emit("phases", open_name, 1, ops, (double)ph_open_ns / ops - (double)ph_clock, 1.0);
	emit("phases", close_name, 1, ops, (double)ph_close_ns / ops - (double)ph_clock, 1.0);
}

static void bench_phases(void)
{
	unsigned long ops = scaled(4096, 1);
	static struct ph p[10];
	struct capchan_stat st;
	struct cc_file d;
	int nullfd, fh, h, n = 0;

	if (rounds != 1)
		note("phases: open and close rows are from the last of %d rounds", rounds);
	open_channel(&d.ch, 1);
	h = capchan_grant(&d.ch, dirfd_g, CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_READ);
	fh = capchan_grant(&d.ch, datafd_g, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	if (h < 0 || fh < 0)
		die("grant: %s", strerror(-(h < 0 ? h : fh)));
	d.h = (uint32_t)h;
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0)
		die("/dev/null: %s", strerror(errno));
	ph_clock = timer_cost();
	note("phases: clock read costs %" PRIu64 " ns, taken off the timed-alone rows",
	     ph_clock);

	/* entry, INVOKE and ENTER */
	add("syscall-enosys", 1, nop_enosys, NULL);
	add("syscall-enotty-null", 1, nop_enotty, &nullfd);
	add("syscall-enotty-capchan", 1, nop_enotty, &d.ch.fd);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -EINVAL };
	capchan_prep_nop(&p[n].sqe);
	capchan_sqe_set_flags(&p[n].sqe, CAPCHAN_SQE_LINK);
	add("invoke-link-einval", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -EINVAL };
	capchan_prep_nop(&p[n].sqe);
	p[n].sqe.opcode = CAPCHAN_OP_LAST;
	add("invoke-badop-einval", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = 0 };
	capchan_prep_nop(&p[n].sqe);
	add("invoke-nop", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -EBADF };
	capchan_prep_stat(&p[n].sqe, PH_BAD_HANDLE, &st);
	add("invoke-stat-ebadf", 1, ph_invoke, &p[n++]);
	add("enter-empty", 1, ph_enter_empty, &d.ch);
	add("enter-nop", 1, ph_enter_nop, &d.ch);
	add("enter-nop-getevents", 1, nop_cc_ring, &d.ch);
	run_group("phases", 1, ops);

	/* OPEN */
	p[n] = (struct ph){ .ch = &d.ch, .expect = -EBADF };
	capchan_prep_open(&p[n].sqe, PH_BAD_HANDLE, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_READ);
	add("open-ebadf", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -ENOTDIR };
	capchan_prep_open(&p[n].sqe, (uint32_t)fh, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_READ);
	add("open-enotdir", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -EPERM };
	capchan_prep_open(&p[n].sqe, d.h, SMALL_NAME, 0, 0, CAPCHAN_RIGHT_WRITE);
	add("open-eperm", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -ENOENT };
	capchan_prep_open(&p[n].sqe, d.h, "", 0, 0, CAPCHAN_RIGHT_READ);
	add("open-empty-enoent", 1, ph_invoke, &p[n++]);
	p[n] = (struct ph){ .ch = &d.ch, .expect = -ENOENT };
	capchan_prep_open(&p[n].sqe, d.h, PH_MISSING, 0, 0, CAPCHAN_RIGHT_READ);
	add("open-enoent", 1, ph_invoke, &p[n++]);
	add("openat2-enoent", 1, ph_openat2_enoent, NULL);
	run_group("phases", 1, ops);

	add("open-close", 1, ph_open_close, &d);
	run_group("phases", 1, ops);
	ph_emit_split("open", "close", ops);
	add("openat2-close", 1, ph_openat2_close, NULL);
	run_group("phases", 1, ops);
	ph_emit_split("openat2", "close-fd", ops);

	close(nullfd);
	capchan_queue_exit(&d.ch);
}

/* ---- settling ---------------------------------------------------------- */

/* Tasks running or runnable now, this one included (/proc/stat). */
static int procs_running(void)
{
	char line[128];
	int n = -1;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "procs_running %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Wait until nothing else wants the CPU.  With one vCPU any other runnable
 * task takes a share of every timed loop, and under icount its
 * instructions count as ours.  Right after boot there is such a task: on
 * Debian 6.12 the crypto self-tests (cryptomgr_test) run for a few hundred
 * million guest instructions and made every op of the first variants
 * measured look 40-100% dearer.  Sleeping lets them finish; 20 quiet
 * samples in a row (200 ms) say they did.  Gives up after 60 s.
 */
static void settle(void)
{
	uint64_t t0 = now_ns();
	int quiet = 0, busy = 0, i;

	for (i = 0; i < 6000 && quiet < 20; i++) {
		int n = procs_running();

		if (n < 0)
			return;
		if (n <= 1) {
			quiet++;
		} else {
			quiet = 0;
			busy++;
		}
		usleep(10000);
	}
	note("settled in %.2f s (%d busy samples)%s", (now_ns() - t0) / 1e9, busy,
	     quiet < 20 ? ": still busy, numbers may be inflated" : "");
}

/* ---- main ---------------------------------------------------------------- */

/* ---- 4 KiB reads that miss the page cache ---------------------------------- */

/*
 * readmiss: random 4 KiB reads of a file on a disk file system whose pages
 * are all dropped before every warm-up and timed round, batch 32: what
 * the rings buy when reads wait for a device.  The test VM's disk is an
 * ext4 image on a virtio disk, mounted at /mnt/disk (selftests/vm/run.sh);
 * QEMU's I/O threads serve it from the host, outside the guest's CPUs, so
 * misses in flight together overlap as on a real device.
 *
 * Every variant reads the same MISS_PAGES pages of a MISS_FILE_PAGES-page
 * file, in the same random order (a shuffle drawn once), each page once
 * per round: all misses.  The file is read with POSIX_FADV_RANDOM (set on
 * the one open file that pread, io_uring and the capchan capability all
 * use), so no variant's readahead brings in pages another would miss.
 * Before each round POSIX_FADV_DONTNEED drops the file's pages, and
 * mincore() checks that none is left (else drop_caches).
 *
 *   syscall       pread(), one after the other
 *   io_uring*     the four configurations, 32 READs per io_uring_enter
 *                 (6.1 buffered reads of ext4 retry from the page
 *                 unlock's wakeup, no io-wq thread)
 *   capchan-ring  32 READs per ENTER: each tried without blocking, the
 *                 misses finished by the channel's workers
 *   capchan-ring-prefetch  a probe, see miss_cc_prefetch()
 *
 * Wall clock only (bench/run.sh -m wall): under icount the guest clock
 * does not follow the host while the vCPU waits for the disk.
 */
#define MISS_DIR	"/mnt/disk"
#define MISS_NAME	MISS_DIR "/capbench-miss"
#define MISS_FILE_PAGES	8192		/* 32 MiB */
#define MISS_BATCH	32

static int missfd = -1;
static unsigned char *miss_map;		/* for mincore() only */
static uint32_t miss_order[MISS_FILE_PAGES];

static long miss_cached(void)
{
	static unsigned char vec[MISS_FILE_PAGES];
	long n = 0;
	unsigned i;

	if (mincore(miss_map, (size_t)MISS_FILE_PAGES * IO_SIZE, vec))
		return -errno;
	for (i = 0; i < MISS_FILE_PAGES; i++)
		n += vec[i] & 1;
	return n;
}

static void miss_drop(void)
{
	static int warned;
	long n;

	posix_fadvise(missfd, 0, 0, POSIX_FADV_DONTNEED);
	n = miss_cached();
	if (n) {
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

		sync();
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				note("readmiss: drop_caches: %s", strerror(errno));
			close(fd);
		}
		n = miss_cached();
	}
	if (n && !warned) {
		note("readmiss: %ld pages still cached after dropping", n);
		warned = 1;
		failed = 1;
	}
}

/* Page content: each 8-byte word holds its own file offset. */
static int miss_check(const char *buf, uint32_t page)
{
	uint64_t w;

	memcpy(&w, buf + IO_SIZE - 8, 8);
	if (w != (uint64_t)page * IO_SIZE + IO_SIZE - 8)
		return -EPROTO;
	memcpy(&w, buf, 8);
	return w == (uint64_t)page * IO_SIZE ? 0 : -EPROTO;
}

static int miss_syscall(void *arg, unsigned batch, unsigned long ops)
{
	unsigned long i;
	int err;

	(void)arg;
	(void)batch;
	for (i = 0; i < ops; i++) {
		uint32_t pg = miss_order[i];
		ssize_t n = pread(missfd, BUF(0), IO_SIZE, (off_t)pg * IO_SIZE);

		CROSS(1);
		if (n != IO_SIZE)
			return n < 0 ? -errno : -EIO;
		err = miss_check(BUF(0), pg);
		if (err)
			return err;
	}
	return 0;
}

static int miss_uring(void *arg, unsigned batch, unsigned long ops)
{
	struct uring *u = arg;
	struct io_uring *ring = &u->ring;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = ur_sqe(ring);
			off_t off = (off_t)miss_order[done + i] * IO_SIZE;

			if (u->fixed) {
				io_uring_prep_read(sqe, 0, BUF(i), IO_SIZE, off);
				sqe->flags |= IOSQE_FIXED_FILE;
			} else {
				io_uring_prep_read(sqe, missfd, BUF(i), IO_SIZE, off);
			}
			io_uring_sqe_set_data64(sqe, IO_SIZE);
		}
		err = uring_submit_reap(ring, batch);
		for (i = 0; i < batch && !err; i++)
			err = miss_check(BUF(i), miss_order[done + i]);
		if (err)
			return err;
	}
	return 0;
}

static int miss_cc_ring(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *f = arg;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(&f->ch);

			capchan_prep_read(sqe, f->h, BUF(i), IO_SIZE,
					  (uint64_t)miss_order[done + i] * IO_SIZE);
			capchan_sqe_set_data64(sqe, IO_SIZE);
		}
		/* CQEs come in any order: each result is checked, then each buffer */
		err = cc_submit_reap(&f->ch, batch);
		for (i = 0; i < batch && !err; i++)
			err = miss_check(BUF(i), miss_order[done + i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Not a capchan feature but a probe of one: PREFETCH of each page (run
 * inline: POSIX_FADV_WILLNEED starts the page's read and returns), then
 * its READ, 64 SQEs per batch of 32 reads.  The READs then find their
 * I/O started and workers only wait for it: what capchan-ring would do
 * if its non-blocking attempt started the I/O, as io_uring's does.
 */
static int miss_cc_prefetch(void *arg, unsigned batch, unsigned long ops)
{
	struct cc_file *f = arg;
	unsigned long done;
	unsigned i;
	int err;

	for (done = 0; done < ops; done += batch) {
		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(&f->ch);

			capchan_prep_prefetch(sqe, f->h,
					      (uint64_t)miss_order[done + i] * IO_SIZE,
					      IO_SIZE);
			capchan_sqe_set_data64(sqe, 0);
		}
		for (i = 0; i < batch; i++) {
			struct capchan_sqe *sqe = cc_sqe(&f->ch);

			capchan_prep_read(sqe, f->h, BUF(i), IO_SIZE,
					  (uint64_t)miss_order[done + i] * IO_SIZE);
			capchan_sqe_set_data64(sqe, IO_SIZE);
		}
		err = cc_submit_reap(&f->ch, 2 * batch);
		for (i = 0; i < batch && !err; i++)
			err = miss_check(BUF(i), miss_order[done + i]);
		if (err)
			return err;
	}
	return 0;
}

static int miss_setup(void)
{
	const size_t len = (size_t)MISS_FILE_PAGES * IO_SIZE;
	struct statfs sf;
	uint64_t *p;
	size_t i;
	int fd;

	if (statfs(MISS_DIR, &sf) || sf.f_type != 0xEF53) {
		note("readmiss: no ext4 file system at %s (the test VM's disk: selftests/vm/run.sh): not run",
		     MISS_DIR);
		return -1;
	}
	p = malloc(len);
	if (!p)
		die("out of memory");
	for (i = 0; i < len / 8; i++)
		p[i] = i * 8;
	fd = open(MISS_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len || fsync(fd))
		die("writing %s: %s", MISS_NAME, strerror(errno));
	close(fd);
	free(p);
	missfd = open(MISS_NAME, O_RDONLY | O_CLOEXEC);
	if (missfd < 0)
		die("%s: %s", MISS_NAME, strerror(errno));
	if (posix_fadvise(missfd, 0, 0, POSIX_FADV_RANDOM))
		die("%s: POSIX_FADV_RANDOM failed", MISS_NAME);
	miss_map = mmap(NULL, len, PROT_READ, MAP_SHARED, missfd, 0);
	if (miss_map == MAP_FAILED)
		die("mmap %s: %s", MISS_NAME, strerror(errno));
	/* a shuffle of all pages; every variant reads its first ops entries */
	for (i = 0; i < MISS_FILE_PAGES; i++)
		miss_order[i] = (uint32_t)i;
	for (i = MISS_FILE_PAGES - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint32_t t = miss_order[i];

		miss_order[i] = miss_order[j];
		miss_order[j] = t;
	}
	return 0;
}

/* The channel's worker counters (fdinfo), as a note: how the misses ran. */
static void miss_workers_note(int chfd)
{
	char path[64], line[128], out[512] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", chfd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "worker", 6) && strncmp(line, "inflight", 8) &&
		    strncmp(line, "max-inflight", 12))
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (char *t = strchr(line, '\t'); t; t = strchr(t, '\t'))
			*t = ' ';
		if (strlen(out) + strlen(line) + 3 < sizeof(out)) {
			strcat(out, out[0] ? ", " : "");
			strcat(out, line);
		}
	}
	fclose(f);
	note("readmiss capchan-ring channel: %s", out);
}

static void bench_readmiss(void)
{
	unsigned long ops = scaled(1024, MISS_BATCH);
	struct uring set[UR_KINDS];
	double pread_ns = 0, uring_ns = 0, cc_ns = 0;
	const char *uring_best = NULL;
	struct cc_file f;
	int h, n, j;

	if (miss_setup()) {
		failed = 1;
		return;
	}
	if (ops > MISS_FILE_PAGES)
		ops = MISS_FILE_PAGES;
	uring_set_init(set, missfd);
	open_channel(&f.ch, 1);
	h = capchan_grant(&f.ch, missfd, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK);
	if (h < 0)
		die("grant %s: %s", MISS_NAME, strerror(-h));
	f.h = (uint32_t)h;
	add("syscall", MISS_BATCH, miss_syscall, NULL);
	uring_set_add(set, MISS_BATCH, miss_uring);
	add("capchan-ring", MISS_BATCH, miss_cc_ring, &f);
	add("capchan-ring-prefetch", MISS_BATCH, miss_cc_prefetch, &f);
	n = njobs;
	group_prep = miss_drop;
	run_group("readmiss", MISS_BATCH, ops);
	group_prep = NULL;
	/* run_group() leaves its jobs in place: the ratios of this row */
	for (j = 0; j < n; j++) {
		double ns = (double)jobs[j].best / ops;

		if (jobs[j].err)
			continue;
		if (!strcmp(jobs[j].variant, "syscall"))
			pread_ns = ns;
		else if (!strcmp(jobs[j].variant, "capchan-ring"))
			cc_ns = ns;
		else if (!strncmp(jobs[j].variant, "capchan", 7))
			continue;
		else if (!uring_best || ns < uring_ns) {
			uring_best = jobs[j].variant;
			uring_ns = ns;
		}
	}
	if (pread_ns > 0 && uring_ns > 0 && cc_ns > 0)
		note("readmiss batch %d, best of %d rounds of %lu reads: capchan-ring %.1f ns/op, %s %.1f, pread %.1f; capchan-ring/%s %.3f, capchan-ring/pread %.3f, %s/pread %.3f",
		     MISS_BATCH, rounds, ops, cc_ns, uring_best, uring_ns, pread_ns,
		     uring_best, cc_ns / uring_ns, cc_ns / pread_ns, uring_best,
		     uring_ns / pread_ns);
	miss_workers_note(f.ch.fd);
	uring_set_exit(set);
	capchan_queue_exit(&f.ch);
	munmap(miss_map, (size_t)MISS_FILE_PAGES * IO_SIZE);
	close(missfd);
	unlink(MISS_NAME);
}

static void usage(void)
{
	fprintf(stderr, "usage: capbench [-r ROUNDS] [-s SCALE] [-w capmem,nop,read,orc,lookup,revoke,contend,policy,policy-none,phases,sqpoll,chain,readmiss]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "r:s:w:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = atoi(optarg);
			if (rounds < 1)
				usage();
			break;
		case 's':
			scale = atof(optarg);
			if (!(scale > 0))
				usage();
			break;
		case 'w':
			workloads = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	sc_init();
	setup_files();
	settle();
	note("rounds %d scale %g workloads %s", rounds, scale, workloads);
	printf("workload,variant,batch,ops,ns_per_op,crossings_per_op\n");
	fflush(stdout);
	/* first: before others leave freed capability slabs behind */
	if (want("capmem"))
		bench_capmem();
	if (want("nop"))
		bench_nop();
	if (want("read"))
		bench_read();
	if (want("orc"))
		bench_orc();
	if (want("lookup"))
		bench_lookup();
	if (want("revoke"))
		bench_revoke();
	if (want("contend"))
		bench_contend();
	if (want("policy") || want("policy-none"))
		bench_policy(want("policy"));
	if (want("phases"))
		bench_phases();
	if (want("sqpoll"))
		bench_sqpoll();
	if (want("threads"))
		bench_threads();
	if (want("chain"))
		bench_chain();
	if (want("readmiss"))
		bench_readmiss();
	note("%s", failed ? "FAILED" : "done");
	return failed;
}
