/* Removing a test's scratch folder (tests/sim/test_metrics.c,
 * test_plot.c). Header-only, static inline, as the other fixtures. */
#ifndef KNIT_TEST_TMPDIR_FIXTURES_H
#define KNIT_TEST_TMPDIR_FIXTURES_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes path and what is under it, down to depth levels of folders
 * (a deeper folder, or a symlink, is unlinked, never followed). */
static inline void remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[1024];
            int n = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (n < 0 || (size_t)n >= sizeof sub)
                continue;          /* no scratch path is that long */
            struct stat st;
            if (depth > 0 && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(sub, depth - 1);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

#endif
