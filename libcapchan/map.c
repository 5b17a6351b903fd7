// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Zero-copy mapping of a FILE capability.  The module maps capability
 * files, so a handle is mapped by exporting a capability file with just
 * the rights the mapping needs, mapping it and closing it: the mapping
 * keeps what it needs, and REVOKE of the handle tears it down.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "capchan.h"
#include "syscall.h"

int capchan_mmap(struct capchan *ch, uint32_t h, size_t len, int prot,
		 int flags, uint64_t off, void **addrp)
{
	uint64_t rights = CAPCHAN_RIGHT_READ | CAPCHAN_RIGHT_MMAP;
	int type = flags & MAP_TYPE;
	int capfd, err;
	void *p;

	if (!addrp)
		return -EINVAL;
	/* mmap(2) takes an off_t: what does not fit it is no offset */
	if ((off_t)off < 0 || (uint64_t)(off_t)off != off)
		return -EOVERFLOW;
	/* only a shared writable mapping writes to the file */
	if ((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) &&
	    (prot & PROT_WRITE))
		rights |= CAPCHAN_RIGHT_WRITE;
	capfd = capchan_export(ch, h, rights);
	if (capfd < 0)
		return capfd;
	p = mmap(*addrp, len, prot, flags, capfd, (off_t)off);
	err = p == MAP_FAILED ? -errno : 0;
	/* the mapping holds the capability file now */
	capchan__sys_close(capfd);
	if (err)
		return err;
	*addrp = p;
	return 0;
}
