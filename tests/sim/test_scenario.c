/* Scenario files (sim/scenario.h): the examples in sim/scenarios/, the
 * defaults, every kind of value, CRLF and unterminated text, the limits on
 * bytes and lines, and the split of the nodes into public ones and NAT
 * types. The refusals, each with the line it names, and loading from
 * files are in test_scenario_errors.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <unistd.h>

#include "proto/record.h"
#include "sim/nat.h"
#include "sim/scenario.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define MINUTE (60 * SECOND)

/* Parses len bytes and asserts success. */
static struct knit_scenario parse_ok_n(const char *text, size_t len)
{
    struct knit_scenario s;
    char err[256] = "untouched";
    int r = knit_scenario_parse(text, len, &s, err, sizeof err);
    if (r != KNIT_OK)
        print_error("unexpected error for \"%.*s\": %s\n", (int)len, text,
                    err);
    assert_int_equal(r, KNIT_OK);
    assert_string_equal(err, "");
    return s;
}

static struct knit_scenario parse_ok(const char *text)
{
    return parse_ok_n(text, strlen(text));
}

/* Parses len bytes, from a buffer of exactly that size (so ASan sees any
 * read past len), and asserts the error message. */
static void parse_fails_n(const char *text, size_t len, const char *want)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    struct knit_scenario s;
    char err[512];
    int r = knit_scenario_parse(copy, len, &s, err, sizeof err);
    free(copy);
    if (r != KNIT_E_INVAL || strcmp(err, want) != 0)
        print_error("text \"%.*s\"\n  got  %d \"%s\"\n  want \"%s\"\n",
                    (int)len, text, r, r ? err : "", want);
    assert_int_equal(r, KNIT_E_INVAL);
    assert_string_equal(err, want);
}

static void parse_fails(const char *text, const char *want)
{
    parse_fails_n(text, strlen(text), want);
}

/* The folder holding this file's repository: __FILE__ is
 * ROOT/tests/sim/test_scenario.c. */
static void repo_path(char *buf, size_t len, const char *rel)
{
    static const char suffix[] = "tests/sim/test_scenario.c";
    const char *file = __FILE__;
    size_t fl = strlen(file), sl = sizeof suffix - 1;
    assert_true(fl >= sl);
    assert_string_equal(file + fl - sl, suffix);
    snprintf(buf, len, "%.*s%s", (int)(fl - sl), file, rel);
}

static struct knit_scenario load_example(const char *name)
{
    char path[4096], rel[256], err[512];
    snprintf(rel, sizeof rel, "sim/scenarios/%s", name);
    repo_path(path, sizeof path, rel);
    struct knit_scenario s;
    int r = knit_scenario_load(path, &s, err, sizeof err);
    if (r != KNIT_OK)
        print_error("%s\n", err);
    assert_int_equal(r, KNIT_OK);
    return s;
}

static uint32_t nat_total(const struct knit_scenario *s)
{
    uint32_t counts[KNIT_SCN_MAX_NATS];
    knit_scenario_nat_counts(s, counts);
    uint32_t total = 0;
    for (size_t i = 0; i < s->nat_count; i++)
        total += counts[i];
    return total;
}

/* ---- examples and defaults ---------------------------------------------- */

static void test_every_example_parses(void **state)
{
    (void)state;
    char dir_path[4096];
    repo_path(dir_path, sizeof dir_path, "sim/scenarios");
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".scn") != 0)
            continue;
        struct knit_scenario s = load_example(e->d_name);
        uint32_t pub = knit_scenario_public_nodes(&s);
        assert_int_equal(pub + nat_total(&s), s.nodes);
        seen++;
    }
    closedir(dir);
    assert_true(seen >= 5);
}

static void test_examples_say_what_they_promise(void **state)
{
    (void)state;
    struct knit_scenario s = load_example("small-public.scn");
    assert_int_equal(s.nodes, 500);
    assert_true(s.public_share == 1.0);
    assert_int_equal(s.nat_count, 0);
    assert_true(s.lookup_rate >= 1 && s.lookup_rate <= 10);

    s = load_example("home-mix.scn");
    assert_int_equal(s.nodes, 2000);
    assert_int_equal(knit_scenario_public_nodes(&s), 600);
    assert_int_equal(nat_total(&s), 1400);
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_WEIBULL);
    assert_true(s.loss > 0 && s.jitter_us > 0);
    bool symmetric = false, cgn = false, full_cone = false;
    double eim_apdf = 0;
    for (size_t i = 0; i < s.nat_count; i++) {
        const struct knit_scn_nat_type *t = &s.nat[i];
        assert_true(t->hosts_per_box >= 1 && t->hosts_per_box <= 3);
        symmetric |= t->mapping == KNIT_MAPPING_ADDRESS_PORT_DEPENDENT;
        cgn |= t->cgn > 0;
        full_cone |= t->mapping == KNIT_MAPPING_ENDPOINT_INDEPENDENT &&
                     t->filtering == KNIT_FILTERING_ENDPOINT_INDEPENDENT;
        if (t->mapping == KNIT_MAPPING_ENDPOINT_INDEPENDENT &&
            t->filtering == KNIT_FILTERING_ADDRESS_PORT_DEPENDENT)
            eim_apdf += t->share;
    }
    assert_true(symmetric && cgn && full_cone);
    assert_true(eim_apdf > 0.5);

    s = load_example("churn.scn");
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_WEIBULL);
    assert_true(s.lifetime.shape == 0.5);
    assert_int_equal(s.lifetime.scale_us, 30 * MINUTE);
    assert_int_equal(s.offline.kind, KNIT_SCN_DIST_EXP);

    const char *scale[] = {"scale-10k.scn", "scale-100k.scn"};
    uint32_t nodes[] = {10000, 100000};
    for (int i = 0; i < 2; i++) {
        struct knit_scenario big = load_example(scale[i]);
        assert_int_equal(big.nodes, nodes[i]);
        assert_true(big.public_share == 0.3);
        assert_true(big.warmup_us >= big.join_us);
        assert_int_equal(big.duration_us, 10 * MINUTE);
        /* The same NAT mix as home-mix. */
        struct knit_scenario home = load_example("home-mix.scn");
        assert_int_equal(big.nat_count, home.nat_count);
        assert_memory_equal(big.nat, home.nat, sizeof big.nat);
        assert_int_equal(knit_scenario_public_nodes(&big) + nat_total(&big),
                         big.nodes);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    struct knit_scenario d, s = parse_ok("");
    knit_scenario_defaults(&d);
    assert_memory_equal(&s, &d, sizeof s);
    assert_int_equal(d.nodes, 100);
    assert_true(d.public_share == 1.0);
    assert_int_equal(d.bootstrap, 1);
    assert_int_equal(d.seed, 1);
    assert_int_equal(d.join_us, 30 * SECOND);
    assert_int_equal(d.warmup_us, 60 * SECOND);
    assert_int_equal(d.duration_us, 5 * MINUTE);
    assert_int_equal(d.access_min_us, 1000);
    assert_int_equal(d.access_max_us, 10000);
    assert_int_equal(d.core_min_us, 5000);
    assert_int_equal(d.core_max_us, 60000);
    assert_int_equal(d.regions, 4);
    assert_int_equal(d.jitter_us, 1000);
    assert_true(d.loss == 0);
    assert_int_equal(d.uplink_bps, 0);
    assert_int_equal(d.queue_bytes, 0);
    assert_int_equal(d.nat_count, 0);
    assert_int_equal(d.lifetime.kind, KNIT_SCN_DIST_NONE);
    assert_int_equal(d.offline.kind, KNIT_SCN_DIST_EXP);
    assert_int_equal(d.offline.scale_us, 5 * MINUTE);
    assert_true(d.lookup_rate == 10);
    assert_true(d.connect_rate == 0);

    /* Comments, blank lines and whitespace alone change nothing. */
    s = parse_ok("# nothing\n\n   \t\n  # indented comment\n");
    assert_memory_equal(&s, &d, sizeof s);
}

/* ---- values ------------------------------------------------------------- */

static void test_whole_numbers_and_shares(void **state)
{
    (void)state;
    struct knit_scenario s =
        parse_ok("nodes 1000000\nseed 18446744073709551615\nregions 64\n"
                 "bootstrap 64\npublic 0.25\nloss 0.005\n"
                 "nat only 1 mapping=eim filtering=eif\n");
    assert_int_equal(s.nodes, 1000000);
    assert_true(s.seed == UINT64_MAX);
    assert_int_equal(s.regions, 64);
    assert_int_equal(s.bootstrap, 64);
    assert_true(s.public_share == 0.25);
    assert_true(s.loss == 0.005);
    s = parse_ok("nodes 007\nseed 0\npublic 1.000\nloss 1\n");
    assert_int_equal(s.nodes, 7);
    assert_int_equal(s.seed, 0);
    assert_true(s.loss == 1.0);
}

static void test_durations(void **state)
{
    (void)state;
    struct knit_scenario s =
        parse_ok("join 250ms\nwarmup 1.5s\nduration 2h\njitter 0\n"
                 "latency access 500us 0.25s\nlatency core 0 10s\n");
    assert_int_equal(s.join_us, 250000);
    assert_int_equal(s.warmup_us, 1500000);
    assert_int_equal(s.duration_us, 2 * 3600 * SECOND);
    assert_int_equal(s.jitter_us, 0);
    assert_int_equal(s.access_min_us, 500);
    assert_int_equal(s.access_max_us, 250000);
    assert_int_equal(s.core_min_us, 0);
    assert_int_equal(s.core_max_us, 10 * SECOND);
    s = parse_ok("join 0s\nwarmup 0.0m\nduration 1us\n");
    assert_int_equal(s.join_us, 0);
    assert_int_equal(s.warmup_us, 0);
    assert_int_equal(s.duration_us, 1);
    /* The largest whole duration that fits, with nothing before it. */
    s = parse_ok("join 0\nwarmup 0\nduration 18446744073709551615us\n"
                 "lookups 0\n");
    assert_true(s.duration_us == UINT64_MAX);
    s = parse_ok("join 0\nwarmup 0\nduration 5124095576h\nlookups 0\n");
    assert_int_equal(s.duration_us, 5124095576ull * 3600 * SECOND);
    /* Fractions round to the nearest microsecond. */
    s = parse_ok("jitter 0.4us\nduration 2.5us\n");
    assert_int_equal(s.jitter_us, 0);
    assert_int_equal(s.duration_us, 3);
}

static void test_rates_and_bandwidth(void **state)
{
    (void)state;
    struct knit_scenario s =
        parse_ok("lookups 30/m\nconnects 2.5/s\nbandwidth 10mbit 64kb\n");
    assert_true(s.lookup_rate == 0.5);
    assert_true(s.connect_rate == 2.5);
    assert_int_equal(s.uplink_bps, 10000000);
    assert_int_equal(s.queue_bytes, 65536);
    s = parse_ok("lookups 0\nconnects 0/m\nbandwidth 1.5gbit 1mb\n");
    assert_true(s.lookup_rate == 0 && s.connect_rate == 0);
    assert_int_equal(s.uplink_bps, 1500000000);
    assert_int_equal(s.queue_bytes, 1048576);
    s = parse_ok("bandwidth 1kbit 1500b\nlookups 100000/s\nduration 100s\n");
    assert_int_equal(s.uplink_bps, 1000);
    assert_int_equal(s.queue_bytes, 1500);
    assert_true(s.lookup_rate == 100000);
    s = parse_ok("bandwidth 100gbit 1024mb\nlookups 6000000/m\n"
                 "duration 100s\n");
    assert_int_equal(s.uplink_bps, 100000000000ull);
    assert_int_equal(s.queue_bytes, 1024u * 1024 * 1024);
    assert_true(s.lookup_rate == 100000);
    s = parse_ok("bandwidth off\n");
    assert_int_equal(s.uplink_bps, 0);
    assert_int_equal(s.queue_bytes, 0);
}

static void test_nat_lines(void **state)
{
    (void)state;
    struct knit_scenario s = parse_ok(
        "public 0.5\n"
        "nat home 0.6 mapping=eim filtering=apdf\n"
        "nat Sym_2-x 0.3 filtering=adf mapping=apdm ports=random "
        "timeout=30s hairpin=on hosts=254 cgn=65535\n"
        "nat odd 0.1 mapping=adm filtering=eif ports=sequential hairpin=off "
        "hosts=3 cgn=0\n");
    assert_int_equal(s.nat_count, 3);
    const struct knit_scn_nat_type *t = &s.nat[0];
    assert_string_equal(t->name, "home");
    assert_true(t->share == 0.6);
    assert_int_equal(t->mapping, KNIT_MAPPING_ENDPOINT_INDEPENDENT);
    assert_int_equal(t->filtering, KNIT_FILTERING_ADDRESS_PORT_DEPENDENT);
    assert_int_equal(t->allocation, KNIT_SIM_PORT_PRESERVING);
    assert_int_equal(t->timeout_us, 120 * SECOND);
    assert_false(t->hairpin);
    assert_int_equal(t->hosts_per_box, 1);
    assert_int_equal(t->cgn, 0);
    t = &s.nat[1];
    assert_string_equal(t->name, "Sym_2-x");
    assert_int_equal(t->mapping, KNIT_MAPPING_ADDRESS_PORT_DEPENDENT);
    assert_int_equal(t->filtering, KNIT_FILTERING_ADDRESS_DEPENDENT);
    assert_int_equal(t->allocation, KNIT_SIM_PORT_RANDOM);
    assert_int_equal(t->timeout_us, 30 * SECOND);
    assert_true(t->hairpin);
    assert_int_equal(t->hosts_per_box, 254);
    assert_int_equal(t->cgn, 65535);
    t = &s.nat[2];
    assert_int_equal(t->mapping, KNIT_MAPPING_ADDRESS_DEPENDENT);
    assert_int_equal(t->filtering, KNIT_FILTERING_ENDPOINT_INDEPENDENT);
    assert_int_equal(t->allocation, KNIT_SIM_PORT_SEQUENTIAL);
    assert_false(t->hairpin);
    assert_int_equal(t->hosts_per_box, 3);

    /* 31 characters is the longest name; 16 types the most; shares
     * within 1e-6 of 1 and shares of 0 are fine; so are nat lines with
     * nobody behind them. */
    char text[2048];
    size_t at = (size_t)snprintf(text, sizeof text, "public 0.9\n");
    for (int i = 0; i < KNIT_SCN_MAX_NATS; i++)
        at += (size_t)snprintf(text + at, sizeof text - at,
                               "nat %s%02d %s mapping=eim filtering=eif\n",
                               i == 0 ? "abcdefghijklmnopqrstuvwxyzABC" : "t",
                               i, i == 0 ? "0.2500005" : "0.05");
    s = parse_ok(text);
    assert_int_equal(s.nat_count, KNIT_SCN_MAX_NATS);
    assert_int_equal(strlen(s.nat[0].name), KNIT_SCN_NAME_MAX - 1);
    s = parse_ok("nat a 0 mapping=eim filtering=eif\n"
                 "nat b 1 mapping=eim filtering=eif\n");
    assert_int_equal(s.nat_count, 2);
    assert_int_equal(knit_scenario_public_nodes(&s), s.nodes);
}

static void test_churn(void **state)
{
    (void)state;
    struct knit_scenario s = parse_ok("churn weibull 0.5 30m\noffline off\n");
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_WEIBULL);
    assert_true(s.lifetime.shape == 0.5);
    assert_int_equal(s.lifetime.scale_us, 30 * MINUTE);
    assert_int_equal(s.offline.kind, KNIT_SCN_DIST_NONE);
    s = parse_ok("churn exp 1h\noffline weibull 100 1.5m\n");
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_EXP);
    assert_int_equal(s.lifetime.scale_us, 60 * MINUTE);
    assert_int_equal(s.offline.kind, KNIT_SCN_DIST_WEIBULL);
    assert_true(s.offline.shape == 100);
    assert_int_equal(s.offline.scale_us, 90 * SECOND);
    s = parse_ok("churn fixed 10m\noffline fixed 1s\n");
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_FIXED);
    assert_int_equal(s.lifetime.scale_us, 10 * MINUTE);
    assert_int_equal(s.offline.kind, KNIT_SCN_DIST_FIXED);
    s = parse_ok("churn off\noffline exp 2m\n");
    assert_int_equal(s.lifetime.kind, KNIT_SCN_DIST_NONE);
    assert_int_equal(s.offline.kind, KNIT_SCN_DIST_EXP);
    assert_int_equal(s.offline.scale_us, 2 * MINUTE);
}

/* ---- text form ---------------------------------------------------------- */

static void test_crlf_and_unterminated(void **state)
{
    (void)state;
    const char *lf = "nodes 50\n# comment\r\npublic 0.5\n"
                     "nat a 1 mapping=eim filtering=eif # why\n";
    const char *crlf = "nodes 50\r\n# comment\r\npublic 0.5\r\n"
                       "nat a 1 mapping=eim filtering=eif # why\r\n";
    const char *bare = "nodes 50\r\n# comment\r\npublic 0.5\r\n"
                       "nat a 1 mapping=eim filtering=eif";
    struct knit_scenario a = parse_ok(lf), b = parse_ok(crlf),
                         c = parse_ok(bare);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&a, &c, sizeof a);
    assert_int_equal(a.nodes, 50);
    c = parse_ok("nodes 50\r");
    assert_int_equal(c.nodes, 50);
    c = parse_ok("\tnodes\t \t50  \n");
    assert_int_equal(c.nodes, 50);
    /* Only len bytes are read: "nodes 500" cut after "nodes 5". */
    struct knit_scenario cut;
    assert_int_equal(knit_scenario_parse("nodes 500", 7, &cut, NULL, 0), 0);
    assert_int_equal(cut.nodes, 5);
    /* A CRLF error names the right line. */
    parse_fails("nodes 5\r\n\r\nseed x\r\n",
                "line 3: seed: x is not a whole number");
}

static void test_text_limits(void **state)
{
    (void)state;
    /* A line of exactly KNIT_SCN_MAX_LINE bytes (its ending not counted),
     * then one byte longer. */
    static char text[KNIT_SCN_MAX_TEXT + 2];
    memset(text, 0, sizeof text);
    strcpy(text, "nodes 5\n#");
    memset(text + 9, 'x', KNIT_SCN_MAX_LINE - 1);
    strcat(text, "\r\nseed 2\n");
    struct knit_scenario s = parse_ok(text);
    assert_int_equal(s.seed, 2);
    strcpy(text, "nodes 5\n#");
    memset(text + 9, 'x', KNIT_SCN_MAX_LINE);
    text[9 + KNIT_SCN_MAX_LINE] = '\0';
    parse_fails(text, "line 2: longer than 1024 bytes");

    /* The whole text: at most KNIT_SCN_MAX_TEXT bytes. */
    memset(text, '\n', KNIT_SCN_MAX_TEXT + 1);
    memcpy(text + KNIT_SCN_MAX_TEXT - 8, "nodes 9\n", 8);
    s = parse_ok_n(text, KNIT_SCN_MAX_TEXT);
    assert_int_equal(s.nodes, 9);
    parse_fails_n(text, KNIT_SCN_MAX_TEXT + 1,
                  "line 0: text is 65537 bytes, over the limit of 65536");
}

static void test_bytes_refused(void **state)
{
    (void)state;
    parse_fails_n("nodes 5\n# a\0b\n", 14, "line 2: NUL byte at column 4");
    parse_fails_n("nodes 5\0", 8, "line 1: NUL byte at column 8");
    parse_fails("nodes 5\rseed 2\n",
                "line 1: control character 0x0d at column 8");
    parse_fails("\n\nnodes\x01 5\n",
                "line 3: control character 0x01 at column 6");
    parse_fails("# \x7f\n", "line 1: control character 0x7f at column 3");
    /* UTF-8 is fine in a comment, not in a key. */
    parse_ok("nodes 5 # 5 µs\n");
    parse_fails("nödes 5\n", "line 1: nödes: unknown key");
}

/* ---- the split ---------------------------------------------------------- */

static void test_public_nodes(void **state)
{
    (void)state;
    struct knit_scenario s = parse_ok(
        "nodes 5\npublic 0.3\nnat a 1 mapping=eim filtering=eif\n");
    assert_int_equal(knit_scenario_public_nodes(&s), 2); /* 1.5 rounds up */
    s = parse_ok("nodes 2000\npublic 0.3\nbootstrap 64\n"
                 "nat a 1 mapping=eim filtering=eif\n");
    assert_int_equal(knit_scenario_public_nodes(&s), 600);
    /* Structs built by hand: at least bootstrap, at most nodes. */
    s.public_share = 0;
    assert_int_equal(knit_scenario_public_nodes(&s), 64);
    s.nodes = 10;
    assert_int_equal(knit_scenario_public_nodes(&s), 10);
    s.nodes = 100;
    s.bootstrap = 1;
    s.public_share = NAN;
    assert_int_equal(knit_scenario_public_nodes(&s), 1);
    s.public_share = 7;
    assert_int_equal(knit_scenario_public_nodes(&s), 100);
}

static void test_nat_counts(void **state)
{
    (void)state;
    uint32_t counts[KNIT_SCN_MAX_NATS];
    /* 7 NATed nodes, two equal shares: the tie goes to the earlier type. */
    struct knit_scenario s = parse_ok(
        "nodes 10\npublic 0.3\nnat a 0.5 mapping=eim filtering=eif\n"
        "nat b 0.5 mapping=eim filtering=eif\n");
    knit_scenario_nat_counts(&s, counts);
    assert_int_equal(counts[0], 4);
    assert_int_equal(counts[1], 3);
    /* Largest remainders: 2 nodes over thirds go to the third type (its
     * remainder is largest) and then to the first. */
    s = parse_ok("nodes 3\npublic 0.3333\nnat a 0.333333 mapping=eim "
                 "filtering=eif\nnat b 0.333333 mapping=eim filtering=eif\n"
                 "nat c 0.333334 mapping=eim filtering=eif\n");
    assert_int_equal(knit_scenario_public_nodes(&s), 1);
    knit_scenario_nat_counts(&s, counts);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 0);
    assert_int_equal(counts[2], 1);
    /* A share of 0 gets nothing; 999 * 0.25 = 249.75 and 999 * 0.75 =
     * 749.25 floor to 998, and the last node goes to the larger
     * remainder. */
    s = parse_ok("nodes 1000\npublic 0.001\n"
                 "nat a 0 mapping=eim filtering=eif\n"
                 "nat b 0.25 mapping=eim filtering=eif\n"
                 "nat c 0.75 mapping=eim filtering=eif\n");
    assert_int_equal(knit_scenario_public_nodes(&s), 1);
    knit_scenario_nat_counts(&s, counts);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 250);
    assert_int_equal(counts[2], 749);
}

static void test_counts_always_sum(void **state)
{
    (void)state;
    struct knit_scenario s = load_example("home-mix.scn");
    uint32_t counts[KNIT_SCN_MAX_NATS], again[KNIT_SCN_MAX_NATS];
    for (uint32_t nodes = 8; nodes <= 5000; nodes += 7) {
        s.nodes = nodes;
        uint32_t pub = knit_scenario_public_nodes(&s);
        knit_scenario_nat_counts(&s, counts);
        knit_scenario_nat_counts(&s, again);
        assert_memory_equal(counts, again, s.nat_count * sizeof counts[0]);
        uint64_t total = pub;
        for (size_t i = 0; i < s.nat_count; i++) {
            /* Within one node of the exact quota. */
            double quota = (nodes - pub) * s.nat[i].share;
            assert_true(counts[i] + 1 > quota && counts[i] < quota + 1);
            total += counts[i];
        }
        assert_int_equal(total, nodes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_example_parses),
        cmocka_unit_test(test_examples_say_what_they_promise),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_whole_numbers_and_shares),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rates_and_bandwidth),
        cmocka_unit_test(test_nat_lines),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_crlf_and_unterminated),
        cmocka_unit_test(test_text_limits),
        cmocka_unit_test(test_bytes_refused),
        cmocka_unit_test(test_public_nodes),
        cmocka_unit_test(test_nat_counts),
        cmocka_unit_test(test_counts_always_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
