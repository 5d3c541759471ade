from flask import Blueprint, current_app
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    kasane = current_app.extensions["kasane"]
    with kasane.transaction() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}
