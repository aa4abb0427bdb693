"""A private Prometheus for tests (Debian's `prometheus`): started here on a
free loopback port with a configuration made from onramp-admin's scrape
configuration (OUT/prometheus/onramp.yml), scraping every second, its data
in a temporary directory; queried through its HTTP API; stopped by its PID.
A system-wide Prometheus, if one runs, is never used or touched.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import fabric
import onboarding

PROMETHEUS = shutil.which("prometheus", path="/usr/bin:/usr/sbin:/bin")
PROMTOOL = shutil.which("promtool", path="/usr/bin:/usr/sbin:/bin")


def promtool(*args, stdin=None):
    """promtool ARGS; the CompletedProcess (text)."""
    if PROMTOOL is None:
        raise AssertionError("promtool missing: scripts/deps.sh --tests installs prometheus")
    return subprocess.run([PROMTOOL] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=60)


def scrape(url, timeout=10):
    """GET `url`: (status, headers, body text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Prometheus:
    """prometheus --config.file=DIR/prometheus.yml --storage.tsdb.path=DIR/data
    --web.listen-address=127.0.0.1:PORT, the configuration being
    `scrape_config` (a file with scrape_configs, as onramp-admin writes it)
    with a one-second scrape and evaluation interval and `rules` loaded."""

    def __init__(self, directory, scrape_config, rules=()):
        if PROMETHEUS is None:
            raise AssertionError("prometheus missing: scripts/deps.sh --tests installs it")
        self.dir = directory
        os.makedirs(self.dir, exist_ok=True)
        self.port = fabric.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(scrape_config) as f:
            scrape_configs = f.read()
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n")
            if rules:
                f.write("rule_files:\n" + "".join("  - %s\n" % r for r in rules))
            f.write(scrape_configs)
        self.process = onboarding.Process(
            "prometheus", [PROMETHEUS, "--config.file=" + self.config,
                           "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                           "--web.listen-address=127.0.0.1:%d" % self.port,
                           "--log.level=warn"], self.dir)

    def start(self, timeout=60):
        """Start it and wait until it is ready (GET /-/ready)."""
        self.process.start()
        onboarding.wait_until(self._ready, timeout=timeout, what="prometheus ready")
        return self

    def _ready(self):
        proc = self.process.proc
        if proc is None or proc.poll() is not None:
            raise AssertionError("prometheus exited:\n" + self.process.text()[-3000:])
        try:
            return scrape(self.url + "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def api(self, path, **params):
        """GET /api/v1/PATH?params: its "data" (AssertionError unless
        status is success)."""
        url = "%s/api/v1/%s?%s" % (self.url, path, urllib.parse.urlencode(params))
        status, _, body = scrape(url)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError("%s: %d %s" % (url, status, body[:500]))
        return answer["data"]

    def query(self, expr):
        """An instant query: {frozenset(labels.items()): value (float)}."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise AssertionError("%s: a %s" % (expr, data["resultType"]))
        return {frozenset(r["metric"].items()): float(r["value"][1]) for r in data["result"]}

    def value(self, expr):
        """The one value of `expr` (a query giving one series), or None
        when it gives none."""
        result = self.query(expr)
        if len(result) > 1:
            raise AssertionError("%s: %d series: %r" % (expr, len(result), result))
        return next(iter(result.values())) if result else None

    def wait_value(self, expr, predicate, timeout=60, what=None):
        """Poll `expr` until predicate(its value) holds (the value may be
        None); the value. AssertionError after `timeout` s with the last."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.value(expr)
            if predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError("%s: %s still %r after %d s" % (what or "prometheus", expr, last,
                                                            timeout))

    def targets(self):
        """{(job, instance): health} of the active targets."""
        data = self.api("targets", state="active")
        return {(t["labels"]["job"], t["labels"]["instance"]): t["health"]
                for t in data["activeTargets"]}

    def stop(self):
        """SIGTERM by its PID and wait; the exit status."""
        return self.process.stop(timeout=20)
