#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "transport/error.h"

#define HEADER_LEN (sizeof KNIT_KEYFILE_HEADER - 1)
#define SEED_HEX_LEN (2 * KNIT_SEED_LEN)
#define FILE_LEN (HEADER_LEN + 1 + SEED_HEX_LEN + 1)
#define PATH_CAP 4096
/* Temp names are <path>.tmp-<16 hex>; a few tries outlast any stale ones. */
#define TEMP_TRIES 8

static void say(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static void clear(char *err, size_t cap)
{
    if (err && cap)
        err[0] = '\0';
}

static int hex_nibble(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;   /* upper case too: the format has one spelling per key */
}

static const char *access_word(mode_t mode)
{
    if (mode & 044)
        return "readable";
    return (mode & 022) ? "writable" : "executable";
}

/* Checks what fd is before trusting a byte of it, then reads it whole. */
static int check_and_read(int fd, const char *path, uint8_t *buf, size_t cap,
                          size_t *len, char *err, size_t errcap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        say(err, errcap, "cannot stat key file %s: %s", path, strerror(errno));
        return KNIT_E_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        say(err, errcap, "key file %s is not a regular file", path);
        return KNIT_E_IO;
    }
    if ((st.st_mode & 077) != 0) {
        say(err, errcap,
            "key file %s is %s by group or others (mode %04o); "
            "fix it with: chmod 600 %s",
            path, access_word(st.st_mode), (unsigned)(st.st_mode & 07777),
            path);
        return KNIT_E_PERMISSIONS;
    }
    if (st.st_size > KNIT_KEYFILE_MAX_SIZE) {
        say(err, errcap, "key file %s is too large to be a knit key file "
            "(%lld bytes)", path, (long long)st.st_size);
        return KNIT_E_TOO_BIG;
    }

    /* The file may grow after fstat, so the read is bounded by cap too. */
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(err, errcap, "cannot read key file %s: %s", path,
                strerror(errno));
            return KNIT_E_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > KNIT_KEYFILE_MAX_SIZE) {
        say(err, errcap, "key file %s is too large to be a knit key file",
            path);
        return KNIT_E_TOO_BIG;
    }
    *len = n;
    return 0;
}

static int parse(const char *path, const uint8_t *buf, size_t n,
                 struct knit_identity *out, char *err, size_t errcap)
{
    if (n < HEADER_LEN + 1 || memcmp(buf, KNIT_KEYFILE_HEADER, HEADER_LEN) != 0 ||
        buf[HEADER_LEN] != '\n') {
        say(err, errcap, "key file %s is not a knit key file (bad header)",
            path);
        return KNIT_E_MALFORMED;
    }
    const uint8_t *line = buf + HEADER_LEN + 1;
    size_t rest = n - HEADER_LEN - 1;
    uint8_t seed[KNIT_SEED_LEN];
    int bad = rest < SEED_HEX_LEN + 1 || line[SEED_HEX_LEN] != '\n';
    for (size_t i = 0; !bad && i < KNIT_SEED_LEN; i++) {
        int hi = hex_nibble(line[2 * i]), lo = hex_nibble(line[2 * i + 1]);
        if (hi < 0 || lo < 0)
            bad = 1;
        else
            seed[i] = (uint8_t)(hi << 4 | lo);
    }
    if (bad) {
        sodium_memzero(seed, sizeof seed);
        say(err, errcap, "key file %s is malformed (the second line must be "
            "the seed as 64 lowercase hex characters and a newline)", path);
        return KNIT_E_MALFORMED;
    }
    if (rest != SEED_HEX_LEN + 1) {
        sodium_memzero(seed, sizeof seed);
        say(err, errcap, "key file %s is malformed (unexpected data after "
            "the seed)", path);
        return KNIT_E_MALFORMED;
    }
    int rc = knit_identity_from_seed(out, seed);
    sodium_memzero(seed, sizeof seed);
    if (rc < 0)
        say(err, errcap, "cannot derive the key in key file %s: %s", path,
            knit_strerror(rc));
    return rc;
}

int knit_keyfile_load(const char *path, struct knit_identity *out,
                      char *err, size_t errcap)
{
    clear(err, errcap);
    if (!path || !*path || !out) {
        say(err, errcap, "no key file path given");
        return KNIT_E_INVAL;
    }
    /* O_NONBLOCK so that a FIFO planted at path cannot hang the daemon
     * before fstat gets to refuse it; it changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            say(err, errcap, "no key file at %s", path);
            return KNIT_E_NOT_FOUND;
        }
        if (e == ELOOP) {
            say(err, errcap, "key file %s is a symbolic link; refusing to "
                "follow it", path);
            return KNIT_E_IO;
        }
        say(err, errcap, "cannot open key file %s: %s", path, strerror(e));
        return KNIT_E_IO;
    }
    uint8_t buf[KNIT_KEYFILE_MAX_SIZE + 1];
    size_t n = 0;
    int rc = check_and_read(fd, path, buf, sizeof buf, &n, err, errcap);
    close(fd);
    if (rc == 0)
        rc = parse(path, buf, n, out, err, errcap);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

static int dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, cap, ".") < 0 ? KNIT_E_INVAL : 0;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return KNIT_E_INVAL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes text to a fresh <path>.tmp-<random> and makes it durable; on
 * success tmp holds its name. Nothing is left behind on failure. */
static int write_temp(const char *path, char *tmp, size_t tmpcap,
                      const char *text, size_t len, char *err, size_t errcap)
{
    int fd = -1;
    for (int i = 0; i < TEMP_TRIES && fd < 0; i++) {
        uint8_t r[8];
        char hex[2 * sizeof r + 1];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        int n = snprintf(tmp, tmpcap, "%s.tmp-%s", path, hex);
        if (n < 0 || (size_t)n >= tmpcap) {
            say(err, errcap, "key file path %s is too long", path);
            return KNIT_E_INVAL;
        }
        /* O_EXCL with mode 0600: the file is never readable by others, not
         * even for a moment, whatever the umask. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        say(err, errcap, "cannot create key file %s: %s", path,
            strerror(errno));
        return KNIT_E_IO;
    }
    const char *step = NULL;
    if (fchmod(fd, 0600) != 0)
        step = "fchmod";
    else if (write_all(fd, text, len) != 0)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    int e = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        say(err, errcap, "cannot write key file %s: %s: %s", path, step,
            strerror(e));
        return KNIT_E_IO;
    }
    return 0;
}

/* link() fails with EEXIST instead of replacing, which rename() would do:
 * an existing key is never overwritten, even by a concurrent creator. */
static int publish(const char *path, const char *tmp, const char *dir,
                   char *err, size_t errcap)
{
    if (link(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST) {
            say(err, errcap, "key file %s already exists; refusing to "
                "overwrite it", path);
            return KNIT_E_EXISTS;
        }
        say(err, errcap, "cannot create key file %s: link: %s", path,
            strerror(e));
        return KNIT_E_IO;
    }
    if (unlink(tmp) != 0) {
        say(err, errcap, "key file %s was created but its temporary copy %s "
            "could not be removed: %s", path, tmp, strerror(errno));
        return KNIT_E_IO;
    }
    /* Without this the new name may not survive a crash. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        say(err, errcap, "key file %s was written but directory %s could not "
            "be synced: %s", path, dir, strerror(e));
        return KNIT_E_IO;
    }
    close(dfd);
    return 0;
}

int knit_keyfile_create(const char *path, struct knit_identity *out,
                        char *err, size_t errcap)
{
    clear(err, errcap);
    if (!path || !*path || !out) {
        say(err, errcap, "no key file path given");
        return KNIT_E_INVAL;
    }
    char dir[PATH_CAP], tmp[PATH_CAP];
    if (dir_of(path, dir, sizeof dir) != 0) {
        say(err, errcap, "key file path %s is too long", path);
        return KNIT_E_INVAL;
    }
    if (sodium_init() < 0) {
        say(err, errcap, "cannot create key file %s: libsodium failed to "
            "initialise", path);
        return KNIT_E_CRYPTO;
    }

    uint8_t seed[KNIT_SEED_LEN];
    struct knit_identity ident;
    char text[FILE_LEN + 1];
    randombytes_buf(seed, sizeof seed);
    int rc = knit_identity_from_seed(&ident, seed);
    if (rc == 0) {
        memcpy(text, KNIT_KEYFILE_HEADER "\n", HEADER_LEN + 1);
        sodium_bin2hex(text + HEADER_LEN + 1, SEED_HEX_LEN + 1, seed,
                       sizeof seed);
        text[FILE_LEN - 1] = '\n';
        text[FILE_LEN] = '\0';
        rc = write_temp(path, tmp, sizeof tmp, text, FILE_LEN, err, errcap);
        if (rc == 0)
            rc = publish(path, tmp, dir, err, errcap);
        if (rc == 0)
            memcpy(out, &ident, sizeof ident);
    } else {
        say(err, errcap, "cannot create key file %s: %s", path,
            knit_strerror(rc));
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(&ident, sizeof ident);
    sodium_memzero(text, sizeof text);
    return rc;
}

int knit_keyfile_load_or_create(const char *path, struct knit_identity *out,
                                bool *created, char *err, size_t errcap)
{
    if (created)
        *created = false;
    int rc = knit_keyfile_load(path, out, err, errcap);
    if (rc != KNIT_E_NOT_FOUND)
        return rc;
    rc = knit_keyfile_create(path, out, err, errcap);
    /* Another process made the key between our load and create: use it. */
    if (rc == KNIT_E_EXISTS)
        return knit_keyfile_load(path, out, err, errcap);
    if (rc == 0 && created)
        *created = true;
    return rc;
}
