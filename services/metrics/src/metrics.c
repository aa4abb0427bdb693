/*
 * The Prometheus text exposition format (see <onramp/metrics.h>): a
 * growing buffer, the names taken, and the current family's label sets.
 */
#include "onramp/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

/* ---- histograms --------------------------------------------------------- */

int onr_histogram_init(struct onr_histogram *h, const double *bounds, size_t n)
{
    if (h == NULL || bounds == NULL || n == 0 || n > ONR_HISTOGRAM_BUCKETS_MAX)
        return ONR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return ONR_EINVAL;
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n_bounds = n;
    return ONR_OK;
}

void onr_histogram_observe(struct onr_histogram *h, double value)
{
    size_t i = 0;

    if (isnan(value))
        return;
    while (i < h->n_bounds && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += value;
    h->count++;
}

/* ---- the text ------------------------------------------------------------- */

void onr_metrics_init(struct onr_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

static void forget_series(struct onr_metrics *m)
{
    for (size_t i = 0; i < m->n_series; i++)
        free(m->series[i]);
    m->n_series = 0;
}

void onr_metrics_cleanup(struct onr_metrics *m)
{
    if (m == NULL)
        return;
    forget_series(m);
    free(m->series);
    free(m->names);
    free(m->buf);
    memset(m, 0, sizeof(*m));
}

int onr_metrics_status(const struct onr_metrics *m)
{
    return m->error;
}

const char *onr_metrics_text(const struct onr_metrics *m, size_t *len)
{
    if (len != NULL)
        *len = m->len;
    return m->len > 0 ? m->buf : "";
}

/* Keep the first error; return it. */
static int fail(struct onr_metrics *m, int rc)
{
    if (m->error == ONR_OK)
        m->error = rc;
    return m->error;
}

static void add(struct onr_metrics *m, const char *s, size_t n)
{
    if (m->error != ONR_OK)
        return;
    if (n > ONR_METRICS_TEXT_MAX - m->len) {
        fail(m, ONR_ETOOBIG);
        return;
    }
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap == 0 ? 4096 : m->cap;
        char *buf;

        while (cap < m->len + n + 1)
            cap *= 2;
        buf = realloc(m->buf, cap);
        if (buf == NULL) {
            fail(m, ONR_ENOMEM);
            return;
        }
        m->buf = buf;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void add_str(struct onr_metrics *m, const char *s)
{
    add(m, s, strlen(s));
}

char *onr_metrics_number(double value, char out[32])
{
    if (isnan(value)) {
        snprintf(out, 32, "NaN");
    } else if (isinf(value)) {
        snprintf(out, 32, value > 0 ? "+Inf" : "-Inf");
    } else if (value == floor(value) && fabs(value) < 9007199254740992.0) {
        snprintf(out, 32, "%.0f", value); /* an integer (a timestamp) as one */
    } else {
        /* the shortest %g that reads back as `value` */
        for (int p = 1; p <= 17; p++) {
            snprintf(out, 32, "%.*g", p, value);
            if (strtod(out, NULL) == value)
                break;
        }
    }
    return out;
}

/* ---- names and text ------------------------------------------------------- */

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* [a-zA-Z_][a-zA-Z0-9_]*, at most ONR_METRICS_NAME_MAX bytes. */
static int valid_name(const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s);

    if (n == 0 || n > ONR_METRICS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i], i == 0))
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* UTF-8 text with no control character but newline (which is escaped). */
static int valid_text(const char *s)
{
    const char *line = s;

    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);

        if (onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)line, n}) !=
            ONR_OK)
            return 0;
        if (nl == NULL)
            return 1;
        line = nl + 1;
    }
}

/* `s` escaped into `out` (`cap` bytes): \ and newline, and " in a label
 * value. The length written, or SIZE_MAX if it does not fit. */
static size_t escape(const char *s, int quote, char *out, size_t cap)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        const char *e = NULL;

        if (*s == '\\')
            e = "\\\\";
        else if (*s == '\n')
            e = "\\n";
        else if (*s == '"' && quote)
            e = "\\\"";
        if (n + (e != NULL ? 2 : 1) >= cap)
            return SIZE_MAX;
        if (e != NULL) {
            memcpy(out + n, e, 2);
            n += 2;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return n;
}

/* Claim `name` for this text: ONR_EEXIST if taken. */
static int take_name(struct onr_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_names; i++)
        if (strcmp(m->names[i], name) == 0)
            return ONR_EEXIST;
    if (m->n_names == m->cap_names) {
        size_t cap = m->cap_names == 0 ? 32 : 2 * m->cap_names;
        void *names = realloc(m->names, cap * sizeof(*m->names));

        if (names == NULL)
            return ONR_ENOMEM;
        m->names = names;
        m->cap_names = cap;
    }
    snprintf(m->names[m->n_names++], ONR_METRICS_NAME_MAX + 1, "%s", name);
    return ONR_OK;
}

/* ---- families ------------------------------------------------------------- */

static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

int onr_metrics_family(struct onr_metrics *m, const char *name, enum onr_metric_type type,
                       const char *help)
{
    static const char *const type_names[] = {"", "counter", "gauge", "histogram"};
    char derived[ONR_METRICS_NAME_MAX + 16];
    char *text = NULL;
    size_t help_len = help == NULL ? 0 : strlen(help);
    int rc;

    if (m->error != ONR_OK)
        return m->error;
    m->family[0] = '\0'; /* samples go nowhere until this family is up */
    forget_series(m);
    if (!valid_name(name) || help == NULL || type < ONR_METRIC_COUNTER ||
        type > ONR_METRIC_HISTOGRAM)
        return fail(m, ONR_EINVAL);
    if (type == ONR_METRIC_COUNTER && !ends_with(name, "_total"))
        return fail(m, ONR_EINVAL);
    if (type == ONR_METRIC_HISTOGRAM &&
        (strlen(name) + strlen("_bucket") > ONR_METRICS_NAME_MAX || ends_with(name, "_total") || ends_with(name, "_bucket") || ends_with(name, "_sum") ||
         ends_with(name, "_count")))
        return fail(m, ONR_EINVAL);
    if (!valid_text(help))
        return fail(m, ONR_ECHARSET);
    if (m->n_families == ONR_METRICS_FAMILIES_MAX)
        return fail(m, ONR_ECOUNT);
    rc = take_name(m, name);
    for (size_t i = 0; rc == ONR_OK && type == ONR_METRIC_HISTOGRAM && i < 3; i++) {
        snprintf(derived, sizeof(derived), "%s%s", name, histogram_suffixes[i]);
        rc = take_name(m, derived);
    }
    if (rc != ONR_OK)
        return fail(m, rc);
    text = malloc(2 * help_len + 1);
    if (text == NULL)
        return fail(m, ONR_ENOMEM);
    escape(help, 0, text, 2 * help_len + 1); /* fits: at most 2 bytes each */
    add_str(m, "# HELP ");
    add_str(m, name);
    add_str(m, " ");
    add_str(m, text);
    add_str(m, "\n# TYPE ");
    add_str(m, name);
    add_str(m, " ");
    add_str(m, type_names[type]);
    add_str(m, "\n");
    free(text);
    if (m->error == ONR_OK) {
        m->n_families++;
        snprintf(m->family, sizeof(m->family), "%s", name);
        m->type = type;
    }
    return m->error;
}

/* ---- samples -------------------------------------------------------------- */

/* The labels as written, sorted by name, without braces: `a="x",b="y"`
 * into `out` (ONR_METRICS_LABEL_TEXT_MAX + 1 bytes). */
static int render_labels(const struct onr_metric_label *labels, size_t n, char *out)
{
    size_t order[ONR_METRICS_LABELS_MAX];
    size_t len = 0;

    if (n > ONR_METRICS_LABELS_MAX || (n > 0 && labels == NULL))
        return ONR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const char *name = labels[i].name;

        if (!valid_name(name) || strncmp(name, "__", 2) == 0 || strcmp(name, "le") == 0 ||
            labels[i].value == NULL)
            return ONR_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j].name, name) == 0)
                return ONR_EINVAL;
        if (!valid_text(labels[i].value))
            return ONR_ECHARSET;
    }
    /* sorted by name (insertion sort: a few labels) */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;

        for (; j > 0 && strcmp(labels[order[j - 1]].name, labels[i].name) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct onr_metric_label *l = &labels[order[i]];
        size_t k = strlen(l->name);
        size_t v;

        if (len + k + 4 > ONR_METRICS_LABEL_TEXT_MAX)
            return ONR_ELENGTH;
        len += (size_t)sprintf(out + len, "%s%s=\"", i > 0 ? "," : "", l->name);
        v = escape(l->value, 1, out + len, ONR_METRICS_LABEL_TEXT_MAX + 1 - len);
        if (v == SIZE_MAX || len + v + 1 > ONR_METRICS_LABEL_TEXT_MAX)
            return ONR_ELENGTH;
        len += v;
        out[len++] = '"';
        out[len] = '\0';
    }
    return ONR_OK;
}

/* A sample of the current family of `type`: its labels rendered into
 * `out` and recorded as a new series of the family. */
static int begin_sample(struct onr_metrics *m, enum onr_metric_type type,
                        const struct onr_metric_label *labels, size_t n, char *out)
{
    char *copy;
    int rc;

    if (m->error != ONR_OK)
        return m->error;
    if (m->family[0] == '\0' || m->type != type)
        return fail(m, ONR_ETYPE);
    rc = render_labels(labels, n, out);
    if (rc != ONR_OK)
        return fail(m, rc);
    for (size_t i = 0; i < m->n_series; i++)
        if (strcmp(m->series[i], out) == 0)
            return fail(m, ONR_EEXIST);
    if (m->n_series == ONR_METRICS_SERIES_MAX)
        return fail(m, ONR_ECOUNT);
    if (m->n_series == m->cap_series) {
        size_t cap = m->cap_series == 0 ? 16 : 2 * m->cap_series;
        void *series = realloc(m->series, cap * sizeof(*m->series));

        if (series == NULL)
            return fail(m, ONR_ENOMEM);
        m->series = series;
        m->cap_series = cap;
    }
    copy = strdup(out);
    if (copy == NULL)
        return fail(m, ONR_ENOMEM);
    m->series[m->n_series++] = copy;
    return ONR_OK;
}

/* NAME{LABELS,EXTRA} VALUE\n (braces only when there is a label). */
static void sample_line(struct onr_metrics *m, const char *suffix, const char *labels,
                        const char *extra, const char *value)
{
    add_str(m, m->family);
    add_str(m, suffix);
    if (labels[0] != '\0' || extra != NULL) {
        add_str(m, "{");
        add_str(m, labels);
        if (extra != NULL) {
            add_str(m, labels[0] != '\0' ? "," : "");
            add_str(m, extra);
        }
        add_str(m, "}");
    }
    add_str(m, " ");
    add_str(m, value);
    add_str(m, "\n");
}

int onr_metrics_counter(struct onr_metrics *m, const struct onr_metric_label *labels, size_t n,
                        uint64_t value)
{
    char text[ONR_METRICS_LABEL_TEXT_MAX + 1];
    char number[32];

    if (begin_sample(m, ONR_METRIC_COUNTER, labels, n, text) != ONR_OK)
        return m->error;
    snprintf(number, sizeof(number), "%llu", (unsigned long long)value);
    sample_line(m, "", text, NULL, number);
    return m->error;
}

int onr_metrics_gauge(struct onr_metrics *m, const struct onr_metric_label *labels, size_t n,
                      double value)
{
    char text[ONR_METRICS_LABEL_TEXT_MAX + 1];
    char number[32];

    if (begin_sample(m, ONR_METRIC_GAUGE, labels, n, text) != ONR_OK)
        return m->error;
    sample_line(m, "", text, NULL, onr_metrics_number(value, number));
    return m->error;
}

int onr_metrics_histogram(struct onr_metrics *m, const struct onr_metric_label *labels,
                          size_t n, const struct onr_histogram *h)
{
    char text[ONR_METRICS_LABEL_TEXT_MAX + 1];
    char number[32];
    char le[48];
    uint64_t cumulative = 0;

    if (h == NULL || h->n_bounds == 0 || h->n_bounds > ONR_HISTOGRAM_BUCKETS_MAX)
        return fail(m, ONR_EINVAL);
    if (begin_sample(m, ONR_METRIC_HISTOGRAM, labels, n, text) != ONR_OK)
        return m->error;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cumulative += h->counts[i];
        if (i < h->n_bounds)
            snprintf(le, sizeof(le), "le=\"%s\"", onr_metrics_number(h->bounds[i], number));
        else
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        snprintf(number, sizeof(number), "%llu", (unsigned long long)cumulative);
        sample_line(m, "_bucket", text, le, number);
    }
    sample_line(m, "_sum", text, NULL, onr_metrics_number(h->sum, number));
    snprintf(number, sizeof(number), "%llu", (unsigned long long)cumulative);
    sample_line(m, "_count", text, NULL, number);
    return m->error;
}
