/* The node's identity key on disk (daemon side: this file does file I/O).
 *
 * Owns the key file format, its permission check and its atomic creation.
 * The daemon and the CLI call it at start-up with <datadir>/identity.key;
 * the data directory itself is created by the caller. The file is exactly
 *     knit-ed25519-seed-v1\n
 *     <the 32-byte seed as 64 lowercase hex characters>\n
 * with mode 0600. A file that group or others can access is refused, as ssh
 * refuses such a private key, so a leaked key is noticed rather than used.
 *
 * Every function returns 0 or a negative KNIT_E_* code and, on failure,
 * writes a one-line message naming the path into err (if errcap > 0). */
#ifndef KNIT_KEYFILE_H
#define KNIT_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/identity.h"

#define KNIT_KEYFILE_NAME "identity.key"
#define KNIT_KEYFILE_HEADER "knit-ed25519-seed-v1"
/* A key file is 86 bytes; anything past this is not one. */
#define KNIT_KEYFILE_MAX_SIZE 4096

/* KNIT_E_NOT_FOUND if there is no file, KNIT_E_PERMISSIONS if group or
 * others have any access to it, KNIT_E_MALFORMED if it does not follow the
 * format, KNIT_E_TOO_BIG if it is oversized, KNIT_E_IO for a symbolic link,
 * a non-regular file or a failed read. */
int knit_keyfile_load(const char *path, struct knit_identity *out,
                      char *err, size_t errcap);

/* Makes a new random key and writes it atomically with mode 0600. Never
 * replaces an existing file: KNIT_E_EXISTS if path already exists. */
int knit_keyfile_create(const char *path, struct knit_identity *out,
                        char *err, size_t errcap);

/* Loads path if it exists, creates it otherwise; *created (may be NULL)
 * tells which. Any load failure other than a missing file is returned as is:
 * a bad key file is never silently replaced. */
int knit_keyfile_load_or_create(const char *path, struct knit_identity *out,
                                bool *created, char *err, size_t errcap);

#endif
