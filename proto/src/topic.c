#include "onramp/topic.h"

#include <stdbool.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

#define PREFIX "onr/1/"
#define SHARE "$share/"

/* Which topics carry which roles: bit (1 << role). */
#define BIT(role) (1u << (role))
#define UP_ROLES (BIT(ONR_ROLE_MANUFACTURER) | BIT(ONR_ROLE_OPERATOR) | BIT(ONR_ROLE_PROVIDER))
#define IN_ROLES (UP_ROLES | BIT(ONR_ROLE_CONTROL))
#define EV_ROLES (UP_ROLES | BIT(ONR_ROLE_BROKER))

static const struct {
    enum onr_role role;
    const char *level;
} role_levels[] = {
    {ONR_ROLE_MANUFACTURER, "mfr"}, {ONR_ROLE_OPERATOR, "op"}, {ONR_ROLE_PROVIDER, "prov"},
    {ONR_ROLE_CONTROL, "ctl"},      {ONR_ROLE_BROKER, "broker"},
};

const char *onr_topic_role(enum onr_role role)
{
    for (size_t i = 0; i < sizeof(role_levels) / sizeof(role_levels[0]); i++)
        if (role_levels[i].role == role)
            return role_levels[i].level;
    return NULL;
}

int onr_topic_role_parse(const char *level, size_t len, enum onr_role *out)
{
    if ((level == NULL && len > 0) || out == NULL)
        return ONR_EINVAL;
    for (size_t i = 0; i < sizeof(role_levels) / sizeof(role_levels[0]); i++) {
        if (strlen(role_levels[i].level) == len && memcmp(role_levels[i].level, level, len) == 0) {
            *out = role_levels[i].role;
            return ONR_OK;
        }
    }
    return ONR_EINVAL;
}

/* ---- checks ------------------------------------------------------------------ */

static bool id_ok(const char *s, size_t len)
{
    return onr_service_id_check(s, len) == ONR_OK;
}

/* A NUL-terminated service id (or group, or broker name), read at most one
 * byte past its longest. */
static bool svc_ok(const char *s)
{
    return s != NULL && id_ok(s, strnlen(s, ONR_SERVICE_ID_MAX + 1));
}

static bool dev_ok(const char *d)
{
    return d != NULL && strnlen(d, ONR_DEVID_LEN + 1) == ONR_DEVID_LEN &&
           onr_devid_check(d, ONR_DEVID_LEN) == ONR_OK;
}

static bool role_ok(enum onr_role role, unsigned allowed)
{
    return (unsigned)role < 32 && (allowed & BIT(role)) != 0;
}

/* An operational device's levels after its own: one or more, none empty,
 * no wildcard, UTF-8 text without control characters. */
static bool rest_ok(const char *s, size_t len)
{
    if (len == 0 || s[0] == '/' || s[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '+' || s[i] == '#' || (s[i] == '/' && s[i + 1] == '/'))
            return false;
    return onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)s, len}) == ONR_OK;
}

/* ---- building ------------------------------------------------------------------ */

/* Concatenate `n` strings into `out`: ONR_OK, or ONR_ESPACE with "" left. */
static int join(char *out, size_t cap, const char *const *parts, size_t n)
{
    size_t at = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);

        if (len >= cap - at) {
            out[0] = '\0';
            return ONR_ESPACE;
        }
        memcpy(out + at, parts[i], len);
        at += len;
    }
    out[at] = '\0';
    return ONR_OK;
}

/* The common start of every builder: a buffer to write into, emptied. */
static bool start(char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return false;
    out[0] = '\0';
    return true;
}

int onr_topic_up(const char *dev, enum onr_role role, const char *svc, char *out, size_t cap)
{
    if (!start(out, cap))
        return out == NULL ? ONR_EINVAL : ONR_ESPACE;
    if (!dev_ok(dev) || !role_ok(role, UP_ROLES) || !svc_ok(svc))
        return ONR_EINVAL;
    return join(out, cap,
                (const char *const[]){PREFIX "d/", dev, "/up/", onr_topic_role(role), "/", svc}, 6);
}

int onr_topic_down(const char *dev, char *out, size_t cap)
{
    if (!start(out, cap))
        return out == NULL ? ONR_EINVAL : ONR_ESPACE;
    if (!dev_ok(dev))
        return ONR_EINVAL;
    return join(out, cap, (const char *const[]){PREFIX "d/", dev, "/down"}, 3);
}

/* onr/1/s/{role}/{svc or +}/{leaf}, with an optional group. */
static int service_topic(const char *group, enum onr_role role, unsigned allowed,
                         const char *svc, bool any_svc, const char *leaf, char *out, size_t cap)
{
    if (!start(out, cap))
        return out == NULL ? ONR_EINVAL : ONR_ESPACE;
    if ((group != NULL && !svc_ok(group)) || !role_ok(role, allowed) ||
        (svc == NULL ? !any_svc : !svc_ok(svc)))
        return ONR_EINVAL;
    return join(out, cap,
                (const char *const[]){group != NULL ? SHARE : "", group != NULL ? group : "",
                                      group != NULL ? "/" : "", PREFIX "s/", onr_topic_role(role),
                                      "/", svc != NULL ? svc : "+", leaf},
                8);
}

int onr_topic_in(enum onr_role role, const char *svc, char *out, size_t cap)
{
    return service_topic(NULL, role, IN_ROLES, svc, false, "/in", out, cap);
}

int onr_topic_ev(enum onr_role role, const char *svc, char *out, size_t cap)
{
    return service_topic(NULL, role, EV_ROLES, svc, false, "/ev", out, cap);
}

/* onr/1/p/{prov}/dev/{dev or +}/{rest or #}, with an optional group. */
static int operational_topic(const char *group, const char *prov, const char *dev,
                             const char *rest, char *out, size_t cap)
{
    size_t rest_len = rest != NULL ? strnlen(rest, ONR_TOPIC_MAX + 1) : 0;
    const char *const parts[] = {
        group != NULL ? SHARE : "", group != NULL ? group : "", group != NULL ? "/" : "",
        PREFIX "p/",                prov,                       "/dev/",
        dev != NULL ? dev : "+",    "/",                        rest != NULL ? rest : "#",
    };
    size_t total = 0;

    if (!start(out, cap))
        return out == NULL ? ONR_EINVAL : ONR_ESPACE;
    if ((group != NULL && !svc_ok(group)) || !svc_ok(prov) || (dev != NULL && !dev_ok(dev)) ||
        (rest != NULL && (rest_len > ONR_TOPIC_MAX || !rest_ok(rest, rest_len))))
        return ONR_EINVAL;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        total += strlen(parts[i]);
    if (total > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    return join(out, cap, parts, sizeof(parts) / sizeof(parts[0]));
}

int onr_topic_operational(const char *prov, const char *dev, const char *rest, char *out,
                          size_t cap)
{
    if (dev == NULL || rest == NULL) {
        if (out != NULL && cap > 0)
            out[0] = '\0';
        return ONR_EINVAL;
    }
    return operational_topic(NULL, prov, dev, rest, out, cap);
}

int onr_topic_operational_down(const char *prov, const char *dev, char *out, size_t cap)
{
    return onr_topic_operational(prov, dev, ONR_TOPIC_OPERATIONAL_DOWN, out, cap);
}

int onr_topic_filter_up(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap)
{
    if (!start(out, cap))
        return out == NULL ? ONR_EINVAL : ONR_ESPACE;
    if ((group != NULL && !svc_ok(group)) || !role_ok(role, UP_ROLES) || !svc_ok(svc))
        return ONR_EINVAL;
    return join(out, cap,
                (const char *const[]){group != NULL ? SHARE : "", group != NULL ? group : "",
                                      group != NULL ? "/" : "", PREFIX "d/+/up/",
                                      onr_topic_role(role), "/", svc},
                7);
}

int onr_topic_filter_in(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap)
{
    return service_topic(group, role, IN_ROLES, svc, false, "/in", out, cap);
}

int onr_topic_filter_ev(const char *group, enum onr_role role, const char *svc, char *out,
                        size_t cap)
{
    return service_topic(group, role, EV_ROLES, svc, true, "/ev", out, cap);
}

int onr_topic_filter_operational(const char *group, const char *prov, const char *rest,
                                 char *out, size_t cap)
{
    return operational_topic(group, prov, NULL, rest, out, cap);
}

/* ---- parsing ------------------------------------------------------------------- */

/* The levels of a topic, read left to right within its length. */
struct cursor {
    const char *at;
    size_t left;
    bool done; /* the last level was read */
};

/* The next level into *l; false when there is none. */
static bool next(struct cursor *c, struct onr_bytes *l)
{
    const char *slash;

    if (c->done)
        return false;
    slash = c->left > 0 ? memchr(c->at, '/', c->left) : NULL;
    l->ptr = (const uint8_t *)c->at;
    if (slash == NULL) {
        l->len = c->left;
        c->done = true;
        return true;
    }
    l->len = (size_t)(slash - c->at);
    c->left -= l->len + 1;
    c->at = slash + 1;
    return true;
}

static bool is(struct onr_bytes l, const char *s)
{
    size_t len = strlen(s);

    return l.len == len && memcmp(l.ptr, s, len) == 0;
}

/* The next level is exactly `s`. */
static bool take(struct cursor *c, const char *s)
{
    struct onr_bytes l;

    return next(c, &l) && is(l, s);
}

static bool take_dev(struct cursor *c, char dev[ONR_DEVID_LEN + 1])
{
    struct onr_bytes l;

    if (!next(c, &l) || onr_devid_check((const char *)l.ptr, l.len) != ONR_OK)
        return false;
    memcpy(dev, l.ptr, ONR_DEVID_LEN);
    dev[ONR_DEVID_LEN] = '\0';
    return true;
}

static bool take_svc(struct cursor *c, char svc[ONR_SERVICE_ID_MAX + 1])
{
    struct onr_bytes l;

    if (!next(c, &l) || !id_ok((const char *)l.ptr, l.len))
        return false;
    memcpy(svc, l.ptr, l.len);
    svc[l.len] = '\0';
    return true;
}

static bool take_role(struct cursor *c, unsigned allowed, enum onr_role *role)
{
    struct onr_bytes l;

    return next(c, &l) && onr_topic_role_parse((const char *)l.ptr, l.len, role) == ONR_OK &&
           role_ok(*role, allowed);
}

/* onr/1/d/{dev}/... */
static bool parse_device(struct cursor *c, struct onr_topic *t)
{
    struct onr_bytes l;

    if (!take_dev(c, t->dev) || !next(c, &l))
        return false;
    if (is(l, "down") && c->done) {
        t->kind = ONR_TOPIC_KIND_DOWN;
        return true;
    }
    if (!is(l, "up") || !take_role(c, UP_ROLES, &t->role) || !take_svc(c, t->svc) || !c->done)
        return false;
    t->kind = ONR_TOPIC_KIND_UP;
    return true;
}

/* onr/1/s/{role}/{svc}/in|ev */
static bool parse_service(struct cursor *c, struct onr_topic *t)
{
    struct onr_bytes l;

    if (!take_role(c, IN_ROLES | EV_ROLES, &t->role) || !take_svc(c, t->svc) || !next(c, &l) ||
        !c->done)
        return false;
    if (is(l, "in") && role_ok(t->role, IN_ROLES))
        t->kind = ONR_TOPIC_KIND_IN;
    else if (is(l, "ev") && role_ok(t->role, EV_ROLES))
        t->kind = ONR_TOPIC_KIND_EV;
    else
        return false;
    return true;
}

/* onr/1/p/{prov}/dev/{dev}/{rest} */
static bool parse_operational(struct cursor *c, struct onr_topic *t)
{
    if (!take_svc(c, t->svc) || !take(c, "dev") || !take_dev(c, t->dev) || c->done ||
        !rest_ok(c->at, c->left))
        return false;
    t->kind = ONR_TOPIC_KIND_OPERATIONAL;
    t->role = ONR_ROLE_PROVIDER;
    t->rest = (struct onr_bytes){(const uint8_t *)c->at, c->left};
    return true;
}

int onr_topic_parse(const char *topic, size_t len, struct onr_topic *out)
{
    struct cursor c = {topic, len, false};
    struct onr_bytes whole = {(const uint8_t *)topic, len};
    struct onr_bytes l;
    bool ok = false;

    if (out == NULL || (topic == NULL && len > 0))
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len > ONR_TOPIC_MAX)
        return ONR_ETOOBIG;
    if (len == 0 || memchr(topic, '\0', len) != NULL)
        return ONR_EFORMAT;
    if (is(whole, ONR_TOPIC_CONTROL)) {
        out->kind = ONR_TOPIC_KIND_CONTROL;
        return ONR_OK;
    }
    if (is(whole, ONR_TOPIC_CONTROL_RESPONSE)) {
        out->kind = ONR_TOPIC_KIND_CONTROL_RESPONSE;
        return ONR_OK;
    }
    if (take(&c, "onr") && take(&c, "1") && next(&c, &l)) {
        if (is(l, "d"))
            ok = parse_device(&c, out);
        else if (is(l, "s"))
            ok = parse_service(&c, out);
        else if (is(l, "p"))
            ok = parse_operational(&c, out);
        else if (is(l, "voucher") && c.done) {
            out->kind = ONR_TOPIC_KIND_VOUCHER;
            ok = true;
        }
    }
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return ONR_EFORMAT;
    }
    return ONR_OK;
}
