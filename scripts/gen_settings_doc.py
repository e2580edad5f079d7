"""Rewrite the settings table in README.md from config.SETTINGS (gunicorn's pattern).

Run: .venv/bin/python scripts/gen_settings_doc.py ; tests/test_docs.py fails when the
README's table and the code disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from maid_smart_monitor.config import settings_table

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def render() -> str:
    rows = ["| config.ini | environment | flag | default | meaning |", "|---|---|---|---|---|"]
    for ini, env, flag, default, doc in settings_table():
        cells = [f"`{ini}`", f"`{env}`" if env else "", f"`{flag}`" if flag else "",
                 f"`{default}`", doc.replace("|", "\\|")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def splice(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render()}\n{END}{tail}"


if __name__ == "__main__":
    readme = Path(__file__).resolve().parents[1] / "README.md"
    readme.write_text(splice(readme.read_text()))
    sys.exit(0)
