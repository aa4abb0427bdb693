"""Operational devices on a provider's service broker, and the revocation of
their certificates by their provider (broker-plugins/README.md; proto/SPEC.md
sections 11 and 14, type 27): a device whose certificate a configured
provider CA issued is confined to onr/1/p/{prov}/dev/{dev}/#, its provider
reads and writes there, and a certificate the provider revoked is cut off
at once and refused for good."""

import base64
import os
import tempfile
import time
import unittest

import fabric
import mqtt5

OK, DENIED = 0, mqtt5.NOT_AUTHORIZED
GRANTED_QOS1 = 1
EDENIED, ELENGTH, ESCHEMA = 12, 25, 35

granted = mqtt5.accepted


def new_dev_id():
    """A random, syntactically valid device id (32 characters a-z 2-7)."""
    return base64.b32encode(os.urandom(20)).decode().lower()


def own(prov, dev, rest="telemetry"):
    return "onr/1/p/%s/dev/%s/%s" % (prov, dev, rest)


def cert_revoke(client, dev, serial, sender, role=fabric.ROLE_PROVIDER, not_after=None):
    """Send a cert_revoke (type 27) as `client`; the answer's code."""
    body = {"dev": dev, "serial": serial}
    if not_after is not None:
        body["not_after"] = not_after
    return fabric.control(client, fabric.CERT_REVOKE, role, sender, body)


class Helpers:
    """Clients that clean up after the test."""

    def operational(self, prov, dev, **kwargs):
        c = self.broker.operational(prov, dev, **kwargs)
        self.addCleanup(c.disconnect)
        return c

    def connected(self, prov, dev, **kwargs):
        c = self.operational(prov, dev, **kwargs)
        self.assertEqual(c.connack, OK, self.broker.log_tail())
        return c

    def service(self, role, svc, **kwargs):
        c = self.broker.service(role, svc, **kwargs)
        self.addCleanup(c.disconnect)
        self.assertEqual(c.connack, OK, self.broker.log_tail())
        return c

    def monitor(self, name):
        mon = self.service("monitor", name)
        self.assertEqual(mon.subscribe("onr/1/#"), GRANTED_QOS1)
        return mon

    def check_publishes(self, client, rows):
        """rows: (topic, allowed). A monitor on onr/1/# must see exactly
        the allowed ones (each carries a unique marker)."""
        mon = self.monitor("pub-rows")
        expected = {}
        for topic, allowed in rows:
            marker = os.urandom(8).hex().encode()
            code = client.publish(topic, marker)
            self.assertEqual(granted(code), allowed, "publish %s: reason %r\n%s" % (
                topic, code, self.broker.log_tail()))
            expected[marker] = (topic, allowed)
        seen = {payload for _, payload, _ in mon.collect(1.0)}
        for marker, (topic, allowed) in expected.items():
            if topic.startswith("onr/1/"):
                self.assertEqual(marker in seen, allowed, "delivery of %s %s" % (
                    topic, "missing" if allowed else "leaked"))
        mon.disconnect()

    def check_subscribes(self, client, rows):
        for topic_filter, allowed in rows:
            code = client.subscribe(topic_filter)
            self.assertEqual(granted(code), allowed,
                             "subscribe %s: reason %r" % (topic_filter, code))


class OperationalTest(Helpers, fabric.FabricTestCase):
    """Confinement of operational devices and of providers' access to them."""

    providers = ("prov-1", "prov-2")

    def test_device_works_within_its_own_prefix(self):
        dev = new_dev_id()
        before = self.counters.read()["connects"]
        c = self.connected("prov-1", dev)
        prov = self.service("provider", "prov-1")
        self.assertEqual(prov.subscribe("onr/1/p/prov-1/dev/+/telemetry"), GRANTED_QOS1)
        self.assertEqual(c.subscribe("onr/1/p/prov-1/dev/%s/#" % dev), GRANTED_QOS1)
        telemetry = b'{"dev":"%s","state":"OPERATIONAL"}' % dev.encode()
        self.assertTrue(granted(c.publish(own("prov-1", dev), telemetry)))
        got = prov.wait_message(own("prov-1", dev))
        self.assertIsNotNone(got, "the provider did not get the telemetry")
        self.assertEqual(got[1], telemetry)
        # the device also gets what it publishes under its prefix (it
        # subscribed to all of it), and what its provider sends it
        self.assertIsNotNone(c.wait_message(own("prov-1", dev)))
        self.assertTrue(granted(prov.publish(own("prov-1", dev, "cmd/reboot"), b"now")))
        got = c.wait_message(own("prov-1", dev, "cmd/reboot"))
        self.assertIsNotNone(got, "the device did not get its provider's command")
        self.assertEqual(got[1], b"now")
        stats = self.counters.wait_for("connects", before + 2)
        self.assertGreaterEqual(stats["devices"], 1)

    def test_device_publish_rows(self):
        dev, other = new_dev_id(), new_dev_id()
        c = self.connected("prov-1", dev)
        before = self.counters.read()["denied_publish"]
        refused = [
            ("onr/1/p/prov-1/dev/%s" % dev, False),            # its prefix, no level below
            (own("prov-1", other), False),                      # another device's
            (own("prov-2", dev), False),                        # another provider's
            ("onr/1/p/prov-1/dev/%s/x" % other, False),
            ("onr/1/d/%s/up/op/op-1" % dev, False),             # bootstrap topics
            ("onr/1/d/%s/up/prov/prov-1" % dev, False),
            ("onr/1/d/%s/down" % dev, False),
            ("onr/1/s/prov/prov-1/in", False),
            ("$CONTROL/onramp/v1", False),
        ]
        self.check_publishes(c, [
            (own("prov-1", dev), True),
            (own("prov-1", dev, "a/b/c"), True),
        ] + refused + [("$SYS/broker/x", False)])
        self.counters.wait_for("denied_publish", before + len(refused))

    def test_device_subscribe_rows_and_what_it_receives(self):
        dev, other = new_dev_id(), new_dev_id()
        c = self.connected("prov-1", dev)
        before = self.counters.read()["denied_subscribe"]
        refused = [
            ("onr/1/p/prov-1/dev/%s/#" % other, False),
            ("onr/1/p/prov-1/dev/+/telemetry", False),
            ("onr/1/p/prov-1/#", False),
            ("onr/1/p/prov-2/dev/%s/#" % dev, False),
            ("onr/1/d/%s/down" % dev, False),
            ("onr/1/#", False),
            ("#", False),
            ("$SYS/#", False),
            ("$share/g/onr/1/p/prov-1/dev/%s/#" % dev, False),
            ("$CONTROL/onramp/v1/response", False),
        ]
        self.check_subscribes(c, [
            ("onr/1/p/prov-1/dev/%s/#" % dev, True),
            ("onr/1/p/prov-1/dev/%s/cmd/+" % dev, True),
        ] + refused)
        self.counters.wait_for("denied_subscribe", before + len(refused))
        prov = self.service("provider", "prov-1")
        for topic, payload in ((own("prov-1", other, "cmd"), b"other's"),
                               (own("prov-1", dev, "cmd"), b"mine")):
            self.assertTrue(granted(prov.publish(topic, payload)))
        self.assertEqual([(t, p) for t, p, _ in c.collect(1.0)],
                         [(own("prov-1", dev, "cmd"), b"mine")])

    def test_device_retained_publish_is_refused(self):
        dev = new_dev_id()
        c = self.connected("prov-1", dev)
        before = self.counters.read()["denied_retain"]
        self.assertEqual(c.publish(own("prov-1", dev), b"stay", retain=True), DENIED)
        self.counters.wait_for("denied_retain", before + 1)
        late = self.monitor("late")
        self.assertNotIn(b"stay", [p for _, p, _ in late.collect(0.5)])

    def test_device_will_is_refused(self):
        dev = new_dev_id()
        before = self.counters.read()["denied_will"]
        mon = self.monitor("wills")
        c = self.connected("prov-1", dev, will=(own("prov-1", dev), b"last words", False))
        c.drop()  # no DISCONNECT: the broker would send the will
        self.assertNotIn(b"last words", [p for _, p, _ in mon.collect(1.0)])
        self.counters.wait_for("denied_will", before + 1)

    def test_wildcard_publish_closes_the_connection(self):
        dev = new_dev_id()
        mon = self.monitor("wildcard")
        c = self.connected("prov-1", dev)
        try:
            c.publish("onr/1/p/prov-1/dev/%s/+" % dev, b"to every topic")
        except OSError:
            pass
        self.assertFalse(c.alive(1.0))
        self.assertNotIn(b"to every topic", [p for _, p, _ in mon.collect(0.5)])

    def test_client_id_must_be_the_certificates_device_id(self):
        dev = new_dev_id()
        for client_id in (new_dev_id(), "prov.prov-1", dev + ".x", ""):
            before = self.counters.read()["bad_cert"]
            c = self.operational("prov-1", dev, client_id=client_id)
            self.assertEqual(c.connack, DENIED, "client id %r" % client_id)
            c.drop()
            self.counters.wait_for("bad_cert", before + 1)

    def test_tls_refuses_certificates_from_other_cas(self):
        # the listener trusts the provider CAs only: services certificates,
        # foreign ones and unconfigured providers' fail the handshake
        dev = new_dev_id()
        for cert in (self.pki.client("operator", "op-1"),
                     self.pki.client("device", dev, foreign=True),
                     self.pki.operational("prov-9", dev)):
            c = self.operational("prov-1", dev, cert=cert)
            self.assertIsNone(c.connack, cert[0])
        # and the services listener does not take an operational certificate
        cert = self.pki.operational("prov-1", dev)
        c = mqtt5.Client(self.broker.services_port, dev, self.pki.ca[0], cert[0], cert[1])
        self.addCleanup(c.drop)
        try:
            connack = c.connect()
        except OSError:
            connack = None
        self.assertIsNone(connack)

    def test_provider_reads_and_writes_its_devices_only(self):
        dev = new_dev_id()
        prov1 = self.service("provider", "prov-1")
        prov2 = self.service("provider", "prov-2")
        op = self.service("operator", "op-1")
        self.check_subscribes(prov1, [
            ("onr/1/p/prov-1/dev/+/telemetry", True),
            ("onr/1/p/prov-1/dev/+/#", True),
            ("onr/1/p/prov-1/dev/%s/cmd" % dev, True),
            ("$share/readers/onr/1/p/prov-1/dev/+/#", True),
            ("onr/1/p/prov-2/dev/+/telemetry", False),
            ("onr/1/p/+/dev/+/telemetry", False),
            ("onr/1/p/#", False),
        ])
        self.check_subscribes(prov2, [
            ("onr/1/p/prov-1/dev/+/telemetry", False),
            ("onr/1/p/prov-2/dev/+/telemetry", True),
        ])
        self.check_subscribes(op, [("onr/1/p/prov-1/dev/+/telemetry", False),
                                   ("onr/1/p/+/dev/#", False)])
        c = self.connected("prov-1", dev)
        prov1.messages.clear()
        self.assertTrue(granted(c.publish(own("prov-1", dev), b"reading")))
        self.assertIsNotNone(prov1.wait_message(own("prov-1", dev)))
        self.assertEqual([m for m in prov2.collect(0.5) if m[1] == b"reading"], [])
        self.check_publishes(prov1, [
            (own("prov-1", dev, "cmd"), True),
            (own("prov-1", new_dev_id(), "cmd"), True),
            ("onr/1/p/prov-1/dev/%s" % dev, False),
            (own("prov-2", dev, "cmd"), False),
        ])
        self.assertEqual(prov1.publish(own("prov-1", dev, "cmd"), b"kept", retain=True),
                         DENIED)
        self.check_publishes(prov2, [(own("prov-1", dev, "cmd"), False)])
        self.check_publishes(op, [(own("prov-1", dev, "cmd"), False)])


    def test_the_provider_reaches_its_device_on_the_down_leaf(self):
        """SPEC section 16: a provider's relocate travels on its device's
        onr/1/p/{prov}/dev/{dev}/down, which the device subscribes to like
        any topic of its own; nobody else reads or writes there."""
        dev, other = new_dev_id(), new_dev_id()
        c = self.connected("prov-1", dev)
        o = self.connected("prov-1", other)
        down = own("prov-1", dev, "down")
        self.check_subscribes(c, [(down, True)])
        self.check_subscribes(o, [(down, False)])
        self.assertEqual(o.subscribe(own("prov-1", other, "down")), GRANTED_QOS1)
        prov1 = self.service("provider", "prov-1")
        self.check_publishes(prov1, [(down, True)])
        self.check_publishes(self.service("provider", "prov-2"), [(down, False)])
        self.check_publishes(self.service("operator", "op-1"), [(down, False)])
        c.messages.clear()
        o.messages.clear()
        self.assertTrue(granted(prov1.publish(down, b"relocate")))
        self.assertEqual([(t, p) for t, p, _ in c.collect(1.0) if p == b"relocate"],
                         [(down, b"relocate")])
        self.assertEqual([p for _, p, _ in o.collect(0.2) if p == b"relocate"], [])


class LaxTlsTest(Helpers, fabric.FabricTestCase):
    """The TLS layer trusts every CA here (services, foreign, providers):
    the plugin alone must tell the principals apart."""

    providers = ("prov-1",)
    foreign_ca_trusted = True

    def test_certificate_from_an_unconfigured_ca_is_refused(self):
        dev = new_dev_id()
        before = self.counters.read()["bad_cert"]
        c = self.operational("prov-1", dev, cert=self.pki.client("device", dev, foreign=True))
        self.assertEqual(c.connack, DENIED, self.broker.log_tail())
        self.counters.wait_for("bad_cert", before + 1)

    def test_services_certificate_on_that_listener_is_a_service(self):
        dev = new_dev_id()  # also a valid service id
        cert = self.pki.client("provider", dev)
        # as a device (client id = its CN): a service's client id is
        # {role}.{id}, so it is refused
        before = self.counters.read()["bad_cert"]
        c = self.operational("prov-1", dev, cert=cert)
        self.assertEqual(c.connack, DENIED)
        self.counters.wait_for("bad_cert", before + 1)
        # as the service it is: service rights, none of a device's
        c = self.connected("prov-1", dev, cert=cert, client_id="prov." + dev)
        self.check_publishes(c, [
            (own("prov-1", dev), False),
            ("onr/1/s/prov/%s/ev" % dev, True),
        ])
        self.check_subscribes(c, [("onr/1/p/prov-1/dev/%s/#" % dev, False),
                                  ("onr/1/s/prov/%s/in" % dev, True)])
        # an operator's certificate there is an operator
        op = self.connected("prov-1", dev, cert=self.pki.client("operator", "op-7"),
                            client_id="op.op-7")
        self.check_publishes(op, [("onr/1/d/%s/down" % dev, True),
                                  (own("prov-1", dev), False)])


class RevocationTest(Helpers, fabric.FabricTestCase):
    providers = ("prov-1", "prov-2")

    def test_revocation_disconnects_and_refuses_the_certificate(self):
        dev = new_dev_id()
        c = self.connected("prov-1", dev)
        serial = fabric.cert_serial(self.pki.operational("prov-1", dev)[0])
        prov = self.service("provider", "prov-1")
        before = self.counters.read()
        msg_id, env = fabric.envelope(fabric.CERT_REVOKE, fabric.ROLE_PROVIDER, "prov-1",
                                      {"dev": dev, "serial": serial})
        prov.messages.clear()
        self.assertEqual(prov.publish(fabric.CONTROL_TOPIC, env), 0)
        # Applied once the PUBACK came: nothing the device publishes is
        # taken any more (the plugin refuses it everything until the tick
        # that disconnects it, which Mosquitto runs right after the request).
        self.assertFalse(granted(c.publish(own("prov-1", dev), b"too late")))
        answer = prov.wait_message(fabric.CONTROL_TOPIC + "/response")
        self.assertIsNotNone(answer, "no answer to the revocation")
        answer = fabric.decode_envelope(answer[1])
        self.assertEqual((answer["body"]["re"], answer["body"]["code"]), (msg_id, 0))
        self.assertFalse(c.alive(2.0), "the revoked device is still connected")
        stats = self.counters.wait_for("revocations", before["revocations"] + 1)
        self.assertGreaterEqual(stats["kicked"], before["kicked"] + 1)
        self.assertIn("certificate revoked provider=prov-1 device=%s serial=%s connected=1" %
                      (dev, serial.lstrip(b"\0").hex()), self.broker.log_text())
        # reconnecting with it: not authorized, counted
        again = self.operational("prov-1", dev)
        self.assertEqual(again.connack, DENIED)
        self.counters.wait_for("bad_cert", stats["bad_cert"] + 1)
        # revoking again changes nothing and is answered the same
        self.assertEqual(cert_revoke(prov, dev, serial, "prov-1"), 0)
        # a new certificate for the same device works
        fresh = self.connected("prov-1", dev, cert=self.pki.operational("prov-1", dev, "new"))
        self.assertTrue(granted(fresh.publish(own("prov-1", dev), b"new key")))

    def test_serial_with_or_without_the_der_zero_byte_names_the_same_certificate(self):
        # a serial with its high bit set: DER adds a zero byte in front
        prov = self.service("provider", "prov-1")
        for number, sent in ((0x80A1B2C3D4E5F601, lambda s: b"\0" + s),
                             (0x80A1B2C3D4E5F602, lambda s: s)):
            dev = new_dev_id()
            cert = self.pki.operational("prov-1", dev, serial=number)
            serial = fabric.cert_serial(cert[0])
            self.assertEqual(serial, number.to_bytes(8, "big"))
            c = self.connected("prov-1", dev, cert=cert)
            self.assertEqual(cert_revoke(prov, dev, sent(serial), "prov-1"), 0)
            self.assertFalse(c.alive(2.0))
            self.assertEqual(self.operational("prov-1", dev, cert=cert).connack, DENIED)

    def test_an_expired_certificate_is_refused_at_connect(self):
        # what a device off for a year holds: it cannot reach its topics
        # (nor ask for a renewal there); it enrolls again instead
        dev = new_dev_id()
        expired = self.operational("prov-1", dev,
                                   cert=self.pki.operational("prov-1", dev, expired=True))
        self.assertNotEqual(expired.connack, OK)
        self.assertEqual(self.connected("prov-1", dev).connack, OK)

    def test_operator_cannot_revoke_certificates(self):
        dev = new_dev_id()
        c = self.connected("prov-1", dev)
        serial = fabric.cert_serial(self.pki.operational("prov-1", dev)[0])
        op = self.service("operator", "op-1")
        before = self.counters.read()["control_refused"]
        # as a provider's envelope: not the role its certificate proves
        self.assertEqual(cert_revoke(op, dev, serial, "op-1"), EDENIED)
        # as an operator's: not a sender type 27 allows
        self.assertEqual(cert_revoke(op, dev, serial, "op-1", role=fabric.ROLE_OPERATOR),
                         ESCHEMA)
        self.counters.wait_for("control_refused", before + 2)
        self.assertTrue(c.alive(0.5))
        c.disconnect()
        self.assertEqual(self.connected("prov-1", dev).connack, OK)

    def test_provider_cannot_revoke_another_providers_certificate(self):
        dev = new_dev_id()
        c = self.connected("prov-1", dev)
        serial = fabric.cert_serial(self.pki.operational("prov-1", dev)[0])
        prov2 = self.service("provider", "prov-2")
        before = self.counters.read()
        # the plugin sees the certificate is prov-1's
        self.assertEqual(cert_revoke(prov2, dev, serial, "prov-2"), EDENIED)
        self.counters.wait_for("control_refused", before["control_refused"] + 1)
        self.assertTrue(c.alive(0.5))
        # an envelope from prov-2's connection speaking for prov-1
        self.assertEqual(cert_revoke(prov2, dev, serial, "prov-1"), EDENIED)
        self.assertTrue(c.alive(0.5))
        c.disconnect()
        # While the device is away the plugin cannot tell: the revocation is
        # taken for prov-2's CA only, and never touches prov-1's certificate.
        self.assertEqual(cert_revoke(prov2, dev, serial, "prov-2"), 0)
        again = self.connected("prov-1", dev)
        self.assertTrue(granted(again.publish(own("prov-1", dev), b"still mine")))
        self.assertEqual(self.counters.read()["kicked"], before["kicked"])

    def test_a_revocation_from_a_provider_without_a_ca_here_is_answered_and_changes_nothing(
            self):
        """A provider sends its revocations to every broker; one that has
        no CA of its (no service broker listener for it) holds none of its
        certificates, and says so: EDENIED, which ends the request at the
        provider (SPEC section 11), where a refused publish was answered
        by nobody and resent for ever. Nothing is recorded."""
        prov3 = self.service("provider", "prov-3")
        dev = new_dev_id()
        before = self.counters.read()["control_refused"]
        self.assertEqual(cert_revoke(prov3, dev, b"\x01", "prov-3"), EDENIED)
        self.counters.wait_for("control_refused", before + 1)
        with open(self.broker.grants) as f:
            self.assertNotIn(dev, f.read())
        # and it may still only revoke: a grant is refused as before
        self.assertEqual(fabric.control(prov3, fabric.GRANT, fabric.ROLE_OPERATOR, "prov-3",
                                        {"dev": dev, "prov": "prov-3"}), EDENIED)

    def test_providers_cannot_grant_and_malformed_revocations_are_answered(self):
        prov = self.service("provider", "prov-1")
        dev = new_dev_id()
        before = self.counters.read()["control_refused"]
        self.assertEqual(fabric.control(prov, fabric.GRANT, fabric.ROLE_OPERATOR, "prov-1",
                                        {"dev": dev, "prov": "prov-1"}), EDENIED)
        self.assertEqual(cert_revoke(prov, dev, b"\x01" * 21, "prov-1"), ELENGTH)
        self.assertEqual(cert_revoke(prov, dev, b"", "prov-1"), ELENGTH)
        self.counters.wait_for("control_refused", before + 3)


class ProviderCaOptionTest(unittest.TestCase):
    """A broker whose plugin_opt_provider_ca_* lines are wrong does not
    start, and its log says why."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="onr-it-")
        cls.pki = fabric.Pki(cls.tmp.name)
        cls.ca1 = cls.pki.provider_ca("prov-1")[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def refused(self, why, provider_cas, options=None, twice=None):
        """The broker must not start; its log must say `why`. `twice`: a
        provider id whose option line is written twice."""
        directory = tempfile.mkdtemp(dir=self.tmp.name)
        broker = fabric.Broker(self.pki, directory, options, None, provider_cas,
                               operational_cafile=self.ca1)
        if twice is not None:
            with open(broker.conf) as f:
                conf = f.read()
            line = "plugin_opt_provider_ca_%s %s\n" % (twice, provider_cas[twice])
            self.assertIn(line, conf)
            with open(broker.conf, "w") as f:
                f.write(conf.replace(line, line + line))
        broker.assert_refuses_to_start(self, why)

    def test_provider_id_must_be_a_service_id(self):
        self.refused("option provider_ca_Prov-1: the provider id must be a service id", {},
                     {"provider_ca_Prov-1": self.ca1})

    def test_provider_named_twice(self):
        self.refused("option provider_ca_prov-1 given twice", {"prov-1": self.ca1},
                     twice="prov-1")

    def test_missing_or_non_ca_file(self):
        self.refused("provider CA %s: not found" % os.path.join(self.tmp.name, "missing.pem"),
                     {"prov-1": os.path.join(self.tmp.name, "missing.pem")})
        leaf = self.pki.client("operator", "op-1")[0]
        self.refused("provider CA %s: certificate invalid" % leaf, {"prov-1": leaf})

    def test_a_key_serves_one_ca_only(self):
        self.refused("provider CA prov-1 (%s) has the key of the services CA" % self.pki.ca[0],
                     {"prov-1": self.pki.ca[0]})
        self.refused("provider CA prov-2 (%s) has the key of the provider CA of prov-1" %
                     self.ca1, {"prov-1": self.ca1, "prov-2": self.ca1})


class RevocationRestartTest(unittest.TestCase):
    def test_revocations_past_their_certificates_not_after_are_dropped(self):
        # A revocation names its certificate's notAfter: a day past it the
        # plugin drops it (TLS refuses the certificate by then), at start
        # and while running, so its journal does not grow for ever.
        with fabric.Fabric(providers=("prov-1",)) as f:
            now = int(time.time())
            gone, valid, forever = new_dev_id(), new_dev_id(), new_dev_id()
            serials = {d: fabric.cert_serial(f.pki.operational("prov-1", d)[0])
                       for d in (gone, valid, forever)}
            prov = f.broker.service("provider", "prov-1")
            try:
                self.assertEqual(cert_revoke(prov, gone, serials[gone], "prov-1",
                                             not_after=now - 3 * 86400), 0)
                self.assertEqual(cert_revoke(prov, valid, serials[valid], "prov-1",
                                             not_after=now + 300 * 86400), 0)
                self.assertEqual(cert_revoke(prov, forever, serials[forever], "prov-1"), 0)
            finally:
                prov.disconnect()
            with open(f.broker.grants) as journal:
                text = journal.read()
            self.assertIn("revoke-cert %s prov-1 %s %d\n" % (
                gone, serials[gone].lstrip(b"\0").hex(), now - 3 * 86400), text)
            f.counters.close()
            f.broker.restart()
            self.assertIn("1 revocations of expired certificates dropped, 2 kept",
                          f.broker.log_text())
            self.assertIn("2 revoked certificates", f.broker.log_text())
            with open(f.broker.grants) as journal:
                text = journal.read()
            self.assertNotIn(gone, text)
            self.assertIn("revoke-cert %s prov-1 %s %d\n" % (
                valid, serials[valid].lstrip(b"\0").hex(), now + 300 * 86400), text)
            self.assertIn("revoke-cert %s prov-1 %s\n" % (
                forever, serials[forever].lstrip(b"\0").hex()), text)
            # what is kept still refuses its certificates
            for d in (valid, forever):
                c = f.broker.operational("prov-1", d)
                try:
                    self.assertEqual(c.connack, DENIED)
                finally:
                    c.drop()

    def test_revocations_survive_a_broker_restart(self):
        with fabric.Fabric(providers=("prov-1",)) as f:
            dev, kept = new_dev_id(), new_dev_id()
            serial = fabric.cert_serial(f.pki.operational("prov-1", dev)[0])
            prov = f.broker.service("provider", "prov-1")
            try:
                self.assertEqual(cert_revoke(prov, dev, serial, "prov-1"), 0)
            finally:
                prov.disconnect()
            f.counters.close()
            f.broker.restart()
            self.assertIn("1 revoked certificates", f.broker.log_text())
            with open(f.broker.grants) as journal:
                self.assertIn("revoke-cert %s prov-1 %s\n" % (dev, serial.lstrip(b"\0").hex()),
                              journal.read())
            c = f.broker.operational("prov-1", dev)
            try:
                self.assertEqual(c.connack, DENIED)
            finally:
                c.drop()
            for client_dev, cert in ((dev, f.pki.operational("prov-1", dev, "new")),
                                     (kept, None)):
                c = f.broker.operational("prov-1", client_dev, cert=cert)
                try:
                    self.assertEqual(c.connack, OK, f.broker.log_tail())
                finally:
                    c.disconnect()


if __name__ == "__main__":
    unittest.main()
