// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The fake module: libc wrappers (-Wl,--wrap) and a ring region in memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake.h"

struct fake_state fake;

int __real_ioctl(int fd, unsigned long cmd, ...);
int __real_open(const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
int __real_close(int fd);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
int __real_munmap(void *addr, size_t len);

int __wrap_ioctl(int fd, unsigned long cmd, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __wrap_close(int fd);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
int __wrap_munmap(void *addr, size_t len);

void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

const struct fake_call *fake_last(void)
{
	ck_assert_uint_gt(fake.nlog, 0);
	return &fake.log[fake.nlog - 1];
}

void fake_junk(void *p, size_t len)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(0xa5 ^ (i * 37));
}

/* ------------------------------------------------------------ ring */

/*
 * A layout unlike the obvious one, so that a library that hard-codes
 * offsets or mixes up SQ and CQ fields fails: CQ counters first, the
 * masks and sizes scattered, each counter on its own 64-byte line.
 */
void fake_ring_init(struct fake_ring *r, unsigned sq_entries,
		    unsigned cq_entries, unsigned start)
{
	struct capchan_params *p = &r->p;

	memset(r, 0, sizeof(*r));
	p->sq_entries = sq_entries;
	p->cq_entries = cq_entries;
	p->features = CAPCHAN_FEAT_RINGS | CAPCHAN_FEAT_LINK |
		      CAPCHAN_FEAT_NODROP;
	p->cq_off.head = 0;
	p->cq_off.tail = 64;
	p->sq_off.head = 128;
	p->sq_off.tail = 192;
	p->cq_off.ring_mask = 256;
	p->sq_off.ring_mask = 260;
	p->cq_off.ring_entries = 264;
	p->sq_off.ring_entries = 268;
	p->sq_off.flags = 272;
	p->cq_off.overflow = 276;
	p->sq_off.dropped = 280;
	p->cq_off.cqes = 320;
	p->sq_off.sqes = 320 + cq_entries * sizeof(struct capchan_cqe);
	p->sq_off.sqes = (p->sq_off.sqes + 63) & ~63U;
	p->ring_size = p->sq_off.sqes + sq_entries * sizeof(struct capchan_sqe);

	r->size = p->ring_size;
	r->mem = aligned_alloc(64, (r->size + 63) & ~(size_t)63);
	ck_assert_ptr_nonnull(r->mem);
	fake_junk(r->mem, r->size);	/* entries start as junk */
	*(unsigned *)(r->mem + p->sq_off.ring_mask) = sq_entries - 1;
	*(unsigned *)(r->mem + p->sq_off.ring_entries) = sq_entries;
	*(unsigned *)(r->mem + p->cq_off.ring_mask) = cq_entries - 1;
	*(unsigned *)(r->mem + p->cq_off.ring_entries) = cq_entries;
	*(unsigned *)(r->mem + p->sq_off.flags) = 0;
	*(unsigned *)(r->mem + p->sq_off.dropped) = 0;
	*(unsigned *)(r->mem + p->cq_off.overflow) = 0;
	*fake_sq_head(r) = start;
	*fake_sq_tail(r) = start;
	*fake_cq_head(r) = start;
	*fake_cq_tail(r) = start;
	r->sq_head = start;
	r->cq_tail = start;
}

void fake_ring_free(struct fake_ring *r)
{
	if (r->mapped && r->mem)
		__real_munmap(r->mem, r->size);
	else
		free(r->mem);
	r->mem = NULL;
	r->mapped = 0;
}

void fake_ring_mmap(struct fake_ring *r)
{
	void *m = __real_mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	memcpy(m, r->mem, r->size);
	free(r->mem);
	r->mem = m;
	r->mapped = 1;
}

void fake_post(struct fake_ring *r, uint64_t user_data, int res)
{
	struct capchan_cqe *cqes = (void *)(r->mem + r->p.cq_off.cqes);
	unsigned cq_head = __atomic_load_n(fake_cq_head(r), __ATOMIC_ACQUIRE);
	struct capchan_cqe *cqe;

	ck_assert_uint_lt(r->cq_tail - cq_head, r->p.cq_entries);
	cqe = &cqes[r->cq_tail & (r->p.cq_entries - 1)];
	cqe->user_data = user_data;
	cqe->res = res;
	cqe->flags = 0;
	r->cq_tail++;
	__atomic_store_n(fake_cq_tail(r), r->cq_tail, __ATOMIC_RELEASE);
}

/* ENTER with enter_hold: take up to n SQEs into fake.held, post nothing. */
static unsigned fake_module_hold(struct fake_ring *r, unsigned n)
{
	struct capchan_sqe *sqes = (void *)(r->mem + r->p.sq_off.sqes);
	unsigned tail = __atomic_load_n(fake_sq_tail(r), __ATOMIC_ACQUIRE);
	unsigned queued = tail - r->sq_head, done = 0;

	if (n > queued)
		n = queued;
	while (done < n && fake.nheld < FAKE_HELD_MAX) {
		struct capchan_sqe sqe = sqes[r->sq_head & (r->p.sq_entries - 1)];

		if (r->nseen < FAKE_LOG_MAX)
			r->seen[r->nseen++] = sqe;
		fake.held[fake.nheld++] = sqe;
		r->sq_head++;
		done++;
	}
	__atomic_store_n(fake_sq_head(r), r->sq_head, __ATOMIC_RELEASE);
	return done;
}

unsigned *fake_sq_head(struct fake_ring *r)
{
	return (unsigned *)(r->mem + r->p.sq_off.head);
}

unsigned *fake_sq_tail(struct fake_ring *r)
{
	return (unsigned *)(r->mem + r->p.sq_off.tail);
}

unsigned *fake_cq_head(struct fake_ring *r)
{
	return (unsigned *)(r->mem + r->p.cq_off.head);
}

unsigned *fake_cq_tail(struct fake_ring *r)
{
	return (unsigned *)(r->mem + r->p.cq_off.tail);
}

unsigned *fake_sq_flags(struct fake_ring *r)
{
	return (unsigned *)(r->mem + r->p.sq_off.flags);
}

void fake_ring_attach(struct capchan *ch, struct fake_ring *r, int fd)
{
	struct capchan_params *p = &r->p;

	memset(ch, 0, sizeof(*ch));
	ch->fd = fd;
	ch->features = p->features;
	ch->ring_ptr = r->mem;
	ch->ring_sz = r->size;
	ch->sq.khead = fake_sq_head(r);
	ch->sq.ktail = fake_sq_tail(r);
	ch->sq.kflags = (unsigned *)(r->mem + p->sq_off.flags);
	ch->sq.kdropped = (unsigned *)(r->mem + p->sq_off.dropped);
	ch->sq.ring_mask = p->sq_entries - 1;
	ch->sq.ring_entries = p->sq_entries;
	ch->sq.sqes = (struct capchan_sqe *)(r->mem + p->sq_off.sqes);
	ch->sq.sqe_head = *fake_sq_tail(r);
	ch->sq.sqe_tail = *fake_sq_tail(r);
	ch->cq.khead = fake_cq_head(r);
	ch->cq.ktail = fake_cq_tail(r);
	ch->cq.koverflow = (unsigned *)(r->mem + p->cq_off.overflow);
	ch->cq.ring_mask = p->cq_entries - 1;
	ch->cq.ring_entries = p->cq_entries;
	ch->cq.cqes = (struct capchan_cqe *)(r->mem + p->cq_off.cqes);
}

unsigned fake_module_consume(struct fake_ring *r, unsigned n)
{
	struct capchan_sqe *sqes = (void *)(r->mem + r->p.sq_off.sqes);
	struct capchan_cqe *cqes = (void *)(r->mem + r->p.cq_off.cqes);
	unsigned tail = __atomic_load_n(fake_sq_tail(r), __ATOMIC_ACQUIRE);
	unsigned queued = tail - r->sq_head, done = 0;

	if (queued > r->p.sq_entries)
		queued = r->p.sq_entries;
	if (n > queued)
		n = queued;
	while (done < n) {
		unsigned cq_head = __atomic_load_n(fake_cq_head(r),
						   __ATOMIC_ACQUIRE);
		struct capchan_sqe sqe;
		struct capchan_cqe *cqe;

		if (r->cq_tail - cq_head >= r->p.cq_entries)
			break;			/* no place for the CQE */
		sqe = sqes[r->sq_head & (r->p.sq_entries - 1)];
		if (r->nseen < FAKE_LOG_MAX)
			r->seen[r->nseen++] = sqe;
		cqe = &cqes[r->cq_tail & (r->p.cq_entries - 1)];
		cqe->user_data = sqe.user_data;
		cqe->res = r->op ? r->op(&sqe) : 0;
		cqe->flags = 0;
		r->cq_tail++;
		r->sq_head++;
		__atomic_store_n(fake_cq_tail(r), r->cq_tail, __ATOMIC_RELEASE);
		__atomic_store_n(fake_sq_head(r), r->sq_head, __ATOMIC_RELEASE);
		done++;
	}
	return done;
}

/* ------------------------------------------------------------ ioctl */

static int fake_fail(int err)
{
	errno = err;
	return -1;
}

static int fake_enter(struct capchan_enter *e)
{
	struct fake_ring *r = fake.ring;
	unsigned consumed;

	fake.nenter++;
	if (fake.enter_hook)
		fake.enter_hook();
	if (!r)
		return fake_fail(fake.enter_errno ? fake.enter_errno : EBADFD);
	if (e->flags & ~CAPCHAN_ENTER_FLAGS_ALL || e->resv0 || e->resv[0] ||
	    e->resv[1])
		return fake_fail(EINVAL);
	if (fake.sqpoll) {
		if (e->flags & CAPCHAN_ENTER_SQ_WAKEUP)
			fake.nwakeup++;
		if (e->flags & CAPCHAN_ENTER_GETEVENTS &&
		    r->cq_tail - *fake_cq_head(r) < e->min_complete)
			return fake_fail(EINTR);
		return 0;
	}
	/* as the module: only a poll thread's channel may be woken */
	if (e->flags & CAPCHAN_ENTER_SQ_WAKEUP)
		return fake_fail(EINVAL);
	consumed = fake.enter_hold ? fake_module_hold(r, e->to_submit) :
		   fake_module_consume(r, fake.enter_max && e->to_submit > fake.enter_max ?
					   fake.enter_max : e->to_submit);
	if (e->to_submit && !consumed &&
	    __atomic_load_n(fake_sq_tail(r), __ATOMIC_ACQUIRE) != r->sq_head)
		return fake_fail(EBUSY);
	/* cut short (the module let go of files): it returns without waiting */
	if (consumed < e->to_submit && fake.enter_max)
		return (int)consumed;
	if (e->flags & CAPCHAN_ENTER_GETEVENTS &&
	    r->cq_tail - *fake_cq_head(r) < e->min_complete)
		return fake_fail(EINTR);	/* nobody will post: a "signal" */
	return (int)consumed;
}

static int fake_dispatch(unsigned long cmd, void *arg, struct fake_call *c)
{
	int ret;

	switch (cmd) {
	case CAPCHAN_IOC_VERSION: {
		struct capchan_version *v = arg;

		c->version = *v;
		v->abi_version = CAPCHAN_ABI_VERSION;
		v->features = 0x3f;
		v->ops = (1ULL << CAPCHAN_OP_LAST) - 1;
		v->rights = CAPCHAN_RIGHTS_ALL;
		v->max_sq_entries = CAPCHAN_MAX_SQ_ENTRIES;
		v->max_cq_entries = CAPCHAN_MAX_CQ_ENTRIES;
		v->max_caps = 4096;
		v->max_depth = 64;
		return 0;
	}
	case CAPCHAN_IOC_SETUP: {
		struct capchan_params *p = arg;

		c->params = *p;
		if (fake.setup_errno)
			return fake_fail(fake.setup_errno);
		if (!fake.ring)
			return fake_fail(EINVAL);
		*p = fake.ring->p;
		p->flags = c->params.flags;
		return 0;
	}
	case CAPCHAN_IOC_GRANT: {
		struct capchan_grant *g = arg;

		c->grant = *g;
		if (fake.grant_errno)
			return fake_fail(fake.grant_errno);
		g->handle = fake.grant_handle;
		g->cap_type = CAPCHAN_CAP_DIR;
		return 0;
	}
	case CAPCHAN_IOC_SEAL:
		c->arg = (unsigned long)arg;
		return 0;
	case CAPCHAN_IOC_ENTER:
		c->enter = *(struct capchan_enter *)arg;
		return fake_enter(arg);
	case CAPCHAN_IOC_INVOKE:
		c->sqe = *(const struct capchan_sqe *)arg;
		ret = fake.invoke ? fake.invoke(arg) : fake.invoke_ret;
		return ret < 0 ? fake_fail(-ret) : ret;
	case CAPCHAN_IOC_FILTER: {
		const struct capchan_filter *f = arg;

		c->filter = *f;
		if (fake.filter_errno)
			return fake_fail(fake.filter_errno);
		if (!f->len || f->len > CAPCHAN_FILTER_MAX_INSNS || !f->insns)
			return fake_fail(EINVAL);
		memcpy(fake.filter_insns, (const void *)(uintptr_t)f->insns,
		       f->len * sizeof(struct sock_filter));
		fake.filter_len = f->len;
		fake.nfilters++;
		return 0;
	}
	default:
		return fake_fail(ENOTTY);
	}
}

int __wrap_ioctl(int fd, unsigned long cmd, ...)
{
	struct fake_call scratch, *c = &scratch;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (fake.nlog < FAKE_LOG_MAX)
		c = &fake.log[fake.nlog++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cmd = cmd;
	if (cmd == CAPCHAN_IOC_INVOKE && arg)
		c->sqe = *(const struct capchan_sqe *)arg;

	if (fd == FAKE_FD)
		ret = fake_dispatch(cmd, arg, c);
	else
		ret = __real_ioctl(fd, cmd, arg);
	c->ret = ret < 0 ? -errno : ret;
	return ret;
}

static int fake_open(const char *path, int flags, int *ret)
{
	if (strcmp(path, CAPCHAN_DEVICE) || !(fake.open_ok || fake.open_errno))
		return 0;
	fake.nopen++;
	fake.open_flags = flags;
	*ret = fake.open_ok ? FAKE_FD : fake_fail(fake.open_errno);
	return 1;
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int ret;

	if (fake_open(path, flags, &ret))
		return ret;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return __real_open(path, flags, mode);
}

int __wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int ret;

	if (fake_open(path, flags, &ret))
		return ret;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return __real_open64(path, flags, mode);
}

int __wrap_close(int fd)
{
	if (fd != FAKE_FD)
		return __real_close(fd);
	fake.nclose++;
	return 0;
}

static void *fake_mmap(size_t len, int prot, int flags, off_t off)
{
	fake.nmmap++;
	fake.mmap_len = len;
	fake.mmap_prot = prot;
	fake.mmap_flags = flags;
	fake.mmap_off = off;
	if (fake.mmap_errno) {
		errno = fake.mmap_errno;
		return MAP_FAILED;
	}
	if (!fake.ring || off != 0 || len > fake.ring->size) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return fake.ring->mem;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (fd == FAKE_FD)
		return fake_mmap(len, prot, flags, off);
	return __real_mmap(addr, len, prot, flags, fd, off);
}

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	if (fd == FAKE_FD)
		return fake_mmap(len, prot, flags, off);
	return __real_mmap64(addr, len, prot, flags, fd, off);
}

int __wrap_munmap(void *addr, size_t len)
{
	if (!fake.ring || addr != fake.ring->mem)
		return __real_munmap(addr, len);
	fake.nmunmap++;
	fake.munmap_addr = addr;
	fake.munmap_len = len;
	return 0;
}
