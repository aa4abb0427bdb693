/* Each keyword of the topology file: its names and KEY=VALUE words checked
 * and stored (names of other declarations are resolved later,
 * topology_check.c). */
#include "topology_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/policy.h"
#include "onramp/text.h"

/* ---- values ------------------------------------------------------------ */

const char *adm_words_get(const struct adm_words *w, const char *key)
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
static int port_value(struct adm_parser *p, const struct adm_words *w, const char *key,
                      uint16_t dflt, uint16_t *out)
{
    const char *v = adm_words_get(w, key);
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

static int host_ref(struct adm_parser *p, const struct adm_words *w, size_t *slot)
{
    const char *host = adm_words_get(w, "host");

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

int adm_parse_host(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_topology *t = p->t;
    const char *address = adm_words_get(w, "address");
    const char *dns = adm_words_get(w, "dns");
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

int adm_parse_broker(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_topology *t = p->t;
    const char *bind = adm_words_get(w, "bind");
    const char *plugin = adm_words_get(w, "plugin");
    const char *nofile = adm_words_get(w, "nofile");
    const char *region = adm_words_get(w, "region");
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
        return adm_fail(p, p->line, "more than %d brokers: a device lists at most %d bootstrap "
                                    "brokers", ADM_MAX_BROKERS, ADM_MAX_BROKERS);
    if (region != NULL && !is_digits(region, 3, 3))
        return adm_fail(p, p->line, "region=%s: the country it serves, as its mobile country "
                                    "code (MCC: 3 digits)", region);
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
    snprintf(b->region, sizeof(b->region), "%s", region != NULL ? region : "");
    snprintf(b->plugin, sizeof(b->plugin), "%s", plugin != NULL ? plugin : "");
    b->nofile = (uint32_t)n;
    rc = host_ref(p, w, &b->host);
    if (rc == ONR_OK)
        t->n_brokers++;
    return rc;
}

/* The start of every service's and tool's line: its id, host, instances. */
static int new_party(struct adm_parser *p, const struct adm_words *w, enum adm_role role,
                     struct adm_party **out)
{
    struct adm_topology *t = p->t;
    const char *instances = adm_words_get(w, "instances");
    struct adm_party *party;
    size_t same_role = 0;
    uint64_t n = 1;
    int rc;

    rc = new_party_id(p, w->keyword, w->pos[0]);
    if (rc != ONR_OK)
        return rc;
    for (size_t i = 0; i < t->n_parties; i++)
        same_role += t->parties[i].role == role;
    if (same_role == ADM_MAX_PER_ROLE || t->n_parties == ADM_MAX_PARTIES)
        return adm_fail(p, p->line, "more than %d of %s", ADM_MAX_PER_ROLE, w->keyword);
    if (instances != NULL && !number(instances, 1, ADM_MAX_INSTANCES, &n))
        return adm_fail(p, p->line, "instances=%s: 1..%d processes of the service", instances,
                        ADM_MAX_INSTANCES);
    party = &t->parties[t->n_parties];
    memset(party, 0, sizeof(*party));
    party->role = role;
    snprintf(party->id, sizeof(party->id), "%s", w->pos[0]);
    party->line = p->line;
    party->instances = (unsigned)n;
    rc = host_ref(p, w, &party->host);
    if (rc != ONR_OK)
        return rc;
    t->n_parties++;
    *out = party;
    return ONR_OK;
}

int adm_parse_manufacturer(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_MANUFACTURER, &party);
}

int adm_parse_control(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_CONTROL, &party);
}

int adm_parse_monitor(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_party *party = NULL;

    return new_party(p, w, ADM_MONITOR, &party);
}

int adm_parse_provider(struct adm_parser *p, const struct adm_words *w)
{
    const char *def = adm_words_get(w, "default_operator");
    const char *broker = adm_words_get(w, "endpoint_broker");
    const char *origin = adm_words_get(w, "pairing_origin");
    struct adm_party *party = NULL;
    int rc = new_party(p, w, ADM_PROVIDER, &party);

    if (rc == ONR_OK)
        rc = port_value(p, w, "pairing_port", 0, &party->pairing_port);
    if (rc == ONR_OK && origin != NULL && (party->pairing_port == 0 || !onr_config_origin(origin)))
        return adm_fail(p, p->line, "pairing_origin=%s: the pairing page's public origin behind "
                        "its TLS reverse proxy, e.g. https://pair.example.net (scheme, host, "
                        "optional port; with pairing_port=)", origin);
    if (rc == ONR_OK && origin != NULL)
        snprintf(party->pairing_origin, sizeof(party->pairing_origin), "%s", origin);
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

/* serves=MCC[,MCC...]: the countries an operator serves, none twice. */
static int serves_value(struct adm_parser *p, const char *value, struct adm_party *party)
{
    const char *at = value;

    party->n_serves = 0;
    while (at != NULL && *at != '\0') {
        size_t len = strcspn(at, ",");

        if (len != 3 || onr_text_check(ONR_TEXT_DIGITS, (struct onr_bytes){(const uint8_t *)at, 3}) !=
                            ONR_OK)
            return adm_fail(p, p->line, "serves=%s: MCCs (3 digits) separated by ','", value);
        for (size_t i = 0; i < party->n_serves; i++)
            if (memcmp(party->serves[i], at, 3) == 0)
                return adm_fail(p, p->line, "serves=%s: %.3s twice", value, at);
        if (party->n_serves == ADM_MAX_MCCS)
            return adm_fail(p, p->line, "serves=%s: at most %d countries", value, ADM_MAX_MCCS);
        memcpy(party->serves[party->n_serves], at, 3);
        party->serves[party->n_serves++][3] = '\0';
        at += len;
        if (*at == ',' && at[1] == '\0')
            return adm_fail(p, p->line, "serves=%s: MCCs (3 digits) separated by ','", value);
        if (*at == ',')
            at++;
    }
    return ONR_OK;
}

int adm_parse_operator(struct adm_parser *p, const struct adm_words *w)
{
    const char *plmn = adm_words_get(w, "plmn");
    const char *apn = adm_words_get(w, "apn");
    const char *amf = adm_words_get(w, "amf");
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
        rc = range_value(p, "imsi", adm_words_get(w, "imsi"), 6, 15, party->imsi_first, party->imsi_last);
    if (rc == ONR_OK && strncmp(party->imsi_first, plmn, strlen(plmn)) != 0)
        rc = adm_fail(p, p->line, "imsi=%s-%s: every IMSI starts with the PLMN %s",
                      party->imsi_first, party->imsi_last, plmn);
    if (rc == ONR_OK)
        rc = range_value(p, "iccid", adm_words_get(w, "iccid"), 18, 19, party->iccid_first,
                         party->iccid_last);
    if (rc != ONR_OK)
        return rc;
    rc = serves_value(p, adm_words_get(w, "serves"), party);
    if (rc != ONR_OK)
        return rc;
    snprintf(party->plmn, sizeof(party->plmn), "%s", plmn);
    snprintf(party->apn, sizeof(party->apn), "%s", apn);
    snprintf(party->amf, sizeof(party->amf), "%s", amf != NULL ? amf : "");
    return ONR_OK;
}

int adm_parse_contract(struct adm_parser *p, const struct adm_words *w)
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

int adm_parse_plan(struct adm_parser *p, const struct adm_words *w)
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

int adm_parse_roaming(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_topology *t = p->t;
    struct adm_roaming *r;
    struct onr_policy policy;
    int rc;

    if (t->n_roaming == ADM_MAX_ALL_PLANS)
        return adm_fail(p, p->line, "more than %d roaming lines", ADM_MAX_ALL_PLANS);
    if (!is_printable(w->pos[1], ADM_ACCOUNT_MAX))
        return adm_fail(p, p->line, "roaming: ACCOUNT is 1 to %d visible characters, or *",
                        ADM_ACCOUNT_MAX);
    rc = onr_policy_parse(w->pos[2], strlen(w->pos[2]), &policy);
    if (rc != ONR_OK)
        return adm_fail(p, p->line, "roaming: POLICY '%.80s': %s (MCC:OP[,OP...] entries "
                                    "separated by ';', MCC 3 digits or *)", w->pos[2],
                        onr_strerror(rc));
    r = &t->roaming[t->n_roaming];
    r->line = p->line;
    snprintf(r->account, sizeof(r->account), "%s", w->pos[1]);
    snprintf(r->policy, sizeof(r->policy), "%s", w->pos[2]);
    if (ref(p, ADM_REF_PROVIDER, w->pos[0], &r->provider, "roaming") != ONR_OK)
        return ONR_EFORMAT;
    t->n_roaming++;
    return ONR_OK;
}

int adm_parse_storage(struct adm_parser *p, const struct adm_words *w)
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


int adm_parse_metrics(struct adm_parser *p, const struct adm_words *w)
{
    struct adm_topology *t = p->t;
    const char *bind = adm_words_get(w, "bind");
    struct adm_metrics *m;
    int rc;

    if (t->n_metrics == ADM_MAX_PARTIES)
        return adm_fail(p, p->line, "more than %d metrics lines", ADM_MAX_PARTIES);
    m = &t->metrics[t->n_metrics];
    memset(m, 0, sizeof(*m));
    m->line = p->line;
    if (adm_words_get(w, "port") == NULL)
        return adm_fail(p, p->line, "metrics: port=PORT is required");
    rc = port_value(p, w, "port", 0, &m->port);
    if (rc != ONR_OK)
        return rc;
    if (bind != NULL && !is_address(bind))
        return adm_fail(p, p->line, "bind=%s: not an IPv4 or IPv6 address", bind);
    snprintf(m->bind, sizeof(m->bind), "%s", bind != NULL ? bind : "");
    rc = ref(p, ADM_REF_PARTY, w->pos[0], &m->party, "metrics");
    if (rc == ONR_OK)
        t->n_metrics++;
    return rc;
}
