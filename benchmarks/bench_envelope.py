"""Envelope throughput against raw `cryptography` on the same payloads, in the same run.

    .venv/bin/python benchmarks/bench_envelope.py [--quick]

Baselines, both measured here (perf-baselines.md: a benchmark measures its own floor):

* raw       AES-256-GCM(payload, aad=label) + Ed25519 over the ciphertext (sign on seal, verify on
            open): what "encrypt and sign" costs with no envelope at all.
* raw-hash  AES-256-GCM + SHA-256 of the ciphertext + Ed25519 over the 32-byte digest: the same
            primitives the envelope uses, so its ratio is the envelope's own overhead.

Targets (issue): seal and open ≥ 85 % of raw for 1 MiB items, ≥ 60 % for 512-byte items.
Also prints the envelope overhead in bytes for 1 and 3 recipients.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gsomia.crypto import KeyDirectory, NodeKeys, open, seal

LABEL = (b'{"classification":"KOR:II","created_at":"2026-11-22T00:00:00Z","format":"gsomia-label/1",'
         b'"originator":"KOR","policy":"KOR","purpose":"bench","releasable_to":["JPN","KOR","USA"]}')


def batch_size(fn: Callable[[], object], seconds: float) -> int:
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > seconds:
            return n
        n *= 2


def compare(fns: list[Callable[[], object]], seconds: float, repeats: int) -> list[float]:
    """Median ops/s of each function, measured interleaved so that noise from other processes on a
    shared machine hits all of them alike."""
    sizes = [batch_size(fn, seconds) for fn in fns]
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, n, out in zip(fns, sizes, samples, strict=True):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out.append(n / (time.perf_counter() - t0))
    return [statistics.median(s) for s in samples]


def measure(size: int, seconds: float, repeats: int) -> None:
    sender, recipient = NodeKeys.generate("KOR", "kor-1"), NodeKeys.generate("JPN", "jpn-1")
    trust = KeyDirectory([sender.public])
    raw_key = Ed25519PrivateKey.generate()
    raw_pub = raw_key.public_key()
    aes = AESGCM(os.urandom(32))
    payload = os.urandom(size)
    nonce = os.urandom(12)
    ct = aes.encrypt(nonce, payload, LABEL)
    sig = raw_key.sign(ct)
    hsig = raw_key.sign(hashlib.sha256(ct).digest())
    env = seal(payload, label=LABEL, sender=sender, recipients=[recipient.public])

    def raw_seal() -> object:
        return raw_key.sign(aes.encrypt(os.urandom(12), payload, LABEL))

    def raw_open() -> object:
        raw_pub.verify(sig, ct)
        return aes.decrypt(nonce, ct, LABEL)

    def hash_seal() -> object:
        return raw_key.sign(hashlib.sha256(aes.encrypt(os.urandom(12), payload, LABEL)).digest())

    def hash_open() -> object:
        raw_pub.verify(hsig, hashlib.sha256(ct).digest())
        return aes.decrypt(nonce, ct, LABEL)

    def env_seal() -> object:
        return seal(payload, label=LABEL, sender=sender, recipients=[recipient.public])

    def env_open() -> object:
        return open(env, recipient=recipient, senders=trust)

    target = 0.60 if size <= 4096 else 0.85
    for op, mine, raw, hashed in (("seal", env_seal, raw_seal, hash_seal), ("open", env_open, raw_open, hash_open)):
        r_raw, r_env, r_hash = compare([raw, mine, hashed], seconds, repeats)
        flag = "ok" if r_env / r_raw >= target else f"BELOW {target:.0%}"
        print(f"{size:>8} {op:>5} {r_env:>11.0f} {r_raw:>10.0f} {r_env / r_raw:>6.0%} "
              f"{r_hash:>11.0f} {r_env / r_hash:>6.0%}  {flag}", flush=True)


def main(quick: bool) -> None:
    seconds, repeats = (0.05, 5) if quick else (0.1, 21)
    print(f"{'size':>8} {'op':>5} {'envelope/s':>11} {'raw/s':>10} {'ratio':>6} {'raw-hash/s':>11} {'ratio':>6}")
    for size in (512, 1 << 20):
        measure(size, seconds, repeats)
    print(f"label is {len(LABEL)} bytes; overhead = envelope - plaintext - label:")
    sender = NodeKeys.generate("KOR", "kor-1")
    others = [NodeKeys.generate(p, p.lower()).public for p in ("USA", "JPN", "KOR")]
    for n in (1, 3):
        env = seal(b"x" * 512, label=LABEL, sender=sender, recipients=others[:n])
        print(f"  {n} recipient(s): {len(env) - 512 - len(LABEL)} bytes")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
