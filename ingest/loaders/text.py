"""Plain text (.txt): decoded, normalised, headings detected on its lines."""

from __future__ import annotations

from ingest.loaders.common import Extracted, normalise_text
from ingest.loaders.decoding import decode_text
from ingest.loaders.headings import detect_plain_headings


def extract(raw: bytes) -> Extracted:
    text = normalise_text(decode_text(raw))
    return Extracted(text=text, headings=detect_plain_headings(text))
