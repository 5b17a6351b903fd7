/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of the capability lifecycle as cap.c, op_cap.c,
 * op_table.c and table.c implement it, checked with spin by
 * selftests/model_check.sh.  Not compiled: module/Kbuild lists its objects.
 *
 * The tree: R, a root (GRANT) in channel A's table; C, DERIVEd from R, in
 * channel A's table (both set up before anything runs); G, EXPORTed from
 * C while everything else runs, so capchan_attenuate()'s
 * capchan_cap_prepare_child() + capchan_cap_link(), the path DERIVE takes
 * too, races the revocation; channel B IMPORTs G's capability file.  One
 * object, shared by all three (DERIVE and EXPORT share their parent's).
 *
 * Processes: export_g (capchan_issue_export()), close_capfile
 * (capchan_capfile_release()), import_g (capchan_issue_import(), an op on
 * G, capchan_issue_close()), op_c (an op on C), revoke_r
 * (capchan_issue_revoke() -> capchan_cap_revoke_descendants()), close_c
 * (capchan_issue_close()); init, at the end, capchan_table_destroy() of
 * channel A.  Inlines carry the names of the cap.c functions they stand
 * for.
 *
 * Ops are modelled as they run: capchan_execute()'s table lookup (under
 * the table's spinlock, ctx_locked here) and capchan_cap_enter() (the
 * module enters just after the lock, its pin held, so no CLOSE can
 * retire the capability in between), the op
 * itself and capchan_cap_exit() outside any channel lock, concurrently
 * with everything else (see execute_op), CLOSE of the same handle
 * included.  The module pins with a user reference (capchan_table_get()),
 * which also defers CLOSE's retirement to the op's end; the model's
 * weaker structure pin lets CLOSE retire it while the op is inside, a
 * superset of those interleavings.  CLOSE (on_revoked) only takes the
 * table entry.
 * Refcounts and @active are atomic steps (fully ordered RMWs); the model
 * is sequentially consistent otherwise: @revoked is written under the
 * tree lock and read by capchan_cap_enter() after its fully ordered
 * atomic_inc_not_zero(), which the comment there argues is enough.
 *
 * Properties (any violation is an error trail):
 *  - no op starts on C or G after REVOKE(R) returned (assert at the step
 *    capchan_cap_enter() decides to succeed);
 *  - no object dropped while an op is inside capchan_cap_enter/exit, and
 *    an op inside sees its object (asserts in drop_obj and use);
 *  - every capability structure freed exactly once, only when its last
 *    reference goes, never touched after (asserts in unref and CHECK);
 *    after every channel and file is closed, all three are freed, the
 *    object released exactly once and the tree freed (end of init);
 *  - no deadlock (spin's invalid end states).
 *
 * Compile-time variants, each of which spin must refute:
 *  -DBROKEN_ENTER_NO_RECHECK  capchan_cap_enter() does not re-check
 *                             @revoked after atomic_inc_not_zero(): an op
 *                             starts on a revoked capability that still
 *                             has an op in flight.
 *  -DBROKEN_ENTER_INC         capchan_cap_enter() uses atomic_inc(): an
 *                             enter on a revoked idle capability drops its
 *                             object a second time.
 *  -DBROKEN_LINK_NO_CHECK     capchan_cap_link() links under a revoked
 *                             parent: the child escapes revocation.
 */

#define R	0
#define C	1
#define G	2
#define NONE	3
#define NCAP	3

/* need_resched() restarts of the revocation walk to explore */
#ifndef RESTARTS
#define RESTARTS	1
#endif

/* struct capchan_cap */
byte ref[NCAP];		/* refcount_t ref: users and linked children */
byte users[NCAP];	/* refcount_t users: table slots, capability files */
byte act[NCAP];	/* atomic_t active: 1 (live) + ops in flight */
bool revoked[NCAP];	/* under the tree lock */
bool retired[NCAP];	/* under the tree lock */
bool has_obj[NCAP];	/* cap->obj != NULL */
byte parent[NCAP];	/* cap->parent: set by capchan_cap_link() */
bool linked[NCAP];	/* on its parent's @children (sibling list) */

/* struct capchan_obj and struct capchan_tree */
byte objref;
bool obj_released;
byte treeref;
bool tree_freed;

bool tree_locked;	/* tree->lock */
bool ctx_locked[2];	/* ctx->lock of channels A and B */
#define CH_A	0
#define CH_B	1

/* handle tables and the capability file */
bool tableA_R, tableA_C, tableB_G;
bool capfile_open;

/* ghosts */
bool allocated[NCAP];
bool freed[NCAP];
byte inflight[NCAP];	/* ops between a successful enter and their exit */
bool revoke_returned;	/* REVOKE(R) returned to its caller */
bool export_done;

/* any access to a capability: never after it was freed */
#define CHECK(c)	assert(allocated[c] && !freed[c])

/*
 * A mutex.  Sections that cannot block are single steps guarded by
 * !lock instead: the same interleavings, fewer states.
 */
inline lock(l)
{
	atomic { !l -> l = true }
}

inline unlock(l)
{
	l = false
}

/* capchan_obj_put() */
inline obj_put()
{
	assert(objref > 0 && !obj_released);
	objref--;
	if
	:: objref == 0 ->
		/* nothing may use the file any more */
		assert(inflight[R] + inflight[C] + inflight[G] == 0);
		obj_released = true
	:: else -> skip
	fi
}

/* capchan_cap_drop_obj(): the live bias and every op are gone */
inline drop_obj(c)
{
	d_step {
		CHECK(c);
		assert(has_obj[c] && inflight[c] == 0);
		has_obj[c] = false;
		obj_put()
	}
}

/* capchan_cap_exit() */
inline cap_exit(c, z)
{
	d_step {
		CHECK(c);
		assert(act[c] > 0);
		act[c]--;
		z = (act[c] == 0)
	}
	if
	:: z -> drop_obj(c)
	:: else -> skip
	fi;
	z = false
}

/*
 * capchan_cap_enter(): @ok says whether the op may start.  The step that
 * decides success asserts that no REVOKE(R) returned before it.
 */
inline cap_enter(c, ok, z)
{
	d_step {
		CHECK(c);
#ifndef BROKEN_ENTER_INC
		/* atomic_inc_not_zero(&cap->active) */
		if
		:: act[c] > 0 -> act[c]++; ok = true
		:: else -> ok = false
		fi
#else
		act[c]++;
		ok = true
#endif
#ifdef BROKEN_ENTER_NO_RECHECK
		;
		if
		:: ok ->
			assert(c == R || !revoke_returned);
			inflight[c]++
		:: else -> skip
		fi
#endif
	}
#ifndef BROKEN_ENTER_NO_RECHECK
	if
	:: ok ->
		d_step {
			/* READ_ONCE(cap->revoked) */
			if
			:: revoked[c] -> ok = false; z = true
			:: else ->
				assert(c == R || !revoke_returned);
				inflight[c]++
			fi
		}
		if
		:: z -> z = false; cap_exit(c, z)
		:: else -> skip
		fi
	:: else -> skip
	fi
#endif
}

/*
 * The op itself, which uses the object, then capchan_cap_exit() (one
 * step: between the two nothing else of the op's happens).
 */
inline use_exit(c, z)
{
	d_step {
		CHECK(c);
		assert(has_obj[c] && !obj_released && act[c] > 0);
		inflight[c]--;
		act[c]--;
		z = (act[c] == 0)
	}
	if
	:: z -> drop_obj(c)
	:: else -> skip
	fi;
	z = false
}

/* capchan_cap_retire(): tree lock held */
inline retire(c, z)
{
	CHECK(c);
	if
	:: !retired[c] ->
		retired[c] = true;
		cap_exit(c, z)
	:: else -> skip
	fi
}

/*
 * capchan_cap_unref(): drop a structure reference; freeing a child drops
 * its reference on the parent, walking up.
 */
inline cap_unref(c, node, z)
{
	node = c;
	do
	:: node == NONE -> break
	:: else ->
		d_step {
			CHECK(node);
			assert(ref[node] > 0);
			ref[node]--;
			z = (ref[node] == 0)
		}
		if
		:: z ->
			z = false;
			/* under the tree lock (one step: nothing in it blocks) */
			d_step {
				!tree_locked;
				/* no live child: each holds a reference */
				assert(!((parent[R] == node && linked[R]) ||
					 (parent[C] == node && linked[C]) ||
					 (parent[G] == node && linked[G])));
				linked[node] = false;	/* list_del_init(sibling) */
				assert(retired[node])
			}
			d_step {
				assert(act[node] == 0 && !has_obj[node]);
				freed[node] = true;	/* kmem_cache_free() */
				assert(treeref > 0);
				treeref--;
				if
				:: treeref == 0 -> tree_freed = true
				:: else -> skip
				fi;
				node = parent[node]
			}
		:: else -> node = NONE
		fi
	od
}

/* capchan_cap_get(): a new table slot or capability file */
inline cap_get(c)
{
	d_step {
		CHECK(c);
		assert(users[c] > 0);
		users[c]++;
		ref[c]++
	}
}

/* capchan_cap_put(): drop a user reference */
inline cap_put(c, node, z)
{
	d_step {
		CHECK(c);
		assert(users[c] > 0);
		users[c]--;
		z = (users[c] == 0)
	}
	if
	:: z ->
		z = false;
		/* under the tree lock (one step: nothing in it blocks) */
		atomic {
			!tree_locked;
			retire(c, z)
		}
	:: else -> skip
	fi;
	cap_unref(c, node, z)
}

/*
 * capchan_cap_alloc() via capchan_cap_prepare_child() (or new_root):
 * one user, live, holding the object, in the tree.
 */
inline cap_alloc(c, p)
{
	d_step {
		assert(!allocated[c]);
		allocated[c] = true;
		ref[c] = 1;
		users[c] = 1;
		act[c] = 1;
		parent[c] = NONE;
		if
		:: p != NONE ->
			/* the parent's object: only inside enter/exit */
			CHECK(p);
			assert(has_obj[p])
		:: else -> skip
		fi;
		objref++;
		has_obj[c] = true;
		treeref++
	}
}

/* capchan_cap_link(): @ok false (-EKEYREVOKED) frees the child */
inline cap_link(p, c, ok, node, z)
{
	/* under the tree lock (one step: nothing in it blocks) */
	d_step {
		!tree_locked;
		CHECK(p);
#ifndef BROKEN_LINK_NO_CHECK
		if
		:: revoked[p] -> ok = false
		:: else ->
#endif
			ref[p]++;
			parent[c] = p;
			linked[c] = true;
			ok = true
#ifndef BROKEN_LINK_NO_CHECK
		fi
#endif
	}
	if
	:: !ok -> cap_put(c, node, z)	/* -EKEYREVOKED */
	:: else -> skip
	fi
}

/* capchan_cap_mark_revoked(): tree lock held */
inline mark_revoked(c, z)
{
	revoked[c] = true;
	retire(c, z)
}

/* the first live child of @n, or NONE */
#define FIRST_CHILD(n)						\
	(parent[C] == (n) && linked[C] -> C :			\
	 (parent[G] == (n) && linked[G] -> G : NONE))

/*
 * capchan_cap_revoke_descendants(R): depth first, mark on the way down,
 * detach on the way up; may drop the lock and restart (need_resched).
 */
inline revoke_descendants(c, node, nxt, z, restarts)
{
	lock(tree_locked);
	node = c;
	do
	:: nxt = FIRST_CHILD(node);
		if
		:: nxt != NONE ->
			node = nxt;
			CHECK(node);
			if
			:: !revoked[node] -> mark_revoked(node, z)
			:: else -> skip
			fi
		:: else ->
			if
			:: node == c -> break
			:: else ->
				/* @node's subtree is revoked: detach it */
				nxt = parent[node];
				linked[node] = false;
				node = nxt;
				if
				:: restarts < RESTARTS ->
					/* need_resched(): drop the lock, restart */
					restarts++;
					unlock(tree_locked);
					lock(tree_locked);
					node = c
				:: true -> skip
				fi
			fi
		fi
	od;
	unlock(tree_locked);
	nxt = NONE
}

/*
 * An op through capchan_execute(): lookup and enter (see the top),
 * the op and the exit outside it.  @present: the table holds the handle.
 * The op pins the structure from the lookup until after its exit with a
 * structure reference (cap->ref, as a child holds its parent's), so the
 * rest of the channel runs beside the op.  CLOSE may so retire the
 * capability (drop the live bias) while an op is inside: the object
 * must stay until that op's exit.  op_done() drops the pin.
 */
inline execute_op(ch, present, c, ok, pinned, z)
{
	lock(ctx_locked[ch]);
	if
	:: present ->
		d_step {
			CHECK(c);
			ref[c]++;
			pinned = true
		}
		cap_enter(c, ok, z)
	:: else -> ok = false	/* -EBADF */
	fi;
	unlock(ctx_locked[ch])
}

inline op_done(c, pinned, node, z)
{
	if
	:: pinned -> pinned = false; cap_unref(c, node, z)
	:: else -> skip
	fi
}

/* EXPORT on C in channel A: G is born, linked, wrapped in a file */
proctype export_g()
{
	bool ok, linked_ok, pinned, z;
	byte node;

	execute_op(CH_A, tableA_C, C, ok, pinned, z);
	if
	:: ok ->
		/* capchan_issue_export(): capchan_attenuate() */
		cap_alloc(G, C);
		cap_link(C, G, linked_ok, node, z);
		if
		:: linked_ok ->
			/* capchan_capfile_create(): the file holds G's user */
			capfile_open = true
		:: else -> skip
		fi;
		use_exit(C, z)
	:: else -> skip
	fi;
	op_done(C, pinned, node, z);
	export_done = true
}

/* close() of the capability file: capchan_capfile_release() */
proctype close_capfile()
{
	bool z;
	byte node;

	if
	:: atomic { capfile_open -> capfile_open = false }
		cap_put(G, node, z)
	:: export_done && !capfile_open -> skip	/* EXPORT made none */
	fi
}

/* Channel B: IMPORT G, an op on it, CLOSE it */
proctype import_g()
{
	bool ok, pinned, z;
	byte node;

	/* capchan_capfile_get(): fget, capchan_cap_get, fput */
	if
	:: atomic { capfile_open -> cap_get(G) }
	:: atomic { !capfile_open -> skip }	/* -EBADF: no file (yet/any more) */
		goto done
	fi;
	/* capchan_issue_import() */
	if
	:: revoked[G] -> cap_put(G, node, z); goto done	/* -EKEYREVOKED */
	:: else -> tableB_G = true	/* capchan_table_insert() */
	fi;
	/* an op on G */
	execute_op(CH_B, tableB_G, G, ok, pinned, z);
	if
	:: ok -> use_exit(G, z)
	:: else -> skip
	fi;
	op_done(G, pinned, node, z);
	/* CLOSE G: capchan_issue_close() */
	atomic { !ctx_locked[CH_B] -> tableB_G = false }
	cap_put(G, node, z);
done:
	skip
}

/*
 * Channel A: an op on C (a worker holding it); with EXPORT there may be
 * two ops inside C at once.
 */
proctype op_c()
{
	bool ok, pinned, z;
	byte node;

	execute_op(CH_A, tableA_C, C, ok, pinned, z);
	if
	:: ok -> use_exit(C, z)
	:: else -> skip
	fi;
	op_done(C, pinned, node, z)
}

/* Channel A: REVOKE R (capchan_issue_revoke()) */
proctype revoke_r()
{
	bool ok, pinned, z;
	byte node, nxt, restarts;

	execute_op(CH_A, tableA_R, R, ok, pinned, z);
	assert(ok);	/* R itself is never revoked here */
	revoke_descendants(R, node, nxt, z, restarts);
	revoke_returned = true;
	use_exit(R, z);
	op_done(R, pinned, node, z)
}

/* Channel A: CLOSE C (capchan_issue_close(): table_remove, put) */
proctype close_c()
{
	bool z;
	byte node;

	atomic { !ctx_locked[CH_A] -> tableA_C = false }
	cap_put(C, node, z)
}

init {
	bool z, ok;
	byte node;

	/* GRANT R, DERIVE C: in channel A's table */
	atomic {
		cap_alloc(R, NONE);
		tableA_R = true;
		cap_alloc(C, R);
		ref[R]++;
		parent[C] = R;
		linked[C] = true;
		tableA_C = true
	}
	atomic {
		run export_g();
		run close_capfile();
		run import_g();
		run op_c();
		run revoke_r();
		run close_c()
	}
	/* every process done: close channel A (capchan_table_destroy) */
	_nr_pr == 1;
	assert(!tableB_G && !tableA_C && !capfile_open);
	tableA_R = false;
	cap_put(R, node, z);
	/* everything went, exactly once */
	assert(freed[R] && freed[C] && (freed[G] == allocated[G]));
	assert(obj_released && objref == 0);
	assert(tree_freed && treeref == 0);
	ok = false
}
