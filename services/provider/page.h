/*
 * The provider's pairing page (http_listen), what its files share:
 *
 *   page.c         the server on the service's loop: configuration, the
 *                  routes, the answers, the device's page and the API
 *   page_pair.c    the form and its POST /pair
 *   page_kit.c     a kit's page and its API
 *   page_form.c    hostile input and output: the form's strict decoding,
 *                  HTML and JSON escaping
 *   page_assets.c  the fixed text: HTML pieces, app.js, app.css
 */
#ifndef ONRAMP_PROV_PAGE_H
#define ONRAMP_PROV_PAGE_H

#include <stddef.h>

#include "onramp/config.h"

struct evbuffer;
struct evhttp;
struct evhttp_request;
struct onr_service;
struct prov;

#define PAGE_ORIGINS_MAX 4 /* http_origin lines */

/* The page's state (page.c): one per provider, while it runs. */
struct prov_page {
    struct onr_service *svc;
    const struct prov *p;
    struct evhttp *http;
    int public;              /* http_public yes: any Host */
    char hosts[2][64];       /* else the Host values it answers to */
    char origins[PAGE_ORIGINS_MAX][ONR_ORIGIN_MAX + 1]; /* http_origin: behind a proxy */
    size_t n_origins;
};

#define PAGE_BODY_MAX 4096 /* bytes of a POST body; more is 413 */
#define PAGE_FIELD_MAX 256 /* bytes of one decoded form value */

/* One field of a form: the caller sets `name`; page_form_parse the rest. */
struct page_field {
    const char *name;
    char value[PAGE_FIELD_MAX + 1]; /* decoded, NUL-terminated */
    size_t len;
    int seen;
};

/*
 * page_form_parse: an application/x-www-form-urlencoded body (`len` bytes,
 * untrusted, need not be NUL-terminated) into `fields` (`n`; values
 * reset first). Strict: every name must be one of the fields' names,
 * as is (not encoded), at most once; in values '+' is a space and '%'
 * must be followed by two hex digits; a decoded value holds at most
 * PAGE_FIELD_MAX bytes and no control character (0x00..0x1f, 0x7f).
 * Returns ONR_OK, ONR_EFORMAT (bad encoding), ONR_EUNKNOWNKEY,
 * ONR_EDUPKEY, ONR_ETOOBIG or ONR_ECHARSET; *bad (may be NULL) names the
 * field at fault (borrowed from `fields`), or NULL.
 */
int page_form_parse(const char *body, size_t len, struct page_field *fields, size_t n,
                    const char **bad);

/* page_trim: spaces at both ends of the field's value removed. */
void page_trim(struct page_field *f);

/* page_html: `len` bytes of `s` as HTML text or attribute value: & < > " '
 * escaped, control characters dropped, and bytes of invalid UTF-8 shown
 * as '?'. */
void page_html(struct evbuffer *out, const char *s, size_t len);

/* page_json_string: `s` (`len` bytes of UTF-8) as a JSON string with its
 * quotes: " \ and control characters escaped, and < > & as \u00XX so
 * the text is safe anywhere. */
void page_json_string(struct evbuffer *out, const char *s, size_t len);

/* page.c: answers. page_send: the request's output buffer as the body,
 * with `type` and the page's security headers (CSP, nosniff, no-store).
 * page_open: an HTML page's start, titled `title` and `title_code` (may be
 * NULL), both escaped. page_send_message: a short page saying `text`.
 * page_peer: "address:port" of the client, for logs. */
void page_send(struct evhttp_request *req, int code, const char *reason, const char *type);
void page_open(struct evbuffer *out, const char *title, const char *title_code);
void page_send_message(struct evhttp_request *req, int code, const char *reason,
                       const char *text);
const char *page_peer(struct evhttp_request *req, char *out, size_t cap);

/* page_pair.c: GET / (the form) and POST /pair. */
void page_on_form(struct prov_page *page, struct evhttp_request *req);
void page_on_pair(struct prov_page *page, struct evhttp_request *req);

/* page_kit.c: GET /kit/KIT (a kit's devices on their way, followed by
 * app.js) and GET /api/kit/KIT (its JSON); `kit` a checked kit id. */
void page_on_kit(struct prov_page *page, struct evhttp_request *req, const char *kit);
void page_on_api_kit(struct prov_page *page, struct evhttp_request *req, const char *kit);

/* page_assets.c */
extern const char page_js[];
extern const char page_css[];
extern const char page_top[];    /* <!doctype html> ... <title> */
extern const char page_middle[]; /* </title> ... <main> */
extern const char page_bottom[]; /* </main> ... </html> */

#endif /* ONRAMP_PROV_PAGE_H */
