#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "topology.h"

/* A small fabric every refusal below changes one thing of. */
#define HOSTS                                                                                \
    "host h1 address=192.0.2.1 dns=broker.example.net\n"                                    \
    "host h2 address=192.0.2.2\n"
#define BROKER "broker b1 host=h1\n"
#define PARTIES                                                                              \
    "manufacturer acme host=h2\n"                                                            \
    "provider prov-a host=h2\n"                                                              \
    "operator op-1 host=h2 plmn=00101 apn=iot.example imsi=001010000000001-001010000099999 " \
    "iccid=894900100000000001-894900100000099999\n"                                          \
    "contract prov-a op-1\n"

static struct adm_topology *parse_ok(const char *text)
{
    struct adm_topology *t = NULL;
    struct adm_error err;
    int rc = adm_topology_parse(text, strlen(text), &t, &err);

    if (rc != ONR_OK)
        fail_msg("refused at line %zu: %s", err.line, err.reason);
    assert_non_null(t);
    return t;
}

/* `text` is refused at `line` with a reason containing `reason`. */
static void refused(const char *text, size_t line, const char *reason)
{
    struct adm_topology *t = NULL;
    struct adm_error err;
    int rc = adm_topology_parse(text, strlen(text), &t, &err);

    if (rc != ONR_EFORMAT || err.line != line || strstr(err.reason, reason) == NULL)
        fail_msg("want line %zu '%s', got %s at line %zu: '%s'", line, reason,
                 onr_error_name(rc), err.line, err.reason);
    assert_null(t);
}

static void test_admin_topology_reads_a_whole_fabric(void **state)
{
    struct adm_topology *t;

    (void)state;
    t = parse_ok("# the example fabric\n"
                 "\n" HOSTS "host h3\r\n" /* CRLF too */
                 "broker b1 host=h1 bootstrap_port=18883 services_port=18884 "
                 "service_port=18885 bind=192.0.2.1 plugin=/opt/onramp_plugin.so "
                 "nofile=20000  # trailing comment\n"
                 "manufacturer acme host=h2 instances=1\n"
                 "provider prov-a host=h2 pairing_port=8080 endpoint_broker=b1 "
                 "default_operator=op-2 pairing_origin=https://pair.example.net\n"
                 "operator op-1 host=h2 plmn=00101 apn=iot.example amf=8000 "
                 "imsi=001010000000001-001010000099999 "
                 "iccid=894900100000000001-894900100000099999\n"
                 "operator op-2 host=h3 plmn=001002 apn=x imsi=001002000001-001002999999 "
                 "iccid=8949001000000000001-8949001000000000009\n"
                 "contract prov-a op-1\n"
                 "contract prov-a op-2\n"
                 "plan prov-a * 5 standard 0\n"
                 "plan prov-a gold@example 9 gold 10000000000\n"
                 "control admin host=h3\n"
                 "monitor noc host=h3\n"
                 "\tstorage postgres host=h3 port=5433\n");
    assert_int_equal(t->n_hosts, 3);
    assert_string_equal(t->hosts[0].dns, "broker.example.net");
    assert_string_equal(t->hosts[1].address, "192.0.2.2");
    assert_string_equal(t->hosts[2].address, "");
    assert_int_equal(t->n_brokers, 1);
    assert_int_equal(t->brokers[0].host, 0);
    assert_int_equal(t->brokers[0].bootstrap_port, 18883);
    assert_int_equal(t->brokers[0].services_port, 18884);
    assert_int_equal(t->brokers[0].service_port, 18885);
    assert_string_equal(t->brokers[0].bind, "192.0.2.1");
    assert_string_equal(t->brokers[0].plugin, "/opt/onramp_plugin.so");
    assert_int_equal(t->brokers[0].nofile, 20000);
    assert_int_equal(t->n_parties, 6);
    assert_int_equal(t->parties[1].role, ADM_PROVIDER);
    assert_int_equal(t->parties[1].pairing_port, 8080);
    assert_string_equal(t->parties[1].pairing_origin, "https://pair.example.net");
    assert_string_equal(t->parties[t->parties[1].default_operator].id, "op-2");
    assert_int_equal(t->parties[1].endpoint_broker, 0);
    assert_string_equal(t->parties[2].imsi_first, "001010000000001");
    assert_string_equal(t->parties[2].iccid_last, "894900100000099999");
    assert_string_equal(t->parties[2].amf, "8000");
    assert_string_equal(t->parties[3].amf, "");
    assert_int_equal(t->parties[3].host, 2);
    assert_int_equal(t->n_contracts, 2);
    assert_true(adm_has_contract(t, 1, 3));
    assert_false(adm_has_contract(t, 1, 0));
    assert_int_equal(t->n_plans, 2);
    assert_string_equal(t->plans[1].account, "gold@example");
    assert_int_equal(t->plans[1].qos, 9);
    assert_true(t->plans[1].cap == 10000000000ull);
    assert_int_equal(t->parties[4].role, ADM_CONTROL);
    assert_int_equal(t->parties[5].role, ADM_MONITOR);
    assert_true(t->storage.postgres);
    assert_int_equal(t->storage.port, 5433);
    assert_int_equal(t->storage.host, 2);
    adm_topology_free(t);
}

static void test_admin_topology_defaults(void **state)
{
    struct adm_topology *t;

    (void)state;
    t = parse_ok(HOSTS BROKER PARTIES);
    assert_int_equal(t->brokers[0].bootstrap_port, 8883);
    assert_int_equal(t->brokers[0].services_port, 8884);
    assert_int_equal(t->brokers[0].service_port, 8885);
    assert_string_equal(t->brokers[0].bind, "");
    assert_string_equal(t->brokers[0].plugin, "");
    assert_int_equal(t->brokers[0].nofile, 100000);
    /* the default operator is the first contract's */
    assert_string_equal(t->parties[t->parties[1].default_operator].id, "op-1");
    assert_int_equal(t->parties[1].pairing_port, 0);
    assert_false(t->storage.postgres);
    assert_int_equal(t->storage.line, 0);
    adm_topology_free(t);
    /* an empty topology is a fabric of nothing; hosts alone need no broker */
    t = parse_ok("");
    adm_topology_free(t);
    t = parse_ok("# nothing\n\n   \nhost h1\nstorage sqlite\n");
    assert_int_equal(t->storage.line, 5);
    adm_topology_free(t);
}

static void test_admin_topology_refuses_inconsistencies_with_their_line(void **state)
{
    (void)state;
    /* an operator a provider has no contract with */
    refused(HOSTS BROKER "manufacturer acme host=h2\n"
                         "provider prov-a host=h2 default_operator=op-2\n"
                         "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000001-00101000009 "
                         "iccid=894900100000000001-894900100000000009\n"
                         "operator op-2 host=h2 plmn=00102 apn=a imsi=00102000001-00102000009 "
                         "iccid=894900100000000001-894900100000000009\n"
                         "contract prov-a op-1\n",
            5, "default_operator op-2 has no contract with it");
    refused(HOSTS BROKER "provider prov-a host=h2\n", 4,
            "provider 'prov-a' has no contract with any operator");
    /* a duplicate broker name, a duplicate id */
    refused(HOSTS BROKER "broker b1 host=h2\n", 4, "duplicate broker 'b1' (first on line 3)");
    refused(HOSTS BROKER PARTIES "monitor acme host=h1\n", 8,
            "duplicate id 'acme' (the manufacturer on line 4)");
    refused(HOSTS BROKER PARTIES "control op-1 host=h1\n", 8,
            "duplicate id 'op-1' (the operator on line 6)");
    refused(HOSTS "host h1\n", 3, "duplicate host 'h1' (first on line 1)");
    /* a missing host */
    refused(HOSTS BROKER "manufacturer acme host=h9\n", 4,
            "host 'h9' is not declared (add a line 'host h9')");
    refused(HOSTS "broker b1 host=nowhere\n", 3, "host 'nowhere' is not declared");
    refused(HOSTS BROKER "manufacturer acme\n", 4, "manufacturer: host=HOST is required");
    /* a port clash on one host */
    refused(HOSTS "broker b1 host=h1 services_port=8883\n", 3,
            "port 8883 on host 'h1' is already used by broker 'b1' (bootstrap_port)");
    refused(HOSTS BROKER "manufacturer acme host=h2\n"
                         "provider prov-a host=h1 pairing_port=8885\n"
                         "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000001-00101000009 "
                         "iccid=894900100000000001-894900100000000009\n"
                         "contract prov-a op-1\n",
            5, "port 8885 on host 'h1' is already used by broker 'b1' (service_port) (line 3)");
    refused(HOSTS BROKER PARTIES "storage postgres host=h1 port=8884\n", 8,
            "port 8884 on host 'h1' is already used by broker 'b1' (services_port)");
    /* the same port on two hosts is fine */
    adm_topology_free(parse_ok(HOSTS BROKER "manufacturer acme host=h2\n"
                                            "provider prov-a host=h2 pairing_port=8885\n"
                                            "operator op-1 host=h2 plmn=00101 apn=a "
                                            "imsi=00101000001-00101000009 "
                                            "iccid=894900100000000001-894900100000000009\n"
                                            "contract prov-a op-1\n"));
    /* an unknown key, an unknown keyword */
    refused(HOSTS "broker b1 host=h1 colour=blue\n", 3, "unknown key 'colour' for broker");
    refused(HOSTS BROKER "manufacturer acme host=h2 plmn=00101\n", 4,
            "unknown key 'plmn' for manufacturer");
    refused(HOSTS "brokr b1 host=h1\n", 3, "unknown keyword 'brokr'");
    /* a broker the services need, reachable */
    refused(HOSTS "manufacturer acme host=h2\n", 3, "manufacturer 'acme' needs a broker");
    refused("host h1\nbroker b1 host=h1\n", 2,
            "broker 'b1': its host 'h1' (line 1) has neither address= nor dns=");
    /* names that are not what they should be */
    refused(HOSTS BROKER PARTIES "contract acme op-1\n", 8,
            "contract: 'acme' is a manufacturer (line 4), not a provider");
    refused(HOSTS BROKER PARTIES "contract prov-a op-9\n", 8, "contract: no operator 'op-9'");
    refused(HOSTS BROKER PARTIES "contract prov-a op-1\n", 8,
            "contract prov-a op-1 given twice (first on line 7)");
    refused(HOSTS BROKER PARTIES "plan prov-b * 1 x 0\n", 8, "plan: no provider 'prov-b'");
    refused(HOSTS BROKER PARTIES "plan prov-a * 1 x 0\nplan prov-a * 2 y 0\n", 9,
            "plan prov-a * given twice (first on line 8)");
    refused(HOSTS BROKER "manufacturer acme host=h2\n"
                         "provider prov-a host=h2 endpoint_broker=b2\n",
            5, "endpoint_broker=: no broker 'b2'");
    refused(HOSTS BROKER "manufacturer acme host=h2\n"
                         "provider prov-a host=h2 default_operator=acme\n",
            5, "default_operator=: 'acme' is a manufacturer (line 4), not an operator");
}

static void test_admin_topology_refuses_bad_values(void **state)
{
    (void)state;
    refused("host H1\n", 1, "host 'H1': a name is");
    refused("host h1 address=300.1.1.1\n", 1, "address=300.1.1.1: not an IPv4 or IPv6");
    refused("host h1 dns=-bad.example\n", 1, "dns=-bad.example: not a DNS name");
    refused("host h1 dns=Upper.example\n", 1, "not a DNS name");
    refused("host h1 dns=a..b\n", 1, "not a DNS name");
    refused(HOSTS "broker b1 host=h1 bootstrap_port=0\n", 3, "bootstrap_port=0: a port number");
    refused(HOSTS "broker b1 host=h1 services_port=65536\n", 3, "services_port=65536");
    refused(HOSTS "broker b1 host=h1 service_port=08885\n", 3, "service_port=08885");
    refused(HOSTS "broker b1 host=h1 bind=localhost\n", 3, "bind=localhost: not an IPv4");
    refused(HOSTS "broker b1 host=h1 plugin=relative.so\n", 3, "plugin=relative.so: an absolute");
    refused(HOSTS "broker b1 host=h1 nofile=10\n", 3, "nofile=10: open files 1024..1048576");
    refused(HOSTS "broker B1 host=h1\n", 3, "broker 'B1': a name is");
    refused(HOSTS BROKER "manufacturer -acme host=h2\n", 4, "manufacturer '-acme': an id is");
    refused(HOSTS BROKER "manufacturer "
                         "a123456789012345678901234567890123 host=h2\n",
            4, "an id is");
    refused(HOSTS BROKER "operator op-1 host=h2 apn=a imsi=1-2 iccid=3-4\n", 4,
            "plmn=MCCMNC (5 or 6 digits) is required");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 imsi=1-2 iccid=3-4\n", 4,
            "apn=APN (1 to 100 visible characters) is required");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a amf=80 imsi=1-2 iccid=3-4\n",
            4, "amf=80: 4 hex digits");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a "
                         "iccid=894900100000000001-894900100000000009\n",
            4, "imsi=FIRST-LAST is required");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000001 "
                         "iccid=894900100000000001-894900100000000009\n",
            4, "imsi=00101000001: want FIRST-LAST");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000001-0010100009 "
                         "iccid=894900100000000001-894900100000000009\n",
            4, "the same number of them");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000009-00101000001 "
                         "iccid=894900100000000001-894900100000000009\n",
            4, "FIRST is above LAST");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a imsi=00102000001-00102000009 "
                         "iccid=894900100000000001-894900100000000009\n",
            4, "every IMSI starts with the PLMN 00101");
    refused(HOSTS BROKER "operator op-1 host=h2 plmn=00101 apn=a imsi=00101000001-00101000009 "
                         "iccid=8949001-8949009\n",
            4, "iccid=8949001-8949009: FIRST and LAST are 18 to 19 digits");
    refused(HOSTS BROKER PARTIES "plan prov-a * 256 x 0\n", 8, "QOS '256': a class 0..255");
    refused(HOSTS BROKER PARTIES "plan prov-a * 1 X 0\n", 8, "CHARGING 'X': an id");
    refused(HOSTS BROKER PARTIES "plan prov-a * 1 x -1\n", 8, "CAP '-1': bytes a month");
    refused(HOSTS BROKER PARTIES "plan prov-a * 1 x 9223372036854775808\n", 8, "CAP");
    refused(HOSTS BROKER PARTIES "plan prov-a * 1 x\n", 8,
            "plan: want 'plan PROVIDER ACCOUNT QOS CHARGING CAP'");
    refused(HOSTS BROKER PARTIES "storage mysql\n", 8, "storage 'mysql': sqlite or postgres");
    refused(HOSTS BROKER PARTIES "storage sqlite host=h1\n", 8, "storage sqlite takes no keys");
    refused(HOSTS BROKER PARTIES "storage postgres\n", 8, "storage: host=HOST is required");
    refused(HOSTS BROKER PARTIES "storage sqlite\nstorage sqlite\n", 9,
            "storage given twice (first on line 8)");
    refused(HOSTS BROKER PARTIES "storage postgres host=h2 port=0\n", 8, "port=0");
}

static void test_admin_topology_refuses_malformed_lines(void **state)
{
    char text[ADM_LINE_MAX + 64];
    char *big;
    struct adm_topology *t = NULL;
    struct adm_error err;

    (void)state;
    refused("host h1 host h2\n", 1, "host: want 'host NAME [address=IP] [dns=NAME]'");
    refused("host\n", 1, "host: want");
    refused("host h1 address=192.0.2.1 h2\n", 1, "'h2' after KEY=VALUE words");
    refused("host h1 address=\n", 1, "'address=': want KEY=VALUE");
    refused("host h1 =x\n", 1, "want KEY=VALUE");
    refused("host h1 address=192.0.2.1 address=192.0.2.2\n", 1, "address= given twice");
    refused("host h1\nhost h2\x01\n", 2, "a control character (byte 8)");
    refused("a b c d e f g h i j k l m n o p q\n", 1, "more than 16 words");
    memset(text, 'x', sizeof(text));
    memcpy(text, "host h1\n# ", 10);
    text[sizeof(text) - 1] = '\0';
    refused(text, 2, "longer than 1024 bytes");
    /* a NUL inside the text is a control character too */
    assert_onr(ONR_EFORMAT, adm_topology_parse("host h1\0\n", 9, &t, &err));
    assert_int_equal(err.line, 1);
    big = calloc(1, ADM_MAX_TEXT + 2);
    assert_non_null(big);
    memset(big, '\n', ADM_MAX_TEXT + 1);
    assert_onr(ONR_ETOOBIG, adm_topology_parse(big, ADM_MAX_TEXT + 1, &t, &err));
    free(big);
    assert_onr(ONR_EINVAL, adm_topology_parse(NULL, 1, &t, &err));
    assert_onr(ONR_EINVAL, adm_topology_parse("", 0, NULL, &err));
    assert_onr(ONR_ENOENT, adm_topology_load("/nonexistent/topology", &t, &err));
}

/* instances=N: processes of one service sharing its PostgreSQL database. */
static void test_admin_topology_instances(void **state)
{
    struct adm_topology *t;

    (void)state;
    t = parse_ok(HOSTS BROKER "manufacturer acme host=h2 instances=2\n"
                              "provider prov-a host=h2 instances=8\n"
                              "operator op-1 host=h2 plmn=00101 apn=x "
                              "imsi=001010000000001-001010000099999 "
                              "iccid=894900100000000001-894900100000099999\n"
                              "contract prov-a op-1\n"
                              "storage postgres host=h1\n");
    assert_int_equal(t->parties[0].instances, 2);
    assert_int_equal(t->parties[1].instances, 8);
    assert_int_equal(t->parties[2].instances, 1);
    adm_topology_free(t);
    /* several instances share one database: not a SQLite file each */
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=2\n", 4,
            "acme instances=2: several instances share one database: needs `storage "
            "postgres host=HOST`");
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=2\nstorage sqlite\n", 4,
            "needs `storage postgres");
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=9\n", 4,
            "instances=9: 1..8 processes");
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=0\n", 4, "instances=0: 1..8");
    refused(HOSTS BROKER "control admin host=h2 instances=2\n", 4,
            "unknown key 'instances' for control");
    /* what listens listens once per instance: instance K on the port plus
     * K - 1, each a port of its host */
    t = parse_ok(HOSTS BROKER "manufacturer acme host=h2 instances=2\nstorage postgres host=h1\n"
                              "metrics acme port=9464\nmetrics mon port=9466\n"
                              "monitor mon host=h2\n");
    adm_topology_free(t);
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=2\nstorage postgres host=h1\n"
                         "metrics acme port=9464\nmonitor mon host=h2\n"
                         "metrics mon port=9465\n",
            8, "port 9465 on host 'h2' is already used by metrics acme of instance 2 (line 6)");
    refused(HOSTS BROKER "manufacturer acme host=h2 instances=3\nstorage postgres host=h1\n"
                         "metrics acme port=65534\n",
            6, "metrics acme: port 65534 and one after it for each of its 3 instances pass "
               "65535");
    /* the page's public origin: an origin, for a page */
    refused(HOSTS BROKER "provider prov-a host=h2 pairing_origin=https://pair.example.net\n",
            4, "pairing_origin=https://pair.example.net: the pairing page's public origin");
    refused(HOSTS BROKER "provider prov-a host=h2 pairing_port=8080 "
                         "pairing_origin=https://pair.example.net/\n",
            4, "pairing_origin=https://pair.example.net/: the pairing page's public origin");
    refused(HOSTS BROKER "provider prov-a host=h2 pairing_port=8080 "
                         "pairing_origin=pair.example.net\n",
            4, "pairing_origin=pair.example.net: the pairing page's public origin");
    refused(HOSTS BROKER "provider prov-a host=h2 pairing_port=8080 instances=2\n"
                         "operator op-1 host=h2 plmn=00101 apn=x "
                         "imsi=001010000000001-001010000099999 "
                         "iccid=894900100000000001-894900100000099999\n"
                         "contract prov-a op-1\nstorage postgres host=h1\n"
                         "metrics op-1 port=8081\n",
            8, "port 8081 on host 'h2' is already used by provider 'prov-a' (pairing_port) of "
               "instance 2 (line 4)");
}

/* roaming (issue 17): operators' countries, providers' policies, checked
 * as onramp-provider checks them at start. */
#define OP2 "operator op-2 host=h2 plmn=26201 apn=x imsi=262010000000001-262010000099999 " \
            "iccid=894900100000000001-894900100000099999 serves=262,208\n"                \
            "contract prov-a op-2\n"

static void test_admin_topology_roaming(void **state)
{
    struct adm_topology *t;

    (void)state;
    t = parse_ok(HOSTS BROKER PARTIES OP2 "roaming prov-a * 262:op-2,op-1;*:op-1\n"
                 "roaming prov-a bob 208:op-2\n");
    assert_int_equal(t->parties[3].n_serves, 2);
    assert_string_equal(t->parties[3].serves[1], "208");
    assert_int_equal(t->parties[2].n_serves, 0); /* any country */
    assert_int_equal(t->n_roaming, 2);
    assert_string_equal(t->roaming[0].account, "*");
    assert_string_equal(t->roaming[0].policy, "262:op-2,op-1;*:op-1");
    assert_string_equal(t->roaming[1].account, "bob");
    adm_topology_free(t);
    refused(HOSTS BROKER PARTIES OP2 "roaming prov-a * 310:op-2\n", 10,
            "roaming: operator 'op-2' does not serve 310 (its serves=)");
    refused(HOSTS BROKER PARTIES OP2 "roaming prov-a * 262:op-9\n", 10,
            "roaming: provider 'prov-a' has no contract with operator 'op-9'");
    refused(HOSTS BROKER PARTIES OP2 "roaming prov-a * 26:op-2\n", 10,
            "roaming: POLICY '26:op-2'");
    refused(HOSTS BROKER PARTIES OP2 "roaming prov-a * 262:op-2\nroaming prov-a * 208:op-2\n",
            11, "roaming prov-a * given twice (first on line 10)");
    refused(HOSTS BROKER PARTIES OP2 "roaming prov-z * 262:op-2\n", 10, "prov-z");
    refused(HOSTS BROKER "operator op-2 host=h2 plmn=26201 apn=x imsi=262010000000001-"
            "262010000099999 iccid=894900100000000001-894900100000099999 serves=262,26\n", 4,
            "serves=262,26: MCCs (3 digits) separated by ','");
    refused(HOSTS BROKER "operator op-2 host=h2 plmn=26201 apn=x imsi=262010000000001-"
            "262010000099999 iccid=894900100000000001-894900100000099999 serves=262,262\n", 4,
            "serves=262,262: 262 twice");
}

/* metrics: a service's metrics_listen or a monitor's exporter (issue 20),
 * declared before or after its party, once each, on a free port. */
static void test_admin_topology_metrics(void **state)
{
    struct adm_topology *t;
    const struct adm_metrics *m;

    (void)state;
    t = parse_ok(HOSTS BROKER "metrics op-1 port=9464\n" PARTIES
                 "monitor noc host=h1\n"
                 "metrics noc port=9469 bind=192.0.2.1\n"
                 "metrics acme port=9465 bind=::1\n");
    assert_int_equal(t->n_metrics, 3);
    m = adm_metrics_of(t, 2); /* op-1 */
    assert_non_null(m);
    assert_int_equal(m->port, 9464);
    assert_string_equal(m->bind, "");
    assert_int_equal(m->line, 4);
    m = adm_metrics_of(t, 3); /* noc */
    assert_non_null(m);
    assert_int_equal(m->port, 9469);
    assert_string_equal(m->bind, "192.0.2.1");
    assert_string_equal(adm_metrics_of(t, 0)->bind, "::1");
    assert_null(adm_metrics_of(t, 1)); /* prov-a: none */
    adm_topology_free(t);

    refused(HOSTS BROKER PARTIES "metrics op-1\n", 8, "port=PORT is required");
    refused(HOSTS BROKER PARTIES "metrics op-1 port=0\n", 8, "port=0: a port number");
    refused(HOSTS BROKER PARTIES "metrics op-1 port=9464 bind=localhost\n", 8,
            "bind=localhost: not an IPv4 or IPv6 address");
    refused(HOSTS BROKER PARTIES "metrics op-1 port=9464 path=/x\n", 8,
            "unknown key 'path' for metrics");
    refused(HOSTS BROKER PARTIES "metrics port=9464\n", 8, "metrics: want");
    refused(HOSTS BROKER PARTIES "metrics op-9 port=9464\n", 8,
            "metrics: no service or monitor 'op-9'");
    refused(HOSTS BROKER PARTIES "control admin host=h2\nmetrics admin port=9464\n", 9,
            "'admin' is a control tool");
    refused(HOSTS BROKER PARTIES "metrics op-1 port=9464\nmetrics op-1 port=9465\n", 9,
            "metrics op-1 given twice (first on line 8)");
    /* its port is its host's: not another listener's there */
    refused(HOSTS BROKER PARTIES "metrics op-1 port=9464\nmetrics acme port=9464\n", 9,
            "port 9464 on host 'h2' is already used by metrics op-1 (line 8)");
    refused(HOSTS BROKER PARTIES "monitor noc host=h1\nmetrics noc port=8884\n", 9,
            "port 8884 on host 'h1' is already used by broker 'b1' (services_port)");
    /* the same port on another host is another listener */
    t = parse_ok(HOSTS BROKER PARTIES "monitor noc host=h1\n"
                 "metrics noc port=9464\nmetrics op-1 port=9464\n");
    adm_topology_free(t);
}

/* Several brokers (issue 19): each on its own host, optionally with the
 * country it serves; providers' endpoints on any of them. */
static void test_admin_topology_several_brokers_and_regions(void **state)
{
    struct adm_topology *t;

    (void)state;
    t = parse_ok(HOSTS "host h3 address=192.0.2.3\n"
                       "broker b1 host=h1 region=208\n"
                       "broker b2 host=h2\n"
                       "broker b3 host=h3 region=001 bootstrap_port=9883\n"
                       "manufacturer acme host=h3\n"
                       "provider prov-a host=h3 endpoint_broker=b2\n"
                       "provider prov-b host=h3\n"
                       "operator op-1 host=h3 plmn=00101 apn=iot.example "
                       "imsi=001010000000001-001010000099999 "
                       "iccid=894900100000000001-894900100000099999\n"
                       "contract prov-a op-1\ncontract prov-b op-1\n");
    assert_int_equal(t->n_brokers, 3);
    assert_string_equal(t->brokers[0].region, "208");
    assert_string_equal(t->brokers[1].region, "");
    assert_string_equal(t->brokers[2].region, "001");
    assert_int_equal(t->brokers[2].host, 2);
    assert_int_equal(t->brokers[2].bootstrap_port, 9883);
    assert_int_equal(t->parties[1].endpoint_broker, 1);
    assert_int_equal(t->parties[2].endpoint_broker, 0); /* the first broker */
    adm_topology_free(t);
    /* named as its own host: the same name twice in its certificate is one */
    adm_topology_free(parse_ok(HOSTS "broker broker.example.net host=h1\n"));

    /* a region is an MCC */
    refused(HOSTS "broker b1 host=h1 region=eu\n", 3,
            "region=eu: the country it serves, as its mobile country code (MCC: 3 digits)");
    refused(HOSTS "broker b1 host=h1 region=20\n", 3, "region=20: the country");
    refused(HOSTS "broker b1 host=h1 region=2080\n", 3, "region=2080: the country");
    refused(HOSTS "broker b1 host=h1 region=20a\n", 3, "region=20a: the country");
    /* one broker per host: each is its host's mosquitto */
    refused(HOSTS BROKER "broker b2 host=h1 bootstrap_port=9883 services_port=9884 "
                         "service_port=9885\n",
            4, "broker 'b2': host 'h1' runs broker 'b1' (line 3) already: one broker per host");
    /* a broker's certificate names it: never another host's DNS name */
    refused(HOSTS "broker broker.example.net host=h2\n", 3,
            "broker 'broker.example.net': the DNS name of host 'h1' (line 1)");
}

static void test_admin_topology_bounds_how_many(void **state)
{
    char *text = calloc(1, 128 * 80);
    size_t len = 0;

    (void)state;
    assert_non_null(text);
    for (int i = 0; i <= ADM_MAX_HOSTS; i++)
        len += (size_t)sprintf(text + len, "host h%d\n", i);
    refused(text, ADM_MAX_HOSTS + 1, "more than 64 hosts");
    len = (size_t)sprintf(text, HOSTS BROKER);
    for (int i = 0; i <= ADM_MAX_PER_ROLE; i++)
        len += (size_t)sprintf(text + len, "monitor m%d host=h1\n", i);
    refused(text, 3 + ADM_MAX_PER_ROLE + 1, "more than 64 of monitor");
    len = (size_t)sprintf(text, HOSTS BROKER PARTIES);
    for (int i = 0; i <= ADM_MAX_PLANS; i++)
        len += (size_t)sprintf(text + len, "plan prov-a a%d 1 x 0\n", i);
    refused(text, 7 + ADM_MAX_PLANS + 1, "provider 'prov-a' has more than 32 plans");
    /* a device lists at most 8 bootstrap brokers: so many in a fabric */
    len = 0;
    for (int i = 0; i <= ADM_MAX_BROKERS; i++)
        len += (size_t)sprintf(text + len, "host h%d address=192.0.2.%d\n", i, i + 1);
    for (int i = 0; i <= ADM_MAX_BROKERS; i++)
        len += (size_t)sprintf(text + len, "broker b%d host=h%d\n", i, i);
    refused(text, 2 * (ADM_MAX_BROKERS + 1), "more than 8 brokers: a device lists at most 8");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_topology_reads_a_whole_fabric),
        cmocka_unit_test(test_admin_topology_defaults),
        cmocka_unit_test(test_admin_topology_refuses_inconsistencies_with_their_line),
        cmocka_unit_test(test_admin_topology_refuses_bad_values),
        cmocka_unit_test(test_admin_topology_refuses_malformed_lines),
        cmocka_unit_test(test_admin_topology_instances),
        cmocka_unit_test(test_admin_topology_roaming),
        cmocka_unit_test(test_admin_topology_metrics),
        cmocka_unit_test(test_admin_topology_several_brokers_and_regions),
        cmocka_unit_test(test_admin_topology_bounds_how_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
