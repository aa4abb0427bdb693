"""Tools for attacking a running fabric (test_hostile.py): raw sockets that
never finish TLS or CONNECT, thousands of half-open connections, envelopes
signed with a party's key by the openssl CLI (forged, stale, moved to
another topic), a paho-mqtt device, and a monitor that keeps the latest
counters of the broker plugin (type 23) and of every service (type 32).

Everything talks to 127.0.0.1 only; nothing here starts a process that
outlives the call that started it.
"""

import base64
import errno
import hashlib
import hmac
import os
import resource
import select
import socket
import ssl
import subprocess
import threading
import time

import fabric
import mqtt5

BROKER_STATS, SERVICE_STATS = 23, 32
ROLE_DEVICE, ROLE_MANUFACTURER, ROLE_OPERATOR, ROLE_PROVIDER, ROLE_CONTROL = 1, 2, 3, 4, 5
ROLE_NAMES = {2: "mfr", 3: "op", 4: "prov", 6: "broker"}


# -- file descriptors ----------------------------------------------------------


def raise_nofile(wanted):
    """Raise this process's RLIMIT_NOFILE soft limit towards `wanted` (up
    to the hard limit); the soft limit now. Programs started afterwards
    (the broker) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- envelopes -----------------------------------------------------------------


def _der_signature_to_raw(der):
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as r || s."""
    def integer(pos):
        if der[pos] != 0x02:
            raise ValueError("not a DER INTEGER")
        n = der[pos + 1]
        return int.from_bytes(der[pos + 2:pos + 2 + n], "big"), pos + 2 + n
    if der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    pos = 3 if der[1] & 0x80 else 2
    r, pos = integer(pos)
    s, _ = integer(pos)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def envelope_head(msg_type, role, sender, body, msg_id, timestamp):
    """Elements 0..6 of an envelope (SPEC section 4), the array header first."""
    return b"\x98" + b"".join(fabric.pack(x) for x in
                              [1, msg_type, msg_id, timestamp, role, sender, body])


def signature_input(topic, head):
    t = topic.encode()
    return b"onramp/1 envelope\x00" + len(t).to_bytes(2, "big") + t + head


def signed_envelope(key_pem, topic, msg_type, role, sender, body, msg_id=None,
                    timestamp=None):
    """An envelope signed (ECDSA P-256/SHA-256, openssl CLI) with the PEM key
    `key_pem` for `topic`; (message id, bytes). Sign for one topic and
    publish on another to move it; pass an old timestamp for a stale one."""
    msg_id = msg_id or os.urandom(16)
    head = envelope_head(msg_type, role, sender, body, msg_id,
                         int(time.time()) if timestamp is None else timestamp)
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_pem],
                         input=signature_input(topic, head), capture_output=True,
                         check=True).stdout
    return msg_id, head + fabric.pack(_der_signature_to_raw(der))


def forged_envelope(topic, msg_type, role, sender, body, msg_id=None, timestamp=None):
    """An envelope in `sender`'s name with a signature nobody made: r and s
    random (in range), so only the verification can refuse it."""
    msg_id = msg_id or os.urandom(16)
    head = envelope_head(msg_type, role, sender, body, msg_id,
                         int(time.time()) if timestamp is None else timestamp)
    sig = b"\x01" + os.urandom(31) + b"\x01" + os.urandom(31)
    return msg_id, head + fabric.pack(sig)


def mac_envelope(msg_type, sender, body, topic, key, msg_id=None, timestamp=None):
    """A device envelope authenticated with HMAC-SHA256 under `key` for
    `topic` (SPEC section 4)."""
    msg_id = msg_id or os.urandom(16)
    head = envelope_head(msg_type, ROLE_DEVICE, sender, body, msg_id,
                         int(time.time()) if timestamp is None else timestamp)
    tag = hmac.new(key, signature_input(topic, head), hashlib.sha256).digest()
    return msg_id, head + fabric.pack(tag)


def label_with_claim(label, claim):
    """A label with another claim secret (or device id, via `label`) and a
    correct check (SPEC section 12): what a guesser types."""
    text = ":".join(label.split(":")[:3] + [claim])
    digest = hashlib.sha256(b"onramp/1 label\x00" + text.upper().encode()).digest()
    return text + ":" + base64.b32encode(digest).decode()[:4]


def serial_claims(start, count):
    """`count` claim secrets in base32 order from the number `start`: the
    way a serial guesser walks the space (20 characters, SPEC section 12)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    out = []
    for n in range(start, start + count):
        digits = []
        for _ in range(20):
            digits.append(alphabet[n % 32])
            n //= 32
        out.append("".join(reversed(digits)))
    return out


def device_id(pub):
    """The device id of a 65-byte public key (SPEC section 1), whether or
    not the key is a point of P-256."""
    digest = hashlib.sha256(b"onramp/1 device-id\x00" + pub).digest()
    return base64.b32encode(digest[:20]).decode().lower()


def random_devid():
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[b % 32] for b in os.urandom(32))


# -- MQTT packets by hand ------------------------------------------------------


def connect_packet(client_id, auth_method=None, auth_data=None, keepalive=30):
    """The bytes of an MQTT v5 CONNECT (what mqtt5.Client.connect sends)."""
    sent = []
    c = mqtt5.Client(0, client_id, None)
    c.sock = object()
    c._send = lambda t, fl, body: sent.append(bytes([t << 4 | fl]) + mqtt5._varint(len(body)) +
                                              body)
    c._wait_for = lambda *args, **kwargs: None
    c.connect(auth_method=auth_method, auth_data=auth_data, keepalive=keepalive)
    return sent[0]


def client_hello(cafile):
    """The bytes of a TLS ClientHello as Python's ssl module sends it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context(cafile=cafile).wrap_bio(incoming, outgoing,
                                                             server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# -- slow connections -----------------------------------------------------------


class SlowConnections:
    """Connections that never finish: to the bootstrap listener, some send
    nothing after the TCP handshake, some part of a ClientHello, some
    dribble a ClientHello (or, over a finished TLS handshake, a CONNECT)
    one byte every `interval` seconds, some finish TLS and send nothing.
    A thread dribbles and notes when the broker closes each one."""

    def __init__(self, port, cafile, connect_bytes, interval=2.0):
        self.port = port
        self.cafile = cafile
        self.interval = interval
        self.connect_bytes = connect_bytes
        self.conns = []   # dicts: kind, sock, data (to dribble), sent, closed_at
        self.opened_at = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = None

    def _tcp(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def _tls(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        return ctx.wrap_socket(self._tcp(), server_hostname="localhost")

    def open(self):
        hello = client_hello(self.cafile)
        plan = [("silent tcp", self._tcp, b"", b""),
                ("silent tcp", self._tcp, b"", b""),
                ("partial ClientHello", self._tcp, hello[:len(hello) // 3], b""),
                ("partial ClientHello", self._tcp, hello[:5], b""),
                ("ClientHello dribbled", self._tcp, b"", hello),
                ("TLS done, no CONNECT", self._tls, b"", b""),
                ("TLS done, CONNECT dribbled", self._tls, b"", self.connect_bytes)]
        self.opened_at = time.monotonic()
        for kind, opener, first, dribble in plan:
            sock = opener()
            if first:
                sock.sendall(first)
            sock.setblocking(False)
            self.conns.append({"kind": kind, "sock": sock, "data": dribble, "sent": 0,
                               "closed_at": None, "how": None})
        self.thread = threading.Thread(target=self._run, name="slow-connections", daemon=True)
        self.thread.start()
        return self

    def _closed(self, conn, how):
        conn["closed_at"] = time.monotonic() - self.opened_at
        conn["how"] = how

    def _poll(self, conn):
        sock = conn["sock"]
        try:
            if conn["sent"] < len(conn["data"]):
                sock.send(conn["data"][conn["sent"]:conn["sent"] + 1])
                conn["sent"] += 1
            data = sock.recv(4096)
            if not data:
                self._closed(conn, "eof")
            # a TLS alert or record from the broker is not a close by itself
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass
        except (ssl.SSLError, ConnectionError, OSError) as e:
            self._closed(conn, type(e).__name__)

    def _run(self):
        while not self.stopping.wait(self.interval):
            with self.lock:
                for conn in self.conns:
                    if conn["closed_at"] is None:
                        self._poll(conn)

    def open_ones(self):
        with self.lock:
            return [c["kind"] for c in self.conns if c["closed_at"] is None]

    def wait_closed(self, until):
        """Wait until the broker closed every one, or until `until` seconds
        after they were opened; the ones still open (kinds)."""
        while time.monotonic() - self.opened_at < until:
            still = self.open_ones()
            if not still:
                return []
            time.sleep(0.5)
        return self.open_ones()

    def report(self):
        with self.lock:
            return [(c["kind"], c["sent"], None if c["closed_at"] is None
                     else round(c["closed_at"], 1), c["how"]) for c in self.conns]

    def close(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)
        for c in self.conns:
            try:
                c["sock"].close()
            except OSError:
                pass


def half_open(port, count, partial=b""):
    """`count` TCP connections to `port` that never start (or, with
    `partial`, never finish) the TLS handshake; the sockets. Connects are
    non-blocking and waited for together."""
    socks, pending = [], {}
    poller = select.epoll()
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                raise OSError(err, os.strerror(err))
            socks.append(s)
            pending[s.fileno()] = s
            poller.register(s.fileno(), select.EPOLLOUT)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for fd, _ in poller.poll(0.5):
                s = pending.pop(fd)
                poller.unregister(fd)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                if partial:
                    s.send(partial)
        if pending:
            raise AssertionError("%d of %d connections not established" % (len(pending), count))
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        poller.close()
    return socks


def still_open(socks):
    """How many of `socks` the peer has not closed."""
    n = 0
    for s in socks:
        try:
            data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if data:
                n += 1
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


# -- counters -------------------------------------------------------------------


class Stats:
    """A monitor (services CA certificate, OU monitor) on onr/1/s/+/+/ev in a
    thread of its own: the latest counters of the broker plugin and of each
    service, keyed "broker", "mfr/acme", "op/op-1", "prov/prov-a"."""

    def __init__(self, broker, name="hostile-stats"):
        self.broker = broker
        self.name = name
        self.latest = {}
        self.seq = {}
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.client = None
        self.thread = None
        self.error = None

    def start(self):
        self.client = self.broker.service("monitor", self.name)
        if self.client.connack != 0:
            raise AssertionError("monitor refused: %r" % self.client.connack)
        if self.client.subscribe("onr/1/s/+/+/ev") != 1:
            raise AssertionError("monitor subscription refused")
        self.thread = threading.Thread(target=self._run, name="stats", daemon=True)
        self.thread.start()
        return self

    def _run(self):
        try:
            while not self.stopping.is_set():
                if not self.client.alive(0):
                    self.client = self.broker.service("monitor", self.name)
                    self.client.subscribe("onr/1/s/+/+/ev")
                self.client.collect(0.1)
                messages, self.client.messages = self.client.messages, []
                for topic, payload, _ in messages:
                    try:
                        env = fabric.decode_envelope(payload)
                    except (ValueError, IndexError, KeyError, UnicodeDecodeError):
                        continue
                    if env["type"] == BROKER_STATS:
                        key = "broker"
                    elif env["type"] == SERVICE_STATS:
                        key = "%s/%s" % (ROLE_NAMES.get(env["role"], "?"), env["sender"])
                    else:
                        continue
                    with self.cond:
                        self.latest[key] = env["body"]
                        self.seq[key] = self.seq.get(key, 0) + 1
                        self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by read()
            self.error = e

    def read(self, key, fresh=False, timeout=15):
        """The latest counters of `key`; with `fresh`, from the second
        publication after this call (the first may have been on its way
        already), so they reflect every action completed before it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            want = self.seq.get(key, 0) + 2 if fresh else 1
            while self.seq.get(key, 0) < want:
                if self.error is not None:
                    raise AssertionError("stats monitor failed: %r" % self.error)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no counters from %s" % key)
                self.cond.wait(remaining)
            return dict(self.latest[key])

    def wait_for(self, key, timeout=15, **at_least):
        """Wait until every counter named in `at_least` of `key` reaches its
        value (e.g. denied_publish=12); those counters."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.read(key)
            short = {k: (stats[k], v) for k, v in at_least.items() if stats[k] < v}
            if not short:
                return stats
            if time.monotonic() > deadline:
                raise AssertionError("%s counters (now, wanted): %r" % (key, short))
            with self.cond:
                self.cond.wait(0.5)

    def close(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)
        if self.client is not None:
            self.client.disconnect()


class LogMark:
    """A place in a log file: what was written after it."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0

    def text(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def wait_lines(self, count, *needles, timeout=10):
        """The new lines holding every one of `needles`, once there are at
        least `count` of them (Mosquitto's log reaches the file late)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.lines(*needles)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def lines(self, *needles):
        """The new lines holding every one of `needles`."""
        return [line for line in self.text().splitlines() if all(n in line for n in needles)]


# -- paho-mqtt --------------------------------------------------------------------


def paho_device(port, cafile, client_id, proof, timeout=10, threaded=True):
    """A paho-mqtt MQTT v5 client connected with `proof` in CONNECT;
    (client, CONNACK reason, state) where state collects 'subacks' (lists
    of reason codes), 'disconnected' (an Event) and 'messages'. Its loop
    runs in paho's thread, or (threaded=False) in the caller's, through
    paho_loop()."""
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    state = {"subacks": {}, "disconnected": threading.Event(), "messages": [],
             "connected": threading.Event(), "rc": None}
    client = paho.Client(client_id=client_id, protocol=paho.MQTTv5)
    client.tls_set_context(ssl.create_default_context(cafile=cafile))

    def code(reason):
        return reason.value if hasattr(reason, "value") else int(reason)

    def on_connect(c, userdata, flags, reason, properties):
        state["rc"] = code(reason)
        state["connected"].set()

    def on_disconnect(c, userdata, reason, properties=None):
        if state["rc"] is None:
            state["rc"] = code(reason)
        state["connected"].set()
        state["disconnected"].set()

    def on_subscribe(c, userdata, mid, reasons, properties):
        state["subacks"][mid] = [code(r) for r in reasons]

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    client.on_message = lambda c, u, m: state["messages"].append((m.topic, m.payload))
    props = Properties(PacketTypes.CONNECT)
    props.AuthenticationMethod = "onramp-pop-v1"
    props.AuthenticationData = proof
    client.connect("127.0.0.1", port, keepalive=30, properties=props)
    if threaded:
        client.loop_start()
    else:
        deadline = time.monotonic() + timeout
        while not state["connected"].is_set() and time.monotonic() < deadline:
            paho_loop(client, state, 0.1)
    if not state["connected"].wait(timeout if threaded else 0):
        if threaded:
            client.loop_stop()
        raise AssertionError("paho: no CONNACK")
    return client, state["rc"], state


def paho_publish(client, state, topic, payload, qos=0):
    """paho's publish in the caller's thread (paho_device(threaded=False)):
    it writes at once, so a connection the broker closed shows here."""
    import paho.mqtt.client as paho
    try:
        rc = client.publish(topic, payload, qos=qos).rc
    except OSError:
        rc = paho.MQTT_ERR_CONN_LOST
    if rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_QUEUE_SIZE):
        state["disconnected"].set()
    return rc


def paho_loop(client, state, timeout=0.0):
    """One turn of a paho client's loop in this thread. paho 1.6 lets an
    ssl.SSLEOFError from a connection the broker closed escape its loop
    (in its own thread, that kills the thread before on_disconnect): here
    it marks the client disconnected."""
    import paho.mqtt.client as paho
    try:
        rc = client.loop(timeout)
    except OSError:
        rc = paho.MQTT_ERR_CONN_LOST
    if rc != paho.MQTT_ERR_SUCCESS:
        state["disconnected"].set()
    return rc


def paho_subscribe(client, state, topic_filter, timeout=5):
    """SUBSCRIBE one filter with paho; its reason code (None: no SUBACK)."""
    rc, mid = client.subscribe(topic_filter, qos=1)
    deadline = time.monotonic() + timeout
    while mid not in state["subacks"] and time.monotonic() < deadline:
        time.sleep(0.02)
    codes = state["subacks"].get(mid)
    return codes[0] if codes else None
