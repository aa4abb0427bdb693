/*
 * Connections: the principal behind each client handle, recorded when the
 * client is admitted, and the services' and monitors' persistent sessions
 * restored from the sessions file at start (no handle until they return).
 * Mosquitto reports a disconnect before it sends the client's will, so a
 * will finds no record (a device's, bootstrap or operational, is
 * forgotten) or an offline one (a service's is kept for its persistent
 * session), and is refused (acl.c).
 */
#include "plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "onramp/topic.h"

static struct conn *lookup(const struct plugin *p, const struct mosquitto *client)
{
    return map_get(p->conns, &client, sizeof(client));
}

struct conn *conns_get(const struct plugin *p, const struct mosquitto *client)
{
    return client == NULL ? NULL : lookup(p, client);
}

bool conns_is_device(enum principal kind)
{
    return kind == PRINCIPAL_DEVICE || kind == PRINCIPAL_OPERATIONAL;
}

/* The patterns a principal's checks compare with, built once. */
static void build_patterns(struct conn *c)
{
    if (c->kind == PRINCIPAL_DEVICE) {
        (void)onr_topic_down(c->id, c->down, sizeof(c->down)); /* "" for no id: never matches */
        snprintf(c->up_prefix, sizeof(c->up_prefix), "onr/1/d/%s/up/", c->id);
    } else if (c->kind == PRINCIPAL_OPERATIONAL) {
        snprintf(c->own_prefix, sizeof(c->own_prefix), "onr/1/p/%s/dev/%s/", c->prov, c->id);
        snprintf(c->own_filter, sizeof(c->own_filter), "onr/1/p/%s/dev/%s/#", c->prov, c->id);
    } else if (c->kind == PRINCIPAL_SERVICE) {
        snprintf(c->service_up, sizeof(c->service_up), "onr/1/d/+/up/%s/%s", c->role, c->id);
        snprintf(c->service_in, sizeof(c->service_in), "onr/1/s/%s/%s/in", c->role, c->id);
        snprintf(c->service_ev, sizeof(c->service_ev), "onr/1/s/%s/%s/ev", c->role, c->id);
        if (strcmp(c->role, "prov") == 0)
            snprintf(c->service_devs, sizeof(c->service_devs), "onr/1/p/%s/dev/#", c->id);
    }
}

/* Operators grant; providers revoke certificates. A provider whose CA is
 * not here may ask too: control.c answers it EDENIED, which ends its
 * request (a publish the ACL refused would be answered by nobody and
 * resent for ever). */
static bool may_control(const struct conn *c)
{
    if (c->kind != PRINCIPAL_SERVICE)
        return false;
    return strcmp(c->role, "op") == 0 || strcmp(c->role, "prov") == 0;
}

/* Forget a record entirely: from both tables, and free it. */
static void forget(struct plugin *p, struct conn *c)
{
    if (c == NULL)
        return;
    if (c->handle != NULL)
        map_remove(p->conns, &c->handle, sizeof(c->handle));
    if (c->client_id[0] != '\0' &&
        map_get(p->services, c->client_id, strlen(c->client_id)) == c)
        map_remove(p->services, c->client_id, strlen(c->client_id));
    free(c);
}

/* A new record for `who` (copied) under `client_id` (kept for services and
 * monitors), not yet in any table; NULL if something does not fit. */
static struct conn *conn_new(const struct plugin *p, const char *client_id,
                             const struct identity *who)
{
    bool persistent = !conns_is_device(who->kind);
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL || strlen(who->id) >= sizeof(c->id) || client_id == NULL ||
        who->serial_len > sizeof(c->serial) ||
        (persistent && strlen(client_id) >= sizeof(c->client_id))) {
        free(c);
        return NULL;
    }
    c->kind = who->kind;
    strcpy(c->id, who->id);
    strcpy(c->role, who->role);
    strcpy(c->prov, who->prov);
    memcpy(c->serial, who->serial, who->serial_len);
    c->serial_len = who->serial_len;
    if (persistent)
        strcpy(c->client_id, client_id);
    c->rate.tokens = p->cfg.device_burst;
    build_patterns(c);
    c->may_control = may_control(c);
    return c;
}

struct conn *conns_add(struct plugin *p, const struct mosquitto *client,
                       const struct identity *who)
{
    bool persistent = !conns_is_device(who->kind);
    struct conn *c = conn_new(p, mosquitto_client_id(client), who);

    if (c == NULL)
        return NULL;
    c->handle = client;
    c->online = true;
    /* Stale records: one for a reused handle, one for this service id
     * (an offline one, or one restored at start). */
    forget(p, map_get(p->conns, &client, sizeof(client)));
    if (persistent)
        forget(p, map_get(p->services, c->client_id, strlen(c->client_id)));
    if (map_put(p->conns, &client, sizeof(client), c, NULL) != 0) {
        free(c);
        return NULL;
    }
    if (persistent &&
        map_put(p->services, c->client_id, strlen(c->client_id), c, NULL) != 0) {
        forget(p, c);
        return NULL;
    }
    return c;
}

struct conn *conns_restore(struct plugin *p, const char *client_id, const struct identity *who)
{
    struct conn *c = conns_is_device(who->kind) ? NULL : conn_new(p, client_id, who);

    if (c == NULL)
        return NULL;
    forget(p, map_get(p->services, c->client_id, strlen(c->client_id)));
    if (map_put(p->services, c->client_id, strlen(c->client_id), c, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c; /* offline, no handle: in p->services only */
}

struct conn *conns_restored(const struct plugin *p, const struct mosquitto *client)
{
    const char *client_id = client == NULL ? NULL : mosquitto_client_id(client);
    struct conn *c;

    if (client_id == NULL)
        return NULL;
    c = map_get(p->services, client_id, strnlen(client_id, MAP_KEY_MAX + 1));
    return c != NULL && c->handle == NULL ? c : NULL;
}

int conns_on_disconnect(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_disconnect *ed = event_data;
    struct plugin *p = userdata;
    struct conn *c = conns_get(p, ed->client);

    (void)event;
    if (c == NULL)
        return MOSQ_ERR_SUCCESS;
    if (c->denials_logged > ONR_LOG_BUDGET)
        plugin_log(MOSQ_LOG_NOTICE, "onramp: client %s gone; %u refusals not logged", c->id,
                   c->denials_logged - ONR_LOG_BUDGET);
    c->denials_logged = 0;
    if (conns_is_device(c->kind))
        forget(p, c);
    else
        c->online = false;
    return MOSQ_ERR_SUCCESS;
}

struct count_ctx {
    uint64_t devices;
    uint64_t services;
};

static void count_one(const void *key, size_t key_len, void *value, void *arg)
{
    const struct conn *c = value;
    struct count_ctx *ctx = arg;

    (void)key;
    (void)key_len;
    if (!c->online)
        return;
    if (conns_is_device(c->kind))
        ctx->devices++;
    else
        ctx->services++;
}

void conns_count(const struct plugin *p, uint64_t *devices, uint64_t *services)
{
    struct count_ctx ctx = {0, 0};

    map_each(p->conns, count_one, &ctx);
    *devices = ctx.devices;
    *services = ctx.services;
}

/* Restored records (no handle) live in p->services only; every other
 * record is in p->conns. */
static void free_restored(const void *key, size_t key_len, void *value, void *arg)
{
    struct conn *c = value;

    (void)key;
    (void)key_len;
    (void)arg;
    if (c->handle == NULL)
        free(c);
}

void conns_free_all(struct plugin *p)
{
    if (p->services != NULL)
        map_each(p->services, free_restored, NULL);
    map_free_with_values(p->conns);
    map_free(p->services);
    p->conns = NULL;
    p->services = NULL;
}
