"""Which screens a URL shows: `/`, `/<screen>`, `/kiosk?layouts=…&rotate=…&lang=…`, and which
alert severities sound on it (`sound=critical,high`, on any of them).

A bad parameter never blanks the wall: it is named in a notice on screen, and the valid parts of
the URL still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from uuid import uuid4

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, dcc, html

from layouts import SCREENS
from layouts.common import mark
from wall.alerts.model import SEVERITIES
from wall.i18n import LANGUAGES, Translator
from wall.screen_health import screen_name_problem
from wall.settings import Settings

KIOSK_DEFAULT = ("overview", "cameras", "wifi", "reports")
ROTATE_DEFAULT = 30.0
ROTATE_LIMITS = (5.0, 3600.0)
KIOSK_PARAMS = ("layouts", "rotate", "lang", "sound", "screen")
# One short tone per severity (scripts/make_alarm_sounds.py): `{severity}` is filled in.
SOUND_FILES = "/assets/alarm-{severity}.wav"


@dataclass(frozen=True)
class Plan:
    screens: tuple[str, ...]
    rotate_seconds: float | None  # None: one screen, no rotation
    lang: str
    problems: tuple[tuple[str, dict], ...] = field(default=())  # (text key, values)
    sound: tuple[str, ...] = ()  # the severities whose unacknowledged alerts sound
    screen_name: str | None = None  # `screen=`: the name the page reports its health under


def plan_for(path: str | None, search: str | None, default_lang: str) -> Plan:
    """The screens, rotation and language a URL asks for, and what was wrong with it."""
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    problems: list[tuple[str, dict]] = []
    lang = default_lang
    if "lang" in query:
        wanted = query["lang"][-1].strip().lower()
        if wanted in LANGUAGES:
            lang = wanted
        else:
            problems.append(("param.bad_lang", {"param": "lang", "value": query["lang"][-1]}))
    sound = sound_for(query, problems)
    screen_name = screen_name_for(query, problems)
    name = (path or "/").strip("/") or "overview"
    if name != "kiosk":
        if name not in SCREENS:
            problems.append(("page.not_found", {"path": path}))
            name = "overview"
        return Plan((name,), None, lang, tuple(problems), sound, screen_name)
    for param in query:
        if param not in KIOSK_PARAMS:
            problems.append(("param.unknown", {"param": param, "known": ", ".join(KIOSK_PARAMS)}))
    screens: list[str] = []
    if "layouts" in query:
        for value in ",".join(query["layouts"]).split(","):
            value = value.strip().lower()
            if value in SCREENS:
                if value not in screens:
                    screens.append(value)
            elif value:
                problems.append(
                    (
                        "param.unknown_layout",
                        {"param": "layouts", "value": value, "known": ", ".join(SCREENS)},
                    )
                )
        if not screens:
            problems.append(
                ("param.no_layouts", {"param": "layouts", "fallback": ", ".join(KIOSK_DEFAULT)})
            )
    screens = screens or list(KIOSK_DEFAULT)
    rotate = ROTATE_DEFAULT
    if "rotate" in query:
        raw = query["rotate"][-1]
        try:
            rotate = float(raw)
            if not ROTATE_LIMITS[0] <= rotate <= ROTATE_LIMITS[1]:
                raise ValueError(raw)
        except ValueError:
            rotate = ROTATE_DEFAULT
            low, high = ROTATE_LIMITS
            problems.append(
                (
                    "param.bad_rotate",
                    {
                        "param": "rotate",
                        "value": raw,
                        "low": int(low),
                        "high": int(high),
                        "default": int(ROTATE_DEFAULT),
                    },
                )
            )
    rotate_seconds = rotate if len(screens) > 1 else None
    return Plan(tuple(screens), rotate_seconds, lang, tuple(problems), sound, screen_name)


def screen_name_for(query: dict[str, list[str]], problems: list[tuple[str, dict]]) -> str | None:
    """The name `screen=` gives the page (its health reports, wall.screen_health), or None; a
    bad one is named in `problems`, and the page reports without a name."""
    if "screen" not in query:
        return None
    value = query["screen"][-1].strip()
    if screen_name_problem(value):
        problems.append(("param.bad_screen", {"param": "screen", "value": value}))
        return None
    return value


def sound_for(query: dict[str, list[str]], problems: list[tuple[str, dict]]) -> tuple[str, ...]:
    """The severities `sound=` names (comma-separated, any order), most severe first; a value
    that is not a severity is named in `problems`, and the others still sound."""
    wanted = set()
    for value in ",".join(query.get("sound", [])).split(","):
        value = value.strip().lower()
        if value in SEVERITIES:
            wanted.add(value)
        elif value:
            known = ", ".join(SEVERITIES)
            problems.append(("param.bad_sound", {"param": "sound", "value": value, "known": known}))
    return tuple(sev for sev in SEVERITIES if sev in wanted)


def page(plan: Plan, settings: Settings) -> list:
    """Every screen of the plan mounted at once (only the current one visible and ticking), so a
    rotation needs no server round trip and keeps showing the last data while offline."""
    t = Translator(plan.lang)
    frames = [
        html.Div(
            [
                SCREENS[name].shell(t, settings),
                dcc.Interval(id=f"{name}-tick", interval=int(settings.refresh_seconds * 1000)),
                dcc.Store(id=f"{name}-pull"),
                dcc.Store(id=f"{name}-shown"),  # digests of what the screen shows
            ],
            id={"type": "screen-frame", "name": name},
            className="screen-frame" + ("" if i == 0 else " screen-frame--hidden"),
        )
        for i, name in enumerate(plan.screens)
    ]
    notices = [
        dbc.Alert(mark("at_risk", t, t(key, **values)), className="param-notice", fade=False)
        for key, values in plan.problems
    ]
    return [
        *frames,
        html.Div(notices, className="param-notices") if notices else None,
        dcc.Store(id="page-current", data=plan.screens[0]),
        # What assets/wall.js sounds: the severities of the URL's `sound`, and the sound files.
        html.Div(
            className="alarm-sound",
            hidden=True,
            **{"data-severities": " ".join(plan.sound), "data-files": SOUND_FILES},
        ),
        # How assets/wall.js reports the page's health (wall.screen_health): its name, how often.
        html.Div(
            className="screen-heartbeat",
            hidden=True,
            **{
                "data-screen": plan.screen_name or "",
                "data-every-ms": str(int(settings.screen_heartbeat_seconds * 1000)),
                "data-url": "/api/screens/heartbeat",
            },
        ),
        # This rendering of the page, so that digests recorded on an earlier one never count.
        dcc.Store(id="page-id", data=uuid4().hex),
        dcc.Store(
            id="kiosk-config",
            data={
                "screens": list(plan.screens),
                "reload_after_ms": int(settings.kiosk_reload_hours * 3_600_000),
            },
        ),
        # Rotates a kiosk; on a single screen it only looks at the page's age (assets/wall.js
        # reloads every page after kiosk_reload_hours, rotating or not).
        dcc.Interval(
            id="kiosk-rotate",
            interval=int((plan.rotate_seconds or ROTATE_DEFAULT) * 1000),
        ),
    ]


def register(app: Dash, settings: Settings) -> None:
    @app.callback(
        Output("page", "children"),
        Output("page", "className"),
        Output("page-lang", "data"),
        Input("url", "pathname"),
        Input("url", "search"),
    )
    def show_page(path: Any, search: Any):
        # The browser sends text or nothing; anything else did not come from the wall's page.
        path = path if isinstance(path, str) else None
        search = search if isinstance(search, str) else None
        plan = plan_for(path, search, settings.language)
        kiosk = " page--kiosk" if (path or "").strip("/") == "kiosk" else ""
        return page(plan, settings), f"page{kiosk}", plan.lang

    app.clientside_callback(
        "function(n, config, current) { return window.iocWall.rotate(n, config, current); }",
        Output("page-current", "data"),
        Output({"type": "screen-frame", "name": ALL}, "className"),
        Input("kiosk-rotate", "n_intervals"),
        State("kiosk-config", "data"),
        State("page-current", "data"),
        prevent_initial_call=True,
    )
