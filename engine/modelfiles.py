"""Reading a model file's bytes as text: the BOM or the XML declaration decides.

Modelers save BPMN in UTF-8, but also in Shift_JIS (with ``<?xml version="1.0"
encoding="Shift_JIS"?>``) or UTF-16 (with a BOM). The engine keeps every file as UTF-8
text: a file that declares another encoding is decoded with it and its declaration is
rewritten to UTF-8, so the stored text parses the same way again. A UTF-8 file comes
back exactly as it was (its content hash, and so its deployed version, do not change).
A file that is not what it declares is refused with the reason, never a
UnicodeDecodeError.
"""
from __future__ import annotations

import codecs
import re

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# XML 1.0 appendix F: "<?" in UTF-16 without a BOM.
_NO_BOM = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_DECLARATION = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1""")
_TEXT_DECLARATION = re.compile(r"""^(\ufeff?<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


class UnreadableModel(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _codec(name: str):
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UnreadableModel(f"XML 宣言の文字コード {name!r} はわかりません。UTF-8 か Shift_JIS "
                              "で保存してください。") from None


def _decode(data: bytes, codec: str, declared: str, hint: str | None = None) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableModel(f"{declared} として読めません（{exc.start} バイト目: {exc.reason}）。"
                              + (hint or "ファイルの文字コードと XML 宣言を合わせてください。")
                              ) from None


def xml_text(data: bytes) -> str:
    """The text of an XML file, with any declared encoding other than UTF-8 rewritten."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8":
                return _decode(data, "utf-8", "UTF-8")  # the BOM stays, as it always did
            text = _decode(data[len(bom):], codec, codec.upper())
            return _as_utf8(text)
    for start, codec in _NO_BOM:
        if data.startswith(start):
            return _as_utf8(_decode(data, codec, "UTF-16"))
    match = _DECLARATION.match(data)
    if match is None:
        return _decode(data, "utf-8", "UTF-8", "XML 宣言に文字コードがないので UTF-8 として読み"
                       "ました。Shift_JIS などで保存したときは <?xml version=\"1.0\" "
                       "encoding=\"Shift_JIS\"?> のように宣言してください。")
    declared = match.group(2).decode("ascii")
    codec = _codec(declared)
    if codec == "utf-8":
        return _decode(data, "utf-8", "UTF-8")
    if codec.startswith(("utf-16", "utf-32")):
        raise UnreadableModel(f"XML 宣言は {declared} ですが、ファイルは {declared} で保存されて"
                              "いません（BOM がありません）。")
    return _as_utf8(_decode(data, codec, declared))


def _as_utf8(text: str) -> str:
    text = text.lstrip("\ufeff")
    return _TEXT_DECLARATION.sub(lambda m: f"{m.group(1)}{m.group(2)}UTF-8{m.group(2)}", text,
                                 count=1)
