/* A listen address from a configuration (see <onramp/listen.h>). */
#include "onramp/listen.h"

#include <arpa/inet.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "onramp/error.h"

int onr_listen_parse(const char *value, struct onr_listen *out)
{
    struct sockaddr_storage ss;
    int ss_len = (int)sizeof(ss);
    char text[ONR_LISTEN_TEXT_MAX + 16];
    size_t len = value == NULL ? 0 : strnlen(value, ONR_LISTEN_TEXT_MAX + 1);

    if (len == 0 || len > ONR_LISTEN_TEXT_MAX || out == NULL)
        return ONR_EINVAL;
    memset(out, 0, sizeof(*out));
    if (strspn(value, "0123456789") == len)
        snprintf(text, sizeof(text), "127.0.0.1:%s", value);
    else if (value[0] == ':')
        snprintf(text, sizeof(text), "127.0.0.1%s", value);
    else if (strncasecmp(value, "localhost:", 10) == 0)
        snprintf(text, sizeof(text), "127.0.0.1:%s", value + 10);
    else
        snprintf(text, sizeof(text), "%s", value);
    /* numbers only (evutil would take trailing spaces), and a port, which
     * evutil would take as 0 when absent */
    if (strspn(text, "0123456789abcdefABCDEF.:[]") != strlen(text))
        return ONR_EINVAL;
    if (strrchr(text, ':') == NULL || strrchr(text, ']') > strrchr(text, ':'))
        return ONR_EINVAL;
    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &ss_len) != 0)
        return ONR_EINVAL;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

        out->port = ntohs(in->sin_port);
        out->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        evutil_inet_ntop(AF_INET, &in->sin_addr, out->addr, sizeof(out->addr));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

        out->port = ntohs(in6->sin6_port);
        out->v6 = 1;
        out->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        evutil_inet_ntop(AF_INET6, &in6->sin6_addr, out->addr, sizeof(out->addr));
    } else {
        return ONR_EINVAL;
    }
    return out->port == 0 ? ONR_EINVAL : ONR_OK;
}

char *onr_listen_host(const struct onr_listen *l, char *out, size_t cap)
{
    snprintf(out, cap, l->v6 ? "[%s]:%u" : "%s:%u", l->addr, (unsigned)l->port);
    return out;
}
