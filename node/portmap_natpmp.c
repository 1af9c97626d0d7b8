/* NAT-PMP (RFC 6886) through libnatpmp, in a thread-pool worker: the
 * public address, then the UDP mapping. libnatpmp's socket is
 * non-blocking and retransmits on its own (250 ms doubling); this file
 * bounds each exchange to PORTMAP_EXCHANGE_MS and reads the cancel flag
 * every 100 ms. */
#include "portmap_internal.h"

#include <arpa/inet.h>
#include <poll.h>
#include <string.h>

#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#include "node/portmap.h"
#include "transport/error.h"

#define POLL_SLICE_MS 100

int portmap_default_gateway(struct portmap_job *job)
{
    natpmp_t n;
    int r = initnatpmp(&n, 0, 0);
    if (r < 0)
        return portmap_fail(job, r == NATPMP_ERR_CANNOTGETGATEWAY
                                     ? KNIT_E_NOT_FOUND
                                     : KNIT_E_IO,
                            "no IPv4 default gateway: %s", strnatpmperr(r));
    job->lease.gateway.s_addr = n.gateway;
    closenatpmp(&n);
    inet_ntop(AF_INET, &job->lease.gateway, job->lease.gateway_text,
              sizeof job->lease.gateway_text);
    return KNIT_OK;
}

static int error_for(int r)
{
    switch (r) {
    case NATPMP_ERR_NOGATEWAYSUPPORT:
    case NATPMP_ERR_UNSUPPORTEDVERSION:
        return KNIT_E_UNSUPPORTED;
    case NATPMP_ERR_NOTAUTHORIZED:
    case NATPMP_ERR_NETWORKFAILURE:
    case NATPMP_ERR_OUTOFRESOURCES:
    case NATPMP_ERR_UNSUPPORTEDOPCODE:
    case NATPMP_ERR_UNDEFINEDERROR:
        return KNIT_E_REFUSED;
    default:
        return KNIT_E_IO;
    }
}

/* Waits for the answer to the request just sent; 0 with *resp, or an
 * error naming what was asked. */
static int await(struct portmap_job *job, natpmp_t *n, natpmpresp_t *resp,
                 const char *what)
{
    uint64_t deadline = portmap_now_ms() + PORTMAP_EXCHANGE_MS;
    for (;;) {
        if (portmap_cancelled(job))
            return portmap_fail(job, KNIT_E_TIMEOUT, "nat-pmp: cancelled");
        int r = readnatpmpresponseorretry(n, resp);
        if (r == 0)
            return KNIT_OK;
        if (r != NATPMP_TRYAGAIN)
            return portmap_fail(job, error_for(r), "nat-pmp: %s at %s: %s",
                                what, job->lease.gateway_text,
                                strnatpmperr(r));
        uint64_t now = portmap_now_ms();
        if (now >= deadline)
            return portmap_fail(job, KNIT_E_TIMEOUT,
                                "nat-pmp: no answer to %s from %s:%d in %d ms",
                                what, job->lease.gateway_text, NATPMP_PORT,
                                PORTMAP_EXCHANGE_MS);
        uint64_t wait = deadline - now;
        struct timeval tv;
        if (getnatpmprequesttimeout(n, &tv) == 0) {
            uint64_t retry = (uint64_t)tv.tv_sec * 1000 +
                             (uint64_t)tv.tv_usec / 1000;
            if (retry < wait)
                wait = retry;
        }
        if (wait > POLL_SLICE_MS)
            wait = POLL_SLICE_MS;
        struct pollfd pfd = {.fd = n->s, .events = POLLIN};
        (void)poll(&pfd, 1, (int)wait);
    }
}

static int open_gateway(struct portmap_job *job, natpmp_t *n)
{
    /* Renewals and deletions go to the gateway that granted the mapping. */
    int r = initnatpmp(n, 1, job->lease.gateway.s_addr);
    if (r < 0)
        return portmap_fail(job, KNIT_E_IO, "nat-pmp: cannot open a socket "
                            "to %s: %s", job->lease.gateway_text,
                            strnatpmperr(r));
    return KNIT_OK;
}

/* Asks for the UDP mapping; retried once if an answer to an earlier
 * request (a late duplicate) comes first. */
static int request_mapping(struct portmap_job *job, natpmp_t *n,
                           uint16_t suggested, uint32_t lifetime,
                           natpmpresp_t *resp)
{
    struct portmap_lease *l = &job->lease;
    for (int attempt = 0; attempt < 2; attempt++) {
        int r = sendnewportmappingrequest(n, NATPMP_PROTOCOL_UDP,
                                          l->internal_port, suggested,
                                          lifetime);
        if (r < 0)
            return portmap_fail(job, KNIT_E_IO, "nat-pmp: send to %s: %s",
                                l->gateway_text, strnatpmperr(r));
        int err = await(job, n, resp, lifetime ? "mapping request"
                                               : "deletion");
        if (err)
            return err;
        if (resp->type == NATPMP_RESPTYPE_UDPPORTMAPPING &&
            resp->pnu.newportmapping.privateport == l->internal_port)
            return KNIT_OK;
    }
    return portmap_fail(job, KNIT_E_IO, "nat-pmp: %s answered another "
                        "request twice", l->gateway_text);
}

int portmap_lease_begin(struct portmap_job *job)
{
    memset(&job->lease, 0, sizeof job->lease);
    job->lease.internal_port = job->internal_port;
    return portmap_default_gateway(job);
}

int portmap_natpmp_map(struct portmap_job *job, bool renew)
{
    struct portmap_lease *l = &job->lease;
    if (!renew) {
        int err = portmap_lease_begin(job);
        if (err)
            return err;
    }
    natpmp_t n;
    int err = open_gateway(job, &n);
    if (err)
        return err;
    natpmpresp_t resp;
    int r = sendpublicaddressrequest(&n);
    if (r < 0) {
        err = portmap_fail(job, KNIT_E_IO, "nat-pmp: send to %s: %s",
                           l->gateway_text, strnatpmperr(r));
    } else {
        err = await(job, &n, &resp, "public address request");
        if (err == KNIT_OK && resp.type != NATPMP_RESPTYPE_PUBLICADDRESS)
            err = portmap_fail(job, KNIT_E_IO, "nat-pmp: %s answered the "
                               "public address request with type %u",
                               l->gateway_text, (unsigned)resp.type);
    }
    struct in_addr public_ip = {0};
    if (err == KNIT_OK) {
        public_ip = resp.pnu.publicaddress.addr;
        if (public_ip.s_addr == 0)
            err = portmap_fail(job, KNIT_E_REFUSED, "nat-pmp: %s reports "
                               "no public address", l->gateway_text);
    }
    if (err == KNIT_OK) {
        uint16_t suggested = l->external.port ? l->external.port
                                              : l->internal_port;
        err = request_mapping(job, &n, suggested, job->lease_s, &resp);
    }
    closenatpmp(&n);
    if (err)
        return err;
    if (resp.pnu.newportmapping.lifetime == 0 ||
        resp.pnu.newportmapping.mappedpublicport == 0)
        return portmap_fail(job, KNIT_E_REFUSED, "nat-pmp: %s granted no "
                            "usable mapping (port %u, lifetime %u)",
                            l->gateway_text,
                            resp.pnu.newportmapping.mappedpublicport,
                            resp.pnu.newportmapping.lifetime);
    knit_addr_set(&l->external, (const uint8_t *)&public_ip, 4,
                  resp.pnu.newportmapping.mappedpublicport);
    l->lifetime_s = resp.pnu.newportmapping.lifetime;
    l->method = KNIT_PORTMAP_NATPMP;
    return KNIT_OK;
}

int portmap_natpmp_delete(struct portmap_job *job)
{
    natpmp_t n;
    int err = open_gateway(job, &n);
    if (err)
        return err;
    natpmpresp_t resp;
    /* RFC 6886 3.4: lifetime 0 deletes; the external port must be 0. */
    err = request_mapping(job, &n, 0, 0, &resp);
    closenatpmp(&n);
    return err;
}
