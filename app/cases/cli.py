"""``haven keys init-signing`` and ``haven verify-export FILE``: argument parsing and output.

Registered from ``app.cli`` with ``register(cli, keys_cli, runtime)``; the work is done in
``signing`` and ``verify``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.cases import signing, verify
from app.config import Settings
from app.crypto import Crypto, CryptoError
from app.errors import HavenError


class _Runtime(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def crypto(self) -> Crypto: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...


def register(cli: typer.Typer, keys_cli: typer.Typer, runtime: Callable[[], _Runtime]) -> None:
    @keys_cli.command("init-signing")
    def init_signing(
        organisation: Annotated[
            str, typer.Option(help="The organisation the certificate names (its O=).")
        ],
        key: Annotated[
            Path | None,
            typer.Option(help="Import this PEM private key (RSA or ECDSA) instead of making one."),
        ] = None,
        certificate: Annotated[
            Path | None,
            typer.Option(help="Its PEM certificate, issued by your CA (then the CA chain)."),
        ] = None,
        key_password_stdin: Annotated[
            bool, typer.Option("--key-password-stdin", help="The imported key's password.")
        ] = False,
        replace: Annotated[
            bool, typer.Option(help="Replace the current identity (it stays published).")
        ] = False,
    ) -> None:
        """Make the export-signing key and certificate (self-signed unless imported); the
        private keys are sealed under the keyring like every data key."""
        from app.crypto.keyring import open_provider

        settings = Settings()
        provider = open_provider(settings, create=True)  # production never creates one
        password = sys.stdin.readline().rstrip("\r\n").encode() if key_password_stdin else None
        identity = signing.init_signing(
            provider,
            settings.data_dir,
            organisation,
            key_pem=key.read_bytes() if key else None,
            certificate_pem=certificate.read_bytes() if certificate else None,
            password=password,
            replace=replace,
        )
        kind = "imported" if key else "self-signed"
        typer.echo(
            f"export-signing identity ({kind}) for {identity.signer}\n"
            f"certificate SHA-256: {identity.fingerprint}\n"
            f"stored in {settings.data_dir / signing.SIGNING_FILE} (private keys sealed); "
            "publish GET /api/v1/export-keys so others can check exports"
        )

    @cli.command("verify-export")
    def verify_export(
        file: Annotated[Path, typer.Argument(help="A PDF, a JSON export, or an evidence bag.")],
        signature: Annotated[
            Path | None, typer.Option(help="A JSON export's detached JWS (default: FILE.jws).")
        ] = None,
        jwks: Annotated[
            Path | None,
            typer.Option(help="The organisation's keys (GET /api/v1/export-keys) to trust."),
        ] = None,
        trust: Annotated[
            Path | None, typer.Option(help="A PEM certificate to trust as the organisation's.")
        ] = None,
        offline: Annotated[
            bool, typer.Option(help="Do not look the export up in this deployment's audit trail.")
        ] = False,
    ) -> None:
        """Check an export's signatures (and a bag's manifests); exit 1 naming the first
        failure. On the deployment, also the audit entry and signed checkpoint covering it."""
        trusted = None
        if jwks is not None:
            doc: dict[str, Any] = json.loads(jwks.read_text())
            trusted = verify.Trusted.from_jwks(doc, f"the JWKS {jwks.name}")
        elif trust is not None:
            trusted = verify.Trusted.from_pem(trust.read_bytes(), f"the certificate {trust.name}")
        report = verify.verify(file, signature=signature, trusted=trusted)
        for line in report.lines():
            typer.echo(line)
        if not report.ok:
            raise typer.Exit(1)
        if offline:
            return
        digests = [report.sha256] + [
            fact.split(": ", 1)[1] for fact in report.facts if fact.startswith(("PDF", "JSON"))
        ]
        try:
            state = runtime()
            with state.sessions() as session:
                found, said = verify.audit_coverage(
                    session, state.crypto.provider, state.settings.data_dir, digests
                )
        except (SQLAlchemyError, CryptoError, HavenError, Exception) as exc:
            # No reachable deployment here (another machine, no database): the offline check
            # above stands on its own.
            typer.echo(f"audit: not consulted ({type(exc).__name__}; use --offline elsewhere)")
            return
        typer.echo(said)
        if not found:
            raise typer.Exit(1)
