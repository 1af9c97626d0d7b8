/* The progress bar (sim/progress.h). */
#include "sim/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define CHECK_EVERY_CALLS 8
#define CHECK_EVERY_EVENTS 4096

static uint64_t wall_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "45s", "4m30s", "2h05m"; whole seconds, rounded down. */
static void put_duration(char *buf, size_t cap, uint64_t s)
{
    if (s < 60)
        snprintf(buf, cap, "%us", (unsigned)s);
    else if (s < 3600)
        snprintf(buf, cap, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    else
        snprintf(buf, cap, "%lluh%02um", (unsigned long long)(s / 3600),
                 (unsigned)(s / 60 % 60));
}

/* "950", "12.3k", "1.2M", "3.4G" events per second. */
static void put_rate(char *buf, size_t cap, double r)
{
    if (r < 1000)
        snprintf(buf, cap, "%.0f", r);
    else if (r < 1e6)
        snprintf(buf, cap, "%.1fk", r / 1e3);
    else if (r < 1e9)
        snprintf(buf, cap, "%.1fM", r / 1e6);
    else
        snprintf(buf, cap, "%.1fG", r / 1e9);
}

size_t knit_sim_progress_format(char *buf, size_t cap, uint64_t sim_us,
                                uint64_t total_us, uint64_t events,
                                uint64_t wall, bool done)
{
    if (cap == 0)
        return 0;
    if (sim_us > total_us)
        sim_us = total_us;
    /* a run of no virtual time is all done */
    unsigned pct = total_us ? (unsigned)(sim_us * 100.0 / total_us) : 100;
    unsigned fill = total_us ? (unsigned)(sim_us * (double)BAR_WIDTH / total_us)
                             : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (unsigned i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[BAR_WIDTH] = '\0';

    char now[24], end[24], rate[32], tail[48];
    put_duration(now, sizeof now, sim_us / 1000000);
    put_duration(end, sizeof end, total_us / 1000000);
    double secs = wall / 1e9;
    put_rate(rate, sizeof rate, secs > 0 ? events / secs : 0);
    if (done) {
        char took[24];
        put_duration(took, sizeof took, wall / 1000000000ull);
        snprintf(tail, sizeof tail, "took %s", took);
    } else if (sim_us == 0 || wall == 0) {
        snprintf(tail, sizeof tail, "ETA --");
    } else {
        double left_ns = (double)wall * (double)(total_us - sim_us) / sim_us;
        char eta[24];
        put_duration(eta, sizeof eta, (uint64_t)(left_ns / 1e9));
        snprintf(tail, sizeof tail, "ETA %s", eta);
    }
    int n = snprintf(buf, cap, "[%s] %3u%%  %s/%s sim  %s ev/s  %s", bar, pct,
                     now, end, rate, tail);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void draw(struct knit_sim_progress *p, uint64_t now, bool done)
{
    char line[128];
    size_t len = knit_sim_progress_format(line, sizeof line, p->sim_us,
                                          p->total_us, p->events,
                                          now - p->start_ns, done);
    /* blank what is left of a longer previous line */
    size_t pad = p->last_len > len ? p->last_len - len : 0;
    fprintf(p->out, "\r%s%*s", line, (int)pad, "");
    fflush(p->out);
    p->last_len = len;
    p->drawn = true;
    p->last_draw_ns = now;
}

void knit_sim_progress_start(struct knit_sim_progress *p, FILE *out,
                             uint64_t total_us, bool enabled)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = enabled;
    p->total_us = total_us;
    p->interval_ns = KNIT_SIM_PROGRESS_INTERVAL_NS;
    p->on = enabled && out && isatty(fileno(out));
    p->start_ns = wall_ns();
    p->last_draw_ns = p->start_ns;
}

void knit_sim_progress_force(struct knit_sim_progress *p)
{
    if (p->enabled && p->out) {
        p->on = true;
        p->interval_ns = 0;
    }
}

void knit_sim_progress_update(struct knit_sim_progress *p, uint64_t sim_now_us,
                              uint64_t events)
{
    if (!p->on)
        return;
    p->sim_us = sim_now_us;
    p->events = events;
    if (p->interval_ns && ++p->calls < CHECK_EVERY_CALLS &&
        events - p->events_at_check < CHECK_EVERY_EVENTS)
        return;
    p->calls = 0;
    p->events_at_check = events;
    uint64_t now = wall_ns();
    if (now - p->last_draw_ns >= p->interval_ns)
        draw(p, now, false);
}

void knit_sim_progress_finish(struct knit_sim_progress *p)
{
    if (!p->on || !p->drawn)
        return;
    draw(p, wall_ns(), true);
    fputc('\n', p->out);
    fflush(p->out);
    p->drawn = false;
}
