/*
 * The pairing page's fixed text, embedded in the binary: no external
 * resource, no inline script or style (the Content-Security-Policy allows
 * neither). What varies is written by page.c, escaped.
 */
#include "page.h"

const char page_top[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"stylesheet\" href=\"/app.css\">\n"
    "<title>";

const char page_middle[] =
    "</title>\n"
    "</head>\n"
    "<body>\n"
    "<main>\n";

const char page_bottom[] =
    "</main>\n"
    "<script src=\"/app.js\"></script>\n"
    "</body>\n"
    "</html>\n";

const char page_css[] =
    "body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }\n"
    "main { max-width: 40rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff;\n"
    "       border-radius: 8px; box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }\n"
    "h1 { font-size: 1.4rem; margin-top: 0; }\n"
    "fieldset { border: 1px solid #d5d9e0; border-radius: 6px; margin: 0 0 1rem; }\n"
    "label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }\n"
    "input, select { width: 100%; box-sizing: border-box; padding: .45rem; font: inherit; }\n"
    "input.code { font-family: ui-monospace, monospace; }\n"
    ".or { margin: .8rem 0 0; color: #5a6270; }\n"
    "button { margin-top: .5rem; padding: .55rem 1.4rem; font: inherit; font-weight: 600;\n"
    "         background: #2457c5; color: #fff; border: 0; border-radius: 6px; }\n"
    ".error { background: #fdecea; color: #8a1c12; padding: .6rem .8rem; border-radius: 6px; }\n"
    "code { font-family: ui-monospace, monospace; word-break: break-all; }\n"
    "#state { font-size: 1.2rem; }\n"
    "#state.OPERATIONAL { color: #137333; }\n"
    "#state.REFUSED { color: #8a1c12; }\n"
    "ol#steps li { margin: .3rem 0; }\n"
    "ol#steps time { color: #5a6270; margin-left: .5rem; }\n";

/* Fills the device page from /api/device/ID every second until the device
 * is operational (or refused). Data only ever goes through textContent. */
const char page_js[] =
    "'use strict';\n"
    "(function () {\n"
    "  var main = document.getElementById('journey');\n"
    "  if (!main) { return; }\n"
    "  var dev = main.getAttribute('data-dev');\n"
    "  var says = {\n"
    "    registering: 'Claim recorded; registering it with the manufacturer',\n"
    "    claimed: 'Claimed: the manufacturer confirmed',\n"
    "    attached: 'Attached to the network: its application key arrived',\n"
    "    enrolled: 'Enrolled: its service certificate was issued',\n"
    "    operational: 'Operational: its first telemetry arrived'\n"
    "  };\n"
    "  var hints = {\n"
    "    UNCLAIMED: 'No claim on this device here.',\n"
    "    REGISTERING: 'Waiting for the manufacturer. If this lasts, pair it again.',\n"
    "    CLAIMED: 'Waiting for the device to start and attach to the network.',\n"
    "    NETWORK_ATTACHED: 'Waiting for the device to ask for its certificate.',\n"
    "    ENROLLED: 'Waiting for the device to connect to the service broker.',\n"
    "    OPERATIONAL: 'The device is working.'\n"
    "  };\n"
    "  function text(id, value) { document.getElementById(id).textContent = value; }\n"
    "  function render(j) {\n"
    "    var state = document.getElementById('state');\n"
    "    state.textContent = String(j.state);\n"
    "    state.className = String(j.state);\n"
    "    var list = document.getElementById('steps');\n"
    "    while (list.firstChild) { list.removeChild(list.firstChild); }\n"
    "    (j.steps || []).forEach(function (s) {\n"
    "      var li = document.createElement('li');\n"
    "      li.setAttribute('data-step', String(s.step));\n"
    "      li.textContent = says[s.step] || String(s.step);\n"
    "      var t = document.createElement('time');\n"
    "      var when = new Date(Number(s.at) * 1000);\n"
    "      t.setAttribute('datetime', when.toISOString());\n"
    "      t.textContent = when.toLocaleString();\n"
    "      li.appendChild(t);\n"
    "      list.appendChild(li);\n"
    "    });\n"
    "    text('account', j.account ? String(j.account) : '');\n"
    "    text('operator', j.operator ? String(j.operator) : '');\n"
    "    text('hint', j.state === 'REFUSED' ? 'Refused: ' + String(j.reason || '')\n"
    "                                       : (hints[j.state] || ''));\n"
    "  }\n"
    "  function poll() {\n"
    "    fetch('/api/device/' + encodeURIComponent(dev),\n"
    "          { cache: 'no-store', credentials: 'same-origin' })\n"
    "      .then(function (r) { return r.json(); })\n"
    "      .then(function (j) {\n"
    "        render(j);\n"
    "        if (j.state !== 'OPERATIONAL' && j.state !== 'REFUSED') {\n"
    "          setTimeout(poll, 1000);\n"
    "        }\n"
    "      })\n"
    "      .catch(function () {\n"
    "        text('hint', 'The provider does not answer; trying again.');\n"
    "        setTimeout(poll, 1000);\n"
    "      });\n"
    "  }\n"
    "  poll();\n"
    "})();\n";
