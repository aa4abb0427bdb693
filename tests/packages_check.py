#!/usr/bin/python3
"""The Debian packages, checked as a user gets them (the ctest entry
`packages`, after tests/packages_run.cmake built them): lintian reports no
error; each package is unpacked with dpkg -x into one throwaway root and
works from there: every program's --help, onramp-admin making a broker's
files, mosquitto loading the unpacked plugin with them (on a free loopback
port, stopped by its PID), a program built and run against
libonramp-device-dev. Also what the packages say: the onramp user made in
the services' and the tools' postinst, their units shipped and not
enabled, the example alerting rules (promtool check rules), the library's
shlibs and ldconfig trigger.

  packages_check.py DIR     (DIR holds the .deb files)
"""

import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

DIR = ""
PACKAGES = ["onramp-broker-plugin", "onramp-services", "onramp-tools", "libonramp-device0",
            "libonramp-device-dev"]
PROGRAMS = ["onramp-admin", "onramp-device", "onramp-factory", "onramp-floor-bench",
            "onramp-loadgen", "onramp-manufacturer", "onramp-operator",
            "onramp-provider", "onrampctl"]


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multiarch():
    return run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).stdout.strip()


class PackagesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.debs = {}
        for path in glob.glob(os.path.join(DIR, "*.deb")):
            name = run(["dpkg-deb", "--field", path, "Package"]).stdout.strip()
            cls.debs[name] = path
        cls.tmp = tempfile.TemporaryDirectory(prefix="onr-packages-")
        cls.root = os.path.join(cls.tmp.name, "root")
        for path in cls.debs.values():
            proc = run(["dpkg", "-x", path, cls.root])
            if proc.returncode != 0:
                raise AssertionError("dpkg -x %s: %s" % (path, proc.stderr))
        cls.libdir = os.path.join(cls.root, "usr/lib", multiarch())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def env(self):
        return dict(os.environ, LD_LIBRARY_PATH=self.libdir)

    def field(self, package, name):
        return run(["dpkg-deb", "--field", self.debs[package], name]).stdout.strip()

    def contents(self, package):
        return run(["dpkg-deb", "--contents", self.debs[package]]).stdout

    def test_every_package_is_built(self):
        self.assertEqual(sorted(self.debs), sorted(PACKAGES))

    def test_lintian_reports_no_error(self):
        proc = run(["lintian", "--fail-on", "error", "--no-tag-display-limit"] +
                   sorted(self.debs.values()))
        print("\nlintian:\n" + (proc.stdout.strip() or "(nothing)"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotRegex(proc.stdout, r"(?m)^E: ")

    def test_every_program_answers_help_from_the_unpacked_root(self):
        found = sorted(os.listdir(os.path.join(self.root, "usr/bin")))
        self.assertEqual(found, PROGRAMS)
        for name in found:
            proc = run([os.path.join(self.root, "usr/bin", name), "--help"], env=self.env())
            self.assertEqual(proc.returncode, 0, name + ": " + proc.stderr)
            self.assertIn(name, proc.stdout, name)

    def test_packaged_services_have_no_fault_injection_hook(self):
        # the tests' hook (ONR_TEST_HOOKS builds only) must not ship: no
        # environment variable kills a production service
        for role in ("manufacturer", "provider", "operator"):
            with open(os.path.join(self.root, "usr/bin/onramp-" + role), "rb") as f:
                self.assertNotIn(b"ONR_TEST_DIE_AFTER_COMMIT", f.read(), role)

    def test_services_make_their_user_and_ship_their_units_disabled(self):
        self.assertIn("adduser", self.field("onramp-services", "Depends"))
        with tempfile.TemporaryDirectory() as control:
            self.assertEqual(run(["dpkg-deb", "--control", self.debs["onramp-services"],
                                  control]).returncode, 0)
            with open(os.path.join(control, "postinst")) as f:
                postinst = f.read()
        self.assertIn("adduser --system --group", postinst)
        self.assertNotIn("systemctl", postinst)
        self.assertNotIn("deb-systemd", postinst)
        listing = self.contents("onramp-services")
        for role in ("manufacturer", "provider", "operator"):
            unit = os.path.join(self.root, "usr/lib/systemd/system/onramp-%s@.service" % role)
            with open(unit) as f:
                text = f.read()
            self.assertIn("ExecStart=/usr/bin/onramp-%s --config /etc/onramp/%%i/%s.conf" %
                          (role, role), text)
            self.assertIn("User=onramp\n", text)
            self.assertIn("ProtectSystem=strict\n", text)
        # nothing enabled: no .wants links, nothing under /etc
        self.assertNotIn(".wants", listing)
        self.assertNotIn("./etc/", listing)

    def test_tools_ship_the_exporter_unit_disabled_and_the_alert_rules(self):
        self.assertIn("adduser", self.field("onramp-tools", "Depends"))
        with tempfile.TemporaryDirectory() as control:
            self.assertEqual(run(["dpkg-deb", "--control", self.debs["onramp-tools"],
                                  control]).returncode, 0)
            with open(os.path.join(control, "postinst")) as f:
                postinst = f.read()
        self.assertIn("adduser --system --group", postinst)
        self.assertNotIn("systemctl", postinst)
        with open(os.path.join(self.root, "usr/lib/systemd/system/onramp-exporter@.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/onrampctl exporter --config "
                      "/etc/onramp/%i/exporter.conf", unit)
        self.assertIn("User=onramp\n", unit)
        rules = os.path.join(self.root, "usr/share/onramp/prometheus/onramp.rules.yml")
        proc = run(["promtool", "check", "rules", rules])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        listing = self.contents("onramp-tools")
        self.assertNotIn(".wants", listing)
        self.assertNotIn("./etc/", listing)

    def test_the_library_has_its_shlibs_and_ldconfig_trigger(self):
        with tempfile.TemporaryDirectory() as control:
            run(["dpkg-deb", "--control", self.debs["libonramp-device0"], control])
            with open(os.path.join(control, "triggers")) as f:
                self.assertIn("activate-noawait ldconfig", f.read())
            with open(os.path.join(control, "shlibs")) as f:
                self.assertIn("libonramp-device 0 libonramp-device0", f.read())
        self.assertIn("libonramp-device.so.0", self.contents("libonramp-device0"))
        dev = self.contents("libonramp-device-dev")
        for path in ("usr/include/onramp/device.h", "usr/include/onramp/version.h",
                     "libonramp-device.a", "libonramp-proto.a", "pkgconfig/onramp-device.pc"):
            self.assertIn(path, dev)

    def test_a_program_builds_against_the_dev_package(self):
        src = os.path.join(self.tmp.name, "hello.c")
        exe = os.path.join(self.tmp.name, "hello")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include <onramp/device.h>\n'
                    '#include <onramp/version.h>\n'
                    'int main(void)\n{\n'
                    '    printf("%s %s\\n", ONR_VERSION_STRING,\n'
                    '           onr_device_state_name(ONR_DEVICE_OPERATIONAL));\n'
                    '    return 0;\n}\n')
        env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=self.root,
                   PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "onramp-device"], env=env)
        self.assertEqual(flags.returncode, 0, flags.stderr)
        self.assertIn("-I" + os.path.join(self.root, "usr/include"), flags.stdout)
        built = run(["cc", "-o", exe, src] + flags.stdout.split())
        self.assertEqual(built.returncode, 0, built.stderr)
        proc = run([exe], env=self.env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split()[1], "OPERATIONAL")
        self.assertIn(os.path.join(self.libdir, "libonramp-device.so.0"),
                      run(["ldd", exe], env=self.env()).stdout)

    def test_mosquitto_loads_the_unpacked_plugin_with_onramp_admins_files(self):
        plugin = os.path.join(self.libdir, "mosquitto/onramp_plugin.so")
        port = free_port()
        work = os.path.join(self.tmp.name, "broker")
        os.makedirs(work)
        topology = os.path.join(work, "topology")
        with open(topology, "w") as f:
            f.write("host h address=127.0.0.1\n"
                    "broker packaged host=h bind=127.0.0.1 bootstrap_port=%d "
                    "services_port=%d service_port=%d plugin=%s\n" % (
                        port, free_port(), free_port(), plugin))
        out = os.path.join(work, "out")
        admin = run([os.path.join(self.root, "usr/bin/onramp-admin"), "--topology", topology,
                     "--out", out, "--local", "--quiet"], env=self.env())
        self.assertEqual(admin.returncode, 0, admin.stderr)
        conf = os.path.join(work, "mosquitto.conf")
        rendered = os.path.join(out, "hosts/h/etc/mosquitto/mosquitto.conf")
        with open(rendered) as f, open(conf, "w") as g:
            g.write("user root\n" + f.read())
        log = os.path.join(out, "hosts/h/var/log/mosquitto/mosquitto.log")
        broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, env=self.env())
        try:
            deadline = time.monotonic() + 15
            while True:
                self.assertIsNone(broker.poll(), broker.stderr.read().decode() if
                                  broker.poll() is not None else "")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "mosquitto does not listen")
                    time.sleep(0.05)
            with open(log) as f:
                text = f.read()
            self.assertRegex(text, r"onramp: plugin \S+ loaded: broker packaged")
            self.assertNotIn("Error", text)
        finally:
            broker.send_signal(signal.SIGTERM)
            try:
                broker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
            broker.stderr.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
