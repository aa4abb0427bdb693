/* The topology file, line by line: words and keywords (each keyword's
 * values in topology_keywords.c; names resolved and the whole checked in
 * topology_check.c). */
#include "topology_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/file.h"

struct spec {
    const char *keyword;
    size_t n_pos;
    const char *usage;
    const char *const *keys; /* NULL-terminated */
    int (*parse)(struct adm_parser *p, const struct adm_words *w);
};

int adm_fail(struct adm_parser *p, size_t line, const char *fmt, ...)
{
    va_list ap;

    if (p->err != NULL) {
        p->err->line = line;
        va_start(ap, fmt);
        vsnprintf(p->err->reason, sizeof(p->err->reason), fmt, ap);
        va_end(ap);
    }
    return ONR_EFORMAT;
}

const char *adm_role_name(enum adm_role role)
{
    static const char *const names[ADM_ROLES] = {"manufacturer", "provider", "operator",
                                                 "control", "monitor"};

    return role < ADM_ROLES ? names[role] : "?";
}

static const char *const host_keys[] = {"address", "dns", NULL};
static const char *const broker_keys[] = {"host", "bootstrap_port", "services_port",
                                          "service_port", "bind", "plugin", "nofile",
                                          "region", NULL};
static const char *const party_keys[] = {"host", "instances", NULL};
static const char *const tool_keys[] = {"host", NULL};
static const char *const provider_keys[] = {"host", "instances", "default_operator",
                                            "endpoint_broker", "pairing_port",
                                            "pairing_origin", NULL};
static const char *const operator_keys[] = {"host", "instances", "plmn", "apn", "amf", "imsi",
                                            "iccid", "serves", NULL};
static const char *const no_keys[] = {NULL};
static const char *const storage_keys[] = {"host", "port", NULL};
static const char *const metrics_keys[] = {"port", "bind", NULL};

static const struct spec specs[] = {
    {"host", 1, "host NAME [address=IP] [dns=NAME]", host_keys, adm_parse_host},
    {"broker", 1, "broker NAME host=HOST [KEY=VALUE...]", broker_keys, adm_parse_broker},
    {"manufacturer", 1, "manufacturer ID host=HOST", party_keys, adm_parse_manufacturer},
    {"provider", 1, "provider ID host=HOST [KEY=VALUE...]", provider_keys, adm_parse_provider},
    {"operator", 1, "operator ID host=HOST plmn=... apn=... imsi=... iccid=...", operator_keys,
     adm_parse_operator},
    {"control", 1, "control ID host=HOST", tool_keys, adm_parse_control},
    {"monitor", 1, "monitor ID host=HOST", tool_keys, adm_parse_monitor},
    {"contract", 2, "contract PROVIDER OPERATOR", no_keys, adm_parse_contract},
    {"plan", 5, "plan PROVIDER ACCOUNT QOS CHARGING CAP", no_keys, adm_parse_plan},
    {"roaming", 3, "roaming PROVIDER ACCOUNT POLICY", no_keys, adm_parse_roaming},
    {"storage", 1, "storage sqlite | storage postgres host=HOST [port=PORT]", storage_keys,
     adm_parse_storage},
    {"metrics", 1, "metrics ID port=PORT [bind=IP]", metrics_keys, adm_parse_metrics},
};

/* Keywords a later issue gives a meaning: refused, never ignored. */
static const struct {
    const char *keyword;
    const char *what;
} reserved[] = {
    {NULL, NULL}, /* none today */
};

/* ---- lines --------------------------------------------------------------- */

/* Cut `line` (`len` bytes, no newline) into words. 0 words: blank. */
static int split(struct adm_parser *p, const char *line, size_t len, struct adm_words *w)
{
    size_t i = 0;
    size_t n = 0;
    char *words[ADM_MAX_WORDS + 1];

    memcpy(w->buf, line, len);
    w->buf[len] = '\0';
    w->keyword = NULL;
    w->n_pos = 0;
    w->n_kv = 0;
    while (i < len) {
        while (i < len && (w->buf[i] == ' ' || w->buf[i] == '\t'))
            w->buf[i++] = '\0';
        if (i == len || w->buf[i] == '#')
            break;
        if (n == ADM_MAX_WORDS)
            return adm_fail(p, p->line, "more than %d words", ADM_MAX_WORDS);
        words[n++] = &w->buf[i];
        while (i < len && w->buf[i] != ' ' && w->buf[i] != '\t')
            i++;
    }
    if (i < len)
        w->buf[i] = '\0'; /* a comment: dropped */
    if (n == 0)
        return ONR_OK;
    w->keyword = words[0];
    for (size_t k = 1; k < n; k++) {
        char *eq = strchr(words[k], '=');

        if (eq == NULL) {
            if (w->n_kv != 0)
                return adm_fail(p, p->line, "'%s' after KEY=VALUE words: names come first",
                                words[k]);
            w->pos[w->n_pos++] = words[k];
            continue;
        }
        *eq = '\0';
        if (words[k][0] == '\0' || eq[1] == '\0')
            return adm_fail(p, p->line, "'%s=%s': want KEY=VALUE", words[k], eq + 1);
        for (size_t j = 0; j < w->n_kv; j++)
            if (strcmp(w->kv[j].key, words[k]) == 0)
                return adm_fail(p, p->line, "%s= given twice", words[k]);
        w->kv[w->n_kv++] = (struct adm_kv){words[k], eq + 1};
    }
    return ONR_OK;
}

static int known_key(const struct spec *s, const char *key)
{
    for (size_t i = 0; s->keys[i] != NULL; i++)
        if (strcmp(s->keys[i], key) == 0)
            return 1;
    return 0;
}

static int parse_line(struct adm_parser *p, const char *line, size_t len)
{
    static struct adm_words w; /* large: not on the stack; one parse at a time */
    const struct spec *s = NULL;
    int rc = split(p, line, len, &w);

    if (rc != ONR_OK || w.keyword == NULL)
        return rc;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (reserved[i].keyword != NULL && strcmp(w.keyword, reserved[i].keyword) == 0)
            return adm_fail(p, p->line, "'%s' is reserved for a later issue (%s); refused "
                                        "rather than ignored", w.keyword, reserved[i].what);
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]) && s == NULL; i++)
        if (strcmp(w.keyword, specs[i].keyword) == 0)
            s = &specs[i];
    if (s == NULL)
        return adm_fail(p, p->line, "unknown keyword '%.40s'", w.keyword);
    if (w.n_pos != s->n_pos)
        return adm_fail(p, p->line, "%s: want '%s'", s->keyword, s->usage);
    for (size_t i = 0; i < w.n_kv; i++)
        if (!known_key(s, w.kv[i].key))
            return adm_fail(p, p->line, "unknown key '%.40s' for %s", w.kv[i].key,
                            s->keyword);
    return s->parse(p, &w);
}

int adm_topology_parse(const char *text, size_t len, struct adm_topology **out,
                       struct adm_error *err)
{
    struct adm_parser *p = NULL;
    size_t start = 0;
    int rc = ONR_OK;

    if ((text == NULL && len > 0) || out == NULL)
        return ONR_EINVAL;
    *out = NULL;
    if (err != NULL)
        *err = (struct adm_error){0, ""};
    if (len > ADM_MAX_TEXT)
        return ONR_ETOOBIG;
    p = calloc(1, sizeof(*p));
    if (p != NULL)
        p->t = calloc(1, sizeof(*p->t));
    if (p == NULL || p->t == NULL) {
        free(p);
        return ONR_ENOMEM;
    }
    p->err = err;
    while (rc == ONR_OK && start < len) {
        size_t end = start;
        size_t line_len;

        p->line++;
        while (end < len && text[end] != '\n')
            end++;
        line_len = end - start;
        if (line_len > 0 && text[start + line_len - 1] == '\r')
            line_len--; /* CRLF */
        if (line_len > ADM_LINE_MAX) {
            rc = adm_fail(p, p->line, "longer than %d bytes", ADM_LINE_MAX);
            break;
        }
        for (size_t i = start; i < start + line_len; i++)
            if (((unsigned char)text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7f) {
                rc = adm_fail(p, p->line, "a control character (byte %zu)", i - start + 1);
                break;
            }
        if (rc == ONR_OK)
            rc = parse_line(p, text + start, line_len);
        start = end + 1;
    }
    if (rc == ONR_OK)
        rc = adm_topology_check(p);
    if (rc == ONR_OK)
        *out = p->t;
    else
        free(p->t);
    free(p);
    return rc;
}

int adm_topology_load(const char *path, struct adm_topology **out, struct adm_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    int rc;

    if (path == NULL || out == NULL)
        return ONR_EINVAL;
    rc = onr_file_read(path, ADM_MAX_TEXT, 0, &text, &len);
    if (rc == ONR_OK)
        rc = adm_topology_parse((const char *)text, len, out, err);
    free(text);
    return rc;
}

void adm_topology_free(struct adm_topology *t)
{
    free(t);
}

const struct adm_metrics *adm_metrics_of(const struct adm_topology *t, size_t i)
{
    for (size_t k = 0; k < t->n_metrics; k++)
        if (t->metrics[k].party == i)
            return &t->metrics[k];
    return NULL;
}

int adm_has_contract(const struct adm_topology *t, size_t prov, size_t op)
{
    for (size_t i = 0; i < t->n_contracts; i++)
        if (t->contracts[i].provider == prov && t->contracts[i].op == op)
            return 1;
    return 0;
}
