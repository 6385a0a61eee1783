"""Regenerate the screenshots in this folder: the browser tests, in headless Chromium, write them here.

    .venv/bin/python docs/screenshots/make.py

Runs ``tests/qa_service/api/test_browser*.py`` (real model, real store on corpus/, a live server,
Debian's /usr/bin/chromium through Playwright) with ``MEDCITE_SCREENSHOTS`` pointing here, so each
picture is taken only after the test has checked what it shows:

- answer-permalink.png: an answer at its own address /answers/{id}, after a reload
- quote-references.png: a quote whose source footnote digits are set apart (muted superscript)
- phone-tap-preview.png: on a phone, the first tap on [n] previews the cited sentence
- review-group-card.png: three identical asks as one review card that one decision covers
- drift-banner.png: an approved answer whose cited dose changed, with the recheck's difference
- ui-answer.png, ui-source.png, ui-review.png, ui-phone-review.png: the pages of the first round
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main() -> int:
    env = {**os.environ, "MEDCITE_SCREENSHOTS": str(HERE)}
    tests = ["tests/qa_service/api/test_browser.py", "tests/qa_service/api/test_browser_answers.py"]
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=REPO, env=env
    )


if __name__ == "__main__":
    sys.exit(main())
