/* The progress bar (sim/progress.h): silent unless enabled and on a
 * terminal (or forced, for these tests), and the line it draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/progress.h"

#define MIN 60000000ull   /* a minute of virtual time, in µs */

static size_t file_text(FILE *f, char *buf, size_t cap)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    return n;
}

static void run_bar(struct knit_sim_progress *p, bool force)
{
    if (force)
        knit_sim_progress_force(p);
    for (uint64_t i = 1; i <= 1000; i++)
        knit_sim_progress_update(p, i * 10 * MIN / 1000, i * 5000);
    knit_sim_progress_finish(p);
}

/* Disabled, or enabled on a file (not a terminal): not one byte, even
 * when forced after starting disabled. */
static void test_silent(void **state)
{
    (void)state;
    char buf[256];
    FILE *f = tmpfile();
    assert_non_null(f);
    struct knit_sim_progress p;
    knit_sim_progress_start(&p, f, 10 * MIN, false);
    run_bar(&p, false);
    assert_int_equal(file_text(f, buf, sizeof buf), 0);
    knit_sim_progress_start(&p, f, 10 * MIN, false);
    run_bar(&p, true);
    assert_int_equal(file_text(f, buf, sizeof buf), 0);
    knit_sim_progress_start(&p, f, 10 * MIN, true);   /* a file, no tty */
    run_bar(&p, false);
    assert_int_equal(file_text(f, buf, sizeof buf), 0);
    fclose(f);

    /* no stream at all */
    knit_sim_progress_start(&p, NULL, 10 * MIN, false);
    run_bar(&p, true);
    knit_sim_progress_start(&p, NULL, 10 * MIN, true);
    run_bar(&p, false);
}

/* Forced: a redraw per update, each starting with \r, then the final line
 * at 100 % with the time taken, and a newline. */
static void test_forced(void **state)
{
    (void)state;
    static char buf[1 << 18];
    FILE *f = tmpfile();
    assert_non_null(f);
    struct knit_sim_progress p;
    knit_sim_progress_start(&p, f, 10 * MIN, true);
    knit_sim_progress_force(&p);
    knit_sim_progress_update(&p, 4 * MIN + 30000000, 1000);
    file_text(f, buf, sizeof buf);
    assert_true(buf[0] == '\r');
    assert_non_null(
        strstr(buf, "[#########-----------]  45%  4m30s/10m00s sim"));
    assert_non_null(strstr(buf, " ev/s  ETA "));
    fseek(f, 0, SEEK_END);
    knit_sim_progress_finish(&p);
    size_t n = file_text(f, buf, sizeof buf);
    assert_true(buf[n - 1] == '\n');
    const char *last = strrchr(buf, '\r');
    assert_non_null(last);
    /* where the run stopped, not the planned end */
    assert_non_null(strstr(last, "[#########-----------]  45%  4m30s/10m00s"));
    assert_non_null(strstr(last, "took "));
    assert_null(strstr(last, "ETA"));
    fclose(f);

    f = tmpfile();
    knit_sim_progress_start(&p, f, 10 * MIN, true);
    run_bar(&p, true);
    n = file_text(f, buf, sizeof buf);
    size_t redraws = 0;
    for (size_t i = 0; i < n; i++)
        redraws += buf[i] == '\r';
    assert_int_equal(redraws, 1000 + 1);
    assert_non_null(strstr(buf, "  50%  5m00s/10m00s sim"));
    assert_non_null(strstr(strrchr(buf, '\r'), "] 100%  10m00s/10m00s sim"));
    fclose(f);
}

static void test_format(void **state)
{
    (void)state;
    char line[128];
    /* 45 % of 10 minutes after 90 s of wall time: 110 s left */
    size_t n = knit_sim_progress_format(line, sizeof line, 270000000ull,
                                        600000000ull, 108000000ull,
                                        90000000000ull, false);
    assert_string_equal(line, "[#########-----------]  45%  4m30s/10m00s sim"
                              "  1.2M ev/s  ETA 1m50s");
    assert_int_equal(n, strlen(line));
    knit_sim_progress_format(line, sizeof line, 0, 7200000000ull, 0, 0, false);
    assert_string_equal(line, "[--------------------]   0%  0s/2h00m sim  0 "
                              "ev/s  ETA --");
    /* past the end is the end; no virtual time at all is done */
    knit_sim_progress_format(line, sizeof line, 900, 600, 950, 1000000000ull,
                             true);
    assert_string_equal(line, "[####################] 100%  0s/0s sim  950 "
                              "ev/s  took 1s");
    knit_sim_progress_format(line, sizeof line, 0, 0, 12345, 1000000000ull,
                             true);
    assert_string_equal(line, "[####################] 100%  0s/0s sim  12.3k "
                              "ev/s  took 1s");
    /* truncated like snprintf */
    char small[8];
    assert_int_equal(knit_sim_progress_format(small, sizeof small, 1, 2, 3, 4,
                                              false), 7);
    assert_string_equal(small, "[######");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent),
        cmocka_unit_test(test_forced),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
