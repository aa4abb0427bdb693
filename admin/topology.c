/* The topology file, line by line: words, keywords and their values.
 * Names are resolved and the whole checked in topology_check.c. */
#include "topology_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/text.h"

struct kv {
    const char *key;
    const char *value;
};

/* One line cut into words: `pos` positional words after the keyword, then
 * KEY=VALUE words. */
struct words {
    char buf[ADM_LINE_MAX + 1];
    const char *keyword;
    const char *pos[ADM_MAX_WORDS];
    size_t n_pos;
    struct kv kv[ADM_MAX_WORDS];
    size_t n_kv;
};

struct spec {
    const char *keyword;
    size_t n_pos;
    const char *usage;
    const char *const *keys; /* NULL-terminated */
    int (*parse)(struct adm_parser *p, const struct words *w);
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

/* ---- values ------------------------------------------------------------ */

static const char *get(const struct words *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return w->kv[i].value;
    return NULL;
}

static int is_id(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= ADM_ID_MAX &&
           onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)s, n}) == ONR_OK;
}

static int is_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    return n >= min && n <= max &&
           onr_text_check(ONR_TEXT_DIGITS, (struct onr_bytes){(const uint8_t *)s, n}) == ONR_OK;
}

/* A decimal number in [min, max] (no sign, no leading zeros but "0"). */
static int number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(s);

    if (!is_digits(s, 1, 20) || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static int is_address(const char *s)
{
    uint8_t buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* A DNS name: lowercase labels of letters, digits and '-', dot-separated. */
static int is_dns(const char *s)
{
    size_t n = strlen(s);
    size_t label = 0;

    if (n == 0 || n > ADM_DNS_MAX)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];

        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

static int is_printable(const char *s, size_t max)
{
    size_t n = strlen(s);

    return n >= 1 && n <= max &&
           onr_text_check(ONR_TEXT_PRINTABLE, (struct onr_bytes){(const uint8_t *)s, n}) ==
               ONR_OK;
}

/* key=PORT into *out; absent: `dflt`. */
static int port_value(struct adm_parser *p, const struct words *w, const char *key,
                      uint16_t dflt, uint16_t *out)
{
    const char *v = get(w, key);
    uint64_t n = 0;

    if (v == NULL) {
        *out = dflt;
        return ONR_OK;
    }
    if (!number(v, 1, 65535, &n))
        return adm_fail(p, p->line, "%s=%s: a port number 1..65535", key, v);
    *out = (uint16_t)n;
    return ONR_OK;
}

/* "FIRST-LAST": two numbers of the same length in [min, max] digits. */
static int range_value(struct adm_parser *p, const char *key, const char *v, size_t min,
                       size_t max, char *first, char *last)
{
    const char *dash = v == NULL ? NULL : strchr(v, '-');
    size_t n = dash == NULL ? 0 : (size_t)(dash - v);
    char a[32];

    if (v == NULL)
        return adm_fail(p, p->line, "%s=FIRST-LAST is required", key);
    if (dash == NULL || n >= sizeof(a))
        return adm_fail(p, p->line, "%s=%s: want FIRST-LAST", key, v);
    memcpy(a, v, n);
    a[n] = '\0';
    if (!is_digits(a, min, max) || strlen(dash + 1) != n || !is_digits(dash + 1, min, max))
        return adm_fail(p, p->line, "%s=%s: FIRST and LAST are %zu to %zu digits, the same "
                                    "number of them", key, v, min, max);
    if (strcmp(a, dash + 1) > 0)
        return adm_fail(p, p->line, "%s=%s: FIRST is above LAST", key, v);
    memcpy(first, a, n + 1);
    memcpy(last, dash + 1, n + 1);
    return ONR_OK;
}

/* Remember a name to resolve once every line is read. */
static int ref(struct adm_parser *p, enum adm_ref_kind kind, const char *name, size_t *slot,
               const char *what)
{
    struct adm_ref *r;

    if (!is_id(name))
        return adm_fail(p, p->line, "%s '%s': not a name (a-z 0-9 . _ -, 1..32, not "
                                    "starting with . _ or -)", what, name);
    if (p->n_refs == ADM_MAX_REFS)
        return adm_fail(p, p->line, "too many names");
    r = &p->refs[p->n_refs++];
    r->kind = kind;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->line = p->line;
    r->slot = slot;
    r->what = what;
    return ONR_OK;
}

static int host_ref(struct adm_parser *p, const struct words *w, size_t *slot)
{
    const char *host = get(w, "host");

    if (host == NULL)
        return adm_fail(p, p->line, "%s: host=HOST is required", w->keyword);
    return ref(p, ADM_REF_HOST, host, slot, "host=");
}

/* An id not yet used by a party (the namespace of services and tools). */
static int new_party_id(struct adm_parser *p, const char *kind, const char *id)
{
    const struct adm_topology *t = p->t;

    if (!is_id(id))
        return adm_fail(p, p->line, "%s '%s': an id is a-z 0-9 . _ -, 1..32 characters, "
                                    "not starting with . _ or -", kind, id);
    for (size_t i = 0; i < t->n_parties; i++)
        if (strcmp(t->parties[i].id, id) == 0)
            return adm_fail(p, p->line, "duplicate id '%s' (the %s on line %zu)", id,
                            adm_role_name(t->parties[i].role), t->parties[i].line);
    return ONR_OK;
}

/* ---- keywords ---------------------------------------------------------- */

/* A host's or broker's name: valid, and not the name of one on `first`'s
 * line (0: none). */
static int new_name(struct adm_parser *p, const char *kind, const char *name, size_t first)
{
    if (!is_id(name))
        return adm_fail(p, p->line, "%s '%s': a name is a-z 0-9 . _ -, 1..32 characters",
                        kind, name);
    if (first != 0)
        return adm_fail(p, p->line, "duplicate %s '%s' (first on line %zu)", kind, name, first);
    return ONR_OK;
}

static int parse_host(struct adm_parser *p, const struct words *w)
{
    struct adm_topology *t = p->t;
    const char *address = get(w, "address");
    const char *dns = get(w, "dns");
    struct adm_host *h;
    size_t first = 0;
    int rc;

    for (size_t i = 0; i < t->n_hosts && first == 0; i++)
        if (strcmp(t->hosts[i].name, w->pos[0]) == 0)
            first = t->hosts[i].line;
    rc = new_name(p, "host", w->pos[0], first);
    if (rc != ONR_OK)
        return rc;
    if (t->n_hosts == ADM_MAX_HOSTS)
        return adm_fail(p, p->line, "more than %d hosts", ADM_MAX_HOSTS);
    if (address != NULL && !is_address(address))
        return adm_fail(p, p->line, "address=%s: not an IPv4 or IPv6 address", address);
    if (dns != NULL && !is_dns(dns))
        return adm_fail(p, p->line, "dns=%s: not a DNS name (lowercase)", dns);
    h = &t->hosts[t->n_hosts++];
    snprintf(h->name, sizeof(h->name), "%s", w->pos[0]);
    snprintf(h->address, sizeof(h->address), "%s", address != NULL ? address : "");
    snprintf(h->dns, sizeof(h->dns), "%s", dns != NULL ? dns : "");
    h->line = p->line;
    return ONR_OK;
}

static int parse_broker(struct adm_parser *p, const struct words *w)
{
    struct adm_topology *t = p->t;
    const char *bind = get(w, "bind");
    const char *plugin = get(w, "plugin");
    const char *nofile = get(w, "nofile");
    struct adm_broker *b;
    uint64_t n = 100000;
    size_t first = 0;
    int rc;

    for (size_t i = 0; i < t->n_brokers && first == 0; i++)
        if (strcmp(t->brokers[i].name, w->pos[0]) == 0)
            first = t->brokers[i].line;
    rc = new_name(p, "broker", w->pos[0], first);
    if (rc != ONR_OK)
        return rc;
    if (t->n_brokers == ADM_MAX_BROKERS)
        return adm_fail(p, p->line, "a second broker: several brokers are reserved for a later "
                                    "issue (services connect to one broker today)");
    if (get(w, "region") != NULL)
        return adm_fail(p, p->line, "region=: reserved for a later issue (brokers by region)");
    b = &t->brokers[t->n_brokers];
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", w->pos[0]);
    b->line = p->line;
    rc = port_value(p, w, "bootstrap_port", 8883, &b->bootstrap_port);
    if (rc == ONR_OK)
        rc = port_value(p, w, "services_port", 8884, &b->services_port);
    if (rc == ONR_OK)
        rc = port_value(p, w, "service_port", 8885, &b->service_port);
    if (rc != ONR_OK)
        return rc;
    if (bind != NULL && !is_address(bind))
        return adm_fail(p, p->line, "bind=%s: not an IPv4 or IPv6 address", bind);
    if (plugin != NULL && (plugin[0] != '/' || !is_printable(plugin, ADM_PATH_MAX)))
        return adm_fail(p, p->line, "plugin=%s: an absolute path", plugin);
    if (nofile != NULL && !number(nofile, 1024, 1048576, &n))
        return adm_fail(p, p->line, "nofile=%s: open files 1024..1048576", nofile);
    snprintf(b->bind, sizeof(b->bind), "%s", bind != NULL ? bind : "");
    snprintf(b->plugin, sizeof(b->plugin), "%s", plugin != NULL ? plugin : "");
    b->nofile = (uint32_t)n;
    rc = host_ref(p, w, &b->host);
    if (rc == ONR_OK)
        t->n_brokers++;
    return rc;
}

/* The start of every service's and tool's line: its id, host, instances. */
static int new_party(struct adm_parser *p, const struct words *w, enum adm_role role,
                     struct adm_party **out)
{
    struct adm_topology *t = p->t;
    const char *instances = get(w, "instances");
    struct adm_party *party;
    size_t same_role = 0;
    int rc;

    rc = new_party_id(p, w->keyword, w->pos[0]);
    if (rc != ONR_OK)
        return rc;
    for (size_t i = 0; i < t->n_parties; i++)
        same_role += t->parties[i].role == role;
    if (same_role == ADM_MAX_PER_ROLE || t->n_parties == ADM_MAX_PARTIES)
        return adm_fail(p, p->line, "more than %d of %s", ADM_MAX_PER_ROLE, w->keyword);
    if (instances != NULL && strcmp(instances, "1") != 0)
        return adm_fail(p, p->line, "instances=%s: one instance per service today; several "
                                    "are reserved for a later issue (they need the PostgreSQL "
                                    "backend)", instances);
    party = &t->parties[t->n_parties];
    memset(party, 0, sizeof(*party));
    party->role = role;
    snprintf(party->id, sizeof(party->id), "%s", w->pos[0]);
    party->line = p->line;
    rc = host_ref(p, w, &party->host);
    if (rc != ONR_OK)
        return rc;
    t->n_parties++;
    *out = party;
    return ONR_OK;
}

static int parse_manufacturer(struct adm_parser *p, const struct words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_MANUFACTURER, &party);
}

static int parse_control(struct adm_parser *p, const struct words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_CONTROL, &party);
}

static int parse_monitor(struct adm_parser *p, const struct words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_MONITOR, &party);
}

static int parse_provider(struct adm_parser *p, const struct words *w)
{
    const char *def = get(w, "default_operator");
    const char *broker = get(w, "endpoint_broker");
    struct adm_party *party = NULL;
    int rc = new_party(p, w, ADM_PROVIDER, &party);

    if (rc == ONR_OK)
        rc = port_value(p, w, "pairing_port", 0, &party->pairing_port);
    /* SIZE_MAX until resolved: none given */
    if (rc == ONR_OK) {
        party->default_operator = SIZE_MAX;
        party->endpoint_broker = SIZE_MAX;
    }
    if (rc == ONR_OK && def != NULL)
        rc = ref(p, ADM_REF_OPERATOR, def, &party->default_operator, "default_operator=");
    if (rc == ONR_OK && broker != NULL)
        rc = ref(p, ADM_REF_BROKER, broker, &party->endpoint_broker, "endpoint_broker=");
    return rc;
}

static int parse_operator(struct adm_parser *p, const struct words *w)
{
    const char *plmn = get(w, "plmn");
    const char *apn = get(w, "apn");
    const char *amf = get(w, "amf");
    struct adm_party *party = NULL;
    int rc;

    if (plmn == NULL || !is_digits(plmn, 5, 6))
        return adm_fail(p, p->line, "operator: plmn=MCCMNC (5 or 6 digits) is required");
    if (apn == NULL || !is_printable(apn, ADM_APN_MAX))
        return adm_fail(p, p->line, "operator: apn=APN (1 to %d visible characters) is "
                                    "required", ADM_APN_MAX);
    if (amf != NULL && (strlen(amf) != 4 || strspn(amf, "0123456789abcdefABCDEF") != 4))
        return adm_fail(p, p->line, "amf=%s: 4 hex digits", amf);
    rc = new_party(p, w, ADM_OPERATOR, &party);
    if (rc == ONR_OK)
        rc = range_value(p, "imsi", get(w, "imsi"), 6, 15, party->imsi_first, party->imsi_last);
    if (rc == ONR_OK && strncmp(party->imsi_first, plmn, strlen(plmn)) != 0)
        rc = adm_fail(p, p->line, "imsi=%s-%s: every IMSI starts with the PLMN %s",
                      party->imsi_first, party->imsi_last, plmn);
    if (rc == ONR_OK)
        rc = range_value(p, "iccid", get(w, "iccid"), 18, 19, party->iccid_first,
                         party->iccid_last);
    if (rc != ONR_OK)
        return rc;
    snprintf(party->plmn, sizeof(party->plmn), "%s", plmn);
    snprintf(party->apn, sizeof(party->apn), "%s", apn);
    snprintf(party->amf, sizeof(party->amf), "%s", amf != NULL ? amf : "");
    return ONR_OK;
}

static int parse_contract(struct adm_parser *p, const struct words *w)
{
    struct adm_topology *t = p->t;
    struct adm_contract *c;
    int rc;

    if (t->n_contracts == ADM_MAX_CONTRACTS)
        return adm_fail(p, p->line, "more than %d contracts", ADM_MAX_CONTRACTS);
    c = &t->contracts[t->n_contracts];
    c->line = p->line;
    rc = ref(p, ADM_REF_PROVIDER, w->pos[0], &c->provider, "contract");
    if (rc == ONR_OK)
        rc = ref(p, ADM_REF_OPERATOR, w->pos[1], &c->op, "contract");
    if (rc == ONR_OK)
        t->n_contracts++;
    return rc;
}

static int parse_plan(struct adm_parser *p, const struct words *w)
{
    struct adm_topology *t = p->t;
    struct adm_plan *pl;
    uint64_t qos = 0;
    uint64_t cap = 0;

    if (t->n_plans == ADM_MAX_ALL_PLANS)
        return adm_fail(p, p->line, "more than %d plans", ADM_MAX_ALL_PLANS);
    if (!is_printable(w->pos[1], ADM_ACCOUNT_MAX))
        return adm_fail(p, p->line, "plan: ACCOUNT is 1 to %d visible characters, or *",
                        ADM_ACCOUNT_MAX);
    if (!number(w->pos[2], 0, 255, &qos))
        return adm_fail(p, p->line, "plan: QOS '%s': a class 0..255", w->pos[2]);
    if (!is_id(w->pos[3]))
        return adm_fail(p, p->line, "plan: CHARGING '%s': an id (a-z 0-9 . _ -)", w->pos[3]);
    if (!number(w->pos[4], 0, INT64_MAX, &cap))
        return adm_fail(p, p->line, "plan: CAP '%s': bytes a month, 0 for none", w->pos[4]);
    pl = &t->plans[t->n_plans];
    pl->line = p->line;
    snprintf(pl->account, sizeof(pl->account), "%s", w->pos[1]);
    pl->qos = (unsigned)qos;
    snprintf(pl->charging, sizeof(pl->charging), "%s", w->pos[3]);
    pl->cap = cap;
    if (ref(p, ADM_REF_PROVIDER, w->pos[0], &pl->provider, "plan") != ONR_OK)
        return ONR_EFORMAT;
    t->n_plans++;
    return ONR_OK;
}

static int parse_storage(struct adm_parser *p, const struct words *w)
{
    struct adm_storage *s = &p->t->storage;
    int rc;

    if (s->line != 0)
        return adm_fail(p, p->line, "storage given twice (first on line %zu)", s->line);
    if (strcmp(w->pos[0], "sqlite") == 0) {
        if (w->n_kv != 0)
            return adm_fail(p, p->line, "storage sqlite takes no keys");
        s->line = p->line;
        return ONR_OK;
    }
    if (strcmp(w->pos[0], "postgres") != 0)
        return adm_fail(p, p->line, "storage '%s': sqlite or postgres", w->pos[0]);
    rc = port_value(p, w, "port", 5432, &s->port);
    if (rc == ONR_OK)
        rc = host_ref(p, w, &s->host);
    if (rc == ONR_OK) {
        s->postgres = 1;
        s->line = p->line;
    }
    return rc;
}

static const char *const host_keys[] = {"address", "dns", NULL};
static const char *const broker_keys[] = {"host", "bootstrap_port", "services_port",
                                          "service_port", "bind", "plugin", "nofile",
                                          "region", NULL};
static const char *const party_keys[] = {"host", "instances", NULL};
static const char *const tool_keys[] = {"host", NULL};
static const char *const provider_keys[] = {"host", "instances", "default_operator",
                                            "endpoint_broker", "pairing_port", NULL};
static const char *const operator_keys[] = {"host", "instances", "plmn", "apn", "amf", "imsi",
                                            "iccid", NULL};
static const char *const no_keys[] = {NULL};
static const char *const storage_keys[] = {"host", "port", NULL};

static const struct spec specs[] = {
    {"host", 1, "host NAME [address=IP] [dns=NAME]", host_keys, parse_host},
    {"broker", 1, "broker NAME host=HOST [KEY=VALUE...]", broker_keys, parse_broker},
    {"manufacturer", 1, "manufacturer ID host=HOST", party_keys, parse_manufacturer},
    {"provider", 1, "provider ID host=HOST [KEY=VALUE...]", provider_keys, parse_provider},
    {"operator", 1, "operator ID host=HOST plmn=... apn=... imsi=... iccid=...", operator_keys,
     parse_operator},
    {"control", 1, "control ID host=HOST", tool_keys, parse_control},
    {"monitor", 1, "monitor ID host=HOST", tool_keys, parse_monitor},
    {"contract", 2, "contract PROVIDER OPERATOR", no_keys, parse_contract},
    {"plan", 5, "plan PROVIDER ACCOUNT QOS CHARGING CAP", no_keys, parse_plan},
    {"storage", 1, "storage sqlite | storage postgres host=HOST [port=PORT]", storage_keys,
     parse_storage},
};

/* Keywords a later issue gives a meaning: refused, never ignored. */
static const struct {
    const char *keyword;
    const char *what;
} reserved[] = {
    {"roaming", "roaming policies"},
    {"metrics", "Prometheus metrics"},
};

/* ---- lines --------------------------------------------------------------- */

/* Cut `line` (`len` bytes, no newline) into words. 0 words: blank. */
static int split(struct adm_parser *p, const char *line, size_t len, struct words *w)
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
        w->kv[w->n_kv++] = (struct kv){words[k], eq + 1};
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
    static struct words w; /* large: not on the stack; one parse at a time */
    const struct spec *s = NULL;
    int rc = split(p, line, len, &w);

    if (rc != ONR_OK || w.keyword == NULL)
        return rc;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(w.keyword, reserved[i].keyword) == 0)
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

int adm_has_contract(const struct adm_topology *t, size_t prov, size_t op)
{
    for (size_t i = 0; i < t->n_contracts; i++)
        if (t->contracts[i].provider == prov && t->contracts[i].op == op)
            return 1;
    return 0;
}
