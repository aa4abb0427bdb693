"""Grants and revocations through $CONTROL/onramp/v1 (proto/SPEC.md section
11): only operators, only for themselves, live on existing connections,
durable before answered, and kept across a broker restart."""

import os
import unittest

import fabric
import mqtt5
from test_plugin_confinement import grant

EDENIED, ENOENT, ESCHEMA, EHELD = 12, 4, 35, 54


accepted = mqtt5.accepted


class ControlTest(fabric.FabricTestCase):

    def operator(self, svc="op-1"):
        op = self.broker.service("operator", svc)
        self.assertEqual(op.connack, 0)
        self.addCleanup(op.disconnect)
        return op

    def test_grant_and_revoke_apply_to_a_live_connection(self):
        d = self.fabric.device()
        c = d.connect(self.broker)
        self.addCleanup(c.disconnect)
        self.assertEqual(c.publish(d.up("prov", "prov-1"), b"before"), mqtt5.NOT_AUTHORIZED)
        op = self.operator()
        before = self.counters.read()
        self.assertEqual(grant(op, d.id, "prov-1"), 0)
        self.assertTrue(accepted(c.publish(d.up("prov", "prov-1"), b"granted")))
        self.assertEqual(c.publish(d.up("prov", "prov-2"), b"other"), mqtt5.NOT_AUTHORIZED)
        self.assertEqual(grant(op, d.id, None, msg_type=fabric.REVOKE), 0)
        self.assertEqual(c.publish(d.up("prov", "prov-1"), b"revoked"), mqtt5.NOT_AUTHORIZED)
        after = self.counters.wait_for("revocations", before["revocations"] + 1)
        self.assertEqual(after["grants"], before["grants"] + 1)

    def test_grant_is_idempotent_and_a_later_grant_wins(self):
        d = self.fabric.device()
        op = self.operator()
        self.assertEqual(grant(op, d.id, "prov-1"), 0)
        self.assertEqual(grant(op, d.id, "prov-1"), 0)
        self.assertEqual(grant(op, d.id, "prov-2"), 0)
        c = d.connect(self.broker)
        self.addCleanup(c.disconnect)
        self.assertTrue(accepted(c.publish(d.up("prov", "prov-2"), b"x")))
        self.assertEqual(c.publish(d.up("prov", "prov-1"), b"x"), mqtt5.NOT_AUTHORIZED)

    def test_envelope_speaking_for_another_operator_is_refused(self):
        d = self.fabric.device()
        op = self.operator()
        before = self.counters.read()["control_refused"]
        self.assertEqual(grant(op, d.id, "prov-1", sender="op-2"), EDENIED)
        self.counters.wait_for("control_refused", before + 1)
        c = d.connect(self.broker)
        self.addCleanup(c.disconnect)
        self.assertEqual(c.publish(d.up("prov", "prov-1"), b"x"), mqtt5.NOT_AUTHORIZED)

    def test_only_the_granting_operator_may_revoke(self):
        d = self.fabric.device()
        op1 = self.operator("op-1")
        op2 = self.operator("op-2")
        self.assertEqual(grant(op2, d.id, None, sender="op-2", msg_type=fabric.REVOKE), ENOENT)
        self.assertEqual(grant(op1, d.id, "prov-1"), 0)
        self.assertEqual(grant(op2, d.id, None, sender="op-2", msg_type=fabric.REVOKE), EHELD)
        c = d.connect(self.broker)
        self.addCleanup(c.disconnect)
        self.assertTrue(accepted(c.publish(d.up("prov", "prov-1"), b"still granted")))

    def test_malformed_control_messages_are_answered_with_an_error(self):
        op = self.operator()
        d = self.fabric.device()
        before = self.counters.read()["control_refused"]
        # an envelope cut short
        msg_id, env = fabric.envelope(fabric.GRANT, fabric.ROLE_OPERATOR, "op-1",
                                      {"dev": d.id, "prov": "prov-1"})
        op.messages.clear()
        self.assertEqual(op.publish("$CONTROL/onramp/v1", env[:-5]), 0)
        answer = op.wait_message("$CONTROL/onramp/v1/response")
        self.assertIsNotNone(answer, "no answer to a malformed request")
        answer = fabric.decode_envelope(answer[1])
        self.assertNotEqual(answer["body"]["code"], 0)
        self.assertEqual(answer["role"], fabric.ROLE_BROKER)
        self.assertEqual(answer["sender"], self.broker.NAME)
        # a grant claiming to come from a provider: not a grant's sender
        msg_id, env = fabric.envelope(fabric.GRANT, 4, "op-1", {"dev": d.id, "prov": "prov-1"})
        op.messages.clear()
        op.publish("$CONTROL/onramp/v1", env)
        answer = op.wait_message("$CONTROL/onramp/v1/response")
        self.assertIsNotNone(answer)
        self.assertEqual(fabric.decode_envelope(answer[1])["body"]["code"], ESCHEMA)
        self.counters.wait_for("control_refused", before + 2)

    def test_other_services_cannot_publish_to_control(self):
        d = self.fabric.device()
        for role, svc in (("manufacturer", "acme"), ("monitor", "noc")):
            c = self.broker.service(role, svc)
            try:
                _, env = fabric.envelope(fabric.GRANT, fabric.ROLE_OPERATOR, svc,
                                         {"dev": d.id, "prov": "prov-1"})
                self.assertEqual(c.publish("$CONTROL/onramp/v1", env), mqtt5.NOT_AUTHORIZED)
            finally:
                c.disconnect()
        # a provider may ask (it revokes certificates), but never grant
        c = self.broker.service("provider", "prov-1")
        try:
            self.assertEqual(fabric.control(c, fabric.GRANT, fabric.ROLE_OPERATOR, "prov-1",
                                            {"dev": d.id, "prov": "prov-1"}), EDENIED)
        finally:
            c.disconnect()
        dc = d.connect(self.broker)
        self.addCleanup(dc.disconnect)
        self.assertEqual(dc.publish(d.up("prov", "prov-1"), b"x"), mqtt5.NOT_AUTHORIZED)


class TakeoverTest(unittest.TestCase):
    """Issue 15: with op-2's own services certificate, a grant of a device
    op-1 granted replaced op-1's grant, and op-2 could then revoke it. A
    grant is held by its operator: another one is refused with EHELD and
    nothing changes, on the live connection, in the journal, after a
    restart (proto/SPEC.md section 11)."""

    def test_another_operator_cannot_take_over_or_revoke_a_grant(self):
        with fabric.Fabric() as f:
            d = f.device()
            op1 = f.broker.service("operator", "op-1")
            op2 = f.broker.service("operator", "op-2")
            self.assertEqual((op1.connack, op2.connack), (0, 0))
            live = d.connect(f.broker)
            self.assertEqual(live.connack, 0)
            self.assertEqual(grant(op1, d.id, "prov-1"), 0)
            before = f.counters.read()

            self.assertEqual(grant(op2, d.id, "prov-2", sender="op-2"), EHELD)
            self.assertEqual(grant(op2, d.id, "prov-1", sender="op-2"), EHELD)
            self.assertEqual(grant(op2, d.id, None, sender="op-2", msg_type=fabric.REVOKE),
                             EHELD)
            after = f.counters.wait_for("grant_conflicts", before["grant_conflicts"] + 3)
            self.assertEqual(after["grant_conflicts"], before["grant_conflicts"] + 3)
            for name in ("control_refused", "grants", "revocations"):
                self.assertEqual(after[name], before[name], name)
            held = "reason=grant of %s held by operator op-1" % d.id
            self.assertEqual([line for line in f.broker.log_text().splitlines()
                              if "onramp: denied control client=op-2" in line and held in line
                              ], [line for line in f.broker.log_text().splitlines()
                                  if "onramp: denied control client=op-2" in line])
            self.assertEqual(f.broker.log_text().count(held), 3)

            # the live connection keeps op-1's grant, and only it
            self.assertTrue(accepted(live.publish(d.up("prov", "prov-1"), b"still mine")))
            self.assertEqual(live.publish(d.up("prov", "prov-2"), b"x"), mqtt5.NOT_AUTHORIZED)
            # op-1 granting again stays idempotent
            self.assertEqual(grant(op1, d.id, "prov-1"), 0)
            live.disconnect()
            op1.disconnect()
            op2.disconnect()
            f.counters.close()

            f.broker.restart()
            with open(f.broker.grants) as journal:
                first, records = journal.readline(), journal.read()
            self.assertTrue(first.startswith("epoch "), first)  # the journal's identity
            self.assertEqual(records, "grant %s prov-1 op-1\n" % d.id)
            again = d.connect(f.broker)  # a fresh proof
            try:
                self.assertEqual(again.connack, 0, f.broker.log_tail())
                self.assertTrue(accepted(again.publish(d.up("prov", "prov-1"), b"after")))
                self.assertEqual(again.publish(d.up("prov", "prov-2"), b"x"),
                                 mqtt5.NOT_AUTHORIZED)
            finally:
                again.disconnect()

    def test_a_device_moves_when_the_holder_revokes_first(self):
        with fabric.Fabric() as f:
            d = f.device()
            op1 = f.broker.service("operator", "op-1")
            op2 = f.broker.service("operator", "op-2")
            self.assertEqual(grant(op1, d.id, "prov-1"), 0)
            self.assertEqual(grant(op2, d.id, "prov-2", sender="op-2"), EHELD)
            self.assertEqual(grant(op1, d.id, None, msg_type=fabric.REVOKE), 0)
            # the new operator's sender resends until confirmed
            self.assertEqual(grant(op2, d.id, "prov-2", sender="op-2"), 0)
            self.assertEqual(grant(op1, d.id, "prov-1"), EHELD)
            op1.disconnect()
            op2.disconnect()
            c = d.connect(f.broker)
            try:
                self.assertTrue(accepted(c.publish(d.up("prov", "prov-2"), b"moved")))
                self.assertEqual(c.publish(d.up("prov", "prov-1"), b"x"), mqtt5.NOT_AUTHORIZED)
            finally:
                c.disconnect()


class RestartTest(unittest.TestCase):
    def test_grants_survive_a_broker_restart(self):
        with fabric.Fabric() as f:
            kept, dropped = f.device(), f.device()
            op = f.broker.service("operator", "op-1")
            self.assertEqual(grant(op, kept.id, "prov-1"), 0)
            self.assertEqual(grant(op, dropped.id, "prov-1"), 0)
            self.assertEqual(grant(op, dropped.id, None, msg_type=fabric.REVOKE), 0)
            op.disconnect()
            f.counters.close()
            f.broker.restart()
            self.assertIn("broker %s, 1 grants" % f.broker.NAME, f.broker.log_text())
            c = kept.connect(f.broker)  # a fresh proof: the old one was used
            try:
                self.assertEqual(c.connack, 0)
                self.assertTrue(accepted(c.publish(kept.up("prov", "prov-1"), b"after")))
            finally:
                c.disconnect()
            c = dropped.connect(f.broker)
            try:
                self.assertEqual(c.publish(dropped.up("prov", "prov-1"), b"x"),
                                 mqtt5.NOT_AUTHORIZED)
            finally:
                c.disconnect()


class EpochTest(unittest.TestCase):
    """The grants journal's epoch (proto/SPEC.md section 11): in the
    counters and in every control result; kept when the broker restarts
    from its journal, new when the journal is lost, which is how the
    services notice a broker that holds none of the grants in force."""

    def epoch_of_a_grant(self, f, dev):
        op = f.broker.service("operator", "op-1")
        try:
            result = fabric.control_result(op, fabric.GRANT, fabric.ROLE_OPERATOR, "op-1",
                                           {"dev": dev.id, "prov": "prov-1"})
        finally:
            op.disconnect()
        self.assertIsNotNone(result, f.broker.log_tail())
        self.assertEqual(result["code"], 0)
        return result["epoch"]

    def test_epoch_survives_a_restart_and_changes_when_the_journal_is_lost(self):
        with fabric.Fabric() as f:
            dev = f.device()
            epoch = f.counters.read()["epoch"]
            self.assertEqual(len(epoch), 16)
            self.assertIn("epoch %s (new" % epoch.hex(), f.broker.log_text())
            # every control result names the journal that answered
            self.assertEqual(self.epoch_of_a_grant(f, dev), epoch)
            with open(f.broker.grants) as journal:
                self.assertEqual(journal.readline(), "epoch %s\n" % epoch.hex())

            f.counters.close()
            f.broker.restart()  # restored from its journal: the same epoch
            self.assertEqual(f.counters.read()["epoch"], epoch)
            self.assertIn("1 grants", f.broker.log_text())
            self.assertEqual(self.epoch_of_a_grant(f, dev), epoch)

            f.counters.close()
            f.broker.stop()
            os.unlink(f.broker.grants)  # a new disk: nothing it confirmed is left
            f.broker.start()
            renewed = f.counters.read()["epoch"]
            self.assertEqual(len(renewed), 16)
            self.assertNotEqual(renewed, epoch)
            self.assertIn("0 grants", f.broker.log_text())
            self.assertEqual(self.epoch_of_a_grant(f, dev), renewed)

    def test_a_journal_without_an_epoch_gets_one(self):
        with fabric.Fabric() as f:
            dev = f.device()
            f.counters.close()
            f.broker.stop()
            # a journal as the plugin wrote it before epochs existed
            with open(f.broker.grants, "w") as journal:
                journal.write("grant %s prov-1 op-1\n" % dev.id)
            f.broker.start()
            epoch = f.counters.read()["epoch"]
            self.assertIn("1 grants", f.broker.log_text())
            self.assertIn("epoch %s (new" % epoch.hex(), f.broker.log_text())
            with open(f.broker.grants) as journal:
                self.assertEqual(journal.read(),
                                 "epoch %s\ngrant %s prov-1 op-1\n" % (epoch.hex(), dev.id))


if __name__ == "__main__":
    unittest.main()
