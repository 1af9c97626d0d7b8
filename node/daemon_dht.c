#include "daemon_dht.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_proto.h"
#include "datadir.h"
#include "dht/state.h"
#include "proto/multiaddr.h"
#include "transport/error.h"

#define SAVE_INTERVAL_MS 60000

struct knit_daemon_dht {
    uv_timer_t timer;
    struct knit_node *node;
    struct knit_uv_driver *drv;
    char path[KNIT_PATH_MAX];
    char tmp[KNIT_PATH_MAX + 8];
};

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KNIT_E_NOT_FOUND : KNIT_E_IO;
    struct stat st;
    int err = KNIT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        err = KNIT_E_IO;
    else if ((uint64_t)st.st_size > KNIT_DHT_STATE_MAX_FILE)
        err = KNIT_E_TOO_BIG;
    size_t size = err ? 0 : (size_t)st.st_size;
    uint8_t *buf = err ? NULL : malloc(size ? size : 1);
    if (!err && !buf)
        err = KNIT_E_NOMEM;
    size_t got = 0;
    while (!err && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = KNIT_E_IO;
        else
            got += (size_t)n;
    }
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = size;
    return KNIT_OK;
}

/* Written to a temporary file, synced and renamed over the old one, so a
 * crash leaves either the old state or the new, never half of one. */
static int write_file(struct knit_daemon_dht *dd, const uint8_t *buf,
                      size_t len)
{
    int fd = open(dd->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return KNIT_E_IO;
    size_t done = 0;
    int err = KNIT_OK;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = KNIT_E_IO;
            break;
        }
        done += (size_t)n;
    }
    if (err == KNIT_OK && fsync(fd) != 0)
        err = KNIT_E_IO;
    close(fd);
    if (err == KNIT_OK && rename(dd->tmp, dd->path) != 0)
        err = KNIT_E_IO;
    if (err)
        unlink(dd->tmp);
    return err;
}

static void save(struct knit_daemon_dht *dd)
{
    struct knit_dht_state_writer w;
    int err = knit_node_save_dht(dd->node, knit_uv_driver_now(dd->drv), &w);
    if (err == KNIT_OK)
        err = write_file(dd, w.buf, w.len);
    knit_dht_state_writer_free(&w);
    if (err)
        fprintf(stderr, "knit: [warn] cannot save %s: %s\n", dd->path,
                knit_strerror(err));
}

static void on_save_timer(uv_timer_t *t)
{
    save(t->data);
}

int knit_daemon_dht_start(struct knit_daemon_dht **out, uv_loop_t *loop,
                          struct knit_node *node, struct knit_uv_driver *drv,
                          const char *data_dir)
{
    struct knit_daemon_dht *dd = calloc(1, sizeof *dd);
    if (!dd)
        return KNIT_E_NOMEM;
    dd->node = node;
    dd->drv = drv;
    int err = knit_datadir_path(data_dir, KNIT_DHT_STATE_NAME, dd->path,
                                sizeof dd->path);
    if (err) {
        free(dd);
        return err;
    }
    snprintf(dd->tmp, sizeof dd->tmp, "%s.tmp", dd->path);
    uint8_t *buf;
    size_t len;
    err = read_file(dd->path, &buf, &len);
    if (err == KNIT_OK) {
        size_t peers = 0, records = 0;
        err = knit_node_restore_dht(node, buf, len,
                                    knit_uv_driver_now(drv), &peers,
                                    &records);
        if (err)
            fprintf(stderr,
                    "knit: [warn] %s is damaged (%s); kept what came "
                    "before the damage\n",
                    dd->path, knit_strerror(err));
        printf("restored %zu DHT peer%s and %zu record%s from %s\n", peers,
               peers == 1 ? "" : "s", records, records == 1 ? "" : "s",
               dd->path);
        free(buf);
    } else if (err != KNIT_E_NOT_FOUND) {
        fprintf(stderr, "knit: [warn] cannot read %s: %s; starting without "
                        "it\n", dd->path, knit_strerror(err));
    }
    uv_timer_init(loop, &dd->timer);
    dd->timer.data = dd;
    uv_timer_start(&dd->timer, on_save_timer, SAVE_INTERVAL_MS,
                   SAVE_INTERVAL_MS);
    *out = dd;
    return KNIT_OK;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void knit_daemon_dht_close(struct knit_daemon_dht *dd)
{
    if (!dd)
        return;
    save(dd);
    uv_close((uv_handle_t *)&dd->timer, on_closed);
}

/* ---- answers ------------------------------------------------------------------ */

#define MAX_PEERS_LISTED 1024

/* The active path as multiaddr text: /ipX/../udp/.. for a direct path;
 * <relay endpoint>/p2p/<relay>/p2p-circuit for a relayed one. "-" when the
 * address does not format (it never should). */
static void path_text(const struct knit_node_peer *p, char *out, size_t cap)
{
    const struct knit_peer_id *relay = p->relayed ? &p->relay : NULL;
    struct knit_multiaddr ma;
    int err = knit_multiaddr_from_socket(&ma, &p->addr, relay);
    if (err == KNIT_OK && relay) {
        ma.c[ma.count].protocol = KNIT_MA_P2P_CIRCUIT;
        ma.count++;
    }
    if (err == KNIT_OK)
        err = knit_multiaddr_format(&ma, out, cap);
    if (err != KNIT_OK)
        snprintf(out, cap, "-");
}

_Static_assert(sizeof(((struct knit_node_punch *)0)->reason) - 1 <=
                   KNIT_CONTROL_PUNCH_REASON_MAX,
               "a peers entry must hold the whole punch failure reason");

/* Field 5 of a peers entry: what hole punching with the peer came to (the
 * field is left out when the node never punched with it). */
static void put_punch(struct knit_msg_writer *w,
                      const struct knit_node_punch *p)
{
    char reason[KNIT_CONTROL_PUNCH_REASON_MAX + 1];
    size_t reason_len = knit_control_clean_text(reason, sizeof reason,
                                                p->reason);
    bool timed = p->successes > 0;
    knit_msg_put_map_begin(w, 5, 4 + timed + (reason_len > 0));
    knit_msg_put_uint(w, 1, p->attempts);
    knit_msg_put_uint(w, 2, p->successes);
    knit_msg_put_uint(w, 3, p->failures);
    knit_msg_put_bool(w, 4, p->in_progress);
    if (timed)
        knit_msg_put_uint(w, 5, p->time_to_direct_us);
    if (reason_len)
        knit_msg_put_str(w, 6, reason, reason_len);
    knit_msg_map_end(w);
}

int knit_daemon_answer_peers(struct knit_node *node, uint8_t *out,
                             size_t cap, size_t *out_len)
{
    struct knit_node_peer *peers = malloc(MAX_PEERS_LISTED * sizeof *peers);
    if (!peers)
        return KNIT_E_NOMEM;
    size_t n = knit_node_peers(node, peers, MAX_PEERS_LISTED);
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_PEERS_RESPONSE, 1);
    knit_msg_put_array_begin(&w, 1, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char id[KNIT_PEER_ID_TEXT_MAX], addr[KNIT_MA_TEXT_MAX];
        const char *path = peers[i].relayed ? KNIT_CONTROL_PATH_RELAYED
                                            : KNIT_CONTROL_PATH_DIRECT;
        knit_peer_id_to_text(&peers[i].id, id, sizeof id);
        path_text(&peers[i], addr, sizeof addr);
        struct knit_node_punch punch;
        bool punched = knit_node_punch_info(node, &peers[i].id, &punch) ==
                       KNIT_OK;
        knit_msg_add_map_begin(&w, 4 + punched);
        knit_msg_put_str(&w, 1, id, strlen(id));
        knit_msg_put_str(&w, 2, path, strlen(path));
        knit_msg_put_str(&w, 3, addr, strlen(addr));
        knit_msg_put_uint(&w, 4, peers[i].srtt_us);
        if (punched)
            put_punch(&w, &punch);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    free(peers);
    return knit_msg_end(&w, out_len);
}

int knit_daemon_answer_dht_table(struct knit_node *node, uint8_t *out,
                                 size_t cap, size_t *out_len)
{
    const struct knit_dht *dht = knit_node_dht(node);
    const struct knit_dht_table *t = knit_dht_get_table(dht);
    uint32_t buckets = 0;
    for (unsigned b = 0; b < KNIT_DHT_KEY_BITS; b++)
        if (knit_dht_table_bucket_entries(t, b) ||
            knit_dht_table_bucket_replacements(t, b))
            buckets++;
    const char *mode = knit_dht_is_serving(dht) ? "server" : "client";
    struct knit_msg_writer w;
    knit_msg_writer_init(&w, out, cap);
    knit_msg_begin(&w, KNIT_CTL_DHT_TABLE_RESPONSE, 4);
    knit_msg_put_str(&w, 1, mode, strlen(mode));
    knit_msg_put_uint(&w, 2, knit_dht_table_size(t));
    knit_msg_put_uint(&w, 3, knit_dht_store_count(knit_dht_get_store(dht)));
    knit_msg_put_array_begin(&w, 4, buckets);
    for (unsigned b = 0; b < KNIT_DHT_KEY_BITS; b++) {
        size_t e = knit_dht_table_bucket_entries(t, b);
        size_t r = knit_dht_table_bucket_replacements(t, b);
        if (!e && !r)
            continue;
        knit_msg_add_map_begin(&w, 3);
        knit_msg_put_uint(&w, 1, b);
        knit_msg_put_uint(&w, 2, e);
        knit_msg_put_uint(&w, 3, r);
        knit_msg_map_end(&w);
    }
    knit_msg_array_end(&w);
    return knit_msg_end(&w, out_len);
}
