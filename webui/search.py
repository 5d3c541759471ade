"""Case search (``/cases``): people by 氏名 or ふりがな, partial match, in the cases the
signed-in user may see (the engine's policy, in SQL), 50 at a time with its cursor.

Typing searches as you go with htmx (debounced, the URL follows); without JavaScript the
search box is a plain GET form.
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request, url_for

from engine.errors import InvalidInput
from webui.auth import login_required
from webui.current import actor, engine
from webui.extensions import wants_fragment

bp = Blueprint("search", __name__)

PAGE = 50


@bp.get("/cases")
@login_required
def cases():
    query = request.args.get("q", "").strip()
    after = request.args.get("after") or None
    hits, error = [], None
    if query:
        try:
            hits = engine().search_cases(query, actor=actor(), limit=PAGE, after=after)
        except InvalidInput as exc:  # too long a query, or a cursor typed by hand
            error = exc.message
    context = {"query": query, "hits": hits, "error": error, "first_page": after is None,
               "first_url": url_for("search.cases", q=query),
               "next_url": url_for("search.cases", q=query, after=hits[-1]["cursor"])
               if len(hits) == PAGE else None, "page_size": PAGE}
    template = "search/_results.html" if wants_fragment() else "search/cases.html"
    response = make_response(render_template(template, **context), 422 if error else 200)
    response.vary.add("HX-Request")
    return response
