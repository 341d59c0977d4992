"""The evidence bundle: a BagIt bag (RFC 8493, the Library of Congress ``bagit`` library) in a ZIP.

::

    haven-case-<case>-<when>/
      bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
      data/case-export.pdf          the signed PDF (PAdES)
      data/case-export.json         the JSON export
      data/case-export.json.jws     its detached JWS (RFC 7515/7797, EdDSA)
      data/signing-certificate.pem  the organisation's certificate (+ chain, + the JSON key's)
      data/attachments/01-<name>    the case's files, decrypted (as of the bundle's moment)

The manifests let anyone see that a file changed; the signatures say who stands behind the
content, and the signed JSON lists every attachment's SHA-256, so a file swapped together with
its manifest line is caught too (``haven verify-export``).
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import bagit
from sqlalchemy.orm import Session

from app import __version__
from app.actor import Actor
from app.cases import attachments, signing

if TYPE_CHECKING:
    from app.cases.export import Bundle

PDF_NAME = "case-export.pdf"
JSON_NAME = "case-export.json"
JWS_NAME = "case-export.json.jws"
CERT_NAME = "signing-certificate.pem"
ATTACHMENTS_DIR = "attachments"

# bagit logs every file it hashes by name; attachment names can identify a person.
logging.getLogger("bagit").setLevel(logging.WARNING)


def attachment_name(index: int, filename: str) -> str:
    """Numbered so that two files of one name both stay; cleaned of path separators."""
    return f"{index:02d}-{attachments.clean_filename(filename) or 'file'}"


def build(
    session: Session,
    actor: Actor,
    bundle: Bundle,
    pdf: bytes,
    body: bytes,
    identity: signing.Identity,
) -> bytes:
    """The bag of the bundle, its signed PDF and its JSON ``body``, zipped."""
    case_id = str(bundle["case"]["id"])
    stamp = bundle["generated_at"].strftime("%Y%m%dT%H%M%SZ")
    root = f"haven-case-{case_id}-{stamp}"
    with tempfile.TemporaryDirectory(prefix="haven-bag-") as scratch:
        folder = Path(scratch) / root
        folder.mkdir(mode=0o700)
        (folder / PDF_NAME).write_bytes(pdf)
        (folder / JSON_NAME).write_bytes(body)
        (folder / JWS_NAME).write_text(signing.sign_json(identity, body) + "\n")
        (folder / CERT_NAME).write_bytes(signing.certificates_pem(identity))
        files = bundle.get("attachments", [])
        if files:
            (folder / ATTACHMENTS_DIR).mkdir(mode=0o700)
        for index, item in enumerate(files, start=1):
            _meta, _name, chunks = attachments.download(session, actor, item["id"])  # audited
            with (folder / ATTACHMENTS_DIR / attachment_name(index, item["filename"])).open(
                "wb"
            ) as handle:
                for chunk in chunks:
                    handle.write(chunk)
        by = bundle["generated_by"]
        bagit.make_bag(
            str(folder),
            {
                "Source-Organization": by["organisation"] or "Haven",
                "External-Identifier": f"haven-case:{case_id}",
                "External-Description": "Haven case export: the case and its person's record as "
                "they stood at Haven-As-Of, signed by the organisation.",
                "Haven-Case": case_id,
                "Haven-As-Of": bundle["as_of"].isoformat(),
                "Haven-Generated-At": bundle["generated_at"].isoformat(),
                "Haven-Generated-By": f"{by['username']} ({by['role']}, {by['organisation']})",
                "Haven-Version": __version__,
                "Haven-Signer": identity.signer,
                "Haven-Signer-Certificate-SHA256": identity.fingerprint,
            },
            checksums=["sha256"],
        )
        return _zipped(Path(scratch), root)


def _zipped(scratch: Path, root: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((scratch / root).rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(scratch).as_posix())
    return out.getvalue()
