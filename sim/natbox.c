#include "sim/natbox.h"

#include <stdlib.h>

#include "transport/error.h"

struct knit_sim_natbox {
    struct knit_sim_net *net;
    struct knit_sim_engine *engine;
    struct knit_sim_nat *nat;
    struct knit_sim_natbox *outer;
    struct knit_addr public_ip;
    uint64_t lan_delay_us;
};

/* The IP-wide endpoint's hook: a datagram at the public IP, from the
 * Internet or from the outer box's realm. */
static void on_public(void *ctx, const struct knit_addr *src,
                      const struct knit_addr *dst, const uint8_t *pkt,
                      size_t len)
{
    struct knit_sim_natbox *box = ctx;
    struct knit_addr to;
    if (knit_sim_nat_inbound(box->nat, knit_sim_now(box->engine), src, dst,
                             &to) == KNIT_SIM_NAT_FORWARD)
        knit_sim_net_send_inside(box->net, box, src, &to, pkt, len);
}

void knit_sim_natbox_from_inside(struct knit_sim_natbox *box,
                                 const struct knit_addr *src,
                                 const struct knit_addr *dst,
                                 const uint8_t *pkt, size_t len)
{
    if (!box || !src || !dst)
        return;
    struct knit_addr from, to;
    switch (knit_sim_nat_outbound(box->nat, knit_sim_now(box->engine), src,
                                  dst, &from, &to)) {
    case KNIT_SIM_NAT_FORWARD:
        knit_sim_net_send_from(box->net, box->outer, &from, &to, pkt, len);
        break;
    case KNIT_SIM_NAT_HAIRPIN:
        knit_sim_net_send_inside(box->net, box, &from, &to, pkt, len);
        break;
    case KNIT_SIM_NAT_DROP:
        break;
    }
}

int knit_sim_natbox_new(struct knit_sim_natbox **out,
                        struct knit_sim_net *net,
                        struct knit_sim_engine *engine,
                        const struct knit_sim_nat_config *cfg,
                        struct knit_sim_natbox *outer, uint64_t lan_delay_us)
{
    if (!out)
        return KNIT_E_INVAL;
    *out = NULL;
    if (!net || !engine || !cfg || (outer && outer->net != net) ||
        lan_delay_us > KNIT_SIM_NATBOX_MAX_LAN_DELAY_US)
        return KNIT_E_INVAL;
    struct knit_sim_natbox *box = calloc(1, sizeof *box);
    if (!box)
        return KNIT_E_NOMEM;
    box->net = net;
    box->engine = engine;
    box->outer = outer;
    box->public_ip = cfg->public_ip;
    box->public_ip.port = 0;
    box->lan_delay_us = lan_delay_us ? lan_delay_us
                                     : KNIT_SIM_NATBOX_LAN_DELAY_US;
    int err = knit_sim_nat_new(&box->nat, cfg);
    if (err == KNIT_OK)
        err = knit_sim_net_attach_ip_behind(net, outer, &box->public_ip,
                                            on_public, box);
    if (err) {
        knit_sim_nat_free(box->nat);
        free(box);
        return err;
    }
    *out = box;
    return KNIT_OK;
}

void knit_sim_natbox_free(struct knit_sim_natbox *box)
{
    if (!box)
        return;
    knit_sim_nat_free(box->nat);
    free(box);
}

struct knit_sim_nat *knit_sim_natbox_nat(struct knit_sim_natbox *box)
{
    return box->nat;
}

struct knit_sim_net *knit_sim_natbox_net(const struct knit_sim_natbox *box)
{
    return box->net;
}

const struct knit_addr *
knit_sim_natbox_public_ip(const struct knit_sim_natbox *box)
{
    return &box->public_ip;
}

uint64_t knit_sim_natbox_lan_delay(const struct knit_sim_natbox *box)
{
    return box->lan_delay_us;
}
