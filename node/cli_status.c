/* `knit status`: how the Internet sees the running daemon's node, as
 * identify, AutoNAT and its relays taught it, its port mapping and its
 * hole punching (node/daemon_status.c answers). The JSON keys are a stable interface: scripts and the natlab
 * tests read them; add keys, never rename one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control_client.h"
#include "node/reachability.h"
#include "transport/error.h"

#define STATUS_USAGE \
    "usage: knit status [--json] [--data-dir DIR]\n" \
    "\n" \
    "Show what the running daemon knows of how the Internet sees it: its\n" \
    "reachability (AutoNAT: can peers it never contacted reach it?), its\n" \
    "NAT's mapping and filtering behaviour (RFC 4787), the addresses other\n" \
    "peers observe it at, the relayed addresses it holds, what it serves\n" \
    "as a relay for others, the port its gateway forwards to it (port\n" \
    "mapping) and how its hole punching went.\n" \
    "\n" \
    "options:\n" \
    "  --json           print {\"peer_id\": ..., \"reachability\": \"public\",\n" \
    "                   \"private\" or \"unknown\", \"reachability_confidence\":\n" \
    "                   0..3, \"autonat_servers\": N, \"nat\": {\"mapping\": M,\n" \
    "                   \"filtering\": F, \"mapping_confidence\": C,\n" \
    "                   \"filtering_confidence\": C, \"behind_nat\": bool,\n" \
    "                   \"sequential\": bool}, \"observed_addrs\": [{\"addr\":\n" \
    "                   ..., \"observers\": N, \"trusted\": bool,\n" \
    "                   \"confidence\": C}], \"relays\": [multiaddr, ...],\n" \
    "                   \"reservations_served\": N, \"circuits_served\": N,\n" \
    "                   \"alt_port\": port or null, \"port_mapping\":\n" \
    "                   {\"state\": S, \"method\": \"pcp\", \"nat-pmp\",\n" \
    "                   \"upnp\" or null, \"external\": multiaddr or null,\n" \
    "                   \"lease_left_s\": N or null, \"next_try_s\": N or\n" \
    "                   null, \"error\": text or null}, \"hole_punching\":\n" \
    "                   {\"attempts\": N, \"direct\": N, \"failed\": N,\n" \
    "                   \"probes\": N, \"sockets\": N}}, where M and F are\n" \
    "                   \"endpoint-independent\", \"address-dependent\",\n" \
    "                   \"address-and-port-dependent\" or \"unknown\", C\n" \
    "                   is \"none\", \"low\" or \"high\", and S is \"off\",\n" \
    "                   \"searching\", \"mapped\", \"waiting\" (no gateway\n" \
    "                   answered; next try in next_try_s) or \"stopping\"\n" \
    "  --data-dir DIR   the daemon's data directory (see knit --help)\n" \
    "  -h, --help       show this help\n"

/* The schema bounds every enum by its last value, so these index safely. */
static const char *const reachability_names[] = {"unknown", "public",
                                                 "private"};
static const char *const behaviour_names[] = {
    "unknown", "endpoint-independent", "address-dependent",
    "address-and-port-dependent"};
static const char *const confidence_names[] = {"none", "low", "high"};
static const char *const portmap_state_names[] = {
    "off", "searching", "mapped", "waiting", "stopping"};

struct status {
    const uint8_t *id;
    size_t id_len;
    uint64_t reachability, reachability_confidence, autonat_servers;
    uint64_t mapping, mapping_confidence, filtering, filtering_confidence;
    bool behind_nat, sequential;
    uint64_t alt_port, reservations, circuits;
    /* Port mapping (field 16): absent strings have length 0. */
    uint64_t pm_state, pm_lease_left_s, pm_next_try_s;
    const uint8_t *pm_method, *pm_external, *pm_error;
    size_t pm_method_len, pm_external_len, pm_error_len;
    /* Hole punching (field 17). */
    uint64_t punch_attempts, punch_direct, punch_failed, punch_probes;
    uint64_t punch_sockets;
};

static void get_status(const struct knit_msg *m, struct status *s)
{
    s->id = knit_msg_bytes(m, 1, &s->id_len);
    s->reachability = knit_msg_uint(m, 2);
    s->reachability_confidence = knit_msg_uint(m, 3);
    s->autonat_servers = knit_msg_uint(m, 4);
    s->mapping = knit_msg_uint(m, 5);
    s->mapping_confidence = knit_msg_uint(m, 6);
    s->behind_nat = knit_msg_uint(m, 7);
    s->sequential = knit_msg_uint(m, 8);
    s->filtering = knit_msg_uint(m, 9);
    s->filtering_confidence = knit_msg_uint(m, 10);
    s->alt_port = knit_msg_uint(m, 13);
    s->reservations = knit_msg_uint(m, 14);
    s->circuits = knit_msg_uint(m, 15);
    /* The schema requires both maps; a failed read leaves them zero. The
     * strings point into the reply, not into these. */
    struct knit_msg pm, punch;
    if (knit_msg_get_map(m, 16, &pm) != KNIT_OK)
        memset(&pm, 0, sizeof pm);
    s->pm_state = knit_msg_uint(&pm, 1);
    s->pm_method = knit_msg_bytes(&pm, 2, &s->pm_method_len);
    s->pm_external = knit_msg_bytes(&pm, 3, &s->pm_external_len);
    s->pm_lease_left_s = knit_msg_uint(&pm, 4);
    s->pm_next_try_s = knit_msg_uint(&pm, 5);
    s->pm_error = knit_msg_bytes(&pm, 6, &s->pm_error_len);
    if (knit_msg_get_map(m, 17, &punch) != KNIT_OK)
        memset(&punch, 0, sizeof punch);
    s->punch_attempts = knit_msg_uint(&punch, 1);
    s->punch_direct = knit_msg_uint(&punch, 2);
    s->punch_failed = knit_msg_uint(&punch, 3);
    s->punch_probes = knit_msg_uint(&punch, 4);
    s->punch_sockets = knit_msg_uint(&punch, 5);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* A str field as JSON, null when absent or empty. */
static void json_text_or_null(const uint8_t *p, size_t len)
{
    if (len)
        knit_cli_json_bytes(stdout, p, len);
    else
        printf("null");
}

static void json_uint_or_null(bool present, uint64_t v)
{
    if (present)
        printf("%" PRIu64, v);
    else
        printf("null");
}

static void print_portmap_json(const struct status *s)
{
    printf(", \"port_mapping\": {\"state\": \"%s\", \"method\": ",
           portmap_state_names[s->pm_state]);
    json_text_or_null(s->pm_method, s->pm_method_len);
    printf(", \"external\": ");
    json_text_or_null(s->pm_external, s->pm_external_len);
    printf(", \"lease_left_s\": ");
    json_uint_or_null(s->pm_state == KNIT_CONTROL_PORTMAP_MAPPED,
                      s->pm_lease_left_s);
    printf(", \"next_try_s\": ");
    json_uint_or_null(s->pm_state == KNIT_CONTROL_PORTMAP_WAITING,
                      s->pm_next_try_s);
    printf(", \"error\": ");
    json_text_or_null(s->pm_error, s->pm_error_len);
    printf("}");
}

static void print_json(const struct knit_msg *reply, const struct status *s)
{
    printf("{\"peer_id\": ");
    knit_cli_json_bytes(stdout, s->id, s->id_len);
    printf(", \"reachability\": \"%s\", \"reachability_confidence\": %" PRIu64
           ", \"autonat_servers\": %" PRIu64,
           reachability_names[s->reachability], s->reachability_confidence,
           s->autonat_servers);
    printf(", \"nat\": {\"mapping\": \"%s\", \"filtering\": \"%s\", "
           "\"mapping_confidence\": \"%s\", \"filtering_confidence\": \"%s\", "
           "\"behind_nat\": %s, \"sequential\": %s}",
           behaviour_names[s->mapping], behaviour_names[s->filtering],
           confidence_names[s->mapping_confidence],
           confidence_names[s->filtering_confidence],
           s->behind_nat ? "true" : "false", s->sequential ? "true" : "false");
    printf(", \"observed_addrs\": [");
    struct knit_msg_iter it;
    struct knit_msg e;
    knit_msg_iter_init(&it, reply, 11);
    for (int i = 0; knit_msg_next_map(&it, &e) == KNIT_OK; i++) {
        size_t len;
        const uint8_t *addr = knit_msg_bytes(&e, 1, &len);
        printf("%s{\"addr\": ", i ? ", " : "");
        knit_cli_json_bytes(stdout, addr, len);
        printf(", \"observers\": %" PRIu64 ", \"trusted\": %s, "
               "\"confidence\": \"%s\"}", knit_msg_uint(&e, 2),
               knit_msg_uint(&e, 3) ? "true" : "false",
               confidence_names[knit_msg_uint(&e, 4)]);
    }
    printf("], \"relays\": [");
    const uint8_t *p;
    size_t len;
    knit_msg_iter_init(&it, reply, 12);
    for (int i = 0; knit_msg_next_bytes(&it, &p, &len) == KNIT_OK; i++) {
        printf("%s", i ? ", " : "");
        knit_cli_json_bytes(stdout, p, len);
    }
    printf("], \"reservations_served\": %" PRIu64 ", \"circuits_served\": %"
           PRIu64 ", \"alt_port\": ", s->reservations, s->circuits);
    if (s->alt_port)
        printf("%" PRIu64, s->alt_port);
    else
        printf("null");
    print_portmap_json(s);
    printf(", \"hole_punching\": {\"attempts\": %" PRIu64 ", \"direct\": %"
           PRIu64 ", \"failed\": %" PRIu64 ", \"probes\": %" PRIu64
           ", \"sockets\": %" PRIu64 "}}\n", s->punch_attempts,
           s->punch_direct, s->punch_failed, s->punch_probes,
           s->punch_sockets);
}

static void print_nat_text(const struct status *s)
{
    printf("NAT mapping: %s", behaviour_names[s->mapping]);
    if (s->mapping == 0)
        printf(" (not enough observations yet)\n");
    else
        printf(" (%s confidence, %s%s)\n",
               confidence_names[s->mapping_confidence],
               s->behind_nat ? "behind a NAT" : "no NAT",
               s->sequential ? ", sequential ports" : "");
    printf("NAT filtering: %s", behaviour_names[s->filtering]);
    if (s->filtering == 0)
        printf(" (not enough AutoNAT answers yet)\n");
    else
        printf(" (%s confidence)\n",
               confidence_names[s->filtering_confidence]);
}

static void print_observed_text(const struct knit_msg *reply)
{
    struct knit_msg_iter it;
    struct knit_msg e;
    size_t width = 0, rows = 0, len;
    /* Two passes: the address column's width first. */
    knit_msg_iter_init(&it, reply, 11);
    while (knit_msg_next_map(&it, &e) == KNIT_OK) {
        knit_msg_bytes(&e, 1, &len);
        width = len > width ? len : width;
        rows++;
    }
    if (rows == 0) {
        printf("observed addresses: none yet\n");
        return;
    }
    printf("observed addresses:\n");
    knit_msg_iter_init(&it, reply, 11);
    while (knit_msg_next_map(&it, &e) == KNIT_OK) {
        const uint8_t *addr = knit_msg_bytes(&e, 1, &len);
        uint64_t observers = knit_msg_uint(&e, 2);
        bool trusted = knit_msg_uint(&e, 3);
        uint64_t confidence = knit_msg_uint(&e, 4);
        printf("  %-*.*s  %" PRIu64 " %s  %s%s\n", (int)width, (int)len,
               (const char *)addr, observers,
               plural(observers, "observer", "observers"),
               trusted ? "trusted" : "not trusted",
               trusted && confidence < 2 ? " (low confidence)" : "");
    }
}

static void print_relays_text(const struct knit_msg *reply)
{
    struct knit_msg_iter it;
    const uint8_t *p;
    size_t len;
    knit_msg_iter_init(&it, reply, 12);
    if (knit_msg_next_bytes(&it, &p, &len) != KNIT_OK) {
        printf("relays in use: none\n");
        return;
    }
    printf("relays in use:\n");
    do
        printf("  %.*s\n", (int)len, (const char *)p);
    while (knit_msg_next_bytes(&it, &p, &len) == KNIT_OK);
}

static void print_portmap_text(const struct status *s)
{
    printf("port mapping: ");
    switch (s->pm_state) {
    case KNIT_CONTROL_PORTMAP_MAPPED:
        printf("%.*s by %.*s (lease %" PRIu64 " s left)\n",
               (int)s->pm_external_len, (const char *)s->pm_external,
               (int)s->pm_method_len, (const char *)s->pm_method,
               s->pm_lease_left_s);
        break;
    case KNIT_CONTROL_PORTMAP_SEARCHING:
        printf("asking the gateway (PCP, NAT-PMP, UPnP-IGD)\n");
        break;
    case KNIT_CONTROL_PORTMAP_WAITING:
        printf("no gateway mapped a port; next try in %" PRIu64 " s\n",
               s->pm_next_try_s);
        break;
    case KNIT_CONTROL_PORTMAP_STOPPING:
        printf("deleting the mapping\n");
        break;
    default:
        printf("off\n");
        break;
    }
    if (s->pm_error_len)
        printf("  last error: %.*s\n", (int)s->pm_error_len,
               (const char *)s->pm_error);
}

static void print_text(const struct knit_msg *reply, const struct status *s)
{
    printf("peer ID: %.*s\n", (int)s->id_len, (const char *)s->id);
    printf("reachability: %s (confidence %" PRIu64 " of %d, %" PRIu64
           " AutoNAT %s)\n", reachability_names[s->reachability],
           s->reachability_confidence, KNIT_REACH_MAX_CONFIDENCE,
           s->autonat_servers,
           plural(s->autonat_servers, "server", "servers"));
    print_nat_text(s);
    print_observed_text(reply);
    print_relays_text(reply);
    printf("relay service: %" PRIu64 " %s, %" PRIu64 " %s served",
           s->reservations, plural(s->reservations, "reservation",
                                   "reservations"),
           s->circuits, plural(s->circuits, "circuit", "circuits"));
    if (s->alt_port)
        printf(" (alternate port %" PRIu64 ")\n", s->alt_port);
    else
        printf(" (no alternate port)\n");
    print_portmap_text(s);
    printf("hole punching: %" PRIu64 " %s, %" PRIu64 " direct, %" PRIu64
           " failed (%" PRIu64 " %s, %" PRIu64 " birthday %s)\n",
           s->punch_attempts, plural(s->punch_attempts, "attempt",
                                     "attempts"),
           s->punch_direct, s->punch_failed, s->punch_probes,
           plural(s->punch_probes, "probe", "probes"), s->punch_sockets,
           plural(s->punch_sockets, "socket", "sockets"));
}

int knit_cli_status(int argc, char **argv)
{
    struct knit_cli_query q = {0};
    int code;
    if (!knit_cli_parse_query("status", STATUS_USAGE, NULL, argc, argv, &q,
                              &code))
        return code;
    static struct knit_control_reply reply;
    if (!knit_cli_ask_bare("status", q.data_dir_flag,
                           KNIT_CTL_STATUS_REQUEST,
                           KNIT_CTL_STATUS_RESPONSE,
                           &knit_control_status_response, &reply))
        return KNIT_EXIT_FAIL;
    struct status s;
    get_status(&reply.msg, &s);
    if (q.json)
        print_json(&reply.msg, &s);
    else
        print_text(&reply.msg, &s);
    return KNIT_EXIT_OK;
}
