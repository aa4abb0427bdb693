/* OUT/setup/HOST.sh: what to run on a host once its files are there (they
 * arrive owned by root): hand each service's files to its user, and
 * enable and (re)start what runs there. */
#include "admin.h"

#include <stdio.h>

#include "onramp/error.h"

/* where the services are installed (CMake sets it) */
#ifndef ONR_BINDIR
#define ONR_BINDIR "/usr/bin"
#endif

/* The units of instances above `from` that an earlier topology had (their
 * drop-in on the host says so): stopped, disabled and their drop-ins
 * removed, so that no process of a service outlives its line. */
static void retire_instances(const char *role, const char *id, unsigned from,
                             struct adm_text *out)
{
    if (from >= ADM_MAX_INSTANCES)
        return;
    adm_text_add(out, "# instances the topology no longer has, if an earlier one did\nfor k in");
    for (unsigned k = from + 1; k <= ADM_MAX_INSTANCES; k++)
        adm_text_add(out, " %u", k);
    adm_text_add(out,
                 "; do\n"
                 "  d=/etc/systemd/system/onramp-%s@%s:$k.service.d\n"
                 "  if [ -d \"$d\" ]; then\n"
                 "    systemctl disable --now \"onramp-%s@%s:$k.service\"\n"
                 "    rm -r \"$d\"\n"
                 "  fi\n"
                 "done\n",
                 role, id, role, id);
}

static void host_script(const struct adm_topology *t, size_t h, struct adm_text *out)
{
    const char *name = t->hosts[h].name;
    int services = 0;

    adm_text_add(out,
                 "#!/bin/sh\n"
                 "# Host %s of the Onramp fabric, written by onramp-admin. Copy its files\n"
                 "# first, then run this there as root; from the admin's machine:\n"
                 "#   rsync -a OUT/hosts/%s/ root@%s:/\n"
                 "#   ssh root@%s sh -s < OUT/setup/%s.sh\n"
                 "# Needs the packages of what runs there (onramp-broker-plugin,\n"
                 "# onramp-services, onramp-tools). Running it again is harmless.\n"
                 "set -eu\n"
                 "systemctl daemon-reload\n",
                 name, name, name, name, name);
    for (size_t b = 0; b < t->n_brokers; b++)
        if (t->brokers[b].host == h)
            adm_text_add(out,
                         "# broker %s\n"
                         "chown -R mosquitto:mosquitto /etc/mosquitto/onramp\n"
                         "systemctl enable mosquitto.service\n"
                         "systemctl restart mosquitto.service\n",
                         t->brokers[b].name);
    for (size_t i = 0; i < t->n_parties; i++)
        services += t->parties[i].host == h && t->parties[i].role <= ADM_OPERATOR;
    if (services > 0)
        adm_text_add(out, "chown -R onramp:onramp /var/lib/onramp\n");
    for (size_t i = 0; i < t->n_parties; i++) {
        const struct adm_party *p = &t->parties[i];
        const char *role = adm_role_name(p->role);

        if (p->host != h)
            continue;
        if (p->role == ADM_MONITOR && adm_metrics_of(t, i) != NULL) {
            adm_text_add(out,
                         "# monitor %s: onrampctl exporter, the brokers' counters for "
                         "Prometheus\n"
                         "chown -R onramp:onramp /etc/onramp/%s\n"
                         "systemctl enable onramp-exporter@%s.service\n"
                         "systemctl restart onramp-exporter@%s.service\n",
                         p->id, p->id, p->id, p->id);
            continue;
        }
        if (p->role > ADM_OPERATOR) {
            adm_text_add(out, "# %s %s: onrampctl with /etc/onramp/%s/%s.pem and %s.key\n",
                         role, p->id, p->id, role, role);
            continue;
        }
        adm_text_add(out, "# %s %s\nchown -R onramp:onramp /etc/onramp/%s\n", role, p->id,
                     p->id);
        retire_instances(role, p->id, p->instances == 1 ? 0 : p->instances, out);
        if (p->instances == 1) {
            adm_text_add(out,
                         "systemctl enable onramp-%s@%s.service\n"
                         "systemctl restart onramp-%s@%s.service\n",
                         role, p->id, role, p->id);
            continue;
        }
        /* its single-process unit, if it ran so before */
        adm_text_add(out, "systemctl disable --now onramp-%s@%s.service\n", role, p->id);
        for (unsigned k = 1; k <= p->instances; k++)
            adm_text_add(out,
                         "systemctl enable onramp-%s@%s:%u.service\n"
                         "systemctl restart onramp-%s@%s:%u.service\n",
                         role, p->id, k, role, p->id, k);
    }
    if (t->storage.postgres && t->storage.host == h)
        for (size_t i = 0; i < t->n_parties; i++)
            if (t->parties[i].role <= ADM_OPERATOR)
                adm_text_add(out,
                             "runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p %u "
                             "< /etc/onramp/%s/postgres.sql\n",
                             (unsigned)t->storage.port, t->parties[i].id);
}

int adm_instance_units(struct adm_ctx *c, size_t i)
{
    const struct adm_party *p = &c->t->parties[i];
    const char *role = adm_role_name(p->role);
    char path[ADM_PATH];
    int rc = ONR_OK;

    for (unsigned k = 1; k <= p->instances && p->instances > 1 && rc == ONR_OK; k++) {
        const struct adm_metrics *m = adm_metrics_of(c->t, i);
        struct adm_text text = {0};
        char listen[80];

        /* the template's --config /etc/onramp/%i/... cannot name ID:K */
        adm_text_add(&text,
                     "# Instance %u of the %u of onramp-%s %s, written by onramp-admin:\n"
                     "# the service's one configuration, with its own `instance` (README,\n"
                     "# \"PostgreSQL and several instances of a service\").\n"
                     "[Service]\n"
                     "ExecStart=\n"
                     "ExecStart=%s/onramp-%s --config /etc/onramp/%s/%s.conf -o instance=%u",
                     k, p->instances, role, p->id, ONR_BINDIR, role, p->id, role, k);
        /* what it listens on: the configuration's port plus K - 1 */
        if (m != NULL)
            adm_text_add(&text, " -o metrics_listen=%s",
                         adm_metrics_listen(m, k, listen, sizeof(listen)));
        if (p->pairing_port != 0)
            adm_text_add(&text, " -o http_listen=127.0.0.1:%u", (unsigned)p->pairing_port + k - 1);
        adm_text_add(&text, "\n");
        rc = adm_host_path(c, p->host, path,
                           "/etc/systemd/system/onramp-%s@%s:%u.service.d/onramp.conf", role,
                           p->id, k);
        if (rc == ONR_OK)
            rc = adm_put_text(c, path, &text, ONR_FILE_PUBLIC);
        adm_text_free(&text);
    }
    return rc;
}

int adm_setup_scripts(struct adm_ctx *c)
{
    char path[ADM_PATH];
    int rc = adm_path(c, path, "setup");

    if (rc == ONR_OK)
        rc = adm_dir(c, path, 0700);
    for (size_t h = 0; h < c->t->n_hosts && rc == ONR_OK; h++) {
        struct adm_text text = {0};

        host_script(c->t, h, &text);
        rc = adm_path(c, path, "setup/%s.sh", c->t->hosts[h].name);
        if (rc == ONR_OK)
            rc = adm_put_text(c, path, &text, 0755);
        adm_text_free(&text);
    }
    return rc;
}
