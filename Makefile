# Two commands on a fresh machine: `make demo` and `make test` (see README); `make test-fast`
# is the quick check while working (lint and the pure test suite, no native build).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NATIVE ?= .venv-native
NATIVE_STAMP := $(NATIVE)/.installed
SOURCES := $(shell find pathway simulation -name '*.py' -o -name '*.yaml')

.PHONY: demo test test-fast lint install native clean golden

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --group dev -e ".[train]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/carechart demo

# Optional: the hot modules compiled with mypyc (pyproject.toml), a non-editable install in
# $(NATIVE), rebuilt from scratch whenever a source changes. Needs a C compiler.
$(NATIVE_STAMP): pyproject.toml $(SOURCES)
	rm -rf $(NATIVE)
	python3 -m venv $(NATIVE)
	$(NATIVE)/bin/python -m pip install --quiet --upgrade pip
	@# Built from a copy: the mypyc hook leaves compiled modules beside the sources it
	@# compiles, where they would shadow the .py files of the editable install.
	tmp=$$(mktemp -d) && cp -r pyproject.toml README.md LICENSE pathway simulation "$$tmp" && \
	HATCH_BUILD_HOOK_ENABLE_MYPYC=true $(NATIVE)/bin/python -m pip install --quiet "$$tmp"; \
	status=$$?; rm -rf "$$tmp"; exit $$status
	touch $(NATIVE_STAMP)

native: $(NATIVE_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The native build is checked against the pure one when a C compiler is present.
test: lint
	@if command -v cc >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory native && \
		CARECHART_NATIVE=$(abspath $(NATIVE))/bin/python $(VENV)/bin/pytest -n auto --dist loadfile; \
	else \
		echo "no C compiler: the native build is not checked"; \
		$(VENV)/bin/pytest -n auto --dist loadfile; \
	fi

# The quick path: lint, types and the test suite on the pure build; no native build and
# no slow-marked tests. `make test` (and .ci/run) stays the full check.
test-fast: lint
	$(VENV)/bin/pytest -q -m "not slow"

# Rewrite tests/golden from the current code and list what changed (files, differing lines).
# Only for a deliberate change of simulated courses; say why in CHANGELOG.md.
golden: $(STAMP)
	$(PY) -m tests.golden.regenerate

clean:
	rm -rf $(VENV) $(NATIVE) .pytest_cache .mypy_cache .ruff_cache .hypothesis
