/* The port-mapping client's loop side (node/portmap.h): timers, the one
 * job in flight, the lease held, and the callbacks. The exchanges with the
 * gateway run in the thread pool (run_job); everything else here runs on
 * the loop thread. */
#include "portmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/portmap_internal.h"
#include "transport/error.h"

/* A failed renewal is tried again while the lease has this long left,
 * at most this often apart and at least this often. */
#define RENEW_GIVE_UP_MS 10000
#define RENEW_RETRY_MIN_MS 5000
#define RENEW_RETRY_MAX_MS 60000
/* The soonest a renewal is sent after the last. */
#define RENEW_AT_LEAST_MS 2000

struct knit_portmap {
    uv_loop_t *loop;
    struct knit_portmap_config cfg;
    knit_portmap_cb cb;
    void *ctx;
    uv_timer_t timer;              /* next renewal or search */
    uv_timer_t stop_timer;         /* bounds stop */
    int open_handles;
    struct portmap_job *job;       /* in flight, or NULL */
    struct portmap_lease lease;    /* method 0 = none held */
    uint64_t expiry_ms;            /* uv_now() time the lease ends */
    uint64_t next_try_ms;          /* uv_now() time of the next search */
    uint64_t backoff_ms;           /* wait after the next failed search */
    uint32_t renewals;
    enum knit_portmap_state state;
    char last_error[KNIT_PORTMAP_ERROR_MAX];
    void (*done)(void *ctx);
    void *done_ctx;
    bool closing;
};

struct method {
    uint32_t bit;
    const char *name;
    int (*map)(struct portmap_job *job, bool renew);
    int (*del)(struct portmap_job *job);
};

/* The order they are tried in. */
static const struct method methods[] = {
    {KNIT_PORTMAP_PCP, "pcp", portmap_pcp_map, portmap_pcp_delete},
    {KNIT_PORTMAP_NATPMP, "nat-pmp", portmap_natpmp_map,
     portmap_natpmp_delete},
    {KNIT_PORTMAP_UPNP, "upnp", portmap_upnp_map, portmap_upnp_delete},
};
#define METHOD_COUNT (sizeof methods / sizeof methods[0])

static const struct method *method_of(uint32_t bit)
{
    for (size_t i = 0; i < METHOD_COUNT; i++)
        if (methods[i].bit == bit)
            return &methods[i];
    return NULL;
}

static const char *method_name(uint32_t bit)
{
    const struct method *m = method_of(bit);
    return m ? m->name : NULL;
}

/* ---- helpers shared with the worker files ---------------------------- */

int portmap_fail(struct portmap_job *job, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->error, sizeof job->error, fmt, ap);
    va_end(ap);
    return err;
}

uint64_t portmap_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_line(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_line(const char *level, const char *fmt, ...)
{
    char line[KNIT_PORTMAP_ERROR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "knit: [%s] portmap: %s\n", level, line);
}

static const char *addr_text(const struct knit_addr *a, char *buf, size_t cap)
{
    if (knit_addr_format(a, buf, cap) != KNIT_OK)
        snprintf(buf, cap, "?");
    return buf;
}

/* ---- the worker ---------------------------------------------------- */

static void append_reason(char *all, size_t cap, const char *reason)
{
    size_t used = strlen(all);
    if (used > 0 && used + 2 < cap) {
        memcpy(all + used, "; ", 3);
        used += 2;
    }
    snprintf(all + used, cap - used, "%s", reason);
}

static void run_job(uv_work_t *req)
{
    struct portmap_job *job = req->data;
    if (job->kind == JOB_DELETE) {
        job->result = method_of(job->lease.method)->del(job);
        return;
    }
    if (job->kind == JOB_RENEW) {
        job->result = method_of(job->lease.method)->map(job, true);
    } else {
        char all[KNIT_PORTMAP_ERROR_MAX] = "";
        job->result = KNIT_E_NOT_FOUND;
        for (size_t i = 0; i < METHOD_COUNT; i++) {
            if (!(job->methods & methods[i].bit) || portmap_cancelled(job))
                continue;
            job->error[0] = '\0';
            job->result = methods[i].map(job, false);
            if (job->result == KNIT_OK)
                break;
            append_reason(all, sizeof all, job->error);
        }
        /* On success, the reasons the methods tried before failed. */
        snprintf(job->error, sizeof job->error, "%s",
                 all[0] || job->result == KNIT_OK ? all : "cancelled");
    }
    /* Stopped while this ran: what it made must not outlive the client. */
    if (job->result == KNIT_OK && atomic_load(&job->cancel)) {
        job->deleting = true;
        job->deleted = method_of(job->lease.method)->del(job) == KNIT_OK;
    }
}

/* ---- the loop side ------------------------------------------------- */

static void after_job(uv_work_t *req, int status);
static void finish(struct knit_portmap *pm);
static void schedule(struct knit_portmap *pm, uint64_t ms);

static void start_job(struct knit_portmap *pm, enum portmap_job_kind kind)
{
    struct portmap_job *job = calloc(1, sizeof *job);
    if (!job) {
        snprintf(pm->last_error, sizeof pm->last_error, "out of memory");
        log_line("warn", "out of memory");
        if (pm->state == KNIT_PORTMAP_STOPPING)
            finish(pm);
        else
            schedule(pm, KNIT_PORTMAP_RETRY_FIRST_MS);
        return;
    }
    job->req.data = job;
    job->kind = kind;
    atomic_init(&job->cancel, false);
    atomic_init(&job->abandoned, false);
    job->methods = pm->cfg.methods;
    job->internal_port = pm->cfg.internal_port;
    job->lease_s = pm->cfg.lease_s;
    job->lease = pm->lease;
    job->pm = pm;
    pm->job = job;
    /* uv_queue_work fails only for a NULL work callback. */
    uv_queue_work(pm->loop, &job->req, run_job, after_job);
}

static void close_done(uv_handle_t *h)
{
    struct knit_portmap *pm = h->data;
    if (--pm->open_handles > 0)
        return;
    void (*done)(void *) = pm->done;
    void *ctx = pm->done_ctx;
    free(pm);
    if (done)
        done(ctx);
}

/* The end of stop: the mapping is gone or given up on. */
static void finish(struct knit_portmap *pm)
{
    if (pm->closing)
        return;
    pm->closing = true;
    uv_timer_stop(&pm->timer);
    uv_timer_stop(&pm->stop_timer);
    uv_close((uv_handle_t *)&pm->timer, close_done);
    uv_close((uv_handle_t *)&pm->stop_timer, close_done);
}

static void delete_or_finish(struct knit_portmap *pm)
{
    if (pm->lease.method)
        start_job(pm, JOB_DELETE);
    else
        finish(pm);
}

static void on_timer(uv_timer_t *t);

static void schedule(struct knit_portmap *pm, uint64_t ms)
{
    uv_timer_start(&pm->timer, on_timer, ms, 0);
}

static void search_failed(struct knit_portmap *pm, const char *reason)
{
    snprintf(pm->last_error, sizeof pm->last_error, "%s", reason);
    pm->state = KNIT_PORTMAP_WAITING;
    pm->next_try_ms = uv_now(pm->loop) + pm->backoff_ms;
    log_line("warn", "no mapping: %s; next try in %llu s", reason,
             (unsigned long long)(pm->backoff_ms / 1000));
    schedule(pm, pm->backoff_ms);
    pm->backoff_ms *= 2;
    if (pm->backoff_ms > KNIT_PORTMAP_RETRY_MAX_MS)
        pm->backoff_ms = KNIT_PORTMAP_RETRY_MAX_MS;
}

static void hold(struct knit_portmap *pm, const struct portmap_lease *lease)
{
    uint64_t half = (uint64_t)lease->lifetime_s * 1000 / 2;
    pm->lease = *lease;
    pm->expiry_ms = uv_now(pm->loop) + (uint64_t)lease->lifetime_s * 1000;
    pm->state = KNIT_PORTMAP_MAPPED;
    /* A gateway granting a second or two must not make us spin. */
    schedule(pm, half > RENEW_AT_LEAST_MS ? half : RENEW_AT_LEAST_MS);
}

static void announce(struct knit_portmap *pm)
{
    char ext[KNIT_ADDR_TEXT_MAX];
    addr_text(&pm->lease.external, ext, sizeof ext);
    log_line("info", "mapped UDP %s -> port %u by %s for %u s", ext,
             pm->lease.internal_port, method_name(pm->lease.method),
             pm->lease.lifetime_s);
    if (!knit_addr_is_global(&pm->lease.external))
        log_line("warn", "%s is not a global address: the gateway is "
                 "itself behind NAT, so the mapping is not reachable from "
                 "the Internet", ext);
    if (pm->cb)
        pm->cb(pm->ctx, &pm->lease.external, method_name(pm->lease.method));
}

static void on_mapped(struct knit_portmap *pm, struct portmap_job *job)
{
    if (job->result != KNIT_OK) {
        search_failed(pm, job->error);
        return;
    }
    pm->backoff_ms = KNIT_PORTMAP_RETRY_FIRST_MS;
    pm->renewals = 0;
    hold(pm, &job->lease);
    if (job->error[0])
        log_line("info", "using %s: %s", method_name(pm->lease.method),
                 job->error);
    announce(pm);
}

static void on_renewed(struct knit_portmap *pm, struct portmap_job *job)
{
    char ext[KNIT_ADDR_TEXT_MAX];
    if (job->result == KNIT_OK) {
        bool moved = !knit_addr_equal(&pm->lease.external,
                                      &job->lease.external);
        pm->renewals++;
        hold(pm, &job->lease);
        if (moved)
            announce(pm);
        return;
    }
    snprintf(pm->last_error, sizeof pm->last_error, "%s", job->error);
    uint64_t now = uv_now(pm->loop);
    addr_text(&pm->lease.external, ext, sizeof ext);
    if (pm->expiry_ms > now + RENEW_GIVE_UP_MS) {
        uint64_t left = pm->expiry_ms - now, wait = left / 2;
        if (wait > RENEW_RETRY_MAX_MS)
            wait = RENEW_RETRY_MAX_MS;
        if (wait < RENEW_RETRY_MIN_MS)
            wait = RENEW_RETRY_MIN_MS;
        log_line("warn", "renewing %s failed: %s; again in %llu s (lease "
                 "ends in %llu s)", ext, job->error,
                 (unsigned long long)(wait / 1000),
                 (unsigned long long)(left / 1000));
        schedule(pm, wait);
        return;
    }
    log_line("warn", "lost the mapping %s: its lease ended unrenewed (%s)",
             ext, job->error);
    memset(&pm->lease, 0, sizeof pm->lease);
    pm->state = KNIT_PORTMAP_SEARCHING;
    pm->backoff_ms = KNIT_PORTMAP_RETRY_FIRST_MS;
    if (pm->cb)
        pm->cb(pm->ctx, NULL, NULL);
    start_job(pm, JOB_MAP);
}

static void on_deleted(struct knit_portmap *pm, struct portmap_job *job)
{
    char ext[KNIT_ADDR_TEXT_MAX];
    addr_text(&pm->lease.external, ext, sizeof ext);
    if (job->result == KNIT_OK)
        log_line("info", "deleted the mapping %s (%s)", ext,
                 method_name(pm->lease.method));
    else
        log_line("warn", "could not delete the mapping %s: %s; the gateway "
                 "drops it when its lease ends", ext, job->error);
    memset(&pm->lease, 0, sizeof pm->lease);
    finish(pm);
}

/* While stopping, a search or renewal that comes back leaves either
 * nothing at the gateway, or a lease that still has to be deleted. */
static void on_job_while_stopping(struct knit_portmap *pm,
                                  struct portmap_job *job)
{
    if (job->kind == JOB_DELETE) {
        on_deleted(pm, job);
        return;
    }
    if (job->result == KNIT_OK) {
        pm->lease = job->lease;
        if (job->deleted) {
            on_deleted(pm, job);
            return;
        }
    }
    delete_or_finish(pm);
}

static void after_job(uv_work_t *req, int status)
{
    struct portmap_job *job = req->data;
    struct knit_portmap *pm = job->pm;
    (void)status; /* never cancelled: uv_cancel is not used */
    if (!pm) {
        /* The client stopped without waiting for this job. */
        if (job->kind != JOB_DELETE && job->result == KNIT_OK &&
            !job->deleted)
            log_line("warn", "a mapping made during stop could not be "
                     "deleted; the gateway drops it when its lease ends");
        free(job);
        return;
    }
    pm->job = NULL;
    if (pm->state == KNIT_PORTMAP_STOPPING)
        on_job_while_stopping(pm, job);
    else if (job->kind == JOB_MAP)
        on_mapped(pm, job);
    else if (job->kind == JOB_RENEW)
        on_renewed(pm, job);
    free(job);
}

static void on_timer(uv_timer_t *t)
{
    struct knit_portmap *pm = t->data;
    if (pm->state == KNIT_PORTMAP_STOPPING || pm->job)
        return;
    if (pm->lease.method) {
        start_job(pm, JOB_RENEW);
    } else {
        pm->state = KNIT_PORTMAP_SEARCHING;
        start_job(pm, JOB_MAP);
    }
}

static void on_stop_timeout(uv_timer_t *t)
{
    struct knit_portmap *pm = t->data;
    char ext[KNIT_ADDR_TEXT_MAX];
    if (pm->job) {
        /* The job finishes on its own and frees itself (after_job). */
        atomic_store(&pm->job->cancel, true);
        atomic_store(&pm->job->abandoned, true);
        pm->job->pm = NULL;
        pm->job = NULL;
        if (pm->lease.method) {
            uint64_t now = uv_now(pm->loop);
            log_line("warn", "the gateway did not confirm deleting %s in "
                     "%d ms; it drops it when its lease ends in %llu s",
                     addr_text(&pm->lease.external, ext, sizeof ext),
                     KNIT_PORTMAP_STOP_MS,
                     (unsigned long long)(pm->expiry_ms > now
                                              ? (pm->expiry_ms - now) / 1000
                                              : 0));
        }
    }
    finish(pm);
}

int knit_portmap_start(uv_loop_t *loop, const struct knit_portmap_config *cfg,
                       knit_portmap_cb cb, void *ctx,
                       struct knit_portmap **out)
{
    if (!loop || !cfg || !out || cfg->internal_port == 0 ||
        (cfg->methods & ~KNIT_PORTMAP_ALL))
        return KNIT_E_INVAL;
    struct knit_portmap *pm = calloc(1, sizeof *pm);
    if (!pm)
        return KNIT_E_NOMEM;
    pm->loop = loop;
    pm->cfg = *cfg;
    if (pm->cfg.lease_s == 0)
        pm->cfg.lease_s = KNIT_PORTMAP_DEFAULT_LEASE_S;
    if (pm->cfg.lease_s < KNIT_PORTMAP_MIN_LEASE_S)
        pm->cfg.lease_s = KNIT_PORTMAP_MIN_LEASE_S;
    if (pm->cfg.lease_s > KNIT_PORTMAP_MAX_LEASE_S)
        pm->cfg.lease_s = KNIT_PORTMAP_MAX_LEASE_S;
    if (pm->cfg.methods == 0)
        pm->cfg.methods = KNIT_PORTMAP_ALL;
    pm->cb = cb;
    pm->ctx = ctx;
    pm->backoff_ms = KNIT_PORTMAP_RETRY_FIRST_MS;
    if (uv_timer_init(loop, &pm->timer) != 0) {
        free(pm);
        return KNIT_E_IO;
    }
    if (uv_timer_init(loop, &pm->stop_timer) != 0) {
        pm->open_handles = 1;
        pm->timer.data = pm;
        uv_close((uv_handle_t *)&pm->timer, close_done);
        return KNIT_E_IO;
    }
    pm->timer.data = pm;
    pm->stop_timer.data = pm;
    pm->open_handles = 2;
    pm->state = KNIT_PORTMAP_SEARCHING;
    start_job(pm, JOB_MAP);
    *out = pm;
    return KNIT_OK;
}

void knit_portmap_stop(struct knit_portmap *pm, void (*done)(void *ctx),
                       void *ctx)
{
    if (!pm) {
        if (done)
            done(ctx);
        return;
    }
    if (pm->state == KNIT_PORTMAP_STOPPING)
        return;
    pm->state = KNIT_PORTMAP_STOPPING;
    pm->cb = NULL; /* no callbacks after stop */
    pm->done = done;
    pm->done_ctx = ctx;
    uv_timer_stop(&pm->timer);
    uv_timer_start(&pm->stop_timer, on_stop_timeout, KNIT_PORTMAP_STOP_MS, 0);
    if (pm->job)
        atomic_store(&pm->job->cancel, true); /* after_job goes on */
    else
        delete_or_finish(pm);
}

void knit_portmap_get_status(const struct knit_portmap *pm,
                             struct knit_portmap_status *out)
{
    memset(out, 0, sizeof *out);
    if (!pm)
        return;
    uint64_t now = uv_now(pm->loop);
    out->state = pm->state;
    snprintf(out->last_error, sizeof out->last_error, "%s", pm->last_error);
    out->renewals = pm->renewals;
    if (pm->state == KNIT_PORTMAP_WAITING && pm->next_try_ms > now)
        out->next_try_s = (uint32_t)((pm->next_try_ms - now + 999) / 1000);
    if (!pm->lease.method)
        return;
    out->method = method_name(pm->lease.method);
    out->external = pm->lease.external;
    out->lease_expiry_ms = pm->expiry_ms;
    if (pm->expiry_ms > now)
        out->lease_left_s = (uint32_t)((pm->expiry_ms - now) / 1000);
}

const char *knit_portmap_state_name(enum knit_portmap_state state)
{
    switch (state) {
    case KNIT_PORTMAP_SEARCHING:
        return "searching";
    case KNIT_PORTMAP_MAPPED:
        return "mapped";
    case KNIT_PORTMAP_WAITING:
        return "waiting";
    case KNIT_PORTMAP_STOPPING:
        return "stopping";
    }
    return "unknown";
}
