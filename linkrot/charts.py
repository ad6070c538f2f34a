"""Charts as inline SVG strings: data in, markup out, nothing loaded from anywhere.

The HTML report is mailed and opened offline under a Content-Security-Policy that forbids scripts,
so its charts cannot be Vega: they are plain SVG drawn here.  Every label may come from a hostile
page (a referring domain, a status), so every text is escaped; each chart carries ``role="img"``,
a ``<title>`` and a ``<desc>`` listing its values, so a screen reader reads what the bars show
(https://www.w3.org/WAI/tutorials/images/complex/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# the dashboard's colours (metadata.yml): green stands, amber at risk, red lost, blue neutral
GREEN, AMBER, RED, BLUE = "#2e7d32", "#f9a825", "#c62828", "#4c78a8"
_FONT = 'font-family="system-ui,sans-serif" font-size="12"'


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    colour: str = BLUE


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _frame(title: str, width: int, height: int, desc: str, body: list[str]) -> str:
    return "\n".join(
        [
            # inline in HTML: no xmlns needed, and the page holds no URL but the ones it reports
            f'<svg class="chart" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" {_FONT}>',
            f"<title>{escape(title)}</title>",
            f"<desc>{escape(desc)}</desc>",
            *body,
            "</svg>",
        ]
    )


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 560, unit: str = "") -> str:
    """Horizontal bars, one row per label, the value written at the end of each bar."""
    row, gap, label_width = 22, 4, 190
    height = max(1, len(bars)) * (row + gap) + 8
    desc = "; ".join(f"{b.label}: {_number(b.value)}{unit}" for b in bars) or "no data"
    top = max((b.value for b in bars), default=0) or 1
    room = width - label_width - 60  # space for the value after the longest bar
    body = []
    if not bars:
        body.append(f'<text x="8" y="{row - 6}" fill="#555">no data</text>')
    for i, b in enumerate(bars):
        y = 4 + i * (row + gap)
        length = max(1.0, room * b.value / top) if b.value > 0 else 0
        body += [
            f'<g class="bar"><title>{escape(f"{b.label}: {_number(b.value)}{unit}")}</title>',
            f'<text x="{label_width - 6}" y="{y + row - 7}" text-anchor="end">{escape(_clip(b.label))}</text>',
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{row}" fill="{escape(b.colour)}"/>',
            f'<text x="{label_width + length + 4:.1f}" y="{y + row - 7}">{_number(b.value)}{escape(unit)}</text>',
            "</g>",
        ]
    return _frame(title, width, height, desc, body)


def time_series(
    title: str, points: Sequence[tuple[str, float]], *, width: int = 560, height: int = 200, colour: str = RED
) -> str:
    """Values over time (labels in order, e.g. months): a column per period, so one period still shows."""
    left, bottom, top_pad = 40, 28, 14
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = max((v for _, v in points), default=0) or 1
    desc = "; ".join(f"{label}: {_number(v)}" for label, v in points) or "no data"
    body = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 8}" y2="{top_pad + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" fill="#555">{_number(top)}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" fill="#555">0</text>',
    ]
    if not points:
        body.append(f'<text x="{left + 8}" y="{top_pad + plot_h / 2:.0f}" fill="#555">no data</text>')
    step = plot_w / max(1, len(points))
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = left + i * step + step * 0.15
        body += [
            f'<g class="bar"><title>{escape(f"{label}: {_number(value)}")}</title>',
            f'<rect x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{escape(colour)}"/>',
            f'<text x="{x + step * 0.35:.1f}" y="{height - 10}" text-anchor="middle">{escape(_clip(label, 12))}</text>',
            "</g>",
        ]
    return _frame(title, width, height, desc, body)
