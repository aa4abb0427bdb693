"""onramp-admin on a whole topology: modes and where each secret goes, the
certificates as the openssl CLI sees them, a second run that changes
nothing, a topology edited (a new provider, a new broker address) that
changes only what it should, refusals, and a fabric started from its files
as written onboarding a device end to end."""

import filecmp
import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.request

import deployment
import fabric
import mqtt5
import onboarding

PLUGIN = os.environ.get("ONR_PLUGIN", "")

# gw runs broker b1 (reached by dns=localhost, with 127.0.0.1 in its
# certificate too), gw2 broker b2 (a regional one, by address); svc the
# services; ops the control tool and a monitor.
TOPOLOGY = """# onramp-admin's integration test
host gw address=127.0.0.1 dns=localhost
host gw2 address=127.0.0.1
host svc address=127.0.0.1
host ops
broker b1 host=gw bind=127.0.0.1 bootstrap_port={bootstrap} services_port={services} \
service_port={service} plugin={plugin} nofile=4096
broker b2 host=gw2 bind=127.0.0.1 bootstrap_port={bootstrap2} services_port={services2} \
service_port={service2} plugin={plugin} region=208
manufacturer acme host=svc
provider prov-a host=svc pairing_port={pairing} pairing_origin=https://pair.example.net
operator op-1 host=svc plmn=00101 apn=iot.test imsi=001010000000001-001010000099999 \
iccid=894900100000000001-894900100000099999
contract prov-a op-1
plan prov-a * 5 standard 0
control admin host=ops
monitor noc host=ops
"""

# Debian's PostgreSQL server programs, if installed (not a dependency: the
# SQL is only run where they are).
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), "")
PG_BIN = os.path.dirname(PG_BIN)

SERVICES = [("manufacturer", "acme"), ("provider", "prov-a"), ("operator", "op-1")]
TOOLS = [("control", "admin"), ("monitor", "noc")]


def openssl(*args):
    proc = subprocess.run(["openssl"] + list(args), capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def run_ok(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def files_under(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = p
    return out


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fill(template=TOPOLOGY, **extra):
    ports = {"bootstrap": fabric.free_port(), "services": fabric.free_port(),
             "service": fabric.free_port(), "pairing": fabric.free_port(), "plugin": PLUGIN,
             "bootstrap2": fabric.free_port(), "services2": fabric.free_port(),
             "service2": fabric.free_port()}
    ports.update(extra)
    return template.format(**ports).replace("\\\n", ""), ports


class AdminTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        text, cls.ports = fill()
        cls.dep = deployment.Deployment(text)
        cls.first = cls.dep.admin()
        if cls.first.returncode != 0:
            cls.dep.close()
            raise AssertionError("onramp-admin failed:\n" + cls.first.stderr)
        cls.report = deployment.parse_report(cls.first.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.dep.close()

    def path(self, rel):
        return os.path.join(self.dep.out, rel)

    def topology(self):
        with open(self.dep.topology) as f:
            return f.read()

    def run_on(self, out, topology, *extra):
        """onramp-admin on `topology` (text) into `out`, without --local (so
        the files do not name `out`)."""
        path = os.path.join(self.dep.dir, os.path.basename(out) + ".topology")
        with open(path, "w") as f:
            f.write(topology)
        return subprocess.run(deployment.admin_argv(path, out, *extra), capture_output=True,
                              text=True, timeout=120)

    def fresh(self, name):
        """A new output of the class's topology; its directory."""
        out = os.path.join(self.dep.dir, name)
        proc = self.run_on(out, self.topology())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return out

    # -- what is written, and where ------------------------------------------

    def test_every_file_is_reported_created_and_counted(self):
        written = files_under(self.dep.out)
        self.assertEqual(set(self.report), set(written))
        self.assertEqual(set(self.report.values()), {"created"})
        self.assertIn("onramp-admin: %d files in %s: %d created, 0 updated, 0 kept" % (
            len(written), os.path.realpath(self.dep.out), len(written)), self.first.stdout)

    def test_secrets_are_0600_and_public_files_0644(self):
        secrets = 0
        for rel, p in files_under(self.dep.out).items():
            mode = stat.S_IMODE(os.stat(p).st_mode)
            name = os.path.basename(rel)
            if name.endswith(".key") or name in ("op.hex",) or name.endswith(".conf") and \
                    "/etc/onramp/" in "/" + rel or name == "manufacturer.conf":
                self.assertEqual(mode, 0o600, rel)
                secrets += name.endswith(".key")
            elif name.endswith((".pem", ".pub", ".cnf")):
                self.assertEqual(mode, 0o644, rel)
        self.assertGreater(secrets, 20)
        for rel in ("admin", "keys/operator/op-1", "hosts/svc/etc/onramp/op-1",
                    "hosts/svc/var/lib/onramp", "hosts/svc/var/lib/onramp/prov-a",
                    "hosts/gw/etc/mosquitto/onramp"):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(rel)).st_mode), 0o700, rel)
        self.assertEqual(stat.S_IMODE(os.stat(self.dep.out).st_mode), 0o700)
        # each host's directory is its root: the modes / and /etc have
        for rel in ("hosts/gw", "hosts/gw/etc", "hosts/gw/etc/mosquitto", "hosts/svc/etc/onramp"):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(rel)).st_mode), 0o755, rel)

    def where(self, secret_rel):
        """Every file under hosts/ that holds what `secret_rel` holds."""
        found = []
        for rel, p in files_under(self.path("hosts")).items():
            if filecmp.cmp(p, self.path(secret_rel), shallow=False):
                found.append(rel)
        return sorted(found)

    def test_each_secret_goes_only_to_its_own_host(self):
        self.assertEqual(self.where("admin/services-ca.key"), [])
        self.assertEqual(self.where("keys/provider/prov-a/provider-ca.key"),
                         ["svc/var/lib/onramp/prov-a/provider-ca.key"])
        self.assertEqual(self.where("keys/broker/b1/broker.key"),
                         ["gw/etc/mosquitto/onramp/broker.key"])
        self.assertEqual(self.where("keys/operator/op-1/op.hex"),
                         ["svc/var/lib/onramp/op-1/op.hex"])
        self.assertEqual(self.where("keys/manufacturer/acme/device-ca.key"),
                         ["svc/var/lib/onramp/acme/device-ca.key"])
        self.assertEqual(self.where("keys/control/admin/control.key"),
                         ["ops/etc/onramp/admin/control.key"])
        # the broker's host holds no service's keys, the services' no broker's
        self.assertFalse([r for r in files_under(self.path("hosts/gw")) if "/onramp/" in
                          "/" + r and "mosquitto" not in r])
        # nothing secret is printed
        with open(self.path("keys/operator/op-1/op.hex")) as f:
            op = f.read().strip()
        printed = self.first.stdout + self.first.stderr
        self.assertNotIn(op, printed)
        self.assertNotIn("PRIVATE KEY", printed)

    # -- certificates, as openssl sees them ---------------------------------

    def test_client_certificates_name_role_and_id_and_chain_to_the_services_ca(self):
        ca = self.path("admin/services-ca.pem")
        for role, name in SERVICES + TOOLS:
            host = "ops" if (role, name) in TOOLS else "svc"
            cert = self.path("hosts/%s/etc/onramp/%s/%s.pem" % (host, name, role))
            rc, out = openssl("verify", "-purpose", "sslclient", "-CAfile", ca, cert)
            self.assertEqual(rc, 0, out)
            self.assertIn(": OK", out)
            rc, out = openssl("x509", "-in", cert, "-noout", "-subject", "-ext",
                              "extendedKeyUsage,basicConstraints")
            self.assertIn("OU = %s, CN = %s" % (role, name), out)
            self.assertIn("TLS Web Client Authentication", out)
            self.assertNotIn("Server Authentication", out)
            self.assertNotIn("CA:TRUE", out)
            # the key beside it is the certificate's
            key = cert[:-4] + ".key"
            self.assertEqual(openssl("x509", "-in", cert, "-noout", "-pubkey")[1],
                             openssl("pkey", "-in", key, "-pubout")[1])
            # its services CA is the same
            self.assertTrue(filecmp.cmp(ca, os.path.join(os.path.dirname(cert),
                                                         "services-ca.pem"), shallow=False))

    def test_broker_certificate_names_its_host_for_tls_servers(self):
        cert = self.path("hosts/gw/etc/mosquitto/onramp/broker.pem")
        rc, out = openssl("verify", "-purpose", "sslserver", "-CAfile",
                          self.path("hosts/gw/etc/mosquitto/onramp/services-ca.pem"), cert)
        self.assertEqual(rc, 0, out)
        rc, out = openssl("x509", "-in", cert, "-noout", "-subject", "-ext",
                          "subjectAltName,extendedKeyUsage")
        self.assertIn("CN = b1", out)
        self.assertIn("DNS:localhost", out)
        self.assertIn("IP Address:127.0.0.1", out)
        self.assertIn("DNS:b1", out)  # its plugin's broker_name (plugin_opt_broker_cert)
        self.assertNotIn("DNS:b2", out)
        self.assertIn("TLS Web Server Authentication", out)
        self.assertNotIn("Client Authentication", out)
        rc, out = openssl("verify", "-purpose", "sslclient", "-CAfile",
                          self.path("admin/services-ca.pem"), cert)
        self.assertNotEqual(rc, 0)
        # each broker its own certificate and key, naming it and not the other
        cert2 = self.path("hosts/gw2/etc/mosquitto/onramp/broker.pem")
        rc, out = openssl("x509", "-in", cert2, "-noout", "-subject", "-ext", "subjectAltName")
        self.assertIn("CN = b2", out)
        self.assertIn("DNS:b2", out)
        self.assertIn("IP Address:127.0.0.1", out)
        self.assertNotIn("DNS:b1", out)
        self.assertNotEqual(digest(self.path("keys/broker/b1/broker.key")),
                            digest(self.path("keys/broker/b2/broker.key")))

    def test_provider_and_device_cas(self):
        ca = self.path("hosts/svc/var/lib/onramp/prov-a/provider-ca.pem")
        rc, out = openssl("x509", "-in", ca, "-noout", "-subject", "-ext", "basicConstraints")
        self.assertIn("O = prov-a, CN = prov-a provider CA", out)
        self.assertIn("CA:TRUE", out)
        rc, out = openssl("verify", "-CAfile", ca, ca)
        self.assertEqual(rc, 0, out)
        # the broker trusts it, alone and in the bundle of its listener
        for rel in ("provider-ca-prov-a.pem", "provider-cas.pem"):
            self.assertTrue(filecmp.cmp(
                ca, self.path("hosts/gw/etc/mosquitto/onramp/" + rel), shallow=False))
        # the manufacturer's material: the same as onramp-factory makes
        mfr = self.path("hosts/svc/var/lib/onramp/acme")
        rc, out = openssl("x509", "-in", os.path.join(mfr, "device-ca.pem"), "-noout",
                          "-subject")
        self.assertIn("O = acme, CN = acme device CA", out)
        for name in ("service", "voucher", "sealing", "device-ca"):
            self.assertEqual(openssl("pkey", "-in", os.path.join(mfr, name + ".key"),
                                     "-pubout")[1],
                             openssl("pkey", "-pubin", "-in",
                                     os.path.join(mfr, name + ".pub"))[1])
        # each service's peers: the keys of the others
        self.assertTrue(filecmp.cmp(
            os.path.join(mfr, "voucher.pub"),
            self.path("hosts/svc/etc/onramp/op-1/peers/acme.voucher.pub"), shallow=False))
        self.assertTrue(filecmp.cmp(
            self.path("keys/provider/prov-a/sealing.pub"),
            self.path("hosts/svc/etc/onramp/op-1/peers/prov-a.sealing.pub"), shallow=False))
        self.assertTrue(filecmp.cmp(
            self.path("keys/control/admin/control.pub"),
            self.path("hosts/svc/etc/onramp/prov-a/peers/admin.signing.pub"), shallow=False))

    def test_broker_files(self):
        conf = self.path("hosts/gw/etc/mosquitto/mosquitto.conf")
        with open(conf) as f:
            text = f.read()
        self.assertIn("plugin_opt_broker_name b1\n", text)
        self.assertIn("plugin_opt_broker_cert %s\n" %
                      self.path("hosts/gw/etc/mosquitto/onramp/broker.pem"), text)
        self.assertIn("plugin " + PLUGIN + "\n", text)
        self.assertIn("listener %d 127.0.0.1\n" % self.ports["service"], text)
        self.assertIn("plugin_opt_provider_ca_prov-a %s\n" %
                      self.path("hosts/gw/etc/mosquitto/onramp/provider-ca-prov-a.pem"), text)
        self.assertNotIn("/etc/onramp", text)
        # every setting of the example is there, in its order
        with open(os.path.join(fabric.SOURCE_DIR, "broker-plugins", "mosquitto.conf.example")) as f:
            example = [line.split()[0] for line in f if line.strip() and line[0] != "#"]
        settings = iter(line.split()[0] for line in text.splitlines()
                        if line.strip() and line[0] != "#")
        self.assertTrue(all(setting in settings for setting in example))  # a subsequence
        with open(self.path("hosts/gw/etc/systemd/system/mosquitto.service.d/onramp.conf")) as f:
            dropin = f.read()
        self.assertIn("LimitNOFILE=4096\n", dropin)
        self.assertIn("Environment=OPENSSL_CONF=%s\n" %
                      self.path("hosts/gw/etc/mosquitto/onramp/openssl-broker.cnf"), dropin)
        self.assertTrue(filecmp.cmp(
            self.path("hosts/gw/etc/mosquitto/onramp/openssl-broker.cnf"),
            os.path.join(fabric.SOURCE_DIR, "broker-plugins", "openssl-broker.cnf"),
            shallow=False))
        # the regional broker: its own name, certificate and region; no
        # provider's endpoint there, so no operational listener
        with open(self.path("hosts/gw2/etc/mosquitto/mosquitto.conf")) as f:
            text = f.read()
        self.assertIn("plugin_opt_broker_name b2\n", text)
        self.assertIn("plugin_opt_broker_cert %s\n" %
                      self.path("hosts/gw2/etc/mosquitto/onramp/broker.pem"), text)
        self.assertIn("# It serves the country of MCC 208 (region=).\n", text)
        self.assertIn("listener %d 127.0.0.1\n" % self.ports["bootstrap2"], text)
        self.assertIn("#listener %d 127.0.0.1\n" % self.ports["service2"], text)
        self.assertNotIn("\nplugin_opt_provider_ca_", text)

    def test_a_manufacturer_mints_for_every_broker_and_services_name_the_first(self):
        script = self.path("hosts/svc/etc/onramp/acme/mint.sh")
        self.assertEqual(stat.S_IMODE(os.stat(script).st_mode), 0o755)
        with open(script) as f:
            text = f.read()
        self.assertIn("exec onramp-factory mint --manufacturer '%s' \\\n" %
                      self.path("hosts/svc/var/lib/onramp/acme"), text)
        self.assertIn("  --broker b1 localhost %d \\\n" % self.ports["bootstrap"], text)
        self.assertIn("  --broker b2 127.0.0.1 %d \\\n" % self.ports["bootstrap2"], text)
        self.assertIn("  --broker-ca '%s' \"$@\"\n" %
                      self.path("hosts/svc/etc/onramp/acme/services-ca.pem"), text)
        self.assertIn("#   broker b2 on host gw2, region 208\n", text)
        self.assertEqual(subprocess.run(["sh", "-n", script]).returncode, 0)
        # services connect to every broker, each by its name (and region)
        for role, name in SERVICES:
            with open(self.path("hosts/svc/etc/onramp/%s/%s.conf" % (name, role))) as f:
                conf = f.read()
            self.assertIn("broker b1 localhost %d\nbroker b2 127.0.0.1 %d region=208\n" %
                          (self.ports["services"], self.ports["services2"]), conf)

    def test_without_local_the_files_name_the_hosts_own_paths(self):
        out = os.path.join(self.dep.dir, "deployed")
        proc = subprocess.run(deployment.admin_argv(self.dep.topology, out, "--quiet"),
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("\nkept ", proc.stdout)
        self.assertIn("rsync -a", proc.stdout)
        with open(os.path.join(out, "hosts/svc/etc/onramp/op-1/operator.conf")) as f:
            text = f.read()
        self.assertIn("op_file /var/lib/onramp/op-1/op.hex\n", text)
        self.assertIn("broker b1 localhost ", text)
        self.assertNotIn(out, text)
        with open(os.path.join(out, "hosts/gw/etc/mosquitto/mosquitto.conf")) as f:
            self.assertIn("certfile /etc/mosquitto/onramp/broker.pem\n", f.read())
        with open(os.path.join(out, "hosts/svc/etc/onramp/acme/mint.sh")) as f:
            mint = f.read()
        self.assertIn("--manufacturer '/var/lib/onramp/acme' ", mint)
        self.assertIn("--broker-ca '/etc/onramp/acme/services-ca.pem' ", mint)
        self.assertIn("sudo -u onramp /etc/onramp/acme/mint.sh --out DIR", mint)
        with open(os.path.join(out, "setup/svc.sh")) as f:
            script = f.read()
        self.assertIn("systemctl restart onramp-operator@op-1.service\n", script)
        self.assertIn("chown -R onramp:onramp /etc/onramp/op-1\n", script)
        self.assertEqual(subprocess.run(["sh", "-n", os.path.join(out, "setup/svc.sh")]).returncode,
                         0)

    # -- running again -------------------------------------------------------

    def test_a_second_run_keeps_every_file(self):
        before = {rel: digest(self.path(rel)) for rel in self.report}
        proc = self.dep.admin()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = deployment.parse_report(proc.stdout)
        self.assertEqual(set(report), set(self.report))
        self.assertEqual(set(report.values()), {"kept"}, [r for r in report.items()
                                                          if r[1] != "kept"])
        self.assertIn("0 created, 0 updated, %d kept" % len(report), proc.stdout)
        self.assertEqual({rel: digest(self.path(rel)) for rel in self.report}, before)

    def test_a_new_provider_changes_only_what_names_it(self):
        out = self.fresh("new-provider")
        keys_before = {rel: digest(p) for rel, p in files_under(out).items()
                       if rel.endswith((".key", "op.hex"))}
        proc = self.run_on(out, self.topology() + "provider prov-b host=svc\ncontract prov-b op-1\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = deployment.parse_report(proc.stdout)
        updated = sorted(r for r, s in report.items() if s == "updated")
        self.assertEqual(updated, [
            "hosts/gw/etc/mosquitto/mosquitto.conf",
            "hosts/gw/etc/mosquitto/onramp/provider-cas.pem",
            "hosts/svc/etc/onramp/acme/manufacturer.conf",
            "hosts/svc/etc/onramp/op-1/operator.conf",
            "setup/svc.sh",
        ])
        created = sorted(r for r, s in report.items() if s == "created")
        self.assertTrue(created)
        self.assertEqual([r for r in created if "prov-b" not in r], [])
        for must in ("keys/provider/prov-b/provider-ca.key",
                     "hosts/svc/etc/onramp/prov-b/provider.conf",
                     "hosts/svc/etc/onramp/acme/peers/prov-b.signing.pub",
                     "hosts/svc/etc/onramp/op-1/peers/prov-b.sealing.pub",
                     "hosts/ops/etc/onramp/admin/peers/prov-b.signing.pub",
                     "hosts/gw/etc/mosquitto/onramp/provider-ca-prov-b.pem"):
            self.assertIn(must, created)
        self.assertFalse([r for r in created if r.startswith("hosts/svc/etc/onramp/prov-a/")])
        for rel, d in keys_before.items():
            self.assertEqual(digest(os.path.join(out, rel)), d, rel)
        with open(os.path.join(out, "hosts/svc/etc/onramp/op-1/operator.conf")) as f:
            self.assertIn("provider prov-b ", f.read())

    def test_a_new_address_reissues_the_broker_certificate_with_its_key(self):
        out = self.fresh("new-address")
        key = digest(os.path.join(out, "keys/broker/b1/broker.key"))
        proc = self.run_on(out, self.topology().replace("address=127.0.0.1 dns=localhost",
                                                        "address=127.0.0.2"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = deployment.parse_report(proc.stdout)
        self.assertEqual(report["keys/broker/b1/broker.pem"], "updated")
        self.assertEqual(report["hosts/gw/etc/mosquitto/onramp/broker.pem"], "updated")
        self.assertEqual(report["keys/broker/b1/broker.key"], "kept")
        self.assertEqual(digest(os.path.join(out, "keys/broker/b1/broker.key")), key)
        rc, text = openssl("x509", "-in", os.path.join(out, "keys/broker/b1/broker.pem"),
                           "-noout", "-ext", "subjectAltName")
        self.assertIn("IP Address:127.0.0.2", text)
        self.assertNotIn("localhost", text)
        # the services reach it at the new address; nothing else changed
        self.assertEqual(report["hosts/svc/etc/onramp/op-1/operator.conf"], "updated")
        self.assertEqual(report["keys/operator/op-1/operator.pem"], "kept")
        self.assertEqual(report["admin/services-ca.pem"], "kept")

    # -- refusals ------------------------------------------------------------

    def test_a_refused_topology_writes_nothing(self):
        out = os.path.join(self.dep.dir, "refused")
        topology = TOPOLOGY.replace("contract prov-a op-1\n", "contract prov-a op-9\n")
        proc = self.run_on(out, fill(topology)[0])
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r"refused\.topology:11: contract: no operator 'op-9'")
        self.assertFalse(os.path.exists(out))

    def test_a_key_others_can_read_is_refused_not_replaced(self):
        out = self.fresh("open-key")
        key = os.path.join(out, "keys/operator/op-1/service.key")
        before = digest(key)
        os.chmod(key, 0o644)
        proc = self.run_on(out, self.topology())
        self.assertEqual(proc.returncode, 1)
        self.assertIn(key, proc.stderr)
        self.assertIn("a key is never made again", proc.stderr)
        self.assertEqual(digest(key), before)

    def test_check_and_usage(self):
        proc = subprocess.run([onboarding.program("onramp-admin"), "--topology",
                               self.dep.topology, "--check"], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("topology: 4 hosts, 2 brokers, 1 manufacturers, 1 providers, 1 operators, "
                      "1 contracts, 1 plans, 1 control tools, 1 monitors, storage sqlite",
                      proc.stdout)
        self.assertIn("broker b1: host gw, bootstrap localhost:%d\n" % self.ports["bootstrap"],
                      proc.stdout)
        self.assertIn("broker b2: host gw2, bootstrap 127.0.0.1:%d, region 208\n" %
                      self.ports["bootstrap2"], proc.stdout)
        proc = subprocess.run([onboarding.program("onramp-admin"), "--check"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)

    def test_storage_postgres_writes_each_partys_sql_on_the_database_host(self):
        out = os.path.join(self.dep.dir, "postgres")
        topology = self.topology() + "storage postgres host=ops port=5433\n"
        proc = self.run_on(out, topology)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = deployment.parse_report(proc.stdout)
        passwords = {}
        for role, name in SERVICES:
            secret = "hosts/svc/etc/onramp/%s/database.password" % name
            sql_path = "hosts/ops/etc/onramp/%s/postgres.sql" % name
            self.assertEqual(report[secret], "created")
            for rel in (secret, sql_path, "keys/%s/%s/database.password" % (role, name)):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, rel)).st_mode), 0o600,
                                 rel)
            with open(os.path.join(out, secret)) as f:
                password = f.read()
            self.assertRegex(password, r"^[0-9a-f]{64}\n$")
            passwords[name] = password.strip()
            with open(os.path.join(out, sql_path)) as f:
                sql = f.read()
            self.assertIn("SECRET (0600)", sql)
            self.assertIn('CREATE ROLE "onramp_%s" LOGIN' % name, sql)
            self.assertIn('ALTER ROLE "onramp_%s" LOGIN PASSWORD \'%s\';' %
                          (name, passwords[name]), sql)
            self.assertIn('CREATE DATABASE "onramp_%s" OWNER "onramp_%s"' % (name, name), sql)
            with open(os.path.join(out, "hosts/svc/etc/onramp/%s/%s.conf" % (name, role))) as f:
                conf = f.read()
            # ops has no address: the database is reached by the host's name
            self.assertIn("\ndatabase postgresql:host=ops port=5433 dbname=onramp_%s "
                          "user=onramp_%s\ndatabase_password_file "
                          "/etc/onramp/%s/database.password\n" % (name, name, name), conf)
            self.assertNotIn(".db\n", conf)
        self.assertEqual(len(set(passwords.values())), len(SERVICES))
        # onramp-factory mint's registry is the manufacturer's database too
        with open(os.path.join(out, "hosts/svc/var/lib/onramp/acme/manufacturer.conf")) as f:
            material = f.read()
        self.assertIn("\ndatabase postgresql:host=ops port=5433 dbname=onramp_acme "
                      "user=onramp_acme\n", material)
        self.assertNotIn("manufacturer.db", material)
        self.assertIn("voucher_key voucher.key\n", material)
        with open(os.path.join(out, "setup/ops.sh")) as f:
            self.assertIn("psql -q -v ON_ERROR_STOP=1 -p 5433 < /etc/onramp/op-1/postgres.sql",
                          f.read())
        # a second run keeps every password, so the SQL and the files agree
        proc = self.run_on(out, topology)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = deployment.parse_report(proc.stdout)
        self.assertEqual(set(report.values()), {"kept"}, [r for r in report.items()
                                                          if r[1] != "kept"])
        for _, name in SERVICES:
            with open(os.path.join(out, "hosts/svc/etc/onramp/%s/database.password" % name)) as f:
                self.assertEqual(f.read().strip(), passwords[name])

    def test_instances_share_one_configuration_with_postgres_only(self):
        out = os.path.join(self.dep.dir, "instances")
        topology = self.topology().replace("iccid=894900100000000001-894900100000099999",
                                          "iccid=894900100000000001-894900100000099999 "
                                          "instances=2")
        self.assertIn("instances=2", topology)
        pairing = int(re.search(r"pairing_port=(\d+)", topology).group(1))
        # what each instance listens on: the line's port plus K - 1
        topology = topology.replace("pairing_port=%d" % pairing,
                                    "pairing_port=%d instances=2" % pairing)
        topology += "metrics op-1 port=19464\n"
        proc = self.run_on(out, topology)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("prov-a instances=2: several instances share one database: needs "
                      "`storage postgres host=HOST`", proc.stderr)
        self.assertFalse(os.path.exists(out))
        proc = self.run_on(out, topology + "storage postgres host=ops\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        units = os.path.join(out, "hosts/svc/etc/systemd/system")
        self.assertEqual(sorted(os.listdir(units)),
                         ["onramp-operator@op-1:1.service.d", "onramp-operator@op-1:2.service.d",
                          "onramp-provider@prov-a:1.service.d",
                          "onramp-provider@prov-a:2.service.d"])
        for k in (1, 2):
            with open(os.path.join(units, "onramp-operator@op-1:%d.service.d/onramp.conf" % k)) \
                    as f:
                dropin = f.read()
            self.assertRegex(dropin, r"\nExecStart=\nExecStart=/\S+/bin/onramp-operator "
                                     r"--config /etc/onramp/op-1/operator.conf -o instance=%d "
                                     r"-o metrics_listen=127\.0\.0\.1:%d\n" % (k, 19464 + k - 1))
            with open(os.path.join(units, "onramp-provider@prov-a:%d.service.d/onramp.conf" % k)) \
                    as f:
                dropin = f.read()
            self.assertRegex(dropin, r"\nExecStart=\nExecStart=/\S+/bin/onramp-provider "
                                     r"--config /etc/onramp/prov-a/provider.conf -o instance=%d "
                                     r"-o http_listen=127\.0\.0\.1:%d\n" % (k, pairing + k - 1))
        # Prometheus scrapes each instance
        with open(os.path.join(out, "prometheus/onramp.yml")) as f:
            scrape = f.read()
        for k in (1, 2):
            self.assertIn('      - targets: ["127.0.0.1:%d"]\n        labels:\n'
                          '          service: op-1\n          role: operator\n'
                          '          service_instance: "%d"\n          host: svc\n'
                          % (19464 + k - 1, k), scrape)
        with open(os.path.join(out, "setup/svc.sh")) as f:
            setup = f.read()
        self.assertIn("systemctl disable --now onramp-operator@op-1.service\n", setup)
        for k in (1, 2):
            self.assertIn("systemctl enable onramp-operator@op-1:%d.service\n"
                          "systemctl restart onramp-operator@op-1:%d.service\n" % (k, k), setup)
        self.assertIn("systemctl restart onramp-manufacturer@acme.service\n", setup)
        # the one configuration has no instance: each process is given its own
        with open(os.path.join(out, "hosts/svc/etc/onramp/op-1/operator.conf")) as f:
            conf = f.read()
        self.assertNotRegex(conf, r"(?m)^instance ")
        self.assertIn("database postgresql:host=ops port=5432 dbname=onramp_op-1", conf)
        self.assertIn("\nmetrics_listen 127.0.0.1:19464\n", conf)

    def run_setup(self, out, root):
        """OUT/setup/svc.sh as the host runs it after `rsync -a
        OUT/hosts/svc/ root@svc:/`, with the host's /etc/systemd/system
        in `root` and systemctl, chown and runuser recording their
        arguments; what they were called with, one call a line."""
        shutil.copytree(os.path.join(out, "hosts/svc/etc/systemd/system"), root,
                        dirs_exist_ok=True)
        fake = os.path.join(os.path.dirname(root), "bin")
        calls = os.path.join(os.path.dirname(root), "calls")
        os.makedirs(fake, exist_ok=True)
        for name in ("systemctl", "chown", "runuser"):
            with open(os.path.join(fake, name), "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >> %s\n' % (name, calls))
            os.chmod(os.path.join(fake, name), 0o755)
        with open(os.path.join(out, "setup/svc.sh")) as f:
            script = f.read().replace("/etc/systemd/system/", root + "/")
        if os.path.exists(calls):
            os.unlink(calls)
        proc = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                              env={"PATH": fake + ":/usr/bin:/bin"}, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(calls) as f:
            return f.read()

    def test_instances_a_topology_no_longer_has_are_stopped(self):
        out = os.path.join(self.dep.dir, "fewer-instances")
        root = os.path.join(self.dep.dir, "fewer-instances-host", "system")
        three = self.topology().replace("iccid=894900100000000001-894900100000099999",
                                        "iccid=894900100000000001-894900100000099999 "
                                        "instances=3") + "storage postgres host=ops\n"
        self.assertEqual(self.run_on(out, three).returncode, 0)
        calls = self.run_setup(out, root)
        for k in (1, 2, 3):
            self.assertIn("systemctl enable onramp-operator@op-1:%d.service\n" % k, calls)
        self.assertNotIn("disable --now onramp-operator@op-1:", calls)
        # two instances: the third is stopped, its drop-in gone
        proc = self.run_on(out, three.replace("instances=3", "instances=2"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        calls = self.run_setup(out, root)
        self.assertIn("systemctl disable --now onramp-operator@op-1:3.service\n", calls)
        self.assertNotIn("disable --now onramp-operator@op-1:2", calls)
        self.assertEqual(sorted(os.listdir(root)), ["onramp-operator@op-1:1.service.d",
                                                    "onramp-operator@op-1:2.service.d"])
        # one: both stopped, the single unit started again
        proc = self.run_on(out, three.replace(" instances=3", ""))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        calls = self.run_setup(out, root)
        for k in (1, 2):
            self.assertIn("systemctl disable --now onramp-operator@op-1:%d.service\n" % k, calls)
        self.assertIn("systemctl enable onramp-operator@op-1.service\n", calls)
        self.assertEqual(os.listdir(root), [])
        # no other service had instances: nothing of theirs is touched
        self.assertNotIn("disable --now onramp-provider", calls)

    @unittest.skipUnless(PG_BIN and os.getuid() == 0 and
                         "postgres" in [u.pw_name for u in pwd.getpwall()],
                         "PostgreSQL's server (Debian's postgresql) and root for runuser")
    def test_storage_postgres_sql_runs_twice_on_a_private_cluster(self):
        out = os.path.join(self.dep.dir, "postgres-run")
        proc = self.run_on(out, self.topology() + "storage postgres host=ops\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with tempfile.TemporaryDirectory(prefix="onr-pg-") as pg:
            os.chown(pg, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
            as_postgres = ["runuser", "-u", "postgres", "--"]
            initdb = run_ok(as_postgres + [os.path.join(PG_BIN, "initdb"), "-D", pg + "/data", "-A", "trust", "-U",
                                           "onramp"])
            self.assertEqual(initdb.returncode, 0, initdb.stderr)
            # the superuser by trust, the parties' roles by password only
            with open(pg + "/data/pg_hba.conf", "w") as f:
                f.write("local all onramp trust\nlocal all all scram-sha-256\n")
            started = run_ok(as_postgres + [os.path.join(PG_BIN, "pg_ctl"), "-D", pg + "/data", "-l", pg + "/log",
                                            "-o", "-k %s -c listen_addresses=''" % pg, "-w",
                                            "start"])
            self.assertEqual(started.returncode, 0, started.stderr)
            try:
                for _ in range(2):  # a second run changes nothing
                    for _, name in SERVICES:
                        with open(os.path.join(out, "hosts/ops/etc/onramp/%s/postgres.sql"
                                               % name)) as sql:
                            ran = subprocess.run(
                                as_postgres + ["psql", "-q", "-h", pg, "-U", "onramp", "-d",
                                               "postgres", "-v", "ON_ERROR_STOP=1"],
                                stdin=sql, capture_output=True, text=True, timeout=60)
                        self.assertEqual(ran.returncode, 0, ran.stderr)
                listed = run_ok(as_postgres + [
                    "psql", "-At", "-h", pg, "-U", "onramp", "-d", "postgres", "-c",
                    "SELECT datname || ' ' || pg_get_userbyid(datdba) FROM pg_database "
                    "WHERE datname LIKE 'onramp_%' ORDER BY 1"])
                self.assertEqual(listed.stdout.split("\n")[:3], [
                    "onramp_acme onramp_acme", "onramp_op-1 onramp_op-1",
                    "onramp_prov-a onramp_prov-a"])
                # each service logs in with its database_password_file, and
                # only with it
                for _, name in SERVICES:
                    with open(os.path.join(out, "hosts/svc/etc/onramp/%s/database.password"
                                           % name)) as f:
                        password = f.read().strip()
                    for given, works in ((password, True), ("0" * 64, False)):
                        login = subprocess.run(
                            as_postgres + ["env", "PGPASSWORD=" + given, "psql", "-At", "-h", pg,
                                           "-U", "onramp_" + name, "-d", "onramp_" + name,
                                           "-c", "SELECT current_user"],
                            capture_output=True, text=True, timeout=60)
                        self.assertEqual(login.returncode == 0, works, login.stderr)
                        if works:
                            self.assertEqual(login.stdout.strip(), "onramp_" + name)
            finally:
                with open(pg + "/data/postmaster.pid") as f:
                    pid = int(f.readline())
                os.kill(pid, signal.SIGINT)  # fast shutdown
                deadline = time.monotonic() + 30
                while os.path.exists(pg + "/data/postmaster.pid") and \
                        time.monotonic() < deadline:
                    time.sleep(0.1)

    # -- the fabric, as deployed ---------------------------------------------

    def test_the_deployed_fabric_onboards_a_device(self):
        dep, ports = self.dep, self.ports
        dep.start_broker("gw", "b1", ports["bootstrap"], ports["services"], ports["service"])
        dep.manufacturer("svc", "acme").start()
        dep.provider("svc", "prov-a").start()
        dep.operator("svc", "op-1").start()
        # the monitor's certificate is one the plugin takes
        cert, key = dep.host_path("ops", "/etc/onramp/noc/monitor.pem"), \
            dep.host_path("ops", "/etc/onramp/noc/monitor.key")
        monitor = mqtt5.Client(ports["services"], "monitor.noc",
                               dep.host_path("ops", "/etc/onramp/noc/services-ca.pem"), cert, key)
        self.assertEqual(monitor.connect(), 0)
        monitor.disconnect()
        # the provider's pairing page, on loopback
        with urllib.request.urlopen("http://127.0.0.1:%d/" % ports["pairing"], timeout=10) as r:
            self.assertEqual(r.status, 200)
        # behind its TLS reverse proxy: a form from its public origin is
        # read (and this one refused for its label), another origin's not
        for origin, status in (("https://pair.example.net", 400), ("https://evil.example", 403)):
            post = urllib.request.Request(
                "http://127.0.0.1:%d/pair" % ports["pairing"], data=b"label=x",
                headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"})
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(post, timeout=10)
            self.assertEqual(refused.exception.code, status, origin)
        # devices minted on the manufacturer's host by its mint.sh, for both
        # brokers; b2 stays down: a device that starts there moves to b1
        devices = os.path.join(dep.dir, "devices")
        env = dict(os.environ, PATH=onboarding.BIN_DIR + os.pathsep + os.environ["PATH"])
        minted = subprocess.run(
            [dep.host_path("svc", "/etc/onramp/acme/mint.sh"), "--out", devices, "--count", "1"],
            capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(minted.returncode, 0, minted.stderr)
        state = os.path.join(devices, minted.stdout.split()[0])
        with open(os.path.join(state, "device.conf")) as f:
            conf = f.read()
        self.assertIn("broker b1 localhost %d\n" % ports["bootstrap"], conf)
        self.assertIn("broker b2 127.0.0.1 %d\n" % ports["bootstrap2"], conf)
        # paired by the control tool with its own files
        ctl = dep.host_path("ops", "/etc/onramp/admin")
        with open(os.path.join(state, "label.txt")) as f:
            label = f.read().strip()
        paired = subprocess.run(
            [onboarding.program("onrampctl"), "pair", "--provider", "prov-a",
             "--provider-key", os.path.join(ctl, "peers/prov-a.signing.pub"), "--label", label,
             "--account", "alice", "--host", "localhost", "--port", str(ports["services"]),
             "--cafile", os.path.join(ctl, "services-ca.pem"), "--cert",
             os.path.join(ctl, "control.pem"), "--key", os.path.join(ctl, "control.key"),
             "--timeout", "20"], capture_output=True, text=True, timeout=60)
        self.assertEqual(paired.returncode, 0, paired.stdout + paired.stderr)
        device = dep.track(onboarding.Process(
            "device", [onboarding.program("onramp-device"), "--state", state, "--until",
                       "OPERATIONAL"], dep.dir))
        device.start()
        self.assertEqual(device.exit_status(timeout=90), 0, device.text()[-3000:])
        self.assertIn("state=OPERATIONAL", device.text())
        # admitted by b1 only: before each "connected", a "connecting" to b1
        lines = device.text().splitlines()
        admitted = [lines[i - 1] for i, line in enumerate(lines)
                    if line.startswith("connected") and "broker=service" not in line]
        self.assertTrue(admitted)
        self.assertTrue(all(line.startswith("connecting broker=b1 ") for line in admitted),
                        device.text()[-3000:])
        self.assertIn("endpoint=mqtts://localhost:%d" % ports["service"], device.text())


if __name__ == "__main__":
    unittest.main()
