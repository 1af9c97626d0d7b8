#include "daemon_portmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_proto.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

struct knit_daemon_portmap {
    struct knit_node *node;
    struct knit_uv_driver *drv;
    struct knit_portmap *pm;          /* NULL: off, or stopped */
    enum knit_log_level log_level;
    char error[KNIT_PORTMAP_ERROR_MAX]; /* why it is off, if it failed */
};

uint16_t knit_daemon_portmap_port(const struct knit_addr *bound, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bound[i].family == KNIT_AF_IP4 && bound[i].ip[0] != 127 &&
            bound[i].port != 0)
            return bound[i].port;
    return 0;
}

static void addr_text(const struct knit_addr *a, char *out, size_t cap)
{
    struct knit_multiaddr ma;
    if (knit_multiaddr_from_socket(&ma, a, NULL) != KNIT_OK ||
        knit_multiaddr_format(&ma, out, cap) != KNIT_OK)
        snprintf(out, cap, "?");
}

/* The client's news, on the loop thread; never after close. */
static void on_mapping(void *ctx, const struct knit_addr *mapped,
                       const char *method)
{
    struct knit_daemon_portmap *dp = ctx;
    knit_node_set_mapped(dp->node, mapped, knit_uv_driver_now(dp->drv));
    if (dp->log_level >= KNIT_LOG_INFO) {
        char text[KNIT_MA_TEXT_MAX];
        if (mapped) {
            addr_text(mapped, text, sizeof text);
            fprintf(stderr, "knit: [info] port mapping: %s (%s) is offered "
                            "to peers as a hole-punching candidate\n", text,
                    method ? method : "?");
        } else {
            fprintf(stderr, "knit: [info] port mapping: the mapping is "
                            "gone; peers are no longer offered it\n");
        }
    }
    /* The node may have something to send at once. */
    knit_uv_driver_rearm(dp->drv);
}

int knit_daemon_portmap_start(struct knit_daemon_portmap **out,
                              uv_loop_t *loop, struct knit_node *node,
                              struct knit_uv_driver *drv,
                              const struct knit_addr *bound, size_t n,
                              bool enabled, enum knit_log_level log_level)
{
    *out = NULL;
    struct knit_daemon_portmap *dp = calloc(1, sizeof *dp);
    if (!dp)
        return KNIT_E_NOMEM;
    dp->node = node;
    dp->drv = drv;
    dp->log_level = log_level;
    *out = dp;
    uint16_t port = knit_daemon_portmap_port(bound, n);
    if (!enabled) {
        printf("port mapping: off (--no-port-mapping)\n");
        return KNIT_OK;
    }
    if (port == 0) {
        printf("port mapping: off (no IPv4 socket beyond loopback)\n");
        return KNIT_OK;
    }
    struct knit_portmap_config cfg = {.internal_port = port};
    int rc = knit_portmap_start(loop, &cfg, on_mapping, dp, &dp->pm);
    if (rc != KNIT_OK) {
        dp->pm = NULL;
        snprintf(dp->error, sizeof dp->error, "cannot start: %s",
                 knit_strerror(rc));
        printf("port mapping: off (%s)\n", dp->error);
        return KNIT_OK;
    }
    printf("port mapping: asking the gateway to forward UDP port %u\n",
           (unsigned)port);
    return KNIT_OK;
}

static void on_stopped(void *ctx)
{
    free(ctx);
}

void knit_daemon_portmap_close(struct knit_daemon_portmap *dp)
{
    if (!dp)
        return;
    if (!dp->pm) {
        free(dp);
        return;
    }
    struct knit_portmap *pm = dp->pm;
    dp->pm = NULL;
    knit_portmap_stop(pm, on_stopped, dp);
}

static uint8_t state_of(enum knit_portmap_state s)
{
    switch (s) {
    case KNIT_PORTMAP_SEARCHING:
        return KNIT_CONTROL_PORTMAP_SEARCHING;
    case KNIT_PORTMAP_MAPPED:
        return KNIT_CONTROL_PORTMAP_MAPPED;
    case KNIT_PORTMAP_WAITING:
        return KNIT_CONTROL_PORTMAP_WAITING;
    case KNIT_PORTMAP_STOPPING:
        return KNIT_CONTROL_PORTMAP_STOPPING;
    }
    return KNIT_CONTROL_PORTMAP_OFF;
}

void knit_daemon_portmap_info(const struct knit_daemon_portmap *dp,
                              struct knit_daemon_portmap_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = KNIT_CONTROL_PORTMAP_OFF;
    if (!dp)
        return;
    if (!dp->pm) {
        snprintf(out->error, sizeof out->error, "%s", dp->error);
        return;
    }
    struct knit_portmap_status s;
    knit_portmap_get_status(dp->pm, &s);
    out->state = state_of(s.state);
    if (s.method)
        snprintf(out->method, sizeof out->method, "%s", s.method);
    if (s.state == KNIT_PORTMAP_MAPPED) {
        out->external = s.external;
        out->lease_left_s = s.lease_left_s;
    }
    if (s.state == KNIT_PORTMAP_WAITING)
        out->next_try_s = s.next_try_s;
    snprintf(out->error, sizeof out->error, "%s", s.last_error);
}
