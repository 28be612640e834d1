/*
 * The one unit test runner: every module's suite, run in check's fork
 * mode so a test that crashes is reported as such and cannot hide the
 * others.  Exit status 1 when anything failed, for make check.
 */
#include "config.h"

#include <stdlib.h>

#include <check.h>

#include "fixtures.h"

/* Not in fixtures.h yet: test_logfmt.c is the log formatter's suite. */
Suite	*suite_logfmt(void);

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(suite_chan());
	srunner_add_suite(sr, suite_conf());
	srunner_add_suite(sr, suite_head());
	srunner_add_suite(sr, suite_httpdate());
	srunner_add_suite(sr, suite_logfmt());
	srunner_add_suite(sr, suite_sandbox());
	srunner_add_suite(sr, suite_uri());
	/* hsd-cached's (src/cached). */
	srunner_add_suite(sr, suite_admit());
	srunner_add_suite(sr, suite_purge());
	srunner_add_suite(sr, suite_store());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
