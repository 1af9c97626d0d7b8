/* The /knit/mpyc/1 messages (node/party_msg.h): one schema per type, and
 * the party-list digest both sides compare. Every check is made here, so
 * the daemon only ever sees a session name it may put into a service name
 * and an index it may use to look into a list. */
#include "node/party_msg.h"

#include <string.h>

#include <sodium.h>

#include "proto/msg.h"
#include "transport/error.h"

enum {
    K_SESSION = 1,
    K_DIGEST = 2,
    K_INDEX = 3,
    K_COUNT = 4,
    K_LISTENING = 5,
    K_STATUS = 1,
    K_TEXT = 2,
};

/* The fullest message, an ANSWER with the longest text: map header, type,
 * status, text (str8 header 2 + 200); a HELLO is smaller (session 1+32,
 * digest 2+32, two small uints and a bool). One byte per key. */
_Static_assert(1 + 2 + 2 + (1 + 2 + KNIT_PARTY_TEXT_MAX) <=
                   KNIT_PARTY_MAX_MESSAGE,
               "KNIT_PARTY_MAX_MESSAGE too small for an ANSWER");
_Static_assert(KNIT_PARTY_MAX <= 255, "the digest writes the count as a byte");

static const struct knit_msg_field hello_fields[] = {
    KNIT_MSG_F_STR(K_SESSION, KNIT_MSG_REQUIRED, 1, KNIT_PARTY_SESSION_MAX),
    KNIT_MSG_F_BIN(K_DIGEST, KNIT_MSG_REQUIRED, KNIT_PARTY_DIGEST_LEN,
                   KNIT_PARTY_DIGEST_LEN),
    KNIT_MSG_F_UINT(K_INDEX, KNIT_MSG_REQUIRED, KNIT_PARTY_MAX - 1),
    KNIT_MSG_F_UINT(K_COUNT, KNIT_MSG_REQUIRED, KNIT_PARTY_MAX),
    KNIT_MSG_F_BOOL(K_LISTENING, KNIT_MSG_OPTIONAL),
};
static const struct knit_msg_field answer_fields[] = {
    KNIT_MSG_F_UINT(K_STATUS, KNIT_MSG_REQUIRED, KNIT_PARTY_WRONG_INDEX),
    KNIT_MSG_F_STR(K_TEXT, KNIT_MSG_REQUIRED, 0, KNIT_PARTY_TEXT_MAX),
};
static const struct knit_msg_schema hello_schema =
    KNIT_MSG_SCHEMA(hello_fields);
static const struct knit_msg_schema answer_schema =
    KNIT_MSG_SCHEMA(answer_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_PARTY_HELLO:
        return &hello_schema;
    case KNIT_PARTY_ANSWER:
        return &answer_schema;
    default:
        return NULL;
    }
}

bool knit_party_session_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > KNIT_PARTY_SESSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int knit_party_digest(const char *session, const struct knit_peer_id *ids,
                      size_t count, uint8_t out[KNIT_PARTY_DIGEST_LEN])
{
    static const char domain[] = "knit mpyc party list v1";
    size_t slen = session ? strlen(session) : 0;
    if (!knit_party_session_valid(session, slen) || !ids || count < 2 ||
        count > KNIT_PARTY_MAX || !out)
        return KNIT_E_INVAL;
    crypto_generichash_state st;
    uint8_t n;
    crypto_generichash_init(&st, NULL, 0, KNIT_PARTY_DIGEST_LEN);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain);
    /* Length prefixes keep the fields apart: no two (name, list) pairs
     * hash the same bytes. */
    n = (uint8_t)slen;
    crypto_generichash_update(&st, &n, 1);
    crypto_generichash_update(&st, (const uint8_t *)session, slen);
    n = (uint8_t)count;
    crypto_generichash_update(&st, &n, 1);
    for (size_t i = 0; i < count; i++) {
        uint8_t id[KNIT_PEER_ID_BYTES];
        knit_peer_id_to_bytes(&ids[i], id);
        crypto_generichash_update(&st, id, sizeof id);
    }
    crypto_generichash_final(&st, out, KNIT_PARTY_DIGEST_LEN);
    return KNIT_OK;
}

static int check_for_encode(const struct knit_party_msg *m)
{
    if (m->type == KNIT_PARTY_HELLO)
        return knit_party_session_valid(m->session,
                                        strnlen(m->session,
                                                sizeof m->session)) &&
                       m->count >= 2 && m->count <= KNIT_PARTY_MAX &&
                       m->index < m->count
                   ? KNIT_OK : KNIT_E_INVAL;
    if (m->type == KNIT_PARTY_ANSWER)
        return m->status <= KNIT_PARTY_WRONG_INDEX &&
                       strnlen(m->text, sizeof m->text) <= KNIT_PARTY_TEXT_MAX
                   ? KNIT_OK : KNIT_E_INVAL;
    return KNIT_E_INVAL;
}

int knit_party_encode(const struct knit_party_msg *m, uint8_t *buf,
                      size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    int err = check_for_encode(m);
    if (err)
        return err;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    if (m->type == KNIT_PARTY_HELLO) {
        knit_msg_begin(&w, KNIT_PARTY_HELLO, m->listening ? 5 : 4);
        knit_msg_put_str(&w, K_SESSION, m->session, strlen(m->session));
        knit_msg_put_bin(&w, K_DIGEST, m->digest, sizeof m->digest);
        knit_msg_put_uint(&w, K_INDEX, m->index);
        knit_msg_put_uint(&w, K_COUNT, m->count);
        if (m->listening)
            knit_msg_put_bool(&w, K_LISTENING, true);
    } else {
        knit_msg_begin(&w, KNIT_PARTY_ANSWER, 2);
        knit_msg_put_uint(&w, K_STATUS, m->status);
        knit_msg_put_str(&w, K_TEXT, m->text, strlen(m->text));
    }
    /* A text that is not UTF-8 is the writer's KNIT_E_INVAL. */
    return knit_msg_end(&w, frame_len);
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_party_msg *m = out;
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_PARTY_MAX_MESSAGE,
                                    schema_of, &type, &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    size_t n;
    const uint8_t *p;
    if (m->type == KNIT_PARTY_ANSWER) {
        m->status = (uint8_t)knit_msg_uint(&top, K_STATUS);
        p = knit_msg_bytes(&top, K_TEXT, &n);
        if (n > KNIT_PARTY_TEXT_MAX || (n && memchr(p, 0, n)))
            return KNIT_E_MALFORMED;
        if (n)
            memcpy(m->text, p, n);
        return KNIT_OK;
    }
    p = knit_msg_bytes(&top, K_SESSION, &n);
    if (!knit_party_session_valid((const char *)p, n))
        return KNIT_E_INVAL;
    memcpy(m->session, p, n);
    p = knit_msg_bytes(&top, K_DIGEST, &n);
    if (!p || n != sizeof m->digest)
        return KNIT_E_LENGTH;
    memcpy(m->digest, p, n);
    m->index = (uint32_t)knit_msg_uint(&top, K_INDEX);
    m->count = (uint32_t)knit_msg_uint(&top, K_COUNT);
    if (m->count < 2)
        return KNIT_E_LENGTH;
    if (m->index >= m->count)
        return KNIT_E_MALFORMED;
    m->listening = knit_msg_uint(&top, K_LISTENING) != 0;
    return KNIT_OK;
}

int knit_party_decode(const uint8_t *body, size_t len,
                      struct knit_party_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}
