"""The report as one self-contained HTML page: tables and inline SVG bar charts, no
scripts, no fonts or styles from the network — it opens from a file or a mail."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.totals{color:#555}svg{display:block;margin:8px 0}
"""
# section → (label column, value columns charted)
CHARTS = {
    "agents": ("agent", ["cases", "calls_answered", "calls_made", "handling_minutes"]),
    "mail": ("mailbox", ["received", "answered", "unanswered_past_sla"]),
    "orders": ("agent", ["confirmed", "no_answer", "cancelled"]),
    "calls": ("line", ["missed_callers", "still_open"]),
    "returns": ("reason", ["created"]),
    "reservations": ("store", ["reservations", "satisfaction"]),
}
COLOURS = ["#3b6ea5", "#e08a2c", "#4f9d5d", "#b8505a"]


def _cell(v: Any) -> str:
    if v is None:
        return "<td></td>"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f'<td class="n">{escape(str(v))}</td>'
    return f"<td>{escape(str(v))}</td>"


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    if not rows:
        return "<p><em>no rows</em></p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(rows: list[dict[str, Any]], label: str, values: list[str], title: str) -> str:
    """Horizontal grouped bars, one group per row, one colour per value column."""
    rows = [r for r in rows if any(isinstance(r.get(v), int | float) for v in values)][:30]
    if not rows:
        return ""
    values = [v for v in values if any(isinstance(r.get(v), int | float) for r in rows)]
    top = max(float(r.get(v) or 0) for r in rows for v in values) or 1.0
    bar, gap, left, width = 12, 8, 160, 420
    group = bar * len(values) + gap
    height = 30 + group * len(rows) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(title)}" width="{left + width + 80}" height="{height}">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for j, v in enumerate(values):
        parts.append(f'<rect x="{left + 110 * j}" y="{height - 12}" width="10" height="10" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{left + 110 * j + 14}" '
                     f'y="{height - 3}" font-size="11">{escape(v)}</text>')  # fmt: skip
    for i, r in enumerate(rows):
        y = 28 + i * group
        parts.append(f'<text x="0" y="{y + bar}" font-size="12">'
                     f"{escape(str(r.get(label) or '-'))[:22]}</text>")  # fmt: skip
        for j, v in enumerate(values):
            x = float(r.get(v) or 0)
            w = max(0.0, x / top * width)
            parts.append(
                f'<rect class="bar" x="{left}" y="{y + j * bar}" width="{w:.1f}" '
                f'height="{bar - 2}" fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(v)}: '
                f"{x:g}</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{y + j * bar + bar - 3}" font-size="10">'
                f"{x:g}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def daily_page(doc: dict[str, Any]) -> str:
    title = f"ops report {doc['profile']} {doc['from']}" + (
        "" if doc["from"] == doc["to"] else f" .. {doc['to']}"
    )
    out = []
    for name, sec in doc["sections"].items():
        rows = sec["rows"]
        cols = list(rows[0]) if rows else []
        out.append(f'<section id="{escape(name)}"><h2>{escape(name)}</h2>')
        if name in CHARTS and rows:
            label, values = CHARTS[name]
            out.append(bar_chart(rows, label, values, f"{name} per {label}"))
        out.append(table(rows, cols))
        totals = ", ".join(f"{k} {v}" for k, v in sec["totals"].items()
                           if not isinstance(v, dict | list) and v is not None)  # fmt: skip
        out.append(f'<p class="totals">{escape(totals)}</p>')
        for key, extra in sec.items():
            if key in ("rows", "totals") or not isinstance(extra, list) or not extra:
                continue
            out.append(f"<h3>{escape(key.replace('_', ' '))}</h3>{table(extra, list(extra[0]))}")
        out.append("</section>")
    return _page(title, "".join(out))


def range_page(docs: list[dict[str, Any]], profile: str, by: str) -> str:
    if not docs:
        return _page(f"ops report {profile}", "<p><em>no periods</em></p>")
    title = f"ops report {profile} {docs[0]['from']} .. {docs[-1]['to']} by {by}"
    out = []
    for name in docs[0]["sections"]:
        rows = []
        for d in docs:
            period = d["from"] if d["from"] == d["to"] else f"{d['from']}..{d['to']}"
            totals = {k: v for k, v in d["sections"][name]["totals"].items()
                      if not isinstance(v, dict | list)}  # fmt: skip
            rows.append({"period": period, **totals})
        numeric = [k for k in rows[0] if k != "period"
                   and isinstance(rows[0][k], int | float)][:3]  # fmt: skip
        out.append(f'<section id="{escape(name)}"><h2>{escape(name)}</h2>')
        out.append(bar_chart(rows, "period", numeric, f"{name} per {by}"))
        out.append(table(rows, list(rows[0])))
        out.append("</section>")
    return _page(title, "".join(out))
