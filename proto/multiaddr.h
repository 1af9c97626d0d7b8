/* Multiaddrs: self-describing addresses, in text and binary form.
 *
 * knit speaks a strict subset of the libp2p multiaddr format: /ip4, /ip6,
 * /udp, /p2p/<peer-id> and /p2p-circuit, with the libp2p protocol codes and
 * binary layout (varint code, then the value; /p2p values are varint
 * length-prefixed peer ID bytes). Only these shapes are accepted:
 *
 *   /ip4|ip6/<ip>/udp/<port>                              a UDP endpoint
 *   /ip4|ip6/<ip>/udp/<port>/p2p/<id>                     a peer at it
 *   /p2p/<id>                                             a bare peer
 *   [<endpoint>]/p2p/<relay>/p2p-circuit[/p2p/<target>]   relayed
 *
 * Everything else is rejected with a precise error. Used by bootstrap lists,
 * signed peer records (binary form), CLI output and the control API. */
#ifndef KNIT_MULTIADDR_H
#define KNIT_MULTIADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/io.h"
#include "peer_id.h"

enum knit_ma_protocol {
    KNIT_MA_IP4 = 4,
    KNIT_MA_IP6 = 41,
    KNIT_MA_UDP = 273,
    KNIT_MA_P2P_CIRCUIT = 290,
    KNIT_MA_P2P = 421,
};

/* The longest accepted shape, endpoint (2) + relay + circuit + target, has
 * 5 components; one spare. */
#define KNIT_MA_MAX_COMPONENTS 6
/* Longest text accepted or produced, including NUL. */
#define KNIT_MA_TEXT_MAX 256
/* Longest binary form: 1+16 + 2+2 + 2*(2+1+38) + 2 = 105 (the test checks
 * the exact figure); rounded up. */
#define KNIT_MA_BINARY_MAX 128

struct knit_ma_component {
    uint16_t protocol;                 /* enum knit_ma_protocol */
    union {
        uint8_t ip4[4];
        uint8_t ip6[16];
        uint16_t port;                 /* host byte order */
        struct knit_peer_id peer;
    } v;
};

struct knit_multiaddr {
    uint8_t count;
    struct knit_ma_component c[KNIT_MA_MAX_COMPONENTS];
};

/* Text form. len excludes any NUL; input longer than KNIT_MA_TEXT_MAX - 1 is
 * KNIT_E_TOO_BIG. Errors: KNIT_E_UNKNOWN_PROTOCOL, KNIT_E_BAD_IP,
 * KNIT_E_BAD_PORT, KNIT_E_BASE58/LENGTH/PREFIX (peer ID), KNIT_E_TRUNCATED
 * (a protocol without its value), KNIT_E_MALFORMED (no leading '/', empty
 * component), KNIT_E_SHAPE (components in an order not listed above),
 * KNIT_E_TRAILING (a trailing '/' or extra components). */
int knit_multiaddr_parse(struct knit_multiaddr *ma, const char *text,
                         size_t len);
int knit_multiaddr_format(const struct knit_multiaddr *ma, char *out,
                          size_t cap);

/* Binary form, with the same shape rules as text. */
int knit_multiaddr_encode(const struct knit_multiaddr *ma, uint8_t *out,
                          size_t cap, size_t *out_len);
int knit_multiaddr_decode(struct knit_multiaddr *ma, const uint8_t *in,
                          size_t len);

bool knit_multiaddr_equal(const struct knit_multiaddr *a,
                          const struct knit_multiaddr *b);

/* /ipX/<ip>/udp/<port>, followed by /p2p/<peer> when peer is not NULL. */
int knit_multiaddr_from_socket(struct knit_multiaddr *ma,
                               const struct knit_addr *addr,
                               const struct knit_peer_id *peer);
/* Decodes a binary multiaddr that must be a bare UDP endpoint,
 * /ip4|ip6/<ip>/udp/<port> and nothing more (KNIT_E_SHAPE otherwise), as
 * the protocols that carry one peer's endpoint want it. */
int knit_multiaddr_decode_endpoint(struct knit_addr *out, const uint8_t *in,
                                   size_t len);
/* Whether a is an endpoint a packet can be sent to or come from: IPv4 or
 * IPv6 (else KNIT_E_SHAPE), not unspecified (KNIT_E_BAD_IP), port not 0
 * (KNIT_E_BAD_PORT). The check every codec carrying one makes. */
int knit_endpoint_check(const struct knit_addr *a);
/* The leading UDP endpoint; KNIT_E_NOT_FOUND if there is none. */
int knit_multiaddr_to_socket(const struct knit_multiaddr *ma,
                             struct knit_addr *addr);
/* The peer the address leads to: the last /p2p component (the target of a
 * circuit address); KNIT_E_NOT_FOUND if there is none. */
int knit_multiaddr_peer(const struct knit_multiaddr *ma,
                        struct knit_peer_id *peer);
bool knit_multiaddr_is_circuit(const struct knit_multiaddr *ma);
/* The relay of a circuit address (the /p2p before /p2p-circuit). */
int knit_multiaddr_relay(const struct knit_multiaddr *ma,
                         struct knit_peer_id *relay);

#endif
