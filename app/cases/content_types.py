"""What an uploaded file is, from its first bytes: the client's Content-Type is never trusted."""

from __future__ import annotations

import codecs
import unicodedata

OCTET_STREAM = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# A small magic-number table rather than libmagic: no native dependency, and only these few
# types are ever labelled as anything but application/octet-stream.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_TEXT_CONTROLS = frozenset("\t\n\r\f")

# Every type ``sniff`` can answer, which is what a download may be served as.
SNIFFED = (
    OCTET_STREAM,
    *dict.fromkeys(content_type for _, content_type in _MAGIC),
    "image/webp",
    DOCX,
    "application/zip",
    "text/plain",
)


def sniff(head: bytes, *, complete: bool) -> str:
    """The content type of a file from its first bytes (``complete``: they are all of it)."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        # A DOCX is a ZIP whose members live under word/; their names sit in the local headers.
        return DOCX if b"word/" in head else "application/zip"
    if head and _is_text(head, complete=complete):
        return "text/plain; charset=utf-8"
    return OCTET_STREAM


def _is_text(head: bytes, *, complete: bool) -> bool:
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS for ch in text)
