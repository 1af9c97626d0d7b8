/* /knit/mpyc/1 between the daemons of two parties (node/party_msg.h):
 * our HELLO out and its ANSWER back, and a HELLO in judged against our
 * sessions and answered. A party with another list ends the session at
 * both ends; one that has no such session yet is asked again. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control_proto.h"
#include "mpyc_internal.h"
#include "transport/error.h"

/* ---- HELLO out, ANSWER back ----------------------------------------------- */

void mpyc_retry_later(struct knit_mpyc_sessions *m, struct party *p,
                        const char *reason)
{
    if (reason)
        knit_control_clean_text(p->reason, sizeof p->reason, reason);
    p->retry_at = mpyc_now_us(m) + KNIT_MPYC_RETRY_MS * 1000ull;
}

void mpyc_send_hello(struct knit_mpyc_sessions *m, struct session *s,
                       uint32_t j)
{
    struct party *p = &s->p[j];
    if (!p->up || p->stream_open || s->failed)
        return;
    uint64_t now = mpyc_now_us(m);
    struct knit_party_msg h;
    memset(&h, 0, sizeof h);
    h.type = KNIT_PARTY_HELLO;
    memcpy(h.session, s->name, sizeof h.session);
    memcpy(h.digest, s->digest, sizeof h.digest);
    h.index = s->me;
    h.count = s->count;
    h.listening = s->own_listening;
    uint8_t frame[MPYC_FRAME_MAX];
    size_t len = 0, accepted = 0;
    int err = knit_party_encode(&h, frame, sizeof frame, &len);
    if (err == KNIT_OK)
        err = knit_node_open_stream(m->node, &p->id, KNIT_PARTY_PROTOCOL, now,
                                    &p->stream);
    if (err != KNIT_OK) {
        mpyc_retry_later(m, p, knit_strerror(err));
        return;
    }
    p->stream_open = true;
    p->have = 0;
    p->hello_listening = h.listening;
    /* A fresh stream takes a frame this small whole. */
    err = knit_node_stream_write(m->node, &p->id, p->stream, frame, len, now,
                                 &accepted);
    if (err == KNIT_OK && accepted == len)
        err = knit_node_stream_finish(m->node, &p->id, p->stream, now);
    else if (err == KNIT_OK)
        err = KNIT_E_NO_SPACE;
    if (err != KNIT_OK) {
        knit_node_stream_reset(m->node, &p->id, p->stream, 0, now);
        p->stream_open = false;
        mpyc_retry_later(m, p, knit_strerror(err));
    }
}

static void send_ready(struct session *s)
{
    uint8_t buf[64 + 3 * KNIT_PARTY_MAX];
    struct knit_msg_writer w;
    size_t len;
    knit_msg_writer_init(&w, buf, sizeof buf);
    knit_msg_begin(&w, KNIT_CTL_MPYC_READY, 2);
    knit_msg_put_uint(&w, 1, s->me);
    knit_msg_put_array_begin(&w, 2, s->count);
    for (uint32_t j = 0; j < s->count; j++)
        knit_msg_add_uint(&w, s->p[j].port);
    knit_msg_array_end(&w);
    if (s->client && knit_msg_end(&w, &len) == KNIT_OK)
        knit_control_send(s->client, buf, len);
}

static void check_ready(struct knit_mpyc_sessions *m, struct session *s)
{
    for (uint32_t j = 0; j < s->count; j++)
        if (j != s->me && !s->p[j].agreed)
            return;
    s->ready = true;
    send_ready(s);
    s->check_at = mpyc_now_us(m) + KNIT_MPYC_CHECK_MS * 1000ull;
    for (uint32_t j = 0; j < s->count; j++)
        s->p[j].answered_at = mpyc_now_us(m);
    /* Party 0's MPyC dials and never listens; the others' is probed. */
    if (s->me > 0)
        s->probe_at = mpyc_now_us(m);
    mpyc_rearm(m);
}

static void on_answer(struct knit_mpyc_sessions *m, struct session *s,
                      uint32_t j, const struct knit_party_msg *a)
{
    struct party *p = &s->p[j];
    char who[128];
    mpyc_party_name(s, j, who, sizeof who);
    p->answered_at = mpyc_now_us(m);
    switch (a->status) {
    case KNIT_PARTY_AGREED:
        if (p->hello_listening) {
            p->told_listening = true;
        } else if (!p->agreed) {
            p->agreed = true;
            mpyc_progress(s, j, "agreed");
            check_ready(m, s);
        }
        break;
    case KNIT_PARTY_NO_SESSION:
        if (s->ready) {
            mpyc_fail(m, s, KNIT_E_NOT_FOUND, "%s left session %s", who,
                      s->name);
            break;
        }
        if (!p->waiting_told) {
            char text[96];
            snprintf(text, sizeof text, "waiting for it to join session %s",
                     s->name);
            mpyc_progress(s, j, text);
            p->waiting_told = true;
        }
        mpyc_retry_later(m, p, a->text);
        break;
    default:
        mpyc_fail(m, s, KNIT_E_REFUSED, "%s uses a different party list for "
             "session %s (every party must give the same --parties and "
             "--order): it says: %s", who, s->name, a->text);
        break;
    }
}

void mpyc_out_readable(struct knit_mpyc_sessions *m, struct session *s,
                         uint32_t j, uint64_t now)
{
    struct party *p = &s->p[j];
    bool fin = false;
    for (;;) {
        size_t n = 0;
        if (knit_node_stream_read(m->node, &p->id, p->stream,
                                  p->buf + p->have, sizeof p->buf - p->have,
                                  &n, &fin, now) != KNIT_OK || n == 0)
            break;
        p->have += n;
    }
    struct knit_msg_frame fr;
    struct knit_party_msg a;
    int err = knit_msg_deframe(p->buf, p->have, KNIT_PARTY_MAX_MESSAGE, &fr);
    if (err == KNIT_E_AGAIN && !fin)
        return;
    if (err == KNIT_OK)
        err = knit_party_decode(fr.body, fr.body_len, &a);
    if (err == KNIT_OK && a.type != KNIT_PARTY_ANSWER)
        err = KNIT_E_UNSUPPORTED;
    /* Done with the stream either way; our side finished already. */
    if (!fin)
        knit_node_stream_reset(m->node, &p->id, p->stream, 0, now);
    p->stream_open = false;
    if (err != KNIT_OK) {
        char why[MPYC_REASON_MAX];
        snprintf(why, sizeof why, "its answer was unreadable: %s",
                 knit_strerror(err));
        mpyc_retry_later(m, p, why);
        return;
    }
    on_answer(m, s, j, &a);
}

/* ---- HELLO in, ANSWER out ------------------------------------------------- */

/* The answer to a HELLO from peer; a party with another list also ends
 * our own session, so that both ends say so. */
static void judge_hello(struct knit_mpyc_sessions *m,
                        const struct knit_peer_id *peer,
                        const struct knit_party_msg *h,
                        struct knit_party_msg *a)
{
    memset(a, 0, sizeof *a);
    a->type = KNIT_PARTY_ANSWER;
    struct session *s = mpyc_find_by_name(m, h->session);
    if (!s) {
        a->status = KNIT_PARTY_NO_SESSION;
        snprintf(a->text, sizeof a->text, "no knit mpyc session %s here "
                 "(yet)", h->session);
        return;
    }
    int k = mpyc_party_of(s, peer);
    if (k < 0) {
        a->status = KNIT_PARTY_DIFFERENT_LIST;
        snprintf(a->text, sizeof a->text, "you are not in this node's party "
                 "list for session %s", s->name);
        return;
    }
    char who[128];
    mpyc_party_name(s, (uint32_t)k, who, sizeof who);
    if (h->count != s->count ||
        memcmp(h->digest, s->digest, sizeof s->digest) != 0) {
        a->status = KNIT_PARTY_DIFFERENT_LIST;
        snprintf(a->text, sizeof a->text, "party %u's list for session %s "
                 "is another (%u parties here)", s->me, s->name, s->count);
        mpyc_fail(m, s, KNIT_E_REFUSED, "%s uses a different party list for "
             "session %s (every party must give the same --parties and "
             "--order)", who, s->name);
        return;
    }
    if (h->index != (uint32_t)k) {
        a->status = KNIT_PARTY_WRONG_INDEX;
        snprintf(a->text, sizeof a->text, "you are party %d in this list, "
                 "not %u", k, h->index);
        return;
    }
    a->status = KNIT_PARTY_AGREED;
    struct party *p = &s->p[k];
    if (h->listening && !p->open_listening && p->port) {
        int err = knit_forwarder_start_listening(m->fwd, p->port);
        if (err == KNIT_OK) {
            p->open_listening = true;
            mpyc_progress(s, (uint32_t)k, "listening");
        } else {
            mpyc_fail(m, s, err, "cannot open the local listener for %s: %s", who,
                 knit_strerror(err));
        }
    }
}

void mpyc_release_in(struct incoming *in)
{
    memset(in, 0, sizeof *in);
}

void mpyc_in_readable(struct knit_mpyc_sessions *m, struct incoming *in,
                        uint64_t now)
{
    bool fin = false;
    for (;;) {
        size_t n = 0;
        uint8_t sink[64];
        uint8_t *to = in->answered ? sink : in->buf + in->have;
        size_t cap = in->answered ? sizeof sink : sizeof in->buf - in->have;
        if (cap == 0 || knit_node_stream_read(m->node, &in->peer, in->stream,
                                              to, cap, &n, &fin,
                                              now) != KNIT_OK || n == 0)
            break;
        if (!in->answered)
            in->have += n;
    }
    if (!in->answered) {
        struct knit_msg_frame fr;
        struct knit_party_msg h, a;
        int err = knit_msg_deframe(in->buf, in->have, KNIT_PARTY_MAX_MESSAGE,
                                   &fr);
        if (err == KNIT_E_AGAIN && !fin)
            return;
        if (err == KNIT_OK)
            err = knit_party_decode(fr.body, fr.body_len, &h);
        if (err == KNIT_OK && h.type != KNIT_PARTY_HELLO)
            err = KNIT_E_UNSUPPORTED;
        uint8_t frame[MPYC_FRAME_MAX];
        size_t len = 0, accepted = 0;
        if (err == KNIT_OK) {
            judge_hello(m, &in->peer, &h, &a);
            err = knit_party_encode(&a, frame, sizeof frame, &len);
        }
        if (err == KNIT_OK)
            err = knit_node_stream_write(m->node, &in->peer, in->stream, frame,
                                         len, now, &accepted);
        if (err == KNIT_OK && accepted == len)
            err = knit_node_stream_finish(m->node, &in->peer, in->stream, now);
        else if (err == KNIT_OK)
            err = KNIT_E_NO_SPACE;
        if (err != KNIT_OK) {
            knit_node_stream_reset(m->node, &in->peer, in->stream, 0, now);
            mpyc_release_in(in);
            return;
        }
        in->answered = true;
    }
    if (fin)
        mpyc_release_in(in);
}

void mpyc_in_opened(struct knit_mpyc_sessions *m,
                      const struct knit_event *ev)
{
    struct incoming *in = NULL;
    for (int i = 0; i < KNIT_MPYC_MAX_INCOMING && !in; i++)
        if (!m->in[i].used)
            in = &m->in[i];
    if (!in) {
        knit_node_stream_reset(m->node, ev->peer, ev->stream_id, 0, ev->now);
        return;
    }
    in->used = true;
    in->peer = *ev->peer;
    in->stream = ev->stream_id;
    /* The HELLO may have come with the stream. */
    mpyc_in_readable(m, in, ev->now);
}
