/* The node's receive budget: however many peers connect, the unread data a
 * node can be made to hold stays below budget + sessions * minimum window.
 * Each new session is granted the budget that is left; the window goes to
 * the peer in the hello, and transfers still work through a small one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/sim_pair.h"
#include "transport/error.h"

enum { A, B, C };

static uint64_t window_at(struct sim_world *w, int i, int j)
{
    struct knit_session_stats st;
    assert_int_equal(knit_node_peer_stats(sim_node(w, i), &w->id[j], &st),
                     KNIT_OK);
    return st.receive_window;
}

static bool all_up(struct sim_world *w)
{
    return knit_node_peer_is_up(sim_node(w, A), &w->id[C]) &&
           knit_node_peer_is_up(sim_node(w, B), &w->id[C]);
}

static void test_budget_is_shared_out(void **state)
{
    (void)state;
    const uint64_t budget = 1u << 20;
    struct sim_world_config cfg = {
        .hosts = 3, .seed = 901, .link = {.delay_us = 5000},
        .receive_budget = budget,
    };
    struct sim_world *w;
    assert_int_equal(sim_world_new(&w, &cfg), KNIT_OK);
    /* A connects first and gets C's whole budget; B comes later. */
    assert_int_equal(sim_connect(w, A, C), KNIT_OK);
    sim_run(w, SIM_SECOND, NULL);
    assert_int_equal(sim_connect(w, B, C), KNIT_OK);
    assert_true(sim_run(w, 5 * SIM_SECOND, all_up));
    assert_true(window_at(w, C, A) == budget);
    assert_true(window_at(w, C, B) == KNIT_NODE_MIN_WINDOW);
    /* The default window where the budget allows it: A's one session. */
    assert_true(window_at(w, A, C) == budget);

    /* B's data still flows to C through the small window, intact. */
    sim_transfer_start(w, 0, B, C, 2u << 20);
    sim_run(w, sim_now(w) + 60 * SIM_SECOND, NULL);
    assert_true(sim_transfer_intact(w, 0));
    sim_world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_is_shared_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
