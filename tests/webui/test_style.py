"""The stylesheet's colours meet WCAG AA where they are used together."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "webui" / "static" / "kasane.css").read_text()
COLOURS = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", CSS))
WHITE = "#ffffff"


def luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colour(name: str) -> str:
    return WHITE if name == "white" else COLOURS[name]


@pytest.mark.parametrize("foreground, background, minimum", [
    ("text", "page", 4.5), ("text", "surface", 4.5), ("muted", "page", 4.5), ("muted", "surface", 4.5),
    ("link", "page", 4.5), ("link", "surface", 4.5), ("link", "info-bg", 4.5),
    ("white", "brand", 4.5), ("white", "button", 4.5), ("white", "button-hover", 4.5),
    ("button", "white", 4.5), ("error", "surface", 4.5), ("white", "error", 4.5),
    ("error", "error-bg", 4.5), ("success", "success-bg", 4.5), ("text", "focus", 4.5),
    ("text", "timer-bg", 4.5), ("timer", "surface", 3), ("timer", "timer-bg", 3),  # diagram
    ("text", "error-bg", 4.5), ("link", "error-bg", 4.5), ("error", "page", 4.5),  # overdue rows, tabs
    ("line", "surface", 3), ("focus", "brand", 3), ("text", "surface", 3),  # borders, focus
])
def test_colour_pairs_meet_aa(foreground, background, minimum):
    assert contrast(colour(foreground), colour(background)) >= minimum
