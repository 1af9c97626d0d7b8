/* portmap_probe: the port-mapping client (node/portmap.h) alone on a uv
 * loop, for the natlab test, without a knit daemon.
 *
 *   portmap_probe --port P [--method pcp|nat-pmp|upnp|all] [--lease S]
 *                 [--timeout S] [--hold S]
 *
 * Asks the gateway to map UDP port P (the port need not be bound here:
 * the test listens on it with udp_probe) and prints one JSON line per
 * event on stdout:
 *   {"event":"mapped","method":"pcp","external":"203.0.113.1:4101",
 *    "ip":"203.0.113.1","port":4101,"ms":12}     a mapping, ms after start
 *   {"event":"lost"}                              the mapping was lost
 *   {"event":"stopping","state":"mapped","renewals":R,"lease_left_s":L,
 *    "last_error":"..."}                          stop begins (status then)
 *   {"event":"failed","error":"..."}              no mapping came within
 *                                                 --timeout S (default 20)
 *   {"event":"done","ms":N}                       stop finished: the mapping
 *                                                 is deleted (or given up
 *                                                 on), N ms after it began
 * Once mapped it holds the mapping until SIGTERM or SIGINT, or for --hold S
 * seconds when given, then stops (deleting it). Exit status: 0 after a
 * mapping, 1 when none came, 2 on bad usage. Logs go to stderr. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "node/portmap.h"
#include "transport/error.h"
#include "transport/io.h"

struct probe {
    uv_loop_t *loop;
    struct knit_portmap *pm;
    uv_timer_t timer;         /* --timeout, then --hold */
    uv_signal_t sigterm, sigint;
    uint64_t start_ms, stop_ms;
    long hold_s;
    bool mapped, stopping;
};

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_done(void *ctx)
{
    struct probe *p = ctx;
    printf("{\"event\":\"done\",\"ms\":%llu}\n",
           (unsigned long long)(uv_now(p->loop) - p->stop_ms));
    fflush(stdout);
    p->pm = NULL;
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->sigterm, on_closed);
    uv_close((uv_handle_t *)&p->sigint, on_closed);
}

static void stop(struct probe *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    uv_timer_stop(&p->timer);
    struct knit_portmap_status st;
    knit_portmap_get_status(p->pm, &st);
    printf("{\"event\":\"stopping\",\"state\":\"%s\",\"renewals\":%u,"
           "\"lease_left_s\":%u,\"last_error\":",
           knit_portmap_state_name(st.state), st.renewals, st.lease_left_s);
    print_json_string(st.last_error);
    printf("}\n");
    if (!p->mapped) {
        printf("{\"event\":\"failed\",\"error\":");
        print_json_string(st.last_error[0] ? st.last_error : "no answer yet");
        printf("}\n");
    }
    fflush(stdout);
    p->stop_ms = uv_now(p->loop);
    knit_portmap_stop(p->pm, on_done, p);
}

static void on_timer(uv_timer_t *t)
{
    stop(t->data);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop(s->data);
}

static void on_mapping(void *ctx, const struct knit_addr *mapped,
                       const char *method)
{
    struct probe *p = ctx;
    if (!mapped) {
        printf("{\"event\":\"lost\"}\n");
        fflush(stdout);
        return;
    }
    char text[KNIT_ADDR_TEXT_MAX], ip[KNIT_ADDR_TEXT_MAX];
    knit_addr_format(mapped, text, sizeof text);
    snprintf(ip, sizeof ip, "%s", text);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
    printf("{\"event\":\"mapped\",\"method\":\"%s\",\"external\":\"%s\","
           "\"ip\":\"%s\",\"port\":%u,\"ms\":%llu}\n",
           method, text, ip, mapped->port,
           (unsigned long long)(uv_now(p->loop) - p->start_ms));
    fflush(stdout);
    if (!p->mapped && p->hold_s > 0) {
        uv_timer_stop(&p->timer);
        uv_timer_start(&p->timer, on_timer, (uint64_t)p->hold_s * 1000, 0);
    } else if (!p->mapped) {
        uv_timer_stop(&p->timer); /* hold until a signal */
    }
    p->mapped = true;
}

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_method(const char *text, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t bits;
    } names[] = {{"pcp", KNIT_PORTMAP_PCP},
                 {"nat-pmp", KNIT_PORTMAP_NATPMP},
                 {"upnp", KNIT_PORTMAP_UPNP},
                 {"all", KNIT_PORTMAP_ALL}};
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].bits;
            return 0;
        }
    }
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: portmap_probe --port P [--method pcp|nat-pmp|"
                    "upnp|all] [--lease S] [--timeout S] [--hold S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct knit_portmap_config cfg = {0};
    long port = 0, lease = 0, timeout = 20, hold = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(argv[i], "--port") == 0)
            bad = parse_long(v, 1, 65535, &port);
        else if (strcmp(argv[i], "--method") == 0)
            bad = parse_method(v, &cfg.methods);
        else if (strcmp(argv[i], "--lease") == 0)
            bad = parse_long(v, 0, 86400, &lease);
        else if (strcmp(argv[i], "--timeout") == 0)
            bad = parse_long(v, 1, 3600, &timeout);
        else if (strcmp(argv[i], "--hold") == 0)
            bad = parse_long(v, 1, 3600, &hold);
        else
            bad = -1;
        if (bad) {
            fprintf(stderr, "portmap_probe: bad option %s\n", argv[i]);
            return usage();
        }
    }
    if (port == 0)
        return usage();
    cfg.internal_port = (uint16_t)port;
    cfg.lease_s = (uint32_t)lease;

    struct probe p = {.loop = uv_default_loop(), .hold_s = hold};
    p.start_ms = uv_now(p.loop);
    uv_timer_init(p.loop, &p.timer);
    p.timer.data = &p;
    uv_signal_init(p.loop, &p.sigterm);
    uv_signal_init(p.loop, &p.sigint);
    p.sigterm.data = p.sigint.data = &p;
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    int err = knit_portmap_start(p.loop, &cfg, on_mapping, &p, &p.pm);
    if (err) {
        fprintf(stderr, "portmap_probe: %s\n", knit_strerror(err));
        return 1;
    }
    uv_timer_start(&p.timer, on_timer, (uint64_t)timeout * 1000, 0);
    uv_run(p.loop, UV_RUN_DEFAULT);
    uv_loop_close(p.loop);
    return p.mapped ? 0 : 1;
}
