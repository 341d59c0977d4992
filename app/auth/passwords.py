"""The only passlib import: argon2id hashing, verification and rehash-on-login; and the
password policy (length, not a common password)."""

from __future__ import annotations

from functools import lru_cache

from passlib.context import CryptContext

from app.errors import BadRequest

# OWASP floor for argon2id is m=19 MiB, t=2, p=1, Haven's default. HAVEN_PASSWORD_MEMORY_KIB and
# HAVEN_PASSWORD_ROUNDS raise it without breaking stored hashes (rehashed at the next sign-in);
# production refuses anything below the floor (app/config.py).
ARGON2_MEMORY_KIB = 19_456
ARGON2_ROUNDS = 2
ARGON2_PARALLELISM = 1


def _make_context(memory_kib: int, rounds: int) -> CryptContext:
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=memory_kib,
        argon2__rounds=rounds,
        argon2__parallelism=ARGON2_PARALLELISM,
    )


_context = _make_context(ARGON2_MEMORY_KIB, ARGON2_ROUNDS)
# Verified against when a username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _context.hash("haven-timing-equaliser")


def configure(memory_kib: int, rounds: int) -> None:
    """Use these argon2id costs for new hashes (and as the target of rehash-on-login)."""
    global _context, _DUMMY_HASH
    current = _context.to_dict()
    if (current.get("argon2__memory_cost"), current.get("argon2__rounds")) == (memory_kib, rounds):
        return
    _context = _make_context(memory_kib, rounds)
    _DUMMY_HASH = _context.hash("haven-timing-equaliser")


def parameters() -> tuple[int, int]:
    """(memory in KiB, rounds) of new hashes."""
    current = _context.to_dict()
    return int(current["argon2__memory_cost"]), int(current["argon2__rounds"])


def hash_password(password: str) -> str:
    hashed: str = _context.hash(password)
    return hashed


def verify_and_update(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored parameters are outdated)."""
    if stored is None:
        _context.verify(password, _DUMMY_HASH)
        return False, None
    matches, new_hash = _context.verify_and_update(password, stored)
    return bool(matches), new_hash


# Password policy -------------------------------------------------------------------------------
MIN_PASSWORD, MAX_PASSWORD = 12, 128


def check_password(password: str, *, username: str | None = None) -> None:
    """ASVS 5.0 6.2: length 12 to 128, no composition rules, not a known common password."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"passwords may have at most {MAX_PASSWORD} characters")
    folded = password.casefold()
    if folded in _common_passwords() or (username and folded == username.casefold()):
        raise BadRequest("that password is too common; choose another (a passphrase works well)")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships 30,000 of the most common leaked passwords; nothing is fetched at run time.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])
