#include "daemon_status.h"

#include <string.h>

#include "control_proto.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_OBSERVED ARRAY_LEN(((struct knit_node_traversal *)0)->observed)
#define MAX_RELAYS ARRAY_LEN(((struct knit_node_traversal *)0)->relays)

/* The response schema must admit everything the node can report. */
_Static_assert(MAX_OBSERVED <= KNIT_CONTROL_MAX_OBSERVED,
               "a status response must hold every observed address");
_Static_assert(MAX_RELAYS <= KNIT_CONTROL_MAX_RELAYS,
               "a status response must hold every relayed address");

static int observed_text(const struct knit_observed_entry *e, char *text,
                         size_t cap)
{
    struct knit_multiaddr ma;
    int err = knit_multiaddr_from_socket(&ma, &e->addr, NULL);
    return err ? err : knit_multiaddr_format(&ma, text, cap);
}

/* Addresses are formatted first so that the array counts are known; one
 * the node holds but that does not format (it never should) is left out
 * rather than sent as something the CLI would print as real. */
static void put_observed(struct knit_msg_writer *w,
                         const struct knit_node_traversal *t)
{
    char text[MAX_OBSERVED][KNIT_MA_TEXT_MAX];
    size_t index[MAX_OBSERVED], n = 0;
    for (size_t i = 0; i < t->observed_count && i < MAX_OBSERVED; i++)
        if (observed_text(&t->observed[i], text[n], sizeof text[n]) ==
            KNIT_OK)
            index[n++] = i;
    knit_msg_put_array_begin(w, 11, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        const struct knit_observed_entry *e = &t->observed[index[k]];
        knit_msg_add_map_begin(w, 4);
        knit_msg_put_str(w, 1, text[k], strlen(text[k]));
        knit_msg_put_uint(w, 2, e->observers);
        knit_msg_put_bool(w, 3, e->trusted);
        knit_msg_put_uint(w, 4, e->confidence);
        knit_msg_map_end(w);
    }
    knit_msg_array_end(w);
}

static void put_relays(struct knit_msg_writer *w,
                       const struct knit_node_traversal *t)
{
    char text[MAX_RELAYS][KNIT_MA_TEXT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < t->relay_count && i < MAX_RELAYS; i++)
        if (knit_multiaddr_format(&t->relays[i], text[n], sizeof text[n]) ==
            KNIT_OK)
            n++;
    knit_msg_put_array_begin(w, 12, (uint32_t)n);
    for (size_t k = 0; k < n; k++)
        knit_msg_add_str(w, text[k], strlen(text[k]));
    knit_msg_array_end(w);
}

_Static_assert(sizeof(((struct knit_daemon_portmap_info *)0)->error) - 1 <=
                   KNIT_CONTROL_PORTMAP_ERROR_MAX,
               "a status response must hold the port mapping's error");

/* Field 16: the optional method and address are left out when there are
 * none (the CLI prints null). */
static void put_portmap(struct knit_msg_writer *w,
                        const struct knit_daemon_portmap_info *pm)
{
    char ext[KNIT_MA_TEXT_MAX] = "", method[sizeof pm->method];
    char error[KNIT_CONTROL_PORTMAP_ERROR_MAX + 1];
    struct knit_multiaddr ma;
    if (pm->external.family &&
        (knit_multiaddr_from_socket(&ma, &pm->external, NULL) != KNIT_OK ||
         knit_multiaddr_format(&ma, ext, sizeof ext) != KNIT_OK))
        ext[0] = '\0';
    size_t method_len = knit_control_clean_text(method, sizeof method,
                                                pm->method);
    size_t error_len = knit_control_clean_text(error, sizeof error,
                                               pm->error);
    knit_msg_put_map_begin(w, 16, 4 + (method_len > 0) + (ext[0] != '\0'));
    knit_msg_put_uint(w, 1, pm->state);
    if (method_len)
        knit_msg_put_str(w, 2, method, method_len);
    if (ext[0])
        knit_msg_put_str(w, 3, ext, strlen(ext));
    knit_msg_put_uint(w, 4, pm->lease_left_s);
    knit_msg_put_uint(w, 5, pm->next_try_s);
    knit_msg_put_str(w, 6, error, error_len);
    knit_msg_map_end(w);
}

static void put_punching(struct knit_msg_writer *w,
                         const struct knit_node_traversal *t)
{
    knit_msg_put_map_begin(w, 17, 5);
    knit_msg_put_uint(w, 1, t->punch_attempts);
    knit_msg_put_uint(w, 2, t->punch_direct);
    knit_msg_put_uint(w, 3, t->punch_failed);
    knit_msg_put_uint(w, 4, t->punch_probes);
    knit_msg_put_uint(w, 5, t->punch_sockets);
    knit_msg_map_end(w);
}

int knit_daemon_answer_status(struct knit_node *node, uint64_t now,
                              const struct knit_daemon_portmap_info *portmap,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    struct knit_node_traversal t;
    knit_node_traversal_status(node, now, &t);
    char id[KNIT_PEER_ID_TEXT_MAX];
    knit_peer_id_to_text(knit_node_peer_id(node), id, sizeof id);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_STATUS_RESPONSE, 17);
    knit_msg_put_str(&w, 1, id, strlen(id));
    knit_msg_put_uint(&w, 2, t.reachability);
    knit_msg_put_uint(&w, 3, t.reachability_confidence);
    knit_msg_put_uint(&w, 4, t.autonat_servers);
    knit_msg_put_uint(&w, 5, t.mapping);
    knit_msg_put_uint(&w, 6, t.mapping_confidence);
    knit_msg_put_bool(&w, 7, t.behind_nat);
    knit_msg_put_bool(&w, 8, t.sequential);
    knit_msg_put_uint(&w, 9, t.filtering);
    knit_msg_put_uint(&w, 10, t.filtering_confidence);
    put_observed(&w, &t);
    put_relays(&w, &t);
    knit_msg_put_uint(&w, 13, t.alt_port);
    knit_msg_put_uint(&w, 14, t.reservations_served);
    knit_msg_put_uint(&w, 15, t.circuits_served);
    put_portmap(&w, portmap);
    put_punching(&w, &t);
    return knit_msg_end(&w, out_len);
}
