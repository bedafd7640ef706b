"""The README's two commands are the ones CI runs: edit one and not the other and this fails.

.ci/run runs on a fresh machine: the quickstart's install line (all but `hub demo`, which
tests/test_demo.py runs at a small size through the same console script), then exactly the
README's test command."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def _ci_lines() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_quickstart_and_test_command_are_what_ci_runs():
    quickstart, test_command = _readme_commands()  # exactly two, in this order
    assert "\n" not in quickstart and "\n" not in test_command
    assert quickstart.endswith(" && hub demo"), quickstart
    install = quickstart.removesuffix(" && hub demo")
    ci = _ci_lines()
    assert install in ci, f"README quickstart {install!r} is not a line of .ci/run"
    assert ci[-1] == test_command, f".ci/run ends with {ci[-1]!r}, the README says {test_command!r}"
    assert ci.index(install) < len(ci) - 1  # the same venv, then the tests


def test_hub_demo_itself_runs_in_the_tests_through_the_console_script():
    demo_tests = (ROOT / "tests" / "test_demo.py").read_text(encoding="utf-8")
    assert re.search(r'run_hub\(\s*"demo"', demo_tests)
