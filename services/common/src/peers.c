/* The peers a service works with (see <onramp/svc_peers.h>). */
#include "onramp/svc_peers.h"

#include <stdio.h>
#include <string.h>

#include "onramp/config.h"
#include "onramp/error.h"
#include "onramp/text.h"

const struct onr_peer *onr_peer_find(const struct onr_peers *peers, const uint8_t *id,
                                     size_t len)
{
    for (size_t i = 0; i < peers->n; i++)
        if (strlen(peers->list[i].id) == len && memcmp(peers->list[i].id, id, len) == 0)
            return &peers->list[i];
    return NULL;
}

static int load_one(const struct onr_config *cfg, const char *program, const char *key,
                    const char *line, int with_sealing, struct onr_peer *peer)
{
    size_t want = with_sealing ? 3 : 2;
    char buf[2048];
    char path[1024] = "";
    const char *fields[3];
    size_t nf = 0;
    int rc;

    rc = onr_config_split(line, buf, sizeof(buf), fields, want, &nf);
    if (rc != ONR_OK || nf != want || strlen(fields[0]) > ONR_SERVICE_ID_MAX ||
        onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)fields[0],
                                                  strlen(fields[0])}) != ONR_OK) {
        fprintf(stderr, "%s: %s: want '%s ID SIGNING_PUB%s'\n", program, key, key,
                with_sealing ? " SEALING_PUB" : "");
        return ONR_EFORMAT;
    }
    snprintf(peer->id, sizeof(peer->id), "%s", fields[0]);
    rc = onr_config_path(cfg, fields[1], path, sizeof(path));
    if (rc == ONR_OK)
        rc = onr_p256_public_load(path, peer->key);
    if (rc == ONR_OK && with_sealing)
        rc = onr_config_path(cfg, fields[2], path, sizeof(path));
    if (rc == ONR_OK && with_sealing)
        rc = onr_x25519_public_load(path, peer->sealing_key);
    if (rc != ONR_OK)
        fprintf(stderr, "%s: %s %s: %s: %s\n", program, key, fields[0], path,
                onr_strerror(rc));
    return rc;
}

int onr_peers_load(const struct onr_config *cfg, const char *program, const char *key,
                   int with_sealing, struct onr_peers *out)
{
    static struct onr_peers next; /* large; services are single-threaded */
    size_t n = onr_config_count(cfg, key);
    int rc;

    if (n > ONR_PEERS_MAX) {
        fprintf(stderr, "%s: at most %d %s lines\n", program, ONR_PEERS_MAX, key);
        return ONR_ERANGE;
    }
    memset(&next, 0, sizeof(next));
    for (size_t i = 0; i < n; i++) {
        rc = load_one(cfg, program, key, onr_config_at(cfg, key, i), with_sealing,
                      &next.list[i]);
        if (rc != ONR_OK)
            return rc;
    }
    next.n = n;
    *out = next;
    return ONR_OK;
}
