"""The only passlib import: argon2id hashing, verification and rehash-on-login."""

from __future__ import annotations

from passlib.context import CryptContext

# OWASP floor for argon2id is m=19 MiB, t=2, p=1; Haven uses m=19 MiB, t=2, p=1 by default
# and raises it through HAVEN_* settings later without breaking stored hashes (needs_update).
ARGON2_MEMORY_KIB = 19_456
ARGON2_ROUNDS = 2
ARGON2_PARALLELISM = 1

_context = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=ARGON2_MEMORY_KIB,
    argon2__rounds=ARGON2_ROUNDS,
    argon2__parallelism=ARGON2_PARALLELISM,
)
# Verified against when a username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _context.hash("haven-timing-equaliser")


def hash_password(password: str) -> str:
    return _context.hash(password)


def verify_and_update(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored parameters are outdated)."""
    if stored is None:
        _context.verify(password, _DUMMY_HASH)
        return False, None
    return _context.verify_and_update(password, stored)
