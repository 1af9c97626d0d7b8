/* Fuzzes the node core's receive path (node/node.h) with a fake io: no
 * network, randomness from a fixed-seed generator, so every input replays
 * the same. The first input byte picks a mode:
 *
 *   0  the rest is a datagram to a fresh node;
 *   1  the node has sent an initiation and waits: the rest follows a
 *      response, cookie or data header (type from the next byte) that
 *      carries the waiting session's index, with a valid mac1 on
 *      responses, so the session's handshake paths are reached;
 *   2  the session is up: the rest is a run of packets (pn step, 2-byte
 *      length, plaintext) that the harness seals with the peer's real keys,
 *      so the plaintext reaches the conn, the services and the embedder;
 *   3  the rest follows an initiation header and gets a valid mac1, and is
 *      delivered twice to a node with a load threshold of 1 (the second
 *      time a cookie reply is due).
 *
 * Then the node's timers run once (in mode 1 only those already due), and
 * the node is freed: nothing may crash or leak. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/event.h"
#include "node/node.h"
#include "proto/cookie.h"
#include "proto/handshake.h"
#include "proto/hello.h"
#include "proto/identity.h"
#include "proto/keypair.h"
#include "transport/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

#define T0 10000000ull
#define PEER_INDEX 0x0badcafeu
#define PROTO "/fuzz/1"

struct fake {
    uint64_t rng;
    struct knit_node *node;
    uint8_t last[KNIT_HANDSHAKE_MAX];
    size_t last_len;
    unsigned sends;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fake_random(void *ctx, uint8_t *buf, size_t len)
{
    struct fake *f = ctx;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(&f->rng);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(buf + i, &v, n);
    }
}

static int fake_send(void *ctx, int sock, const struct knit_addr *to,
                     const uint8_t *pkt, size_t len)
{
    (void)sock, (void)to;
    struct fake *f = ctx;
    f->sends++;
    if (len <= sizeof f->last) {
        memcpy(f->last, pkt, len);
        f->last_len = len;
    }
    return KNIT_OK;
}

/* The embedder: reads what arrives on its protocol, echoes a little. */
static void fake_event(void *ctx, const struct knit_event *ev)
{
    struct fake *f = ctx;
    if (ev->type != KNIT_EVENT_STREAM_OPENED &&
        ev->type != KNIT_EVENT_STREAM_READABLE)
        return;
    uint8_t buf[256];
    size_t n, accepted;
    bool fin;
    if (knit_node_stream_read(f->node, ev->peer, ev->stream_id, buf,
                              sizeof buf, &n, &fin, ev->now) != KNIT_OK)
        return;
    if (n)
        knit_node_stream_write(f->node, ev->peer, ev->stream_id, buf,
                               n < 32 ? n : 32, ev->now, &accepted);
    if (fin)
        knit_node_stream_finish(f->node, ev->peer, ev->stream_id, ev->now);
    else if (n && buf[0] == 0xee)
        knit_node_stream_reset(f->node, ev->peer, ev->stream_id, 1, ev->now);
}

/* What every input starts from, made once. */
static struct {
    bool ready;
    struct knit_identity node_id, peer_id;
    struct knit_addr node_addr, peer_addr;
    uint8_t initiation[KNIT_HANDSHAKE_MAX];
    size_t initiation_len;
    uint8_t response[KNIT_HANDSHAKE_MAX];
    size_t response_len;
    struct knit_keypair peer_keys;   /* the peer's side of the session */
} g;

static struct knit_node *new_node(struct fake *f, uint32_t load_threshold)
{
    static const char *const protocols[] = {PROTO, NULL};
    memset(f, 0, sizeof *f);
    f->rng = 42;
    struct knit_io io = {.ctx = f, .send = fake_send, .random = fake_random,
                         .event = fake_event};
    /* Small windows: an input can reach them, and a stream's buffers
     * (sized by its window) cost little to set up and free. */
    struct knit_session_config session;
    knit_session_config_default(&session);
    session.conn.max_data = 16384;
    session.conn.stream_window = 4096;
    session.conn.stream_send_buffer = 8192;
    session.conn.max_streams = 16;
    struct knit_node_config cfg = {
        .identity = &g.node_id, .unix_time_us = 1700000000000000ull,
        .protocols = protocols, .session = &session,
        .handshake_load_threshold = load_threshold,
    };
    CHECK(knit_node_new(&f->node, &cfg, &io, T0) == KNIT_OK);
    CHECK(knit_node_add_socket(f->node, 0, &g.node_addr) == KNIT_OK);
    return f->node;
}

/* The node dials the peer; its initiation is the same every time. */
static void dial(struct fake *f)
{
    CHECK(knit_node_connect(f->node, &g.peer_id.id, &g.peer_addr, T0) ==
          KNIT_OK);
    CHECK(f->last_len > 0 && f->last[0] == KNIT_PACKET_INITIATION);
    if (g.ready)
        CHECK(f->last_len == g.initiation_len &&
              memcmp(f->last, g.initiation, f->last_len) == 0);
}

/* Plays the peer's side of the handshake once, with the proto calls. */
static void init_once(void)
{
    uint8_t seed[KNIT_SEED_LEN];
    memset(seed, 0x11, sizeof seed);
    CHECK(knit_identity_from_seed(&g.node_id, seed) == KNIT_OK);
    memset(seed, 0x22, sizeof seed);
    CHECK(knit_identity_from_seed(&g.peer_id, seed) == KNIT_OK);
    const uint8_t ip_n[4] = {192, 0, 2, 1}, ip_p[4] = {198, 51, 100, 2};
    knit_addr_set(&g.node_addr, ip_n, 4, 4001);
    knit_addr_set(&g.peer_addr, ip_p, 4, 4002);

    struct fake f;
    new_node(&f, 0);
    dial(&f);
    memcpy(g.initiation, f.last, f.last_len);
    g.initiation_len = f.last_len;

    struct knit_noise_handshake hs;
    uint8_t e[32], hello[KNIT_HELLO_MAX_BYTES];
    size_t hello_len;
    uint32_t node_index;
    memset(e, 0x33, sizeof e);
    CHECK(knit_handshake_read_initiation(&hs, &g.peer_id, e, g.initiation,
                                         g.initiation_len, &node_index, hello,
                                         sizeof hello, &hello_len) == KNIT_OK);
    struct knit_hello h = {.peer = g.peer_id.id, .instance = 7,
                           .timestamp_us = 1, .max_data = 1 << 20,
                           .stream_window = 1 << 16, .max_streams = 16};
    memcpy(h.agent, "fuzz", 5);
    memcpy(h.protocols[0], PROTO, sizeof PROTO);
    h.protocol_count = 1;
    CHECK(knit_hello_encode(&h, hello, sizeof hello, &hello_len) == KNIT_OK);
    struct knit_cookie_maker maker;
    knit_cookie_maker_init(&maker, g.node_id.x_public);
    CHECK(knit_handshake_response(&hs, PEER_INDEX, node_index, hello,
                                  hello_len, &maker, T0, g.response,
                                  sizeof g.response,
                                  &g.response_len) == KNIT_OK);
    CHECK(knit_keypair_from_handshake(&g.peer_keys, &hs, false, PEER_INDEX,
                                      node_index, T0) == KNIT_OK);
    CHECK(knit_node_receive(f.node, T0 + 1000, 0, &g.peer_addr, g.response,
                            g.response_len) == KNIT_OK);
    CHECK(knit_node_peer_is_up(f.node, &g.peer_id.id));
    knit_node_free(f.node);
    g.ready = true;
}

/* mac1 (and an empty mac2) as a sender that knows the node's key writes
 * them. */
static void add_macs(uint8_t *pkt, size_t len)
{
    struct knit_cookie_maker maker;
    knit_cookie_maker_init(&maker, g.node_id.x_public);
    knit_cookie_add_macs(&maker, pkt, len, T0);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void mode_waiting(struct fake *f, const uint8_t *in, size_t size,
                         uint64_t *now)
{
    if (size < 1)
        return;
    static const uint8_t types[3] = {KNIT_PACKET_RESPONSE, KNIT_PACKET_COOKIE,
                                     KNIT_PACKET_DATA};
    uint8_t type = types[in[0] % 3];
    in++, size--;
    uint32_t node_index;
    memcpy(&node_index, g.initiation + 4, 4);
    uint8_t pkt[4096];
    size_t head = type == KNIT_PACKET_RESPONSE ? 12 : 8;
    if (size > sizeof pkt - head)
        size = sizeof pkt - head;
    memset(pkt, 0, head);
    pkt[0] = type;
    if (type == KNIT_PACKET_RESPONSE) {
        put_u32le(pkt + 4, PEER_INDEX);
        put_u32le(pkt + 8, node_index);
    } else {
        put_u32le(pkt + 4, node_index);
    }
    memcpy(pkt + head, in, size);
    if (type == KNIT_PACKET_RESPONSE)
        add_macs(pkt, head + size);
    knit_node_receive(f->node, *now, 0, &g.peer_addr, pkt, head + size);
}

static void mode_up(struct fake *f, const uint8_t *in, size_t size,
                    uint64_t *now)
{
    CHECK(knit_node_receive(f->node, *now, 0, &g.peer_addr, g.response,
                            g.response_len) == KNIT_OK);
    struct knit_keypair kp = g.peer_keys;
    uint64_t pn = 0;
    size_t off = 0;
    while (off + 3 <= size) {
        pn += in[off];
        size_t len = (size_t)in[off + 1] | (size_t)in[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        uint8_t pkt[4096 + KNIT_DATA_OVERHEAD];
        size_t pkt_len;
        if (knit_keypair_seal(&kp, pn, in + off, len, pkt, sizeof pkt,
                              &pkt_len) == KNIT_OK)
            knit_node_receive(f->node, *now, 0, &g.peer_addr, pkt, pkt_len);
        off += len;
        *now += 2000;
    }
    knit_keypair_wipe(&kp);
}

static void mode_initiation(struct fake *f, const uint8_t *in, size_t size,
                            uint64_t now)
{
    uint8_t pkt[4096];
    if (size > sizeof pkt - 4)
        size = sizeof pkt - 4;
    pkt[0] = KNIT_PACKET_INITIATION;
    pkt[1] = pkt[2] = pkt[3] = 0;
    memcpy(pkt + 4, in, size);
    add_macs(pkt, size + 4);
    knit_node_receive(f->node, now, 0, &g.peer_addr, pkt, size + 4);
    knit_node_receive(f->node, now + 1, 0, &g.peer_addr, pkt, size + 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g.ready)
        init_once();
    if (size < 1)
        return 0;
    struct fake f;
    uint8_t mode = data[0] % 4;
    new_node(&f, mode == 3 ? 1 : 0);
    uint64_t now = T0 + 1000;
    switch (mode) {
    case 0:
        knit_node_receive(f.node, now, 0, &g.peer_addr, data + 1, size - 1);
        break;
    case 1:
        dial(&f);
        mode_waiting(&f, data + 1, size - 1, &now);
        break;
    case 2:
        dial(&f);
        mode_up(&f, data + 1, size - 1, &now);
        break;
    default:
        mode_initiation(&f, data + 1, size - 1, now);
        break;
    }
    /* A node still waiting for its response would retry the handshake at
     * its deadline, four more Diffie-Hellmans for nothing new: it runs
     * only the timers already due. */
    uint64_t t = knit_node_next_deadline(f.node);
    if (mode == 1 && t > now)
        t = now;
    if (t != KNIT_NO_DEADLINE)
        knit_node_timeout(f.node, t > now ? t : now);
    struct knit_node_stats st;
    knit_node_get_stats(f.node, &st);
    CHECK(st.sessions <= 2);
    knit_node_free(f.node);
    return 0;
}
