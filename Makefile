# `make demo` and `make test` each create .venv on first use and install the
# pinned grading environment (constraints.txt) before doing their work.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test test-install release bench clean system-packages

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --constraint constraints.txt --editable '.[test]'
	touch $(STAMP)

## system-packages: bubblewrap, the sandbox student code runs in, and chromium, the headless browser tests/test_class_page.py opens class.html in (Debian packages, each installed when missing; needs root)
system-packages:
	@command -v bwrap >/dev/null || { apt-get update -qq && apt-get install -y -qq bubblewrap; } \
	  || echo "WARNING: could not install bubblewrap: the sandbox tests will fail" >&2
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "WARNING: could not install chromium: tests/test_class_page.py will fail (under CI) or skip" >&2

## demo: release the course, self-check the reference, and grade the bundled class (examples/submitted)
demo: $(STAMP) system-packages
	$(BIN)/convgrade release
	$(BIN)/convgrade check --path solutions
	$(BIN)/convgrade grade examples/submitted --roster examples/roster.csv --out out/demo

## test: the released files are up to date, then the whole test suite, a test file to a worker on every core (pytest-xdist)
test: $(STAMP) system-packages
	$(BIN)/convgrade release --check
	$(BIN)/python -m pytest -n auto --dist loadfile

## test-install: the tests marked `install` (setup.sh's install step of the Gradescope archive, from the package registries: minutes); CI runs them after `make test`
test-install: $(STAMP) system-packages
	$(BIN)/python -m pytest -m install

## release: regenerate assignments/ and solutions/ from source/
release: $(STAMP)
	$(BIN)/convgrade release

## bench: the speed benchmarks, each printing ours against the baseline
bench: $(STAMP)
	$(BIN)/python bench/reference_speed.py
	$(BIN)/python bench/grading_throughput.py
	$(BIN)/python bench/self_check_speed.py
	$(BIN)/python bench/cluster_scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
