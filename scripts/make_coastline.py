#!/usr/bin/env python3
"""Makes the console's map data: the coastlines and borders of Korea, Japan and the Sea of Japan.

    scripts/make_coastline.py            # writes src/gsomia/console/static/coastline.json

Source: Natural Earth 1:50m Admin 0 country boundaries (version 4.1.0; public domain, "Made with Natural
Earth", naturalearthdata.com), as redistributed in TopoJSON by the npm package `world-atlas` 2.0.2
(countries-50m.json; ISC licence, Copyright 2013-2019 Michael Bostock). Nothing else is downloaded: npm
installs the package into a temporary folder that is removed afterwards.

What it does: decodes the TopoJSON arcs (quantised, delta-encoded) into rings of longitude/latitude, keeps
the countries that reach into the region (120-150°E, 25-50°N), clips every ring to the region's rectangle
(Sutherland-Hodgman), simplifies it (Douglas-Peucker, 0.01°, about 1 km) and rounds to 0.01°. The output
is a small JSON file the console draws as SVG on the server: no tile server, no network, air-gapped.

Run with Python 3.11 and npm on PATH; the output is deterministic for the same package version.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "world-atlas@2.0.2"
SOURCE_FILE = "countries-50m.json"
WEST, SOUTH, EAST, NORTH = 120.0, 25.0, 150.0, 50.0
TOLERANCE = 0.01  # degrees
OUT = Path(__file__).resolve().parents[1] / "src" / "gsomia" / "console" / "static" / "coastline.json"

Point = tuple[float, float]


def fetch_topology(folder: Path) -> dict[str, object]:
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder), PACKAGE],
                   check=True)
    path = folder / "node_modules" / "world-atlas" / SOURCE_FILE
    return dict(json.loads(path.read_text(encoding="utf-8")))


def decode_arcs(topology: dict[str, object]) -> list[list[Point]]:
    transform = topology["transform"]
    assert isinstance(transform, dict)
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = []
    for arc in topology["arcs"]:  # type: ignore[attr-defined]
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[Point]], indexes: list[int]) -> list[Point]:
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc[1:] if points else arc)  # consecutive arcs share their end points
    return points


def polygons(geometry: dict[str, object]) -> list[list[list[int]]]:
    kind, arcs = geometry.get("type"), geometry.get("arcs")
    if kind == "Polygon":
        return [arcs]  # type: ignore[list-item]
    if kind == "MultiPolygon":
        return list(arcs)  # type: ignore[call-overload]
    return []


def clip(points: list[Point]) -> list[Point]:
    """Sutherland-Hodgman against the region's rectangle, one edge at a time."""
    edges = ((lambda p: p[0] >= WEST, lambda a, b: _at_x(a, b, WEST)),
             (lambda p: p[0] <= EAST, lambda a, b: _at_x(a, b, EAST)),
             (lambda p: p[1] >= SOUTH, lambda a, b: _at_y(a, b, SOUTH)),
             (lambda p: p[1] <= NORTH, lambda a, b: _at_y(a, b, NORTH)))
    for inside, cross in edges:
        if not points:
            break
        kept: list[Point] = []
        previous = points[-1]
        for current in points:
            if inside(current):
                if not inside(previous):
                    kept.append(cross(previous, current))
                kept.append(current)
            elif inside(previous):
                kept.append(cross(previous, current))
            previous = current
        points = kept
    return points


def _at_x(a: Point, b: Point, x: float) -> Point:
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _at_y(a: Point, b: Point, y: float) -> Point:
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, iterative (a coastline has thousands of points: no recursion limit to meet)."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
        worst, at = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if length == 0:
                distance = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                distance = abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
            if distance > worst:
                worst, at = distance, i
        if worst > tolerance and at > 0:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, kept in zip(points, keep, strict=True) if kept]


def region(topology: dict[str, object]) -> list[dict[str, object]]:
    arcs = decode_arcs(topology)
    countries = []
    geometries = topology["objects"]["countries"]["geometries"]  # type: ignore[index]
    for geometry in sorted(geometries, key=lambda g: str(g.get("properties", {}).get("name", ""))):
        rings = []
        for polygon in polygons(geometry):
            for indexes in polygon:
                clipped = simplify(clip(ring(arcs, indexes)), TOLERANCE)
                flat = [round(c, 2) for point in clipped for c in point]
                if len(flat) >= 6:
                    rings.append(flat)
        if rings:
            countries.append({"name": geometry["properties"]["name"], "iso_n3": geometry.get("id"),
                              "rings": rings})
    return countries


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gsomia-coastline-") as folder:
        topology = fetch_topology(Path(folder))
    countries = region(topology)
    document = {
        "source": "Natural Earth 1:50m Admin 0 country boundaries, version 4.1.0 (naturalearthdata.com), "
                  f"via the npm package {PACKAGE} ({SOURCE_FILE})",
        "licence": "Natural Earth: public domain. world-atlas (TopoJSON redistribution): ISC, "
                   "Copyright 2013-2019 Michael Bostock.",
        "made_by": "scripts/make_coastline.py",
        "region": {"west": WEST, "south": SOUTH, "east": EAST, "north": NORTH},
        "simplified_deg": TOLERANCE,
        "countries": countries,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    points = sum(len(r) // 2 for c in countries for r in c["rings"])  # type: ignore[attr-defined]
    print(f"{OUT}: {len(countries)} countries, {points} points, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
