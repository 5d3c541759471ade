"""Error pages in Japanese. An htmx request (not a boosted navigation) gets a small error
fragment retargeted to ``#flash`` instead of a whole page; nothing of a stack trace ever
reaches the browser (Flask logs it).

Engine errors that a view lets through map to their status: NotFound 404, Forbidden 403,
Conflict 409, InvalidInput 422, each with the engine's Japanese message.
"""
from __future__ import annotations

import logging

from flask import Blueprint, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, Forbidden, KasaneError, NotFound
from webui.extensions import wants_fragment

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

# status: (title, what to do)
MESSAGES = {
    400: ("リクエストを処理できませんでした",
          "入力内容や操作をご確認のうえ、もう一度お試しください。"),
    401: ("ログインが必要です", "ログインしてから、もう一度お試しください。"),
    403: ("この操作は許可されていません",
          "この画面を見る、またはこの操作を行う権限がありません。必要な場合は管理者にお問い合わせください。"),
    404: ("ページが見つかりません",
          "お探しのページは移動または削除されたか、アドレスが間違っている可能性があります。"),
    405: ("この操作はできません", "画面のボタンやリンクから操作してください。"),
    409: ("ほかの操作と重なりました", "画面を読み込み直してから、もう一度お試しください。"),
    413: ("送信内容が大きすぎます", "入力内容を減らして、もう一度送信してください。"),
    422: ("入力内容を確認してください", "入力内容を確認して、もう一度送信してください。"),
    429: ("しばらくお待ちください",
          "短い時間に失敗した試行が続いたため、一時的に受け付けを止めています。"
          "15分ほど待ってから、もう一度お試しください。"),
    500: ("システムエラーが発生しました",
          "ご不便をおかけしています。時間をおいてもう一度お試しください。"
          "解決しない場合は管理者にお問い合わせください。"),
}
CSRF_MESSAGE = ("送信を受け付けられませんでした",
                "画面を開いてから時間がたったか、ログインし直したため、この送信は無効になりました。"
                "ページを読み込み直してから、もう一度送信してください。")
GENERIC = ("エラーが発生しました", "時間をおいてもう一度お試しください。")

ENGINE_STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409}


def error_response(status: int, title: str, message: str, detail: str | None = None):
    """A full error page, or for htmx the fragment swapped into ``#flash``."""
    context = {"status": status, "title": title, "message": message, "detail": detail}
    if wants_fragment():
        response = make_response(render_template("errors/_fragment.html", **context), status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(render_template("errors/error.html", **context), status)
    response.vary.add("HX-Request")
    return response


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc  # routing redirects (trailing slash) are not errors
    if isinstance(exc, CSRFError):
        log.warning("CSRF refused: %s", exc.description)
        title, message = CSRF_MESSAGE
    else:
        title, message = MESSAGES.get(exc.code, GENERIC)
    response = error_response(exc.code, title, message)
    headers = dict(exc.get_headers())
    for header in ("Retry-After", "Allow"):
        if header in headers:
            response.headers[header] = headers[header]
    return response


@bp.app_errorhandler(KasaneError)
def engine_error(exc: KasaneError):
    status = next((code for kind, code in ENGINE_STATUS.items() if isinstance(exc, kind)), 422)
    title, message = MESSAGES[status]
    return error_response(status, title, message, detail=exc.message)
