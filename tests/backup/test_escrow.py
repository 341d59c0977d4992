"""Key escrow: the keyring split into Shamir shares, rebuilt from any threshold of them, and a
clear refusal (nothing written) for too few, damaged, altered or foreign shares."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from app.backup import escrow
from app.config import Settings
from tests.conftest import make_settings
from tests.faults.support import haven

KEYRING = (
    b'{"format": "haven-keyring/1", "keys": {"kek": {"1": "'
    + os.urandom(32).hex().encode()
    + b'"}}}\n'
)


def test_any_three_of_five_rebuild_the_keyring_and_two_do_not() -> None:
    shares = escrow.split(KEYRING, 5, 3)
    assert [s.index for s in shares] == [1, 2, 3, 4, 5]
    assert {s.fingerprint for s in shares} == {escrow.fingerprint(KEYRING)}
    for chosen in itertools.combinations(shares, 3):
        assert escrow.combine(list(chosen)) == KEYRING
    assert escrow.combine(shares) == KEYRING  # more than enough is fine
    for pair in itertools.combinations(shares, 2):
        with pytest.raises(escrow.EscrowError, match="needs 3 of 5"):
            escrow.combine(list(pair))
    with pytest.raises(escrow.EscrowError, match="needs 3 of 5"):
        escrow.combine([shares[0], shares[0], shares[1]])  # the same share twice is one


def test_no_two_shares_reveal_the_keyring() -> None:
    shares = escrow.split(KEYRING, 5, 3)
    for share in shares:
        assert KEYRING[:16] not in share.pieces and b"haven-keyring" not in share.line().encode()


def test_a_share_survives_printing_and_typing_back(tmp_path: Path) -> None:
    shares = escrow.split(KEYRING, 5, 3)
    written = escrow.write_shares(shares, tmp_path / "out")
    texts = sorted(p for p in written if p.suffix == ".txt")
    assert len(texts) == 5 and len([p for p in written if p.suffix == ".svg"]) == 5
    first = texts[0].read_text()
    assert "share 1 of 5; any 3 rebuild the keyring" in first
    assert f"keyring fingerprint: {shares[0].fingerprint}" in first
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in written)
    assert "<svg" in (tmp_path / "out" / texts[0].name.replace(".txt", ".svg")).read_text()
    parsed = [escrow.parse(p.read_text(), p.name) for p in texts[2:]]
    assert escrow.combine(parsed) == KEYRING
    # Typed back with other line breaks and indentation.
    retyped = "\n".join("  " + line for line in first.splitlines())
    assert escrow.parse(retyped).pieces == shares[0].pieces


def test_a_corrupted_share_is_named_and_refused() -> None:
    line = escrow.split(KEYRING, 5, 3)[1].line()
    payload_at = len(escrow.PREFIX) + 20
    flipped = line[:payload_at] + ("A" if line[payload_at] != "A" else "B") + line[payload_at + 1 :]
    with pytest.raises(escrow.EscrowError, match="trustee-2: the share is damaged"):
        escrow.parse(flipped, "trustee-2")
    with pytest.raises(escrow.EscrowError, match="not a Haven key share"):
        escrow.parse("hello", "trustee-3")


def test_an_altered_share_with_a_fresh_checksum_fails_the_commitment() -> None:
    shares = escrow.split(KEYRING, 5, 3)
    bad = shares[0]
    altered = escrow.Share(
        bad.index,
        bad.threshold,
        bad.shares,
        bad.escrow_id,
        bad.fingerprint,
        bad.commitment,
        bad.pieces[:8] + bytes([bad.pieces[8] ^ 1]) + bad.pieces[9:],
    )
    reparsed = escrow.parse(altered.line())  # its own checksum is consistent
    with pytest.raises(escrow.EscrowError, match="do not rebuild the keyring"):
        escrow.combine([reparsed, shares[1], shares[2]])


def test_shares_of_another_escrow_are_refused() -> None:
    ours = escrow.split(KEYRING, 5, 3)
    theirs = escrow.split(KEYRING + b" ", 5, 3)
    with pytest.raises(escrow.EscrowError, match="belongs to another escrow"):
        escrow.combine([ours[0], ours[1], theirs[2]])


def _settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'db' / 'haven.db'}")


def test_recover_writes_the_keyring_only_from_enough_good_shares(tmp_path: Path) -> None:
    """`haven keys escrow` then `haven keys recover` as an operator runs them."""
    source = _settings(tmp_path / "source")
    source.key_file.parent.mkdir(parents=True)
    source.key_file.write_bytes(KEYRING)
    out = tmp_path / "shares"
    made = haven(
        source, tmp_path, "keys", "escrow", "--shares", "5", "--threshold", "3", "--out", str(out)
    )
    assert made.returncode == 0, made.stderr
    assert "split into 5 shares, any 3 of which rebuild it" in made.stdout
    shares = sorted(out.glob("*.txt"))
    target = _settings(tmp_path / "target")

    too_few = haven(target, tmp_path, "keys", "recover", *map(str, shares[:2]))
    assert too_few.returncode == 1
    assert (
        "2 distinct share(s) given; this keyring needs 3 of 5; nothing was written"
        in too_few.stderr
    )
    assert not target.key_file.exists()

    damaged = tmp_path / "damaged.txt"
    text = shares[3].read_text()
    at = text.index(escrow.PREFIX) + len(escrow.PREFIX) + 10
    damaged.write_text(text[:at] + ("Q" if text[at] != "Q" else "R") + text[at + 1 :])
    corrupted = haven(
        target, tmp_path, "keys", "recover", str(shares[0]), str(shares[1]), str(damaged)
    )
    assert corrupted.returncode == 1
    assert "damaged.txt: the share is damaged" in corrupted.stderr
    assert "Traceback" not in corrupted.stderr
    assert not target.key_file.exists()

    good = haven(
        target, tmp_path, "keys", "recover", str(shares[4]), str(shares[1]), str(shares[3])
    )
    assert good.returncode == 0, good.stderr
    assert target.key_file.read_bytes() == KEYRING
    assert oct(target.key_file.stat().st_mode & 0o777) == "0o600"
