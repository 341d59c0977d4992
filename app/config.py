"""One typed Settings for the whole service, validated at start-up."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from app.crypto.keyring import inspect_keyring
from app.errors import ConfigurationError
from app.oidc_roles import RoleRule, parse_role_map


class Settings(BaseSettings):
    """Configuration from HAVEN_* environment variables (and a .env file)."""

    model_config = SettingsConfigDict(
        env_prefix="HAVEN_", env_file=".env", extra="ignore", frozen=True
    )

    # The contract of shared/API.md.
    database_url: str = "sqlite:///./haven-data/haven.db"
    # PostgreSQL connections each process keeps open: as many as the requests it serves at
    # once, so a busy minute reuses them rather than opening one per request.
    database_pool_size: int = Field(default=32, ge=1, le=1000)
    data_dir: Path = Path("./haven-data")
    master_key_file: Path | None = None  # default: $HAVEN_DATA_DIR/master.key
    secret_key: str | None = None  # default: generated into the data dir on first start
    smtp_url: str | None = None
    webhook_allow_hosts: str = ""
    # Comma-separated addresses or networks of the reverse proxies in front of Haven: only a
    # request from one of them may name the caller's address in X-Forwarded-For.
    trusted_proxies: str = ""
    env: Literal["development", "production"] = "development"

    # Beyond the contract.
    auto_migrate: bool = True
    debug: bool = False
    key_provider: Literal["file", "passphrase"] = "file"
    keyring_passphrase: str | None = Field(default=None, repr=False)
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: str = "INFO"
    data_key_cache_size: int = 4096
    # Short, because another process's erasure only reaches this cache when an entry expires.
    data_key_cache_seconds: float = 60.0
    public_url: str = "http://127.0.0.1:8000"  # links in webhooks and e-mail point here
    escalation_minutes: float = 15.0  # critical alert not acknowledged → on call, then supervisors
    # Web Push's VAPID contact (RFC 8292 ``sub``): "mailto:ops@example.org" or an https URL the
    # push services can reach the operator at. Unset: browser push is off.
    push_contact: str | None = None
    engine_interval_seconds: float = 1.0
    run_engine_in_serve: bool = True  # `haven serve` also runs the alert engine
    max_body_bytes: int = 1_048_576
    # Searches by name or document number and duplicate checks one user may make per minute:
    # each says whether someone is on the records. Past it, 429 and an alert to supervisors.
    # 0 turns the limit off (benchmarks).
    lookup_limit_per_minute: int = Field(default=60, ge=0)
    max_attachment_bytes: int = 25 * 1_048_576
    # argon2id cost of password hashes; production refuses less than the OWASP floor.
    password_memory_kib: int = Field(default=19_456, ge=1024)
    password_rounds: int = Field(default=2, ge=1)
    # Two-factor for every person who signs in: unset means on in production, off otherwise.
    # A user without it who signs in may only enrol (and read /auth/me) until it is on.
    require_mfa: bool | None = None
    # Where every commit's signed audit head also goes, off the database host: an absolute
    # directory on another mount, or an https URL that receives each head as a JSON POST.
    audit_witness: str | None = None
    # Roles that must sign in with a passkey once they have registered one (comma-separated);
    # unset means admin,supervisor in production and none otherwise. "" turns it off.
    require_passkey_roles: str | None = None
    # Single sign-on (OpenID Connect): the provider's issuer URL, and Haven's client there.
    # Unset issuer: off. Sign-in matches accounts by the provider's subject (app.auth.oidc).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    # The ID token's claim listing the user's groups ("groups"), and the map from groups to a
    # role and organisation ("GROUP=ROLE@ORGANISATION;..."): set both or neither (see
    # app.oidc_roles). Set, the provider's groups decide who signs in with which role.
    oidc_role_claim: str | None = None
    oidc_role_map: str | None = None
    # Link an unlinked subject on its first sign-in to the one account with the ID token's
    # e-mail address, when the provider says it is verified.
    oidc_link_by_email: bool = False

    @field_validator(
        "smtp_url",
        "secret_key",
        "keyring_passphrase",
        "require_mfa",
        "audit_witness",
        "push_contact",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "oidc_role_claim",
        "oidc_role_map",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def mfa_required(self) -> bool:
        """HAVEN_REQUIRE_MFA, or whether this is production when it is not set."""
        return self.production if self.require_mfa is None else self.require_mfa

    @property
    def passkey_roles(self) -> frozenset[str]:
        """HAVEN_REQUIRE_PASSKEY_ROLES as role names (see ``require_passkey_roles``)."""
        value = self.require_passkey_roles
        if value is None:
            value = "admin,supervisor" if self.production else ""
        return frozenset(r.strip().lower() for r in value.split(",") if r.strip())

    @property
    def key_file(self) -> Path:
        return (self.master_key_file or self.data_dir / "master.key").absolute()

    @property
    def dialect(self) -> str:
        return make_url(self.database_url).get_backend_name()

    @property
    def sqlite_path(self) -> Path | None:
        """The embedded database file, or None on a server database."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).absolute()

    @property
    def allowed_webhook_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip()
        )

    @model_validator(mode="after")
    def _witness_usable(self) -> Settings:
        witness = self.audit_witness
        if not witness:
            return self
        if witness.startswith(("https://", "http://")):
            host = urlsplit(witness).hostname
            if not host:
                raise ValueError("HAVEN_AUDIT_WITNESS: the URL names no host")
            if witness.startswith("http://") and host.lower() not in self.allowed_webhook_hosts:
                raise ValueError("HAVEN_AUDIT_WITNESS: a URL must be https")
        elif "://" in witness or not Path(witness).is_absolute():
            raise ValueError(
                "HAVEN_AUDIT_WITNESS: an absolute directory (on another mount) or an https URL"
            )
        return self

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map_valid(cls, value: str | None) -> str | None:
        if value is not None:
            parse_role_map(value)
        return value

    @model_validator(mode="after")
    def _role_claim_with_map(self) -> Settings:
        if (self.oidc_role_claim is None) != (self.oidc_role_map is None):
            raise ValueError(
                "HAVEN_OIDC_ROLE_CLAIM and HAVEN_OIDC_ROLE_MAP are set together or not at all"
            )
        return self

    @property
    def oidc_role_rules(self) -> tuple[RoleRule, ...]:
        """HAVEN_OIDC_ROLE_MAP's entries in order (empty when not set)."""
        return parse_role_map(self.oidc_role_map) if self.oidc_role_map else ()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        _networks(value)
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """HAVEN_TRUSTED_PROXIES as networks (a lone address is a network of one)."""
        return _networks(self.trusted_proxies)

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.production)

    def resolved_secret_key(self) -> str:
        """HAVEN_SECRET_KEY, or in development one generated into the data dir and kept."""
        if self.secret_key:
            return self.secret_key
        if self.production:
            raise ConfigurationError("HAVEN_SECRET_KEY must be set in production")
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = secrets.token_urlsafe(48)
        _write_private(path, value + "\n")
        return value


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        )
    except ValueError:
        raise ValueError(
            "HAVEN_TRUSTED_PROXIES must be comma-separated IP addresses or networks"
        ) from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def production_problems(settings: Settings) -> list[str]:
    """Every reason this configuration is unsafe for production (empty when fine)."""
    problems: list[str] = []
    if settings.debug:
        problems.append("debug is on (HAVEN_DEBUG)")
    if not settings.secret_key:
        problems.append("HAVEN_SECRET_KEY is not set")
    key_file = settings.key_file
    info = inspect_keyring(key_file)
    if info is None:
        problems.append(f"the keyring {key_file} does not exist; create one with `haven keys init`")
    elif info.development:
        problems.append(
            f"the keyring {key_file} is a development keyring; "
            "create a production one with `haven keys init`"
        )
    db_path = settings.sqlite_path
    if db_path is not None and key_file.is_relative_to(db_path.parent):
        problems.append(
            f"the key file {key_file} is inside the database directory {db_path.parent}"
        )
    if info is not None and info.mode & 0o077:
        problems.append(f"the key file {key_file} is readable by other users (chmod 600)")
    if settings.password_memory_kib < 19_456 or settings.password_rounds < 2:
        problems.append(
            "password hashing is below the argon2id floor of m=19456 KiB, t=2 "
            "(HAVEN_PASSWORD_MEMORY_KIB, HAVEN_PASSWORD_ROUNDS)"
        )
    if settings.key_provider == "file" and info is not None and info.protected:
        problems.append("the keyring is passphrase-protected; set HAVEN_KEY_PROVIDER=passphrase")
    witness = settings.audit_witness
    if witness and not witness.startswith(("https://", "http://")):
        where = Path(witness)
        if not where.is_dir():
            problems.append(f"the audit witness directory {where} does not exist")
        elif where.resolve().is_relative_to(settings.data_dir.resolve()):
            problems.append(
                f"the audit witness directory {where} is inside the data directory; "
                "put it on another mount"
            )
    return problems


def check_production(settings: Settings) -> None:
    """Refuse to start in production with an unsafe configuration, naming every reason."""
    if not settings.production:
        return
    problems = production_problems(settings)
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


def get_settings(request: Request) -> Settings:
    """The settings the running app was built with (see app.main.create_app)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
