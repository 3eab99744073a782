"""Rewrite the settings tables in README.md from the parts' sections (run after adding a
setting): one table per section of `wall.settings.Settings`, titled by the first line of the
section's docstring and naming the module that declares it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wall.settings import Settings
from wall.settings_core import PROJECT_DIR, section_docs
from wall.store.settings import DEFAULT_STORE

README = PROJECT_DIR / "README.md"
START, END = "<!-- settings table: start -->", "<!-- settings table: end -->"
HEADER = ["| variable | default | meaning |", "| --- | --- | --- |"]


def tables() -> str:
    parts = ["\n".join([*HEADER, "| `IOC_CONFIG` | (none) | Path of a TOML settings file. |"])]
    for section in Settings.__bases__:
        title = section.__doc__.strip().splitlines()[0].rstrip(".")
        module = section.__module__.replace(".", "/") + ".py"
        rows = [f"**{title}**, declared in `{module}`:", "", *HEADER]
        for name, default, doc in section_docs(section):
            default = default.replace(DEFAULT_STORE, "sqlite:///<project>/data/ioc.db")
            default = default.replace(str(PROJECT_DIR), "<project>")
            shown = f"`{default}`" if default not in ("", "()") else "(none)"
            rows.append(f"| `{name}` | {shown} | {doc} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def main() -> None:
    text = README.read_text()
    before, rest = text.split(START)
    _, after = rest.split(END)
    README.write_text(f"{before}{START}\n{tables()}\n{END}{after}")


if __name__ == "__main__":
    main()
