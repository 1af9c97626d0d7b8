/* A NAT box on the virtual network: one NAT (sim/nat.h) wired into the net.
 *
 * The box owns its NAT and nothing else. Its public IP is an IP-wide
 * endpoint of the net (sim/net.h): on the Internet, or, for a box behind
 * another box (carrier-grade NAT), inside the outer box's realm. Hosts sit
 * behind it through knit_sim_net_add_host_behind; the net owns them and
 * removes them as any host (deferred). Scenarios create boxes after the net
 * and before the hosts behind them.
 *
 * Outbound, a private host's datagram reaches the box after lan_delay_us;
 * the NAT translates it and the box sends it from the mapping onto the
 * Internet (or up into the outer box), hairpins it back inside (again after
 * lan_delay_us) or drops it. Inbound, a datagram to the public IP is
 * translated and sent down to the private endpoint after lan_delay_us, or
 * dropped. Drops are counted by the NAT (knit_sim_natbox_nat, then
 * knit_sim_nat_get_stats); the NAT sees the engine's time.
 *
 * LAN: the box's private side is also a switched LAN. A host's datagram
 * to the private ip:port of a host behind the same box (its main address
 * or an extra socket; the sender itself included, as loopback would) goes
 * straight there after lan_delay_us, with the sender's private address as
 * its source: no translation, no mapping made or refreshed, and it works
 * with hairpinning off, as on a home LAN. The net routes it (sim/net.c)
 * and counts it in its lan_delivered; the NAT never sees it. A private
 * destination that no host of the same box holds goes through the NAT as
 * before (forwarded out, where nobody holds it, or dropped).
 *
 * Boxes behind boxes: hosts of an inner box reach each other on the inner
 * LAN, as above. The inner box itself is no LAN peer of the outer realm:
 * what it forwards always goes up into the outer box's NAT, so a host of
 * an inner box does not reach a host of the outer realm by its private
 * address, and a host of the outer realm does not reach the inner box's
 * public IP across the LAN either. Subscribers of a carrier-grade NAT thus
 * reach each other only through it (its hairpin), as on an access network
 * that isolates subscribers; a LAN joins the hosts of one box only.
 *
 * Free order: the net first (it frees the hosts behind the boxes and the
 * datagrams in flight, the boxes' own included), then the boxes in any
 * order, then the engine. A box cannot leave a running net. */
#ifndef KNIT_SIM_NATBOX_H
#define KNIT_SIM_NATBOX_H

#include <stddef.h>
#include <stdint.h>

#include "sim/engine.h"
#include "sim/nat.h"
#include "sim/net.h"
#include "transport/io.h"

struct knit_sim_natbox;

/* lan_delay_us when 0 is passed. */
#define KNIT_SIM_NATBOX_LAN_DELAY_US 1000ull
/* Largest lan_delay_us accepted (one second). */
#define KNIT_SIM_NATBOX_MAX_LAN_DELAY_US 1000000ull

/* Creates the box with a NAT made from cfg (its public_ip is the box's) and
 * attaches the public IP on net, or inside outer when outer is not NULL.
 * lan_delay_us: one private-side hop, 0 = KNIT_SIM_NATBOX_LAN_DELAY_US.
 * Returns 0, KNIT_E_INVAL (NULL argument, outer on another net, lan delay
 * over the maximum, or what knit_sim_nat_new refuses), KNIT_E_EXISTS (the
 * public IP is already held there) or KNIT_E_NOMEM. */
int knit_sim_natbox_new(struct knit_sim_natbox **out,
                        struct knit_sim_net *net,
                        struct knit_sim_engine *engine,
                        const struct knit_sim_nat_config *cfg,
                        struct knit_sim_natbox *outer, uint64_t lan_delay_us);
/* After the net is freed (see above). NULL is a no-op. */
void knit_sim_natbox_free(struct knit_sim_natbox *box);

/* For its statistics; knit_sim_nat_expire may be called on it too. */
struct knit_sim_nat *knit_sim_natbox_nat(struct knit_sim_natbox *box);
struct knit_sim_net *knit_sim_natbox_net(const struct knit_sim_natbox *box);
/* IPv4, port 0. */
const struct knit_addr *
knit_sim_natbox_public_ip(const struct knit_sim_natbox *box);
uint64_t knit_sim_natbox_lan_delay(const struct knit_sim_natbox *box);

/* A datagram from the private endpoint src to dst reaches the box now and
 * goes through its NAT. The net calls this when a host's datagram arrives;
 * a test may call it to send from a private address with no host. */
void knit_sim_natbox_from_inside(struct knit_sim_natbox *box,
                                 const struct knit_addr *src,
                                 const struct knit_addr *dst,
                                 const uint8_t *pkt, size_t len);

#endif
