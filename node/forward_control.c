/* Control requests for port forwarding: decode, check, call the
 * forwarder, answer. Errors go back with a sentence that says which
 * argument was wrong, as the CLI prints it unchanged. */
#include "forward_control.h"

#include <stdio.h>
#include <string.h>

#include "control_proto.h"
#include "service_msg.h"
#include "transport/error.h"

bool knit_forward_control_handles(uint64_t type)
{
    return type >= KNIT_CTL_EXPOSE_REQUEST &&
           type <= KNIT_CTL_FORWARDS_REQUEST &&
           type != KNIT_CTL_FORWARD_RESPONSE;
}

/* Sends err with text to the client; the handler then answers nothing. */
static int fail(struct knit_control_client *client, size_t *out_len, int err,
                const char *text)
{
    *out_len = 0;
    knit_control_send_error(client, err, text);
    return KNIT_OK;
}

static int answer_ok(uint8_t *out, size_t cap, size_t *out_len)
{
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_OK, 0);
    return knit_msg_end(&w, out_len);
}

/* The name as a C string; the schema bounds it to 1..64 bytes. */
static void get_service(const struct knit_msg *m, unsigned key,
                        char out[KNIT_FORWARD_SERVICE_MAX + 1])
{
    size_t n;
    const uint8_t *p = knit_msg_bytes(m, key, &n);
    if (n > KNIT_FORWARD_SERVICE_MAX)
        n = KNIT_FORWARD_SERVICE_MAX;
    memcpy(out, p, n);
    out[n] = '\0';
}

static int expose(struct knit_forwarder *f, struct knit_control_client *c,
                  const struct knit_msg *m, uint8_t *out, size_t cap,
                  size_t *out_len)
{
    char service[KNIT_FORWARD_SERVICE_MAX + 1], text[256];
    get_service(m, 1, service);
    uint16_t port = (uint16_t)knit_msg_uint(m, 2);
    bool any = knit_msg_uint(m, 4) != 0;
    static struct knit_peer_id allow[KNIT_FORWARD_MAX_ALLOW];
    size_t count = 0;
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t n;
    int err = knit_msg_iter_init(&it, m, 3);
    while (err == KNIT_OK &&
           (err = knit_msg_next_bytes(&it, &p, &n)) == KNIT_OK) {
        if (count == KNIT_FORWARD_MAX_ALLOW)
            return fail(c, out_len, KNIT_E_TOO_BIG, "too many allowed peers");
        int perr = knit_peer_id_from_text(&allow[count], (const char *)p, n);
        if (perr) {
            snprintf(text, sizeof text, "invalid allowed peer ID '%.*s': %s",
                     (int)n, (const char *)p, knit_strerror(perr));
            return fail(c, out_len, perr, text);
        }
        count++;
    }
    if (port == 0)
        return fail(c, out_len, KNIT_E_BAD_PORT, "the port must be 1..65535");
    if (any == (count > 0))
        return fail(c, out_len, KNIT_E_INVAL,
                    any ? "allow any peer or list peers, not both"
                        : "name the peers allowed (--allow <peer-id>), or "
                          "say --allow-any");
    err = knit_forwarder_expose(f, service, port, allow, count,
                                knit_msg_uint(m, 5) ? (const void *)c : NULL);
    if (err == KNIT_E_EXISTS) {
        snprintf(text, sizeof text, "service '%s' is exposed already "
                 "(remove it first: knit expose --remove %s)", service,
                 service);
        return fail(c, out_len, err, text);
    }
    if (err == KNIT_E_INVAL) {
        snprintf(text, sizeof text, "invalid service name '%s': use 1..64 "
                 "of A-Z a-z 0-9 . _ / : -", service);
        return fail(c, out_len, err, text);
    }
    if (err == KNIT_E_LIMIT)
        return fail(c, out_len, err, "too many exposed services (64)");
    return err ? err : answer_ok(out, cap, out_len);
}

static int forward(struct knit_forwarder *f, struct knit_control_client *c,
                   const struct knit_msg *m, uint8_t *out, size_t cap,
                   size_t *out_len)
{
    char service[KNIT_FORWARD_SERVICE_MAX + 1], text[256];
    get_service(m, 3, service);
    uint16_t port = (uint16_t)knit_msg_uint(m, 1);
    size_t n;
    const uint8_t *p = knit_msg_bytes(m, 2, &n);
    struct knit_peer_id peer;
    int err = knit_peer_id_from_text(&peer, (const char *)p, n);
    if (err) {
        snprintf(text, sizeof text, "invalid peer ID '%.*s': %s", (int)n,
                 (const char *)p, knit_strerror(err));
        return fail(c, out_len, err, text);
    }
    if (!knit_service_name_valid(service, strlen(service))) {
        snprintf(text, sizeof text, "invalid service name '%s': use 1..64 "
                 "of A-Z a-z 0-9 . _ / : -", service);
        return fail(c, out_len, KNIT_E_INVAL, text);
    }
    err = knit_forwarder_forward(f, &port, &peer, service, true,
                                 knit_msg_uint(m, 4) ? (const void *)c
                                                     : NULL);
    if (err == KNIT_E_INVAL)
        return fail(c, out_len, err, "that is this daemon's own peer ID");
    if (err == KNIT_E_ADDR_IN_USE) {
        snprintf(text, sizeof text, "port %u on 127.0.0.1 is taken",
                 (unsigned)knit_msg_uint(m, 1));
        return fail(c, out_len, err, text);
    }
    if (err == KNIT_E_LIMIT)
        return fail(c, out_len, err, "too many forwards (64)");
    if (err)
        return err;
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_FORWARD_RESPONSE, 1);
    knit_msg_put_uint(&w, 1, port);
    return knit_msg_end(&w, out_len);
}

static int list(struct knit_forwarder *f, uint8_t *out, size_t cap,
                size_t *out_len)
{
    static struct knit_forward_expose_info ex[KNIT_FORWARD_MAX_EXPOSES];
    static struct knit_forward_listener_info fw[KNIT_FORWARD_MAX_LISTENERS];
    size_t nex = knit_forwarder_list_exposes(f, ex, KNIT_FORWARD_MAX_EXPOSES);
    size_t nfw = knit_forwarder_list_forwards(f, fw,
                                              KNIT_FORWARD_MAX_LISTENERS);
    char id[KNIT_PEER_ID_TEXT_MAX];
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_FORWARDS_RESPONSE, 2);
    knit_msg_put_array_begin(&w, 1, (uint32_t)nex);
    for (size_t i = 0; i < nex; i++) {
        knit_msg_add_map_begin(&w, 5);
        knit_msg_put_str(&w, 1, ex[i].service, strlen(ex[i].service));
        knit_msg_put_uint(&w, 2, ex[i].port);
        knit_msg_put_array_begin(&w, 3, (uint32_t)ex[i].allow_count);
        for (size_t j = 0; j < ex[i].allow_count; j++) {
            knit_peer_id_to_text(&ex[i].allow[j], id, sizeof id);
            knit_msg_add_str(&w, id, strlen(id));
        }
        knit_msg_array_end(&w);
        knit_msg_put_bool(&w, 4, ex[i].allow_count == 0);
        knit_msg_put_uint(&w, 5, ex[i].connections);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    knit_msg_put_array_begin(&w, 2, (uint32_t)nfw);
    for (size_t i = 0; i < nfw; i++) {
        knit_peer_id_to_text(&fw[i].peer, id, sizeof id);
        knit_msg_add_map_begin(&w, 5);
        knit_msg_put_uint(&w, 1, fw[i].port);
        knit_msg_put_str(&w, 2, id, strlen(id));
        knit_msg_put_str(&w, 3, fw[i].service, strlen(fw[i].service));
        knit_msg_put_bool(&w, 4, fw[i].listening);
        knit_msg_put_uint(&w, 5, fw[i].connections);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    return knit_msg_end(&w, out_len);
}

int knit_forward_control(struct knit_forwarder *f,
                         struct knit_control_client *client, uint64_t type,
                         const uint8_t *body, size_t len, uint8_t *out,
                         size_t cap, size_t *out_len)
{
    if (!f)
        return KNIT_E_UNSUPPORTED;
    struct knit_msg m;
    char text[160];
    int err;
    switch (type) {
    case KNIT_CTL_EXPOSE_REQUEST:
        err = knit_msg_decode(body, len, &knit_control_expose_request, &m);
        return err ? err : expose(f, client, &m, out, cap, out_len);
    case KNIT_CTL_UNEXPOSE_REQUEST:
        err = knit_msg_decode(body, len, &knit_control_unexpose_request, &m);
        if (err)
            return err;
        char service[KNIT_FORWARD_SERVICE_MAX + 1];
        get_service(&m, 1, service);
        err = knit_forwarder_unexpose(f, service);
        if (err == KNIT_E_NOT_FOUND) {
            snprintf(text, sizeof text, "no service '%s' is exposed",
                     service);
            return fail(client, out_len, err, text);
        }
        return err ? err : answer_ok(out, cap, out_len);
    case KNIT_CTL_FORWARD_REQUEST:
        err = knit_msg_decode(body, len, &knit_control_forward_request, &m);
        return err ? err : forward(f, client, &m, out, cap, out_len);
    case KNIT_CTL_UNFORWARD_REQUEST:
        err = knit_msg_decode(body, len, &knit_control_unforward_request,
                              &m);
        if (err)
            return err;
        err = knit_forwarder_unforward(f, (uint16_t)knit_msg_uint(&m, 1));
        if (err == KNIT_E_NOT_FOUND) {
            snprintf(text, sizeof text, "no forward listens on port %u",
                     (unsigned)knit_msg_uint(&m, 1));
            return fail(client, out_len, err, text);
        }
        return err ? err : answer_ok(out, cap, out_len);
    case KNIT_CTL_FORWARDS_REQUEST:
        err = knit_msg_decode(body, len, &knit_control_forwards_request, &m);
        return err ? err : list(f, out, cap, out_len);
    default:
        return KNIT_E_UNSUPPORTED;
    }
}
