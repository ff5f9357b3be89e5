"""Regenerate ``src/pmh/operator/stats/data/japan_prefectures.json`` from the japanmap package's geometry.

The outlines are japanmap's (Saito Tsutomu, Apache-2.0, https://pypi.org/project/japanmap/): for each
prefecture the boundary of the area that holds its capital, Hokkaido and Okinawa moved closer as
japanmap's ``get_data(move_hokkaido=True, move_okinawa=True)`` does. pmh ships the result so that the
map needs neither japanmap nor its OpenCV dependency at run time.

Usage: ``pip install japanmap`` (or ``pip install -e '.[mapdata]'``), then
``.venv/bin/python scripts/regenerate_map_geometry.py [path/to/japan.json]``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "pmh" / "operator" / "stats" / "data" / "japan_prefectures.json"


def _source() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    spec = importlib.util.find_spec("japanmap")  # located, not imported: japanmap imports numpy on import
    if spec is None or not spec.submodule_search_locations:
        sys.exit("japanmap is not installed: pip install japanmap, or pass the path of its japan.json")
    return Path(next(iter(spec.submodule_search_locations))) / "japan.json"


def main() -> None:
    points, outlines = json.loads(_source().read_text(encoding="utf-8"))
    coordinates = [list(p[0]) for p in points]
    # Same shifts as japanmap.get_data(move_hokkaido=True, move_okinawa=True).
    for index in outlines[0][0][1][:-1]:
        coordinates[index] = [coordinates[index][0] - 10, coordinates[index][1] - 4.5]
    for index in outlines[46][0][1][:-1]:
        coordinates[index] = [coordinates[index][0] + 4.5, coordinates[index][1] + 5]
    prefectures = {}
    for number, boundary in enumerate(outlines, start=1):
        ring = [coordinates[i] for _, indices in boundary for i in indices]
        prefectures[f"{number:02d}"] = [[round(x, 3), round(y, 3)] for x, y in ring]
    document = {
        "source": "japanmap 0.6.0 (Saito Tsutomu, Apache-2.0), main area of each prefecture; "
        "Hokkaido moved by (-10, -4.5) and Okinawa by (+4.5, +5) degrees as japanmap does",
        "projection": "longitude, latitude (degrees)",
        "prefectures": prefectures,
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({sum(len(r) for r in prefectures.values())} points)")


if __name__ == "__main__":
    main()
