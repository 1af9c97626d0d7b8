/* Shared by the port-mapping client's files: portmap.c (the loop side)
 * and portmap_pcp.c, portmap_natpmp.c, portmap_upnp.c (the blocking
 * exchanges, run in the thread pool).
 *
 * A job carries everything a worker needs by value, so a worker never
 * reads the client's state; the only thing both threads touch is the
 * job's atomic cancel flag. */
#ifndef KNIT_PORTMAP_INTERNAL_H
#define KNIT_PORTMAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#include "node/pcp_msg.h"
#include "node/portmap.h"
#include "transport/io.h"

#define PORTMAP_URL_MAX 512
#define PORTMAP_SERVICE_MAX 128
/* How long one PCP or NAT-PMP exchange waits for the gateway in all:
 * sends at 0, 0.25, 0.75 and 1.75 s (doubling from 250 ms, RFC 6886),
 * answers until 3 s. A LAN gateway answers in milliseconds. */
#define PORTMAP_EXCHANGE_MS 3000
#define PORTMAP_FIRST_RETRY_MS 250
/* SSDP search time (miniupnpc's delay: the M-SEARCH's MX, and how long
 * it listens). */
#define PORTMAP_SSDP_MS 2000

/* One mapping, as held by the client and copied into each job: what
 * renewing or deleting it needs. */
struct portmap_lease {
    uint32_t method;              /* one KNIT_PORTMAP_* bit; 0 = none */
    struct knit_addr external;
    uint32_t lifetime_s;          /* granted */
    uint16_t internal_port;
    struct in_addr gateway;       /* PCP, NAT-PMP */
    char gateway_text[INET_ADDRSTRLEN];
    uint8_t nonce[KNIT_PCP_NONCE_LEN]; /* PCP */
    char internal_ip[INET_ADDRSTRLEN]; /* UPnP: our LAN address */
    char control_url[PORTMAP_URL_MAX]; /* UPnP */
    char service_type[PORTMAP_SERVICE_MAX];
    bool permanent;               /* UPnP IGD that takes lease 0 only */
};

enum portmap_job_kind { JOB_MAP, JOB_RENEW, JOB_DELETE };

struct knit_portmap;

struct portmap_job {
    uv_work_t req;
    enum portmap_job_kind kind;
    atomic_bool cancel;            /* set by the loop thread on stop */
    atomic_bool abandoned;         /* set when stop stops waiting for it */
    uint32_t methods;              /* JOB_MAP: which to try, in order */
    uint16_t internal_port;        /* JOB_MAP */
    uint32_t lease_s;              /* requested lifetime */
    struct portmap_lease lease;    /* in: RENEW, DELETE; out: MAP, RENEW */
    int result;                    /* 0 or a KNIT_E_* code */
    char error[KNIT_PORTMAP_ERROR_MAX]; /* why, when result != 0 */
    bool deleting;                 /* worker: deleting what it just made */
    bool deleted;                  /* worker: ...and the gateway agreed */
    struct knit_portmap *pm;       /* NULL once the client gave up on it */
};

/* Stop cancels searches and renewals; a deletion runs to its own bound
 * (PORTMAP_EXCHANGE_MS), as it is what stop waits for, unless stop has
 * stopped waiting. */
static inline bool portmap_cancelled(struct portmap_job *job)
{
    if (atomic_load(&job->abandoned))
        return true;
    return !job->deleting && job->kind != JOB_DELETE &&
           atomic_load(&job->cancel);
}

/* Worker-thread exchanges. Each returns 0 with job->lease filled (map,
 * renew) or a KNIT_E_* code with a one-line reason in job->error:
 * KNIT_E_TIMEOUT when nothing answered, KNIT_E_UNSUPPORTED when the
 * gateway does not speak the protocol, KNIT_E_REFUSED when it said no,
 * KNIT_E_IO for a local failure. Renew works from job->lease. */
int portmap_pcp_map(struct portmap_job *job, bool renew);
int portmap_pcp_delete(struct portmap_job *job);
int portmap_natpmp_map(struct portmap_job *job, bool renew);
int portmap_natpmp_delete(struct portmap_job *job);
int portmap_upnp_map(struct portmap_job *job, bool renew);
int portmap_upnp_delete(struct portmap_job *job);

/* Writes a formatted reason into job->error; returns err. */
int portmap_fail(struct portmap_job *job, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills job->lease.gateway and gateway_text with the IPv4 default gateway
 * (libnatpmp's lookup), for PCP and NAT-PMP. */
int portmap_default_gateway(struct portmap_job *job);
/* A new lease for job->internal_port: cleared, with the default gateway
 * found (PCP and NAT-PMP both ask it). */
int portmap_lease_begin(struct portmap_job *job);

/* Milliseconds on a monotonic clock, for the exchanges' deadlines. */
uint64_t portmap_now_ms(void);

#endif
