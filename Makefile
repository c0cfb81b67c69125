# The two entry points README.md documents:
#   make demo   install everything, validate and plan every checked-in recipe, apply the forecast, then
#               pretrain → SFT → DPO → GGUF → Ollama bundle → served chat on the bundled tiny-zh example
#   make test   install everything, then run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-gpu clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/modelops validate recipes/*.yaml examples/tiny-zh/*.yaml
	@for recipe in recipes/*.yaml; do echo "== $$recipe"; $(BIN)/modelops plan "$$recipe" || exit $$?; done
	$(BIN)/modelops apply recipes/activations-forecast.yaml
	$(BIN)/modelops predict recipes/activations-forecast.yaml --output runs/activations-forecast/forecasts.csv
	@head -4 runs/activations-forecast/forecasts.csv
	$(BIN)/modelops apply examples/tiny-zh/dpo.yaml
	@echo "什么是过拟合？" | $(BIN)/modelops chat examples/tiny-zh/dpo.yaml --max-tokens 24

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/plan_speed.py
	$(BIN)/python benchmarks/feature_building.py
	$(BIN)/python benchmarks/forecast_vs_mlforecast.py
	$(BIN)/python benchmarks/forecast_real.py
	$(BIN)/python benchmarks/fold_fit.py
	$(BIN)/python benchmarks/second_apply.py
	$(BIN)/python benchmarks/shared_cache.py
	$(BIN)/python benchmarks/forecast_demo_load.py
	$(BIN)/python benchmarks/forecast_scale.py
	$(BIN)/python benchmarks/forecast_scaling.py
	$(BIN)/python benchmarks/api_load.py
	$(BIN)/python benchmarks/lm_training.py
	$(BIN)/python benchmarks/llama_repack.py

bench-gpu: setup
	$(BIN)/python benchmarks/gpu.py --out benchmarks/gpu-results.json

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
