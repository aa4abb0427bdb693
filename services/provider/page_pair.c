/*
 * The pairing form and its POST: everything the user sends is checked
 * here (the label's content by pairing.c, which pairs the device exactly
 * as for a control tool), and the form comes back with the reason when it
 * is refused.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "claims.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"
#include "page.h"
#include "prov.h"

/* The form's fields, in this order. */
enum { F_LABEL, F_MFR, F_DEV, F_CLAIM, F_ACCOUNT, F_OPERATOR, F_COUNT };
static const char *const field_names[F_COUNT] = {"label", "mfr", "dev",
                                                 "claim", "account", "operator"};

static void text_input(struct evbuffer *out, const char *name, const char *caption,
                       const char *attrs, const struct page_field *f)
{
    evbuffer_add_printf(out, "<label for=\"%s\">%s</label>\n<input id=\"%s\" name=\"%s\" %s "
                             "value=\"", name, caption, name, name, attrs);
    if (f != NULL)
        page_html(out, f->value, f->len);
    evbuffer_add(out, "\">\n", 3);
}

/* The form, with `error` (may be NULL) above it and the values the user
 * sent (`f`, may be NULL) in it. */
static void render_form(const struct prov_page *page, struct evbuffer *out, const char *error,
                        const struct page_field *f)
{
    const struct prov *p = page->p;
    const char *id = onr_service_id(page->svc);
    const char *chosen = p->default_operator;

    if (f != NULL && f[F_OPERATOR].len > 0)
        chosen = f[F_OPERATOR].value;
    page_open(out, "Pair a device with ", id);
    evbuffer_add_printf(out, "<h1>Pair a device with <code>");
    page_html(out, id, strlen(id));
    evbuffer_add_printf(out, "</code></h1>\n");
    if (error != NULL) {
        evbuffer_add_printf(out, "<p class=\"error\" id=\"error\" role=\"alert\">");
        page_html(out, error, strlen(error));
        evbuffer_add_printf(out, "</p>\n");
    }
    evbuffer_add_printf(out, "<form method=\"post\" action=\"/pair\" id=\"pair-form\" "
                             "accept-charset=\"utf-8\" autocomplete=\"off\">\n"
                             "<fieldset><legend>The device's label</legend>\n");
    text_input(out, "label", "Label (the text of its QR code; a kit's label pairs every "
                             "device of the kit)",
               "class=\"code\" maxlength=\"256\" spellcheck=\"false\" "
               "placeholder=\"ONR1:MANUFACTURER:DEVICE:CLAIM:CHECK\"",
               f != NULL ? &f[F_LABEL] : NULL);
    /* shown by app.js where the browser has Web NFC (NDEFReader) */
    evbuffer_add_printf(out, "<button type=\"button\" id=\"nfc\" class=\"secondary\" hidden>"
                             "Read the label's NFC tag</button>\n"
                             "<p id=\"nfc-status\" role=\"status\" hidden></p>\n");
    evbuffer_add_printf(out, "<p class=\"or\">or, typed from the label:</p>\n");
    text_input(out, "mfr", "Manufacturer", "maxlength=\"32\" spellcheck=\"false\"",
               f != NULL ? &f[F_MFR] : NULL);
    text_input(out, "dev", "Device id", "class=\"code\" maxlength=\"32\" spellcheck=\"false\"",
               f != NULL ? &f[F_DEV] : NULL);
    text_input(out, "claim", "Claim code", "class=\"code\" maxlength=\"20\" spellcheck=\"false\"",
               f != NULL ? &f[F_CLAIM] : NULL);
    evbuffer_add_printf(out, "</fieldset>\n<fieldset><legend>Its owner</legend>\n");
    text_input(out, "account", "Account", "maxlength=\"64\" required",
               f != NULL ? &f[F_ACCOUNT] : NULL);
    evbuffer_add_printf(out, "<label for=\"operator\">Network operator</label>\n"
                             "<select id=\"operator\" name=\"operator\">\n");
    for (size_t i = 0; i < p->operators.n; i++) {
        const char *op = p->operators.list[i].id;

        evbuffer_add_printf(out, "<option value=\"");
        page_html(out, op, strlen(op));
        evbuffer_add_printf(out, "\"%s>", strcmp(op, chosen) == 0 ? " selected" : "");
        page_html(out, op, strlen(op));
        evbuffer_add_printf(out, "</option>\n");
    }
    evbuffer_add_printf(out, "</select>\n</fieldset>\n"
                             "<button type=\"submit\" id=\"pair\">Pair</button>\n</form>\n");
    evbuffer_add(out, page_bottom, strlen(page_bottom));
}

void page_on_form(struct prov_page *page, struct evhttp_request *req)
{
    render_form(page, evhttp_request_get_output_buffer(req), NULL, NULL);
    page_send(req, 200, "OK", "text/html; charset=utf-8");
}

/* Whether `origin` is `host` (from the request: untrusted, compared only)
 * under `scheme`. */
static int origin_is(const char *origin, const char *scheme, const char *host)
{
    size_t n = strlen(scheme);

    return host != NULL && strncmp(origin, scheme, n) == 0 && strcasecmp(origin + n, host) == 0;
}

/* A POST from a page of another origin (a forged form) is refused; one from
 * no page at all (a script, curl) is not a browser's and passes. The
 * page's own origin is the Host it was asked under, over HTTP or HTTPS
 * (a TLS reverse proxy that keeps Host), or one http_origin names (one
 * that rewrites it). */
static int same_origin(const struct prov_page *page, struct evhttp_request *req)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *site = evhttp_find_header(in, "Sec-Fetch-Site");
    const char *origin = evhttp_find_header(in, "Origin");
    const char *host = evhttp_find_header(in, "Host");

    if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return 0;
    if (origin == NULL)
        return 1;
    if (origin_is(origin, "http://", host) || origin_is(origin, "https://", host))
        return 1;
    for (size_t i = 0; i < page->n_origins; i++)
        if (strcasecmp(origin, page->origins[i]) == 0)
            return 1;
    return 0;
}

static int is_form(const char *type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const size_t n = sizeof(form) - 1;

    return type != NULL && strncasecmp(type, form, n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

static const char *form_error(int rc)
{
    switch (rc) {
    case ONR_EUNKNOWNKEY: return "The form holds a field this page does not know.";
    case ONR_EDUPKEY: return "The form holds a field twice.";
    case ONR_ETOOBIG: return "A field is too long (256 bytes at most).";
    case ONR_ECHARSET: return "A field holds a control character.";
    default: return "The form's encoding is broken (a stray '%' or '=').";
    }
}

static void to_case(char *s, size_t len, int upper)
{
    for (size_t i = 0; i < len; i++) {
        if (upper && s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char)(s[i] - 'a' + 'A');
        else if (!upper && s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    }
}

/* The label the user gave, or the one assembled from the three fields
 * (into `buf`, ONR_LABEL_MAX + 1 bytes), into *label. NULL, or why not. */
static const char *the_label(struct page_field *f, char *buf, struct onr_bytes *label)
{
    struct onr_label parts;
    int rc;

    if (f[F_LABEL].len > 0) {
        if (f[F_MFR].len > 0 || f[F_DEV].len > 0 || f[F_CLAIM].len > 0)
            return "Give either the label or the three fields typed from it, not both.";
        *label = (struct onr_bytes){(const uint8_t *)f[F_LABEL].value, f[F_LABEL].len};
        return NULL;
    }
    if (f[F_MFR].len == 0 || f[F_DEV].len == 0 || f[F_CLAIM].len == 0)
        return "Give the device's label, or its manufacturer, device id and claim code.";
    to_case(f[F_MFR].value, f[F_MFR].len, 0);
    to_case(f[F_DEV].value, f[F_DEV].len, 0);
    to_case(f[F_CLAIM].value, f[F_CLAIM].len, 1);
    if (f[F_MFR].len > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)f[F_MFR].value,
                                                       f[F_MFR].len}) != ONR_OK)
        return "Manufacturer: 1 to 32 characters of a-z, 0-9, '.', '_' and '-', as on the label.";
    if (onr_devid_check(f[F_DEV].value, f[F_DEV].len) != ONR_OK)
        return "Device id: 32 characters of a-z and 2-7, as on the label.";
    if (f[F_CLAIM].len != ONR_LABEL_CLAIM_LEN)
        return "Claim code: 20 characters of A-Z and 2-7, as on the label.";
    memset(&parts, 0, sizeof(parts));
    memcpy(parts.mfr, f[F_MFR].value, f[F_MFR].len);
    memcpy(parts.dev, f[F_DEV].value, f[F_DEV].len);
    memcpy(parts.claim, f[F_CLAIM].value, f[F_CLAIM].len);
    rc = onr_label_encode(&parts, buf, ONR_LABEL_MAX + 1);
    onr_wipe(&parts, sizeof(parts));
    if (rc != ONR_OK)
        return "Claim code: 20 characters of A-Z and 2-7, as on the label.";
    *label = (struct onr_bytes){(const uint8_t *)buf, strlen(buf)};
    return NULL;
}

/* Everything but the label's own content (pairing.c checks that). */
static const char *check_owner(const struct prov_page *page, const struct page_field *f)
{
    if (f[F_ACCOUNT].len == 0 || f[F_ACCOUNT].len > PROV_ACCOUNT_MAX ||
        onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){(const uint8_t *)f[F_ACCOUNT].value,
                                                         f[F_ACCOUNT].len}) != ONR_OK)
        return "Account: 1 to 64 bytes of text.";
    if (onr_peer_find(&page->p->operators, (const uint8_t *)f[F_OPERATOR].value,
                      f[F_OPERATOR].len) == NULL)
        return "Operator: choose one of the operators listed.";
    return NULL;
}

/* The form of a POST into `f` (trimmed). NULL, or why not (with *code). */
static const char *read_form(struct evhttp_request *req, struct page_field *f, int *code)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    size_t len = evbuffer_get_length(in);
    char body[PAGE_BODY_MAX];
    int rc;

    if (!is_form(type)) {
        *code = 415;
        return "The form must come as application/x-www-form-urlencoded.";
    }
    if (len > PAGE_BODY_MAX) { /* evhttp's max_body_size answered that already */
        *code = 413;
        return "The form is too large.";
    }
    evbuffer_copyout(in, body, len);
    rc = page_form_parse(body, len, f, F_COUNT, NULL);
    onr_wipe(body, sizeof(body));
    if (rc != ONR_OK) {
        for (int i = 0; i < F_COUNT; i++) { /* nothing of it shown again */
            f[i].value[0] = '\0';
            f[i].len = 0;
        }
        *code = 400;
        return form_error(rc);
    }
    for (int i = 0; i < F_COUNT; i++)
        page_trim(&f[i]);
    return NULL;
}

static const char *status_text(int code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    default: return "Service Unavailable";
    }
}

void page_on_pair(struct prov_page *page, struct evhttp_request *req)
{
    struct page_field f[F_COUNT];
    char buf[ONR_LABEL_MAX + 1];
    char message[160];
    char dev[ONR_DEVID_LEN + 1];
    char location[sizeof("/device/") + ONR_DEVID_LEN];
    int kit = 0;
    char peer[INET6_ADDRSTRLEN + 16];
    struct onr_bytes label = {NULL, 0};
    const char *why = NULL;
    int code = 400;
    int rc;

    memset(f, 0, sizeof(f));
    for (int i = 0; i < F_COUNT; i++)
        f[i].name = field_names[i];
    if (!same_origin(page, req)) {
        onr_log(ONR_LOG_NOTICE, "page: pairing refused from=%s reason=cross-origin",
                page_peer(req, peer, sizeof(peer)));
        page_send_message(req, 403, "Forbidden", "A form of another site cannot pair here.");
        return;
    }
    why = read_form(req, f, &code);
    if (why == NULL)
        why = the_label(f, buf, &label);
    if (why == NULL)
        why = check_owner(page, f);
    if (why == NULL && !onr_service_connected(page->svc)) {
        code = 503;
        why = "The provider is not connected to its broker right now: try again in a moment.";
    }
    if (why != NULL)
        goto refuse;
    kit = onr_label_is_kit((const char *)label.ptr, label.len);
    if (kit) /* every device of the kit; its page follows them */
        rc = prov_kit_pair_web(page->svc, page->p, label,
                               (struct onr_bytes){(const uint8_t *)f[F_ACCOUNT].value,
                                                  f[F_ACCOUNT].len},
                               f[F_OPERATOR].value, dev, &why);
    else
        rc = prov_pair_web(page->svc, page->p, label,
                           (struct onr_bytes){(const uint8_t *)f[F_ACCOUNT].value,
                                              f[F_ACCOUNT].len},
                           f[F_OPERATOR].value, dev, &why);
    if (rc == ONR_OK) {
        snprintf(location, sizeof(location), "/%s/%s", kit ? "kit" : "device", dev);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
        evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                            "<p><a href=\"%s\">%s</a></p>\n", location, location);
        page_send(req, 303, "See Other", "text/html; charset=utf-8");
        goto out;
    }
    if (why != NULL) {
        snprintf(message, sizeof(message), "Not paired: %s.", why);
        why = message;
    } else {
        code = 503;
        why = rc == ONR_EBUSY ? "The provider's database is busy: try again in a moment."
                              : "The provider could not record the claim: try again later.";
    }
refuse:
    onr_log(ONR_LOG_NOTICE, "page: pairing refused from=%s code=%d reason=\"%s\"",
            page_peer(req, peer, sizeof(peer)), code, why);
    render_form(page, evhttp_request_get_output_buffer(req), why, f);
    page_send(req, code, status_text(code), "text/html; charset=utf-8");
out:
    onr_wipe(f, sizeof(f));
    onr_wipe(buf, sizeof(buf));
}
