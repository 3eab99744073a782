"""The wall's screens, one module each: a static shell, and pure functions that turn the
screen's DataFrames into the components and figures of each output."""

from layouts import accountability, alerts, cameras, indicators, overview, reports, wifi

SCREENS = {
    m.NAME: m for m in (overview, cameras, wifi, reports, indicators, accountability, alerts)
}
