"""The example configurations under services/examples are what the
services accept: every key known, every required key there (the files they
name do not exist here, so each service stops at its first key file)."""

import os
import subprocess
import unittest

import onboarding

EXAMPLES = os.path.join(os.environ.get("ONR_SOURCE_DIR", ""), "services", "examples")


class ExampleConfigTest(unittest.TestCase):

    def check(self, service):
        conf = os.path.join(EXAMPLES, service + ".conf")
        proc = subprocess.run([onboarding.program("onramp-" + service), "--config", conf],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertNotIn("unknown key", proc.stderr)
        self.assertNotIn("is required", proc.stderr)
        # it got as far as the first file the example names
        self.assertIn("/var/lib/onramp/", proc.stderr)

    def test_manufacturer(self):
        self.check("manufacturer")

    def test_provider(self):
        self.check("provider")

    def test_operator(self):
        self.check("operator")

    def test_a_misspelt_key_is_refused(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                            "onramp-bad-%d.conf" % os.getpid())
        with open(os.path.join(EXAMPLES, "operator.conf")) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("challenge_lifetime", "challenge_lifetme"))
        self.addCleanup(os.unlink, path)
        proc = subprocess.run([onboarding.program("onramp-operator"), "--config", path],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("unknown key 'challenge_lifetme'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
