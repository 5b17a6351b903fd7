// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Channel setup and teardown: open /dev/capchan, create the rings, map the
 * one ring region and point struct capchan into it.
 */
#include <stdint.h>
#include <string.h>

#include "capchan.h"
#include "syscall.h"

/*
 * What the counters of a channel without rings point at: all zero, so
 * capchan_get_sqe() returns NULL, capchan_peek_cqe() -EAGAIN and the
 * counts are 0.  It is read-only: writing through it is a bug and faults.
 */
static const unsigned capchan__no_ring[4];

static void capchan__reset(struct capchan *ch)
{
	unsigned *zero = (unsigned *)capchan__no_ring;

	memset(ch, 0, sizeof(*ch));
	ch->fd = -1;
	ch->sq.khead = zero;
	ch->sq.ktail = zero;
	ch->sq.kflags = zero;
	ch->sq.kdropped = zero;
	ch->cq.khead = zero;
	ch->cq.ktail = zero;
	ch->cq.koverflow = zero;
}

/* Does a u32 field at off fit the region, naturally aligned? */
static int capchan__u32_ok(uint32_t off, uint32_t size)
{
	return (off & (sizeof(uint32_t) - 1)) == 0 &&
	       (uint64_t)off + sizeof(uint32_t) <= size;
}

/* Does an array of n entries of esz bytes at off fit the region? */
static int capchan__array_ok(uint32_t off, uint32_t n, size_t esz,
			     uint32_t size)
{
	return (off & (sizeof(uint64_t) - 1)) == 0 &&
	       (uint64_t)off + (uint64_t)n * esz <= size;
}

static int capchan__pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

/*
 * Check the layout the module reported before trusting a single pointer
 * into the mapping: a module/library mismatch gives -EPROTO, not a crash.
 */
static int capchan__layout_ok(const struct capchan_params *p)
{
	const struct capchan_sq_offsets *s = &p->sq_off;
	const struct capchan_cq_offsets *c = &p->cq_off;
	uint32_t size = p->ring_size;

	return capchan__pow2(p->sq_entries) && capchan__pow2(p->cq_entries) &&
	       capchan__u32_ok(s->head, size) &&
	       capchan__u32_ok(s->tail, size) &&
	       capchan__u32_ok(s->ring_mask, size) &&
	       capchan__u32_ok(s->ring_entries, size) &&
	       capchan__u32_ok(s->flags, size) &&
	       capchan__u32_ok(s->dropped, size) &&
	       capchan__array_ok(s->sqes, p->sq_entries,
				 sizeof(struct capchan_sqe), size) &&
	       capchan__u32_ok(c->head, size) &&
	       capchan__u32_ok(c->tail, size) &&
	       capchan__u32_ok(c->ring_mask, size) &&
	       capchan__u32_ok(c->ring_entries, size) &&
	       capchan__u32_ok(c->overflow, size) &&
	       capchan__array_ok(c->cqes, p->cq_entries,
				 sizeof(struct capchan_cqe), size);
}

/* Map the ring region of fd and fill ch from p.  0 or -errno. */
static int capchan__map_rings(int fd, struct capchan *ch,
			      const struct capchan_params *p)
{
	const struct capchan_sq_offsets *s = &p->sq_off;
	const struct capchan_cq_offsets *c = &p->cq_off;
	unsigned sq_entries, sq_mask, cq_entries, cq_mask;
	char *ptr;
	int ret;

	if (!capchan__layout_ok(p))
		return -EPROTO;

	ptr = capchan__sys_mmap(p->ring_size, fd, CAPCHAN_OFF_RINGS, &ret);
	if (!ptr)
		return ret;

	/* The sizes in the mapping must be the ones SETUP returned. */
	sq_entries = *(unsigned *)(ptr + s->ring_entries);
	sq_mask = *(unsigned *)(ptr + s->ring_mask);
	cq_entries = *(unsigned *)(ptr + c->ring_entries);
	cq_mask = *(unsigned *)(ptr + c->ring_mask);
	if (sq_entries != p->sq_entries || sq_mask != sq_entries - 1 ||
	    cq_entries != p->cq_entries || cq_mask != cq_entries - 1) {
		capchan__sys_munmap(ptr, p->ring_size);
		return -EPROTO;
	}

	ch->ring_ptr = ptr;
	ch->ring_sz = p->ring_size;
	ch->features = p->features;
	ch->setup_flags = p->flags;

	ch->sq.khead = (unsigned *)(ptr + s->head);
	ch->sq.ktail = (unsigned *)(ptr + s->tail);
	ch->sq.kflags = (unsigned *)(ptr + s->flags);
	ch->sq.kdropped = (unsigned *)(ptr + s->dropped);
	ch->sq.ring_mask = sq_mask;
	ch->sq.ring_entries = sq_entries;
	ch->sq.sqes = (struct capchan_sqe *)(ptr + s->sqes);
	/* Nothing is queued yet: start where the module's tail is. */
	ch->sq.sqe_tail = capchan__read_once(ch->sq.ktail);
	ch->sq.sqe_head = ch->sq.sqe_tail;

	ch->cq.khead = (unsigned *)(ptr + c->head);
	ch->cq.ktail = (unsigned *)(ptr + c->tail);
	ch->cq.koverflow = (unsigned *)(ptr + c->overflow);
	ch->cq.ring_mask = cq_mask;
	ch->cq.ring_entries = cq_entries;
	ch->cq.cqes = (struct capchan_cqe *)(ptr + c->cqes);
	return 0;
}

int capchan_queue_init_params(unsigned entries, struct capchan *ch,
			      struct capchan_params *p)
{
	int fd, ret;

	capchan__reset(ch);
	fd = capchan__sys_open(CAPCHAN_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;

	p->sq_entries = entries;
	ret = capchan__sys_ioctl(fd, CAPCHAN_IOC_SETUP, p);
	if (ret < 0)
		goto err_close;
	ret = capchan__map_rings(fd, ch, p);
	if (ret < 0)
		goto err_close;
	ch->fd = fd;
	return 0;

err_close:
	capchan__sys_close(fd);
	capchan__reset(ch);
	return ret;
}

int capchan_queue_init(unsigned entries, struct capchan *ch, unsigned flags)
{
	struct capchan_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return capchan_queue_init_params(entries, ch, &p);
}

int capchan_open_channel(struct capchan *ch)
{
	int fd;

	capchan__reset(ch);
	fd = capchan__sys_open(CAPCHAN_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;
	ch->fd = fd;
	return 0;
}

void capchan_queue_exit(struct capchan *ch)
{
	if (ch->ring_ptr)
		capchan__sys_munmap(ch->ring_ptr, ch->ring_sz);
	if (ch->fd >= 0)
		capchan__sys_close(ch->fd);
	capchan__reset(ch);
}

int capchan_get_version(struct capchan *ch, struct capchan_version *v)
{
	memset(v, 0, sizeof(*v));	/* resv must be zero on input */
	return capchan__sys_ioctl(ch->fd, CAPCHAN_IOC_VERSION, v);
}
