"""The bytes of a user's text file as clean UTF-8, streamed: the layer under :mod:`hub.tables`.

- A UTF-8 BOM is dropped; a UTF-16 file with a BOM (Excel's "Unicode text") is transcoded.
- Bytes that are not UTF-8 are read as cp1252 (latin-1 where cp1252 has no character), line by
  line, so a file mixing encodings keeps its UTF-8 lines; the first such line is logged and kept
  in ``Utf8Stream.first_bad_line``. Valid lines pass through untouched (only validated).
- ``.gz`` files are decompressed on the fly; progress is the position in the file on disk.
- :func:`sniff_delimiter` picks the delimiter from the first lines.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
from pathlib import Path

log = logging.getLogger("hub.tables")  # its warnings are the reader's, under one logger name

DELIMITERS = (",", ";", "\t", "|")
BLOCK_BYTES = 1 << 20


def _legacy_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    """Decode error handler: undecodable bytes as cp1252, or latin-1 where cp1252 has no character."""
    chunk = error.object[error.start : error.end]
    return "".join(_byte_text(b) for b in chunk), error.end


def _byte_text(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


codecs.register_error("hub_legacy", _legacy_bytes)


#: (file, first bad line) already warned of in this process
_WARNED: set[tuple[str, int | None]] = set()


class Utf8Stream(io.RawIOBase):
    """A binary stream of the file as valid UTF-8 (BOM dropped), transcoding bad lines from cp1252.

    Lines that are valid UTF-8 pass through untouched; only the first bad line is looked for.
    """

    def __init__(self, raw, source: str, position):
        self._raw = raw
        self._source = source
        self._position = position
        self._pending = b""
        self._out = b""
        self._lines_before = 0
        self._started = False
        self._eof = False
        self._utf16 = None
        self.first_bad_line: int | None = None

    def readable(self) -> bool:
        return True

    def bytes_read(self) -> int:
        return self._position()

    def _fill(self) -> None:
        block = self._raw.read(BLOCK_BYTES)
        if not self._started:
            self._started = True
            if block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                self._utf16 = codecs.getincrementaldecoder("utf-16")(errors="replace")
            block = block.removeprefix(codecs.BOM_UTF8)
        if self._utf16 is not None:  # Excel's "Unicode text": UTF-16 with a BOM
            self._out += self._utf16.decode(block, final=not block).encode("utf-8")
            self._eof = not block
            return
        if not block:
            self._eof = True
            text, self._pending = self._pending, b""
        else:
            data = self._pending + block
            cut = data.rfind(b"\n") + 1
            text, self._pending = data[:cut], data[cut:]
        if not text:
            return
        try:
            text.decode("utf-8")
            self._out += text
        except UnicodeDecodeError as error:
            if self.first_bad_line is None:
                self.first_bad_line = self._lines_before + text.count(b"\n", 0, error.start) + 1
                self._warn_once()
            self._out += text.decode("utf-8", errors="hub_legacy").encode("utf-8")
        self._lines_before += text.count(b"\n")

    def _warn_once(self) -> None:
        """Log the first bad line once per file and process: `hub import` opens a file for its
        header and again for its rows, and its summary's note says it too."""
        key = (str(getattr(self._raw, "name", self._source)), self.first_bad_line)
        if key in _WARNED:
            return
        _WARNED.add(key)
        log.warning(
            "%s is not all UTF-8 (first at line %d); those bytes are read as cp1252/latin-1",
            self._source,
            self.first_bad_line,
        )

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._out) < size):
            self._fill()
        if size < 0:
            size = len(self._out)
        out, self._out = self._out[:size], self._out[size:]
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_bytes(path: Path):
    if path.name.lower().endswith(".gz"):
        packed = gzip.GzipFile(path, "rb")  # owns and closes its file
        return packed, packed.fileobj.tell  # progress in compressed bytes, as on disk
    raw = open(path, "rb")  # noqa: SIM115 - closed by the stream that wraps it
    return raw, raw.tell


def decode_head(head: bytes) -> str:
    """The first bytes of a CSV as text, by the same rules as :class:`Utf8Stream`."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head)
    return head.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="hub_legacy")


def sniff_delimiter(sample: str, preferred: str = ",") -> str:
    """The delimiter of ``DELIMITERS`` that splits the first lines into the same number (>1) of fields.

    >>> sniff_delimiter('"a";"b,c";"d"\\n1;2;3\\n')
    ';'
    """
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample cut the last line
    lines = lines[:50]
    best, best_score = preferred, (0.0, 1, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width, delimiter == preferred)
        if score > best_score:
            best, best_score = delimiter, score
    return best
