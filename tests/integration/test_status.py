"""onrampctl status (issue 7): a device's journey as its manufacturer,
provider and operator know it (SPEC types 30/31), on a real mosquitto with
the onramp plugin and the real services.

Cast: manufacturer acme, provider prov-a, operator op-1; control tools
admin (listed by every service) and stranger (listed by none).
"""

import json
import os
import signal
import subprocess
import time
import unittest

import onboarding

STEPS = ["claimed", "registered", "vouched", "profiled", "attached", "enrolled", "aligned",
         "operational"]


class StatusTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.stranger = onboarding.Controller(onb, "stranger")
            listed = {"controller": "%s %s" % (cls.ctl.id, cls.ctl.pub)}
            cls.prov = onb.provider("prov-a")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov], extra=listed)
            cls.prov.configure([cls.acme], {"op-1": onb.operator_key("op-1")}, "op-1",
                               [cls.ctl])
            onb.track(cls.prov.process)
            cls.op = onb.operator("op-1", [cls.acme], [cls.prov], extra=listed)
            for svc in (cls.acme, cls.prov, cls.op):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def status(self, dev, ctl=None, json_out=True, timeout=10, ask=("mfr", "prov", "op")):
        """onrampctl status asking those of `ask`; (exit status, stdout, stderr)."""
        ctl = ctl or self.ctl
        argv = [onboarding.program("onrampctl"), "status", "--dev", dev]
        if "mfr" in ask:
            argv += ["--manufacturer", self.acme.id,
                     "--manufacturer-key", self.acme.signing_pub]
        if "prov" in ask:
            argv += ["--provider", self.prov.id, "--provider-key", self.prov.signing_pub]
        if "op" in ask:
            argv += ["--operator", self.op.id,
                     "--operator-key", self.onb.operator_key(self.op.id)]
        argv += ["--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", ctl.cert, "--key", ctl.key,
                "--timeout", str(timeout)]
        if json_out:
            argv.append("--json")
        proc = subprocess.run(argv, capture_output=True, text=True)
        return proc.returncode, proc.stdout, proc.stderr

    def operational_device(self):
        (d,) = self.acme.mint(1)
        label = onboarding.DeviceRun(self.onb, d).label()
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        run = self.onb.device(d)
        run.process.start()
        self.assertEqual(run.process.exit_status(timeout=90), 0, run.process.text())
        self.assertIn("state=OPERATIONAL", run.process.text())
        dev = os.path.basename(d)
        onboarding.wait_until(lambda: self.prov.rows(
            "SELECT count(*) FROM operational WHERE dev = ?", dev) == [(1,)],
            what="telemetry of " + dev)
        onboarding.wait_until(lambda: self.prov.rows(
            "SELECT aligned_at IS NOT NULL FROM alignments WHERE dev = ?", dev) == [(1,)],
            what="provider's alignment of " + dev)
        onboarding.wait_until(lambda: self.op.rows(
            "SELECT aligned_at IS NOT NULL FROM subscribers WHERE dev = ?", dev) == [(1,)],
            what="operator's alignment of " + dev)
        return dev

    # -- the journey --

    def test_an_operational_device_has_its_whole_journey(self):
        dev = self.operational_device()
        rc, out, err = self.status(dev)
        self.assertEqual(rc, 0, out + err)
        answer = json.loads(out)
        self.assertEqual(answer["dev"], dev)
        states = {s["role"]: (s["id"], s["answered"], s["state"]) for s in answer["services"]}
        states_json = {s["role"]: s["cert_expires"] for s in answer["services"]}
        self.assertEqual(states, {"manufacturer": ("acme", True, "assigned"),
                                  "provider": ("prov-a", True, "operational"),
                                  "operator": ("op-1", True, "aligned")})
        steps = answer["steps"]
        self.assertEqual([s["step"] for s in steps], STEPS)
        at = {s["step"]: s["time"] for s in steps}
        by = {s["step"]: s["by"] for s in steps}
        # every step has a time
        for step in STEPS:
            self.assertGreater(at[step], 0, step)
        # who says so
        self.assertEqual(by["claimed"], ["provider:prov-a"])
        self.assertEqual(by["registered"], ["manufacturer:acme"])
        self.assertEqual(by["vouched"], ["manufacturer:acme"])
        self.assertEqual(by["profiled"], ["operator:op-1"])
        self.assertEqual(sorted(by["attached"]), ["operator:op-1", "provider:prov-a"])
        self.assertEqual(by["enrolled"], ["provider:prov-a"])
        self.assertEqual(sorted(by["aligned"]), ["operator:op-1", "provider:prov-a"])
        self.assertEqual(by["operational"], ["provider:prov-a"])
        # in journey order: the manufacturer registers before the provider
        # hears it is claimed; the subscription before the attach; the
        # certificate needs the key; telemetry comes last
        self.assertLessEqual(at["registered"], at["claimed"])
        for a, b in [("claimed", "attached"), ("registered", "vouched"),
                     ("vouched", "profiled"), ("profiled", "attached"),
                     ("attached", "enrolled"), ("attached", "aligned"),
                     ("enrolled", "operational")]:
            self.assertLessEqual(at[a], at[b], "%s after %s" % (a, b))
        for s in steps:
            if s["time"]:
                self.assertRegex(s["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # the table says the same
        rc, out, err = self.status(dev, json_out=False)
        self.assertEqual(rc, 0, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "dev " + dev)
        self.assertIn("state=assigned", lines[1])
        self.assertIn("state=operational", lines[2])
        self.assertIn("state=aligned", lines[3])
        # the steps, past the roaming lines (the operator chosen, and why)
        rows = [line.split() for line in lines[4:] if not line.startswith("roaming ")]
        self.assertEqual([r[0] for r in rows], STEPS + ["certificate"])
        # the service certificate's expiry, as the provider knows it
        (not_after,), = self.prov.rows("SELECT not_after FROM certificates WHERE dev = ?"
                                       " AND revoked_at IS NULL", dev)
        self.assertEqual(rows[-1][1:], [time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                      time.gmtime(not_after)),
                                        "provider:prov-a"])
        self.assertEqual(states_json["provider"], not_after)
        self.assertEqual(rows[STEPS.index("vouched")][2], "manufacturer:acme")
        self.assertEqual(rows[STEPS.index("operational")][2], "provider:prov-a")

    def test_a_device_never_seen_is_unknown_everywhere(self):
        dev = "a" * 32
        rc, out, err = self.status(dev)
        self.assertEqual(rc, 0, out + err)
        answer = json.loads(out)
        self.assertEqual(sorted((s["role"], s["answered"], s["state"])
                                for s in answer["services"]),
                         [("manufacturer", True, "unknown"), ("operator", True, "unknown"),
                          ("provider", True, "unknown")])
        self.assertEqual([(s["time"], s["at"], s["by"]) for s in answer["steps"]],
                         [(0, None, [])] * len(STEPS))

    def test_a_control_tool_not_listed_gets_no_answer(self):
        rc, out, err = self.status("a" * 32, ctl=self.stranger, timeout=2)
        self.assertEqual(rc, 1, out + err)
        for who in ("manufacturer acme", "provider prov-a", "operator op-1"):
            self.assertIn("no status from " + who, err)
        answer = json.loads(out)
        self.assertFalse(any(s["answered"] for s in answer["services"]))

    def test_a_controller_line_takes_effect_on_reload_all_or_nothing(self):
        late = onboarding.Controller(self.onb, "late")
        rc, out, err = self.status("b" * 32, ctl=late, timeout=2, ask=("op",))
        self.assertEqual(rc, 1, out + err)
        with open(self.op.conf, "a") as f:
            f.write("controller %s %s\n" % (late.id, late.pub))
        self.op.process.proc.send_signal(signal.SIGHUP)
        self.op.process.wait_for("reloaded")
        rc, out, err = self.status("b" * 32, ctl=late, ask=("op",))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(json.loads(out)["services"][0]["state"], "unknown")
        # a broken controller line: the whole reload is refused, the
        # controllers stay as they were
        with open(self.op.conf, "a") as f:
            f.write("controller broken /nonexistent.pub\n")
        self.op.process.proc.send_signal(signal.SIGHUP)
        self.op.process.wait_for("reload refused")
        rc, out, err = self.status("b" * 32, ctl=late, ask=("op",))
        self.assertEqual(rc, 0, out + err)
        # the manufacturer and the provider never listed it
        rc, out, err = self.status("b" * 32, ctl=late, timeout=2, ask=("mfr", "prov"))
        self.assertEqual(rc, 1, out + err)

    def test_usage(self):
        base = [onboarding.program("onrampctl"), "status"]
        broker = ["--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                  "--cafile", self.onb.pki.ca[0], "--cert", self.ctl.cert,
                  "--key", self.ctl.key]
        for argv in (
                broker + ["--dev", "a" * 32],                        # no service
                broker + ["--dev", "a" * 32, "--provider", "prov-a"],  # no key
                broker + ["--dev", "nope", "--provider", "prov-a",
                          "--provider-key", self.prov.signing_pub],
                ["--dev", "a" * 32, "--provider", "prov-a",
                 "--provider-key", self.prov.signing_pub]):            # no broker
            proc = subprocess.run(base + argv, capture_output=True, text=True)
            self.assertEqual(proc.returncode, 2, argv)
        proc = subprocess.run(base + ["--help"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("--manufacturer-key", proc.stdout)


if __name__ == "__main__":
    unittest.main()
