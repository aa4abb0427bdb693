/* The operator's number pool (see pool.h). */
#include "pool.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "onramp/error.h"

uint64_t op_pool_size(const struct op_ranges *r)
{
    uint64_t imsis = r->imsi_last - r->imsi_first + 1;
    uint64_t iccids = r->iccid_last - r->iccid_first + 1;

    return imsis < iccids ? imsis : iccids;
}

char op_luhn(const char *body)
{
    unsigned sum = 0;
    size_t n = strlen(body);

    /* from the right, every other digit doubled, the rightmost first: the
     * check digit will stand to its right */
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(body[n - 1 - i] - '0');

        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

int op_pool_take(struct onr_db *db, const struct op_ranges *r, uint64_t *slot, char imsi[16],
                 char iccid[21])
{
    char body[20];
    /* one statement takes the slot: two instances sharing the database
     * queue on the row and each gets its own (a read, then a write, would
     * let both read the same) */
    int rc = onr_db_get(db, "UPDATE pool SET next = next + 1 WHERE next < ?1"
                            " RETURNING next - 1",
                        ONR_DB_ARGS(ONR_DB_INT(op_pool_size(r))),
                        ONR_DB_COLS(ONR_DB_OUT_U64(slot)));

    if (rc == ONR_ENOENT)
        return ONR_EEXHAUSTED; /* the pool row is part of the schema: at its end */
    if (rc != ONR_OK)
        return rc;
    snprintf(imsi, 16, "%0*" PRIu64, (int)r->imsi_digits, r->imsi_first + *slot);
    snprintf(body, sizeof(body), "%0*" PRIu64, (int)r->iccid_digits, r->iccid_first + *slot);
    snprintf(iccid, 21, "%s%c", body, op_luhn(body));
    return ONR_OK;
}
