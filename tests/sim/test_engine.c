#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sim/engine.h"
#include "sim/rng.h"
#include "transport/error.h"

/* ---- rng ---------------------------------------------------------------- */

/* The reference xoshiro256** outputs for the state {1, 2, 3, 4}. */
static void test_rng_reference_outputs(void **state)
{
    (void)state;
    static const uint64_t want[] = {
        11520u,
        0u,
        1509978240u,
        1215971899390074240u,
        1216172134540287360u,
        607988272756665600u,
        16172922978634559625u,
        8476171486693032832u,
        10595114339597558777u,
        2904607092377533576u,
    };
    struct knit_rng r = {{1, 2, 3, 4}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_true(knit_rng_next(&r) == want[i]);
}

/* Seeding is splitmix64: its first outputs for seeds 0 and 1234567 are
 * published values. */
static void test_rng_seed_is_splitmix64(void **state)
{
    (void)state;
    struct knit_rng r;
    knit_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    knit_rng_seed(&r, 1234567);
    assert_true(r.s[0] == 6457827717110365317ULL);
    assert_true(r.s[1] == 3203168211198807973ULL);
    assert_true(r.s[2] == 9817491932198370423ULL);
}

static void test_rng_below(void **state)
{
    (void)state;
    struct knit_rng r;
    knit_rng_seed(&r, 42);
    assert_true(knit_rng_below(&r, 0) == 0);
    assert_true(knit_rng_below(&r, 1) == 0);

    /* Six faces, 600 000 throws: each within 1 % of 100 000 (about 3.2
     * standard deviations). */
    uint64_t counts[6] = {0};
    for (int i = 0; i < 600000; i++) {
        uint64_t x = knit_rng_below(&r, 6);
        assert_true(x < 6);
        counts[x]++;
    }
    for (int i = 0; i < 6; i++) {
        assert_true(counts[i] > 99000);
        assert_true(counts[i] < 101000);
    }

    /* A bound just over 2^63 rejects almost half the outputs; the results
     * must still be in range and reach both halves. */
    uint64_t n = (UINT64_C(1) << 63) + 12345, high = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = knit_rng_below(&r, n);
        assert_true(x < n);
        high += x >= n / 2;
    }
    assert_true(high > 400 && high < 600);
}

static void test_rng_unit_and_chance(void **state)
{
    (void)state;
    struct knit_rng r;
    knit_rng_seed(&r, 7);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = knit_rng_unit(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);

    int hits = 0;
    for (int i = 0; i < 100000; i++) {
        assert_false(knit_rng_chance(&r, 0.0));
        assert_false(knit_rng_chance(&r, -1.0));
        assert_true(knit_rng_chance(&r, 1.0));
        hits += knit_rng_chance(&r, 0.3);
    }
    assert_true(hits > 29500 && hits < 30500);
}

static void test_rng_fill(void **state)
{
    (void)state;
    struct knit_rng a, b;
    knit_rng_seed(&a, 99);
    b = a;
    uint8_t buf[13];
    knit_rng_fill(&a, buf, sizeof buf);
    uint64_t x = knit_rng_next(&b), y = knit_rng_next(&b);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], (uint8_t)(x >> (8 * i)));
    for (int i = 0; i < 5; i++)
        assert_int_equal(buf[8 + i], (uint8_t)(y >> (8 * i)));
    /* A partial word is consumed whole: the streams stay in step. */
    assert_true(knit_rng_next(&a) == knit_rng_next(&b));

    knit_rng_fill(&a, NULL, 0);
    assert_true(knit_rng_next(&a) == knit_rng_next(&b));
}

static void test_rng_seeds_differ(void **state)
{
    (void)state;
    struct knit_rng a, b, c;
    knit_rng_seed(&a, 1);
    knit_rng_seed(&b, 1);
    knit_rng_seed(&c, 2);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = knit_rng_next(&a);
        same_ab += x == knit_rng_next(&b);
        same_ac += x == knit_rng_next(&c);
    }
    assert_int_equal(same_ab, 100);
    assert_int_equal(same_ac, 0);
}

/* ---- engine ------------------------------------------------------------- */

struct trace {
    struct knit_sim_engine *e;
    uint64_t times[64];
    uint64_t args[64];
    size_t n;
};

static void record(void *ctx, uint64_t arg)
{
    struct trace *t = ctx;
    assert_true(t->n < 64);
    t->times[t->n] = knit_sim_now(t->e);
    t->args[t->n] = arg;
    t->n++;
}

static struct knit_sim_engine *engine(void)
{
    struct knit_sim_engine *e = NULL;
    assert_int_equal(knit_sim_engine_new(&e), 0);
    assert_non_null(e);
    return e;
}

static void test_new_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(knit_sim_engine_new(NULL), KNIT_E_INVAL);
    knit_sim_engine_free(NULL);
}

static void test_empty(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    assert_true(knit_sim_now(e) == 0);
    assert_int_equal(knit_sim_pending(e), 0);
    assert_false(knit_sim_step(e));
    assert_true(knit_sim_next_time(e) == UINT64_MAX);
    assert_true(knit_sim_run_until(e, 1000, 10) == 0);
    assert_true(knit_sim_now(e) == 1000);
    assert_true(knit_sim_events_run(e) == 0);
    knit_sim_engine_free(e);
}

static void test_order_by_time_then_insertion(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    assert_true(knit_sim_schedule(e, 300, record, &t, 1) != 0);
    assert_true(knit_sim_schedule(e, 100, record, &t, 2) != 0);
    assert_true(knit_sim_schedule(e, 200, record, &t, 3) != 0);
    assert_true(knit_sim_schedule(e, 100, record, &t, 4) != 0);
    assert_true(knit_sim_schedule(e, 300, record, &t, 5) != 0);
    assert_true(knit_sim_schedule(e, 0, record, &t, 6) != 0);
    assert_int_equal(knit_sim_pending(e), 6);
    assert_true(knit_sim_next_time(e) == 0);

    while (knit_sim_step(e))
        ;
    static const uint64_t want_args[] = {6, 2, 4, 3, 1, 5};
    static const uint64_t want_times[] = {0, 100, 100, 200, 300, 300};
    assert_int_equal(t.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_true(t.args[i] == want_args[i]);
        assert_true(t.times[i] == want_times[i]);
    }
    assert_int_equal(knit_sim_pending(e), 0);
    assert_true(knit_sim_now(e) == 300);
    assert_true(knit_sim_events_run(e) == 6);
    knit_sim_engine_free(e);
}

static void test_equal_time_fifo(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    /* Enough equal-time events to fill several heap levels. */
    for (uint64_t i = 0; i < 64; i++)
        assert_true(knit_sim_schedule(e, 500, record, &t, i) != 0);
    assert_true(knit_sim_run_until(e, 500, UINT64_MAX) == 64);
    for (uint64_t i = 0; i < 64; i++)
        assert_true(t.args[i] == i);
    knit_sim_engine_free(e);
}

/* Scheduling from inside a callback: a time in the past is now, and runs
 * after what is already due now. */
struct chain {
    struct knit_sim_engine *e;
    struct trace *t;
};

static void schedule_into_past(void *ctx, uint64_t arg)
{
    struct chain *c = ctx;
    record(c->t, arg);
    assert_true(knit_sim_schedule(c->e, 10, record, c->t, 99) != 0);
    assert_true(knit_sim_schedule(c->e, knit_sim_now(c->e), record, c->t,
                                  98) != 0);
}

static void test_past_is_clamped_to_now(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    struct chain c = {e, &t};
    knit_sim_schedule(e, 1000, schedule_into_past, &c, 1);
    knit_sim_schedule(e, 1000, record, &t, 2);
    knit_sim_schedule(e, 1001, record, &t, 3);
    while (knit_sim_step(e))
        ;
    static const uint64_t want_args[] = {1, 2, 99, 98, 3};
    static const uint64_t want_times[] = {1000, 1000, 1000, 1000, 1001};
    assert_int_equal(t.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_true(t.args[i] == want_args[i]);
        assert_true(t.times[i] == want_times[i]);
    }
    knit_sim_engine_free(e);
}

static void test_schedule_rejects_null_fn(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    assert_true(knit_sim_schedule(e, 5, NULL, NULL, 0) == 0);
    assert_int_equal(knit_sim_pending(e), 0);
    knit_sim_engine_free(e);
}

static void test_cancel(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    uint64_t a = knit_sim_schedule(e, 10, record, &t, 1);
    uint64_t b = knit_sim_schedule(e, 20, record, &t, 2);
    uint64_t c = knit_sim_schedule(e, 30, record, &t, 3);
    assert_true(a && b && c && a != b && b != c && a != c);

    assert_true(knit_sim_cancel(e, b));
    assert_false(knit_sim_cancel(e, b));
    assert_int_equal(knit_sim_pending(e), 2);
    assert_false(knit_sim_cancel(e, 0));
    assert_false(knit_sim_cancel(e, 0xffffffffu));
    assert_false(knit_sim_cancel(e, UINT64_MAX));
    assert_false(knit_sim_cancel(e, b ^ (UINT64_C(1) << 40)));

    assert_true(knit_sim_step(e));
    assert_false(knit_sim_cancel(e, a)); /* already ran */
    assert_true(knit_sim_step(e));
    assert_false(knit_sim_step(e));
    assert_int_equal(t.n, 2);
    assert_true(t.args[0] == 1 && t.args[1] == 3);
    assert_true(t.times[1] == 30);

    /* Cancelling the head of the queue moves next_time on. */
    uint64_t d = knit_sim_schedule(e, 40, record, &t, 4);
    knit_sim_schedule(e, 50, record, &t, 5);
    assert_true(knit_sim_next_time(e) == 40);
    assert_true(knit_sim_cancel(e, d));
    assert_true(knit_sim_next_time(e) == 50);
    knit_sim_engine_free(e);
}

/* A handle whose slot was recycled must not cancel the newcomer. */
static void test_stale_handle_after_reuse(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    uint64_t old = knit_sim_schedule(e, 10, record, &t, 1);
    assert_true(knit_sim_cancel(e, old));
    uint64_t fresh = knit_sim_schedule(e, 10, record, &t, 2);
    assert_true(fresh != 0 && fresh != old);
    assert_false(knit_sim_cancel(e, old));
    assert_int_equal(knit_sim_pending(e), 1);
    assert_true(knit_sim_step(e));
    assert_int_equal(t.n, 1);
    assert_true(t.args[0] == 2);

    uint64_t ran = knit_sim_schedule(e, 20, record, &t, 3);
    assert_true(knit_sim_step(e));
    knit_sim_schedule(e, 30, record, &t, 4);
    assert_false(knit_sim_cancel(e, ran));
    assert_int_equal(knit_sim_pending(e), 1);
    knit_sim_engine_free(e);
}

struct self_cancel {
    struct knit_sim_engine *e;
    uint64_t self, other;
    int runs;
    bool self_result, other_result;
};

static void cancel_from_callback(void *ctx, uint64_t arg)
{
    (void)arg;
    struct self_cancel *s = ctx;
    s->runs++;
    s->self_result = knit_sim_cancel(s->e, s->self);
    s->other_result = knit_sim_cancel(s->e, s->other);
}

static void count_run(void *ctx, uint64_t arg)
{
    (void)arg;
    (*(int *)ctx)++;
}

static void test_cancel_inside_callback(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct self_cancel s = {.e = e};
    int other_runs = 0;
    s.self = knit_sim_schedule(e, 5, cancel_from_callback, &s, 0);
    s.other = knit_sim_schedule(e, 5, count_run, &other_runs, 0);
    assert_true(knit_sim_run_until(e, 100, UINT64_MAX) == 1);
    assert_int_equal(s.runs, 1);
    assert_false(s.self_result);
    assert_true(s.other_result);
    assert_int_equal(other_runs, 0);
    knit_sim_engine_free(e);
}

static void test_run_until(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct trace t = {.e = e};
    for (uint64_t i = 1; i <= 5; i++)
        knit_sim_schedule(e, i * 100, record, &t, i);

    /* Cut short by max_events: the clock stays at the last event. */
    assert_true(knit_sim_run_until(e, 1000, 2) == 2);
    assert_true(knit_sim_now(e) == 200);
    assert_true(knit_sim_run_until(e, 1000, 0) == 0);
    assert_true(knit_sim_now(e) == 200);

    /* Inclusive bound; the clock then moves on to until. */
    assert_true(knit_sim_run_until(e, 300, UINT64_MAX) == 1);
    assert_true(knit_sim_now(e) == 300);
    assert_true(knit_sim_run_until(e, 450, UINT64_MAX) == 1);
    assert_true(knit_sim_now(e) == 450);
    assert_int_equal(knit_sim_pending(e), 1);

    /* A bound in the past runs nothing and never moves the clock back. */
    assert_true(knit_sim_run_until(e, 100, UINT64_MAX) == 0);
    assert_true(knit_sim_now(e) == 450);

    /* UINT64_MAX runs everything and leaves the clock at the last event. */
    assert_true(knit_sim_run_until(e, UINT64_MAX, UINT64_MAX) == 1);
    assert_true(knit_sim_now(e) == 500);
    assert_int_equal(t.n, 5);
    knit_sim_engine_free(e);
}

/* Frees pending events without calling them (ASan sees any leak). */
static void test_free_with_pending(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    int runs = 0;
    for (int i = 0; i < 1000; i++)
        knit_sim_schedule(e, (uint64_t)i, count_run, &runs, 0);
    knit_sim_engine_free(e);
    assert_int_equal(runs, 0);
}

/* ---- scale -------------------------------------------------------------- */

struct order_check {
    struct knit_sim_engine *e;
    uint64_t last;
    uint64_t runs;
    bool backwards;
    uint8_t *ran;
};

static void check_order(void *ctx, uint64_t arg)
{
    struct order_check *o = ctx;
    uint64_t now = knit_sim_now(o->e);
    if (now < o->last)
        o->backwards = true;
    o->last = now;
    o->runs++;
    o->ran[arg]++;
}

#define MILLION 1000000

static void test_million_events(void **state)
{
    (void)state;
    struct knit_sim_engine *e = engine();
    struct order_check o = {.e = e, .ran = calloc(MILLION, 1)};
    uint64_t *handles = malloc(MILLION * sizeof *handles);
    assert_non_null(o.ran);
    assert_non_null(handles);
    struct knit_rng r;
    knit_rng_seed(&r, 2024);

    clock_t start = clock();
    /* Times from a narrow range, so many ties. */
    for (uint64_t i = 0; i < MILLION; i++) {
        handles[i] = knit_sim_schedule(e, knit_rng_below(&r, 100000),
                                       check_order, &o, i);
        assert_true(handles[i] != 0);
    }
    assert_int_equal(knit_sim_pending(e), MILLION);
    /* Cancel a random two thirds: dead entries then outnumber live ones and
     * the heap compacts itself along the way. */
    size_t cancelled = 0;
    for (uint64_t i = 0; i < MILLION; i++) {
        if (knit_rng_below(&r, 3) != 0) {
            assert_true(knit_sim_cancel(e, handles[i]));
            o.ran[i] = 10; /* stays 10 only if it never runs */
            cancelled++;
        }
    }
    assert_int_equal(knit_sim_pending(e), MILLION - cancelled);
    uint64_t ran = knit_sim_run_until(e, UINT64_MAX, UINT64_MAX);
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;

    assert_true(ran == MILLION - cancelled);
    assert_true(o.runs == ran);
    assert_false(o.backwards);
    for (size_t i = 0; i < MILLION; i++)
        assert_true(o.ran[i] == 1 || o.ran[i] == 10);
    assert_int_equal(knit_sim_pending(e), 0);
    print_message("1M schedule + cancel 2/3 + run: %.2f s CPU\n", secs);
    /* Generous for sanitizer builds; an optimised build takes a fraction. */
    assert_true(secs < 10.0);
    free(handles);
    free(o.ran);
    knit_sim_engine_free(e);
}

/* A re-armed timer: each run cancels many pending timeouts and sets new
 * ones, the pattern of node cores whose deadline moves. */
struct rearm {
    struct knit_sim_engine *e;
    struct knit_rng r;
    uint64_t timers[256];
    uint64_t fired;
    uint64_t ticks;
};

static void timer_fired(void *ctx, uint64_t arg)
{
    (void)arg;
    ((struct rearm *)ctx)->fired++;
}

static void tick(void *ctx, uint64_t arg)
{
    struct rearm *s = ctx;
    (void)arg;
    for (size_t i = 0; i < 256; i++) {
        knit_sim_cancel(s->e, s->timers[i]);
        s->timers[i] = knit_sim_schedule(
            s->e, knit_sim_now(s->e) + 1000 + knit_rng_below(&s->r, 1000),
            timer_fired, s, i);
    }
    if (++s->ticks < 5000)
        knit_sim_schedule(s->e, knit_sim_now(s->e) + 10, tick, s, 0);
}

static void test_rearmed_timers(void **state)
{
    (void)state;
    struct rearm s = {.e = engine()};
    knit_rng_seed(&s.r, 5);
    knit_sim_schedule(s.e, 0, tick, &s, 0);
    knit_sim_run_until(s.e, UINT64_MAX, UINT64_MAX);
    assert_true(s.ticks == 5000);
    /* Only the last generation of timers can fire. */
    assert_true(s.fired == 256);
    assert_int_equal(knit_sim_pending(s.e), 0);
    knit_sim_engine_free(s.e);
}

/* ---- determinism -------------------------------------------------------- */

/* A little world: each event logs (time, id) into a hash and spawns up to
 * two more at random delays (zero included, so ties are common) and now and
 * then cancels a random pending one. */
struct world {
    struct knit_sim_engine *e;
    struct knit_rng r;
    uint64_t hash;
    uint64_t next_id;
    uint64_t handles[512];
};

static void mix(uint64_t *h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ULL; /* FNV-1a */
    }
}

static void world_event(void *ctx, uint64_t id)
{
    struct world *w = ctx;
    mix(&w->hash, knit_sim_now(w->e));
    mix(&w->hash, id);
    if (w->next_id > 200000)
        return;
    int spawn = (int)knit_rng_below(&w->r, 4);
    for (int i = 0; i < spawn; i++) {
        uint64_t delay = knit_rng_below(&w->r, 4) == 0
                             ? 0
                             : knit_rng_below(&w->r, 50000);
        uint64_t nid = w->next_id++;
        w->handles[nid % 512] =
            knit_sim_schedule(w->e, knit_sim_now(w->e) + delay, world_event,
                              w, nid);
    }
    if (knit_rng_chance(&w->r, 0.1))
        knit_sim_cancel(w->e, w->handles[knit_rng_below(&w->r, 512)]);
}

static uint64_t run_world(uint64_t seed, uint64_t *events)
{
    struct world w = {.e = engine(), .hash = 0xcbf29ce484222325ULL};
    knit_rng_seed(&w.r, seed);
    for (int i = 0; i < 100; i++) {
        uint64_t nid = w.next_id++;
        w.handles[nid] = knit_sim_schedule(w.e, knit_rng_below(&w.r, 1000),
                                           world_event, &w, nid);
    }
    knit_sim_run_until(w.e, UINT64_MAX, UINT64_MAX);
    *events = knit_sim_events_run(w.e);
    knit_sim_engine_free(w.e);
    return w.hash;
}

static void test_determinism(void **state)
{
    (void)state;
    uint64_t n1, n2, n3;
    uint64_t h1 = run_world(11, &n1);
    uint64_t h2 = run_world(11, &n2);
    uint64_t h3 = run_world(12, &n3);
    assert_true(n1 > 1000); /* the world did something */
    assert_true(h1 == h2);
    assert_true(n1 == n2);
    assert_true(h1 != h3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reference_outputs),
        cmocka_unit_test(test_rng_seed_is_splitmix64),
        cmocka_unit_test(test_rng_below),
        cmocka_unit_test(test_rng_unit_and_chance),
        cmocka_unit_test(test_rng_fill),
        cmocka_unit_test(test_rng_seeds_differ),
        cmocka_unit_test(test_new_rejects_null),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_order_by_time_then_insertion),
        cmocka_unit_test(test_equal_time_fifo),
        cmocka_unit_test(test_past_is_clamped_to_now),
        cmocka_unit_test(test_schedule_rejects_null_fn),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_stale_handle_after_reuse),
        cmocka_unit_test(test_cancel_inside_callback),
        cmocka_unit_test(test_run_until),
        cmocka_unit_test(test_free_with_pending),
        cmocka_unit_test(test_million_events),
        cmocka_unit_test(test_rearmed_timers),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
