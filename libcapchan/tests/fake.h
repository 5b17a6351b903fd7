/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * A stand-in for the capchan module, for host unit tests.
 *
 * The test binary is linked with -Wl,--wrap for ioctl, open, close, mmap and
 * munmap.  Calls on FAKE_FD (and opens of /dev/capchan while fake.open_ok
 * or fake.open_errno is set) are answered here; every other call goes to the
 * real libc function.  Every ioctl, faked or real, is logged.
 *
 * struct fake_ring is a ring region in ordinary memory laid out by the
 * offsets a module would report; fake_module_consume() plays the module's
 * side of the rings (load-acquire SQ tail, copy SQEs, post CQEs,
 * store-release CQ tail and SQ head).
 */
#ifndef LIBCAPCHAN_TESTS_FAKE_H
#define LIBCAPCHAN_TESTS_FAKE_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capchan.h"

#define FAKE_FD		777
#define FAKE_LOG_MAX	64
#define FAKE_HELD_MAX	256

struct fake_ring {
	char *mem;
	size_t size;
	struct capchan_params p;	/* what SETUP reports */
	unsigned sq_head;		/* the module's private copies */
	unsigned cq_tail;
	/* Result of one SQE; NULL: 0.  Called in consumption order. */
	int (*op)(const struct capchan_sqe *sqe);
	struct capchan_sqe seen[FAKE_LOG_MAX];	/* SQEs consumed, in order */
	unsigned nseen;
	int mapped;			/* mem is a real mapping (fake_ring_mmap) */
};

struct fake_call {
	int fd;
	unsigned long cmd;
	int ret;			/* the result as -errno */
	struct capchan_sqe sqe;		/* INVOKE: the SQE passed */
	struct capchan_enter enter;	/* ENTER: the argument */
	struct capchan_grant grant;	/* GRANT: the argument on input */
	struct capchan_version version;	/* VERSION: the argument on input */
	struct capchan_params params;	/* SETUP: the argument on input */
	unsigned long arg;		/* SEAL: the flags */
	struct capchan_filter filter;	/* FILTER: the argument */
};

struct fake_state {
	struct fake_call log[FAKE_LOG_MAX];
	unsigned nlog;

	/* open("/dev/capchan"): FAKE_FD if open_ok, -1/open_errno if set. */
	int open_ok;
	int open_errno;
	int open_flags;			/* flags of the last faked open */
	unsigned nopen;

	/* SETUP on FAKE_FD */
	struct fake_ring *ring;		/* what SETUP/mmap hand out */
	int setup_errno;
	int mmap_errno;
	unsigned nmmap, nmunmap, nclose;
	size_t mmap_len, munmap_len;
	int mmap_prot, mmap_flags;
	off_t mmap_off;
	void *munmap_addr;

	/* INVOKE on FAKE_FD: handler, else invoke_ret (< 0: -errno). */
	int (*invoke)(const struct capchan_sqe *sqe);
	int invoke_ret;
	/* GRANT on FAKE_FD */
	uint32_t grant_handle;
	int grant_errno;
	/* ENTER on FAKE_FD with ring == NULL */
	int enter_errno;
	/* Called at the start of each ENTER on FAKE_FD (another thread). */
	void (*enter_hook)(void);
	/* ENTER consumes at most this many (0: no bound) and then, cut
	 * short, does not wait, as the module does after closing files */
	unsigned enter_max;
	/* FILTER on FAKE_FD: fails with filter_errno if set; else the
	 * instructions of the last filter are copied here */
	int filter_errno;
	unsigned nfilters;
	unsigned filter_len;
	struct sock_filter filter_insns[CAPCHAN_FILTER_MAX_INSNS];
	/* ENTER consumes SQEs but posts no CQE: they wait in held[], in
	 * order, for the test to post (fake_post()) in any order it likes */
	int enter_hold;
	struct capchan_sqe held[FAKE_HELD_MAX];
	unsigned nheld;
	unsigned nenter;		/* ENTERs on FAKE_FD */
	/* a poll thread's channel: ENTER consumes nothing (the test plays
	 * the thread with fake_module_consume()); SQ_WAKEUP is counted */
	int sqpoll;
	unsigned nwakeup;
};

extern struct fake_state fake;

void fake_reset(void);
/* The last logged ioctl (fails the test when there is none). */
const struct fake_call *fake_last(void);

/* Lay out a ring region; counters start at start. */
void fake_ring_init(struct fake_ring *r, unsigned sq_entries,
		    unsigned cq_entries, unsigned start);
void fake_ring_free(struct fake_ring *r);
/* Build ch the way the library's setup would, independently of setup.c. */
void fake_ring_attach(struct capchan *ch, struct fake_ring *r, int fd);
/* Module side: consume up to n SQEs (only while the CQ has room). */
unsigned fake_module_consume(struct fake_ring *r, unsigned n);

/* Move the region into a real mapping: fake_ring_free() then unmaps it,
 * so that any later access by the library faults. */
void fake_ring_mmap(struct fake_ring *r);
/* Module side: post one CQE (the CQ must have room). */
void fake_post(struct fake_ring *r, uint64_t user_data, int res);

/* The SQ flags word (CAPCHAN_SQ_NEED_WAKEUP), as a poll thread writes it. */
unsigned *fake_sq_flags(struct fake_ring *r);

/* Raw views of the counters in the region. */
unsigned *fake_sq_head(struct fake_ring *r);
unsigned *fake_sq_tail(struct fake_ring *r);
unsigned *fake_cq_head(struct fake_ring *r);
unsigned *fake_cq_tail(struct fake_ring *r);

/* Fill an SQE with junk so a prep that forgets a field shows. */
void fake_junk(void *p, size_t len);

/*
 * Classic BPF as the kernel takes it (cbpf.c): the instructions the
 * library emits, loads inside data_size, jumps inside the program, a
 * return at its end; JGE only if @jge.  cbpf_run() runs it over @data.
 */
void cbpf_assert_shape(const struct sock_filter *f, unsigned len,
		       size_t data_size, bool jge);
uint32_t cbpf_run(const struct sock_filter *f, unsigned len, const void *data,
		  unsigned max_steps);

Suite *ring_suite(void);
Suite *prep_suite(void);
Suite *submit_suite(void);
Suite *setup_suite(void);
Suite *cap_suite(void);
Suite *dir_suite(void);
Suite *filter_suite(void);
Suite *sandbox_suite(void);
Suite *async_suite(void);
Suite *map_suite(void);

#endif
