"""Bulk pairing (issue 21, part 4): onrampctl pair --labels on a real
mosquitto with the plugin and real services: labels one per line and CSV
with account and operator columns, at most --parallel in flight on one
connection; a per-line report in the file's order (paired, refused with
the reason, timed out, malformed with the line number) while the rest go
on; the exit status; the manufacturer's claim rate answered EBUSY and
tried again; a re-run that pairs nothing twice.

Cast: manufacturers acme (claim_rate 20 a minute, so a file of more
labels meets it) and globex (known to prov-a, but not running: its
registrations are never answered); providers prov-a (contracts with op-1,
its default, and op-2) and prov-b; onrampctl as "bulk".
"""

import base64
import hashlib
import os
import re
import unittest

import onboarding


def with_claim(label, claim):
    """The label with another claim secret and a correct check (SPEC 12)."""
    text = ":".join(label.split(":")[:3] + [claim])
    digest = hashlib.sha256(b"onramp/1 label\x00" + text.upper().encode()).digest()
    return text + ":" + base64.b32encode(digest).decode()[:4]


def report(stdout):
    """{line number: (result, {key: value})} of a --labels report, and its
    summary line's values."""
    lines, summary = {}, None
    for text in stdout.splitlines():
        fields = text.split()
        if fields[0] == "pairs":
            summary = dict(f.split("=", 1) for f in fields[1:])
            continue
        number = int(fields[0].split("=")[1])
        lines[number] = (fields[1], dict(f.split("=", 1) for f in fields[2:]))
    return lines, summary


class BulkPairingTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding()
        try:
            cls.ctl = onboarding.Controller(onb, "bulk")
            cls.prov, cls.provb = onb.provider("prov-a"), onb.provider("prov-b")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov, cls.provb],
                                        extra={"claim_rate": 20})
            cls.globex = onb.manufacturer("globex", providers=[cls.prov])
            ops = {"op-1": onb.operator_key("op-1"), "op-2": onb.operator_key("op-2")}
            for p in (cls.prov, cls.provb):
                p.configure([cls.acme, cls.globex], ops, "op-1", [cls.ctl])
                onb.track(p.process)
            for svc in (cls.acme, cls.prov, cls.provb):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    def labels(self, mfr, count):
        dirs = mfr.mint(count)
        return [(os.path.basename(d), onboarding.DeviceRun(self.onb, d).label()) for d in dirs]

    def write(self, name, text):
        path = os.path.join(self.onb.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def claims(self):
        return {dev: (account, op) for dev, account, op in
                self.prov.rows("SELECT dev, account, operator FROM claims WHERE state = 1")}

    def test_a_csv_file_with_broken_lines(self):
        good = self.labels(self.acme, 24)
        (owned,) = self.labels(self.acme, 1)
        (forged,) = self.labels(self.acme, 1)
        (taken,) = self.labels(self.acme, 1)
        (silent,) = self.labels(self.globex, 1)
        # owned by prov-b; taken by another account of prov-a
        self.assertEqual(self.ctl.pair(self.provb, owned[1], "zed")[0], 0)
        self.assertEqual(self.ctl.pair(self.prov, taken[1], "yve")[0], 0)
        typo = good[0][1][:-1] + ("A" if good[0][1][-1] != "A" else "B")
        rows = ["# the shipment of March", "account,label,operator"]        # 1, 2
        for i, (dev, label) in enumerate(good):                              # 3..26
            rows.append("%s,%s,%s" % ("alice" if i % 2 else "", label.lower() if i == 5
                                      else label, "op-2" if i % 3 == 0 else ""))
        rows += [
            "bob,%s," % owned[1],                                            # 27
            "bob,%s," % with_claim(forged[1], "A" * 20),                     # 28
            "bob,%s," % taken[1],                                            # 29
            "bob,%s," % silent[1],                                           # 30
            "bob,%s," % typo,                                                # 31
            "bob,%s" % good[1][1],                                           # 32
            "bob,hello,",                                                    # 33
            "\"bob,%s," % good[2][1],                                        # 34
            "bob,%s,op 9" % forged[1],                                       # 35
            "bob,%s," % good[3][1],                                          # 36: again
            "",                                                              # 37
        ]
        path = self.write("shipment.csv", "\r\n".join(rows))
        rc, out, err = self.ctl.pair_labels(self.prov, path, account="carol", parallel=8,
                                            timeout=45)
        self.assertEqual(rc, 1, out + err)
        lines, summary = report(out)
        self.assertEqual(summary, {"lines": "34", "paired": "24", "refused": "3",
                                   "timeout": "1", "malformed": "6"}, out)
        self.assertEqual(sorted(lines), list(range(3, 37)))
        # the report is in the file's order
        self.assertEqual([int(l.split()[0][5:]) for l in out.splitlines()[:-1]],
                         list(range(3, 37)))
        for i, (dev, _) in enumerate(good):
            result, f = lines[3 + i]
            self.assertEqual((result, f["dev"], f["manufacturer"]), ("paired", dev, "acme"))
            self.assertEqual(f["operator"], "op-2" if i % 3 == 0 else "op-1")
        refused = {n: (lines[n][0], lines[n][1].get("code")) for n in (27, 28, 29, 30)}
        self.assertEqual(refused, {27: ("refused", "EDENIED"), 28: ("refused", "EDENIED"),
                                   29: ("refused", "EEXIST"), 30: ("timeout", None)})
        self.assertIn("claimed\\x20by\\x20another\\x20account", lines[29][1]["reason"])
        self.assertEqual(lines[30][1]["dev"], silent[0])
        malformed = {n: lines[n][1]["reason"] for n in (31, 32, 33, 34, 35)}
        self.assertEqual(set(lines[n][0] for n in malformed), {"malformed"})
        self.assertIn("check\\x20characters\\x20do\\x20not\\x20match", malformed[31])
        self.assertIn("not\\x20as\\x20many\\x20fields", malformed[32])
        self.assertIn("not\\x20an\\x20Onramp\\x20device\\x20label", malformed[33])
        self.assertIn("double\\x20quote", malformed[34])
        self.assertIn("operator\\x20is\\x20no\\x20service\\x20id", malformed[35])
        self.assertEqual(lines[36], ("malformed", {"dev": good[3][0],
                                                  "reason": "the\\x20same\\x20device\\x20as"
                                                            "\\x20line\\x206"}))
        # what the provider holds: every good line with its account and operator
        claims = self.claims()
        for i, (dev, _) in enumerate(good):
            self.assertEqual(claims[dev], ("alice" if i % 2 else "carol",
                                           "op-2" if i % 3 == 0 else "op-1"))
        for dev in (owned[0], forged[0]):
            self.assertNotIn(dev, claims)
        self.assertEqual(claims[taken[0]], ("yve", "op-1"))
        # the claim rate was met on the way, and met again later
        self.assertIn("claim rate", self.acme.process.text())
        self.assertIn("onrampctl: pairing", err)  # progress
        for _, label in good:  # no claim secret on either stream
            self.assertNotIn(label.split(":")[3], out + err)

        # a re-run: nothing paired twice, nothing sent to the manufacturer
        registrations = self.prov.process.text().count("pairing dev=")
        rows = ["label,account,operator"] + ["%s,%s,%s" % (label, "alice" if i % 2 else "carol",
                                                             "op-2" if i % 3 == 0 else "")
                                             for i, (dev, label) in enumerate(good)]
        path = self.write("again.csv", "\n".join(rows) + "\n")
        rc, out, err = self.ctl.pair_labels(self.prov, path, parallel=4)
        self.assertEqual(rc, 0, out + err)
        lines, summary = report(out)
        self.assertEqual(summary["paired"], "24", out)
        self.assertEqual(self.prov.process.text().count("pairing dev="), registrations)
        self.assertEqual(self.claims(), claims)

    def test_one_label_per_line(self):
        good = self.labels(self.acme, 3)
        path = self.write("plain.txt", "".join(label + "\n" for _, label in good))
        rc, out, err = self.ctl.pair_labels(self.prov, path, account="dave", operator="op-2")
        self.assertEqual(rc, 0, out + err)
        lines, summary = report(out)
        self.assertEqual(summary, {"lines": "3", "paired": "3", "refused": "0",
                                   "timeout": "0", "malformed": "0"})
        self.assertEqual([lines[n][1]["dev"] for n in (1, 2, 3)], [dev for dev, _ in good])
        claims = self.claims()
        self.assertEqual({claims[dev] for dev, _ in good}, {("dave", "op-2")})

    def test_usage_and_whole_file_refusals(self):
        (dev, label), = self.labels(self.acme, 1)
        path = self.write("one.txt", label + "\n")
        # one label per line needs an account for it: malformed, nothing sent
        rc, out, err = self.ctl.pair_labels(self.prov, path)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(report(out)[0][1][0], "malformed")
        self.assertNotIn(dev, self.claims())
        for text, words in (("label,label\n", "names a column twice"),
                            ("account,operator\n", "names no label column")):
            rc, out, err = self.ctl.pair_labels(self.prov, self.write("bad.csv", text),
                                                account="a")
            self.assertEqual(rc, 1, err)
            self.assertIn(words, err)
        rc, out, err = self.ctl.pair_labels(self.prov, path, account="a", parallel=0)
        self.assertEqual(rc, 2, err)
        rc, out, err = self.ctl.pair_labels(self.prov, os.path.join(self.onb.dir, "none"),
                                            account="a")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main()
