/* A session's timers: when it next wants knit_session_on_timeout() (cached:
 * the node asks every session after every call), and what is due then:
 * handshake retries and give-ups, the idle timeout, half-open sessions,
 * keepalives, the conn's own timers, path upkeep, rekeying. */
#include "proto/session_internal.h"
#include "transport/error.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The keepalive counts from our last packet, or from the last keepalive
 * we queued if that could not leave (congestion window full of packets to
 * a peer that is gone): either way the timer moves on. */
static uint64_t keepalive_due(const struct knit_session *s)
{
    uint64_t from = s->last_tx > s->keepalive_at ? s->last_tx
                                                 : s->keepalive_at;
    return from + s->cfg.keepalive_us;
}

/* A session that answered an initiation but is not up (our response or
 * the initiator's first data lost, the initiator gone, or a restarted peer
 * that never finished) is given up like a dial that nobody answers: it has
 * no other timer, and without this each such peer would keep a session
 * for good, and enough of them would fill the table. */
static uint64_t half_open_expiry(const struct knit_session *s)
{
    return s->last_rx + s->cfg.connect_timeout_us;
}

static uint64_t compute_deadline(const struct knit_session *s)
{
    if (s->dead)
        return KNIT_NO_DEADLINE;
    uint64_t next = KNIT_NO_DEADLINE;
    if (s->handshaking) {
        next = min_u64(next, s->hs_retry_at);
        if (!s->up)
            next = min_u64(next, s->hs_started + s->cfg.connect_timeout_us);
    } else if (!s->up)
        next = min_u64(next, half_open_expiry(s));
    if (s->up) {
        next = min_u64(next, s->last_rx + s->cfg.idle_timeout_us);
        if (s->wanted)
            next = min_u64(next, keepalive_due(s));
        if (s->has_cur && !s->handshaking && session_keys_in_use(s))
            next = min_u64(next, s->cur.created + session_rekey_age(s));
    }
    if (s->conn && !s->blocked)
        next = min_u64(next, knit_conn_next_deadline(s->conn));
    return min_u64(next, session_path_deadline(s));
}

/* The node asks every session for its deadline after every call, and a
 * node with hundreds of sessions (a DHT server) spent most of its time
 * recomputing deadlines of sessions nothing had happened to. The deadline
 * is a function of the session's state alone, so it is cached and
 * recomputed only after a call that may have changed that state: every
 * entry point, and knit_session_conn(), through which the node changes
 * the conn, mark it stale (session_touch). */
uint64_t knit_session_next_deadline(const struct knit_session *s)
{
    struct knit_session *m = (struct knit_session *)s;   /* the cache only */
    if (m->deadline_stale) {
        m->deadline = compute_deadline(s);
        m->deadline_stale = false;
    }
    return m->deadline;
}

/* Data goes unanswered and no other path is left to fall back to: the
 * peer may have restarted and no longer know our keys (it drops all we
 * send, and nothing else would tell us before the idle timeout). A
 * handshake finds out: a restarted peer answers with its new instance and
 * the session ends at once ("peer restarted"), so that the application
 * can dial afresh. WireGuard likewise starts a handshake when what it
 * sent gets no answer. At most one per handshake_retry_max_us. */
static void maybe_handshake_unanswered(struct knit_session *s, uint64_t now)
{
    if (!s->up || s->handshaking || !s->conn ||
        knit_conn_pto_count(s->conn) < s->cfg.path_fail_ptos + 1 ||
        now - s->hs_started < s->cfg.handshake_retry_max_us)
        return;
    session_start_handshake(s, now);
}

void knit_session_on_timeout(struct knit_session *s, uint64_t now)
{
    session_touch(s);
    if (s->dead)
        return;
    /* A dial is given up when its time is over, not at the next retry. */
    if (s->handshaking && !s->up &&
        now - s->hs_started >= s->cfg.connect_timeout_us) {
        session_die(s, KNIT_E_AGAIN, "no answer to the handshake");
        return;
    }
    if (s->handshaking && now >= s->hs_retry_at) {
        s->hs_backoff = min_u64(s->hs_backoff * 2,
                                s->cfg.handshake_retry_max_us);
        session_send_initiation(s, now);
    }
    if (s->up && now - s->last_rx >= s->cfg.idle_timeout_us) {
        session_die(s, KNIT_E_AGAIN, "peer went silent");
        return;
    }
    if (!s->up && !s->handshaking && now >= half_open_expiry(s)) {
        session_die(s, KNIT_E_AGAIN, "handshake never completed");
        return;
    }
    if (s->up && s->wanted && s->conn && now >= keepalive_due(s)) {
        knit_conn_ping(s->conn);
        s->keepalive_at = now;
    }
    if (s->conn)
        knit_conn_on_timeout(s->conn, now);
    session_path_on_timeout(s, now);
    session_path_check_active(s);
    maybe_handshake_unanswered(s, now);
    knit_session_flush(s, now);
}

