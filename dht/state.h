/* The DHT's on-disk state: the codec of <datadir>/dht.state.
 *
 * The daemon saves the routing table and the record store to
 * <datadir>/dht.state and reads them back on start, so a restarted node can
 * rejoin when its bootstrap peers are down. This module only turns items
 * into bytes and back; the daemon owns the file, the DHT engine decides
 * what goes in and what to do with what comes out.
 *
 * The bytes are a sequence of proto/msg.h frames (4-byte big-endian length
 * + msgpack map body, key 0 the frame type):
 *   type 1 HEADER  {1: version (uint, must be 1), 2: saved at (unix s)}
 *                  first and exactly once
 *   type 2 PEER    {1: peer ID bytes (38), 2: binary multiaddr of a UDP
 *                  endpoint (/ip4|ip6/x/udp/p, exactly 2 components),
 *                  3: last seen (unix s)}
 *   type 3 RECORD  {1: a signed peer record envelope,
 *                  1..KNIT_RECORD_MAX_BYTES bytes}
 * at most KNIT_DHT_STATE_MAX_PEERS PEER and KNIT_DHT_STATE_MAX_RECORDS
 * RECORD frames, in any order after the header; each frame body at most
 * KNIT_DHT_STATE_MAX_FRAME bytes.
 *
 * The codec does not verify record signatures: the store does when the
 * engine puts them back, and drops what no longer verifies or has expired.
 * A file is trusted no more than the network: every length, count and
 * address is checked as if a peer had sent it. */
#ifndef KNIT_DHT_STATE_H
#define KNIT_DHT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/peer_id.h"
#include "transport/io.h"

#define KNIT_DHT_STATE_VERSION 1
/* A full routing table: 256 buckets of k = 20. */
#define KNIT_DHT_STATE_MAX_PEERS 5120
#define KNIT_DHT_STATE_MAX_RECORDS 4096
#define KNIT_DHT_STATE_MAX_FRAME 4096

enum knit_dht_state_type {
    KNIT_DHT_STATE_HEADER = 1,
    KNIT_DHT_STATE_PEER = 2,
    KNIT_DHT_STATE_RECORD = 3,
};

struct knit_dht_state_peer {
    struct knit_peer_id id;
    struct knit_addr addr;          /* IPv4 or IPv6 UDP endpoint */
    uint64_t last_seen_unix;
};

/* ---- writing ------------------------------------------------------------ */

/* A growable buffer (malloc'd) holding the whole file: buf[0..len). The
 * first error sticks: every later call returns it and does nothing, so
 * checking the last call (or err) is enough. Errors: KNIT_E_NOMEM,
 * KNIT_E_INVAL (a NULL argument, an address that is neither IPv4 nor IPv6,
 * an empty record), KNIT_E_TOO_BIG (a record over KNIT_RECORD_MAX_BYTES,
 * more peers or records than the limits). The writer refuses whatever the
 * reader would refuse, so a file it wrote always reads back. */
struct knit_dht_state_writer {
    uint8_t *buf;
    size_t len, cap;
    int err;
    uint32_t peers, records;
};

/* Writes the header. Call knit_dht_state_writer_free() even if it fails. */
int knit_dht_state_writer_init(struct knit_dht_state_writer *w,
                               uint64_t saved_at_unix);
int knit_dht_state_add_peer(struct knit_dht_state_writer *w,
                            const struct knit_dht_state_peer *p);
int knit_dht_state_add_record(struct knit_dht_state_writer *w,
                              const uint8_t *env, size_t len);
void knit_dht_state_writer_free(struct knit_dht_state_writer *w);

/* ---- reading ------------------------------------------------------------ */

/* Called per item, in file order; a nonzero return stops the read. Either
 * callback may be NULL (the items are checked and skipped). env points
 * into the input. */
struct knit_dht_state_sink {
    void *ctx;
    int (*peer)(void *ctx, const struct knit_dht_state_peer *p);
    int (*record)(void *ctx, const uint8_t *env, size_t len);
};

/* Reads the whole input; calls the sink per item in order. The first bad
 * frame stops the read with its error and *bad_offset (may be NULL) says
 * where that frame starts; items before it have been delivered, so a
 * damaged file still gives back what precedes the damage. Errors:
 *   those of knit_msg_deframe and knit_msg_decode (the frame or its body),
 *   peer ID and multiaddr errors, KNIT_E_SHAPE for an address that is not
 *   a bare UDP endpoint,
 *   KNIT_E_UNSUPPORTED  an unknown version or frame type
 *   KNIT_E_MISSING      no header first (an empty input included)
 *   KNIT_E_DUPLICATE    a second header
 *   KNIT_E_TOO_BIG      a frame body over KNIT_DHT_STATE_MAX_FRAME, or a
 *                       peer or record past the limits
 *   KNIT_E_TRUNCATED    a partial last frame
 * A sink returning nonzero stops the read with that code (and *bad_offset
 * at the item's frame). On success *bad_offset is len. *saved_at (may be
 * NULL) is the header's time once the header was read, else 0. */
int knit_dht_state_read(const uint8_t *in, size_t len,
                        const struct knit_dht_state_sink *sink,
                        uint64_t *saved_at, size_t *bad_offset);

#endif
