"""/cases/{id}/attachments and /attachments/{id}: upload encrypted, download decrypted.

Uploads are parsed here as they stream in, rather than through FastAPI's ``UploadFile``, which
would first spool the whole plaintext to a temporary file on disk: each piece of the file goes
straight into the encrypting writer, and the size limit stops the upload as soon as it is passed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote, unquote_to_bytes

import anyio.from_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from app.actor import Actor
from app.auth.deps import require
from app.auth.roles import Action
from app.cases import attachments, content_types
from app.cases.schemas import AttachmentView
from app.db import SessionDep
from app.errors import BadRequest, Unprocessable

router = APIRouter(tags=["attachments"])

FIELD = b"file"
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class AttachmentRead(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: uuid.UUID | None
    created_at: dt.datetime


# Reading the multipart body as it arrives ------------------------------------------------------
def _body(request: Request) -> Iterator[bytes]:
    """The request body, pulled from the event loop into this worker thread piece by piece."""
    stream = request.stream()

    async def following() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (piece := anyio.from_thread.run(following)) is not None:
        if piece:
            yield piece


def _events(body: Iterator[bytes], boundary: bytes) -> Iterator[tuple[str, Any]]:
    """("headers", {name: value}), ("data", bytes) and ("end", None) for each part."""
    pending: list[tuple[str, Any]] = []
    headers: dict[bytes, bytes] = {}
    field, value = bytearray(), bytearray()

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def on_headers_finished() -> None:
        pending.append(("headers", dict(headers)))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        pending.append(("data", bytes(data[start:end])))

    def on_part_end() -> None:
        pending.append(("end", None))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        for piece in body:
            parser.write(piece)
            yield from pending
            pending.clear()
        parser.finalize()
    except MultipartParseError:
        raise BadRequest("malformed multipart body") from None
    yield from pending


def _filename(disposition: bytes, options: dict[bytes, bytes]) -> str:
    extended = re.search(rb"filename\*\s*=\s*([^;]+)", disposition)
    if extended:  # RFC 5987 / 2231: charset'language'percent-encoded
        charset, _, encoded = _extended_parts(extended.group(1).strip().decode("latin-1"))
        try:
            return unquote_to_bytes(encoded).decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise Unprocessable("file: filename* is not in the charset it names") from None
    raw = options.get(b"filename", b"")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _extended_parts(value: str) -> tuple[str, str, str]:
    """(charset, language, encoded) of an RFC 5987 value; 422 when it is not one."""
    parts = value.strip('"').split("'", 2)
    if len(parts) != 3 or not parts[0]:
        raise Unprocessable("file: filename* must be charset'language'percent-encoded")
    return parts[0], parts[1], parts[2]


def _file_part(request: Request) -> attachments.Upload:
    """The upload in field ``file``; its bytes are read only as the upload is consumed."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Unprocessable("send the file as multipart/form-data, in field 'file'")
    events = _events(_body(request), boundary)
    for kind, value in events:
        if kind != "headers":
            continue
        disposition = value.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        if options.get(b"name") == FIELD and (
            b"filename" in options or b"filename*" in disposition
        ):
            return attachments.Upload(_filename(disposition, options), _part_data(events))
    raise Unprocessable("file: a file is required (multipart field 'file')")


def _part_data(events: Iterator[tuple[str, Any]]) -> Iterator[bytes]:
    try:
        for kind, value in events:
            if kind == "data":
                yield value
            elif kind == "end":
                return
    except ClientDisconnect:
        raise BadRequest("the upload was interrupted") from None
    raise BadRequest("the upload ended before the file did")


def _disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact one in RFC 5987 form."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip() or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# Routes -----------------------------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/attachments",
    status_code=201,
    response_model=AttachmentRead,
    openapi_extra=_UPLOAD_BODY,
)
def upload_attachment(
    case_id: uuid.UUID,
    request: Request,
    actor: Annotated[Actor, require(Action.ATTACHMENTS_WRITE)],
    session: SessionDep,
) -> AttachmentView:
    # The case is found in scope before a byte of the body is read.
    return attachments.upload(session, actor, case_id, lambda: _file_part(request))


@router.get("/cases/{case_id}/attachments", response_model=list[AttachmentRead])
def list_attachments(
    case_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> list[AttachmentView]:
    return attachments.list_on_case(session, actor, case_id)


@router.get(
    "/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {content_type: {} for content_type in content_types.SNIFFED}}},
)
def download_attachment(
    attachment_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.CASES_READ)],
    session: SessionDep,
) -> StreamingResponse:
    attachment, filename, chunks = attachments.download(session, actor, attachment_id)
    return StreamingResponse(
        chunks,
        media_type=attachment.content_type,
        headers={
            "Content-Length": str(attachment.size),
            "Content-Disposition": _disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
            "X-Content-SHA256": attachment.sha256,
        },
    )
