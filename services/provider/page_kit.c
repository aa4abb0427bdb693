/*
 * A kit on the pairing page (proto/SPEC.md section 18): GET /kit/KIT
 * follows every device of a kit paired by its kit label on its way to
 * OPERATIONAL (app.js polls GET /api/kit/KIT), each linking to its own
 * page. Read-only: what the kit claim and the devices' claims say.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "journey.h"
#include "kits.h"
#include "onramp/error.h"
#include "page.h"
#include "prov.h"

void page_on_kit(struct prov_page *page, struct evhttp_request *req, const char *kit)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    (void)page;
    page_open(out, "Kit ", kit);
    evbuffer_add_printf(out, "<h1>Kit <code>%s</code></h1>\n"
                             "<section id=\"kit\" data-kit=\"%s\">\n"
                             "<p>State: <strong id=\"kit-state\">…</strong></p>\n"
                             "<p id=\"kit-hint\"></p>\n"
                             "<p>Account <strong id=\"kit-account\"></strong>, "
                             "operator <strong id=\"kit-operator\"></strong></p>\n"
                             "<ol id=\"kit-devices\"></ol>\n"
                             "<noscript><p>This page follows the kit with JavaScript; its "
                             "data: <a href=\"/api/kit/%s\">/api/kit/%s</a>.</p></noscript>\n"
                             "</section>\n<p><a href=\"/\">Pair another device or kit</a></p>\n",
                        kit, kit, kit, kit);
    evbuffer_add(out, page_bottom, strlen(page_bottom));
    page_send(req, 200, "OK", "text/html; charset=utf-8");
}

/* The kit's state: REGISTERING (waiting for the manufacturer), PAIRED
 * (every device claimed), REFUSED (with the reason), UNCLAIMED. */
static const char *kit_state(const struct prov_kit *k, int found, int refused)
{
    if (found)
        return k->registered ? "PAIRED" : "REGISTERING";
    return refused ? "REFUSED" : "UNCLAIMED";
}

void page_on_api_kit(struct prov_page *page, struct evhttp_request *req, const char *kit)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct onr_db *db = onr_service_db(page->svc);
    static struct prov_kit k;
    static struct prov_journey j;
    char reason[128] = "";
    uint64_t refused_at = 0;
    int refused = 0;
    int rc = prov_kit_get(db, kit, &k);
    int found = rc == ONR_OK;

    if (rc == ONR_ENOENT) {
        rc = prov_web_refusal_get(db, kit, reason, sizeof(reason), &refused_at);
        refused = rc == ONR_OK;
    }
    if (rc != ONR_OK && rc != ONR_ENOENT) {
        onr_log(ONR_LOG_WARNING, "page: kit unreadable kit=%s error=%s", kit,
                onr_db_errmsg(db));
        evbuffer_add_printf(out, "{\"kit\":\"%s\",\"error\":\"database busy\"}\n", kit);
        page_send(req, 503, "Service Unavailable", "application/json");
        return;
    }
    evbuffer_add_printf(out, "{\"kit\":\"%s\",\"state\":\"%s\"", kit,
                        kit_state(&k, found, refused));
    if (found) {
        evbuffer_add_printf(out, ",\"manufacturer\":");
        page_json_string(out, k.mfr, strlen(k.mfr));
        evbuffer_add_printf(out, ",\"operator\":");
        page_json_string(out, k.op, strlen(k.op));
        evbuffer_add_printf(out, ",\"account\":");
        page_json_string(out, k.account, strlen(k.account));
    } else if (refused) {
        evbuffer_add_printf(out, ",\"reason\":");
        page_json_string(out, reason, strlen(reason));
    }
    evbuffer_add_printf(out, ",\"devices\":[");
    for (size_t i = 0; i < k.n_devs && found; i++) {
        rc = prov_journey_get(db, k.devs[i], &j);
        evbuffer_add_printf(out, "%s{\"dev\":\"%s\",\"state\":\"%s\"}", i > 0 ? "," : "",
                            k.devs[i],
                            rc == ONR_OK ? prov_state_name(j.state) : "UNCLAIMED");
    }
    evbuffer_add_printf(out, "]}\n");
    page_send(req, found || refused ? 200 : 404, found || refused ? "OK" : "Not Found",
              "application/json");
}
