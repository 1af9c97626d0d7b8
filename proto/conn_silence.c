/* The silence probe: a side that only receives has nothing awaiting
 * acknowledgement, so when its path breaks (its NAT lost the mapping: a
 * router rebooted or flushed its table) no probe timeout ever tells it.
 * Its peer notices and falls back to a relay, but the relay cannot reach
 * it either until it sends, and a reservation's keepalive is 25 s away.
 * Measured in the natlab: a 32 MiB transfer whose receiver's router lost
 * its mappings stalled for 33 s. So when the peer may still send on a
 * stream and nothing has moved for silence_probe_us, one PING goes out:
 * on a live path its ACK ends the matter, on a broken one its probe
 * timeouts move the session to another path (session_path.c), and that
 * traffic opens a new mapping on the way. One PING per silence, so a
 * stream that stays open while nothing is said costs one round trip. */
#include "proto/conn_internal.h"
#include "proto/recovery.h"
#include "transport/io.h"

void conn_silence_on_activity(struct knit_conn *c, uint64_t now)
{
    c->activity_at = now;
    c->has_activity = true;
    c->silence_probed = false;
}

/* Whether the peer may still send us stream data. */
static bool awaiting_peer(const struct knit_conn *c)
{
    for (size_t i = 0; i < c->stream_count; i++) {
        const struct conn_stream *s = c->streams[i];
        if (!s->recv_final && !s->recv_done && !s->recv_abandoned)
            return true;
    }
    return false;
}

uint64_t conn_silence_deadline(const struct knit_conn *c)
{
    /* Anything in flight has its own probe timeout. */
    if (!c->cfg.silence_probe_us || !c->has_activity || c->silence_probed ||
        knit_recovery_bytes_in_flight(c->recovery) != 0 || !awaiting_peer(c))
        return KNIT_NO_DEADLINE;
    return c->activity_at + c->cfg.silence_probe_us;
}

void conn_silence_on_timeout(struct knit_conn *c, uint64_t now)
{
    if (now < conn_silence_deadline(c))
        return;
    c->silence_probed = true;
    c->ping_pending = true;
}
