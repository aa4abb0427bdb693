"""A minimal MQTT v5 client over TLS, for tests that need exact reason codes.

paho-mqtt 1.6 (Debian 12) does not report PUBACK reason codes, and hostile
tests need packets a well-behaved client library will not send. This client
speaks just enough MQTT v5 (MQTT 5.0 OASIS standard, section 3) and returns
every reason code the broker sends.
"""

import socket
import ssl
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, DISCONNECT = 8, 9, 14

PROP_SESSION_EXPIRY = 0x11
PROP_AUTH_METHOD = 0x15
PROP_AUTH_DATA = 0x16
PROP_REASON_STRING = 0x1F

NOT_AUTHORIZED = 0x87


def accepted(code):
    """A reason code of success: MQTT v5 codes below 0x80 (0x10, for one,
    is "no matching subscribers")."""
    return code is not None and code < 0x80


class ProtocolError(Exception):
    pass


def _varint(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def _string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def _properties(props):
    body = b""
    for ident, value in props:
        if ident == PROP_AUTH_METHOD:
            body += bytes([ident]) + _string(value)
        elif ident == PROP_AUTH_DATA:
            body += bytes([ident]) + struct.pack(">H", len(value)) + value
        elif ident == PROP_SESSION_EXPIRY:
            body += bytes([ident]) + struct.pack(">I", value)
        else:
            raise ValueError("property %#x not supported" % ident)
    return _varint(len(body)) + body


def _read_varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


class Client:
    """One connection. Every method waits at most `timeout` seconds."""

    def __init__(self, port, client_id, cafile, certfile=None, keyfile=None,
                 host="127.0.0.1", timeout=5.0):
        self.port = port
        self.host = host
        self.client_id = client_id
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=cafile)
        if certfile:
            self.context.load_cert_chain(certfile, keyfile)
        self.sock = None
        self.buf = b""
        self.next_id = 1
        self.messages = []  # (topic, payload, retain) delivered to us
        self.closed_by_broker = False

    # -- transport ---------------------------------------------------------

    def open(self):
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        # as Onramp's own clients: without it, Nagle holds the CONNECT after
        # the TLS handshake ~40 ms for the broker's delayed ACK
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.context.wrap_socket(raw, server_hostname="localhost")

    def _send(self, packet_type, flags, body):
        self.sock.sendall(bytes([packet_type << 4 | flags]) + _varint(len(body)) + body)

    def _read_packet(self, deadline):
        """One packet as (type, flags, body), or None at the deadline."""
        while True:
            if len(self.buf) >= 2:
                try:
                    length, pos = _read_varint(self.buf, 1)
                except IndexError:
                    length, pos = None, None
                if length is not None and len(self.buf) >= pos + length:
                    first = self.buf[0]
                    body = self.buf[pos:pos + length]
                    self.buf = self.buf[pos + length:]
                    return first >> 4, first & 0x0F, body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return None
            except (ConnectionError, ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                self.closed_by_broker = True
                return None
            self.buf += chunk

    def _wait_for(self, wanted_type, timeout=None):
        """Read until a packet of `wanted_type` arrives; deliveries on the
        way are collected in self.messages. None if none came in time."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            packet = self._read_packet(deadline)
            if packet is None:
                return None
            ptype, flags, body = packet
            if ptype == PUBLISH:
                self._on_publish(flags, body)
                continue
            if ptype == DISCONNECT:
                self.closed_by_broker = True
                return None
            if ptype == wanted_type:
                return body

    def _on_publish(self, flags, body):
        qos = (flags >> 1) & 3
        tlen = struct.unpack(">H", body[:2])[0]
        topic = body[2:2 + tlen].decode()
        pos = 2 + tlen
        packet_id = None
        if qos:
            packet_id = struct.unpack(">H", body[pos:pos + 2])[0]
            pos += 2
        plen, pos = _read_varint(body, pos)
        payload = body[pos + plen:]
        self.messages.append((topic, payload, bool(flags & 1)))
        if qos == 1:
            self._send(PUBACK, 0, struct.pack(">H", packet_id))

    # -- MQTT --------------------------------------------------------------

    def connect(self, auth_method=None, auth_data=None, username=None, password=None,
                will=None, clean=True, keepalive=30, session_expiry=0):
        """CONNECT; returns the CONNACK reason code (None if the broker just
        closed the connection). `will` is (topic, payload, retain)."""
        if self.sock is None:
            self.open()
        flags = 0x02 if clean else 0
        props = []
        if session_expiry:
            props.append((PROP_SESSION_EXPIRY, session_expiry))
        if auth_method is not None:
            props.append((PROP_AUTH_METHOD, auth_method))
        if auth_data is not None:
            props.append((PROP_AUTH_DATA, auth_data))
        payload = _string(self.client_id)
        if will is not None:
            topic, message, retain = will
            flags |= 0x04 | 0x08  # will, QoS 1
            if retain:
                flags |= 0x20
            payload += _varint(0) + _string(topic) + _string(message)
        if username is not None:
            flags |= 0x80
            payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
        body = (_string("MQTT") + bytes([5, flags]) + struct.pack(">H", keepalive)
                + _properties(props) + payload)
        self._send(CONNECT, 0, body)
        ack = self._wait_for(CONNACK)
        if ack is None:
            return None
        return ack[1]

    def publish(self, topic, payload, qos=1, retain=False):
        """PUBLISH; for QoS 1 the PUBACK reason code (0 if the broker sent
        the short form, None if no PUBACK came)."""
        packet_id = self.next_id
        self.next_id = self.next_id % 65535 + 1
        body = _string(topic)
        if qos:
            body += struct.pack(">H", packet_id)
        body += _varint(0) + (payload if isinstance(payload, bytes) else payload.encode())
        self._send(PUBLISH, (qos << 1) | (1 if retain else 0), body)
        if not qos:
            return None
        while True:
            ack = self._wait_for(PUBACK)
            if ack is None:
                return None
            if struct.unpack(">H", ack[:2])[0] == packet_id:
                return ack[2] if len(ack) > 2 else 0

    def subscribe(self, topic_filter, qos=1):
        """SUBSCRIBE to one filter; the SUBACK reason code."""
        packet_id = self.next_id
        self.next_id = self.next_id % 65535 + 1
        body = struct.pack(">H", packet_id) + _varint(0) + _string(topic_filter) + bytes([qos])
        self._send(SUBSCRIBE, 0x02, body)
        ack = self._wait_for(SUBACK)
        if ack is None:
            return None
        plen, pos = _read_varint(ack, 2)
        return ack[pos + plen]

    def collect(self, seconds):
        """Read deliveries for `seconds`; returns all messages so far."""
        self._wait_for(-1, timeout=seconds)
        return self.messages

    def wait_message(self, topic, seconds=None):
        """The first delivery on `topic` not yet taken (it is removed from
        self.messages), as soon as it arrives; None after `seconds`."""
        deadline = time.monotonic() + (seconds if seconds is not None else self.timeout)
        while True:
            for i, message in enumerate(self.messages):
                if message[0] == topic:
                    return self.messages.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed_by_broker:
                return None
            self._wait_for(-1, timeout=min(remaining, 0.05))

    def alive(self, seconds=0.2):
        """True if the broker has not closed the connection."""
        self._wait_for(-1, timeout=seconds)
        return not self.closed_by_broker

    def disconnect(self):
        """DISCONNECT and close; again on a closed client does nothing."""
        if self.sock is None:
            return
        try:
            self._send(DISCONNECT, 0, b"\x00")
        except OSError:
            pass
        self.drop()

    def drop(self):
        """Close the socket without DISCONNECT (the broker sends the will)."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
