"""Collection rules for the doctests of pathway/, simulation/, docs/ and README.md.

``--doctest-modules`` (pyproject.toml) imports every module of the packages to run the
examples in its docstrings. A module that needs an optional extra is left out when the
extra is not installed; folders that hold no Python are never collected.
"""

from __future__ import annotations

import importlib.util

#: Module (path from the root) -> the package of the optional extra it imports.
_NEEDS = {"simulation/train/app.py": "fastapi"}

collect_ignore = [path for path, need in _NEEDS.items() if importlib.util.find_spec(need) is None]
#: Vendored JavaScript (a minified file) and HTML templates: nothing to collect.
collect_ignore_glob = ["simulation/train/static/*", "simulation/train/templates/*"]
