/* The data directory: where a node keeps its identity key (and, later, its
 * peer store and routing table).
 *
 * Resolution order, first that is set: --data-dir, $KNIT_DATA_DIR,
 * $XDG_DATA_HOME/knit, $HOME/.local/share/knit. Used by the CLI commands. */
#ifndef KNIT_DATADIR_H
#define KNIT_DATADIR_H

#include <stddef.h>

#define KNIT_PATH_MAX 4096

/* Picks the directory (flag may be NULL); KNIT_E_NOT_FOUND with a message in
 * err when none of the sources is set. */
int knit_datadir_resolve(const char *flag, char *out, size_t cap, char *err,
                         size_t errcap);
/* Creates the directory and its parents (new ones with mode 0700). */
int knit_datadir_create(const char *dir, char *err, size_t errcap);
/* dir + "/" + name into out. */
int knit_datadir_path(const char *dir, const char *name, char *out,
                      size_t cap);

#endif
