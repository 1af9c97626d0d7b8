/* Fuzzes the scenario parser (sim/scenario.h).
 *
 * Whatever the text, the parser must return 0 or KNIT_E_INVAL with a
 * one-line message naming a line; an accepted scenario must hold every
 * limit the header promises, and split its nodes exactly; the same text
 * must give the same answer twice, and a short error buffer must still be
 * terminated. The input is handed over in a buffer of its exact size, so
 * ASan catches a read past len. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void check_dist(const struct knit_scn_dist *d)
{
    check(d->kind >= KNIT_SCN_DIST_NONE && d->kind <= KNIT_SCN_DIST_WEIBULL);
    if (d->kind != KNIT_SCN_DIST_NONE)
        check(d->scale_us > 0);
    if (d->kind == KNIT_SCN_DIST_WEIBULL)
        check(d->shape > 0 && isfinite(d->shape));
}

static void check_valid(const struct knit_scenario *s)
{
    check(s->nodes >= 1 && s->nodes <= KNIT_SCN_MAX_NODES);
    check(s->public_share >= 0 && s->public_share <= 1);
    check(s->bootstrap >= 1 && s->bootstrap <= 64);
    check(s->warmup_us >= s->join_us);
    check(s->duration_us > 0 && s->duration_us <= UINT64_MAX - s->warmup_us);
    check(s->access_min_us <= s->access_max_us);
    check(s->core_min_us <= s->core_max_us);
    check(s->regions >= 1 && s->regions <= 64);
    check(s->loss >= 0 && s->loss <= 1);
    check((s->uplink_bps == 0) == (s->queue_bytes == 0));
    check(s->nat_count <= KNIT_SCN_MAX_NATS);
    check(s->public_share == 1 || s->nat_count > 0);
    check(s->lookup_rate >= 0 && s->lookup_rate <= 100000);
    check(s->connect_rate >= 0 && s->connect_rate <= 100000);
    check_dist(&s->lifetime);
    check_dist(&s->offline);

    double sum = 0;
    for (size_t i = 0; i < s->nat_count; i++) {
        const struct knit_scn_nat_type *t = &s->nat[i];
        size_t len = strnlen(t->name, KNIT_SCN_NAME_MAX);
        check(len > 0 && len < KNIT_SCN_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            check(strcmp(t->name, s->nat[j].name) != 0);
        check(t->share >= 0 && t->share <= 1);
        check(t->mapping >= 1 && t->mapping <= 3);
        check(t->filtering >= 1 && t->filtering <= 3);
        check(t->allocation <= 2);
        check(t->timeout_us > 0);
        check(t->hosts_per_box >= 1 && t->hosts_per_box <= 254);
        sum += t->share;
    }
    if (s->nat_count > 0)
        check(fabs(sum - 1) <= 1e-6);

    uint32_t pub = knit_scenario_public_nodes(s);
    check(pub >= s->bootstrap && pub <= s->nodes);
    uint32_t counts[KNIT_SCN_MAX_NATS];
    knit_scenario_nat_counts(s, counts);
    uint64_t total = pub;
    for (size_t i = 0; i < s->nat_count; i++)
        total += counts[i];
    check(s->nat_count == 0 ? pub == s->nodes : total == s->nodes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);

    struct knit_scenario s, again;
    char err[256], err2[256], tiny[8];
    int r = knit_scenario_parse(text, size, &s, err, sizeof err);
    check(r == KNIT_OK || r == KNIT_E_INVAL);
    check(memchr(err, '\0', sizeof err) != NULL);
    if (r == KNIT_OK) {
        check(err[0] == '\0');
        check_valid(&s);
    } else {
        check(strncmp(err, "line ", 5) == 0);
        check(strchr(err, '\n') == NULL);
    }

    int r2 = knit_scenario_parse(text, size, &again, err2, sizeof err2);
    check(r2 == r && strcmp(err, err2) == 0);
    if (r == KNIT_OK)
        check(again.nodes == s.nodes && again.seed == s.seed &&
              again.nat_count == s.nat_count &&
              again.duration_us == s.duration_us);

    memset(tiny, 'x', sizeof tiny);
    check(knit_scenario_parse(text, size, &again, tiny, sizeof tiny) == r);
    check(tiny[sizeof tiny - 1] == '\0' || (r == KNIT_OK && tiny[0] == '\0'));
    check(knit_scenario_parse(text, size, &again, NULL, 0) == r);

    free(text);
    return 0;
}
