# The two entry points a newcomer needs (see README): `make demo` and `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test install install-test services lint bench

install:            ## sentinel and its runtime dependencies
	$(PIP) -e .

demo: install       ## a simulated week of the agent fleet, caught by sentinel, with a report
	sentinel demo

install-test:       ## everything the tests need: test deps, Prometheus, Alertmanager, Elasticsearch
	$(PIP) -e '.[test]'
	bash scripts/install-services.sh   # Prometheus, Alertmanager (Debian) and an Elasticsearch node (Maven Central)

lint:
	$(PYTHON) -m ruff check sentinel tests benchmarks

test: install-test lint   ## install, then run every test; the services start inside the test session
	$(PYTHON) -m pytest -q

bench: install      ## the benchmarks (not part of `make test`); results land in benchmarks/results/
	for b in benchmarks/*.py; do case $$b in */_*) ;; *) $(PYTHON) $$b || exit 1;; esac; done
