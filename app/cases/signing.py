"""The organisation's export-signing identity: who signs exported PDFs and JSON, and how.

Two keys, one file (``export-signing.json`` in the data directory), both private keys sealed
under the keyring's current key-encryption key like every data key (``provider.wrap``):

- the **PDF key** (ECDSA P-256, or the RSA/EC key of a certificate an organisation imports from
  its CA) signs PAdES signatures with pyHanko; standard readers (poppler's ``pdfsig``, Adobe
  Reader) check those, and they know no Ed25519, hence not one key for both;
- the **JSON key** (Ed25519) signs the detached JWS (RFC 7515 with RFC 7797's unencoded payload,
  ``alg: EdDSA``) of a JSON export. Its certificate is issued by the PDF key, so one certificate
  (the organisation's) stands behind both.

``haven keys init-signing`` makes them (self-signed by default, or around an imported key and
certificate); a development deployment makes a self-signed pair at its first export. Replaced
identities stay in the file as ``retired`` so older exports still verify against the JWKS.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy.orm import Session

from app.crypto import CryptoError, crypto_of
from app.crypto.keyring import KeyProvider
from app.errors import HavenError

SIGNING_FILE = "export-signing.json"
FILE_FORMAT = "haven-export-signing/1"
_WRAP_AAD = b"haven-export-signing-v1\0"
JWS_ALG = "EdDSA"
PdfKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class SigningUnavailable(HavenError):
    """No export-signing key: exports are never handed out unsigned."""

    status_code = 503


@dataclass(frozen=True)
class Identity:
    """A loaded signing identity: the certificates, and the keys when it is the current one."""

    certificate: x509.Certificate  # the PDF key's; the organisation's certificate
    chain: tuple[x509.Certificate, ...]  # its issuers, when imported from a CA
    jws_certificate: x509.Certificate
    pdf_key: PdfKey | None = None
    jws_key: ed25519.Ed25519PrivateKey | None = None

    @property
    def signer(self) -> str:
        """Who signs, as the certificate names them ("Organisation (common name)")."""
        return describe(self.certificate)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


def describe(certificate: x509.Certificate) -> str:
    subject = certificate.subject
    org = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = _text(org[0].value) if org else ""
    role = _text(common[0].value) if common else ""
    if name and role and not role.startswith(name):
        return f"{name} ({role})"
    return name or role or subject.rfc4514_string()


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode(errors="replace")


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex, as readers show it."""
    return certificate.fingerprint(hashes.SHA256()).hex()


# Making an identity -----------------------------------------------------------------------------
def _name(organisation: str, purpose: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation[:40]} {purpose}"[:64]),
        ]
    )


def _self_signed(key: ec.EllipticCurvePrivateKey, organisation: str) -> x509.Certificate:
    """The default certificate: the organisation vouching for its own key, ten years. It is a
    CA of path length 0 so that it can issue the JSON key's certificate, nothing further."""
    now = dt.datetime.now(dt.UTC)
    name = _name(organisation, "export signing")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _jws_certificate(
    jws_key: ed25519.Ed25519PrivateKey, issuer: x509.Certificate, issuer_key: PdfKey
) -> x509.Certificate:
    organisation = describe(issuer).split(" (")[0]
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(organisation, "JSON export signing"))
        .issuer_name(issuer.subject)
        .public_key(jws_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(issuer.not_valid_after_utc, now + dt.timedelta(days=3650)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _der(key: PdfKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _seal(provider: KeyProvider, role: str, der: bytes) -> dict[str, Any]:
    version = provider.current_kek_version()
    wrapped = provider.wrap(version, der, _WRAP_AAD + role.encode())
    return {"kek_version": version, "wrapped": base64.b64encode(wrapped).decode()}


def _unseal(provider: KeyProvider, role: str, sealed: dict[str, Any]) -> bytes:
    wrapped = base64.b64decode(sealed["wrapped"])
    return provider.unwrap(int(sealed["kek_version"]), wrapped, _WRAP_AAD + role.encode())


def init_signing(
    provider: KeyProvider,
    data_dir: Path,
    organisation: str,
    *,
    key_pem: bytes | None = None,
    certificate_pem: bytes | None = None,
    password: bytes | None = None,
    replace: bool = False,
) -> Identity:
    """Make (or import) the identity and write it; the one it replaces stays as ``retired``."""
    path = data_dir / SIGNING_FILE
    retired: list[dict[str, Any]] = []
    if path.exists():
        if not replace:
            raise CryptoError(f"{path} already exists (use --replace to make a new identity)")
        old = json.loads(path.read_text())
        retired = [*old.get("retired", []), _public_part(old)]
    if (key_pem is None) != (certificate_pem is None):
        raise CryptoError("an imported identity needs both its private key and its certificate")
    if key_pem is not None and certificate_pem is not None:
        loaded = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise CryptoError("the imported key must be an RSA or ECDSA key")
        pdf_key: PdfKey = loaded
        certificates = x509.load_pem_x509_certificates(certificate_pem)
        certificate, chain = certificates[0], tuple(certificates[1:])
        if certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != pdf_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise CryptoError("the certificate is not the imported key's")
    else:
        pdf_key = ec.generate_private_key(ec.SECP256R1())
        certificate, chain = _self_signed(pdf_key, organisation), ()
    jws_key = ed25519.Ed25519PrivateKey.generate()
    jws_cert = _jws_certificate(jws_key, certificate, pdf_key)
    doc = {
        "format": FILE_FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "certificate": _pem(certificate),
        "chain": [_pem(c) for c in chain],
        "jws_certificate": _pem(jws_cert),
        "pdf_key": _seal(provider, "pdf", _der(pdf_key)),
        "jws_key": _seal(provider, "jws", _der(jws_key)),
        "retired": retired,
    }
    _write_private(path, json.dumps(doc, indent=1) + "\n")
    return Identity(certificate, chain, jws_cert, pdf_key, jws_key)


def _public_part(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("created_at", "certificate", "chain", "jws_certificate")}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-signing-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# Loading ----------------------------------------------------------------------------------------
_cache: dict[tuple[Path, int, int], Identity] = {}
_lock = threading.Lock()


def load(provider: KeyProvider, data_dir: Path) -> Identity | None:
    """The current identity with its keys unsealed (cached per file version), or None."""
    path = data_dir / SIGNING_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cache_key = (path, mtime, id(provider))
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            return found
        doc = json.loads(path.read_text())
        if doc.get("format") != FILE_FORMAT:
            raise CryptoError(f"{path} is not a Haven export-signing file")
        pdf_key = serialization.load_der_private_key(_unseal(provider, "pdf", doc["pdf_key"]), None)
        jws_key = serialization.load_der_private_key(_unseal(provider, "jws", doc["jws_key"]), None)
        if not isinstance(pdf_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) or not (
            isinstance(jws_key, ed25519.Ed25519PrivateKey)
        ):
            raise CryptoError(f"{path} holds keys of an unexpected type")
        public = _identities_of(doc)[0]
        found = Identity(public.certificate, public.chain, public.jws_certificate, pdf_key, jws_key)
        _cache.clear()
        _cache[cache_key] = found
        return found


def _identities_of(doc: dict[str, Any]) -> list[Identity]:
    """The current identity and the retired ones, certificates only."""
    out = []
    for part in [doc, *reversed(doc.get("retired", []))]:
        out.append(
            Identity(
                x509.load_pem_x509_certificate(part["certificate"].encode()),
                tuple(x509.load_pem_x509_certificate(c.encode()) for c in part.get("chain", [])),
                x509.load_pem_x509_certificate(part["jws_certificate"].encode()),
            )
        )
    return out


def published(data_dir: Path) -> list[Identity]:
    """Every identity whose public keys are published (current first); no key is unsealed."""
    path = data_dir / SIGNING_FILE
    if not path.exists():
        return []
    return _identities_of(json.loads(path.read_text()))


class _Settings(Protocol):
    @property
    def data_dir(self) -> Path: ...
    @property
    def production(self) -> bool: ...


def identity_for(session: Session) -> Identity:
    """The identity exports are signed with; a development deployment makes a self-signed one
    at its first export, production refuses to export until ``haven keys init-signing``."""
    settings: _Settings | None = session.info.get("settings")
    if settings is None:
        raise SigningUnavailable("exports cannot be signed here (no data directory)")
    provider = crypto_of(session).provider
    found = load(provider, Path(settings.data_dir))
    if found is not None:
        return found
    if settings.production:
        raise SigningUnavailable(
            "exports cannot be signed: the deployment has no export-signing key "
            "(an administrator runs `haven keys init-signing`)"
        )
    with _lock:
        if not (Path(settings.data_dir) / SIGNING_FILE).exists():
            init_signing(provider, Path(settings.data_dir), "Haven development deployment")
    found = load(provider, Path(settings.data_dir))
    assert found is not None  # written just above
    return found


# Signing ----------------------------------------------------------------------------------------
def sign_pdf(identity: Identity, pdf: bytes, *, reason: str, location: str | None = None) -> bytes:
    """A PAdES B-B signature over the whole file (an incremental update), by the PDF key."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    if identity.pdf_key is None:
        raise CryptoError("this identity is retired: it verifies, it no longer signs")
    der = serialization.Encoding.DER
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(identity.certificate.public_bytes(der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(_der(identity.pdf_key)),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_x509.Certificate.load(c.public_bytes(der)) for c in identity.chain]
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="HavenExportSignature",
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return bytes(out.getvalue())


def _jws_key(identity: Identity) -> OKPKey:
    assert identity.jws_key is not None
    return OKPKey.import_key(
        identity.jws_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def x5c(identity: Identity) -> list[str]:
    """The JSON key's certificate, then the organisation's and its chain (RFC 7515 x5c)."""
    certs = [identity.jws_certificate, identity.certificate, *identity.chain]
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in certs]


def kid(certificate: x509.Certificate) -> str:
    """A key id: the SHA-256 of the certificate's public key (SubjectPublicKeyInfo), base64url."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()


def jws_registry() -> jws.JWSRegistry:
    """EdDSA only; room for a certificate chain in the header (x5c) and a large export."""
    registry = jws.JWSRegistry(algorithms=[JWS_ALG])
    registry.max_header_length = 32_768
    registry.max_payload_length = 512 * 1024 * 1024
    registry.max_signature_length = 1024
    return registry


def sign_json(identity: Identity, payload: bytes) -> str:
    """The detached compact JWS of ``payload`` (RFC 7797: the payload is signed as is and left
    out of the signature, which travels beside the file)."""
    if identity.jws_key is None:
        raise CryptoError("this identity is retired: it verifies, it no longer signs")
    header = {
        "alg": JWS_ALG,
        "b64": False,
        "crit": ["b64"],
        "kid": kid(identity.jws_certificate),
        "x5c": x5c(identity),
        "cty": "json",
    }
    with warnings.catch_warnings():  # joserfc flags EdDSA as superseded by RFC 9864's Ed25519
        warnings.simplefilter("ignore")
        value = jws.serialize_compact(header, payload, _jws_key(identity), registry=jws_registry())
    return jws.detach_content(value)


# Publishing -------------------------------------------------------------------------------------
def jwks(identities: list[Identity]) -> dict[str, list[dict[str, Any]]]:
    """The public keys as a JWK Set (RFC 7517): each identity's JSON key and PDF key, with the
    certificate chain (x5c) and its SHA-256 thumbprint (x5t#S256)."""
    keys: list[dict[str, Any]] = []
    for identity in identities:
        chain = x5c(identity)
        jws_public = OKPKey.import_key(
            identity.jws_certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).as_dict(private=False)
        keys.append(
            {
                **jws_public,
                "kid": kid(identity.jws_certificate),
                "use": "sig",
                "alg": JWS_ALG,
                "x5c": chain,
                "x5t#S256": _thumb(identity.jws_certificate),
            }
        )
        pem = identity.certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        is_ec = isinstance(identity.certificate.public_key(), ec.EllipticCurvePublicKey)
        pdf_public = (ECKey if is_ec else RSAKey).import_key(pem).as_dict(private=False)
        keys.append(
            {
                **pdf_public,
                "kid": kid(identity.certificate),
                "use": "sig",
                "alg": "ES256" if is_ec else "RS256",
                "x5c": chain[1:],
                "x5t#S256": _thumb(identity.certificate),
            }
        )
    return {"keys": keys}


def _thumb(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def certificates_pem(identity: Identity) -> bytes:
    """The organisation's certificate, its chain and the JSON key's certificate, as PEM."""
    certs = [identity.certificate, *identity.chain, identity.jws_certificate]
    return "".join(_pem(c) for c in certs).encode()
