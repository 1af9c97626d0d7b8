#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/replay.h"

#define W KNIT_REPLAY_WINDOW

/* The whole receive path: check, (authenticate), commit. */
static bool accept(struct knit_replay *r, uint64_t c)
{
    if (!knit_replay_check(r, c))
        return false;
    knit_replay_commit(r, c);
    return true;
}

static void test_first_and_duplicate(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    assert_true(knit_replay_check(&r, 0));
    assert_true(knit_replay_check(&r, UINT64_MAX));
    assert_true(accept(&r, 0));      /* counter 0 is a real counter */
    assert_false(accept(&r, 0));
    assert_true(accept(&r, 1));
    assert_false(accept(&r, 1));
    assert_false(accept(&r, 0));
    /* The first counter need not be 0. */
    knit_replay_init(&r);
    assert_true(accept(&r, 5000));
    assert_false(accept(&r, 5000));
    assert_true(accept(&r, 4999));
    assert_true(accept(&r, 5000 - W + 1));
    assert_false(accept(&r, 5000 - W));
}

static void test_reordered_within_window(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    assert_true(accept(&r, 100));
    for (uint64_t c = 99; c > 100 - 50; c--)
        assert_true(accept(&r, c));
    for (uint64_t c = 99; c > 100 - 50; c--)
        assert_false(accept(&r, c));
    /* Mixed order ahead of the top as well. */
    uint64_t order[] = {105, 103, 104, 101, 102, 106};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        assert_true(accept(&r, order[i]));
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        assert_false(accept(&r, order[i]));
    assert_int_equal(r.top, 106);
}

static void test_window_edge(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    uint64_t top = 10 * W + 17;
    assert_true(accept(&r, top));
    /* top - (W - 1) is the oldest counter still inside. */
    assert_true(knit_replay_check(&r, top - (W - 1)));
    assert_false(knit_replay_check(&r, top - W));
    assert_false(knit_replay_check(&r, 0));
    assert_true(accept(&r, top - (W - 1)));
    assert_false(accept(&r, top - (W - 1)));
    /* Committing a refused counter changes nothing. */
    struct knit_replay before = r;
    knit_replay_commit(&r, top - W);
    knit_replay_commit(&r, top);
    assert_memory_equal(&before, &r, sizeof r);
    /* One step forward pushes the oldest out. */
    assert_true(accept(&r, top + 1));
    assert_false(knit_replay_check(&r, top - (W - 1)));
    assert_true(knit_replay_check(&r, top - (W - 2)));
}

static void test_check_does_not_change_state(void **state)
{
    (void)state;
    struct knit_replay r, before;
    knit_replay_init(&r);
    before = r;
    assert_true(knit_replay_check(&r, 7));
    assert_memory_equal(&before, &r, sizeof r);
    assert_true(knit_replay_check(&r, 7));   /* still new */
    assert_true(accept(&r, 7));
    before = r;
    assert_true(knit_replay_check(&r, 7 + 5 * W));
    assert_true(knit_replay_check(&r, 6));
    assert_false(knit_replay_check(&r, 7));
    assert_memory_equal(&before, &r, sizeof r);
}

static void test_big_jump_clears(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    /* Fill the window completely. */
    for (uint64_t c = 0; c < W; c++)
        assert_true(accept(&r, c));
    /* A jump of less than a window: the slots of the counters that slide in
     * held counters one lap older, and must read as unseen. */
    uint64_t top = W - 1 + 700;
    assert_true(accept(&r, top));
    for (uint64_t c = W; c < top; c++)
        assert_true(knit_replay_check(&r, c));
    for (uint64_t c = top - W + 1; c < W; c++)
        assert_false(knit_replay_check(&r, c));
    /* A jump of exactly a window clears everything. */
    assert_true(accept(&r, top + W));
    for (uint64_t c = top + 1; c < top + W; c++)
        assert_true(knit_replay_check(&r, c));
    assert_false(knit_replay_check(&r, top));
    /* A jump of billions too. */
    assert_true(accept(&r, UINT64_C(1) << 40));
    for (uint64_t c = (UINT64_C(1) << 40) - W + 1; c < (UINT64_C(1) << 40); c++)
        assert_true(knit_replay_check(&r, c));
}

static void test_top_edge(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    assert_true(accept(&r, 0));
    assert_true(accept(&r, UINT64_MAX));
    assert_false(accept(&r, UINT64_MAX));
    assert_false(knit_replay_check(&r, 0));
    assert_true(accept(&r, UINT64_MAX - 1));
    assert_true(knit_replay_check(&r, UINT64_MAX - (W - 1)));
    assert_false(knit_replay_check(&r, UINT64_MAX - W));
    assert_true(accept(&r, UINT64_MAX - (W - 1)));
    assert_false(accept(&r, UINT64_MAX - (W - 1)));
    assert_int_equal(r.top, UINT64_MAX);

    knit_replay_init(&r);
    assert_true(accept(&r, UINT64_MAX - 3));
    assert_true(accept(&r, UINT64_MAX));
    assert_true(accept(&r, UINT64_MAX - 1));
    assert_false(accept(&r, UINT64_MAX - 3));
    assert_true(accept(&r, UINT64_MAX - 2));
}

/* A plain model: everything seen, and the highest counter. */
#define MODEL_MAX 20000
static bool model_seen[MODEL_MAX];

static void test_against_model(void **state)
{
    (void)state;
    struct knit_replay r;
    knit_replay_init(&r);
    memset(model_seen, 0, sizeof model_seen);
    uint64_t top = 0, x = 88172645463325252ull;
    bool any = false;
    uint64_t next = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Mostly forward with reordering, sometimes replays and jumps. */
        uint64_t c;
        switch (x % 8) {
        case 0: c = next > 3000 ? next - (x >> 8) % 3000 : 0; break;
        case 1: c = next + (x >> 8) % 40; break;
        default: c = next; next += 1 + (x >> 8) % 3; break;
        }
        if (c >= MODEL_MAX) {
            knit_replay_init(&r);
            memset(model_seen, 0, sizeof model_seen);
            next = 0;
            any = false;
            continue;
        }
        bool want = !model_seen[c] && (!any || c > top || top - c < W);
        assert_int_equal(knit_replay_check(&r, c), want);
        if (want) {
            knit_replay_commit(&r, c);
            model_seen[c] = true;
            if (!any || c > top)
                top = c;
            any = true;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_and_duplicate),
        cmocka_unit_test(test_reordered_within_window),
        cmocka_unit_test(test_window_edge),
        cmocka_unit_test(test_check_does_not_change_state),
        cmocka_unit_test(test_big_jump_clears),
        cmocka_unit_test(test_top_edge),
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
