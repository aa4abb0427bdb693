/*
 * onr_test_pop: device identity keys and proofs of possession for tests
 * that drive the broker with independent MQTT clients.
 *
 *   onr_test_pop new-key KEYFILE
 *       write a new P-256 identity key (mode 0600); print its device id
 *   onr_test_pop proof KEYFILE BROKER_NAME [CLIENT_ID [TIMESTAMP]]
 *       print a fresh 154-byte proof (proto/SPEC.md section 10) as hex;
 *       CLIENT_ID defaults to the key's device id, TIMESTAMP to now
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/devid.h"
#include "onramp/error.h"
#include "onramp/p256.h"
#include "onramp/pop.h"

static int usage(void)
{
    fputs("usage: onr_test_pop new-key KEYFILE\n"
          "       onr_test_pop proof KEYFILE BROKER_NAME [CLIENT_ID [TIMESTAMP]]\n",
          stderr);
    return 2;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "onr_test_pop: %s: %s\n", what, onr_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    struct onr_p256_key *key = NULL;
    uint8_t pub[ONR_P256_PUB_LEN];
    uint8_t proof[ONR_POP_LEN];
    char id[ONR_DEVID_LEN + 1];
    const char *client_id;
    uint64_t now = (uint64_t)time(NULL);
    int rc;

    if (argc == 3 && strcmp(argv[1], "new-key") == 0) {
        rc = onr_p256_generate(&key);
        if (rc == ONR_OK)
            rc = onr_p256_save(key, argv[2]);
    } else if ((argc >= 4 && argc <= 6) && strcmp(argv[1], "proof") == 0) {
        rc = onr_p256_load(argv[2], &key);
    } else {
        return usage();
    }
    if (rc != ONR_OK)
        return fail(argv[2], rc);
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = onr_devid_from_public(pub, id);
    if (rc != ONR_OK) {
        onr_p256_free(key);
        return fail("device id", rc);
    }
    if (strcmp(argv[1], "new-key") == 0) {
        printf("%s\n", id);
        onr_p256_free(key);
        return 0;
    }
    client_id = argc >= 5 ? argv[4] : id;
    if (argc == 6)
        now = strtoull(argv[5], NULL, 10);
    rc = onr_pop_encode(key, (struct onr_bytes){(const uint8_t *)client_id, strlen(client_id)},
                        (struct onr_bytes){(const uint8_t *)argv[3], strlen(argv[3])}, now, proof);
    onr_p256_free(key);
    if (rc != ONR_OK)
        return fail("proof", rc);
    for (size_t i = 0; i < sizeof(proof); i++)
        printf("%02x", proof[i]);
    putchar('\n');
    return 0;
}
