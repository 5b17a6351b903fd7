// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Per-channel classic BPF filters: attach one (CAPCHAN_IOC_FILTER), and
 * build the common ones.  A filter only ever takes authority away and can
 * never be removed, so none of this needs privilege.
 *
 * The built filters load only the op word and, for readonly, the rights
 * asked for and the op flags: aligned 32-bit loads of struct
 * capchan_filter_data, which is all the module accepts.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>

#include "capchan.h"
#include "syscall.h"

/* Largest errno a filter may return (the kernel's MAX_ERRNO). */
#define CAPCHAN__MAX_ERRNO	4095

/* One compare per opcode bit, a load and two returns. */
#define CAPCHAN__OPS_INSNS	(64 + 3)

#define CAPCHAN__LD_OP							\
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct capchan_filter_data, op))

int capchan_filter_attach(struct capchan *ch, const struct sock_filter *insns,
			  unsigned len)
{
	struct capchan_filter f;

	memset(&f, 0, sizeof(f));
	f.len = len;
	f.insns = (uint64_t)(uintptr_t)insns;
	return capchan__sys_ioctl(ch->fd, CAPCHAN_IOC_FILTER, &f);
}

static int capchan__errno_ok(int err)
{
	return err >= 1 && err <= CAPCHAN__MAX_ERRNO;
}

/*
 * A filter that answers "hit" for the opcodes in opmask and "miss" for
 * the others: a load of the op, then one equality test per opcode, each
 * jumping to the hit return.  Returns the instruction count.
 */
static unsigned capchan__ops_filter(struct sock_filter *f, uint64_t opmask,
				    uint32_t hit, uint32_t miss)
{
	unsigned n = 0, nops = 0, op, i;

	for (op = 0; op < 64; op++)
		nops += (opmask >> op) & 1;
	f[n++] = (struct sock_filter)CAPCHAN__LD_OP;
	for (op = 0, i = 0; op < 64; op++) {
		if (!((opmask >> op) & 1))
			continue;
		/* jump over the remaining tests and the miss return */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, op,
						      (uint8_t)(nops - i), 0);
		i++;
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, miss);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, hit);
	return n;
}

int capchan_filter_deny_ops(struct capchan *ch, uint64_t opmask, int err)
{
	struct sock_filter f[CAPCHAN__OPS_INSNS];
	unsigned n;

	if (!capchan__errno_ok(err) || !opmask)
		return -EINVAL;
	n = capchan__ops_filter(f, opmask, CAPCHAN_FILTER_ERRNO(err),
				CAPCHAN_FILTER_ALLOW);
	return capchan_filter_attach(ch, f, n);
}

int capchan_filter_allow_ops(struct capchan *ch, uint64_t opmask, int err)
{
	struct sock_filter f[CAPCHAN__OPS_INSNS];
	unsigned n;

	if (!capchan__errno_ok(err))
		return -EINVAL;
	n = capchan__ops_filter(f, opmask, CAPCHAN_FILTER_ALLOW,
				CAPCHAN_FILTER_ERRNO(err));
	return capchan_filter_attach(ch, f, n);
}

/*
 * Read-only: the ops that change a file system, OPEN asking for the write
 * right or with O_CREAT or O_TRUNC, and EXPORT asking for any right that
 * changes a file system.  EXPORT is the one way out of the channel: a
 * capability file imported into an unfiltered channel would otherwise
 * carry the write right past this filter.
 */
int capchan_filter_readonly(struct capchan *ch, int err)
{
	/* classic BPF jumps only forward: both returns come last */
	enum { OPEN_CHECK = 10, EXPORT_CHECK = 14, ALLOW = 16, DENY = 17 };
	const uint32_t export_rights = (uint32_t)(CAPCHAN_RIGHT_WRITE |
						  CAPCHAN_RIGHT_CREATE |
						  CAPCHAN_RIGHT_REMOVE);
/* the offset of a jump at instruction pc to instruction to */
#define J(pc, to)	((uint8_t)((to) - (pc) - 1))
	struct sock_filter f[] = {
		/* 0 */ CAPCHAN__LD_OP,
		/* 1..7: the ops that change a file system */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_WRITE, J(1, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_TRUNCATE, J(2, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_MKDIR, J(3, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_UNLINK, J(4, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_RMDIR, J(5, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_SYMLINK, J(6, DENY), 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_RENAME, J(7, DENY), 0),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_OPEN,
				 J(8, OPEN_CHECK), 0),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CAPCHAN_OP_EXPORT,
				 J(9, EXPORT_CHECK), J(9, ALLOW)),
		/* 10: OPEN: the write right asked for, O_CREAT, O_TRUNC */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct capchan_filter_data, wanted_lo)),
		/* 11 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
				  (uint32_t)CAPCHAN_RIGHT_WRITE, J(11, DENY), 0),
		/* 12 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				  offsetof(struct capchan_filter_data, op_flags)),
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_CREAT | O_TRUNC,
				  J(13, DENY), J(13, ALLOW)),
		/* 14: EXPORT: any right that changes a file system */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct capchan_filter_data, wanted_lo)),
		/* 15 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, export_rights,
				  J(15, DENY), J(15, ALLOW)),
		/* 16 */ BPF_STMT(BPF_RET | BPF_K, CAPCHAN_FILTER_ALLOW),
		/* 17 */ BPF_STMT(BPF_RET | BPF_K, 0),	/* the errno, below */
	};
#undef J

	if (!capchan__errno_ok(err))
		return -EINVAL;
	f[DENY].k = CAPCHAN_FILTER_ERRNO(err);
	return capchan_filter_attach(ch, f, sizeof(f) / sizeof(f[0]));
}
