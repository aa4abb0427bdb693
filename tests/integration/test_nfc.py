"""A label on an NFC tag (SPEC section 12, "On an NFC tag"): the factory
writes label.ndef next to label.txt; an NDEF library that is not Onramp's
(npm's `ndef`, ndefjs.py) reads the label back from it; it fits an NTAG213
with its TLV; onrampctl label --ndef reads it and refuses malformed
messages, each with its reason. (The pairing page's Web NFC is tested in
test_pairing_page.py.)"""

import os
import stat
import subprocess
import tempfile
import unittest

import ndefjs
import onboarding

NTAG213_USER_BYTES = 144


def tag_bytes(msg_len):
    """An NDEF message's room on a Type 2 tag: the NDEF Message TLV (03, a
    length of 1 byte, or 3 from 255 on) and the Terminator TLV (fe)."""
    return 1 + (1 if msg_len < 255 else 3) + msg_len + 1


class NfcLabelTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="onr-nfc-")
        d = cls.tmp.name
        # a manufacturer with a 32-character id: the longest labels
        cls.mfr_id = "m" * 32
        mfr = os.path.join(d, "mfr")
        subprocess.run([onboarding.program("onramp-factory"), "new-manufacturer", "--id",
                        cls.mfr_id, "--dir", mfr], check=True, capture_output=True)
        ca = os.path.join(d, "broker-ca.pem")  # copied into each device, not read
        with open(ca, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        out = subprocess.run([onboarding.program("onramp-factory"), "mint", "--manufacturer",
                              mfr, "--out", os.path.join(d, "devices"), "--count", "3",
                              "--broker", "b-1", "127.0.0.1", "8883", "--broker-ca", ca],
                             check=True, capture_output=True, text=True).stdout
        cls.devices = [os.path.join(d, "devices", line.split()[0])
                       for line in out.splitlines()]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def label(self, d):
        with open(os.path.join(d, "label.txt")) as f:
            return f.read().strip()

    def ctl_label(self, *args):
        return subprocess.run([onboarding.program("onrampctl"), "label"] + list(args),
                              capture_output=True, text=True, timeout=30)

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_an_independent_ndef_library_reads_the_label_back(self):
        for d in self.devices:
            path = os.path.join(d, "label.ndef")
            with self.subTest(device=os.path.basename(d)):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)  # the claim
                decoded = ndefjs.decode(path)
                self.assertNotIn("error", decoded)
                (record,) = decoded["records"]
                self.assertEqual((record["tnf"], record["type"], record["lang"]),
                                 (1, "T", "en"))
                self.assertEqual(record["text"], self.label(d))
                self.assertEqual(len(self.label(d)), 96)  # the longest label there is
                size = os.path.getsize(path)
                self.assertEqual(size, 7 + 96)
                self.assertLessEqual(tag_bytes(size), NTAG213_USER_BYTES)

    def test_onrampctl_reads_the_tag(self):
        d = self.devices[0]
        proc = self.ctl_label("--ndef", os.path.join(d, "label.ndef"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("label manufacturer=%s dev=%s" % (self.mfr_id, os.path.basename(d)),
                      proc.stderr)
        self.assertNotIn(self.label(d).split(":")[3], proc.stdout + proc.stderr)

    def test_malformed_ndef_messages_are_refused(self):
        label = self.label(self.devices[0]).encode()
        with open(os.path.join(self.devices[0], "label.ndef"), "rb") as f:
            good = f.read()
        typo = label[:-1] + (b"A" if label[-1:] != b"A" else b"B")
        cases = [
            ("empty", b"", "NDEF"),
            ("cut", good[:-1], "not a well-formed NDEF message with one Text record"),
            ("trailing", good + b"\x00", "not a well-formed NDEF message"),
            ("chunked", bytes([good[0] | 0x20]) + good[1:], "not a well-formed NDEF"),
            ("no-mb", bytes([good[0] & 0x7f]) + good[1:], "not a well-formed NDEF"),
            ("utf16", good[:4] + b"\x82" + good[5:], "not a well-formed NDEF"),
            ("uri", b"\xd1\x01\x08U\x04ex.net/", "the NDEF message holds no Text record"),
            ("two-texts", bytes([0x91]) + good[1:] + bytes([0x51]) + good[1:],
             "not a well-formed NDEF message with one Text record"),
            ("too-big", b"\x00" * 1025, "larger than any NDEF message of a label"),
            ("not-a-label", b"\xd1\x01\x08T\x02enhello", "not a valid label"),
            ("typo", good[:7] + typo, "the check characters do not match"),
        ]
        for name, data, words in cases:
            with self.subTest(name=name):
                proc = self.ctl_label("--ndef", self.write(name + ".ndef", data))
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn(words, proc.stderr)
                self.assertEqual(proc.stdout, "")

    def test_usage(self):
        d = self.devices[0]
        proc = self.ctl_label("--ndef", os.path.join(d, "label.ndef"), "--label-file",
                              os.path.join(d, "label.txt"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--ndef FILE", self.ctl_label("--help").stdout)


if __name__ == "__main__":
    unittest.main()
