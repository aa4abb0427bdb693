#include "testutil.h"

#include <string.h>

#include "onramp/error.h"
#include "onramp/journey.h"

/* What a device writes in its "journey" file and prints: a device minted
 * before must read its state back after an upgrade. */
static void test_journey_device_state_names(void **state)
{
    static const struct {
        enum onr_journey_step step;
        const char *state;
    } device[] = {
        {ONR_JOURNEY_MADE, "FACTORY"},         {ONR_JOURNEY_VOUCHED, "VOUCHED"},
        {ONR_JOURNEY_PROFILED, "PROFILED"},    {ONR_JOURNEY_ATTACHED, "NETWORK_ATTACHED"},
        {ONR_JOURNEY_ENROLLED, "ENROLLED"},    {ONR_JOURNEY_OPERATIONAL, "OPERATIONAL"},
        /* a relocation's (SPEC section 16) */
        {ONR_JOURNEY_RELOCATING, "RELOCATING"},
        {ONR_JOURNEY_RELOCATION_PROFILED, "RELOCATION_PROFILED"},
        {ONR_JOURNEY_RELOCATED, "RELOCATED"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(device) / sizeof(device[0]); i++) {
        assert_string_equal(onr_journey_state_name(device[i].step), device[i].state);
        if (i > 0)
            assert_true(device[i].step > device[i - 1].step); /* in journey order */
    }
    assert_string_equal(onr_journey_state_name(ONR_JOURNEY_COUNT), "UNKNOWN");
    assert_string_equal(onr_journey_state_name((enum onr_journey_step)-1), "UNKNOWN");
}

/* The provider page's steps and states (its JSON API and its script). */
static void test_journey_provider_page_words(void **state)
{
    static const struct {
        enum onr_journey_step step;
        const char *name;
        const char *state;
    } page[] = {
        {ONR_JOURNEY_REGISTERING, "registering", "REGISTERING"},
        {ONR_JOURNEY_CLAIMED, "claimed", "CLAIMED"},
        {ONR_JOURNEY_ATTACHED, "attached", "NETWORK_ATTACHED"},
        {ONR_JOURNEY_ENROLLED, "enrolled", "ENROLLED"},
        {ONR_JOURNEY_OPERATIONAL, "operational", "OPERATIONAL"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(page) / sizeof(page[0]); i++) {
        assert_string_equal(onr_journey_name(page[i].step), page[i].name);
        assert_string_equal(onr_journey_said(page[i].step), page[i].name);
        assert_string_equal(onr_journey_state_name(page[i].step), page[i].state);
    }
    assert_string_equal(ONR_JOURNEY_UNCLAIMED, "UNCLAIMED");
}

/* onrampctl status prints one row per time field of SPEC type 31, in
 * this order: the steps from CLAIMED to the end of onboarding; then the
 * relocation's steps. */
static void test_journey_status_rows_in_order(void **state)
{
    static const char *const rows[] = {"claimed",    "registered", "vouched",
                                       "profiled",   "attached",   "enrolled",
                                       "aligned",    "operational", "relocating",
                                       "relocation_profiled",       "relocated"};

    (void)state;
    assert_int_equal(ONR_JOURNEY_ONBOARDED, ONR_JOURNEY_OPERATIONAL);
    assert_int_equal(ONR_JOURNEY_COUNT - ONR_JOURNEY_CLAIMED, sizeof(rows) / sizeof(rows[0]));
    for (int s = ONR_JOURNEY_CLAIMED; s < ONR_JOURNEY_COUNT; s++)
        assert_string_equal(onr_journey_name((enum onr_journey_step)s),
                            rows[s - ONR_JOURNEY_CLAIMED]);
    assert_string_equal(onr_journey_name(ONR_JOURNEY_MADE), "made");
    assert_string_equal(onr_journey_name(ONR_JOURNEY_COUNT), ONR_JOURNEY_UNKNOWN);
}

/* SPEC type 31: each service's own word for where a device is. */
static void test_journey_status_words_per_party(void **state)
{
    (void)state;
    /* manufacturer: unknown, made, waiting, assigned */
    assert_string_equal(onr_journey_said(ONR_JOURNEY_MADE), "made");
    assert_string_equal(onr_journey_said(ONR_JOURNEY_REGISTERED), "assigned");
    assert_string_equal(ONR_JOURNEY_WAITING, "waiting");
    assert_string_equal(ONR_JOURNEY_UNKNOWN, "unknown");
    /* operator: allocated, attached, aligned, suspended */
    assert_string_equal(onr_journey_said(ONR_JOURNEY_PROFILED), "allocated");
    assert_string_equal(onr_journey_said(ONR_JOURNEY_ATTACHED), "attached");
    assert_string_equal(onr_journey_said(ONR_JOURNEY_ALIGNED), "aligned");
    assert_string_equal(ONR_JOURNEY_SUSPENDED, "suspended");
    /* provider: relocating (SPEC section 16) */
    assert_string_equal(onr_journey_said(ONR_JOURNEY_RELOCATING), "relocating");
    assert_string_equal(onr_journey_said((enum onr_journey_step)99), ONR_JOURNEY_UNKNOWN);
}

static void test_journey_spec_steps_and_parties(void **state)
{
    static const struct {
        const char *spec;
        enum onr_role party;
    } want[ONR_JOURNEY_COUNT] = {
        [ONR_JOURNEY_MADE] = {NULL, ONR_ROLE_MANUFACTURER},
        [ONR_JOURNEY_REGISTERING] = {"1", ONR_ROLE_PROVIDER},
        [ONR_JOURNEY_CLAIMED] = {"2", ONR_ROLE_PROVIDER},
        [ONR_JOURNEY_REGISTERED] = {"2", ONR_ROLE_MANUFACTURER},
        [ONR_JOURNEY_VOUCHED] = {"3b", ONR_ROLE_MANUFACTURER},
        [ONR_JOURNEY_PROFILED] = {"3c", ONR_ROLE_OPERATOR},
        [ONR_JOURNEY_ATTACHED] = {"3c", ONR_ROLE_OPERATOR},
        [ONR_JOURNEY_ENROLLED] = {"4", ONR_ROLE_PROVIDER},
        [ONR_JOURNEY_ALIGNED] = {"5", ONR_ROLE_PROVIDER},
        [ONR_JOURNEY_OPERATIONAL] = {"4", ONR_ROLE_DEVICE},
        [ONR_JOURNEY_RELOCATING] = {"relocation", ONR_ROLE_PROVIDER},
        [ONR_JOURNEY_RELOCATION_PROFILED] = {"relocation", ONR_ROLE_OPERATOR},
        [ONR_JOURNEY_RELOCATED] = {"relocation", ONR_ROLE_OPERATOR},
    };

    (void)state;
    for (int s = 0; s < ONR_JOURNEY_COUNT; s++) {
        if (want[s].spec == NULL)
            assert_null(onr_journey_spec((enum onr_journey_step)s));
        else
            assert_string_equal(onr_journey_spec((enum onr_journey_step)s), want[s].spec);
        assert_int_equal(onr_journey_party((enum onr_journey_step)s), want[s].party);
    }
    assert_null(onr_journey_spec(ONR_JOURNEY_COUNT));
    assert_int_equal(onr_journey_party(ONR_JOURNEY_COUNT), 0);
}

/* SPEC type 26: the events' step words, and nothing else announced. */
static void test_journey_events(void **state)
{
    static const struct {
        const char *word;
        enum onr_journey_step step;
    } events[] = {{"voucher", ONR_JOURNEY_VOUCHED},
                  {"registered", ONR_JOURNEY_REGISTERED},
                  {"profile", ONR_JOURNEY_PROFILED},
                  {"attached", ONR_JOURNEY_ATTACHED},
                  {"relocating", ONR_JOURNEY_RELOCATING},
                  {"relocated", ONR_JOURNEY_RELOCATED}};
    enum onr_journey_step s;
    int announced = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        assert_string_equal(onr_journey_event(events[i].step), events[i].word);
        assert_onr(ONR_OK, onr_journey_from_event(events[i].word, strlen(events[i].word), &s));
        assert_int_equal(s, events[i].step);
    }
    for (int i = 0; i < ONR_JOURNEY_COUNT; i++)
        announced += onr_journey_event((enum onr_journey_step)i) != NULL;
    assert_int_equal(announced, 6);
    assert_null(onr_journey_event(ONR_JOURNEY_COUNT));
    assert_onr(ONR_ENOENT, onr_journey_from_event("vouched", 7, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_event("Voucher", 7, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_event("", 0, &s));
}

static void test_journey_reverse_lookups(void **state)
{
    enum onr_journey_step s;

    (void)state;
    for (int i = 0; i < ONR_JOURNEY_COUNT; i++) {
        const char *name = onr_journey_name((enum onr_journey_step)i);
        const char *upper = onr_journey_state_name((enum onr_journey_step)i);

        assert_onr(ONR_OK, onr_journey_from_name(name, strlen(name), &s));
        assert_int_equal(s, i); /* names are unique */
        assert_onr(ONR_OK, onr_journey_from_state_name(upper, strlen(upper), &s));
        assert_int_equal(s, i);
    }
    /* state names in any case, as the device reads its journey file */
    assert_onr(ONR_OK, onr_journey_from_state_name("network_attached", 16, &s));
    assert_int_equal(s, ONR_JOURNEY_ATTACHED);
    assert_onr(ONR_OK, onr_journey_from_state_name("Factory", 7, &s));
    assert_int_equal(s, ONR_JOURNEY_MADE);
    /* names exactly */
    assert_onr(ONR_ENOENT, onr_journey_from_name("VOUCHED", 7, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_name("unknown", 7, &s));
    /* the length bounds the word: no NUL needed, nothing past it read */
    assert_onr(ONR_OK, onr_journey_from_name("vouchedX", 7, &s));
    assert_int_equal(s, ONR_JOURNEY_VOUCHED);
    assert_onr(ONR_ENOENT, onr_journey_from_name("vouched", 6, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_state_name("VOUCHED\n", 8, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_state_name("VOUCH\0ED", 8, &s));
    assert_onr(ONR_ENOENT, onr_journey_from_state_name("", 0, &s));
    assert_onr(ONR_EINVAL, onr_journey_from_name(NULL, 3, &s));
    assert_onr(ONR_EINVAL, onr_journey_from_state_name("FACTORY", 7, NULL));
    assert_onr(ONR_EINVAL, onr_journey_from_event("voucher", 7, NULL));
}

/* Every message type belongs to the step the monitor prints for it, or to
 * none. */
static void test_journey_of_every_message_type(void **state)
{
    enum onr_journey_step want[ONR_MSG_PROFILE_CONTENT + 1];
    enum onr_journey_step s;

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        want[i] = ONR_JOURNEY_COUNT; /* none */
    want[ONR_MSG_PAIRING] = want[ONR_MSG_PAIRED] = ONR_JOURNEY_REGISTERING;
    want[ONR_MSG_REGISTRATION] = want[ONR_MSG_REGISTERED] = ONR_JOURNEY_REGISTERED;
    want[ONR_MSG_HELLO] = want[ONR_MSG_VOUCHER] = want[ONR_MSG_VOUCHER_TOKEN] =
        ONR_JOURNEY_VOUCHED;
    want[ONR_MSG_PROFILE_REQUEST] = want[ONR_MSG_PROFILE] = ONR_JOURNEY_PROFILED;
    want[ONR_MSG_ATTACH_REQUEST] = want[ONR_MSG_ATTACH_CHALLENGE] =
        want[ONR_MSG_ATTACH_RESPONSE] = want[ONR_MSG_ATTACH_RESULT] = want[ONR_MSG_APP_KEY] =
            ONR_JOURNEY_ATTACHED;
    want[ONR_MSG_ENROLL_REQUEST] = want[ONR_MSG_ENROLL_RESPONSE] = ONR_JOURNEY_ENROLLED;
    want[ONR_MSG_ALIGNMENT] = want[ONR_MSG_ALIGNED] = ONR_JOURNEY_ALIGNED;
    want[ONR_MSG_NO_OPERATOR] = ONR_JOURNEY_VOUCHED; /* a hello's answer */
    want[ONR_MSG_RELOCATION_REQUEST] = want[ONR_MSG_RELOCATE] = ONR_JOURNEY_RELOCATING;
    /* a kit's pairing and registration are its devices' */
    want[ONR_MSG_KIT_PAIRED] = ONR_JOURNEY_REGISTERING;
    want[ONR_MSG_KIT_REGISTRATION] = want[ONR_MSG_KIT_REGISTERED] = ONR_JOURNEY_REGISTERED;
    for (int type = -1; type <= ONR_MSG_PROFILE_CONTENT; type++) {
        int rc = onr_journey_of_msg(type, &s);

        if (type < 0 || want[type] == ONR_JOURNEY_COUNT) {
            assert_onr(ONR_ENOENT, rc);
            continue;
        }
        assert_onr(ONR_OK, rc);
        assert_int_equal(s, want[type]);
    }
    assert_onr(ONR_EINVAL, onr_journey_of_msg(ONR_MSG_HELLO, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journey_device_state_names),
        cmocka_unit_test(test_journey_provider_page_words),
        cmocka_unit_test(test_journey_status_rows_in_order),
        cmocka_unit_test(test_journey_status_words_per_party),
        cmocka_unit_test(test_journey_spec_steps_and_parties),
        cmocka_unit_test(test_journey_events),
        cmocka_unit_test(test_journey_reverse_lookups),
        cmocka_unit_test(test_journey_of_every_message_type),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
