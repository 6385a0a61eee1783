"""Plain text (.txt): decoded, normalised, headings detected on its lines."""

from __future__ import annotations

from ingest.loaders.common import Extracted, normalise_text
from ingest.loaders.decoding import decode_text
from ingest.loaders.headings import detect_plain_headings
from ingest.loaders.limits import check_unpacked
from ingest.settings import IngestLimits


def extract(raw: bytes, limits: IngestLimits) -> Extracted:
    check_unpacked(len(raw), "text file", limits)
    text = normalise_text(decode_text(raw))
    return Extracted(text=text, headings=detect_plain_headings(text))
