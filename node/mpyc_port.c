/* The own MPyC program's port (daemon side: plain sockets, /proc). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpyc_internal.h"
#include "transport/error.h"

/* ---- the own MPyC listener ------------------------------------------------ */

/* A free loopback port: bound and let go, for MPyC to listen on. */
int mpyc_pick_port(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return KNIT_E_IO;
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                     getsockname(fd, (struct sockaddr *)&a, &alen) == 0
                 ? KNIT_OK : KNIT_E_IO;
    close(fd);
    *port = ntohs(a.sin_port);
    return rc;
}

/* Whether a TCP socket listens on port, on any address: Linux lists them
 * in /proc/net/tcp{,6} (state 0A), which a probe cannot disturb. Else a
 * bind with SO_REUSEADDR, which fails only beside a listener. */
static bool proc_listening(const char *path, uint16_t port, bool *known)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    *known = true;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned lport, state;
        if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x",
                   &lport, &state) == 2 && lport == port && state == 0x0A)
            found = true;
    }
    fclose(f);
    return found;
}

bool mpyc_port_listening(uint16_t port)
{
    bool known = false;
    if (proc_listening("/proc/net/tcp", port, &known) ||
        proc_listening("/proc/net/tcp6", port, &known))
        return true;
    if (known)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return false;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool busy = bind(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
                errno == EADDRINUSE;
    close(fd);
    return busy;
}
