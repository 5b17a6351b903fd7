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

int capchan_submit(struct capchan *ch)
{
	unsigned to_submit = capchan__flush_sq(ch);

	if (!to_submit)
		return 0;
	return capchan__enter(ch->fd, to_submit, 0, 0);
}

int capchan_submit_and_wait(struct capchan *ch, unsigned wait_nr)
{
	unsigned to_submit = capchan__flush_sq(ch);

	if (!to_submit && !wait_nr)
		return 0;
	return capchan__enter(ch->fd, to_submit, wait_nr,
			      wait_nr ? CAPCHAN_ENTER_GETEVENTS : 0);
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
