"""WiFi: clients per site now, the 24-hour curve against yesterday, the most loaded access points
against their capacity, and throughput from the byte counters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd
from dash import html

from layouts import overview
from layouts.common import (
    COLORS,
    TRUNCATES,
    Context,
    Figure,
    alarm_slot,
    big_tile,
    empty_figure,
    figure,
    fmt_int,
    fmt_number,
    graph,
    horizontal_bars,
    more_line,
    newest_age,
    screen_header,
    tile_head,
)
from wall.city import CitySettings
from wall.domain import throughput_from_counters
from wall.i18n import Translator

NAME = "wifi"
PARTS = ("wifi", "wifi_clients_48h", "wifi_throughput_3h")
CURVE_WINDOW = timedelta(minutes=15)
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
    shown = per_site.head(SITES_SHOWN)
    return horizontal_bars(ctx, list(shown.index), shown.tolist(), COLORS["info"])


def curve_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("wifi.curve"), newest_age(data["wifi"], ctx), ctx)


def curve_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    """Today as a solid filled line, yesterday (shifted by a day) as a dashed line."""
    ctx = ctx.on_time_axis()
    totals = clients_per_window(data["wifi_clients_48h"])
    if totals.empty:
        return empty_figure(ctx)
    now = pd.Timestamp(ctx.now)
    day = pd.Timedelta(days=1)
    today = totals[totals["time"] >= now - day]
    yesterday = totals[totals["time"] < now - day].assign(time=lambda f: f["time"] + day)
    fig = figure(ctx, showlegend=True)
    for frame, name, style in (
        (yesterday, ctx.t("wifi.yesterday"), {"dash": "dash", "color": COLORS["muted"]}),
        (today, ctx.t("wifi.today"), {"color": COLORS["info"], "width": 4 * ctx.scale}),
    ):
        if frame.empty:
            continue
        fig["data"].append(
            {
                "type": "scatter",
                "x": frame["time"].dt.tz_convert(ctx.tz).dt.tz_localize(None),
                "y": frame["clients"],
                "mode": "lines",
                "line": {"width": 3 * ctx.scale, **style},
                "name": name,
            }
        )
    local_now = now.tz_convert(ctx.tz).tz_localize(None)
    fig["layout"]["xaxis"].update(range=[local_now - day, local_now], tickformat="%H:%M")
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    return fig


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
