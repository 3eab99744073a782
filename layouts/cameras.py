"""Cameras: every camera as a tile grouped by ward, availability per ward, outages over 24 hours;
a ward whose cameras down are out of their usual band (an open `anomaly` alert, wall.alerts) is
marked on its panel, and the raise on the outages' time axis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from dash import html

from layouts.alerts import (
    above_band,
    anomaly_label,
    anomaly_note,
    anomaly_raises,
    anomaly_trace,
    anomaly_words,
    open_anomalies,
)
from layouts.common import (
    COLORS,
    MARKS,
    TRUNCATES,
    Context,
    Figure,
    age_line,
    age_text,
    alarm_slot,
    as_bool,
    empty_figure,
    figure,
    figure_text,
    fmt_int,
    graph,
    mark,
    more_line,
    newest_age,
    percent,
    screen_header,
    tile_head,
)
from wall.city import CitySettings
from wall.i18n import Translator

NAME = "cameras"
# The alerts part is the one every screen's alarm banner reads: the anomaly marks ask nothing more.
PARTS = ("cameras", "camera_outages", "alerts")
HISTORY = timedelta(hours=24)
OUTAGE_COLUMNS = ("camera_id", "start", "end")
TIMELINE_ROWS = 8
TIMELINE_LABEL_CHARS = 48  # the town's longest camera name is 45 characters
STATUSES = ("online", "offline", "nodata", "stale")


def camera_states(latest: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """camera_id, ward, name, status (online/offline/nodata/stale), age: one row per camera."""
    columns = ["camera_id", "ward", "name", "status", "age", "time"]
    if latest.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"camera_id": latest["camera_id"], "time": latest["time"]})
    frame["ward"] = (
        ctx.profile.todays_units(latest["ward"], ctx.lang) if "ward" in latest.columns else None
    )
    frame["name"] = latest["name"] if "name" in latest.columns else None
    frame["name"] = frame["name"].where(frame["name"].notna(), frame["camera_id"])
    online = (
        as_bool(latest["online"])
        if "online" in latest.columns
        else pd.Series(pd.NA, index=latest.index, dtype="boolean")
    )
    now = pd.Timestamp(ctx.now)
    age = (now - pd.to_datetime(frame["time"], utc=True)).dt.total_seconds().clip(lower=0)
    frame["age"] = age.astype(object).where(age.notna(), None)
    stale = age.gt(ctx.stale_after_seconds)  # no time at all (NaN) is not stale
    frame["status"] = np.select(
        [stale, online.isna(), online.fillna(False).astype(bool)],
        ["stale", "nodata", "online"],
        "offline",
    )
    return frame[columns]


def fold_outages(state: pd.DataFrame | None, points: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Outage periods so far, extended by newer camera_status points (time, camera_id, online):
    all of them, or only those where a camera's `online` changed (`Store.changes`), which give
    the same periods.

    The result has camera_id, start, end (NaT while the outage goes on) and is trimmed to the
    last 24 hours; feeding it back with the next points is how the wall follows its cameras
    without reading a day of history every minute.
    """
    spans = _utc_spans(state if state is not None else pd.DataFrame(columns=OUTAGE_COLUMNS))
    open_since = {
        row.camera_id: row.start for row in spans[spans["end"].isna()].itertuples(index=False)
    }
    closed = spans[spans["end"].notna()].to_dict("records")
    if not points.empty and "online" in points.columns:
        frame = points.assign(online=as_bool(points["online"])).dropna(subset=["online"])
        for row in frame.sort_values(["time", "camera_id"]).itertuples(index=False):
            if not row.online and row.camera_id not in open_since:
                open_since[row.camera_id] = row.time
            elif row.online and row.camera_id in open_since:
                start = open_since.pop(row.camera_id)
                closed.append({"camera_id": row.camera_id, "start": start, "end": row.time})
    rows = closed + [{"camera_id": c, "start": s, "end": pd.NaT} for c, s in open_since.items()]
    result = _utc_spans(pd.DataFrame(rows, columns=list(OUTAGE_COLUMNS)))
    horizon = pd.Timestamp(now) - pd.Timedelta(HISTORY)
    result = result[result["end"].isna() | (result["end"] >= horizon)]
    return result.sort_values(["camera_id", "start"], kind="stable").reset_index(drop=True)


def _utc_spans(spans: pd.DataFrame) -> pd.DataFrame:
    return spans.assign(
        start=pd.to_datetime(spans["start"], utc=True).astype("datetime64[ms, UTC]"),
        end=pd.to_datetime(spans["end"], utc=True).astype("datetime64[ms, UTC]"),
    )


def outages(spans: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Outages for drawing: camera_id, start, end (now while ongoing), ongoing."""
    if spans.empty:
        return pd.DataFrame(columns=["camera_id", "start", "end", "ongoing"])
    ongoing = spans["end"].isna()
    horizon = pd.Timestamp(ctx.now) - pd.Timedelta(HISTORY)
    return spans.assign(
        start=spans["start"].clip(lower=horizon),
        end=spans["end"].fillna(pd.Timestamp(ctx.now).as_unit("ms")),
        ongoing=ongoing,
    )


def offline_since(outage_frame: pd.DataFrame) -> dict[str, pd.Timestamp]:
    ongoing = (
        outage_frame[outage_frame["ongoing"].astype(bool)]
        if not outage_frame.empty
        else outage_frame
    )
    return dict(zip(ongoing["camera_id"], ongoing["start"], strict=True))


def ward_order(wards: pd.Series, units: tuple[str, ...]) -> list[str]:
    present = [w for w in wards.dropna().unique()]
    known = [w for w in units if w in present]
    return known + sorted(w for w in present if w not in units)


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [
                    html.Div(id=f"{NAME}-wards", className="ward-grid"),
                    html.Div(id=f"{NAME}-offline", className="tile offline-tile"),
                    html.Div(
                        [
                            html.Div(id=f"{NAME}-timeline-head"),
                            graph(f"{NAME}-timeline"),
                        ],
                        className="tile tile--graph timeline-tile",
                    ),
                ],
                className="cameras-grid",
            ),
        ],
        className="screen",
    )


def headline(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    states = camera_states(data["cameras"], ctx)
    counts = states["status"].value_counts()
    total = len(states)
    online = int(counts.get("online", 0))
    pct = percent(online, total)
    return [
        html.Span(
            f"{fmt_int(online, ctx.lang)}/{fmt_int(total, ctx.lang)}"
            + (f" · {pct}%" if pct is not None else ""),
            className="headline-number",
        ),
        html.Span(
            [
                mark(s, ctx.t, f"{ctx.t(f'status.{s}')} {int(counts.get(s, 0))}")
                for s in STATUSES
                if s in ("online", "offline") or counts.get(s, 0)
            ],
            className="headline-marks",
        ),
    ]


def ward_panels(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    """A panel per ward: availability, and one cell per camera whose shape says its state
    (320 cameras fit one screen; names of the cameras in trouble are in the offline list)."""
    states = camera_states(data["cameras"], ctx)
    if states.empty:
        return [html.Div(age_line(None, ctx), className="tile tile--calm")]
    states = states.assign(ward=states["ward"].fillna(ctx.t("cam.unknown_ward")))
    anomalies = ward_anomalies(data.get("alerts", pd.DataFrame()), ctx)
    panels, sizes, noted = [], [], []
    for ward in ward_order(states["ward"], ctx.profile.unit_names_in(ctx.lang)):
        cams = states[states["ward"] == ward].sort_values(["status", "name"], key=_status_first)
        online = int((cams["status"] == "online").sum())
        pct = percent(online, len(cams))
        tone = "ok" if online == len(cams) else "warn" if (pct or 0) >= 90 else "bad"
        cells = ward_cells(cams["status"], ctx)
        # Space in proportion to the cells shown (a counted cell is about four wide), never
        # less than its head needs: a big ward never overflows its panel, a small one's name
        # and figures stay readable.
        size = max(len(cells) if len(cams) <= WARD_CELLS else TROUBLE_CELLS + 12, MIN_PANEL)
        anomaly = anomalies.get(ward)
        panels.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(ward, className="ward-name", style={"--chars": len(ward)}),
                            html.Span(
                                f"{online}/{len(cams)} · {pct}%",
                                className=f"ward-availability ward-availability--{tone}",
                            ),
                        ],
                        className="ward-head",
                    ),
                    html.Div(
                        html.Div(className="ward-bar-fill", style={"width": f"{pct or 0}%"}),
                        className="ward-bar",
                    ),
                    anomaly_note(
                        anomaly,
                        anomaly_words(anomaly, ctx, counted="cam.down_n"),
                        ctx,
                        "ward-anomaly",
                    )
                    if anomaly is not None
                    else None,
                    html.Div(cells, className="cam-cells"),
                ],
                className="ward-panel" + (" ward-panel--anomaly" if anomaly is not None else ""),
                style={"flexGrow": size},
            )
        )
        sizes.append(size)
        noted.append(anomaly is not None)
    rows = [
        html.Div(
            panels[i : i + WARDS_PER_ROW],
            className="ward-row",
            # Each row's panel heads take room whatever the count: allow for them; a row with
            # an anomaly's line gets its height first (three lines in a narrow panel), the rest is
            # shared as before.
            style={
                "flexGrow": sum(sizes[i : i + WARDS_PER_ROW]) + 60,
                **({"flexBasis": NOTE_ROOM} if any(noted[i : i + WARDS_PER_ROW]) else {}),
            },
        )
        for i in range(0, len(panels), WARDS_PER_ROW)
    ]
    return rows


def ward_anomalies(alerts: pd.DataFrame, ctx: Context) -> dict[str, dict]:
    """{ward as the panels name it: its open cameras-down anomaly}: the series' name is the
    ward's Vietnamese name (wall.alerts.anomaly), named here as the screen's language does."""
    found = open_anomalies(alerts, ("cameras",))
    names = ctx.profile.todays_units(found["name"].astype(object), ctx.lang).fillna(found["name"])
    newest_last = list(zip(names, found.to_dict("records"), strict=True))[::-1]
    return dict(newest_last)  # of two raises of one ward (a former name's), the newest


def ward_cells(statuses: pd.Series, ctx: Context) -> list:
    """One cell per camera, problems first. A ward of more cameras than its panel holds (a
    city's hundreds) gets up to TROUBLE_CELLS cells of cameras in trouble, then one counted
    cell per state for the rest ("✔ 238", "✖ +174"): what the back of the room reads, where
    2,000 cells were mostly clipped and cost ~220 KB per tick."""
    if len(statuses) <= WARD_CELLS:
        return [
            html.Span(MARKS[status][0], className=f"cam-cell cam-cell--{status}")
            for status in statuses
        ]
    shown = statuses[statuses != "online"].iloc[:TROUBLE_CELLS]
    rest = statuses.iloc[len(shown) :].value_counts()
    counted = [
        html.Span(
            f"{MARKS[status][0]} {'+' if status in shown.values else ''}"
            f"{fmt_int(int(rest[status]), ctx.lang)}",
            className=f"cam-cell cam-cell--{status} cam-cell--many",
        )
        for status in sorted(rest.index, key=_STATUS_RANK.get)
    ]
    return [
        *(html.Span(MARKS[s][0], className=f"cam-cell cam-cell--{s}") for s in shown),
        *counted,
    ]


def offline_list(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    """Cameras in trouble by name, longest outage first, with how long they have been down."""
    states = camera_states(data["cameras"], ctx)
    trouble = states[states["status"] != "online"] if not states.empty else states
    head = tile_head(ctx.t("cam.offline_list"), newest_age(data["cameras"], ctx), ctx)
    if trouble.empty:
        return html.Div(
            [head, html.Div(mark("online", ctx.t, ctx.t("cam.none_offline")), className="calm")],
            className="offline-list",
        )
    down_since = offline_since(outages(data["camera_outages"], ctx))
    rows = []
    for cam in trouble.itertuples(index=False):
        since = down_since.get(cam.camera_id) if cam.status == "offline" else cam.time
        age = ctx.age_seconds(since) if since is not None else None
        rows.append((cam, age if age is not None else float("inf")))
    rows.sort(key=lambda item: (_STATUS_RANK[item[0].status], -item[1]))
    shown = rows[:OFFLINE_ROWS]
    items = [
        html.Div(
            [
                mark(cam.status, ctx.t, ""),
                html.Div(
                    [
                        html.Div(str(cam.name), className="off-name", **TRUNCATES),
                        html.Div(str(cam.ward), className="off-ward"),
                    ],
                    className="off-what",
                ),
                html.Div(
                    age_text(age, ctx.t) if age != float("inf") else "> 24 h",
                    className="off-age",
                ),
            ],
            className=f"off-row off-row--{cam.status}",
        )
        for cam, age in shown
    ]
    return html.Div(
        [head, *items, more_line(len(rows) - len(shown), ctx)], className="offline-list"
    )


_STATUS_RANK = {"offline": 0, "stale": 1, "nodata": 2, "online": 3}
OFFLINE_ROWS = 9
# A ward panel at 1920×1080 holds a cell per camera up to WARD_CELLS (the town's biggest ward
# has 69 cameras); past that, TROUBLE_CELLS cells and the counted cells fit a quarter of the row.
WARD_CELLS = 80
TROUBLE_CELLS = 32
WARDS_PER_ROW = 4  # ward panels side by side; more wards take more rows
MIN_PANEL = 20  # the share of the narrowest ward panel, in cells: its head fits
NOTE_ROOM = "4.6rem"  # an anomaly's line on three lines (.ward-anomaly) and the gap above it


def _status_first(column: pd.Series) -> pd.Series:
    """Sort key: problems first (offline, stale, no data), then online; names alphabetically."""
    if column.name == "status":
        return column.map(_STATUS_RANK)
    return column.astype(str)


def timeline_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("cam.timeline"), newest_age(data["cameras"], ctx), ctx)


def timeline_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    ctx = ctx.on_time_axis()
    spans = outages(data["camera_outages"], ctx)
    if spans.empty:
        return empty_figure(ctx, "✔ " + ctx.t("cam.none_offline"))
    names = {}
    latest = data["cameras"]
    if not latest.empty and "name" in latest.columns:
        names = dict(
            zip(latest["camera_id"], latest["name"].fillna(latest["camera_id"]), strict=True)
        )
    spans = spans.assign(duration=(spans["end"] - spans["start"]).dt.total_seconds())
    worst = spans.groupby("camera_id")["duration"].sum().sort_values(ascending=False)
    shown = list(worst.index[:TIMELINE_ROWS])
    spans = spans[spans["camera_id"].isin(shown)]
    labels = [figure_text(names.get(c, c)) for c in spans["camera_id"]]
    fig = figure(ctx, barmode="overlay", showlegend=True, bargap=0.25)
    ongoing_rows = spans["ongoing"].astype(bool)
    for ongoing, name, color, pattern in (
        (False, ctx.t("cam.restored"), COLORS["warn"], ""),
        (True, ctx.t("status.offline"), COLORS["bad"], "/"),  # hatched: not colour alone
    ):
        keep = (ongoing_rows == ongoing).tolist()
        part = spans[ongoing_rows == ongoing]
        if part.empty:
            continue
        fig["data"].append(
            {
                "type": "bar",
                "y": [label for label, k in zip(labels, keep, strict=True) if k],
                "x": (part["duration"] * 1000).tolist(),
                "base": part["start"].dt.tz_convert(ctx.tz).dt.tz_localize(None).tolist(),
                "orientation": "h",
                "marker": {"color": color, "pattern": {"shape": pattern, "fgcolor": "#000"}},
                "name": name,
            }
        )
    now_local = pd.Timestamp(ctx.now).tz_convert(ctx.tz).tz_localize(None)
    fig["layout"]["xaxis"].update(
        type="date", range=[now_local - HISTORY, now_local], tickformat="%H:%M"
    )
    rows = [figure_text(names.get(c, c)) for c in shown]
    fig["layout"]["yaxis"].update(
        categoryorder="array",
        categoryarray=rows[::-1],  # the first on top (see common.horizontal_bars)
        tickmode="array",
        tickvals=rows,
        ticktext=[figure_text(names.get(c, c), TIMELINE_LABEL_CHARS) for c in shown],
    )
    raised = anomaly_raises(data.get("alerts", pd.DataFrame()), ("cameras",))
    raised = raised[raised["time"] >= pd.Timestamp(ctx.now) - pd.Timedelta(HISTORY)]
    if not raised.empty:
        traces, lines, labels = raise_marks(raised, ctx)
        fig["data"] += traces
        fig["layout"]["shapes"] = lines
        fig["layout"]["annotations"] = labels
        # The marks' own axis over the camera rows: 0 is the time axis, 1 the top.
        fig["layout"]["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False}
    return fig


def raise_marks(raised: pd.DataFrame, ctx: Context) -> tuple[list, list, list]:
    """The newest RAISES_SHOWN cameras-down anomalies raised in the last 24 hours: a triangle on
    the time axis at the raise, a dotted line up through the camera rows, and the ward's name
    in the screen's language on a plate (on the side of the chart's middle, so a raise near now
    stays inside). Traces (on the overlaid axis y2), shapes, labels."""
    raised = raised.sort_values("time", kind="stable").tail(RAISES_SHOWN)
    at = raised["time"].dt.tz_convert(ctx.tz).dt.tz_localize(None).tolist()
    name = "name_vi" if ctx.lang == "vi" else "name_en"
    end = pd.Timestamp(ctx.now).tz_convert(ctx.tz).tz_localize(None)
    traces, labels = [], []
    for up in (True, False):
        chosen = [i for i, u in enumerate(above_band(raised)) if u is up]
        if chosen:
            xs = [at[i] for i in chosen]
            trace = anomaly_trace(xs, [MARK_Y] * len(xs), ctx, up, 24, legend=not traces)
            traces.append({**trace, "yaxis": "y2"})
    for x, ward in zip(at, raised[name], strict=True):
        label = anomaly_label(figure_text(ward, RAISE_LABEL_CHARS), x, MARK_Y, ctx, True)
        late = x > end - pd.Timedelta(HISTORY) / 2
        labels.append({**label, "yref": "y2", "xanchor": "right" if late else "left"})
    lines = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "line": {"color": COLORS["bad"], "width": 2 * ctx.scale, "dash": "dot"},
        }
        for x in at
    ]
    return traces, lines, labels


RAISES_SHOWN = 4  # anomaly marks on the outages' chart, the newest
RAISE_LABEL_CHARS = 40  # whole, as the town's unit names are (the longest is 27 characters)
MARK_Y = 0.06  # on y2: just above the time axis, clear of its tick labels


OUTPUTS = {
    f"{NAME}-headline.children": headline,
    f"{NAME}-wards.children": ward_panels,
    f"{NAME}-offline.children": offline_list,
    f"{NAME}-timeline-head.children": timeline_head,
    f"{NAME}-timeline.figure": timeline_figure,
}
