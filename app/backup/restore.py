"""``haven restore``: check the whole backup, write it into an empty database and data folder,
then prove the result.

Nothing is written until every part of the file has opened under the keyring and matched the
manifest's hash: a flipped byte anywhere is refused with the target untouched. Rows go in one
transaction, in foreign-key order (a column naming a row not yet written, such as a merged
person's ``merged_into_id``, is filled in afterwards), so an interrupted restore leaves an empty
database. The proof reads the restored deployment as Haven would: the audit chain verifies
against the restored checkpoints and signed head, every data key unwraps under the keyring, a
sample of every table's sealed values decrypts, and each table holds the manifest's count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Integer, delete, func, inspect, select, update
from sqlalchemy.orm import Session

from app import migrate
from app.backup.archive import MANIFEST, FileInfo, Manifest, decoder
from app.backup.container import BackupError, DecryptingReader, decrypt_chunks, read_header
from app.crypto.envelope import OVERHEAD, CryptoError, DataKey, FieldSlot, header_key_id
from app.crypto.keyring import KeyProvider, wrap_aad
from app.models import Base, RecordKey

Progress = Callable[[str, int, int], None]
SAMPLE = 3  # sealed values checked per column
_INSERT_BATCH = 2000


class RestoreRefused(BackupError):
    """The target is not empty, or the backup does not fit this Haven."""


def _members(path: Path, index_root: bytes) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    with path.open("rb") as source:
        header = read_header(source)
        reader = DecryptingReader(decrypt_chunks(source, header, index_root))
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    if not info.isfile():
                        raise BackupError(f"unexpected entry {info.name!r} in the backup")
                    handle = tar.extractfile(info)
                    if handle is None:
                        raise BackupError(f"unreadable entry {info.name!r} in the backup")
                    yield info, handle
        except tarfile.TarError as exc:
            raise BackupError(f"the backup's contents are damaged ({exc})") from None


def check(path: Path, index_root: bytes, progress: Progress | None = None) -> Manifest:
    """Read the whole backup, writing nothing: every chunk authenticates, every entry matches
    the manifest (written last) and none is missing or extra. Returns the manifest."""
    seen: dict[str, str] = {}
    manifest: Manifest | None = None
    total = path.stat().st_size
    done = 0
    for info, handle in _members(path, index_root):
        data = handle.read()
        done += len(data)
        if progress:
            progress("checking", min(done, total), total)
        if info.name == MANIFEST:
            try:
                manifest = json.loads(data)
            except ValueError:
                raise BackupError("the backup's manifest is damaged") from None
            continue
        if manifest is not None:
            raise BackupError("the backup has entries after its manifest")
        seen[info.name] = hashlib.sha256(data).hexdigest()
    if manifest is None:
        raise BackupError("the backup has no manifest")
    expected: dict[str, str] = {}
    for table in manifest["tables"].values():
        for part in table["parts"]:
            expected[part["name"]] = part["sha256"]
    for name, file_info in manifest["files"].items():
        expected[f"files/{name}"] = file_info["sha256"]
    for name in sorted(expected.keys() | seen.keys()):
        if name not in seen:
            raise BackupError(f"the backup lacks {name}, which its manifest lists")
        if name not in expected:
            raise BackupError(f"the backup holds {name}, which its manifest does not list")
        if seen[name] != expected[name]:
            raise BackupError(f"{name} in the backup does not match its hash in the manifest")
    return manifest


# The target --------------------------------------------------------------------------------
def database_is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in names and conn.scalar(select(func.count()).select_from(table)):
                if table.name in _SEEDED:
                    continue
                return False
    return True


# One-row tables a migration fills in (counters, deployment state): rewritten from the backup.
_SEEDED = frozenset({"auth_generation", "key_erasure", "deployment_lock", "audit_head"})


def data_dir_is_empty(data_dir: Path, allowed: set[Path]) -> bool:
    if not data_dir.exists():
        return True
    for entry in data_dir.iterdir():
        if entry.absolute() in allowed or entry.name.startswith("."):
            continue
        if entry.is_dir() and not any(entry.iterdir()):
            continue
        return False
    return True


# Writing ---------------------------------------------------------------------------------------
def _write_file(data_dir: Path, name: str, data: bytes) -> None:
    target = (data_dir / name).resolve()
    if not target.is_relative_to(data_dir.resolve()) or ".." in Path(name).parts:
        raise BackupError(f"the backup names a file outside the data folder: {name!r}")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _deferred_columns(done: set[str], table_name: str) -> set[str]:
    table = Base.metadata.tables[table_name]
    out = set()
    for fk in table.foreign_keys:
        target = fk.column.table.name
        if target == table_name or target not in done:
            out.add(fk.parent.name)
    return out


def _reset_sequences(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        pks = list(table.primary_key.columns)
        if len(pks) != 1 or not isinstance(pks[0].type, Integer):
            continue
        seq = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(t)s, %(c)s)", {"t": table.name, "c": pks[0].name}
        ).scalar()
        if seq:
            top = conn.scalar(select(func.max(pks[0])))  # names from Haven's own metadata
            conn.exec_driver_sql(
                "SELECT setval(%(s)s, %(v)s, false)", {"s": seq, "v": (top or 0) + 1}
            )


def write(
    path: Path,
    index_root: bytes,
    engine: Engine,
    data_dir: Path,
    manifest: Manifest,
    progress: Progress | None = None,
) -> None:
    """Pass two, after ``check``: schema, rows and files."""
    head = migrate.head_revisions()
    if set(manifest["revisions"]) != head:
        raise RestoreRefused(
            f"the backup's schema is {', '.join(manifest['revisions']) or 'unknown'}, this "
            f"Haven's is {', '.join(sorted(head))}: restore with the Haven version that made "
            "it, then upgrade"
        )
    migrate.upgrade(engine)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    total = sum(t["rows"] for t in manifest["tables"].values()) + len(manifest["files"])
    done = 0
    inserted: set[str] = set()
    later: list[tuple[str, dict[str, Any]]] = []
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        current: str | None = None
        deferred: set[str] = set()
        decoders: list[Callable[[Any], Any]] = []
        names: list[str] = []
        for info, handle in _members(path, index_root):
            if info.name == MANIFEST:
                continue
            data = handle.read()
            if info.name.startswith("files/"):
                _write_file(data_dir, info.name.removeprefix("files/"), data)
                done += 1
            else:
                table_name = info.name.split("/")[1]
                if table_name not in Base.metadata.tables:
                    raise RestoreRefused(f"the backup holds a table this Haven lacks: {table_name}")
                table = Base.metadata.tables[table_name]
                if table_name != current:
                    if current is not None:
                        inserted.add(current)
                    current = table_name
                    names = manifest["tables"][table_name]["columns"]
                    by_name = {c.name: c for c in table.columns}
                    if set(names) != set(by_name):
                        raise RestoreRefused(f"the table {table_name} differs from this Haven's")
                    decoders = [decoder(by_name[n]) for n in names]
                    deferred = _deferred_columns(inserted, table_name)
                pk = [c.name for c in table.primary_key.columns]
                batch: list[dict[str, Any]] = []
                for line in data.splitlines():
                    values = json.loads(line)
                    row = {n: d(v) for n, d, v in zip(names, decoders, values, strict=True)}
                    if deferred:
                        held = {c: row[c] for c in deferred if row[c] is not None}
                        if held:
                            later.append((table_name, {**{k: row[k] for k in pk}, **held}))
                            row.update({c: None for c in held})
                    batch.append(row)
                    if len(batch) >= _INSERT_BATCH:
                        conn.execute(table.insert(), batch)
                        batch = []
                if batch:
                    conn.execute(table.insert(), batch)
                done += data.count(b"\n")
            if progress:
                progress("restoring", done, total)
        for table_name, values in later:
            table = Base.metadata.tables[table_name]
            pk = [c.name for c in table.primary_key.columns]
            conn.execute(
                update(table)
                .where(*(table.c[k] == values[k] for k in pk))
                .values({k: v for k, v in values.items() if k not in pk})
            )
        _reset_sequences(conn)


# Proof -----------------------------------------------------------------------------------------
@dataclass
class Proof:
    chain: str = ""
    chain_ok: bool = False
    keys: int = 0
    key_failures: int = 0
    decrypted: dict[str, int] = field(default_factory=dict)
    undecrypted: dict[str, int] = field(default_factory=dict)
    count_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    missing_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.chain_ok
            and not self.key_failures
            and not self.undecrypted
            and not self.count_mismatches
            and not self.missing_files
        )

    def lines(self) -> list[str]:
        sealed = sum(self.decrypted.values())
        out = [
            f"audit chain: {self.chain}",
            f"data keys: {self.keys - self.key_failures} of {self.keys} unwrap",
            f"sealed values: {sealed} sampled in {len(self.decrypted)} tables decrypt"
            + (
                f"; {sum(self.undecrypted.values())} do not ({', '.join(sorted(self.undecrypted))})"
                if self.undecrypted
                else ""
            ),
            "row counts: "
            + (
                "every table matches the manifest"
                if not self.count_mismatches
                else "; ".join(
                    f"{t} has {got}, the manifest says {want}"
                    for t, (want, got) in sorted(self.count_mismatches.items())
                )
            ),
        ]
        if self.missing_files:
            out.append(f"files missing after restore: {len(self.missing_files)}")
        return out


def _slot_candidates() -> list[FieldSlot]:
    """Every (table, field) a sealed value may be bound to: the SQL table and its column's
    name with the ``_ct`` suffix (and without it), which is how Haven names its slots."""
    names: set[tuple[str, str]] = set()
    tables = list(Base.metadata.tables)
    for table in Base.metadata.tables.values():
        for column in table.columns:
            base = column.name.removesuffix("_ct").removesuffix("_sealed")
            for owner in tables:
                names.add((owner, base))
                names.add((owner, column.name))
    return [FieldSlot(t, c) for t, c in sorted(names)]


def prove(
    session: Session,
    provider: KeyProvider,
    data_dir: Path,
    manifest: Manifest,
    verify_chain: Callable[[Session], tuple[bool, str]],
) -> Proof:
    proof = Proof()
    proof.chain_ok, proof.chain = verify_chain(session)
    # Every data key unwraps.
    keys: dict[int, DataKey] = {}
    for key_id, owner_id, version, wrapped in session.execute(
        select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped).where(
            RecordKey.wrapped.is_not(None)
        )
    ):
        proof.keys += 1
        assert wrapped is not None  # the query leaves erased keys out
        try:
            material = provider.unwrap(version, wrapped, wrap_aad(owner_id, key_id, version))
            keys[key_id] = DataKey.from_bytes(key_id, owner_id, material)
        except CryptoError:
            proof.key_failures += 1
    # A sample of every table's sealed values decrypts.
    candidates = _slot_candidates()
    for table in Base.metadata.sorted_tables:
        if "id" not in table.c or table.name == "record_key":
            continue
        for column in table.columns:
            if column.type.python_type is not bytes:
                continue
            rows = session.execute(
                select(table.c.id, column).where(column.is_not(None)).limit(SAMPLE * 4)
            ).all()
            checked = 0
            for row_id, sealed in rows:
                if checked >= SAMPLE or not isinstance(row_id, uuid.UUID):
                    break
                if len(sealed) < OVERHEAD or sealed[:2] != b"\x01\x01":
                    break  # not a sealed column (hashes, digests)
                key = keys.get(header_key_id(sealed))
                if key is None:
                    continue  # its key was erased: noise by design
                checked += 1
                if _opens(key, sealed, row_id, candidates, table.name, column.name):
                    proof.decrypted[table.name] = proof.decrypted.get(table.name, 0) + 1
                else:
                    proof.undecrypted[table.name] = proof.undecrypted.get(table.name, 0) + 1
    # Counts match the manifest.
    for name, info in manifest["tables"].items():
        got = session.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0
        if got != info["rows"]:
            proof.count_mismatches[name] = (info["rows"], got)
    for name, file_info in manifest["files"].items():
        if not _file_matches(data_dir / name, file_info):
            proof.missing_files.append(name)
    return proof


def _opens(
    key: DataKey,
    sealed: bytes,
    row_id: uuid.UUID,
    candidates: list[FieldSlot],
    table: str,
    column: str,
) -> bool:
    base = column.removesuffix("_ct")
    likely = [FieldSlot(table, base), FieldSlot(table, column)]
    for slot in likely + candidates:
        with contextlib.suppress(CryptoError):
            key.open(slot.context(row_id, key.subject_id), sealed)
            return True
    return False


def _file_matches(path: Path, info: FileInfo) -> bool:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    return len(data) == info["size"] and hashlib.sha256(data).hexdigest() == info["sha256"]
