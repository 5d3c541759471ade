"""Front-end packages from npm (``npm ci`` → ``node_modules``), served by the app itself.

Only the files listed in ``VENDOR_FILES`` are served, under
``/vendor/<package>@<version>/<file>``: a name is looked up in that list, never joined to
a path, so nothing else under node_modules can be reached. The version in the URL makes
every file immutable, so browsers may keep it for a year; a new ``package-lock.json``
gives new URLs. In templates: ``vendor_url("htmx.org", "dist/htmx.min.js")``.

No bundler: the packages' own prebuilt browser bundles (UMD / dist) are used.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_file, url_for

bp = Blueprint("assets", __name__)
log = logging.getLogger(__name__)

_FONTS = ("woff2", "woff")

VENDOR_FILES: dict[str, tuple[str, ...]] = {
    "htmx.org": ("dist/htmx.min.js", "dist/htmx.js"),
    "bpmn-js": (
        "dist/bpmn-modeler.production.min.js",
        "dist/bpmn-viewer.production.min.js",
        "dist/bpmn-navigated-viewer.production.min.js",
        "dist/assets/diagram-js.css",
        "dist/assets/bpmn-js.css",
        "dist/assets/bpmn-font/css/bpmn.css",
        *(f"dist/assets/bpmn-font/font/bpmn.{ext}" for ext in _FONTS),
    ),
    "bpmn-js-properties-panel": ("dist/bpmn-js-properties-panel.umd.js",),
    "@bpmn-io/properties-panel": ("dist/assets/properties-panel.css",),
    "camunda-bpmn-moddle": ("resources/camunda.json",),
    "dmn-js": (
        "dist/dmn-modeler.production.min.js",
        "dist/dmn-viewer.production.min.js",
        "dist/assets/diagram-js.css",
        "dist/assets/dmn-js-shared.css",
        "dist/assets/dmn-js-drd.css",
        "dist/assets/dmn-js-decision-table.css",
        "dist/assets/dmn-js-decision-table-controls.css",
        "dist/assets/dmn-js-literal-expression.css",
        "dist/assets/dmn-js-boxed-expression.css",
        "dist/assets/dmn-js-boxed-expression-controls.css",
        "dist/assets/dmn-font/css/dmn.css",
        *(f"dist/assets/dmn-font/font/dmn.{ext}" for ext in _FONTS),
    ),
}

CONTENT_TYPES = {
    ".js": "text/javascript",  # text types get "; charset=utf-8" from werkzeug
    ".css": "text/css",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
}
ONE_YEAR = 365 * 24 * 3600


class Vendor:
    """The served files of one app: public name → file, and each package's version."""

    def __init__(self, node_modules: Path):
        self.versions: dict[str, str] = {}
        self.files: dict[str, Path] = {}
        missing = []
        for package, names in VENDOR_FILES.items():
            root = node_modules / package
            try:
                version = json.loads((root / "package.json").read_text())["version"]
            except (OSError, ValueError, KeyError):
                missing.append(package)
                continue
            self.versions[package] = version
            for name in names:
                path = root / name
                if path.is_file():
                    self.files[f"{package}@{version}/{name}"] = path
                else:
                    missing.append(f"{package}/{name}")
        if missing:
            log.warning("front-end files missing (run `npm ci`): %s", ", ".join(missing))

    def public_name(self, package: str, name: str) -> str:
        if name not in VENDOR_FILES.get(package, ()):
            raise LookupError(f"{package}/{name} is not in webui.assets.VENDOR_FILES")
        return f"{package}@{self.versions.get(package, 'missing')}/{name}"


def init_app(app: Flask) -> None:
    vendor = Vendor(Path(app.config["NODE_MODULES"]))
    app.extensions["kasane_vendor"] = vendor
    app.jinja_env.globals["vendor_url"] = vendor_url
    app.register_blueprint(bp)


def vendor_url(package: str, name: str) -> str:
    vendor: Vendor = current_app.extensions["kasane_vendor"]
    return url_for("assets.vendor", name=vendor.public_name(package, name))


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    path = current_app.extensions["kasane_vendor"].files.get(name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=CONTENT_TYPES[path.suffix], max_age=ONE_YEAR,
                         conditional=True, etag=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response
