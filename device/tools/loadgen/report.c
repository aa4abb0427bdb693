#include "report.h"

#include <stdlib.h>

#include "measure.h"
#include "onramp/error.h"

/* The latency of one span over the devices that have both ends: from
 * state `from` (or power-on when from < 0) to state `to`. */
static int print_span(FILE *out, const struct fleet *f, const char *label, int from, int to,
                      double *scratch)
{
    size_t n = 0;
    double p50, p90, p99, max;

    for (size_t i = 0; i < f->next; i++) {
        const struct fleet_device *d = &f->devices[i];
        double begin = from < 0 ? 0 : d->at[from];

        if (from < 0 && d->resumed != ONR_DEVICE_FACTORY)
            continue; /* the journey counts from a blank device only */
        if (begin >= 0 && d->at[to] >= 0)
            scratch[n++] = (d->at[to] - begin) * 1e3;
    }
    if (n == 0)
        return fprintf(out, "  %-36s %9s %9s %9s %9s %8d\n", label, "-", "-", "-", "-", 0) < 0;
    measure_sort(scratch, n);
    p50 = measure_percentile(scratch, n, 50);
    p90 = measure_percentile(scratch, n, 90);
    p99 = measure_percentile(scratch, n, 99);
    max = measure_percentile(scratch, n, 100);
    return fprintf(out, "  %-36s %9.1f %9.1f %9.1f %9.1f %8zu\n", label, p50, p90, p99, max, n) <
           0;
}

static void print_counts(FILE *out, const struct fleet *f, double wall)
{
    size_t retried = 0;

    for (size_t i = 0; i < f->next; i++)
        retried += f->devices[i].retries > 0;
    fprintf(out, "onboardings\n");
    fprintf(out, "  %-22s %zu\n", "powered on", f->next);
    fprintf(out, "  %-22s %zu\n", "completed", f->completed);
    fprintf(out, "  %-22s %zu", "failed", f->failed);
    for (size_t i = 0; i < FLEET_MAX_CODES && f->codes[i].count > 0; i++)
        fprintf(out, "%s%s %zu", i == 0 ? "  (" : ", ", onr_error_name(f->codes[i].code),
                f->codes[i].count);
    if (f->failed > 0)
        fprintf(out, "%s)", f->other_codes > 0 ? ", others" : "");
    fprintf(out, "\n  %-22s %zu%s\n", "unfinished", f->unfinished,
            f->unfinished > 0 ? "  (still running at --timeout)" : "");
    fprintf(out, "  %-22s %u (%zu devices), pending answers %u, refused answers %u\n",
            "retries", f->retries, retried, f->pendings, f->refusals);
    fprintf(out, "  %-22s %.2f s, first power-on to last end\n", "wall", wall);
    fprintf(out, "  %-22s %.1f onboardings/s\n", "rate",
            wall > 0 ? (double)f->completed / wall : 0);
}

static int print_latency(FILE *out, const struct fleet *f)
{
    char span[64];
    double *scratch = calloc(f->next > 0 ? f->next : 1, sizeof(*scratch));
    int bad = 0;

    if (scratch == NULL)
        return ONR_ENOMEM;
    fprintf(out, "latency, ms %28s %9s %9s %9s %8s\n", "p50", "p90", "p99", "max", "devices");
    for (int to = ONR_DEVICE_VOUCHED; to <= ONR_DEVICE_OPERATIONAL; to++) {
        snprintf(span, sizeof(span), "%s -> %s",
                 to == ONR_DEVICE_VOUCHED ? "power on"
                                          : onr_device_state_name((enum onr_device_state)(to - 1)),
                 onr_device_state_name((enum onr_device_state)to));
        bad |= print_span(out, f, span, to - 1, to, scratch);
    }
    snprintf(span, sizeof(span), "journey, power on -> %s",
             onr_device_state_name(ONR_DEVICE_OPERATIONAL));
    bad |= print_span(out, f, span, -1, ONR_DEVICE_OPERATIONAL, scratch);
    free(scratch);
    return bad ? ONR_EIO : ONR_OK;
}

/* The servers' CPU; their sum in seconds (-1 if none could be read). */
static double print_cpu(FILE *out, const struct report_input *in, double per)
{
    double total = -1;

    fprintf(out, "cpu %35s %14s\n", "seconds", "us/onboarding");
    for (size_t i = 0; i < in->n_servers; i++) {
        const struct report_server *s = &in->servers[i];
        char label[64];
        double used = s->cpu_end - s->cpu_start;

        snprintf(label, sizeof(label), "%s (pid %ld)", s->name, (long)s->pid);
        if (s->cpu_start < 0 || s->cpu_end < 0) {
            fprintf(out, "  %-28s %9s %14s  (unreadable: gone?)\n", label, "-", "-");
            continue;
        }
        total = (total < 0 ? 0 : total) + used;
        fprintf(out, "  %-28s %9.2f %14.0f\n", label, used, used * per);
    }
    if (total >= 0)
        fprintf(out, "  %-28s %9.2f %14.0f\n", "servers", total, total * per);
    fprintf(out, "  %-28s %9.2f %14.0f\n", "load generator (this)", in->self_cpu,
            in->self_cpu * per);
    return total;
}

int report_print(FILE *out, const struct report_input *in)
{
    const struct fleet *f = in->fleet;
    double wall = f->last_done - f->started;
    double per = f->completed > 0 ? 1e6 / (double)f->completed : 0;
    double servers, server_us = 0, capacity = 0, ratio = 0;
    size_t heap_per = f->peak_running > 0 && f->heap_peak > f->heap_before
                          ? (f->heap_peak - f->heap_before) / f->peak_running
                          : 0;
    int rc;

    print_counts(out, f, wall);
    rc = print_latency(out, f);
    if (rc != ONR_OK)
        return rc;
    servers = print_cpu(out, in, per);
    if (servers > 0 && f->completed > 0) {
        server_us = servers * per;
        capacity = (double)in->cores * 1e6 / server_us;
        fprintf(out, "servers' capacity         %.0f onboardings/s on %ld cores with the load "
                     "generator's CPU excluded (cores / server CPU per onboarding)\n",
                capacity, in->cores);
    }
    if (in->floor_us > 0) {
        fprintf(out, "floor                     %.0f us/onboarding (onramp-floor-bench)\n",
                in->floor_us);
        if (server_us > 0) {
            ratio = server_us / in->floor_us;
            fprintf(out, "servers / floor           %.2f\n", ratio);
        }
    }
    fprintf(out, "heap                      %.1f MiB before, %.1f MiB at the peak with up to "
                 "%zu devices running: %.1f KiB per running device\n",
            (double)f->heap_before / 1048576.0, (double)f->heap_peak / 1048576.0,
            f->peak_running, (double)heap_per / 1024.0);
    fprintf(out,
            "result planned=%zu powered=%zu completed=%zu failed=%zu unfinished=%zu "
            "retries=%u wall_s=%.3f rate=%.1f server_us=%.0f capacity=%.0f floor_us=%.0f "
            "floor_ratio=%.2f heap_per_device_kib=%.1f\n",
            in->planned, f->next, f->completed, f->failed, f->unfinished, f->retries, wall,
            wall > 0 ? (double)f->completed / wall : 0, server_us, capacity, in->floor_us,
            ratio, (double)heap_per / 1024.0);
    return ONR_OK;
}
