// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * captour - a guided tour of capchan's capability model on one directory.
 *
 *   captour DIR
 *
 * grant -> seal -> open beneath -> write/read -> escape refused ->
 * derive read-only -> write refused -> revoke -> -EKEYREVOKED ->
 * open+read+close as one linked batch through the rings.
 * Every step prints what it asked for and what the module answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <capchan.h>

static const char *res_str(long res)
{
	static char buf[64];

	/* handles are plain numbers too: the steps say which results are */
	if (res >= 0)
		snprintf(buf, sizeof(buf), "%ld", res);
	else
		snprintf(buf, sizeof(buf), "-%s", strerrorname_np(-res) ?: "?");
	return buf;
}

/* Print one step; exit if the answer is not the one the model promises. */
static long step(const char *what, long res, long expect)
{
	int ok = expect == 0 ? res >= 0 : res == expect;

	printf("captour: %-52s -> %s%s\n", what, res_str(res), ok ? "" : "  UNEXPECTED");
	if (!ok)
		exit(1);
	return res;
}

#define ANY_OK 0

int main(int argc, char **argv)
{
	static const char text[] = "hello from a capability\n";
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	struct capchan ch;
	char buf[128];
	int dirfd, dir, file, ro, i;
	long n;

	if (argc != 2) {
		fprintf(stderr, "usage: captour DIR\n");
		return 2;
	}
	step("channel with rings (sq 8)", capchan_queue_init(8, &ch, 0), ANY_OK);

	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		perror(argv[1]);
		return 1;
	}
	dir = step("grant DIR (lookup create read write seek stat derive revoke)",
		   capchan_grant(&ch, dirfd, CAPCHAN_RIGHT_LOOKUP | CAPCHAN_RIGHT_CREATE |
				 CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_WRITE |
				 CAPCHAN_RIGHT_SEEK | CAPCHAN_RIGHT_STAT |
				 CAPCHAN_RIGHT_DERIVE | CAPCHAN_RIGHT_REVOKE), ANY_OK);
	step("seal the channel", capchan_seal(&ch), ANY_OK);
	step("grant again after seal (ambient authority)",
	     capchan_grant(&ch, dirfd, CAPCHAN_RIGHT_READ), -EPERM);
	close(dirfd);

	file = step("open notes.txt beneath DIR (O_CREAT, read write seek derive revoke)",
		    capchan_open_beneath(&ch, dir, "notes.txt", O_CREAT | O_TRUNC, 0644,
					 CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_WRITE |
					 CAPCHAN_RIGHT_SEEK | CAPCHAN_RIGHT_DERIVE |
					 CAPCHAN_RIGHT_REVOKE), ANY_OK);
	step("write 24 bytes at offset 0", capchan_write(&ch, file, text, strlen(text), 0),
	     strlen(text));
	n = step("read back from offset 0", capchan_read(&ch, file, buf, sizeof(buf) - 1, 0),
		 strlen(text));
	buf[n] = '\0';
	printf("captour:   contents: %s", buf);

	step("open ../etc/passwd beneath DIR (escape)",
	     capchan_open_beneath(&ch, dir, "../etc/passwd", 0, 0, CAPCHAN_RIGHT_READ), -EXDEV);
	step("open /etc/passwd beneath DIR (absolute)",
	     capchan_open_beneath(&ch, dir, "/etc/passwd", 0, 0, CAPCHAN_RIGHT_READ), -EXDEV);
	step("open notes.txt asking for mmap (more than DIR has)",
	     capchan_open_beneath(&ch, dir, "notes.txt", 0, 0, CAPCHAN_RIGHT_MMAP), -EPERM);

	ro = step("derive read-only (read seek) from notes.txt",
		  capchan_derive(&ch, file, CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_SEEK), ANY_OK);
	step("read through the read-only capability", capchan_read(&ch, ro, buf, 5, 0), 5);
	step("write through the read-only capability", capchan_write(&ch, ro, "x", 1, 0),
	     -EPERM);
	step("derive write from the read-only one (escalation)",
	     capchan_derive(&ch, ro, CAPCHAN_RIGHT_WRITE), -EPERM);

	step("revoke everything derived from notes.txt", capchan_revoke(&ch, file), 1);
	step("read through the revoked capability", capchan_read(&ch, ro, buf, 5, 0),
	     -EKEYREVOKED);
	step("read through notes.txt itself (not revoked)", capchan_read(&ch, file, buf, 5, 0), 5);
	step("drop the revoked capability", capchan_close(&ch, ro), 0);
	step("use the dropped handle", capchan_read(&ch, ro, buf, 5, 0), -EBADF);
	step("drop notes.txt", capchan_close(&ch, file), 0);

	/* open + read + close in one submission: one ENTER, three CQEs */
	memset(buf, 0, sizeof(buf));
	sqe = capchan_get_sqe(&ch);
	capchan_prep_open(sqe, dir, "notes.txt", 0, 0, CAPCHAN_RIGHT_READ);
	capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_data64(sqe, 1);
	sqe = capchan_get_sqe(&ch);
	capchan_prep_read(sqe, CAPCHAN_HANDLE_CHAIN, buf, sizeof(buf) - 1, CAPCHAN_OFF_CURRENT);
	capchan_sqe_set_flags(sqe, CAPCHAN_SQE_LINK);
	capchan_sqe_set_data64(sqe, 2);
	sqe = capchan_get_sqe(&ch);
	capchan_prep_close(sqe, CAPCHAN_HANDLE_CHAIN);
	capchan_sqe_set_data64(sqe, 3);
	step("batch open+read+close through the rings (1 enter)",
	     capchan_submit_and_wait(&ch, 3), 3);
	for (i = 0; i < 3; i++) {
		static const char *const names[] = { "open", "read", "close" };

		if (capchan_peek_cqe(&ch, &cqe))
			return 1;
		printf("captour:   cqe user_data=%llu (%s) res=%s\n",
		       (unsigned long long)cqe->user_data, names[cqe->user_data - 1],
		       res_str(cqe->res));
		if (cqe->res < 0)
			return 1;
		capchan_cqe_seen(&ch, cqe);
	}
	printf("captour:   batch read: %s", buf);
	capchan_queue_exit(&ch);
	printf("captour: done\n");
	return 0;
}
