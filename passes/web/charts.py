"""Server-drawn SVG plots for the dashboard (no chart library, no script)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 400, 200
LEFT, BOTTOM, TOP = 34, 30, 14


def bar_chart(days: list[tuple[date, int]], label: str) -> Markup:
    """Stamps per day as bars, with the peak and the first and last dates labelled."""
    peak = max((count for _, count in days), default=0)
    scale = max(peak, 1)
    plot_height = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(len(days), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH}" y2="{TOP + plot_height}" '
        'class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" class="tick">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end" class="tick">0</text>',
    ]
    for index, (day, count) in enumerate(days):
        bar = plot_height * count / scale
        x = LEFT + index * step + step * 0.15
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_height - bar:.1f}" '
            f'width="{step * 0.7:.1f}" height="{bar:.1f}"><title>{day.isoformat()}: {count}</title></rect>'
        )
    if days:
        baseline = HEIGHT - 8
        parts.append(f'<text x="{LEFT}" y="{baseline}" class="tick">{days[0][0]:%d.%m.}</text>')
        parts.append(
            f'<text x="{WIDTH}" y="{baseline}" text-anchor="end" class="tick">{days[-1][0]:%d.%m.}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped labels only


def split_bar(parts: list[tuple[str, int]], label: str) -> Markup:
    """One horizontal bar split by share (Apple vs Google), each part named in the legend."""
    total = sum(count for _, count in parts)
    pieces = [
        f'<svg class="split" viewBox="0 0 {WIDTH} 24" role="img" aria-label="{escape(label)}">'
    ]
    x = 0.0
    for index, (_, count) in enumerate(parts):
        width = WIDTH * count / total if total else 0
        pieces.append(
            f'<rect class="part{index}" x="{x:.1f}" y="0" width="{width:.1f}" height="24"/>'
        )
        x += width
    if not total:
        pieces.append(f'<rect class="empty" x="0" y="0" width="{WIDTH}" height="24"/>')
    pieces.append("</svg>")
    return Markup("".join(pieces))  # noqa: S704 - numbers and escaped labels only
