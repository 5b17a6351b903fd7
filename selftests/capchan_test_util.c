// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the capchan selftests; what each does is documented
 * in capchan_test_util.h.  Compiled once, linked into every test binary.
 */
#include "capchan_test_util.h"

#include <linux/magic.h>
#include <sys/statfs.h>

int cc_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int cc_open_dev(void)
{
	int fd = open(CAPCHAN_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void cc_sqe(struct capchan_sqe *s, unsigned int op, uint32_t h)
{
	memset(s, 0, sizeof(*s));
	s->opcode = (uint8_t)op;
	s->handle = h;
}

int cc_invoke(int fd, const struct capchan_sqe *s)
{
	return cc_ioctl(fd, CAPCHAN_IOC_INVOKE, (void *)s);
}

int cc_enter(int fd, unsigned int to_submit, unsigned int min_complete,
	     unsigned int flags)
{
	struct capchan_enter e;

	memset(&e, 0, sizeof(e));
	e.to_submit = to_submit;
	e.min_complete = min_complete;
	e.flags = flags;
	return cc_ioctl(fd, CAPCHAN_IOC_ENTER, &e);
}

int cc_grant(int chfd, int fd, uint64_t rights, uint32_t *type)
{
	struct capchan_grant g;
	int ret;

	memset(&g, 0, sizeof(g));
	g.fd = fd;
	g.rights = rights;
	ret = cc_ioctl(chfd, CAPCHAN_IOC_GRANT, &g);
	if (ret < 0)
		return ret;
	if (type)
		*type = g.cap_type;
	return (int)g.handle;
}

int cc_version(int chfd, struct capchan_version *v)
{
	memset(v, 0, sizeof(*v));
	return cc_ioctl(chfd, CAPCHAN_IOC_VERSION, v);
}

bool cc_handle_ok(long h)
{
	return h > 0 && h <= (long)CAPCHAN_HANDLE_MAX;
}

const char *cc_tmpdir(void)
{
	const char *d = getenv("CAPCHAN_TEST_TMPDIR");

	if (d && *d)
		return d;
	/* A minimal initramfs may lack /tmp. */
	mkdir("/tmp", 01777);
	return "/tmp";
}

int cc_mkdtemp(char *base, const char *tag)
{
	snprintf(base, PATH_MAX, "%s/capchan-%s.XXXXXX", cc_tmpdir(), tag);
	if (!mkdtemp(base))
		return -errno;
	/* mkdtemp makes it 0700; other users must be able to walk it. */
	if (chmod(base, 0755))
		return -errno;
	return 0;
}

int cc_put_file(int dirfd, const char *name, const void *data, size_t len,
		mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			mode);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;

			close(fd);
			return err;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode)) {	/* not subject to the umask */
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

int cc_put_str(int dirfd, const char *name, const char *s)
{
	return cc_put_file(dirfd, name, s, strlen(s), 0644);
}

ssize_t cc_get_file(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static int cc__rm_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

void cc_rm_rf(const char *path)
{
	if (path && *path)
		nftw(path, cc__rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void cc_fill_pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 12345;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static int cc__fdinfo_key(const char *line, const char *key, long long *val)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) || line[n] != ':' || line[n + 1] != '\t')
		return 0;
	*val = strtoll(line + n + 2, NULL, 0);
	return 1;
}

int cc_read_fdinfo(int fd, struct cc_fdinfo *fi)
{
	char path[64], line[512];
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	fi->sq_head = fi->sq_tail = fi->sq_entries = -1;
	fi->cq_head = fi->cq_tail = fi->cq_entries = -1;
	fi->sealed = fi->seal_import = fi->caps = -1;
	fi->user = fi->user_channels = fi->user_caps = fi->user_files = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct cc_fdinfo_cap c;
		unsigned long long rights;
		int n = 0;

		if (cc__fdinfo_key(line, "sq-head", &fi->sq_head) ||
		    cc__fdinfo_key(line, "sq-tail", &fi->sq_tail) ||
		    cc__fdinfo_key(line, "sq-entries", &fi->sq_entries) ||
		    cc__fdinfo_key(line, "cq-head", &fi->cq_head) ||
		    cc__fdinfo_key(line, "cq-tail", &fi->cq_tail) ||
		    cc__fdinfo_key(line, "cq-entries", &fi->cq_entries) ||
		    cc__fdinfo_key(line, "sealed", &fi->sealed) ||
		    cc__fdinfo_key(line, "seal-import", &fi->seal_import) ||
		    cc__fdinfo_key(line, "user", &fi->user) ||
		    cc__fdinfo_key(line, "user-channels", &fi->user_channels) ||
		    cc__fdinfo_key(line, "user-caps", &fi->user_caps) ||
		    cc__fdinfo_key(line, "user-files", &fi->user_files) ||
		    cc__fdinfo_key(line, "caps", &fi->caps))
			continue;
		if (strncmp(line, "cap:\t", 5))
			continue;
		fi->ncap++;
		memset(&c, 0, sizeof(c));
		if (sscanf(line, "cap:\thandle=0x%x type=%7s rights=0x%llx revoked=%d depth=%u uid=%u%n",
			   &c.handle, c.type, &rights, &c.revoked, &c.depth,
			   &c.uid, &n) != 6 || (line[n] != '\n' && line[n] != '\0')) {
			fi->bad_cap_lines++;
			continue;
		}
		c.rights = rights;
		if (fi->ncap <= CC_FDINFO_MAX_CAPS)
			fi->cap[fi->ncap - 1] = c;
	}
	fclose(f);
	return 0;
}

const struct cc_fdinfo_cap *
cc_fdinfo_find(const struct cc_fdinfo *fi, uint32_t h)
{
	int n = fi->ncap < CC_FDINFO_MAX_CAPS ? fi->ncap : CC_FDINFO_MAX_CAPS;

	for (int i = 0; i < n; i++)
		if (fi->cap[i].handle == h)
			return &fi->cap[i];
	return NULL;
}

long long cc_meminfo_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long long val = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			val = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long long cc_read_number(const char *path, int *err)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*err = 0;
	if (fd < 0) {
		*err = -errno;
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		*err = -errno;
	close(fd);
	if (n <= 0) {
		if (!*err)
			*err = -EIO;
		return -1;
	}
	buf[n] = '\0';
	return strtoll(buf, NULL, 0);
}

long long cc_module_refcnt(void)
{
	int err;
	long long v = cc_read_number("/sys/module/capchan/refcnt", &err);

	return err ? -1 : v;
}

long long cc_module_param(const char *name, int *err)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/capchan/parameters/%s", name);
	return cc_read_number(path, err);
}

int cc_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

void cc_drop_caches(void)
{
	sync();
	cc_write_str("/proc/sys/vm/drop_caches", "3");
}

int cc_send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int cc_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int cc_send_u32(int fd, uint32_t v)
{
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -EIO;
}

int cc_recv_u32(int fd, uint32_t *v)
{
	return read(fd, v, sizeof(*v)) == sizeof(*v) ? 0 : -EIO;
}

int cc_wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return 2000;
}

double cc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cc_cq_wait(struct capchan *ch, unsigned int ms)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	double end = cc_now() + ms / 1000.0;

	while (!capchan_cq_ready(ch)) {
		if (cc_now() > end)
			return -ETIMEDOUT;
		poll(&pfd, 1, 100);
	}
	return 0;
}

int cc_tree_create(struct cc_tree *t, const char *tag)
{
	int ret;

	t->base_fd = t->jail_fd = -1;
	t->jail[0] = '\0';
	ret = cc_mkdtemp(t->base, tag);
	if (ret)
		return ret;
	snprintf(t->jail, sizeof(t->jail), "%s/jail", t->base);
	t->base_fd = open(t->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->base_fd < 0)
		return -errno;
	if (mkdirat(t->base_fd, "jail", 0755) ||
	    mkdirat(t->base_fd, "jail/sub", 0755) ||
	    mkdirat(t->base_fd, "jail/sub/deeper", 0755))
		return -errno;
	t->jail_fd = open(t->jail, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->jail_fd < 0)
		return -errno;
	cc_fill_pattern(t->data, sizeof(t->data), 1);
	ret = cc_put_str(t->base_fd, "secret", CC_SECRET);
	if (!ret)
		ret = cc_put_file(t->jail_fd, "file", t->data, sizeof(t->data),
				  0644);
	if (!ret)
		ret = cc_put_str(t->jail_fd, "hello", CC_HELLO);
	if (!ret)
		ret = cc_put_str(t->jail_fd, "sub/inner", "inner\n");
	if (!ret)
		ret = cc_put_str(t->jail_fd, "sub/deeper/leaf", "leaf\n");
	return ret;
}

void cc_tree_destroy(struct cc_tree *t)
{
	if (t->jail_fd >= 0)
		close(t->jail_fd);
	if (t->base_fd >= 0)
		close(t->base_fd);
	t->jail_fd = t->base_fd = -1;
	if (t->base[0])
		cc_rm_rf(t->base);
	t->base[0] = '\0';
}

ino_t cc_ino_at(int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	return st.st_ino;
}

int cc_become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
		return -errno;
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

long long cc_fdinfo_value(int fd, const char *key, int *err)
{
	char path[64], line[512];
	long long val = -1;
	FILE *f;

	*err = -ENOENT;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f) {
		*err = -errno;
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (cc__fdinfo_key(line, key, &val)) {
			*err = 0;
			break;
		}
	}
	fclose(f);
	return val;
}

/* ---- ops, CQEs, fdinfo and threads ---------------------------------------- */

void cc_push(struct capchan *ch, unsigned int op, uint32_t h,
	     unsigned int flags, void *buf, uint32_t len, uint64_t off,
	     uint64_t ud)
{
	struct capchan_sqe s;

	cc_sqe(&s, op, h);
	s.flags = (uint8_t)flags;
	s.addr = (uintptr_t)buf;
	s.len = len;
	s.off = off;
	s.user_data = ud;
	cc_sq_push(ch, &s);
}

int cc_reap(struct capchan *ch, struct capchan_cqe *c, unsigned int ms)
{
	int r = cc_cq_wait(ch, ms);

	if (r)
		return r;
	return cc_cq_pop(ch, c);
}

int cc_pop_seq(struct capchan *ch, uint64_t first, int n, int *res)
{
	struct capchan_cqe c;
	int i;

	for (i = 0; i < n; i++) {
		if (cc_reap(ch, &c, 5000))
			return i;
		if (c.user_data != first + i)
			return -(i + 1);
		res[i] = c.res;
	}
	return n;
}

int cc_enter_all(int fd, int total)
{
	int done = 0, n;

	while (done < total) {
		n = cc_enter(fd, total - done, 0, 0);
		if (n <= 0)
			return n ? n : -EPROTO;
		done += n;
	}
	return done;
}

int cc_channel_jail_file(struct capchan *ch, unsigned int entries, bool sqpoll,
			 int jail_fd, uint64_t dir_rights, uint64_t file_rights,
			 uint32_t *dh, uint32_t *fh)
{
	struct capchan_params p;
	int fd, r;

	memset(&p, 0, sizeof(p));
	if (sqpoll)
		p.flags = CAPCHAN_SETUP_SQPOLL;
	r = capchan_queue_init_params(entries, ch, &p);
	if (r)
		return r;
	r = cc_grant(ch->fd, jail_fd, dir_rights, NULL);
	if (!cc_handle_ok(r))
		return r;
	*dh = r;
	fd = openat(jail_fd, "file", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = cc_grant(ch->fd, fd, file_rights, NULL);
	close(fd);
	if (!cc_handle_ok(r))
		return r;
	*fh = r;
	return 0;
}

int cc_submit(struct capchan *ch, unsigned int n, bool sqpoll, unsigned int ms)
{
	double end = cc_now() + ms / 1000.0;

	if (!sqpoll)
		return cc_enter(ch->fd, n, 0, 0);
	while (__atomic_load_n(ch->sq.khead, __ATOMIC_ACQUIRE) !=
	       *ch->sq.ktail) {
		int r = cc_enter(ch->fd, 0, 0, CAPCHAN_ENTER_SQ_WAKEUP);

		if (r < 0)
			return r;
		if (cc_now() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return n;
}

static void *cc_submitter_main(void *arg)
{
	struct cc_submitter *s = arg;

	s->res = cc_submit(s->ch, s->n, s->sqpoll, s->ms);
	return NULL;
}

int cc_submit_start(struct cc_submitter *s, struct capchan *ch,
		    unsigned int n, bool sqpoll, unsigned int ms)
{
	*s = (struct cc_submitter){ .ch = ch, .n = n, .sqpoll = sqpoll,
				    .ms = ms, .res = -ENODATA };
	return -pthread_create(&s->thread, NULL, cc_submitter_main, s);
}

int cc_submit_past_block(struct capchan *ch, unsigned int n, bool sqpoll,
			 struct cc_uffd_page *u, unsigned int ms, int *res)
{
	struct cc_submitter s;
	int r_fault, r_join;

	if (cc_submit_start(&s, ch, n, sqpoll, ms))
		return -EAGAIN;
	r_fault = cc_uffd_wait_fault_ms(u, ms);
	r_join = r_fault ? -1 : cc_join_timeout(s.thread, ms / 1000);
	if (r_fault || r_join) {
		cc_uffd_supply(u, 0);
		cc_join_timeout(s.thread, ms / 1000);
		*res = s.res;
		return -ETIMEDOUT;
	}
	*res = s.res;
	return 0;
}

int cc_join_timeout(pthread_t thread, unsigned int s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	return pthread_timedjoin_np(thread, NULL, &ts);
}

long long cc_fdv(int fd, const char *key)
{
	int err;
	long long v = cc_fdinfo_value(fd, key, &err);

	return err ? err : v;
}

long long cc_wait_fdv(int fd, const char *key, long long want,
		      unsigned int ms)
{
	double end = cc_now() + ms / 1000.0;
	long long v;

	while ((v = cc_fdv(fd, key)) != want && cc_now() < end)
		usleep(2000);
	return v;
}

pid_t cc_find_comm(const char *comm)
{
	char path[300], name[64];
	struct dirent *d;
	pid_t pid = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return 0;
	while (!pid && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = '\0';
			if (!strcmp(name, comm))
				pid = atoi(d->d_name);
		}
		fclose(f);
	}
	closedir(dir);
	return pid;
}

bool cc_wait_comm_gone(const char *comm, unsigned int ms)
{
	double end = cc_now() + ms / 1000.0;

	while (cc_find_comm(comm)) {
		if (cc_now() > end)
			return false;
		usleep(10000);
	}
	return true;
}

int cc_derive(int chfd, uint32_t h, uint64_t rights)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_DERIVE, h);
	s.rights = rights;
	return cc_invoke(chfd, &s);
}

int cc_revoke(int chfd, uint32_t h)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_REVOKE, h);
	return cc_invoke(chfd, &s);
}

int cc_close_cap(int chfd, uint32_t h)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_CLOSE, h);
	return cc_invoke(chfd, &s);
}

/* ---- userfaultfd ---------------------------------------------------------- */

/* 0, -ENOSYS/-EPERM (no userfaultfd here) or another -errno. */
int cc_uffd_page_init(struct cc_uffd_page *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	u->page = sysconf(_SC_PAGESIZE);
	u->mem = MAP_FAILED;
	/* no UFFD_USER_MODE_ONLY: the fault to catch is the module's copy */
	u->uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (u->uffd < 0)
		return -errno;
	if (ioctl(u->uffd, UFFDIO_API, &api))
		return -errno;
	u->mem = mmap(NULL, u->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->mem == MAP_FAILED)
		return -errno;
	reg.range.start = (unsigned long)u->mem;
	reg.range.len = u->page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(u->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

/* Wait for the fault on the page (the op is blocked in it); 0 or -errno. */
int cc_uffd_wait_fault_ms(struct cc_uffd_page *u, int ms)
{
	struct pollfd p = { .fd = u->uffd, .events = POLLIN };
	int fl = fcntl(u->uffd, F_GETFL);
	int n, r;

	/*
	 * poll() of a blocking userfaultfd answers POLLERR at once (its read
	 * may block whatever poll says), which would leave the wait to that
	 * read, with no deadline: poll it non-blocking.
	 */
	if (fl < 0 || fcntl(u->uffd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	n = poll(&p, 1, ms);
	if (n < 0)
		r = -errno;
	else if (!n || !(p.revents & POLLIN))
		r = -ETIMEDOUT;
	else
		r = cc_uffd_wait_fault(u);
	if (fcntl(u->uffd, F_SETFL, fl) && !r)
		r = -errno;
	return r;
}

int cc_uffd_wait_fault(struct cc_uffd_page *u)
{
	struct uffd_msg msg;
	ssize_t n = read(u->uffd, &msg, sizeof(msg));

	if (n < 0)
		return -errno;
	if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		return -EPROTO;
	if ((msg.arg.pagefault.address & ~(unsigned long)(u->page - 1)) !=
	    (unsigned long)u->mem)
		return -EFAULT;
	return 0;
}

/* Supply the page (filled with @fill), waking the blocked op; 0 or -errno. */
int cc_uffd_supply(struct cc_uffd_page *u, int fill)
{
	struct uffdio_copy copy = { 0 };
	void *src = malloc(u->page);
	int ret = 0;

	if (!src)
		return -ENOMEM;
	memset(src, fill, u->page);
	copy.dst = (unsigned long)u->mem;
	copy.src = (unsigned long)src;
	copy.len = u->page;
	if (ioctl(u->uffd, UFFDIO_COPY, &copy))
		ret = -errno;
	else if (copy.copy != u->page)
		ret = -EIO;
	free(src);
	return ret;
}

void cc_uffd_page_destroy(struct cc_uffd_page *u)
{
	if (u->mem != MAP_FAILED)
		munmap(u->mem, u->page);
	if (u->uffd >= 0)
		close(u->uffd);
}

/* ---- the VM's ext4 test disk ------------------------------------------- */

/* the virtio disk selftests/vm/run.sh attaches */
#define CC_DISK_SERIAL	"capchan-disk"

const char *cc_disk_dir(void)
{
	const char *d = getenv("CAPCHAN_TEST_DISK");

	return d && *d ? d : "/mnt/disk";
}

static bool cc_is_ext4(const char *dir)
{
	struct statfs sf;

	return !statfs(dir, &sf) && sf.f_type == EXT4_SUPER_MAGIC;
}

/* /dev/vdX of the VM's test disk (its serial), or "" */
static void cc_find_disk_dev(char *dev, size_t n)
{
	char path[300 + 16], serial[64];
	struct dirent *d;
	DIR *dir = opendir("/sys/block");

	dev[0] = '\0';
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		FILE *f;

		if (strncmp(d->d_name, "vd", 2))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(serial, sizeof(serial), f)) {
			serial[strcspn(serial, "\n")] = '\0';
			if (!strcmp(serial, CC_DISK_SERIAL) &&
			    strlen(d->d_name) + 6 <= n)
				snprintf(dev, n, "/dev/%s", d->d_name);
		}
		fclose(f);
		if (dev[0])
			break;
	}
	closedir(dir);
}

/*
 * An ext4 directory to work in: cc_disk_dir() if it is one, else the VM's
 * test disk mounted there.  0, or -1 with the reason in @why.
 */
int cc_find_disk(char *why, size_t n)
{
	const char *dir = cc_disk_dir();
	char dev[300], path[PATH_MAX], *p;

	if (cc_is_ext4(dir))
		return 0;
	cc_find_disk_dev(dev, sizeof(dev));
	if (!dev[0]) {
		snprintf(why, n,
			 "no ext4 file system at %s and no virtio disk with serial \"%s\" (selftests/vm/run.sh attaches one when kernel.sh found the guest's ext4 and virtio_blk modules)",
			 dir, CC_DISK_SERIAL);
		return -1;
	}
	/* mkdir -p */
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	mkdir(path, 0755);
	if (mount(dev, dir, "ext4", 0, NULL)) {
		snprintf(why, n, "mount -t ext4 %s %s: %s", dev, dir,
			 strerror(errno));
		return -1;
	}
	if (!cc_is_ext4(dir)) {
		snprintf(why, n, "%s mounted on %s but is not ext4", dev, dir);
		return -1;
	}
	return 0;
}
