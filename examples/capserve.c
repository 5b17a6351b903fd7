// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * capserve - a file server lends one directory, read-only, to a client
 * process running as another user, and takes it back half-way.
 *
 *   capserve [-u UID] DIR FILE
 *
 * The server (run as root) grants DIR to its channel, seals it, derives a
 * handle for the client and forks the client, which becomes UID (default
 * 65534, nobody) with gid UID and no supplementary groups.  The client
 * opens a channel of its own and enters the capability-only sandbox
 * (capchan_sandbox_enter(3)): open("/etc/passwd") fails with EPERM from
 * then on.  The server sends it a read-only capability to DIR over a UNIX
 * socket (capchan_async_send_cap(3): EXPORT + SCM_RIGHTS; the client:
 * capchan_async_recv_cap(3), SCM_RIGHTS + IMPORT).  The client lists DIR,
 * is refused an OPEN of FILE for writing, opens FILE for reading and reads
 * its first half, then tells the server it is mid-way.  The server REVOKEs
 * the handle it derived for the client: the client's next READ of FILE,
 * and its next READDIR of DIR, fail with -EKEYREVOKED.  The server's own
 * grant is untouched and still reads FILE.
 *
 * Every operation on a capability runs with the credentials of whoever
 * granted it (capchan(7), Credentials), so the client reads as the
 * server, root, wherever the capability travels: DIR may be one that UID
 * could never open itself (mode 0700, owned by root), and FILE may be
 * readable by root only.  What the client gets is exactly what was lent:
 * one directory, read-only, for as long as the server wants.
 *
 * Each step prints one line, "server: ..." or "client(uid N): ...".
 * Exit status: 0 if every outcome was the expected one (open EPERM in the
 * sandbox, OPEN for writing -EPERM, READ ok, then -EKEYREVOKED after
 * REVOKE, the server's own READ ok), 1 otherwise, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <capchan.h>

/* What the client may do with DIR: look up, list, stat, read. */
#define LENT_RIGHTS	(CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_LIST |	\
			 CAPCHAN_RIGHT_STAT | CAPCHAN_RIGHT_READ |	\
			 CAPCHAN_RIGHT_SEEK)

/* One-byte messages on the socket, besides the capability itself. */
#define MSG_READY	'R'	/* client: in the sandbox, send the capability */
#define MSG_MIDWAY	'M'	/* client: half of FILE read */
#define MSG_REVOKED	'V'	/* server: REVOKE done, read on */

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

static void rights_str(uint64_t r, char *buf, size_t len)
{
	static const char *const names[] = {
		"read", "write", "seek", "stat", "sync", "mmap", "lookup",
		"create", "derive", "delegate", "revoke", "list", "remove",
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (r & (1ULL << i) && n < len)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      names[i]);
}

static int send_byte(int sock, char c)
{
	return send(sock, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* The next byte from the peer, or -1 (closed, or an error). */
static int recv_byte(int sock)
{
	char c;
	ssize_t n;

	do {
		n = recv(sock, &c, 1, 0);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? (unsigned char)c : -1;
}

/* Show up to the first line of buf (n bytes) as one quoted string. */
static void print_quoted(const char *who, const char *what, const char *buf,
			 ssize_t n)
{
	int len = (int)strcspn(buf, "\n");

	if (len > n)
		len = (int)n;
	printf("%s: %s: \"%.*s%s\"\n", who, what, len, buf,
	       len < n - 1 ? "..." : "");
}

/* ------------------------------------------------------------------ */
/* The client: another user, in the sandbox, holding only what it is lent */
/* ------------------------------------------------------------------ */

static int become(uid_t uid)
{
	if (geteuid() != 0)
		return getuid() == uid ? 0 : -EPERM;
	/* groups first: after setuid() we could not drop them any more */
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		return -errno;
	/* setuid() as root changes every uid: there is no way back */
	if (uid != 0 && setuid(0) == 0)
		return -EPERM;
	return 0;
}

static int client(int sock, uid_t uid, const char *dirpath, const char *file)
{
	const struct capchan_dirent *ent;
	struct capchan_async_future f = { 0 };
	struct capchan_dir_iter it;
	struct capchan_async *q;
	struct capchan_stat st;
	struct capchan ch;
	uint64_t dirbuf[512];
	char who[32], rights[128], list[512], *buf;
	int dir, h, fd, ret, status = 0;
	size_t used = 0;
	ssize_t n, half;

	snprintf(who, sizeof(who), "client(uid %u)", (unsigned)uid);
	ret = become(uid);
	if (ret < 0) {
		printf("%s: cannot become uid %u: %s\n", who, (unsigned)uid,
		       strerror(-ret));
		return 1;
	}
	printf("%s: running as uid %u gid %u, no supplementary groups\n",
	       who, (unsigned)getuid(), (unsigned)getgid());
	fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: open(\"%s\") by path: %s (uid %u may not read it itself)\n",
		       who, dirpath, errname(errno), (unsigned)uid);
	} else {
		printf("%s: open(\"%s\") by path: allowed (uid %u may read it itself too)\n",
		       who, dirpath, (unsigned)uid);
		close(fd);
	}

	/*
	 * The channel first: opening /dev/capchan names a path, which the
	 * sandbox refuses.  It is this user's, charged to this user.
	 */
	ret = capchan_queue_init(8, &ch, 0);
	if (ret < 0) {
		printf("%s: %s: %s\n", who, CAPCHAN_DEVICE, strerror(-ret));
		return 1;
	}
	ret = capchan_async_init(&q, &ch, 8);
	if (ret < 0) {
		printf("%s: async queue: %s\n", who, strerror(-ret));
		return 1;
	}
	printf("%s: opened a channel of its own (before the sandbox: %s is a path)\n",
	       who, CAPCHAN_DEVICE);
	ret = capchan_sandbox_enter(0);
	if (ret < 0) {
		printf("%s: capchan_sandbox_enter: %s\n", who, strerror(-ret));
		return 1;
	}
	printf("%s: entered the capability-only sandbox\n", who);
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == EPERM) {
		printf("%s: open(\"/etc/passwd\") -> EPERM: no path opens any more\n",
		       who);
	} else {
		printf("%s: open(\"/etc/passwd\") -> %s, expected EPERM\n", who,
		       fd < 0 ? errname(errno) : "success");
		status = 1;
	}

	/* ready: the capability may come (the socket is our only line out) */
	if (send_byte(sock, MSG_READY)) {
		printf("%s: the server is gone\n", who);
		return 1;
	}
	ret = capchan_async_recv_cap(q, sock, capchan_async_future_cb, &f);
	if (ret == 0)
		ret = capchan_async_wait(q, &f);
	if (ret == 0)
		ret = (int)f.d.res;
	if (ret < 0) {
		printf("%s: receiving the capability: -%s\n", who, errname(-ret));
		return 1;
	}
	dir = ret;
	ret = capchan_stat(&ch, dir, &st);
	if (ret < 0) {
		printf("%s: STAT of the directory: -%s\n", who, errname(-ret));
		return 1;
	}
	rights_str(st.rights, rights, sizeof(rights));
	printf("%s: received a capability to the directory over the socket: handle 0x%x, rights %s\n",
	       who, dir, rights);

	list[0] = '\0';
	ret = capchan_dir_iter_init(&it, &ch, dir, dirbuf, sizeof(dirbuf));
	while (ret == 0 && (ret = capchan_dir_next(&it, &ent)) == 1) {
		if (used < sizeof(list))
			used += snprintf(list + used, sizeof(list) - used,
					 " %s", ent->name);
		ret = 0;
	}
	if (ret < 0) {
		printf("%s: listing the directory: -%s\n", who, errname(-ret));
		status = 1;
	} else {
		printf("%s: READDIR through the capability:%s\n", who, list);
	}

	h = capchan_open_beneath(&ch, dir, file, 0, 0, CAPCHAN_RIGHT_READ |
				 CAPCHAN_RIGHT_WRITE);
	if (h == -EPERM) {
		printf("%s: OPEN %s for writing -> -EPERM: the capability is read-only\n",
		       who, file);
	} else {
		printf("%s: OPEN %s for writing -> %d, expected -EPERM\n",
		       who, file, h);
		status = 1;
	}
	h = capchan_open_beneath(&ch, dir, file, 0, 0, CAPCHAN_RIGHT_READ |
				 CAPCHAN_RIGHT_SEEK | CAPCHAN_RIGHT_STAT);
	if (h < 0) {
		printf("%s: OPEN %s for reading: -%s\n", who, file,
		       errname(-h));
		return 1;
	}
	ret = capchan_stat(&ch, h, &st);
	if (ret < 0) {
		printf("%s: STAT of %s: -%s\n", who, file, errname(-ret));
		return 1;
	}
	buf = calloc(1, st.size + 1);
	if (!buf) {
		printf("%s: out of memory\n", who);
		return 1;
	}
	/* the first half, at least one byte */
	half = (ssize_t)(st.size + 1) / 2;
	n = capchan_read(&ch, h, buf, half, 0);
	if (n == half) {
		char what[96];

		snprintf(what, sizeof(what), "READ of %s, the first %zd of %llu bytes",
			 file, n, (unsigned long long)st.size);
		print_quoted(who, what, buf, n);
		printf("%s: (%s is mode %04o, owner uid %u: the READ ran with the server's credentials, which the capability carries)\n",
		       who, file, st.mode & 07777, (unsigned)st.uid);
	} else {
		printf("%s: READ of %s gave %zd, expected %zd\n", who, file,
		       n, half);
		status = 1;
	}

	printf("%s: telling the server it is mid-way\n", who);
	if (send_byte(sock, MSG_MIDWAY) || recv_byte(sock) != MSG_REVOKED) {
		printf("%s: the server is gone\n", who);
		return 1;
	}
	n = capchan_read(&ch, h, buf + half, st.size - half + 1, half);
	if (n == -EKEYREVOKED) {
		printf("%s: READ of the rest of %s -> -EKEYREVOKED: the server took the capability back\n",
		       who, file);
	} else {
		printf("%s: READ of the rest of %s gave %zd, expected -EKEYREVOKED\n",
		       who, file, n);
		status = 1;
	}
	ret = capchan_dir_iter_init(&it, &ch, dir, dirbuf, sizeof(dirbuf));
	if (ret == 0)
		ret = capchan_dir_next(&it, &ent);
	if (ret == -EKEYREVOKED) {
		printf("%s: READDIR of the directory -> -EKEYREVOKED\n", who);
	} else {
		printf("%s: READDIR of the directory gave %d, expected -EKEYREVOKED\n",
		       who, ret);
		status = 1;
	}
	free(buf);
	capchan_async_exit(q);
	capchan_queue_exit(&ch);
	return status;
}

/* ------------------------------------------------------------------ */
/* The server: root, holding the grant                                 */
/* ------------------------------------------------------------------ */

static void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: capserve [-u UID] DIR FILE\n"
		"Lend DIR read-only to a client running as UID (default 65534) in the\n"
		"capability-only sandbox; revoke it while the client is half-way\n"
		"through FILE (a path beneath DIR).  Run as root.\n"
		"Exit 0 if every step had the expected outcome, 1 if not, 2: usage.\n");
	exit(status);
}

int main(int argc, char **argv)
{
	struct capchan_async_future f = { 0 };
	struct capchan_async *q;
	struct capchan ch;
	unsigned long v;
	uid_t uid = 65534;
	int sv[2], dirfd, root, lent, h, ret, wstatus, status = 0;
	char rights[128], *end;
	const char *dirpath, *file;
	void *all;
	pid_t pid;
	ssize_t n;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		usage(stdout, 0);
	if (argc > 2 && !strcmp(argv[1], "-u")) {
		errno = 0;
		v = strtoul(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || v >= (uid_t)-1)
			usage(stderr, 2);
		uid = (uid_t)v;
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		usage(stderr, 2);
	dirpath = argv[1];
	file = argv[2];
	if (geteuid() != 0 && getuid() != uid) {
		fprintf(stderr, "capserve: switching the client to uid %u needs root\n",
			(unsigned)uid);
		return 2;
	}
	/* one line at a time, in order, from both processes */
	setvbuf(stdout, NULL, _IOLBF, 0);

	ret = capchan_queue_init(8, &ch, 0);
	if (ret < 0) {
		fprintf(stderr, "capserve: %s: %s\n", CAPCHAN_DEVICE, strerror(-ret));
		return 1;
	}
	dirfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "capserve: %s: %s\n", dirpath, strerror(errno));
		return 1;
	}
	root = capchan_grant(&ch, dirfd, LENT_RIGHTS | CAPCHAN_RIGHT_DERIVE |
			     CAPCHAN_RIGHT_DELEGATE | CAPCHAN_RIGHT_REVOKE);
	close(dirfd);
	if (root < 0) {
		fprintf(stderr, "capserve: grant %s: %s\n", dirpath, strerror(-root));
		return 1;
	}
	ret = capchan_seal(&ch);
	if (ret < 0) {
		fprintf(stderr, "capserve: seal: %s\n", strerror(-ret));
		return 1;
	}
	printf("server(uid %u): granted %s to its channel and sealed it\n",
	       (unsigned)geteuid(), dirpath);
	/*
	 * One handle per client: REVOKE of it takes back everything lent
	 * through it, and nothing else.
	 */
	lent = capchan_derive(&ch, root, LENT_RIGHTS | CAPCHAN_RIGHT_DELEGATE |
			      CAPCHAN_RIGHT_REVOKE);
	if (lent < 0) {
		fprintf(stderr, "capserve: derive: %s\n", strerror(-lent));
		return 1;
	}
	printf("server: derived handle 0x%x for the client\n", lent);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("capserve: socketpair");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("capserve: fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		/*
		 * Our copy of the server's channel holds the root grant: the
		 * client must start with nothing but its end of the socket.
		 */
		capchan_queue_exit(&ch);
		exit(client(sv[1], uid, dirpath, file));
	}
	close(sv[1]);

	ret = capchan_async_init(&q, &ch, 8);
	if (ret < 0) {
		fprintf(stderr, "capserve: async queue: %s\n", strerror(-ret));
		return 1;
	}
	if (recv_byte(sv[0]) != MSG_READY) {
		printf("server: the client did not get ready\n");
		status = 1;
		goto reap;
	}
	rights_str(LENT_RIGHTS, rights, sizeof(rights));
	printf("server: client %d is in the sandbox; sending it a capability to %s with rights %s\n",
	       (int)pid, dirpath, rights);
	ret = capchan_async_send_cap(q, sv[0], lent, LENT_RIGHTS,
				     capchan_async_future_cb, &f);
	if (ret == 0)
		ret = capchan_async_wait(q, &f);
	if (ret == 0)
		ret = (int)f.d.res;
	if (ret < 0) {
		printf("server: sending the capability: -%s\n", errname(-ret));
		status = 1;
		goto reap;
	}

	if (recv_byte(sv[0]) != MSG_MIDWAY) {
		printf("server: the client stopped before mid-way\n");
		status = 1;
		goto reap;
	}
	ret = capchan_async_revoke(q, lent, capchan_async_future_cb, &f);
	if (ret == 0)
		ret = capchan_async_wait(q, &f);
	if (ret == 0)
		ret = (int)f.d.res;
	/*
	 * Revoked: the capability sent (the client imported that very one)
	 * and the FILE the client opened beneath it.
	 */
	if (ret == 2) {
		printf("server: the client is mid-way: REVOKE of handle 0x%x -> 2 capabilities revoked (the one sent, the file opened beneath it)\n",
		       lent);
	} else {
		printf("server: REVOKE of handle 0x%x gave %d, expected 2\n",
		       lent, ret);
		status = 1;
	}
	if (send_byte(sv[0], MSG_REVOKED)) {
		printf("server: the client is gone\n");
		status = 1;
	}

reap:
	close(sv[0]);
	if (waitpid(pid, &wstatus, 0) != pid) {
		perror("capserve: waitpid");
		return 1;
	}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
		printf("server: client exited 0: every step went as expected\n");
	} else {
		printf("server: client failed (wait status 0x%x)\n", wstatus);
		status = 1;
	}
	/* REVOKE took back what was lent, not the server's own grant */
	h = capchan_open_beneath(&ch, root, file, 0, 0, CAPCHAN_RIGHT_READ);
	n = h < 0 ? h : capchan_read_to_end(&ch, h, &all);
	if (n >= 0) {
		printf("server: its own grant is untouched: READ of all %zd bytes of %s\n",
		       n, file);
		free(all);
	} else {
		printf("server: its own grant: -%s, expected a READ\n",
		       errname((int)-n));
		status = 1;
	}
	capchan_async_exit(q);
	capchan_queue_exit(&ch);
	return status;
}
