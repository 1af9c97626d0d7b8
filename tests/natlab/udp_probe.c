/* udp_probe: plain UDP checks of the natlab's NAT behaviour, without knit.
 *
 *   udp_probe reflect --bind IP:PORT [--max N] [--seconds S]
 *       answers every datagram with the text "IP:PORT" of its source (what
 *       a STUN server would tell); exits after N datagrams (default 1000) or
 *       S seconds (default 60), so a forgotten reflector cannot run forever.
 *       Prints "reflecting IP:PORT" once bound.
 *   udp_probe ask --bind IP:PORT --to IP:PORT [--to ...] [--timeout-ms T]
 *       from ONE socket sends a datagram to each reflector, up to 3 tries
 *       each (T ms per try, default 1000), and prints one line per target:
 *       "TARGET MAPPED rtt_ms=R" or "TARGET timeout". Two reflectors seeing
 *       one socket at the same MAPPED address means endpoint-independent
 *       mapping. R is measured from the last send to that target, so a
 *       late answer to an earlier try can only make it smaller.
 *   udp_probe send --bind IP:PORT --to IP:PORT
 *       sends one datagram.
 *   udp_probe listen --bind IP:PORT --timeout-ms T
 *       prints "listening IP:PORT" once bound, then "got FROM" for the
 *       first datagram or "timeout" after T ms: with send, this tests
 *       whether a NAT lets an unsolicited datagram in.
 *   udp_probe count --bind IP:PORT --to IP:PORT --n N [--interval-ms I]
 *                   [--timeout-ms T]
 *       sends N datagrams to a reflector, one every I ms (default 2), waits
 *       T ms (default 1000) after the last and prints "sent N received M":
 *       the loss of a lossy path.
 *
 * Only loopback and lab addresses (127/8, 10/8, 203.0.113/24, 198.51.100/24)
 * are accepted, so a typo cannot send traffic onto a real network. Exit
 * status: 0 when the run completed (timeouts included: they are results),
 * 1 on a system error, 2 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX_TARGETS 16
#define PROBE_TRIES 3
#define PROBE_TEXT_MAX 32 /* "255.255.255.255:65535" fits */

struct options {
    const char *mode;
    struct sockaddr_in bind;
    int have_bind;
    struct sockaddr_in to[PROBE_MAX_TARGETS];
    int to_count;
    long timeout_ms;
    long max_datagrams;
    long seconds;
    long n;
    long interval_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_ms_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int is_lab_address(uint32_t host_order)
{
    return (host_order >> 24) == 127 || (host_order >> 24) == 10 ||
           (host_order >> 8) == 0xCB0071 /* 203.0.113/24 */ ||
           (host_order >> 8) == 0xC63364 /* 198.51.100/24 */;
}

/* "IP:PORT" to an IPv4 address; port 0 only if allow_port_zero. */
static int parse_endpoint(const char *text, struct sockaddr_in *out, int allow_port_zero)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (colon == NULL || (size_t)(colon - text) >= sizeof ip)
        return -1;
    memcpy(ip, text, (size_t)(colon - text));
    ip[colon - text] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || errno != 0 || *end != '\0' || port > 65535 ||
        (port == 0 && !allow_port_zero))
        return -1;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : -1;
}

static void format_endpoint(const struct sockaddr_in *sa, char out[PROBE_TEXT_MAX])
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
    snprintf(out, PROBE_TEXT_MAX, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}

static int same_endpoint(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static int lab_endpoint(const char *text, struct sockaddr_in *out, int allow_port_zero)
{
    if (parse_endpoint(text, out, allow_port_zero) < 0) {
        fprintf(stderr, "udp_probe: '%s' is not IPv4-ADDRESS:PORT\n", text ? text : "");
        return -1;
    }
    if (!is_lab_address(ntohl(out->sin_addr.s_addr))) {
        fprintf(stderr, "udp_probe: %s is not a loopback or lab address\n", text);
        return -1;
    }
    return 0;
}

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: udp_probe reflect --bind IP:PORT [--max N] [--seconds S]\n"
            "       udp_probe ask --bind IP:PORT --to IP:PORT [--to ...] [--timeout-ms T]\n"
            "       udp_probe send --bind IP:PORT --to IP:PORT\n"
            "       udp_probe listen --bind IP:PORT --timeout-ms T\n"
            "       udp_probe count --bind IP:PORT --to IP:PORT --n N [--interval-ms I]"
            " [--timeout-ms T]\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 1000;
    o->max_datagrams = 1000;
    o->seconds = 60;
    o->interval_ms = 2;
    if (argc < 2)
        return -1;
    o->mode = argv[1];
    for (int i = 2; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(argv[i], "--bind") == 0) {
            bad = lab_endpoint(v, &o->bind, 1);
            o->have_bind = 1;
        } else if (strcmp(argv[i], "--to") == 0) {
            if (o->to_count == PROBE_MAX_TARGETS) {
                fprintf(stderr, "udp_probe: at most %d --to\n", PROBE_MAX_TARGETS);
                return -1;
            }
            bad = lab_endpoint(v, &o->to[o->to_count++], 0);
        } else if (strcmp(argv[i], "--timeout-ms") == 0) {
            bad = parse_long(v, 1, 600000, &o->timeout_ms);
        } else if (strcmp(argv[i], "--max") == 0) {
            bad = parse_long(v, 1, 10000000, &o->max_datagrams);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            bad = parse_long(v, 1, 86400, &o->seconds);
        } else if (strcmp(argv[i], "--n") == 0) {
            bad = parse_long(v, 1, 100000, &o->n);
        } else if (strcmp(argv[i], "--interval-ms") == 0) {
            bad = parse_long(v, 0, 10000, &o->interval_ms);
        } else {
            fprintf(stderr, "udp_probe: unknown option '%s'\n", argv[i]);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "udp_probe: bad value for %s\n", argv[i]);
            return -1;
        }
    }
    if (!o->have_bind) {
        fprintf(stderr, "udp_probe: --bind is required\n");
        return -1;
    }
    return 0;
}

static int open_bound(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("udp_probe: socket");
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
        char text[PROBE_TEXT_MAX];
        format_endpoint(addr, text);
        fprintf(stderr, "udp_probe: bind %s: %s\n", text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits up to timeout_ms for one datagram. Returns 1 with its length in
 * *len, 0 on timeout, -1 on error. ICMP errors (port unreachable) are not
 * datagrams: they are skipped. */
static int receive(int fd, int64_t timeout_ms, char *buf, size_t cap, size_t *len,
                   struct sockaddr_in *from)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)left);
        if (ready < 0 && errno != EINTR) {
            perror("udp_probe: poll");
            return -1;
        }
        if (ready > 0) {
            socklen_t fromlen = sizeof *from;
            ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &fromlen);
            if (n >= 0) {
                *len = (size_t)n;
                return 1;
            }
            if (errno != ECONNREFUSED && errno != EINTR) {
                perror("udp_probe: recvfrom");
                return -1;
            }
        }
        if (left == 0)
            return 0;
    }
}

static int send_to(int fd, const struct sockaddr_in *to, const char *text)
{
    if (sendto(fd, text, strlen(text), 0, (const struct sockaddr *)to, sizeof *to) < 0 &&
        errno != ECONNREFUSED) {
        perror("udp_probe: sendto");
        return -1;
    }
    return 0;
}

static int run_reflect(int fd, const struct options *o)
{
    char text[PROBE_TEXT_MAX];
    format_endpoint(&o->bind, text);
    printf("reflecting %s\n", text);
    fflush(stdout);
    int64_t deadline = now_ms() + o->seconds * 1000;
    long answered = 0;
    while (answered < o->max_datagrams && now_ms() < deadline) {
        char buf[1500];
        struct sockaddr_in from;
        size_t len;
        int got = receive(fd, deadline - now_ms(), buf, sizeof buf, &len, &from);
        if (got < 0)
            return 1;
        if (got == 0)
            continue;
        format_endpoint(&from, text);
        if (send_to(fd, &from, text) < 0)
            return 1;
        answered++;
    }
    fprintf(stderr, "udp_probe: reflected %ld datagrams\n", answered);
    return 0;
}

static int run_ask(int fd, const struct options *o)
{
    char mapped[PROBE_MAX_TARGETS][PROBE_TEXT_MAX] = {{0}};
    double sent_at[PROBE_MAX_TARGETS] = {0}, rtt[PROBE_MAX_TARGETS] = {0};
    int answered = 0;
    for (int try = 0; try < PROBE_TRIES && answered < o->to_count; try++) {
        for (int i = 0; i < o->to_count; i++) {
            if (mapped[i][0] != '\0')
                continue;
            sent_at[i] = now_ms_precise();
            if (send_to(fd, &o->to[i], "ask") < 0)
                return 1;
        }
        int64_t deadline = now_ms() + o->timeout_ms;
        while (answered < o->to_count && now_ms() < deadline) {
            char buf[PROBE_TEXT_MAX];
            struct sockaddr_in from, reported;
            size_t len;
            int got = receive(fd, deadline - now_ms(), buf, sizeof buf - 1, &len, &from);
            if (got < 0)
                return 1;
            if (got == 0)
                break;
            buf[len] = '\0';
            if (parse_endpoint(buf, &reported, 0) < 0)
                continue; /* not a reflector's answer */
            for (int i = 0; i < o->to_count; i++) {
                if (mapped[i][0] == '\0' && same_endpoint(&from, &o->to[i])) {
                    rtt[i] = now_ms_precise() - sent_at[i];
                    format_endpoint(&reported, mapped[i]);
                    answered++;
                }
            }
        }
    }
    for (int i = 0; i < o->to_count; i++) {
        char target[PROBE_TEXT_MAX];
        format_endpoint(&o->to[i], target);
        if (mapped[i][0] != '\0')
            printf("%s %s rtt_ms=%.3f\n", target, mapped[i], rtt[i]);
        else
            printf("%s timeout\n", target);
    }
    return 0;
}

static int run_listen(int fd, const struct options *o)
{
    char text[PROBE_TEXT_MAX];
    format_endpoint(&o->bind, text);
    printf("listening %s\n", text);
    fflush(stdout);
    char buf[1500];
    struct sockaddr_in from;
    size_t len;
    int got = receive(fd, o->timeout_ms, buf, sizeof buf, &len, &from);
    if (got < 0)
        return 1;
    if (got == 0) {
        printf("timeout\n");
        return 0;
    }
    format_endpoint(&from, text);
    printf("got %s\n", text);
    return 0;
}

static int run_count(int fd, const struct options *o)
{
    long received = 0;
    for (long i = 0; i < o->n; i++) {
        if (send_to(fd, &o->to[0], "count") < 0)
            return 1;
        /* The pause between sends doubles as the time to take answers. */
        int64_t deadline = now_ms() + (i + 1 < o->n ? o->interval_ms : o->timeout_ms);
        for (;;) {
            char buf[PROBE_TEXT_MAX];
            struct sockaddr_in from;
            int64_t left = deadline - now_ms();
            size_t len;
            int got = receive(fd, left > 0 ? left : 0, buf, sizeof buf, &len, &from);
            if (got < 0)
                return 1;
            if (got == 0)
                break;
            if (same_endpoint(&from, &o->to[0]))
                received++;
        }
    }
    printf("sent %ld received %ld\n", o->n, received);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_options(argc, argv, &o) < 0) {
        usage();
        return 2;
    }
    int needs_to = strcmp(o.mode, "ask") == 0 || strcmp(o.mode, "send") == 0 ||
                   strcmp(o.mode, "count") == 0;
    int one_to = strcmp(o.mode, "send") == 0 || strcmp(o.mode, "count") == 0;
    int known = needs_to || strcmp(o.mode, "reflect") == 0 || strcmp(o.mode, "listen") == 0;
    if (!known || (needs_to && o.to_count == 0) || (!needs_to && o.to_count > 0) ||
        (one_to && o.to_count > 1) || (strcmp(o.mode, "count") == 0 && o.n == 0)) {
        usage();
        return 2;
    }
    int fd = open_bound(&o.bind);
    if (fd < 0)
        return 1;
    int rc;
    if (strcmp(o.mode, "reflect") == 0)
        rc = run_reflect(fd, &o);
    else if (strcmp(o.mode, "ask") == 0)
        rc = run_ask(fd, &o);
    else if (strcmp(o.mode, "send") == 0)
        rc = send_to(fd, &o.to[0], "probe") < 0 ? 1 : 0;
    else if (strcmp(o.mode, "listen") == 0)
        rc = run_listen(fd, &o);
    else
        rc = run_count(fd, &o);
    close(fd);
    return rc;
}
