/* Checks for the C unit tests: CHECK counts a failure and goes on; REQUIRE counts it and jumps to
 * the test's `out:` label (for steps whose results later steps use). Each prints the file, line,
 * the message and odrt's last error. */
#ifndef ODRT_TESTS_CHECK_H
#define ODRT_TESTS_CHECK_H

#include <stdio.h>

#include "odrt.h"

static int failures;
#define CHECK_THEN(then, cond, ...)                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf(" (last error: %s)\n", odrt_last_error());                                      \
            then;                                                                                  \
        }                                                                                          \
    } while (0)
#define CHECK(cond, ...) CHECK_THEN((void)0, cond, __VA_ARGS__)
#define REQUIRE(cond, ...) CHECK_THEN(goto out, cond, __VA_ARGS__)

#endif
