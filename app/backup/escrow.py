"""Key escrow: the keyring file split into Shamir shares for trustees (Vault's unseal model).

Shamir's secret sharing is PyCryptodome's (``Crypto.Protocol.SecretSharing.Shamir``, GF(2^128)
over 16-byte secrets). The keyring file is compressed, prefixed with its length, padded to
16-byte blocks, and every block is split with the same share indexes; share *i* is the list of
the i-th pieces. Each share names its index, the threshold, the escrow's id and the keyring's
fingerprint, and carries a SHA-256 commitment to the whole keyring: recovery rebuilds the file
and checks it against the commitment, so a wrong or altered share is caught, not written.

A share is printable: a text file (the machine line ``HAVEN-SHARE/1 ...`` can be typed back from
paper) and an SVG QR code of the same line (segno).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import segno
from Crypto.Protocol.SecretSharing import Shamir

PREFIX = "HAVEN-SHARE/1 "
_BLOCK = 16


class EscrowError(Exception):
    """Shares that cannot rebuild the keyring; the message says why."""


@dataclass(frozen=True)
class Share:
    index: int
    threshold: int
    shares: int
    escrow_id: str
    fingerprint: str  # the keyring's: the first 16 hex digits of its SHA-256
    commitment: str  # SHA-256 of the whole keyring file
    pieces: bytes

    def line(self) -> str:
        body = {
            "i": self.index,
            "k": self.threshold,
            "n": self.shares,
            "e": self.escrow_id,
            "f": self.fingerprint,
            "c": self.commitment,
            "p": base64.b32encode(self.pieces).decode().rstrip("="),
        }
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        check = hashlib.sha256(raw).hexdigest()[:12]
        payload = base64.b32encode(raw).decode().rstrip("=")
        return f"{PREFIX}{payload}.{check}"


def fingerprint(keyring: bytes) -> str:
    return hashlib.sha256(keyring).hexdigest()[:16]


def split(keyring: bytes, shares: int, threshold: int) -> list[Share]:
    if not 2 <= threshold <= shares <= 255:
        raise EscrowError("need 2 <= threshold <= shares <= 255")
    packed = zlib.compress(keyring, 9)
    secret = struct.pack(">I", len(packed)) + packed
    secret += b"\x00" * (-len(secret) % _BLOCK)
    pieces: dict[int, list[bytes]] = {i: [] for i in range(1, shares + 1)}
    for start in range(0, len(secret), _BLOCK):
        for index, piece in Shamir.split(threshold, shares, secret[start : start + _BLOCK]):
            pieces[index].append(piece)
    escrow_id = os.urandom(6).hex()
    commitment = hashlib.sha256(keyring).hexdigest()
    return [
        Share(i, threshold, shares, escrow_id, fingerprint(keyring), commitment, b"".join(p))
        for i, p in sorted(pieces.items())
    ]


def parse(text: str, source: str = "share") -> Share:
    lines = [x.strip() for x in text.splitlines()]
    start = next((n for n, x in enumerate(lines) if x.startswith(PREFIX.strip())), None)
    if start is None:
        raise EscrowError(f"{source}: no {PREFIX.strip()} line (not a Haven key share)")
    end = next((n for n in range(start, len(lines)) if not lines[n]), len(lines))
    line = PREFIX + "".join(lines[start:end]).removeprefix(PREFIX.strip()).strip()
    payload, _, check = line.removeprefix(PREFIX).strip().rpartition(".")
    try:
        raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except ValueError:
        raise EscrowError(f"{source}: the share is damaged (not readable)") from None
    if hashlib.sha256(raw).hexdigest()[:12] != check:
        raise EscrowError(f"{source}: the share is damaged (its checksum does not match)")
    try:
        body = json.loads(raw)
        p = str(body["p"])
        share = Share(
            index=int(body["i"]),
            threshold=int(body["k"]),
            shares=int(body["n"]),
            escrow_id=str(body["e"]),
            fingerprint=str(body["f"]),
            commitment=str(body["c"]),
            pieces=base64.b32decode(p + "=" * (-len(p) % 8)),
        )
    except (ValueError, KeyError, TypeError):
        raise EscrowError(f"{source}: the share is damaged (unreadable fields)") from None
    if len(share.pieces) % _BLOCK or not 1 <= share.index <= share.shares:
        raise EscrowError(f"{source}: the share is damaged (bad length or index)")
    return share


def combine(shares: list[Share]) -> bytes:
    """The keyring file the shares rebuild, checked against their commitment."""
    if not shares:
        raise EscrowError("no shares given")
    first = shares[0]
    for share in shares[1:]:
        if (share.escrow_id, share.commitment, share.threshold) != (
            first.escrow_id,
            first.commitment,
            first.threshold,
        ):
            raise EscrowError(
                f"share {share.index} belongs to another escrow (keyring {share.fingerprint}, "
                f"escrow {share.escrow_id}) than share {first.index} (keyring "
                f"{first.fingerprint}, escrow {first.escrow_id})"
            )
    distinct = {s.index: s for s in shares}
    if len(distinct) < first.threshold:
        raise EscrowError(
            f"{len(distinct)} distinct share(s) given; this keyring needs {first.threshold} of "
            f"{first.shares}"
        )
    chosen = [distinct[i] for i in sorted(distinct)][: first.threshold]
    if len({len(s.pieces) for s in chosen}) != 1:
        raise EscrowError("the shares differ in length: one of them is damaged")
    blocks = []
    for start in range(0, len(chosen[0].pieces), _BLOCK):
        blocks.append(Shamir.combine([(s.index, s.pieces[start : start + _BLOCK]) for s in chosen]))
    secret = b"".join(blocks)
    try:
        (size,) = struct.unpack(">I", secret[:4])
        keyring = zlib.decompress(secret[4 : 4 + size])
    except (struct.error, zlib.error):
        keyring = b""
    if hashlib.sha256(keyring).hexdigest() != first.commitment:
        raise EscrowError(
            "the shares do not rebuild the keyring they commit to: one of them is wrong or "
            "altered (try another combination of shares)"
        )
    return keyring


def write_shares(shares: list[Share], out: Path) -> list[Path]:
    """One text file and one QR code (SVG) per share, mode 0600, in ``out``."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for share in shares:
        stem = f"haven-key-share-{share.fingerprint}-{share.index}-of-{share.shares}"
        text_path, qr_path = out / f"{stem}.txt", out / f"{stem}.svg"
        for path in (text_path, qr_path):
            if path.exists():
                raise FileExistsError(f"{path} exists already")
        line = share.line()
        text = (
            "HAVEN KEYRING SHARE - keep on paper, away from the server and the other shares\n"
            f"share {share.index} of {share.shares}; any {share.threshold} rebuild the keyring\n"
            f"keyring fingerprint: {share.fingerprint}\n"
            f"escrow: {share.escrow_id}\n"
            "recover with: haven keys recover SHARE-FILE... (or type the line below into a file)\n"
            "\n" + "\n".join(line[i : i + 64] for i in range(0, len(line), 64)) + "\n"
        )
        _write_private(text_path, text.encode())
        qr = segno.make(line, error="m")
        qr.save(str(qr_path), kind="svg", scale=4)
        os.chmod(qr_path, 0o600)
        written += [text_path, qr_path]
    return written


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
