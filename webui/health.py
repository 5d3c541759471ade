from flask import Blueprint, current_app
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    kasane = current_app.extensions["kasane"]
    with kasane.transaction() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/")
def index():
    return ("<!doctype html><html lang='ja'><meta charset='utf-8'><title>kasane 重ね</title>"
            "<h1>kasane 重ね</h1><p>重層的支援体制整備事業のケースパスウェイ。"
            "画面は準備中です。</p></html>")
