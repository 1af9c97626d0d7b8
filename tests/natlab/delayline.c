/* delayline: a fixed network delay for the natlab, in user space.
 *
 *   delayline --queue N --delay-ms D [--jitter-ms J]
 *
 * The lab's kernel has no netem qdisc and no nftables `queue` statement, so
 * lab.sh sends the packets of a link to an NFQUEUE queue with an iptables
 * rule and this program holds each one for D ms (plus a uniform jitter in
 * [-J, +J] ms) before accepting it. Packets leave in the order they came:
 * a packet is never released before the one queued ahead of it, so jitter
 * stretches gaps but never reorders.
 *
 * Only packet metadata is copied from the kernel (NFQNL_COPY_META): the
 * verdict needs the packet id, not the payload. At most KNIT_DELAY_PENDING
 * packets wait; beyond that a packet is accepted at once and counted, so a
 * flood costs bounded memory and the link stays up (just undelayed).
 *
 * It prints "delayline: queue N delay D ms" when the queue is bound, so a
 * script can wait for that line before it adds the rule. SIGTERM or SIGINT
 * release every waiting packet, unbind the queue and exit 0; the counts go
 * to stderr. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

/* 8192 packets of 1500 bytes is 12 MB in flight: far above what a 20 ms
 * delay holds at lab rates, small enough to bound memory. */
#define KNIT_DELAY_PENDING 8192
/* Longest poll: a signal that lands just before poll() is seen this late
 * at worst (a self-pipe would be exact; 100 ms is enough for a test tool). */
#define KNIT_DELAY_MAX_WAIT_MS 100

struct pending {
    uint32_t id;         /* the kernel's packet id, for the verdict */
    uint64_t release_ns; /* CLOCK_MONOTONIC time to accept it */
};

struct delayline {
    struct nfq_q_handle *queue;
    struct pending ring[KNIT_DELAY_PENDING]; /* FIFO, release_ns ascending */
    size_t head;
    size_t count;
    uint64_t delay_ns;
    uint64_t jitter_ns;
    uint64_t last_release_ns; /* release time of the newest packet */
    uint64_t delayed;         /* packets released after their delay */
    uint64_t overflow;        /* packets accepted at once: ring was full */
    uint64_t verdict_errors;  /* verdicts the kernel refused */
    uint64_t overruns;        /* netlink socket overruns (ENOBUFS) */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: delayline --queue N --delay-ms D [--jitter-ms J]\n"
                    "  N in 0..65535, D and J in 0..60000, J <= D\n");
}

/* A whole decimal number in [0, max]; anything else is an error. */
static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > max)
        return -1;
    *out = value;
    return 0;
}

static void accept_packet(struct delayline *line, uint32_t id)
{
    if (nfq_set_verdict(line->queue, id, NF_ACCEPT, 0, NULL) < 0)
        line->verdict_errors++;
}

/* The delay of one packet: D plus a uniform jitter in [-J, +J], never
 * negative (J <= D is checked at start-up, this is only a guard). */
static uint64_t packet_delay_ns(const struct delayline *line)
{
    if (line->jitter_ns == 0)
        return line->delay_ns;
    uint64_t span = 2 * line->jitter_ns + 1;
    uint64_t r = ((uint64_t)rand() << 31 ^ (uint64_t)rand()) % span;
    int64_t delay = (int64_t)line->delay_ns + (int64_t)r - (int64_t)line->jitter_ns;
    return delay < 0 ? 0 : (uint64_t)delay;
}

/* libnetfilter_queue calls this for each queued packet. */
static int on_packet(struct nfq_q_handle *queue, struct nfgenmsg *msg,
                     struct nfq_data *data, void *user)
{
    (void)queue;
    (void)msg;
    struct delayline *line = user;
    struct nfqnl_msg_packet_hdr *hdr = nfq_get_msg_packet_hdr(data);
    if (hdr == NULL)
        return 0; /* no id: nothing we could give a verdict for */
    uint32_t id = ntohl(hdr->packet_id);
    if (line->count == KNIT_DELAY_PENDING) {
        line->overflow++;
        accept_packet(line, id);
        return 0;
    }
    uint64_t release = now_ns() + packet_delay_ns(line);
    /* Never before the packet ahead of it: keeps the order under jitter. */
    if (release < line->last_release_ns)
        release = line->last_release_ns;
    line->last_release_ns = release;
    size_t tail = (line->head + line->count) % KNIT_DELAY_PENDING;
    line->ring[tail].id = id;
    line->ring[tail].release_ns = release;
    line->count++;
    return 0;
}

/* Accepts every packet whose time has come (all of them if `all`). */
static void release_due(struct delayline *line, int all)
{
    uint64_t now = now_ns();
    while (line->count > 0) {
        struct pending *p = &line->ring[line->head];
        if (!all && p->release_ns > now)
            break;
        accept_packet(line, p->id);
        line->delayed++;
        line->head = (line->head + 1) % KNIT_DELAY_PENDING;
        line->count--;
    }
}

/* Milliseconds until the oldest packet is due, rounded up (a packet goes
 * out at most 1 ms late), capped so a stop request is noticed. */
static int wait_ms(const struct delayline *line)
{
    if (line->count == 0)
        return KNIT_DELAY_MAX_WAIT_MS;
    uint64_t now = now_ns();
    uint64_t due = line->ring[line->head].release_ns;
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999u) / 1000000u;
    return ms > KNIT_DELAY_MAX_WAIT_MS ? KNIT_DELAY_MAX_WAIT_MS : (int)ms;
}

/* Reads every netlink message waiting on the socket and queues its packets.
 * Returns -1 on an error that ends the program. */
static int read_packets(struct nfq_handle *handle, struct delayline *line)
{
    static char buf[65536];
    int fd = nfq_fd(handle);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n >= 0) {
            nfq_handle_packet(handle, buf, (int)n);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        if (errno == ENOBUFS) {
            /* The socket overran: the kernel dropped some queue messages
             * (and their packets). Count it and carry on. */
            line->overruns++;
            continue;
        }
        perror("delayline: recv");
        return -1;
    }
}

int main(int argc, char **argv)
{
    unsigned long queue_num = ULONG_MAX, delay_ms = ULONG_MAX, jitter_ms = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(argv[i], "--queue") == 0)
            bad = parse_uint(value, 65535, &queue_num);
        else if (strcmp(argv[i], "--delay-ms") == 0)
            bad = parse_uint(value, 60000, &delay_ms);
        else if (strcmp(argv[i], "--jitter-ms") == 0)
            bad = parse_uint(value, 60000, &jitter_ms);
        else
            bad = -1;
        if (bad) {
            fprintf(stderr, "delayline: bad or unknown option '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (queue_num == ULONG_MAX || delay_ms == ULONG_MAX || jitter_ms > delay_ms) {
        usage();
        return 2;
    }

    static struct delayline line; /* static: the ring is 128 KiB */
    line.delay_ns = (uint64_t)delay_ms * 1000000u;
    line.jitter_ns = (uint64_t)jitter_ms * 1000000u;
    srand((unsigned)now_ns());

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *handle = nfq_open();
    if (handle == NULL) {
        perror("delayline: nfq_open (needs root and nfnetlink_queue)");
        return 1;
    }
    line.queue = nfq_create_queue(handle, (uint16_t)queue_num, on_packet, &line);
    if (line.queue == NULL) {
        fprintf(stderr, "delayline: cannot bind queue %lu (taken?)\n", queue_num);
        nfq_close(handle);
        return 1;
    }
    int rc = 1;
    if (nfq_set_mode(line.queue, NFQNL_COPY_META, 0) < 0) {
        perror("delayline: nfq_set_mode");
        goto out;
    }
    /* The kernel may hold more than we do, so it never drops before our own
     * bound; fail-open accepts rather than drops if it still overflows. */
    nfq_set_queue_maxlen(line.queue, 2 * KNIT_DELAY_PENDING);
    nfq_set_queue_flags(line.queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    nfnl_rcvbufsiz(nfq_nfnlh(handle), 4u << 20);

    printf("delayline: queue %lu delay %lu ms\n", queue_num, delay_ms);
    fflush(stdout);

    struct pollfd pfd = {.fd = nfq_fd(handle), .events = POLLIN};
    while (!stop_requested) {
        int ready = poll(&pfd, 1, wait_ms(&line));
        if (ready < 0 && errno != EINTR) {
            perror("delayline: poll");
            goto out;
        }
        if (ready > 0 && read_packets(handle, &line) < 0)
            goto out;
        release_due(&line, 0);
    }
    rc = 0;
out:
    release_due(&line, 1); /* nothing stays held when we go */
    nfq_destroy_queue(line.queue);
    nfq_close(handle);
    fprintf(stderr,
            "delayline: queue %lu released %" PRIu64 ", overflow %" PRIu64
            ", socket overruns %" PRIu64 ", verdict errors %" PRIu64 "\n",
            queue_num, line.delayed, line.overflow, line.overruns, line.verdict_errors);
    return rc;
}
