/* The test drivers' one assertion: count, and print the failing condition with its place. */
#ifndef RTA_TEST_CHECK_H
#define RTA_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (cond) {                                                                                    \
            passed++;                                                                                  \
        } else {                                                                                       \
            failed++;                                                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                     \
        }                                                                                              \
    } while (0)

#endif
