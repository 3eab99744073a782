"""InfluxDB line protocol and InfluxQL quoting: the two places where text meets the server."""

from __future__ import annotations

import numpy as np

from wall.store.base import FieldValue, FrameColumns, Point, encoded

_KEY_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})


def escape_tag(text: str) -> str:
    """Tag keys and values: escape comma, space and equals sign.

    A backslash is written as-is; Point refuses the backslash placements (before a backslash or
    separator, or at the end) that InfluxDB versions read back differently.
    """
    return text.translate(_KEY_ESCAPES)


def field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_point(point: Point) -> str:
    """One line, timestamp in milliseconds (written with precision=ms)."""
    tags = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in point.tags.items())
    fields = ",".join(f"{escape_tag(k)}={field_value(v)}" for k, v in point.fields.items())
    return f"{point.measurement.translate(_MEASUREMENT_ESCAPES)}{tags} {fields} {point.time_ms}"


def encode_frame(columns: FrameColumns) -> list[str]:
    """The lines encode_point gives for each of the frame's points, built column by column."""
    lines = np.full(len(columns), columns.measurement.translate(_MEASUREMENT_ESCAPES), dtype=object)
    for key, values in columns.tags.items():
        prefix = f",{escape_tag(key)}="
        lines += encoded(values, lambda v, prefix=prefix: prefix + escape_tag(v))
    for n, (key, values) in enumerate(columns.fields.items()):
        prefix = f"{',' if n else ' '}{escape_tag(key)}="
        lines += encoded(values, lambda v, prefix=prefix: prefix + field_value(v))
    lines += encoded(columns.time_ms, lambda ms: f" {ms}")
    return lines.tolist()


def quote_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
