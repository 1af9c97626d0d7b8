/* A session's keypairs: the current one, and while they exist the previous
 * one (packets still in flight under it after a rekey) and the next one (a
 * responder's, until the initiator's first packet confirms it), the last
 * two on the heap since most sessions never have them. WireGuard's rules:
 * proto/session.h. */
#include <stdlib.h>

#include "proto/session_internal.h"

void session_drop_keypair(struct knit_session *s, struct knit_keypair *kp,
                          bool *has)
{
    if (!*has)
        return;
    s->env.drop_index(s->env.ctx, kp->local_index);
    knit_keypair_wipe(kp);
    *has = false;
}

/* The previous or next keypair: its index goes, its keys are wiped. */
void session_drop_spare(struct knit_session *s, struct knit_keypair **kp)
{
    if (!*kp)
        return;
    s->env.drop_index(s->env.ctx, (*kp)->local_index);
    knit_keypair_wipe(*kp);
    free(*kp);
    *kp = NULL;
}

/* A copy of kp on the heap, or NULL without memory. */
struct knit_keypair *session_spare_of(const struct knit_keypair *kp)
{
    struct knit_keypair *copy = malloc(sizeof *copy);
    if (copy)
        *copy = *kp;
    return copy;
}

struct knit_keypair *session_find_keypair(struct knit_session *s,
                                          uint32_t index)
{
    if (s->has_cur && s->cur.local_index == index)
        return &s->cur;
    if (s->next && s->next->local_index == index)
        return s->next;
    if (s->prev && s->prev->local_index == index)
        return s->prev;
    return NULL;
}

/* The new keypair becomes current; the old current stays a while as
 * previous so packets already in flight under it still open (without
 * memory for it, it goes at once). */
void session_install_current(struct knit_session *s,
                             const struct knit_keypair *kp)
{
    session_drop_spare(s, &s->prev);
    if (s->has_cur) {
        s->prev = session_spare_of(&s->cur);
        if (!s->prev)
            s->env.drop_index(s->env.ctx, s->cur.local_index);
        knit_keypair_wipe(&s->cur);
    }
    s->cur = *kp;
    s->has_cur = true;
    s->handshakes++;
}

/* Our own initiation was answered: its keys are current at once. If we
 * have also answered the peer's initiation meanwhile (both sides dialled
 * or rekeyed at once), that pending "next" keypair is what the peer will
 * send under, having taken our response as the answer to its own
 * initiation: keep it as previous, for receiving, rather than drop it
 * (WireGuard's add_new_keypair does the same). Dropping it left each side
 * sending under keys the other had thrown away, so a simultaneous open
 * never carried a packet. */
void session_install_initiated(struct knit_session *s,
                               const struct knit_keypair *kp)
{
    if (!s->next) {
        session_install_current(s, kp);
        return;
    }
    session_drop_spare(s, &s->prev);
    session_drop_keypair(s, &s->cur, &s->has_cur);
    s->prev = s->next;
    s->next = NULL;
    s->cur = *kp;
    s->has_cur = true;
    s->handshakes++;
}

bool session_keypair_usable(const struct knit_session *s,
                            const struct knit_keypair *kp, uint64_t now)
{
    return now - kp->created < s->cfg.reject_after_us &&
           kp->packets_sent < s->cfg.rekey_after_packets * 2;
}
