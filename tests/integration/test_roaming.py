"""Roaming (issue 17, the services): the operator chosen where the device is
switched on, by its owner's policy; a device in a country with no operator
waits until a policy (added by SIGHUP) names one; an operational device
that moves is relocated to the operator its policy names there, through a
crash of any service at any step; operators refuse countries they do not
serve and keys for devices they were not chosen for. On a real mosquitto
with the onramp plugin and the real services and devices.

Cast: manufacturer acme; provider prov-a; operators op-de (Germany, 262),
op-us (United States, 310), op-br (Brazil, 724), op-eu (no country list:
any) and op-x (a contract, named by no policy, never running); onrampctl
as control tool "admin". prov-a's contracts say op-de serves 262 and 208
(France), but op-de itself serves only 262.
"""

import json
import os
import signal
import subprocess
import time
import unittest

import fabric
import hostile
import mqtt5
import onboarding

ERROR, RELOCATION_REQUEST, APP_KEY, RELEASE, VOUCHER = 4, 36, 24, 28, 2
PROFILE_REQUEST, ATTACH_RESPONSE = 5, 9
EDENIED = 12

OPERATORS = {  # id: (PLMN, the countries it serves itself)
    "op-de": ("26201", "262"),
    "op-us": ("310410", "310"),
    "op-br": ("72405", "724"),
    "op-eu": ("90128", None),
}
POLICY = "262:op-de;310:op-us;724:op-br,op-eu;208:op-de"
PROVIDER_LINES = ["operator_serves op-de 262 208", "operator_serves op-us 310",
                  "operator_serves op-br 724", "policy * " + POLICY]


class RoamingTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov = onb.provider("prov-a")
            controller = "%s %s" % (cls.ctl.id, cls.ctl.pub)
            cls.acme = onb.manufacturer("acme", providers=[cls.prov],
                                        extra={"retry_after": 2, "log_level": "info",
                                               "controller": controller})
            keys = {op: onb.operator_key(op) for op in list(OPERATORS) + ["op-x"]}
            cls.prov.configure([cls.acme], keys, "op-eu", [cls.ctl])
            with open(cls.prov.conf, "a") as f:
                f.write("\n".join(PROVIDER_LINES + ["log_level info"]) + "\n")
            with open(cls.prov.conf) as f:
                cls.provider_conf = f.read()
            onb.track(cls.prov.process)
            cls.ops = {}
            for n, (op, (plmn, serves)) in enumerate(OPERATORS.items()):
                extra = {"resend": 2, "log_level": "info", "controller": controller}
                if serves:
                    extra["serves"] = serves
                cls.ops[op] = onb.operator(
                    op, [cls.acme], [cls.prov], extra=extra, plmn=plmn,
                    imsi_range=(plmn + "0" * (15 - len(plmn) - 1) + "1",
                                plmn + "9" * (15 - len(plmn))),
                    iccid_range=("89490010%d000000001" % n, "89490010%d000099999" % n))
            for svc in [cls.acme, cls.prov] + list(cls.ops.values()):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def pair(self, d, account="alice", operator=None):
        rc, out = self.ctl.pair(self.prov, onboarding.DeviceRun(self.onb, d).label(), account,
                                operator=operator)
        self.assertEqual(rc, 0, out)

    def device(self, d, *args):
        run = self.onb.device(d, args)
        run.process.start()
        return run

    def onboard(self, d, plmn, *args):
        run = self.device(d, "--visited-plmn", plmn, *args)
        if "--stay" in args:
            run.process.wait_for("state=OPERATIONAL", timeout=90)
        else:
            self.assertEqual(run.process.exit_status(timeout=90), 0, run.process.text())
        return run

    def move(self, d, run, plmn):
        """The device's modem tells it of a new network: device.conf and
        SIGHUP, as onramp-device --help says."""
        path = os.path.join(d, "device.conf")
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("visited_plmn")]
        with open(path, "w") as f:
            f.write("\n".join(lines + ["visited_plmn " + plmn]) + "\n")
        os.kill(run.process.proc.pid, signal.SIGHUP)

    def where(self, dev):
        """What every side holds of the device: the manufacturer's last
        voucher, each operator's subscription state, the provider's key,
        alignment and relocations."""
        return {
            "mfr": self.acme.rows("SELECT plmn, operator, why FROM roaming WHERE dev = ?", dev),
            "subs": {op: s.rows("SELECT state FROM subscribers WHERE dev = ?", dev)
                     for op, s in self.ops.items()},
            "key": self.prov.rows("SELECT op FROM app_keys WHERE dev = ?", dev),
            "aligned": self.prov.rows("SELECT op, aligned_at IS NOT NULL FROM alignments"
                                      " WHERE dev = ?", dev),
            "moves": self.prov.rows("SELECT relocations, prev_op, target FROM roaming"
                                    " WHERE dev = ?", dev),
        }

    def status(self, dev, op):
        """onrampctl status --json asking acme, prov-a and `op`: each
        service's entry by role."""
        argv = [onboarding.program("onrampctl"), "status", "--dev", dev, "--json",
                "--manufacturer", "acme", "--manufacturer-key", self.acme.signing_pub,
                "--provider", "prov-a", "--provider-key", self.prov.signing_pub,
                "--operator", op, "--operator-key", self.onb.operator_key(op),
                "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", self.ctl.cert, "--key", self.ctl.key]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return {s["role"]: s for s in json.loads(proc.stdout)["services"]}

    def restart(self, service, die_after=None):
        onboarding.restart_armed(service, die_after)

    # -- the operator suits the country --

    def test_devices_in_three_countries_get_the_operators_their_policy_names(self):
        devices = self.acme.mint(4)
        for d in devices[:3]:
            self.pair(d)
        self.pair(devices[3], operator="op-eu")  # the user's choice, allowed in 724
        cases = [("26201", "op-de", "policy"), ("310410", "op-us", "policy"),
                 ("72405", "op-br", "policy"), ("72411", "op-eu", "user")]
        runs = [self.device(d, "--visited-plmn", plmn) for d, (plmn, _, _) in zip(devices, cases)]
        for d, run, (plmn, op, why) in zip(devices, runs, cases):
            self.assertEqual(run.process.exit_status(timeout=90), 0, run.process.text())
            dev = os.path.basename(d)
            self.assertRegex(run.process.text(), r"state=OPERATIONAL dev=%s visited=%s "
                             r"manufacturer=acme provider=prov-a operator=%s reason=%s "
                             r"chosen_in=%s " % (dev, plmn, op, why, plmn))
            held = self.where(dev)
            self.assertEqual(held["mfr"], [(plmn, op, why)])
            # that operator's subscription (with its own PLMN), no other's
            self.assertEqual({o: s for o, s in held["subs"].items() if s}, {op: [(2,)]})
            (imsi,), = self.ops[op].rows("SELECT imsi FROM subscribers WHERE dev = ?", dev)
            self.assertTrue(imsi.startswith(OPERATORS[op][0]))
            self.assertEqual(held["key"], [(op,)])
            # the operator's `aligned` answers the provider's alignment on
            # its own: it may arrive after the device is OPERATIONAL
            onboarding.wait_until(lambda: self.where(dev)["aligned"] != [(op, 0)], timeout=60,
                                  what="%s's alignment confirmed" % dev)
            self.assertEqual(self.where(dev)["aligned"], [(op, 1)])

    def test_a_kits_devices_in_two_countries_get_the_operators_their_policy_names(self):
        # issue 21: a kit paired by an account with a policy carries it for
        # every device of the kit, as a device's registration does
        devices = self.acme.mint(2)
        devs = [os.path.basename(d) for d in devices]
        kit, label = self.acme.kit(devices)
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        self.assertIn("paired kit=%s" % kit, out)
        marks = ",".join("?" * len(devs))
        self.assertEqual(sorted(self.acme.rows(
            "SELECT dev, kit, policy FROM assignments WHERE dev IN (%s)" % marks, *devs)),
            sorted((dev, kit, POLICY) for dev in devs))
        # the provider's claims carry the policy their registration did
        self.assertEqual(sorted(self.prov.rows(
            "SELECT dev, policy FROM claims WHERE dev IN (%s)" % marks, *devs)),
            sorted((dev, POLICY) for dev in devs))
        cases = [("310410", "op-us"), ("72405", "op-br")]
        runs = [self.device(d, "--visited-plmn", plmn) for d, (plmn, _) in zip(devices, cases)]
        for dev, run, (plmn, op) in zip(devs, runs, cases):
            self.assertEqual(run.process.exit_status(timeout=90), 0, run.process.text())
            self.assertRegex(run.process.text(), r"state=OPERATIONAL dev=%s visited=%s "
                             r"manufacturer=acme provider=prov-a operator=%s reason=policy "
                             % (dev, plmn, op))
            held = self.where(dev)
            self.assertEqual(held["mfr"], [(plmn, op, "policy")])
            self.assertEqual({o: s for o, s in held["subs"].items() if s}, {op: [(2,)]})
            self.assertEqual(held["key"], [(op,)])

    def test_an_operator_refuses_a_country_it_does_not_serve(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d)
        # prov-a's contract says op-de serves France; op-de says it does not
        run = self.device(d, "--visited-plmn", "20801", "--max-attempts", "2")
        self.assertNotEqual(run.process.exit_status(timeout=60), 0)
        self.assertIn("code=EDENIED", run.process.text())
        self.assertIn("profile refused dev=%s reason=\"voucher for a country not served\""
                      % dev, self.ops["op-de"].process.text())
        self.assertEqual(self.ops["op-de"].rows("SELECT dev FROM subscribers WHERE dev = ?",
                                                dev), [])

    def test_no_operator_until_a_policy_added_by_sighup_names_one(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d, account="bob")  # "*"'s policy: nobody in Japan, no fallback
        run = self.device(d, "--visited-plmn", "44010", "--max-attempts", "2")
        run.process.wait_for("code=ENOOPERATOR", count=3, timeout=60)
        # the provider heard once, not once per hello (300 s)
        self.prov.process.wait_for("no operator dev=" + dev)
        self.assertEqual(self.prov.process.text().count("no operator dev=" + dev), 1)
        self.assertEqual(self.prov.rows("SELECT no_operator_plmn FROM roaming WHERE dev = ?",
                                        dev), [("44010",)])
        self.assertNotIn("state=VOUCHED", run.process.text())
        # bob gets a policy with a fallback: the claim is registered again,
        # the waiting device gets through without a restart
        try:
            with open(self.prov.conf, "a") as f:
                f.write("policy bob 262:op-de;*:op-eu\n")
            os.kill(self.prov.process.proc.pid, signal.SIGHUP)
            self.assertEqual(run.process.exit_status(timeout=120), 0, run.process.text())
        finally:
            with open(self.prov.conf, "w") as f:
                f.write(self.provider_conf)
            os.kill(self.prov.process.proc.pid, signal.SIGHUP)
        self.assertRegex(run.process.text(), r"state=OPERATIONAL dev=%s visited=44010 "
                         r"manufacturer=acme provider=prov-a operator=op-eu reason=fallback "
                         % dev)
        self.assertEqual(self.where(dev)["key"], [("op-eu",)])

    def test_a_kit_waiting_for_an_operator_gets_through_once_a_policy_names_one(self):
        # a policy change registers a kit's devices again through their kit
        devices = self.acme.mint(2)
        devs = [os.path.basename(d) for d in devices]
        kit, label = self.acme.kit(devices)
        rc, out = self.ctl.pair(self.prov, label, "carol")  # "*": nobody in Japan
        self.assertEqual(rc, 0, out)
        run = self.device(devices[0], "--visited-plmn", "44010", "--max-attempts", "2")
        run.process.wait_for("code=ENOOPERATOR", timeout=60)
        marks = ",".join("?" * len(devs))
        try:
            with open(self.prov.conf, "a") as f:
                f.write("policy carol 262:op-de;*:op-eu\n")
            os.kill(self.prov.process.proc.pid, signal.SIGHUP)
            self.assertEqual(run.process.exit_status(timeout=120), 0, run.process.text())
            self.prov.process.wait_for("kit registered again kit=%s" % kit)
            self.assertEqual(sorted(self.acme.rows(
                "SELECT dev, policy FROM assignments WHERE dev IN (%s)" % marks, *devs)),
                sorted((dev, "262:op-de;*:op-eu") for dev in devs))
            self.assertEqual(sorted(self.prov.rows(
                "SELECT dev, policy FROM claims WHERE dev IN (%s)" % marks, *devs)),
                sorted((dev, "262:op-de;*:op-eu") for dev in devs))
        finally:
            with open(self.prov.conf, "w") as f:
                f.write(self.provider_conf)
            os.kill(self.prov.process.proc.pid, signal.SIGHUP)
        self.assertRegex(run.process.text(), r"state=OPERATIONAL dev=%s visited=44010 "
                         r"manufacturer=acme provider=prov-a operator=op-eu reason=fallback "
                         % devs[0])
        self.assertNotIn("policy not updated", self.prov.process.text())

    def test_a_bad_policy_line_is_refused_at_start_with_the_line_named(self):
        for old, line, says in (
                (POLICY, "262:op-zz", "policy * 262:op-zz: no contract with operator op-zz"),
                (POLICY, "310:op-de", "policy * 310:op-de: operator op-de does not serve 310"),
                (POLICY, "26:op-de", "policy * 26:op-de: "),
                (POLICY, "262:op-de;262:op-us", "policy * 262:op-de;262:op-us: "),
                ("op-de 262 208", "op-de 2620", "operator_serves op-de 2620: 2620 is not an MCC"),
                ("op-de 262 208", "op-zz 262", "op-zz 262: no contract with operator op-zz")):
            conf = os.path.join(self.onb.dir, "bad-provider.conf")
            with open(conf, "w") as f:
                f.write(self.provider_conf.replace(old, line))
            proc = subprocess.run([onboarding.program("onramp-provider"), "--config", conf],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 1, (line, proc.stderr))
            self.assertIn(says, proc.stderr)
        with open(self.ops["op-de"].conf) as f:
            text = f.read()
        for bad in ("serves 26", "serves 262 262", "serves abc"):
            conf = os.path.join(self.onb.dir, "bad-operator.conf")
            with open(conf, "w") as f:
                f.write(text.replace("serves 262", bad))
            proc = subprocess.run([onboarding.program("onramp-operator"), "--config", conf],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 1, (bad, proc.stderr))
            self.assertIn("onramp-operator: serves", proc.stderr)

    # -- relocation --

    def relocated(self, d, run, moved=False):
        """Device `d` (running with --stay, operational with op-de) moves to
        the United States (`moved`: it has, and told already): it ends
        operational with op-us, and every side agrees."""
        dev = os.path.basename(d)
        if not moved:
            self.move(d, run, "310410")
        run.process.wait_for("state=RELOCATED", timeout=120)
        onboarding.wait_until(lambda: "state=OPERATIONAL" in run.process.text()[
            run.process.text().rindex("state=RELOCATED"):], timeout=60,
            what="operational again")
        onboarding.wait_until(lambda: self.where(dev)["moves"][:1] == [(1, "op-de", None)],
                              timeout=60, what="the provider counts the relocation")
        onboarding.wait_until(lambda: self.where(dev)["subs"]["op-de"] == [(3,)], timeout=60,
                              what="the old subscription suspended")
        onboarding.wait_until(lambda: self.where(dev)["aligned"] == [("op-us", 1)], timeout=60,
                              what="the new operator aligned")
        # (a device that attached again meanwhile is aligned again)
        onboarding.wait_until(lambda: self.where(dev)["subs"]["op-us"] == [(2,)], timeout=60,
                              what="the new subscription aligned")
        held = self.where(dev)
        self.assertEqual(held["key"], [("op-us",)])
        self.assertEqual(held["mfr"], [("310410", "op-us", "policy")])
        text = run.process.text()
        tail = text[text.rindex("state=RELOCATED"):]
        self.assertRegex(tail, r"state=OPERATIONAL dev=%s visited=310410 manufacturer=acme "
                         r"provider=prov-a operator=op-us reason=policy chosen_in=310410 "
                         % dev)
        # the grant at the broker is op-us's now (op-de revoked first)
        onboarding.wait_until(lambda: "onramp: revoke device=" + dev in
                              self.onb.broker.log_text(), timeout=60, what="op-de's revoke")
        # one certificate in force, the same as before the move
        self.assertEqual(self.prov.rows("SELECT count(*) FROM certificates WHERE dev = ?"
                                        " AND revoked_at IS NULL", dev), [(1,)])

    def test_an_operational_device_that_moves_is_relocated(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d)
        run = self.onboard(d, "26201", "--stay")
        self.assertEqual(self.where(dev)["key"], [("op-de",)])
        self.relocated(d, run)
        self.assertIn("relocating dev=" + dev, self.prov.process.text())
        self.assertIn("relocated dev=%s from=op-de to=op-us" % dev, self.prov.process.text())
        # onrampctl status: where it is, its operator and why, its move
        st = self.status(dev, "op-us")
        mfr, prov = st["manufacturer"], st["provider"]
        self.assertEqual((mfr["visited"], mfr["operator"], mfr["reason"]),
                         ("310410", "op-us", "policy"))
        self.assertEqual((prov["state"], prov["visited"], prov["operator"], prov["reason"],
                          prov["relocations"], prov["from"]),
                         ("operational", "310410", "op-us", "policy", 1, "op-de"))
        self.assertGreater(prov["relocated"], 0)
        self.assertEqual(st["operator"]["state"], "aligned")
        # a move within its country changes nothing
        self.move(d, run, "310260")
        run.process.wait_for("telemetry topic=", count=3, timeout=30)
        self.assertEqual(self.where(dev)["moves"][0][0], 1)

    def test_a_relocation_survives_a_crash_of_each_service_at_each_step(self):
        steps = [("acme", self.acme, RELOCATION_REQUEST), ("prov-a", self.prov, VOUCHER),
                 ("op-us", self.ops["op-us"], PROFILE_REQUEST),
                 ("op-us", self.ops["op-us"], ATTACH_RESPONSE),
                 ("prov-a", self.prov, APP_KEY), ("op-de", self.ops["op-de"], RELEASE)]
        for name, service, msg_type in steps:
            with self.subTest(service=name, dies_after=msg_type):
                (d,) = self.acme.mint(1)
                self.pair(d)
                # an answer lost with the service is asked for again after
                # 3 s, not the default 15
                run = self.onboard(d, "26201", "--stay", "--timeout", "3")
                self.restart(service, die_after=msg_type)
                try:
                    self.move(d, run, "310410")
                    self.assertEqual(service.process.exit_status(timeout=90), -9,
                                     service.process.text()[-2000:])
                    self.assertIn("dying after commit", service.process.text())
                finally:
                    self.restart(service)
                if service is self.prov and msg_type == VOUCHER:
                    # the relocate it would have sent is gone with it: the
                    # device's next telemetry (a reconnection) asks again
                    run.process.stop()
                    run = self.device(d, "--stay", "--timeout", "3")
                self.relocated(d, run, moved=service is self.prov and msg_type == VOUCHER)
                run.process.stop()

    # -- hostile operators --

    def test_an_operator_not_chosen_cannot_hand_over_a_device(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d)
        self.onboard(d, "72405")
        inbox = "onr/1/s/prov/prov-a/in"
        mon = self.onb.broker.service("monitor", "watch-roaming")
        self.addCleanup(mon.disconnect)
        self.assertEqual(mon.subscribe("onr/1/s/op/+/in"), 1)
        body = {"dev": dev, "kid": os.urandom(16), "sealed": os.urandom(80),
                "imsi": "001010000000001", "iccid": "8949001000000000017", "sqn": 33}
        for op in ("op-x", "op-eu"):  # named by no policy; named, but not chosen
            rogue = self.onb.broker.service("operator", op, client_id="op.%s.rogue" % op)
            self.addCleanup(rogue.disconnect)
            key = os.path.join(self.onb.pki.keys("operator", op), "service.key")
            msg_id, env = hostile.signed_envelope(key, inbox, APP_KEY, hostile.ROLE_OPERATOR, op,
                                                  body)
            self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
            answer = self.answer(mon, msg_id)
            self.assertEqual((answer["type"], answer["body"]["code"]), (ERROR, EDENIED), op)
        held = self.where(dev)
        self.assertEqual(held["key"], [("op-br",)])
        self.assertEqual(held["moves"], [(0, None, None)])
        self.assertEqual(held["subs"]["op-br"], [(2,)])

    def test_only_the_manufacturer_answers_a_relocation_request(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d)
        run = self.onboard(d, "26201", "--stay")
        mon = self.onb.broker.service("monitor", "watch-relocation")
        self.addCleanup(mon.disconnect)
        self.assertEqual(mon.subscribe("onr/1/s/mfr/acme/in"), 1)
        # the manufacturer stands still: the request waits for its answer
        self.acme.process.pause()
        try:
            self.move(d, run, "310410")
            request = None
            deadline = time.monotonic() + 30
            while request is None and time.monotonic() < deadline:
                for _, payload, _ in mon.collect(0.2):
                    env = fabric.decode_envelope(payload)
                    if env["type"] == RELOCATION_REQUEST and env["body"]["dev"] == dev:
                        request = env
            self.assertIsNotNone(request, "no relocation request")
            # an operator (named by the policy) answers it in the
            # manufacturer's stead, with a voucher of its own making
            inbox = "onr/1/s/prov/prov-a/in"
            rogue = self.onb.broker.service("operator", "op-eu", client_id="op.op-eu.rogue2")
            self.addCleanup(rogue.disconnect)
            key = os.path.join(self.onb.pki.keys("operator", "op-eu"), "service.key")
            _, token = hostile.signed_envelope(key, "onr/1/voucher", 19, hostile.ROLE_OPERATOR,
                                               "op-eu", {"dev": dev})
            _, env = hostile.signed_envelope(key, inbox, VOUCHER, hostile.ROLE_OPERATOR, "op-eu",
                                             {"re": request["id"], "voucher": token})
            self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
            time.sleep(1)
            self.assertNotIn("relocating dev=" + dev, self.prov.process.text())
            self.assertNotIn("state=RELOCATING", run.process.text())
            self.assertEqual(self.prov.rows("SELECT count(*) FROM pending WHERE key = ?",
                                            "relocate/" + dev), [(1,)])
        finally:
            self.acme.process.resume()
        # the manufacturer's own answer moves it
        self.relocated(d, run, moved=True)

    def answer(self, mon, msg_id, seconds=10):
        """The message on the operators' inboxes answering `msg_id`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _, payload, _ in mon.collect(0.2):
                env = fabric.decode_envelope(payload)
                if isinstance(env["body"], dict) and env["body"].get("re") == msg_id:
                    return env
        self.fail("no answer to %s" % msg_id.hex())


if __name__ == "__main__":
    unittest.main()
