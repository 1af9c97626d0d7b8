/* The simulator's metrics (sim/metrics.h): a small known set of samples in,
 * the files out, checked line by line against figures worked out by hand
 * (nearest-rank percentiles, rounded means, matrix counts); byte-identical
 * output for the same samples; the large-run CDF; bad input and write
 * errors. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/metrics.h"
#include "sim/metrics_internal.h"
#include "tests/support/tmpdir_fixtures.h"
#include "transport/error.h"

#define NO KNIT_SIM_NO_TIME

static const char *const FILES[] = {
    "summary.json", "lookups.csv",    "lookup_latency_cdf.csv",
    "lookup_hops.csv", "connects.csv", "nat_matrix.csv", "nodes.csv",
    "relays.csv",
};
#define NFILES (sizeof FILES / sizeof FILES[0])

/* ---- a scratch folder ---------------------------------------------------- */

struct scratch {
    char root[64];      /* mkdtemp folder */
    char out[128];      /* root/out: where the metrics go */
};

static void scratch_make(struct scratch *s)
{
    snprintf(s->root, sizeof s->root, "/tmp/knit-metrics-XXXXXX");
    assert_non_null(mkdtemp(s->root));
    snprintf(s->out, sizeof s->out, "%s/out", s->root);
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void assert_file_is(const char *dir, const char *name,
                           const char *want)
{
    char *got = read_file(dir, name, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n--- got ---\n%s--- want ---\n%s", name, got, want);
    free(got);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("missing %s in:\n%s", part, text);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* ---- the known set ------------------------------------------------------- */

static const char *const CLASSES[] = {"public", "eim", "sym"};

static struct knit_sim_metrics *known_set(void)
{
    struct knit_sim_metrics *m;
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 3), KNIT_OK);
    /* at, latency, queries, hops, ok, target class */
    static const struct knit_sim_lookup_sample lookups[] = {
        {1000000, 120500, 6, 3, true, 0},  {2000000, 80250, 4, 2, true, 1},
        {3000000, 5000000, 12, 5, false, 2}, {4000000, 80250, 5, 2, true, 0},
        {5000000, 200001, 9, 4, true, 2},  {6000000, 95000, 5, 3, true, 1},
        {7000000, 60000, 3, 1, true, 0},   {8000000, 150000, 7, 3, true, 2},
        {9000000, 110000, 6, 3, true, 0},  {10000000, 70000, 4, 2, true, 1},
    };
    for (size_t i = 0; i < sizeof lookups / sizeof lookups[0]; i++)
        assert_int_equal(knit_sim_metrics_lookup(m, &lookups[i]), KNIT_OK);
    /* at, dialer, target, outcome, fail, first byte, direct */
    static const struct knit_sim_connect_sample connects[] = {
        {1000000, 1, 0, KNIT_SIM_OUTCOME_DIRECT, KNIT_SIM_FAIL_NONE, 40000,
         30000},
        {2000000, 1, 0, KNIT_SIM_OUTCOME_DIRECT, KNIT_SIM_FAIL_NONE, 60000,
         50000},
        {3000000, 2, 2, KNIT_SIM_OUTCOME_RELAYED, KNIT_SIM_FAIL_NONE, 150000,
         NO},
        {4000000, 2, 2, KNIT_SIM_OUTCOME_FAILED, KNIT_SIM_FAIL_NO_SESSION, NO,
         NO},
        {5000000, 0, 1, KNIT_SIM_OUTCOME_FAILED, KNIT_SIM_FAIL_NOT_FOUND, NO,
         NO},
        {6000000, 1, 0, KNIT_SIM_OUTCOME_RELAYED, KNIT_SIM_FAIL_NONE, 90000,
         200000},
    };
    for (size_t i = 0; i < sizeof connects / sizeof connects[0]; i++)
        assert_int_equal(knit_sim_metrics_connect(m, &connects[i]), KNIT_OK);
    /* reported out of index order: nodes.csv must sort them; the last two
     * numbers are the relay circuits and bytes */
    static const struct knit_sim_node_sample nodes[] = {
        {3, 2, false, 3, 1000, 50, 3000, 40, 2500, 1, 0, 0, 0},
        {0, 0, true, 1, 600000000, 1000, 100000, 900, 90000, 10, 50, 4, 7000},
        {2, 1, false, 1, 599999999, 200, 12345, 180, 11000, 3, 0, 1, 500},
        {1, 0, false, 2, 300000500, 500, 40000, 450, 35000, 5, 40, 6, 9000},
    };
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        assert_int_equal(knit_sim_metrics_node(m, &nodes[i]), KNIT_OK);
    struct knit_sim_run_info run = {
        .seed = 42, .nodes = 4, .public_nodes = 2,
        .sim_end_us = 660000000, .workload_start_us = 60000000,
        .events = 123456789, .net_sent = 1000, .net_delivered = 990,
        .net_lost = 7, .net_blackholed = 3, .nat_dropped = 11,
    };
    knit_sim_metrics_set_run(m, &run);
    return m;
}

static void test_queries(void **state)
{
    (void)state;
    struct knit_sim_metrics *m = known_set();
    size_t ok = 0;
    assert_int_equal(knit_sim_metrics_lookups(m, &ok), 10);
    assert_int_equal(ok, 9);
    /* sorted ok latencies: 60000 70000 80250 80250 95000 110000 120500
     * 150000 200001 */
    assert_true(knit_sim_metrics_lookup_percentile(m, 50) == 95000);
    assert_true(knit_sim_metrics_lookup_percentile(m, 0) == 60000);
    assert_true(knit_sim_metrics_lookup_percentile(m, 11.1) == 60000);
    assert_true(knit_sim_metrics_lookup_percentile(m, 11.2) == 70000);
    assert_true(knit_sim_metrics_lookup_percentile(m, 90) == 200001);
    assert_true(knit_sim_metrics_lookup_percentile(m, 100) == 200001);
    assert_int_equal(knit_sim_metrics_median_hops(m), 3);
    knit_sim_metrics_free(m);

    /* nothing successful */
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 1), KNIT_OK);
    assert_true(knit_sim_metrics_lookup_percentile(m, 50) == NO);
    assert_int_equal(knit_sim_metrics_median_hops(m), 0);
    struct knit_sim_lookup_sample s = {0, 1000, 3, 2, false, 0};
    assert_int_equal(knit_sim_metrics_lookup(m, &s), KNIT_OK);
    assert_true(knit_sim_metrics_lookup_percentile(m, 50) == NO);
    assert_int_equal(knit_sim_metrics_lookups(m, &ok), 1);
    assert_int_equal(ok, 0);
    knit_sim_metrics_free(m);
}

static void test_csv_files(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m = known_set();
    char err[256];
    assert_int_equal(knit_sim_metrics_write(m, s.out, err, sizeof err),
                     KNIT_OK);

    assert_file_is(s.out, "lookups.csv",
                   "at_ms,latency_ms,ok,hops,queries,target_class\n"
                   "1000.000,120.500,1,3,6,public\n"
                   "2000.000,80.250,1,2,4,eim\n"
                   "3000.000,5000.000,0,5,12,sym\n"
                   "4000.000,80.250,1,2,5,public\n"
                   "5000.000,200.001,1,4,9,sym\n"
                   "6000.000,95.000,1,3,5,eim\n"
                   "7000.000,60.000,1,1,3,public\n"
                   "8000.000,150.000,1,3,7,sym\n"
                   "9000.000,110.000,1,3,6,public\n"
                   "10000.000,70.000,1,2,4,eim\n");
    /* one row per distinct latency; 80.250 twice gives 4/9 */
    assert_file_is(s.out, "lookup_latency_cdf.csv",
                   "latency_ms,fraction\n"
                   "60.000,0.111111\n"
                   "70.000,0.222222\n"
                   "80.250,0.444444\n"
                   "95.000,0.555556\n"
                   "110.000,0.666667\n"
                   "120.500,0.777778\n"
                   "150.000,0.888889\n"
                   "200.001,1.000000\n");
    /* successful lookups only (the failed one took 5 hops) */
    assert_file_is(s.out, "lookup_hops.csv",
                   "hops,count\n0,0\n1,1\n2,3\n3,4\n4,1\n");
    assert_file_is(s.out, "connects.csv",
                   "at_ms,dialer_class,target_class,outcome,fail,"
                   "first_byte_ms,direct_ms\n"
                   "1000.000,eim,public,direct,none,40.000,30.000\n"
                   "2000.000,eim,public,direct,none,60.000,50.000\n"
                   "3000.000,sym,sym,relayed,none,150.000,\n"
                   "4000.000,sym,sym,failed,no_session,,\n"
                   "5000.000,public,eim,failed,not_found,,\n"
                   "6000.000,eim,public,relayed,none,90.000,200.000\n");
    assert_file_is(s.out, "nat_matrix.csv",
                   "dialer_index,target_index,dialer,target,attempts,direct,"
                   "relayed,failed,connected_share,first_byte_ms_p50,"
                   "direct_ms_p50\n"
                   "0,0,public,public,0,0,0,0,,,\n"
                   "0,1,public,eim,1,0,0,1,0.000000,,\n"
                   "0,2,public,sym,0,0,0,0,,,\n"
                   "1,0,eim,public,3,2,1,0,1.000000,60.000,50.000\n"
                   "1,1,eim,eim,0,0,0,0,,,\n"
                   "1,2,eim,sym,0,0,0,0,,,\n"
                   "2,0,sym,public,0,0,0,0,,,\n"
                   "2,1,sym,eim,0,0,0,0,,,\n"
                   "2,2,sym,sym,2,0,1,1,0.500000,150.000,\n");
    assert_file_is(s.out, "nodes.csv",
                   "index,class,bootstrap,joins,online_ms,tx_packets,"
                   "tx_bytes,rx_packets,rx_bytes,handshakes,table_size,"
                   "relay_circuits,relay_bytes\n"
                   "0,public,1,1,600000.000,1000,100000,900,90000,10,50,4,"
                   "7000\n"
                   "1,public,0,2,300000.500,500,40000,450,35000,5,40,6,9000\n"
                   "2,eim,0,1,599999.999,200,12345,180,11000,3,0,1,500\n"
                   "3,sym,0,3,1.000,50,3000,40,2500,1,0,0,0\n");
    /* node 3 relayed nothing: not listed */
    assert_file_is(s.out, "relays.csv",
                   "rank,index,class,circuits,bytes\n"
                   "1,1,public,6,9000\n"
                   "2,0,public,4,7000\n"
                   "3,2,eim,1,500\n");
    knit_sim_metrics_free(m);
    remove_tree(s.root, 1);
}

static void test_summary_json(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m = known_set();
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_OK);
    char *j = read_file(s.out, "summary.json", NULL);
    assert_true(j[0] == '{');
    assert_contains(j, "\"run\": {\n    \"seed\": 42,\n    \"nodes\": 4,\n"
                       "    \"public_nodes\": 2,\n"
                       "    \"sim_end_ms\": 660000.000,\n"
                       "    \"workload_start_ms\": 60000.000,\n"
                       "    \"events\": 123456789,\n");
    assert_contains(j, "\"net_lost\": 7,");
    assert_contains(j, "\"nat_dropped\": 11\n  },");
    /* 9 of 10; hops 1 2 2 2 3 3 3 3 4: mean 23/9; latency mean 966001/9 */
    assert_contains(j, "\"lookups\": {\n    \"count\": 10,\n    \"ok\": 9,\n"
                       "    \"success_rate\": 0.900000,\n");
    assert_contains(j, "\"hops\": {\"median\": 3, \"mean\": 2.556, "
                       "\"max\": 4}");
    assert_contains(j, "\"latency_ms\": {\"p50\": 95.000, \"p90\": 200.001, "
                       "\"p99\": 200.001, \"max\": 200.001, "
                       "\"mean\": 107.333}");
    assert_contains(j, "\"queries\": {\"mean\": 6.100, \"max\": 12}");
    assert_contains(j, "\"connects\": {\n    \"count\": 6,\n"
                       "    \"direct\": 2,\n    \"relayed\": 2,\n"
                       "    \"failed\": 2,\n"
                       "    \"connected_share\": 0.666667,\n");
    assert_contains(j, "\"fail\": {\"not_found\": 1, \"no_session\": 1, "
                       "\"no_data\": 0, \"went_away\": 0}");
    /* first bytes 40 60 90 150 ms; direct 30 50 200 ms */
    assert_contains(j, "\"first_byte_ms\": {\"p50\": 60.000, \"p90\": "
                       "150.000, \"p99\": 150.000, \"max\": 150.000}");
    assert_contains(j, "\"direct_ms\": {\"p50\": 50.000, \"p90\": 200.000, "
                       "\"p99\": 200.000, \"max\": 200.000}");
    assert_contains(j, "{\"dialer\": \"eim\", \"target\": \"public\", "
                       "\"attempts\": 3, \"direct\": 2, \"relayed\": 1, "
                       "\"failed\": 0, \"connected_share\": 1.000000, "
                       "\"first_byte_ms_p50\": 60.000, "
                       "\"direct_ms_p50\": 50.000}");
    assert_contains(j, "{\"dialer\": \"public\", \"target\": \"public\", "
                       "\"attempts\": 0, \"direct\": 0, \"relayed\": 0, "
                       "\"failed\": 0, \"connected_share\": null, "
                       "\"first_byte_ms_p50\": null, "
                       "\"direct_ms_p50\": null}");
    assert_contains(j, "{\"dialer\": \"sym\", \"target\": \"sym\", "
                       "\"attempts\": 2, \"direct\": 0, \"relayed\": 1, "
                       "\"failed\": 1, \"connected_share\": 0.500000, "
                       "\"first_byte_ms_p50\": 150.000, "
                       "\"direct_ms_p50\": null}");
    /* tx bytes 3000 12345 40000 100000; tx packets mean 437.5 rounds up */
    assert_contains(j, "\"tx_bytes_per_node\": {\"p50\": 12345, \"p90\": "
                       "100000, \"p99\": 100000, \"max\": 100000, "
                       "\"mean\": 38836}");
    assert_contains(j, "\"tx_packets_per_node\": {\"p50\": 200, \"p90\": "
                       "1000, \"p99\": 1000, \"max\": 1000, \"mean\": 438}");
    assert_contains(j, "\"handshakes_per_node\": {\"p50\": 3, \"p90\": 10, "
                       "\"p99\": 10, \"max\": 10, \"mean\": 5}");
    assert_contains(j, "\"table_size_per_node\": {\"p50\": 0, ");
    /* relay bytes 500 7000 9000 */
    assert_contains(j, "\"relays\": {\n    \"relay_nodes\": 3,\n"
                       "    \"circuits\": 11,\n    \"bytes\": 16500,\n"
                       "    \"bytes_p50\": 7000,\n    \"bytes_max\": 9000\n"
                       "  },\n  \"classes\": [\n");
    assert_contains(j, "\"classes\": [\n"
                       "    {\"index\": 0, \"name\": \"public\", \"nodes\": 2, "
                       "\"lookups_targeted\": 4, \"lookups_ok\": 4},\n"
                       "    {\"index\": 1, \"name\": \"eim\", \"nodes\": 1, "
                       "\"lookups_targeted\": 3, \"lookups_ok\": 3},\n"
                       "    {\"index\": 2, \"name\": \"sym\", \"nodes\": 1, "
                       "\"lookups_targeted\": 3, \"lookups_ok\": 2}\n  ]\n}\n");
    free(j);
    knit_sim_metrics_free(m);
    remove_tree(s.root, 1);
}

/* No samples at all: every figure over none is null, files have headers. */
static void test_empty(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m;
    const char *one[] = {"a\\b"};   /* backslash: JSON must escape it */
    assert_int_equal(knit_sim_metrics_new(&m, one, 1), KNIT_OK);
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_OK);
    char *j = read_file(s.out, "summary.json", NULL);
    assert_contains(j, "\"success_rate\": null");
    assert_contains(j, "\"hops\": {\"median\": null, \"mean\": null, "
                       "\"max\": null}");
    assert_contains(j, "\"latency_ms\": {\"p50\": null, \"p90\": null, "
                       "\"p99\": null, \"max\": null, \"mean\": null}");
    assert_contains(j, "\"connected_share\": null");
    assert_contains(j, "\"tx_bytes_per_node\": {\"p50\": null, \"p90\": null, "
                       "\"p99\": null, \"max\": null, \"mean\": null}");
    assert_contains(j, "\"name\": \"a\\\\b\"");
    assert_contains(j, "\"relays\": {\n    \"relay_nodes\": 0,\n"
                       "    \"circuits\": 0,\n    \"bytes\": 0,\n"
                       "    \"bytes_p50\": 0,\n    \"bytes_max\": 0\n  },");
    free(j);
    assert_file_is(s.out, "relays.csv", "rank,index,class,circuits,bytes\n");
    assert_file_is(s.out, "lookup_hops.csv", "hops,count\n");
    assert_file_is(s.out, "lookup_latency_cdf.csv", "latency_ms,fraction\n");
    knit_sim_metrics_free(m);
    remove_tree(s.root, 1);
}

/* relays.csv order: most bytes, then most circuits, then lowest index; a
 * node with circuits but no bytes is a relay, one with neither is not. */
static void test_relay_order(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m;
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 2), KNIT_OK);
    static const struct {
        uint32_t index;
        uint8_t class_index;
        uint64_t circuits, bytes;
    } load[] = {
        {5, 1, 2, 100}, {4, 1, 2, 100}, {3, 0, 3, 100},
        {2, 0, 0, 0},   {1, 1, 1, 0},   {0, 0, 1, 5000},
    };
    for (size_t i = 0; i < sizeof load / sizeof load[0]; i++) {
        struct knit_sim_node_sample n = {
            .index = load[i].index, .class_index = load[i].class_index,
            .relay_circuits = load[i].circuits, .relay_bytes = load[i].bytes,
        };
        assert_int_equal(knit_sim_metrics_node(m, &n), KNIT_OK);
    }
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_OK);
    assert_file_is(s.out, "relays.csv",
                   "rank,index,class,circuits,bytes\n"
                   "1,0,public,1,5000\n"
                   "2,3,public,3,100\n"
                   "3,4,eim,2,100\n"
                   "4,5,eim,2,100\n"
                   "5,1,eim,1,0\n");
    /* bytes over the relays 0 100 100 100 5000: the median is 100 */
    char *j = read_file(s.out, "summary.json", NULL);
    assert_contains(j, "\"relays\": {\n    \"relay_nodes\": 5,\n"
                       "    \"circuits\": 9,\n    \"bytes\": 5300,\n"
                       "    \"bytes_p50\": 100,\n    \"bytes_max\": 5000\n"
                       "  },");
    free(j);
    knit_sim_metrics_free(m);
    remove_tree(s.root, 1);
}

/* Over 2000 successful lookups the CDF is 1000 quantiles (nearest rank). */
static void test_large_cdf(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m;
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 1), KNIT_OK);
    /* latencies 1..3000 ms reported backwards: quantile q/1000 is 3q ms */
    for (uint64_t i = 3000; i >= 1; i--) {
        struct knit_sim_lookup_sample l = {i, i * 1000, 1, 1, true, 0};
        assert_int_equal(knit_sim_metrics_lookup(m, &l), KNIT_OK);
    }
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_OK);
    char *cdf = read_file(s.out, "lookup_latency_cdf.csv", NULL);
    assert_int_equal(count_lines(cdf), 1 + 1000);
    assert_true(strncmp(cdf, "latency_ms,fraction\n3.000,0.001000\n"
                             "6.000,0.002000\n", 50) == 0);
    assert_contains(cdf, "\n1500.000,0.500000\n");
    assert_contains(cdf, "\n2997.000,0.999000\n3000.000,1.000000\n");
    free(cdf);
    assert_true(knit_sim_metrics_lookup_percentile(m, 99.9) == 2997000);
    knit_sim_metrics_free(m);

    /* all alike: repeated quantiles collapse into one row */
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 1), KNIT_OK);
    for (int i = 0; i < 2500; i++) {
        struct knit_sim_lookup_sample l = {0, 7000, 1, 1, true, 0};
        assert_int_equal(knit_sim_metrics_lookup(m, &l), KNIT_OK);
    }
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_OK);
    assert_file_is(s.out, "lookup_latency_cdf.csv",
                   "latency_ms,fraction\n7.000,1.000000\n");
    knit_sim_metrics_free(m);
    remove_tree(s.root, 1);
}

/* The same samples give the same bytes, into a folder that already exists
 * (the second write overwrites the first). */
static void test_deterministic(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    char other[160];
    snprintf(other, sizeof other, "%s/again", s.root);
    struct knit_sim_metrics *a = known_set(), *b = known_set();
    assert_int_equal(knit_sim_metrics_write(a, s.out, NULL, 0), KNIT_OK);
    assert_int_equal(knit_sim_metrics_write(b, other, NULL, 0), KNIT_OK);
    assert_int_equal(knit_sim_metrics_write(b, s.out, NULL, 0), KNIT_OK);
    for (size_t i = 0; i < NFILES; i++) {
        size_t la, lb;
        char *x = read_file(s.out, FILES[i], &la);
        char *y = read_file(other, FILES[i], &lb);
        assert_true(la > 0);
        assert_int_equal(la, lb);
        assert_memory_equal(x, y, la);
        free(x);
        free(y);
    }
    knit_sim_metrics_free(a);
    knit_sim_metrics_free(b);
    remove_tree(s.root, 1);
}

static void test_write_errors(void **state)
{
    (void)state;
    struct scratch s;
    scratch_make(&s);
    struct knit_sim_metrics *m = known_set();
    char err[512], path[256];

    /* a folder under a regular file */
    snprintf(path, sizeof path, "%s/plain", s.root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/plain/out", s.root);
    assert_int_equal(knit_sim_metrics_write(m, path, err, sizeof err),
                     KNIT_E_IO);
    assert_contains(err, path);

    /* the folder is a regular file */
    snprintf(path, sizeof path, "%s/plain", s.root);
    assert_int_equal(knit_sim_metrics_write(m, path, err, sizeof err),
                     KNIT_E_IO);
    assert_contains(err, path);
    assert_contains(err, "not a folder");

    /* one of the files cannot be opened (a folder in its place) */
    assert_int_equal(mkdir(s.out, 0755), 0);
    snprintf(path, sizeof path, "%s/nodes.csv", s.out);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(knit_sim_metrics_write(m, s.out, err, sizeof err),
                     KNIT_E_IO);
    assert_contains(err, path);

    /* err may be NULL or tiny */
    assert_int_equal(knit_sim_metrics_write(m, s.out, NULL, 0), KNIT_E_IO);
    char tiny[4];
    assert_int_equal(knit_sim_metrics_write(m, s.out, tiny, sizeof tiny),
                     KNIT_E_IO);
    assert_int_equal(strlen(tiny), 3);
    assert_int_equal(knit_sim_metrics_write(m, "", err, sizeof err),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_write(NULL, s.out, err, sizeof err),
                     KNIT_E_INVAL);
    knit_sim_metrics_free(m);
    remove_tree(s.root, 2);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct knit_sim_metrics *m = (void *)1;
    const char *dup[] = {"public", "x", "x"};
    const char *empty[] = {"public", ""};
    const char *comma[] = {"public", "a,b"};
    const char *space[] = {"public", "a b"};
    const char *longest[] = {"public", "abcdefghijklmnopqrstuvwxyz01234"};
    const char *too_long[] = {"public", "abcdefghijklmnopqrstuvwxyz012345"};
    const char *null_name[] = {"public", NULL};
    assert_int_equal(knit_sim_metrics_new(&m, dup, 3), KNIT_E_INVAL);
    assert_null(m);
    assert_int_equal(knit_sim_metrics_new(&m, empty, 2), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, comma, 2), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, space, 2), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, too_long, 2), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, null_name, 2), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, CLASSES, 0), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(NULL, CLASSES, 1), KNIT_E_INVAL);
    const char *many[KNIT_SIM_MAX_CLASSES + 1];
    char names[KNIT_SIM_MAX_CLASSES + 1][8];
    for (size_t i = 0; i <= KNIT_SIM_MAX_CLASSES; i++) {
        snprintf(names[i], sizeof names[i], "c%zu", i);
        many[i] = names[i];
    }
    assert_int_equal(knit_sim_metrics_new(&m, many, KNIT_SIM_MAX_CLASSES + 1),
                     KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_new(&m, many, KNIT_SIM_MAX_CLASSES),
                     KNIT_OK);
    knit_sim_metrics_free(m);
    assert_int_equal(knit_sim_metrics_new(&m, longest, 2), KNIT_OK);

    /* classes out of range, outcomes and failures out of their enums */
    struct knit_sim_lookup_sample l = {0, 1, 1, 1, true, 2};
    assert_int_equal(knit_sim_metrics_lookup(m, &l), KNIT_E_INVAL);
    struct knit_sim_connect_sample c = {0, 0, 2, 0, 0, NO, NO};
    assert_int_equal(knit_sim_metrics_connect(m, &c), KNIT_E_INVAL);
    c = (struct knit_sim_connect_sample){0, 2, 0, 0, 0, NO, NO};
    assert_int_equal(knit_sim_metrics_connect(m, &c), KNIT_E_INVAL);
    c = (struct knit_sim_connect_sample){0, 0, 1, 3, 0, NO, NO};
    assert_int_equal(knit_sim_metrics_connect(m, &c), KNIT_E_INVAL);
    c = (struct knit_sim_connect_sample){0, 0, 1, 2, 5, NO, NO};
    assert_int_equal(knit_sim_metrics_connect(m, &c), KNIT_E_INVAL);
    struct knit_sim_node_sample n = {.class_index = 2};
    assert_int_equal(knit_sim_metrics_node(m, &n), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_node(m, NULL), KNIT_E_INVAL);
    assert_int_equal(knit_sim_metrics_node(NULL, &n), KNIT_E_INVAL);
    size_t ok = 7;
    assert_int_equal(knit_sim_metrics_lookups(m, &ok), 0);
    assert_int_equal(ok, 0);
    knit_sim_metrics_free(m);
    knit_sim_metrics_free(NULL);
}

/* ---- the arithmetic ------------------------------------------------------ */

static void test_arithmetic(void **state)
{
    (void)state;
    /* nearest rank: ceil(n * p), 0-based */
    assert_int_equal(knit_sim_rank_index(10, 90, 100), 8);
    assert_int_equal(knit_sim_rank_index(10, 91, 100), 9);
    assert_int_equal(knit_sim_rank_index(1, 1, 2), 0);
    assert_int_equal(knit_sim_rank_index(3, 1, 2), 1);
    assert_int_equal(knit_sim_rank_index(4, 1, 2), 1);
    assert_int_equal(knit_sim_rank_index(9, 0, 100), 0);
    assert_int_equal(knit_sim_rank_index(9, 100, 100), 8);
    assert_true(knit_sim_rank_index(SIZE_MAX, 1, 2) == SIZE_MAX / 2);
    assert_true(knit_sim_rank_index(SIZE_MAX, 999999, 1000000) ==
                SIZE_MAX - SIZE_MAX / 1000000 - 1);

    /* rounded ratios, half up */
    assert_true(knit_sim_round_ratio(2, 3, 1000000) == 666667);
    assert_true(knit_sim_round_ratio(1, 3, 1000000) == 333333);
    assert_true(knit_sim_round_ratio(1, 2, 1) == 1);
    assert_true(knit_sim_round_ratio(0, 5, 1000000) == 0);
    assert_true(knit_sim_round_ratio(5, 5, 1000000) == 1000000);
    assert_true(knit_sim_round_ratio(0, 0, 1000000) == 0);
    assert_true(knit_sim_round_ratio(UINT64_MAX / 2, UINT64_MAX, 1000000) ==
                500000);

    /* means never overflow */
    struct knit_sim_mean a;
    knit_sim_mean_init(&a, 2);
    knit_sim_mean_add(&a, UINT64_MAX);
    knit_sim_mean_add(&a, UINT64_MAX);
    assert_true(knit_sim_mean_get(&a) == UINT64_MAX);
    knit_sim_mean_init(&a, 2);
    knit_sim_mean_add(&a, 1);
    knit_sim_mean_add(&a, 2);
    assert_true(knit_sim_mean_get(&a) == 2);
    knit_sim_mean_init(&a, 3);
    for (int i = 0; i < 3; i++)
        knit_sim_mean_add(&a, UINT64_MAX - 1);
    assert_true(knit_sim_mean_get(&a) == UINT64_MAX - 1);
    knit_sim_mean_init(&a, 0);
    assert_true(knit_sim_mean_get(&a) == 0);
}

/* Growth doubles, and refuses sizes that would overflow without touching
 * the array. */
static void test_grow(void **state)
{
    (void)state;
    void *items = NULL;
    size_t cap = 0;
    assert_int_equal(knit_sim_grow(&items, &cap, 0, 8), KNIT_OK);
    assert_int_equal(cap, 64);
    assert_int_equal(knit_sim_grow(&items, &cap, 63, 8), KNIT_OK);
    assert_int_equal(cap, 64);
    assert_int_equal(knit_sim_grow(&items, &cap, 64, 8), KNIT_OK);
    assert_int_equal(cap, 128);
    void *before = items;
    size_t huge = SIZE_MAX / 4 + 1;   /* doubling it times 8 overflows */
    assert_int_equal(knit_sim_grow(&items, &huge, huge, 8), KNIT_E_NOMEM);
    assert_ptr_equal(items, before);
    assert_true(huge == SIZE_MAX / 4 + 1);
    huge = SIZE_MAX / 2 + 1;          /* doubling it overflows */
    assert_int_equal(knit_sim_grow(&items, &huge, huge, 1), KNIT_E_NOMEM);
    assert_ptr_equal(items, before);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_csv_files),
        cmocka_unit_test(test_summary_json),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_relay_order),
        cmocka_unit_test(test_large_cdf),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
