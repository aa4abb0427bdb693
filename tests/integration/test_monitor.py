"""onrampctl monitor (issue 7): every message of the journey as one line,
on a real mosquitto with the onramp plugin and the real services, devices
and onrampctl; signatures checked with the services' keys; nothing secret
printed; filters.

Cast: manufacturer acme, provider prov-a, operator op-1, onrampctl as
control tool "admin" and as monitor "watch".
"""

import base64
import json
import os
import re
import signal
import subprocess
import time
import unittest

import fabric
import onboarding

JOURNEY = ("pairing", "paired", "registration", "registered", "hello", "voucher",
           "profile_request", "profile", "attach_response", "attach_result", "app_key",
           "enroll_request",
           "enroll_response", "alignment", "aligned", "telemetry")
LINE_KEYS = {"time", "topic", "type", "sender_role", "sender", "dev", "step", "verdict",
             "id", "body"}
SERVICES = ("manufacturer", "operator", "provider", "control")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Monitor:
    """onrampctl monitor as a process: stdout (the lines) and stderr in
    files of their own; stopped by its PID."""

    def __init__(self, onb, name, args, cert=None):
        self.dir = onb.dir
        self.name = name
        self.out = os.path.join(onb.dir, name + ".out")
        self.err = os.path.join(onb.dir, name + ".err")
        cert, key = cert or onb.pki.client("monitor", "watch")
        self.argv = [onboarding.program("onrampctl"), "monitor"] + list(args) + [
            "--host", "127.0.0.1", "--port", str(onb.broker.services_port),
            "--cafile", onb.pki.ca[0], "--cert", cert, "--key", key]
        self.proc = None

    def start(self, wait=True):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "log_path=" + os.path.join(self.dir, self.name + ".asan")
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:log_path=" + \
            os.path.join(self.dir, self.name + ".ubsan")
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, env=env)
        if wait:
            onboarding.wait_until(lambda: "monitoring onr/1/#" in self.stderr() or
                                  self.proc.poll() is not None, what=self.name + " subscribed")
            if self.proc.poll() is not None:
                raise AssertionError("%s exited (%d): %s" % (self.name, self.proc.returncode,
                                                             self.stderr()))
        return self

    def stderr(self):
        with open(self.err, "rb") as f:
            return f.read().decode(errors="replace")

    def output(self):
        with open(self.out, "rb") as f:
            return f.read()

    def lines(self):
        return self.output().decode().splitlines()

    def records(self):
        """Every line as JSON (fails on one that does not parse)."""
        return [json.loads(line) for line in self.lines()]

    def _reports(self):
        reports = fabric.sanitizer_reports(self.dir, (self.name + ".asan.",
                                                       self.name + ".ubsan."))
        if reports:
            raise AssertionError("sanitizer report from %s:\n%s" % (self.name, reports))

    def wait(self, timeout=30):
        """The exit status once it ends by itself."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s still running after %d s" % (self.name, timeout))
        self._reports()
        return rc

    def stop(self):
        """SIGTERM; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout=10)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def variants(secret):
    """How a secret could show up: as is, hex, base64."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(),
             base64.b64encode(secret).rstrip(b"=")]
    return [f for f in forms if len(f) >= 8]


def pem_secrets(path):
    """A PEM private key file's body: each base64 line and the DER bytes."""
    with open(path) as f:
        body = [line.strip() for line in f if line.strip() and not line.startswith("-----")]
    der = base64.b64decode("".join(body))
    return [line.encode() for line in body if len(line) >= 16] + variants(der)


class MonitorTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov = onb.provider("prov-a")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov])
            cls.prov.configure([cls.acme], {"op-1": onb.operator_key("op-1")}, "op-1",
                               [cls.ctl])
            onb.track(cls.prov.process)
            cls.op = onb.operator("op-1", [cls.acme], [cls.prov], extra={"resend": 2})
            for svc in (cls.acme, cls.prov, cls.op):
                svc.start()
            cls.peers = ["--peer", "mfr", "acme", cls.acme.signing_pub,
                         "--peer", "mfr", "acme", os.path.join(cls.acme.dir, "voucher.pub"),
                         "--peer", "prov", "prov-a", cls.prov.signing_pub,
                         "--peer", "op", "op-1", onb.operator_key("op-1"),
                         "--peer", "ctl", "admin", cls.ctl.pub]
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def monitor(self, name, *args, cert=None):
        m = Monitor(self.onb, name, args, cert=cert)
        self.addCleanup(m.kill)
        return m

    def pair(self, state_dir):
        label = onboarding.DeviceRun(self.onb, state_dir).label()
        rc, out = self.ctl.pair(self.prov, label, "alice")
        self.assertEqual(rc, 0, out)

    def run_devices(self, state_dirs, *args):
        runs = [self.onb.device(d, args) for d in state_dirs]
        for r in runs:
            r.process.start()
        for r in runs:
            self.assertEqual(r.process.exit_status(timeout=90), 0, r.process.text())
        return runs

    def onboarded(self, count):
        devices = self.acme.mint(count)
        for d in devices:
            self.pair(d)
        self.run_devices(devices)
        return devices

    def claim(self, d):
        """Device `d`'s claim secret, as its label has it and in lowercase."""
        with open(os.path.join(d, "label.txt")) as f:
            claim = f.read().strip().split(":")[3]
        return [claim.encode(), claim.lower().encode()]

    def secrets(self, d):
        """What the monitor must never print about device `d`."""
        dev = os.path.basename(d)
        found = self.claim(d)
        for ki, opc in self.op.rows("SELECT ki, opc FROM subscribers WHERE dev = ?", dev):
            found += variants(bytes(ki)) + variants(bytes(opc))
        with open(os.path.join(d, "akma"), "rb") as f:
            found += variants(f.read()[16:48])
        for key in ("identity.key", "service.key"):
            found += pem_secrets(os.path.join(d, key))
        return found

    # -- tests --

    def test_devices_requests_and_answers_go_at_qos_0(self):
        """SPEC section 2: a device's requests and the answers to it travel
        at QoS 0 (a monitor subscribed at QoS 1 gets each message at the
        QoS it was published at), except the attach result, which follows
        its grant at QoS 1; messages between services at QoS 1."""
        cert, key = self.onb.pki.client("monitor", "watch")
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p",
                                str(self.onb.broker.services_port), "--cafile",
                                self.onb.pki.ca[0], "--cert", cert, "--key", key, "-V", "mqttv5",
                                "-i", "monitor.watch.qos", "-q", "1", "-t", "onr/1/#",
                                "-F", "%q %t"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(sub.kill)
        time.sleep(1)  # let the subscription land
        dev = os.path.basename(self.onboarded(1)[0])
        sub.terminate()
        out, err = sub.communicate(timeout=10)
        seen = [line.split(" ", 1) for line in out.splitlines()]
        up = [q for q, t in seen if t.startswith("onr/1/d/%s/up/" % dev)]
        down = [q for q, t in seen if t == "onr/1/d/%s/down" % dev]
        inbox = [q for q, t in seen if t.startswith("onr/1/s/") and t.endswith("/in")]
        self.assertTrue(up and down and inbox, out + err)
        self.assertEqual(set(up), {"0"}, out)
        self.assertEqual(sorted(down), ["0"] * (len(down) - 1) + ["1"], out)
        self.assertEqual(set(inbox), {"1"}, out)

    def test_the_whole_journey_of_three_devices_verified_and_nothing_secret(self):
        mon = self.monitor("journey", "--json", *self.peers).start()
        devices = self.onboarded(3)
        ids = [os.path.basename(d) for d in devices]

        def complete():
            seen = {dev: set() for dev in ids}
            for r in mon.records():
                if r["dev"] in seen:
                    seen[r["dev"]].add(r["type"])
            return all(set(JOURNEY) <= types for types in seen.values())

        onboarding.wait_until(complete, timeout=30, what="every step of every device")
        self.assertEqual(mon.stop(), 0, mon.stderr())
        records = mon.records()  # every line parses as JSON
        self.assertEqual(len(records), len(mon.lines()))
        for r in records:
            self.assertEqual(set(r), LINE_KEYS, r)
            self.assertRegex(r["time"], TIME)
            self.assertIn(r["verdict"], ("none", "mac", "verified"), r)
            # every service's signature checks with its key
            if r["sender_role"] in SERVICES:
                self.assertEqual(r["verdict"], "verified", r)
        for dev in ids:
            mine = [r for r in records if r["dev"] == dev]
            types = {r["type"] for r in mine}
            for t in JOURNEY:
                self.assertIn(t, types, dev)
            by_type = {r["type"]: r for r in mine}
            # a device's hello verifies with the key of its own certificate
            self.assertEqual(by_type["hello"]["verdict"], "verified")
            self.assertEqual(by_type["hello"]["sender"], dev)
            self.assertEqual(by_type["enroll_request"]["verdict"], "mac")
            self.assertEqual(by_type["attach_response"]["verdict"], "none")
            # the profile carried the first challenge, which the device
            # answered: no attach request, no challenge of its own, and no
            # event (the signed messages say each step)
            self.assertRegex(by_type["profile"]["body"]["rand"], r"^[0-9a-f]{32}$")
            self.assertEqual(by_type["profile"]["body"]["autn"], "<bin 16>")
            self.assertEqual(by_type["attach_response"]["body"]["rand"],
                             by_type["profile"]["body"]["rand"])
            for t in ("attach_request", "attach_challenge", "event"):
                self.assertNotIn(t, types, dev)
            self.assertEqual(by_type["telemetry"]["step"], "operational")
            self.assertEqual(by_type["telemetry"]["verdict"], "none")
            self.assertEqual(by_type["telemetry"]["body"], {"dev": dev, "state": "OPERATIONAL"})
            self.assertEqual(by_type["pairing"]["body"]["label"][-8:], ":<claim>")
            self.assertRegex(by_type["profile"]["body"]["sealed"], r"^<bin \d+>$")
            self.assertRegex(by_type["registration"]["body"]["claim"], r"^<bin \d+>$")
            self.assertRegex(by_type["app_key"]["body"]["sealed"], r"^<bin \d+>$")
            self.assertRegex(by_type["attach_result"]["body"]["kid"], r"^[0-9a-f]{32}$")
            for t, step in (("pairing", "1"), ("registered", "2"), ("voucher", "3b"),
                            ("profile", "3c"), ("attach_result", "3c"), ("app_key", "3c"),
                            ("enroll_response", "4"), ("aligned", "5")):
                self.assertEqual(by_type[t]["step"], step, t)
        # the broker's counters pass too, without a device
        self.assertIn("broker_stats", {r["type"] for r in records if r["dev"] is None})
        # nothing secret, in any form
        blob = mon.output()
        for d in devices:
            for secret in self.secrets(d):
                self.assertNotIn(secret, blob, os.path.basename(d))

    def test_a_device_filter_prints_that_device_only(self):
        (d, other) = self.onboarded(2)
        dev = os.path.basename(d)
        mon = self.monitor("one-device", "--json", "--device", dev, "--count", "1",
                           *self.peers).start()
        # the other device and the broker's counters pass by first
        self.run_devices([other])
        self.run_devices([d])  # restarts operational: its telemetry
        self.assertEqual(mon.wait(), 0, mon.stderr())
        records = mon.records()
        self.assertEqual(len(records), 1, records)
        self.assertEqual(records[0]["dev"], dev)

    def test_a_type_filter_prints_hellos_only_as_text(self):
        mon = self.monitor("hellos", "--type", "hello", *self.peers).start()
        (d,) = self.acme.mint(1)
        self.pair(d)
        self.run_devices([d], "--until", "VOUCHED")
        dev = os.path.basename(d)
        onboarding.wait_until(lambda: any("dev=" + dev in line for line in mon.lines()),
                              what="the hello")
        self.assertEqual(mon.stop(), 0, mon.stderr())
        lines = mon.lines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^\S+Z onr/1/d/[a-z2-7]{32}/up/mfr/acme type=hello "
                                   r"sender=device:[a-z2-7]{32} dev=[a-z2-7]{32} step=3b "
                                   r"verdict=verified id=[0-9a-f]{32} nonce=[0-9a-f]{32} "
                                   r"cert=<bin \d+>$")
        for secret in self.claim(d):
            self.assertNotIn(secret, mon.output())

    def test_role_and_service_filters(self):
        mon = self.monitor("roles", "--json", "--role", "operator", "--role", "device",
                           "--service", "op-1", *self.peers).start()
        (d,) = self.acme.mint(1)
        self.pair(d)
        self.run_devices([d], "--until", "NETWORK_ATTACHED")
        onboarding.wait_until(lambda: "attach_result" in {r["type"] for r in mon.records()},
                              what="the attach result")
        self.assertEqual(mon.stop(), 0, mon.stderr())
        records = mon.records()
        self.assertTrue(records)
        for r in records:
            self.assertEqual((r["sender_role"], r["sender"]), ("operator", "op-1"), r)

    def test_a_duration_ends_the_monitor(self):
        mon = self.monitor("duration", "--duration", "1").start()
        started = time.monotonic()
        self.assertEqual(mon.wait(timeout=15), 0, mon.stderr())
        self.assertLess(time.monotonic() - started, 10)
        self.assertTrue(mon.lines())  # the broker's counters, every 0.2 s

    def test_refusals_and_failures_exit_as_documented(self):
        # not a monitor: a control tool may not read onr/1/#
        mon = self.monitor("not-a-monitor", cert=(self.ctl.cert, self.ctl.key))
        mon.start(wait=False)
        self.assertEqual(mon.wait(), 1)
        self.assertIn("refused", mon.stderr())
        # nobody listening
        argv = [onboarding.program("onrampctl"), "monitor", "--host", "127.0.0.1",
                "--port", "1", "--cafile", self.onb.pki.ca[0], "--timeout", "3"]
        cert, key = self.onb.pki.client("monitor", "watch")
        proc = subprocess.run(argv + ["--cert", cert, "--key", key], capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        # usage
        for bad in (["--type", "helo"], ["--role", "admin"], ["--count", "0"],
                    ["--device", "NOT-A-DEVICE"], ["--peer", "device", "x", cert],
                    ["--peer", "mfr", "acme"], ["extra"]):
            proc = subprocess.run(argv + ["--cert", cert, "--key", key] + bad,
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, (bad, proc.stderr))
        proc = subprocess.run([onboarding.program("onrampctl"), "monitor", "--help"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("bad-signature", proc.stdout)
        proc = subprocess.run([onboarding.program("onrampctl"), "--help"],
                              capture_output=True, text=True)
        self.assertIn("monitor", proc.stdout)

    # -- roaming (issue 17, the device's half, with the services as they
    # are): the visited PLMN a device is given reaches its manufacturer in
    # its signed hello, and its telemetry reports it with a fresh nonce,
    # kept first in its "reported" file; the monitor decodes both. A
    # malformed PLMN, on the command line or in device.conf, changes
    # nothing.

    def snapshot(self, d):
        files = {}
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                files[name] = f.read()
        return files

    def test_the_hello_and_the_telemetry_say_where_the_device_is(self):
        mon = self.monitor("roaming", "--json", *self.peers).start()
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d)
        (run,) = self.run_devices([d], "--visited-plmn", "72405")
        text = run.process.text()
        self.assertIn("hello manufacturer=acme visited=72405\n", text)
        self.assertRegex(text, r"state=OPERATIONAL dev=%s visited=72405 manufacturer=acme "
                               r"provider=prov-a operator=op-1 reason=fallback chosen_in=72405 "
                               r"expires=" % dev)
        self.assertIn("telemetry topic=onr/1/p/prov-a/dev/%s/telemetry visited=72405\n" % dev,
                      text)
        # restarted in another country: a new report, with a new nonce
        self.run_devices([d], "--visited-plmn", "310410")

        def seen():
            types = [r["type"] for r in mon.records() if r["dev"] == dev]
            return "hello" in types and types.count("telemetry") == 2

        onboarding.wait_until(seen, what="the hello and both telemetries")
        self.assertEqual(mon.stop(), 0, mon.stderr())
        mine = [r for r in mon.records() if r["dev"] == dev]
        (hello,) = [r for r in mine if r["type"] == "hello"]
        self.assertEqual(hello["verdict"], "verified")  # the PLMN is signed with the rest
        self.assertEqual(hello["body"]["plmn"], "72405")
        # no policy: a voucher for the registration's operator
        (voucher,) = [r for r in mine if r["type"] == "voucher"]
        self.assertEqual(voucher["body"]["voucher.op"], "op-1")
        reports = [r["body"] for r in mine if r["type"] == "telemetry"]
        self.assertEqual([b["plmn"] for b in reports], ["72405", "310410"])
        self.assertEqual({b["dev"] for b in reports}, {dev})
        self.assertNotEqual(reports[0]["nonce"], reports[1]["nonce"])
        with open(os.path.join(d, "reported")) as f:
            self.assertEqual(f.read(), "".join("%s %s\n" % (b["nonce"], b["plmn"])
                                               for b in reports))
        self.assertEqual(os.stat(os.path.join(d, "reported")).st_mode & 0o777, 0o600)

    def test_a_malformed_visited_plmn_changes_nothing(self):
        (d,) = self.acme.mint(1)
        self.pair(d)
        before = self.snapshot(d)
        for bad in ("7240", "7240512", "72a05", "", "72405 ", "-72405"):
            run = self.onb.device(d, ("--visited-plmn", bad))
            run.process.start()
            self.assertEqual(run.process.exit_status(), 2, run.process.text())
            self.assertIn("--visited-plmn: not a PLMN (MCC and MNC, 5 or 6 digits)",
                          run.process.text())
            self.assertNotIn("state=", run.process.text())
            self.assertEqual(self.snapshot(d), before)
        # in device.conf: the device refuses to start and names the key
        with open(os.path.join(d, "device.conf"), "a") as f:
            f.write("visited_plmn 72a05\n")
        before = self.snapshot(d)
        run = self.onb.device(d)
        run.process.start()
        self.assertEqual(run.process.exit_status(), 1, run.process.text())
        self.assertIn("error file=device.conf key=visited_plmn code=EFORMAT", run.process.text())
        self.assertEqual(self.snapshot(d), before)
        # a good one there is what the device reports
        with open(os.path.join(d, "device.conf")) as f:
            conf = f.read().replace("visited_plmn 72a05", "visited_plmn 26201")
        with open(os.path.join(d, "device.conf"), "w") as f:
            f.write(conf)
        (run,) = self.run_devices([d], "--until", "VOUCHED")
        self.assertIn("hello manufacturer=acme visited=26201\n", run.process.text())

    def test_a_device_that_stays_reports_a_new_network_at_once(self):
        mon = self.monitor("moving", "--json", "--type", "telemetry").start()
        (d,) = self.onboarded(1)
        dev = os.path.basename(d)
        run = self.onb.device(d, ("--stay", "--visited-plmn", "26201"))
        run.process.start()
        run.process.wait_for("telemetry topic=", timeout=30)
        # it waits on its service broker, where its provider's relocate would
        # find it; its modem (SIGHUP and device.conf here) tells of a new
        # network: a malformed one is ignored, a good one reported at once
        conf = os.path.join(d, "device.conf")
        with open(conf, "a") as f:
            f.write("visited_plmn 7240\n")
        os.kill(run.process.proc.pid, signal.SIGHUP)
        run.process.wait_for("error file=device.conf key=visited_plmn code=EFORMAT")
        with open(conf) as f:
            text = f.read().replace("visited_plmn 7240\n", "visited_plmn 72405\n")
        with open(conf, "w") as f:
            f.write(text)
        os.kill(run.process.proc.pid, signal.SIGHUP)
        run.process.wait_for("telemetry topic=onr/1/p/prov-a/dev/%s/telemetry visited=72405" % dev)
        self.assertIn("visited plmn=72405\n", run.process.text())
        self.assertEqual(run.process.stop(), 3)
        self.assertTrue(run.process.text().endswith("stopped\n"), run.process.text())
        self.assertNotIn("retry", run.process.text())
        onboarding.wait_until(lambda: len([r for r in mon.records() if r["dev"] == dev]) >= 3,
                              what="three telemetries")
        self.assertEqual(mon.stop(), 0, mon.stderr())
        plmns = [r["body"].get("plmn") for r in mon.records() if r["dev"] == dev]
        self.assertEqual(plmns, [None, "26201", "72405"])  # onboarded knowing none
        with open(os.path.join(d, "reported")) as f:
            self.assertEqual([line.split()[1] for line in f], ["26201", "72405"])


if __name__ == "__main__":
    unittest.main()
