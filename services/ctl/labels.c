/*
 * The labels file of onrampctl pair --labels (labels.h): lines split and
 * each checked, as a pairing or as malformed with its reason.
 */
#include "labels.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/text.h"

enum column { COL_LABEL, COL_ACCOUNT, COL_OPERATOR, COL_COUNT };

static const char *const column_names[COL_COUNT] = {"label", "account", "operator"};

/* A field of a line, unquoted into the caller's buffer. */
struct field {
    const char *ptr;
    size_t len;
};

static int is_space(char c)
{
    return c == ' ';
}

static struct field trim(const char *s, size_t len)
{
    while (len > 0 && is_space(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    return (struct field){s, len};
}

/*
 * Split a CSV line (`len` bytes) into at most `max` fields, quoted ones
 * unquoted into `buf` (at least `len` bytes): ONR_OK with *n, ONR_ECOUNT
 * (more fields), or ONR_EFORMAT (a quote inside an unquoted field, an
 * unterminated quoted field, or something after its closing quote).
 */
static int split_csv(const char *s, size_t len, struct field *out, size_t max, size_t *n,
                     char *buf)
{
    size_t i = 0, used = 0;

    *n = 0;
    for (;;) {
        struct field f;

        while (i < len && is_space(s[i]))
            i++;
        if (*n == max)
            return ONR_ECOUNT;
        if (i < len && s[i] == '"') {
            f.ptr = buf + used;
            f.len = 0;
            for (i++;; i++) {
                if (i == len)
                    return ONR_EFORMAT; /* unterminated */
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        buf[used++] = '"';
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[used++] = s[i];
            }
            f.len = (size_t)(buf + used - f.ptr);
            while (i < len && is_space(s[i]))
                i++;
            if (i < len && s[i] != ',')
                return ONR_EFORMAT;
        } else {
            size_t start = i;

            while (i < len && s[i] != ',') {
                if (s[i] == '"')
                    return ONR_EFORMAT;
                i++;
            }
            f = trim(s + start, i - start);
        }
        out[(*n)++] = f;
        if (i == len)
            return ONR_OK;
        i++; /* the comma */
    }
}

/* The columns a header line names, in order, into `cols`; 0 if the line is
 * no header (a field that names no column), 1 if it is one, -1 for a
 * header that is wrong: a column twice, or none for the label (*why says
 * which). */
static int header(const char *s, size_t len, int cols[COL_COUNT], size_t *n_cols,
                  const char **why)
{
    struct field f[COL_COUNT + 1];
    char buf[CTL_LABELS_LINE_MAX];
    int seen[COL_COUNT] = {0};
    size_t n = 0;

    if (len > sizeof(buf) || split_csv(s, len, f, COL_COUNT + 1, &n, buf) != ONR_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = -1;

        for (int k = 0; k < COL_COUNT; k++)
            if (f[i].len == strlen(column_names[k]) &&
                strncasecmp(f[i].ptr, column_names[k], f[i].len) == 0)
                c = k;
        if (c < 0)
            return 0; /* a field that is no column's name: data, not a header */
        if (seen[c]++) {
            *why = "the header line names a column twice";
            return -1;
        }
        cols[i] = c;
    }
    if (!seen[COL_LABEL]) {
        *why = "the header line names no label column";
        return -1;
    }
    *n_cols = n;
    return 1;
}

static int account_ok(const char *s, size_t len)
{
    return len >= 1 && len <= CTL_ACCOUNT_MAX &&
           onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)s, len}) == ONR_OK;
}

static int op_ok(const char *s, size_t len)
{
    return len >= 1 && len <= ONR_SERVICE_ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)s, len}) == ONR_OK;
}

/* Fill `out` from the fields of one pairing; NULL, or why it is malformed. */
/* The label's device (or kit) into `out`: ONR_OK or the decoder's code. */
static int label_id(struct field label, struct ctl_labels_line *out)
{
    struct onr_label parsed;
    struct onr_kit_label kit;
    int rc;

    if (onr_label_is_kit(label.ptr, label.len)) {
        rc = onr_kit_label_decode(label.ptr, label.len, &kit);
        if (rc == ONR_OK)
            memcpy(out->kit, kit.kit, sizeof(out->kit));
        onr_wipe(&kit, sizeof(kit));
        return rc;
    }
    rc = onr_label_decode(label.ptr, label.len, &parsed);
    if (rc == ONR_OK)
        memcpy(out->dev, parsed.dev, sizeof(out->dev));
    onr_wipe(&parsed, sizeof(parsed));
    return rc;
}

static const char *pairing(struct field label, struct field account, struct field op,
                           const struct ctl_labels_defaults *def, struct ctl_labels_line *out)
{
    int rc;

    if (label.len == 0)
        return "no label";
    if (label.len > ONR_LABEL_MAX)
        return "not an Onramp device label (too long)";
    rc = label_id(label, out);
    if (rc != ONR_OK)
        return rc == ONR_EBADMAC ? "the label's check characters do not match (a typo?)"
                                 : "not an Onramp device label";
    memcpy(out->label, label.ptr, label.len);
    out->label[label.len] = '\0';
    if (account.len == 0 && def->account != NULL)
        account = (struct field){def->account, strlen(def->account)};
    if (account.len == 0)
        return "no account (its field is empty and no --account was given)";
    if (!account_ok(account.ptr, account.len))
        return "the account must be 1 to 64 bytes of UTF-8 text";
    memcpy(out->account, account.ptr, account.len);
    out->account[account.len] = '\0';
    if (op.len == 0 && def->op != NULL)
        op = (struct field){def->op, strlen(def->op)};
    if (op.len > 0 && !op_ok(op.ptr, op.len))
        return "the operator is no service id (a-z 0-9 . _ -, 1 to 32)";
    memcpy(out->op, op.ptr, op.len);
    out->op[op.len] = '\0';
    return NULL;
}

/* One line (not blank, no comment, no header) into `out`. */
static void one_line(const char *s, size_t len, int csv, const int cols[COL_COUNT],
                     size_t n_cols, const struct ctl_labels_defaults *def,
                     struct ctl_labels_line *out)
{
    struct field f[COL_COUNT];
    struct field by_col[COL_COUNT] = {{"", 0}, {"", 0}, {"", 0}};
    char buf[CTL_LABELS_LINE_MAX];
    size_t n = 0;
    int rc;

    if (len > CTL_LABELS_LINE_MAX) {
        out->error = "longer than 1024 bytes";
        return;
    }
    if (onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)s, len}) != ONR_OK) {
        out->error = "not UTF-8 text without control characters";
        return;
    }
    if (!csv) {
        by_col[COL_LABEL] = trim(s, len);
        if (memchr(s, ',', len) != NULL) {
            out->error = "a comma in a file of labels (a CSV file starts with its header "
                         "line, e.g. label,account,operator)";
            return;
        }
    } else {
        rc = split_csv(s, len, f, n_cols, &n, buf);
        if (rc == ONR_OK && n != n_cols)
            rc = ONR_ECOUNT;
        if (rc != ONR_OK) {
            out->error = rc == ONR_ECOUNT ? "not as many fields as the header names"
                                          : "a stray or unterminated double quote";
            onr_wipe(buf, sizeof(buf));
            return;
        }
        for (size_t i = 0; i < n; i++)
            by_col[cols[i]] = f[i];
    }
    out->error = pairing(by_col[COL_LABEL], by_col[COL_ACCOUNT], by_col[COL_OPERATOR], def, out);
    onr_wipe(buf, sizeof(buf));
}

/* The lines of the file one by one: *line and *len; 0 at the end. */
static int next_line(const char *data, size_t len, size_t *at, const char **line,
                     size_t *line_len)
{
    const char *nl;
    size_t n;

    if (*at >= len)
        return 0;
    *line = data + *at;
    nl = memchr(*line, '\n', len - *at);
    n = nl != NULL ? (size_t)(nl - *line) : len - *at;
    *at += n + (nl != NULL);
    if (n > 0 && (*line)[n - 1] == '\r')
        n--;
    *line_len = n;
    return 1;
}

static int skipped(const char *s, size_t len)
{
    struct field t = trim(s, len);

    return t.len == 0 || t.ptr[0] == '#';
}

/* What a line pairs: its device, or its kit (ids of other lengths). */
static const char *ident(const struct ctl_labels_line *l)
{
    return l->dev[0] != '\0' ? l->dev : l->kit;
}

/* Mark every later line naming a device (or kit) an earlier line names. */
static int by_dev(const void *a, const void *b)
{
    const struct ctl_labels_line *x = *(const struct ctl_labels_line *const *)a;
    const struct ctl_labels_line *y = *(const struct ctl_labels_line *const *)b;
    int c = strcmp(ident(x), ident(y));

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static int mark_duplicates(struct ctl_labels_line *lines, size_t n)
{
    struct ctl_labels_line **order = NULL;
    size_t m = 0;

    if (n == 0)
        return ONR_OK;
    order = calloc(n, sizeof(*order));
    if (order == NULL)
        return ONR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (lines[i].error == NULL)
            order[m++] = &lines[i];
    qsort(order, m, sizeof(*order), by_dev);
    for (size_t i = 1; i < m; i++) {
        if (strcmp(ident(order[i]), ident(order[i - 1])) != 0)
            continue;
        /* the first of a run is the earliest line */
        order[i]->dup_of = order[i - 1]->dup_of != 0 ? order[i - 1]->dup_of
                                                     : order[i - 1]->line;
        order[i]->error = order[i]->dev[0] != '\0' ? "the same device as an earlier line"
                                                    : "the same kit as an earlier line";
    }
    free(order);
    return ONR_OK;
}

int ctl_labels_parse(const char *data, size_t len, const struct ctl_labels_defaults *def,
                     struct ctl_labels_line **lines, size_t *n, const char **why)
{
    static const struct ctl_labels_defaults none = {NULL, NULL};
    struct ctl_labels_line *out = NULL;
    int cols[COL_COUNT] = {COL_LABEL, COL_ACCOUNT, COL_OPERATOR};
    size_t n_cols = 1, cap = 1, at = 0, line_len = 0, count = 0;
    unsigned number = 0;
    const char *line = NULL;
    int csv = -1; /* not known before the first line that counts */
    int rc;

    *lines = NULL;
    *n = 0;
    *why = NULL;
    if (def == NULL)
        def = &none;
    if (data == NULL && len > 0)
        return ONR_EINVAL;
    if ((def->account != NULL && !account_ok(def->account, strlen(def->account))) ||
        (def->op != NULL && !op_ok(def->op, strlen(def->op)))) {
        *why = "the default account or operator is not one";
        return ONR_EINVAL;
    }
    if (len > CTL_LABELS_FILE_MAX) {
        *why = "larger than 16 MiB";
        return ONR_ETOOBIG;
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        at = 3;
    for (size_t i = at; i < len; i++)
        cap += data[i] == '\n';
    if (cap > CTL_LABELS_LINES_MAX + 2) /* a header and a last line without LF */
        cap = CTL_LABELS_LINES_MAX + 2;
    out = calloc(cap, sizeof(*out));
    if (out == NULL)
        return ONR_ENOMEM;
    while (next_line(data, len, &at, &line, &line_len)) {
        number++;
        if (skipped(line, line_len))
            continue;
        if (csv < 0) {
            int h = header(line, line_len, cols, &n_cols, why);

            if (h < 0) {
                rc = ONR_EFORMAT;
                goto fail;
            }
            csv = h;
            if (csv)
                continue;
        }
        if (count == CTL_LABELS_LINES_MAX || count == cap) {
            *why = "more than 100000 labels";
            rc = ONR_ECOUNT;
            goto fail;
        }
        out[count].line = number;
        one_line(line, line_len, csv, cols, n_cols, def, &out[count]);
        count++;
    }
    rc = mark_duplicates(out, count);
    if (rc != ONR_OK)
        goto fail;
    *lines = out;
    *n = count;
    return ONR_OK;
fail:
    onr_wipe(out, cap * sizeof(*out));
    free(out);
    return rc;
}
