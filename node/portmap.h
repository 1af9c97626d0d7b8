/* Port mapping: asks the home gateway to forward an external UDP port to
 * the node's socket, with PCP (RFC 6887), NAT-PMP (RFC 6886, libnatpmp)
 * or UPnP-IGD (libminiupnpc), tried in that order.
 *
 * Daemon side: runs on a libuv loop. Every exchange with the gateway is a
 * blocking call (sockets with timeouts, SSDP, HTTP/SOAP), so each runs in
 * uv_queue_work's thread pool, never on the loop thread, and reports back
 * on the loop thread.
 *
 * Behaviour:
 *   - asks for external port = internal port first; takes what the gateway
 *     assigns (PCP, NAT-PMP) or, on a UPnP conflict, another port;
 *   - renews at half the granted lifetime; a failed renewal is retried
 *     while the lease lasts; a lease that runs out is reported lost and
 *     discovery starts again;
 *   - when no gateway answers, retries discovery after 30 s, doubling to
 *     30 min;
 *   - on stop, deletes the mapping and calls done within about 2 s (a
 *     gateway that does not answer in time keeps the mapping until its
 *     lease runs out; that is logged);
 *   - logs one line to stderr per failure reason ("knit: [warn] portmap:
 *     ..."), and one per new or lost mapping.
 *
 * IPv4 only: PCP and NAT-PMP go to the IPv4 default gateway, UPnP maps on
 * the IGD's external IPv4 address.
 *
 * Nothing here decides whether the mapped address is advertised: the
 * caller does that (after AutoNAT confirms it is reachable). */
#ifndef KNIT_PORTMAP_H
#define KNIT_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "transport/io.h"

/* Methods, for knit_portmap_config.methods. */
#define KNIT_PORTMAP_PCP 0x1u
#define KNIT_PORTMAP_NATPMP 0x2u
#define KNIT_PORTMAP_UPNP 0x4u
#define KNIT_PORTMAP_ALL (KNIT_PORTMAP_PCP | KNIT_PORTMAP_NATPMP | \
                          KNIT_PORTMAP_UPNP)

#define KNIT_PORTMAP_DEFAULT_LEASE_S 7200
/* A shorter lease is raised to this (renewing every 5 s is the most a
 * gateway should see; short leases are for tests). */
#define KNIT_PORTMAP_MIN_LEASE_S 10
#define KNIT_PORTMAP_MAX_LEASE_S 86400
/* Discovery retry backoff, first and last step. */
#define KNIT_PORTMAP_RETRY_FIRST_MS (30 * 1000)
#define KNIT_PORTMAP_RETRY_MAX_MS (30 * 60 * 1000)
/* How long stop waits for the gateway to delete the mapping. */
#define KNIT_PORTMAP_STOP_MS 2000
/* The longest failure reason kept (all methods' reasons in one line). */
#define KNIT_PORTMAP_ERROR_MAX 256

struct knit_portmap_config {
    uint16_t internal_port; /* the node's UDP port; required */
    uint32_t lease_s;       /* 0 = KNIT_PORTMAP_DEFAULT_LEASE_S */
    uint32_t methods;       /* KNIT_PORTMAP_* bits; 0 = all */
};

/* Called on the loop thread: mapped is the external endpoint and method
 * "pcp", "nat-pmp" or "upnp" when a mapping is made or changes; both NULL
 * when a mapping is lost. Never called once knit_portmap_stop has been. */
typedef void (*knit_portmap_cb)(void *ctx, const struct knit_addr *mapped,
                                const char *method);

struct knit_portmap;

/* Starts discovery at once (the first search runs in the thread pool).
 * KNIT_E_INVAL for a NULL argument, internal port 0 or an unknown method
 * bit; KNIT_E_NOMEM; KNIT_E_IO if the loop refuses a timer. */
int knit_portmap_start(uv_loop_t *loop, const struct knit_portmap_config *cfg,
                       knit_portmap_cb cb, void *ctx,
                       struct knit_portmap **out);

/* Deletes the mapping (if any), frees pm and calls done(ctx) on the loop
 * thread, within about KNIT_PORTMAP_STOP_MS (never before stop returns,
 * except for pm NULL: then at once). done may be NULL. A blocking call
 * still running in the thread pool then finishes on its own and frees what
 * it holds: PCP and NAT-PMP waits end within 0.1 s, but an SSDP search
 * lasts its 2 s and a SOAP call to a hung IGD about 3 s more. The loop
 * runs until it has, as for any uv_work_t: keep running it (uv_run) after
 * done before uv_loop_close. */
void knit_portmap_stop(struct knit_portmap *pm, void (*done)(void *ctx),
                       void *ctx);

enum knit_portmap_state {
    KNIT_PORTMAP_SEARCHING, /* asking the gateway, no mapping yet */
    KNIT_PORTMAP_MAPPED,    /* holding a mapping */
    KNIT_PORTMAP_WAITING,   /* no gateway answered; retrying later */
    KNIT_PORTMAP_STOPPING,
};

struct knit_portmap_status {
    enum knit_portmap_state state;
    const char *method;          /* "pcp", "nat-pmp", "upnp"; NULL if none */
    struct knit_addr external;   /* family 0 when not mapped */
    uint32_t lease_left_s;       /* seconds to the lease's end; 0 if none */
    uint64_t lease_expiry_ms;    /* the same as uv_now() time; 0 if none */
    uint32_t renewals;           /* successful renewals of this mapping */
    uint32_t next_try_s;         /* WAITING: seconds to the next search */
    char last_error[KNIT_PORTMAP_ERROR_MAX]; /* latest failure; "" if none */
};

/* A snapshot for `knit status`; pointers in it live as long as pm. */
void knit_portmap_get_status(const struct knit_portmap *pm,
                             struct knit_portmap_status *out);

/* "searching", "mapped", "waiting", "stopping". */
const char *knit_portmap_state_name(enum knit_portmap_state state);

#endif
