/* Hole punching on the wire: our candidates, the probes of each plan, the
 * hard side's birthday sockets, PUNCH packets coming in, and the birthday
 * sockets kept for the paths they carry (node/node_punch.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "transport/error.h"

/* A probe round fires at most this many spray probes at once when the
 * node was called late, so that pacing survives a slow event loop. */
#define SPRAY_CATCH_UP 8
/* A NAT that filters by address (and port) may remember only so many of
 * the remotes each mapping sent to, and forget the oldest first (home-mix's
 * boxes keep 64 per mapping, like a router with a small connection table
 * that recycles its oldest entries). The spray sends to a thousand remotes
 * from the main socket, so it would push out the relays we hold
 * reservations on: until our next keepalive (25 s) their stop streams and
 * circuits to us, and the relayed session this very punch is coordinated
 * over, were dropped at our NAT. Every this many spray probes, those
 * sessions get a PING, which puts them back among the newest remotes. */
#define SPRAY_REFRESH_EVERY 16

void punch_self_side(struct knit_node *node, struct punch_side *out)
{
    const struct knit_nat_info *nat = &node->traversal->nat;
    out->mapping = nat->mapping;
    out->filtering = nat->filtering;
    out->reach = nat->reachability;
}

static bool usable(const struct knit_addr *a)
{
    return (a->family == KNIT_AF_IP4 || a->family == KNIT_AF_IP6) &&
           a->port != 0 && !knit_addr_is_unspecified(a);
}

static bool is_loopback(const struct knit_addr *a)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (a->family == KNIT_AF_IP4)
        return a->ip[0] == 127;
    return memcmp(a->ip, v6_loopback, 16) == 0;
}

static uint8_t add_unique(struct knit_addr *out, uint8_t n, uint8_t cap,
                          const struct knit_addr *a)
{
    if (n >= cap || !usable(a))
        return n;
    for (uint8_t k = 0; k < n; k++)
        if (knit_addr_equal(&out[k], a))
            return n;
    out[n] = *a;
    return (uint8_t)(n + 1);
}

/* Where the peer may reach us: what others observe of us (the best two:
 * behind a NAT that maps per destination the port is nobody's to predict,
 * but the IP is what the easy side sprays), our port mapping, and our own
 * addresses, loopback aside (the LAN, for a peer behind the same NAT). */
uint8_t punch_candidates(struct knit_node *node, struct knit_addr *out,
                         uint8_t cap)
{
    struct node_traversal *t = node->traversal;
    uint8_t n = 0;
    /* The latest report first: after our NAT lost its mapping it is the
     * one likely right, while older, better-backed reports still name the
     * dead one. */
    struct knit_addr latest;
    if (knit_observed_latest(t->observed, node->now, &latest) == KNIT_OK)
        n = add_unique(out, n, cap, &latest);
    struct knit_observed_entry seen[2];
    size_t k = knit_observed_list(t->observed, node->now, seen, 2);
    for (size_t i = 0; i < k; i++)
        n = add_unique(out, n, cap, &seen[i].addr);
    if (t->has_mapped)
        n = add_unique(out, n, cap, &t->mapped);
    for (size_t i = 0; i < node->socket_count; i++)
        n = add_unique(out, n, cap, &node->sockets[i].local);
    /* A socket bound to the unspecified address: the interface addresses
     * its embedder configured (the daemon lists them). */
    for (size_t i = 0; i < node->record_addr_count; i++)
        if (!is_loopback(&node->record_addrs[i]))
            n = add_unique(out, n, cap, &node->record_addrs[i]);
    return n;
}

static void send_probe(struct knit_node *node, struct punch *p, int sock,
                       const struct knit_addr *to)
{
    uint8_t pkt[KNIT_PUNCH_PACKET_LEN];
    if (sock < 0)
        return;
    knit_punch_packet_build(p->peer_token, pkt);
    node->io.send(node->io.ctx, sock, to, pkt, sizeof pkt);
    p->probes++;
    node->punch->stats.probes++;
}

/* The peer's first global candidate of a family we have a socket for:
 * the easy side's endpoint for the hard side, the hard side's IP for the
 * spray. */
static const struct knit_addr *global_candidate(struct knit_node *node,
                                                const struct punch *p)
{
    for (uint8_t k = 0; k < p->peer.addr_count; k++) {
        const struct knit_addr *a = &p->peer.addrs[k];
        if (knit_addr_is_global(a) && main_sock(node, a->family) >= 0)
            return a;
    }
    return NULL;
}

void punch_probe_start(struct knit_node *node, struct punch *p)
{
    uint64_t now = node->now;
    p->started = now;
    p->next_round = now;
    const struct knit_addr *g = global_candidate(node, p);
    if (p->plan == PUNCH_PLAN_SPRAY && g) {
        p->spray_ip = *g;
        p->has_spray_ip = true;
        p->next_spray = now;
    }
    if (p->plan == PUNCH_PLAN_SOCKETS && g) {
        p->socks = calloc(PUNCH_BIRTHDAY_SOCKETS, sizeof *p->socks);
        if (p->socks)
            p->next_batch = now;
    }
    p->deadline = now + punch_plan_window_us(p->plan) + PUNCH_SETTLE_US;
    punch_probe_due(node, p, now);
}

static void open_batch(struct knit_node *node, struct punch *p)
{
    const struct knit_addr *g = global_candidate(node, p);
    for (int i = 0; i < PUNCH_SOCKET_BATCH && g &&
                    p->sock_count < PUNCH_BIRTHDAY_SOCKETS;
         i++) {
        int sock = node->io.open_socket
                       ? node->io.open_socket(node->io.ctx, g->family, 0)
                       : KNIT_E_UNSUPPORTED;
        if (sock < 0) {
            /* Out of sockets: the ones open still give the spray its
             * chances. */
            p->next_batch = 0;
            return;
        }
        p->socks[p->sock_count++] = sock;
        node->punch->stats.sockets++;
        send_probe(node, p, sock, g);
    }
    if (p->sock_count >= PUNCH_BIRTHDAY_SOCKETS || !g)
        p->next_batch = 0;
    else
        p->next_batch += PUNCH_SOCKET_BATCH_US;
}

/* The sessions on the spraying socket that must stay reachable: the ones
 * kept alive (relay reservations) and the relay carrying this punch. */
static void refresh_filters(struct knit_node *node, struct punch *p,
                            int sock)
{
    struct knit_peer_id relay;
    struct knit_session *carrier =
        circuit_relay_of(node, knit_session_path_sock(p->session), &relay)
            ? node_find_session(node, &relay)
            : NULL;
    for (size_t k = 0; k < node->session_count; k++) {
        struct knit_session *s = node->sessions[k];
        if ((s != carrier && !knit_session_is_wanted(s)) ||
            !knit_session_is_up(s) || knit_session_is_dead(s) ||
            knit_session_path_sock(s) != sock)
            continue;
        struct knit_conn *c = knit_session_conn(s);
        if (!c)
            continue;
        knit_conn_ping(c);
        knit_session_flush(s, node->now);
    }
}

static void spray(struct knit_node *node, struct punch *p, uint64_t now)
{
    int sock = main_sock(node, p->spray_ip.family);
    for (int i = 0; i < SPRAY_CATCH_UP && p->next_spray &&
                    now >= p->next_spray;
         i++) {
        uint16_t draws[4];
        node->io.random(node->io.ctx, (uint8_t *)draws, sizeof draws);
        uint16_t port = punch_spray_next(&p->spray, draws,
                                         p->spray_ip.port);
        if (!port) {
            p->next_spray = 0;
            return;
        }
        struct knit_addr to = p->spray_ip;
        to.port = port;
        send_probe(node, p, sock, &to);
        p->next_spray += PUNCH_SPRAY_INTERVAL_US;
        if (++p->spray_unrefreshed >= SPRAY_REFRESH_EVERY) {
            p->spray_unrefreshed = 0;
            refresh_filters(node, p, sock);
        }
    }
    if (p->next_spray && p->next_spray <= now)
        p->next_spray = now + PUNCH_SPRAY_INTERVAL_US;   /* fell behind */
}

uint64_t punch_probe_due(struct knit_node *node, struct punch *p,
                         uint64_t now)
{
    if (p->next_round && now >= p->next_round) {
        for (uint8_t k = 0; k < p->peer.addr_count; k++) {
            const struct knit_addr *a = &p->peer.addrs[k];
            send_probe(node, p, main_sock(node, a->family), a);
        }
        p->rounds++;
        p->next_round += PUNCH_ROUND_US;
        if (p->next_round >= p->started + PUNCH_DIRECT_WINDOW_US)
            p->next_round = 0;
    }
    if (p->next_batch && now >= p->next_batch && p->socks)
        open_batch(node, p);
    if (p->next_spray && now >= p->next_spray)
        spray(node, p, now);
    uint64_t next = p->deadline;
    if (p->next_round && p->next_round < next)
        next = p->next_round;
    if (p->next_batch && p->next_batch < next)
        next = p->next_batch;
    if (p->next_spray && p->next_spray < next)
        next = p->next_spray;
    return next;
}

static void keep(struct knit_node *node, struct knit_session *s, int sock)
{
    struct node_punch *np = node->punch;
    for (int i = 0; i < NODE_PUNCH_KEPT; i++)
        if (!np->kept[i].session) {
            np->kept[i].session = s;
            np->kept[i].sock = sock;
            if (!np->kept_check_at)
                np->kept_check_at = node->now + NODE_PUNCH_KEPT_CHECK_US;
            return;
        }
    /* No room to remember it: closing it would break the path, so the
     * session keeps it until the node stops. */
}

void punch_probe_end(struct knit_node *node, struct punch *p)
{
    for (uint16_t i = 0; i < p->sock_count; i++) {
        if (knit_session_has_path_sock(p->session, p->socks[i]))
            keep(node, p->session, p->socks[i]);
        else if (node->io.close_socket)
            node->io.close_socket(node->io.ctx, p->socks[i]);
    }
    free(p->socks);
    p->socks = NULL;
    p->sock_count = 0;
    punch_spray_free(&p->spray);
}

void punch_kept_sweep(struct knit_node *node, struct knit_session *s,
                      bool session_gone)
{
    struct node_punch *np = node->punch;
    bool any = false;
    for (int i = 0; i < NODE_PUNCH_KEPT; i++) {
        struct punch_kept *k = &np->kept[i];
        if (!k->session || (s && k->session != s))
            continue;
        if (session_gone || knit_session_is_dead(k->session) ||
            !knit_session_has_path_sock(k->session, k->sock)) {
            if (node->io.close_socket)
                node->io.close_socket(node->io.ctx, k->sock);
            k->session = NULL;
        } else {
            any = true;
        }
    }
    if (!s)
        np->kept_check_at = any ? node->now + NODE_PUNCH_KEPT_CHECK_US : 0;
}

int punch_receive(struct knit_node *node, int sock,
                  const struct knit_addr *from, const uint8_t *pkt,
                  size_t len)
{
    uint8_t token[KNIT_PUNCH_TOKEN_LEN];
    int err = knit_punch_packet_parse(pkt, len, token);
    if (err)
        return err;
    struct node_punch *np = node->punch;
    if (!np)
        return KNIT_E_NOT_FOUND;
    for (int i = 0; i < NODE_MAX_PUNCHES; i++) {
        struct punch *p = np->punches[i];
        if (!p || p->state == PUNCH_FREE ||
            sodium_memcmp(p->my_token, token, sizeof token) != 0)
            continue;
        if (p->tries >= NODE_PUNCH_MAX_TRIES)
            return KNIT_E_LIMIT;
        err = knit_session_try_path(p->session, sock, from, node->now);
        if (err > 0)
            p->tries++;   /* a challenge went out */
        return err < 0 ? err : KNIT_OK;
    }
    return KNIT_E_NOT_FOUND;
}
