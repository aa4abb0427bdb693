#include "onramp/policy.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/text.h"

static const char *const choice_names[] = {
    [ONR_CHOICE_USER] = "user",
    [ONR_CHOICE_POLICY] = "policy",
    [ONR_CHOICE_FALLBACK] = "fallback",
};

const char *onr_choice_name(enum onr_choice choice)
{
    if ((int)choice < ONR_CHOICE_USER || choice > ONR_CHOICE_FALLBACK)
        return NULL;
    return choice_names[choice];
}

int onr_choice_parse(const char *name, size_t len, enum onr_choice *out)
{
    for (int c = ONR_CHOICE_USER; c <= ONR_CHOICE_FALLBACK; c++) {
        if (name != NULL && len == strlen(choice_names[c]) &&
            memcmp(name, choice_names[c], len) == 0) {
            *out = (enum onr_choice)c;
            return ONR_OK;
        }
    }
    return ONR_EINVAL;
}

static int all_digits(const char *s, size_t len)
{
    return s != NULL && onr_text_check(ONR_TEXT_DIGITS, (struct onr_bytes){(const uint8_t *)s,
                                                                           len}) == ONR_OK;
}

int onr_plmn_check(const char *plmn, size_t len)
{
    return (len == 5 || len == 6) && all_digits(plmn, len) ? ONR_OK : ONR_EINVAL;
}

/* An entry's country: three digits, or "*". */
static int mcc_ok(const char *mcc, size_t len)
{
    return (len == 1 && mcc[0] == '*') || (len == ONR_MCC_LEN && all_digits(mcc, len));
}

const struct onr_policy_entry *onr_policy_find(const struct onr_policy *p, const char *mcc)
{
    for (size_t i = 0; p != NULL && mcc != NULL && i < p->n; i++)
        if (strcmp(p->entries[i].mcc, mcc) == 0)
            return &p->entries[i];
    return NULL;
}

/* The length of the text form: "mcc:op,op;" per entry, less the last ';'. */
static size_t text_length(const struct onr_policy *p)
{
    size_t len = 0;

    for (size_t i = 0; i < p->n; i++) {
        len += strlen(p->entries[i].mcc) + 1 + (i > 0);
        for (size_t j = 0; j < p->entries[i].n_ops; j++)
            len += strlen(p->entries[i].ops[j]) + (j > 0);
    }
    return len;
}

/* onr_policy_add for bytes that need not be NUL-terminated. */
static int add(struct onr_policy *p, const char *mcc, size_t mcc_len, const char *op,
               size_t op_len)
{
    struct onr_policy_entry *e = NULL;
    size_t before = text_length(p);
    size_t grows;

    if (!mcc_ok(mcc, mcc_len) || onr_service_id_check(op, op_len) != ONR_OK)
        return ONR_EINVAL;
    for (size_t i = 0; i < p->n && e == NULL; i++)
        if (strlen(p->entries[i].mcc) == mcc_len && memcmp(p->entries[i].mcc, mcc, mcc_len) == 0)
            e = &p->entries[i];
    if (e != NULL) {
        for (size_t j = 0; j < e->n_ops; j++)
            if (strlen(e->ops[j]) == op_len && memcmp(e->ops[j], op, op_len) == 0)
                return ONR_EEXIST;
        if (e->n_ops == ONR_POLICY_MAX_OPS)
            return ONR_ECOUNT;
        grows = 1 + op_len;
    } else {
        if (p->n == ONR_POLICY_MAX_ENTRIES)
            return ONR_ECOUNT;
        grows = (p->n > 0) + mcc_len + 1 + op_len;
    }
    if (before + grows > ONR_POLICY_TEXT_MAX)
        return ONR_ETOOBIG;
    if (e == NULL) {
        e = &p->entries[p->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->mcc, mcc, mcc_len);
    }
    memcpy(e->ops[e->n_ops], op, op_len);
    e->ops[e->n_ops][op_len] = '\0';
    e->n_ops++;
    return ONR_OK;
}

int onr_policy_add(struct onr_policy *p, const char *mcc, const char *op)
{
    if (p == NULL || mcc == NULL || op == NULL)
        return ONR_EINVAL;
    return add(p, mcc, strnlen(mcc, ONR_MCC_LEN + 1), op, strnlen(op, ONR_SERVICE_ID_MAX + 1));
}

/* One "mcc:op,op" entry of `len` bytes at `s` into `p`. */
static int parse_entry(struct onr_policy *p, const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    const char *op;
    const char *end = s + len;
    size_t n_before = p->n;
    int rc;

    if (colon == NULL || colon == s || colon + 1 == end)
        return ONR_EFORMAT;
    /* a country twice would be two entries, or an entry extended */
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->entries[i].mcc) == (size_t)(colon - s) &&
            memcmp(p->entries[i].mcc, s, (size_t)(colon - s)) == 0)
            return ONR_EFORMAT;
    for (op = colon + 1;;) {
        const char *comma = memchr(op, ',', (size_t)(end - op));
        const char *stop = comma != NULL ? comma : end;

        rc = add(p, s, (size_t)(colon - s), op, (size_t)(stop - op));
        if (rc == ONR_EINVAL)
            rc = ONR_EFORMAT;
        if (rc != ONR_OK)
            return rc;
        if (comma == NULL)
            break;
        op = comma + 1;
    }
    return p->n == n_before + 1 ? ONR_OK : ONR_EFORMAT;
}

int onr_policy_parse(const char *text, size_t len, struct onr_policy *out)
{
    const char *entry;
    const char *end;
    int rc;

    if (text == NULL || out == NULL)
        return ONR_EINVAL;
    if (len > ONR_POLICY_TEXT_MAX)
        return ONR_ETOOBIG;
    if (len == 0)
        return ONR_EFORMAT;
    memset(out, 0, sizeof(*out));
    end = text + len;
    for (entry = text;;) {
        const char *semi = memchr(entry, ';', (size_t)(end - entry));
        const char *stop = semi != NULL ? semi : end;

        rc = parse_entry(out, entry, (size_t)(stop - entry));
        if (rc != ONR_OK)
            return rc;
        if (semi == NULL)
            return ONR_OK;
        entry = semi + 1;
    }
}

int onr_policy_format(const struct onr_policy *p, char *out, size_t cap, size_t *len)
{
    size_t at = 0;

    if (p == NULL || out == NULL || p->n == 0)
        return ONR_EINVAL;
    for (size_t i = 0; i < p->n; i++) {
        int n = snprintf(out + at, cap - at, "%s%s:", i > 0 ? ";" : "", p->entries[i].mcc);

        if (n < 0 || (size_t)n >= cap - at)
            return ONR_ESPACE;
        at += (size_t)n;
        for (size_t j = 0; j < p->entries[i].n_ops; j++) {
            n = snprintf(out + at, cap - at, "%s%s", j > 0 ? "," : "", p->entries[i].ops[j]);
            if (n < 0 || (size_t)n >= cap - at)
                return ONR_ESPACE;
            at += (size_t)n;
        }
    }
    if (len != NULL)
        *len = at;
    return ONR_OK;
}

/* The user's operator if `e` allows it, else `e`'s first. */
static void choose(const struct onr_policy_entry *e, const char *user_op, enum onr_choice rule,
                   const char **op, enum onr_choice *why)
{
    for (size_t j = 0; user_op != NULL && j < e->n_ops; j++) {
        if (strcmp(e->ops[j], user_op) == 0) {
            *op = e->ops[j];
            *why = ONR_CHOICE_USER;
            return;
        }
    }
    *op = e->ops[0];
    *why = rule;
}

int onr_policy_resolve(const struct onr_policy *p, const char *mcc, const char *user_op,
                       const char **op, enum onr_choice *why)
{
    const struct onr_policy_entry *e = mcc != NULL ? onr_policy_find(p, mcc) : NULL;

    if (e != NULL) {
        choose(e, user_op, ONR_CHOICE_POLICY, op, why);
        return ONR_OK;
    }
    e = onr_policy_find(p, ONR_POLICY_ANY);
    if (e == NULL)
        return ONR_ENOOPERATOR;
    choose(e, user_op, ONR_CHOICE_FALLBACK, op, why);
    return ONR_OK;
}
