"""The missile-warning map's fixed picture: the region's coastlines and borders as SVG paths, drawn on the
server from `static/coastline.json` (Natural Earth 1:50m, public domain; made by scripts/make_coastline.py,
which names its source and licence), with a graticule and a few place names. No tile server, no network.

Projection: equirectangular, longitudes shrunk by the cosine of the region's middle latitude, so that
distances read true enough at these latitudes. The page's script draws the tracks with the same numbers
(the SVG's data attributes), so a launch point lands where the server would have put it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

COASTLINE = Path(__file__).parent / "static" / "coastline.json"
SCALE = 30.0  # SVG units per degree of latitude

# Pyongyang's name is written to the left of its dot: launch sites lie just beside it.
PLACES = (("Seoul", 126.98, 37.57), ("Pyongyang", 125.75, 39.02), ("Tokyo", 139.69, 35.69),
          ("Busan", 129.08, 35.18), ("Sapporo", 141.35, 43.06), ("Beijing", 116.4, 39.9),
          ("Vladivostok", 131.89, 43.12), ("Okinawa", 127.68, 26.21))
LEFTWARDS = {"Pyongyang"}
SEAS = (("Sea of Japan", 134.5, 40.5), ("Yellow Sea", 123.0, 36.0), ("Pacific Ocean", 144.5, 31.0),
        ("East China Sea", 125.0, 29.5))


@dataclass(frozen=True, slots=True)
class Projection:
    west: float
    south: float
    east: float
    north: float
    kx: float   # SVG units per degree of longitude
    ky: float   # SVG units per degree of latitude

    @property
    def width(self) -> float:
        return (self.east - self.west) * self.kx

    @property
    def height(self) -> float:
        return (self.north - self.south) * self.ky

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return round((lon - self.west) * self.kx, 1), round((self.north - lat) * self.ky, 1)


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    leftwards: bool = False


@dataclass(frozen=True, slots=True)
class BaseMap:
    projection: Projection
    countries: tuple[tuple[str, str], ...]    # (name, SVG path) per country
    graticule: tuple[str, ...]                 # SVG paths, every 5 degrees
    places: tuple[Label, ...]
    seas: tuple[Label, ...]
    degrees: tuple[Label, ...]                 # the graticule's longitudes along the foot, latitudes down the side
    source: str
    licence: str


@functools.cache
def base_map() -> BaseMap:
    data = json.loads(COASTLINE.read_text(encoding="utf-8"))
    region = data["region"]
    middle = math.radians((region["south"] + region["north"]) / 2)
    p = Projection(region["west"], region["south"], region["east"], region["north"], SCALE * math.cos(middle), SCALE)
    countries = []
    for country in data["countries"]:
        parts = []
        for ring in country["rings"]:
            points = [p.xy(ring[i], ring[i + 1]) for i in range(0, len(ring) - 1, 2)]
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in points) + "Z")
        countries.append((str(country["name"]), "".join(parts)))
    lines = [f"M{p.xy(lon, p.south)[0]:g},0V{p.height:g}" for lon in range(int(p.west), int(p.east) + 1, 5)]
    lines += [f"M0,{p.xy(p.west, lat)[1]:g}H{p.width:g}" for lat in range(int(p.south), int(p.north) + 1, 5)]

    def labels(places: tuple[tuple[str, float, float], ...]) -> tuple[Label, ...]:
        return tuple(Label(*p.xy(lon, lat), name, name in LEFTWARDS) for name, lon, lat in places)

    degrees = [Label(p.xy(lon, p.south)[0] + 3, p.height - 5, f"{lon}°E")
               for lon in range(int(p.west) + 5, int(p.east), 5)]
    degrees += [Label(4, p.xy(p.west, lat)[1] - 4, f"{lat}°N") for lat in range(int(p.south) + 5, int(p.north), 5)]
    return BaseMap(p, tuple(countries), tuple(lines), labels(PLACES), labels(SEAS), tuple(degrees),
                   str(data["source"]), str(data["licence"]))
