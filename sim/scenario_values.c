/* The values of scenario files; see sim/scenario_values.h.
 *
 * Tokens are checked against a strict grammar before strtoull/strtod see
 * them, because those functions accept far more than a scenario should
 * (leading spaces, signs, exponents, hex, "inf", "nan"). A token is at most
 * one line long, so it is copied into a line-sized buffer to terminate it. */
#include "sim/scenario_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/error.h"

#define TWO_TO_64 18446744073709551616.0

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit duration_units[] = {
    {"us", 1},
    {"ms", 1000},
    {"s", 1000000},
    {"m", 60000000},
    {"h", 3600000000ull},
};
static const struct unit bitrate_units[] = {
    {"kbit", 1000},
    {"mbit", 1000000},
    {"gbit", 1000000000},
};
static const struct unit size_units[] = {
    {"b", 1},
    {"kb", 1024},
    {"mb", 1024 * 1024},
};

enum scaled_result {
    SCALED_OK,
    SCALED_SYNTAX,    /* no number in front */
    SCALED_NO_UNIT,   /* a number other than 0 with no unit */
    SCALED_BAD_UNIT,  /* a unit not in the table */
    SCALED_OVER,      /* more than the maximum, or than 2^64 - 1 */
};

bool knit_scn_tok_is(struct knit_scn_tok t, const char *word)
{
    size_t n = strlen(word);
    return t.len == n && memcmp(t.p, word, n) == 0;
}

void knit_scn_tok_show(struct knit_scn_tok t, char *buf, size_t len)
{
    if (len == 0)
        return;
    if (t.len <= 40)
        snprintf(buf, len, "%.*s", (int)t.len, t.p);
    else
        snprintf(buf, len, "%.40s...", t.p);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* digits ('.' digits)? over all of p[0..len); *fraction says if the dot is
 * there. */
static bool is_plain_decimal(const char *p, size_t len, bool *fraction)
{
    size_t i = 0;
    while (i < len && is_digit(p[i]))
        i++;
    *fraction = false;
    if (i == 0)
        return false;
    if (i == len)
        return true;
    if (p[i] != '.')
        return false;
    *fraction = true;
    size_t frac_start = ++i;
    while (i < len && is_digit(p[i]))
        i++;
    return i == len && i > frac_start;
}

/* p[0..len) is a plain decimal already: its value, finite, or false. */
static bool decimal_value(const char *p, size_t len, double *out)
{
    char buf[KNIT_SCN_MAX_LINE + 1];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end = NULL;
    double d = strtod(buf, &end);
    /* Underflow (ERANGE with a tiny result) is harmless: the value is as
     * good as zero. Overflow gives HUGE_VAL, which isfinite refuses. */
    if (end != buf + len || !isfinite(d) || d < 0)
        return false;
    *out = d;
    return true;
}

/* p[0..len) is all digits already: its value, or false past 2^64 - 1. */
static bool integer_value(const char *p, size_t len, uint64_t *out)
{
    char buf[KNIT_SCN_MAX_LINE + 1];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end != buf + len)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* The leading run of digits and dots: the number in front of a unit. */
static size_t number_span(struct knit_scn_tok t)
{
    size_t n = 0;
    while (n < t.len && (is_digit(t.p[n]) || t.p[n] == '.'))
        n++;
    return n;
}

/* NUMBER UNIT through a unit table, rounded to a whole count of the base
 * unit, at most max. Whole numbers are computed exactly, so the limit
 * holds to the last unit; fractions go through a double. */
static enum scaled_result scaled(struct knit_scn_tok t,
                                 const struct unit *units, size_t nunits,
                                 uint64_t max, uint64_t *out)
{
    size_t num = number_span(t);
    bool fraction;
    if (!is_plain_decimal(t.p, num, &fraction))
        return SCALED_SYNTAX;
    struct knit_scn_tok unit = {t.p + num, t.len - num};
    if (unit.len == 0) {
        double d;
        if (decimal_value(t.p, num, &d) && d == 0) {
            *out = 0;
            return SCALED_OK;
        }
        return SCALED_NO_UNIT;
    }
    uint64_t mult = 0;
    for (size_t i = 0; i < nunits; i++)
        if (knit_scn_tok_is(unit, units[i].name))
            mult = units[i].mult;
    if (mult == 0)
        return SCALED_BAD_UNIT;
    if (!fraction) {
        uint64_t v;
        if (!integer_value(t.p, num, &v) || v > max / mult)
            return SCALED_OVER;
        *out = v * mult;
        return SCALED_OK;
    }
    double d;
    if (!decimal_value(t.p, num, &d))
        return SCALED_OVER;
    double r = floor(d * (double)mult + 0.5);
    if (!(r < TWO_TO_64) || (uint64_t)r > max)
        return SCALED_OVER;
    *out = (uint64_t)r;
    return SCALED_OK;
}

int knit_scn_uint(struct knit_scn_tok t, uint64_t min, uint64_t max,
                  uint64_t *out, char *why, size_t whylen)
{
    char show[KNIT_SCN_SHOW_MAX];
    knit_scn_tok_show(t, show, sizeof show);
    bool fraction;
    if (!is_plain_decimal(t.p, t.len, &fraction) || fraction) {
        snprintf(why, whylen, "%s is not a whole number", show);
        return KNIT_E_INVAL;
    }
    uint64_t v;
    if (!integer_value(t.p, t.len, &v) || v < min || v > max) {
        snprintf(why, whylen, "%s is out of range (%" PRIu64 "..%" PRIu64 ")",
                 show, min, max);
        return KNIT_E_INVAL;
    }
    *out = v;
    return KNIT_OK;
}

int knit_scn_share(struct knit_scn_tok t, double *out, char *why,
                   size_t whylen)
{
    bool fraction;
    double d;
    if (!is_plain_decimal(t.p, t.len, &fraction) ||
        !decimal_value(t.p, t.len, &d) || d > 1) {
        char show[KNIT_SCN_SHOW_MAX];
        knit_scn_tok_show(t, show, sizeof show);
        snprintf(why, whylen, "%s is not a share (0..1)", show);
        return KNIT_E_INVAL;
    }
    *out = d;
    return KNIT_OK;
}

int knit_scn_positive(struct knit_scn_tok t, double max, double *out,
                      char *why, size_t whylen)
{
    char show[KNIT_SCN_SHOW_MAX];
    knit_scn_tok_show(t, show, sizeof show);
    bool fraction;
    double d;
    if (!is_plain_decimal(t.p, t.len, &fraction) ||
        !decimal_value(t.p, t.len, &d)) {
        snprintf(why, whylen, "%s is not a number", show);
        return KNIT_E_INVAL;
    }
    if (!(d > 0) || d > max) {
        snprintf(why, whylen, "%s is out of range (above 0, at most %g)", show,
                 max);
        return KNIT_E_INVAL;
    }
    *out = d;
    return KNIT_OK;
}

int knit_scn_duration(struct knit_scn_tok t, uint64_t max, uint64_t *out,
                      char *why, size_t whylen)
{
    char show[KNIT_SCN_SHOW_MAX], limit[32];
    knit_scn_tok_show(t, show, sizeof show);
    switch (scaled(t, duration_units,
                   sizeof duration_units / sizeof duration_units[0], max,
                   out)) {
    case SCALED_OK:
        return KNIT_OK;
    case SCALED_SYNTAX:
        snprintf(why, whylen, "%s is not a duration (such as 250ms or 10m)",
                 show);
        break;
    case SCALED_NO_UNIT:
        snprintf(why, whylen, "%s has no unit (us, ms, s, m or h)", show);
        break;
    case SCALED_BAD_UNIT:
        snprintf(why, whylen, "%s has an unknown unit (us, ms, s, m or h)",
                 show);
        break;
    case SCALED_OVER:
        if (max == UINT64_MAX) {
            snprintf(why, whylen, "%s is too long (over 2^64 - 1 us)", show);
        } else {
            knit_scn_format_duration(max, limit, sizeof limit);
            snprintf(why, whylen, "%s is over %s", show, limit);
        }
        break;
    }
    return KNIT_E_INVAL;
}

int knit_scn_rate(struct knit_scn_tok t, double *per_second, char *why,
                  size_t whylen)
{
    char show[KNIT_SCN_SHOW_MAX];
    knit_scn_tok_show(t, show, sizeof show);
    size_t num = number_span(t);
    bool fraction;
    double d;
    if (!is_plain_decimal(t.p, num, &fraction) ||
        !decimal_value(t.p, num, &d)) {
        snprintf(why, whylen, "%s is not a rate (such as 20/s or 30/m)", show);
        return KNIT_E_INVAL;
    }
    struct knit_scn_tok unit = {t.p + num, t.len - num};
    if (knit_scn_tok_is(unit, "/s")) {
        *per_second = d;
    } else if (knit_scn_tok_is(unit, "/m")) {
        *per_second = d / 60.0;
    } else if (unit.len == 0 && d == 0) {
        *per_second = 0;
    } else {
        snprintf(why, whylen, "%s is not a rate (such as 20/s or 30/m)", show);
        return KNIT_E_INVAL;
    }
    if (*per_second > KNIT_SCN_MAX_RATE) {
        snprintf(why, whylen, "%s is over %.0f/s", show, KNIT_SCN_MAX_RATE);
        return KNIT_E_INVAL;
    }
    return KNIT_OK;
}

/* A bit rate or a size: one table, one range, one set of messages. */
static int bounded(struct knit_scn_tok t, const struct unit *units,
                   size_t nunits, uint64_t min, uint64_t max,
                   const char *what, const char *unit_list,
                   const char *range, uint64_t *out, char *why,
                   size_t whylen)
{
    char show[KNIT_SCN_SHOW_MAX];
    knit_scn_tok_show(t, show, sizeof show);
    uint64_t v = 0;
    switch (scaled(t, units, nunits, max, &v)) {
    case SCALED_OK:
        if (v >= min) {
            *out = v;
            return KNIT_OK;
        }
        snprintf(why, whylen, "%s is out of range (%s)", show, range);
        break;
    case SCALED_OVER:
        snprintf(why, whylen, "%s is out of range (%s)", show, range);
        break;
    case SCALED_SYNTAX:
    case SCALED_NO_UNIT:
    case SCALED_BAD_UNIT:
        snprintf(why, whylen, "%s is not a %s (NUMBER and %s)", show, what,
                 unit_list);
        break;
    }
    return KNIT_E_INVAL;
}

int knit_scn_bitrate(struct knit_scn_tok t, uint64_t *out, char *why,
                     size_t whylen)
{
    return bounded(t, bitrate_units,
                   sizeof bitrate_units / sizeof bitrate_units[0],
                   KNIT_SCN_MIN_BPS, KNIT_SCN_MAX_BPS, "rate",
                   "kbit, mbit or gbit", "1kbit..100gbit", out, why, whylen);
}

int knit_scn_size(struct knit_scn_tok t, uint64_t *out, char *why,
                  size_t whylen)
{
    return bounded(t, size_units, sizeof size_units / sizeof size_units[0],
                   KNIT_SCN_MIN_QUEUE, KNIT_SCN_MAX_QUEUE, "size",
                   "b, kb or mb", "1500b..1024mb", out, why, whylen);
}

void knit_scn_format_duration(uint64_t us, char *buf, size_t len)
{
    if (us == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    for (size_t i = sizeof duration_units / sizeof duration_units[0]; i-- > 0;)
        if (us % duration_units[i].mult == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", us / duration_units[i].mult,
                     duration_units[i].name);
            return;
        }
}
