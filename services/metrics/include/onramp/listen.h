/*
 * A TCP listen address as the configurations write it (the provider's
 * http_listen, a service's metrics_listen, onrampctl exporter --listen):
 *
 *   HOST:PORT     HOST an IPv4 address, [an IPv6 address] or localhost
 *   :PORT, PORT   127.0.0.1:PORT
 *
 * Whether it is a loopback address is part of the answer: Onramp's small
 * web servers listen on loopback unless their configuration says
 * otherwise.
 */
#ifndef ONRAMP_LISTEN_H
#define ONRAMP_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#define ONR_LISTEN_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
#define ONR_LISTEN_TEXT_MAX 112

struct onr_listen {
    char addr[ONR_LISTEN_ADDR_MAX]; /* numeric, without brackets */
    uint16_t port;                  /* 1..65535 */
    int v6;
    int loopback; /* 127.0.0.0/8 or ::1 */
};

/*
 * onr_listen_parse: `value` (borrowed) into *out. Returns ONR_OK or
 * ONR_EINVAL (NULL, empty, longer than ONR_LISTEN_TEXT_MAX, no port, port
 * 0, a host name other than localhost).
 */
int onr_listen_parse(const char *value, struct onr_listen *out);

/* onr_listen_host: "ADDR:PORT" or "[ADDR]:PORT" into `out` (`cap` bytes,
 * at least ONR_LISTEN_ADDR_MAX + 8): the form a URL or a Host header
 * takes. Returns `out`. */
char *onr_listen_host(const struct onr_listen *l, char *out, size_t cap);

#endif /* ONRAMP_LISTEN_H */
