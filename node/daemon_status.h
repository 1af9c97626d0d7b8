/* The daemon's answer to `knit status`: what the node knows of how the
 * Internet sees it (node/node.h, knit_node_traversal_status), as a
 * KNIT_CTL_STATUS_RESPONSE (node/control_proto.h). Owned by node/daemon.c. */
#ifndef KNIT_DAEMON_STATUS_H
#define KNIT_DAEMON_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* Writes the whole response frame into out; now is the driver's clock. */
int knit_daemon_answer_status(struct knit_node *node, uint64_t now,
                              uint8_t *out, size_t cap, size_t *out_len);

#endif
