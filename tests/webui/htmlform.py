"""Read a rendered page the way a browser submits it: controls, labels, form values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict


@dataclass
class Control:
    tag: str
    attrs: dict
    options: list[tuple[str, bool]] = field(default_factory=list)  # select: (value, selected)
    text: str = ""  # textarea

    @property
    def name(self):
        return self.attrs.get("name")

    @property
    def type(self):
        return self.attrs.get("type", "text" if self.tag == "input" else self.tag)


class Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.controls: list[Control] = []
        self.labels: dict[str, str] = {}  # for → text
        self.ids: set[str] = set()
        self.legends: dict[str, str] = {}  # id of the fieldset → its legend's text
        self._fieldsets: list[str | None] = []
        self._legend: list | None = None
        self._label: list | None = None
        self._select: Control | None = None
        self._option: list | None = None
        self._textarea: Control | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "fieldset":
            self._fieldsets.append(attrs.get("id"))
        elif tag == "legend":
            self._legend = [self._fieldsets[-1] if self._fieldsets else None, ""]
        elif tag == "label":
            self._label = [attrs.get("for"), ""]
        elif tag == "input":
            self.controls.append(Control(tag, attrs))
        elif tag == "select":
            self._select = Control(tag, attrs)
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [attrs.get("value"), "selected" in attrs, ""]
        elif tag == "textarea":
            self._textarea = Control(tag, attrs)
            self.controls.append(self._textarea)

    def handle_endtag(self, tag):
        if tag == "fieldset" and self._fieldsets:
            self._fieldsets.pop()
        elif tag == "legend" and self._legend:
            if self._legend[0]:
                self.legends[self._legend[0]] = " ".join(self._legend[1].split())
            self._legend = None
        elif tag == "label" and self._label:
            if self._label[0]:
                self.labels[self._label[0]] = " ".join(self._label[1].split())
            self._label = None
        elif tag == "option" and self._option is not None:
            value = self._option[0] if self._option[0] is not None else self._option[2]
            self._select.options.append((value, self._option[1]))
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._label is not None:
            self._label[1] += data
        if self._legend is not None:
            self._legend[1] += data
        if self._option is not None:
            self._option[2] += data
        if self._textarea is not None:
            self._textarea.text += data

    def form_values(self, submitter: tuple[str, str] | None = ("_action", "submit")) -> MultiDict:
        """What a browser posts: text values, checked boxes, selected options, no buttons
        but the submitter."""
        values = MultiDict()
        for control in self.controls:
            name = control.name
            if not name:
                continue
            if control.tag == "select":
                chosen = [v for v, selected in control.options if selected]
                if not chosen and control.options and "multiple" not in control.attrs:
                    chosen = [control.options[0][0]]
                for value in chosen:
                    values.add(name, value)
            elif control.tag == "textarea":
                text = control.text[1:] if control.text.startswith("\n") else control.text
                values.add(name, text.replace("\n", "\r\n"))
            elif control.type in ("checkbox", "radio"):
                if "checked" in control.attrs:
                    values.add(name, control.attrs.get("value", "on"))
            elif control.type in ("submit", "button"):
                continue
            else:
                values.add(name, control.attrs.get("value", ""))
        if submitter:
            values.add(*submitter)
        return values


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
