"""RFC 6238 time-based one-time passwords (30 s, 6 digits, SHA-1) with replay refusal."""

from __future__ import annotations

import hmac
import time

import pyotp

ISSUER = "Haven"
STEP_SECONDS = 30
WINDOW = 1  # one step either side, for clock drift


def new_seed() -> str:
    return pyotp.random_base32()


def provisioning_uri(seed: str, username: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(seed: str, code: str, *, now: float | None = None) -> int | None:
    """The time step whose code equals ``code`` within the window, or None."""
    code = code.strip().replace(" ", "")
    # ASCII only: str.isdigit() also says yes to other scripts' digits ("١٢٣٤٥٦"), which
    # no authenticator shows and hmac.compare_digest cannot compare.
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(seed)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def accept(seed: str, code: str, last_step: int | None, *, now: float | None = None) -> int | None:
    """The step to record if the code is valid and newer than the last accepted one."""
    step = matching_step(seed, code, now=now)
    if step is None or (last_step is not None and step <= last_step):
        return None
    return step
