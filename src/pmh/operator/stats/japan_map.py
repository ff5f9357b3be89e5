"""The participation map of Japan: each prefecture filled by its band, non-participating prefectures
hatched, as SVG (text) or PNG (Pillow only: no Cairo, no browser).

The outlines in ``data/japan_prefectures.json`` come from the japanmap package (Apache-2.0), Hokkaido and
Okinawa moved closer as japanmap lays them out; ``scripts/regenerate_map_geometry.py`` rebuilds the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path

from pmh.operator.stats.service import BAND_LABELS, BANDS, PrefectureShare

COLOURS = {"75+": "#08519c", "50-75": "#4292c6", "25-50": "#9ecae1", "0-25": "#eef4fb"}
BORDER = "#ffffff"
HATCH = "#333333"
HATCHED_LABEL = "網掛け: 都道府県が未参加"
# Degrees of longitude are shorter than degrees of latitude at Japan's latitude (cos 35.7° ≈ 0.812).
LONGITUDE_SCALE = 0.812
WIDTH, MAP_HEIGHT, TITLE_HEIGHT, MARGIN = 800, 760, 56, 20
FONT_FAMILY = "IPAGothic, 'IPAexGothic', 'Noto Sans CJK JP', sans-serif"
_FONT_FILES = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    "C:/Windows/Fonts/meiryo.ttc",
)
_ASCII_LABELS = {"75+": ">= 75 %", "50-75": "50-75 %", "25-50": "25-50 %", "0-25": "< 25 %"}


@cache
def outlines() -> dict[str, list[tuple[float, float]]]:
    """Return each prefecture's outline (longitude, latitude) by its two-digit code."""
    text = (resources.files("pmh.operator.stats") / "data" / "japan_prefectures.json").read_text(encoding="utf-8")
    return {code: [(x, y) for x, y in ring] for code, ring in json.loads(text)["prefectures"].items()}


@dataclass(frozen=True)
class _Layout:
    """Prefecture outlines projected to canvas pixels."""

    rings: dict[str, list[tuple[float, float]]]
    width: int
    height: int


@cache
def _layout() -> _Layout:
    projected = {code: [(x * LONGITUDE_SCALE, -y) for x, y in ring] for code, ring in outlines().items()}
    xs = [x for ring in projected.values() for x, _ in ring]
    ys = [y for ring in projected.values() for _, y in ring]
    scale = min((WIDTH - 2 * MARGIN) / (max(xs) - min(xs)), (MAP_HEIGHT - 2 * MARGIN) / (max(ys) - min(ys)))
    left, top = min(xs), min(ys)
    rings = {
        code: [
            (round(MARGIN + (x - left) * scale, 1), round(TITLE_HEIGHT + MARGIN + (y - top) * scale, 1))
            for x, y in ring
        ]
        for code, ring in projected.items()
    }
    return _Layout(rings, WIDTH, TITLE_HEIGHT + MAP_HEIGHT)


def _legend_rows(layout: _Layout) -> list[tuple[float, float, str | None, str]]:
    """Return (x, y, band or None for the hatch sample, label) of the legend, bottom right (open sea)."""
    x = layout.width - 260
    y = layout.height - 40 - 28 * (len(BANDS) + 1)
    rows: list[tuple[float, float, str | None, str]] = [
        (x, y + 28 * i, band, BAND_LABELS[band]) for i, (band, _, _) in enumerate(BANDS)
    ]
    rows.append((x, y + 28 * len(BANDS), None, HATCHED_LABEL))
    return rows


def render_svg(shares: Sequence[PrefectureShare], title: str) -> str:
    """Return the map as an SVG document: one path per prefecture, a hatch overlay, a legend."""
    layout = _layout()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width} {layout.height}" '
        f'width="{layout.width}" height="{layout.height}" role="img" aria-label="{escape(title)}" '
        f'font-family="{escape(FONT_FAMILY)}">',
        "<defs>"
        '<pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{HATCH}" stroke-width="1.6"/></pattern></defs>',
        f'<rect width="{layout.width}" height="{layout.height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="34" font-size="20" font-weight="bold">{escape(title)}</text>',
    ]
    for share in shares:
        ring = layout.rings[share.code]
        d = "M" + " L".join(f"{x},{y}" for x, y in ring) + " Z"
        tooltip = f"{share.name} {share.participating}/{share.total}（{float(share.rate) * 100:.1f}%）"
        if not share.prefecture_participates:
            tooltip += " 都道府県は未参加"
        parts.append(
            f'<path class="prefecture" data-code="{share.code}" data-band="{share.band}" '
            f'data-hatched="{str(not share.prefecture_participates).lower()}" d="{d}" '
            f'fill="{COLOURS[share.band]}" stroke="#7a7a7a" stroke-width="0.6"><title>{escape(tooltip)}</title></path>'
        )
        if not share.prefecture_participates:
            parts.append(f'<path class="hatch" d="{d}" fill="url(#hatch)" stroke="none" pointer-events="none"/>')
    for x, y, band, label in _legend_rows(layout):
        fill = COLOURS[band] if band else "url(#hatch)"
        parts.append(f'<rect x="{x}" y="{y}" width="22" height="18" fill="{fill}" stroke="#7a7a7a"/>')
        parts.append(f'<text x="{x + 30}" y="{y + 14}" font-size="14">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def japanese_font_file() -> Path | None:
    """Return a font file with Japanese glyphs found on this machine, if any."""
    return next((Path(p) for p in _FONT_FILES if Path(p).exists()), None)


def render_png(shares: Sequence[PrefectureShare], title: str, scale: int = 2) -> bytes:
    """Return the map as PNG bytes, drawn with Pillow (legend in Japanese when a Japanese font exists)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFont

    layout = _layout()
    size = (layout.width * scale, layout.height * scale)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    lines = Image.new("L", size, 0)
    line_draw = ImageDraw.Draw(lines)
    for offset in range(-size[1], size[0], 7 * scale):
        line_draw.line([(offset, size[1]), (offset + size[1], 0)], fill=255, width=max(1, int(1.4 * scale)))
    font_file = japanese_font_file()

    def font(points: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if font_file is not None:
            return ImageFont.truetype(str(font_file), points * scale)
        return ImageFont.load_default(points * scale)

    def hatch(shape: Sequence[tuple[float, float]] | tuple[float, float, float, float]) -> None:
        mask = Image.new("L", size, 0)
        if len(shape) == 4 and all(isinstance(v, float | int) for v in shape):
            ImageDraw.Draw(mask).rectangle(shape, fill=255)
        else:
            ImageDraw.Draw(mask).polygon(shape, fill=255)
        image.paste(HATCH, (0, 0, *size), ImageChops.multiply(mask, lines))

    for share in shares:
        ring = [(x * scale, y * scale) for x, y in layout.rings[share.code]]
        draw.polygon(ring, fill=COLOURS[share.band], outline="#7a7a7a", width=max(1, scale // 2))
        if not share.prefecture_participates:
            hatch(ring)
    heading = title if font_file is not None else "Participation by prefecture"
    draw.text((MARGIN * scale, 16 * scale), heading, fill="black", font=font(20))
    for x, y, band, label in _legend_rows(layout):
        box = (x * scale, y * scale, (x + 22) * scale, (y + 18) * scale)
        draw.rectangle(box, fill=COLOURS[band] if band else "white", outline="#7a7a7a")
        if band is None:
            hatch(box)
        text = label if font_file is not None else (_ASCII_LABELS[band] if band else "hatched: prefecture not joined")
        draw.text(((x + 30) * scale, (y + 1) * scale), text, fill="black", font=font(14))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
