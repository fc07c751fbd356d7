"""`gsomia backup` and `gsomia restore`: a node's records and keys in one archive, and back.

The archive is a tar file (mode 0600) holding:

    MANIFEST.json        format, party, node id, database kind and schema revision, and for every other
                         member its size and SHA-256: restore refuses an archive whose members differ from it
    database/gsomia.db   SQLite: a consistent copy (sqlite3 backup API), or
    database/dump.cbor   PostgreSQL: every table read in one REPEATABLE READ transaction (storage/snapshot.py)
    data/…               the rest of the data directory: settings, partners, certificates, the private keys
                         as they are on disk (encrypted with the node's passphrase: the archive holds no key
                         in clear, and restoring needs the same passphrase), other SQLite files copied consistently
    keys/…               the keys directory, when the settings put it outside the data directory

The digests find a damaged or altered copy. The archive is as secret as the data directory it copies: keep it
where the node's data may be (the content inside is sealed at rest, and tokens are stored only as digests).

Restore writes into an EMPTY data directory (and, for PostgreSQL, the EMPTY database or schema the restored
settings name; GSOMIA_DATABASE_URL / GSOMIA_DATABASE_SCHEMA may point elsewhere), then migrates to this
release's schema. Nothing is written where something is already.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import IO, Any

from gsomia.config import Settings, load_settings
from gsomia.storage.engine import open_engine
from gsomia.storage.snapshot import SnapshotError, copy_sqlite, dump_tables, is_sqlite_file, restore_tables

FORMAT = "gsomia-backup/1"
MANIFEST = "MANIFEST.json"
SQLITE_COPY = "database/gsomia.db"
PG_DUMP = "database/dump.cbor"
SIDECARS = ("-wal", "-shm", "-journal")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
CHUNK = 1024 * 1024

# (what, done, total): the step under way and how far it is, for a progress bar.
Progress = Callable[[str, int, int], None]


class BackupError(ValueError):
    """The backup or restore cannot be made as asked; the message says why and nothing was left half-done."""


@dataclass(frozen=True, slots=True)
class Summary:
    archive: Path
    party: str
    database: str  # sqlite | postgresql
    revision: str | None
    files: int
    size: int


def backup(settings: Settings, archive: Path, progress: Progress | None = None) -> Summary:
    """A consistent snapshot of the node's store and its key files, in one new archive."""
    data = settings.data_dir.resolve()
    archive = archive.resolve()
    if archive.exists():
        raise BackupError(f"{archive} exists already: name a new file")
    if archive.is_relative_to(data):
        raise BackupError("the archive cannot be written inside the data directory it copies")
    staging = Path(tempfile.mkdtemp(prefix=".gsomia-backup-", dir=archive.parent))
    try:
        database_file = _sqlite_path(settings)
        for path in sorted(p for p in data.rglob("*") if p.is_file() and not p.is_symlink()):
            if database_file is not None and _same_database(path, database_file):
                continue
            if path.name.endswith(SIDECARS):
                continue
            _copy(path, staging / "data" / path.relative_to(data), progress)
        keys = settings.effective_keys_dir.resolve()
        if not keys.is_relative_to(data):
            for path in sorted(p for p in keys.rglob("*") if p.is_file() and not p.is_symlink()):
                _copy(path, staging / "keys" / path.relative_to(keys), progress)
        rows = None
        if database_file is not None:
            kind, revision = "sqlite", _snapshot_sqlite(database_file, staging / SQLITE_COPY, progress)
        else:
            kind, (revision, rows) = "postgresql", _dump_postgresql(settings, staging / PG_DUMP, progress)
        files = {str(p.relative_to(staging).as_posix()): _digest(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        manifest = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat(), "party": settings.party,
                    "node_id": settings.node_id, "database": kind, "revision": revision, "rows": rows,
                    "keys_outside_data": not keys.is_relative_to(data), "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        _write_tar(staging, [MANIFEST, *files], archive, progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Summary(archive, settings.party, kind, revision, len(files), archive.stat().st_size)


def restore(archive: Path, data_dir: Path, progress: Progress | None = None) -> Summary:
    """The archive's node into the empty `data_dir` (and its empty database, for PostgreSQL)."""
    data = data_dir.resolve()
    existed = data.exists()
    if existed and any(data.iterdir()):
        raise BackupError(f"{data} is not empty: restore into a new data directory")
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gsomia-restore-", dir=data.parent))
    try:
        manifest = _extract(archive, staging, progress)
        for path in sorted((staging / "data").rglob("*")):
            target = data / path.relative_to(staging / "data")
            if path.is_dir():
                target.mkdir(mode=0o700, exist_ok=True)
            else:
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.replace(path, target)
        settings = load_settings(data)
        _restore_keys(manifest, staging, settings)
        _restore_database(manifest, staging, settings, progress)
    except BaseException:
        # Nothing half-restored is left behind; a directory that was there (a mount point, say) stays, empty.
        for path in list(data.iterdir()) if existed else [data]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Summary(data, str(manifest["party"]), str(manifest["database"]), manifest.get("revision"),
                   len(manifest["files"]), archive.stat().st_size)


def _sqlite_path(settings: Settings) -> Path | None:
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        return None
    return Path(url.split(":///", 1)[1]).resolve()


def _same_database(path: Path, database: Path) -> bool:
    name = path.name
    for suffix in SIDECARS:
        name = name.removesuffix(suffix)
    return path.with_name(name).resolve() == database


def _copy(source: Path, target: Path, progress: Progress | None) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if is_sqlite_file(source):  # e.g. the feed's replay store: one committed state, not a torn file
        copy_sqlite(source, target)
    else:
        shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    if progress is not None:
        progress(f"files: {source.name}", 1, 1)


def _snapshot_sqlite(database: Path, target: Path, progress: Progress | None) -> str | None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy_sqlite(database, target, (lambda done, total: progress("database", done, total)) if progress else None)
    with sqlite3.connect(target) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    conn.close()
    return str(row[0]) if row else None


def _dump_postgresql(settings: Settings, target: Path, progress: Progress | None) -> tuple[str | None, int]:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = open_engine(settings.effective_database_url, schema=settings.database_schema)
    try:
        with target.open("wb") as out:
            return dump_tables(engine, out, (lambda d, t: progress("database", d, t)) if progress else None)
    finally:
        engine.dispose()


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            sha.update(block)
    return {"sha256": sha.hexdigest(), "size": path.stat().st_size}


def _write_tar(staging: Path, names: list[str], archive: Path, progress: Progress | None) -> None:
    partial = archive.with_name(archive.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    total = sum((staging / n).stat().st_size for n in names)
    done = 0
    try:
        with os.fdopen(descriptor, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in names:
                info = tar.gettarinfo(str(staging / name), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with (staging / name).open("rb") as file:
                    tar.addfile(info, file)
                done += info.size
                if progress is not None:
                    progress("archive", done, total)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, archive)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _extract(archive: Path, staging: Path, progress: Progress | None) -> dict[str, Any]:
    """Every member checked against the manifest (name, size, SHA-256) as it is written to `staging`."""
    try:
        tar = tarfile.open(archive, mode="r:")
    except (OSError, tarfile.TarError) as bad:
        raise BackupError(f"cannot read {archive}: {bad}") from None
    with tar:
        first = tar.next()
        if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST_BYTES:
            raise BackupError(f"{archive} is not a gsomia backup: it does not start with its {MANIFEST}")
        manifest = _manifest(tar.extractfile(first))
        expected: dict[str, dict[str, Any]] = manifest["files"]
        total, done, seen = sum(int(f["size"]) for f in expected.values()), 0, set()
        for member in tar:  # from the first member again (tarfile keeps those read), then on
            if member is first:
                continue
            name = member.name
            if name not in expected or name in seen or not member.isfile() or not _safe(name):
                raise BackupError(f"{archive}: member {name!r} is not one its manifest lists")
            if member.size != expected[name]["size"]:
                raise BackupError(f"{archive}: {name} is {member.size} bytes, its manifest says "
                                  f"{expected[name]['size']}")
            target = staging / name
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            sha = hashlib.sha256()
            source = tar.extractfile(member)
            assert source is not None  # a regular file
            with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                while block := source.read(CHUNK):
                    sha.update(block)
                    out.write(block)
            if sha.hexdigest() != expected[name]["sha256"]:
                raise BackupError(f"{archive}: {name} does not match its SHA-256 in the manifest (damaged or altered)")
            seen.add(name)
            done += member.size
            if progress is not None:
                progress("archive", done, total)
        if missing := sorted(set(expected) - seen):
            raise BackupError(f"{archive} lacks members its manifest lists: {', '.join(missing[:5])}")
    return manifest


def _manifest(file: IO[bytes] | None) -> dict[str, Any]:
    try:
        manifest = json.loads(file.read() if file is not None else b"")
    except (ValueError, UnicodeDecodeError) as bad:
        raise BackupError(f"the backup's manifest is not JSON: {bad}") from None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or not isinstance(manifest.get("files"), dict)):
        raise BackupError(f"the backup's manifest is not of format {FORMAT}")
    if manifest.get("database") not in ("sqlite", "postgresql"):
        raise BackupError("the backup's manifest names no known database kind")
    for name, entry in manifest["files"].items():
        if not (_safe(name) and isinstance(entry, dict) and isinstance(entry.get("size"), int)
                and isinstance(entry.get("sha256"), str)):
            raise BackupError(f"the backup's manifest lists {name!r} wrongly")
    return manifest


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return (not path.is_absolute() and ".." not in path.parts and bool(path.parts)
            and path.parts[0] in ("data", "keys", "database"))


def _restore_keys(manifest: dict[str, Any], staging: Path, settings: Settings) -> None:
    if not manifest.get("keys_outside_data"):
        return
    keys = settings.effective_keys_dir
    if keys.exists() and any(keys.iterdir()):
        raise BackupError(f"the keys directory {keys} is not empty: point keys_dir at a new directory")
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in sorted((staging / "keys").rglob("*")):
        target = keys / path.relative_to(staging / "keys")
        if path.is_dir():
            target.mkdir(mode=0o700, exist_ok=True)
        else:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(path, target)


def _restore_database(manifest: dict[str, Any], staging: Path, settings: Settings,
                      progress: Progress | None) -> None:
    database = _sqlite_path(settings)
    if (database is None) != (manifest["database"] == "postgresql"):
        raise BackupError(f"the backup holds a {manifest['database']} database, the restored settings name "
                          f"{'SQLite' if database is not None else 'PostgreSQL'}: set GSOMIA_DATABASE_URL to match")
    if database is not None:
        if database.exists():
            raise BackupError(f"{database} exists already")
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.move(staging / SQLITE_COPY, database)
        os.chmod(database, 0o600)
        from gsomia.storage import upgrade_to_head

        engine = open_engine(settings.effective_database_url)
        try:
            upgrade_to_head(engine)  # a backup from an earlier release is brought to this one's schema
        finally:
            engine.dispose()
        return
    revision = manifest.get("revision")
    if not isinstance(revision, str):
        raise BackupError("the backup's manifest names no schema revision")
    engine = open_engine(settings.effective_database_url, schema=settings.database_schema)
    try:
        with (staging / PG_DUMP).open("rb") as dump:
            restore_tables(engine, dump, revision, (lambda d, t: progress("database", d, t)) if progress else None,
                           total=int(manifest.get("rows") or 0))
    except SnapshotError as bad:
        raise BackupError(str(bad)) from None
    finally:
        engine.dispose()
