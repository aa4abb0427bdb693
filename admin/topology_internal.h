/* Between the topology's parser (topology.c, topology_keywords.c) and its
 * checks (topology_check.c). */
#ifndef ONRAMP_ADMIN_TOPOLOGY_INTERNAL_H
#define ONRAMP_ADMIN_TOPOLOGY_INTERNAL_H

#include <stddef.h>

#include "topology.h"

/* A name used before it may have been declared, resolved at the end. */
enum adm_ref_kind {
    ADM_REF_HOST,
    ADM_REF_BROKER,
    ADM_REF_PROVIDER,
    ADM_REF_OPERATOR,
    ADM_REF_PARTY, /* a service, control tool or monitor: any id */
};

struct adm_ref {
    enum adm_ref_kind kind;
    char name[ADM_ID_MAX + 1];
    size_t line;
    size_t *slot; /* receives the index */
    const char *what; /* for the message: "host=", "contract", ... */
};

#define ADM_MAX_REFS (ADM_MAX_PARTIES * 4 + ADM_MAX_BROKERS + ADM_MAX_CONTRACTS * 2 + \
                      ADM_MAX_ALL_PLANS + 1)

struct adm_parser {
    struct adm_topology *t;
    struct adm_error *err;
    size_t line;
    struct adm_ref refs[ADM_MAX_REFS];
    size_t n_refs;
};

/* One line cut into words: `pos` positional words after the keyword, then
 * KEY=VALUE words (topology.c). */
struct adm_kv {
    const char *key;
    const char *value;
};

struct adm_words {
    char buf[ADM_LINE_MAX + 1];
    const char *keyword;
    const char *pos[ADM_MAX_WORDS];
    size_t n_pos;
    struct adm_kv kv[ADM_MAX_WORDS];
    size_t n_kv;
};

/* adm_words_get: the value of KEY=, or NULL. */
const char *adm_words_get(const struct adm_words *w, const char *key);

/* Each keyword's line, its words counted and its keys known already
 * (topology_keywords.c). ONR_OK or adm_fail's ONR_EFORMAT. */
int adm_parse_host(struct adm_parser *p, const struct adm_words *w);
int adm_parse_broker(struct adm_parser *p, const struct adm_words *w);
int adm_parse_manufacturer(struct adm_parser *p, const struct adm_words *w);
int adm_parse_provider(struct adm_parser *p, const struct adm_words *w);
int adm_parse_operator(struct adm_parser *p, const struct adm_words *w);
int adm_parse_control(struct adm_parser *p, const struct adm_words *w);
int adm_parse_monitor(struct adm_parser *p, const struct adm_words *w);
int adm_parse_contract(struct adm_parser *p, const struct adm_words *w);
int adm_parse_plan(struct adm_parser *p, const struct adm_words *w);
int adm_parse_roaming(struct adm_parser *p, const struct adm_words *w);
int adm_parse_storage(struct adm_parser *p, const struct adm_words *w);
int adm_parse_metrics(struct adm_parser *p, const struct adm_words *w);

/* adm_fail: ONR_EFORMAT with err = (line, printf-style reason). */
int adm_fail(struct adm_parser *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* adm_topology_check: resolve the names and check the whole (called once
 * every line parsed). ONR_OK or adm_fail's ONR_EFORMAT. */
int adm_topology_check(struct adm_parser *p);

#endif /* ONRAMP_ADMIN_TOPOLOGY_INTERNAL_H */
