"""Accountability (trách nhiệm và sức khỏe dữ liệu): who is late, for the leaders' room.

Left, the units' league table (wall.accountability.standings): indicators of the period just
ended on time, late and missing; field reports handled on time (%), overdue now and the median
handling time over the last REPORT_DAYS days. Right, every data source with the unit answering
for it, the freshness it must keep, its last data and whether it is live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

import pandas as pd
from dash import html

from layouts.common import (
    Context,
    age_line,
    age_text,
    alarm_slot,
    fmt_number,
    mark,
    newest_age,
    screen_header,
)
from wall.accountability import indicators_due, source_health, standings
from wall.city import CitySettings
from wall.i18n import Translator
from wall.submissions import delivered

NAME = "accountability"
PARTS = ("reports", "reports_handled", "kpi", "kpi_submitted", "kpi_sent", "feeds")
REPORT_DAYS = 30  # the window of the on-time figures (callbacks.queries' reports_handled)


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [
                    html.Div(id=f"{NAME}-league", className="tile acc-league"),
                    html.Div(id=f"{NAME}-sources", className="tile acc-sources"),
                ],
                className="acc-grid",
            ),
            html.Footer(id=f"{NAME}-age", className="screen-footer"),
        ],
        className="screen",
    )


def all_reports(data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The open reports of the wall's window and those changed in the last REPORT_DAYS days."""
    frames = [f for f in (data["reports"], data.get("reports_handled")) if f is not None]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else data["reports"]


def indicator_values(data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each indicator's periods delivered, by a unit or by an automated source."""
    return delivered(data["kpi_submitted"], data["kpi_sent"])


def percent(value: float | None, lang: str) -> str:
    return "–" if value is None else f"{fmt_number(value, lang, 0)}%"


def hours(value: float | None, t: Translator) -> str:
    return "–" if value is None else t("acc.hours", h=fmt_number(value, t.lang))


def headline(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    table = standings(ctx.profile, indicator_values(data), all_reports(data), ctx.now, ctx.tz)
    handled = sum(s.handled for s in table)
    on_time = sum(s.handled_on_time for s in table)
    due = sum(s.indicators_due for s in table)
    submitted = sum(s.on_time for s in table)
    return html.Div(
        [
            html.Span(
                percent(100 * on_time / handled if handled else None, ctx.lang),
                className="headline-number",
            ),
            html.Span(
                [
                    html.Span(ctx.t("acc.headline_reports")),
                    html.Span(ctx.t("acc.headline_indicators", on_time=submitted, due=due)),
                ],
                className="headline-marks acc-headline",
            ),
        ],
        className="headline",
    )


DENSE_FROM = 9  # rows from which a list is drawn tighter, to fit a 1080p panel
ROWS_SHOWN = 16  # rows at most: past it the middle of the list is said in one line


def fitted(rows: list, more: Callable[[int, int, int], html.Div]) -> html.Div:
    """The list's rows in a panel's height: tighter from DENSE_FROM rows; past ROWS_SHOWN the
    first and last halves, and `more(count, first, last)` (1-based positions) for the middle
    left out: the best and the worst of a league are what leaders read."""
    shown = rows
    if len(rows) > ROWS_SHOWN:
        half = ROWS_SHOWN // 2
        left_out = len(rows) - 2 * half + 1
        shown = [*rows[:half], more(left_out, half + 1, half + left_out), *rows[-half + 1 :]]
    dense = " acc-list--dense" if len(shown) >= DENSE_FROM else ""
    return html.Div(shown, className="acc-list" + dense)


def league(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    t = ctx.t
    table = standings(ctx.profile, indicator_values(data), all_reports(data), ctx.now, ctx.tz)
    names = {u.code: u.name(ctx.lang) for u in ctx.profile.handling_units}
    head = html.Div(
        [
            html.Span("#"),
            html.Span(t("acc.unit")),
            html.Span(t("acc.indicators")),
            html.Span(t("acc.reports_on_time")),
            html.Span(t("acc.overdue")),
            html.Span(t("acc.median")),
        ],
        className="acc-row acc-row--head",
    )
    rows = []
    for n, s in enumerate(table, start=1):
        marks = []
        if s.late:
            marks.append(mark("at_risk", t, t("acc.late_n", n=s.late)))
        if s.missing:
            marks.append(mark("missed", t, t("acc.missing_n", n=s.missing)))
        tone = "bad" if s.overdue_now else "ok"
        rows.append(
            html.Div(
                [
                    html.Span(str(n), className="acc-rank"),
                    html.Div(
                        [
                            html.Div(names.get(s.unit, s.unit), className="acc-unit"),
                            html.Div(t("acc.assigned", n=s.reports), className="acc-sub"),
                        ]
                    ),
                    html.Div(
                        [
                            html.Div(
                                t("acc.on_time_of", on_time=s.on_time, due=s.indicators_due)
                                if s.indicators_due
                                else "–"
                            ),
                            html.Div(marks, className="acc-sub"),
                        ]
                    ),
                    html.Span(percent(s.on_time_percent, ctx.lang), className="acc-figure"),
                    html.Span(str(s.overdue_now), className=f"acc-figure acc-figure--{tone}"),
                    html.Span(hours(s.median_hours, t), className="acc-figure"),
                ],
                className="acc-row",
            )
        )

    def more(count: int, first: int, last: int) -> html.Div:
        return html.Div(t("acc.more_units", n=count, first=first, last=last), className="acc-more")

    return [
        html.Div(t("acc.league", days=REPORT_DAYS), className="tile-title"),
        fitted([head, *rows], lambda n, a, b: more(n, a - 1, b - 1)),
    ]


def sources(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    t = ctx.t
    values = indicator_values(data)
    due = indicators_due(ctx.profile, values, ctx.now, ctx.tz)
    # A unit's indicators were last heard of by a submission or an automated source's value.
    heard = [f[["indicator_id", "time"]] for f in (values, data["kpi"]) if not f.empty]
    found = source_health(
        ctx.profile,
        data["feeds"],
        due,
        pd.concat(heard, ignore_index=True) if heard else values,
        ctx.now,
        timedelta(seconds=ctx.stale_after_seconds),
    )
    declared = {d.feed: d for d in ctx.profile.data_sources}
    names = {u.code: u.name(ctx.lang) for u in ctx.profile.handling_units}
    if len(found) > ROWS_SHOWN:  # the late first: the middle left out is then live sources
        found = sorted(found, key=lambda s: s.live)
    rows = []
    for s in found:
        age = ctx.age_seconds(s.last_update) if s.last_update is not None else None
        last = t("acc.last", age=age_text(age, t)) if age is not None else t("never")
        if s.kind == "feed":
            title = declared[s.key].name(ctx.lang) if s.key in declared else s.key
            owner = t("acc.owner", owner=names[s.owner]) if s.owner in names else t("acc.no_owner")
            target = t("acc.every", age=age_text(s.freshness.total_seconds(), t))
            detail = f"{owner} · {target} · {last}"
        else:  # the unit answers for its own indicators
            title = t("acc.unit_indicators", unit=names.get(s.key, s.key))
            detail = f"{t('acc.by_due_day')} · {last}"
        state = mark("live", t) if s.live else mark("stale", t, t("acc.late"))
        rows.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(title, className="acc-unit"),
                            html.Div(detail, className="acc-sub"),
                        ]
                    ),
                    html.Div(state, className="acc-state"),
                ],
                className="acc-source",
            )
        )

    def more(count: int, _first: int, _last: int) -> html.Div:
        return html.Div(t("acc.more_sources", n=count), className="acc-more")

    return [html.Div(t("acc.sources"), className="tile-title"), fitted(rows, more)]


def footer(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    """The age of the newest data the screen counts: a report, a submission or a feed's beat."""
    ages = [
        newest_age(frame, ctx)
        for frame in (all_reports(data), data["kpi_submitted"], data["feeds"])
    ]
    known = [age for age in ages if age is not None]
    return age_line(min(known) if known else None, ctx.for_part("reports"))


OUTPUTS = {
    f"{NAME}-headline.children": headline,
    f"{NAME}-league.children": league,
    f"{NAME}-sources.children": sources,
    f"{NAME}-age.children": footer,
}
