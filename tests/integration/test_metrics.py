"""Prometheus metrics (issue 20, part 2) on a real fabric deployed by
onramp-admin from a topology with metrics lines: the three services serve
/metrics on free loopback ports (metrics_listen), a monitor runs onrampctl
exporter from the exporter.conf onramp-admin wrote, and a private
Prometheus (prometheus.py: Debian's, on a free loopback port, stopped by
PID) scrapes them every second with onramp-admin's scrape configuration and
the example alerting rules. After one device's real onboarding, the
counters of that onboarding are read back through Prometheus's HTTP API,
exact where the protocol fixes them. No duration is asserted.
"""

import json
import os
import re
import subprocess
import tempfile
import unittest

import deployment
import fabric
import onboarding
import prometheus

RULES = os.path.join(fabric.SOURCE_DIR, "services", "examples", "prometheus",
                     "onramp.rules.yml")

# deployment.FLEET's fabric (one of each, the control tool fleet), a
# monitor, and metrics for all
TOPOLOGY = deployment.FLEET + """monitor noc host=local
metrics acme port={m_acme}
metrics prov-a port={m_prov}
metrics op-1 port={m_op}
metrics noc port={m_noc}
"""

SERVICES = {"acme": "manufacturer", "prov-a": "provider", "op-1": "operator"}


def series(result, **labels):
    """The values of an instant query's series that carry `labels`."""
    want = set(labels.items())
    return [v for k, v in result.items() if want <= set(k)]


class MetricsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        ports = deployment.local_ports()
        for name in ("m_acme", "m_prov", "m_op", "m_noc"):
            ports[name] = fabric.free_port()
        cls.ports = ports
        cls.dep = dep = deployment.Deployment(TOPOLOGY.format(**ports))
        cls.prom = None
        try:
            dep.deploy()
            dep.start_broker("local", "fleet", ports["bootstrap"], ports["services"],
                             ports["service"])
            cls.maker = dep.manufacturer("local", "acme")
            cls.prov = dep.provider("local", "prov-a", ["retry_after=1", "resend=2"])
            cls.op = dep.operator("local", "op-1")
            for svc in (cls.maker, cls.prov, cls.op):
                svc.start()
            cls.exporter = dep.track(onboarding.Process(
                "exporter", [onboarding.program("onrampctl"), "exporter", "--config",
                             dep.host_path("local", "/etc/onramp/noc/exporter.conf")], dep.dir))
            cls.exporter.start()
            cls.exporter.wait_for("exporter: counters of broker=fleet", timeout=60)
            cls.prom = prometheus.Prometheus(os.path.join(dep.dir, "prometheus"),
                                             os.path.join(dep.out, "prometheus", "onramp.yml"),
                                             rules=[RULES]).start()
            cls.onboard()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prom is not None:
            cls.prom.stop()
        cls.dep.close()

    @classmethod
    def onboard(cls):
        """One device minted, paired and run to OPERATIONAL."""
        cls.state = cls.maker.mint(1)[0]
        device = cls.dep.device(cls.state, ["--until", "OPERATIONAL"])
        rc, out = cls.dep.controller("fleet").pair(cls.prov, device.label(), "alice")
        if rc != 0:
            raise AssertionError("pairing failed:\n" + out)
        device.process.start()
        if device.process.exit_status(timeout=120) != 0:
            raise AssertionError("the device did not onboard:\n" + device.process.text()[-3000:])
        cls.device = device

    def metrics_url(self, name):
        return "http://127.0.0.1:%d/metrics" % self.ports[name]

    # -- what onramp-admin wrote ------------------------------------------------

    def test_admin_renders_listeners_exporter_and_scrape_configuration(self):
        dep, ports = self.dep, self.ports
        with open(dep.host_path("local", "/etc/onramp/op-1/operator.conf")) as f:
            self.assertIn("\nmetrics_listen 127.0.0.1:%d\n" % ports["m_op"], f.read())
        with open(dep.host_path("local", "/etc/onramp/noc/exporter.conf")) as f:
            conf = f.read()
        self.assertIn("\nbroker 127.0.0.1 %d\n" % ports["services"], conf)
        self.assertIn("\nlisten 127.0.0.1:%d\n" % ports["m_noc"], conf)
        self.assertNotIn("public", conf.replace("# ", ""))
        scrape = os.path.join(dep.out, "prometheus", "onramp.yml")
        proc = prometheus.promtool("check", "config", scrape)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(os.path.join(dep.dir, "out", "setup", "local.sh")) as f:
            self.assertIn("systemctl enable onramp-exporter@noc.service\n", f.read())

    def test_the_example_rules_pass_promtool_and_load(self):
        proc = prometheus.promtool("check", "rules", RULES)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        names = {r["name"] for g in self.prom.api("rules")["groups"] for r in g["rules"]}
        for alert in ("OnrampPendingConfirmationsGrowing", "OnrampRefusalSpike",
                      "OnrampBrokerSilent", "OnrampServiceNotConnected"):
            self.assertIn(alert, names)
        # every rule evaluates (each group once its first interval is over)
        onboarding.wait_until(lambda: all(r["health"] == "ok"
                                          for g in self.prom.api("rules")["groups"]
                                          for r in g["rules"]),
                              what="every rule evaluated without error")

    # -- the endpoints ----------------------------------------------------------

    def test_every_endpoint_serves_valid_text_and_nothing_else(self):
        for name in ("m_acme", "m_prov", "m_op", "m_noc"):
            status, headers, body = prometheus.scrape(self.metrics_url(name))
            self.assertEqual(status, 200, name)
            self.assertEqual(headers["Content-Type"],
                             "text/plain; version=0.0.4; charset=utf-8")
            # promtool's parser and its lint (names, units, _total)
            proc = prometheus.promtool("check", "metrics", stdin=body)
            self.assertEqual(proc.returncode, 0, "%s:\n%s%s" % (name, proc.stdout, proc.stderr))
            # nothing secret, no device id as a label (bounded cardinality)
            self.assertNotIn(self.device.id, body)
            self.assertIsNone(re.search(r"BEGIN|PRIVATE|\bki\b|opc", body, re.I))
            status, _, _ = prometheus.scrape(self.metrics_url(name).replace("/metrics", "/"))
            self.assertEqual(status, 404)
        # another method: 405 (with a body, 413 first: none is taken)
        for name in ("m_op", "m_noc"):
            req = prometheus.urllib.request.Request(self.metrics_url(name), data=b"",
                                                    method="POST")
            status, headers, _ = prometheus.scrape(req)
            self.assertEqual(status, 405, name)
            self.assertEqual(headers["Allow"], "GET, HEAD")
            req = prometheus.urllib.request.Request(self.metrics_url(name), data=b"x",
                                                    method="POST")
            self.assertEqual(prometheus.scrape(req)[0], 413, name)

    # -- the onboarding, as Prometheus has it -----------------------------------

    def test_prometheus_scrapes_every_target(self):
        targets = self.prom.wait_value('count(up{job=~"onramp-.*"} == 1)',
                                       lambda v: v == 4, what="targets up")
        self.assertEqual(targets, 4, self.prom.targets())
        for svc, role in SERVICES.items():
            self.assertEqual(self.prom.value('onramp_service_connected{service="%s",role="%s"}'
                                             % (svc, role)), 1)
            # the served id and role, kept beside the target's own labels
            self.assertEqual(self.prom.value('onramp_service_info{service="%s",'
                                             'exported_service="%s",exported_role="%s"}'
                                             % (svc, svc, role)), 1)
        self.assertEqual(self.prom.value("onramp_exporter_connected"), 1)

    def test_the_brokers_counters_of_the_onboarding(self):
        prom = self.prom
        # one grant for one device, from the exporter, labelled with the broker
        grants = prom.wait_value('onramp_broker_grants_total{job="onramp-exporter"}',
                                 lambda v: v is not None and v >= 1, what="the grant")
        self.assertEqual(grants, 1)
        self.assertEqual(set(dict(k)["broker"] for k in
                             prom.query('onramp_broker_grants_total')), {"fleet"})
        self.assertEqual(prom.value('onramp_broker_revocations_total{broker="fleet"}'), 0)
        self.assertEqual(prom.value('onramp_broker_control_refused_total{broker="fleet"}'), 0)
        for reason in ("pop_bad_sig", "pop_stale", "pop_replayed", "bad_cert",
                       "denied_publish", "denied_subscribe"):
            self.assertEqual(prom.value('onramp_broker_%s_total{broker="fleet"}' % reason), 0,
                             reason)
        self.assertGreaterEqual(prom.value('onramp_broker_connects_total{broker="fleet"}'), 5)
        # the epoch, as the broker's journal holds it
        with open(self.dep.broker.grants) as f:
            epoch = re.search(r"^epoch ([0-9a-f]{32})$", f.read(), re.M).group(1)
        self.assertEqual(prom.value('onramp_broker_epoch_info{broker="fleet",epoch="%s"}'
                                    % epoch), 1)
        self.assertIsNotNone(prom.value('onramp_broker_last_heard_timestamp_seconds'
                                        '{broker="fleet"}'))

    def test_the_services_counters_of_the_onboarding(self):
        prom = self.prom
        # every step's request handled, as each service counted it; the
        # device asked once per step unless it had to retry
        steps = [("acme", "hello"), ("op-1", "profile_request"), ("op-1", "attach_response"),
                 ("prov-a", "enroll_request"), ("acme", "registration"),
                 ("prov-a", "app_key"), ("op-1", "alignment")]
        for svc, msg_type in steps:
            value = prom.wait_value(
                'onramp_messages_handled_total{service="%s",type="%s"}' % (svc, msg_type),
                lambda v: v is not None and v >= 1, what="%s %s" % (svc, msg_type))
            self.assertGreaterEqual(value, 1)
        # pairing: one by the control tool
        self.assertEqual(prom.value('onramp_messages_handled_total{service="prov-a",'
                                    'type="pairing"}'), 1)
        # nothing refused anywhere, nothing left unconfirmed
        self.assertEqual(prom.value('sum(onramp_messages_refused_total)'), 0)
        self.assertEqual(prom.value('sum(onramp_messages_busy_total)'), 0)
        prom.wait_value('sum(onramp_pending_confirmations)', lambda v: v == 0,
                        what="confirmations")
        self.assertEqual(prom.value('max(onramp_pending_oldest_age_seconds)'), 0)
        # each confirmed message of the onboarding: its kind back to 0 at
        # its sender, and its confirmation handled there
        for svc, kind, answer in (("op-1", "grant", "control_result"),
                                  ("op-1", "app_key", "alignment"),
                                  ("prov-a", "registration", "registered"),
                                  ("prov-a", "alignment", "aligned")):
            self.assertEqual(prom.value('onramp_pending_confirmations{service="%s",kind="%s"}'
                                        % (svc, kind)), 0, kind)
            self.assertGreaterEqual(prom.value('onramp_messages_handled_total{service="%s",'
                                               'type="%s"}' % (svc, answer)), 1, answer)
        self.assertEqual(prom.value('sum(onramp_pending_refused_total)'), 0)
        # the handling-time histogram counted every handled message, and
        # the commits were timed
        handled = prom.value('sum(onramp_messages_handled_total)')
        counted = prom.value('sum(onramp_message_handling_seconds_count)')
        self.assertGreaterEqual(counted, handled)
        self.assertGreater(prom.value('sum(onramp_db_commit_seconds_count)'), 0)
        for svc in SERVICES:
            self.assertIsNotNone(prom.value('onramp_process_start_time_seconds{service="%s"}'
                                            % svc))

    def test_no_alert_fires(self):
        self.assertEqual(self.prom.query('ALERTS{alertstate="firing"}'), {})

    # -- last: the broker goes away ---------------------------------------------

    def test_z_a_stopped_broker_shows_as_disconnected(self):
        """The broker stopped: the exporter and every service say they are
        not connected (what OnrampExporterNotConnected and
        OnrampServiceNotConnected watch)."""
        self.dep.broker.stop()
        self.prom.wait_value('onramp_exporter_connected', lambda v: v == 0,
                             what="the exporter's connection")
        self.prom.wait_value('sum(onramp_service_connected)', lambda v: v == 0,
                             what="the services' connections")


class RulesWithInstancesTest(unittest.TestCase):
    """The example rules on two instances of one provider (promtool test
    rules: series as two scrapes give them, no server): the gauges read
    from the database the instances share count once, the counters each
    instance keeps add up, and every alert fires once for the service."""

    def test_the_rules_count_a_shared_database_once_and_counters_summed(self):
        labels = 'service="prov-a",role="provider"'
        series = []
        for n in (1, 2):
            target = 'job="onramp-services",instance="host-%d:9464",service_instance="%d",%s' % (
                n, n, labels)
            series += [
                # the same rows, read by each instance: 1, 2, ... 91, one a minute
                {"series": 'onramp_pending_confirmations{%s,kind="alignment"}' % target,
                 "values": "1+1x90"},
                {"series": 'onramp_pending_oldest_age_seconds{%s,kind="alignment"}' % target,
                 "values": "4000+60x90"},
                {"series": "onramp_certificates_expiring{%s}" % target, "values": "3x90"},
                # each instance's own: one refusal a second each
                {"series": 'onramp_messages_refused_total{%s,kind="auth"}' % target,
                 "values": "0+60x90"},
            ]

        def sample(name, value, **more):
            extra = "".join(',%s="%s"' % kv for kv in sorted(more.items()))
            return {"labels": "%s{%s%s}" % (name, labels, extra), "value": value}

        def alert(name, **more):
            return sample("ALERTS", 1, alertname=name, alertstate="firing",
                          severity="warning", **more)

        at = "70m"
        tests = {"rule_files": [RULES], "evaluation_interval": "1m", "tests": [{
            "interval": "1m", "input_series": series, "promql_expr_test": [
                {"expr": "service_kind:onramp_pending_confirmations:max", "eval_time": at,
                 "exp_samples": [sample("service_kind:onramp_pending_confirmations:max", 71,
                                        kind="alignment")]},
                {"expr": "service_kind:onramp_pending_oldest_age_seconds:max", "eval_time": at,
                 "exp_samples": [sample("service_kind:onramp_pending_oldest_age_seconds:max",
                                        4000 + 60 * 70, kind="alignment")]},
                {"expr": "service:onramp_certificates_expiring:max", "eval_time": at,
                 "exp_samples": [sample("service:onramp_certificates_expiring:max", 3)]},
                {"expr": 'ALERTS{alertstate="firing"}', "eval_time": at, "exp_samples": [
                    alert("OnrampPendingConfirmationsGrowing", kind="alignment"),
                    alert("OnrampConfirmationOverdue", kind="alignment"),
                    alert("OnrampCertificatesExpiring"),
                    alert("OnrampRefusalSpike", kind="auth")]},
            ]}]}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "instances.test.json")
            with open(path, "w") as f:
                json.dump(tests, f)  # JSON is YAML
            proc = prometheus.promtool("test", "rules", path)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
