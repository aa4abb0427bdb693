"""The provider's pairing page (issue 7): onramp-provider serving a form on
http_listen that pairs a device like onrampctl pair, and a page following
the device's journey live to OPERATIONAL. Driven by headless Chromium
through chromedriver's W3C WebDriver API (standard library only), and by
urllib for the refusals.

Cast: manufacturer acme; provider prov-a (contracts with op-1, its default,
and op-2), its page on a free loopback port; operator op-1 running.

Environment, beyond onboarding.py's: ONR_SCREENSHOT_DIR (optional): where
the browser test also copies its screenshot (pairing.png).
"""

import base64
import hashlib
import html
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import fabric
import onboarding

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server",
                 "--window-size=1000,1200"]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key


def with_check(text):
    """`text` (ONR1:MFR:DEV:CLAIM) with its check characters (SPEC 12)."""
    digest = hashlib.sha256(b"onramp/1 label\x00" + text.upper().encode()).digest()
    return text + ":" + base64.b32encode(digest).decode()[:4]


# A stand-in for Web NFC's NDEFReader (Chrome on Android has it, headless
# Chromium not), with the shape of the real one: an EventTarget whose
# scan() resolves, and reading events carrying NDEFRecords (recordType,
# encoding, lang, data as a DataView). The test hands it records.
NDEF_READER_STUB = """
window.onrScans = 0;
window.NDEFReader = class NDEFReader extends EventTarget {
  constructor() { super(); window.onrReader = this; }
  scan(options) {
    window.onrScans += 1;
    if (window.onrDeny) {
      return Promise.reject(new DOMException('denied', 'NotAllowedError'));
    }
    return Promise.resolve();
  }
};
window.onrTap = function (records) {
  var event = new Event('reading');
  event.serialNumber = '04:a2:2c:6a:5e:4d:80';
  event.message = { records: records.map(function (r) {
    var bytes = new Uint8Array(r.bytes);
    return { recordType: r.recordType, mediaType: null, id: '', encoding: r.encoding,
             lang: r.lang, data: new DataView(bytes.buffer) };
  }) };
  window.onrReader.dispatchEvent(event);
};
window.onrTapError = function () { window.onrReader.dispatchEvent(new Event('readingerror')); };
"""


def text_record(text):
    """The NDEFRecord Web NFC makes of a Text record holding `text`."""
    return {"recordType": "text", "encoding": "utf-8", "lang": "en",
            "bytes": list(text.encode())}


def label_from_ndef(path):
    """The text of the factory's label.ndef, read as Web NFC reads it: the
    one short Text record of SPEC section 12 (d1 01 len 'T' 02 'en' text)."""
    with open(path, "rb") as f:
        msg = f.read()
    assert msg[:2] == b"\xd1\x01" and msg[3:7] == b"T\x02en" and msg[2] == len(msg) - 4, msg
    return msg[7:].decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# No proxy, whatever the environment says: everything here is on loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body bytes) of one request; redirects not followed."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class WebDriverError(Exception):
    pass


class Browser:
    """Headless Chromium through chromedriver's W3C WebDriver HTTP API,
    with nothing but urllib and json. chromedriver is stopped by its PID."""

    def __init__(self, directory):
        self.dir = directory
        self.port = fabric.free_port()
        self.log = open(os.path.join(directory, "chromedriver.log"), "ab")
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        profile = tempfile.mkdtemp(prefix="chromium-", dir=directory)
        caps = {"browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM,
                                       "args": CHROMIUM_ARGS + ["--user-data-dir=" + profile]}}
        try:
            self.session = self._call("POST", "/session",
                                      {"capabilities": {"alwaysMatch": caps}})["sessionId"]
        except (OSError, WebDriverError):
            self.close()
            raise

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with OPENER.open(req, timeout=60) as r:
                answer = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}")
            raise WebDriverError("%s %s: %s" % (method, path, answer.get("value")))
        return answer.get("value")

    def _s(self, path):
        return "/session/%s%s" % (self.session, path)

    def go(self, url):
        self._call("POST", self._s("/url"), {"url": url})

    def url(self):
        return self._call("GET", self._s("/url"))

    def find(self, css):
        return self._call("POST", self._s("/element"),
                          {"using": "css selector", "value": css})[ELEMENT]

    def find_all(self, css):
        return [e[ELEMENT] for e in self._call("POST", self._s("/elements"),
                                               {"using": "css selector", "value": css})]

    def type(self, css, text):
        element = self.find(css)
        self._call("POST", self._s("/element/%s/clear" % element), {})
        self._call("POST", self._s("/element/%s/value" % element), {"text": text})

    def click(self, css):
        self._call("POST", self._s("/element/%s/click" % self.find(css)), {})

    def text(self, css):
        return self._call("GET", self._s("/element/%s/text" % self.find(css)))

    def property(self, css, name):
        return self._call("GET", self._s("/element/%s/property/%s" % (self.find(css), name)))

    def wait_text(self, css, wanted, timeout):
        """Poll the element's text until it is `wanted`; the last text seen."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = self.text(css)
            except WebDriverError:
                seen = None  # not there yet (the page is loading)
            if seen == wanted:
                return seen
            time.sleep(0.25)
        raise AssertionError("%s: %r, never %r within %d s" % (css, seen, wanted, timeout))

    def execute(self, script, *args):
        """Run `script` (a function body) in the page; its return value."""
        return self._call("POST", self._s("/execute/sync"), {"script": script,
                                                             "args": list(args)})

    def before_every_page(self, source):
        """Run `source` in every page this session loads from now on, before
        the page's own scripts (the DevTools protocol, through chromedriver)."""
        self._call("POST", self._s("/goog/cdp/execute"),
                   {"cmd": "Page.addScriptToEvaluateOnNewDocument",
                    "params": {"source": source}})

    def attributes(self, css, name):
        """Attribute `name` of every element `css` finds, in order. The
        page redraws what it polls: elements found before a redraw are
        stale after it, and are found again."""
        for _ in range(20):
            try:
                return [self._call("GET", self._s("/element/%s/attribute/%s" % (e, name)))
                        for e in self.find_all(css)]
            except WebDriverError as e:
                if "stale element" not in str(e):
                    raise
                time.sleep(0.1)
        raise AssertionError("%s: redrawn under every read" % css)

    def displayed(self, css):
        return self._call("GET", self._s("/element/%s/displayed" % self.find(css)))

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self._call("GET", self._s("/screenshot"))))
        return path

    def close(self):
        if self.session is not None:
            try:
                self._call("DELETE", self._s(""))
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.log.close()


# the page's public origin behind a TLS reverse proxy (http_origin)
PUBLIC_ORIGIN = "https://pair.example.net"


class PairingPageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov = onb.provider("prov-a")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov])
            key = onb.operator_key
            cls.prov.configure([cls.acme], {"op-1": key("op-1"), "op-2": key("op-2")}, "op-1",
                               [cls.ctl])
            # the page: a key onboarding.py does not write
            cls.port = fabric.free_port()
            with open(os.path.join(cls.prov.dir, "provider.conf"), "a") as f:
                f.write("http_listen 127.0.0.1:%d\n" % cls.port)
                f.write("http_origin %s\n" % PUBLIC_ORIGIN)
            onb.track(cls.prov.process)
            cls.op1 = onb.operator("op-1", [cls.acme], [cls.prov], extra={"resend": 2})
            for svc in (cls.acme, cls.prov, cls.op1):
                svc.start()
            cls.prov.process.wait_for("page listening")
            cls.base = "http://127.0.0.1:%d" % cls.port
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def get(self, path, headers=None):
        return http("GET", self.base + path, headers=headers)

    def post(self, fields=None, body=None, headers=None):
        """POST /pair with `fields` (a dict or pairs, form-encoded) or a raw
        `body`."""
        if body is None:
            body = urllib.parse.urlencode(fields).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return http("POST", self.base + "/pair", body=body, headers=h)

    def mint(self):
        (d,) = self.acme.mint(1)
        return d, os.path.basename(d), onboarding.DeviceRun(self.onb, d).label()

    def claims(self, dev):
        return self.prov.rows("SELECT account, operator, asker, %s FROM claims WHERE dev = ?" %
                              onboarding.PROV_CLAIMED, dev)

    def journey(self, dev):
        status, headers, body = self.get("/api/device/" + dev)
        self.assertEqual(headers["Content-Type"], "application/json")
        return status, json.loads(body)

    def wait_state(self, dev, state, timeout=20):
        onboarding.wait_until(lambda: self.journey(dev)[1]["state"] == state, timeout=timeout,
                              what="%s %s (last: %s)" % (dev, state, self.journey(dev)))
        return self.journey(dev)[1]

    def assert_refused(self, answer, status, words):
        code, _, body = answer
        self.assertEqual(code, status, body)
        self.assertIn('id="error"', body.decode())
        self.assertIn(words, html.unescape(body.decode()))

    def assert_safe_headers(self, headers):
        self.assertTrue(headers["Content-Security-Policy"].startswith(
            "default-src 'self'; script-src 'self'"), headers)
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Cache-Control"], "no-store")

    # -- the browser --

    def test_browser_pairs_a_minted_device_and_follows_it_to_operational(self):
        d, dev, label = self.mint()
        shots = tempfile.mkdtemp(prefix="screenshots-", dir=self.onb.dir)
        browser = Browser(self.onb.dir)
        self.addCleanup(browser.close)
        browser.go(self.base + "/")
        self.assertEqual(browser.property("#operator", "value"), "op-1")  # the default
        # a typo first: the page says so and claims nothing
        typo = label[:-1] + ("A" if label[-1] != "A" else "B")
        browser.type("#label", typo)
        browser.type("#account", "alice")
        browser.click("#pair")
        browser.wait_text("#error", "Not paired: label check characters do not match "
                                    "(a typo?).", 15)
        self.assertEqual(self.claims(dev), [])
        # the label as printed: paired, and on to the device's page
        browser.type("#label", label)
        browser.click("#pair")
        onboarding.wait_until(lambda: browser.url().endswith("/device/" + dev), timeout=15,
                              what="the device's page")
        browser.wait_text("#state", "CLAIMED", 30)
        self.assertEqual(self.claims(dev), [("alice", "op-1", "@web", 1)])
        # the device powers on: network, certificate, service broker
        run = self.onb.device(d)
        run.process.start()
        browser.wait_text("#state", "OPERATIONAL", 120)
        self.assertEqual(run.process.exit_status(timeout=60), 0, run.process.text())
        steps = browser.attributes("#steps li", "data-step")
        self.assertEqual(steps, ["registering", "claimed", "attached", "enrolled",
                                 "operational"])
        self.assertEqual(browser.text("#account"), "alice")
        shot = browser.screenshot(os.path.join(shots, "pairing.png"))
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        if os.environ.get("ONR_SCREENSHOT_DIR"):
            os.makedirs(os.environ["ONR_SCREENSHOT_DIR"], exist_ok=True)
            shutil.copy(shot, os.path.join(os.environ["ONR_SCREENSHOT_DIR"], "pairing.png"))
        # nobody was told on a control tool's topic: there was none
        self.assertNotIn("onr/1/s/ctl/@web", self.prov.process.text())

    def test_browser_pairs_a_kit_and_follows_each_device_to_operational(self):
        dirs = self.acme.mint(3)
        devs = [os.path.basename(d) for d in dirs]
        kit, label = self.acme.kit(dirs)
        browser = Browser(self.onb.dir)
        self.addCleanup(browser.close)
        browser.go(self.base + "/")
        browser.type("#label", label)
        browser.type("#account", "carol")
        browser.click("#pair")
        onboarding.wait_until(lambda: browser.url().endswith("/kit/" + kit), timeout=15,
                              what="the kit's page")
        browser.wait_text("#kit-state", "PAIRED", 30)
        self.assertEqual(browser.text("#kit-account"), "carol")
        shown = browser.attributes("#kit-devices li", "data-dev")
        self.assertEqual(shown, devs)
        for dev in devs:
            self.assertEqual(self.claims(dev), [("carol", "op-1", "@web", 1)])
        runs = [self.onb.device(d) for d in dirs]
        for r in runs:
            r.process.start()
        for dev in devs:
            browser.wait_text('#kit-devices li[data-dev="%s"] strong' % dev, "OPERATIONAL",
                              120)
        for r in runs:
            self.assertEqual(r.process.exit_status(timeout=60), 0, r.process.text())
        # each links to its own page
        self.assertEqual(browser.property('#kit-devices li[data-dev="%s"] a' % devs[0],
                                          "href"), self.base + "/device/" + devs[0])

    def test_a_kit_refused_by_the_manufacturer_shows_on_its_page(self):
        dirs = self.acme.mint(2)
        kit, label = self.acme.kit(dirs)
        forged = ":".join(label.split(":")[:3] + ["A" * 20])
        forged = with_check(forged)
        status, headers, _ = self.post({"label": forged, "account": "dave", "operator": "op-1"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/kit/" + kit)
        onboarding.wait_until(lambda: json.loads(self.get("/api/kit/" + kit)[2])["state"] ==
                              "REFUSED", what="the kit refused")
        answer = json.loads(self.get("/api/kit/" + kit)[2])
        self.assertIn("not allowed", answer["reason"])
        self.assertEqual(answer["devices"], [])
        for d in dirs:
            self.assertEqual(self.claims(os.path.basename(d)), [])
        status, headers, body = self.get("/kit/" + kit)
        self.assertEqual(status, 200)
        self.assert_safe_headers(headers)
        self.assertIn('data-kit="%s"' % kit, body.decode())
        self.assertEqual(self.get("/api/kit/" + "b" * 20)[0], 404)
        self.assertEqual(self.get("/kit/" + "b" * 19)[0], 404)

    # -- the label's NFC tag (Web NFC) --

    def test_without_web_nfc_the_tag_button_is_hidden(self):
        browser = Browser(self.onb.dir)
        self.addCleanup(browser.close)
        browser.go(self.base + "/")
        self.assertFalse(browser.execute("return 'NDEFReader' in window;"))
        self.assertTrue(browser.property("#nfc", "hidden"))
        self.assertFalse(browser.displayed("#nfc"))
        self.assertFalse(browser.displayed("#nfc-status"))
        # the form still pairs by typing
        self.assertTrue(browser.displayed("#label"))

    def nfc_browser(self):
        """A browser whose pages get a stub NDEFReader (Web NFC is on
        Android's Chrome only): window.onrTap(records) hands the page's
        reader a reading event with those records, window.onrTapError() a
        reading error (a tag whose NDEF the browser could not parse)."""
        browser = Browser(self.onb.dir)
        self.addCleanup(browser.close)
        browser.before_every_page(NDEF_READER_STUB)
        return browser

    def test_a_tag_read_with_web_nfc_pairs_like_a_pasted_label(self):
        d, dev, label = self.mint()
        text = label_from_ndef(os.path.join(d, "label.ndef"))
        self.assertEqual(text, label)
        browser = self.nfc_browser()
        browser.go(self.base + "/")
        self.assertTrue(browser.displayed("#nfc"))
        browser.type("#account", "nina")
        browser.click("#nfc")
        browser.wait_text("#nfc-status", "Hold the label's tag to your phone.", 15)
        self.assertEqual(browser.execute("return window.onrScans;"), 1)
        # a typo on the tag: refused by the same check as a paste
        typo = label[:-1] + ("A" if label[-1] != "A" else "B")
        browser.execute("window.onrTap(arguments[0]);", [text_record(typo)])
        browser.wait_text("#error", "Not paired: label check characters do not match "
                                    "(a typo?).", 15)
        self.assertEqual(self.claims(dev), [])
        # the tag as the factory wrote it
        browser.click("#nfc")
        browser.wait_text("#nfc-status", "Hold the label's tag to your phone.", 15)
        browser.execute("window.onrTap(arguments[0]);", [text_record(text)])
        onboarding.wait_until(lambda: browser.url().endswith("/device/" + dev), timeout=15,
                              what="the device's page")
        browser.wait_text("#state", "CLAIMED", 30)
        self.assertEqual(self.claims(dev), [("nina", "op-1", "@web", 1)])

    def test_a_tag_without_one_label_text_posts_nothing(self):
        d, dev, label = self.mint()
        browser = self.nfc_browser()
        browser.go(self.base + "/")
        browser.type("#account", "oscar")
        browser.click("#nfc")
        browser.wait_text("#nfc-status", "Hold the label's tag to your phone.", 15)
        url = {"recordType": "url", "encoding": None, "lang": None,
               "bytes": list(b"https://evil.example/")}
        cases = [
            ("window.onrTap(arguments[0]);", [[url]],
             "The tag holds no text: it is no Onramp label."),
            ("window.onrTap(arguments[0]);", [[text_record(label), text_record(label)]],
             "The tag holds more than one text: it is no Onramp label."),
            ("window.onrTap(arguments[0]);", [[dict(text_record(label),
                                                     bytes=[0xc3, 0x28])]],
             "The tag's text cannot be read: it is no Onramp label."),
            ("window.onrTapError();", [],
             "The tag could not be read (no NDEF message, or a damaged one): try again, "
             "or type the label."),
        ]
        for script, args, words in cases:
            with self.subTest(words=words):
                browser.execute(script, *args)
                browser.wait_text("#nfc-status", words, 15)
                self.assertEqual(browser.property("#label", "value"), "")
                self.assertTrue(browser.url().endswith("/"), browser.url())
        self.assertEqual(self.claims(dev), [])
        # a scan the browser refuses (permission denied) says so
        browser.execute("window.onrDeny = true;")
        browser.click("#nfc")
        browser.wait_text("#nfc-status", "NFC cannot be used here (NotAllowedError).", 15)

    # -- pairing through the form --

    def test_three_fields_make_the_label(self):
        d, dev, label = self.mint()
        _, mfr, _, claim, _ = label.split(":")
        status, headers, _ = self.post({"mfr": mfr, "dev": dev.upper(), "claim": claim.lower(),
                                        "account": "bob", "operator": "op-2"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/device/" + dev)
        j = self.wait_state(dev, "CLAIMED")
        self.assertEqual([s["step"] for s in j["steps"]], ["registering", "claimed"])
        self.assertTrue(all(isinstance(s["at"], int) for s in j["steps"]))
        self.assertEqual((j["dev"], j["account"], j["operator"], j["manufacturer"]),
                         (dev, "bob", "op-2", "acme"))
        self.assertEqual(self.claims(dev), [("bob", "op-2", "@web", 1)])
        self.assertEqual(self.acme.rows("SELECT provider, operator FROM assignments"
                                        " WHERE dev = ?", dev), [("prov-a", "op-2")])
        # again with the same account: the same device page; another account: no
        self.assertEqual(self.post({"label": label, "account": "bob", "operator": "op-2"})[0],
                         303)
        self.assert_refused(self.post({"label": label, "account": "eve", "operator": "op-1"}),
                            400, "claimed by another account")
        self.assertEqual(self.claims(dev), [("bob", "op-2", "@web", 1)])

    def test_a_refusal_by_the_manufacturer_shows_on_the_device_page(self):
        d, dev, label = self.mint()
        forged = with_check(":".join(label.split(":")[:3] + ["A" * 20]))
        status, headers, _ = self.post({"label": forged, "account": "mallory",
                                        "operator": "op-1"})
        self.assertEqual(status, 303)
        j = self.wait_state(dev, "REFUSED")
        self.assertIn("the manufacturer refused the claim", j["reason"])
        self.assertEqual(j["steps"], [])
        self.assertEqual(self.claims(dev), [])
        self.assertEqual(self.acme.rows("SELECT 1 FROM assignments WHERE dev = ?", dev), [])
        self.assertNotIn("onr/1/s/ctl/@web", self.prov.process.text())
        # the right label afterwards still pairs it
        self.assertEqual(self.post({"label": label, "account": "carol",
                                    "operator": "op-1"})[0], 303)
        self.wait_state(dev, "CLAIMED")

    def test_a_control_tool_still_pairs(self):
        d, dev, label = self.mint()
        rc, out = self.ctl.pair(self.prov, label, "dave")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.claims(dev), [("dave", "op-1", "admin", 1)])
        self.assertEqual(self.wait_state(dev, "CLAIMED")["account"], "dave")

    # -- refused --

    def test_a_bad_checksum_is_refused_and_claims_nothing(self):
        d, dev, label = self.mint()
        typo = label[:-1] + ("A" if label[-1] != "A" else "B")
        self.assert_refused(self.post({"label": typo, "account": "alice", "operator": "op-1"}),
                            400, "label check characters do not match (a typo?)")
        self.assertEqual(self.claims(dev), [])
        self.assertEqual(self.journey(dev), (404, {"dev": dev, "steps": [],
                                                   "state": "UNCLAIMED"}))

    def test_an_unknown_operator_is_refused(self):
        d, dev, label = self.mint()
        self.assert_refused(self.post({"label": label, "account": "alice", "operator": "op-9"}),
                            400, "Operator: choose one of the operators listed.")
        self.assert_refused(self.post({"label": label, "account": "alice"}),
                            400, "Operator: choose one of the operators listed.")
        self.assertEqual(self.claims(dev), [])

    def test_bad_fields_are_refused_with_their_reason(self):
        d, dev, label = self.mint()
        _, mfr, _, claim, _ = label.split(":")
        ok = {"account": "alice", "operator": "op-1"}
        cases = [
            ({"label": "hello"}, "not an Onramp device label"),
            ({"label": label, "mfr": mfr}, "either the label or the three fields"),
            ({"mfr": mfr, "dev": dev}, "or its manufacturer, device id and claim code"),
            ({"mfr": "Acme!", "dev": dev, "claim": claim}, "Manufacturer: 1 to 32"),
            ({"mfr": mfr, "dev": dev[:-1] + "1", "claim": claim}, "Device id: 32 characters"),
            ({"mfr": mfr, "dev": dev, "claim": claim[:-1]}, "Claim code: 20 characters"),
            ({"mfr": mfr, "dev": dev, "claim": claim[:-1] + "8"}, "Claim code: 20 characters"),
            ({"mfr": "globex", "dev": dev, "claim": claim},
             "we do not work with this device's manufacturer"),
            ({"label": label, "account": ""}, "Account: 1 to 64 bytes"),
            ({"label": label, "account": "a" * 65}, "Account: 1 to 64 bytes"),
            ({"label": label, "account": "\u00e9" * 33}, "Account: 1 to 64 bytes"),
        ]
        for fields, words in cases:
            with self.subTest(fields=fields):
                self.assert_refused(self.post(dict(ok, **fields)), 400, words)
        self.assertEqual(self.claims(dev), [])
        # 64 bytes of UTF-8 are an account
        self.assertEqual(self.post({"label": label, "account": "\u00e9" * 32,
                                    "operator": "op-1"})[0], 303)
        self.assertEqual(self.claims(dev)[0][0], "\u00e9" * 32)

    def test_the_form_is_decoded_strictly(self):
        d, dev, label = self.mint()
        good = "label=%s&account=alice&operator=op-1" % urllib.parse.quote(label)
        cases = [
            (good + "&x=1", "a field this page does not know"),
            (good + "&account=bob", "a field twice"),
            (good.replace("alice", "al%zzce"), "encoding is broken"),
            (good.replace("alice", "alice%4"), "encoding is broken"),
            (good.replace("alice", "al=ice"), "encoding is broken"),
            (good.replace("alice", "al%0Aice"), "control character"),
            (good.replace("alice", "al%00ice"), "control character"),
            (good.replace("alice", "a" * 300), "too long"),
        ]
        for body, words in cases:
            with self.subTest(body=body):
                self.assert_refused(self.post(body=body.encode()), 400, words)
        self.assertEqual(self.claims(dev), [])
        status, _, _ = self.post(body=good.encode(), headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        # '+' is a space, and spaces around a value do not count
        self.assertEqual(self.post(body=(good.replace("alice", "+alice+smith+")).encode())[0],
                         303)
        self.assertEqual(self.claims(dev)[0][0], "alice smith")

    def test_an_oversized_post_is_413(self):
        status, _, _ = self.post(body=b"label=" + b"A" * 5000)
        self.assertEqual(status, 413)

    def test_bad_device_ids_are_404(self):
        for path in ("/device/xyz", "/device/" + "A" * 32, "/device/" + "a" * 31 + "1",
                     "/device/" + "a" * 33, "/device/../app.js", "/device/%61" + "a" * 31,
                     "/api/device/" + "a" * 31, "/api/device/" + "0" * 32, "/nothing"):
            with self.subTest(path=path):
                status, headers, _ = self.get(path)
                self.assertEqual(status, 404)
                self.assert_safe_headers(headers)
        # a well-formed id nobody claimed: the page, and the API says so
        self.assertEqual(self.get("/device/" + "a" * 32)[0], 200)
        self.assertEqual(self.journey("a" * 32)[0], 404)

    def test_pages_carry_strict_headers_and_no_inline_script(self):
        status, headers, body = self.get("/")
        self.assertEqual(status, 200)
        self.assert_safe_headers(headers)
        page = body.decode()
        self.assertIn('<option value="op-1" selected>op-1</option>', page)
        self.assertIn('<option value="op-2">op-2</option>', page)
        self.assertEqual(page.count("<script"), 1)
        self.assertIn('<script src="/app.js"></script>', page)
        self.assertNotIn("style=", page)
        status, headers, body = self.get("/app.js")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        self.assert_safe_headers(headers)
        self.assertNotIn("innerHTML", body.decode())
        self.assertEqual(self.get("/app.css")[0], 200)
        self.assertEqual(http("PUT", self.base + "/", body=b"")[0] in (405, 501), True)
        self.assertEqual(self.get("/pair")[0], 405)

    def test_what_the_user_typed_comes_back_escaped(self):
        attack = '"><script>alert(1)</script>'
        code, _, body = self.post({"label": attack, "account": attack, "operator": "op-1"})
        self.assertEqual(code, 400)
        page = body.decode()
        self.assertNotIn("<script>alert", page)
        self.assertIn("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;", page)

    def test_requests_for_another_host_or_from_another_origin_are_refused(self):
        # DNS rebinding: a name of another site resolving to 127.0.0.1
        self.assertEqual(self.get("/", headers={"Host": "evil.example:%d" % self.port})[0], 403)
        self.assertEqual(self.get("/", headers={"Host": "localhost:%d" % self.port})[0], 200)
        d, dev, label = self.mint()
        fields = {"label": label, "account": "alice", "operator": "op-1"}
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Sec-Fetch-Site": "cross-site"}):
            with self.subTest(headers=headers):
                self.assertEqual(self.post(fields, headers=headers)[0], 403)
        self.assertEqual(self.claims(dev), [])
        same = {"Origin": self.base, "Sec-Fetch-Site": "same-origin"}
        self.assertEqual(self.post(fields, headers=same)[0], 303)

    def test_behind_a_tls_proxy_its_public_origin_pairs_and_others_do_not(self):
        # a proxy presenting the page's own address as Host: the browser's
        # Origin is the public one http_origin names
        https = {"Sec-Fetch-Site": "same-origin"}
        for origin in ("https://evil.example", PUBLIC_ORIGIN + ".evil.example",
                       PUBLIC_ORIGIN + ":8443", PUBLIC_ORIGIN + "/", "http://pair.example.net",
                       "https://127.0.0.1:%d.evil.example" % self.port):
            with self.subTest(origin=origin):
                d, dev, label = self.mint()
                fields = {"label": label, "account": "alice", "operator": "op-1"}
                self.assertEqual(self.post(fields, headers=dict(https, Origin=origin))[0], 403)
                self.assertEqual(self.claims(dev), [])
        # a proxy keeping Host: https:// and that Host is the page's own
        for origin in (PUBLIC_ORIGIN, "HTTPS://Pair.Example.NET",
                       "https://127.0.0.1:%d" % self.port):
            with self.subTest(origin=origin):
                d, dev, label = self.mint()
                fields = {"label": label, "account": "alice", "operator": "op-1"}
                self.assertEqual(self.post(fields, headers=dict(https, Origin=origin))[0], 303)
                self.assertEqual(len(self.claims(dev)), 1)
        for bad in ("pair.example.net", "https://", "https://pair.example.net/pair",
                    "ftp://pair.example.net"):
            with self.subTest(http_origin=bad):
                status, out = self.provider_with(http_listen="127.0.0.1:%d" % fabric.free_port(),
                                                 http_origin=bad)
                self.assertEqual(status, 1, out)
                self.assertIn("http_origin %s: want the page's public origin" % bad, out)
        help_text = subprocess.run([onboarding.program("onramp-provider"), "--help"],
                                   capture_output=True, text=True).stdout
        self.assertIn("http_origin ORIGIN", help_text)

    def provider_with(self, **overrides):
        """onramp-provider on prov-a's configuration with -o overrides and a
        database of its own; it must stop by itself: (status, output)."""
        argv = [onboarding.program("onramp-provider"), "--config", self.prov.conf,
                "-o", "database=" + os.path.join(tempfile.mkdtemp(dir=self.onb.dir), "p.db")]
        for key, value in overrides.items():
            argv += ["-o", "%s=%s" % (key, value)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return proc.returncode, proc.stdout + proc.stderr

    def test_the_page_listens_on_loopback_unless_told_otherwise(self):
        for listen in ("0.0.0.0:%d" % fabric.free_port(), "192.0.2.1:8080", "[::]:8080"):
            with self.subTest(listen=listen):
                status, out = self.provider_with(http_listen=listen)
                self.assertEqual(status, 1, out)
                self.assertIn("not a loopback address", out)
                self.assertIn("'http_public yes'", out)
        status, out = self.provider_with(http_listen="example.com:80")
        self.assertEqual(status, 1, out)
        self.assertIn("want HOST:PORT", out)
        status, out = self.provider_with(http_listen="127.0.0.1:0")
        self.assertEqual(status, 1, out)
        status, out = self.provider_with(http_listen="8080", http_public="maybe")
        self.assertEqual(status, 1, out)
        self.assertIn("http_public: yes or no", out)
        status, out = self.provider_with(http_listen="127.0.0.1:%d" % self.port)  # taken
        self.assertEqual(status, 1, out)
        self.assertIn("cannot listen there", out)
        help_text = subprocess.run([onboarding.program("onramp-provider"), "--help"],
                                   capture_output=True, text=True).stdout
        self.assertIn("http_listen HOST:PORT", help_text)
        self.assertIn("http_public yes|no", help_text)

    def test_telemetry_of_a_device_not_ours_is_ignored(self):
        stranger = "b" * 32
        c = self.onb.broker.operational("prov-a", stranger)
        self.addCleanup(c.disconnect)
        self.assertEqual(c.connack, 0)
        c.publish("onr/1/p/prov-a/dev/%s/telemetry" % stranger, b'{"dev":"%s"}' % stranger.encode())
        time.sleep(1)
        self.assertEqual(self.prov.rows("SELECT count(*) FROM operational WHERE dev = ?",
                                        stranger), [(0,)])
        self.assertEqual(self.journey(stranger)[1]["state"], "UNCLAIMED")


if __name__ == "__main__":
    unittest.main()
