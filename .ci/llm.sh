#!/usr/bin/env bash
# CI for the optional LLM answerer (issue 12): build the llm extra (llama-cpp-python from source,
# about 4 minutes on 2 cores), then run the tests that need it with a real local model.
# MEDCITE_REQUIRE_LLM=1 turns their "extra not installed" skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
make setup-llm
echo "ci/llm: setup-llm took $(( $(date +%s) - started )) s"
MEDCITE_REQUIRE_LLM=1 .venv/bin/python -m pytest -q -rs \
  tests/qa_service/test_llm_integration.py tests/qa_service/test_llm_config.py
echo "ci/llm: done in $(( $(date +%s) - started )) s"
