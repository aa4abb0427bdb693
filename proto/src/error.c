#include "onramp/error.h"

const char *onr_strerror(int err)
{
    switch (err) {
    case ONR_OK:
        return "success";
#define ONR_ERROR_MESSAGE(name, num, msg)                                    \
    case ONR_##name:                                                         \
        return msg;
        ONR_ERROR_LIST(ONR_ERROR_MESSAGE)
#undef ONR_ERROR_MESSAGE
    default:
        return "unknown error";
    }
}

const char *onr_error_name(int err)
{
    switch (err) {
    case ONR_OK:
        return "OK";
#define ONR_ERROR_NAME(name, num, msg)                                       \
    case ONR_##name:                                                         \
        return #name;
        ONR_ERROR_LIST(ONR_ERROR_NAME)
#undef ONR_ERROR_NAME
    default:
        return "UNKNOWN";
    }
}
