"""WiFi: clients per site now, the 24-hour curve against yesterday and against what is usual at
that time of day (wall.baselines; ahead of now, the usual band is the forecast of the next
hours), with the anomaly alerts raised on it, the most loaded access points against their
capacity, and throughput from the byte counters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from dash import html

from layouts import overview
from layouts.alerts import anomaly_label, anomaly_raises, anomaly_trace
from layouts.common import (
    COLORS,
    TRUNCATES,
    Context,
    Figure,
    alarm_slot,
    big_tile,
    empty_figure,
    figure,
    figure_text,
    fmt_int,
    fmt_number,
    graph,
    horizontal_bars,
    more_line,
    newest_age,
    screen_header,
    tile_head,
)
from wall.baselines import HourlyHistory, usual_band
from wall.city import CitySettings
from wall.domain import throughput_from_counters
from wall.i18n import Translator

NAME = "wifi"
PARTS = ("wifi", "wifi_clients_48h", "wifi_throughput_3h", "wifi_usual", "alerts")
CURVE_WINDOW = timedelta(minutes=15)
FORECAST = timedelta(hours=6)  # the usual band drawn ahead of now
TOWN = "town"  # the series of the town's clients in the band's history
ANOMALIES_SHOWN = 8  # markers on the curve, the newest (a crowd raises an AP's and its site's)
LABEL_SHOWN = 22  # characters of a marker's label
FOOT_CLEAR = 60  # px at 1080p from a low mark up to its label: over the foot words, an up label
LOW_SHARE = 0.65  # of the axis' height: a label hung below a mark under it reaches the foot
THROUGHPUT_WINDOW = timedelta(minutes=5)
SITES_SHOWN = 12
APS_SHOWN = 7
GRAPHS = ("sites", "curve", "throughput")


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [
                    html.Div(id=f"{NAME}-numbers", className="wifi-numbers"),
                    *(
                        html.Div(
                            [html.Div(id=f"{NAME}-{name}-head"), graph(f"{NAME}-{name}")],
                            className=f"tile tile--graph wifi-{name}",
                        )
                        for name in GRAPHS
                    ),
                    html.Div(
                        [
                            html.Div(id=f"{NAME}-top-head"),
                            html.Div(id=f"{NAME}-top", className="ap-list"),
                        ],
                        className="tile wifi-top",
                    ),
                ],
                className="wifi-grid",
            ),
        ],
        className="screen",
    )


def clients_per_window(aggregate: pd.DataFrame) -> pd.DataFrame:
    """Town-wide clients per window from the mean clients of each AP (one row per AP and
    window, or already summed by the store): time, clients."""
    if aggregate.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "clients": []})
    total = aggregate.groupby("time", as_index=False)["value"].sum()
    return total.rename(columns={"value": "clients"})


def throughput_series(points: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Town-wide download/upload in Mbit/s per THROUGHPUT_WINDOW from each AP's byte counters
    (time, ap_id, rx_bytes, tx_bytes): time, rx_mbps, tx_mbps, of the windows ended by `now`
    (the one still filling would show a drop that is not there). Computed once per history
    refresh by the `wifi_throughput_3h` part, not in every tick's drawing."""
    rates = throughput_from_counters(points)
    if rates.empty:
        return pd.DataFrame(columns=["time", "rx_mbps", "tx_mbps"])
    rates = rates.assign(time=pd.to_datetime(rates["time"], utc=True).dt.floor(THROUGHPUT_WINDOW))
    rates = rates[rates["time"] + THROUGHPUT_WINDOW <= pd.Timestamp(now)]
    per_ap = rates.groupby(["time", "ap_id"], as_index=False)[["rx_bps", "tx_bps"]].mean()
    town = per_ap.groupby("time", as_index=False)[["rx_bps", "tx_bps"]].sum()
    return pd.DataFrame(
        {
            "time": town["time"],
            "rx_mbps": town["rx_bps"] / 1e6,
            "tx_mbps": town["tx_bps"] / 1e6,
        }
    )


def fmt_rate(mbps: float, lang: str) -> str:
    """Mbit/s as read from afar: 86,5 Mbit/s, or 1,3 Gbit/s past a thousand."""
    if mbps >= 1000:
        return f"{fmt_number(round(mbps / 1000, 1), lang)} Gbit/s"
    return f"{fmt_number(round(mbps, 1 if mbps < 100 else 0), lang)} Mbit/s"


def numbers(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    """Clients now and APs up (the overview's own tiles), and throughput now."""
    speed = data["wifi_throughput_3h"]
    now_rate = speed.iloc[-1] if len(speed) else None  # the last window ended
    return [
        overview.clients_tile(data, ctx),
        overview.wifi_tile(data, ctx),
        big_tile(
            ctx.t("wifi.throughput_now"),
            "–" if now_rate is None else f"↓ {fmt_rate(now_rate['rx_mbps'], ctx.lang)}",
            newest_age(data["wifi"], ctx),
            ctx,
            detail=None
            if now_rate is None
            else f"↑ {fmt_rate(now_rate['tx_mbps'], ctx.lang)} · {ctx.t('wifi.upload')}",
        ),
    ]


def sites_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("wifi.by_site"), newest_age(data["wifi"], ctx), ctx)


def sites_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    live = data["wifi"]
    if live.empty or "site" not in live.columns:
        return empty_figure(ctx)
    per_site = live.groupby("site")["clients"].sum().sort_values(ascending=False)
    raised = anomaly_raises(data.get("alerts", pd.DataFrame()), ("site",))
    unusual = {
        str(row.name): "▲ " if float(row.value) > float(row.high) else "▼ "
        for row in raised[raised["active"]].itertuples()
        if row.name in per_site.index
    }
    shown = sites_shown(per_site, set(unusual))
    return horizontal_bars(
        ctx,
        list(shown.index),
        shown.tolist(),
        [COLORS["bad"] if site in unusual else COLORS["info"] for site in shown.index],
        [unusual.get(site, "") for site in shown.index],
    )


def sites_shown(per_site: pd.Series, unusual: set[str]) -> pd.Series:
    """The SITES_SHOWN busiest sites, where every site with an open anomaly takes the place
    of the least busy (a site fallen silent is news, however few its users), busiest first."""
    rest = per_site[~per_site.index.isin(unusual)]
    keep = max(0, SITES_SHOWN - len(unusual))
    chosen = pd.concat([per_site[per_site.index.isin(unusual)], rest.head(keep)])
    return chosen.sort_values(ascending=False, kind="stable").head(SITES_SHOWN)


def curve_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("wifi.curve"), newest_age(data["wifi"], ctx), ctx)


def usual_town_band(
    hourly: pd.DataFrame,
    now: datetime,
    timezone: str,
    festival_days: Iterable[date],
    deviations: float,
    weeks: float,
    holidays: Iterable[date] = (),
) -> pd.DataFrame:
    """The town's usual clients for each CURVE_WINDOW of today's curve from a day before `now` to
    FORECAST after it (and an hour more each side, for the hour the band is kept): time (the
    window's start, where the curve draws its mean), centre, low, high, level.

    `hourly` is the town's clients per whole hour (time, value: the sum over access points of
    each one's hourly mean), one aggregate over the last `weeks`. Each window's band is the one
    the anomaly rule judges a value read at the window's middle against (`deviations` sigmas
    around the per-slot medians, between the slots around it and widened on a ramp:
    HourlyHistory.usual_at), so the band drawn is the band an alert's words give."""
    history = HourlyHistory(timezone, festival_days, weeks, holidays=holidays)
    if not hourly.empty:
        history.add(hourly.assign(series=TOWN)[["time", "series", "value"]])
    hour = pd.Timestamp(now).floor("h")
    starts = pd.date_range(
        hour - pd.Timedelta(days=1, hours=1),
        hour + FORECAST + pd.Timedelta(hours=1),
        freq=CURVE_WINDOW,
    )
    half = CURVE_WINDOW / 2
    band = usual_band(history, TOWN, [(s + half).to_pydatetime() for s in starts], deviations)
    return band.assign(time=band["time"] - half)


def curve_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    """Today as a solid line, yesterday (shifted by a day) as a dashed one, both in front of
    the usual band (the anomaly rule's, at each window), which goes on FORECAST past now (the
    forecast); the anomaly alerts raised on WiFi series as triangles on today's line (up: more
    users than usual, down: fewer), labelled with their site or access point."""
    ctx = ctx.on_time_axis()
    totals = clients_per_window(data["wifi_clients_48h"])
    band = data.get("wifi_usual", pd.DataFrame())
    if totals.empty and band.empty:
        return empty_figure(ctx)
    now = pd.Timestamp(ctx.now)
    day = pd.Timedelta(days=1)
    start, end = now - day, now + pd.Timedelta(FORECAST)
    today = totals[totals["time"] >= start]
    yesterday = totals.assign(time=totals["time"] + day)
    yesterday = yesterday[(yesterday["time"] >= start) & (yesterday["time"] <= end)]

    def local(times: pd.Series) -> pd.Series:
        return times.dt.tz_convert(ctx.tz).dt.tz_localize(None)

    # In the order drawn (plotly would reverse it for the band's fill).
    fig = figure(ctx, showlegend=True, legend={"traceorder": "normal"})
    fig["data"] += band_traces(band, start, end, ctx)
    for frame, name, style in (
        (yesterday, ctx.t("wifi.yesterday"), {"dash": "dash", "color": COLORS["muted"]}),
        (today, ctx.t("wifi.today"), {"color": COLORS["info"], "width": 4 * ctx.scale}),
    ):
        if frame.empty:
            continue
        fig["data"].append(
            {
                "type": "scatter",
                "x": local(frame["time"]),
                "y": frame["clients"],
                "mode": "lines",
                "line": {"width": 3 * ctx.scale, **style},
                "name": name,
            }
        )
    raises = anomaly_raises(data.get("alerts", pd.DataFrame()), ("ap", "site"))
    labels = []
    if not raises.empty:
        drawn = pd.concat([pd.Series(t["y"], dtype=float) for t in fig["data"]] or [pd.Series()])
        top = float(drawn.max()) if drawn.notna().any() else 0.0
        marks, labels = anomaly_traces(raises[raises["time"] >= start], today, ctx, top)
        fig["data"] += marks
    local_now = now.tz_convert(ctx.tz).tz_localize(None)
    fig["layout"]["xaxis"].update(
        range=[local_now - day, local_now + pd.Timedelta(FORECAST)], tickformat="%H:%M"
    )
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    # Now, and the forecast after it: a line and two words, not a colour alone.
    fig["layout"]["shapes"] = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": local_now,
            "x1": local_now,
            "y0": 0,
            "y1": 1,
            "line": {"color": COLORS["text"], "width": 2 * ctx.scale, "dash": "dot"},
        }
    ]
    # At the foot of the line, on a plate: the top is where a fresh anomaly's label stands.
    words = {
        "xref": "x",
        "yref": "paper",
        "x": local_now,
        "y": 0,
        "yanchor": "bottom",
        "yshift": 4 * ctx.scale,
        "showarrow": False,
        "font": {"size": 20 * ctx.scale, "color": COLORS["text"]},
        "bgcolor": "rgba(11, 16, 22, 0.85)",
    }
    fig["layout"]["annotations"] = [
        {**words, "text": ctx.t("wifi.now"), "xanchor": "right", "xshift": -8 * ctx.scale},
        {
            **words,
            "text": ctx.t("wifi.forecast") + " →",
            "xanchor": "left",
            "xshift": 8 * ctx.scale,
        },
        *labels,
    ]
    return fig


def band_traces(band: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, ctx: Context) -> list:
    """The usual band as a filled area over start–end, a point per curve window (its low–high,
    usual_town_band); none when there is no band (too little history)."""
    if band.empty:
        return []
    # A point either side of start–end, so the area reaches the axis' ends.
    near = (band["time"] + CURVE_WINDOW > start) & (band["time"] - CURVE_WINDOW < end)
    band = band[near].sort_values("time")
    if band.empty:
        return []
    x = band["time"].dt.tz_convert(ctx.tz).dt.tz_localize(None)
    line = {"width": 0}
    return [
        {
            "type": "scatter",
            "x": x,
            "y": band["low"],
            "mode": "lines",
            "line": line,
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "x": x,
            "y": band["high"],
            "mode": "lines",
            "line": line,
            "fill": "tonexty",
            "fillcolor": "rgba(92, 184, 240, 0.3)",  # COLORS["info"], faint behind the lines
            "name": ctx.t("wifi.usual"),
        },
    ]


def anomaly_traces(
    raises: pd.DataFrame, today: pd.DataFrame, ctx: Context, top: float
) -> tuple[list, list]:
    """The newest ANOMALIES_SHOWN raises, one triangle per place and curve window (a crowd
    raises its access points' and its site's alerts together): on today's line at that time,
    labelled with the site (or the access point and its site) and how many more raised with it.
    `top`: the highest value drawn (the axis' top, near enough). Returns the marks' traces and
    their labels (annotations)."""
    if raises.empty:
        return [], []
    place = raises["site"].where(raises["site"].map(lambda s: isinstance(s, str)), raises["name"])
    marked = raises.assign(
        window=raises["time"].dt.floor(CURVE_WINDOW),
        place=place,
        rank=(raises["kind"] != "site").astype(int),  # the site first: it names the place
    )
    marks = []
    ordered = marked.sort_values(["window", "place", "rank", "time"], kind="stable")
    for (at, _), group in ordered.groupby(["window", "place"], sort=False):
        first = group.iloc[0]
        name = first["name"]
        if first["kind"] == "ap" and isinstance(first["site"], str):
            name = f"{name} · {first['site']}"  # the access point, where it is
        label = figure_text(name, LABEL_SHOWN)
        if len(group) > 1:
            label += f" +{len(group) - 1}"
        value, high = first["value"], first["high"]
        up = bool(pd.notna(value) and pd.notna(high) and value > high)
        marks.append((at, label, up))
    marks = marks[-ANOMALIES_SHOWN:]
    times = pd.to_datetime([at for at, _, _ in marks], utc=True)
    if today.empty:
        y = [0.0] * len(marks)
    else:
        curve_x = today["time"].astype("int64").to_numpy()
        y = np.interp(times.astype("int64").to_numpy(), curve_x, today["clients"].to_numpy(float))
    x = times.tz_convert(ctx.tz).tz_localize(None)
    traces, labels = [], []
    for direction in (True, False):
        chosen = [i for i, (_, _, up) in enumerate(marks) if up is direction]
        if not chosen:
            continue
        # One legend entry for both: the triangle's direction says more or fewer.
        xs, ys = [x[i] for i in chosen], [float(y[i]) for i in chosen]
        traces.append(anomaly_trace(xs, ys, ctx, direction, 26, legend=not traces))
        labels += [
            anomaly_label(
                marks[i][1],
                x[i],
                float(y[i]),
                ctx,
                direction,
                None if direction else label_shift(y[i], top),
            )
            for i in chosen
        ]
    return traces, labels


def label_shift(at: float, top: float) -> float | None:
    """A downward mark in the chart's lower part (under LOW_SHARE of `top`, the highest value
    drawn) is labelled above it, over an upward mark's label at the same place and clear of the
    now line's words at the chart's foot; else in its usual place (None)."""
    return FOOT_CLEAR if top <= 0 or at < LOW_SHARE * top else None


def top_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("wifi.top"), newest_age(data["wifi"], ctx), ctx)


def top_loaded(latest: pd.DataFrame) -> pd.DataFrame:
    """Access points by load (clients / capacity), most loaded first: ap_id, site, clients,
    capacity, load_pct."""
    needed = {"ap_id", "clients", "capacity"}
    if latest.empty or not needed <= set(latest.columns):
        return pd.DataFrame(columns=["ap_id", "site", "clients", "capacity", "load_pct"])
    frame = latest[latest["capacity"].fillna(0) > 0].copy()
    frame["load_pct"] = (100 * frame["clients"] / frame["capacity"]).round()
    if "site" not in frame.columns:
        frame["site"] = frame["ap_id"]
    frame = frame.sort_values(["load_pct", "ap_id"], ascending=[False, True], kind="stable")
    return frame[["ap_id", "site", "clients", "capacity", "load_pct"]].reset_index(drop=True)


def top_list(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    """The most loaded access points, each a row: its site and id (cut with an ellipsis when
    long), a bar of its load and the figures, marked by band so they differ by more than
    colour. Rows are HTML so the page drops those that do not fit (counted), never clips."""
    loaded = top_loaded(data["wifi"])
    if loaded.empty:
        return [html.Div(ctx.t("no_data"), className="calm")]
    rows = []
    for ap in loaded.head(APS_SHOWN).itertuples():
        tone = load_tone(ap.load_pct)
        rows.append(
            html.Div(
                [
                    html.Div(
                        [ap.site, html.Span(f" ({ap.ap_id})", className="ap-id")],
                        className="ap-name",
                        **TRUNCATES,
                    ),
                    html.Div(
                        html.Div(
                            className=f"ap-bar ap-bar--{tone}",
                            style={"width": f"{min(100.0, max(0.0, ap.load_pct)):.0f}%"},
                        ),
                        className="ap-track",
                    ),
                    html.Div(
                        f"{LOAD_MARKS[tone]}{int(ap.load_pct)}% · "
                        f"{fmt_int(ap.clients, ctx.lang)}/{fmt_int(ap.capacity, ctx.lang)}",
                        className=f"ap-load ap-load--{tone}",
                    ),
                ],
                className="ap-row",
            )
        )
    return [*rows, more_line(0, ctx)]


def load_tone(load_pct: float) -> str:
    """An access point's load band: over 90 % of its capacity, over 75 %, or fine."""
    return "bad" if load_pct >= 90 else "warn" if load_pct >= 75 else "ok"


# Each band its own mark beside the figure, so the bands differ by more than colour.
LOAD_MARKS = {"bad": "▲ ", "warn": "△ ", "ok": ""}


def throughput_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("wifi.throughput"), newest_age(data["wifi"], ctx), ctx)


def throughput_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    speed = data["wifi_throughput_3h"]
    if speed.empty:
        return empty_figure(ctx)
    x = speed["time"].dt.tz_convert(ctx.tz).dt.tz_localize(None)
    fig = figure(ctx, showlegend=True)
    fig["data"] += [
        {
            "type": "scatter",
            "x": x,
            "y": speed["rx_mbps"],
            "mode": "lines",
            "line": {"color": COLORS["info"], "width": 4 * ctx.scale},
            "name": "↓ " + ctx.t("wifi.download"),
        },
        {
            "type": "scatter",
            "x": x,
            "y": speed["tx_mbps"],
            "mode": "lines",
            "line": {"color": COLORS["warn"], "width": 3 * ctx.scale, "dash": "dot"},
            "name": "↑ " + ctx.t("wifi.upload"),
        },
    ]
    fig["layout"]["xaxis"]["tickformat"] = "%H:%M"
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    return fig


OUTPUTS = {
    f"{NAME}-numbers.children": numbers,
    f"{NAME}-sites-head.children": sites_head,
    f"{NAME}-sites.figure": sites_figure,
    f"{NAME}-curve-head.children": curve_head,
    f"{NAME}-curve.figure": curve_figure,
    f"{NAME}-top-head.children": top_head,
    f"{NAME}-top.children": top_list,
    f"{NAME}-throughput-head.children": throughput_head,
    f"{NAME}-throughput.figure": throughput_figure,
}
