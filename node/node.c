#include "node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "event.h"
#include "transport/error.h"

struct node_socket {
    int handle;
    struct knit_addr local;
};

struct knit_node {
    struct knit_io io;
    struct knit_identity identity;
    struct node_socket sockets[KNIT_NODE_MAX_SOCKETS];
    size_t socket_count;
    struct knit_node_stats stats;
};

static void node_log(struct knit_node *node, uint64_t now,
                     enum knit_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void node_log(struct knit_node *node, uint64_t now,
                     enum knit_log_level level, const char *fmt, ...)
{
    if (!node->io.event)
        return;
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct knit_event ev = {.type = KNIT_EVENT_LOG, .now = now};
    ev.u.log.level = level;
    ev.u.log.message = message;
    node->io.event(node->io.ctx, &ev);
}

int knit_node_new(struct knit_node **out, const struct knit_node_config *cfg,
                  const struct knit_io *io, uint64_t now)
{
    (void)now;
    if (!out || !cfg || !cfg->identity || !io || !io->send || !io->random)
        return KNIT_E_INVAL;
    struct knit_node *node = calloc(1, sizeof *node);
    if (!node)
        return KNIT_E_NOMEM;
    node->io = *io;
    node->identity = *cfg->identity;
    *out = node;
    return KNIT_OK;
}

void knit_node_free(struct knit_node *node)
{
    if (!node)
        return;
    knit_identity_wipe(&node->identity);
    free(node);
}

int knit_node_add_socket(struct knit_node *node, int sock,
                         const struct knit_addr *local)
{
    if (node->socket_count == KNIT_NODE_MAX_SOCKETS)
        return KNIT_E_TOO_BIG;
    node->sockets[node->socket_count].handle = sock;
    node->sockets[node->socket_count].local = *local;
    node->socket_count++;
    return KNIT_OK;
}

int knit_node_receive(struct knit_node *node, uint64_t now, int sock,
                      const struct knit_addr *from, const uint8_t *pkt,
                      size_t len)
{
    (void)sock;
    (void)pkt;
    node->stats.packets_received++;
    node->stats.bytes_received += len;
    /* No packet type is defined yet: the session layer will claim them. Until
     * then every datagram is dropped, and said so at debug level. */
    node->stats.packets_dropped++;
    char who[KNIT_ADDR_TEXT_MAX];
    if (knit_addr_format(from, who, sizeof who) != KNIT_OK)
        snprintf(who, sizeof who, "?");
    node_log(node, now, KNIT_LOG_DEBUG, "dropped %zu-byte packet from %s",
             len, who);
    return KNIT_E_UNSUPPORTED;
}

void knit_node_timeout(struct knit_node *node, uint64_t now)
{
    (void)node;
    (void)now;
}

uint64_t knit_node_next_deadline(const struct knit_node *node)
{
    (void)node;
    return KNIT_NO_DEADLINE;
}

const struct knit_peer_id *knit_node_peer_id(const struct knit_node *node)
{
    return &node->identity.id;
}

void knit_node_get_stats(const struct knit_node *node,
                         struct knit_node_stats *out)
{
    *out = node->stats;
}
