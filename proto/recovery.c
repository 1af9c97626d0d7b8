#include "recovery.h"

#include <stdlib.h>

#include "transport/error.h"
#include "transport/io.h"

/* The table is a ring of records in send order, so packet numbers increase
 * from head to tail and a record is found by binary search. Acknowledged and
 * lost records stay in place as dead slots until everything older is gone:
 * that keeps positions stable while one ACK is processed, and tells
 * persistent-congestion detection which gaps were acknowledged. */
#define INITIAL_SLOTS 8

#define F_LIVE 0x01         /* awaiting acknowledgement */
#define F_ACK_ELICITING 0x02
#define F_IN_FLIGHT 0x04
#define F_ACKED 0x08        /* dead because acknowledged (not lost) */
#define F_NEW 0x10          /* acknowledged by the ACK being processed */

struct slot {
    uint64_t pn;
    uint64_t time_sent;
    uint32_t size;
    uint32_t ref;
    uint8_t flags;
};

struct knit_recovery {
    struct slot *slots;
    uint32_t cap;                 /* a power of two */
    uint32_t head;                /* index of the oldest record */
    uint32_t count;               /* records from head on, dead ones too */

    bool any_sent;
    uint64_t first_sent;          /* lowest packet number ever reported */
    uint64_t largest_sent;
    uint64_t last_send_time;
    uint64_t last_ack_eliciting_time;
    uint32_t ack_eliciting_in_flight;

    bool has_largest_acked;
    uint64_t largest_acked;
    uint64_t loss_time;           /* KNIT_NO_DEADLINE when none */
    uint32_t pto_count;
    uint64_t first_rtt_sample_time;
    uint64_t max_ack_delay;

    bool busy;                    /* inside a callback */

    /* Packets numbered below this were sent on an earlier path: their
     * acknowledgements and losses say nothing of the path in use, so they
     * feed neither the window nor the round-trip estimate, and their bytes
     * (old_in_flight) stay out of the window. */
    uint64_t path_first_pn;
    uint64_t old_in_flight;

    struct knit_rtt rtt;
    struct knit_cc cc;
};

/* What one pass of loss detection found, for congestion control. */
struct losses {
    bool any_in_flight;
    uint64_t bytes;
    uint64_t newest_time_sent;
    bool persistent;
};

static struct slot *at(const struct knit_recovery *r, uint32_t pos)
{
    return &r->slots[(r->head + pos) & (r->cap - 1)];
}

static struct knit_sent_packet view(const struct slot *s)
{
    struct knit_sent_packet p = {
        .pn = s->pn,
        .time_sent = s->time_sent,
        .size = s->size,
        .ack_eliciting = (s->flags & F_ACK_ELICITING) != 0,
        .in_flight = (s->flags & F_IN_FLIGHT) != 0,
        .ref = s->ref,
    };
    return p;
}

static void notify(struct knit_recovery *r,
                   void (*fn)(void *, const struct knit_sent_packet *),
                   void *ctx, const struct slot *s)
{
    if (!fn)
        return;
    struct knit_sent_packet p = view(s);
    r->busy = true;
    fn(ctx, &p);
    r->busy = false;
}

int knit_recovery_new(struct knit_recovery **out, uint32_t mds,
                      uint64_t max_ack_delay_us)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    struct knit_recovery *r = calloc(1, sizeof *r);
    if (!r)
        return KNIT_E_NOMEM;
    r->slots = calloc(INITIAL_SLOTS, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return KNIT_E_NOMEM;
    }
    r->cap = INITIAL_SLOTS;
    r->loss_time = KNIT_NO_DEADLINE;
    r->max_ack_delay = max_ack_delay_us;
    knit_rtt_init(&r->rtt);
    knit_cc_init(&r->cc, mds);
    *out = r;
    return 0;
}

void knit_recovery_free(struct knit_recovery *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

bool knit_recovery_can_track(const struct knit_recovery *r)
{
    return r->count < r->cap &&
           r->count < KNIT_RECOVERY_MAX_TRACKED - KNIT_RECOVERY_PROBE_RESERVE;
}

/* Doubles the ring, unrolling it so head is 0 again. */
static int grow(struct knit_recovery *r)
{
    if (r->cap >= KNIT_RECOVERY_MAX_TRACKED)
        return KNIT_E_NO_SPACE;
    uint32_t cap = r->cap * 2;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return KNIT_E_NOMEM;
    for (uint32_t i = 0; i < r->count; i++)
        slots[i] = *at(r, i);
    free(r->slots);
    r->slots = slots;
    r->cap = cap;
    r->head = 0;
    return 0;
}

int knit_recovery_on_packet_sent(struct knit_recovery *r,
                                 const struct knit_sent_packet *p,
                                 uint64_t now)
{
    if (!r || !p || r->busy)
        return KNIT_E_INVAL;
    if (r->any_sent && p->pn <= r->largest_sent)
        return KNIT_E_INVAL;
    /* ACK-only packets stay out of the probe reserve: they carry nothing
     * to resend, and their ACKs matter only to the peer's bookkeeping. */
    bool record = p->ack_eliciting || p->in_flight ||
                  knit_recovery_can_track(r);
    if (record && r->count == r->cap)
        return KNIT_E_NO_SPACE;

    /* Loss detection compares send times against packet order; a clock
     * that stepped back must not make a newer packet look older. */
    if (r->any_sent && now < r->last_send_time)
        now = r->last_send_time;
    if (!r->any_sent)
        r->first_sent = p->pn;
    r->any_sent = true;
    r->largest_sent = p->pn;
    r->last_send_time = now;
    if (!record)
        return 0;

    struct slot *s = at(r, r->count++);
    s->pn = p->pn;
    s->time_sent = now;
    s->size = p->size;
    s->ref = p->ref;
    s->flags = F_LIVE;
    if (p->ack_eliciting)
        s->flags |= F_ACK_ELICITING;
    if (p->in_flight) {
        s->flags |= F_IN_FLIGHT;
        knit_cc_on_sent(&r->cc, p->size);
        knit_cc_on_sent_pn(&r->cc, p->pn);
        if (p->ack_eliciting) {
            r->last_ack_eliciting_time = now;
            r->ack_eliciting_in_flight++;
        }
    }
    /* Growing now rather than on the next send makes can_track() a
     * promise: when it says yes, the next report cannot fail. A failed
     * allocation just leaves the table full until ACKs drain it. */
    if (r->count == r->cap)
        (void)grow(r);
    return 0;
}

/* First position whose packet number is >= pn (count if none). */
static uint32_t lower_bound(const struct knit_recovery *r, uint64_t pn)
{
    uint32_t lo = 0, hi = r->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (at(r, mid)->pn < pn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void drop_dead_head(struct knit_recovery *r)
{
    while (r->count > 0 && !(at(r, 0)->flags & F_LIVE)) {
        r->head = (r->head + 1) & (r->cap - 1);
        r->count--;
    }
}

static void leave_flight(struct knit_recovery *r, const struct slot *s)
{
    if ((s->flags & (F_IN_FLIGHT | F_ACK_ELICITING)) ==
        (F_IN_FLIGHT | F_ACK_ELICITING))
        r->ack_eliciting_in_flight--;
}

static bool on_old_path(const struct knit_recovery *r, const struct slot *s)
{
    return s->pn < r->path_first_pn;
}

/* An in-flight packet of an earlier path left flight. */
static void leave_old_flight(struct knit_recovery *r, const struct slot *s)
{
    r->old_in_flight = s->size < r->old_in_flight ? r->old_in_flight - s->size
                                                  : 0;
}

static uint64_t loss_delay(const struct knit_recovery *r)
{
    uint64_t rtt = r->rtt.latest > r->rtt.smoothed ? r->rtt.latest
                                                   : r->rtt.smoothed;
    /* 9/8 * rtt without the overflow of multiplying first. */
    uint64_t d = rtt + rtt / KNIT_RECOVERY_TIME_THRESHOLD_DEN *
                           (KNIT_RECOVERY_TIME_THRESHOLD_NUM -
                            KNIT_RECOVERY_TIME_THRESHOLD_DEN);
    return d > KNIT_RTT_GRANULARITY_US ? d : KNIT_RTT_GRANULARITY_US;
}

/* DetectAndRemoveLostPackets (Appendix A.10) plus the persistent-congestion
 * test of Appendix B.8 over the packets it declares lost. Two ack-eliciting
 * packets lost now, sent after the first RTT sample, with no acknowledged
 * packet between them and more than the persistent-congestion duration
 * apart, establish persistent congestion; packets lost earlier may lie
 * between them, acknowledged ones may not. */
static void detect_lost(struct knit_recovery *r, uint64_t now,
                        const struct knit_recovery_callbacks *cb,
                        struct losses *out)
{
    *out = (struct losses){0};
    r->loss_time = KNIT_NO_DEADLINE;
    if (!r->has_largest_acked)
        return;

    uint64_t delay = loss_delay(r);
    uint64_t pc_duration =
        knit_rtt_pto(&r->rtt, r->max_ack_delay) * KNIT_RECOVERY_PC_THRESHOLD;
    bool run = false;             /* a persistent-congestion candidate */
    uint64_t run_start = 0;

    for (uint32_t pos = 0; pos < r->count; pos++) {
        struct slot *s = at(r, pos);
        if (s->pn > r->largest_acked)
            break;
        if (!(s->flags & F_LIVE)) {
            if (s->flags & F_ACKED)
                run = false;
            continue;
        }
        bool by_time = s->time_sent <= now && now - s->time_sent >= delay;
        bool by_count = r->largest_acked - s->pn >=
                        KNIT_RECOVERY_PACKET_THRESHOLD;
        if (!by_time && !by_count) {
            uint64_t when = s->time_sent + delay;
            if (when < r->loss_time)
                r->loss_time = when;
            continue;
        }

        s->flags &= (uint8_t)~F_LIVE;
        leave_flight(r, s);
        if ((s->flags & F_IN_FLIGHT) && on_old_path(r, s)) {
            leave_old_flight(r, s);
        } else if (s->flags & F_IN_FLIGHT) {
            out->any_in_flight = true;
            out->bytes += s->size;
            if (s->time_sent > out->newest_time_sent)
                out->newest_time_sent = s->time_sent;
        }
        if ((s->flags & F_ACK_ELICITING) && r->rtt.has_sample &&
            s->time_sent > r->first_rtt_sample_time) {
            if (!run) {
                run = true;
                run_start = s->time_sent;
            } else if (s->time_sent - run_start > pc_duration) {
                out->persistent = true;
            }
        }
        if (cb)
            notify(r, cb->on_lost, cb->ctx, s);
    }
}

static void on_losses(struct knit_recovery *r, const struct losses *l,
                      uint64_t now)
{
    if (l->any_in_flight)
        knit_cc_on_lost(&r->cc, l->bytes, l->newest_time_sent, now);
    if (l->persistent) {
        knit_cc_on_persistent_congestion(&r->cc);
        /* RFC 9002 §5.2: restart min_rtt so a path whose RTT grew does not
         * keep declaring persistent congestion. */
        r->rtt.min = r->rtt.latest;
    }
}

static int check_ranges(const struct knit_recovery *r,
                        const struct knit_ack_range *ranges, size_t count)
{
    if (!r->any_sent)
        return KNIT_E_MALFORMED;
    for (size_t i = 0; i < count; i++) {
        if (ranges[i].lo > ranges[i].hi)
            return KNIT_E_MALFORMED;
        if (i > 0 && ranges[i].hi >= ranges[i - 1].lo)
            return KNIT_E_MALFORMED;
    }
    if (ranges[0].hi > r->largest_sent || ranges[count - 1].lo < r->first_sent)
        return KNIT_E_MALFORMED;
    return 0;
}

int knit_recovery_on_ack_received(struct knit_recovery *r,
                                  const struct knit_ack_range *ranges,
                                  size_t count, uint64_t ack_delay_us,
                                  uint64_t now,
                                  const struct knit_recovery_callbacks *cb)
{
    if (!r || !ranges || count == 0 || r->busy)
        return KNIT_E_INVAL;
    int rc = check_ranges(r, ranges, count);
    if (rc < 0)
        return rc;

    uint64_t largest = ranges[0].hi;
    if (!r->has_largest_acked || largest > r->largest_acked)
        r->largest_acked = largest;
    r->has_largest_acked = true;

    /* Whether the window was in use is a property of the moment the ACK
     * arrives, before it shrinks bytes_in_flight. */
    bool cwnd_limited = knit_cc_is_cwnd_limited(&r->cc);

    /* Newly acknowledged packets, lowest number first. */
    bool any_new = false, any_ack_eliciting = false;
    uint32_t first_pos = 0, last_pos = 0;
    const struct slot *newest = NULL;
    for (size_t i = count; i-- > 0;) {
        for (uint32_t pos = lower_bound(r, ranges[i].lo);
             pos < r->count && at(r, pos)->pn <= ranges[i].hi; pos++) {
            struct slot *s = at(r, pos);
            if (!(s->flags & F_LIVE))
                continue;
            s->flags = (uint8_t)((s->flags & ~F_LIVE) | F_ACKED | F_NEW);
            leave_flight(r, s);
            if (!any_new)
                first_pos = pos;
            last_pos = pos;
            any_new = true;
            newest = s;
            if (s->flags & F_ACK_ELICITING)
                any_ack_eliciting = true;
            if (cb)
                notify(r, cb->on_acked, cb->ctx, s);
        }
    }
    if (!any_new)
        return 0;

    bool sampled = newest->pn == largest && any_ack_eliciting &&
                   !on_old_path(r, newest);
    if (sampled) {
        uint64_t sample = now > newest->time_sent ? now - newest->time_sent
                                                  : 0;
        if (!r->rtt.has_sample)
            r->first_rtt_sample_time = now;
        knit_rtt_update(&r->rtt, sample, ack_delay_us, r->max_ack_delay);
    }
    knit_cc_on_ack_progress(&r->cc, largest, sampled, r->rtt.latest);

    struct losses lost;
    detect_lost(r, now, cb, &lost);
    on_losses(r, &lost, now);

    /* Appendix A.7 runs congestion control for the acknowledged packets
     * after the losses, so a recovery period this ACK starts already
     * stops them from growing the window. */
    for (uint32_t pos = first_pos; pos <= last_pos; pos++) {
        struct slot *s = at(r, pos);
        if (!(s->flags & F_NEW))
            continue;
        s->flags &= (uint8_t)~F_NEW;
        if ((s->flags & F_IN_FLIGHT) && on_old_path(r, s))
            leave_old_flight(r, s);
        else if (s->flags & F_IN_FLIGHT)
            knit_cc_on_acked(&r->cc, s->size, s->time_sent, now,
                             cwnd_limited);
    }

    r->pto_count = 0;
    drop_dead_head(r);
    return 0;
}

static uint64_t pto_deadline(const struct knit_recovery *r)
{
    uint64_t period = knit_rtt_pto(&r->rtt, r->max_ack_delay);
    for (uint32_t i = 0; i < r->pto_count && period < KNIT_RECOVERY_MAX_PTO_US;
         i++)
        period *= 2;
    if (period > KNIT_RECOVERY_MAX_PTO_US)
        period = KNIT_RECOVERY_MAX_PTO_US;
    uint64_t t = r->last_ack_eliciting_time + period;
    return t < period ? KNIT_NO_DEADLINE : t;
}

uint64_t knit_recovery_timer(const struct knit_recovery *r)
{
    if (r->loss_time != KNIT_NO_DEADLINE)
        return r->loss_time;
    if (r->ack_eliciting_in_flight == 0)
        return KNIT_NO_DEADLINE;
    return pto_deadline(r);
}

int knit_recovery_on_timeout(struct knit_recovery *r, uint64_t now,
                             const struct knit_recovery_callbacks *cb,
                             uint32_t *probes_to_send)
{
    if (!r || !probes_to_send || r->busy)
        return KNIT_E_INVAL;
    *probes_to_send = 0;

    if (r->loss_time != KNIT_NO_DEADLINE) {
        if (now < r->loss_time)
            return 0;
        struct losses lost;
        detect_lost(r, now, cb, &lost);
        on_losses(r, &lost, now);
        drop_dead_head(r);
        return 0;
    }
    if (r->ack_eliciting_in_flight == 0 || now < pto_deadline(r))
        return 0;
    /* A PTO is not a loss signal (RFC 9002 §6.2): only the backoff and the
     * probes; the window stays as it is. */
    if (r->pto_count < UINT32_MAX)
        r->pto_count++;
    *probes_to_send = 2;
    return 0;
}

const struct knit_rtt *knit_recovery_rtt(const struct knit_recovery *r)
{
    return &r->rtt;
}

const struct knit_cc *knit_recovery_cc(const struct knit_recovery *r)
{
    return &r->cc;
}

uint64_t knit_recovery_bytes_in_flight(const struct knit_recovery *r)
{
    return r->cc.bytes_in_flight + r->old_in_flight;
}

void knit_recovery_new_path(struct knit_recovery *r)
{
    r->old_in_flight += r->cc.bytes_in_flight;
    r->path_first_pn = r->any_sent ? r->largest_sent + 1 : 0;
    knit_cc_init(&r->cc, r->cc.mds);
    knit_rtt_init(&r->rtt);
}

bool knit_recovery_largest_acked(const struct knit_recovery *r, uint64_t *pn)
{
    if (r->has_largest_acked && pn)
        *pn = r->largest_acked;
    return r->has_largest_acked;
}

uint32_t knit_recovery_pto_count(const struct knit_recovery *r)
{
    return r->pto_count;
}

size_t knit_recovery_tracked(const struct knit_recovery *r)
{
    return r->count;
}
