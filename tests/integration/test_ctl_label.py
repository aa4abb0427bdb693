"""onrampctl label: a label checked and shown as a QR code, in the terminal
or as a PNG; a mistyped label refused (SPEC section 12's example)."""

import os
import struct
import subprocess
import tempfile
import unittest

import onboarding

GOOD = "ONR1:ACME:RGUIB733FA2XFYRZDWEHZSOHU743ONT4:ABCDEFGHIJKLMNOPQRST:PW7U"


def ctl(*args):
    return subprocess.run([onboarding.program("onrampctl"), "label"] + list(args),
                          capture_output=True, timeout=30)


class LabelTest(unittest.TestCase):

    def test_a_label_becomes_a_terminal_qr_code(self):
        proc = ctl("--label", GOOD)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = proc.stdout.decode()
        self.assertIn("\u2588", text)  # full blocks: the quiet zone and modules
        lines = text.splitlines()
        self.assertGreater(len(lines), 10)
        self.assertEqual(len(set(len(l) for l in lines)), 1)  # a square, row by row
        self.assertIn(b"label manufacturer=acme dev=rguib733fa2xfyrzdwehzsohu743ont4",
                      proc.stderr)

    def test_a_label_file_becomes_a_png(self):
        with tempfile.TemporaryDirectory() as d:
            label = os.path.join(d, "label.txt")
            with open(label, "w") as f:
                f.write(GOOD.lower() + "\n")  # read in any case
            png = os.path.join(d, "label.png")
            proc = ctl("--label-file", label, "--png", png, "--scale", "4")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout, b"")
            with open(png, "rb") as f:
                data = f.read()
            self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", data[16:24])
            self.assertEqual(width, height)
            self.assertEqual(width % 4, 0)

    def test_a_mistyped_label_is_refused(self):
        proc = ctl("--label", GOOD[:-1] + "X")
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, b"")
        self.assertIn(b"check characters do not match", proc.stderr)
        proc = ctl("--label", "ONR1:ACME:not-a-device:X:Y")
        self.assertEqual(proc.returncode, 1)

    def test_a_kit_label_is_checked_too(self):
        kit = "ONK1:ACME:Q2KZF6R3HBWNMX7YT4PC:ZYXWVUTSRQPONMLKJIHG:7DR3"  # SPEC 12's
        proc = ctl("--label", kit.lower())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"label manufacturer=acme kit=q2kzf6r3hbwnmx7yt4pc", proc.stderr)
        proc = ctl("--label", kit[:-1] + "X")
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"check characters do not match", proc.stderr)
        # a kit label's prefix with a device's id is no label
        proc = ctl("--label", "ONK1" + GOOD[4:])
        self.assertEqual(proc.returncode, 1)

    def test_usage_errors(self):
        self.assertEqual(ctl().returncode, 2)
        self.assertEqual(ctl("--label", GOOD, "--label-file", "x").returncode, 2)
        self.assertEqual(ctl("--label", GOOD, "--scale", "0").returncode, 2)
        self.assertEqual(ctl("--help").returncode, 0)


if __name__ == "__main__":
    unittest.main()
