/* The node's own signed record (signed again as what it says changes, and
 * as often as it is republished), the DHT mode, bootstrap, lookups, and
 * the DHT's timers. The messages themselves travel in node/node_dht.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "transport/error.h"

#define SECOND 1000000ull
#define BOOTSTRAP_FIRST_RETRY (5 * SECOND)
#define BOOTSTRAP_MAX_RETRY (300 * SECOND)
#define BOOTSTRAP_CHECK (60 * SECOND)
/* Bootstrap peers dialled at once. One live DHT server is all a join
 * needs; its lookup of our own key brings the rest. Dialling the whole
 * list made every joining node a session at every bootstrap peer: with 32
 * of them, a third of all the handshakes of a 100 000-node join, all on
 * the few nodes everyone knows. A few, not one, so that one dead or slow
 * peer does not hold the join up (kubo likewise dials the bootstrap list
 * only until it has 4 peers). */
#define BOOTSTRAP_DIAL_AT_ONCE 4
/* Stores refuse a republished record with the same sequence number (it
 * would not refresh their expiry) and any record issued over a day ago, so
 * the record is signed afresh as often as it is republished. */
#define RESIGN_INTERVAL (30 * 60 * SECOND)
/* A change to what our record says (relays, NAT info) is signed after
 * RESIGN_SOON, so changes that come together (two reservations) make one
 * record; NAT info, which moves while evidence comes in, at most once per
 * RESIGN_SPACING, as every new record is published to the DHT's closest
 * peers. A change of relays is urgent: they are how we are reached. */
#define RESIGN_SOON (2 * SECOND)
#define RESIGN_SPACING (30 * SECOND)

/* ---- addresses, bootstrap, lookups ------------------------------------------------ */

int knit_node_set_addresses(struct knit_node *node,
                            const struct knit_addr *addrs, size_t n,
                            uint64_t now)
{
    if (n > KNIT_RECORD_MAX_ADDRS)
        return KNIT_E_TOO_BIG;
    node->now = now;
    if (addrs != node->record_addrs)
        memmove(node->record_addrs, addrs, n * sizeof *addrs);
    node->record_addr_count = n;
    /* Until AutoNAT says otherwise, a global address means others can
     * reach us: we serve; without one we keep relay reservations. */
    traversal_apply(node);
    return node_resign_record(node, now);
}

void node_resign_soon(struct knit_node *node, bool urgent)
{
    if (!node->record_len)
        return;
    uint64_t at = node->now + RESIGN_SOON;
    if (!urgent && at < node->signed_at + RESIGN_SPACING)
        at = node->signed_at + RESIGN_SPACING;
    if (at < node->resign_at)
        node->resign_at = at;
}

int node_resign_record(struct knit_node *node, uint64_t now)
{
    struct knit_peer_record *rec = calloc(1, sizeof *rec);
    if (!rec)
        return KNIT_E_NOMEM;
    uint64_t unix_us = node->unix_time_at_start + (now - node->created);
    rec->peer = node->identity.id;
    rec->seq = unix_us > node->record_seq ? unix_us : node->record_seq + 1;
    rec->issued = unix_us / SECOND;
    int err = KNIT_OK;
    for (size_t i = 0; i < node->record_addr_count && err == KNIT_OK; i++)
        err = knit_multiaddr_from_socket(&rec->addrs[rec->addr_count++],
                                         &node->record_addrs[i], NULL);
    if (err == KNIT_OK)
        rec->addr_count += (uint8_t)traversal_public_addrs(
            node, rec->addrs + rec->addr_count,
            KNIT_RECORD_MAX_ADDRS - rec->addr_count);
    /* Relayed addresses only while we are not reachable directly: a
     * dialler tries every address of a record at once, and a circuit it
     * need not open costs a relay. */
    if (!node->traversal->serving_autonat)
        rec->addr_count += (uint8_t)node_relay_client_addrs(
            node, rec->addrs + rec->addr_count,
            KNIT_RECORD_MAX_ADDRS - rec->addr_count);
    rec->nat = node->traversal->nat;
    uint8_t envelope[KNIT_RECORD_MAX_BYTES];
    size_t len = 0;
    if (err == KNIT_OK)
        err = knit_record_sign(rec, &node->identity, envelope,
                               sizeof envelope, &len);
    uint64_t seq = rec->seq;
    if (err == KNIT_OK)
        traversal_addresses_changed(node, rec->addrs, rec->addr_count);
    free(rec);
    if (err)
        return err;
    uint8_t *copy = malloc(len);
    if (!copy)
        return KNIT_E_NOMEM;
    memcpy(copy, envelope, len);
    free(node->record);
    node->record = copy;
    node->record_len = len;
    node->record_seq = seq;
    node->resign_at = now + RESIGN_INTERVAL;
    node->signed_at = now;
    node_build_hello(node);
    node->in_event++;
    err = knit_dht_set_own_record(node->dht, envelope, len, now);
    node->in_event--;
    return err;
}

const uint8_t *knit_node_record(const struct knit_node *node, size_t *len)
{
    *len = node->record_len;
    return node->record_len ? node->record : NULL;
}

bool knit_node_dht_serving(const struct knit_node *node)
{
    return knit_dht_is_serving(node->dht);
}

const struct knit_dht *knit_node_dht(const struct knit_node *node)
{
    return node->dht;
}

/* Fisher-Yates; the slight bias of a 32-bit draw modulo at most 64 does
 * not matter for spreading load. */
static void shuffle_bootstrap(struct knit_node *node,
                              struct knit_bootstrap_peer *peers, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t r;
        node->io.random(node->io.ctx, (uint8_t *)&r, sizeof r);
        size_t j = r % i;
        struct knit_bootstrap_peer t = peers[i - 1];
        peers[i - 1] = peers[j];
        peers[j] = t;
    }
}

/* The next BOOTSTRAP_DIAL_AT_ONCE of the shuffled list, so that every try
 * after a failed one reaches other peers, and joining nodes spread over
 * the whole list. */
static void dial_bootstrap(struct knit_node *node, uint64_t now)
{
    size_t dialled = 0;
    size_t n = node->bootstrap_count < BOOTSTRAP_DIAL_AT_ONCE
                   ? node->bootstrap_count
                   : BOOTSTRAP_DIAL_AT_ONCE;
    for (size_t k = 0; k < n; k++) {
        const struct knit_bootstrap_peer *p =
            &node->bootstrap[node->bootstrap_next];
        node->bootstrap_next = (node->bootstrap_next + 1) %
                               node->bootstrap_count;
        if (node_dial(node, &p->id, &p->addr, now, false) == KNIT_OK)
            dialled++;
    }
    node_log(node, now, KNIT_LOG_INFO, "dht: dialling %zu bootstrap peer%s",
             dialled, dialled == 1 ? "" : "s");
}

int knit_node_bootstrap(struct knit_node *node,
                        const struct knit_bootstrap_peer *peers, size_t n,
                        uint64_t now)
{
    if (n > NODE_MAX_BOOTSTRAP)
        return KNIT_E_TOO_BIG;
    node->now = now;
    struct knit_bootstrap_peer *copy = NULL;
    if (n) {
        copy = malloc(n * sizeof *copy);
        if (!copy)
            return KNIT_E_NOMEM;
        memcpy(copy, peers, n * sizeof *copy);
        shuffle_bootstrap(node, copy, n);
    }
    free(node->bootstrap);
    node->bootstrap = copy;
    node->bootstrap_count = n;
    node->bootstrap_next = 0;
    node->bootstrap_backoff = BOOTSTRAP_FIRST_RETRY;
    node->in_event++;
    /* Peers restored from disk may be enough on their own. */
    knit_dht_bootstrap(node->dht, now);
    dial_bootstrap(node, now);
    node->in_event--;
    node->bootstrap_at = n ? now + node->bootstrap_backoff : KNIT_NO_DEADLINE;
    return KNIT_OK;
}

int knit_node_find(struct knit_node *node, const struct knit_peer_id *peer,
                   uint64_t now, uint64_t *handle)
{
    node->now = now;
    return knit_dht_find(node->dht, peer, now, handle);
}

uint64_t node_dht_deadline(const struct knit_node *node)
{
    uint64_t next = knit_dht_next_deadline(node->dht);
    if (node->record_len && node->resign_at < next)
        next = node->resign_at;
    return node->bootstrap_at < next ? node->bootstrap_at : next;
}

void node_dht_timeout(struct knit_node *node, uint64_t now)
{
    if (node->bootstrap_at <= now) {
        if (knit_dht_table_size(knit_dht_get_table(node->dht)) == 0) {
            /* Cut off: dial the bootstrap list again, backing off. */
            dial_bootstrap(node, now);
            node->bootstrap_at = now + node->bootstrap_backoff;
            node->bootstrap_backoff *= 2;
            if (node->bootstrap_backoff > BOOTSTRAP_MAX_RETRY)
                node->bootstrap_backoff = BOOTSTRAP_MAX_RETRY;
        } else {
            node->bootstrap_backoff = BOOTSTRAP_FIRST_RETRY;
            node->bootstrap_at = now + BOOTSTRAP_CHECK;
        }
    }
    if (node->record_len && node->resign_at <= now)
        node_resign_record(node, now);
    knit_dht_timeout(node->dht, now);
}
