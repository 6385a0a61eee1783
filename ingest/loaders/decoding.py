"""Bytes of a text format (txt, md, html) to str.

Order of evidence, strongest first:

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) names the encoding;
2. bytes that are valid UTF-8 are UTF-8 (plain ASCII included): legacy 8-bit text
   almost never happens to form valid multi-byte sequences;
3. otherwise the file is legacy 8-bit (or BOM-less UTF-16) text, and charset-normalizer
   judges the candidates, with a preference for Windows-1252 (a superset of the
   printable Latin-1 range), see :func:`_guess_decoding`.
"""

from __future__ import annotations

import codecs
import logging
from functools import cache

from ingest.errors import LoaderError

logger = logging.getLogger(__name__)

# UTF-32 LE first: its BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

WESTERN = "cp1252"


def decode_text(raw: bytes) -> str:
    """Decode a text file's bytes; a BOM or valid UTF-8 decides, else :func:`_guess_decoding`.

    Raises:
        LoaderError: No encoding gives plausible text (binary data, say).
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                break  # a BOM followed by broken data: let the detector judge the bytes
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _guess_decoding(raw)


def _guess_decoding(raw: bytes) -> str:
    """The Windows-1252 reading when charset-normalizer finds it plausible, unless a foreign reading wins.

    Measured with charset-normalizer 3.5 on short real-world notes (see the decoding tests):
    its ``best()`` is often another Western code page whose reading is wrong, because on a
    few dozen bytes its language-coherence score is noise: cp775 for a 71-byte Latin-1 note
    ("café" became "cafķ", "µg" "Ąg"), cp850 for cp1252 curly quotes and "€", johab and cp1006
    for short Spanish and French. Legacy Western text is by far the most common non-UTF-8
    input, so the rule is:

    * the cp1252 reading is a candidate when every byte is defined in cp1252 and
      charset-normalizer's mess detector accepts the result (its own chaos threshold);
    * it loses only to a reading whose language cp1252 cannot write (Russian, Greek,
      Polish, Japanese, ...: decided from charset-normalizer's own letter-frequency tables,
      not a list of ours) and that is more coherent than the cp1252 reading.

    Cyrillic cp1251, Greek cp1253, Shift-JIS, Mac Roman and (longer) Polish cp1250 text keep
    their own encoding: their bytes are undefined in cp1252 or its reading is rejected as mess.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    western = from_bytes(raw, cp_isolation=[WESTERN]).best()
    chosen = best
    if western is not None and (
        best is None or _cp1252_writes(best.language) or best.coherence <= western.coherence
    ):
        chosen = western
    if chosen is None:
        raise LoaderError("cannot decode text: unknown character encoding")
    logger.debug(
        "decoded as %s (charset-normalizer best: %s)", chosen.encoding, best.encoding if best else None
    )
    return str(chosen)


@cache
def _cp1252_writes(language: str) -> bool:
    """True when every frequent letter of ``language`` (charset-normalizer's table) exists in cp1252."""
    from charset_normalizer.constant import FREQUENCIES

    letters = FREQUENCIES.get(language)
    if not letters:  # "Unknown", or a language without a table: no evidence against cp1252
        return True
    try:
        "".join(letters).encode(WESTERN)
    except UnicodeEncodeError:
        return False
    return True
