/* The messages of /knit/forward/1, the port-forwarding protocol
 * (node/forward.h runs it; this file only encodes and decodes).
 *
 * The side that forwards a local TCP connection opens a stream named
 * KNIT_SERVICE_PROTOCOL and writes OPEN; the exposing side answers with
 * ANSWER. After an ANSWER of status 0 the stream carries the TCP bytes
 * both ways; after any other status the exposing side closes the stream.
 * Each message is one length-prefixed msgpack frame (proto/msg.h).
 *
 *   type 1 OPEN, fields (msgpack map keys):
 *   1 service   str, 1..KNIT_SERVICE_NAME_MAX bytes of [A-Za-z0-9._/:-]
 *
 *   type 2 ANSWER, fields:
 *   1 status    uint 0..3 (enum knit_service_status)
 *   2 text      str, 0..KNIT_SERVICE_TEXT_MAX bytes of UTF-8 without NUL:
 *               why, for the log of the refused side ("" when status 0)
 *
 * Core code (sans-IO): no sockets, no clocks. */
#ifndef KNIT_SERVICE_MSG_H
#define KNIT_SERVICE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNIT_SERVICE_PROTOCOL "/knit/forward/1"
#define KNIT_SERVICE_OPEN 1
#define KNIT_SERVICE_ANSWER 2
#define KNIT_SERVICE_NAME_MAX 64
#define KNIT_SERVICE_TEXT_MAX 200
/* Body limit: an ANSWER with the longest text is about 210 bytes. */
#define KNIT_SERVICE_MAX_MESSAGE 256
/* Room for any frame these functions write. */
#define KNIT_SERVICE_FRAME_MAX (4 + KNIT_SERVICE_MAX_MESSAGE)

enum knit_service_status {
    KNIT_SERVICE_OK = 0,
    KNIT_SERVICE_NO_SUCH_SERVICE = 1,
    KNIT_SERVICE_NOT_ALLOWED = 2,
    KNIT_SERVICE_PORT_REFUSED = 3,   /* the service's local port refused */
};
#define KNIT_SERVICE_STATUS_MAX KNIT_SERVICE_PORT_REFUSED

struct knit_service_msg {
    uint8_t type;                          /* _OPEN or _ANSWER */
    char service[KNIT_SERVICE_NAME_MAX + 1];   /* OPEN, NUL-terminated */
    uint8_t status;                        /* ANSWER */
    char text[KNIT_SERVICE_TEXT_MAX + 1];  /* ANSWER, NUL-terminated */
};

/* Whether len bytes at name make a service name: 1..KNIT_SERVICE_NAME_MAX
 * bytes of [A-Za-z0-9._/:-]. */
bool knit_service_name_valid(const char *name, size_t len);

/* A short English phrase for a status ("not allowed"); never NULL. */
const char *knit_service_status_text(unsigned status);

/* Writes m as one frame (header and body) into buf. KNIT_E_INVAL for what
 * the decoder would refuse (unknown type, a bad service name, a status
 * over KNIT_SERVICE_STATUS_MAX, a text over KNIT_SERVICE_TEXT_MAX bytes or
 * not UTF-8); KNIT_E_NO_SPACE if cap is too small (KNIT_SERVICE_FRAME_MAX
 * always suffices). */
int knit_service_encode(const struct knit_service_msg *m, uint8_t *buf,
                        size_t cap, size_t *frame_len);

/* Decodes one body (after knit_msg_deframe). Errors: those of
 * knit_msg_decode_typed (bad msgpack, wrong types, lengths, unknown or
 * missing fields, trailing bytes, KNIT_E_TOO_BIG over
 * KNIT_SERVICE_MAX_MESSAGE, KNIT_E_UNSUPPORTED for another type), and
 * KNIT_E_MALFORMED for a service name outside the alphabet or a text
 * holding a NUL. out is cleared on error. */
int knit_service_decode(const uint8_t *body, size_t len,
                        struct knit_service_msg *out);

#endif
