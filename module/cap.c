// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - capabilities, the objects they name, derivation trees,
 * transitive revocation and capability files.
 *
 * Authority: a capability carries the credentials of whoever brought its
 * authority into capchan (the caller of GRANT); everything derived from it
 * (OPEN, DERIVE, EXPORT) inherits them and IMPORT keeps them.  Ops run with
 * them (op_table.c), so a capability does the same wherever it travels and
 * never more than its granter could do directly.
 *
 * Objects: GRANT and OPEN bring in an object (one open file, charged to a
 * user); DERIVE, EXPORT and IMPORT share their parent's.  A capability
 * holds its object only while it is live or has ops in flight: @active is
 * 1 (the live bias) plus the ops running on it, and the object is dropped
 * when it reaches 0, which revocation makes happen as soon as the last op
 * in flight is done.  So a revoked capability pins no file, mount or
 * deleted inode, whoever still holds a handle to it.
 *
 * Trees: every capability belongs to the tree of its root (GRANT), which
 * has its own lock; trees of different roots share nothing.  A node's
 * @children lists only its live children: revocation detaches what it
 * revokes, so revoking again walks nothing, and no child is ever added
 * under a revoked node.
 */
#include "capchan.h"

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

static struct kmem_cache *capchan_cap_cache;

int capchan_cap_cache_init(void)
{
	/* every capability takes one: keep it small (issue 12: <= 128 B) */
	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) &&
		     sizeof(struct capchan_cap) > CAPCHAN_CAP_SIZE_MAX);
	/*
	 * SLAB_ACCOUNT: capabilities are charged to the caller's memcg.  No
	 * SLAB_HWCACHE_ALIGN, which would round each up to 128 bytes: a
	 * capability's counters are written by the ops on it, so two on one
	 * cache line only share it when both are busy on different CPUs.
	 */
	capchan_cap_cache = kmem_cache_create("capchan_cap",
					      sizeof(struct capchan_cap), 0,
					      SLAB_ACCOUNT, NULL);
	return capchan_cap_cache ? 0 : -ENOMEM;
}

void capchan_cap_cache_exit(void)
{
	kmem_cache_destroy(capchan_cap_cache);
}

/* ---- objects ---------------------------------------------------------- */

/*
 * A new object for @file (a reference is taken), charged as one open file
 * to @user.  -EMFILE/-ENFILE over the user's file limits.
 */
struct capchan_obj *capchan_obj_new(struct file *file, struct capchan_user *user)
{
	struct capchan_obj *obj;
	int err;

	obj = kzalloc(sizeof(*obj), CAPCHAN_GFP);
	if (!obj)
		return ERR_PTR(-ENOMEM);
	err = capchan_user_charge_file(user);
	if (err) {
		kfree(obj);
		return ERR_PTR(err);
	}
	refcount_set(&obj->ref, 1);
	capchan_user_get(user);
	obj->user = user;
	obj->file = file ? get_file(file) : NULL;
	return obj;
}

/* OPEN reserves the object before it opens anything: the file comes last. */
void capchan_obj_set_file(struct capchan_obj *obj, struct file *file)
{
	WARN_ON_ONCE(obj->file);
	obj->file = get_file(file);
}

static void capchan_obj_get(struct capchan_obj *obj)
{
	refcount_inc(&obj->ref);
}

void capchan_obj_put(struct capchan_obj *obj)
{
	if (!obj || !refcount_dec_and_test(&obj->ref))
		return;
	/* fput() defers the final close to task work: fine under any mutex */
	if (obj->file)
		fput(obj->file);
	capchan_user_uncharge_file(obj->user);
	capchan_user_put(obj->user);
	kfree(obj);
}

/* ---- trees -------------------------------------------------------------- */

static struct capchan_tree *capchan_tree_new(void)
{
	struct capchan_tree *tree = kzalloc(sizeof(*tree), CAPCHAN_GFP);

	if (!tree)
		return NULL;
	mutex_init(&tree->lock);
	refcount_set(&tree->ref, 1);
	return tree;
}

static void capchan_tree_put(struct capchan_tree *tree)
{
	if (refcount_dec_and_test(&tree->ref)) {
		mutex_destroy(&tree->lock);
		kfree(tree);
	}
}

/* ---- capabilities -------------------------------------------------------- */

/* The live bias is gone: drop the object, it is no longer reachable. */
static void capchan_cap_drop_obj(struct capchan_cap *cap)
{
	struct capchan_obj *obj = cap->obj;

	WRITE_ONCE(cap->obj, NULL);
	capchan_obj_put(obj);
}

/*
 * Begin an op on @cap: false if it is revoked.  Pairs with revocation's
 * store of CAPCHAN_CAPF_REVOKED before it drops the live bias: an op that
 * begins after REVOKE returned sees either @active at 0 or the flag set
 * (both RMW ops on @active are fully ordered), so no op starts on a
 * revoked capability.
 */
bool capchan_cap_enter(struct capchan_cap *cap)
{
	if (!atomic_inc_not_zero(&cap->active))
		return false;
	if (unlikely(capchan_cap_is_revoked(cap))) {
		capchan_cap_exit(cap);
		return false;
	}
	return true;
}

void capchan_cap_exit(struct capchan_cap *cap)
{
	if (atomic_dec_and_test(&cap->active))
		capchan_cap_drop_obj(cap);
}

/*
 * A capability in @tree (reference taken) naming @obj (reference taken),
 * charged to @user, with @cred.  Not linked anywhere yet.
 */
static struct capchan_cap *capchan_cap_alloc(struct capchan_tree *tree,
					     struct capchan_obj *obj,
					     const struct cred *cred,
					     struct capchan_user *user,
					     u32 type, u64 rights)
{
	struct capchan_cap *cap;
	int err;

	cap = kmem_cache_zalloc(capchan_cap_cache, CAPCHAN_GFP);
	if (!cap)
		return ERR_PTR(-ENOMEM);
	err = capchan_user_charge_cap(user);
	if (err) {
		kmem_cache_free(capchan_cap_cache, cap);
		return ERR_PTR(err);
	}
	refcount_set(&cap->ref, 1);
	refcount_set(&cap->users, 1);
	atomic_set(&cap->active, 1);
	cap->type = type;
	cap->rights = rights;
	cap->cred = get_cred(cred);
	capchan_user_get(user);
	cap->user = user;
	if (obj)
		capchan_obj_get(obj);
	cap->obj = obj;
	refcount_inc(&tree->ref);
	cap->tree = tree;
	INIT_HLIST_HEAD(&cap->mmaps);
	return cap;
}

/* A root capability (GRANT) with the caller's credentials, in a new tree. */
struct capchan_cap *capchan_cap_new_root(struct capchan_obj *obj, u32 type,
					 u64 rights, struct capchan_user *user)
{
	struct capchan_tree *tree = capchan_tree_new();
	struct capchan_cap *cap;

	if (!tree)
		return ERR_PTR(-ENOMEM);
	cap = capchan_cap_alloc(tree, obj, current_cred(), user, type, rights);
	capchan_tree_put(tree);		/* the capability holds its own */
	return cap;
}

/*
 * Prepare a child of @parent (OPEN, DERIVE, EXPORT): it inherits the
 * parent's credentials and tree, and is charged to @user.  Checks the depth
 * and the user's capability limit, so OPEN can fail here before it has any
 * side effect.  @obj may be NULL (OPEN sets it later) or the parent's.
 * The child is not linked yet: capchan_cap_link() it, or drop it with
 * capchan_cap_put().
 */
struct capchan_cap *capchan_cap_prepare_child(struct capchan_cap *parent,
					      struct capchan_obj *obj,
					      u32 type, u64 rights,
					      struct capchan_user *user)
{
	struct capchan_cap *cap;

	/* max_depth is at most 1024 (main.c): @depth is a u16 */
	if (parent->depth + 1 >
	    min_t(u32, READ_ONCE(capchan_max_depth), U16_MAX))
		return ERR_PTR(-EMLINK);
	cap = capchan_cap_alloc(parent->tree, obj, parent->cred, user, type,
				rights);
	if (!IS_ERR(cap))
		cap->depth = parent->depth + 1;
	return cap;
}

/*
 * Children lists, in creation order (so REVOKE marks a tree oldest first)
 * with a head of one pointer: @children is the oldest child, @sib_next
 * runs to younger siblings and @sib_prev to older ones, and the oldest
 * child's @sib_prev is the youngest, so adding one needs no walk.  A
 * capability on no list has @sib_prev NULL.  Tree lock held.
 */
static void capchan_child_add(struct capchan_cap *parent,
			      struct capchan_cap *cap)
{
	struct capchan_cap *first = parent->children;

	lockdep_assert_held(&parent->tree->lock);
	cap->sib_next = NULL;
	if (!first) {
		cap->sib_prev = cap;
		parent->children = cap;
		return;
	}
	cap->sib_prev = first->sib_prev;
	first->sib_prev->sib_next = cap;
	first->sib_prev = cap;
}

/* Take @cap off its parent's list, if it is on it. */
static void capchan_child_del(struct capchan_cap *cap)
{
	struct capchan_cap *parent = cap->parent, *next = cap->sib_next;

	lockdep_assert_held(&cap->tree->lock);
	if (!cap->sib_prev)
		return;
	if (parent->children == cap)
		parent->children = next;
	else
		cap->sib_prev->sib_next = next;
	if (next)
		next->sib_prev = cap->sib_prev;
	else if (parent->children)
		parent->children->sib_prev = cap->sib_prev;	/* new youngest */
	cap->sib_next = NULL;
	cap->sib_prev = NULL;
}

/*
 * Link a prepared child under @parent.  Under the tree lock, and only if
 * the parent is not revoked: a child is never born under a revoked parent
 * (where revocation would miss it).  On failure the child is freed.
 */
int capchan_cap_link(struct capchan_cap *parent, struct capchan_cap *cap)
{
	struct capchan_tree *tree = parent->tree;

	if (WARN_ON_ONCE(!cap->obj)) {
		capchan_cap_put(cap);
		return -EINVAL;
	}
	mutex_lock(&tree->lock);
	if (parent->flags & CAPCHAN_CAPF_REVOKED) {
		mutex_unlock(&tree->lock);
		capchan_cap_put(cap);
		return -EKEYREVOKED;
	}
	refcount_inc(&parent->ref);	/* structure only: see capchan_cap_put() */
	cap->parent = parent;
	capchan_child_add(parent, cap);
	mutex_unlock(&tree->lock);
	return 0;
}

/*
 * Drop the live bias once, under the tree lock: when the capability is
 * revoked or when nobody can name it any more, whichever comes first.  Its
 * object goes as soon as the ops in flight are done.
 */
static void capchan_cap_retire(struct capchan_cap *cap)
{
	lockdep_assert_held(&cap->tree->lock);
	if (cap->flags & CAPCHAN_CAPF_RETIRED)
		return;
	/* WRITE_ONCE: CAPCHAN_CAPF_REVOKED, in the same byte, is read unlocked */
	WRITE_ONCE(cap->flags, cap->flags | CAPCHAN_CAPF_RETIRED);
	/* fully ordered: see capchan_cap_enter() */
	capchan_cap_exit(cap);
}

/*
 * A user reference: a table slot, a capability file, or an op in flight
 * that looked it up by handle (capchan_table_get()).
 */
void capchan_cap_get(struct capchan_cap *cap)
{
	refcount_inc(&cap->users);
	refcount_inc(&cap->ref);
}

/*
 * Drop a structure reference.  Freeing a child drops its reference on the
 * parent, so this walks up iteratively instead of recursing (trees can be
 * deep).
 */
static void capchan_cap_unref(struct capchan_cap *cap)
{
	while (cap && refcount_dec_and_test(&cap->ref)) {
		struct capchan_cap *parent = cap->parent;
		struct capchan_tree *tree = cap->tree;

		mutex_lock(&tree->lock);
		/* live children and revoked ones both hold a reference */
		WARN_ON_ONCE(cap->children);
		capchan_child_del(cap);
		/* no user left: retired by capchan_cap_put() already */
		WARN_ON_ONCE(!(cap->flags & CAPCHAN_CAPF_RETIRED));
		mutex_unlock(&tree->lock);
		WARN_ON_ONCE(atomic_read(&cap->active) || cap->obj);
		put_cred(cap->cred);
		capchan_user_uncharge_cap(cap->user);
		capchan_user_put(cap->user);
		capchan_tree_put(tree);
		kmem_cache_free(capchan_cap_cache, cap);
		cap = parent;
	}
}

/*
 * Drop a user reference.  The last one retires the capability: with no
 * handle and no capability file left nobody can start an op on it, so it
 * lets go of its object at once, even while revoked children still keep
 * its structure (and so the parent links revocation walks) alive.
 */
void capchan_cap_put(struct capchan_cap *cap)
{
	if (!cap)
		return;
	if (refcount_dec_and_test(&cap->users)) {
		mutex_lock(&cap->tree->lock);
		capchan_cap_retire(cap);
		mutex_unlock(&cap->tree->lock);
	}
	capchan_cap_unref(cap);
}

/* Mark @cap revoked and drop its live bias.  Tree lock held. */
static void capchan_cap_mark_revoked(struct capchan_cap *cap)
{
	lockdep_assert_held(&cap->tree->lock);
	WRITE_ONCE(cap->flags, cap->flags | CAPCHAN_CAPF_REVOKED);
	capchan_cap_retire(cap);
}

/*
 * Revoke every descendant of @cap, in every channel and process that holds
 * one.  Depth first over the live children lists, marking each node on the
 * way down (so nothing new is derived from it meanwhile) and detaching it
 * on the way up once its own subtree is done.  Because finished subtrees
 * are detached, the walk can drop the tree lock whenever the CPU is wanted
 * and restart from @cap without losing anything, and a REVOKE of a subtree
 * revoked before costs nothing.  No pointer survives a restart but @cap,
 * which the caller holds.
 *
 * Once this returns, no op starts on any descendant (-EKEYREVOKED), each
 * drops its object as soon as its ops in flight are done, and their
 * mappings are gone (mmap.c).
 * Returns how many capabilities were newly revoked.
 */
long capchan_cap_revoke_descendants(struct capchan_cap *cap)
{
	struct capchan_tree *tree = cap->tree;
	struct capchan_cap *node;
	LIST_HEAD(mmaps);
	long count = 0;

	mutex_lock(&tree->lock);
restart:
	node = cap;
	for (;;) {
		struct capchan_cap *parent;

		if (node->children) {
			node = node->children;
			if (!(node->flags & CAPCHAN_CAPF_REVOKED)) {
				capchan_cap_mark_revoked(node);
				capchan_mmap_revoked(node, &mmaps);
				count++;
			}
			continue;
		}
		if (node == cap)
			break;
		/* @node's subtree is all revoked and detached: detach it */
		parent = node->parent;
		capchan_child_del(node);
		node = parent;
		if (need_resched()) {
			mutex_unlock(&tree->lock);
			cond_resched();
			mutex_lock(&tree->lock);
			goto restart;
		}
	}
	mutex_unlock(&tree->lock);
	capchan_mmap_teardown(&mmaps);
	return count;
}

/* ---- capability files ---------------------------------------------------- */

static int capchan_capfile_release(struct inode *inode, struct file *file)
{
	capchan_cap_put(file->private_data);
	return 0;
}

static void capchan_capfile_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct capchan_cap *cap = file->private_data;

	seq_printf(m, "cap-type:\t%s\ncap-rights:\t0x%llx\ncap-revoked:\t%d\ncap-depth:\t%u\ncap-uid:\t%u\n",
		   cap->type == CAPCHAN_CAP_DIR ? "dir" : "file", cap->rights,
		   capchan_cap_is_revoked(cap), cap->depth,
		   from_kuid_munged(current_user_ns(), cap->cred->fsuid));
}

static const struct file_operations capchan_capfile_fops = {
	.owner		= THIS_MODULE,
	.release	= capchan_capfile_release,
	.mmap		= capchan_capfile_mmap,
	.show_fdinfo	= capchan_capfile_show_fdinfo,
};

/*
 * Wrap @cap (reference passed in) in a new O_CLOEXEC file descriptor.  Read
 * and write, so that mmap(2) leaves MAP_SHARED with PROT_WRITE to the
 * capability's rights (capchan_capfile_mmap) instead of refusing it.
 */
int capchan_capfile_create(struct capchan_cap *cap)
{
	int fd = anon_inode_getfd("[capchan-cap]", &capchan_capfile_fops, cap,
				  O_RDWR | O_CLOEXEC);

	if (fd < 0)
		capchan_cap_put(cap);
	return fd;
}

/* The capability behind a capability file descriptor, with a reference. */
struct capchan_cap *capchan_capfile_get(int fd)
{
	struct capchan_cap *cap;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &capchan_capfile_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	cap = file->private_data;
	capchan_cap_get(cap);
	fput(file);
	return cap;
}
