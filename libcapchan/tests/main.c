// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Host unit tests of libcapchan: library logic that needs no kernel module.
 */
#include <stdlib.h>

#include "fake.h"

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_add_suite(sr, prep_suite());
	srunner_add_suite(sr, submit_suite());
	srunner_add_suite(sr, setup_suite());
	srunner_add_suite(sr, cap_suite());
	srunner_add_suite(sr, dir_suite());
	srunner_add_suite(sr, filter_suite());
	srunner_add_suite(sr, sandbox_suite());
	srunner_add_suite(sr, async_suite());
	srunner_add_suite(sr, map_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
