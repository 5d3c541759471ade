"""The ``kasane`` command: the contract that outside tools and behaviour specs drive.

Results are JSON on stdout; errors are JSON ``{"error", "fields"}`` on stderr. Exit codes:
0 ok, 1 invalid input, 2 not found or bad usage, 3 conflict, 4 forbidden. Every read and
write takes ``--as USER``; without it the CLI acts as the local operator (who holds the
database URL, and so everything), and the audit records it as the operator.
"""
from __future__ import annotations

import json
import math
import os
import sys
from functools import wraps
from pathlib import Path

import click

from engine import clock, cli_ja
from engine.api import Kasane, TaskFilter
from engine.errors import InvalidInput, KasaneError, NotFound
from engine.limits import BudgetExceeded
from forms.validation import check_data, field_name

cli_ja.install()

EXIT_CODES = {"invalid": 1, "not_found": 2, "conflict": 3, "forbidden": 4}
MAX_DATA_DEPTH = 20
MAX_DATA_BYTES = 10 * 1024 * 1024

_api: Kasane | None = None

DATA_HELP = ("入力内容（JSON オブジェクト）。@ファイル名 でファイルから、- で標準入力から読む。"
             "項目は kasane form フォームキー で確かめられる。")
AS_HELP = "この利用者として実行する（省略すると運用者。閲覧は記録される）。"


def api() -> Kasane:
    global _api
    if _api is None:
        _api = Kasane(channel="cli")
    return _api


def emit(result) -> None:
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


def fail(error: dict, code: int):
    click.echo(json.dumps(error, ensure_ascii=False), err=True)
    sys.exit(code)


def read_data(text: str | None) -> dict:
    """--data: JSON text, @FILE or - (standard input), as one JSON object."""
    if text is None:
        return {}
    if text == "-":
        text = sys.stdin.read(MAX_DATA_BYTES + 1)
    elif text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise NotFound(f"--data のファイルが見つかりません: {path}")
        if path.stat().st_size > MAX_DATA_BYTES:
            raise InvalidInput(f"--data のファイルが大きすぎます（上限 {MAX_DATA_BYTES} バイト）。")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("--data のファイルは UTF-8 で保存してください。") from None
    if len(text) > MAX_DATA_BYTES:
        raise InvalidInput(f"--data が大きすぎます（上限 {MAX_DATA_BYTES} バイト）。")
    return parse_data(text)


def parse_data(text: str) -> dict:
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--data が JSON として読めません: {exc.msg} (位置 {exc.pos})") from exc
    except RecursionError:
        raise InvalidInput(f"--data の入れ子が深すぎます（上限 {MAX_DATA_DEPTH} 段）。") from None
    if not isinstance(data, dict):
        raise InvalidInput("--data には JSON オブジェクトを指定してください。")
    _check_values(data)
    return check_data(data)  # NaN, Infinity, 1e999, integers past max_int_bits …


class _LongInteger:
    """An integer literal of more digits than Python converts (4,300 by default): kept
    aside by the parser, so that the refusal names the field instead of Python's words."""

    def __init__(self, digits: int):
        self.digits = digits


def _json_int(text: str):
    digits = len(text.lstrip("-"))
    if sys.get_int_max_str_digits() and digits > sys.get_int_max_str_digits():
        return _LongInteger(digits)
    return int(text)


def _check_values(data) -> None:
    """No deeper nesting than forms use, and no integer too long to read."""
    stack = [(data, 1, ())]
    while stack:
        value, depth, keys = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise InvalidInput(f"--data の入れ子が深すぎます（上限 {MAX_DATA_DEPTH} 段）。")
        if isinstance(value, dict):
            stack += [(v, depth + 1, (*keys, k)) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, depth + 1, (*keys, i)) for i, v in enumerate(value)]
        elif isinstance(value, _LongInteger):
            name = field_name(keys)
            reason = BudgetExceeded("max_int_bits", int(value.digits * math.log2(10))).reason
            raise InvalidInput(f"--data の「{name}」の数値が大きすぎます（{value.digits:,} 桁）: "
                               f"{reason}。", {name: f"数値が大きすぎます（{value.digits:,} 桁）。"})


def command(func):
    """Run a command against the engine and turn engine errors into the exit codes."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
        except KasaneError as exc:
            fail(exc.to_dict(), EXIT_CODES[exc.kind])
        if isinstance(result, str):
            sys.stdout.write(result)
        elif result is not None:
            emit(result)
    return wrapper


@click.group(cls=cli_ja.Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--now", metavar="日時", help="現在日時を固定する（ISO 8601。KASANE_NOW と同じ）。")
def cli(now):
    """kasane（重ね）: 重層的支援のケースパスウェイを実行するエンジン。

    結果は標準出力に JSON、エラーは標準エラーに JSON で出る。終了コード: 0 成功、
    1 入力の誤り、2 見つからない・使い方の誤り、3 競合、4 権限なし。
    """
    try:
        if now:
            clock.set_now(now)
        elif os.environ.get("KASANE_NOW"):
            clock.now()  # a bad KASANE_NOW is refused here, before any command runs
    except ValueError as exc:
        fail({"error": str(exc), "fields": {"now": str(exc)}}, 1)


@cli.group()
def db():
    """データベースの管理。"""


@db.command("upgrade")
@command
def db_upgrade():
    """データベースを最新の構造にする（Alembic）。"""
    api().upgrade_database()
    return {"ok": True}


@cli.command()
@click.argument("paths", nargs=-1, metavar="[パス]...")
@click.option("--as", "actor", metavar="利用者", help="デプロイする利用者（役割「管理者」。省略すると運用者）。")
@command
def deploy(paths, actor):
    """BPMN/DMN をデプロイする（既定: workflows/）。"""
    return api().deploy(list(paths) or ["workflows"], actor)


@cli.group()
def pathway():
    """パスウェイの版（役割「管理者」）。"""


@pathway.command("list")
@click.option("--as", "actor", metavar="利用者", help="一覧を見る利用者（役割「管理者」）。")
@command
def pathway_list(actor):
    """パスウェイとその版（番号・だれが・いつ）、版ごとの進行中のケース数。"""
    return api().list_pathways(actor)


@pathway.command("diff")
@click.argument("pathway_id", metavar="パスウェイ")
@click.argument("old_version", metavar="元の版")
@click.argument("new_version", metavar="新しい版")
@click.option("--as", "actor", metavar="利用者", help="比べる利用者（役割「管理者」）。")
@command
def pathway_diff(pathway_id, old_version, new_version, actor):
    """二つの版の違い: 追加・削除・変更された要素と、その変わり方。"""
    return api().pathway_diff(pathway_id, old_version, new_version, actor)


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="パス...")
def lint(paths):
    """モデルを検査する。問題があれば終了コード 1。"""
    try:
        result = api().lint(list(paths))
    except KasaneError as exc:
        fail(exc.to_dict(), EXIT_CODES[exc.kind])
    emit(result)
    sys.exit(0 if result["ok"] else 1)


@cli.group()
def agency():
    """機関の登録（利用者はいずれかの機関に所属する）。"""


@agency.command("add")
@click.argument("name", metavar="機関名")
@click.option("--kind", required=True, metavar="種別", help="機関の種別（kasane agency kinds で一覧）。")
@command
def agency_add(name, kind):
    """機関を登録する。"""
    return api().add_agency(name, kind)


@agency.command("list")
@command
def agency_list():
    """登録された機関の一覧。"""
    return api().list_agencies()


@agency.command("kinds")
@click.option("--add", "new_kind", metavar="種別", help="種別を追加する（自治体の設定）。")
@command
def agency_kinds(new_kind):
    """機関の種別の一覧。--add で種別を追加する。"""
    if new_kind is not None:
        api().add_agency_kind(new_kind)
    return api().list_agency_kinds()


@cli.group()
def users():
    """利用者の管理。"""


@users.command("add")
@click.argument("name", metavar="利用者名")
@click.option("--role", "roles", multiple=True, required=True, metavar="役割",
              help="役割（パスウェイのレーン名か「管理者」。繰り返し可）。")
@click.option("--agency", metavar="機関名", help="所属機関（kasane agency list の名前。省略すると市の既定の機関）。")
@click.option("--password-stdin", is_flag=True,
              help="Web 画面にサインインするためのパスワードを標準入力から読む（1行目）。")
@command
def users_add(name, roles, agency, password_stdin):
    """利用者を登録する。"""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    return api().add_user(name, list(roles), agency, password)


@cli.group()
def case():
    """ケースの操作。"""


@case.command("open")
@click.argument("pathway", metavar="パスウェイ")
@click.option("--as", "actor", required=True, metavar="利用者", help="ケースを受け付ける利用者。")
@click.option("--data", metavar="JSON", help=DATA_HELP)
@command
def case_open(pathway, actor, data):
    """パスウェイのケースを開く（最初のタスクが開く）。"""
    return api().open_case(pathway, actor, read_data(data))


@case.command("show")
@click.argument("case_id", metavar="ケースID")
@click.option("--as", "actor", metavar="利用者", help=AS_HELP)
@command
def case_show(case_id, actor):
    """ケースの概要（段階・タスク・タイマー・世帯・記録・履歴）。"""
    return api().show_case(case_id, actor)


@case.command("record")
@click.argument("case_id", metavar="ケースID")
@click.argument("record_id", metavar="記録ID")
@click.option("--as", "actor", metavar="利用者", help=AS_HELP)
@command
def case_record(case_id, record_id, actor):
    """ケースの記録（完了したフォームやイベント）を提出されたとおりに表示する。"""
    return api().show_record(case_id, record_id, actor)


@case.command("search")
@click.argument("query", metavar="氏名")
@click.option("--as", "actor", metavar="利用者", help=AS_HELP)
@click.option("--limit", default=50, type=cli_ja.IntRange(1, 200), metavar="件数", help="1ページの件数。")
@click.option("--after", metavar="カーソル", help="前のページの最後の cursor。")
@command
def case_search(query, actor, limit, after):
    """氏名・ふりがなの一部でケースを探す（見られるケースだけ）。"""
    return api().search_cases(query, actor, limit, after)


@case.command("migrate")
@click.argument("case_id", metavar="ケースID")
@click.option("--to", "version", metavar="版", help="移す版（既定: 最新の版）。")
@click.option("--preview", is_flag=True, help="移さずに、何が変わるかだけを表示する。")
@click.option("--as", "actor", metavar="利用者", help="移す利用者（役割「管理者」）。")
@command
def case_migrate(case_id, version, preview, actor):
    """進行中のケースを別の版のパスウェイに移す（先に --preview で確かめる）。"""
    if preview:
        return api().preview_migration(case_id, version, actor)
    return api().migrate_case(case_id, version, actor)


@case.command("revert-migration")
@click.argument("migration_id", metavar="移行ID")
@click.option("--as", "actor", metavar="利用者", help="取り消す利用者（役割「管理者」）。")
@command
def case_revert_migration(migration_id, actor):
    """ケースの版の移行を取り消す。"""
    return api().revert_migration(migration_id, actor)


@case.command("event")
@click.argument("case_id", metavar="ケースID")
@click.argument("message", metavar="イベント")
@click.option("--as", "actor", required=True, metavar="利用者", help="記録する利用者。")
@click.option("--data", metavar="JSON", help=DATA_HELP)
@command
def case_event(case_id, message, actor, data):
    """ケースにイベント（状況変化・接触記録・同意撤回・再開連絡）を記録する。"""
    return api().send_event(case_id, message, actor, read_data(data))


@cli.command()
@click.option("--case", "case_id", metavar="ケースID", help="このケースのタスクだけ。")
@click.option("--role", metavar="役割", help="この役割のタスクだけ。")
@click.option("--mine", is_flag=True, help="自分が担当しているタスクだけ（--as が必要）。")
@click.option("--overdue", is_flag=True, help="期限を過ぎたタスクだけ。")
@click.option("--stage", metavar="段階", help="この段階のタスクだけ。")
@click.option("--due-before", metavar="日時", help="この日時より前が期限のタスクだけ（ISO 8601）。")
@click.option("--limit", default=100, type=cli_ja.IntRange(1, 1000), metavar="件数", help="1ページの件数。")
@click.option("--after", metavar="カーソル", help="前のページの最後のタスクの cursor。")
@click.option("--as", "actor", metavar="利用者", help=AS_HELP)
@command
def tasks(case_id, role, mine, overdue, stage, due_before, limit, after, actor):
    """未完了のタスクの一覧（期限順）。task_id は kasane task complete に使う。"""
    before = None
    if due_before:
        try:
            before = clock.parse_instant(due_before)
        except ValueError as exc:
            raise InvalidInput(str(exc), {"due_before": str(exc)}) from None
    wanted = TaskFilter(mine=mine, overdue=overdue, stage=stage, due_before=before,
                        limit=limit, after=after)
    return api().list_tasks(case_id, role, actor, wanted)


@cli.group()
def task():
    """タスクの操作（タスク ID は kasane tasks --case ケースID で探す）。"""


@task.command("complete")
@click.argument("task_id", metavar="タスクID")
@click.option("--as", "actor", required=True, metavar="利用者", help="完了する利用者（タスクのレーンの役割）。")
@click.option("--data", metavar="JSON", help=DATA_HELP)
@click.option("--case-version", type=cli_ja.Integer(), metavar="版", help="表示したときのケースの版（違えば競合）。")
@command
def task_complete(task_id, actor, data, case_version):
    """タスクを完了する。"""
    return api().complete_task(task_id, actor, read_data(data), case_version)


@task.command("claim")
@click.argument("task_id", metavar="タスクID")
@click.option("--as", "actor", required=True, metavar="利用者", help="担当する利用者。")
@command
def task_claim(task_id, actor):
    """タスクを担当する（ほかの人は完了できなくなる）。"""
    return api().claim_task(task_id, actor)


@task.command("release")
@click.argument("task_id", metavar="タスクID")
@click.option("--as", "actor", required=True, metavar="利用者", help="担当をやめる利用者。")
@command
def task_release(task_id, actor):
    """タスクの担当をやめる。"""
    return api().release_task(task_id, actor)


@cli.group()
def meeting():
    """会議の記録（支援会議・重層的支援会議・WG会議）。"""


@meeting.command("show")
@click.argument("meeting_id", metavar="会議ID")
@click.option("--as", "actor", metavar="利用者", help=AS_HELP)
@command
def meeting_show(meeting_id, actor):
    """会議の記録。支援会議の資料は、守秘義務を確認した構成員だけが開ける。"""
    return api().show_meeting(meeting_id, actor)


@meeting.command("ack")
@click.argument("meeting_id", metavar="会議ID")
@click.option("--as", "actor", required=True, metavar="利用者", help="確認する構成員（利用者）。")
@command
def meeting_ack(meeting_id, actor):
    """支援会議の守秘義務（社会福祉法第106条の6第5項）を確認する。"""
    return api().acknowledge_meeting(meeting_id, actor)


@cli.command("audit")
@click.option("--case", "case_id", metavar="ケースID", help="このケースの閲覧記録。")
@click.option("--person", metavar="氏名", help="この氏名の人の記録の閲覧記録（どのケースでも）。")
@click.option("--csv", "as_csv", is_flag=True, help="CSV（UTF-8、BOM 付き。Excel で開ける）で出す。")
@click.option("--as", "actor", metavar="利用者", help="閲覧記録を見る利用者（役割「管理者」）。")
@command
def audit_list(case_id, person, as_csv, actor):
    """だれが何を見たか・したか（新しい順）。"""
    from engine.audit import to_csv
    rows = api().audit_log(actor, case_id, person)
    return to_csv(rows) if as_csv else rows


@cli.command()
@click.argument("key", metavar="フォームキー")
@command
def form(key):
    """フォームの項目（名前・ラベル・必須・選択肢・例）を表示する。"""
    import forms
    if forms.get_form(key) is None:
        raise NotFound(f"フォーム '{key}' はありません。",
                       {"key": "次のいずれか: " + "、".join(forms.FORMS)})
    return {"form": key, "title": forms.get_form(key).title, "fields": forms.field_specs(key),
            "example": forms.example_values(key)}


@cli.group()
def timers():
    """タイマーの実行。"""


@timers.command("run")
@click.option("--now", metavar="日時", help="この日時までに期限の来たタイマーを実行する（ISO 8601）。")
@command
def timers_run(now):
    """期限の来たタイマーを実行する（cron から5分ごとなど）。"""
    moment = None
    if now:
        try:
            moment = clock.parse_clock(now)
        except ValueError as exc:
            raise InvalidInput(str(exc), {"now": str(exc)}) from exc
    return api().run_timers(moment)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[パス]...")
@command
def demo(paths):
    """デモ用の機関・利用者・ケースを登録する（既定: workflows/ をデプロイ）。"""
    from engine.demo import load_demo
    return load_demo(api(), list(paths) or ["workflows"])


@cli.command("coverage")
@click.argument("pathway", metavar="パスウェイ")
@click.option("--steps", metavar="パス", help="ステップ記録の JSONL ファイルまたはフォルダ（既定: データベース）。")
@click.option("--models", default="workflows", metavar="フォルダ",
              help="BPMN のフォルダ（--steps のとき、またはデプロイされていないとき）。")
@click.option("--as", "actor", metavar="利用者", help="報告を見る利用者（役割「管理者」。--steps のときは不要）。")
@command
def coverage_report(pathway, steps, models, actor):
    """パスウェイのシーケンスフローとユーザータスクを通ったかを報告する。"""
    if steps is None:  # the recorded cases: an engine call, under the policy and audited
        return api().coverage(pathway, actor, models)
    from engine import coverage  # step files of a spec run: no database, no case data
    model = coverage.find_process(coverage.read_model_dir(models), pathway)
    return coverage.coverage_report(model, coverage.read_dumps(steps))


@cli.command()
@click.option("--host", default="127.0.0.1", metavar="アドレス", help="待ち受けるアドレス。")
@click.option("--port", default=5000, type=cli_ja.Integer(), metavar="ポート", help="待ち受けるポート。")
def serve(host, port):
    """Web アプリを開発用サーバーで起動する（本番は gunicorn）。"""
    from webui import create_app
    create_app().run(host=host, port=port)


def main(argv=None) -> None:
    try:
        cli.main(args=argv, prog_name="kasane", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        fail({"error": "中断されました。", "fields": {}}, 2)
    except click.UsageError as exc:
        fail({"error": exc.format_message(), "fields": {}}, 2)
    except click.ClickException as exc:
        fail({"error": exc.format_message(), "fields": {}}, 2)


if __name__ == "__main__":
    main()
