/*
 * A sighting as one line of text or JSON (see monitor.h). Everything from
 * the network is escaped; binary fields are printed as their length except
 * a few identifiers; a pairing label loses its claim secret.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "monitor.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"

/* Binary fields that identify rather than protect: printed as hex. */
static const char *const hex_fields[] = {"re", "nonce", "kid", "rand", "serial", "epoch"};

/* The keys of a line before the body's. */
static const char *const line_keys[] = {"time", "topic", "type", "sender", "dev", "step",
                                        "verdict", "id"};

enum ctl_show ctl_field_show(const struct onr_msg_field *f)
{
    if (f->kind == ONR_VALUE_UINT)
        return CTL_SHOW_VALUE;
    if (f->kind == ONR_VALUE_TEXT)
        return strcmp(f->key, "label") == 0 ? CTL_SHOW_LABEL : CTL_SHOW_VALUE;
    for (size_t i = 0; i < sizeof(hex_fields) / sizeof(hex_fields[0]); i++)
        if (strcmp(f->key, hex_fields[i]) == 0)
            return CTL_SHOW_HEX;
    return CTL_SHOW_LENGTH;
}

void ctl_label_masked(struct onr_bytes label, char *out, size_t cap)
{
    char mfr[ONR_SERVICE_ID_MAX + 1];
    char dev[ONR_DEVID_LEN + 1];

    if (cap == 0)
        return;
    struct onr_kit_label kit;

    if (ctl_label_parts(label, mfr, dev) == 0)
        snprintf(out, cap, "ONR1:%s:%s:<claim>", mfr, dev);
    else if (onr_kit_label_decode((const char *)label.ptr, label.len, &kit) == ONR_OK)
        snprintf(out, cap, "ONK1:%s:%s:<claim>", kit.mfr, kit.kit);
    else
        snprintf(out, cap, "<label %zu>", label.len);
    onr_wipe(&kit, sizeof(kit)); /* the claim secret */
}

/* One UTF-8 sequence at `s` (`len` bytes left): its code point and
 * length, or false if it is not valid (overlong, surrogate, too large,
 * truncated). */
static bool utf8_next(const uint8_t *s, size_t len, uint32_t *cp, size_t *n)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t c = s[0];

    if (c >= 0xc0 && c <= 0xdf) {
        *n = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        *n = 3;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf7) {
        *n = 4;
        c &= 0x07;
    } else {
        return false;
    }
    if (*n > len)
        return false;
    for (size_t i = 1; i < *n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return false;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min[*n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return false;
    *cp = c;
    return true;
}

void ctl_json_string(FILE *out, const uint8_t *s, size_t len)
{
    uint32_t cp;
    size_t n;

    fputc('"', out);
    for (size_t i = 0; s != NULL && i < len; i += n) {
        uint8_t c = s[i];

        n = 1;
        switch (c) {
        case '"': fputs("\\\"", out); continue;
        case '\\': fputs("\\\\", out); continue;
        case '\n': fputs("\\n", out); continue;
        case '\r': fputs("\\r", out); continue;
        case '\t': fputs("\\t", out); continue;
        default: break;
        }
        if (c >= 0x20 && c < 0x7f) {
            fputc(c, out);
        } else if (c < 0x80) {
            fprintf(out, "\\u%04x", (unsigned)c); /* C0 and DEL */
        } else if (!utf8_next(s + i, len - i, &cp, &n)) {
            n = 1;
            fputs("\\ufffd", out);
        } else if (cp < 0x10000) {
            fprintf(out, "\\u%04x", (unsigned)cp);
        } else {
            cp -= 0x10000;
            fprintf(out, "\\u%04x\\u%04x", (unsigned)(0xd800 + (cp >> 10)),
                    (unsigned)(0xdc00 + (cp & 0x3ff)));
        }
    }
    fputc('"', out);
}

void ctl_text_value(FILE *out, const uint8_t *s, size_t len)
{
    enum { CHUNK = 256 };
    char safe[ONR_TEXT_ESCAPE_CAP(CHUNK)];

    /* onr_text_escape byte by byte, a chunk at a time: each fits whole */
    for (size_t i = 0; s != NULL && i < len; i += CHUNK) {
        size_t n = len - i < CHUNK ? len - i : CHUNK;

        fputs(onr_text_escape(s + i, n, safe, sizeof(safe)), out);
    }
}

void ctl_format_time(int64_t sec, unsigned msec, char out[32])
{
    time_t t = (time_t)sec;
    struct tm tm;
    char day[24];

    if (gmtime_r(&t, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, 32, "-");
        return;
    }
    snprintf(out, 32, "%s.%03uZ", day, msec % 1000);
}

static void hex(FILE *out, struct onr_bytes b)
{
    for (size_t i = 0; i < b.len; i++)
        fprintf(out, "%02x", (unsigned)b.ptr[i]);
}

/* A telemetry's fields (SPEC section 14), checked by its decoder: a
 * device id, a state word, digits and hex. */
static void telemetry_text(FILE *out, const struct onr_telemetry *t)
{
    fprintf(out, " body.dev=%s state=" ONR_TELEMETRY_STATE, t->dev);
    if (t->reported) {
        fprintf(out, " plmn=%s nonce=", t->plmn);
        hex(out, (struct onr_bytes){t->nonce, sizeof(t->nonce)});
    }
}

static void telemetry_json(FILE *out, const struct onr_telemetry *t)
{
    fprintf(out, "{\"dev\":\"%s\",\"state\":\"" ONR_TELEMETRY_STATE "\"", t->dev);
    if (t->reported) {
        fprintf(out, ",\"plmn\":\"%s\",\"nonce\":\"", t->plmn);
        hex(out, (struct onr_bytes){t->nonce, sizeof(t->nonce)});
        fputc('"', out);
    }
    fputs("}}\n", out);
}

/* The choice a voucher token names (not secret): ids and digits, checked
 * by the decoder. */
static const char *const token_fields[] = {"op", "plmn", "why"};

/* ` voucher.KEY=VALUE` in text, `,"voucher.KEY":"VALUE"` in JSON, for
 * each of token_fields the token has. */
static void token_choice(FILE *out, const struct onr_envelope *token, bool json)
{
    struct onr_msg_field f;

    for (size_t k = 0; k < sizeof(token_fields) / sizeof(token_fields[0]); k++)
        for (size_t i = 0; onr_msg_field_at(&token->msg, i, &f) == 0; i++) {
            if (!f.present || strcmp(f.key, token_fields[k]) != 0)
                continue;
            fprintf(out, json ? ",\"voucher.%s\":" : " voucher.%s=", f.key);
            if (json)
                ctl_json_string(out, f.bytes.ptr, f.bytes.len);
            else
                ctl_text_value(out, f.bytes.ptr, f.bytes.len);
        }
}

static bool line_key(const char *key)
{
    for (size_t i = 0; i < sizeof(line_keys) / sizeof(line_keys[0]); i++)
        if (strcmp(key, line_keys[i]) == 0)
            return true;
    return false;
}

void ctl_field_value(FILE *out, const struct onr_msg_field *f, bool json)
{
    char masked[128];

    switch (ctl_field_show(f)) {
    case CTL_SHOW_VALUE:
        if (f->kind == ONR_VALUE_UINT)
            fprintf(out, "%" PRIu64, f->uint_value);
        else if (json)
            ctl_json_string(out, f->bytes.ptr, f->bytes.len);
        else
            ctl_text_value(out, f->bytes.ptr, f->bytes.len);
        return;
    case CTL_SHOW_HEX:
        fputs(json ? "\"" : "", out);
        hex(out, f->bytes);
        fputs(json ? "\"" : "", out);
        return;
    case CTL_SHOW_LABEL:
        ctl_label_masked(f->bytes, masked, sizeof(masked));
        fprintf(out, json ? "\"%s\"" : "%s", masked); /* ids and digits only */
        onr_wipe(masked, sizeof(masked));
        return;
    case CTL_SHOW_LENGTH:
    default:
        fprintf(out, json ? "\"<bin %zu>\"" : "<bin %zu>", f->bytes.len);
        return;
    }
}

void ctl_render_text(FILE *out, const struct ctl_sighting *s)
{
    const struct onr_envelope *env = &s->env;
    struct onr_msg_field f;

    fprintf(out, "%s ", s->time[0] != '\0' ? s->time : "-");
    ctl_text_value(out, s->topic.ptr, s->topic.len);
    fprintf(out, " type=%s sender=", s->type);
    if (s->decoded) {
        fprintf(out, "%s:", onr_role_name((int)env->sender_role));
        ctl_text_value(out, env->sender.ptr, env->sender.len);
    } else {
        fputc('-', out);
    }
    fprintf(out, " dev=%s step=%s verdict=%s id=", s->dev[0] != '\0' ? s->dev : "-",
            s->step != NULL ? s->step : "-", s->verdict);
    if (s->decoded)
        hex(out, (struct onr_bytes){env->id, sizeof(env->id)});
    else
        fputc('-', out);
    if (s->reported)
        telemetry_text(out, &s->telemetry);
    else if (!s->decoded && strcmp(s->type, "undecodable") != 0)
        fprintf(out, " payload=<bin %zu>", s->payload_len);
    for (size_t i = 0; s->decoded && onr_msg_field_at(&env->msg, i, &f) == 0; i++) {
        if (!f.present)
            continue;
        fprintf(out, " %s%s=", line_key(f.key) ? "body." : "", f.key);
        ctl_field_value(out, &f, false);
        if (s->token_decoded && strcmp(f.key, "voucher") == 0)
            token_choice(out, &s->token, false);
    }
    fputc('\n', out);
}

/* "key": followed by a static string or null. */
static void json_member(FILE *out, const char *key, const char *value)
{
    fprintf(out, ",\"%s\":", key);
    if (value == NULL || value[0] == '\0')
        fputs("null", out);
    else
        ctl_json_string(out, (const uint8_t *)value, strlen(value));
}

void ctl_render_json(FILE *out, const struct ctl_sighting *s)
{
    const struct onr_envelope *env = &s->env;
    struct onr_msg_field f;
    bool first = true;

    fputs("{\"time\":", out);
    ctl_json_string(out, (const uint8_t *)s->time, strlen(s->time));
    fputs(",\"topic\":", out);
    ctl_json_string(out, s->topic.ptr, s->topic.len);
    json_member(out, "type", s->type);
    json_member(out, "sender_role", s->decoded ? onr_role_name((int)env->sender_role) : NULL);
    fputs(",\"sender\":", out);
    if (s->decoded)
        ctl_json_string(out, env->sender.ptr, env->sender.len);
    else
        fputs("null", out);
    json_member(out, "dev", s->dev);
    json_member(out, "step", s->step);
    json_member(out, "verdict", s->verdict);
    fputs(",\"id\":", out);
    if (s->decoded) {
        fputc('"', out);
        hex(out, (struct onr_bytes){env->id, sizeof(env->id)});
        fputc('"', out);
    } else {
        fputs("null", out);
    }
    fputs(",\"body\":", out);
    if (s->reported) {
        telemetry_json(out, &s->telemetry);
        return;
    }
    if (!s->decoded) {
        if (strcmp(s->type, "undecodable") == 0)
            fputs("null", out);
        else
            fprintf(out, "{\"payload\":\"<bin %zu>\"}", s->payload_len);
        fputs("}\n", out);
        return;
    }
    fputc('{', out);
    for (size_t i = 0; onr_msg_field_at(&env->msg, i, &f) == 0; i++) {
        if (!f.present)
            continue;
        fprintf(out, "%s\"%s\":", first ? "" : ",", f.key); /* static schema keys */
        ctl_field_value(out, &f, true);
        if (s->token_decoded && strcmp(f.key, "voucher") == 0)
            token_choice(out, &s->token, true);
        first = false;
    }
    fputs("}}\n", out);
}
