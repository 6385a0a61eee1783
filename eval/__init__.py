"""Evaluation of medcite against gold question sets (harness and gold data)."""
