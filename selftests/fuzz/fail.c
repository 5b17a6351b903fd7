// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: failure reports, usable from threads and forked children:
 * each goes to stderr at once (the first 30), and the worker's exit
 * status says whether there were any.
 */
#include "fuzz.h"
#include <stdarg.h>

atomic_int fz_nfail;

void fz_fail_at(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	char buf[768];
	va_list ap;
	int n;

	if (atomic_fetch_add(&fz_nfail, 1) >= 30)
		return;
	n = snprintf(buf, sizeof(buf), "# FUZZ FAIL [pid %d] fuzz/%s:%d: ",
		     getpid(), base ? base + 1 : file, line);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, n) < 0)
		return;
}
