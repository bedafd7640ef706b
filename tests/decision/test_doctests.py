"""Every runnable example in decision/ docstrings must run."""

import doctest
import importlib
import pkgutil

import pytest

import decision

MODULES = [m.name for m in pkgutil.walk_packages(decision.__path__, "decision.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
