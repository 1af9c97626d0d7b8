/* The daemon's side of the DHT: the routing table and record store saved
 * in <datadir>/dht.state (read at start, written every minute and at
 * shutdown, atomically), and the answers to `knit peers` and
 * `knit dht table`. Owned by node/daemon.c. */
#ifndef KNIT_DAEMON_DHT_H
#define KNIT_DAEMON_DHT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "node.h"
#include "transport/uv_driver.h"

#define KNIT_DHT_STATE_NAME "dht.state"
/* A state file holds at most 5120 peers and 4096 records of 2 KiB. */
#define KNIT_DHT_STATE_MAX_FILE (16u << 20)

struct knit_daemon_dht;

/* Restores what dht.state holds (a damaged or unreadable file is reported
 * on stderr and the node starts without it) and starts the save timer. */
int knit_daemon_dht_start(struct knit_daemon_dht **out, uv_loop_t *loop,
                          struct knit_node *node, struct knit_uv_driver *drv,
                          const char *data_dir);
/* Saves once more and closes the timer; memory goes as the loop runs on. */
void knit_daemon_dht_close(struct knit_daemon_dht *dd);

int knit_daemon_answer_peers(struct knit_node *node, uint8_t *out,
                             size_t cap, size_t *out_len);
int knit_daemon_answer_dht_table(struct knit_node *node, uint8_t *out,
                                 size_t cap, size_t *out_len);

#endif
