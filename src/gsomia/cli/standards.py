"""The field's formats from the command line, as the API has them (api/routes/standards.py):

- `gsomia items export-4778 ITEM` / `import-4778 FILE`: an item as a STANAG 4778 binding data object (XML:
  its STANAG 4774 label and content bound by the node's signature), out (a read, decided and audited) and
  back in (checked whole, then originated through the originate decision; a refusal is audited).
- `gsomia items check-label FILE`: a STANAG 4774 XML label read, checked and shown as this node maps it.
- `gsomia feed export STREAM --format geojson|kml`: a stream's trajectory and impact area for GIS tools,
  from the node's replay store, after the read decision (audited as `feed.export`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gsomia.cli.feed import app as feed_app
from gsomia.cli.items import app as items_app
from gsomia.cli.options import DataOption, JsonOption

Out = Annotated[Path | None, typer.Option("--out", help="Write it here (0600) instead of standard output.")]


def _read(path: Path, limit: int) -> bytes:
    from gsomia.cli.output import fail

    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as bad:
        fail(f"{path}: {bad.strerror}")
    if len(data) > limit:
        fail(f"{path}: over {limit} bytes")
    return data


def _emit(data: bytes, output: Path | None) -> None:
    from gsomia.cli.output import write_private

    if output is not None:
        write_private(output, data)
    else:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")


@items_app.command("export-4778")
def export_4778(data: DataOption, item_id: str, output: Out = None,
                purpose: Annotated[str | None, typer.Option(help="The purpose of this use (R6.b).")] = None,
                as_json: JsonOption = False) -> None:
    """The item as a STANAG 4778 binding data object (XML), if the policy lets you read it (audited)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import print_json
    from gsomia.services import stanag4778

    with session(data, keys=True) as (node, actor):
        document = stanag4778.export_item(node, actor, item_id, purpose=purpose)
    if as_json:
        if output is not None:
            _emit(document, output)
        print_json({"item_id": item_id, "bytes": len(document), "out": str(output) if output else None,
                    "document": None if output else document.decode()})
        return
    _emit(document, output)


@items_app.command("import-4778")
def import_4778(data: DataOption, file: Path, as_json: JsonOption = False) -> None:
    """Originate an item from a STANAG 4778 binding data object this node bound (every check first)."""
    from gsomia.cli.items import item_json
    from gsomia.cli.node import session
    from gsomia.cli.output import print_fields
    from gsomia.domain.stanag4778 import MAX_OBJECT_BYTES
    from gsomia.services import stanag4778

    document = _read(file, MAX_OBJECT_BYTES)
    with session(data, keys=True) as (node, actor):
        item = stanag4778.import_object(node, actor, document)
    print_fields(item_json(item), as_json)


@items_app.command("check-label")
def check_label(data: DataOption, file: Path, as_json: JsonOption = False) -> None:
    """Read a STANAG 4774 XML label and show it as this node maps it (exit 2 and the reason if it cannot)."""
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, print_fields
    from gsomia.domain.stanag4774 import MAX_LABEL_BYTES, LabelFormatError, read_label

    text = _read(file, MAX_LABEL_BYTES)
    with session(data) as (node, _):
        try:
            label = read_label(text, node.schemes)
        except LabelFormatError as bad:
            fail(f"{file}: {bad}")
        fields = {"banner": label.banner(node.schemes), **label.to_dict()}
    print_fields(fields, as_json)


@feed_app.command("export")
def export_stream(data: DataOption, stream: str,
                  fmt: Annotated[str, typer.Option("--format", help="geojson or kml.")] = "geojson",
                  output: Out = None, as_json: JsonOption = False) -> None:
    """A stream's trajectory, launch point and impact area as GeoJSON (RFC 7946) or KML, marked with its banner;
    from the node's replay store, if you may read the stream (audited)."""
    from gsomia.cli.feed import _held
    from gsomia.cli.node import session
    from gsomia.cli.output import fail, print_json
    from gsomia.services import feed_geo

    if fmt not in ("geojson", "kml"):
        fail("--format: geojson or kml")
    with session(data) as (node, actor):
        document = feed_geo.export(node, _held(node), actor, stream, "kml" if fmt == "kml" else "geojson")
    if as_json and fmt == "geojson" and output is None:
        import json

        print_json(json.loads(document))
        return
    _emit(document, output)
