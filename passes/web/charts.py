"""Server-drawn SVG plots for the dashboard (no chart library, no script)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from passes.texts import DEFAULT_LANGUAGE, local_day, text

WIDTH, HEIGHT = 400, 200
LEFT, BOTTOM, TOP = 34, 30, 14


def bar_chart(
    days: list[tuple[date, int]],
    label: str,
    language: str = DEFAULT_LANGUAGE,
    bonus: list[tuple[date, int]] | None = None,
) -> Markup:
    """Stamps per day as bars (each day's bonus stamps stacked on top, apart), with the peak
    and the first and last dates labelled in the page's language."""
    extra = dict(bonus or [])
    peak = max((count + extra.get(day, 0) for day, count in days), default=0)
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
        added = extra.get(day, 0)
        bar, top = plot_height * count / scale, plot_height * added / scale
        x = LEFT + index * step + step * 0.15
        said = escape(_day_title(day, count, added if bonus is not None else None, language))
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_height - bar:.1f}" '
            f'width="{step * 0.7:.1f}" height="{bar:.1f}"><title>{said}</title></rect>'
        )
        if added:
            parts.append(
                f'<rect class="bonus" x="{x:.1f}" y="{TOP + plot_height - bar - top:.1f}" '
                f'width="{step * 0.7:.1f}" height="{top:.1f}"><title>{said}</title></rect>'
            )
    if days:
        baseline = HEIGHT - 8
        first, last = local_day(days[0][0], language), local_day(days[-1][0], language)
        parts.append(f'<text x="{LEFT}" y="{baseline}" class="tick">{first}</text>')
        parts.append(
            f'<text x="{WIDTH}" y="{baseline}" text-anchor="end" class="tick">{last}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped labels only


def _day_title(day: date, count: int, bonus: int | None, language: str) -> str:
    shown = local_day(day, language)
    if bonus is None:
        return f"{shown}: {count}"
    return text("chart_day", language).format(date=shown, stamps=count, bonus=bonus)


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
