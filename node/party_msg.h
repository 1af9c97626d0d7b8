/* The messages of /knit/mpyc/1: how the daemons of the parties of one MPyC
 * run agree on it before the run starts (sans-IO codec; the daemon side
 * that speaks it is node/mpyc_session.c).
 *
 * Each party's daemon opens one stream to every other party and writes a
 * HELLO naming the session and the digest of its party list; the other
 * daemon answers with one ANSWER on the same stream, and both finish it.
 * "No such session here (yet)" is retried: the other party's `knit mpyc`
 * may simply not have started. Once the run has started and the sender's
 * MPyC program listens on its port, the sender says so in a last HELLO
 * (listening = true): only then do the others open their local listener
 * for it, so an MPyC client never connects to a party that is not there
 * yet (it retries a refused connection, but not a dropped one).
 *
 *   type 1 HELLO, fields (msgpack map keys):
 *   1 session    str, 1..32 bytes of [A-Za-z0-9._-], required
 *   2 digest     bin, 32 bytes: knit_party_digest of the sender's list
 *   3 index      uint: the sender's index in its list, < count
 *   4 count      uint, 2..KNIT_PARTY_MAX: parties in the list
 *   5 listening  bool, optional (absent = false)
 *
 *   type 2 ANSWER, fields:
 *   1 status     uint 0..3 (enum knit_party_status), required
 *   2 text       str, 0..KNIT_PARTY_TEXT_MAX bytes, required: a reason
 *                for a person to read ("" when agreed) */
#ifndef KNIT_PARTY_MSG_H
#define KNIT_PARTY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/peer_id.h"

#define KNIT_PARTY_PROTOCOL "/knit/mpyc/1"
#define KNIT_PARTY_HELLO 1
#define KNIT_PARTY_ANSWER 2
#define KNIT_PARTY_SESSION_MAX 32
#define KNIT_PARTY_DIGEST_LEN 32
/* Parties in one run. MPyC runs are small; each other party costs a
 * forward listener in the daemon (node/forward.h allows 64 in all). */
#define KNIT_PARTY_MAX 32
#define KNIT_PARTY_TEXT_MAX 200
/* Body limit: an ANSWER with the longest text is about 210 bytes. */
#define KNIT_PARTY_MAX_MESSAGE 512

enum knit_party_status {
    KNIT_PARTY_AGREED = 0,
    KNIT_PARTY_NO_SESSION = 1,      /* not here (yet): ask again later */
    KNIT_PARTY_DIFFERENT_LIST = 2,
    KNIT_PARTY_WRONG_INDEX = 3,     /* the list has another peer there */
};

struct knit_party_msg {
    uint8_t type;                          /* HELLO or ANSWER */
    /* HELLO: */
    char session[KNIT_PARTY_SESSION_MAX + 1];   /* NUL-terminated */
    uint8_t digest[KNIT_PARTY_DIGEST_LEN];
    uint32_t index, count;
    bool listening;
    /* ANSWER: */
    uint8_t status;
    char text[KNIT_PARTY_TEXT_MAX + 1];    /* NUL-terminated, no NUL inside */
};

/* Whether len bytes of name are a session name: 1..32 of [A-Za-z0-9._-]. */
bool knit_party_session_valid(const char *name, size_t len);

/* BLAKE2b-256 over a domain string, the session name (length-prefixed) and
 * the party count and the 38-byte IDs in order: two parties compute the
 * same digest exactly when they use the same name and the same ordered
 * list. KNIT_E_INVAL for a bad name or a count outside 2..KNIT_PARTY_MAX. */
int knit_party_digest(const char *session, const struct knit_peer_id *ids,
                      size_t count, uint8_t out[KNIT_PARTY_DIGEST_LEN]);

/* Writes m as one frame (length header and body) into buf. KNIT_E_INVAL
 * for a message the decoder would refuse; KNIT_E_NO_SPACE if cap is too
 * small (KNIT_MSG_HEADER_LEN + KNIT_PARTY_MAX_MESSAGE always suffices). */
int knit_party_encode(const struct knit_party_msg *m, uint8_t *buf,
                      size_t cap, size_t *frame_len);

/* Decodes one body (after knit_msg_deframe). Errors: those of
 * knit_msg_decode_typed (KNIT_E_TOO_BIG for a count over KNIT_PARTY_MAX
 * among them), KNIT_E_INVAL for a session name outside the alphabet,
 * KNIT_E_LENGTH for a count under 2, KNIT_E_MALFORMED for an index not
 * below the count or a NUL inside the text. out is cleared on error. */
int knit_party_decode(const uint8_t *body, size_t len,
                      struct knit_party_msg *out);

#endif
