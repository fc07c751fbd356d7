"""`gsomia backup` and `gsomia restore`: the node's records and keys in one archive, and back
(services/backup.py says what the archive holds and how it is checked)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gsomia.cli.options import DataOption, JsonOption

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from gsomia.services.backup import Progress

ArchiveArgument = Annotated[Path, typer.Argument(help="The archive (a tar file).")]


def backup_command(data: DataOption, archive: ArchiveArgument, as_json: JsonOption = False) -> None:
    """A consistent snapshot of the node's database and its key files (private keys still encrypted) in a
    new archive, with a manifest of SHA-256 digests. The node may keep running."""
    from gsomia.cli.output import fail
    from gsomia.config import ConfigError, load_settings
    from gsomia.services.backup import BackupError, backup

    try:
        settings = load_settings(data)
        with _progress(as_json) as progress:
            summary = backup(settings, archive, progress)
    except (ConfigError, BackupError) as bad:
        fail(str(bad))
    except OSError as bad:
        fail(f"cannot write the backup: {bad}", code=1)
    _report("backed up", summary, as_json)


def restore_command(archive: ArchiveArgument, data: DataOption, as_json: JsonOption = False) -> None:
    """The archive's node into an EMPTY data directory (and, for PostgreSQL, the empty database or schema its
    settings or GSOMIA_DATABASE_URL / GSOMIA_DATABASE_SCHEMA name), every file checked against the manifest,
    then migrated to this release's schema. The node's key passphrase is the one it had."""
    from gsomia.cli.output import fail
    from gsomia.config import ConfigError
    from gsomia.services.backup import BackupError, restore

    try:
        with _progress(as_json) as progress:
            summary = restore(archive, data, progress)
    except (ConfigError, BackupError) as bad:
        fail(str(bad))
    except OSError as bad:
        fail(f"cannot restore: {bad}", code=1)
    _report("restored", summary, as_json)


def _progress(quiet: bool) -> AbstractContextManager[Progress | None]:
    """A Rich progress bar on stderr, one task per step (files, database, archive)."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from gsomia.cli.output import err

    @contextmanager
    def bar() -> Iterator[Progress | None]:
        if quiet:
            yield None
            return
        tasks: dict[str, TaskID] = {}
        with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err(), transient=True) as shown:
            def report(what: str, done: int, total: int) -> None:
                step = what.split(":", 1)[0]
                if step not in tasks:
                    tasks[step] = shown.add_task(step, total=None)
                if step == "files":
                    shown.update(tasks[step], advance=done, description=what[:60])
                else:
                    shown.update(tasks[step], completed=done, total=max(total, done))

            yield report

    return bar()


def _report(verb: str, summary: object, as_json: bool) -> None:
    from gsomia.cli.output import out, print_json
    from gsomia.services.backup import Summary

    assert isinstance(summary, Summary)
    if as_json:
        print_json({"archive" if verb == "backed up" else "data": str(summary.archive), "party": summary.party,
                    "database": summary.database, "revision": summary.revision, "files": summary.files,
                    "size": summary.size})
        return
    out().print(f"{verb} {summary.party} node ({summary.database}, schema {summary.revision}): "
                f"{summary.files} files checked by SHA-256; {summary.archive}")
