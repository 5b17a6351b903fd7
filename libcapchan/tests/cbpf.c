// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Host unit tests: the classic BPF the library builds (channel filters,
 * the sandbox's seccomp program) checked and run the way the kernel would,
 * for the few instructions the library emits.
 */
#include <linux/filter.h>

#include "fake.h"

void cbpf_assert_shape(const struct sock_filter *f, unsigned len,
		       size_t data_size, bool jge)
{
	unsigned pc;

	ck_assert_uint_gt(len, 0);
	for (pc = 0; pc < len; pc++) {
		const struct sock_filter *in = &f[pc];

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			ck_assert_uint_lt(in->k, data_size);
			ck_assert_uint_eq(in->k & 3, 0);
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			ck_assert_msg(jge, "instruction %u: JGE not expected", pc);
			/* fall through */
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			ck_assert_uint_lt(pc + 1 + in->jt, len);
			ck_assert_uint_lt(pc + 1 + in->jf, len);
			break;
		case BPF_RET | BPF_K:
			break;
		default:
			ck_abort_msg("instruction %u: code 0x%x not expected", pc,
				     in->code);
		}
	}
	ck_assert_uint_eq(f[len - 1].code, BPF_RET | BPF_K);
}

uint32_t cbpf_run(const struct sock_filter *f, unsigned len, const void *data,
		  unsigned max_steps)
{
	const uint32_t *w = data;
	unsigned pc = 0, steps = 0;
	uint32_t a = 0;

	while (pc < len && steps++ < max_steps) {
		const struct sock_filter *in = &f[pc++];

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			a = w[in->k / 4];
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == in->k ? in->jt : in->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= in->k ? in->jt : in->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & in->k) ? in->jt : in->jf;
			break;
		case BPF_RET | BPF_K:
			return in->k;
		default:
			ck_abort_msg("code 0x%x", in->code);
		}
	}
	ck_abort_msg("ran off the program at %u", pc);
	return 0;
}
