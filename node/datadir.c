#include "datadir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/error.h"

int knit_datadir_path(const char *dir, const char *name, char *out,
                      size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? KNIT_E_NO_SPACE : KNIT_OK;
}

int knit_datadir_resolve(const char *flag, char *out, size_t cap, char *err,
                         size_t errcap)
{
    const char *env;
    int n;
    if (flag && *flag)
        n = snprintf(out, cap, "%s", flag);
    else if ((env = getenv("KNIT_DATA_DIR")) && *env)
        n = snprintf(out, cap, "%s", env);
    else if ((env = getenv("XDG_DATA_HOME")) && *env)
        n = snprintf(out, cap, "%s/knit", env);
    else if ((env = getenv("HOME")) && *env)
        n = snprintf(out, cap, "%s/.local/share/knit", env);
    else {
        snprintf(err, errcap, "no data directory: set --data-dir, "
                              "KNIT_DATA_DIR or HOME");
        return KNIT_E_NOT_FOUND;
    }
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errcap, "data directory path is too long");
        return KNIT_E_TOO_BIG;
    }
    /* A trailing slash would double up in every path built from it. */
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    return KNIT_OK;
}

int knit_datadir_create(const char *dir, char *err, size_t errcap)
{
    char path[KNIT_PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(err, errcap, "data directory path is too long");
        return KNIT_E_TOO_BIG;
    }
    /* mkdir -p: create each missing component in turn. */
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errcap, "cannot create data directory %s: %s", path,
                     strerror(errno));
            return KNIT_E_IO;
        }
        if (last)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errcap, "data directory %s is not a directory", dir);
        return KNIT_E_IO;
    }
    return KNIT_OK;
}
