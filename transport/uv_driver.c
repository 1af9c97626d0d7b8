#include "uv_driver.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"

struct udp_slot {
    uv_udp_t handle;
    struct knit_uv_driver *drv;
    int index;
};

struct send_request {
    uv_udp_send_t req;
    struct knit_uv_driver *drv;
    size_t len;
    uint8_t data[];
};

struct knit_uv_driver {
    uv_loop_t *loop;
    struct knit_uv_callbacks cb;
    uv_timer_t timer;
    struct udp_slot *slots[KNIT_UV_MAX_SOCKETS];
    size_t queued_bytes;
    int open_handles;          /* handles libuv still holds, for closing */
    bool closing;
    /* libuv fills this with up to KNIT_UV_RECV_BATCH datagrams per system
     * call (recvmmsg) and hands them over one by one before the next read,
     * so one buffer serves every socket. */
    uint8_t recv_buf[KNIT_UV_RECV_BATCH * 65536];
};

int knit_uv_addr_from_sockaddr(struct knit_addr *out,
                               const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return knit_addr_set(out, (const uint8_t *)&in->sin_addr, 4,
                             ntohs(in->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return knit_addr_set(out, in6->sin6_addr.s6_addr, 16,
                             ntohs(in6->sin6_port));
    }
    return KNIT_E_UNSUPPORTED;
}

void knit_uv_addr_to_sockaddr(const struct knit_addr *a,
                              struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (a->family == KNIT_AF_IP4) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        memcpy(in6->sin6_addr.s6_addr, a->ip, 16);
    }
}

uint64_t knit_uv_driver_now(const struct knit_uv_driver *drv)
{
    (void)drv;
    return uv_hrtime() / 1000;
}

static void on_timer_fired(uv_timer_t *timer);

void knit_uv_driver_rearm(struct knit_uv_driver *drv)
{
    if (drv->closing)
        return;
    uint64_t deadline = drv->cb.next_deadline(drv->cb.ctx);
    if (deadline == KNIT_NO_DEADLINE) {
        uv_timer_stop(&drv->timer);
        return;
    }
    /* libuv adds the delay to its cached loop time, which may lag the
     * clock; bring it up to date or the timer fires early. */
    uv_update_time(drv->loop);
    uint64_t now = knit_uv_driver_now(drv);
    /* Round up: waking a little late is harmless, waking early means a
     * wasted call that finds nothing due. */
    /* Loop time counts whole milliseconds (truncated), hence the extra
     * one: the timer must never fire before the deadline. */
    uint64_t delay_ms = deadline > now ? (deadline - now + 999) / 1000 + 1 : 0;
    uv_timer_start(&drv->timer, on_timer_fired, delay_ms, 0);
}

static void on_timer_fired(uv_timer_t *timer)
{
    struct knit_uv_driver *drv = timer->data;
    drv->cb.on_timer(drv->cb.ctx, knit_uv_driver_now(drv));
    knit_uv_driver_rearm(drv);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct udp_slot *slot = handle->data;
    buf->base = (char *)slot->drv->recv_buf;
    buf->len = sizeof slot->drv->recv_buf;
}

static void on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
    /* The batch's closing call (UV_UDP_MMSG_FREE) carries no datagram; the
     * buffer is ours, so there is nothing to free. */
    (void)flags;
    struct udp_slot *slot = handle->data;
    struct knit_uv_driver *drv = slot->drv;
    /* nread == 0 with no sender means "nothing more for now"; errors on a
     * UDP socket (ICMP unreachable and the like) are not fatal to it. */
    if (nread <= 0 || !from || drv->closing)
        return;
    struct knit_addr addr;
    if (knit_uv_addr_from_sockaddr(&addr, from) != KNIT_OK)
        return;
    drv->cb.on_packet(drv->cb.ctx, knit_uv_driver_now(drv), slot->index,
                      &addr, (const uint8_t *)buf->base, (size_t)nread);
    knit_uv_driver_rearm(drv);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct knit_uv_driver *drv;
    if (handle->type == UV_UDP) {
        struct udp_slot *slot = handle->data;
        drv = slot->drv;
        free(slot);
    } else {
        drv = handle->data;
    }
    if (--drv->open_handles == 0)
        free(drv);
}

int knit_uv_driver_new(struct knit_uv_driver **out, uv_loop_t *loop,
                       const struct knit_uv_callbacks *cb)
{
    if (!cb || !cb->on_packet || !cb->on_timer || !cb->next_deadline)
        return KNIT_E_INVAL;
    struct knit_uv_driver *drv = calloc(1, sizeof *drv);
    if (!drv)
        return KNIT_E_NOMEM;
    drv->loop = loop;
    drv->cb = *cb;
    if (uv_timer_init(loop, &drv->timer) != 0) {
        free(drv);
        return KNIT_E_IO;
    }
    drv->timer.data = drv;
    drv->open_handles = 1;
    *out = drv;
    return KNIT_OK;
}

static void close_slot(struct knit_uv_driver *drv, int index)
{
    struct udp_slot *slot = drv->slots[index];
    if (!slot)
        return;
    drv->slots[index] = NULL;
    uv_close((uv_handle_t *)&slot->handle, on_handle_closed);
}

void knit_uv_driver_close(struct knit_uv_driver *drv)
{
    if (drv->closing)
        return;
    drv->closing = true;
    for (int i = 0; i < KNIT_UV_MAX_SOCKETS; i++)
        close_slot(drv, i);
    uv_close((uv_handle_t *)&drv->timer, on_handle_closed);
}

static int map_uv_error(int err)
{
    switch (err) {
    case UV_EADDRINUSE:
        return KNIT_E_ADDR_IN_USE;
    case UV_EAFNOSUPPORT:
    case UV_EADDRNOTAVAIL:
        return KNIT_E_UNSUPPORTED;
    case UV_ENOMEM:
        return KNIT_E_NOMEM;
    default:
        return KNIT_E_IO;
    }
}

int knit_uv_driver_listen(struct knit_uv_driver *drv,
                          const struct knit_addr *local,
                          struct knit_addr *bound)
{
    if (drv->closing)
        return KNIT_E_INVAL;
    /* A scan of KNIT_UV_MAX_SOCKETS pointers per open: next to the system
     * calls that follow, nothing. */
    int index = -1;
    for (int i = 0; i < KNIT_UV_MAX_SOCKETS; i++) {
        if (!drv->slots[i]) {
            index = i;
            break;
        }
    }
    if (index < 0)
        return KNIT_E_LIMIT;
    struct udp_slot *slot = calloc(1, sizeof *slot);
    if (!slot)
        return KNIT_E_NOMEM;
    slot->drv = drv;
    slot->index = index;
    int err = uv_udp_init_ex(drv->loop, &slot->handle,
                             AF_UNSPEC | UV_UDP_RECVMMSG);
    if (err) {
        free(slot);
        return map_uv_error(err);
    }
    slot->handle.data = slot;
    drv->slots[index] = slot;
    drv->open_handles++;

    struct sockaddr_storage ss;
    knit_uv_addr_to_sockaddr(local, &ss);
    unsigned flags = local->family == KNIT_AF_IP6 ? UV_UDP_IPV6ONLY : 0;
    err = uv_udp_bind(&slot->handle, (const struct sockaddr *)&ss, flags);
    if (!err) {
        /* Bursts at a few hundred Mbit/s overflow the default buffers
         * (about 200 KiB); the kernel caps the request at its maximum. */
        int size = KNIT_UV_SOCKET_BUFFER;
        uv_recv_buffer_size((uv_handle_t *)&slot->handle, &size);
        size = KNIT_UV_SOCKET_BUFFER;
        uv_send_buffer_size((uv_handle_t *)&slot->handle, &size);
        err = uv_udp_recv_start(&slot->handle, on_alloc, on_recv);
    }
    if (!err && bound) {
        int namelen = sizeof ss;
        err = uv_udp_getsockname(&slot->handle, (struct sockaddr *)&ss,
                                 &namelen);
        if (!err && knit_uv_addr_from_sockaddr(bound,
                                               (struct sockaddr *)&ss) != 0)
            err = UV_EAFNOSUPPORT;
    }
    if (err) {
        close_slot(drv, index);
        return map_uv_error(err);
    }
    return index;
}

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status;   /* a lost datagram is the protocols' business */
    struct send_request *sr = (struct send_request *)req;
    sr->drv->queued_bytes -= sr->len;
    free(sr);
}

static int io_send(void *ctx, int sock, const struct knit_addr *to,
                   const uint8_t *pkt, size_t len)
{
    struct knit_uv_driver *drv = ctx;
    if (sock < 0 || sock >= KNIT_UV_MAX_SOCKETS || !drv->slots[sock])
        return KNIT_E_INVAL;
    uv_udp_t *handle = &drv->slots[sock]->handle;
    struct sockaddr_storage ss;
    knit_uv_addr_to_sockaddr(to, &ss);
    uv_buf_t buf = uv_buf_init((char *)pkt, (unsigned)len);
    int n = uv_udp_try_send(handle, &buf, 1, (const struct sockaddr *)&ss);
    if (n >= 0)
        return KNIT_OK;
    if (n != UV_EAGAIN)
        return map_uv_error(n);
    /* The kernel buffer is full: queue a copy, up to a bound. */
    if (drv->queued_bytes + len > KNIT_UV_MAX_QUEUED_BYTES)
        return KNIT_E_AGAIN;
    struct send_request *sr = malloc(sizeof *sr + len);
    if (!sr)
        return KNIT_E_NOMEM;
    sr->drv = drv;
    sr->len = len;
    memcpy(sr->data, pkt, len);
    buf = uv_buf_init((char *)sr->data, (unsigned)len);
    n = uv_udp_send(&sr->req, handle, &buf, 1, (const struct sockaddr *)&ss,
                    on_sent);
    if (n) {
        free(sr);
        return map_uv_error(n);
    }
    drv->queued_bytes += len;
    return KNIT_OK;
}

static int io_open_socket(void *ctx, uint8_t family, uint16_t port)
{
    struct knit_addr any = {.family = family, .port = port};
    if (family != KNIT_AF_IP4 && family != KNIT_AF_IP6)
        return KNIT_E_INVAL;
    return knit_uv_driver_listen(ctx, &any, NULL);
}

static void io_close_socket(void *ctx, int sock)
{
    struct knit_uv_driver *drv = ctx;
    if (sock >= 0 && sock < KNIT_UV_MAX_SOCKETS)
        close_slot(drv, sock);
}

static void io_event(void *ctx, const struct knit_event *ev)
{
    struct knit_uv_driver *drv = ctx;
    if (drv->cb.on_event)
        drv->cb.on_event(drv->cb.ctx, ev);
}

static void io_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    randombytes_buf(buf, len);
}

void knit_uv_driver_io(struct knit_uv_driver *drv, struct knit_io *io)
{
    memset(io, 0, sizeof *io);
    io->ctx = drv;
    io->send = io_send;
    io->open_socket = io_open_socket;
    io->close_socket = io_close_socket;
    io->random = io_random;
    io->event = io_event;
}
