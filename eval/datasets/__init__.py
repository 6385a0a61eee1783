"""Adapters that turn external QA datasets into a corpus folder and a gold file.

``python -m eval.datasets pubmedqa OUT_DIR [--limit N]`` and
``python -m eval.datasets medquad OUT_DIR [--limit N --seed S]`` write
``OUT_DIR/corpus/*.md`` and ``OUT_DIR/gold.jsonl``; then ``medcite ingest`` the
corpus into its own data dir and ``medcite eval`` the gold file against it.
"""
