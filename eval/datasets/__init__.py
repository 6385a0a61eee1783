"""Adapters that turn external QA datasets into a corpus folder and a gold file.

``python -m eval.datasets pubmedqa OUT_DIR [--limit N]`` and
``python -m eval.datasets medquad OUT_DIR [--limit N --seed S]`` sample a gold file
from the dataset; ``python -m eval.datasets consumer OUT_DIR`` and
``python -m eval.datasets nih OUT_DIR`` build the fixed corpus of a hand-written dev
set (``eval/gold/dev_consumer.jsonl``, ``eval/gold/dev_nih.jsonl``). All write
``OUT_DIR/corpus/*.md`` and ``OUT_DIR/gold.jsonl``; then ``medcite ingest`` the
corpus into its own data dir and ``medcite eval`` the gold file against it.
"""
