#!/usr/bin/env python3
"""Writes Specs/vectors/transport-messages.json (message layer inside a decrypted frame)."""
import json, os

def msg(t, p):
    return bytes([t]) + len(p).to_bytes(4, 'big') + p

v = []
ts = (123456789).to_bytes(8, 'big')
v.append({"name": "single ping", "frame": msg(0x01, ts).hex(), "messages": [{"type": 1, "payload": ts.hex()}]})
f = msg(0x10, b"") + msg(0x11, b"\x01\x02\x03") + msg(0x40, b"job")
v.append({"name": "three batched messages, one empty", "frame": f.hex(),
          "messages": [{"type": 0x10, "payload": ""}, {"type": 0x11, "payload": "010203"}, {"type": 0x40, "payload": b"job".hex()}]})
big = bytes(range(256)) * 255 + bytes(range(251))
assert len(big) == 65531
v.append({"name": "largest message fills a 64 KiB frame", "frame": msg(0xF0, big).hex(), "messages": [{"type": 0xF0, "payload": big.hex()}]})
v.append({"name": "empty frame", "frame": "", "error": "emptyFrame"})
v.append({"name": "header cut short", "frame": "10000000", "error": "truncatedHeader"})
v.append({"name": "type zero", "frame": msg(0, b"x").hex(), "error": "zeroType"})
v.append({"name": "payload longer than the frame", "frame": (bytes([0x10]) + (1000).to_bytes(4, 'big') + b"ab").hex(), "error": "payloadOverrun"})
v.append({"name": "trailing partial header after a good message", "frame": (msg(0x10, b"ok") + b"\x11\x00").hex(), "error": "truncatedHeader"})
out = os.path.join(os.path.dirname(__file__), "..", "Specs", "vectors", "transport-messages.json")
json.dump({"description": "Message layer inside one decrypted frame (Specs/transport.md). type u8, length u32 BE, payload.",
           "vectors": v}, open(out, "w"), indent=1)
