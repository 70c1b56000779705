# Two commands do all set-up: `make figures` and `make test`. Both bootstrap uv when it is
# missing (into .tools/, nothing global) and sync the locked environment into .venv/.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv/bin
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup test lint format notebooks figures bench checkpoints release autograder clean

help:
	@echo "make figures  run every notebook headless and write every figure to figures/"
	@echo "make test     lint, then the whole test suite (notebooks included)"
	@echo "make bench    training and sampling speed on this machine, side by side"
	@echo "make checkpoints  retrain and export every part B model (hours on a CPU; resumes)"
	@echo "make format   apply ruff's formatting and import order"
	@echo "make notebooks  pair notebooks/*.ipynb with their .py twins and strip outputs"
	@echo "make release  (instructors) write the student edition to dist/student"
	@echo "make autograder  (instructors) write the Gradescope autograder to dist/autograder.zip"
	@echo "make clean    remove generated figures and data (keeps .venv)"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

setup: | $(UV)
	$(UV) sync --locked --quiet --all-groups

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format: setup
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .
	$(MAKE) --no-print-directory notebooks

notebooks: setup
	$(VENV)/jupytext --quiet --sync notebooks/*.ipynb
	$(VENV)/jupyter nbconvert --log-level WARN --clear-output --inplace notebooks/*.ipynb

test: lint
	$(VENV)/python -m pytest

figures: setup
	$(VENV)/python tools/figures.py

bench: setup
	$(VENV)/python tools/bench.py

# The course recipes, trained into runs/<recipe> (kill and rerun to resume), then exported with
# measured metrics to assets/checkpoints/. Hours per model on a 2-core CPU, minutes on a GPU.
checkpoints: setup
	$(VENV)/python tools/checkpoints.py classifier
	$(VENV)/python tools/checkpoints.py classifier --check
	$(VENV)/python tools/train.py class
	$(VENV)/python tools/checkpoints.py export class --epochs 5 20
	$(VENV)/python tools/train.py time
	$(VENV)/python tools/checkpoints.py export time --epochs 5 20
	$(VENV)/python tools/train.py denoiser
	$(VENV)/python tools/checkpoints.py export denoiser --epochs 5
	$(VENV)/python tools/train.py noise_denoiser
	$(VENV)/python tools/checkpoints.py export noise_denoiser --epochs 2
	$(VENV)/python tools/train.py flow_time
	$(VENV)/python tools/checkpoints.py export flow_time --epochs 1 5 10
	$(VENV)/python tools/train.py flow_class
	$(VENV)/python tools/checkpoints.py export flow_class --epochs 10
	$(VENV)/python tools/checkpoints.py export flow_class --epochs 1 5 --samples 100
	$(VENV)/python tools/train.py offline
	$(VENV)/python tools/checkpoints.py export offline --epochs 6 --samples 500

release: setup
	rm -rf dist/student
	$(VENV)/python -m instructor.release dist/student

autograder: setup
	$(VENV)/python -m instructor.gradescope build dist/autograder.zip

clean:
	rm -rf figures data
