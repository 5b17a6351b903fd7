// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - the per-channel handle table.
 *
 * A handle is a number from a per-channel counter that runs through
 * 1..CAPCHAN_HANDLE_MAX and then starts over.  The slot that holds the
 * capability is the handle's low bits (handle & mask), and the slot keeps
 * the whole handle it was issued under, so a lookup is one index and one
 * compare.  Issuing a handle advances the counter past every value whose
 * slot is taken, so a value comes back only after the counter went round
 * the whole 31-bit space.  Values skipped on the way (their slot held a
 * live handle) count too, and the table is never more than three quarters
 * full, so a closed handle is reissued only after at least 2^29 further
 * handles were created (2^31 - 2 while few handles live), whatever the
 * table size, and no slot ever wears out (a per-slot generation would: a
 * small table cycles its few slots through their generations in no time).
 *
 * The table doubles (up to twice max_caps, so it stays at most three
 * quarters full and the scan for a free slot stays short); on growth each
 * live entry moves to handle & new_mask, which cannot collide because
 * distinct low bits stay distinct under a wider mask.  A slot can be
 * reserved before the capability that goes in exists, so an op checks the
 * table limit before it has side effects.  A slot is a capability pointer
 * and the 32-bit handle, kept in two arrays (12 bytes a slot on 64-bit,
 * where a struct of both would be padded to 16).  A table
 * that just doubled is still three eighths full, so while capabilities
 * are added the slots cost at most 32 bytes per capability (the table does
 * not shrink when they are closed).
 *
 * Locking: every access to the slots and counters is under t->lock, a
 * spinlock held for one table operation (fdinfo alone holds it for a
 * whole walk, so its count and lines agree: with max_caps at 1M that is
 * seconds, which is why max_caps is an administrator's choice), and
 * never across an op, an allocation or a capchan_cap_put() (which may take
 * a tree mutex): ops on one channel run in parallel, each holding a user
 * reference on the capability it looked up (capchan_table_get()), so a
 * CLOSE on another thread frees the slot at once while the capability and
 * its object live until the op ends.
 */
#include "capchan.h"

#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/slab.h>

#define CAPCHAN_TABLE_MIN	16

/* A reserved slot: taken, but no handle resolves to it yet. */
#define CAPCHAN_SLOT_RESERVED	((struct capchan_cap *)1UL)

/* The two arrays of a table: slot i is caps[i] and handles[i]. */
struct capchan_table_arrays {
	struct capchan_cap	**caps;
	u32			*handles;
};

static void capchan_table_free(struct capchan_table_arrays *a)
{
	kvfree(a->caps);
	kvfree(a->handles);
	a->caps = NULL;
	a->handles = NULL;
}

/*
 * The arrays of a table of @nr slots, zeroed.  Two allocations, not one:
 * each has a power-of-two size, which a large kmalloc (a power-of-two
 * number of pages) holds without waste.
 */
static int capchan_table_alloc(struct capchan_table_arrays *a, u32 nr)
{
	a->caps = kvcalloc(nr, sizeof(*a->caps), CAPCHAN_GFP);
	a->handles = kvcalloc(nr, sizeof(*a->handles), CAPCHAN_GFP);
	if (a->caps && a->handles)
		return 0;
	capchan_table_free(a);
	return -ENOMEM;
}

void capchan_table_init(struct capchan_table *t)
{
	spin_lock_init(&t->lock);
	t->caps = NULL;
	t->handles = NULL;
	t->mask = 0;
	t->nr_slots = 0;
	t->nr_used = 0;
	t->nr_reserved = 0;
	t->next = 1;
}

/* The channel is being released: no op runs, no lock needed. */
void capchan_table_destroy(struct capchan_table *t)
{
	u32 i;

	for (i = 0; i < t->nr_slots; i++) {
		struct capchan_cap *cap = t->caps[i];

		if (cap && cap != CAPCHAN_SLOT_RESERVED)
			capchan_cap_put(cap);
	}
	kvfree(t->caps);
	kvfree(t->handles);
	capchan_table_init(t);
}

/* Most slots a table with @limit live entries ever needs. */
static u32 capchan_table_max_slots(u32 limit)
{
	return max_t(u32, roundup_pow_of_two(limit) * 2, CAPCHAN_TABLE_MIN);
}

/*
 * Move every entry into @a (@nr slots, from capchan_table_alloc()) and
 * make it the table's; @a gets the old arrays.
 */
static void capchan_table_install(struct capchan_table *t,
				  struct capchan_table_arrays *a, u32 nr)
{
	u32 i;

	lockdep_assert_held(&t->lock);
	for (i = 0; i < t->nr_slots; i++) {
		u32 j = t->handles[i] & (nr - 1);

		if (!t->caps[i])
			continue;
		a->caps[j] = t->caps[i];
		a->handles[j] = t->handles[i];
	}
	swap(t->caps, a->caps);
	swap(t->handles, a->handles);
	t->nr_slots = nr;
	t->mask = nr - 1;
}

static u32 capchan_handle_next(u32 h)
{
	return h >= CAPCHAN_HANDLE_MAX ? 1 : h + 1;
}

/*
 * Take a slot for a capability to come and return the handle it will have
 * (> 0), or -EMFILE (max_caps live entries) / -ENOMEM.  Commit or cancel it.
 * The limit is checked and the slot taken under one hold of t->lock, so
 * threads racing for the last slot never exceed it.  A bigger array is
 * allocated with the lock dropped and installed only if no other thread
 * grew the table meanwhile.
 */
int capchan_table_reserve(struct capchan_table *t)
{
	u32 limit = READ_ONCE(capchan_max_caps);
	struct capchan_table_arrays old = {}, a;
	u32 h, nr;
	int ret;

	spin_lock(&t->lock);
	for (;;) {
		if (t->nr_used >= limit) {
			ret = -EMFILE;
			goto out_unlock;
		}
		/* keep at least a quarter free: the scan below stays short */
		if ((t->nr_used + 1) * 4 <= t->nr_slots * 3)
			break;
		nr = t->nr_slots ? t->nr_slots * 2 : CAPCHAN_TABLE_MIN;
		if (nr > capchan_table_max_slots(limit)) {
			/* a table at its largest size still has room for limit */
			if (t->nr_used >= t->nr_slots) {
				ret = -EMFILE;
				goto out_unlock;
			}
			break;
		}
		spin_unlock(&t->lock);
		capchan_table_free(&old);
		if (capchan_table_alloc(&a, nr))
			return -ENOMEM;
		spin_lock(&t->lock);
		/* another thread may have grown it while the lock was dropped */
		if (nr == (t->nr_slots ? t->nr_slots * 2 : CAPCHAN_TABLE_MIN))
			capchan_table_install(t, &a, nr);	/* @a: the old ones */
		old = a;
	}
	h = t->next;
	while (t->caps[h & t->mask])
		h = capchan_handle_next(h);
	t->caps[h & t->mask] = CAPCHAN_SLOT_RESERVED;
	t->handles[h & t->mask] = h;
	t->next = capchan_handle_next(h);
	t->nr_used++;
	t->nr_reserved++;
	ret = h;
out_unlock:
	spin_unlock(&t->lock);
	capchan_table_free(&old);
	return ret;
}

/* Fill a reserved slot; takes over the caller's reference on @cap. */
void capchan_table_commit(struct capchan_table *t, u32 handle,
			  struct capchan_cap *cap)
{
	u32 i;

	spin_lock(&t->lock);
	i = handle & t->mask;
	WARN_ON_ONCE(t->caps[i] != CAPCHAN_SLOT_RESERVED ||
		     t->handles[i] != handle);
	t->caps[i] = cap;
	t->nr_reserved--;
	spin_unlock(&t->lock);
}

void capchan_table_cancel(struct capchan_table *t, u32 handle)
{
	u32 i;

	spin_lock(&t->lock);
	i = handle & t->mask;
	WARN_ON_ONCE(t->caps[i] != CAPCHAN_SLOT_RESERVED ||
		     t->handles[i] != handle);
	t->caps[i] = NULL;
	t->nr_used--;
	t->nr_reserved--;
	spin_unlock(&t->lock);
}

/*
 * Install a new capability: takes over the caller's reference on @cap,
 * which it drops if there is no slot.  Returns the handle or -errno.
 */
int capchan_table_insert(struct capchan_table *t, struct capchan_cap *cap)
{
	int h = capchan_table_reserve(t);

	if (h < 0) {
		capchan_cap_put(cap);
		return h;
	}
	capchan_table_commit(t, h, cap);
	return h;
}

/* The slot @handle names, or NULL. */
static struct capchan_cap **capchan_table_slot(const struct capchan_table *t,
					       u32 handle)
{
	struct capchan_cap *cap;
	u32 idx;

	lockdep_assert_held(&t->lock);
	if (!t->nr_slots)
		return NULL;
	idx = array_index_nospec(handle & t->mask, t->nr_slots);
	cap = t->caps[idx];
	/* a reserved slot has no capability yet: never a match */
	if (t->handles[idx] != handle || !cap || cap == CAPCHAN_SLOT_RESERVED)
		return NULL;
	return &t->caps[idx];
}

/*
 * The capability @handle names, with a user reference (capchan_cap_get())
 * the caller drops with capchan_cap_put() once its op is done, or NULL.
 * While that reference is held the capability is not retired: a CLOSE of
 * the handle meanwhile frees the slot, not the capability or its object.
 */
struct capchan_cap *capchan_table_get(struct capchan_table *t, u32 handle)
{
	struct capchan_cap **s, *cap = NULL;

	spin_lock(&t->lock);
	s = capchan_table_slot(t, handle);
	if (s) {
		cap = *s;
		/* the slot's own reference keeps both counts above zero */
		capchan_cap_get(cap);
	}
	spin_unlock(&t->lock);
	return cap;
}

/*
 * Removes the entry; returns the capability whose reference the caller now
 * owns (to drop with capchan_cap_put(), outside any spinlock), or NULL if
 * the handle names nothing (any more: another thread closed it first).
 */
struct capchan_cap *capchan_table_remove(struct capchan_table *t, u32 handle)
{
	struct capchan_cap **s, *cap = NULL;

	spin_lock(&t->lock);
	s = capchan_table_slot(t, handle);
	if (s) {
		cap = *s;
		*s = NULL;
		t->nr_used--;
	}
	spin_unlock(&t->lock);
	return cap;
}

/* Live entries, under t->lock: reserved slots not committed yet excluded. */
u32 capchan_table_live(const struct capchan_table *t)
{
	lockdep_assert_held(&t->lock);
	return t->nr_used - t->nr_reserved;
}

/* For fdinfo, under t->lock: slot @i's capability and handle, or NULL. */
struct capchan_cap *capchan_table_at(const struct capchan_table *t, u32 i,
				     u32 *handle)
{
	struct capchan_cap *cap;

	lockdep_assert_held(&t->lock);
	cap = t->caps[i];
	if (!cap || cap == CAPCHAN_SLOT_RESERVED)
		return NULL;
	*handle = t->handles[i];
	return cap;
}
