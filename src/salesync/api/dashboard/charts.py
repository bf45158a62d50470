"""Charts drawn on the server as SVG: fast, no script, and readable by everyone.

Each chart is an ``<figure>`` holding the SVG (``role="img"`` with a title and
description) and, after it, the same numbers as a table, so a screen reader, a printout
or a person who wants the exact figure has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

Number = Decimal | int | float

WIDTH = 640
BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 180
COLUMN_HEIGHT = 180


def _fmt(value: Number, unit: str) -> str:
    if isinstance(value, int):
        text = f"{value:,}"
    else:
        text = f"{Decimal(str(value)).quantize(Decimal('0.01')):,.2f}"
    return f"{text} {unit}".strip()


def _built(html: str) -> Markup:
    """HTML this module assembled, every text in it escaped where it was put in."""
    return Markup(html)  # noqa: S704 -- see above


def _table(caption: str, points: Sequence[tuple[str, Number]], unit: str, heading: str) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td class="num">{escape(_fmt(value, unit))}'
        "</td></tr>"
        for label, value in points
    )
    return (
        f'<table class="chart-data"><caption>{escape(caption)}</caption><thead><tr>'
        f'<th scope="col">{escape(heading)}</th><th scope="col" class="num">Amount</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def bars(
    points: Sequence[tuple[str, Number]],
    *,
    title: str,
    unit: str = "",
    heading: str = "",
) -> Markup:
    """Horizontal bars, one per ``(label, value)``: for categories and locations.
    Negative values (refunds beyond sales) draw to the left of the axis."""
    if not points:
        return Markup('<p class="empty">{}: nothing to show yet.</p>').format(title)
    values = [float(v) for _, v in points]
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    plot = WIDTH - LABEL_WIDTH - 90
    zero = LABEL_WIDTH + plot * (-low / span)
    height = len(points) * (BAR_HEIGHT + GAP) + GAP
    shapes = []
    for n, ((label, value), v) in enumerate(zip(points, values, strict=True)):
        y = GAP + n * (BAR_HEIGHT + GAP)
        length = plot * abs(v) / span
        x = zero if v >= 0 else zero - length
        shapes.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end">'
            f"{escape(label[:28])}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{max(length, 1):.1f}" height="{BAR_HEIGHT}" '
            f'class="{"bar" if v >= 0 else "bar negative"}"/>'
            f'<text x="{max(x + length, zero) + 6:.1f}" y="{y + BAR_HEIGHT * 0.7:.1f}">'
            f"{escape(_fmt(value, unit))}</text>"
        )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" class="axis"/>'
        + "".join(shapes)
        + "</svg>"
    )
    return _built(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{svg}'
        f"{_table(title, points, unit, heading or 'Item')}</figure>"
    )


def columns(
    points: Sequence[tuple[str, Number]],
    *,
    title: str,
    unit: str = "",
    heading: str = "Day",
) -> Markup:
    """Vertical columns in order, one per ``(label, value)``: for days."""
    if not points:
        return Markup('<p class="empty">{}: nothing to show yet.</p>').format(title)
    values = [float(v) for _, v in points]
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    step = (WIDTH - 40) / len(points)
    width = max(step * 0.7, 2)
    base = 10 + COLUMN_HEIGHT * (high / span)
    shapes = []
    for n, ((label, value), v) in enumerate(zip(points, values, strict=True)):
        size = COLUMN_HEIGHT * abs(v) / span
        x = 30 + n * step
        y = base - size if v >= 0 else base
        shapes.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(size, 1):.1f}" '
            f'class="{"bar" if v >= 0 else "bar negative"}">'
            f"<title>{escape(label)}: {escape(_fmt(value, unit))}</title></rect>"
        )
    first, last = points[0][0], points[-1][0]
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {COLUMN_HEIGHT + 40}" width="100%" role="img">'
        f"<title>{escape(title)}</title>"
        f'<line x1="26" x2="{WIDTH - 10}" y1="{base:.1f}" y2="{base:.1f}" class="axis"/>'
        + "".join(shapes)
        + f'<text x="30" y="{COLUMN_HEIGHT + 34}">{escape(first)}</text>'
        f'<text x="{WIDTH - 10}" y="{COLUMN_HEIGHT + 34}" text-anchor="end">{escape(last)}</text>'
        "</svg>"
    )
    return _built(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{svg}'
        f"{_table(title, points, unit, heading)}</figure>"
    )
