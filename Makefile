# Kho: the two commands a fresh machine needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
KHO := $(VENV)/bin/kho
STORE ?= .kho/store

.PHONY: setup demo test test-fast bench bench-storage bench-text bench-dedup bench-image plan capacity-doc test-portable cluster bench-scale clean

setup:
	@bash scripts/setup.sh

## Run the main job on the embedded default: sample data in, a verified dataset version out.
demo: setup
	$(KHO) demo --store $(STORE)

## Set up and run the whole test suite (what .ci/run calls).
test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: bench-storage bench-text bench-dedup bench-image

bench-storage: setup
	$(PY) -m bench.bench_storage

bench-text: setup
	$(PY) -m bench.bench_text

bench-dedup: setup
	$(PY) -m bench.bench_dedup

bench-image: setup
	$(PY) -m bench.bench_image

## The ingest through Beam's PortableRunner with an external SDK worker pool, against the FnApiRunner.
test-portable: setup
	$(PY) -m pytest -q tests/test_portable_runner.py -o log_cli=true --log-cli-level=INFO

## A multi-node SeaweedFS cluster on loopback (docs/cluster.md), in the foreground until Ctrl-C.
cluster: setup
	$(PY) -m tests.s3cluster --dir $${DIR:-/tmp/kho-cluster}

## Metadata at 10^4..10^7 shard entries and gc by runs (docs/scale.md).
bench-scale: setup
	$(PY) -m bench.bench_scale

## The 100 PB capacity plan (docs/capacity.md).
plan: setup
	$(KHO) plan capacity --petabytes 100

## Print docs/capacity.md's worked example (paste it between the doc's capacity-example markers).
capacity-doc: setup
	$(PY) -m pipelines.capacity.report

clean:
	rm -rf .kho demo-out .pytest_cache
