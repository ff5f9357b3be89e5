"""Commands for the audit log: verify it (optionally against signed checkpoints), seal it, write checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pmh.audit import checkpoints, sealer, service
from pmh.clikit import fail_with, print_json, stderr, stdout
from pmh.db import read_only
from pmh.errors import PmhError
from pmh.settings import get_settings

app = typer.Typer(help="監査ログ", no_args_is_help=True)


def _describe(chain: service.ChainReport) -> str:
    name = f"鎖 {chain.chain}"
    if chain.keyed_from is None:
        return f"{name}: {chain.entries}件、鍵付きの記録なし（ハッシュ連鎖のみ）"
    if chain.keyed_from == 1:
        return f"{name}: {chain.entries}件、すべて鍵付き"
    return f"{name}: {chain.entries}件、連番 {chain.keyed_from} から鍵付き（それより前はハッシュ連鎖のみ）"


def _describe_unsealed(unsealed: service.UnsealedReport) -> str:
    if not unsealed.count:
        return "封印待ちの記録: なし"
    shown = ", ".join(str(i) for i in unsealed.ids[:10]) + (" …" if unsealed.count > 10 else "")
    return (
        f"封印待ちの記録: {unsealed.count}件（まだ鎖に連結されていないため未検証。id {shown}、"
        f"最も古いもの {unsealed.oldest_age_s:.1f} 秒前）"
    )


@app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
    checkpoint_dir: Annotated[
        Path | None, typer.Option("--checkpoints", help="署名付きチェックポイントのディレクトリ（照合する）")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="チェックポイントの公開鍵（既定: 署名鍵と同じ場所の .pub）")
    ] = None,
) -> None:
    """監査ログの連鎖（鍵付きHMAC）を検証し、改ざん・削除・並べ替えを検出します。

    --checkpoints を指定すると、各チェックポイントの署名と、そこに記録された各鎖の末尾が
    今もログにあることを確かめます（末尾の切り詰め・鎖ごとの削除・作り直しを検出）。
    まだ封印（鎖への連結）されていない記録は件数と id を示し、PMH_AUDIT_SEAL_OVERDUE_S
    （既定は封印間隔の10倍）より古いものがあれば異常とします（封印処理の停止）。
    """
    settings = get_settings()
    checked: checkpoints.CheckpointVerification | None = None
    try:
        with read_only() as session:
            result = service.verify_chain(session)
            if checkpoint_dir is not None:
                key_path = public_key or checkpoints.public_key_path(settings.effective_audit_signing_key_file)
                checked = checkpoints.verify_checkpoints(session, checkpoint_dir, checkpoints.load_public_key(key_path))
    except PmhError as error:
        fail_with(error, as_json)
    problems = result.problems + (checked.problems if checked else [])
    if as_json:
        output: dict[str, Any] = {
            "ok": not problems,
            "entries": result.entries,
            "problems": problems,
            "chains": [c.as_dict() for c in result.chains],
            "unsealed": result.unsealed.as_dict(),
        }
        if checked is not None:
            output["checkpoints"] = checked.as_dict()
        print_json(output)
    else:
        for chain in result.chains:
            stdout.print(_describe(chain), highlight=False)
        stdout.print(_describe_unsealed(result.unsealed), highlight=False)
        if checked is not None:
            stdout.print(f"チェックポイント {checked.files} 件（最新 {checked.latest or 'なし'}）を照合しました。")
        if not problems:
            stdout.print(f"監査ログは正常です（{result.entries}件）。")
        for problem in problems:
            stderr.print(f"[red]検出:[/red] {problem}", highlight=False)
        if problems:
            stderr.print(f"監査ログに {len(problems)} 件の異常があります（{result.entries}件中）。")
    if problems:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    out: Annotated[Path | None, typer.Option("--out", help="書き出し先（既定: PMH_AUDIT_CHECKPOINT_DIR）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """各鎖の末尾を Ed25519 で署名したチェックポイントをファイルに書き出します（cron で定期実行）。"""
    settings = get_settings()
    directory = out or settings.effective_audit_checkpoint_dir
    with read_only() as session:
        path = checkpoints.write_checkpoint(session, directory, settings.effective_audit_signing_key_file)
    if as_json:
        chains = json.loads(path.read_text(encoding="utf-8"))["chains"]
        print_json({"file": str(path), "chains": chains})
    else:
        stdout.print(f"チェックポイントを書き出しました: {path}", highlight=False)


@app.command("seal")
def seal(
    follow: Annotated[bool, typer.Option("--follow", help="止めるまで PMH_AUDIT_SEAL_MS ごとに封印し続ける")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """追記されたまま封印されていない監査ログの記録を、鍵付きハッシュの鎖に連結します。

    pmh serve は各プロセスで封印処理を動かしています。サーバーを動かさない運用や、
    PMH_AUDIT_SEALER=false で封印を別プロセスにする場合にこのコマンドを使います（--follow）。
    """
    if not follow:
        total = sealer.seal_pending()
        if as_json:
            print_json({"sealed": total})
        else:
            stdout.print(f"{total}件の記録を封印しました。")
        return
    import threading

    stopping = threading.Event()
    stdout.print("監査ログの封印を続けます（Ctrl-C で終了）。")
    try:
        sealer.run(stopping, get_settings().audit_seal_ms)
    except KeyboardInterrupt:
        sealer.seal_pending()
