"""What must hold before Haven touches its data: production refusals, the data directory, the
keyring and the secret. Its own module so that a ``haven`` command that only opens the
database does not import the web application to run these checks."""

from __future__ import annotations

from app.auth import passwords
from app.config import Settings, check_production
from app.crypto import Crypto
from app.crypto.keyring import open_provider


def prepare(settings: Settings, *, create_keyring: bool = True) -> Crypto:
    """Checks that must pass before serving: production refusals, data dir, keyring, secret."""
    check_production(settings)
    passwords.configure(settings.password_memory_kib, settings.password_rounds)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    provider = open_provider(settings, create=create_keyring)
    settings.resolved_secret_key()
    return Crypto(
        provider,
        cache_size=settings.data_key_cache_size,
        cache_seconds=settings.data_key_cache_seconds,
    )
