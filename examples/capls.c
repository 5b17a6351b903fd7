// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capls - list a directory tree through a directory capability only.
 *
 *   capls [-d DEPTH] [-b BYTES] DIR
 *   capls --try-unlink NAME DIR
 *
 * Grants DIR to a fresh channel with LOOKUP, LIST and STAT and nothing
 * else, seals the channel, then walks the tree depth-first: READDIR lists a
 * directory, STATAT (not following symbolic links) gives each entry's type
 * and size, and each subdirectory is opened beneath its parent's
 * capability (OPEN, O_DIRECTORY | O_NOFOLLOW, the same three rights) and
 * listed in turn.  One line per entry, sorted by name within a directory:
 * a type letter as ls(1) prints it, the size, the path relative to DIR.
 *
 *   -d DEPTH  list DEPTH levels at most (1: only DIR's own entries)
 *   -b BYTES  READDIR buffer (default 4096; a small one makes the walk go
 *             on from READDIR's cookies more often)
 *
 * A mount point beneath DIR is listed but not crossed: a capability never
 * leaves its file system.  An entry that cannot be examined is reported
 * and the walk goes on; the exit status is then 1 (2 for a usage error).
 *
 * --try-unlink NAME shows attenuation on a directory instead: DIR is
 * granted with REMOVE and DERIVE too, a capability without REMOVE is
 * derived from it, and UNLINK of NAME through that one is attempted.
 * Exit 0 if the module refused it with -EPERM, as the model promises.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capchan.h>

#define LS_RIGHTS	(CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_LIST | \
			 CAPCHAN_RIGHT_STAT)

struct entry {
	char *name;
	unsigned char type;	/* DT_* from READDIR */
};

static struct capchan ch;
static void *dirbuf;
static size_t dirbuf_len = 4096;
static unsigned max_depth = UINT_MAX;
static int status;

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

/* "capls: PATH: WHAT: -EXXX (text)"; the walk goes on, the status is 1 */
static void complain(const char *path, const char *what, int res)
{
	fflush(stdout);		/* keep the message next to the lines before it */
	fprintf(stderr, "capls: %s: %s: -%s (%s)\n", *path ? path : ".", what,
		errname(-res), strerror(-res));
	status = 1;
}

static char type_letter(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:	return 'd';
	case S_IFREG:	return '-';
	case S_IFLNK:	return 'l';
	case S_IFCHR:	return 'c';
	case S_IFBLK:	return 'b';
	case S_IFIFO:	return 'p';
	case S_IFSOCK:	return 's';
	default:	return '?';
	}
}

static char dtype_letter(unsigned char type)
{
	switch (type) {
	case DT_DIR:	return 'd';
	case DT_REG:	return '-';
	case DT_LNK:	return 'l';
	case DT_CHR:	return 'c';
	case DT_BLK:	return 'b';
	case DT_FIFO:	return 'p';
	case DT_SOCK:	return 's';
	default:	return '?';
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		      ((const struct entry *)b)->name);
}

/*
 * The entries of the DIR capability dir, sorted, in a malloc'd array
 * (*out, *count).  Returns 0 or -errno.
 */
static int read_entries(uint32_t dir, struct entry **out, size_t *count)
{
	const struct capchan_dirent *ent;
	struct capchan_dir_iter it;
	struct entry *v = NULL, *bigger;
	size_t n = 0, cap = 0;
	int ret;

	ret = capchan_dir_iter_init(&it, &ch, dir, dirbuf, dirbuf_len);
	while (ret == 0 && (ret = capchan_dir_next(&it, &ent)) == 1) {
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			bigger = realloc(v, cap * sizeof(*v));
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			v = bigger;
		}
		v[n].name = strdup(ent->name);
		if (!v[n].name) {
			ret = -ENOMEM;
			break;
		}
		v[n++].type = ent->type;
		ret = 0;
	}
	if (ret < 0) {
		while (n)
			free(v[--n].name);
		free(v);
		return ret;
	}
	qsort(v, n, sizeof(*v), by_name);
	*out = v;
	*count = n;
	return 0;
}

/* List the DIR capability dir, whose path relative to the top is prefix. */
static void list_dir(uint32_t dir, const char *prefix, unsigned depth)
{
	struct entry *v;
	size_t n, i;
	int ret;

	ret = read_entries(dir, &v, &n);
	if (ret < 0) {
		complain(prefix, "READDIR", ret);
		return;
	}
	for (i = 0; i < n; i++) {
		struct capchan_stat st;
		char *path;

		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "",
			     v[i].name) < 0) {
			complain(prefix, "out of memory", -ENOMEM);
			break;
		}
		/* one component beneath the parent's capability: no re-walk */
		ret = capchan_statat(&ch, dir, v[i].name, &st,
				     CAPCHAN_STATAT_NOFOLLOW);
		if (ret == -EXDEV) {
			/* a lone name can only leave by crossing a mount */
			printf("%c %10s %s  (mount point: not crossed)\n",
			       dtype_letter(v[i].type), "-", path);
		} else if (ret < 0) {
			complain(path, "STATAT", ret);
		} else {
			printf("%c %10llu %s\n", type_letter(st.mode),
			       (unsigned long long)st.size, path);
			if (S_ISDIR(st.mode) && depth < max_depth) {
				int sub = capchan_open_beneath(&ch, dir, v[i].name,
							       O_DIRECTORY | O_NOFOLLOW,
							       0, LS_RIGHTS);

				if (sub < 0) {
					complain(path, "OPEN", sub);
				} else {
					list_dir((uint32_t)sub, path, depth + 1);
					capchan_close(&ch, (uint32_t)sub);
				}
			}
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Grant DIR with rights, then seal: nothing else ever enters the channel. */
static int grant_sealed(const char *path, uint64_t rights)
{
	int dirfd, dir, ret;

	ret = capchan_open_channel(&ch);
	if (ret < 0) {
		fprintf(stderr, "capls: %s: %s\n", CAPCHAN_DEVICE, strerror(-ret));
		return -1;
	}
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "capls: %s: %s\n", path, strerror(errno));
		return -1;
	}
	dir = capchan_grant(&ch, dirfd, rights);
	close(dirfd);	/* the capability keeps the directory open */
	if (dir < 0) {
		fprintf(stderr, "capls: grant %s: -%s (%s)\n", path,
			errname(-dir), strerror(-dir));
		return -1;
	}
	ret = capchan_seal(&ch);
	if (ret < 0) {
		fprintf(stderr, "capls: seal: %s\n", strerror(-ret));
		return -1;
	}
	return dir;
}

static int try_unlink(const char *path, const char *name)
{
	struct capchan_stat st;
	int dir, ro, ret;

	dir = grant_sealed(path, LS_RIGHTS | CAPCHAN_RIGHT_REMOVE |
			   CAPCHAN_RIGHT_DERIVE);
	if (dir < 0)
		return 1;
	printf("capls: granted %s (lookup list stat remove derive), sealed\n",
	       path);
	ro = capchan_derive(&ch, (uint32_t)dir, LS_RIGHTS);
	if (ro < 0) {
		fprintf(stderr, "capls: derive: -%s (%s)\n", errname(-ro),
			strerror(-ro));
		return 1;
	}
	printf("capls: derived a read-only capability (lookup list stat)\n");
	ret = capchan_unlink_beneath(&ch, (uint32_t)ro, name);
	printf("capls: unlink %s through the read-only capability -> %s%s (%s)\n",
	       name, ret < 0 ? "-" : "", ret < 0 ? errname(-ret) : "0",
	       ret < 0 ? strerror(-ret) : "removed");
	if (ret != -EPERM)
		return 1;
	ret = capchan_statat(&ch, (uint32_t)ro, name, &st,
			     CAPCHAN_STATAT_NOFOLLOW);
	if (ret < 0) {
		complain(name, "STATAT", ret);
		return 1;
	}
	printf("capls: %s is still there: %c %llu bytes\n", name,
	       type_letter(st.mode), (unsigned long long)st.size);
	capchan_queue_exit(&ch);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: capls [-d DEPTH] [-b BYTES] DIR\n"
			"       capls --try-unlink NAME DIR\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long min)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > INT_MAX)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "try-unlink", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *unlink_name = NULL;
	int opt, dir;

	while ((opt = getopt_long(argc, argv, "d:b:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			max_depth = (unsigned)number(optarg, 1);
			break;
		case 'b':
			dirbuf_len = number(optarg, CAPCHAN_DIR_BUF_MIN);
			break;
		case 'u':
			unlink_name = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (unlink_name)
		return try_unlink(argv[optind], unlink_name);

	/* 8-byte aligned, so the iterator uses all of it */
	dirbuf = malloc(dirbuf_len);
	if (!dirbuf) {
		fprintf(stderr, "capls: out of memory\n");
		return 1;
	}
	dir = grant_sealed(argv[optind], LS_RIGHTS);
	if (dir < 0)
		return 1;
	list_dir((uint32_t)dir, "", 1);
	capchan_queue_exit(&ch);
	free(dirbuf);
	return status;
}
