/* Scenario files (sim/scenario.h) refused: every check of the parser, each
 * with the exact message and the line it names, and the error forms of
 * knit_scenario_load. What is accepted is in test_scenario.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/scenario.h"
#include "transport/error.h"

struct refusal {
    const char *text;
    const char *want;
};

#define NAT_EIF " mapping=eim filtering=eif"
#define NAT_USAGE                                                         \
    "(usage: nat NAME SHARE mapping=eim|adm|apdm filtering=eif|adf|apdf " \
    "[ports=preserve|sequential|random] [timeout=DURATION] "               \
    "[hairpin=on|off] [hosts=N] [cgn=N])"
#define DIST_USAGE "weibull SHAPE SCALE | exp MEAN | fixed DURATION | off"

static const struct refusal refusals[] = {
    /* keys */
    {"nodes 5\nfrob 1\n", "line 2: frob: unknown key"},
    {"Nodes 5\n", "line 1: Nodes: unknown key"},
    {"nodes=5\n", "line 1: nodes=5: unknown key"},
    {"# a\n\nseed 3\n\n\n\n\n# b\nseed 4\n",
     "line 9: seed: repeated (first on line 3)"},
    {"latency access 1ms 2ms\nlatency core 1ms 2ms\nlatency access 1ms 2ms\n",
     "line 3: latency access: repeated (first on line 1)"},
    {"churn off\nchurn off\n", "line 2: churn: repeated (first on line 1)"},
    /* counts of values */
    {"nodes\n", "line 1: nodes: missing value (usage: nodes N)"},
    {"nodes 5 6\n", "line 1: nodes: extra value 6 (usage: nodes N)"},
    {"nodes 5 # 6\nseed 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n",
     "line 2: seed: extra value 2 (usage: seed N)"},
    {"latency access 1ms\n",
     "line 1: latency access: missing value (usage: latency access MIN MAX)"},
    {"latency core 1ms 2ms 3ms\n",
     "line 1: latency core: extra value 3ms (usage: latency core MIN MAX)"},
    {"latency\n", "line 1: latency: missing access or core (usage: latency "
                  "access|core MIN MAX)"},
    {"latency edge 1ms 2ms\n", "line 1: latency: edge is not access or core"},
    {"bandwidth 10mbit\n",
     "line 1: bandwidth: missing value (usage: bandwidth RATE QUEUE | off)"},
    {"bandwidth off 5\n",
     "line 1: bandwidth: extra value 5 (usage: bandwidth RATE QUEUE | off)"},
    {"churn\n", "line 1: churn: missing value (usage: churn " DIST_USAGE ")"},
    {"churn weibull 0.5\n",
     "line 1: churn: missing value (usage: churn " DIST_USAGE ")"},
    {"offline off 5\n",
     "line 1: offline: extra value 5 (usage: offline " DIST_USAGE ")"},
    {"lookups\n", "line 1: lookups: missing value (usage: lookups RATE)"},
    /* whole numbers */
    {"nodes -5\n", "line 1: nodes: -5 is not a whole number"},
    {"nodes +5\n", "line 1: nodes: +5 is not a whole number"},
    {"nodes 5.0\n", "line 1: nodes: 5.0 is not a whole number"},
    {"nodes 0x10\n", "line 1: nodes: 0x10 is not a whole number"},
    {"nodes 1e3\n", "line 1: nodes: 1e3 is not a whole number"},
    {"nodes 0\n", "line 1: nodes: 0 is out of range (1..1000000)"},
    {"nodes 1000001\n", "line 1: nodes: 1000001 is out of range (1..1000000)"},
    {"seed 18446744073709551616\n",
     "line 1: seed: 18446744073709551616 is out of range "
     "(0..18446744073709551615)"},
    {"seed 99999999999999999999999999999999999999999999999999\n",
     "line 1: seed: 9999999999999999999999999999999999999999... is out of "
     "range (0..18446744073709551615)"},
    {"regions 0\n", "line 1: regions: 0 is out of range (1..64)"},
    {"regions 65\n", "line 1: regions: 65 is out of range (1..64)"},
    {"bootstrap 0\n", "line 1: bootstrap: 0 is out of range (1..64)"},
    {"bootstrap 65\n", "line 1: bootstrap: 65 is out of range (1..64)"},
    /* shares */
    {"public 1.5\n", "line 1: public: 1.5 is not a share (0..1)"},
    {"public -0.1\n", "line 1: public: -0.1 is not a share (0..1)"},
    {"public nan\n", "line 1: public: nan is not a share (0..1)"},
    {"public inf\n", "line 1: public: inf is not a share (0..1)"},
    {"public 1e-1\n", "line 1: public: 1e-1 is not a share (0..1)"},
    {"public .5\n", "line 1: public: .5 is not a share (0..1)"},
    {"public 5.\n", "line 1: public: 5. is not a share (0..1)"},
    {"public 0..5\n", "line 1: public: 0..5 is not a share (0..1)"},
    {"loss 1.0000001\n", "line 1: loss: 1.0000001 is not a share (0..1)"},
    /* durations */
    {"join 10\n", "line 1: join: 10 has no unit (us, ms, s, m or h)"},
    {"join 10d\n", "line 1: join: 10d has an unknown unit (us, ms, s, m or h)"},
    {"join 10 s\n", "line 1: join: extra value s (usage: join DURATION)"},
    {"join 10S\n", "line 1: join: 10S has an unknown unit (us, ms, s, m or h)"},
    {"join s\n", "line 1: join: s is not a duration (such as 250ms or 10m)"},
    {"join -1s\n",
     "line 1: join: -1s is not a duration (such as 250ms or 10m)"},
    {"join 1.s\n",
     "line 1: join: 1.s is not a duration (such as 250ms or 10m)"},
    {"warmup 18446744073709551616us\n",
     "line 1: warmup: 18446744073709551616us is too long (over 2^64 - 1 us)"},
    {"warmup 5124095577h\n",
     "line 1: warmup: 5124095577h is too long (over 2^64 - 1 us)"},
    {"warmup 5124095576.5h\n",
     "line 1: warmup: 5124095576.5h is too long (over 2^64 - 1 us)"},
    {"duration 0s\n", "line 1: duration: must be above 0"},
    {"duration 0\n", "line 1: duration: must be above 0"},
    {"duration 0.4us\n", "line 1: duration: must be above 0"},
    {"jitter 11s\n", "line 1: jitter: 11s is over 10s"},
    {"jitter 10000001us\n", "line 1: jitter: 10000001us is over 10s"},
    {"latency core 1ms 11s\n", "line 1: latency core: 11s is over 10s"},
    {"latency access 10ms 5ms\n",
     "line 1: latency access: MIN 10ms is above MAX 5ms"},
    {"latency core 1.5s 1s\n", "line 1: latency core: MIN 1500ms is above MAX "
                               "1s"},
    /* rates */
    {"lookups 5\n", "line 1: lookups: 5 is not a rate (such as 20/s or 30/m)"},
    {"lookups 5/h\n",
     "line 1: lookups: 5/h is not a rate (such as 20/s or 30/m)"},
    {"lookups -5/s\n",
     "line 1: lookups: -5/s is not a rate (such as 20/s or 30/m)"},
    {"connects /s\n",
     "line 1: connects: /s is not a rate (such as 20/s or 30/m)"},
    {"lookups 100001/s\n", "line 1: lookups: 100001/s is over 100000/s"},
    {"connects 6000001/m\n", "line 1: connects: 6000001/m is over 100000/s"},
    /* bandwidth */
    {"bandwidth 10mb 64kb\n", "line 1: bandwidth: 10mb is not a rate (NUMBER "
                              "and kbit, mbit or gbit)"},
    {"bandwidth 999bit 64kb\n", "line 1: bandwidth: 999bit is not a rate "
                                "(NUMBER and kbit, mbit or gbit)"},
    {"bandwidth 0.5kbit 64kb\n",
     "line 1: bandwidth: 0.5kbit is out of range (1kbit..100gbit)"},
    {"bandwidth 101gbit 64kb\n",
     "line 1: bandwidth: 101gbit is out of range (1kbit..100gbit)"},
    {"bandwidth 10mbit 1kb\n",
     "line 1: bandwidth: 1kb is out of range (1500b..1024mb)"},
    {"bandwidth 10mbit 1025mb\n",
     "line 1: bandwidth: 1025mb is out of range (1500b..1024mb)"},
    {"bandwidth 10mbit 64kbit\n", "line 1: bandwidth: 64kbit is not a size "
                                  "(NUMBER and b, kb or mb)"},
    /* nat lines */
    {"nat\n", "line 1: nat: missing name " NAT_USAGE},
    {"nat a\n", "line 1: nat: missing share " NAT_USAGE},
    {"nat a 1\n", "line 1: nat: missing mapping=eim|adm|apdm"},
    {"nat a 1 mapping=eim\n", "line 1: nat: missing filtering=eif|adf|apdf"},
    {"nat a 2" NAT_EIF "\n", "line 1: nat: 2 is not a share (0..1)"},
    {"nat a 1" NAT_EIF " colour=red\n",
     "line 1: nat: unknown option colour=red (mapping, filtering, ports, "
     "timeout, hairpin, hosts, cgn)"},
    {"nat a 1" NAT_EIF " Hosts=2\n",
     "line 1: nat: unknown option Hosts=2 (mapping, filtering, ports, "
     "timeout, hairpin, hosts, cgn)"},
    {"nat a 1 mapping=eim mapping=adm filtering=eif\n",
     "line 1: nat: option mapping repeated"},
    {"nat a 1" NAT_EIF " hosts=2 hosts=2\n",
     "line 1: nat: option hosts repeated"},
    {"nat a 1" NAT_EIF " hosts\n", "line 1: nat: option hosts is not "
                                   "NAME=VALUE"},
    {"nat a 1" NAT_EIF " =2\n", "line 1: nat: option =2 is not NAME=VALUE"},
    {"nat a 1" NAT_EIF " hosts=\n", "line 1: nat: option hosts= is not "
                                    "NAME=VALUE"},
    {"nat a 1 mapping=xyz filtering=eif\n",
     "line 1: nat: mapping: xyz is not eim, adm or apdm"},
    {"nat a 1 mapping=eim filtering=EIF\n",
     "line 1: nat: filtering: EIF is not eif, adf or apdf"},
    {"nat a 1" NAT_EIF " ports=odd\n",
     "line 1: nat: ports: odd is not preserve, sequential or random"},
    {"nat a 1" NAT_EIF " hairpin=yes\n",
     "line 1: nat: hairpin: yes is not on or off"},
    {"nat a 1" NAT_EIF " timeout=0s\n", "line 1: nat: timeout: must be above "
                                        "0"},
    {"nat a 1" NAT_EIF " timeout=5\n",
     "line 1: nat: timeout: 5 has no unit (us, ms, s, m or h)"},
    {"nat a 1" NAT_EIF " hosts=0\n",
     "line 1: nat: hosts: 0 is out of range (1..254)"},
    {"nat a 1" NAT_EIF " hosts=255\n",
     "line 1: nat: hosts: 255 is out of range (1..254)"},
    {"nat a 1" NAT_EIF " cgn=65536\n",
     "line 1: nat: cgn: 65536 is out of range (0..65535)"},
    {"nat a!b 1" NAT_EIF "\n",
     "line 1: nat: name a!b may hold only letters, digits, '-' and '_'"},
    {"nat abcdefghijklmnopqrstuvwxyzABCDEF 1" NAT_EIF "\n",
     "line 1: nat: name abcdefghijklmnopqrstuvwxyzABCDEF is longer than 31 "
     "characters"},
    {"nat public 1" NAT_EIF "\n", "line 1: nat: name public is reserved"},
    {"nat PubLic 1" NAT_EIF "\n", "line 1: nat: name PubLic is reserved"},
    {"public 0.5\nnat a 0.5" NAT_EIF "\n\nnat a 0.5" NAT_EIF "\n",
     "line 4: nat: name a repeated (first on line 2)"},
    /* churn */
    {"churn gamma 1 2m\n",
     "line 1: churn: gamma is not weibull, exp, fixed or off"},
    {"churn weibull 0 30m\n",
     "line 1: churn: shape 0 is out of range (above 0, at most 100)"},
    {"churn weibull 0.0 30m\n",
     "line 1: churn: shape 0.0 is out of range (above 0, at most 100)"},
    {"churn weibull 101 30m\n",
     "line 1: churn: shape 101 is out of range (above 0, at most 100)"},
    {"churn weibull -1 30m\n", "line 1: churn: shape -1 is not a number"},
    {"churn weibull 0.5 0s\n", "line 1: churn: scale must be above 0"},
    {"churn exp 0\n", "line 1: churn: mean must be above 0"},
    {"offline fixed 0ms\n", "line 1: offline: duration must be above 0"},
    {"churn exp 10\n",
     "line 1: churn: mean 10 has no unit (us, ms, s, m or h)"},
    /* checks across keys */
    {"public 0.5\nnat a 0.5" NAT_EIF "\nnat b 0.4" NAT_EIF "\n",
     "line 0: nat: the shares of the 2 NAT types sum to 0.9, not 1"},
    {"public 0.5\nnat a 0.5" NAT_EIF "\nnat b 0.500002" NAT_EIF "\n",
     "line 0: nat: the shares of the 2 NAT types sum to 1.000002, not 1"},
    {"nat a 0" NAT_EIF "\n",
     "line 0: nat: the shares of the 1 NAT types sum to 0, not 1"},
    {"nodes 5\n\npublic 0.5\n",
     "line 3: public: 0.5 leaves nodes behind NATs, but no nat line says "
     "which"},
    {"nodes 10\nbootstrap 11\n",
     "line 2: bootstrap: 11 bootstrap nodes, but only 10 public nodes (nodes "
     "10, public 1)"},
    {"bootstrap 5\nnodes 10\npublic 0.3\nnat a 1" NAT_EIF "\n",
     "line 3: bootstrap: 5 bootstrap nodes, but only 3 public nodes (nodes "
     "10, public 0.3)"},
    {"public 0\nnat a 1" NAT_EIF "\n",
     "line 1: bootstrap: 1 bootstrap nodes, but only 0 public nodes (nodes "
     "100, public 0)"},
    {"join 2m\n", "line 1: warmup: 1m is shorter than join (2m)"},
    {"warmup 10s\n", "line 1: warmup: 10s is shorter than join (30s)"},
    {"warmup 10s\n\njoin 11s\n",
     "line 3: warmup: 10s is shorter than join (11s)"},
    {"duration 18446744073709551615us\n",
     "line 1: duration: warmup + duration overflow 2^64 - 1 us"},
    {"duration 18446744073709491615us\nwarmup 60000001us\n",
     "line 2: duration: warmup + duration overflow 2^64 - 1 us"},
    {"lookups 100000/s\nduration 2m\n",
     "line 2: lookups: 100000/s for 2m is 12000000 events, over 10000000"},
    {"duration 1000001s\n",
     "line 1: lookups: 10/s for 1000001s is 10000010 events, over 10000000"},
    {"connects 1000/s\n\nduration 3h\n",
     "line 3: connects: 1000/s for 3h is 10800000 events, over 10000000"},
};

static void test_errors(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *c = &refusals[i];
        size_t len = strlen(c->text);
        /* Exactly len bytes, so ASan sees any read past them. */
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, c->text, len);
        struct knit_scenario s;
        char err[512];
        int r = knit_scenario_parse(copy, len, &s, err, sizeof err);
        free(copy);
        if (r != KNIT_E_INVAL || strcmp(err, c->want) != 0) {
            print_error("case %zu \"%s\"\n  got  %d \"%s\"\n  want \"%s\"\n", i,
                        c->text, r, r ? err : "", c->want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_more_than_max_nats(void **state)
{
    (void)state;
    char text[4096];
    size_t at = (size_t)snprintf(text, sizeof text, "public 0.5\n");
    for (int i = 0; i <= KNIT_SCN_MAX_NATS; i++)
        at += (size_t)snprintf(text + at, sizeof text - at,
                               "nat t%d 0.0625" NAT_EIF "\n", i);
    char err[256];
    struct knit_scenario s;
    assert_int_equal(knit_scenario_parse(text, at, &s, err, sizeof err),
                     KNIT_E_INVAL);
    assert_string_equal(err, "line 18: nat: more than 16 NAT types");
}

static void test_error_buffer(void **state)
{
    (void)state;
    struct knit_scenario s;
    char small[12];
    memset(small, 'x', sizeof small);
    assert_int_equal(knit_scenario_parse("nodes 0", 7, &s, small, sizeof small),
                     KNIT_E_INVAL);
    assert_string_equal(small, "line 1: nod");
    assert_int_equal(knit_scenario_parse("nodes 0", 7, &s, NULL, 0),
                     KNIT_E_INVAL);
    assert_int_equal(knit_scenario_parse("nodes 0", 7, &s, small, 0),
                     KNIT_E_INVAL);
    assert_int_equal(knit_scenario_parse(NULL, 0, &s, small, sizeof small),
                     KNIT_OK);
    assert_string_equal(small, "");
    assert_int_equal(knit_scenario_parse(NULL, 1, &s, NULL, 0), KNIT_E_INVAL);
    assert_int_equal(knit_scenario_parse("", 0, NULL, NULL, 0), KNIT_E_INVAL);
}

/* ---- knit_scenario_load ------------------------------------------------- */

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/knit-scenario-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], want[512], err[512];
    struct knit_scenario s;

    /* A good file. */
    snprintf(path, sizeof path, "%s/good.scn", dir);
    const char *good = "nodes 42\r\nseed 7";
    write_file(path, good, strlen(good));
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err), KNIT_OK);
    assert_string_equal(err, "");
    assert_int_equal(s.nodes, 42);
    assert_int_equal(s.seed, 7);

    /* A parse error: PATH:LINE: message. */
    snprintf(path, sizeof path, "%s/bad.scn", dir);
    const char *bad = "nodes 42\n# x\nseed x\n";
    write_file(path, bad, strlen(bad));
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err),
                     KNIT_E_INVAL);
    snprintf(want, sizeof want, "%s:3: seed: x is not a whole number", path);
    assert_string_equal(err, want);
    const char *shares = "public 0.5\nnat a 0.4" NAT_EIF "\n";
    write_file(path, shares, strlen(shares));
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err),
                     KNIT_E_INVAL);
    snprintf(want, sizeof want,
             "%s:0: nat: the shares of the 1 NAT types sum to 0.4, not 1",
             path);
    assert_string_equal(err, want);
    assert_int_equal(unlink(path), 0);

    /* Too long: the text limit, as the file's own reason. */
    snprintf(path, sizeof path, "%s/long.scn", dir);
    static char big[KNIT_SCN_MAX_TEXT + 1];
    memset(big, '\n', sizeof big);
    write_file(path, big, KNIT_SCN_MAX_TEXT);
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err), KNIT_OK);
    write_file(path, big, sizeof big);
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err),
                     KNIT_E_INVAL);
    snprintf(want, sizeof want, "%s: longer than 65536 bytes", path);
    assert_string_equal(err, want);
    assert_int_equal(unlink(path), 0);

    /* Missing, and a directory. */
    snprintf(path, sizeof path, "%s/missing.scn", dir);
    assert_int_equal(knit_scenario_load(path, &s, err, sizeof err),
                     KNIT_E_IO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory",
             path);
    assert_string_equal(err, want);
    assert_int_equal(knit_scenario_load(dir, &s, err, sizeof err), KNIT_E_IO);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", dir);
    assert_string_equal(err, want);

    assert_int_equal(knit_scenario_load(NULL, &s, err, sizeof err),
                     KNIT_E_INVAL);
    snprintf(path, sizeof path, "%s/good.scn", dir);
    assert_int_equal(knit_scenario_load(path, NULL, NULL, 0), KNIT_E_INVAL);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_more_than_max_nats),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
