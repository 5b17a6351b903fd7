// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Submission and waiting: publish prepared SQEs and enter the module.
 */
#include "capchan.h"
#include "syscall.h"

static int capchan__enter(int fd, unsigned to_submit, unsigned min_complete,
			  unsigned flags)
{
	struct capchan_enter e = {
		.to_submit = to_submit,
		.min_complete = min_complete,
		.flags = flags,
	};

	return capchan__sys_ioctl(fd, CAPCHAN_IOC_ENTER, &e);
}

/*
 * Publish every SQE handed out by capchan_get_sqe() and return how many
 * published SQEs the module has not consumed yet.
 */
static unsigned capchan__flush_sq(struct capchan *ch)
{
	struct capchan_sq *sq = &ch->sq;
	unsigned tail = sq->sqe_tail;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		/*
		 * The SQE contents must be visible before the new tail:
		 * pairs with the module's smp_load_acquire of the SQ tail in
		 * ENTER.
		 */
		capchan__smp_store_release(sq->ktail, tail);
	}
	/*
	 * Pairs with the module's smp_store_release of the SQ head after it
	 * copied the SQEs.
	 */
	return tail - capchan__smp_load_acquire(sq->khead);
}

/*
 * ENTER until everything published is consumed, or the module takes no
 * more.  It may take fewer than asked: when the CQ fills up, or after it
 * let go of files (they are closed when the call returns, so it returns
 * early, without waiting, to keep each user's file limit).  Returns the
 * number consumed, or -errno if none was.
 */
static int capchan__submit(struct capchan *ch, unsigned wait_nr)
{
	unsigned to_submit = capchan__flush_sq(ch), done = 0;
	unsigned flags = wait_nr ? CAPCHAN_ENTER_GETEVENTS : 0;
	int ret;

	if (!to_submit && !wait_nr)
		return 0;
	for (;;) {
		ret = capchan__enter(ch->fd, to_submit - done, wait_nr, flags);
		if (ret < 0)
			return done ? (int)done : ret;
		done += ret;
		/* all in (and waited for), or the CQ is full: the caller reaps */
		if (done >= to_submit || !ret || capchan_cq_ready(ch) >= ch->cq.ring_entries)
			return done;
	}
}

/*
 * A poll thread consumes the SQ: publish, then the barrier and the flag
 * check of capchan_sq_needs_wakeup(), and a system call only to wake the
 * thread or to wait.  Returns the number of SQEs this call published.
 */
static int capchan__submit_sqpoll(struct capchan *ch, unsigned wait_nr)
{
	unsigned published = ch->sq.sqe_tail - ch->sq.sqe_head;
	unsigned pending = capchan__flush_sq(ch);
	unsigned flags = wait_nr ? CAPCHAN_ENTER_GETEVENTS : 0;
	int ret;

	/* nothing in the SQ: the thread has nothing to be woken for */
	if (pending && capchan_sq_needs_wakeup(ch))
		flags |= CAPCHAN_ENTER_SQ_WAKEUP;
	if (!flags)
		return (int)published;
	ret = capchan__enter(ch->fd, 0, wait_nr, flags);
	return ret < 0 ? ret : (int)published;
}

int capchan_submit(struct capchan *ch)
{
	if (ch->setup_flags & CAPCHAN_SETUP_SQPOLL)
		return capchan__submit_sqpoll(ch, 0);
	return capchan__submit(ch, 0);
}

int capchan_submit_and_wait(struct capchan *ch, unsigned wait_nr)
{
	if (ch->setup_flags & CAPCHAN_SETUP_SQPOLL)
		return capchan__submit_sqpoll(ch, wait_nr);
	return capchan__submit(ch, wait_nr);
}

int capchan_wait_cqe(struct capchan *ch, struct capchan_cqe **cqe_ptr)
{
	for (;;) {
		int ret = capchan_peek_cqe(ch, cqe_ptr);

		if (ret != -EAGAIN)
			return ret;
		ret = capchan__enter(ch->fd, 0, 1, CAPCHAN_ENTER_GETEVENTS);
		if (ret < 0)
			return ret;
	}
}
