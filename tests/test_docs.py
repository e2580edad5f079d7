"""The README is part of the contract: its settings table and flags match the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from maid_smart_monitor.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_settings_table_is_generated_from_the_code():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_settings_doc
    finally:
        sys.path.pop(0)
    assert gen_settings_doc.splice(README) == README, (
        "README settings table is stale: run .venv/bin/python scripts/gen_settings_doc.py"
    )


def test_every_flag_is_documented_in_the_readme():
    flags = {
        opt
        for action in build_parser()._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt not in ("--help", "--version")
    }
    missing = sorted(f for f in flags if not re.search(re.escape(f) + r"\b", README))
    assert not missing, f"flags not in README: {missing}"


def test_every_flag_has_help_text():
    for action in build_parser()._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings


def test_readme_two_setup_commands_exist():
    assert "scripts/test" in README and "--demo" in README
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci


def test_python_dash_m_help_runs():
    proc = subprocess.run([sys.executable, "-m", "maid_smart_monitor", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--summary" in proc.stdout
