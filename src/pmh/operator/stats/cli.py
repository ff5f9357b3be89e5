"""The ``pmh stats participation`` command: statistics and map from the registry or a participation list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmh.clikit import fail, fail_with, print_json, stderr, stdout
from pmh.db import read_only
from pmh.errors import PmhError
from pmh.operator.stats import japan_map, service
from pmh.operator.stats.files import decode_list, map_title

stats_app = typer.Typer(help="参加状況の統計と地図", no_args_is_help=True)


@stats_app.command("participation")
def participation(
    list_file: Annotated[
        Path | None,
        typer.Option(
            "--list", help="参加自治体一覧のCSV（prefecture,name[,programs][,fiscal_year]）。省略時は登録から"
        ),
    ] = None,
    fiscal_year: Annotated[
        int | None, typer.Option("--fiscal-year", help="この年度まで（一覧では年度列のない行の年度）")
    ] = None,
    map_out: Annotated[Path | None, typer.Option("--map", help="地図の出力先（.svg または .png）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """参加状況（年度別・団体区分別・制度別、都道府県別の参加率）を集計し、地図を描きます。"""
    if map_out is not None and map_out.suffix.lower() not in (".svg", ".png"):
        fail("--map には .svg か .png のファイル名を指定してください。", code=2)
    if list_file is not None and not list_file.is_file():
        fail(f"--list: ファイル {list_file} がありません。", code=2)
    try:
        if list_file is not None:
            stats = service.from_list(decode_list(list_file.read_bytes()), fiscal_year)
        else:
            with read_only() as session:
                stats = service.from_registry(session, fiscal_year)
    except PmhError as exc:
        fail_with(exc, as_json)
    if map_out is not None:
        shares = stats.by_prefecture()
        title = map_title(stats.as_of_year)
        if map_out.suffix.lower() == ".png":
            map_out.write_bytes(japan_map.render_png(shares, title))
        else:
            map_out.write_text(japan_map.render_svg(shares, title), encoding="utf-8")
    if as_json:
        print_json(stats.as_json())
        return
    _print_text(stats)
    if map_out is not None:
        stderr.print(f"地図を {map_out} に書き出しました。", highlight=False)


def _print_text(stats: service.ParticipationStats) -> None:
    if stats.rows:
        stdout.print(f"一覧 {stats.rows}行: 照合できた行 {stats.matched_rows}、照合できない行 {len(stats.unmatched)}")
    for missing in stats.unmatched:
        candidates = "、".join(f"{c.name}（{c.code}）" for c in missing.candidates) or "候補なし"
        where = f"{missing.row}行目 {missing.prefecture} {missing.name}"
        line = f"  {where}: 該当なし — 候補: {candidates}"
        stdout.print(line, highlight=False)
    stdout.print(
        f"参加団体 {len(stats.participants)}"
        f"（都道府県 {len(stats.prefectures)}、市区町村 {len(stats.municipalities)}）",
        highlight=False,
    )
    for row in stats.cumulative():
        stdout.print(
            f"  {row['fiscal_year']}年度 累計 {row['total']}"
            f"（都道府県 {row['prefectures']}、市区町村 {row['municipalities']}）"
        )
    for share in stats.by_prefecture():
        mark = "" if share.prefecture_participates else "（都道府県は未参加）"
        stdout.print(
            f"  {share.code} {share.name}: {share.participating}/{share.total}"
            f"（{float(share.rate) * 100:.1f}%、{service.BAND_LABELS[share.band]}）{mark}",
            highlight=False,
        )
