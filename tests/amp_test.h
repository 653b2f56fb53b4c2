/*
 * amp_test.h - the smallest test harness that can fail.
 *
 * A test is a function; CHECK() records a failure and carries on, so one
 * run shows every broken expectation. amp_test_main() runs the tests given
 * to it and prints "N passed, N failed"; the exit status is non-zero if
 * anything failed or no test ran.
 */
#ifndef AMP_TEST_H
#define AMP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int amp_test_fails;   /* failed checks in the current test */
static int amp_test_checks;  /* checks made in the current test */

#define CHECK(cond)                                                                    \
    do {                                                                               \
        amp_test_checks++;                                                             \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
            amp_test_fails++;                                                          \
        }                                                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        long long amp_a_ = (long long)(a), amp_b_ = (long long)(b);                    \
        amp_test_checks++;                                                             \
        if (amp_a_ != amp_b_) {                                                        \
            fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__, \
                    __LINE__, #a, #b, amp_a_, amp_b_);                                 \
            amp_test_fails++;                                                          \
        }                                                                              \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

struct amp_test {
    const char *name;
    void (*fn)(void);
};

#define TEST(fn) { #fn, fn }

static inline int amp_test_main(const struct amp_test *tests, size_t n)
{
    int passed = 0, failed = 0;
    const char *only = getenv("AMP_TEST_ONLY");
    for (size_t i = 0; i < n; i++) {
        if (only && !strstr(tests[i].name, only))
            continue;
        amp_test_fails = 0;
        amp_test_checks = 0;
        tests[i].fn();
        if (amp_test_checks == 0) {
            fprintf(stderr, "%s: made no checks\n", tests[i].name);
            amp_test_fails++;
        }
        if (amp_test_fails) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}

#define AMP_TEST_MAIN(...)                                                             \
    int main(void)                                                                     \
    {                                                                                  \
        static const struct amp_test amp_tests_[] = {__VA_ARGS__};                     \
        return amp_test_main(amp_tests_, sizeof(amp_tests_) / sizeof(amp_tests_[0])); \
    }

#endif /* AMP_TEST_H */
