/* Publishing our own record at the k servers closest to our key.
 *
 * The join and every republish interval run a lookup of our own key with
 * beta = k, so that the k closest have answered, and PUT the record at
 * them. Between two such lookups a server's routing table knows those
 * servers: the lookup put them there, and a server that joins near us
 * shows up in it when its own join asks us. So on a server, a changed
 * record, or a newcomer among the closest, is PUT straight to those of
 * the k closest in the table that do not have the current record yet,
 * without another lookup. A client looks up each time.
 *
 * Why: a joining server's record changes once or twice while it learns
 * its addresses, and servers near it keep joining while the network
 * grows; each used to cost a whole lookup (about 24 queries, most of them
 * to servers we had no session with, each a handshake). */
#include <string.h>

#include "dht/dht_internal.h"
#include "transport/error.h"

static bool was_put_to(const struct knit_dht *dht,
                       const struct knit_peer_id *peer)
{
    return dht_peer_among(dht->put_to, dht->put_to_count, peer);
}

static int put_own(struct knit_dht *dht, const struct knit_peer_id *peer,
                   const struct knit_addr *addr, uint64_t now)
{
    return dht_send_put(dht, peer, addr, dht->own_record,
                        dht->own_record_len, now);
}

void dht_publish_lookup_done(struct knit_dht *dht, struct dht_lookup *lk,
                             uint64_t now)
{
    dht->publish_at = now + dht->cfg.republish_interval_us;
    dht->published_at = now;
    dht->closest_found_at = now;
    dht->put_to_count = 0;
    if (!dht->own_record_len)
        return;
    const struct knit_dht_candidate *closest[KNIT_DHT_K];
    size_t n = knit_dht_lookup_closest(&lk->l, closest, dht->table.cfg.k);
    for (size_t i = 0; i < n; i++) {
        const struct knit_dht_peer_info *p = &closest[i]->peer;
        if (put_own(dht, &p->id, &p->addrs[0], now))
            break;   /* out of request slots; the next republish tries */
        dht->put_to[dht->put_to_count++] = p->id;
    }
    dht_log(dht, now, "dht: published our record at %zu peers", n);
}

/* Whether the closest servers a lookup of our own key found are recent
 * enough to PUT to without looking again: for as long as the refresh
 * trusts a bucket that a lookup has looked into. Only a server can tell:
 * servers that join near it ask it, and so enter its table; nobody asks a
 * client, whose table learns only from its own lookups (PUT straight from
 * it, clients' records missed a quarter of the 8 closest servers in a
 * network growing fast, against none with a lookup each time). The
 * republish interval after a publishing lookup, the next publish is one
 * again: only a lookup that goes on until the k closest have answered
 * finds every one of them, and the k closest move as servers come and
 * go. */
static bool closest_known(const struct knit_dht *dht, uint64_t now)
{
    return dht->serving && dht->published_at != 0 &&
           now - dht->published_at < dht->cfg.republish_interval_us &&
           now - dht->closest_found_at < dht->cfg.refresh_interval_us;
}

/* PUTs the record at those of the k closest in our table that lack it. */
static void put_direct(struct knit_dht *dht, uint64_t now)
{
    struct knit_dht_entry closest[KNIT_DHT_K];
    size_t n = knit_dht_table_closest(&dht->table, &dht->self_key, closest,
                                      dht->table.cfg.k);
    struct knit_peer_id holding[KNIT_DHT_K];
    size_t held = 0, sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!was_put_to(dht, &closest[i].id)) {
            if (put_own(dht, &closest[i].id, &closest[i].addr, now))
                continue;   /* not sent: the next publish tries again */
            sent++;
        }
        holding[held++] = closest[i].id;
    }
    /* Only the current k closest: one that fell out of them and comes
     * back is sent the record again, which it may have missed since. */
    dht->stats.publish_direct++;
    memcpy(dht->put_to, holding, held * sizeof holding[0]);
    dht->put_to_count = (uint8_t)held;
    dht->publish_at = dht->published_at + dht->cfg.republish_interval_us;
    dht_log(dht, now, "dht: put our record at %zu more of the %zu closest",
            sent, n);
}

int dht_publish(struct knit_dht *dht, uint64_t now)
{
    /* One publishing lookup at a time is plenty: it PUTs the record that
     * is current when it ends. */
    for (uint32_t i = 0; i < dht->cfg.max_lookups; i++)
        if (dht->lookups[i] && dht->lookups[i]->purpose == PURPOSE_PUBLISH)
            return KNIT_OK;
    if (closest_known(dht, now) && dht->own_record_len) {
        put_direct(dht, now);
        return KNIT_OK;
    }
    struct dht_lookup *lk;
    int err = dht_lookup_start(dht, PURPOSE_PUBLISH, &dht->self_key, NULL,
                               now, &lk);
    if (err == KNIT_OK) {
        dht->stats.publish_lookups++;
        dht_lookup_pump(dht, lk, now);
    }
    return err;
}

void dht_publish_record_changed(struct knit_dht *dht)
{
    dht->put_to_count = 0;
}

void dht_publish_own_key_looked_up(struct knit_dht *dht, uint64_t now)
{
    if (dht->published_at)
        dht->closest_found_at = now;
}

void dht_publish_forget_closest(struct knit_dht *dht)
{
    dht->published_at = 0;
    dht->closest_found_at = 0;
    dht->put_to_count = 0;
}
