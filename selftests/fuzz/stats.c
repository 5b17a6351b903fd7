// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: what a run did, counted where it is done.  Every ioctl() on
 * a channel goes through fz_ioctl(), every INVOKE through fz_invoke(), and
 * every CQE the ring model checks through fz_model_enter(): each counts
 * itself here, by command, by opcode and by result.  The counters live in
 * one shared mapping per test, made before any fork, so that the worker,
 * its threads and its forked helpers all add to the same numbers; the
 * test's block is summed into the run's summary at exit.
 */
#include "fuzz.h"
#include <stdarg.h>

/* Counts nothing until main() maps the real blocks (never NULL). */
static struct fz_counts fz_cnt_early;
struct fz_counts *fz_cnt = &fz_cnt_early;
struct fz_goal fz_goal;

static const char *const fz_op_names[] = {
	"nop", "open", "read", "write", "fsync", "stat", "derive", "revoke",
	"close", "export", "import", "prefetch", "readdir", "statat",
	"mkdir", "unlink", "rmdir", "symlink", "rename", "truncate",
	"unknown",
};
_Static_assert(CC_ARRAY_SIZE(fz_op_names) == CAPCHAN_OP_LAST + 1,
	       "a name per opcode, and one for the rest");

static const char *const fz_ioc_names[FZ_NIOC] = {
	[FZ_IOC_VERSION] = "VERSION", [FZ_IOC_SETUP] = "SETUP",
	[FZ_IOC_GRANT] = "GRANT", [FZ_IOC_SEAL] = "SEAL",
	[FZ_IOC_ENTER] = "ENTER", [FZ_IOC_INVOKE] = "INVOKE",
	[FZ_IOC_FILTER] = "FILTER", [FZ_IOC_OTHER] = "other",
};

struct fz_counts *fz_counts_map(unsigned int n)
{
	void *m = mmap(NULL, n * sizeof(struct fz_counts), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

#define FZ_ADD(field, n)	__atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define FZ_GET(field)		__atomic_load_n(&(field), __ATOMIC_RELAXED)

void fz_count_ioctl(unsigned long cmd)
{
	unsigned int k;

	switch (cmd) {
	case CAPCHAN_IOC_VERSION: k = FZ_IOC_VERSION; break;
	case CAPCHAN_IOC_SETUP: k = FZ_IOC_SETUP; break;
	case CAPCHAN_IOC_GRANT: k = FZ_IOC_GRANT; break;
	case CAPCHAN_IOC_SEAL: k = FZ_IOC_SEAL; break;
	case CAPCHAN_IOC_ENTER: k = FZ_IOC_ENTER; break;
	case CAPCHAN_IOC_INVOKE: k = FZ_IOC_INVOKE; break;
	case CAPCHAN_IOC_FILTER: k = FZ_IOC_FILTER; break;
	default: k = FZ_IOC_OTHER; break;
	}
	FZ_ADD(fz_cnt->ioctl[k], 1);
	FZ_ADD(fz_cnt->ioctls, 1);
}

/* res: the SQE's result as INVOKE returned it or its CQE carried it. */
void fz_count_sqe(const struct capchan_sqe *s, long res)
{
	unsigned int op = s->opcode < CAPCHAN_OP_LAST ? s->opcode : CAPCHAN_OP_LAST;
	unsigned int cls = res >= 0 ? 0 : res > -FZ_NCLASS ? (unsigned int)-res :
			   FZ_NCLASS - 1;	/* the last class: anything else */

	FZ_ADD(fz_cnt->sqe[op][cls], 1);
	FZ_ADD(fz_cnt->sqes, 1);
}

/* SQEs an ENTER consumed whose results no model follows (threads, garbage). */
void fz_count_blind(long consumed)
{
	if (consumed <= 0)
		return;
	FZ_ADD(fz_cnt->blind, (uint64_t)consumed);
	FZ_ADD(fz_cnt->sqes, (uint64_t)consumed);
}

void fz_count_cqes(enum fz_cqe_kind kind, uint64_t n)
{
	FZ_ADD(fz_cnt->cqe[kind], n);
}

/* Does the test go on?  Until @end, and in long mode until its goal. */
bool fz_going(double end)
{
	if (fz_goal.ioctls && FZ_GET(fz_cnt->ioctls) >= fz_goal.ioctls)
		return false;
	if (fz_goal.sqes && FZ_GET(fz_cnt->sqes) >= fz_goal.sqes)
		return false;
	return cc_now() < end;
}

void fz_counts_add(struct fz_counts *sum, const struct fz_counts *c)
{
	sum->ioctls += FZ_GET(c->ioctls);
	for (int i = 0; i < FZ_NIOC; i++)
		sum->ioctl[i] += FZ_GET(c->ioctl[i]);
	sum->sqes += FZ_GET(c->sqes);
	for (int op = 0; op <= CAPCHAN_OP_LAST; op++)
		for (int e = 0; e < FZ_NCLASS; e++)
			sum->sqe[op][e] += FZ_GET(c->sqe[op][e]);
	sum->blind += FZ_GET(c->blind);
	for (int i = 0; i < FZ_NCQE; i++)
		sum->cqe[i] += FZ_GET(c->cqe[i]);
}

static const char *fz_class_name(int e)
{
	const char *n;

	if (!e)
		return "ok";
	if (e == FZ_NCLASS - 1)
		return "other";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

/*
 * A list of "name count" pairs, wrapped into lines that start with @lead
 * (the lines after the first with "fuzz summary:" and blanks as wide).
 */
struct fz_line {
	char buf[200];
	int n;
	const char *lead;
	bool more;			/* a line went out already */
};

static void fz_line_flush(struct fz_line *l)
{
	int pad = (int)strlen(l->lead) - 13;

	if (l->n && !l->more)
		ksft_print_msg("%s%s\n", l->lead, l->buf);
	else if (l->n)
		ksft_print_msg("fuzz summary:%*s%s\n", pad > 0 ? pad : 0, "", l->buf);
	l->more = l->n > 0;
	l->n = 0;
	l->buf[0] = '\0';
}

static void fz_line_add(struct fz_line *l, const char *name, uint64_t v)
{
	char item[64];
	int len = snprintf(item, sizeof(item), "%s%s %llu", l->n ? ", " : "", name,
			   (unsigned long long)v);

	if (l->n && l->n + len >= (int)sizeof(l->buf)) {
		fz_line_flush(l);
		len = snprintf(item, sizeof(item), "%s %llu", name, (unsigned long long)v);
	}
	memcpy(l->buf + l->n, item, len + 1);
	l->n += len;
}

/* snprintf at buf + *n, never past the end (long runs make long numbers) */
static void __attribute__((format(printf, 4, 5)))
fz_cat(char *buf, size_t size, int *n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (len > 0)
		*n = *n + len < (int)size ? *n + len : (int)size - 1;
}

/*
 * The coverage lines each test prints at its end: results ok/err by
 * opcode, OPEN's errnos, the directory ops' errnos, and its counts.
 */
void fz_print_stats(const char *name, const struct fz_counts *c, double secs)
{
	char buf[1024] = "";
	int n = 0;

	for (int op = 0; op <= CAPCHAN_OP_LAST; op++) {
		uint64_t ok = FZ_GET(c->sqe[op][0]), all = 0;

		for (int e = 0; e < FZ_NCLASS; e++)
			all += FZ_GET(c->sqe[op][e]);
		fz_cat(buf, sizeof(buf), &n, " %s %llu/%llu", fz_op_names[op],
		       (unsigned long long)ok, (unsigned long long)(all - ok));
	}
	ksft_print_msg("fuzz %s: results ok/err:%s\n", name, buf);
	n = 0;
	buf[0] = '\0';
	for (int e = 1; e < FZ_NCLASS; e++)
		if (FZ_GET(c->sqe[CAPCHAN_OP_OPEN][e]))
			fz_cat(buf, sizeof(buf), &n, " %s %llu", fz_class_name(e),
			       (unsigned long long)FZ_GET(c->sqe[CAPCHAN_OP_OPEN][e]));
	ksft_print_msg("fuzz %s: OPEN errors:%s\n", name, buf);
	n = 0;
	buf[0] = '\0';
	for (int e = 1; e < FZ_NCLASS; e++) {
		uint64_t v = 0;

		for (int op = CAPCHAN_OP_READDIR; op < CAPCHAN_OP_LAST; op++)
			v += FZ_GET(c->sqe[op][e]);
		if (v)
			fz_cat(buf, sizeof(buf), &n, " %s %llu", fz_class_name(e),
			       (unsigned long long)v);
	}
	ksft_print_msg("fuzz %s: directory op errors:%s\n", name, buf);
	ksft_print_msg("fuzz %s: %llu ioctls, %llu SQEs, %llu CQEs checked in %.0f s\n", name,
		       (unsigned long long)FZ_GET(c->ioctls),
		       (unsigned long long)FZ_GET(c->sqes),
		       (unsigned long long)(FZ_GET(c->cqe[FZ_CQE_POSTED]) +
					    FZ_GET(c->cqe[FZ_CQE_REAPED]) +
					    FZ_GET(c->cqe[FZ_CQE_THREADS])), secs);
}

/*
 * The run's summary, every line "# fuzz summary: ..." (fuzz.sh prints
 * them per kernel), the last one "# fuzz totals: ioctls=N sqes=N cqes=N"
 * for scripts.
 */
void fz_print_summary(const struct fz_counts *c)
{
	uint64_t attributed = c->sqes - c->blind, by_class[FZ_NCLASS] = { 0 };
	uint64_t cqes = c->cqe[FZ_CQE_POSTED] + c->cqe[FZ_CQE_REAPED] +
			c->cqe[FZ_CQE_THREADS];
	struct fz_line l = { .lead = "fuzz summary:   " };

	ksft_print_msg("fuzz summary: ioctls tried: %llu\n", (unsigned long long)c->ioctls);
	for (int i = 0; i < FZ_NIOC; i++)
		fz_line_add(&l, fz_ioc_names[i], c->ioctl[i]);
	fz_line_flush(&l);
	ksft_print_msg("fuzz summary: SQEs tried: %llu (%llu with their result checked, by op below; %llu consumed by ENTERs of threads and garbage rings, results not attributed)\n",
		       (unsigned long long)c->sqes, (unsigned long long)attributed,
		       (unsigned long long)c->blind);
	for (int op = 0; op <= CAPCHAN_OP_LAST; op++) {
		char lead[64];
		uint64_t all = 0;

		for (int e = 0; e < FZ_NCLASS; e++) {
			all += c->sqe[op][e];
			by_class[e] += c->sqe[op][e];
		}
		if (!all) {
			ksft_print_msg("fuzz summary:   %-8s %9d\n", fz_op_names[op], 0);
			continue;
		}
		snprintf(lead, sizeof(lead), "fuzz summary:   %-8s %9llu: ", fz_op_names[op],
			 (unsigned long long)all);
		l.lead = lead;
		l.more = false;
		for (int e = 0; e < FZ_NCLASS; e++)
			if (c->sqe[op][e])
				fz_line_add(&l, fz_class_name(e), c->sqe[op][e]);
		fz_line_flush(&l);
	}
	ksft_print_msg("fuzz summary: SQE results by errno class:\n");
	l.lead = "fuzz summary:   ";
	l.more = false;
	for (int e = 0; e < FZ_NCLASS; e++)
		if (by_class[e])
			fz_line_add(&l, fz_class_name(e), by_class[e]);
	fz_line_flush(&l);
	ksft_print_msg("fuzz summary: CQEs checked: %llu (%llu against the SQE that posted them, %llu again when reaped, %llu by threads)\n",
		       (unsigned long long)cqes,
		       (unsigned long long)c->cqe[FZ_CQE_POSTED],
		       (unsigned long long)c->cqe[FZ_CQE_REAPED],
		       (unsigned long long)c->cqe[FZ_CQE_THREADS]);
	ksft_print_msg("fuzz totals: ioctls=%llu sqes=%llu cqes=%llu\n",
		       (unsigned long long)c->ioctls, (unsigned long long)c->sqes,
		       (unsigned long long)cqes);
}
