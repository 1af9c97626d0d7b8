/* Helpers for tests that read external vectors from ../shared/vectors.
 * The files are read at test time, never copied into the repository. */
#ifndef KNIT_TEST_VECTORS_H
#define KNIT_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* Reads KNIT_VECTORS_DIR/name into a malloc'd NUL-terminated buffer; NULL
 * (and a message on stderr) if the file is missing. */
char *knit_test_read_vector_file(const char *name, size_t *len);

/* Finds the first "key": "value" after *from in a JSON text and copies the
 * value (no escapes expected in vector files) into out. Returns the position
 * just after the value, or NULL if absent or too long. */
const char *knit_test_json_string(const char *from, const char *key,
                                  char *out, size_t cap);

/* Decodes hex; returns the byte count or -1 on bad input or overflow. */
long knit_test_hex_decode(const char *hex, uint8_t *out, size_t cap);

#endif
