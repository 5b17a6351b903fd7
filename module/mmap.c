// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - zero-copy mmap(2) of a FILE capability through its capability
 * file, and the teardown REVOKE does of such mappings.
 *
 * The mapping is the file's own: vm_file is the underlying file and the file
 * system's vm_ops do the work, so pages come straight from its page cache.
 * What capchan adds is a per-mapping wrapper around those vm_ops (struct
 * capchan_mmap, shared by the VMAs a mapping becomes through split, fork and
 * mremap) whose fault, map_pages (fault-around) and page_mkwrite pass on to
 * the file system's only while the capability is live, inside one SRCU read
 * section.  REVOKE marks the capability revoked, waits for those sections
 * (synchronize_srcu) and for the faults they let through to map their page
 * (on the page lock), and then zaps every PTE of the mapped file range with
 * unmap_mapping_range(), so no page stays mapped and none can be mapped
 * again: later accesses get SIGBUS, in every process that inherited the
 * mapping.  The zap works on the file range, so other mappings of those
 * pages (other processes' own mmap(2) of the file) lose their PTEs too and
 * simply fault them back in; pages a private mapping already copied on write
 * are its own memory and stay (even_cows = 0).
 *
 * Rights are checked once, at mmap time, and the VMA gets no more than
 * they allow: VM_MAYEXEC is always cleared, a shared mapping made without
 * PROT_WRITE loses VM_SHARED and VM_MAYWRITE (as one of an O_RDONLY file
 * would), and VM_DONTEXPAND keeps mremap(2) from growing a mapping past
 * the range REVOKE tears down.  Being VM_SPECIAL, it also keeps khugepaged
 * and MADV_COLLAPSE away, which on shmem could install a PMD mapping
 * without a fault, so without asking the wrapper.
 *
 * A VM_SHARED VMA could be turned into a plain mapping of its vm_file by
 * remap_file_pages(2), which would escape the wrapper and with it REVOKE,
 * and madvise(MADV_REMOVE) punches holes through its vm_file without any
 * fault, so even after REVOKE.  Read-only and private mappings have no
 * VM_SHARED; a shared writable one gets a file of its own, opened for
 * reading and writing with the capability's credentials, whose FMODE_READ
 * and FMODE_WRITE are then cleared: the file system keeps its read-write
 * open (so faults and write-back work as for any writable mapping), while
 * do_mmap() refuses to map a file without FMODE_READ and vfs_fallocate()
 * one without FMODE_WRITE, so both fail.  Nothing else reads or writes
 * through that file.  When its last VMA goes, FMODE_WRITE comes back
 * unless the capability was revoked, so its release is a writer's
 * (fsnotify's CLOSE_WRITE, a file system's trimming on close).
 */
#include "capchan.h"

#include <linux/file.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/version.h>

/* Fault handlers check capchan_cap_is_revoked() inside this; REVOKE waits. */
DEFINE_STATIC_SRCU(capchan_mmap_srcu);

/*
 * One mmap(2) of a capability file.  The wrapper vm_ops are inside, so a
 * VMA finds its mapping from vma->vm_ops and vm_private_data stays the
 * file system's.
 */
struct capchan_mmap {
	struct vm_operations_struct	ops;	/* the VMAs' vm_ops */
	const struct vm_operations_struct *real;	/* the file system's */
	refcount_t			ref;	/* VMAs, and a REVOKE tearing down */
	struct capchan_cap		*cap;	/* held by @capfile */
	/* pins the capability, and through its f_op this module's code */
	struct file			*capfile;
	struct file			*file;	/* the VMAs' vm_file */
	pgoff_t				pgoff;	/* the file pages mapped */
	pgoff_t				pages;
	bool				writable;	/* holds i_mmap_writable */
	struct hlist_node		node;	/* cap->mmaps, tree->lock */
	struct list_head		dead;	/* on a REVOKE's teardown list */
};

static struct capchan_mmap *capchan_mmap_of(struct vm_area_struct *vma)
{
	return container_of(vma->vm_ops, struct capchan_mmap, ops);
}

static void capchan_mmap_put(struct capchan_mmap *m)
{
	struct file *capfile = m->capfile;
	bool revoked;

	if (!refcount_dec_and_test(&m->ref))
		return;
	mutex_lock(&m->cap->tree->lock);
	hlist_del(&m->node);
	revoked = m->cap->flags & CAPCHAN_CAPF_REVOKED;
	mutex_unlock(&m->cap->tree->lock);
	if (m->writable) {
		/*
		 * No VMA is left to reach the file: give its release back the
		 * writer it was.  Not after REVOKE, for a MADV_REMOVE that took
		 * the file from a VMA before it went and is still on its way.
		 */
		if (!revoked)
			m->file->f_mode |= FMODE_WRITE;
		mapping_unmap_writable(m->file->f_mapping);
	}
	fput(m->file);
	kfree(m);
	/* deferred: the capability and this module go after we returned */
	fput(capfile);
}

/*
 * The three ways a page gets mapped.  After the file system's handler
 * returns nothing may touch @m: a fault that returns VM_FAULT_RETRY has
 * dropped the mmap or VMA lock, and the VMA (and @m) may be gone.
 *
 * ->fault and ->page_mkwrite hand back a page that the core maps (or
 * makes writable, or copies) only after they returned, under the page
 * lock.  They leave this section with the page locked, so REVOKE, once
 * past synchronize_srcu(), waits for that mapping on the page lock
 * (capchan_mmap_teardown).  The core would lock it next anyway.
 */
static vm_fault_t capchan_mmap_fault(struct vm_fault *vmf)
{
	struct capchan_mmap *m = capchan_mmap_of(vmf->vma);
	vm_fault_t ret = VM_FAULT_SIGBUS;
	int idx = srcu_read_lock(&capchan_mmap_srcu);

	if (!capchan_cap_is_revoked(m->cap)) {
		ret = m->real->fault(vmf);
		if (!(ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE |
			     VM_FAULT_RETRY | VM_FAULT_DONE_COW |
			     VM_FAULT_LOCKED))) {
			lock_page(vmf->page);
			ret |= VM_FAULT_LOCKED;
		}
	}
	srcu_read_unlock(&capchan_mmap_srcu, idx);
	return ret;
}

/* Fault-around may not sleep; an SRCU read section does not. */
static vm_fault_t capchan_mmap_map_pages(struct vm_fault *vmf,
					 pgoff_t start, pgoff_t end)
{
	struct capchan_mmap *m = capchan_mmap_of(vmf->vma);
	vm_fault_t ret = 0;	/* nothing mapped: ->fault decides */
	int idx = srcu_read_lock(&capchan_mmap_srcu);

	if (!capchan_cap_is_revoked(m->cap))
		ret = m->real->map_pages(vmf, start, end);
	srcu_read_unlock(&capchan_mmap_srcu, idx);
	return ret;
}

/* A write to a page mapped read-only so far (write-notify). */
static vm_fault_t capchan_mmap_page_mkwrite(struct vm_fault *vmf)
{
	struct capchan_mmap *m = capchan_mmap_of(vmf->vma);
	vm_fault_t ret = VM_FAULT_SIGBUS;
	int idx = srcu_read_lock(&capchan_mmap_srcu);

	if (!capchan_cap_is_revoked(m->cap)) {
		ret = m->real->page_mkwrite(vmf);
		if (!(ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE |
			     VM_FAULT_LOCKED))) {
			struct folio *folio = page_folio(vmf->page);

			/* as the core does: truncated meanwhile, retry */
			folio_lock(folio);
			if (!folio->mapping) {
				folio_unlock(folio);
				ret = 0;
			} else {
				ret |= VM_FAULT_LOCKED;
			}
		}
	}
	srcu_read_unlock(&capchan_mmap_srcu, idx);
	return ret;
}

/* A new VMA of the mapping: split, fork, mremap. */
static void capchan_mmap_open(struct vm_area_struct *vma)
{
	struct capchan_mmap *m = capchan_mmap_of(vma);

	refcount_inc(&m->ref);
	if (m->real->open)
		m->real->open(vma);
}

static void capchan_mmap_close(struct vm_area_struct *vma)
{
	struct capchan_mmap *m = capchan_mmap_of(vma);

	if (m->real->close)
		m->real->close(vma);
	capchan_mmap_put(m);
}

static void capchan_vma_flags(struct vm_area_struct *vma, vm_flags_t set,
			      vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * What the capability must hold for this VMA, and what the file must be:
 * the errors of capchan(7), in that order.
 */
static int capchan_mmap_check(struct capchan_cap *cap, struct file *file,
			      struct vm_area_struct *vma, bool shared_write)
{
	struct inode *inode = file_inode(file);
	pgoff_t last = vma->vm_pgoff + vma_pages(vma) - 1;
	u64 need = CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP;

	if (cap->type != CAPCHAN_CAP_FILE)
		return -ENODEV;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (shared_write)
		need |= CAPCHAN_RIGHT_WRITE;
	if ((cap->rights & need) != need)
		return -EPERM;
	/* do_mmap() checked the offset against the capability file only */
	if (last > (pgoff_t)((inode->i_sb->s_maxbytes - 1) >> PAGE_SHIFT))
		return -EINVAL;
	/* page cache only: no DAX, no hugetlbfs (their own VMA types) */
	if (!file->f_op->mmap || IS_DAX(inode) ||
	    inode->i_sb->s_magic == HUGETLBFS_MAGIC)
		return -ENODEV;
	/* READ and WRITE imply these open modes; the rest as mmap(2) says */
	if (!(file->f_mode & FMODE_READ))
		return -EACCES;
	if (shared_write) {
		if (!(file->f_mode & FMODE_WRITE) || IS_APPEND(inode))
			return -EACCES;
		if (IS_SWAPFILE(inode))
			return -ETXTBSY;
	}
	return 0;
}

/*
 * The file a shared writable mapping maps: a new open of the same file,
 * read-write with the capability's credentials.  Its FMODE_READ goes once
 * the file system mapped it (see the top of this file).  Holds the
 * mapping's i_mmap_writable too, so a write seal (memfd F_SEAL_WRITE)
 * cannot come between this check and the VMA's own count.
 */
static struct file *capchan_mmap_write_file(struct file *file,
					    const struct cred *cred)
{
	struct file *wfile;
	int err;

	err = mapping_map_writable(file->f_mapping);
	if (err)
		return ERR_PTR(err);
	wfile = dentry_open(&file->f_path, O_RDWR | O_LARGEFILE, cred);
	if (IS_ERR(wfile))
		mapping_unmap_writable(file->f_mapping);
	return wfile;
}

/*
 * The file system mapped @vma; can it be wrapped?  A plain page cache
 * mapping of @file itself, with a fault handler.  Otherwise undo what its
 * ->mmap did (its ->close, as the core does when a later step fails).
 */
static int capchan_mmap_wrappable(struct vm_area_struct *vma,
				  struct file *file, bool shared_write)
{
	const struct vm_operations_struct *ops = vma->vm_ops;

	if (ops && ops->fault &&
	    !(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP | VM_IO | VM_HUGETLB)) &&
	    /* a stacked file system's own file would let remap escape */
	    (!shared_write || vma->vm_file == file))
		return 0;
	if (ops && ops->close)
		ops->close(vma);
	return -ENODEV;
}

/*
 * mmap(2) of a capability file: map the capability's file at the same
 * offset.  Called with mmap_lock held for writing, before the VMA is
 * linked anywhere: no fault can reach it until this returns.
 */
int capchan_capfile_mmap(struct file *capfile, struct vm_area_struct *vma)
{
	struct capchan_cap *cap = capfile->private_data;
	bool shared = vma->vm_flags & VM_MAYSHARE;
	bool shared_write = shared && (vma->vm_flags & VM_WRITE);
	struct file *file, *mapfile;
	const struct cred *old;
	struct capchan_mmap *m;
	int err;

	if (!capchan_cap_enter(cap))
		return -EKEYREVOKED;
	file = capchan_cap_file(cap);
	err = capchan_mmap_check(cap, file, vma, shared_write);
	if (err)
		goto out_exit;
	err = -ENOMEM;
	m = kzalloc(sizeof(*m), CAPCHAN_GFP);
	if (!m)
		goto out_exit;

	/* what the file system sees is the mapping the capability allows */
	capchan_vma_flags(vma, VM_DONTEXPAND,
			  VM_MAYEXEC | (shared && !shared_write ?
					VM_SHARED | VM_MAYWRITE : 0));
	old = override_creds(cap->cred);
	mapfile = file;
	if (shared_write) {
		mapfile = capchan_mmap_write_file(file, cap->cred);
		if (IS_ERR(mapfile)) {
			revert_creds(old);
			err = PTR_ERR(mapfile);
			goto out_free;
		}
		m->writable = true;
	}
	/* the VMA takes its own reference; on error the core drops it */
	vma_set_file(vma, mapfile);
	if (shared_write)
		fput(mapfile);
	err = mapfile->f_op->mmap(mapfile, vma);
	revert_creds(old);
	if (!err)
		err = capchan_mmap_wrappable(vma, mapfile, shared_write);
	if (err)
		goto out_unwritable;

	m->real = vma->vm_ops;
	m->ops.open = capchan_mmap_open;
	m->ops.close = capchan_mmap_close;
	m->ops.fault = capchan_mmap_fault;
	if (m->real->map_pages)
		m->ops.map_pages = capchan_mmap_map_pages;
	if (m->real->page_mkwrite)
		m->ops.page_mkwrite = capchan_mmap_page_mkwrite;
	refcount_set(&m->ref, 1);
	m->cap = cap;
	m->capfile = get_file(capfile);
	m->file = get_file(vma->vm_file);
	m->pgoff = vma->vm_pgoff;
	m->pages = vma_pages(vma);

	/* from here REVOKE tears it down, unless it marked the cap already */
	mutex_lock(&cap->tree->lock);
	if (cap->flags & CAPCHAN_CAPF_REVOKED) {
		mutex_unlock(&cap->tree->lock);
		if (m->real->close)
			m->real->close(vma);
		fput(m->file);
		fput(m->capfile);
		err = -EKEYREVOKED;
		goto out_unwritable;
	}
	hlist_add_head(&m->node, &cap->mmaps);
	mutex_unlock(&cap->tree->lock);
	/* no VMA reaches the file yet: from now on none can read or write it */
	if (shared_write)
		mapfile->f_mode &= ~(FMODE_READ | FMODE_WRITE);
	vma->vm_ops = &m->ops;
	capchan_cap_exit(cap);
	return 0;

out_unwritable:
	if (m->writable)
		mapping_unmap_writable(file->f_mapping);
out_free:
	kfree(m);
out_exit:
	capchan_cap_exit(cap);
	return err;
}

/*
 * REVOKE marked @cap revoked (tree lock held): put its mappings on @dead,
 * for capchan_mmap_teardown() once the lock is dropped.  A mapping whose
 * last VMA is going away already is left to go.
 */
void capchan_mmap_revoked(struct capchan_cap *cap, struct list_head *dead)
{
	struct capchan_mmap *m;

	lockdep_assert_held(&cap->tree->lock);
	hlist_for_each_entry(m, &cap->mmaps, node)
		if (refcount_inc_not_zero(&m->ref))
			list_add_tail(&m->dead, dead);
}

/*
 * Wait for the faults that found the capability live and still have a page
 * to map: each holds the page locked until its PTE is in place.
 */
static void capchan_mmap_wait_pages(struct capchan_mmap *m)
{
	pgoff_t index = m->pgoff, end = m->pgoff + m->pages - 1;
	struct folio_batch batch;
	unsigned int i;

	folio_batch_init(&batch);
	while (filemap_get_folios(m->file->f_mapping, &index, end, &batch)) {
		for (i = 0; i < folio_batch_count(&batch); i++) {
			folio_lock(batch.folios[i]);
			folio_unlock(batch.folios[i]);
		}
		folio_batch_release(&batch);
		cond_resched();
	}
}

/*
 * Tear down what REVOKE collected.  Once synchronize_srcu() returns, a
 * fault either saw the capability revoked or holds the page it is about
 * to map locked; after those pages were locked once, no PTE can appear any
 * more: zap the ones there are.  Sleeps; no capchan lock may be held but
 * the channel's.
 */
void capchan_mmap_teardown(struct list_head *dead)
{
	struct capchan_mmap *m, *next;

	if (list_empty(dead))
		return;
	synchronize_srcu(&capchan_mmap_srcu);
	list_for_each_entry_safe(m, next, dead, dead) {
		capchan_mmap_wait_pages(m);
		unmap_mapping_range(m->file->f_mapping,
				    (loff_t)m->pgoff << PAGE_SHIFT,
				    (loff_t)m->pages << PAGE_SHIFT, 0);
		list_del(&m->dead);
		capchan_mmap_put(m);
	}
}
