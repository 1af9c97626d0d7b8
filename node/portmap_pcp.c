/* PCP MAP (RFC 6887) to the default gateway, in a thread-pool worker:
 * one connected UDP socket to gateway:5351, the request from
 * node/pcp_msg.c, retransmitted at 0.25 s doubling until
 * PORTMAP_EXCHANGE_MS, the cancel flag read every 100 ms. */
#include "portmap_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "node/portmap.h"
#include "transport/error.h"

#define POLL_SLICE_MS 100

struct pcp_conn {
    int fd;
    struct knit_addr client; /* our address toward the gateway */
};

static int pcp_open(struct portmap_job *job, struct pcp_conn *c)
{
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return portmap_fail(job, KNIT_E_IO, "pcp: socket: %s",
                            strerror(errno));
    struct sockaddr_in gw = {.sin_family = AF_INET,
                             .sin_port = htons(KNIT_PCP_PORT),
                             .sin_addr = job->lease.gateway};
    struct sockaddr_in self;
    socklen_t self_len = sizeof self;
    /* connect() picks the source address the gateway will see, which the
     * request must carry (else ADDRESS_MISMATCH), and makes an ICMP port
     * unreachable show as ECONNREFUSED. */
    if (connect(c->fd, (struct sockaddr *)&gw, sizeof gw) < 0 ||
        getsockname(c->fd, (struct sockaddr *)&self, &self_len) < 0) {
        int e = errno;
        close(c->fd);
        return portmap_fail(job, KNIT_E_IO, "pcp: cannot reach gateway %s: %s",
                            job->lease.gateway_text, strerror(e));
    }
    knit_addr_set(&c->client, (const uint8_t *)&self.sin_addr, 4, 0);
    return KNIT_OK;
}

/* Sends req and waits for its answer, retransmitting. 0 with *resp a
 * matching response (any result code), or an error. */
static int exchange(struct portmap_job *job, struct pcp_conn *c,
                    const struct knit_pcp_map_request *req,
                    struct knit_pcp_map_response *resp)
{
    uint8_t pkt[KNIT_PCP_MAX_LEN];
    size_t len = 0;
    int err = knit_pcp_map_request_encode(req, pkt, sizeof pkt, &len);
    if (err)
        return portmap_fail(job, err, "pcp: cannot encode request: %s",
                            knit_strerror(err));
    uint64_t start = portmap_now_ms(), next_send = start;
    uint64_t deadline = start + PORTMAP_EXCHANGE_MS;
    uint64_t gap = PORTMAP_FIRST_RETRY_MS;
    int ignored = 0;
    for (;;) {
        uint64_t now = portmap_now_ms();
        if (portmap_cancelled(job))
            return portmap_fail(job, KNIT_E_TIMEOUT, "pcp: cancelled");
        if (now >= deadline)
            return portmap_fail(job, KNIT_E_TIMEOUT,
                                "pcp: no answer from %s:%d in %d ms%s",
                                job->lease.gateway_text, KNIT_PCP_PORT,
                                PORTMAP_EXCHANGE_MS,
                                ignored ? " (only unrelated packets)" : "");
        if (now >= next_send) {
            if (send(c->fd, pkt, len, 0) < 0 && errno != ECONNREFUSED)
                return portmap_fail(job, KNIT_E_IO, "pcp: send: %s",
                                    strerror(errno));
            next_send = now + gap;
            gap *= 2;
        }
        uint64_t wake = next_send < deadline ? next_send : deadline;
        int wait = (int)(wake - now);
        if (wait > POLL_SLICE_MS)
            wait = POLL_SLICE_MS;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int ready = poll(&pfd, 1, wait);
        if (ready < 0 && errno != EINTR)
            return portmap_fail(job, KNIT_E_IO, "pcp: poll: %s",
                                strerror(errno));
        if (ready <= 0)
            continue;
        uint8_t in[KNIT_PCP_MAX_LEN + 1];
        ssize_t n = recv(c->fd, in, sizeof in, 0);
        if (n < 0 && errno == ECONNREFUSED)
            return portmap_fail(job, KNIT_E_UNSUPPORTED,
                                "pcp: gateway %s has no PCP server (port "
                                "%d unreachable)",
                                job->lease.gateway_text, KNIT_PCP_PORT);
        if (n < 0)
            continue;
        err = knit_pcp_map_response_decode(in, (size_t)n, resp);
        if (err == KNIT_E_UNSUPPORTED && n >= 1 && in[0] == 0)
            return portmap_fail(job, KNIT_E_UNSUPPORTED,
                                "pcp: gateway %s speaks NAT-PMP only",
                                job->lease.gateway_text);
        if (err || !knit_pcp_map_response_matches(req, resp)) {
            ignored++; /* another answer, a stray or a broken packet */
            continue;
        }
        return KNIT_OK;
    }
}

static int map(struct portmap_job *job, struct pcp_conn *c, uint32_t lifetime)
{
    struct portmap_lease *l = &job->lease;
    struct knit_pcp_map_request req;
    memset(&req, 0, sizeof req);
    req.lifetime_s = lifetime;
    req.client = c->client;
    memcpy(req.nonce, l->nonce, sizeof req.nonce);
    req.protocol = KNIT_PCP_PROTO_UDP;
    req.internal_port = l->internal_port;
    if (l->external.family == KNIT_AF_IP4)
        req.suggested = l->external; /* renewal: keep what we hold */
    else
        req.suggested.port = l->internal_port;
    struct knit_pcp_map_response resp;
    int err = exchange(job, c, &req, &resp);
    if (err)
        return err;
    if (resp.result != KNIT_PCP_SUCCESS)
        return portmap_fail(job, KNIT_E_REFUSED, "pcp: gateway %s refused: %s",
                            l->gateway_text,
                            knit_pcp_result_name(resp.result));
    if (lifetime == 0)
        return KNIT_OK;
    if (resp.lifetime_s == 0 || resp.external.family != KNIT_AF_IP4)
        return portmap_fail(job, KNIT_E_REFUSED,
                            "pcp: gateway %s granted no usable mapping "
                            "(lifetime %u)",
                            l->gateway_text, resp.lifetime_s);
    l->external = resp.external;
    l->lifetime_s = resp.lifetime_s;
    return KNIT_OK;
}

int portmap_pcp_map(struct portmap_job *job, bool renew)
{
    struct portmap_lease *l = &job->lease;
    if (!renew) {
        int err = portmap_lease_begin(job);
        if (err)
            return err;
        /* The nonce names this mapping to the gateway for its lifetime:
         * renewals and the deletion repeat it. */
        randombytes_buf(l->nonce, sizeof l->nonce);
    }
    struct pcp_conn c;
    int err = pcp_open(job, &c);
    if (err)
        return err;
    err = map(job, &c, job->lease_s);
    close(c.fd);
    if (err == KNIT_OK)
        l->method = KNIT_PORTMAP_PCP;
    return err;
}

int portmap_pcp_delete(struct portmap_job *job)
{
    struct pcp_conn c;
    int err = pcp_open(job, &c);
    if (err)
        return err;
    err = map(job, &c, 0);
    close(c.fd);
    return err;
}
