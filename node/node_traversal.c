/* The traversal state of a node (node/node_traversal.h): what identify
 * and AutoNAT taught it, and what it does about it. Public (AutoNAT says
 * so, or, before any verdict, a global address): serve the DHT in auto
 * mode, offer the relay hop service and answer observation probes on an
 * alternate socket. Private: keep relay reservations and publish the
 * relayed addresses. The NAT's mapping, filtering and our reachability go
 * into the signed record, so peers can plan a hole punch. */
#include <stdlib.h>
#include <string.h>

#include "node/autonat_limit.h"
#include "node/node_internal.h"
#include "node/node_punch.h"
#include "node/node_relay.h"
#include "node/node_traversal.h"
#include "transport/error.h"

int node_traversal_init(struct knit_node *node, uint32_t min_observers)
{
    struct node_traversal *t = calloc(1, sizeof *t);
    if (!t)
        return KNIT_E_NOMEM;
    node->traversal = t;
    t->alt_sock = -1;
    t->autonat_at = KNIT_NO_DEADLINE;
    t->dial_sock[0] = t->dial_sock[1] = -1;
    struct knit_observed_config oc = {.min_observers = min_observers};
    int err = knit_observed_new(&t->observed, &oc);
    if (err == KNIT_OK)
        err = knit_reach_new(&t->reach, NULL);
    return err;
}

void node_traversal_free(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    if (!t)
        return;
    /* No io call here: the driver may be gone already, and it closes
     * every socket it opened when it goes (knit_node_free's contract). */
    for (uint32_t i = 0; i < t->id_stream_count; i++)
        free(t->id_streams[i].buf);
    free(t->id_streams);
    for (int i = 0; i < NODE_MAX_AUTONAT_STREAMS; i++)
        free(t->an_streams[i]);
    knit_observed_free(t->observed);
    knit_reach_free(t->reach);
    knit_autonat_limit_free(t->limit);
    free(t);
    node->traversal = NULL;
}

struct node_peer_info *traversal_peer(struct knit_node *node,
                                      const struct knit_peer_id *id,
                                      bool add)
{
    struct node_traversal *t = node->traversal;
    struct node_peer_info *oldest = &t->peers[0];
    for (int k = 0; k < NODE_PEER_INFO; k++) {
        struct node_peer_info *p = &t->peers[k];
        if (p->used && knit_peer_id_equal(&p->id, id)) {
            p->seen = node->now;
            return p;
        }
        if (!p->used || (oldest->used && p->seen < oldest->seen))
            oldest = p;
    }
    if (!add)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    oldest->used = true;
    oldest->id = *id;
    oldest->seen = node->now;
    return oldest;
}

/* The alternate socket: a second port on which a public node answers
 * observation probes, so that even a network with a single public peer
 * gives a NATed node two destinations to compare its mapping across. */
static void want_alt_socket(struct knit_node *node, bool want)
{
    struct node_traversal *t = node->traversal;
    if (want == (t->alt_sock >= 0) || !node->io.open_socket ||
        node->socket_count == 0)
        return;
    if (!want) {
        node->io.close_socket(node->io.ctx, t->alt_sock);
        t->alt_sock = -1;
        t->alt_port = 0;
        return;
    }
    /* A port beside the main one, so that a firewall rule for one is
     * easily made for both; the first free of the next eight. */
    const struct knit_addr *main = &node->sockets[0].local;
    for (uint16_t k = 1; k <= 8 && main->port && main->port + k <= 65535;
         k++) {
        int sock = node->io.open_socket(node->io.ctx, main->family,
                                        (uint16_t)(main->port + k));
        if (sock >= 0) {
            t->alt_sock = sock;
            t->alt_port = (uint16_t)(main->port + k);
            return;
        }
    }
}

/* Observers see us at our own address: no NAT, so no NAT filter either,
 * and dial-backs from another port are as good as any (a public node
 * talks to every helper, so none is a stranger to it). */
static bool no_nat(const struct node_traversal *t)
{
    return t->mapping.confidence && !t->mapping.nat;
}

/* Public or not, by AutoNAT's verdict once there is one, else by whether
 * we were given a global address. A public verdict from other-port
 * answers alone (confidence 1) is all a network without AutoNAT helpers
 * can give; where helpers exist it counts only without a NAT. */
static bool is_public(const struct knit_node *node)
{
    const struct node_traversal *t = node->traversal;
    if (t->verdict.reachability == KNIT_REACHABILITY_PUBLIC)
        return t->verdict.confidence >= 2 || no_nat(t) ||
               (t->no_helper_said && !t->helpers_seen);
    if (t->verdict.reachability == KNIT_REACHABILITY_PRIVATE)
        return false;
    for (size_t i = 0; i < node->record_addr_count; i++)
        if (knit_addr_is_global(&node->record_addrs[i]))
            return true;
    return false;
}

void traversal_apply(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    bool public = is_public(node);
    bool was = t->serving_autonat;
    if (node->dht_mode == KNIT_DHT_MODE_AUTO)
        knit_dht_set_serving(node->dht, public);
    node->in_event++;
    node_relay_set_serving(node, public);
    /* Behind a NAT that maps and filters endpoint-independently we are
     * public, yet we keep our reservations: records we signed before
     * AutoNAT's verdict list only our relays, and copies of them live on
     * at DHT servers for hours; a relay that still holds our reservation
     * keeps those copies good. New records leave the relays out while we
     * are public (node_resign_record). */
    node_relay_want_reservations(node, !public || t->mapping.nat);
    want_alt_socket(node, public);
    node->in_event--;
    t->serving_autonat = public;
    if (public != was) {
        /* What we serve is in the hello of new handshakes, and goes to
         * the peers we have in an identify push. */
        node_build_hello(node);
        t->push_due = true;
        /* Our record should say at once how to reach us now. */
        node_resign_soon(node, true);
    }
}

/* The main socket's address; when it is bound to the unspecified address,
 * the listen address of ours with its family and port stands in, so that
 * a port-preserving NAT is not taken for no NAT. */
static struct knit_addr local_address(const struct knit_node *node)
{
    struct knit_addr local = node->sockets[0].local;
    if (!knit_addr_is_unspecified(&local))
        return local;
    for (size_t i = 0; i < node->record_addr_count; i++)
        if (node->record_addrs[i].family == local.family &&
            node->record_addrs[i].port == local.port &&
            !knit_addr_is_unspecified(&node->record_addrs[i]))
            return node->record_addrs[i];
    return local;
}

void traversal_changed(struct knit_node *node)
{
    struct node_traversal *t = node->traversal;
    if (node->socket_count) {
        struct knit_addr local = local_address(node);
        knit_observed_mapping(t->observed, node->sockets[0].handle, &local,
                              node->now, &t->mapping);
    }
    struct knit_reach_verdict before = t->verdict;
    bool no_nat_before = no_nat(t);
    knit_reach_get(t->reach, node->now, &t->verdict);
    struct knit_nat_info nat = {
        .mapping = t->mapping.confidence ? t->mapping.mapping
                                         : KNIT_MAPPING_UNKNOWN,
        .filtering = t->verdict.filtering,
        .reachability = t->verdict.reachability,
    };
    bool changed = t->verdict.reachability != before.reachability ||
                   t->verdict.confidence != before.confidence ||
                   no_nat(t) != no_nat_before;
    if (changed)
        node_log(node, node->now, KNIT_LOG_INFO,
                 "autonat: reachability %s (confidence %u)",
                 t->verdict.reachability == KNIT_REACHABILITY_PUBLIC
                     ? "public"
                 : t->verdict.reachability == KNIT_REACHABILITY_PRIVATE
                     ? "private"
                     : "unknown",
                 t->verdict.confidence);
    /* is_public also reads helpers_seen, which changes on its own. */
    if (changed || is_public(node) != t->serving_autonat)
        traversal_apply(node);
    if (memcmp(&nat, &t->nat, sizeof nat) != 0) {
        t->nat = nat;
        node_resign_soon(node, false);
    }
}

void traversal_addresses_changed(struct knit_node *node,
                                 const struct knit_multiaddr *addrs,
                                 uint8_t count)
{
    struct node_traversal *t = node->traversal;
    bool same = count == t->listen_count;
    for (uint8_t k = 0; same && k < count; k++)
        same = knit_multiaddr_equal(&addrs[k], &t->listen[k]);
    if (same)
        return;
    memcpy(t->listen, addrs, count * sizeof *addrs);
    t->listen_count = count;
    /* Not from here: we may be inside a stream's read, and pushing opens
     * streams. */
    t->push_due = true;
}

bool traversal_receive(struct knit_node *node, int sock,
                       const struct knit_addr *from, const uint8_t *pkt,
                       size_t len, int *err)
{
    struct node_traversal *t = node->traversal;
    uint8_t type, nonce[KNIT_AUTONAT_NONCE_LEN];
    if (len >= 1 && (pkt[0] == KNIT_PACKET_PROBE ||
                     pkt[0] == KNIT_PACKET_DIAL)) {
        *err = knit_autonat_packet_parse(pkt, len, &type, nonce);
        if (*err == KNIT_OK && !autonat_packet(node, sock, from, type, nonce))
            *err = KNIT_E_NOT_FOUND;
        return true;
    }
    if (sock == t->alt_sock && sock >= 0) {
        *err = KNIT_E_UNSUPPORTED;   /* the alternate port answers probes */
        return true;
    }
    return false;
}

bool traversal_open(struct knit_node *node, struct knit_session *s,
                    uint64_t stream_id, const char *protocol)
{
    return identify_open(node, s, stream_id, protocol) ||
           autonat_open(node, s, stream_id, protocol);
}

bool traversal_event(struct knit_node *node, struct knit_session *s,
                     const struct knit_session_event *sev)
{
    return identify_event(node, s, sev) || autonat_event(node, s, sev);
}

void traversal_session_up(struct knit_node *node, struct knit_session *s)
{
    struct node_traversal *t = node->traversal;
    identify_session_up(node, s);
    /* A first AutoNAT round soon after the first server shows up. */
    if (t->autonat_at == KNIT_NO_DEADLINE &&
        knit_session_peer_serves(s, KNIT_AUTONAT_PROTOCOL))
        t->autonat_at = node->now + jittered(node, 4 * 1000000ull);
}

void traversal_session_down(struct knit_node *node, struct knit_session *s)
{
    struct node_traversal *t = node->traversal;
    int sock = knit_session_path_sock(s);
    if (sock >= 0 && !circuit_is_sock(sock)) {
        struct knit_session_stats st;
        knit_session_get_stats(s, &st);
        t->recent[t->recent_next].addr = st.path;
        t->recent[t->recent_next].at = node->now;
        t->recent_next = (t->recent_next + 1) %
                         (sizeof t->recent / sizeof t->recent[0]);
    }
    identify_session_down(node, s);
    autonat_session_down(node, s);
}

uint64_t traversal_deadline(const struct knit_node *node)
{
    return node->traversal->push_due ? node->now : autonat_deadline(node);
}

void traversal_timeout(struct knit_node *node, uint64_t now)
{
    struct node_traversal *t = node->traversal;
    if (t->push_due) {
        t->push_due = false;
        identify_push_all(node);
    }
    autonat_timeout(node, now);
}

void knit_node_traversal_status(struct knit_node *node, uint64_t now,
                                struct knit_node_traversal *out)
{
    struct node_traversal *t = node->traversal;
    memset(out, 0, sizeof *out);
    node->now = now;
    out->reachability = t->verdict.reachability;
    out->reachability_confidence = t->verdict.confidence;
    out->autonat_servers = t->verdict.servers;
    out->mapping = t->mapping.confidence ? t->mapping.mapping
                                         : KNIT_MAPPING_UNKNOWN;
    out->mapping_confidence = t->mapping.confidence;
    out->behind_nat = t->mapping.nat;
    out->sequential = t->mapping.sequential;
    out->filtering = t->verdict.filtering;
    out->filtering_confidence = t->verdict.filtering_confidence;
    out->observed_count = knit_observed_list(
        t->observed, now, out->observed,
        sizeof out->observed / sizeof out->observed[0]);
    out->relay_count = node_relay_client_addrs(
        node, out->relays, sizeof out->relays / sizeof out->relays[0]);
    out->alt_port = t->alt_port;
    node_relay_served(node, &out->reservations_served,
                      &out->circuits_served, &out->circuits_relayed_total,
                      &out->bytes_relayed_total);
    if (t->has_mapped)
        out->mapped = t->mapped;
    punch_stats(node, out);
}

void knit_node_set_mapped(struct knit_node *node,
                          const struct knit_addr *mapped, uint64_t now)
{
    struct node_traversal *t = node->traversal;
    node->now = now;
    bool changed = t->has_mapped != (mapped != NULL) ||
                   (mapped && !knit_addr_equal(&t->mapped, mapped));
    t->has_mapped = mapped != NULL;
    if (mapped)
        t->mapped = *mapped;
    else
        memset(&t->mapped, 0, sizeof t->mapped);
    /* A mapping (or its loss) may change who can reach us: ask AutoNAT
     * again soon rather than at the next round, up to 10 minutes away.
     * Its verdict, not the gateway's word, makes the node public. */
    if (changed && t->autonat_at != KNIT_NO_DEADLINE &&
        t->autonat_at > now + 2000000ull)
        t->autonat_at = now + 2000000ull;
}

/* Found reachable behind a NAT (endpoint-independent filtering, or a
 * port mapping): the address others see us at is worth publishing. Only
 * trusted observations, and only once AutoNAT says public. */
size_t traversal_public_addrs(struct knit_node *node,
                              struct knit_multiaddr *out, size_t cap)
{
    struct node_traversal *t = node->traversal;
    if (!is_public(node) || !t->mapping.nat)
        return 0;
    struct knit_observed_entry seen[4];
    size_t n = knit_observed_list(t->observed, node->now, seen, 4), count = 0;
    for (size_t k = 0; k < n && count < cap; k++)
        if (seen[k].trusted &&
            knit_multiaddr_from_socket(&out[count], &seen[k].addr, NULL) ==
                KNIT_OK)
            count++;
    return count;
}
