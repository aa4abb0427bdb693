/*
 * The operator's number pool: the IMSI and ICCID ranges subscriptions are
 * drawn from, as configured, and the next slot to hand out (the table
 * `pool`, one row). ICCIDs are configured without their Luhn check digit,
 * which is appended.
 */
#ifndef ONRAMP_OP_POOL_H
#define ONRAMP_OP_POOL_H

#include <stdint.h>

#include "onramp/svc_db.h"

struct op_ranges {
    uint64_t imsi_first, imsi_last;
    unsigned imsi_digits;  /* 6..15 */
    uint64_t iccid_first, iccid_last;
    unsigned iccid_digits; /* 18..19, the check digit excluded */
};

/* op_pool_size: how many subscriptions the ranges hold. */
uint64_t op_pool_size(const struct op_ranges *r);

/* op_luhn: the Luhn check digit ('0'..'9') of the digits `body`. */
char op_luhn(const char *body);

/* op_pool_take: the next slot, taken, and its numbers (inside the
 * caller's transaction, which serialises writers). ONR_OK,
 * ONR_EEXHAUSTED, or the database's errors. */
int op_pool_take(struct onr_db *db, const struct op_ranges *r, uint64_t *slot, char imsi[16],
                 char iccid[21]);

#endif
