/* Scenario files (sim/scenario.h), inside: what the three files of the
 * parser share. sim/scenario.c splits the text into lines and tokens,
 * dispatches each line to its key and checks the keys against each other;
 * sim/scenario_keys.c reads each key's values; sim/scenario_values.c
 * reads one value (a number, duration, rate, size or share).
 *
 * Values: numbers are plain decimals, digits with an optional fraction
 * ("0.25"): no sign, no exponent, no hex, no "inf" or "nan", so what a
 * reader sees is what the parser takes. Each value function returns 0, or
 * KNIT_E_INVAL with a short reason in why (without the "line N: key:"
 * prefix, which the caller adds), such as "1.5 is not a share (0..1)". */
#ifndef KNIT_SIM_SCENARIO_INTERNAL_H
#define KNIT_SIM_SCENARIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario.h"

/* One token of a line: never NUL-terminated, never empty. */
struct knit_scn_tok {
    const char *p;
    size_t len;
};

/* Room for any reason the value functions give. */
#define KNIT_SCN_WHY_MAX 160
/* Room for a token shown in a message (knit_scn_tok_show). */
#define KNIT_SCN_SHOW_MAX 48
/* Room for the message of a parse error, "key: what is wrong". */
#define KNIT_SCN_MSG_MAX 320

/* Limits of the values themselves (the reasons are in sim/scenario.c). */
#define KNIT_SCN_MAX_RATE 100000.0           /* events per second */
#define KNIT_SCN_MIN_BPS 1000ull             /* 1kbit */
#define KNIT_SCN_MAX_BPS 100000000000ull     /* 100gbit */
#define KNIT_SCN_MIN_QUEUE 1500ull           /* one Ethernet-sized datagram */
#define KNIT_SCN_MAX_QUEUE (1024ull * 1024 * 1024)  /* 1024mb */

/* ---- keys (sim/scenario_keys.c) ----------------------------------------- */

enum knit_scn_key_id {
    KNIT_SCN_K_NODES,
    KNIT_SCN_K_PUBLIC,
    KNIT_SCN_K_BOOTSTRAP,
    KNIT_SCN_K_SEED,
    KNIT_SCN_K_JOIN,
    KNIT_SCN_K_WARMUP,
    KNIT_SCN_K_DURATION,
    KNIT_SCN_K_ACCESS,      /* latency access */
    KNIT_SCN_K_CORE,        /* latency core */
    KNIT_SCN_K_REGIONS,
    KNIT_SCN_K_JITTER,
    KNIT_SCN_K_LOSS,
    KNIT_SCN_K_BANDWIDTH,
    KNIT_SCN_K_NAT,
    KNIT_SCN_K_CHURN,
    KNIT_SCN_K_OFFLINE,
    KNIT_SCN_K_LOOKUPS,
    KNIT_SCN_K_CONNECTS,
    KNIT_SCN_K_COUNT
};

struct knit_scn_parser {
    struct knit_scenario *s;
    unsigned line;                          /* the line being read, from 1 */
    unsigned seen[KNIT_SCN_K_COUNT];        /* line that set the key, 0 = not
                                               set (nat: its last line) */
    unsigned nat_line[KNIT_SCN_MAX_NATS];   /* line of each NAT type */
    unsigned err_line;
    char msg[KNIT_SCN_MSG_MAX];             /* "key: what is wrong" */
};

struct knit_scn_key;
/* Reads a key's n values a[0..n) into p->s; 0 or knit_scn_fail's code. */
typedef int (*knit_scn_apply_fn)(struct knit_scn_parser *p,
                                 const struct knit_scn_key *k,
                                 const struct knit_scn_tok *a, size_t n);

struct knit_scn_key {
    enum knit_scn_key_id id;
    const char *name;       /* as in messages: "nodes", "latency access" */
    const char *usage;      /* its values, for messages */
    knit_scn_apply_fn apply;
};

/* Indexed by enum knit_scn_key_id. */
extern const struct knit_scn_key knit_scn_keys[KNIT_SCN_K_COUNT];

/* Records the error "key: ..." (just "..." when key is NULL) on line, and
 * returns KNIT_E_INVAL. */
__attribute__((format(printf, 4, 5))) int
knit_scn_fail(struct knit_scn_parser *p, unsigned line, const char *key,
              const char *fmt, ...);

/* ---- values (sim/scenario_values.c) ------------------------------------- */

bool knit_scn_tok_is(struct knit_scn_tok t, const char *word);
/* The token for a message: NUL-terminated, cut to 40 bytes with "...". */
void knit_scn_tok_show(struct knit_scn_tok t, char *buf, size_t len);

/* A whole number in min..max. */
int knit_scn_uint(struct knit_scn_tok t, uint64_t min, uint64_t max,
                  uint64_t *out, char *why, size_t whylen);
/* A decimal in [0, 1]. */
int knit_scn_share(struct knit_scn_tok t, double *out, char *why,
                   size_t whylen);
/* A decimal above 0 and at most max (a Weibull shape). */
int knit_scn_positive(struct knit_scn_tok t, double max, double *out,
                      char *why, size_t whylen);
/* NUMBER us|ms|s|m|h, in microseconds, at most max (a bare 0 needs no
 * unit). The number may have a fraction; the result is rounded to a whole
 * microsecond. */
int knit_scn_duration(struct knit_scn_tok t, uint64_t max, uint64_t *out,
                      char *why, size_t whylen);
/* NUMBER/s or NUMBER/m, in events per second, at most KNIT_SCN_MAX_RATE
 * (a bare 0 needs no unit). */
int knit_scn_rate(struct knit_scn_tok t, double *per_second, char *why,
                  size_t whylen);
/* NUMBER kbit|mbit|gbit (powers of 1000), in bits per second, rounded,
 * in KNIT_SCN_MIN_BPS..KNIT_SCN_MAX_BPS. */
int knit_scn_bitrate(struct knit_scn_tok t, uint64_t *out, char *why,
                     size_t whylen);
/* NUMBER b|kb|mb (powers of 1024), in bytes, rounded, in
 * KNIT_SCN_MIN_QUEUE..KNIT_SCN_MAX_QUEUE. */
int knit_scn_size(struct knit_scn_tok t, uint64_t *out, char *why,
                  size_t whylen);

/* A duration for messages, in the largest unit that states it exactly:
 * "90s", "250ms", "2h". */
void knit_scn_format_duration(uint64_t us, char *buf, size_t len);

#endif
