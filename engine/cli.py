"""The ``kasane`` command: the contract that outside tools and behaviour specs drive.

Results are JSON on stdout; errors are JSON ``{"error", "fields"}`` on stderr. Exit codes:
0 ok, 1 invalid input, 2 not found or bad usage, 3 conflict, 4 forbidden.
"""
from __future__ import annotations

import json
import sys
from functools import wraps

import click

from engine import clock
from engine.api import Kasane
from engine.errors import InvalidInput, KasaneError, NotFound

EXIT_CODES = {"invalid": 1, "not_found": 2, "conflict": 3, "forbidden": 4}

_api: Kasane | None = None


def api() -> Kasane:
    global _api
    if _api is None:
        _api = Kasane()
    return _api


def emit(result) -> None:
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


def fail(error: dict, code: int):
    click.echo(json.dumps(error, ensure_ascii=False), err=True)
    sys.exit(code)


def parse_data(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--data が JSON として読めません: {exc.msg} (位置 {exc.pos})") from exc
    if not isinstance(data, dict):
        raise InvalidInput("--data には JSON オブジェクトを指定してください。")
    return data


def command(func):
    """Run a command against the engine and turn engine errors into the exit codes."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
        except KasaneError as exc:
            fail(exc.to_dict(), EXIT_CODES[exc.kind])
        if result is not None:
            emit(result)
    return wrapper


@click.group()
@click.option("--now", help="現在日時を固定する (ISO 8601)。KASANE_NOW と同じ。")
def cli(now):
    """kasane: 重層的支援のケースパスウェイを実行するエンジン。"""
    if now:
        try:
            clock.set_now(now)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--now")


@cli.group()
def db():
    """データベースの管理。"""


@db.command("upgrade")
@command
def db_upgrade():
    api().upgrade_database()
    return {"ok": True}


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--as", "actor", help="デプロイした利用者 (記録用)。")
@command
def deploy(paths, actor):
    """BPMN/DMN をデプロイする (既定: workflows/)。"""
    return api().deploy(list(paths) or ["workflows"], actor)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
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
@click.argument("name")
@click.option("--kind", required=True, help="機関の種別（kasane agency kinds で一覧）。")
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
@click.option("--add", "new_kind", help="種別を追加する（自治体の設定）。")
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
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="役割 (繰り返し可)。")
@click.option("--agency", help="所属機関。")
@click.option("--password-stdin", is_flag=True,
              help="Web 画面にサインインするためのパスワードを標準入力から読む（1行目）。")
@command
def users_add(name, roles, agency, password_stdin):
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    return api().add_user(name, list(roles), agency, password)


@cli.group()
def case():
    """ケースの操作。"""


@case.command("open")
@click.argument("pathway")
@click.option("--as", "actor", required=True)
@click.option("--data")
@command
def case_open(pathway, actor, data):
    return api().open_case(pathway, actor, parse_data(data))


@case.command("show")
@click.argument("case_id")
@command
def case_show(case_id):
    return api().show_case(case_id)


@case.command("event")
@click.argument("case_id")
@click.argument("message")
@click.option("--as", "actor", required=True)
@click.option("--data")
@command
def case_event(case_id, message, actor, data):
    return api().send_event(case_id, message, actor, parse_data(data))


@cli.command()
@click.option("--case", "case_id")
@click.option("--role")
@command
def tasks(case_id, role):
    """未完了のタスクの一覧。"""
    return api().list_tasks(case_id, role)


@cli.group()
def task():
    """タスクの操作。"""


@task.command("complete")
@click.argument("task_id")
@click.option("--as", "actor", required=True)
@click.option("--data")
@command
def task_complete(task_id, actor, data):
    return api().complete_task(task_id, actor, parse_data(data))


@cli.command()
@click.argument("key")
@command
def form(key):
    """フォームの項目 (名前・ラベル・必須・選択肢・例) を表示する。"""
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
@click.option("--now", help="この日時までに期限の来たタイマーを実行する (ISO 8601)。")
@command
def timers_run(now):
    if now:
        try:
            clock.set_now(now)
        except ValueError as exc:
            raise InvalidInput(str(exc), {"now": str(exc)}) from exc
    return api().run_timers()


@cli.command()
@click.argument("paths", nargs=-1)
@command
def demo(paths):
    """デモ用の利用者とケースを登録する (既定: workflows/ をデプロイ)。"""
    from engine.demo import load_demo
    return load_demo(api(), list(paths) or ["workflows"])


@cli.command("coverage")
@click.argument("pathway")
@click.option("--steps", help="ステップ記録の JSONL ファイルまたはフォルダ (既定: データベース)。")
@click.option("--models", default="workflows",
              help="BPMN のフォルダ (--steps のとき、またはデプロイされていないとき)。")
@command
def coverage_report(pathway, steps, models):
    """パスウェイのシーケンスフローとユーザータスクを通ったかを報告する。"""
    from engine import coverage, deployments
    files = None
    if steps is not None:
        records = coverage.read_dumps(steps)
    else:
        with api().transaction() as session:
            records = coverage.database_records(session)
            deployment = deployments.latest_deployment(session, pathway)
            if deployment is not None:
                files = dict(deployment.files)
    model = coverage.find_process(files or coverage.read_model_dir(models), pathway)
    return coverage.coverage_report(model, records)


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host, port):
    """Web アプリを起動する。"""
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
