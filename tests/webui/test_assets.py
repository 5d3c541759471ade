"""Front-end packages: pinned in package.json/package-lock.json, served from node_modules,
only the listed files, with their content types and long cache headers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from webui.assets import VENDOR_FILES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lock():
    return json.loads((ROOT / "package-lock.json").read_text())


def test_package_json_pins_the_majors():
    dependencies = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert dependencies["htmx.org"].startswith("^2.")
    assert dependencies["bpmn-js"].startswith("~17.")
    assert set(dependencies) == {"htmx.org", "bpmn-js", "bpmn-js-properties-panel",
                                 "@bpmn-io/properties-panel", "camunda-bpmn-moddle", "dmn-js"}


def test_npm_ci_installed_what_the_lock_says(lock):
    for package in VENDOR_FILES:
        manifest = ROOT / "node_modules" / package / "package.json"
        assert manifest.exists(), f"{package} is missing: run `npm ci`"
        installed = json.loads(manifest.read_text())["version"]
        assert installed == lock["packages"][f"node_modules/{package}"]["version"]
    assert lock["packages"]["node_modules/htmx.org"]["version"].startswith("2.")
    assert lock["packages"]["node_modules/bpmn-js"]["version"].startswith("17.")


def test_every_listed_file_is_served(client, app):
    vendor = app.extensions["kasane_vendor"]
    assert len(vendor.files) == sum(len(names) for names in VENDOR_FILES.values())
    for name in vendor.files:
        response = client.get(f"/vendor/{name}")
        response.close()
        assert response.status_code == 200, name


def test_htmx_is_served_immutable_with_its_type(client, app, lock):
    version = lock["packages"]["node_modules/htmx.org"]["version"]
    response = client.get(f"/vendor/htmx.org@{version}/dist/htmx.min.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    cache = response.cache_control
    assert cache.public and cache.immutable and cache.max_age == 365 * 24 * 3600
    assert b"htmx" in response.data[:2000]
    response.close()
    again = client.get(f"/vendor/htmx.org@{version}/dist/htmx.min.js",
                       headers={"If-None-Match": response.headers["ETag"]})
    again.close()
    assert again.status_code == 304


@pytest.mark.parametrize("suffix, content_type", [
    ("bpmn-js@{bpmn-js}/dist/assets/bpmn-js.css", "text/css; charset=utf-8"),
    ("bpmn-js@{bpmn-js}/dist/assets/bpmn-font/font/bpmn.woff2", "font/woff2"),
    ("camunda-bpmn-moddle@{camunda-bpmn-moddle}/resources/camunda.json", "application/json"),
    ("@bpmn-io/properties-panel@{@bpmn-io/properties-panel}/dist/assets/properties-panel.css",
     "text/css; charset=utf-8"),
])
def test_content_types(client, lock, suffix, content_type):
    versions = {p: lock["packages"][f"node_modules/{p}"]["version"] for p in VENDOR_FILES}
    name = suffix
    for package, version in versions.items():
        name = name.replace("{" + package + "}", version)
    response = client.get(f"/vendor/{name}")
    response.close()
    assert response.status_code == 200 and response.headers["Content-Type"] == content_type


@pytest.mark.parametrize("path", [
    "/vendor/htmx.org@{v}/package.json",                  # in the package, not listed
    "/vendor/htmx.org@{v}/dist/../package.json",
    "/vendor/htmx.org@{v}/dist/%2e%2e/package.json",
    "/vendor/htmx.org@{v}/dist/..%2fpackage.json",
    "/vendor/htmx.org@1.9.0/dist/htmx.min.js",            # another version
    "/vendor/../pyproject.toml",
    "/vendor/%2e%2e/%2e%2e/etc/passwd",
    "/vendor/left-pad@1.0.0/index.js",
])
def test_nothing_else_is_reachable(client, lock, path):
    version = lock["packages"]["node_modules/htmx.org"]["version"]
    assert client.get(path.replace("{v}", version)).status_code == 404


def test_an_unlisted_file_cannot_be_linked(app):
    from webui.assets import vendor_url
    with app.test_request_context():
        assert vendor_url("htmx.org", "dist/htmx.min.js").startswith("/vendor/htmx.org@2.")
        with pytest.raises(LookupError):
            vendor_url("htmx.org", "package.json")
