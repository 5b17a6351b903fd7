// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - capability objects, the global derivation tree, transitive
 * revocation and capability files.
 */
#include "capchan.h"

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

/*
 * One lock for the whole derivation tree.  Trees cross channels and
 * processes (export/import), so a per-channel lock cannot cover them.  It
 * is taken only to create, free or revoke capabilities, never on the I/O
 * path, which only reads cap->revoked.
 */
static DEFINE_MUTEX(capchan_tree_lock);
static struct kmem_cache *capchan_cap_cache;

int capchan_cap_cache_init(void)
{
	/* SLAB_ACCOUNT: capabilities are charged to the caller's memcg */
	capchan_cap_cache = kmem_cache_create("capchan_cap",
					      sizeof(struct capchan_cap), 0,
					      SLAB_ACCOUNT | SLAB_HWCACHE_ALIGN,
					      NULL);
	return capchan_cap_cache ? 0 : -ENOMEM;
}

void capchan_cap_cache_exit(void)
{
	kmem_cache_destroy(capchan_cap_cache);
}

static struct capchan_cap *capchan_cap_alloc(struct file *file, u32 type,
					     u64 rights)
{
	struct capchan_cap *cap;

	cap = kmem_cache_zalloc(capchan_cap_cache, GFP_KERNEL_ACCOUNT);
	if (!cap)
		return NULL;
	refcount_set(&cap->ref, 1);
	cap->type = type;
	cap->rights = rights;
	cap->file = get_file(file);
	INIT_LIST_HEAD(&cap->children);
	INIT_LIST_HEAD(&cap->sibling);
	return cap;
}

/* A root capability (GRANT): takes its own reference on @file. */
struct capchan_cap *capchan_cap_new_root(struct file *file, u32 type, u64 rights)
{
	struct capchan_cap *cap = capchan_cap_alloc(file, type, rights);

	return cap ? cap : ERR_PTR(-ENOMEM);
}

/*
 * A child of @parent (OPEN, DERIVE, EXPORT).  The caller checked rights.
 * Linking happens under the tree lock and re-checks the parent's revoked
 * state there, so a child can never be born under an already revoked
 * parent and escape the revocation.
 */
struct capchan_cap *capchan_cap_new_child(struct capchan_cap *parent,
					  struct file *file, u32 type,
					  u64 rights)
{
	struct capchan_cap *cap;

	if (parent->depth + 1 > READ_ONCE(capchan_max_depth))
		return ERR_PTR(-EMLINK);
	cap = capchan_cap_alloc(file, type, rights);
	if (!cap)
		return ERR_PTR(-ENOMEM);
	cap->depth = parent->depth + 1;

	mutex_lock(&capchan_tree_lock);
	if (parent->revoked) {
		mutex_unlock(&capchan_tree_lock);
		fput(cap->file);
		kmem_cache_free(capchan_cap_cache, cap);
		return ERR_PTR(-EKEYREVOKED);
	}
	capchan_cap_get(parent);
	cap->parent = parent;
	list_add_tail(&cap->sibling, &parent->children);
	mutex_unlock(&capchan_tree_lock);
	return cap;
}

void capchan_cap_get(struct capchan_cap *cap)
{
	refcount_inc(&cap->ref);
}

/*
 * Drop a reference.  Freeing a child drops its reference on the parent, so
 * this walks up iteratively instead of recursing (trees can be deep).
 */
void capchan_cap_put(struct capchan_cap *cap)
{
	while (cap && refcount_dec_and_test(&cap->ref)) {
		struct capchan_cap *parent = cap->parent;

		/* children hold references, so none can remain here */
		WARN_ON_ONCE(!list_empty(&cap->children));
		mutex_lock(&capchan_tree_lock);
		list_del(&cap->sibling);
		mutex_unlock(&capchan_tree_lock);
		fput(cap->file);
		kmem_cache_free(capchan_cap_cache, cap);
		cap = parent;
	}
}

/*
 * Mark every descendant of @cap revoked, in every channel and process that
 * holds one.  Iterative depth-first walk using the parent pointers, so
 * trees of any depth cost no kernel stack.  Once this returns, every op on
 * a descendant fails with -EKEYREVOKED at its authorization check; an op
 * that passed the check earlier finishes on a file that stays referenced
 * by the capability, so nothing is freed under it.
 *
 * Returns how many capabilities were newly revoked.
 */
long capchan_cap_revoke_descendants(struct capchan_cap *cap)
{
	struct capchan_cap *node = cap;
	long count = 0;

	mutex_lock(&capchan_tree_lock);
	for (;;) {
		if (!list_empty(&node->children)) {
			node = list_first_entry(&node->children,
						struct capchan_cap, sibling);
		} else {
			/* climb until a node has a next sibling */
			while (node != cap &&
			       list_is_last(&node->sibling, &node->parent->children))
				node = node->parent;
			if (node == cap)
				break;
			node = list_next_entry(node, sibling);
		}
		if (!node->revoked) {
			WRITE_ONCE(node->revoked, true);
			count++;
		}
		cond_resched();
	}
	mutex_unlock(&capchan_tree_lock);
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

	seq_printf(m, "cap-type:\t%s\ncap-rights:\t0x%llx\ncap-revoked:\t%d\ncap-depth:\t%u\n",
		   cap->type == CAPCHAN_CAP_DIR ? "dir" : "file", cap->rights,
		   capchan_cap_is_revoked(cap), cap->depth);
}

static const struct file_operations capchan_capfile_fops = {
	.owner		= THIS_MODULE,
	.release	= capchan_capfile_release,
	.show_fdinfo	= capchan_capfile_show_fdinfo,
};

/* Wrap @cap (reference passed in) in a new O_CLOEXEC file descriptor. */
int capchan_capfile_create(struct capchan_cap *cap)
{
	int fd = anon_inode_getfd("[capchan-cap]", &capchan_capfile_fops, cap,
				  O_RDONLY | O_CLOEXEC);

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
