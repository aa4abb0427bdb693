"""npm's `ndef` (https://github.com/don/ndef-js), an NDEF library that is
not Onramp's, run by the machine's Node.js: the independent reader of the
factory's label.ndef. It is installed on first use with npm into
ONR_NODE_DIR (the build tree's node/; scripts/deps.sh --tests installs
Node.js and npm where they are missing). It is test material only: no
Onramp program runs Node.js.

Environment (tests/integration/CMakeLists.txt): ONR_NODE_DIR.
"""

import json
import os
import subprocess

NODE_DIR = os.environ.get("ONR_NODE_DIR", "")
PACKAGE = "ndef@0.2.0"

# Prints what ndef.decodeMessage makes of the file named by argv: every
# record's TNF, type and payload, and a Text record's language and text as
# ndef.text.decodePayload reads them; or the error it throws.
DECODE = r"""
const fs = require('fs');
const ndef = require('ndef');
let out;
try {
  const records = ndef.decodeMessage(Array.from(fs.readFileSync(process.argv[1])));
  out = { records: records.map(function (r) {
    const type = Buffer.from(r.type).toString('latin1');
    const rec = { tnf: r.tnf, type: type, payload: Buffer.from(r.payload).toString('hex') };
    if (r.tnf === ndef.TNF_WELL_KNOWN && type === 'T') {
      rec.lang = Buffer.from(r.payload.slice(1, 1 + (r.payload[0] & 0x3f))).toString('latin1');
      rec.text = ndef.text.decodePayload(r.payload);
    }
    return rec;
  }) };
} catch (e) {
  out = { error: String(e && e.message || e) };
}
process.stdout.write(JSON.stringify(out));
"""


def install():
    """npm install the package into NODE_DIR unless it is there; the
    directory whose node_modules holds it."""
    if not NODE_DIR:
        raise AssertionError("ONR_NODE_DIR is not set")
    if not os.path.exists(os.path.join(NODE_DIR, "node_modules", "ndef", "package.json")):
        os.makedirs(NODE_DIR, exist_ok=True)
        proc = subprocess.run(["npm", "install", "--prefix", NODE_DIR, "--no-audit",
                               "--no-fund", "--no-save", "--no-package-lock", PACKAGE],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError("npm install %s failed:\n%s" % (PACKAGE, proc.stderr))
    return NODE_DIR


def decode(path):
    """What npm's ndef reads in the NDEF message at `path`: {"records":
    [...]} or {"error": message}."""
    env = dict(os.environ, NODE_PATH=os.path.join(install(), "node_modules"))
    proc = subprocess.run(["node", "-e", DECODE, path], capture_output=True, text=True,
                          timeout=60, env=env)
    if proc.returncode != 0:
        raise AssertionError("node failed:\n" + proc.stderr)
    return json.loads(proc.stdout)
