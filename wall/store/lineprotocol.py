"""InfluxDB line protocol and InfluxQL quoting: the two places where text meets the server."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from wall.store.base import CONTROL_CHARACTER, TEXT_MARK, FieldValue, FrameColumns, Point, encoded

_KEY_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})


def escape_tag(text: str) -> str:
    """Tag keys and values: escape comma, space and equals sign.

    A backslash is written as-is; Point refuses the backslash placements (before a backslash or
    separator, or at the end) that InfluxDB versions read back differently.
    """
    return text.translate(_KEY_ESCAPES)


def field_value(value: FieldValue) -> str:
    if type(value) is float:  # the common case first
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + portable_text(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def portable_text(text: str) -> str:
    """Text every InfluxDB version reads back as written.

    The line-protocol reference allows no raw newline (nor other control character) in a field
    value, and InfluxDB unescapes only \\ and \" in one. Such text (an officer's note of two
    lines, a title with a tab), and text that starts with TEXT_MARK itself, is written as the
    mark followed by its JSON string escape; read_text undoes it. Other text goes as it is.
    """
    if text.startswith(TEXT_MARK) or CONTROL_CHARACTER.search(text):
        escaped = json.dumps(text, ensure_ascii=False)[1:-1]
        return TEXT_MARK + escaped.replace("\x7f", "\\u007f")  # JSON leaves DEL as it is
    return text


def read_text(value: object) -> object:
    """A value read from InfluxDB as it was written (see portable_text)."""
    if isinstance(value, str) and value.startswith(TEXT_MARK):
        return json.loads('"' + value[len(TEXT_MARK) :] + '"')
    return value


@lru_cache(maxsize=65536)  # the same ids and wards arrive in every batch
def _tag_text(key: str, value: str) -> str:
    return f",{key}={escape_tag(value)}"


def encode_point(point: Point) -> str:
    """One line, timestamp in milliseconds (written with precision=ms).

    Measurement, tag and field names go out as they are: Point lets only names of letters,
    digits and _ through (check_name), which line protocol never escapes.
    """
    tags = "".join([_tag_text(k, v) for k, v in point.tags.items()])
    fields = ",".join([f"{k}={field_value(v)}" for k, v in point.fields.items()])
    return f"{point.measurement}{tags} {fields} {point.time_ms}"


def encode_frame(columns: FrameColumns) -> list[str]:
    """The lines encode_point gives for each of the frame's points, built column by column."""
    lines = np.full(len(columns), columns.measurement, dtype=object)  # names: as encode_point
    for key, values in columns.tags.items():
        prefix = f",{key}="
        lines += encoded(values, lambda v, prefix=prefix: prefix + escape_tag(v))
    for n, (key, values) in enumerate(columns.fields.items()):
        prefix = f"{',' if n else ' '}{key}="
        lines += encoded(values, lambda v, prefix=prefix: prefix + field_value(v))
    lines += encoded(columns.time_ms, lambda ms: f" {ms}")
    return lines.tolist()


def quote_identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
