// SPDX-License-Identifier: GPL-2.0
/*
 * OPEN against openat2(2): a seeded differential test.
 *
 * For the same tree, path, flags, creation mode and credentials, capchan's
 * OPEN (through the direct-invoke ioctl) must give what
 *
 *	openat2(dir, path, { flags | access mode, mode,
 *			     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 *			     RESOLVE_NO_XDEV })
 *
 * gives: success exactly when openat2 succeeds, the same inode, the same
 * errno, the same file created (place, mode after the umask, owner) or
 * truncated.  The access mode follows the wanted rights (READ+WRITE:
 * O_RDWR, WRITE: O_WRONLY, else O_RDONLY) and a directory is always opened
 * O_RDONLY, so an openat2 EISDIR caused only by a write access mode is
 * asked again with O_RDONLY.  The only differences allowed are capchan's own
 * rules, which decide first and are counted apart:
 *
 *   1. -EPERM: rights beyond the DIR's, O_CREAT without CREATE on the DIR,
 *      O_TRUNC without WRITE wanted, set-ID bits in the creation mode;
 *   2. -EINVAL: flags outside O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_DIRECTORY|
 *      O_NOFOLLOW|O_NONBLOCK, unknown rights, a mode without O_CREAT or
 *      with bits outside 07777.  These, and openat2's own -EINVAL for
 *      O_CREAT|O_DIRECTORY, are checks of the flags alone, expected before
 *      rule 1 and before any path is looked at;
 *   3. -EINVAL: the path resolves to neither a regular file nor a
 *      directory (FIFO, socket, device), whatever openat2 would then do
 *      (open it, or refuse it for its permissions).  Resolution is an
 *      O_PATH openat2 with the case's O_NOFOLLOW and O_DIRECTORY, so what
 *      openat2 answers while resolving comes first: ENOTDIR for
 *      O_DIRECTORY, and O_CREAT|O_EXCL is EEXIST for anything that exists;
 *   4. -ELOOP: O_CREAT without O_EXCL and O_NOFOLLOW whose last component
 *      is a dangling symlink (capchan never creates through a link).
 *
 * -EAGAIN is a failure from either side: nothing races here.
 *
 * Generator: random trees, two identical copies of each (A is granted to
 * capchan, B is openat2's), so that a case that creates or truncates runs
 * on both sides from the same state.  Each copy is a tmpfs of its own; when
 * a case moved the free inodes or blocks of either, both trees are walked,
 * must be equal (names, types, modes, owners, sizes), and are put back.
 * The inodes reached are compared as paths: each side's st_dev/st_ino
 * (capchan's STAT, openat2's fstat) looked up in its own copy.
 *
 * A tree holds files (modes 0000 to 0666, three owners), directories
 * (0000, 0100, 0700, 0711, sticky 01777 ...), relative and absolute
 * symlinks (inside, outside, ".." chains, loops, dangling, into the nested
 * mount, to FIFOs, a chain one link longer than the kernel follows), a
 * FIFO, a socket and a device node, a tmpfs mounted inside (RESOLVE_NO_XDEV
 * must refuse to cross it), a sticky world-writable and a sticky
 * group-writable directory holding files and symlinks of three users
 * (fs.protected_symlinks=1, fs.protected_regular=2 while the test runs).
 * Paths: random walks over the tree's names with ".", "..", "//", trailing
 * "/" and "/.", the empty path, absolute paths, components around NAME_MAX
 * and paths around PATH_MAX.  Flags: subsets of the seven OPEN flags, a few
 * forbidden ones; creation modes; wanted rights; a full, a no-CREATE and a
 * read-only DIR; umasks.  Every group runs as root and as nobody (its own
 * channel, opened after setresuid).
 *
 * Seed: $CAPCHAN_DIFF_SEED (a number, or "random"), else the first line of
 * /data/capchan_diff_seed (run.sh -f FILE:/data/capchan_diff_seed), else a
 * fixed default; each group mixes in its name and prints both.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <grp.h>
#include <linux/openat2.h>
#include <sys/statfs.h>

#define OD_DEFAULT_SEED		0x0d1ff0a7e2ULL
#define OD_OPEN_FLAGS		(O_CREAT | O_EXCL | O_TRUNC | O_APPEND | \
				 O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK)
#define OD_RESOLVE		(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | \
				 RESOLVE_NO_XDEV)
#define OD_UID_OTHER		12345	/* owns things, never runs anything */
#define OD_MAX_NODES		200
#define OD_MAX_ENTS		320
#define OD_REL			160	/* model paths stay short */
#define OD_ENT_REL		(OD_REL + NAME_MAX + 2)
#define OD_PATH			(PATH_MAX + 512)	/* room for too-long paths */
#define OD_CHAIN		41	/* one link more than the kernel follows */
#define OD_MAX_CLASSES		64
#define OD_MAX_SHOWN		500	/* mismatch lines per group */
#define OD_TREES		6
#define OD_CASES		200	/* per tree */

/* ------------------------------------------------------------------ */
/* Seeds                                                               */
/* ------------------------------------------------------------------ */

struct od_rng {
	uint64_t s;
};

static uint64_t od_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t od_rn(struct od_rng *r, uint32_t n)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return n ? (uint32_t)((r->s * 0x2545f4914f6cdd1dULL) >> 32) % n : 0;
}

static bool od_pct(struct od_rng *r, unsigned int p)
{
	return od_rn(r, 100) < p;
}

#define OD_PICK(r, a)	((a)[od_rn((r), CC_ARRAY_SIZE(a))])

static uint64_t od_seed;

/*
 * Chosen once, before the harness forks a process per test, so that
 * "random" gives every group the same base seed to print.
 */
static void __attribute__((constructor)) od_seed_init(void)
{
	char buf[64];
	const char *s = getenv("CAPCHAN_DIFF_SEED");

	od_seed = OD_DEFAULT_SEED;
	if (!s || !*s) {
		int fd = open("/data/capchan_diff_seed", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		s = NULL;
		if (n > 0) {
			buf[n] = '\0';
			s = buf;
		}
		if (fd >= 0)
			close(fd);
	}
	if (s && !strncmp(s, "random", 6))
		od_seed = od_mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	else if (s && *s)
		od_seed = strtoull(s, NULL, 0);
}

static uint64_t od_group_seed(const char *group, uid_t uid)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *group; group++)
		h = (h ^ (unsigned char)*group) * 1099511628211ULL;
	return od_mix(od_seed ^ h ^ uid);
}

/* ------------------------------------------------------------------ */
/* The tree model                                                      */
/* ------------------------------------------------------------------ */
/*
 * Node 0 is a copy's root; below it "secret", "out/s" (never beneath the
 * DIR) and "jail", the DIR.  Node paths are relative to the copy's root.
 * Absolute symlink targets start with "@J" (this copy's jail) or "@R"
 * (this copy's root), so both copies stay alike.
 */
enum od_type { OD_DIR, OD_REG, OD_LNK, OD_FIFO, OD_SOCK, OD_CHR };

struct od_node {
	char rel[OD_REL];
	char target[OD_REL];
	int parent;
	int depth;		/* below the jail: jail 0, outside -1 */
	int tnode;		/* a link's target node, -1 unknown */
	enum od_type type;
	mode_t perm;
	uid_t uid;
	gid_t gid;
	unsigned int size;
	bool mount;		/* a tmpfs is mounted here */
	bool fixed;		/* link target set by the generator already */
	bool want_dir;		/* link should mostly name a directory */
};

struct od_model {
	struct od_node n[OD_MAX_NODES];
	int nr;
	int serial;
	int jail, stk, stg, mnt, chain;
	mode_t umask;
};

static const uid_t od_uids[] = { 0, 0, 0, CC_UID_NOBODY, CC_UID_NOBODY,
				 OD_UID_OTHER };
static const gid_t od_gids[] = { 0, 0, CC_GID_NOGROUP, OD_UID_OTHER };
static const mode_t od_dir_perms[] = {
	0755, 0755, 0755, 0755, 0700, 0711, 0100, 0000, 0770, 0750, 0775,
	0777, 01777, 0555,
};
static const mode_t od_file_perms[] = {
	0644, 0644, 0644, 0600, 0444, 0000, 0666, 0640, 0060, 0604, 0400,
	0200,
};

static const char *od_base(const struct od_node *n)
{
	const char *s = strrchr(n->rel, '/');

	return s ? s + 1 : n->rel;
}

/* A node's path below the jail ("." for the jail). */
static const char *od_jrel(const struct od_model *m, int i)
{
	if (i == m->jail)
		return ".";
	return m->n[i].rel + strlen(m->n[m->jail].rel) + 1;
}

static int od_add(struct od_model *m, int parent, const char *name,
		  enum od_type type, mode_t perm, uid_t uid, gid_t gid)
{
	char rel[OD_REL];
	struct od_node *n;

	if (m->nr >= OD_MAX_NODES)
		return -1;
	if (parent <= 0)
		snprintf(rel, sizeof(rel), "%s", name);
	else
		snprintf(rel, sizeof(rel), "%s/%s", m->n[parent].rel, name);
	n = &m->n[m->nr];
	memset(n, 0, sizeof(*n));
	memcpy(n->rel, rel, sizeof(rel));
	n->parent = parent;
	n->depth = parent >= 0 && m->n[parent].depth >= 0 ?
		   m->n[parent].depth + 1 : -1;
	n->tnode = -1;
	n->type = type;
	n->perm = perm;
	n->uid = uid;
	n->gid = gid;
	return m->nr++;
}

/* A fresh name: prefix and serial number. */
static int od_addn(struct od_model *m, int parent, const char *prefix,
		   enum od_type type, mode_t perm, uid_t uid, gid_t gid)
{
	char name[16];

	snprintf(name, sizeof(name), "%s%d", prefix, m->serial++);
	return od_add(m, parent, name, type, perm, uid, gid);
}

static int od_add_random(struct od_rng *r, struct od_model *m, int dir,
			 enum od_type type)
{
	static const char *const prefix[] = { "d", "f", "l", "p", "s", "c" };
	int i = od_addn(m, dir, prefix[type], type,
			type == OD_DIR ? OD_PICK(r, od_dir_perms) :
					 OD_PICK(r, od_file_perms),
			OD_PICK(r, od_uids), OD_PICK(r, od_gids));

	if (i >= 0 && type == OD_REG)
		m->n[i].size = 1 + od_rn(r, 64);
	return i;
}

static void od_gen_dir(struct od_rng *r, struct od_model *m, int dir,
		       int depth)
{
	int k = depth ? 1 + od_rn(r, 4) : 5 + od_rn(r, 4);

	for (int i = 0; i < k; i++) {
		unsigned int p = od_rn(r, 100);
		int c;

		if (p < 28 && depth < 3) {
			c = od_add_random(r, m, dir, OD_DIR);
			if (c >= 0)
				od_gen_dir(r, m, c, depth + 1);
		} else if (p < 62) {
			od_add_random(r, m, dir, OD_REG);
		} else if (p < 96) {
			od_add_random(r, m, dir, OD_LNK);
		} else {
			od_add_random(r, m, dir, OD_FIFO + od_rn(r, 3));
		}
	}
}

/*
 * A sticky directory: a file and two symlinks of each of root, nobody and
 * the other user, one of the links mostly to a directory so that paths go
 * *through* other users' links, and a dangling link of the other user.
 */
static void od_gen_sticky(struct od_rng *r, struct od_model *m, int dir)
{
	static const uid_t owners[] = { 0, CC_UID_NOBODY, OD_UID_OTHER };
	static const mode_t perms[] = { 0644, 0666, 0600, 0664 };
	int i;

	for (size_t k = 0; k < CC_ARRAY_SIZE(owners); k++) {
		i = od_addn(m, dir, "f", OD_REG, OD_PICK(r, perms), owners[k],
			    OD_PICK(r, od_gids));
		if (i >= 0)
			m->n[i].size = 1 + od_rn(r, 32);
		i = od_addn(m, dir, "l", OD_LNK, 0777, owners[k],
			    OD_PICK(r, od_gids));
		if (i >= 0)
			m->n[i].want_dir = true;
		od_addn(m, dir, "l", OD_LNK, 0777, owners[k],
			OD_PICK(r, od_gids));
	}
	i = od_addn(m, dir, "l", OD_LNK, 0777, OD_UID_OTHER, OD_UID_OTHER);
	if (i >= 0) {
		m->n[i].fixed = true;
		snprintf(m->n[i].target, sizeof(m->n[i].target), "nx");
	}
	od_addn(m, dir, "d", OD_DIR, 0755, CC_UID_NOBODY, CC_GID_NOGROUP);
}

static int od_pick_node(struct od_rng *r, const struct od_model *m,
			int type, int not)
{
	for (int tries = 0; tries < 64; tries++) {
		int i = m->jail + 1 + od_rn(r, m->nr - m->jail - 1);

		if (i != not && (type < 0 || m->n[i].type == (enum od_type)type))
			return i;
	}
	return m->jail;
}

/* A relative path from directory node @from to node @to. */
static void od_rel_between(const struct od_model *m, int from, int to,
			   char *o, size_t sz)
{
	const char *fr = m->n[from].rel, *tr = m->n[to].rel;
	size_t fl = strlen(fr), len = 0;

	if (to == from) {
		snprintf(o, sz, ".");
		return;
	}
	if (!strncmp(tr, fr, fl) && tr[fl] == '/') {
		snprintf(o, sz, "%s", tr + fl + 1);
		return;
	}
	o[0] = '\0';
	for (int i = 0; i < m->n[from].depth; i++)
		len += snprintf(o + len, sz - len, "../");
	if (to == m->jail) {
		if (len)
			o[len - 1] = '\0';
		else
			snprintf(o, sz, ".");
		return;
	}
	snprintf(o + len, sz - len, "%s", od_jrel(m, to));
}

static void od_gen_target(struct od_rng *r, struct od_model *m, int li)
{
	static const char *const outside[] = {
		"secret", "out", "out/s", "jail", "out/../jail",
	};
	static const char *const absolute[] = {
		"/", "/etc/passwd", "/proc/self/root", "/proc/self/cwd", "@R/secret",
		"@J", "@R/out/",
	};
	struct od_node *l = &m->n[li];
	int from = l->parent, depth = m->n[from].depth, t;
	unsigned int p = od_rn(r, 100);
	char *o = l->target;
	size_t sz = sizeof(l->target), len;

	if (l->want_dir && p < 70) {
		t = od_pick_node(r, m, OD_DIR, -1);
		if (od_pct(r, 15))
			t = m->jail;
		od_rel_between(m, from, t, o, sz);
		l->tnode = t;
	} else if (p < 32) {
		t = od_pick_node(r, m, -1, li);
		od_rel_between(m, from, t, o, sz);
		l->tnode = t;
		if (m->n[t].type == OD_DIR && od_pct(r, 15))
			strncat(o, od_pct(r, 50) ? "/" : "/.", sz - strlen(o) - 1);
	} else if (p < 42) {
		len = 0;
		for (int i = 0; i <= depth; i++)
			len += snprintf(o + len, sz - len, "../");
		if (od_pct(r, 30)) {
			t = od_pick_node(r, m, -1, li);
			snprintf(o + len, sz - len, "jail/%s", od_jrel(m, t));
		} else {
			snprintf(o + len, sz - len, "%s", OD_PICK(r, outside));
		}
	} else if (p < 47) {
		len = 0;
		for (int i = 0, n = 1 + od_rn(r, depth + 3); i < n; i++)
			len += snprintf(o + len, sz - len, "%s..", i ? "/" : "");
	} else if (p < 56) {
		if (od_pct(r, 50)) {
			t = od_pick_node(r, m, -1, li);
			snprintf(o, sz, "@J/%s", od_jrel(m, t));
		} else {
			snprintf(o, sz, "%s", OD_PICK(r, absolute));
		}
	} else if (p < 68) {
		switch (od_rn(r, 4)) {
		case 0:
			snprintf(o, sz, "nx");
			break;
		case 1:
			snprintf(o, sz, "nx/y");
			break;
		case 2:	/* a missing name in an existing directory */
			od_rel_between(m, from, od_pick_node(r, m, OD_DIR, -1),
				       o, sz);
			strncat(o, "/nx", sz - strlen(o) - 1);
			break;
		default: /* a file used as a directory */
			od_rel_between(m, from, od_pick_node(r, m, OD_REG, -1),
				       o, sz);
			strncat(o, "/x", sz - strlen(o) - 1);
			break;
		}
	} else if (p < 80) {
		t = od_pick_node(r, m, OD_LNK, li);
		od_rel_between(m, from, t, o, sz);
	} else if (p < 86 && m->mnt >= 0) {
		od_rel_between(m, from, m->mnt, o, sz);
		if (od_pct(r, 60))
			strncat(o, "/m", sz - strlen(o) - 1);
	} else if (p < 90) {
		snprintf(o, sz, "%s", od_pct(r, 50) ? "." : "./");
		l->tnode = from;
	} else if (p < 95) {
		snprintf(o, sz, "%s", od_base(l));	/* itself: a loop */
	} else {
		t = od_pick_node(r, m, OD_FIFO + od_rn(r, 3), li);
		od_rel_between(m, from, t, o, sz);
	}
}

static void od_gen_model(struct od_rng *r, struct od_model *m)
{
	static const mode_t umasks[] = { 022, 022, 002, 077, 0 };
	static const mode_t jail_perms[] = { 0755, 0755, 0755, 01777, 0711,
					     0775 };
	int i, j;

	memset(m, 0, sizeof(*m));
	m->stk = m->stg = m->mnt = m->chain = -1;
	m->umask = OD_PICK(r, umasks);
	od_add(m, -1, ".", OD_DIR, 0755, 0, 0);
	i = od_add(m, 0, "secret", OD_REG, 0644, 0, 0);
	m->n[i].size = 7;
	i = od_add(m, 0, "out", OD_DIR, 0755, 0, 0);
	i = od_add(m, i, "s", OD_REG, 0666, 0, 0);
	m->n[i].size = 3;
	m->jail = od_add(m, 0, "jail", OD_DIR, OD_PICK(r, jail_perms),
			 od_pct(r, 80) ? 0 : CC_UID_NOBODY, 0);
	m->n[m->jail].depth = 0;

	od_gen_dir(r, m, m->jail, 0);

	m->stk = od_add(m, m->jail, "stk", OD_DIR, 01777,
			od_pct(r, 70) ? 0 : OD_UID_OTHER, 0);
	od_gen_sticky(r, m, m->stk);
	m->stg = od_add(m, m->jail, "stg", OD_DIR, 01770, 0, CC_GID_NOGROUP);
	od_gen_sticky(r, m, m->stg);

	m->mnt = od_add(m, m->jail, "mnt", OD_DIR, 0755, 0, 0);
	m->n[m->mnt].mount = true;
	i = od_add(m, m->mnt, "m", OD_REG, 0666, 0, 0);
	m->n[i].size = 5;
	i = od_add(m, m->mnt, "md", OD_DIR, 0777, 0, 0);
	od_add_random(r, m, i, OD_REG);
	od_add_random(r, m, m->mnt, OD_LNK);

	od_add(m, m->jail, "fifo", OD_FIFO, 0666, 0, 0);
	od_add(m, m->jail, "sock", OD_SOCK, 0777, 0, 0);
	od_add(m, m->jail, "null", OD_CHR, 0666, 0, 0);

	/* dangling links for O_CREAT (rule 4), one of nobody's */
	i = od_add(m, m->jail, "dng", OD_LNK, 0777, 0, 0);
	j = od_add(m, m->jail, "dngn", OD_LNK, 0777, CC_UID_NOBODY, 0);
	if (i >= 0 && j >= 0) {
		m->n[i].fixed = m->n[j].fixed = true;
		snprintf(m->n[i].target, OD_REL, "nx");
		od_rel_between(m, m->jail, od_pick_node(r, m, OD_DIR, -1),
			       m->n[j].target, OD_REL);
		strncat(m->n[j].target, "/nx",
			OD_REL - strlen(m->n[j].target) - 1);
	}

	/* a loop of two, plus whatever loops the random targets make */
	i = od_add(m, m->jail, "la", OD_LNK, 0777, 0, 0);
	j = od_add(m, m->jail, "lb", OD_LNK, 0777, 0, 0);
	if (i >= 0 && j >= 0) {
		m->n[i].fixed = m->n[j].fixed = true;
		snprintf(m->n[i].target, OD_REL, "lb");
		snprintf(m->n[j].target, OD_REL, "la");
	}

	/* k40 -> k39 -> ... -> k0 -> a file: k39 resolves, k40 is -ELOOP */
	if (od_pct(r, 40) && m->nr + OD_CHAIN < OD_MAX_NODES) {
		char name[8];

		for (int k = 0; k < OD_CHAIN; k++) {
			snprintf(name, sizeof(name), "k%d", k);
			i = od_add(m, m->jail, name, OD_LNK, 0777, 0, 0);
			m->n[i].fixed = true;
			if (k)
				snprintf(m->n[i].target, OD_REL, "k%d", k - 1);
			else
				od_rel_between(m, m->jail,
					       od_pick_node(r, m, OD_REG, -1),
					       m->n[i].target, OD_REL);
		}
		m->chain = i;
	}

	for (i = m->jail; i < m->nr; i++)
		if (m->n[i].type == OD_LNK && !m->n[i].fixed)
			od_gen_target(r, m, i);
}

/* ------------------------------------------------------------------ */
/* Copies of the model on disk                                         */
/* ------------------------------------------------------------------ */

static void od_expand(const char *target, const char *root, char *o,
		      size_t sz)
{
	if (!strncmp(target, "@J", 2))
		snprintf(o, sz, "%s/jail%s", root, target + 2);
	else if (!strncmp(target, "@R", 2))
		snprintf(o, sz, "%s%s", root, target + 2);
	else
		snprintf(o, sz, "%s", target);
}

/*
 * Write a regular node's content: create it, or refill it after O_TRUNC.
 * No O_CREAT on an existing file: in a sticky directory protected_regular
 * would refuse even root.
 */
static int od_fill(int rfd, const struct od_node *n)
{
	char buf[128];
	int fd = openat(rfd, n->rel, O_WRONLY | O_TRUNC | O_CLOEXEC);
	int err = 0;

	if (fd < 0 && errno == ENOENT)
		fd = openat(rfd, n->rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0600);
	if (fd < 0)
		return -errno;
	memset(buf, 'a' + n->size % 26, sizeof(buf));
	if (write(fd, buf, n->size) != (ssize_t)n->size)
		err = -EIO;
	close(fd);
	return err;
}

/* Each copy is a tmpfs of its own: its fingerprint is its own. */
static void od_destroy(const char *root)
{
	umount2(root, MNT_DETACH);	/* the nested mount goes with it */
	rmdir(root);
}

static int od_build(const struct od_model *m, const char *root)
{
	char abs[PATH_MAX], tgt[PATH_MAX];
	int rfd, err = 0;

	if (mkdir(root, 0755) && errno != EEXIST)
		return -errno;
	if (mount("tmpfs", root, "tmpfs", 0, "size=4m,nr_inodes=4096"))
		return -errno;
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	for (int i = 0; i < m->nr && !err; i++) {
		const struct od_node *n = &m->n[i];

		switch (i ? n->type : -1) {
		case OD_DIR:
			if (mkdirat(rfd, n->rel, 0700)) {
				err = -errno;
			} else if (n->mount) {
				snprintf(abs, sizeof(abs), "%s/%s", root, n->rel);
				if (mount("tmpfs", abs, "tmpfs", 0,
					  "size=1m,nr_inodes=1024"))
					err = -errno;
			}
			break;
		case OD_REG:
			err = od_fill(rfd, n);
			break;
		case OD_LNK:
			od_expand(n->target, root, tgt, sizeof(tgt));
			if (symlinkat(tgt, rfd, n->rel))
				err = -errno;
			break;
		case OD_FIFO:
			if (mknodat(rfd, n->rel, S_IFIFO | 0600, 0))
				err = -errno;
			break;
		case OD_CHR:
			if (mknodat(rfd, n->rel, S_IFCHR | 0600, makedev(1, 3)))
				err = -errno;
			break;
		case OD_SOCK:	/* a socket inode needs no bind() */
			if (mknodat(rfd, n->rel, S_IFSOCK | 0600, 0))
				err = -errno;
			break;
		default:
			break;
		}
		if (!err && fchownat(rfd, n->rel, n->uid, n->gid,
				     AT_SYMLINK_NOFOLLOW))
			err = -errno;
		/* after chown, which would drop set-ID bits (there are none) */
		if (!err && n->type != OD_LNK && fchmodat(rfd, n->rel, n->perm, 0))
			err = -errno;
	}
	close(rfd);
	return err;
}

/* ------------------------------------------------------------------ */
/* Tree states: what a walk of a copy finds                            */
/* ------------------------------------------------------------------ */

struct od_ent {
	char rel[OD_ENT_REL];
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	dev_t dev;
	ino_t ino;
};

struct od_state {
	int nr;
	bool overflow;
	struct od_ent e[OD_MAX_ENTS];
};

/* Walks cross mounts on purpose: a file created in the mount must show. */
static void od_walk_at(int pfd, const char *name, const char *rel,
		       struct od_state *s)
{
	char sub[OD_ENT_REL];
	struct od_ent *e;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return;
	if (s->nr >= OD_MAX_ENTS) {
		s->overflow = true;
		return;
	}
	e = &s->e[s->nr++];
	snprintf(e->rel, sizeof(e->rel), "%s", rel);
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->size = S_ISREG(st.st_mode) ? st.st_size : 0;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	if (!S_ISDIR(st.st_mode))
		return;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strcmp(rel, "."))
			snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		else
			snprintf(sub, sizeof(sub), "%s", de->d_name);
		od_walk_at(dirfd(d), de->d_name, sub, s);
	}
	closedir(d);
}

static int od_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct od_ent *)a)->rel,
		      ((const struct od_ent *)b)->rel);
}

static void od_walk(int rfd, struct od_state *s)
{
	s->nr = 0;
	s->overflow = false;
	od_walk_at(rfd, ".", ".", s);
	qsort(s->e, s->nr, sizeof(s->e[0]), od_ent_cmp);
}

static const struct od_ent *od_find_ino(const struct od_state *s,
					uint64_t dev, uint64_t ino)
{
	for (int i = 0; i < s->nr; i++)
		if (s->e[i].dev == dev && s->e[i].ino == ino)
			return &s->e[i];
	return NULL;
}

static bool od_ent_same(const struct od_ent *a, const struct od_ent *b)
{
	return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->size == b->size;
}

static void od_ent_str(const struct od_ent *e, char *o, size_t sz)
{
	snprintf(o, sz, "%s (%06o %u:%u size %lld)", e->rel, (unsigned)e->mode,
		 (unsigned)e->uid, (unsigned)e->gid, (long long)e->size);
}

/* The first difference between the copies' trees; false if none. */
static bool od_state_diff(const struct od_state *a, const struct od_state *b,
			  char *o, size_t sz)
{
	char ea[OD_ENT_REL + 64], eb[OD_ENT_REL + 64];
	int i = 0, j = 0;

	if (a->overflow || b->overflow) {
		snprintf(o, sz, "tree too large to compare");
		return true;
	}
	while (i < a->nr || j < b->nr) {
		int c = i >= a->nr ? 1 : j >= b->nr ? -1 :
			strcmp(a->e[i].rel, b->e[j].rel);

		if (c < 0) {
			od_ent_str(&a->e[i], ea, sizeof(ea));
			snprintf(o, sz, "only capchan's tree has %s", ea);
			return true;
		}
		if (c > 0) {
			od_ent_str(&b->e[j], eb, sizeof(eb));
			snprintf(o, sz, "only openat2's tree has %s", eb);
			return true;
		}
		if (!od_ent_same(&a->e[i], &b->e[j])) {
			od_ent_str(&a->e[i], ea, sizeof(ea));
			od_ent_str(&b->e[j], eb, sizeof(eb));
			snprintf(o, sz, "capchan's tree has %.200s, openat2's %.200s",
				 ea, eb);
			return true;
		}
		i++;
		j++;
	}
	return false;
}

#define OD_CREATED	1
#define OD_TRUNCATED	2

/*
 * Put a copy back to its state after the build: remove what a case
 * created, refill what it truncated.  Returns what was undone, or -1 if
 * something else changed (@why says what) and the copy must be built
 * again.
 */
static int od_restore(const struct od_model *m, int rfd,
		      const struct od_state *post, const struct od_state *base,
		      char *why, size_t sz)
{
	char es[OD_ENT_REL + 64];
	int i = 0, j = 0, done = 0;

	if (post->overflow) {
		snprintf(why, sz, "too many files");
		return -1;
	}
	while (i < post->nr || j < base->nr) {
		int c = i >= post->nr ? 1 : j >= base->nr ? -1 :
			strcmp(post->e[i].rel, base->e[j].rel);
		const struct od_ent *e = &post->e[i];

		if (c > 0) {
			od_ent_str(&base->e[j], es, sizeof(es));
			snprintf(why, sz, "%.200s is gone", es);
			return -1;
		}
		if (c < 0) {
			if (unlinkat(rfd, e->rel,
				     S_ISDIR(e->mode) ? AT_REMOVEDIR : 0)) {
				snprintf(why, sz, "cannot remove %.150s: %s",
					 e->rel, strerror(errno));
				return -1;
			}
			done |= OD_CREATED;
			i++;
			continue;
		}
		if (e->mode != base->e[j].mode || e->uid != base->e[j].uid ||
		    e->gid != base->e[j].gid) {
			od_ent_str(e, es, sizeof(es));
			snprintf(why, sz, "%.200s changed", es);
			return -1;
		}
		if (e->size != base->e[j].size) {
			int k;

			for (k = 0; k < m->nr; k++)
				if (!strcmp(m->n[k].rel, e->rel))
					break;
			if (k == m->nr || od_fill(rfd, &m->n[k])) {
				snprintf(why, sz, "cannot refill %.200s", e->rel);
				return -1;
			}
			done |= OD_TRUNCATED;
		}
		i++;
		j++;
	}
	return done;
}

/* ------------------------------------------------------------------ */
/* The executor: one process with the credentials under test           */
/* ------------------------------------------------------------------ */
/*
 * It holds the channel (opened after it took its credentials, so the
 * channel's and the grant's credentials are its own) and the two jail
 * descriptors (opened before, like a launcher would hand them over), and
 * runs a whole case per request, one round trip: openat2 on copy B (the
 * oracle, with its O_PATH probes), then capchan's OPEN on copy A.  The
 * driver stays root to build, check and repair the trees.
 */
enum { OD_X_CASE = 1, OD_X_CAPS };

enum od_group { OD_G_LOOKUP, OD_G_CREATE, OD_G_TARGETED };

/* The DIRs a case may open beneath: full, without CREATE, read-only. */
static const uint64_t od_dir_rights[] = {
	R_ALL,
	R_ALL & ~R_CREATE,
	R_LOOKUP | R_READ | R_STAT | R_SEEK | R_CREATE,
};
static const char *const od_dir_names[] = { "full", "nocreate", "readonly" };

struct od_case {
	uint32_t flags;
	int dirkind;
	uint64_t mode;
	uint64_t rights;
	char path[OD_PATH];
};

struct od_req {
	int op;
	int oracle;		/* no capability rule decided up front */
	struct od_case c;
};

struct od_res {
	int err;		/* 0, or a positive errno */
	int aux;		/* STAT/fstat or CLOSE failed with this errno */
	uint64_t dev;
	uint64_t ino;
	uint32_t mode;
	uint32_t pad;
};

struct od_rep {
	struct od_res cap;	/* capchan on copy A */
	struct od_res ora;	/* openat2 on copy B */
	int rule;		/* 3 or 4 if the probes decided, else 0 */
	int retried;		/* EISDIR asked again O_RDONLY */
};

struct od_exec {
	pid_t pid;
	int sock;
};

static int od_access(uint64_t rights)
{
	if ((rights & R_READ) && (rights & R_WRITE))
		return O_RDWR;
	if (rights & R_WRITE)
		return O_WRONLY;
	return O_RDONLY;
}

static void od_exec_capchan(int ch, const uint32_t *dirs,
			    const struct od_case *c, struct od_res *res)
{
	struct capchan_stat st;
	struct capchan_sqe s;
	int h, ret;

	cc_sqe(&s, CAPCHAN_OP_OPEN, dirs[c->dirkind]);
	s.addr = (uintptr_t)c->path;
	s.op_flags = c->flags;
	s.off = c->mode;
	s.rights = c->rights;
	h = cc_invoke(ch, &s);
	if (h < 0) {
		res->err = -h;
		return;
	}
	cc_sqe(&s, CAPCHAN_OP_STAT, h);
	s.addr = (uintptr_t)&st;
	s.len = sizeof(st);
	ret = cc_invoke(ch, &s);
	if (ret < 0) {
		res->aux = -ret;
	} else {
		res->dev = st.dev;
		res->ino = st.ino;
		res->mode = st.mode;
	}
	cc_sqe(&s, CAPCHAN_OP_CLOSE, h);
	ret = cc_invoke(ch, &s);
	if (ret < 0 && !res->aux)
		res->aux = -ret;
}

static void od_exec_openat2(int dfd, const char *path, uint32_t flags,
			    uint64_t mode, struct od_res *res)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = mode,
		.resolve = OD_RESOLVE,
	};
	struct stat st;
	int fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));

	memset(res, 0, sizeof(*res));
	if (fd < 0) {
		res->err = errno;
		return;
	}
	if (fstat(fd, &st)) {
		res->aux = errno;
	} else {
		res->dev = st.st_dev;
		res->ino = st.st_ino;
		res->mode = st.st_mode;
	}
	close(fd);
}

/*
 * What capchan must answer, from openat2: rules 3 and 4 from O_PATH
 * probes, which open nothing, else the open itself, asked again O_RDONLY
 * if only a write access mode on a directory made it EISDIR.  The open is
 * never tried on a FIFO (rule 3 decided first, or O_CREAT|O_EXCL, which
 * opens nothing that exists), so it cannot block.
 */
static void od_exec_oracle(int dfd, const struct od_case *c,
			   struct od_rep *rep)
{
	/* O_CREAT|O_EXCL never follows the last link, in openat2 either */
	bool nofollow = (c->flags & O_NOFOLLOW) ||
			(c->flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
	int acc = od_access(c->rights);
	struct od_res probe;

	od_exec_openat2(dfd, c->path, O_PATH | (nofollow ? O_NOFOLLOW : 0) |
			(c->flags & O_DIRECTORY), 0, &probe);
	if (!probe.err && !S_ISREG(probe.mode) && !S_ISDIR(probe.mode) &&
	    !S_ISLNK(probe.mode) &&
	    (c->flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL)) {
		rep->rule = 3;
		rep->ora.err = EINVAL;
		return;
	}
	if ((c->flags & (O_CREAT | O_EXCL | O_NOFOLLOW)) == O_CREAT &&
	    probe.err == ENOENT) {
		od_exec_openat2(dfd, c->path, O_PATH | O_NOFOLLOW, 0, &probe);
		if (!probe.err && S_ISLNK(probe.mode)) {
			rep->rule = 4;
			rep->ora.err = ELOOP;
			return;
		}
	}
	od_exec_openat2(dfd, c->path, c->flags | acc, c->mode, &rep->ora);
	if (rep->ora.err == EISDIR && acc != O_RDONLY) {
		rep->retried = 1;
		od_exec_openat2(dfd, c->path, c->flags | O_RDONLY, c->mode,
				&rep->ora);
	}
}

static int od_derive(int ch, uint32_t h, uint64_t rights)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_DERIVE, h);
	s.rights = rights;
	return cc_invoke(ch, &s);
}

static void __attribute__((noreturn))
od_exec_main(int sock, const char *ja, const char *jb, uid_t uid, gid_t gid,
	     mode_t mask)
{
	struct od_req *q = malloc(sizeof(*q));
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	uint32_t dirs[CC_ARRAY_SIZE(od_dir_rights)];
	struct od_rep rep = { 0 };
	int da, db, ch = -1, ret, err = 0;

	da = open(ja, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	db = open(jb, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!q || !fi)
		err = ENOMEM;
	else if (da < 0 || db < 0)
		err = errno;
	else if (uid && (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
			 setresuid(uid, uid, uid)))
		err = errno;
	umask(mask);
	if (!err) {
		ch = cc_open_dev();
		if (ch < 0)
			err = -ch;
	}
	for (size_t i = 0; !err && i < CC_ARRAY_SIZE(od_dir_rights); i++) {
		ret = i ? od_derive(ch, dirs[0], od_dir_rights[i]) :
			  cc_grant(ch, da, od_dir_rights[0], NULL);
		if (ret < 0)
			err = -ret;
		else
			dirs[i] = ret;
	}
	rep.cap.err = err;
	if (send(sock, &rep, sizeof(rep), 0) != sizeof(rep) || err)
		_exit(1);
	while (recv(sock, q, sizeof(*q), 0) == sizeof(*q)) {
		memset(&rep, 0, sizeof(rep));
		q->c.path[sizeof(q->c.path) - 1] = '\0';
		if (q->op == OD_X_CASE) {
			if (q->oracle)
				od_exec_oracle(db, &q->c, &rep);
			od_exec_capchan(ch, dirs, &q->c, &rep.cap);
		} else if (q->op == OD_X_CAPS) {
			ret = cc_read_fdinfo(ch, fi);
			rep.cap.err = ret < 0 ? -ret : 0;
			rep.cap.dev = fi->caps;
		} else {
			rep.cap.err = ENOSYS;
		}
		if (send(sock, &rep, sizeof(rep), 0) != sizeof(rep))
			_exit(1);
	}
	_exit(0);
}

static int od_exec_start(struct od_exec *x, const char *ja, const char *jb,
			 uid_t uid, gid_t gid, mode_t mask)
{
	struct od_rep rep;
	int sv[2];

	x->pid = -1;
	x->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	x->pid = fork();
	if (x->pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (!x->pid) {
		close(sv[0]);
		od_exec_main(sv[1], ja, jb, uid, gid, mask);
	}
	close(sv[1]);
	x->sock = sv[0];
	if (recv(x->sock, &rep, sizeof(rep), 0) != sizeof(rep))
		return -EIO;
	return -rep.cap.err;
}

static void od_exec_stop(struct od_exec *x)
{
	if (x->sock >= 0)
		close(x->sock);
	if (x->pid > 0)
		cc_wait_child(x->pid);
	x->sock = x->pid = -1;
}

static int od_call(struct od_exec *x, const struct od_req *q,
		   struct od_rep *rep)
{
	if (send(x->sock, q, sizeof(*q), 0) != sizeof(*q) ||
	    recv(x->sock, rep, sizeof(*rep), 0) != sizeof(*rep))
		return -EIO;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

/*
 * A cheap fingerprint of a copy: free inodes and blocks of its own tmpfs
 * and of its nested one.  Creating a file takes an inode, truncating one
 * of the (never empty) files frees a block; only when the fingerprint
 * moved are the trees walked, compared and repaired.
 */
struct od_fp {
	unsigned long long v[4];
};

/* An outcome: 0 or a positive errno, and for success what was reached. */
struct od_out {
	int err;
	char where[OD_ENT_REL + 32];
};

struct od_class {
	char key[192];
	unsigned int count;
	char example[1024];
};

struct od_ctx {
	struct od_rng r;
	uint64_t seed;
	const char *group;
	enum od_group kind;
	uid_t uid;
	gid_t gid;
	char base[PATH_MAX];
	char root[2][PATH_MAX + 8];	/* A: capchan's copy, B: openat2's */
	char jail[2][PATH_MAX + 16];
	int rfd[2];			/* the copies' roots */
	int mfd[2];			/* their nested mounts */
	struct od_fp fp[2];		/* what the copies look like at rest */
	struct od_model *m;
	struct od_state *st_base[2], *st_post[2];
	struct od_exec x;
	struct od_req q;		/* q.c: the case being run */
	int tree, ncase;
	char err[256];			/* an infrastructure failure */
	/* counts */
	unsigned int run, matched, excepted, mismatched, shown;
	unsigned int rule[5], retried, created, truncated, rebuilt;
	unsigned int outcome[160];	/* expected outcomes by errno, 0 = ok */
	struct od_class cls[OD_MAX_CLASSES];
	int ncls;
};

static const char *od_errname(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "ok";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ETXTBSY: return "ETXTBSY";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ELOOP: return "ELOOP";
	case ESTALE: return "ESTALE";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EKEYREVOKED: return "EKEYREVOKED";
	case ENOSYS: return "ENOSYS";
	}
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void od_flags_str(uint32_t f, char *o, size_t sz)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ O_CREAT, "O_CREAT" }, { O_EXCL, "O_EXCL" },
		{ O_TRUNC, "O_TRUNC" }, { O_APPEND, "O_APPEND" },
		{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
		{ O_NONBLOCK, "O_NONBLOCK" },
	};
	size_t len = 0;

	o[0] = '\0';
	for (size_t i = 0; i < CC_ARRAY_SIZE(names); i++) {
		if (!(f & names[i].bit))
			continue;
		len += snprintf(o + len, sz - len, "%s%s", len ? "|" : "",
				names[i].name);
		f &= ~names[i].bit;
	}
	if (f)
		len += snprintf(o + len, sz - len, "%s%#o", len ? "|" : "", f);
	if (!len)
		snprintf(o, sz, "0");
}

static void od_rights_str(uint64_t r, char *o, size_t sz)
{
	static const char letters[] = "RWSTYMLCDGV";	/* bit order */
	size_t len = 0;

	for (int i = 0; letters[i]; i++)
		if (r & (1ULL << i))
			o[len++] = letters[i];
	o[len] = '\0';
	snprintf(o + len, sz - len, "(%#llx)", (unsigned long long)r);
}

/* A path for a log line: long runs of one character or of "./" shortened. */
static void od_path_str(const char *p, char *o, size_t sz)
{
	size_t len = 0;

	len += snprintf(o, sz, "\"");
	while (*p && len + 24 < sz) {
		size_t n = 1;

		while (p[n] == p[0])
			n++;
		if (n > 12) {
			len += snprintf(o + len, sz - len, "%c{%zu}", p[0], n);
			p += n;
			continue;
		}
		for (n = 0; p[2 * n] == '.' && p[2 * n + 1] == '/'; n++)
			;
		if (n > 6) {
			len += snprintf(o + len, sz - len, "(./){%zu}", n);
			p += 2 * n;
			continue;
		}
		if (*p >= 0x20 && *p < 0x7f)
			o[len++] = *p;
		else
			len += snprintf(o + len, sz - len, "\\x%02x",
					(unsigned char)*p);
		p++;
	}
	snprintf(o + len, sz - len, "\"");
}

/* Append to a path being built; false if it would not fit. */
static bool od_cat(char *o, size_t sz, const char *s)
{
	size_t len = strlen(o), n = strlen(s);

	if (len + n + 1 > sz)
		return false;
	memcpy(o + len, s, n + 1);
	return true;
}

static int od_rand_child(struct od_rng *r, const struct od_model *m, int dir)
{
	int kids[OD_MAX_NODES], n = 0;

	for (int i = dir + 1; i < m->nr; i++)
		if (m->n[i].parent == dir)
			kids[n++] = i;
	return n ? kids[od_rn(r, n)] : -1;
}

/* The directory a walk is in after naming node @i, or -1 if unknown. */
static int od_descend(const struct od_model *m, int i)
{
	if (m->n[i].type == OD_LNK && m->n[i].tnode >= 0)
		i = m->n[i].tnode;
	return m->n[i].type == OD_DIR ? i : -1;
}

/* A random walk from node @start, mostly over names that exist. */
static void od_walk_path(struct od_ctx *x, int start, char *o, size_t sz)
{
	static const char *const fresh[] = { "new", "nx", "n2" };
	struct od_rng *r = &x->r;
	const struct od_model *m = x->m;
	int cur = start, n = 1 + od_rn(r, 4), c;

	o[0] = '\0';
	if (od_pct(r, 5))
		od_cat(o, sz, "./");
	if (start != m->jail)
		od_cat(o, sz, od_jrel(m, start));
	for (int i = 0; i < n; i++) {
		unsigned int p = od_rn(r, 100);
		const char *name;
		int next = -1;

		/* mostly stop at a name that is no directory */
		if (i && cur < 0 && od_pct(r, 75))
			break;
		/* ".." from the jail itself is rarely worth a case */
		if (cur == m->jail && p >= 69 && p < 78 && od_pct(r, 70))
			p = 0;
		if (o[0] && o[strlen(o) - 1] != '/')
			od_cat(o, sz, od_pct(r, 6) ? "//" : "/");
		if (p < 62 && cur >= 0 && (c = od_rand_child(r, m, cur)) >= 0) {
			name = od_base(&m->n[c]);
			next = od_descend(m, c);
		} else if (p < 69) {
			name = ".";
			next = cur;
		} else if (p < 78) {
			name = "..";
			next = cur > m->jail ? m->n[cur].parent : -1;
		} else if (p < 90) {
			c = od_pick_node(r, m, -1, -1);
			name = od_base(&m->n[c]);
			next = od_descend(m, c);
		} else {
			name = OD_PICK(r, fresh);
		}
		od_cat(o, sz, name);
		cur = next;
	}
	/* creation wants a last name that does not exist yet */
	if (x->kind != OD_G_LOOKUP && cur >= 0 && od_pct(r, 35)) {
		od_cat(o, sz, "/");
		od_cat(o, sz, OD_PICK(r, fresh));
	}
	if (od_pct(r, 10))
		od_cat(o, sz, "/");
	else if (od_pct(r, 2))
		od_cat(o, sz, "/.");
}

static void od_gen_path(struct od_ctx *x, char *o, size_t sz)
{
	static const char *const absolute[] = {
		"/", "//", "/etc/passwd", "/proc/self/root", "/usr",
	};
	struct od_rng *r = &x->r;
	const struct od_model *m = x->m;
	unsigned int p = od_rn(r, 1000);
	int start = m->jail;

	if (x->kind == OD_G_TARGETED) {
		unsigned int t = od_rn(r, 100);

		if (t < 35)
			start = m->stk;
		else if (t < 55)
			start = m->stg;
		else if (t < 75)
			start = m->mnt;
		else if (t < 85 && m->chain >= 0)
			start = m->chain - od_rn(r, 3);	/* k40, k39, k38 */
	}
	if (p < 8) {
		o[0] = '\0';
	} else if (p < 20) {
		snprintf(o, sz, "%s", OD_PICK(r, absolute));
	} else if (p < 32) {
		/* absolute, naming something beneath: still not allowed */
		char tail[512];

		od_walk_path(x, start, tail, sizeof(tail));
		o[0] = '\0';
		if (!od_cat(o, sz, x->jail[0]) || !od_cat(o, sz, "/") ||
		    !od_cat(o, sz, tail))
			snprintf(o, sz, "/");
	} else if (p < 42) {
		/* a last or middle component around NAME_MAX */
		char comp[NAME_MAX + 32];
		size_t n = NAME_MAX - 4 + od_rn(r, 9);

		od_walk_path(x, start, o, sz);
		memset(comp, 'x', n);
		comp[n] = '\0';
		od_cat(o, sz, o[0] && o[strlen(o) - 1] != '/' ? "/" : "");
		od_cat(o, sz, comp);
		if (od_pct(r, 30))
			od_cat(o, sz, "/f");
	} else if (p < 52) {
		/* paths around PATH_MAX, padded in front with "./" */
		static const size_t lens[] = {
			PATH_MAX - 2, PATH_MAX - 1, PATH_MAX, PATH_MAX + 7,
		};
		char tail[512];
		size_t want = OD_PICK(r, lens), have, pad;

		od_walk_path(x, start, tail, sizeof(tail));
		have = strlen(tail);
		pad = want > have + 3 ? want - have : 0;
		o[0] = '\0';
		if (pad & 1) {
			od_cat(o, sz, ".//");
			pad -= 3;
		}
		for (; pad; pad -= 2)
			od_cat(o, sz, "./");
		od_cat(o, sz, tail);
	} else {
		od_walk_path(x, start, o, sz);
	}
}

static void od_gen_case(struct od_ctx *x, struct od_case *c)
{
	static const uint32_t bad_flags[] = {
		O_RDWR, O_WRONLY, O_CLOEXEC, O_SYNC, O_PATH, O_TMPFILE,
		O_NOCTTY, O_DSYNC, O_NOATIME, O_DIRECT, FASYNC,
	};
	static const uint64_t modes[] = {
		0644, 0644, 0600, 0666, 0444, 0000, 0777, 0755, 0640, 0200,
		01644, 01777,
	};
	static const uint64_t setid_modes[] = { 04755, 02755, 06777, 04000 };
	static const uint64_t extra[] = {
		R_SEEK, R_SYNC, R_MMAP, R_LOOKUP, R_CREATE, R_DERIVE,
		R_DELEGATE, R_REVOKE,
	};
	/* per group: O_CREAT O_EXCL O_TRUNC O_APPEND O_DIRECTORY O_NOFOLLOW O_NONBLOCK */
	static const unsigned int pct[][7] = {
		[OD_G_LOOKUP]	= { 0, 5, 0, 15, 20, 25, 15 },
		[OD_G_CREATE]	= { 75, 35, 35, 10, 8, 20, 10 },
		[OD_G_TARGETED]	= { 45, 20, 15, 10, 15, 25, 10 },
	};
	static const uint32_t bits[7] = {
		O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW,
		O_NONBLOCK,
	};
	struct od_rng *r = &x->r;
	unsigned int p = od_rn(r, 1000), d;

	c->flags = 0;
	for (int i = 0; i < 7; i++)
		if (od_pct(r, pct[x->kind][i]))
			c->flags |= bits[i];
	c->rights = R_STAT;
	if (od_pct(r, 60))
		c->rights |= R_READ;
	if (od_pct(r, (c->flags & O_TRUNC) ? 85 : 45))
		c->rights |= R_WRITE;
	for (size_t i = 0; i < CC_ARRAY_SIZE(extra); i++)
		if (od_pct(r, 12))
			c->rights |= extra[i];
	c->mode = 0;
	if (c->flags & O_CREAT)
		c->mode = od_pct(r, 3) ? OD_PICK(r, setid_modes) :
					 OD_PICK(r, modes);
	/* a few for rule 2 */
	if (p < 6)
		c->flags |= OD_PICK(r, bad_flags);
	else if (p < 10)
		c->rights |= R_UNKNOWN << od_rn(r, 4);
	else if (p < 14)
		c->mode = (c->flags & O_CREAT) ? 010000 | OD_PICK(r, modes) :
						 OD_PICK(r, modes) | 1;
	d = od_rn(r, 100);
	c->dirkind = d < 92 ? 0 : d < 96 ? 1 : 2;
	od_gen_path(x, c->path, sizeof(c->path));
}

/* ------------------------------------------------------------------ */
/* One case                                                            */
/* ------------------------------------------------------------------ */

/* Capability rules 1 and 2, and openat2's own up-front -EINVAL. */
static int od_upfront(const struct od_case *c, int *rule)
{
	uint64_t dr = od_dir_rights[c->dirkind];

	if ((c->flags & ~OD_OPEN_FLAGS) || (c->rights & ~R_ALL) ||
	    (!(c->flags & O_CREAT) && c->mode) ||
	    ((c->flags & O_CREAT) && (c->mode & ~07777ULL))) {
		*rule = 2;
		return EINVAL;
	}
	if ((c->flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return EINVAL;	/* openat2 says so too, before anything */
	if ((c->rights & ~dr) || ((c->flags & O_CREAT) && !(dr & R_CREATE)) ||
	    ((c->flags & O_TRUNC) && !(c->rights & R_WRITE)) ||
	    ((c->flags & O_CREAT) && (c->mode & (S_ISUID | S_ISGID)))) {
		*rule = 1;
		return EPERM;
	}
	return 0;
}

/* Name the inode a side reached: its path in that side's copy. */
static void od_where(const struct od_state *s, const struct od_res *res,
		     char *o, size_t sz)
{
	const struct od_ent *e = od_find_ino(s, res->dev, res->ino);

	if (e)
		snprintf(o, sz, "%s", e->rel);
	else
		snprintf(o, sz, "?dev %#llx ino %llu (not in the tree)",
			 (unsigned long long)res->dev,
			 (unsigned long long)res->ino);
}

static void od_out_str(const struct od_out *o, char *buf, size_t sz)
{
	if (o->err)
		snprintf(buf, sz, "%s", od_errname(o->err));
	else
		snprintf(buf, sz, "ok %s", o->where);
}

/* A coarse kind of case, to group mismatches by. */
static const char *od_label(const struct od_case *c)
{
	const char *p = c->path, *last = strrchr(p, '/');
	size_t n = strlen(p);

	last = last ? last + 1 : p;
	if ((c->flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return "O_CREAT|O_DIRECTORY";
	if ((c->flags & O_CREAT) && n && p[n - 1] == '/')
		return "O_CREAT, trailing slash";
	if ((c->flags & O_CREAT) && (!strcmp(last, ".") || !strcmp(last, "..")))
		return "O_CREAT, last . or ..";
	if ((c->flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return "O_CREAT|O_EXCL";
	if (c->flags & O_CREAT)
		return "O_CREAT";
	if (c->flags & O_TRUNC)
		return "O_TRUNC";
	if (c->flags & O_DIRECTORY)
		return "O_DIRECTORY";
	return "no O_CREAT/O_TRUNC/O_DIRECTORY";
}

static void od_mismatch(struct od_ctx *x, const struct od_case *c,
			const struct od_out *got, const struct od_out *exp,
			int rule, const char *state)
{
	char fl[160], rt[64], ps[600], gs[OD_ENT_REL + 64], es[OD_ENT_REL + 64];
	char line[4096], key[sizeof(x->cls[0].key)];
	struct od_class *k = NULL;

	od_flags_str(c->flags, fl, sizeof(fl));
	od_rights_str(c->rights, rt, sizeof(rt));
	od_path_str(c->path, ps, sizeof(ps));
	od_out_str(got, gs, sizeof(gs));
	od_out_str(exp, es, sizeof(es));
	snprintf(line, sizeof(line),
		 "seed=%#llx group=%s uid=%u tree=%d case=%d path=%s flags=%s mode=%#llo rights=%s dir=%s: capchan %s, %s %s%s%.900s",
		 (unsigned long long)x->seed, x->group, (unsigned)x->uid,
		 x->tree, x->ncase, ps, fl, (unsigned long long)c->mode, rt,
		 od_dir_names[c->dirkind], gs,
		 rule ? "expected (rule)" : "openat2", es,
		 state ? "; tree: " : "", state ? state : "");
	if (rule)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " [rule %d]", rule);
	x->mismatched++;
	if (x->shown++ < OD_MAX_SHOWN)
		ksft_print_msg("MISMATCH %s\n", line);

	/* classes: what kind of case, and both errnos */
	snprintf(key, sizeof(key), "%s: capchan %s, expected %s%s",
		 od_label(c),
		 got->err ? od_errname(got->err) : "ok",
		 exp->err ? od_errname(exp->err) : "ok",
		 state ? " (tree differs)" :
		 !got->err && !exp->err ? " (other inode)" : "");
	for (int i = 0; i < x->ncls; i++)
		if (!strcmp(x->cls[i].key, key))
			k = &x->cls[i];
	if (!k && x->ncls < OD_MAX_CLASSES) {
		k = &x->cls[x->ncls++];
		snprintf(k->key, sizeof(k->key), "%s", key);
		snprintf(k->example, sizeof(k->example), "%s", line);
	}
	if (k)
		k->count++;
}

static int od_fp_read(struct od_ctx *x, int s, struct od_fp *fp)
{
	struct statfs a, b;

	if (fstatfs(x->rfd[s], &a) || fstatfs(x->mfd[s], &b))
		return -errno;
	fp->v[0] = a.f_ffree;
	fp->v[1] = a.f_bfree;
	fp->v[2] = b.f_ffree;
	fp->v[3] = b.f_bfree;
	return 0;
}

static int od_tree_up(struct od_ctx *x)
{
	int ret;

	for (int s = 0; s < 2; s++) {
		ret = od_build(x->m, x->root[s]);
		if (ret) {
			snprintf(x->err, sizeof(x->err), "building %s: %s",
				 x->root[s], strerror(-ret));
			return ret;
		}
		x->rfd[s] = open(x->root[s], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (x->rfd[s] < 0)
			return -errno;
		x->mfd[s] = openat(x->rfd[s], x->m->n[x->m->mnt].rel,
				   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (x->mfd[s] < 0)
			return -errno;
		od_walk(x->rfd[s], x->st_base[s]);
		ret = od_fp_read(x, s, &x->fp[s]);
		if (ret)
			return ret;
	}
	if (od_state_diff(x->st_base[0], x->st_base[1], x->err, sizeof(x->err)))
		return -EUCLEAN;
	ret = od_exec_start(&x->x, x->jail[0], x->jail[1], x->uid, x->gid,
			    x->m->umask);
	if (ret)
		snprintf(x->err, sizeof(x->err), "executor: %s", strerror(-ret));
	return ret;
}

static void od_tree_down(struct od_ctx *x)
{
	od_exec_stop(&x->x);
	for (int s = 0; s < 2; s++) {
		if (x->mfd[s] >= 0)
			close(x->mfd[s]);
		if (x->rfd[s] >= 0)
			close(x->rfd[s]);
		x->rfd[s] = x->mfd[s] = -1;
		od_destroy(x->root[s]);
	}
}

/*
 * After a case: if either copy's fingerprint moved, walk both, compare
 * them, and put both back.  Returns 1 if the trees differ (@diff says
 * how), 0 if not, -errno if the test broke down.
 */
static int od_check_trees(struct od_ctx *x, bool *walked, char *diff,
			  size_t sz)
{
	struct od_fp fp[2];
	int ret, bad, undo[2];

	*walked = false;
	for (int s = 0; s < 2; s++) {
		ret = od_fp_read(x, s, &fp[s]);
		if (ret)
			return ret;
	}
	if (!memcmp(fp, x->fp, sizeof(fp)))
		return 0;
	*walked = true;
	od_walk(x->rfd[0], x->st_post[0]);
	od_walk(x->rfd[1], x->st_post[1]);
	bad = od_state_diff(x->st_post[0], x->st_post[1], diff, sz);
	for (int s = 0; s < 2; s++)
		undo[s] = od_restore(x->m, x->rfd[s], x->st_post[s],
				     x->st_base[s], x->err, sizeof(x->err));
	if (undo[1] > 0) {
		x->created += !!(undo[1] & OD_CREATED);
		x->truncated += !!(undo[1] & OD_TRUNCATED);
	}
	if (undo[0] < 0 || undo[1] < 0) {
		/* something else changed: this tree starts afresh */
		ksft_print_msg("%s tree %d case %d: rebuilding the trees: %s\n",
			       x->group, x->tree, x->ncase, x->err);
		x->err[0] = '\0';
		x->rebuilt++;
		od_tree_down(x);
		ret = od_tree_up(x);
		if (ret)
			return ret;
	}
	for (int s = 0; s < 2; s++) {
		ret = od_fp_read(x, s, &x->fp[s]);
		if (ret)
			return ret;
	}
	return bad;
}

/* Run one case; 0, or -errno if the test itself broke down. */
static int od_case(struct od_ctx *x)
{
	const struct od_case *c = &x->q.c;
	const struct od_state *sa = x->st_base[0], *sb = x->st_base[1];
	struct od_out exp = { 0 }, got = { 0 };
	char diff[2 * OD_ENT_REL + 128];
	struct od_rep rep;
	int rule = 0, ret, state_bad;
	bool walked, ok;

	x->run++;
	exp.err = od_upfront(c, &rule);
	x->q.op = OD_X_CASE;
	x->q.oracle = !exp.err;
	ret = od_call(&x->x, &x->q, &rep);
	if (ret)
		return ret;
	if (x->q.oracle) {
		exp.err = rep.ora.err;
		rule = rep.rule;
		x->retried += rep.retried;
	}
	got.err = rep.cap.err;

	/* before the trees are repaired: a created file must still be seen */
	state_bad = od_check_trees(x, &walked, diff, sizeof(diff));
	if (state_bad < 0)
		return state_bad;
	if (walked) {
		sa = x->st_post[0];
		sb = x->st_post[1];
	}
	if (!got.err)
		od_where(sa, &rep.cap, got.where, sizeof(got.where));
	if (!exp.err)
		od_where(sb, &rep.ora, exp.where, sizeof(exp.where));
	if (rep.cap.aux) {
		/* the handle was made but STAT or CLOSE on it failed */
		snprintf(got.where + strlen(got.where),
			 sizeof(got.where) - strlen(got.where),
			 " (STAT/CLOSE: %s)", od_errname(rep.cap.aux));
	}

	x->outcome[exp.err < (int)CC_ARRAY_SIZE(x->outcome) ? exp.err : 0]++;
	ok = got.err == exp.err && !state_bad && !rep.cap.aux &&
	     !rep.ora.aux && got.err != EAGAIN &&
	     (got.err || !strcmp(got.where, exp.where));
	if (ok && rule) {
		x->excepted++;
		x->rule[rule]++;
	} else if (ok) {
		x->matched++;
	} else {
		od_mismatch(x, c, &got, &exp, rule, state_bad ? diff : NULL);
	}
	return 0;
}

static int od_caps_left(struct od_ctx *x)
{
	struct od_rep rep;

	memset(&x->q, 0, sizeof(x->q));
	x->q.op = OD_X_CAPS;
	if (od_call(&x->x, &x->q, &rep) || rep.cap.err)
		return -1;
	return (int)rep.cap.dev;
}

static void od_report(struct od_ctx *x, double secs)
{
	char hist[1024];
	size_t len = 0;

	ksft_print_msg("%s uid %u: %u cases, %u matched, %u expected-exception (rule1 %u, rule2 %u, rule3 %u, rule4 %u), %u mismatched; %.1f s\n",
		       x->group, (unsigned)x->uid, x->run, x->matched,
		       x->excepted, x->rule[1], x->rule[2], x->rule[3],
		       x->rule[4], x->mismatched, secs);
	for (size_t e = 0; e < CC_ARRAY_SIZE(x->outcome); e++)
		if (x->outcome[e])
			len += snprintf(hist + len, sizeof(hist) - len, " %s=%u",
					od_errname(e), x->outcome[e]);
	ksft_print_msg("%s uid %u: expected outcomes:%s; EISDIR asked again O_RDONLY %u; openat2 created %u, truncated %u; trees rebuilt %u\n",
		       x->group, (unsigned)x->uid, hist, x->retried,
		       x->created, x->truncated, x->rebuilt);
	if (x->shown > OD_MAX_SHOWN)
		ksft_print_msg("%u more mismatches not shown\n",
			       x->shown - OD_MAX_SHOWN);
	for (int i = 0; i < x->ncls; i++)
		ksft_print_msg("class %u x [%s] e.g. %s\n", x->cls[i].count,
			       x->cls[i].key, x->cls[i].example);
}

/*
 * One group: OD_TREES random trees, OD_CASES cases on each.  Returns the
 * number of mismatches, or -1 with x->err set if the test broke down.
 */
static int od_run_group(struct od_ctx *x, const char *group,
			enum od_group kind)
{
	double t0 = cc_now();
	int ret = 0, caps;

	x->group = group;
	x->kind = kind;
	x->seed = od_group_seed(group, x->uid);
	x->r.s = x->seed | 1;
	ksft_print_msg("%s uid %u: base seed %#llx (CAPCHAN_DIFF_SEED), group seed %#llx\n",
		       group, (unsigned)x->uid, (unsigned long long)od_seed,
		       (unsigned long long)x->seed);
	for (x->tree = 0; x->tree < OD_TREES && !ret; x->tree++) {
		od_gen_model(&x->r, x->m);
		ret = od_tree_up(x);
		for (x->ncase = 0; !ret && x->ncase < OD_CASES; x->ncase++) {
			od_gen_case(x, &x->q.c);
			ret = od_case(x);
			if (ret && !x->err[0])
				snprintf(x->err, sizeof(x->err),
					 "tree %d case %d: %s", x->tree,
					 x->ncase, strerror(-ret));
		}
		if (!ret) {
			/* the root DIR and the two derived from it */
			caps = od_caps_left(x);
			if (caps != (int)CC_ARRAY_SIZE(od_dir_rights)) {
				snprintf(x->err, sizeof(x->err),
					 "tree %d: %d capabilities left, want %zu",
					 x->tree, caps,
					 CC_ARRAY_SIZE(od_dir_rights));
				ret = -1;
			}
		}
		od_tree_down(x);
	}
	od_report(x, cc_now() - t0);
	return ret ? -1 : (int)x->mismatched;
}

/* ------------------------------------------------------------------ */
/* The tests                                                           */
/* ------------------------------------------------------------------ */

static const char *const od_sysctl[] = {
	"/proc/sys/fs/protected_symlinks",
	"/proc/sys/fs/protected_regular",
};
static const char *const od_sysctl_val[] = { "1", "2" };

FIXTURE(open_diff) {
	struct od_ctx *x;
	char saved[2][32];
	int nset;
};

FIXTURE_VARIANT(open_diff) {
	uid_t uid;
	gid_t gid;
};

FIXTURE_VARIANT_ADD(open_diff, root) {
	.uid = 0,
	.gid = 0,
};

FIXTURE_VARIANT_ADD(open_diff, nobody) {
	.uid = CC_UID_NOBODY,
	.gid = CC_GID_NOGROUP,
};

FIXTURE_SETUP(open_diff)
{
	struct od_ctx *x;

	if (geteuid())
		SKIP(return, "needs root (trees of several owners, mounts)");
	x = calloc(1, sizeof(*x));
	ASSERT_NE(NULL, x);
	self->x = x;
	x->m = calloc(1, sizeof(*x->m));
	ASSERT_NE(NULL, x->m);
	for (int s = 0; s < 2; s++) {
		x->st_base[s] = calloc(1, sizeof(struct od_state));
		x->st_post[s] = calloc(1, sizeof(struct od_state));
		ASSERT_NE(NULL, x->st_base[s]);
		ASSERT_NE(NULL, x->st_post[s]);
		x->rfd[s] = x->mfd[s] = -1;
	}
	x->x.pid = x->x.sock = -1;
	x->uid = variant->uid;
	x->gid = variant->gid;
	/* the nested mounts die with this test's own mount namespace */
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	ASSERT_EQ(0, cc_mkdtemp(x->base, "opendiff"));
	snprintf(x->root[0], sizeof(x->root[0]), "%s/A", x->base);
	snprintf(x->root[1], sizeof(x->root[1]), "%s/B", x->base);
	snprintf(x->jail[0], sizeof(x->jail[0]), "%s/jail", x->root[0]);
	snprintf(x->jail[1], sizeof(x->jail[1]), "%s/jail", x->root[1]);

	/* last: teardown restores these only once setup has completed */
	for (int i = 0; i < 2; i++) {
		int err;
		long long v = cc_read_number(od_sysctl[i], &err);

		if (!err)
			err = cc_write_str(od_sysctl[i], od_sysctl_val[i]);
		if (err) {
			while (self->nset--)
				cc_write_str(od_sysctl[self->nset],
					     self->saved[self->nset]);
			ASSERT_EQ(0, err) TH_LOG("%s", od_sysctl[i]);
		}
		snprintf(self->saved[i], sizeof(self->saved[i]), "%lld", v);
		self->nset = i + 1;
	}
}

FIXTURE_TEARDOWN(open_diff)
{
	struct od_ctx *x = self->x;

	for (int i = 0; i < self->nset; i++)
		cc_write_str(od_sysctl[i], self->saved[i]);
	if (!x)
		return;
	if (x->base[0])
		cc_rm_rf(x->base);
	for (int s = 0; s < 2; s++) {
		free(x->st_base[s]);
		free(x->st_post[s]);
	}
	free(x->m);
	free(x);
}

static void od_group_test(struct __test_metadata *_metadata,
			  struct od_ctx *x, const char *group,
			  enum od_group kind)
{
	int ret;

	if (!x)
		return;	/* setup skipped */
	ret = od_run_group(x, group, kind);
	ASSERT_LE(0, ret) TH_LOG("test broke down: %s", x->err);
	EXPECT_EQ(0, ret) TH_LOG("%d mismatches against openat2 (seed %#llx)",
				 ret, (unsigned long long)x->seed);
}

/* Resolution only: no O_CREAT, no O_TRUNC. */
TEST_F_TIMEOUT(open_diff, lookup, 300)
{
	od_group_test(_metadata, self->x, "lookup", OD_G_LOOKUP);
}

/* Mostly O_CREAT, O_EXCL and O_TRUNC: side effects compared tree to tree. */
TEST_F_TIMEOUT(open_diff, create, 300)
{
	od_group_test(_metadata, self->x, "create", OD_G_CREATE);
}

/*
 * Paths starting in the sticky directories (other users' links and files
 * under protected_symlinks/protected_regular), in the nested mount, and
 * at the long symlink chain.
 */
TEST_F_TIMEOUT(open_diff, sticky_mount_chain, 300)
{
	od_group_test(_metadata, self->x, "sticky_mount_chain", OD_G_TARGETED);
}

TEST_HARNESS_MAIN
