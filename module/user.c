// SPDX-License-Identifier: GPL-2.0
/*
 * capchan - what each user holds through capchan, and its limits.
 *
 * Capabilities live outside every fd table, so without a count of their
 * own a user could pin any number of them, and any number of open files,
 * across any number of channels: enough to exhaust the system's file table
 * and make another user's open(2) fail.  Each channel is charged to the user
 * who created it (its real uid); what a channel makes (capabilities, and
 * the objects GRANT and OPEN bring in, each one open file) is charged to
 * that user and uncharged when it goes away:
 *
 *   channels      at most max_user_channels per user           -EMFILE
 *                 (opening /dev/capchan)
 *   capabilities  at most max_user_caps per user               -EDQUOT
 *   open files    at most the caller's RLIMIT_NOFILE, like an
 *                 fd table (counted per user, as RLIMIT_NPROC is) -EMFILE
 *                 and at most max_user_files per user          -ENFILE
 *   poll threads  at most max_user_sqpoll per user             -EAGAIN
 *                 (SETUP with CAPCHAN_SETUP_SQPOLL; as fork(2)
 *                 says for RLIMIT_NPROC)
 *   workers       at most max_user_workers per user, and the   no error:
 *                 submitter's RLIMIT_NPROC (worker.c: at the
 *                 bound the channel queues for the workers it
 *                 has, or runs the op inline)
 */
#include "capchan.h"

#include <linux/hashtable.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static DEFINE_HASHTABLE(capchan_users, 6);
static DEFINE_SPINLOCK(capchan_users_lock);

/* The accounting record of the current real uid, with a reference. */
struct capchan_user *capchan_user_get_current(void)
{
	kuid_t uid = current_uid();
	struct capchan_user *u, *new;

	new = kzalloc(sizeof(*new), CAPCHAN_GFP);
	if (!new)
		return ERR_PTR(-ENOMEM);
	spin_lock(&capchan_users_lock);
	hash_for_each_possible(capchan_users, u, node, __kuid_val(uid)) {
		if (uid_eq(u->uid, uid) && refcount_inc_not_zero(&u->ref)) {
			spin_unlock(&capchan_users_lock);
			kfree(new);
			return u;
		}
	}
	new->uid = uid;
	refcount_set(&new->ref, 1);
	atomic_long_set(&new->caps, 0);
	atomic_long_set(&new->files, 0);
	atomic_long_set(&new->channels, 0);
	atomic_long_set(&new->sqpoll, 0);
	atomic_long_set(&new->workers, 0);
	hash_add(capchan_users, &new->node, __kuid_val(uid));
	spin_unlock(&capchan_users_lock);
	return new;
}

void capchan_user_get(struct capchan_user *u)
{
	refcount_inc(&u->ref);
}

/*
 * refcount_dec_and_lock() spelt out: the lock is taken only for what may
 * be the last reference, and both paths visibly unlock (sparse checks it).
 */
void capchan_user_put(struct capchan_user *u)
{
	if (refcount_dec_not_one(&u->ref))
		return;
	spin_lock(&capchan_users_lock);
	if (!refcount_dec_and_test(&u->ref)) {
		spin_unlock(&capchan_users_lock);
		return;
	}
	hash_del(&u->node);
	spin_unlock(&capchan_users_lock);
	WARN_ON_ONCE(atomic_long_read(&u->caps) || atomic_long_read(&u->files) ||
		     atomic_long_read(&u->channels) ||
		     atomic_long_read(&u->sqpoll) ||
		     atomic_long_read(&u->workers));
	kfree(u);
}

int capchan_user_charge_cap(struct capchan_user *u)
{
	if (atomic_long_inc_return(&u->caps) > READ_ONCE(capchan_max_user_caps)) {
		atomic_long_dec(&u->caps);
		return -EDQUOT;
	}
	return 0;
}

void capchan_user_uncharge_cap(struct capchan_user *u)
{
	atomic_long_dec(&u->caps);
}

int capchan_user_charge_file(struct capchan_user *u)
{
	long n = atomic_long_inc_return(&u->files);
	int err = 0;

	if (n > READ_ONCE(capchan_max_user_files))
		err = -ENFILE;
	else if (n > rlimit(RLIMIT_NOFILE))
		err = -EMFILE;
	if (err)
		atomic_long_dec(&u->files);
	return err;
}

void capchan_user_uncharge_file(struct capchan_user *u)
{
	atomic_long_dec(&u->files);
}

int capchan_user_charge_channel(struct capchan_user *u)
{
	if (atomic_long_inc_return(&u->channels) > READ_ONCE(capchan_max_user_channels)) {
		atomic_long_dec(&u->channels);
		return -EMFILE;
	}
	return 0;
}

void capchan_user_uncharge_channel(struct capchan_user *u)
{
	atomic_long_dec(&u->channels);
}

int capchan_user_charge_sqpoll(struct capchan_user *u)
{
	if (atomic_long_inc_return(&u->sqpoll) > READ_ONCE(capchan_max_user_sqpoll)) {
		atomic_long_dec(&u->sqpoll);
		return -EAGAIN;
	}
	return 0;
}

void capchan_user_uncharge_sqpoll(struct capchan_user *u)
{
	atomic_long_dec(&u->sqpoll);
}

/* @nproc: the submitter's RLIMIT_NPROC, a bound of its own (io_uring's) */
int capchan_user_charge_worker(struct capchan_user *u, unsigned long nproc)
{
	long n = atomic_long_inc_return(&u->workers);

	if (n > READ_ONCE(capchan_max_user_workers) || n > nproc) {
		atomic_long_dec(&u->workers);
		return -EAGAIN;
	}
	return 0;
}

void capchan_user_uncharge_worker(struct capchan_user *u)
{
	atomic_long_dec(&u->workers);
}
