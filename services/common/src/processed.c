/* The dedup outbox (see processed.h). */
#include "processed.h"

#include <string.h>

#include "onramp/error.h"

int processed_get(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16], char *topic,
                  size_t topic_cap, uint8_t *answer, size_t *answer_len)
{
    size_t topic_len = 0;
    int rc;

    if (topic == NULL || topic_cap == 0 || answer == NULL || answer_len == NULL || id == NULL)
        return ONR_EINVAL;
    /* "" (a message answered with nothing) may read back as NULL: ANY */
    rc = onr_db_get(db, "SELECT topic, answer FROM processed WHERE sender = ?1 AND msg_id = ?2",
                    ONR_DB_ARGS(ONR_DB_TEXTN(sender.ptr, sender.len), ONR_DB_BLOB(id, 16)),
                    ONR_DB_COLS(ONR_DB_OUT_ANY(topic, topic_cap - 1, &topic_len),
                                ONR_DB_OUT_ANY(answer, *answer_len, answer_len)));
    if (rc == ONR_OK)
        topic[topic_len] = '\0';
    return rc;
}

int processed_put(struct onr_db *db, struct onr_bytes sender, const uint8_t id[16],
                  uint64_t now, const char *topic, struct onr_bytes answer)
{
    if (id == NULL || topic == NULL)
        return ONR_EINVAL;
    /* sent with the commit (onr_db_run_later): a row another instance
     * stored meanwhile fails the commit, as outbox.c expects */
    return onr_db_run_later(
        db,
        "INSERT INTO processed (sender, msg_id, at, topic, answer) VALUES (?1, ?2, ?3, ?4, ?5)",
        ONR_DB_ARGS(ONR_DB_TEXTN(sender.ptr, sender.len), ONR_DB_BLOB(id, 16), ONR_DB_INT(now),
                    ONR_DB_STR(topic),
                    ONR_DB_BLOB(answer.ptr != NULL ? answer.ptr : (const void *)"",
                                answer.len)));
}

int processed_prune(struct onr_db *db, uint64_t before)
{
    return onr_db_run(db, "DELETE FROM processed WHERE at < ?1",
                      ONR_DB_ARGS(ONR_DB_INT(before)));
}
