/*
 * onrampctl exporter's memory of the brokers' counters (exporter_brokers.c):
 * what each broker last published on onr/1/s/broker/{name}/ev (SPEC type
 * 23, broker_stats), and those counters as Prometheus metrics, every one
 * labelled broker="{name}". No network and no clock here (unit-tested by
 * tests/unit/test_ctl_exporter.c, fuzzed by tests/fuzz/fuzz_exporter.c);
 * the command is exporter.c.
 */
#ifndef ONRAMP_CTL_EXPORTER_H
#define ONRAMP_CTL_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "onramp/metrics.h"
#include "onramp/msg.h"

#define CTL_EXPORTER_BROKERS_MAX 32 /* brokers remembered (a fabric has at most 8) */
#define CTL_EXPORTER_EPOCH_MAX 16

/* What one broker said last. */
struct ctl_broker_counters {
    char name[ONR_SERVICE_ID_MAX + 1];
    struct onr_msg_broker_stats stats; /* its epoch points to `epoch` */
    uint8_t epoch[CTL_EXPORTER_EPOCH_MAX];
    uint64_t heard; /* when they arrived, seconds (the exporter's clock) */
};

struct ctl_exporter {
    struct ctl_broker_counters brokers[CTL_EXPORTER_BROKERS_MAX];
    size_t n_brokers;
    uint64_t received; /* broker counters taken */
    uint64_t refused;  /* messages on those topics that were not a broker's counters */
};

/*
 * ctl_exporter_record: a message as it arrived on `topic` (NUL-terminated)
 * with `len` bytes of `payload` (both untrusted, borrowed for the call) at
 * `now`. Taken (ONR_OK) only if the topic is onr/1/s/broker/{name}/ev, the
 * payload a broker_stats envelope (decoded within bounds) and its sender
 * the broker of that name: the broker lets only itself publish there, and
 * the type carries no signature. Anything else is counted in `refused` and
 * its reason returned: the topic's or the envelope's error, ONR_ESCHEMA
 * (another type, another sender), ONR_ECOUNT (CTL_EXPORTER_BROKERS_MAX
 * brokers known already).
 */
int ctl_exporter_record(struct ctl_exporter *x, const char *topic, const uint8_t *payload,
                        size_t len, uint64_t now);

/*
 * ctl_exporter_collect: every broker's counters into `m`, one family per
 * broker_stats field (README, "Metrics"), each sample labelled
 * broker="{name}", plus onramp_broker_last_heard_timestamp_seconds,
 * onramp_broker_epoch_info and the exporter's own counts (received,
 * refused). Families are written even before any broker is heard.
 * Returns onr_metrics_status(m).
 */
int ctl_exporter_collect(const struct ctl_exporter *x, struct onr_metrics *m);

/*
 * ctl_exporter_metric: the metric a broker_stats field `key` becomes, its
 * type and help (static strings), or ONR_ENOENT for a field that is not a
 * number (the epoch: an info metric). For the unit tests' check that every
 * field has one.
 */
int ctl_exporter_metric(const char *key, const char **name, enum onr_metric_type *type,
                        const char **help);

#endif /* ONRAMP_CTL_EXPORTER_H */
