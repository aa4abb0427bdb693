"""Persistent sessions of services and monitors across a broker restart
(broker-plugins/README.md, "Sessions"). Mosquitto restores a service's
session from its persistence file at start and checks READ for every
message it queues for it; the plugin must vouch for that session before
its client reconnects, or the messages are denied and dropped (issue 15:
the chaos test counted 200-250 such denials per run)."""

import os
import ssl
import unittest

import fabric
import mqtt5

INBOX = "onr/1/s/op/op-1/in"
PERSISTENT = {"clean": False, "session_expiry": 3600}


class RestoredSessionTest(unittest.TestCase):

    def connect(self, f, role, svc, **kwargs):
        c = f.broker.service(role, svc, **kwargs)
        self.assertEqual(c.connack, 0, f.broker.log_tail())
        return c

    def test_messages_for_a_restored_service_session_are_delivered(self):
        with fabric.Fabric(persistence=True) as f:
            op = self.connect(f, "operator", "op-1", **PERSISTENT)
            self.assertEqual(op.subscribe(INBOX), 1)
            mon = self.connect(f, "monitor", "noc", **PERSISTENT)
            self.assertEqual(mon.subscribe("onr/1/s/+/+/in"), 1)
            op.disconnect()
            mon.disconnect()
            prov = self.connect(f, "provider", "prov-1")
            self.assertTrue(mqtt5.accepted(prov.publish(INBOX, b"queued before the restart")))
            prov.disconnect()
            f.counters.close()
            f.broker.restart()  # SIGTERM: Mosquitto saves its sessions

            before = f.counters.read()
            prov = self.connect(f, "provider", "prov-1")
            self.assertTrue(mqtt5.accepted(prov.publish(INBOX, b"sent while op-1 is away")))
            prov.disconnect()
            after = f.counters.read()
            self.assertEqual(after["denied_read"], before["denied_read"], f.broker.log_tail())

            op = self.connect(f, "operator", "op-1", **PERSISTENT)
            mon = self.connect(f, "monitor", "noc", **PERSISTENT)
            try:
                for client in (op, mon):
                    got = [client.wait_message(INBOX, 5) for _ in range(2)]
                    self.assertEqual([m and m[1] for m in got],
                                     [b"queued before the restart", b"sent while op-1 is away"],
                                     f.broker.log_tail())
            finally:
                op.disconnect()
                mon.disconnect()
            self.assertEqual(f.counters.read()["denied_read"], before["denied_read"])

    def test_sessions_the_plugin_would_not_admit_now_are_dropped_at_start(self):
        """The sessions file is judged again at start against the CAs
        configured then: a certificate from a CA the plugin does not have,
        or a client id that is not the certificate's, gets nothing."""
        with fabric.Fabric(persistence=True) as f:
            op = self.connect(f, "operator", "op-1", **PERSISTENT)
            self.assertEqual(op.subscribe(INBOX), 1)
            op.disconnect()
            f.counters.close()
            f.broker.stop()
            foreign = der_hex(f.pki.client("operator", "op-1", foreign=True)[0])
            genuine = der_hex(f.pki.client("operator", "op-1")[0])
            with open(f.broker.sessions, "w") as fh:
                fh.write("op.op-1 %s\nop.op-2 %s\n" % (foreign, genuine))
            f.broker.start()
            log = f.broker.log_text()
            self.assertIn("session op.op-1 dropped: its certificate does not verify", log)
            self.assertIn("session op.op-2 dropped: client id is not", log)
            with open(f.broker.sessions) as fh:
                self.assertEqual(fh.read(), "")
            before = f.counters.read()
            prov = self.connect(f, "provider", "prov-1")
            prov.publish(INBOX, b"for a session nobody vouches for")
            prov.disconnect()
            f.counters.wait_for("denied_read", before["denied_read"] + 1)


class QueuedControlAnswerTest(unittest.TestCase):
    """Found by the chaos test once restored sessions were vouched for: the
    plugin answers a control request on $CONTROL/onramp/v1/response to the
    asking client only. An operator that went away before its answer (a
    crash, a broker restart) gets it queued in its persistent session, and
    Mosquitto checks READ when it delivers it: the plugin must allow it."""

    def test_an_answer_queued_across_a_restart_is_delivered(self):
        with fabric.Fabric(persistence=True) as f:
            d = f.device()
            op = f.broker.service("operator", "op-1", **PERSISTENT)
            self.assertEqual(op.connack, 0)
            msg_id, env = fabric.envelope(fabric.GRANT, fabric.ROLE_OPERATOR, "op-1",
                                          {"dev": d.id, "prov": "prov-1"})
            self.assertEqual(op.publish(fabric.CONTROL_TOPIC, env), 0)
            op.drop()  # gone before the answer (it waits for the next tick)
            # counters published after the grant come from a tick that sent
            # the answers first: the answer is queued for op-1 by then
            f.counters.wait_for("grants", 1)
            f.counters.close()
            f.broker.restart()
            before = f.counters.read()
            op = f.broker.service("operator", "op-1", **PERSISTENT)
            try:
                answer = op.wait_message(fabric.CONTROL_TOPIC + "/response", 5)
                self.assertIsNotNone(answer, f.broker.log_tail())
                result = fabric.decode_envelope(answer[1])
                self.assertEqual((result["body"]["re"], result["body"]["code"]), (msg_id, 0))
            finally:
                op.disconnect()
            self.assertEqual(f.counters.read()["denied_read"], before["denied_read"])


def der_hex(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read()).hex()


class SessionFileTest(unittest.TestCase):

    def test_a_changed_certificate_replaces_the_record_and_clean_sessions_are_not_kept(self):
        with fabric.Fabric(persistence=True) as f:
            path = f.broker.sessions
            op = f.broker.service("operator", "op-1", **PERSISTENT)
            op.disconnect()
            with open(path) as fh:
                first = fh.read()
            self.assertEqual([line.split()[0] for line in first.splitlines()], ["op.op-1"])
            # the same certificate again: nothing written
            mtime = os.stat(path).st_mtime_ns
            f.broker.service("operator", "op-1", **PERSISTENT).disconnect()
            self.assertEqual(os.stat(path).st_mtime_ns, mtime)
            # a new certificate for op-1 replaces the record
            cert = f.pki._leaf("operator-op-1-new", "/O=Onramp tests/OU=operator/CN=op-1",
                               f.pki.ca, "extendedKeyUsage=clientAuth\n")
            f.broker.service("operator", "op-1", cert=cert, **PERSISTENT).disconnect()
            with open(path) as fh:
                second = fh.read()
            self.assertEqual([line.split()[0] for line in second.splitlines()], ["op.op-1"])
            self.assertNotEqual(first, second)
            # a clean session (onrampctl's, a monitor that keeps none) is not recorded,
            # and a client that now connects clean drops its record
            f.broker.service("monitor", "noc").disconnect()
            f.broker.service("operator", "op-1", cert=cert).disconnect()
            with open(path) as fh:
                self.assertEqual(fh.read(), "")


if __name__ == "__main__":
    unittest.main()
