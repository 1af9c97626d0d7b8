/* The daemon's answers to the control requests of `knit expose`, `knit
 * forward` and `knit forwards` (types 17..22 of node/control_proto.h),
 * carried out on the forwarder (node/forward.h). Called by node/daemon.c. */
#ifndef KNIT_FORWARD_CONTROL_H
#define KNIT_FORWARD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "forward.h"

/* Whether type is one of ours. */
bool knit_forward_control_handles(uint64_t type);

/* Answers one request as a knit_control_handler does: a response frame in
 * out, or an error sent to the client with a sentence naming what was
 * wrong (then *out_len is 0). */
int knit_forward_control(struct knit_forwarder *f,
                         struct knit_control_client *client, uint64_t type,
                         const uint8_t *body, size_t len, uint8_t *out,
                         size_t cap, size_t *out_len);

#endif
