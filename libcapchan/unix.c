// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A capability over a UNIX socket: EXPORT it as a capability file, send
 * that with SCM_RIGHTS, close it; on the other side receive the file,
 * IMPORT it, close it.
 *
 * The message is one byte, CAPCHAN__CAP_MSG, carrying exactly one
 * descriptor; anything else is refused with -EPROTO, and every descriptor
 * that came with it is closed, so a peer cannot fill our table with them.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "async.h"

#define CAPCHAN__CAP_MSG	'C'
/* Room for a few descriptors, so extra ones arrive (and are closed)
 * instead of being cut off by the kernel. */
#define CAPCHAN__CAP_FDS_MAX	8

static int capchan__send_fd(int sock, int fd)
{
	char byte = CAPCHAN__CAP_MSG;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		/* a closed peer is -EPIPE, not SIGPIPE */
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

/* Close every descriptor of the SCM_RIGHTS messages in msg; how many. */
static unsigned capchan__close_fds(struct msghdr *msg, int *first)
{
	struct cmsghdr *c;
	unsigned nfds = 0;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (first && !nfds)
				*first = fd;
			else
				close(fd);
			nfds++;
		}
	}
	return nfds;
}

/* One capability message: the descriptor in *fdp, 0 or -errno. */
static int capchan__recv_fd(int sock, int *fdp)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(CAPCHAN__CAP_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	unsigned nfds;
	ssize_t n;
	int fd = -1;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;	/* the peer closed without sending */
	nfds = capchan__close_fds(&msg, &fd);
	if (nfds != 1 || byte != CAPCHAN__CAP_MSG ||
	    msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		if (nfds)
			close(fd);
		return -EPROTO;
	}
	*fdp = fd;
	return 0;
}

/* SEND_CAP, in its turn: EXPORT, send, close; 0 or -errno. */
int32_t capchan__async_send_cap_run(struct capchan_async *q,
				    struct capchan__async_req *r)
{
	int capfd = capchan_export(q->ch, r->handle, r->rights);
	int ret;

	if (capfd < 0)
		return capfd;
	ret = capchan__send_fd(r->fd, capfd);
	close(capfd);
	return ret;
}

/* RECV_CAP, in its turn: IMPORT what was received, close it. */
int32_t capchan__async_recv_cap_run(struct capchan_async *q,
				    struct capchan__async_req *r)
{
	int ret = capchan_import(q->ch, r->fd);

	close(r->fd);
	r->fd = -1;
	return ret;
}

void capchan__async_recv_cap_cancel(struct capchan__async_req *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int capchan_async_send_cap(struct capchan_async *q, int sock, uint32_t h,
			   uint64_t rights, capchan_async_cb cb, void *data)
{
	struct capchan__async_req *r;
	int err;

	r = capchan__async_new(q, CAPCHAN_ASYNC_SEND_CAP, cb, data, &err);
	if (!r)
		return err;
	r->handle = h;
	r->rights = rights;
	r->fd = sock;
	capchan__async_queue(q, r);
	return 0;
}

int capchan_async_recv_cap(struct capchan_async *q, int sock,
			   capchan_async_cb cb, void *data)
{
	struct capchan__async_req *r;
	int err;

	/* the record first: once the descriptor is here, nothing may fail */
	r = capchan__async_new(q, CAPCHAN_ASYNC_RECV_CAP, cb, data, &err);
	if (!r)
		return err;
	err = capchan__recv_fd(sock, &r->fd);
	if (err) {
		capchan__async_unmake(q, r);
		return err;
	}
	capchan__async_queue(q, r);
	return 0;
}
