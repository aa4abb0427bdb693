#include "onramp/telemetry.h"

#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/hex.h"

#define DEV_KEY "{\"dev\":\""
#define STATE_KEY "\",\"state\":\"" ONR_TELEMETRY_STATE "\""
#define PLMN_KEY ",\"plmn\":\""
#define NONCE_KEY "\",\"nonce\":\""
#define END "\"}"

/* A cursor over untrusted bytes: `at` of `len` read so far. */
struct reader {
    const uint8_t *buf;
    size_t len;
    size_t at;
};

/* The next bytes are exactly `s`: consumed. */
static int take(struct reader *r, const char *s)
{
    size_t n = strlen(s);

    if (r->len - r->at < n || memcmp(r->buf + r->at, s, n) != 0)
        return 0;
    r->at += n;
    return 1;
}

/* The bytes up to the next '"' (at most `max`, not consumed past them). */
static size_t until_quote(const struct reader *r, size_t max)
{
    size_t n = 0;

    while (r->at + n < r->len && n <= max && r->buf[r->at + n] != '"')
        n++;
    return n;
}

/* The second form's tail: "plmn":"..","nonce":".."} into `out`. */
static int read_report(struct reader *r, struct onr_telemetry *out)
{
    size_t n;

    if (!take(r, PLMN_KEY))
        return ONR_EFORMAT;
    n = until_quote(r, ONR_PLMN_MAX);
    if (onr_plmn_check((const char *)r->buf + r->at, n) != ONR_OK)
        return ONR_EFORMAT;
    memcpy(out->plmn, r->buf + r->at, n);
    r->at += n;
    /* lowercase only: one spelling */
    if (!take(r, NONCE_KEY) || r->len - r->at < 2 * ONR_NONCE_LEN ||
        onr_hex_decode((const char *)r->buf + r->at, 2 * ONR_NONCE_LEN, out->nonce,
                       sizeof(out->nonce)) != ONR_NONCE_LEN)
        return ONR_EFORMAT;
    r->at += 2 * ONR_NONCE_LEN;
    out->reported = 1;
    return take(r, END) ? ONR_OK : ONR_EFORMAT;
}

int onr_telemetry_decode(const uint8_t *buf, size_t len, struct onr_telemetry *out)
{
    struct reader r = {buf, len, 0};
    int rc = ONR_EFORMAT;

    if (out == NULL || (buf == NULL && len > 0))
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len > ONR_TELEMETRY_MAX)
        return ONR_ETOOBIG;
    if (take(&r, DEV_KEY) && r.len - r.at >= ONR_DEVID_LEN &&
        onr_devid_check((const char *)buf + r.at, ONR_DEVID_LEN) == ONR_OK) {
        memcpy(out->dev, buf + r.at, ONR_DEVID_LEN);
        r.at += ONR_DEVID_LEN;
        if (take(&r, STATE_KEY))
            rc = take(&r, "}") ? ONR_OK : read_report(&r, out);
    }
    if (rc == ONR_OK && r.at != len)
        rc = ONR_EFORMAT;
    if (rc != ONR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

int onr_telemetry_encode(const struct onr_telemetry *t, char *out, size_t cap, size_t *len)
{
    char hex[2 * ONR_NONCE_LEN + 1];
    int n;

    if (t == NULL || out == NULL ||
        onr_devid_check(t->dev, strnlen(t->dev, sizeof(t->dev))) != ONR_OK ||
        (t->reported && onr_plmn_check(t->plmn, strnlen(t->plmn, sizeof(t->plmn))) != ONR_OK))
        return ONR_EINVAL;
    if (!t->reported) {
        n = snprintf(out, cap, DEV_KEY "%s" STATE_KEY "}", t->dev);
    } else {
        onr_hex_encode(t->nonce, sizeof(t->nonce), hex);
        n = snprintf(out, cap, DEV_KEY "%s" STATE_KEY PLMN_KEY "%s" NONCE_KEY "%s" END, t->dev,
                     t->plmn, hex);
    }
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return ONR_ESPACE;
    }
    if (len != NULL)
        *len = (size_t)n;
    return ONR_OK;
}
