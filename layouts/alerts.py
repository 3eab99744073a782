"""Alerts: whatever the "alerts" event log holds, active ones by severity and age.

The rules that raise alerts and the acknowledgement flow live elsewhere; this screen reads the
newest event of each alert key (see docs/wall.md for the event shape it expects).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
from dash import html

from layouts.common import Context, age_text, fmt_int, mark, screen_header
from wall.i18n import Translator
from wall.store.base import Event

NAME = "alerts"
PARTS = ("alerts",)
STREAM = "alerts"
SEVERITIES = ("critical", "major", "minor", "warning", "info")
# Shape and tone per severity: the order of shapes (◆ ▲ ● ■ ○) carries the rank without colour.
SEVERITY_MARKS = {
    "critical": ("◆", "bad"),
    "major": ("▲", "bad"),
    "minor": ("●", "warn"),
    "warning": ("■", "warn"),
    "info": ("○", "info"),
}
# Kinds after which an alert is over; any other newest kind (raised, acknowledged, escalated,
# updated, …) leaves it on the wall.
ENDED_KINDS = frozenset({"cleared", "resolved", "closed", "expired", "suppressed"})
ACK_KINDS = frozenset({"acknowledged", "ack"})
COLUMNS = ("key", "kind", "time", "raised", "severity", "title", "where", "actor", "acknowledged")
MAX_ROWS = 9


def events_frame(latest: Mapping[str, Event], history: Iterable[Event]) -> pd.DataFrame:
    """One row per alert key from its newest event; `raised` is the time of its newest 'raised'
    event (from `history`), or the newest event's time when history does not reach back.
    Severity, title and place come from the newest event that carries them, so an
    acknowledgement that only says who acknowledged keeps the alert's severity and title."""
    raised_at: dict[str, pd.Timestamp] = {}
    known: dict[str, dict] = {}
    for event in history:
        if event.kind == "raised":
            raised_at[event.key] = pd.Timestamp(event.time)
        if isinstance(event.data, Mapping):
            known.setdefault(event.key, {}).update(event.data)
    rows = []
    for key, event in latest.items():
        data = {**known.get(key, {}), **(event.data if isinstance(event.data, Mapping) else {})}
        severity = str(data.get("severity", "info")).lower()
        rows.append(
            {
                "key": key,
                "kind": event.kind,
                "time": pd.Timestamp(event.time),
                "raised": raised_at.get(key, pd.Timestamp(event.time)),
                "severity": severity if severity in SEVERITIES else "info",
                "title": str(data.get("title") or key),
                "where": str(data.get("ward") or data.get("source") or ""),
                "actor": event.actor or "",
                "acknowledged": event.kind in ACK_KINDS,
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["acknowledged"] = frame["acknowledged"].astype(bool)
    return frame


def active_alerts(frame: pd.DataFrame) -> pd.DataFrame:
    """Alerts still on: most severe first, then the oldest first."""
    if frame.empty:
        return frame
    active = frame[~frame["kind"].isin(ENDED_KINDS)].copy()
    active["rank"] = active["severity"].map(SEVERITIES.index)
    return active.sort_values(["rank", "raised", "key"], kind="stable").reset_index(drop=True)


def severity_mark(severity: str, t: Translator, suffix: str = "") -> html.Span:
    symbol, tone = SEVERITY_MARKS[severity]
    word = t(f"al.severity.{severity}")
    return html.Span(
        [
            html.Span(symbol, className="mark-symbol", **{"aria-hidden": "true"}),
            html.Span(f"{word} {suffix}".strip(), className="mark-word"),
        ],
        className=f"mark mark--{tone}",
    )


def shell(t: Translator, tz: str) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, tz),
            html.Main(
                [
                    html.Div(id=f"{NAME}-counts", className="slot alert-counts"),
                    html.Div(id=f"{NAME}-list", className="slot alert-list-slot"),
                ],
                className="alerts-grid",
            ),
        ],
        className="screen",
    )


def counts(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    active = active_alerts(data["alerts"])
    tally = active["severity"].value_counts() if not active.empty else pd.Series(dtype=int)
    unacked = int((~active["acknowledged"]).sum()) if not active.empty else 0
    boxes = [
        html.Div(
            [
                html.Div(fmt_int(int(tally.get(sev, 0)), ctx.lang), className="count-number"),
                severity_mark(sev, ctx.t),
            ],
            className=f"count-box count-box--{sev}"
            + (" count-box--zero" if sev not in tally else ""),
        )
        for sev in SEVERITIES
    ]
    boxes.append(
        html.Div(
            [
                html.Div(fmt_int(unacked, ctx.lang), className="count-number"),
                mark("offline" if unacked else "met", ctx.t, ctx.t("al.unacked")),
            ],
            className="count-box count-box--unacked",
        )
    )
    return boxes


def alert_list(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    active = active_alerts(data["alerts"])
    if active.empty:
        return html.Div(mark("met", ctx.t, ctx.t("al.none")), className="tile tile--calm")
    rows = []
    for row in active.head(MAX_ROWS).itertuples(index=False):
        if row.acknowledged:
            state = [
                mark("met", ctx.t, ctx.t("al.acked")),
                html.Div(row.actor, className="al-actor") if row.actor else None,
            ]
        else:
            state = mark("offline", ctx.t, ctx.t("al.unacked"))
        rows.append(
            html.Div(
                [
                    html.Div(severity_mark(row.severity, ctx.t), className="al-sev"),
                    html.Div(
                        [
                            html.Div(row.title, className="al-title"),
                            html.Div(row.where, className="al-where"),
                        ],
                        className="al-what",
                    ),
                    html.Div(age_text(ctx.age_seconds(row.raised), ctx.t), className="al-age"),
                    html.Div(state, className="al-state"),
                ],
                className=f"al-row al-row--{row.severity}"
                + (" al-row--acked" if row.acknowledged else ""),
            )
        )
    more = len(active) - MAX_ROWS
    if more > 0:
        rows.append(html.Div(f"+ {fmt_int(more, ctx.lang)}", className="al-more"))
    return html.Div(
        [html.Div(ctx.t("al.active"), className="tile-title"), *rows], className="tile al-list"
    )


OUTPUTS = {
    f"{NAME}-counts.children": counts,
    f"{NAME}-list.children": alert_list,
}
