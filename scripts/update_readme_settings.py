"""Rewrite the settings table in README.md from wall/settings.py (run after adding a setting)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wall.settings import DEFAULT_STORE, PROJECT_DIR, setting_docs

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings table: start -->", "<!-- settings table: end -->"


def table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows.append("| `IOC_CONFIG` | (none) | Path of a TOML settings file. |")
    for name, default, doc in setting_docs():
        default = default.replace(DEFAULT_STORE, "sqlite:///<project>/data/ioc.db")
        default = default.replace(str(PROJECT_DIR), "<project>")
        shown = f"`{default}`" if default not in ("", "()") else "(none)"
        rows.append(f"| `{name}` | {shown} | {doc} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text()
    before, rest = text.split(START)
    _, after = rest.split(END)
    README.write_text(f"{before}{START}\n{table()}\n{END}{after}")


if __name__ == "__main__":
    main()
