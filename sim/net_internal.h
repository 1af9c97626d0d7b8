/* Shared internals of sim/net.c (routing, delay, the public API) and
 * sim/net_table.c (the endpoint table), see there for how the table works. */
#ifndef KNIT_SIM_NET_INTERNAL_H
#define KNIT_SIM_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/net.h"
#include "sim/rng.h"

/* The endpoint table starts this big and never shrinks below it. */
#define MIN_TABLE 64

/* Ordered so the small fields fill what would be padding: there may be
 * 100 000 of these. */
struct endpoint {
    struct knit_sim_net *net;
    struct knit_addr addr;          /* port 0 when wide */
    uint32_t uplink_queue;          /* bytes, see knit_sim_net_set_uplink */
    struct knit_sim_natbox *realm;  /* NULL: the Internet */
    struct knit_sim_host *host;     /* NULL: a raw or socket endpoint */
    /* A host's extra socket (sim/host.h): the host's own endpoint, which
     * its datagrams are charged to; NULL otherwise. */
    struct endpoint *owner;
    knit_sim_event_fn event;        /* host */
    knit_sim_net_recv_fn recv;      /* raw */
    void *ctx;
    struct endpoint *next_dead;
    struct knit_sim_net_host_stats stats;
    uint64_t uplink_bps;            /* 0: unlimited */
    uint64_t uplink_busy_until;     /* when the uplink's last datagram left */
    bool wide;                      /* every port of addr's IP */
    bool detached;
    uint16_t sock;                  /* owner's socket handle */
};

_Static_assert(KNIT_SIM_HOST_MAX_SOCKETS <= UINT16_MAX,
               "an endpoint's sock field holds every socket handle");

enum { KEY_ADDR = 0, KEY_HOST = 1 };

struct bucket {
    uint64_t hash;
    struct endpoint *ep;            /* NULL: empty */
    int kind;                       /* KEY_* */
};

struct packet {
    struct knit_sim_net *net;
    struct packet *prev, *next;
    uint64_t handle;
    uint64_t sent_at;
    struct knit_addr src, dst;
    struct knit_sim_natbox *realm;  /* where it travels, NULL: the Internet */
    bool up;                        /* to the gateway realm itself */
    bool lan;                       /* host to host across realm's LAN */
    size_t len;
    uint8_t data[];
};

struct knit_sim_net {
    struct knit_sim_engine *engine;
    struct knit_sim_net_config cfg;
    struct knit_rng rng;            /* loss */
    uint64_t delay_key, jitter_key;

    struct bucket *table;
    size_t cap, count;              /* cap is a power of two */
    size_t endpoints;               /* count less the host keys */

    struct packet *flights;
    size_t in_flight;

    struct endpoint *dead;
    uint64_t reap;                  /* engine handle, 0 = none */

    knit_sim_net_tap_fn tap;
    void *tap_ctx;
    struct knit_sim_net_stats stats;
};

/* sim/net_table.c */
uint64_t net_mix64(uint64_t z);
bool net_family_ok(const struct knit_addr *a);
uint64_t net_ip_key(const struct knit_addr *a);
uint64_t net_key_hash(const struct knit_sim_natbox *realm,
                      const struct knit_addr *a, bool wide);
uint64_t net_host_hash(const struct knit_sim_host *h);
size_t net_probe(const struct knit_sim_net *net,
                 const struct knit_sim_natbox *realm,
                 const struct knit_addr *a, bool wide, uint64_t hash);
size_t net_probe_host(const struct knit_sim_net *net,
                      const struct knit_sim_host *h, uint64_t hash);
struct endpoint *net_lookup_in(const struct knit_sim_net *net,
                               const struct knit_sim_natbox *realm,
                               const struct knit_addr *a, bool wide);
struct endpoint *net_lookup(const struct knit_sim_net *net,
                            const struct knit_addr *a);
struct endpoint *net_receiver(const struct knit_sim_net *net,
                              const struct knit_sim_natbox *realm,
                              const struct knit_addr *a);
struct endpoint *net_named(const struct knit_sim_net *net,
                           const struct knit_addr *a);
int net_reserve(struct knit_sim_net *net, size_t n);
bool net_has_host_key(const struct endpoint *ep);
void net_free_endpoint(struct endpoint *ep);
void net_reap(void *ctx, uint64_t arg);
void net_detach(struct knit_sim_net *net, struct endpoint *ep);

#endif
