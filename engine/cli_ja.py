"""Japanese for click's own messages (usage errors, help headings), so that nothing a user
of ``kasane`` reads is English. click looks its texts up through gettext; this swaps in a
catalogue for the texts kasane's commands can show. What click does not look up (the
``[OPTIONS]`` and ``COMMAND [ARGS]...`` of a usage line, a range's ``1<=x<=1000``) comes
from the command, group and range classes here; every parameter names its value in
Japanese itself (``metavar``), since click would print its type (``TEXT``, ``INTEGER``)."""
from __future__ import annotations

import unicodedata

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.types

CATALOGUE = {
    "Usage:": "使い方:",
    "Options": "オプション",
    "Commands": "コマンド",
    "Positional arguments": "引数",
    "Show this message and exit.": "この説明を表示して終了する。",
    "Show the version and exit.": "バージョンを表示して終了する。",
    "Missing argument": "引数がありません",
    "Missing option": "オプションがありません",
    "Missing parameter": "パラメーターがありません",
    "Missing parameter: {param_name}": "パラメーターがありません: {param_name}",
    "Missing {param_type}": "{param_type} がありません",
    "Missing command.": "コマンドを指定してください。",
    "No such command {name!r}.": "コマンド {name!r} はありません。",
    "No such option {name!r}.": "オプション {name!r} はありません。",
    "Option {name!r} does not take a value.": "オプション {name!r} は値をとりません。",
    "Option {name!r} requires an argument.": "オプション {name!r} には値が必要です。",
    "Argument {name!r} takes {nargs} values.": "引数 {name!r} は {nargs} 個の値をとります。",
    "Invalid value for {param_hint}: {message}": "{param_hint} の値が正しくありません: {message}",
    "Invalid value: {message}": "値が正しくありません: {message}",
    "Try '{command} {option}' for help.": "説明は '{command} {option}' で表示できます。",
    "Error: {message}": "エラー: {message}",
    "Aborted!": "中断しました。",
    "{value!r} is not a valid {number_type}.": "{value!r} は正しい{number_type}ではありません。",
    "{value} is not in the range {range}.": "{value} は範囲 {range} の外です。",
    "{name} {filename!r} does not exist.": "{name} {filename!r} がありません。",
    "default: {default}": "既定: {default}",
    "env var: {var}": "環境変数: {var}",
    "Choose from:\n\t{choices}": "次から選んでください:\n\t{choices}",
    "Got unexpected extra argument ({args})": "余分な引数があります（{args}）",
    "Got unexpected extra arguments ({args})": "余分な引数があります（{args}）",
    "Did you mean {possibility}?": "{possibility} のことですか？",
    "(Possible options: {possibilities})": "（候補: {possibilities}）",
    "(Did you mean one of: {possibilities}?)": "（{possibilities} のどれかのことですか？）",
    "Option {name!r} requires {nargs} arguments.": "オプション {name!r} には {nargs} 個の値が必要です。",
    "{value!r} is not {choice}.": "{value!r} は {choice} ではありません。",
    "{value!r} is not one of {choices}.": "{value!r} は {choices} のどれでもありません。",
    "Takes {nargs} values but 1 was given.": "{nargs} 個の値が必要ですが、1 個です。",
    "Takes {nargs} values but {len} were given.": "{nargs} 個の値が必要ですが、{len} 個です。",
    "required": "必須",
}


def gettext(message: str) -> str:
    return CATALOGUE.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def display_width(text: str) -> int:
    """Columns a text takes in a terminal: 氏名 takes four, as wide characters take two
    (click counts characters, which misaligns Japanese help)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in click.unstyle(text))


def install() -> None:
    click.formatting.term_len = display_width
    for module in (click.core, click.decorators, click.exceptions, click.formatting,
                   click.parser, click.types):
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext


class Command(click.Command):
    def __init__(self, *args, options_metavar: str | None = "[オプション]", **kwargs):
        super().__init__(*args, options_metavar=options_metavar, **kwargs)


class Group(click.Group):
    command_class = Command
    group_class = type  # subgroups are of this class too

    def __init__(self, *args, subcommand_metavar: str | None = "コマンド [引数]...",
                 options_metavar: str | None = "[オプション]", **kwargs):
        super().__init__(*args, subcommand_metavar=subcommand_metavar,
                         options_metavar=options_metavar, **kwargs)


class Integer(click.types.IntParamType):
    name = "整数"  # errors say the type by its name: "'x' は正しい整数ではありません。"


class IntRange(click.IntRange):
    """An integer range that help and errors show as 1〜1000."""

    name = "整数"

    def _describe_range(self) -> str:
        return f"{'' if self.min is None else self.min}〜{'' if self.max is None else self.max}"
