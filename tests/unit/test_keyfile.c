#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "node/keyfile.h"
#include "tests/support/vectors.h"
#include "transport/error.h"

#define HEADER "knit-ed25519-seed-v1\n"
/* An arbitrary seed, not a vector: only its spelling matters here. */
#define SEED_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Each test gets a fresh mkdtemp directory; path is its identity.key. */
struct fixture {
    char dir[64];
    char path[128];
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/knit-test-keyfile-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/identity.key", f->dir);
    *state = f;
    return 0;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len,
                       mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    assert_true(n >= 0);
    close(fd);
    return (size_t)n;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_create_then_load(void **state)
{
    struct fixture *f = *state;
    struct knit_identity made, loaded;
    assert_int_equal(knit_keyfile_create(f->path, &made, f->err,
                                         sizeof f->err), 0);
    assert_string_equal(f->err, "");
    assert_int_equal(knit_keyfile_load(f->path, &loaded, f->err,
                                       sizeof f->err), 0);
    assert_true(knit_peer_id_equal(&made.id, &loaded.id));
    assert_memory_equal(&made, &loaded, sizeof made);
    /* Only the key itself is left: no temporary file. */
    assert_int_equal(count_entries(f->dir), 1);

    struct knit_identity other;
    char path2[160];
    snprintf(path2, sizeof path2, "%s/second.key", f->dir);
    assert_int_equal(knit_keyfile_create(path2, &other, NULL, 0), 0);
    assert_false(knit_peer_id_equal(&made.id, &other.id));
    knit_identity_wipe(&made);
    knit_identity_wipe(&loaded);
    knit_identity_wipe(&other);
}

/* The file is the documented two lines, and its seed gives the identity. */
static void test_created_format(void **state)
{
    struct fixture *f = *state;
    struct knit_identity made, from_seed;
    assert_int_equal(knit_keyfile_create(f->path, &made, f->err,
                                         sizeof f->err), 0);
    char buf[256];
    size_t n = read_file(f->path, buf, sizeof buf);
    assert_int_equal(n, strlen(HEADER) + 65);
    assert_memory_equal(buf, HEADER, strlen(HEADER));
    const char *hex = buf + strlen(HEADER);
    for (size_t i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", hex[i]));
    assert_int_equal(hex[64], '\n');

    char line[65];
    uint8_t seed[KNIT_SEED_LEN];
    memcpy(line, hex, 64);
    line[64] = '\0';
    assert_int_equal(knit_test_hex_decode(line, seed, sizeof seed),
                     KNIT_SEED_LEN);
    assert_int_equal(knit_identity_from_seed(&from_seed, seed), 0);
    assert_memory_equal(&from_seed, &made, sizeof made);
    knit_identity_wipe(&made);
    knit_identity_wipe(&from_seed);
}

static void test_created_mode(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;
    struct stat st;
    /* Even a umask that lets everything through must not widen the mode. */
    mode_t old = umask(0);
    int rc = knit_keyfile_create(f->path, &ident, f->err, sizeof f->err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    knit_identity_wipe(&ident);
}

static void check_refused_mode(struct fixture *f, mode_t mode)
{
    struct knit_identity ident;
    assert_int_equal(chmod(f->path, mode), 0);
    f->err[0] = '\0';
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_PERMISSIONS);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "chmod 600"));
    assert_null(strchr(f->err, '\n'));
}

static void test_permissions_refused(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;
    assert_int_equal(knit_keyfile_create(f->path, &ident, NULL, 0), 0);
    check_refused_mode(f, 0640);
    assert_non_null(strstr(f->err, "0640"));
    check_refused_mode(f, 0604);
    assert_non_null(strstr(f->err, "0604"));
    check_refused_mode(f, 0644);
    check_refused_mode(f, 0620);
    check_refused_mode(f, 0602);
    check_refused_mode(f, 0601);
    check_refused_mode(f, 0610);

    /* Owner-only modes are fine, read-only included. */
    struct knit_identity again;
    assert_int_equal(chmod(f->path, 0400), 0);
    assert_int_equal(knit_keyfile_load(f->path, &again, f->err,
                                       sizeof f->err), 0);
    assert_true(knit_peer_id_equal(&ident.id, &again.id));
    knit_identity_wipe(&ident);
    knit_identity_wipe(&again);
}

static void test_malformed_refused(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "",
        "\n",
        "knit-ed25519-seed-v1",
        HEADER,
        "knit-ed25519-seed-v2\n" SEED_HEX "\n",
        "KNIT-ED25519-SEED-V1\n" SEED_HEX "\n",
        " knit-ed25519-seed-v1\n" SEED_HEX "\n",
        "knit-ed25519-seed-v1\r\n" SEED_HEX "\n",
        HEADER SEED_HEX,                                /* no final newline */
        HEADER SEED_HEX "\r\n",
        HEADER SEED_HEX "\n\n",                        /* trailing data */
        HEADER SEED_HEX "\nextra\n",
        HEADER SEED_HEX "00\n",                          /* 66 hex */
        HEADER "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",
        HEADER "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n",
        HEADER "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        HEADER " 00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",
        HEADER "\n" SEED_HEX "\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct knit_identity ident;
        write_file(f->path, bad[i], strlen(bad[i]), 0600);
        f->err[0] = '\0';
        int rc = knit_keyfile_load(f->path, &ident, f->err, sizeof f->err);
        if (rc != KNIT_E_MALFORMED)
            fail_msg("case %zu: got %d (%s)", i, rc, f->err);
        assert_non_null(strstr(f->err, f->path));
    }
    /* A NUL byte is not a hex digit. */
    char nul[sizeof HEADER SEED_HEX "\n"];
    memcpy(nul, HEADER SEED_HEX "\n", sizeof nul);
    nul[strlen(HEADER) + 5] = '\0';
    write_file(f->path, nul, sizeof nul - 1, 0600);
    struct knit_identity ident;
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_MALFORMED);

    write_file(f->path, "garbage\n", 8, 0600);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_MALFORMED);
    assert_non_null(strstr(f->err, "bad header"));
}

/* A hand-written file of the documented form loads to its seed's key. */
static void test_load_written_file(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident, want;
    uint8_t seed[KNIT_SEED_LEN];
    write_file(f->path, HEADER SEED_HEX "\n", strlen(HEADER SEED_HEX "\n"),
               0600);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), 0);
    assert_int_equal(knit_test_hex_decode(SEED_HEX, seed, sizeof seed),
                     KNIT_SEED_LEN);
    assert_int_equal(knit_identity_from_seed(&want, seed), 0);
    assert_memory_equal(&ident, &want, sizeof want);
    knit_identity_wipe(&ident);
    knit_identity_wipe(&want);
}

static void test_oversize_refused(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;
    char *big = malloc(KNIT_KEYFILE_MAX_SIZE + 100);
    assert_non_null(big);
    memset(big, 'a', KNIT_KEYFILE_MAX_SIZE + 100);
    memcpy(big, HEADER SEED_HEX "\n", strlen(HEADER SEED_HEX "\n"));
    write_file(f->path, big, KNIT_KEYFILE_MAX_SIZE + 100, 0600);
    free(big);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_TOO_BIG);
    assert_non_null(strstr(f->err, f->path));
}

static void test_missing(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_NOT_FOUND);
    assert_non_null(strstr(f->err, f->path));
    /* No buffer for the message is fine too. */
    assert_int_equal(knit_keyfile_load(f->path, &ident, NULL, 0),
                     KNIT_E_NOT_FOUND);
}

static void test_not_regular_refused(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;

    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_IO);
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(rmdir(f->path), 0);

    /* A FIFO must be refused, not waited on. */
    assert_int_equal(mkfifo(f->path, 0600), 0);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_IO);
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(unlink(f->path), 0);

    /* Nor is a symbolic link followed, even to a good key. */
    char target[160];
    snprintf(target, sizeof target, "%s/real.key", f->dir);
    assert_int_equal(knit_keyfile_create(target, &ident, NULL, 0), 0);
    assert_int_equal(symlink(target, f->path), 0);
    assert_int_equal(knit_keyfile_load(f->path, &ident, f->err,
                                       sizeof f->err), KNIT_E_IO);
    assert_non_null(strstr(f->err, f->path));
    knit_identity_wipe(&ident);
}

static void test_create_never_overwrites(void **state)
{
    struct fixture *f = *state;
    struct knit_identity first, second, loaded;
    char before[256], after[256];
    assert_int_equal(knit_keyfile_create(f->path, &first, NULL, 0), 0);
    size_t n1 = read_file(f->path, before, sizeof before);

    memset(&second, 0xa5, sizeof second);
    assert_int_equal(knit_keyfile_create(f->path, &second, f->err,
                                         sizeof f->err), KNIT_E_EXISTS);
    assert_non_null(strstr(f->err, f->path));
    size_t n2 = read_file(f->path, after, sizeof after);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    assert_int_equal(count_entries(f->dir), 1);
    assert_int_equal(knit_keyfile_load(f->path, &loaded, NULL, 0), 0);
    assert_true(knit_peer_id_equal(&first.id, &loaded.id));

    /* Whatever sits at the path is kept, key file or not. */
    char path2[160];
    snprintf(path2, sizeof path2, "%s/other", f->dir);
    write_file(path2, "not a key\n", 10, 0644);
    assert_int_equal(knit_keyfile_create(path2, &second, NULL, 0),
                     KNIT_E_EXISTS);
    n2 = read_file(path2, after, sizeof after);
    assert_int_equal(n2, 10);
    assert_memory_equal(after, "not a key\n", 10);
    knit_identity_wipe(&first);
    knit_identity_wipe(&loaded);
}

static void test_create_in_missing_directory(void **state)
{
    struct fixture *f = *state;
    struct knit_identity ident;
    char path[192];
    snprintf(path, sizeof path, "%s/no-such-dir/identity.key", f->dir);
    assert_int_equal(knit_keyfile_create(path, &ident, f->err, sizeof f->err),
                     KNIT_E_IO);
    assert_non_null(strstr(f->err, path));
}

static void test_load_or_create(void **state)
{
    struct fixture *f = *state;
    struct knit_identity a, b;
    bool created = false;
    assert_int_equal(knit_keyfile_load_or_create(f->path, &a, &created, f->err,
                                                 sizeof f->err), 0);
    assert_true(created);
    assert_int_equal(knit_keyfile_load_or_create(f->path, &b, &created, f->err,
                                                 sizeof f->err), 0);
    assert_false(created);
    assert_true(knit_peer_id_equal(&a.id, &b.id));

    /* A bad key file is reported, never replaced by a fresh key. */
    assert_int_equal(chmod(f->path, 0644), 0);
    created = true;
    assert_int_equal(knit_keyfile_load_or_create(f->path, &b, &created, f->err,
                                                 sizeof f->err),
                     KNIT_E_PERMISSIONS);
    assert_false(created);
    assert_non_null(strstr(f->err, f->path));
    write_file(f->path, "junk\n", 5, 0600);
    assert_int_equal(knit_keyfile_load_or_create(f->path, &b, &created, NULL,
                                                 0), KNIT_E_MALFORMED);
    char buf[16];
    assert_int_equal(read_file(f->path, buf, sizeof buf), 5);
    knit_identity_wipe(&a);
    knit_identity_wipe(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_then_load),
        T(test_created_format),
        T(test_created_mode),
        T(test_permissions_refused),
        T(test_malformed_refused),
        T(test_load_written_file),
        T(test_oversize_refused),
        T(test_missing),
        T(test_not_regular_refused),
        T(test_create_never_overwrites),
        T(test_create_in_missing_directory),
        T(test_load_or_create),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
