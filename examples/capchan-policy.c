// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capchan-policy - load, pin, list and remove capchan's ready eBPF
 * policies, and print the audit stream.
 *
 * The policies (the .bpf.c files in policies/) are compiled into this program as libbpf
 * skeletons.  Each attaches to the module's writable tracepoint
 * capchan_authorize; "attach" either stays in the foreground until
 * interrupted (and the policy goes with it) or, with --pin, pins the link
 * and the policy's maps under a bpffs directory and returns: the policy
 * then stays until "detach" removes the pins.  See capchan-policy(8).
 *
 * Exit status: 0 ok, 1 error, 2 usage.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <capchan.h>

#include "capchan_policy.h"
#include "readonly.skel.h"
#include "denyuid.skel.h"
#include "ratelimit.skel.h"
#include "audit.skel.h"

#define PROG		"capchan-policy"
#define BPFFS		"/sys/fs/bpf"
#define PIN_ROOT	BPFFS "/capchan"
#define MAX_ERRNO	4095
/* how long detach waits for the kernel to let go of a program */
#define DETACH_WAIT_MS	5000

/* CAP_BPF and CAP_PERFMON are newer than some headers */
#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

static int verbose;
static volatile sig_atomic_t stop;

static const char usage_text[] =
"usage: " PROG " [-v] COMMAND [OPTION]...\n"
"\n"
"Load capchan's ready eBPF policies on the writable tracepoint\n"
"capchan_authorize, list and remove them, and print the audit stream.\n"
"\n"
"commands:\n"
"  attach readonly [--uid UID]... [--owner-uid UID]... [--cgroup PATH]...\n"
"                  [--errno E] [--pin NAME|PATH]\n"
"      refuse WRITE, TRUNCATE, OPEN for writing or with O_CREAT/O_TRUNC,\n"
"      MKDIR, UNLINK, RMDIR, SYMLINK and RENAME to callers with real uid\n"
"      UID, on capabilities whose credentials are --owner-uid's, and to\n"
"      processes in cgroup v2 PATH (default errno EROFS)\n"
"  attach denyuid --uid UID[:E]... [--owner-uid UID[:E]]... [--errno E]\n"
"                  [--pin NAME|PATH]\n"
"      refuse every op of these uids with errno E (default EACCES)\n"
"  attach ratelimit --ops-per-sec N [--burst N] [--pin NAME|PATH]\n"
"      at most N ops per second per process, bursts of up to --burst\n"
"      (default N); ops over the limit fail with EAGAIN\n"
"  attach audit [--no-denied] [--pin NAME|PATH]\n"
"      record every op (and, unless --no-denied, every refusal) in a\n"
"      BPF ring buffer for \"" PROG " audit\"\n"
"  list\n"
"      the programs attached to capchan's tracepoints, who holds them\n"
"  detach NAME|PATH... | detach --all\n"
"      remove pinned policies (and wait until the kernel let go of them)\n"
"  audit [--from NAME|PATH] [--count N] [--timeout SECONDS]\n"
"      print audit records, one line each, until interrupted, N records\n"
"      or the timeout; reads a pinned audit policy (--from, default\n"
"      " PIN_ROOT "/audit if it exists), else attaches one for the run\n"
"\n"
"  E is an errno name (EACCES) or number (13).  --pin NAME stands for\n"
"  " PIN_ROOT "/NAME: a bpffs directory for the policy's link(s) and\n"
"  maps.  Without --pin, attach stays in the foreground and detaches on\n"
"  SIGINT or SIGTERM.  -v shows libbpf's messages.\n"
"\n"
"exit status: 0 ok, 1 error, 2 usage.  Needs root (CAP_BPF and\n"
"CAP_PERFMON, or CAP_SYS_ADMIN), the capchan module, and for --pin, list,\n"
"detach and audit --from a bpffs at " BPFFS ".\n";

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	exit(EXIT_USAGE);
}

static int error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERR;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* no SA_RESTART: a blocking poll must come back to see stop */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && !verbose)
		return 0;
	/* warnings always: they explain a failed load (the verifier log) */
	return vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------ names */

static const char *const op_names[CAPCHAN_OP_LAST] = {
	[CAPCHAN_OP_NOP] = "NOP",		[CAPCHAN_OP_OPEN] = "OPEN",
	[CAPCHAN_OP_READ] = "READ",		[CAPCHAN_OP_WRITE] = "WRITE",
	[CAPCHAN_OP_FSYNC] = "FSYNC",		[CAPCHAN_OP_STAT] = "STAT",
	[CAPCHAN_OP_DERIVE] = "DERIVE",		[CAPCHAN_OP_REVOKE] = "REVOKE",
	[CAPCHAN_OP_CLOSE] = "CLOSE",		[CAPCHAN_OP_EXPORT] = "EXPORT",
	[CAPCHAN_OP_IMPORT] = "IMPORT",		[CAPCHAN_OP_PREFETCH] = "PREFETCH",
	[CAPCHAN_OP_READDIR] = "READDIR",	[CAPCHAN_OP_STATAT] = "STATAT",
	[CAPCHAN_OP_MKDIR] = "MKDIR",		[CAPCHAN_OP_UNLINK] = "UNLINK",
	[CAPCHAN_OP_RMDIR] = "RMDIR",		[CAPCHAN_OP_SYMLINK] = "SYMLINK",
	[CAPCHAN_OP_RENAME] = "RENAME",		[CAPCHAN_OP_TRUNCATE] = "TRUNCATE",
};

static const char *op_name(uint32_t op, char *buf, size_t len)
{
	if (op < CAPCHAN_OP_LAST && op_names[op])
		return op_names[op];
	snprintf(buf, len, "op%u", op);
	return buf;
}

static const char *const by_names[] = {
	[CAPCHAN_AUDIT_BY_RIGHTS] = "rights",
	[CAPCHAN_AUDIT_BY_TYPE] = "type",
	[CAPCHAN_AUDIT_BY_REVOKED] = "revoked",
	[CAPCHAN_AUDIT_BY_POLICY] = "policy",
	[CAPCHAN_AUDIT_BY_FILTER] = "filter",
};

/* "-EACCES" for -13, "0" for 0, the number for anything else */
static const char *verdict_name(int32_t v, char *buf, size_t len)
{
	const char *n = NULL;

	if (v == 0)
		return "0";
	if (v < 0 && v >= -MAX_ERRNO)
		n = strerrorname_np(-v);
	if (n)
		snprintf(buf, len, "-%s", n);
	else
		snprintf(buf, len, "%d", v);
	return buf;
}

/* An errno by name (EACCES, eacces) or number; -1 if it is neither. */
static int parse_errno(const char *s)
{
	char *end;
	long v;
	int e;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || *end || v < 1 || v > MAX_ERRNO)
			return -1;
		return (int)v;
	}
	for (e = 1; e <= MAX_ERRNO; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcasecmp(n, s))
			return e;
	}
	return -1;
}

static long long parse_num(const char *what, const char *s, long long min,
			   long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_error("%s: '%s' is not a number in %lld..%lld", what, s,
			    min, max);
	return v;
}

/* ------------------------------------------------------------ checks */

/* May we load tracing programs (or see and unpin them)?  Say why not,
 * before libbpf says EPERM. */
static int check_privilege(const char *what)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uint64_t eff;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return 0;	/* cannot tell: let the kernel decide */
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return 0;
	if ((eff & (1ULL << CAP_BPF)) && (eff & (1ULL << CAP_PERFMON)))
		return 0;
	return error("not allowed to %s: run as root (needs CAP_BPF and "
		     "CAP_PERFMON, or CAP_SYS_ADMIN)", what);
}

/* Is the module there, with the writable tracepoint? */
static int check_module(void)
{
	struct capchan_version v;
	struct capchan ch;
	int ret;

	if (access("/sys/module/capchan", F_OK))
		return error("the capchan module is not loaded (modprobe capchan)");
	ret = capchan_open_channel(&ch);
	if (ret < 0)
		return error("cannot open %s: %s", CAPCHAN_DEVICE, strerror(-ret));
	ret = capchan_get_version(&ch, &v);
	capchan_queue_exit(&ch);
	if (ret < 0)
		return error("%s: version query failed: %s", CAPCHAN_DEVICE,
			     strerror(-ret));
	if (!(v.features & CAPCHAN_FEAT_HOOK))
		return error("this capchan module has no writable tracepoint "
			     "(feature CAPCHAN_FEAT_HOOK is clear: its kernel was "
			     "built without CONFIG_BPF_EVENTS); eBPF policies "
			     "cannot attach, channel filters (capchan_filter_attach) "
			     "still work");
	return 0;
}

static int check_bpffs(void)
{
	struct statfs fs;

	if (statfs(BPFFS, &fs) || fs.f_type != BPF_FS_MAGIC)
		return error("no bpffs mounted at " BPFFS
			     " (mount -t bpf bpf " BPFFS ")");
	return 0;
}

/* Explain a libbpf failure in the words the user needs. */
static int bpf_failure(const char *what, int err)
{
	if (err < 0)
		err = -err;
	if (err == EPERM || err == EACCES)
		return error("%s: %s: permission denied (root, or CAP_BPF and "
			     "CAP_PERFMON, needed; or a kernel lockdown refuses BPF)",
			     what, strerror(err));
	if (err == ENOENT || err == ESRCH)
		return error("%s: %s: no capchan tracepoint (is the capchan "
			     "module loaded?)", what, strerror(err));
	return error("%s: %s%s", what, strerror(err),
		     verbose ? "" : " (-v shows libbpf's messages)");
}

/* --pin NAME -> PIN_ROOT/NAME; a path is kept as given. */
static int pin_path(const char *arg, char *out, size_t len)
{
	const char *base = strrchr(arg, '/');

	base = base ? base + 1 : arg;
	/* bpffs reserves names with dots */
	if (!*base || strchr(base, '.'))
		usage_error("pin name '%s': empty or with a '.' (bpffs refuses those)",
			    arg);
	if (strchr(arg, '/'))
		snprintf(out, len, "%s", arg);
	else
		snprintf(out, len, PIN_ROOT "/%s", arg);
	return 0;
}

/* ------------------------------------------------------------ loading */

/* A loaded policy, whichever skeleton it came from. */
struct policy {
	const char *kind;		/* "readonly" ... */
	struct bpf_object *obj;
	void *skel;
	void (*destroy)(void *skel);
	struct bpf_link *links[2];
	char link_names[2][16];		/* "authorize", "denied" */
	int nlinks;
};

static void policy_destroy(struct policy *p)
{
	int i;

	for (i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	p->nlinks = 0;
	if (p->skel)
		p->destroy(p->skel);
	p->skel = NULL;
}

/* "raw_tp.w/capchan_authorize" -> "authorize" */
static void link_name(const struct bpf_program *prog, char *out, size_t len)
{
	const char *s = bpf_program__section_name(prog);
	const char *tp = strrchr(s, '/');

	tp = tp ? tp + 1 : s;
	if (!strncmp(tp, "capchan_", 8))
		tp += 8;
	snprintf(out, len, "%s", tp);
}

/* Attach every program that was loaded. */
static int policy_attach(struct policy *p)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, p->obj) {
		struct bpf_link *l;

		if (!bpf_program__autoload(prog))
			continue;
		if (p->nlinks == 2)
			return error("%s: too many programs", p->kind);
		l = bpf_program__attach(prog);
		if (!l)
			return bpf_failure("attach", errno);
		link_name(prog, p->link_names[p->nlinks],
			  sizeof(p->link_names[0]));
		p->links[p->nlinks++] = l;
	}
	return 0;
}

/* Pin links and maps under dir; on failure nothing stays pinned. */
static int policy_pin(struct policy *p, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int i, err;

	if (!strncmp(dir, PIN_ROOT "/", strlen(PIN_ROOT) + 1) &&
	    mkdir(PIN_ROOT, 0700) && errno != EEXIST)
		return error("mkdir " PIN_ROOT ": %s", strerror(errno));
	if (mkdir(dir, 0700)) {
		if (errno == EEXIST)
			return error("%s exists: a policy is pinned there already "
				     "(" PROG " list; " PROG " detach %s)", dir, dir);
		return error("mkdir %s: %s", dir, strerror(errno));
	}
	/* maps first: while the links are not pinned, nothing is attached
	 * for good, so a failure can still clean up completely */
	bpf_object__for_each_map(map, p->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__pin(map, path);
		if (err)
			goto fail;
	}
	for (i = 0; i < p->nlinks; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, p->link_names[i]);
		err = bpf_link__pin(p->links[i], path);
		if (err)
			goto fail;
	}
	/* from now on the pins hold the links: closing our fds (on exit or
	 * bpf_link__destroy) detaches nothing */
	return 0;
fail:
	error("pin in %s: %s", dir, strerror(-err));
	for (i = 0; i < p->nlinks; i++)
		bpf_link__unpin(p->links[i]);
	bpf_object__for_each_map(map, p->obj)
		if (!bpf_map__is_internal(map))
			bpf_map__unpin(map, NULL);
	rmdir(dir);
	return EXIT_ERR;
}

struct uid_rule {
	uint32_t uid;
	uint32_t match;			/* CAPCHAN_POLICY_MATCH_* */
	int err;			/* positive errno; 0: the default */
};

struct attach_opts {
	const char *kind;
	struct uid_rule uids[CAPCHAN_POLICY_MAX_IDS];
	int nuids;
	uint64_t cgroups[CAPCHAN_POLICY_MAX_IDS];
	int ncgroups;
	int err;			/* positive errno; 0: the policy's default */
	long long ops_per_sec, burst;
	bool no_denied;
	const char *pin;
};

/* Add a rule for a uid; a uid named twice gets both match bits. */
static void add_uid(struct attach_opts *o, const char *arg, uint32_t match,
		    bool with_errno)
{
	char buf[64], *colon;
	struct uid_rule *r;
	long long uid;
	int e = 0, i;

	snprintf(buf, sizeof(buf), "%s", arg);
	colon = strchr(buf, ':');
	if (colon) {
		if (!with_errno)
			usage_error("uid '%s': this policy takes no per-uid errno", arg);
		*colon = '\0';
		e = parse_errno(colon + 1);
		if (e < 0)
			usage_error("'%s' is not an errno name or number 1..%d",
				    colon + 1, MAX_ERRNO);
	}
	uid = parse_num("uid", buf, 0, UINT32_MAX - 1);
	for (i = 0; i < o->nuids; i++) {
		r = &o->uids[i];
		if (r->uid == (uint32_t)uid) {
			r->match |= match;
			if (e)
				r->err = e;
			return;
		}
	}
	if (o->nuids == CAPCHAN_POLICY_MAX_IDS)
		usage_error("at most %d uids", CAPCHAN_POLICY_MAX_IDS);
	r = &o->uids[o->nuids++];
	r->uid = (uint32_t)uid;
	r->match = match;
	r->err = e;
}

/* The cgroup v2 id of a cgroup directory: its inode number on 64-bit. */
static void add_cgroup(struct attach_opts *o, const char *path)
{
	struct statfs fs;
	struct stat st;

	if (statfs(path, &fs) || stat(path, &st))
		usage_error("cgroup %s: %s", path, strerror(errno));
	if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		usage_error("cgroup %s: not a cgroup v2 directory", path);
	if (o->ncgroups == CAPCHAN_POLICY_MAX_IDS)
		usage_error("at most %d cgroups", CAPCHAN_POLICY_MAX_IDS);
	/* kernfs gives a cgroup's id as the inode number of its directory,
	 * which is what bpf_get_current_cgroup_id() returns */
	o->cgroups[o->ncgroups++] = st.st_ino;
}

static void destroy_readonly(void *s) { capchan_readonly__destroy(s); }
static void destroy_denyuid(void *s) { capchan_denyuid__destroy(s); }
static void destroy_ratelimit(void *s) { capchan_ratelimit__destroy(s); }
static void destroy_audit(void *s) { capchan_audit__destroy(s); }

static int load_readonly(struct policy *p, const struct attach_opts *o)
{
	struct capchan_readonly *s = capchan_readonly__open();
	int i, err;

	if (!s)
		return bpf_failure("open readonly", errno);
	p->skel = s;
	p->obj = s->obj;
	p->destroy = destroy_readonly;
	s->rodata->ro_errno = -(o->err ? o->err : EROFS);
	err = capchan_readonly__load(s);
	if (err)
		return bpf_failure("load readonly", err);
	for (i = 0; i < o->nuids; i++) {
		err = bpf_map__update_elem(s->maps.uids, &o->uids[i].uid,
					   sizeof(uint32_t), &o->uids[i].match,
					   sizeof(uint32_t), BPF_ANY);
		if (err)
			return bpf_failure("readonly uid map", err);
	}
	for (i = 0; i < o->ncgroups; i++) {
		uint32_t one = 1;

		err = bpf_map__update_elem(s->maps.cgroups, &o->cgroups[i],
					   sizeof(uint64_t), &one,
					   sizeof(one), BPF_ANY);
		if (err)
			return bpf_failure("readonly cgroup map", err);
	}
	return 0;
}

static int load_denyuid(struct policy *p, const struct attach_opts *o)
{
	struct capchan_denyuid *s = capchan_denyuid__open_and_load();
	int i, err;

	if (!s)
		return bpf_failure("load denyuid", errno);
	p->skel = s;
	p->obj = s->obj;
	p->destroy = destroy_denyuid;
	for (i = 0; i < o->nuids; i++) {
		struct capchan_policy_deny d = {
			.err = -(o->uids[i].err ? o->uids[i].err :
				 o->err ? o->err : EACCES),
			.match = o->uids[i].match,
		};

		err = bpf_map__update_elem(s->maps.uids, &o->uids[i].uid,
					   sizeof(uint32_t), &d, sizeof(d),
					   BPF_ANY);
		if (err)
			return bpf_failure("denyuid uid map", err);
	}
	return 0;
}

static int load_ratelimit(struct policy *p, const struct attach_opts *o)
{
	struct capchan_ratelimit *s = capchan_ratelimit__open();
	long long burst = o->burst ? o->burst : o->ops_per_sec;
	int err;

	if (!s)
		return bpf_failure("open ratelimit", errno);
	p->skel = s;
	p->obj = s->obj;
	p->destroy = destroy_ratelimit;
	s->rodata->interval_ns = 1000000000ULL / (uint64_t)o->ops_per_sec;
	s->rodata->tolerance_ns = (uint64_t)(burst - 1) * s->rodata->interval_ns;
	err = capchan_ratelimit__load(s);
	if (err)
		return bpf_failure("load ratelimit", err);
	return 0;
}

static int load_audit(struct policy *p, bool no_denied)
{
	struct capchan_audit *s = capchan_audit__open();
	int err;

	if (!s)
		return bpf_failure("open audit", errno);
	p->skel = s;
	p->obj = s->obj;
	p->destroy = destroy_audit;
	if (no_denied)
		bpf_program__set_autoload(s->progs.capchan_auditdn, false);
	err = capchan_audit__load(s);
	if (err)
		return bpf_failure("load audit", err);
	return 0;
}

/* Say what a policy does, for the attach message. */
static void describe(const struct attach_opts *o, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	n += snprintf(buf + n, len - n, "%s", o->kind);
	if (!strcmp(o->kind, "ratelimit"))
		n += snprintf(buf + n, len - n, " %lld ops/s, burst %lld",
			      o->ops_per_sec, o->burst ? o->burst : o->ops_per_sec);
	for (i = 0; i < o->nuids && n < len; i++) {
		const struct uid_rule *r = &o->uids[i];
		int e = r->err ? r->err : o->err;

		n += snprintf(buf + n, len - n, " %s%s%u",
			      i ? "" : "for ",
			      r->match == CAPCHAN_POLICY_MATCH_OWNER ? "owner-uid " :
			      r->match == CAPCHAN_POLICY_MATCH_CALLER ? "uid " :
			      "uid+owner-uid ", r->uid);
		if (!strcmp(o->kind, "denyuid") && n < len)
			n += snprintf(buf + n, len - n, " (%s)",
				      strerrorname_np(e ? e : EACCES));
		if (i + 1 < o->nuids && n < len)
			n += snprintf(buf + n, len - n, ",");
	}
	if (o->ncgroups && n < len)
		n += snprintf(buf + n, len - n, "%s%d cgroup(s)",
			      o->nuids ? " and " : " for ", o->ncgroups);
	if (!strcmp(o->kind, "readonly") && n < len)
		snprintf(buf + n, len - n, ", errno %s",
			 strerrorname_np(o->err ? o->err : EROFS));
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "owner-uid", required_argument, NULL, 'o' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "errno", required_argument, NULL, 'e' },
		{ "ops-per-sec", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "no-denied", no_argument, NULL, 'D' },
		{ "pin", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct attach_opts o;	/* big: not on the stack */
	struct policy p = { 0 };
	sigset_t mask, old;
	char dir[PATH_MAX] = "", what[512];
	bool ro, du, rl, au;
	int c, ret;

	if (argc < 2)
		usage_error("attach: which policy? (readonly, denyuid, ratelimit, audit)");
	o.kind = argv[1];
	ro = !strcmp(o.kind, "readonly");
	du = !strcmp(o.kind, "denyuid");
	rl = !strcmp(o.kind, "ratelimit");
	au = !strcmp(o.kind, "audit");
	if (!ro && !du && !rl && !au)
		usage_error("attach: unknown policy '%s' (readonly, denyuid, ratelimit, audit)",
			    o.kind);
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'u':
		case 'o':
			if (!ro && !du)
				usage_error("--uid/--owner-uid: only readonly and denyuid take uids");
			add_uid(&o, optarg, c == 'u' ? CAPCHAN_POLICY_MATCH_CALLER :
				CAPCHAN_POLICY_MATCH_OWNER, du);
			break;
		case 'c':
			if (!ro)
				usage_error("--cgroup: only readonly takes cgroups");
			add_cgroup(&o, optarg);
			break;
		case 'e':
			if (!ro && !du)
				usage_error("--errno: only readonly and denyuid refuse with a chosen errno");
			o.err = parse_errno(optarg);
			if (o.err < 0)
				usage_error("'%s' is not an errno name or number 1..%d",
					    optarg, MAX_ERRNO);
			break;
		case 'r':
			if (!rl)
				usage_error("--ops-per-sec: only for ratelimit");
			o.ops_per_sec = parse_num("--ops-per-sec", optarg, 1,
						  1000000000);
			break;
		case 'b':
			if (!rl)
				usage_error("--burst: only for ratelimit");
			o.burst = parse_num("--burst", optarg, 1, 1000000000);
			break;
		case 'D':
			if (!au)
				usage_error("--no-denied: only for audit");
			o.no_denied = true;
			break;
		case 'p':
			o.pin = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			usage_error("attach %s: bad option", o.kind);
		}
	}
	if (optind < argc)
		usage_error("attach %s: unexpected argument '%s'", o.kind, argv[optind]);
	if (ro && !o.nuids && !o.ncgroups)
		usage_error("attach readonly: whom? (--uid, --owner-uid or --cgroup)");
	if (du && !o.nuids)
		usage_error("attach denyuid: whom? (--uid or --owner-uid)");
	if (rl && !o.ops_per_sec)
		usage_error("attach ratelimit: --ops-per-sec N is required");
	if (o.pin)
		pin_path(o.pin, dir, sizeof(dir));

	if (check_privilege("load BPF programs") || check_module() ||
	    (o.pin && check_bpffs()))
		return EXIT_ERR;

	p.kind = o.kind;
	if (ro)
		ret = load_readonly(&p, &o);
	else if (du)
		ret = load_denyuid(&p, &o);
	else if (rl)
		ret = load_ratelimit(&p, &o);
	else
		ret = load_audit(&p, o.no_denied);
	if (!ret)
		ret = policy_attach(&p);
	if (ret) {
		policy_destroy(&p);
		return ret;
	}
	describe(&o, what, sizeof(what));

	if (o.pin) {
		ret = policy_pin(&p, dir);
		policy_destroy(&p);
		if (ret)
			return ret;
		printf("%s: attached %s, pinned at %s (remove: " PROG " detach %s)\n",
		       PROG, what, dir, o.pin);
		return EXIT_OK;
	}

	/* blocked until sigsuspend, so a signal cannot slip in between the
	 * test of stop and the wait */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	catch_signals();
	printf("%s: attached %s; detaches on Ctrl-C\n", PROG, what);
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	policy_destroy(&p);
	printf("%s: detached %s\n", PROG, o.kind);
	return EXIT_OK;
}

/* ------------------------------------------------------------ list */

struct link_desc {
	uint32_t id, prog_id;
	char tp[64];
	char prog[BPF_OBJ_NAME_LEN];
};

/* 0 if fd is a link on a capchan tracepoint (described in *d). */
static int describe_link(int fd, struct link_desc *d)
{
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	uint32_t len = sizeof(li);
	int pfd;

	memset(&li, 0, sizeof(li));
	memset(d, 0, sizeof(*d));
	li.raw_tracepoint.tp_name = (uint64_t)(uintptr_t)d->tp;
	li.raw_tracepoint.tp_name_len = sizeof(d->tp);
	if (bpf_obj_get_info_by_fd(fd, &li, &len))
		return -errno;
	if (li.type != BPF_LINK_TYPE_RAW_TRACEPOINT ||
	    strncmp(d->tp, "capchan_", 8))
		return -ENOENT;
	d->id = li.id;
	d->prog_id = li.prog_id;
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd >= 0) {
		len = sizeof(pi);
		memset(&pi, 0, sizeof(pi));
		if (!bpf_obj_get_info_by_fd(pfd, &pi, &len))
			snprintf(d->prog, sizeof(d->prog), "%s", pi.name);
		close(pfd);
	}
	return 0;
}

/* Where a link is held: its pin under PIN_ROOT, or the processes holding
 * an fd of it. */
static void link_holders(uint32_t id, char *out, size_t len)
{
	DIR *root, *sub, *proc;
	struct dirent *e, *f;
	size_t n = 0;

	out[0] = '\0';
	root = opendir(PIN_ROOT);
	while (root && (e = readdir(root))) {
		char dir[PATH_MAX];

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), PIN_ROOT "/%s", e->d_name);
		sub = opendir(dir);
		while (sub && (f = readdir(sub))) {
			char path[PATH_MAX + 256];
			struct link_desc d;
			int fd;

			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			if (!describe_link(fd, &d) && d.id == id && n < len)
				n += snprintf(out + n, len - n, "%s%s",
					      n ? ", " : "", path);
			close(fd);
		}
		if (sub)
			closedir(sub);
	}
	if (root)
		closedir(root);

	proc = opendir("/proc");
	while (proc && (e = readdir(proc))) {
		char fddir[300];

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(fddir, sizeof(fddir), "/proc/%s/fdinfo", e->d_name);
		sub = opendir(fddir);
		while (sub && (f = readdir(sub))) {
			char path[600], line[128];
			bool held = false;
			FILE *fp;

			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", fddir, f->d_name);
			fp = fopen(path, "re");
			while (fp && fgets(line, sizeof(line), fp)) {
				unsigned v;

				if (sscanf(line, "link_id:\t%u", &v) == 1 && v == id)
					held = true;
			}
			if (fp)
				fclose(fp);
			if (held && n < len) {
				char comm[64] = "?";

				snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
				fp = fopen(path, "re");
				if (fp) {
					if (fgets(comm, sizeof(comm), fp))
						comm[strcspn(comm, "\n")] = '\0';
					fclose(fp);
				}
				n += snprintf(out + n, len - n, "%spid %s (%s)",
					      n ? ", " : "", e->d_name, comm);
				break;
			}
		}
		if (sub)
			closedir(sub);
	}
	if (proc)
		closedir(proc);
	if (!out[0])
		snprintf(out, len, "?");
}

static int cmd_list(int argc, char **argv)
{
	uint32_t id = 0;
	int shown = 0;

	(void)argv;
	if (argc > 1)
		usage_error("list takes no arguments");
	if (check_privilege("list BPF links"))
		return EXIT_ERR;
	/* pins are only looked for under PIN_ROOT: without bpffs, say so,
	 * but still list what is attached */
	if (access(PIN_ROOT, F_OK) && check_bpffs())
		fprintf(stderr, PROG ": (pins cannot be shown)\n");
	for (;;) {
		struct link_desc d;
		char held[1024];
		int fd;

		if (bpf_link_get_next_id(id, &id)) {
			if (errno == ENOENT)
				break;
			return error("listing BPF links: %s", strerror(errno));
		}
		fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue;	/* gone meanwhile */
		if (describe_link(fd, &d)) {
			close(fd);
			continue;
		}
		close(fd);
		if (!shown++)
			printf("%-5s %-5s %-16s %-18s %s\n", "LINK", "PROG",
			       "PROGRAM", "TRACEPOINT", "HELD BY");
		link_holders(d.id, held, sizeof(held));
		printf("%-5u %-5u %-16s %-18s %s\n", d.id, d.prog_id, d.prog,
		       d.tp, held);
	}
	if (!shown)
		printf("no BPF program is attached to capchan's tracepoints\n");
	return EXIT_OK;
}

/* ------------------------------------------------------------ detach */

static bool prog_alive(uint32_t id)
{
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return errno != ENOENT;
	close(fd);
	return true;
}

static bool link_alive(uint32_t id)
{
	int fd = bpf_link_get_fd_by_id(id);

	if (fd < 0)
		return errno != ENOENT;
	close(fd);
	return true;
}

static int detach_one(const char *arg)
{
	uint32_t links[8], progs[8];
	char dir[PATH_MAX];
	int nlinks = 0, nfiles = 0, i, ms;
	struct dirent *e;
	struct statfs fs;
	DIR *d;

	pin_path(arg, dir, sizeof(dir));
	if (statfs(dir, &fs))
		return error("%s: no pinned policy there (%s)", dir,
			     strerror(errno));
	if (fs.f_type != BPF_FS_MAGIC)
		return error("%s: not on bpffs", dir);
	d = opendir(dir);
	if (!d)
		return error("%s: %s", dir, strerror(errno));
	/* what is attached now, so we can wait for it to go */
	while ((e = readdir(d))) {
		char path[PATH_MAX + 256];
		struct link_desc ld;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0 && !describe_link(fd, &ld) && nlinks < 8) {
			links[nlinks] = ld.id;
			progs[nlinks++] = ld.prog_id;
		}
		if (fd >= 0)
			close(fd);
		if (unlink(path)) {
			int err = errno;

			closedir(d);
			return error("unpin %s: %s", path, strerror(err));
		}
		nfiles++;
	}
	closedir(d);
	if (rmdir(dir))
		return error("rmdir %s: %s", dir, strerror(errno));
	if (!nfiles) {
		printf("%s: %s was empty; removed\n", PROG, dir);
		return EXIT_OK;
	}
	/*
	 * The last reference of a pinned link goes when bpffs frees the
	 * inode, after an RCU grace period, and the link is released from a
	 * work item: wait until the programs are gone, so that an op started
	 * after we return no longer meets the policy.
	 */
	for (ms = 0; ms < DETACH_WAIT_MS; ms += 10) {
		bool alive = false;

		for (i = 0; i < nlinks; i++)
			alive |= prog_alive(progs[i]);
		if (!alive)
			break;
		usleep(10000);
	}
	for (i = 0; i < nlinks; i++) {
		char held[1024];

		if (!link_alive(links[i]) && !prog_alive(progs[i]))
			continue;
		if (link_alive(links[i])) {
			link_holders(links[i], held, sizeof(held));
			return error("%s unpinned, but link %u is still held by %s",
				     dir, links[i], held);
		}
		return error("%s unpinned, but program %u is still loaded "
			     "(held by something else?)", dir, progs[i]);
	}
	printf("%s: detached %s", PROG, dir);
	for (i = 0; i < nlinks; i++)
		printf("%s link %u (prog %u)", i ? "," : ":", links[i], progs[i]);
	printf("\n");
	return EXIT_OK;
}

static int cmd_detach(int argc, char **argv)
{
	int i, ret = EXIT_OK;

	if (argc < 2)
		usage_error("detach: which? (NAME, PATH or --all)");
	if (check_privilege("remove BPF links") || check_bpffs())
		return EXIT_ERR;
	if (argc == 2 && !strcmp(argv[1], "--all")) {
		struct dirent *e;
		int n = 0;
		DIR *d = opendir(PIN_ROOT);

		while (d && (e = readdir(d))) {
			char dir[PATH_MAX];

			if (e->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), PIN_ROOT "/%s", e->d_name);
			n++;
			if (detach_one(dir))
				ret = EXIT_ERR;
		}
		if (d)
			closedir(d);
		if (!n)
			printf("%s: nothing pinned under " PIN_ROOT "\n", PROG);
		return ret;
	}
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			usage_error("detach: unknown option '%s'", argv[i]);
		if (detach_one(argv[i]))
			ret = EXIT_ERR;
	}
	return ret;
}

/* ------------------------------------------------------------ audit */

struct audit_state {
	long long seen, want;
};

/* path with anything unprintable as \xNN, quoted */
static void print_path(const char *s, size_t max)
{
	size_t i;

	putchar('"');
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct audit_state *st = ctx;
	const struct capchan_audit_rec *r = data;
	char ob[16], vb[32];

	if (size < CAPCHAN_AUDIT_DENIED_SIZE)
		return 0;
	printf("%llu.%06llu ", (unsigned long long)(r->ts_ns / 1000000000ULL),
	       (unsigned long long)(r->ts_ns % 1000000000ULL / 1000));
	if (r->kind == CAPCHAN_AUDIT_DENIED) {
		printf("denied    pid=%u uid=%u channel=%llu op=%s handle=0x%x by=%s err=%s\n",
		       r->pid, r->caller_uid, (unsigned long long)r->channel_id,
		       op_name(r->op, ob, sizeof(ob)), r->handle,
		       r->reason < sizeof(by_names) / sizeof(by_names[0]) &&
		       by_names[r->reason] ? by_names[r->reason] : "?",
		       verdict_name(r->verdict, vb, sizeof(vb)));
	} else if (size >= sizeof(*r)) {
		printf("authorize pid=%u uid=%u owner=%u channel=%llu op=%s handle=0x%x",
		       r->pid, r->caller_uid, r->owner_uid,
		       (unsigned long long)r->channel_id,
		       op_name(r->op, ob, sizeof(ob)), r->handle);
		if (r->cap_type)
			printf(" type=%s rights=0x%llx",
			       r->cap_type == CAPCHAN_CAP_DIR ? "dir" : "file",
			       (unsigned long long)r->rights);
		if (r->rights_wanted)
			printf(" wanted=0x%llx", (unsigned long long)r->rights_wanted);
		if (r->op_flags)
			printf(" flags=0x%x", r->op_flags);
		printf(" verdict=%s", verdict_name(r->verdict, vb, sizeof(vb)));
		if (r->path_len) {
			printf(" path=");
			print_path(r->path, sizeof(r->path));
		}
		putchar('\n');
	} else {
		return 0;
	}
	st->seen++;
	/* a negative return stops ring_buffer__poll() after this record */
	return st->want && st->seen >= st->want ? -ECANCELED : 0;
}

static int cmd_audit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct audit_state st = { 0 };
	struct policy p = { .kind = "audit" };
	struct ring_buffer *rb = NULL;
	const char *from = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	long long timeout = 0;
	int c, events_fd = -1, stats_fd = -1, ret = EXIT_OK;
	uint64_t lost0 = 0, lost = 0;
	uint32_t key = CAPCHAN_AUDIT_STAT_LOST;
	struct timespec t0, now;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 'n':
			st.want = parse_num("--count", optarg, 1, LLONG_MAX);
			break;
		case 't':
			timeout = parse_num("--timeout", optarg, 1, 86400 * 365);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			usage_error("audit: bad option");
		}
	}
	if (optind < argc)
		usage_error("audit: unexpected argument '%s'", argv[optind]);
	if (check_privilege("read the audit ring buffer"))
		return EXIT_ERR;

	/* a pinned audit policy if there is one: its ring buffer holds
	 * what happened since it was attached */
	if (!from) {
		struct statfs fs;

		if (!statfs(BPFFS, &fs) && fs.f_type == BPF_FS_MAGIC &&
		    !access(PIN_ROOT "/audit/events", F_OK))
			from = "audit";
	}
	if (from) {
		if (check_bpffs())
			return EXIT_ERR;
		pin_path(from, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/events", dir);
		events_fd = bpf_obj_get(path);
		if (events_fd < 0)
			return error("%s: %s (attach audit --pin %s first)", path,
				     strerror(errno), from);
		snprintf(path, sizeof(path), "%s/stats", dir);
		stats_fd = bpf_obj_get(path);
		fprintf(stderr, "%s: reading the audit policy pinned at %s\n",
			PROG, dir);
	} else {
		if (check_module())
			return EXIT_ERR;
		ret = load_audit(&p, false);
		if (!ret)
			ret = policy_attach(&p);
		if (ret) {
			policy_destroy(&p);
			return ret;
		}
		events_fd = bpf_map__fd(((struct capchan_audit *)p.skel)->maps.events);
		stats_fd = dup(bpf_map__fd(((struct capchan_audit *)p.skel)->maps.stats));
		fprintf(stderr, "%s: audit attached for this run\n", PROG);
	}
	if (stats_fd >= 0)
		bpf_map_lookup_elem(stats_fd, &key, &lost0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	rb = ring_buffer__new(events_fd, on_record, &st, NULL);
	if (!rb) {
		ret = error("ring buffer: %s", strerror(errno));
		goto out;
	}
	catch_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop && !(st.want && st.seen >= st.want)) {
		int n = ring_buffer__poll(rb, 200);

		if (n < 0 && n != -EINTR && n != -ECANCELED) {
			ret = error("ring buffer: %s", strerror(-n));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout && now.tv_sec - t0.tv_sec >= timeout)
			break;
	}
	if (st.want && st.seen < st.want) {
		if (!stop)
			ret = error("%lld of %lld records before the timeout",
				    st.seen, st.want);
	}
	if (stats_fd >= 0 && !bpf_map_lookup_elem(stats_fd, &key, &lost) &&
	    lost > lost0)
		fprintf(stderr, "%s: %llu records lost (ring buffer full)\n",
			PROG, (unsigned long long)(lost - lost0));
out:
	ring_buffer__free(rb);
	if (stats_fd >= 0)
		close(stats_fd);
	if (p.skel)
		policy_destroy(&p);
	else if (events_fd >= 0)
		close(events_fd);
	return ret;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	const char *cmd;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-v")) {
			verbose++;
		} else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else {
			usage_error("unknown option '%s'", argv[1]);
		}
		argv++;
		argc--;
	}
	if (argc < 2)
		usage_error("which command? (attach, list, detach, audit)");
	libbpf_set_print(libbpf_print);
	cmd = argv[1];
	argc--;
	argv++;
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc, argv);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(argc, argv);
	if (!strcmp(cmd, "audit"))
		return cmd_audit(argc, argv);
	if (!strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	usage_error("unknown command '%s'", cmd);
	return EXIT_USAGE;
}
