// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the per-channel handle table.
 *
 * A handle is slot | generation << 16.  The generation changes every time
 * a slot is freed, so a stale or guessed handle fails instead of reaching
 * whatever capability reuses the slot.  The table grows by doubling up to
 * max_caps; all access is under ctx->lock.
 */
#include "capchan.h"

#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/slab.h>

#define CAPCHAN_TABLE_MIN	16

void capchan_table_init(struct capchan_table *t)
{
	t->slots = NULL;
	t->nr_slots = 0;
	t->nr_used = 0;
	t->free_head = U32_MAX;
}

void capchan_table_destroy(struct capchan_table *t)
{
	u32 i;

	for (i = 0; i < t->nr_slots; i++)
		if (t->slots[i].cap)
			capchan_cap_put(t->slots[i].cap);
	kvfree(t->slots);
	capchan_table_init(t);
}

static int capchan_table_grow(struct capchan_table *t)
{
	u32 limit = READ_ONCE(capchan_max_caps);
	u32 nr = t->nr_slots ? t->nr_slots * 2 : CAPCHAN_TABLE_MIN;
	struct capchan_slot *slots;
	u32 i;

	if (t->nr_slots >= limit)
		return -EMFILE;
	nr = min(nr, limit);
	slots = kvmalloc_array(nr, sizeof(*slots), GFP_KERNEL_ACCOUNT);
	if (!slots)
		return -ENOMEM;
	if (t->nr_slots)
		memcpy(slots, t->slots, t->nr_slots * sizeof(*slots));
	/* chain the new slots onto the free list, lowest index first */
	for (i = t->nr_slots; i < nr; i++) {
		slots[i].cap = NULL;
		slots[i].gen = 1;
		slots[i].next_free = i + 1 < nr ? i + 1 : t->free_head;
	}
	t->free_head = t->nr_slots;
	kvfree(t->slots);
	t->slots = slots;
	t->nr_slots = nr;
	return 0;
}

u32 capchan_table_handle(const struct capchan_table *t, u32 slot)
{
	return slot | (t->slots[slot].gen << CAPCHAN_HANDLE_SLOT_BITS);
}

/* Takes over the caller's reference on @cap; returns a handle or -errno. */
int capchan_table_insert(struct capchan_table *t, struct capchan_cap *cap)
{
	u32 slot;
	int err;

	if (t->nr_used >= READ_ONCE(capchan_max_caps))
		return -EMFILE;
	if (t->free_head == U32_MAX) {
		err = capchan_table_grow(t);
		if (err)
			return err;
	}
	slot = t->free_head;
	t->free_head = t->slots[slot].next_free;
	t->slots[slot].cap = cap;
	t->nr_used++;
	return capchan_table_handle(t, slot);
}

static struct capchan_slot *capchan_table_slot(const struct capchan_table *t,
					       u32 handle)
{
	u32 slot = handle & CAPCHAN_HANDLE_SLOT_MASK;
	u32 gen = handle >> CAPCHAN_HANDLE_SLOT_BITS;
	struct capchan_slot *s;

	/* bit 31 set, or a slot we never handed out */
	if (gen > CAPCHAN_HANDLE_GEN_MASK || slot >= t->nr_slots)
		return NULL;
	slot = array_index_nospec(slot, t->nr_slots);
	s = &t->slots[slot];
	if (!s->cap || s->gen != gen)
		return NULL;
	return s;
}

struct capchan_cap *capchan_table_lookup(const struct capchan_table *t,
					 u32 handle)
{
	struct capchan_slot *s = capchan_table_slot(t, handle);

	return s ? s->cap : NULL;
}

/* Removes the slot; returns the capability whose reference the caller now owns. */
struct capchan_cap *capchan_table_remove(struct capchan_table *t, u32 handle)
{
	struct capchan_slot *s = capchan_table_slot(t, handle);
	struct capchan_cap *cap;

	if (!s)
		return NULL;
	cap = s->cap;
	s->cap = NULL;
	t->nr_used--;
	/*
	 * A new generation so the old handle never matches again.  A slot
	 * whose generations are used up is retired rather than wrapped: a
	 * wrap would revive handles closed long ago.  Left off the free
	 * list, the slot is simply never handed out again, and the table
	 * cannot grow past max_caps to replace it.
	 */
	if (s->gen == CAPCHAN_HANDLE_GEN_MASK) {
		s->gen = 0;	/* matches no handle: handles have gen >= 1 */
		return cap;
	}
	s->gen++;
	s->next_free = t->free_head;
	t->free_head = s - t->slots;
	return cap;
}
