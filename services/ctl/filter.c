/*
 * What the operator asked to see: --device, --role, --service, --type
 * (see monitor.h).
 */
#include <string.h>

#include "monitor.h"
#include "onramp/error.h"

/* The names a sighting's type may have besides the message types. */
static const char *const other_types[] = {"telemetry", "application", "undecodable"};

static bool type_known(const char *name)
{
    for (size_t i = 0; i < sizeof(other_types) / sizeof(other_types[0]); i++)
        if (strcmp(name, other_types[i]) == 0)
            return true;
    /* every type that travels as an envelope; the type numbers are small */
    for (int t = 1; t < 128; t++) {
        const char *known = onr_msg_type_name(t);

        if (known != NULL && onr_msg_type_rules(t, NULL, NULL) == ONR_OK &&
            strcmp(name, known) == 0)
            return true;
    }
    return false;
}

int ctl_filter_role(struct ctl_filter *f, const char *name)
{
    enum onr_role role;

    if (f == NULL || ctl_role_parse(name, false, &role) != ONR_OK)
        return ONR_EINVAL;
    if (f->n_roles >= CTL_FILTER_MAX)
        return ONR_ESPACE;
    f->roles[f->n_roles++] = role;
    return ONR_OK;
}

int ctl_filter_service(struct ctl_filter *f, const char *id)
{
    if (f == NULL || id == NULL || id[0] == '\0')
        return ONR_EINVAL;
    if (f->n_services >= CTL_FILTER_MAX)
        return ONR_ESPACE;
    f->services[f->n_services++] = id;
    return ONR_OK;
}

int ctl_filter_type(struct ctl_filter *f, const char *name)
{
    if (f == NULL || name == NULL || !type_known(name))
        return ONR_EINVAL;
    if (f->n_types >= CTL_FILTER_MAX)
        return ONR_ESPACE;
    f->types[f->n_types++] = name;
    return ONR_OK;
}

static bool sender_is(const struct ctl_sighting *s, const char *id)
{
    size_t len = strlen(id);

    return s->decoded && s->env.sender.len == len && memcmp(s->env.sender.ptr, id, len) == 0;
}

bool ctl_filter_match(const struct ctl_filter *f, const struct ctl_sighting *s)
{
    bool ok;

    if (f == NULL)
        return true;
    if (f->dev != NULL && strcmp(f->dev, s->dev) != 0)
        return false;
    ok = f->n_roles == 0;
    for (size_t i = 0; !ok && i < f->n_roles; i++)
        ok = s->decoded && s->env.sender_role == f->roles[i];
    if (!ok)
        return false;
    ok = f->n_services == 0;
    for (size_t i = 0; !ok && i < f->n_services; i++)
        ok = sender_is(s, f->services[i]);
    if (!ok)
        return false;
    ok = f->n_types == 0;
    for (size_t i = 0; !ok && i < f->n_types; i++)
        ok = strcmp(s->type, f->types[i]) == 0;
    return ok;
}
