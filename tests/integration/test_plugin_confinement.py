"""The confinement table of broker-plugins/README.md, row by row, for each
principal: what it may publish (PUBACK reason and actual delivery), what it
may subscribe to (SUBACK reason and what it then receives), and each hostile
attempt refused and counted."""

import os
import time
import unittest

import fabric
import mqtt5

OK, DENIED = 0, mqtt5.NOT_AUTHORIZED
GRANTED_QOS1 = 1


granted = mqtt5.accepted


class ConfinementTest(fabric.FabricTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.fabric.device()
        cls.other = cls.fabric.device()

    def monitor(self, name="table"):
        mon = self.broker.service("monitor", name)
        self.assertEqual(mon.connack, OK)
        self.assertEqual(mon.subscribe("onr/1/#"), GRANTED_QOS1)
        return mon

    def check_publishes(self, client, rows):
        """rows: (topic, allowed). Each publish carries a unique marker; a
        monitor on onr/1/# must see exactly the allowed ones."""
        mon = self.monitor()
        expected = {}
        try:
            for topic, allowed in rows:
                marker = os.urandom(8).hex().encode()
                code = client.publish(topic, marker)
                self.assertEqual(granted(code), allowed,
                                 "publish %s: reason %r\n%s" % (topic, code,
                                                                self.broker.log_tail()))
                expected[marker] = (topic, allowed)
            seen = {payload for _, payload, _ in mon.collect(1.0)}
            for marker, (topic, allowed) in expected.items():
                if topic.startswith("onr/1/"):
                    self.assertEqual(marker in seen, allowed,
                                     "delivery of %s %s" % (topic, "missing" if allowed
                                                            else "leaked"))
        finally:
            mon.disconnect()

    def check_subscribes(self, client, rows):
        for topic_filter, allowed in rows:
            code = client.subscribe(topic_filter)
            self.assertEqual(granted(code), allowed,
                             "subscribe %s: reason %r" % (topic_filter, code))

    # -- devices --

    def test_device_publish_rows(self):
        d, e = self.dev, self.other
        c = d.connect(self.broker)
        self.assertEqual(c.connack, OK)
        try:
            self.check_publishes(c, [
                (d.up("mfr", "acme"), True),
                (d.up("op", "op-1"), True),
                (d.up("prov", "prov-1"), False),       # no grant
                (d.up("mfr", "acme") + "/x", False),   # an extra level
                ("onr/1/d/%s/up/mfr" % d.id, False),   # no service level
                ("onr/1/d/%s/up/other/x" % d.id, False),
                (d.up("mfr", "Acme"), False),          # not a service id
                (e.up("mfr", "acme"), False),          # another device's
                (d.down, False),                       # its own down
                ("onr/1/s/mfr/acme/in", False),
                ("onr/1/s/mfr/acme/ev", False),
                ("$SYS/broker/x", False),
            ])
        finally:
            c.disconnect()

    def test_device_subscribe_rows_and_what_it_receives(self):
        d, e = self.dev, self.other
        c = d.connect(self.broker)
        self.assertEqual(c.connack, OK)
        try:
            self.check_subscribes(c, [
                (d.down, True),
                (e.down, False),
                ("onr/1/d/+/down", False),
                ("onr/1/d/%s/#" % d.id, False),
                ("onr/1/#", False),
                ("#", False),
                ("$SYS/#", False),
                ("$share/g/%s" % d.down, False),
                ("$CONTROL/onramp/v1/response", False),
            ])
            svc = self.broker.service("operator", "op-1")
            self.assertTrue(granted(svc.publish(e.down, b"for the other device")))
            self.assertTrue(granted(svc.publish(d.down, b"for me")))
            svc.disconnect()
            got = [(t, p) for t, p, _ in c.collect(1.0)]
            self.assertEqual(got, [(d.down, b"for me")])
        finally:
            c.disconnect()

    def test_granted_device_may_reach_its_provider_only(self):
        d = self.fabric.device()
        op = self.broker.service("operator", "op-1")
        try:
            code = grant(op, d.id, "prov-1")
            self.assertEqual(code, 0)
        finally:
            op.disconnect()
        c = d.connect(self.broker)
        try:
            self.check_publishes(c, [
                (d.up("prov", "prov-1"), True),
                (d.up("prov", "prov-2"), False),
                (d.up("mfr", "acme"), True),
            ])
            self.check_subscribes(c, [(d.down, True), ("onr/1/d/+/up/prov/prov-1", False)])
        finally:
            c.disconnect()

    # -- services --

    def test_operator_rows(self):
        d = self.dev
        c = self.broker.service("operator", "op-1")
        self.assertEqual(c.connack, OK)
        try:
            self.check_publishes(c, [
                (d.down, True),
                ("onr/1/s/prov/prov-1/in", True),
                ("onr/1/s/mfr/acme/in", True),
                ("onr/1/s/op/op-1/ev", True),
                ("onr/1/s/prov/prov-1/ev", False),   # another service's events
                (d.up("op", "op-1"), False),         # speaking for a device
                ("onr/1/x", False),
                ("$SYS/x", False),
            ])
            self.check_subscribes(c, [
                ("onr/1/d/+/up/op/op-1", True),
                ("onr/1/d/%s/up/op/op-1" % d.id, True),
                ("$share/ops/onr/1/d/+/up/op/op-1", True),
                ("onr/1/s/op/op-1/in", True),
                ("$share/ops/onr/1/s/op/op-1/in", True),
                ("onr/1/s/+/+/ev", True),
                ("onr/1/s/prov/prov-1/ev", True),
                # several instances share their own work, not others' events
                ("$share/ops/onr/1/s/+/+/ev", False),
                ("$share/ops/onr/1/s/prov/prov-1/ev", False),
                ("$share/ops/onr/1/s/op/op-1/ev", False),
                ("onr/1/d/+/up/op/+", False),
                ("onr/1/d/+/up/prov/prov-1", False),
                ("$share/ops/onr/1/d/+/up/prov/prov-1", False),
                ("onr/1/s/prov/prov-1/in", False),
                ("onr/1/d/+/down", False),
                ("onr/1/#", False),
                ("#", False),
                ("$SYS/#", False),
            ])
        finally:
            c.disconnect()

    def test_service_receives_its_own_device_topics_only(self):
        d = self.dev
        op = self.broker.service("operator", "op-1", client_id="op.op-1.rx")
        prov = self.broker.service("provider", "prov-1")
        dc = d.connect(self.broker)
        try:
            self.assertEqual(op.subscribe("onr/1/d/+/up/op/op-1"), GRANTED_QOS1)
            self.assertEqual(prov.subscribe("onr/1/s/prov/prov-1/in"), GRANTED_QOS1)
            self.assertTrue(granted(dc.publish(d.up("op", "op-1"), b"to op")))
            self.assertTrue(granted(dc.publish(d.up("mfr", "acme"), b"to mfr")))
            self.assertTrue(granted(op.publish("onr/1/s/prov/prov-1/in", b"to prov")))
            self.assertEqual([p for _, p, _ in op.collect(1.0)], [b"to op"])
            self.assertEqual([p for _, p, _ in prov.collect(0.5)], [b"to prov"])
        finally:
            for c in (op, prov, dc):
                c.disconnect()

    def test_service_instances_share_their_requests(self):
        """Two instances of one service (client ids {role}.{id}.{instance})
        in one $share group: each request reaches exactly one of them."""
        d = self.dev
        a = self.broker.service("operator", "op-1", client_id="op.op-1.1")
        b = self.broker.service("operator", "op-1", client_id="op.op-1.2")
        dc = d.connect(self.broker)
        try:
            for inst in (a, b):
                self.assertEqual(inst.subscribe("$share/op.op-1/onr/1/d/+/up/op/op-1"),
                                 GRANTED_QOS1)
                self.assertEqual(inst.subscribe("$share/op.op-1/onr/1/s/op/op-1/in"),
                                 GRANTED_QOS1)
            sent = [b"request %d" % i for i in range(20)]
            for payload in sent:
                self.assertTrue(granted(dc.publish(d.up("op", "op-1"), payload)))
            got_a = [p for _, p, _ in a.collect(1.0)]
            got_b = [p for _, p, _ in b.collect(0.5)]
            self.assertEqual(sorted(got_a + got_b), sorted(sent))
            self.assertTrue(got_a and got_b, "both instances get a share")
        finally:
            for c in (a, b, dc):
                c.disconnect()

    def test_manufacturer_and_provider_rows(self):
        for role, short, svc in (("manufacturer", "mfr", "acme"), ("provider", "prov", "prov-1")):
            c = self.broker.service(role, svc)
            self.assertEqual(c.connack, OK)
            try:
                self.check_publishes(c, [
                    (self.dev.down, True),
                    ("onr/1/s/op/op-1/in", True),
                    ("onr/1/s/%s/%s/ev" % (short, svc), True),
                    ("onr/1/s/op/op-1/ev", False),
                    # providers revoke certificates there (the plugin answers
                    # what they may not ask, integration.plugin_control);
                    # manufacturers have nothing to ask
                    ("$CONTROL/onramp/v1", short == "prov"),
                ])
                self.check_subscribes(c, [
                    ("onr/1/d/+/up/%s/%s" % (short, svc), True),
                    ("onr/1/s/%s/%s/in" % (short, svc), True),
                    ("onr/1/d/+/up/op/op-1", False),
                ])
            finally:
                c.disconnect()

    def test_control_tool_asks_services_inboxes_only(self):
        c = self.broker.service("control", "admin")
        self.assertEqual(c.connack, OK)
        try:
            self.check_publishes(c, [
                ("onr/1/s/prov/prov-1/in", True),
                ("onr/1/s/mfr/acme/in", True),    # onrampctl status
                ("onr/1/s/op/op-1/in", True),     # onrampctl status
                ("onr/1/s/mfr/acme/ev", False),
                ("onr/1/s/op/op-1/ev", False),
                ("onr/1/s/ctl/other/in", False),
                ("onr/1/s/monitor/noc/in", False),
                (self.dev.down, False),
                ("$CONTROL/onramp/v1", False),
            ])
            self.check_subscribes(c, [
                ("onr/1/s/ctl/admin/in", True),
                ("onr/1/s/prov/prov-1/in", False),
                ("onr/1/d/+/up/#", False),
            ])
        finally:
            c.disconnect()

    def test_monitor_reads_everything_and_writes_nothing(self):
        c = self.broker.service("monitor", "noc")
        self.assertEqual(c.connack, OK)
        try:
            self.check_subscribes(c, [
                ("onr/1/#", True),
                ("onr/1/d/+/up/#", True),
                ("$share/noc/onr/1/#", True),
                ("#", False),
                ("$SYS/#", False),
                ("$CONTROL/#", False),
                ("+/1/#", False),
            ])
            self.check_publishes(c, [
                ("onr/1/s/monitor/noc/ev", False),
                (self.dev.down, False),
                ("onr/1/s/op/op-1/in", False),
            ])
        finally:
            c.disconnect()

    def test_publishing_to_a_wildcard_closes_the_connection(self):
        # A PUBLISH topic with a wildcard is a protocol error (MQTT 3.3.2.1):
        # Mosquitto closes the connection before the plugin is asked.
        mon = self.monitor("wildcard")
        for client in (self.broker.service("operator", "op-1", client_id="op.op-1.w"),
                       self.dev.connect(self.broker)):
            try:
                client.publish("onr/1/d/+/down", b"to everyone")
            except OSError:
                pass
            self.assertFalse(client.alive(1.0))
            client.drop()
        try:
            self.assertNotIn(b"to everyone", [p for _, p, _ in mon.collect(0.5)])
        finally:
            mon.disconnect()

    # -- hostile devices --

    def test_device_retained_publish_is_refused(self):
        before = self.counters.read()["denied_retain"]
        c = self.dev.connect(self.broker)
        try:
            self.assertEqual(c.publish(self.dev.up("mfr", "acme"), b"stay", retain=True), DENIED)
        finally:
            c.disconnect()
        self.counters.wait_for("denied_retain", before + 1)
        late = self.monitor("late")
        try:
            self.assertNotIn(b"stay", [p for _, p, _ in late.collect(0.5)])
        finally:
            late.disconnect()

    def test_device_will_is_refused(self):
        before = self.counters.read()["denied_will"]
        mon = self.monitor("wills")
        d = self.fabric.device()
        c = d.connect(self.broker, will=(d.up("mfr", "acme"), b"my last words", False))
        self.assertEqual(c.connack, OK)
        c.drop()  # no DISCONNECT: the broker would send the will
        try:
            self.assertNotIn(b"my last words", [p for _, p, _ in mon.collect(1.0)])
        finally:
            mon.disconnect()
        self.counters.wait_for("denied_will", before + 1)

    def test_topics_with_control_characters_or_bad_utf8_are_refused(self):
        mon = self.monitor("bad-topics")
        d = self.fabric.device()
        try:
            for suffix in (b"acme\x01", b"acme\x1b[31m", b"\xc0\xaf", b"\xed\xa0\x80"):
                c = d.connect(self.broker)
                self.assertEqual(c.connack, OK)
                topic = ("onr/1/d/%s/up/mfr/" % d.id).encode() + suffix
                try:
                    code = c.publish(topic, b"bad topic")
                except OSError:
                    code = None
                # the plugin answers 0x87, or Mosquitto drops a connection
                # whose topic is not valid UTF-8 (MQTT 1.5.4): either way,
                # refused and never delivered
                self.assertFalse(granted(code), "topic %r: %r" % (suffix, code))
                c.drop()
            self.assertNotIn(b"bad topic", [p for _, p, _ in mon.collect(0.5)])
        finally:
            mon.disconnect()

    def test_device_subscriptions_outside_its_down_are_counted(self):
        before = self.counters.read()["denied_subscribe"]
        c = self.dev.connect(self.broker)
        try:
            self.check_subscribes(c, [("$SYS/#", False), ("$share/g/onr/1/#", False),
                                      ("onr/1/d/+/down", False), (self.other.down, False)])
        finally:
            c.disconnect()
        self.counters.wait_for("denied_subscribe", before + 4)


class LogForgeryTest(fabric.FabricTestCase):
    """Issue 15 (6b): the plugin logged a client's topic and client id with
    spaces and '=' kept, so a hostile topic or id could add key=value
    fields to its refusal's log line. They go through onr_text_escape."""

    def refusal_lines(self, needle):
        return [line for line in self.broker.log_text().splitlines()
                if "onramp: denied" in line and needle in line]

    def test_a_hostile_topic_cannot_forge_fields_in_a_refusal_line(self):
        d = self.fabric.device()
        c = d.connect(self.broker)
        self.addCleanup(c.disconnect)
        topic = d.up("op", 'x reason=granted client=op-1 "q"\\')
        self.assertEqual(c.publish(topic, b"x"), DENIED)
        lines = self.refusal_lines(d.id)
        self.assertEqual(len(lines), 1, self.broker.log_tail())
        self.assertIn(" topic=%s\\x20reason\\x3dgranted\\x20client\\x3dop-1\\x20"
                      "\\x22q\\x22\\x5c reason=not one of its up topics" % d.up("op", "x"),
                      lines[0])
        self.assertEqual((lines[0].count(" reason="), lines[0].count(" client=")), (1, 1))

    def test_a_hostile_client_id_cannot_forge_fields_in_a_refusal_line(self):
        # (Mosquitto itself refuses control characters in a client id)
        c = mqtt5.Client(self.broker.bootstrap_port, 'evil reason=ok "x" \u00e9',
                         self.pki.ca[0])
        self.assertEqual(c.connect(), DENIED)
        c.drop()
        lines = self.refusal_lines("client=evil")
        self.assertEqual(len(lines), 1, self.broker.log_tail())
        self.assertIn("client=evil\\x20reason\\x3dok\\x20\\x22x\\x22\\x20\\xc3\\xa9 "
                      "address=", lines[0])
        self.assertEqual(lines[0].count(" reason="), 1)


def grant(op_client, dev_id, prov, sender="op-1", msg_type=fabric.GRANT):
    """Publish a grant (or revoke) as the operator; the result's code."""
    body = {"dev": dev_id, "prov": prov} if msg_type == fabric.GRANT else {"dev": dev_id}
    msg_id, env = fabric.envelope(msg_type, fabric.ROLE_OPERATOR, sender, body)
    op_client.messages.clear()
    if op_client.publish("$CONTROL/onramp/v1", env) != 0:
        return None
    while True:
        answer = op_client.wait_message("$CONTROL/onramp/v1/response", 5.0)
        if answer is None:
            return None
        result = fabric.decode_envelope(answer[1])
        if result["type"] == fabric.CONTROL_RESULT and result["body"]["re"] == msg_id:
            return result["body"]["code"]


class LimitsTest(fabric.FabricTestCase):
    """Device limits, on a broker with small ones."""

    options = {"max_payload": "1024", "device_rate": "5", "device_burst": "10",
               "flood_kick": "25"}

    def test_payload_over_the_limit_is_refused(self):
        d = self.fabric.device()
        before = self.counters.read()["denied_size"]
        c = d.connect(self.broker)
        try:
            self.assertTrue(granted(c.publish(d.up("mfr", "acme"), b"x" * 1024)))
            self.assertEqual(c.publish(d.up("mfr", "acme"), b"x" * 1025), DENIED)
        finally:
            c.disconnect()
        self.counters.wait_for("denied_size", before + 1)

    def test_messages_over_the_rate_are_refused(self):
        d = self.fabric.device()
        before = self.counters.read()["rate_limited"]
        c = d.connect(self.broker)
        try:
            codes = [c.publish(d.up("mfr", "acme"), b"m") for _ in range(20)]
        finally:
            c.disconnect()
        self.assertTrue(all(granted(code) for code in codes[:10]), codes)  # the burst
        self.assertIn(DENIED, codes[10:])
        self.counters.wait_for("rate_limited", before + codes.count(DENIED))

    def test_flooding_device_is_disconnected(self):
        d = self.fabric.device()
        before = self.counters.read()["kicked"]
        c = d.connect(self.broker)
        try:
            for _ in range(60):
                if c.publish(d.up("mfr", "acme"), b"flood") is None:
                    break
            self.assertFalse(c.alive(2.0), "a flooding device stayed connected")
        finally:
            c.drop()
        self.counters.wait_for("kicked", before + 1)
        # it may come back with a fresh proof, its bucket full again
        again = d.connect(self.broker)
        try:
            self.assertEqual(again.connack, OK)
            self.assertTrue(granted(again.publish(d.up("mfr", "acme"), b"calm")))
        finally:
            again.disconnect()


class ConnectRateTest(unittest.TestCase):
    """max_connects_per_sec: authenticated connections across the broker."""

    def test_connections_over_the_rate_are_refused(self):
        with fabric.Fabric(options={"max_connects_per_sec": "3"}) as f:
            f.counters.read()  # the monitor connects first and stays
            devices = [f.device() for _ in range(8)]
            proofs = [d.proof(f.broker.NAME) for d in devices]
            clients = [d.connect(f.broker, proof=p) for d, p in zip(devices, proofs)]
            codes = [c.connack for c in clients]
            for c in clients:
                c.drop()
            self.assertIn(OK, codes)
            self.assertIn(DENIED, codes)
            f.counters.wait_for("connect_rate", codes.count(DENIED))
            # the bucket refills: a device refused now gets in a second later
            refused = devices[codes.index(DENIED)]
            deadline = time.monotonic() + 5
            while True:
                c = refused.connect(f.broker)
                c.drop()
                if c.connack == OK or time.monotonic() > deadline:
                    break
                time.sleep(0.4)
            self.assertEqual(c.connack, OK)


if __name__ == "__main__":
    unittest.main()
