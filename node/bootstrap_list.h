/* Bootstrap lists: the peers a node first contacts to join the DHT.
 *
 * Parses the text of `knit daemon --bootstrap MULTIADDR` and of a
 * --bootstrap-file (one multiaddr per line) into peer ID + UDP endpoint
 * pairs. Pure text handling with no I/O, in the node core so that it can be
 * fuzzed (tests/fuzz/fuzz_bootstrap_list.c); the CLI (node/cli_daemon.c)
 * reads the file and reports errors, the daemon dials the result.
 *
 * A bootstrap peer is /ip4/<ip>/udp/<port>/p2p/<id> or the /ip6 form: it
 * must name the peer (the dialer needs its key for Noise IK) and one
 * endpoint that can be dialed, so not 0.0.0.0, :: or port 0. Relayed
 * addresses are refused: a node joining has no relay yet. */
#ifndef KNIT_BOOTSTRAP_LIST_H
#define KNIT_BOOTSTRAP_LIST_H

#include <stddef.h>

#include "proto/peer_id.h"
#include "transport/io.h"

struct knit_bootstrap_peer {
    struct knit_peer_id id;
    struct knit_addr addr;
};

/* Parses one multiaddr text (not NUL-terminated, len bytes, no surrounding
 * whitespace allowed). Errors: those of knit_multiaddr_parse; KNIT_E_SHAPE
 * when it is not endpoint + /p2p; KNIT_E_BAD_IP for an unspecified address
 * (0.0.0.0, ::) and KNIT_E_BAD_PORT for port 0, which cannot be dialed. */
int knit_bootstrap_parse_one(const char *text, size_t len,
                             struct knit_bootstrap_peer *out);

/* Appends p to peers[0..*count) unless a peer with its ID is there already
 * (the first address given for a peer is kept). KNIT_E_TOO_BIG when a new
 * peer would go past cap. */
int knit_bootstrap_add(struct knit_bootstrap_peer *peers, size_t cap,
                       size_t *count, const struct knit_bootstrap_peer *p);

/* Parses a whole file's text: lines end at '\n'; each is trimmed of
 * leading and trailing whitespace (so "\r\n" endings work); empty lines and
 * lines starting with '#' are skipped; every other line must be one
 * multiaddr as for knit_bootstrap_parse_one. Peers are appended with
 * knit_bootstrap_add, so duplicates merge with each other and with what
 * peers already held. Errors, with *bad_line the 1-based line (0 when there
 * is no error):
 *   KNIT_E_MALFORMED  a NUL byte in the line (not a text file)
 *   KNIT_E_TOO_BIG    a line of more than KNIT_MA_TEXT_MAX - 1 bytes, not
 *                     counting its '\n' (comments too: no line is buffered
 *                     or shown unbounded); or a new peer past cap
 *   others            the line's knit_bootstrap_parse_one error
 * On error, the peers of earlier lines stay appended. */
int knit_bootstrap_parse_text(const char *text, size_t len,
                              struct knit_bootstrap_peer *peers, size_t cap,
                              size_t *count, size_t *bad_line);

/* Line n (1-based) of text as knit_bootstrap_parse_text splits it, without
 * its '\n' and untrimmed, so an error message can show it. KNIT_E_NOT_FOUND
 * when the text has fewer lines. */
int knit_bootstrap_line(const char *text, size_t len, size_t n,
                        const char **line, size_t *line_len);

#endif
