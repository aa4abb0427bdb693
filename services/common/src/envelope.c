/*
 * The envelopes a service signs (seal, error) and the checks of the ones
 * it receives that every service makes alike: freshness and replay, a
 * device's own topic, a peer's signature.
 */
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/journey.h"
#include "service_internal.h"

int onr_service_accept(struct onr_service *svc, const struct onr_envelope *env)
{
    return onr_envelope_accept(env, svc->clock(), svc->freshness, svc->replay);
}

int onr_service_seal(struct onr_service *svc, const struct onr_msg *msg, const char *topic,
                     struct onr_publication *pub, uint8_t id_out[ONR_MSG_ID_LEN])
{
    struct onr_envelope_signer self = {
        .role = svc->def->sender_role,
        .sender = {(const uint8_t *)svc->id, strlen(svc->id)},
        .key = svc->signing_key,
    };

    if (strlen(topic) > ONR_TOPIC_MAX)
        return ONR_EINVAL;
    snprintf(pub->topic, sizeof(pub->topic), "%s", topic);
    return onr_envelope_encode(msg, &self, (struct onr_bytes){(const uint8_t *)topic,
                                                              strlen(topic)},
                               svc->clock(), pub->payload, sizeof(pub->payload), &pub->len,
                               id_out);
}

int onr_service_error_re(struct onr_service *svc, const uint8_t re[ONR_MSG_ID_LEN], int code,
                         const char *topic, struct onr_publication *pub)
{
    const char *reason = onr_strerror(code);
    struct onr_msg msg = {.type = ONR_MSG_ERROR};

    if (pub == NULL)
        return ONR_ESPACE;
    msg.body.error.re = (struct onr_bytes){re, ONR_MSG_ID_LEN};
    msg.body.error.code = (uint64_t)(code < 0 ? -code : code);
    msg.body.error.reason = (struct onr_bytes){(const uint8_t *)reason, strlen(reason)};
    return onr_service_seal(svc, &msg, topic, pub, NULL);
}

int onr_service_error(struct onr_service *svc, const struct onr_envelope *env, int code,
                      const char *topic, struct onr_publication *pub)
{
    return onr_service_error_re(svc, env->id, code, topic, pub);
}

int onr_service_event(struct onr_service *svc, const char *dev, enum onr_journey_step step,
                      struct onr_publication *pub)
{
    struct onr_msg msg = {.type = ONR_MSG_EVENT};
    const char *word = onr_journey_event(step);
    char topic[ONR_TOPIC_MAX + 1];
    int rc;

    if (pub == NULL)
        return ONR_ESPACE;
    if (word == NULL)
        return ONR_EINVAL; /* no event announces that step */
    rc = onr_topic_ev(svc->def->sender_role, svc->id, topic, sizeof(topic));
    msg.body.event = (struct onr_msg_event){
        .dev = {(const uint8_t *)dev, strlen(dev)},
        .step = {(const uint8_t *)word, strlen(word)},
    };
    return rc == ONR_OK ? onr_service_seal(svc, &msg, topic, pub, NULL) : rc;
}

int onr_service_from_device(const char *topic, const struct onr_envelope *env,
                            char dev[ONR_DEVID_LEN + 1])
{
    struct onr_topic t;

    if (onr_topic_parse(topic, strlen(topic), &t) != ONR_OK || t.kind != ONR_TOPIC_KIND_UP ||
        env->sender_role != ONR_ROLE_DEVICE || env->sender.len != ONR_DEVID_LEN ||
        memcmp(env->sender.ptr, t.dev, ONR_DEVID_LEN) != 0)
        return ONR_EDENIED;
    memcpy(dev, t.dev, ONR_DEVID_LEN + 1);
    return ONR_OK;
}

int onr_service_from_peer(struct onr_service *svc, const struct onr_envelope *env,
                          const char *topic, const struct onr_peers *peers, enum onr_role role,
                          const struct onr_peer **peer)
{
    const struct onr_peer *p = onr_peer_find(peers, env->sender.ptr, env->sender.len);
    int rc;

    *peer = p;
    if (p == NULL || env->sender_role != role)
        return ONR_EDENIED; /* no key to verify it with */
    rc = onr_envelope_verify_sig(env, (struct onr_bytes){(const uint8_t *)topic, strlen(topic)},
                                 p->key);
    if (rc == ONR_OK)
        rc = onr_service_accept(svc, env);
    return rc == ONR_EREPLAY ? ONR_OK : rc;
}
