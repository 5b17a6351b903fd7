// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: where the memory lives that the module may be told to write
 * to: the scratch buffer, the ioctl argument page, the paths, the long
 * path.  Ring garbage, stray bits and SQEs torn between two threads make
 * pointers to them point elsewhere and opcodes that only read them into
 * ops that write (RENAME, 18, with bit 4 flipped is READ, with a handle
 * as its length).  If that memory sat among the rest, such an op would
 * overwrite a thread's stack or malloc's chunks: long runs died that way
 * (SIGSEGV at a return address, "malloc(): invalid size").
 *
 * So it is carved out of an arena of PROT_NONE address space (reserved,
 * not memory) from 8 to 24 TiB, far below the mmap area near 128 TiB
 * where stacks, heaps and rings are: a pointer into it changed in any of
 * its low 43 bits stays in the arena, where it faults unless it hits
 * another fuzz buffer.  Each piece is followed by at least FZ_ARENA_GAP
 * bytes that are never mapped, so that an op running off its end faults
 * too.
 */
#include "fuzz.h"

#define FZ_ARENA_AT	(8ULL << 40)
#define FZ_ARENA_LEN	(16ULL << 40)
#define FZ_ARENA_GAP	(1ULL << 20)

static char *fz_arena;
static _Atomic uint64_t fz_arena_used;	/* bytes handed out from the middle */

/* Made in the test process before any fork or thread; inherited after. */
static int fz_arena_init(void)
{
	char *a;

	if (fz_arena)
		return 0;
	a = mmap((void *)FZ_ARENA_AT, FZ_ARENA_LEN, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (a == MAP_FAILED || a != (char *)FZ_ARENA_AT) {
		if (a != MAP_FAILED)
			munmap(a, FZ_ARENA_LEN);
		return -ENOMEM;
	}
	fz_arena = a;
	return 0;
}

/*
 * @len bytes (rounded up to pages) with @prot from the arena, or the
 * address of @len bytes left PROT_NONE if @prot is PROT_NONE; NULL if
 * there is no arena or no memory.
 */
void *fz_arena_alloc(size_t len, int prot)
{
	uint64_t span = (len + 4095) & ~4095ULL, off;
	char *p;

	if (fz_arena_init())
		return NULL;
	off = atomic_fetch_add(&fz_arena_used, span + FZ_ARENA_GAP);
	if (off + span > FZ_ARENA_LEN / 2)
		return NULL;
	p = fz_arena + FZ_ARENA_LEN / 2 + off;
	if (prot == PROT_NONE)
		return p;
	if (mmap(p, span, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != p)
		return NULL;
	return p;
}

/* Give the memory back; the address space stays reserved, PROT_NONE. */
void fz_arena_free(void *p, size_t len)
{
	uint64_t span = (len + 4095) & ~4095ULL;

	if (p)
		mmap(p, span, PROT_NONE,
		     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}
