/* The punch plan both peers derive from their CONNECTs, and the spray's
 * port chooser (node/punch_plan.h). */
#include "node/punch_plan.h"

#include <stdlib.h>

#include "proto/record.h"

bool punch_side_is_hard(const struct punch_side *side)
{
    if (side->reach == KNIT_REACHABILITY_PUBLIC)
        return false;
    return side->mapping == KNIT_MAPPING_ADDRESS_DEPENDENT ||
           side->mapping == KNIT_MAPPING_ADDRESS_PORT_DEPENDENT;
}

enum punch_plan_kind punch_plan(const struct punch_side *self,
                                const struct punch_side *peer)
{
    bool we = punch_side_is_hard(self), they = punch_side_is_hard(peer);
    if (we && they)
        return PUNCH_PLAN_LAN_ONLY;
    if (we)
        return PUNCH_PLAN_SOCKETS;
    if (they)
        return PUNCH_PLAN_SPRAY;
    return PUNCH_PLAN_DIRECT;
}

uint64_t punch_plan_window_us(enum punch_plan_kind plan)
{
    switch (plan) {
    case PUNCH_PLAN_SPRAY:
    case PUNCH_PLAN_SOCKETS:
        /* the spray, plus the hard side's last batch of sockets */
        return (uint64_t)PUNCH_SPRAY_PROBES * PUNCH_SPRAY_INTERVAL_US +
               (uint64_t)PUNCH_BIRTHDAY_SOCKETS / PUNCH_SOCKET_BATCH *
                   PUNCH_SOCKET_BATCH_US;
    default:
        return PUNCH_DIRECT_WINDOW_US;
    }
}

const char *punch_plan_name(enum punch_plan_kind plan)
{
    switch (plan) {
    case PUNCH_PLAN_DIRECT:
        return "direct";
    case PUNCH_PLAN_SPRAY:
        return "birthday (easy side)";
    case PUNCH_PLAN_SOCKETS:
        return "birthday (hard side)";
    case PUNCH_PLAN_LAN_ONLY:
        return "lan only";
    default:
        return "none";
    }
}

#define SPRAY_RANGE (65536u - PUNCH_SPRAY_PORT_MIN)

static bool spray_used(const struct punch_spray *sp, uint16_t port)
{
    return sp->used[port >> 3] & (1u << (port & 7));
}

static void spray_mark(struct punch_spray *sp, uint16_t port)
{
    sp->used[port >> 3] |= (uint8_t)(1u << (port & 7));
    sp->count++;
}

uint16_t punch_spray_next(struct punch_spray *sp, const uint16_t draws[4],
                          uint16_t skip)
{
    if (sp->count >= PUNCH_SPRAY_PROBES)
        return 0;
    if (!sp->used && !(sp->used = calloc(65536 / 8, 1)))
        return 0;
    if (skip && !spray_used(sp, skip))
        spray_mark(sp, skip);   /* probed as a candidate: not again */
    uint16_t port = 0;
    for (int i = 0; i < 4; i++) {
        port = (uint16_t)(PUNCH_SPRAY_PORT_MIN + draws[i] % SPRAY_RANGE);
        if (!spray_used(sp, port)) {
            spray_mark(sp, port);
            return port;
        }
    }
    /* At most PUNCH_SPRAY_PROBES + 1 of the range are used: a free port
     * is always found. */
    for (uint32_t k = 0; k < SPRAY_RANGE; k++) {
        port = (uint16_t)(port == 65535 ? PUNCH_SPRAY_PORT_MIN : port + 1);
        if (!spray_used(sp, port)) {
            spray_mark(sp, port);
            return port;
        }
    }
    return 0;
}

void punch_spray_free(struct punch_spray *sp)
{
    free(sp->used);
    sp->used = NULL;
    sp->count = 0;
}
