#include "onramp/journey.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "onramp/error.h"

/* Who performs a step. */
#define MFR ONR_ROLE_MANUFACTURER
#define OP ONR_ROLE_OPERATOR
#define PROV ONR_ROLE_PROVIDER
#define DEV ONR_ROLE_DEVICE
/* A said or event word that is the step's name. */
static const char same_as_name[] = "";
#define NAME same_as_name
#define STEP(s) [ONR_JOURNEY_##s]
/* The relocation's steps are not the use case's: the monitor says so. */
#define RELOC "relocation"

/* The journey, in order (journey.h says what each column is). Event NULL:
 * no event announces the step. */
static const struct {
    const char *name;
    const char *state;
    const char *spec;
    enum onr_role party;
    const char *said;
    const char *event;
} steps[ONR_JOURNEY_COUNT] = {
    /*                    name           state               spec  party said         event */
    STEP(MADE)         = {"made",        "FACTORY",          NULL, MFR,  NAME,        NULL},
    STEP(REGISTERING)  = {"registering", "REGISTERING",      "1",  PROV, NAME,        NULL},
    STEP(CLAIMED)      = {"claimed",     "CLAIMED",          "2",  PROV, NAME,        NULL},
    STEP(REGISTERED)   = {"registered",  "REGISTERED",       "2",  MFR,  "assigned",  NAME},
    STEP(VOUCHED)      = {"vouched",     "VOUCHED",          "3b", MFR,  NAME,        "voucher"},
    STEP(PROFILED)     = {"profiled",    "PROFILED",         "3c", OP,   "allocated", "profile"},
    STEP(ATTACHED)     = {"attached",    "NETWORK_ATTACHED", "3c", OP,   NAME,        NAME},
    STEP(ENROLLED)     = {"enrolled",    "ENROLLED",         "4",  PROV, NAME,        NULL},
    STEP(ALIGNED)      = {"aligned",     "ALIGNED",          "5",  PROV, NAME,        NULL},
    STEP(OPERATIONAL)  = {"operational", "OPERATIONAL",      "4",  DEV,  NAME,        NULL},
    /* an operational device's relocation (SPEC section 16) */
    STEP(RELOCATING)   = {"relocating",  "RELOCATING",       RELOC, PROV, NAME,       NAME},
    STEP(RELOCATION_PROFILED)
                       = {"relocation_profiled", "RELOCATION_PROFILED",
                                                             RELOC, OP,   NAME,       NULL},
    STEP(RELOCATED)    = {"relocated",   "RELOCATED",        RELOC, OP,   NAME,       NAME},
};

/* The messages of each step (onr_journey_of_msg). */
static const struct {
    int type;
    enum onr_journey_step step;
} messages[] = {
    {ONR_MSG_PAIRING, ONR_JOURNEY_REGISTERING},
    {ONR_MSG_PAIRED, ONR_JOURNEY_REGISTERING},
    {ONR_MSG_REGISTRATION, ONR_JOURNEY_REGISTERED},
    {ONR_MSG_REGISTERED, ONR_JOURNEY_REGISTERED},
    {ONR_MSG_HELLO, ONR_JOURNEY_VOUCHED},
    {ONR_MSG_VOUCHER, ONR_JOURNEY_VOUCHED},
    {ONR_MSG_VOUCHER_TOKEN, ONR_JOURNEY_VOUCHED},
    {ONR_MSG_PROFILE_REQUEST, ONR_JOURNEY_PROFILED},
    {ONR_MSG_PROFILE, ONR_JOURNEY_PROFILED},
    {ONR_MSG_ATTACH_REQUEST, ONR_JOURNEY_ATTACHED},
    {ONR_MSG_ATTACH_CHALLENGE, ONR_JOURNEY_ATTACHED},
    {ONR_MSG_ATTACH_RESPONSE, ONR_JOURNEY_ATTACHED},
    {ONR_MSG_ATTACH_RESULT, ONR_JOURNEY_ATTACHED},
    {ONR_MSG_APP_KEY, ONR_JOURNEY_ATTACHED},
    {ONR_MSG_ENROLL_REQUEST, ONR_JOURNEY_ENROLLED},
    {ONR_MSG_ENROLL_RESPONSE, ONR_JOURNEY_ENROLLED},
    {ONR_MSG_ALIGNMENT, ONR_JOURNEY_ALIGNED},
    {ONR_MSG_ALIGNED, ONR_JOURNEY_ALIGNED},
    {ONR_MSG_NO_OPERATOR, ONR_JOURNEY_VOUCHED},
    {ONR_MSG_RELOCATION_REQUEST, ONR_JOURNEY_RELOCATING},
    {ONR_MSG_RELOCATE, ONR_JOURNEY_RELOCATING},
    /* a kit's devices claimed in one step */
    {ONR_MSG_KIT_PAIRED, ONR_JOURNEY_REGISTERING},
    {ONR_MSG_KIT_REGISTRATION, ONR_JOURNEY_REGISTERED},
    {ONR_MSG_KIT_REGISTERED, ONR_JOURNEY_REGISTERED},
};

static bool in_range(enum onr_journey_step step)
{
    return (unsigned)step < ONR_JOURNEY_COUNT;
}

const char *onr_journey_name(enum onr_journey_step step)
{
    return in_range(step) ? steps[step].name : ONR_JOURNEY_UNKNOWN;
}

const char *onr_journey_state_name(enum onr_journey_step step)
{
    return in_range(step) ? steps[step].state : "UNKNOWN";
}

const char *onr_journey_spec(enum onr_journey_step step)
{
    return in_range(step) ? steps[step].spec : NULL;
}

enum onr_role onr_journey_party(enum onr_journey_step step)
{
    return in_range(step) ? steps[step].party : (enum onr_role)0;
}

const char *onr_journey_said(enum onr_journey_step step)
{
    if (!in_range(step))
        return ONR_JOURNEY_UNKNOWN;
    return steps[step].said == NAME ? steps[step].name : steps[step].said;
}

const char *onr_journey_event(enum onr_journey_step step)
{
    if (!in_range(step) || steps[step].event == NULL)
        return NULL;
    return steps[step].event == NAME ? steps[step].name : steps[step].event;
}

/* The step whose word `of` returns is `word` (`len` bytes). */
static int find(const char *(*of)(enum onr_journey_step), bool any_case, const char *word,
                size_t len, enum onr_journey_step *out)
{
    if (out == NULL || (word == NULL && len > 0))
        return ONR_EINVAL;
    for (int i = 0; i < ONR_JOURNEY_COUNT; i++) {
        const char *w = of((enum onr_journey_step)i);

        if (w == NULL || strlen(w) != len)
            continue;
        if (any_case ? strncasecmp(w, word, len) == 0 : memcmp(w, word, len) == 0) {
            *out = (enum onr_journey_step)i;
            return ONR_OK;
        }
    }
    return ONR_ENOENT;
}

int onr_journey_from_name(const char *word, size_t len, enum onr_journey_step *out)
{
    return find(onr_journey_name, false, word, len, out);
}

int onr_journey_from_state_name(const char *word, size_t len, enum onr_journey_step *out)
{
    return find(onr_journey_state_name, true, word, len, out);
}

int onr_journey_from_event(const char *word, size_t len, enum onr_journey_step *out)
{
    return find(onr_journey_event, false, word, len, out);
}

int onr_journey_of_msg(int type, enum onr_journey_step *out)
{
    if (out == NULL)
        return ONR_EINVAL;
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        if (messages[i].type == type) {
            *out = messages[i].step;
            return ONR_OK;
        }
    }
    return ONR_ENOENT;
}
