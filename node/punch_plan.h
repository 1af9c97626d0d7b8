/* How two peers punch a hole between their NATs, decided the same way on
 * both sides from what each told the other (punch_msg.h CONNECT), and the
 * budget of each way.
 *
 * A side is hard when its NAT maps per destination (address-dependent or
 * address-and-port-dependent mapping, RFC 4787) and it is not publicly
 * reachable: the port its peer would have to aim at is not the one anybody
 * observed. A side of unknown mapping counts as easy: trying costs a few
 * small packets.
 *
 *   easy <-> easy   DIRECT: both probe every candidate of the other at the
 *                   agreed moment; each probe opens its own NAT for the
 *                   other's, so the later one gets through.
 *   hard <-> easy   birthday method: the hard side opens
 *                   PUNCH_BIRTHDAY_SOCKETS sockets and sends one probe
 *                   from each to the easy side, so its NAT holds that many
 *                   mappings open to the easy side's one endpoint; the easy
 *                   side sends probes to random ports of the hard side's IP,
 *                   paced, until one lands on such a mapping. With 256 open
 *                   mappings among the 64 512 ports above 1023, 1 024
 *                   probes hit at least once with probability
 *                   1 - (1 - 256/64512)^1024, about 98 %.
 *   hard <-> hard   LAN_ONLY: no port can be predicted on either side;
 *                   only LAN candidates (peers behind one NAT) are tried,
 *                   and the session stays relayed unless one of them has a
 *                   port mapping (which makes it easy).
 * Every plan also probes the other side's listed candidates from the main
 * socket, so peers behind one NAT meet on the LAN whatever the NAT does. */
#ifndef KNIT_PUNCH_PLAN_H
#define KNIT_PUNCH_PLAN_H

#include <stdbool.h>
#include <stdint.h>

/* Birthday budget, per attempt: sockets on the hard side (opened
 * PUNCH_SOCKET_BATCH at a time every PUNCH_SOCKET_BATCH_US, one probe
 * each), random-port probes from the easy side (one every
 * PUNCH_SPRAY_INTERVAL_US: 250 a second, 48-byte datagrams, about 12 kB/s;
 * the whole budget takes 4.1 s). */
#define PUNCH_BIRTHDAY_SOCKETS 256
#define PUNCH_SOCKET_BATCH 16
#define PUNCH_SOCKET_BATCH_US 10000
#define PUNCH_SPRAY_PROBES 1024
#define PUNCH_SPRAY_INTERVAL_US 4000
#define PUNCH_SPRAY_PORT_MIN 1024
/* Candidate probes: one to each candidate every PUNCH_ROUND_US, for
 * PUNCH_DIRECT_WINDOW_US (30 rounds). */
#define PUNCH_ROUND_US 100000
#define PUNCH_DIRECT_WINDOW_US 3000000
/* After the probes, time for the challenge of a late hit to come back. */
#define PUNCH_SETTLE_US 2000000

enum punch_plan_kind {
    PUNCH_PLAN_DIRECT = 1,
    PUNCH_PLAN_SPRAY,          /* birthday, we are the easy side */
    PUNCH_PLAN_SOCKETS,        /* birthday, we are the hard side */
    PUNCH_PLAN_LAN_ONLY,
};

struct punch_side {
    uint8_t mapping;           /* enum knit_nat_mapping */
    uint8_t filtering;         /* enum knit_nat_filtering */
    uint8_t reach;             /* enum knit_reachability */
};

bool punch_side_is_hard(const struct punch_side *side);
enum punch_plan_kind punch_plan(const struct punch_side *self,
                                const struct punch_side *peer);
/* How long the probing of a plan lasts (before PUNCH_SETTLE_US). */
uint64_t punch_plan_window_us(enum punch_plan_kind plan);
const char *punch_plan_name(enum punch_plan_kind plan);

/* Random ports for the easy side's spray, each at most once per attempt:
 * a bitset of the ports used (8 KiB, on the heap while the attempt lasts). */
struct punch_spray {
    uint8_t *used;             /* 65 536 bits */
    uint32_t count;
};
/* Ports from random 16-bit draws: the first draw in [PUNCH_SPRAY_PORT_MIN,
 * 65535] not used yet and not skip (the port already probed as a
 * candidate; 0 for none); the next free port up from the last draw when
 * every draw was used. 0 when the budget is spent or memory ran out. */
uint16_t punch_spray_next(struct punch_spray *sp, const uint16_t draws[4],
                          uint16_t skip);
void punch_spray_free(struct punch_spray *sp);

#endif
