/* The endpoint table is open addressing with linear probing over
 * (hash, pointer) buckets, at most half full, and deletion by backward shift
 * so that no tombstones pile up under churn. Each bucket keeps its key's hash
 * so a probe compares addresses only on a hash match.
 *
 * One table holds every key: (realm, address) for exact endpoints,
 * (realm, IP) for IP-wide ones, and, for hosts behind a gateway only, the
 * host pointer, since such a host's address alone does not say which realm
 * it sits in (two homes may both use 192.168.1.2) and remove_host is given
 * the host alone. A realm is the gateway whose private side holds the
 * endpoint, NULL for the Internet.
 *
 * Datagrams in flight sit on a list besides the engine, so freeing the net
 * can cancel and free them. Removed endpoints wait on a second list for a
 * zero-delay reap event, which runs only once whatever called into their
 * node has returned. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim/natbox.h"
#include "sim/net_internal.h"
#include "transport/error.h"

/* ---- hashing ---------------------------------------------------------------- */

/* splitmix64's finaliser: every input bit reaches every output bit. */
uint64_t net_mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool net_family_ok(const struct knit_addr *a)
{
    return a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

/* The IP alone, as knit_addr_equal sees it (only 4 bytes for IPv4). */
uint64_t net_ip_key(const struct knit_addr *a)
{
    if (a->family == KNIT_AF_IP4) {
        uint64_t v4 = (uint64_t)a->ip[0] | (uint64_t)a->ip[1] << 8 |
                      (uint64_t)a->ip[2] << 16 | (uint64_t)a->ip[3] << 24;
        return net_mix64(v4 ^ (uint64_t)KNIT_AF_IP4 << 56);
    }
    return net_mix64(net_mix64(load64(a->ip) ^ (uint64_t)a->family << 56) ^
                 load64(a->ip + 8));
}

static uint64_t addr_hash(const struct knit_addr *a)
{
    return net_mix64(net_ip_key(a) ^
                     ((uint64_t)a->port * 0x9e3779b97f4a7c15ULL));
}

/* ---- the endpoint table ------------------------------------------------------ */

uint64_t net_key_hash(const struct knit_sim_natbox *realm,
                      const struct knit_addr *a, bool wide)
{
    uint64_t h = wide ? net_ip_key(a) ^ 0x5bd1e9955bd1e995ULL : addr_hash(a);
    /* The Internet keeps the plain hash; pointers only place buckets, they
     * never order anything a run can see. */
    return realm ? net_mix64(h ^ net_mix64((uint64_t)(uintptr_t)realm)) : h;
}

uint64_t net_host_hash(const struct knit_sim_host *h)
{
    return net_mix64((uint64_t)(uintptr_t)h ^ 0x2545f4914f6cdd1dULL);
}

static bool bucket_is(const struct bucket *b, uint64_t hash,
                      const struct knit_sim_natbox *realm,
                      const struct knit_addr *a, bool wide)
{
    return b->kind == KEY_ADDR && b->hash == hash && b->ep->realm == realm &&
           b->ep->wide == wide && knit_addr_equal(&b->ep->addr, a);
}

/* The bucket holding the key, or the empty one where it would go. For a
 * wide key a's port must be 0. */
size_t net_probe(const struct knit_sim_net *net,
                 const struct knit_sim_natbox *realm,
                 const struct knit_addr *a, bool wide, uint64_t hash)
{
    size_t mask = net->cap - 1;
    size_t i = (size_t)hash & mask;
    while (net->table[i].ep && !bucket_is(&net->table[i], hash, realm, a, wide))
        i = (i + 1) & mask;
    return i;
}

size_t net_probe_host(const struct knit_sim_net *net,
                      const struct knit_sim_host *h, uint64_t hash)
{
    size_t mask = net->cap - 1;
    size_t i = (size_t)hash & mask;
    while (net->table[i].ep && !(net->table[i].kind == KEY_HOST &&
                                 net->table[i].ep->host == h))
        i = (i + 1) & mask;
    return i;
}

struct endpoint *net_lookup_in(const struct knit_sim_net *net,
                               const struct knit_sim_natbox *realm,
                               const struct knit_addr *a, bool wide)
{
    if (!net_family_ok(a))
        return NULL;
    if (!wide)
        return net->table[net_probe(net, realm, a, false,
                                net_key_hash(realm, a, false))].ep;
    struct knit_addr ip = *a;
    ip.port = 0;
    return net->table[net_probe(net, realm, &ip, true,
                            net_key_hash(realm, &ip, true))].ep;
}

struct endpoint *net_lookup(const struct knit_sim_net *net,
                            const struct knit_addr *a)
{
    return net_lookup_in(net, NULL, a, false);
}

/* Whoever receives at a: the exact endpoint, else the IP-wide one. */
struct endpoint *net_receiver(const struct knit_sim_net *net,
                              const struct knit_sim_natbox *realm,
                              const struct knit_addr *a)
{
    struct endpoint *ep = net_lookup_in(net, realm, a, false);
    return ep ? ep : net_lookup_in(net, realm, a, true);
}

/* What an address names in the API: the exact endpoint, else, for port 0,
 * the IP-wide one. */
struct endpoint *net_named(const struct knit_sim_net *net,
                           const struct knit_addr *a)
{
    struct endpoint *ep = net_lookup(net, a);
    return ep || a->port != 0 ? ep : net_lookup_in(net, NULL, a, true);
}

/* Makes room for n more entries, keeping the table at most half full. */
int net_reserve(struct knit_sim_net *net, size_t n)
{
    if ((net->count + n) * 2 <= net->cap)
        return KNIT_OK;
    size_t cap = net->cap * 2;
    if (cap < net->cap || cap > SIZE_MAX / sizeof(struct bucket))
        return KNIT_E_NOMEM;
    struct bucket *old = net->table;
    size_t old_cap = net->cap;
    net->table = calloc(cap, sizeof *net->table);
    if (!net->table) {
        net->table = old;
        return KNIT_E_NOMEM;
    }
    net->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].ep)
            continue;
        size_t j = (size_t)old[i].hash & (cap - 1);
        while (net->table[j].ep)
            j = (j + 1) & (cap - 1);
        net->table[j] = old[i];
    }
    free(old);
    return KNIT_OK;
}

/* Backward-shift deletion: each later entry of the cluster moves into the
 * hole if the hole lies between its home bucket and where it sits. */
static void table_delete(struct knit_sim_net *net, size_t hole)
{
    size_t mask = net->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!net->table[j].ep)
            break;
        size_t home = (size_t)net->table[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            net->table[hole] = net->table[j];
            hole = j;
        }
    }
    net->table[hole] = (struct bucket){0, NULL, KEY_ADDR};
    net->count--;
}

bool net_has_host_key(const struct endpoint *ep)
{
    return ep->host && ep->realm;
}

void net_free_endpoint(struct endpoint *ep)
{
    knit_sim_host_free(ep->host);
    free(ep);
}

void net_reap(void *ctx, uint64_t arg)
{
    (void)arg;
    struct knit_sim_net *net = ctx;
    net->reap = 0;
    while (net->dead) {
        struct endpoint *ep = net->dead;
        net->dead = ep->next_dead;
        net_free_endpoint(ep);
    }
}

/* A host's extra sockets go with it. It still counts them open, and may
 * close them until it is freed: the unbind hook then finds its endpoint
 * detached and does nothing. */
static void detach_sockets(struct knit_sim_net *net, struct endpoint *ep)
{
    for (int s = knit_sim_host_next_socket(ep->host, 0); s;
         s = knit_sim_host_next_socket(ep->host, s)) {
        struct knit_addr a;
        if (knit_sim_host_socket_addr(ep->host, s, &a) != KNIT_OK)
            continue;
        struct endpoint *sock = net_lookup_in(net, ep->realm, &a, false);
        if (sock && sock->owner == ep)
            net_detach(net, sock);
    }
}

void net_detach(struct knit_sim_net *net, struct endpoint *ep)
{
    if (ep->host)
        detach_sockets(net, ep);
    table_delete(net, net_probe(net, ep->realm, &ep->addr, ep->wide,
                            net_key_hash(ep->realm, &ep->addr, ep->wide)));
    if (net_has_host_key(ep))
        table_delete(net, net_probe_host(net, ep->host,
                                         net_host_hash(ep->host)));
    net->endpoints--;
    ep->detached = true;
    ep->next_dead = net->dead;
    net->dead = ep;
    /* If the engine has no room for the reap, the endpoint waits for the
     * next removal or for knit_sim_net_free. */
    if (!net->reap)
        net->reap = knit_sim_schedule(net->engine, knit_sim_now(net->engine),
                                      net_reap, net, 0);
}

