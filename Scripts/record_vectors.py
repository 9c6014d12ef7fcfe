#!/usr/bin/env python3
"""Independent encoder for Specs/records.md: writes Specs/vectors/records.json.

Written from the spec's tables, not from the Swift code, so the Swift tests that check these
bytes check the spec. Needs only the standard library and `cryptography` (Ed25519, RFC 8032:
same deterministic signatures as libsodium).  Run: python3 Scripts/record_vectors.py
"""
import hashlib, json, os, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

DOMAIN = b"murmur/record/v1"
T0 = 1_780_000_000_000
KIND = {"manifest": 1, "announcement": 2, "job": 3, "claim": 4, "attestation": 5, "verdict": 6}

def b2b(b): return hashlib.blake2b(b, digest_size=32).digest()
def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def i64(v): return struct.pack(">q", v)
def s16(s): b = s.encode(); return u16(len(b)) + b
def b32(b): return u32(len(b)) + b
def opt(b): return u8(0) if b is None else u8(1) + b32(b)

def key(seed):
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sk, pk

def envelope(kind, seed, issued, expires, body):
    sk, pk = key(seed)
    head = u8(1) + u8(KIND[kind]) + pk + i64(issued) + i64(expires) + b32(body)
    rec = head + sk.sign(DOMAIN + head)
    return rec, b2b(rec)

def tensor(name, dtype, shape): return s16(name) + u8(dtype) + u8(len(shape)) + b"".join(i64(d) for d in shape)

def manifest_body(model, name, version, chunk, inputs, outputs, chunk_hashes=None):
    hashes = chunk_hashes if chunk_hashes is not None else [b2b(model[i:i + chunk]) for i in range(0, len(model), chunk)]
    return (u8(1) + b2b(model) + s16(name) + s16(version) + u8(1) + u64(len(model)) + u32(chunk)
            + u32(len(hashes)) + b"".join(hashes)
            + u8(len(inputs)) + b"".join(tensor(*t) for t in inputs)
            + u8(len(outputs)) + b"".join(tensor(*t) for t in outputs))

def announcement_body(seq, addrs, models, free, total, engine, sort=True):
    ms = sorted(models) if sort else models
    return (u8(1) + u64(seq) + u8(len(addrs)) + b"".join(s16(a) for a in addrs)
            + u16(len(ms)) + b"".join(ms) + u16(free) + u16(total) + s16(engine))

def job_body(model_hash, inp, r, q, deadline, nonce, input_hash=None):
    h = input_hash if input_hash is not None else b2b(inp)
    return u8(1) + model_hash + h + u64(len(inp)) + opt(inp) + u8(r) + u8(q) + i64(deadline) + nonce

def claim_body(job_id, lease, stage, rank): return u8(1) + job_id + i64(lease) + u8(stage) + u16(rank)

def attestation_body(job_id, model_hash, input_hash, out, engine, micros, stage):
    return (u8(1) + job_id + model_hash + input_hash + b2b(out) + u64(len(out)) + s16(engine)
            + u64(micros) + u8(stage) + opt(out))

def verdict_body(job_id, evidence):
    return u8(1) + job_id + u8(len(evidence)) + b"".join(u8(1 if d else 0) + b32(rec) for rec, d in evidence)

SEED_PUBLISHER = bytes(range(32))
SEED_NODE = bytes([0x11]) * 32
SEED_CLIENT = bytes([0x22]) * 32
SEED_EXEC = [bytes([b]) * 32 for b in (0x33, 0x44, 0x55, 0x66, 0x77)]
MODEL = bytes(i % 251 for i in range(10000))
ENGINE = "murmur/0.1.0"
HOUR = 3_600_000

valid, invalid = [], []
def add(name, kind, seed, issued, expires, body, now, fields):
    rec, rid = envelope(kind, seed, issued, expires, body)
    valid.append({"name": name, "kind": kind, "seed": seed.hex(), "author": key(seed)[1].hex(),
                  "issued_at": issued, "expires_at": expires, "now": now, "fields": fields,
                  "body": body.hex(), "record": rec.hex(), "id": rid.hex()})
    return rec, rid

def bad(name, expect, record, now, why):
    invalid.append({"name": name, "expect": expect, "record": record.hex(), "now": now, "why": why})

ins = [("x", 1, [-1, 4])]
outs = [("y", 1, [-1, 3])]
mbody = manifest_body(MODEL, "tiny-mlp", "1", 4096, ins, outs)
add("manifest", "manifest", SEED_PUBLISHER, T0, T0 + 7 * 24 * HOUR, mbody, T0 + 1000,
    {"model": "bytes(i % 251 for i in range(10000))", "name": "tiny-mlp", "model_version": "1", "chunk_size": 4096,
     "inputs": "x float32 [-1, 4]", "outputs": "y float32 [-1, 3]"})
mh = b2b(MODEL)

abody = announcement_body(7, ["127.0.0.1:7400", "[::1]:7400"], [mh], 2, 4, ENGINE)
add("announcement", "announcement", SEED_NODE, T0, T0 + 600_000, abody, T0 + 1000,
    {"sequence": 7, "addresses": ["127.0.0.1:7400", "[::1]:7400"], "models": [mh.hex()], "free_slots": 2,
     "total_slots": 4, "engine_version": ENGINE})

INPUT = bytes(range(64))
NONCE = bytes(range(0xA0, 0xB0))
deadline = T0 + 30_000
jbody = job_body(mh, INPUT, 3, 2, deadline, NONCE)
jrec, jid = add("job", "job", SEED_CLIENT, T0, deadline + 600_000, jbody, T0 + 1000,
                {"model_hash": mh.hex(), "input": "bytes(range(64))", "redundancy": 3, "quorum": 2,
                 "deadline": deadline, "nonce": NONCE.hex()})
ih = b2b(INPUT)

cbody = claim_body(jid, T0 + 10_000, 0, 0)
add("claim", "claim", SEED_EXEC[0], T0 + 100, deadline + 600_000, cbody, T0 + 1000,
    {"job_id": jid.hex(), "lease_expiry": T0 + 10_000, "stage": 0, "rank": 0})

OUT_A = bytes([1, 2, 3, 4, 5, 6, 7, 8]) * 4
OUT_B = bytes([9]) * 32
atbody = attestation_body(jid, mh, ih, OUT_A, ENGINE, 1234, 0)
arec, _ = add("attestation", "attestation", SEED_EXEC[0], T0 + 200, T0 + 200 + 24 * HOUR, atbody, T0 + 1000,
              {"job_id": jid.hex(), "output": "[1,2,3,4,5,6,7,8] * 4", "engine_version": ENGINE,
               "elapsed_micros": 1234, "stage": 0})

def att(i, out, stage):
    return envelope("attestation", SEED_EXEC[i], T0 + 300, T0 + 300 + 24 * HOUR,
                    attestation_body(jid, mh, ih, out, ENGINE, 1000 + i, stage))[0]
evidence = [(att(0, OUT_A, 0), False), (att(1, OUT_B, 0), False),
            (att(2, OUT_A, 1), True), (att(3, OUT_A, 1), True), (att(4, OUT_A, 1), True)]
vbody = verdict_body(jid, evidence)
add("verdict", "verdict", SEED_NODE, T0 + 400, T0 + 400 + 30 * 24 * HOUR, vbody, T0 + 1000,
    {"job_id": jid.hex(), "evidence": "exec0 A original, exec1 B original, exec2..4 A deciders (attestations issued T0+300)",
     "accused": [key(SEED_EXEC[1])[1].hex()]})

# Invalid records: each breaks exactly one rule.
rec, _ = envelope("job", SEED_CLIENT, T0, deadline + 600_000, job_body(mh, INPUT, 2, 3, deadline, NONCE))
bad("job_quorum_above_redundancy", "invalid", rec, T0 + 1000, "q = 3 > r = 2")
rec, _ = envelope("job", SEED_CLIENT, T0, deadline + 600_000, job_body(mh, INPUT, 3, 2, deadline, NONCE, input_hash=b2b(b"x")))
bad("job_inline_input_hash_mismatch", "invalid", rec, T0 + 1000, "input hash is not BLAKE2b of the inline input")
rec, _ = envelope("job", SEED_CLIENT, T0, deadline - 1, jbody)
bad("job_expires_before_deadline", "invalid", rec, T0 + 1000, "record expiresAt < deadline")
rec, _ = envelope("manifest", SEED_PUBLISHER, T0, T0 + HOUR, manifest_body(MODEL, "tiny-mlp", "1", 4096, ins, outs, chunk_hashes=[b2b(MODEL)]))
bad("manifest_chunk_count_mismatch", "invalid", rec, T0 + 1000, "1 chunk hash for 10000 bytes at 4096 per chunk")
rec, _ = envelope("announcement", SEED_NODE, T0, T0 + 600_000, announcement_body(7, [], [b2b(b"b"), b2b(b"a")], 1, 1, ENGINE, sort=False)
      if b2b(b"b") > b2b(b"a") else announcement_body(7, [], [b2b(b"a"), b2b(b"b")], 1, 1, ENGINE, sort=False))
bad("announcement_models_unsorted", "malformed", rec, T0 + 1000, "model hashes not strictly ascending")
rec, _ = envelope("announcement", SEED_NODE, T0, T0 + 600_000, b"\x02" + abody[1:])
bad("announcement_unknown_body_version", "malformed", rec, T0 + 1000, "body version 2")
rec, _ = envelope("announcement", SEED_NODE, T0, T0 + 2 * HOUR, abody)
bad("announcement_lifetime_too_long", "lifetimeTooLong", rec, T0 + 1000, "announcements live at most 1 h")
flipped = bytearray(envelope("announcement", SEED_NODE, T0, T0 + 600_000, abody)[0]); flipped[40] ^= 1
bad("announcement_flipped_byte", "badSignature", bytes(flipped), T0 + 1000, "one bit of issuedAt flipped after signing")
bad("job_truncated", "malformed", jrec[:-1], T0 + 1000, "last signature byte missing")
bad("job_expired", "expired", jrec, deadline + 600_000, "now = expiresAt")
bad("job_from_the_future", "notYetValid", jrec, T0 - 30_001, "issued 30.001 s after now (skew 30 s)")
rec, _ = envelope("claim", SEED_EXEC[0], T0, deadline + 600_000, claim_body(jid, T0 + 6 * 60_000, 0, 0))
bad("claim_lease_too_long", "invalid", rec, T0 + 1000, "lease 6 min > 5 min")
vb = verdict_body(jid, [(att(0, OUT_A, 0), False), (att(1, OUT_B, 0), True), (att(2, OUT_A, 1), True), (att(3, OUT_B, 1), True), (att(4, bytes([7]) * 32, 1), True)])
rec, _ = envelope("verdict", SEED_NODE, T0, T0 + HOUR, vb)
bad("verdict_without_majority", "invalid", rec, T0 + 1000, "deciders split 1 A / 2 B / 1 C of 4")

out = {"about": "Specs/records.md test vectors; generated by Scripts/record_vectors.py. Times are Unix ms; T0 = %d." % T0,
       "signing_domain": DOMAIN.decode(), "valid": valid, "invalid": invalid}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Specs", "vectors", "records.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path, len(valid), "valid", len(invalid), "invalid")
