/*
 * Prometheus metrics in the text exposition format (version 0.0.4), as a
 * scraper reads them from GET /metrics:
 *
 *   # HELP onramp_messages_handled_total Messages handled, by type.
 *   # TYPE onramp_messages_handled_total counter
 *   onramp_messages_handled_total{type="hello"} 3
 *   # HELP onramp_message_handling_seconds Time to handle a message.
 *   # TYPE onramp_message_handling_seconds histogram
 *   onramp_message_handling_seconds_bucket{le="0.001"} 2
 *   onramp_message_handling_seconds_bucket{le="+Inf"} 3
 *   onramp_message_handling_seconds_sum 0.0042
 *   onramp_message_handling_seconds_count 3
 *
 * The writer keeps the format's rules, so a caller cannot produce text a
 * scraper refuses:
 *   - a family is announced once (HELP, TYPE), its samples follow it and
 *     only it; no family name is used twice, nor a histogram's _bucket,
 *     _sum and _count names by another family;
 *   - metric names are [a-zA-Z_][a-zA-Z0-9_]* (no colons: those are for
 *     recording rules), a counter's ends in _total, a histogram's in none
 *     of _total, _bucket, _sum or _count;
 *   - label names are [a-zA-Z_][a-zA-Z0-9_]*, not starting with __, none
 *     twice in a sample, and never "le" (a histogram's bucket label);
 *     labels are written sorted by name, and a family never repeats a label
 *     set;
 *   - label values are UTF-8 text (no control character but newline)
 *     escaped as the format says: \ as \\, " as \", newline as \n; HELP
 *     text the same but for the quote;
 *   - a histogram's buckets are cumulative, ascending, end with le="+Inf"
 *     equal to _count; numbers are written in the shortest form that reads
 *     back exactly, infinities as +Inf and -Inf, NaN as NaN.
 *
 * Errors are sticky: the first one is kept, later calls do nothing, and
 * onr_metrics_status() returns it, so a caller writes every family and
 * checks once (a scrape then gets an error instead of partial text).
 */
#ifndef ONRAMP_METRICS_H
#define ONRAMP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The Content-Type of the text. */
#define ONR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define ONR_METRICS_NAME_MAX 128       /* a metric or label name, bytes */
#define ONR_METRICS_LABELS_MAX 8       /* labels in one sample */
#define ONR_METRICS_LABEL_TEXT_MAX 512 /* a sample's labels as written */
#define ONR_METRICS_FAMILIES_MAX 256
#define ONR_METRICS_SERIES_MAX 1024    /* label sets in one family */
#define ONR_METRICS_TEXT_MAX (4u * 1024 * 1024)
#define ONR_HISTOGRAM_BUCKETS_MAX 16   /* finite bounds; +Inf is implied */

enum onr_metric_type {
    ONR_METRIC_COUNTER = 1,
    ONR_METRIC_GAUGE,
    ONR_METRIC_HISTOGRAM,
};

/* One label of a sample: both strings borrowed for the call. */
struct onr_metric_label {
    const char *name;
    const char *value;
};

/*
 * A histogram being observed: counts per bucket (not cumulative: the
 * writer adds them up), the sum and the count. Caller-owned storage; the
 * bounds are borrowed and must outlive it.
 */
struct onr_histogram {
    const double *bounds; /* ascending, finite */
    size_t n_bounds;      /* 1..ONR_HISTOGRAM_BUCKETS_MAX */
    uint64_t counts[ONR_HISTOGRAM_BUCKETS_MAX + 1]; /* the last: above every bound */
    double sum;
    uint64_t count;
};

/* onr_histogram_init: an empty histogram with `bounds` (borrowed, `n`
 * ascending finite values). ONR_OK or ONR_EINVAL. */
int onr_histogram_init(struct onr_histogram *h, const double *bounds, size_t n);

/* onr_histogram_observe: count one observation of `value` (a NaN is
 * ignored). */
void onr_histogram_observe(struct onr_histogram *h, double value);

/* The text being written. Caller-owned; its members are the writer's. */
struct onr_metrics {
    char *buf; /* the text so far (NUL-terminated when len > 0) */
    size_t len;
    size_t cap;
    int error; /* the first error, sticky; ONR_OK while none */
    char family[ONR_METRICS_NAME_MAX + 1]; /* the family samples go to */
    enum onr_metric_type type;
    size_t n_families;
    char (*names)[ONR_METRICS_NAME_MAX + 1]; /* names taken so far */
    size_t n_names;
    size_t cap_names;
    char **series; /* the current family's label sets as written */
    size_t n_series;
    size_t cap_series;
};

/* onr_metrics_init: empty text. onr_metrics_cleanup: frees everything
 * (the text included); the storage may be initialised again. */
void onr_metrics_init(struct onr_metrics *m);
void onr_metrics_cleanup(struct onr_metrics *m);

/*
 * onr_metrics_family: start the family `name` of `type`, with its `help`
 * (one line of UTF-8 text, escaped here). Its samples follow. Errors:
 * ONR_EINVAL (a name against the rules above, or NULL), ONR_EEXIST (the
 * name, or a name it implies, taken), ONR_ECHARSET (help not UTF-8 text),
 * ONR_ECOUNT (more than ONR_METRICS_FAMILIES_MAX), ONR_ETOOBIG,
 * ONR_ENOMEM.
 */
int onr_metrics_family(struct onr_metrics *m, const char *name, enum onr_metric_type type,
                       const char *help);

/*
 * A sample of the current family with `n` labels (borrowed; may be NULL
 * when n is 0). onr_metrics_counter for a counter, onr_metrics_gauge for a
 * gauge, onr_metrics_histogram for a histogram (`h` borrowed). Errors:
 * ONR_ETYPE (no family, or one of another type), ONR_EINVAL (a label name
 * against the rules, a label given twice, more than
 * ONR_METRICS_LABELS_MAX), ONR_ECHARSET (a label value that is not UTF-8
 * text), ONR_EEXIST (the family has this label set already), ONR_ELENGTH
 * (labels longer than ONR_METRICS_LABEL_TEXT_MAX written), ONR_ECOUNT,
 * ONR_ETOOBIG, ONR_ENOMEM.
 */
int onr_metrics_counter(struct onr_metrics *m, const struct onr_metric_label *labels, size_t n,
                        uint64_t value);
int onr_metrics_gauge(struct onr_metrics *m, const struct onr_metric_label *labels, size_t n,
                      double value);
int onr_metrics_histogram(struct onr_metrics *m, const struct onr_metric_label *labels,
                          size_t n, const struct onr_histogram *h);

/* onr_metrics_status: ONR_OK, or the first error of any call. */
int onr_metrics_status(const struct onr_metrics *m);

/* onr_metrics_text: the text written (borrowed: lives until the next call
 * or cleanup; "" when empty), its length in *len (may be NULL). */
const char *onr_metrics_text(const struct onr_metrics *m, size_t *len);

/*
 * onr_metrics_number: `value` in the format's notation (an integer below
 * 2^53 as one, else the shortest decimal that reads back as the same
 * double; +Inf, -Inf, NaN) into `out`
 * (at least 32 bytes). Returns `out`.
 */
char *onr_metrics_number(double value, char out[32]);

#endif /* ONRAMP_METRICS_H */
