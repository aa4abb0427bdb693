/* GET /metrics on evhttp (<onramp/metrics_http.h>) and listen addresses
 * (<onramp/listen.h>): a real server on a free loopback port, driven by
 * raw HTTP requests from this thread while the test turns the loop. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "onramp/error.h"
#include "onramp/listen.h"
#include "onramp/metrics_http.h"

/* ---- listen addresses ------------------------------------------------------- */

static void test_listen_takes_the_forms_configurations_write(void **state)
{
    struct onr_listen l;
    char host[64];

    (void)state;
    assert_onr(ONR_OK, onr_listen_parse("9464", &l));
    assert_string_equal(l.addr, "127.0.0.1");
    assert_int_equal(l.port, 9464);
    assert_true(l.loopback);
    assert_false(l.v6);
    assert_onr(ONR_OK, onr_listen_parse(":9464", &l));
    assert_string_equal(onr_listen_host(&l, host, sizeof(host)), "127.0.0.1:9464");
    assert_onr(ONR_OK, onr_listen_parse("localhost:80", &l));
    assert_string_equal(onr_listen_host(&l, host, sizeof(host)), "127.0.0.1:80");
    assert_onr(ONR_OK, onr_listen_parse("127.0.0.2:65535", &l));
    assert_true(l.loopback);
    assert_onr(ONR_OK, onr_listen_parse("[::1]:9464", &l));
    assert_true(l.v6);
    assert_true(l.loopback);
    assert_string_equal(onr_listen_host(&l, host, sizeof(host)), "[::1]:9464");
    assert_onr(ONR_OK, onr_listen_parse("192.0.2.7:9464", &l));
    assert_false(l.loopback);
    assert_onr(ONR_OK, onr_listen_parse("0.0.0.0:9464", &l));
    assert_false(l.loopback);
    assert_onr(ONR_OK, onr_listen_parse("[::]:9464", &l));
    assert_false(l.loopback);
}

static void test_listen_refuses_what_is_no_address_and_port(void **state)
{
    static const char *const bad[] = {
        "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:x", "0", "::1", "[::1]", "[::1]:0", "host.example:80", "localhost",
        "1.2.3:80", "1.2.3.4.5:80", "127.0.0.1:80 ", " 127.0.0.1:80",
    };
    struct onr_listen l;
    char long_text[ONR_LISTEN_TEXT_MAX + 2];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (onr_listen_parse(bad[i], &l) != ONR_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
    }
    assert_onr(ONR_EINVAL, onr_listen_parse(NULL, &l));
    assert_onr(ONR_EINVAL, onr_listen_parse("80", NULL));
    memset(long_text, '1', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    assert_onr(ONR_EINVAL, onr_listen_parse(long_text, &l));
}

/* ---- the server --------------------------------------------------------------- */

struct fixture {
    struct event_base *base;
    struct onr_metrics_server *server;
    uint16_t port;
    int collect_rc;  /* what collect returns */
    int collect_bad; /* collect leaves an error in the text */
    int scrapes;
};

/* A port nobody listens on now (the kernel's choice). */
static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int collect(struct onr_metrics *m, void *arg)
{
    struct fixture *f = arg;
    struct onr_metric_label l[] = {{"type", "hello"}};

    f->scrapes++;
    onr_metrics_family(m, "onramp_messages_handled_total", ONR_METRIC_COUNTER, "Handled.");
    onr_metrics_counter(m, l, 1, 7);
    if (f->collect_bad)
        onr_metrics_family(m, "bad-name", ONR_METRIC_GAUGE, "x");
    return f->collect_rc;
}

static const char expected_body[] = "# HELP onramp_messages_handled_total Handled.\n"
                                    "# TYPE onramp_messages_handled_total counter\n"
                                    "onramp_messages_handled_total{type=\"hello\"} 7\n";

static int setup(void **state)
{
    static struct fixture f;
    char listen[32];

    memset(&f, 0, sizeof(f));
    f.base = event_base_new();
    assert_non_null(f.base);
    f.port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)f.port);
    assert_onr(ONR_OK, onr_metrics_server_start(f.base, listen, 0, collect, &f, &f.server));
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    onr_metrics_server_stop(f->server);
    event_base_free(f->base);
    return 0;
}

/* Send `request` (all of it) and read the answer until the server closes
 * the connection, turning the loop meanwhile; the answer into `out`. */
static size_t exchange(struct fixture *f, const char *request, size_t len, char *out, size_t cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t sent = 0;
    size_t got = 0;
    time_t deadline = time(NULL) + 10;

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    while (time(NULL) < deadline) {
        ssize_t n;

        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (sent < len) {
            n = send(fd, request + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                sent = len; /* the server closed: read what it said */
        }
        n = recv(fd, out + got, cap - 1 - got, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n > 0)
            got += (size_t)n;
        else
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        assert_true(got < cap - 1);
    }
    close(fd);
    out[got] = '\0';
    return got;
}

static size_t request(struct fixture *f, const char *text, char *out, size_t cap)
{
    return exchange(f, text, strlen(text), out, cap);
}

static const char *body_of(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");

    assert_non_null(b);
    return b + 4;
}

static void test_server_answers_get_metrics(void **state)
{
    struct fixture *f = *state;
    char out[4096];

    request(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
            sizeof(out));
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(out, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_string_equal(body_of(out), expected_body);
    /* a query string does not matter; HTTP/1.0 closes by itself */
    request(f, "GET /metrics?x=1 HTTP/1.0\r\n\r\n", out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_string_equal(body_of(out), expected_body);
    assert_int_equal(f->scrapes, 2);
}

static void test_server_answers_head_without_a_body(void **state)
{
    struct fixture *f = *state;
    char out[4096];

    request(f, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
            sizeof(out));
    assert_true(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_string_equal(body_of(out), "");
}

static void test_server_serves_nothing_else(void **state)
{
    static const char *const paths[] = {"/", "/metrics/", "/metricsx", "/Metrics", "/x/metrics",
                                        "/api/v1/query"};
    struct fixture *f = *state;
    char req[128];
    char out[4096];

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 paths[i]);
        request(f, req, out, sizeof(out));
        if (strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24) != 0)
            fail_msg("%s: %s", paths[i], out);
    }
    assert_int_equal(f->scrapes, 0);
}

static void test_server_refuses_other_methods(void **state)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    struct fixture *f = *state;
    char req[128];
    char out[4096];

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        snprintf(req, sizeof(req),
                 "%s /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", methods[i]);
        request(f, req, out, sizeof(out));
        if (strncmp(out, "HTTP/1.1 405 Method Not Allowed\r\n", 33) != 0)
            fail_msg("%s: %s", methods[i], out);
        assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
    }
    /* a method evhttp does not know */
    request(f, "BREW /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
            sizeof(out));
    assert_null(strstr(out, " 200 "));
    assert_int_equal(f->scrapes, 0);
}

static void test_server_bounds_requests(void **state)
{
    struct fixture *f = *state;
    static char req[3 * ONR_METRICS_HTTP_HEADERS_MAX];
    char out[4096];
    int n;

    /* headers past the bound */
    n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(req + n, 'a', 2 * ONR_METRICS_HTTP_HEADERS_MAX);
    memcpy(req + n + 2 * ONR_METRICS_HTTP_HEADERS_MAX, "\r\n\r\n", 5);
    request(f, req, out, sizeof(out));
    assert_null(strstr(out, " 200 "));
    /* a body: none is taken */
    request(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               "Connection: close\r\n\r\nhello", out, sizeof(out));
    assert_null(strstr(out, " 200 "));
    /* not HTTP */
    request(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", out, sizeof(out));
    assert_null(strstr(out, " 200 "));
    assert_int_equal(f->scrapes, 0);
    /* and it still answers */
    request(f, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
    assert_string_equal(body_of(out), expected_body);
}

static void test_server_answers_500_when_collecting_fails(void **state)
{
    struct fixture *f = *state;
    char out[4096];

    f->collect_rc = ONR_EIO;
    request(f, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.0 500 ", 13) == 0);
    assert_null(strstr(out, "onramp_")); /* no partial text */
    f->collect_rc = ONR_OK;
    f->collect_bad = 1;
    request(f, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.0 500 ", 13) == 0);
    assert_null(strstr(out, "onramp_"));
}

static void test_server_listens_on_loopback_unless_allowed(void **state)
{
    struct fixture *f = *state;
    struct onr_metrics_server *s = NULL;
    char listen[32];

    snprintf(listen, sizeof(listen), "0.0.0.0:%u", (unsigned)free_port());
    assert_onr(ONR_EDENIED, onr_metrics_server_start(f->base, listen, 0, collect, f, &s));
    assert_null(s);
    assert_onr(ONR_OK, onr_metrics_server_start(f->base, listen, 1, collect, f, &s));
    onr_metrics_server_stop(s);
    assert_onr(ONR_EINVAL, onr_metrics_server_start(f->base, "nowhere:80", 1, collect, f, &s));
    assert_onr(ONR_EINVAL, onr_metrics_server_start(f->base, listen, 1, NULL, f, &s));
    /* the fixture's port is taken */
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)f->port);
    assert_onr(ONR_EIO, onr_metrics_server_start(f->base, listen, 0, collect, f, &s));
    snprintf(listen, sizeof(listen), "localhost:%u", (unsigned)f->port);
    assert_onr(ONR_EIO, onr_metrics_server_start(f->base, listen, 0, collect, f, &s));
    assert_null(s);
    onr_metrics_server_stop(NULL);
}

static void test_server_url(void **state)
{
    struct fixture *f = *state;
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", (unsigned)f->port);
    assert_string_equal(onr_metrics_server_url(f->server), url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_takes_the_forms_configurations_write),
        cmocka_unit_test(test_listen_refuses_what_is_no_address_and_port),
        cmocka_unit_test_setup_teardown(test_server_answers_get_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_answers_head_without_a_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_serves_nothing_else, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_refuses_other_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_bounds_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_answers_500_when_collecting_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_listens_on_loopback_unless_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_url, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
