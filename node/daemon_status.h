/* The daemon's answer to `knit status`: what the node knows of how the
 * Internet sees it (node/node.h, knit_node_traversal_status), its hole
 * punching, and the daemon's port mapping (node/daemon_portmap.h), as a
 * KNIT_CTL_STATUS_RESPONSE (node/control_proto.h). Owned by node/daemon.c. */
#ifndef KNIT_DAEMON_STATUS_H
#define KNIT_DAEMON_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon_portmap.h"
#include "node.h"

/* Writes the whole response frame into out; now is the driver's clock,
 * portmap the port mapping's state (knit_daemon_portmap_info). */
int knit_daemon_answer_status(struct knit_node *node, uint64_t now,
                              const struct knit_daemon_portmap_info *portmap,
                              uint8_t *out, size_t cap, size_t *out_len);

#endif
