/* The /knit/forward/1 messages: one schema per type, every field required,
 * and the service name checked against its alphabet here, once, so the
 * forwarder only ever compares names it could have been given itself. */
#include "node/service_msg.h"

#include <string.h>

#include "proto/msg.h"
#include "transport/error.h"

enum { K_SERVICE = 1, K_STATUS = 1, K_TEXT = 2 };

/* Map header, type, the service as str8 of 64: far below the limit; an
 * ANSWER is map header, type, status, text as str8 of 200. */
_Static_assert(1 + 2 + 1 + 2 + KNIT_SERVICE_NAME_MAX <=
                   KNIT_SERVICE_MAX_MESSAGE,
               "KNIT_SERVICE_MAX_MESSAGE too small for an OPEN");
_Static_assert(1 + 2 + 2 + 1 + 2 + KNIT_SERVICE_TEXT_MAX <=
                   KNIT_SERVICE_MAX_MESSAGE,
               "KNIT_SERVICE_MAX_MESSAGE too small for an ANSWER");
_Static_assert(KNIT_SERVICE_FRAME_MAX ==
                   KNIT_MSG_HEADER_LEN + KNIT_SERVICE_MAX_MESSAGE,
               "frame room is header plus body");

static const struct knit_msg_field open_fields[] = {
    KNIT_MSG_F_STR(K_SERVICE, KNIT_MSG_REQUIRED, 1, KNIT_SERVICE_NAME_MAX),
};
static const struct knit_msg_field answer_fields[] = {
    KNIT_MSG_F_UINT(K_STATUS, KNIT_MSG_REQUIRED, KNIT_SERVICE_STATUS_MAX),
    KNIT_MSG_F_STR(K_TEXT, KNIT_MSG_REQUIRED, 0, KNIT_SERVICE_TEXT_MAX),
};
static const struct knit_msg_schema open_schema =
    KNIT_MSG_SCHEMA(open_fields);
static const struct knit_msg_schema answer_schema =
    KNIT_MSG_SCHEMA(answer_fields);

static const struct knit_msg_schema *schema_of(uint64_t type)
{
    switch (type) {
    case KNIT_SERVICE_OPEN:
        return &open_schema;
    case KNIT_SERVICE_ANSWER:
        return &answer_schema;
    default:
        return NULL;
    }
}

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
           c == ':' || c == '-';
}

bool knit_service_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > KNIT_SERVICE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i]))
            return false;
    return true;
}

const char *knit_service_status_text(unsigned status)
{
    switch (status) {
    case KNIT_SERVICE_OK:
        return "ok";
    case KNIT_SERVICE_NO_SUCH_SERVICE:
        return "no such service";
    case KNIT_SERVICE_NOT_ALLOWED:
        return "not allowed";
    case KNIT_SERVICE_PORT_REFUSED:
        return "the service's local port refused the connection";
    default:
        return "unknown status";
    }
}

int knit_service_encode(const struct knit_service_msg *m, uint8_t *buf,
                        size_t cap, size_t *frame_len)
{
    if (!m || !buf || !frame_len)
        return KNIT_E_INVAL;
    *frame_len = 0;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, buf, cap);
    if (m->type == KNIT_SERVICE_OPEN) {
        size_t n = strnlen(m->service, sizeof m->service);
        if (!knit_service_name_valid(m->service, n))
            return KNIT_E_INVAL;
        knit_msg_begin(&w, KNIT_SERVICE_OPEN, 1);
        knit_msg_put_str(&w, K_SERVICE, m->service, n);
    } else if (m->type == KNIT_SERVICE_ANSWER) {
        size_t n = strnlen(m->text, sizeof m->text);
        if (m->status > KNIT_SERVICE_STATUS_MAX || n > KNIT_SERVICE_TEXT_MAX)
            return KNIT_E_INVAL;
        knit_msg_begin(&w, KNIT_SERVICE_ANSWER, 2);
        knit_msg_put_uint(&w, K_STATUS, m->status);
        /* The writer refuses text that is not UTF-8 (KNIT_E_INVAL). */
        knit_msg_put_str(&w, K_TEXT, m->text, n);
    } else {
        return KNIT_E_INVAL;
    }
    return knit_msg_end(&w, frame_len);
}

static int decode_body(const uint8_t *body, size_t len, void *out)
{
    struct knit_service_msg *m = out;
    uint64_t type;
    struct knit_msg top;
    int err = knit_msg_decode_typed(body, len, KNIT_SERVICE_MAX_MESSAGE,
                                    schema_of, &type, &top);
    if (err)
        return err;
    m->type = (uint8_t)type;
    size_t n;
    const uint8_t *p;
    if (m->type == KNIT_SERVICE_OPEN) {
        p = knit_msg_bytes(&top, K_SERVICE, &n);
        /* The schema bounds the length; the alphabet is ours to check. */
        if (!p || !knit_service_name_valid((const char *)p, n))
            return KNIT_E_MALFORMED;
        memcpy(m->service, p, n);
        m->service[n] = '\0';
        return KNIT_OK;
    }
    /* The schema bounds the status to 0..KNIT_SERVICE_STATUS_MAX. */
    m->status = (uint8_t)knit_msg_uint(&top, K_STATUS);
    p = knit_msg_bytes(&top, K_TEXT, &n);
    if (n > KNIT_SERVICE_TEXT_MAX || (n && memchr(p, '\0', n)))
        return KNIT_E_MALFORMED;
    if (n)
        memcpy(m->text, p, n);
    m->text[n] = '\0';
    return KNIT_OK;
}

int knit_service_decode(const uint8_t *body, size_t len,
                        struct knit_service_msg *out)
{
    return knit_msg_decode_whole(body, len, out, sizeof *out, decode_body);
}
