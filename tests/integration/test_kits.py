"""Kits (issue 21, part 2; proto/SPEC.md section 18) on a real mosquitto
with the plugin and the real services: onramp-factory kit groups devices
under a kit label; pairing that one label claims every device of the kit
at the manufacturer, all or none, and all of them onboard; a kit holding a
device another provider owns is refused whole, naming it, and nothing of
it stays assigned; a kit device released alone, and the kit paired again;
the factory's refusals.

Cast: manufacturer acme; providers prov-a (operator op-1) and prov-b;
onrampctl as "kits".
"""

import base64
import hashlib
import os
import stat
import subprocess
import unittest

import onboarding


def kit_label_with_claim(label, claim):
    """The kit label with another claim secret and a correct check."""
    text = ":".join(label.split(":")[:3] + [claim])
    digest = hashlib.sha256(b"onramp/1 label\x00" + text.upper().encode()).digest()
    return text + ":" + base64.b32encode(digest).decode()[:4]


class KitTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "kits")
            cls.prov, cls.provb = onb.provider("prov-a"), onb.provider("prov-b")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov, cls.provb],
                                        extra={"retry_after": 2})
            ops = {"op-1": onb.operator_key("op-1")}
            for p in (cls.prov, cls.provb):
                p.configure([cls.acme], ops, "op-1", [cls.ctl])
                onb.track(p.process)
            cls.op = onb.operator("op-1", [cls.acme], [cls.prov], extra={"resend": 2})
            for svc in (cls.acme, cls.prov, cls.provb, cls.op):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def factory_kit(self, devs):
        return self.acme.factory_kit(devs)

    def new_kit(self, count):
        """`count` new devices grouped in a kit: (kit id, label, state dirs)."""
        dirs = self.acme.mint(count)
        kit, label = self.acme.kit(dirs)
        return kit, label, dirs

    def assigned(self, devs):
        """{dev: (provider, kit)} of the manufacturer's assignments."""
        marks = ",".join("?" * len(devs))
        return {d: (p, k) for d, p, k in self.acme.rows(
            "SELECT dev, provider, kit FROM assignments WHERE dev IN (%s)" % marks, *devs)}

    def claims(self, prov, devs):
        marks = ",".join("?" * len(devs))
        return {d: (a, s) for d, a, s in prov.rows(
            "SELECT dev, account, state FROM claims WHERE dev IN (%s)" % marks, *devs)}

    def device_label(self, state_dir):
        return onboarding.DeviceRun(self.onb, state_dir).label()

    # -- the tests --

    def test_a_kit_of_three_is_paired_by_one_label_and_all_onboard(self):
        kit, label, dirs = self.new_kit(3)
        devs = [os.path.basename(d) for d in dirs]
        self.assertTrue(label.startswith("ONK1:ACME:%s:" % kit.upper()), label)
        kit_dir = os.path.join(self.onb.dir, "kits-acme", kit)
        with open(os.path.join(kit_dir, "label.txt")) as f:
            self.assertEqual(f.read().strip(), label)
        with open(os.path.join(kit_dir, "devices.txt")) as f:
            self.assertEqual(f.read().split(), devs)
        for name in ("label.txt", "label.ndef"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(kit_dir, name)).st_mode), 0o600)
        # the registry keeps the claim's hash, never the secret
        claim = label.split(":")[3]
        with open(os.path.join(self.acme.dir, "manufacturer.db"), "rb") as f:
            self.assertNotIn(claim.encode(), f.read())
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        self.assertIn("paired kit=%s" % kit, out)
        for dev in devs:
            self.assertIn(dev, out)
        self.assertEqual(self.assigned(devs), {d: ("prov-a", kit) for d in devs})
        claims = self.claims(self.prov, devs)
        self.assertEqual(sorted(claims), sorted(devs))
        self.assertTrue(all(a == "alice" and s >= 2 for a, s in claims.values()), claims)
        # all three onboard, each on its own
        runs = [self.onb.device(d) for d in dirs]
        for r in runs:
            r.process.start()
        for r in runs:
            self.assertEqual(r.process.exit_status(timeout=90), 0, r.process.text())
            self.assertIn("state=OPERATIONAL", r.process.text())
        onboarding.wait_until(lambda: all(s == 5 for _, s in self.claims(
            self.prov, devs).values()), what="all three operational at the provider")
        # the same account again: answered at once; another account: refused
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        self.assertIn("paired kit=%s" % kit, out)
        rc, out = self.ctl.pair(self.prov, label, "mallory")
        self.assertEqual(rc, 1, out)
        self.assertIn("EEXIST", out)
        # one device released alone: the others stay claimed; the kit paired
        # again claims it again
        rc, out = self.ctl.release(self.prov, devs[0])
        self.assertEqual(rc, 0, out)
        self.assertEqual(sorted(self.claims(self.prov, devs)), sorted(devs[1:]))
        self.assertEqual(sorted(self.assigned(devs)), sorted(devs[1:]))
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.assigned(devs), {d: ("prov-a", kit) for d in devs})
        self.assertEqual(sorted(self.claims(self.prov, devs)), sorted(devs))

    def test_a_kit_with_a_device_another_provider_owns_is_refused_whole(self):
        kit, label, dirs = self.new_kit(3)
        devs = [os.path.basename(d) for d in dirs]
        rc, out = self.ctl.pair(self.provb, self.device_label(dirs[1]), "zed")
        self.assertEqual(rc, 0, out)
        audit_before = self.acme.rows("SELECT count(*) FROM claim_audit")[0][0]
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 1, out)
        self.assertIn("EDENIED", out)
        self.assertIn(devs[1], out)  # the reason names it
        # nothing assigned for the kit, nothing claimed at prov-a
        self.assertEqual(self.assigned(devs), {devs[1]: ("prov-b", None)})
        self.assertEqual(self.claims(self.prov, devs), {})
        self.assertEqual(self.prov.rows("SELECT count(*) FROM kit_claims WHERE kit = ?", kit),
                         [(0,)])
        self.assertEqual(self.acme.rows("SELECT count(*) FROM claim_audit")[0][0],
                         audit_before + 1)
        # the devices not taken can still be paired alone
        rc, out = self.ctl.pair(self.prov, self.device_label(dirs[0]), "alice")
        self.assertEqual(rc, 0, out)

    def test_a_device_claimed_by_another_account_meanwhile_refuses_the_kit(self):
        kit, label, dirs = self.new_kit(3)
        devs = [os.path.basename(d) for d in dirs]
        # the manufacturer stands still: the kit's registration waits for it,
        # and meanwhile another account of prov-a claims one of its devices
        self.acme.process.pause()
        try:
            kit_pairing = subprocess.Popen(self.ctl._pair_argv(self.prov, label, "alice", None,
                                                               60),
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
            onboarding.wait_until(lambda: self.prov.rows(
                "SELECT count(*) FROM kit_claims WHERE kit = ?", kit) == [(1,)],
                what="the kit claim recorded")
            own_pairing = subprocess.Popen(self.ctl._pair_argv(
                self.prov, self.device_label(dirs[2]), "bob", None, 60),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            onboarding.wait_until(lambda: devs[2] in self.claims(self.prov, devs),
                                  what="bob's claim recorded")
        finally:
            self.acme.process.resume()
        out, _ = kit_pairing.communicate(timeout=60)
        self.assertEqual(kit_pairing.returncode, 1, out)
        self.assertIn("EEXIST", out)
        self.assertIn(devs[2], out)
        out, _ = own_pairing.communicate(timeout=60)
        self.assertEqual(own_pairing.returncode, 0, out)
        # bob holds his device; the kit's others are released at the
        # manufacturer and claimed by nobody
        self.assertEqual(self.claims(self.prov, devs), {devs[2]: ("bob", 2)})
        onboarding.wait_until(lambda: sorted(self.assigned(devs)) == [devs[2]],
                              what="the kit's other devices released")
        self.assertEqual(self.prov.rows("SELECT count(*) FROM kit_claims WHERE kit = ?", kit),
                         [(0,)])

    def test_a_kit_label_with_a_wrong_claim_or_a_typo_is_refused(self):
        kit, label, dirs = self.new_kit(2)
        devs = [os.path.basename(d) for d in dirs]
        rc, out = self.ctl.pair(self.prov, kit_label_with_claim(label, "A" * 20), "alice")
        self.assertEqual(rc, 1, out)
        self.assertIn("EDENIED", out)
        self.assertEqual(self.assigned(devs), {})
        typo = label[:-1] + ("A" if label[-1] != "A" else "B")
        rc, out = self.ctl.pair(self.prov, typo, "alice")
        self.assertEqual(rc, 1, out)
        self.assertEqual(self.assigned(devs), {})
        # the right label still works
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.assigned(devs), {d: ("prov-a", kit) for d in devs})

    def test_the_factory_refuses_what_cannot_make_a_kit(self):
        dirs = self.acme.mint(4)
        devs = [os.path.basename(d) for d in dirs]
        rc, out = self.ctl.pair(self.provb, self.device_label(dirs[3]), "zed")
        self.assertEqual(rc, 0, out)
        kits_before = self.acme.rows("SELECT count(*) FROM kits")
        for args, status, why in [
                ([devs[0]], 2, "2 to 16 devices"),
                ([devs[0], devs[0]], 2, "named twice"),
                ([devs[0], "not-a-device"], 2, "is not a device id"),
                ([devs[0], "a" * 32], 1, "not a device of this manufacturer"),
                ([devs[0], devs[3]], 1, "claimed by a provider already")]:
            rc, out, err = self.factory_kit(args)
            self.assertEqual(rc, status, out + err)
            self.assertIn(why, err)
        self.assertEqual(self.acme.rows("SELECT count(*) FROM kits"), kits_before)
        rc, out, err = self.factory_kit(devs[:2])
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.factory_kit(devs[1:3])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("in another kit already", err)
        self.assertEqual(self.acme.rows("SELECT count(*) FROM kit_devices WHERE dev = ?",
                                        devs[2]), [(0,)])


if __name__ == "__main__":
    unittest.main()
