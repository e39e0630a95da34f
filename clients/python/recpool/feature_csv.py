"""The check of a local feature-matrix CSV before ``train`` uploads it: the file ``recpool train --dataset FILE.csv``
reads without a schema (a header with a ``label`` column, every other column a numeric feature), refused as the CLI
refuses it before uploading, with its messages (``Sources/Model/IO``: ``CSVFile``, ``NumericCSV``, ``CSVError``; and
``CSVTable`` and ``DatasetResolver`` in RecData). An uploaded file without a schema is read by the workers as such a
matrix, so a file the CLI refuses made a job that failed on them after the upload.

In the CLI's order, the first problem found is raised as :class:`~recpool.errors.DatasetFormatError` (an
``InvalidRequest``) naming the file as given, the 1-based line (the header is line 1; blank lines count, and a
record whose quoted field spans lines is named by the line it starts on) and the 1-based column:

1. the bytes: UTF-16 (a byte-order mark of UTF-16), a NUL character, bytes that are not UTF-8, a JSON document, double
   quotes that do not pair up as RFC 4180 pairs them;
2. the table: no record at all, a column named twice (as written, then with spaces and tabs around the names
   removed), a row with more or fewer fields than the header, no ``label`` column (named exactly);
3. the values, row by row: a field that is not a decimal number (a blank field, text, hexadecimal, ``1_000``), NaN or
   an infinity, a number nearer 0 than the smallest 64-bit float (``1e-400``), a number beyond a 32-bit float's
   range (``1e39``; the model reads 32-bit floats);
4. no data row, no feature column (only ``label``), a label outside [0, 1] (compared as the 32-bit float it is read
   as).

Not checked here (the workers' and the CLI's other checks): a header that also looks like the Open Bandit Dataset's
layout (the CLI refuses it as ambiguous; the workers read it as a matrix), and a model too large for the file's width.
"""
from __future__ import annotations

import array
import csv
import io
import json
import re
import warnings
from decimal import Decimal
from typing import List, Optional, Tuple

import numpy as np

from .errors import DatasetFormatError

LABEL = "label"

#: A decimal number as Swift's ``Float(_:)`` reads one, with the spaces and tabs ``NumericCSV`` trims around it (no
#: hexadecimal, no digit separators, no ``nan`` or ``inf``: those are matched by :data:`_NON_FINITE`).
_NUMBER = r"(?>[ \t]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*)"
_DECIMAL = re.compile(_NUMBER)
#: A row of decimal numbers, its fields joined with commas (atomic groups: a row that is not one fails in linear time).
_DECIMAL_ROW = re.compile(f"{_NUMBER}(?:,{_NUMBER})*")
#: NaN and the infinities as Swift's ``Float(_:)`` reads them (trimmed text; any case): read, then refused as not
#: finite. ``nan(…)`` takes letters, digits and ``_``; ``snan`` no parentheses.
_NON_FINITE = re.compile(r"[+-]?(?:nan(?:\([0-9A-Za-z_]*\))?|snan|inf|infinity)", re.IGNORECASE)
#: What Swift counts as a line break inside a field (``Character.isNewline``; ``\r\n`` is one), as the CLI counts the
#: lines a record spans.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
#: Those of them that do not end a record.
_INNER_BREAKS = re.compile("[\x0b\x0c\x85\u2028\u2029]")
_LONE_CR = re.compile(rb"\r(?!\n)")
_FIELD = r'(?>"[^"]*+(?:""[^"]*+)*+"|[^",\r\n]*+)'
#: Fields as RFC 4180 writes them: quoted (``""`` for a quote inside), or holding no quote, comma or line end.
_RFC_4180 = re.compile(f"{_FIELD}(?:(?:,|\r\n|\n|\r){_FIELD})*+")
_NONZERO_MANTISSA = re.compile(r"[^eE]*[1-9]")


#: Halfway between float32's largest finite value and 2**128: a decimal number at least this large (in magnitude)
#: rounds to infinity as a 32-bit float (ties to even). Exactly a 64-bit float, so only a text whose double is this
#: very number needs its exact decimal value.
_FLOAT32_OVERFLOW = 2.0 ** 128 - 2.0 ** 103
#: Halfway between 1 and the next float32 (a label just above rounds past 1), and between -0 and the negative
#: float32 nearest 0 (a label just below rounds below 0); both exactly 64-bit floats, and both ties round to 1 and -0.
_ABOVE_ONE = 1.0 + 2.0 ** -24
_BELOW_ZERO = -(2.0 ** -150)
_FLOAT32_TINY = np.float32(1e-4)


def check_feature_csv(data: bytes, path: str) -> None:
    """Refuses the bytes of a feature-matrix CSV as ``recpool train --dataset FILE.csv`` refuses the file before
    uploading it (see the module's description for the rules, in order). The file is read twice as a stream of
    records (its shape, then its values), holding only its labels whole.

    Args:
        data: the file's bytes (the ones then uploaded).
        path: the file as the caller named it, for the messages.

    Raises:
        DatasetFormatError: the first problem, with the CLI's message (``nan.csv:3:1: not a finite number: "nan"``).
    """
    from .frames import _unlimited_fields  # the csv module's field size limit, lifted for the reads

    text = _text(data, path)
    with _unlimited_fields():
        header = _shape(text, path)
        names = [name.strip(" \t") for name in header]
        _unique(names, path)
        labels, texts, lines = _values(text, names, path)
        if not len(labels):
            _fail(path, f"{path}: no data rows")
        if len(names) == 1:
            _fail(path, f"{path} has no rows or no feature columns: its only column is '{LABEL}'")
        _check_labels(labels, texts, lines, names.index(LABEL), text, path)


def _fail(path: str, message: str, *, line: Optional[int] = None, column: Optional[int] = None,
          names: Optional[List[str]] = None, text: Optional[str] = None):
    name = names[column - 1] if names is not None and column is not None and column - 1 < len(names) else None
    raise DatasetFormatError(message, path=path, line=line, column=column, column_name=name, text=text)


# ---------------------------------------------------------------- the bytes (CSVFile.parse)

def _text(data: bytes, path: str) -> str:
    """The file's text, refused as ``CSVFile.parse`` refuses bytes: UTF-16, a NUL, not UTF-8, JSON, quotes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 holds a NUL in every other byte: named as not UTF-8, never as a NUL on line 1.
        _fail(path, f"{path}:1: not UTF-8 text", line=1)
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    nul = body.find(b"\x00")
    if nul >= 0:
        line, column = _position(body, nul)
        _fail(path, f"{path}:{line}:{column}: holds a NUL character (U+0000), which no CSV field may hold",
              line=line, column=column)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = _position(body, error.start)[0]
        _fail(path, f"{path}:{line}: not UTF-8 text", line=line)
    if text.startswith("\ufeff"):  # as CSVFile.parse(text) drops one more
        text = text[1:]
    if _holds_json(text):
        _fail(path, f"{path}: this is JSON, and this input is read as CSV only (comma-separated fields, one record "
                    "per line)")
    if '"' in text:
        line = _unbalanced_quote_line(text)
        if line is not None:
            _fail(path, _unbalanced(path, line), line=line)
    return text


def _position(body: bytes, index: int) -> Tuple[int, int]:
    """The 1-based line and column (in characters) of byte ``index``, as the CLI names them: lines end in ``\\n``,
    ``\\r\\n`` or a lone ``\\r``."""
    prefix = body[:index]
    lone = [match.start() for match in _LONE_CR.finditer(prefix)]
    line = 1 + prefix.count(b"\n") + len(lone)
    start = max(prefix.rfind(b"\n"), lone[-1] if lone else -1) + 1
    column = 1 + sum(1 for byte in prefix[start:] if byte & 0xC0 != 0x80)
    return line, column


def _holds_json(text: str) -> bool:
    """Whether the text is one JSON array or object (only looked at when it starts with ``[`` or ``{``)."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "[{":
        return False

    def refuse(constant):
        raise ValueError(f"{constant} is no JSON")

    try:
        parsed = json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, (list, dict))


def _line_at(text: str, index: int) -> int:
    prefix = text[:index]
    return 1 + prefix.count("\n") + len(re.findall("\r(?!\n)", prefix))


def _unbalanced_quote_line(text: str) -> Optional[int]:
    """The line of the first double quote RFC 4180 does not allow, as the CLI finds it: a quote inside a field that
    did not start with one (``io"s``), a closing quote followed by anything but a comma or a line end (``"io"s``), or
    the line where a quoted field opened and never closed; ``None`` when every quote pairs up. The fields the RFC
    allows are matched from the start (possessively: inside a quoted field ``""`` is a quote, never its end): where
    the match stops is where the first such quote is, or the opening quote of the field never closed."""
    end = _RFC_4180.match(text).end()
    return None if end == len(text) else _line_at(text, end)


def _unbalanced(path: str, line: int) -> str:
    return (f'{path}:{line}: unbalanced ": a quoted field is never closed, or a quote stands inside an unquoted field '
            '(quote the whole field and double the quote: "io""s")')


def _records(text: str):
    """``(line, fields, row)`` for each record that is not blank (empty, or one field of only spaces and tabs): the line
    it starts on, counted as the CLI counts them, its number of fields and its fields joined with commas (the record
    itself when the text holds no quote). Split with :func:`_fields`."""
    inner = _INNER_BREAKS.search(text) is not None  # line breaks the CLI counts inside a record
    line = 1
    if '"' not in text:
        # Without quotes a record is its line, split at each comma, as the csv module splits it (and faster).
        for row in io.StringIO(text, newline=""):
            start = line
            row = row.rstrip("\r\n")
            line += 1 + (len(_INNER_BREAKS.findall(row)) if inner else 0)
            if "," not in row and not row.strip(" \t"):
                continue
            yield start, row.count(",") + 1, row
        return
    for record in csv.reader(io.StringIO(text, newline="")):
        start = line
        row = ",".join(record)
        line += 1 + (len(_LINE_BREAKS.findall(row)) if inner or "\n" in row or "\r" in row else 0)
        if not record or (len(record) == 1 and not record[0].strip(" \t")):
            continue
        yield start, len(record), record


def _fields(row) -> List[str]:
    """A record's fields, from the third item :func:`_records` yields."""
    return row.split(",") if isinstance(row, str) else row


def _joined(row) -> str:
    return row if isinstance(row, str) else ",".join(row)


# ---------------------------------------------------------------- the table (CSVTable, DatasetResolver.detect)

def _shape(text: str, path: str) -> List[str]:
    """The header, refusing as ``CSVTable`` and ``DatasetResolver.detect`` refuse a file: no record, a column named
    twice, a row with more or fewer fields than the header, no ``label`` column."""
    header = None
    for line, count, record in _records(text):
        if header is None:
            header = _fields(record)
            _unique(header, path)
        elif count != len(header):
            _fail(path, f"{path}:{line}: row has {count} fields, expected {len(header)}", line=line)
    if header is None:
        _fail(path, f"{path}: no data rows")
    if LABEL not in header:
        _fail(path, _no_label(header, path))
    return header


def _unique(names: List[str], path: str) -> None:
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            _fail(path, f"{path}: the header names column '{name}' twice (columns {seen[name] + 1} and {index + 1}); "
                        "rename or remove one", line=1)
        seen[name] = index


def _no_label(header: List[str], path: str) -> str:
    message = f'{path}: no "{LABEL}" column in the header'
    spaced = next((name for name in header if name.strip(" \t") == LABEL), None)
    if spaced is not None:
        return message + f', but there is "{spaced}": remove the spaces around the name'
    cased = next((name for name in header if name.strip().lower() == LABEL), None)
    if cased is not None:
        return message + f', but there is "{cased}": column names are matched exactly, case included'
    return message + (": a training CSV is a header, numeric feature columns and a label column (a click "
                      "probability in [0, 1] a row); an impression log is trained with its schema, train(log, schema)")


# ---------------------------------------------------------------- the values (NumericCSV)

#: Rows checked at once.
_CHUNK_ROWS = 4096


def _values(text: str, names: List[str], path: str):
    """Refuses the first field (in row order) that the CLI refuses; returns the labels (64-bit floats), the texts of
    those whose float is exactly halfway to a 32-bit float past 0 or 1 (by row), and each row's line."""
    width = len(names)
    label = names.index(LABEL)
    labels, lines = [], array.array("q")
    texts = {}
    chunk, chunk_lines = [], []
    records = _records(text)
    next(records)  # the header
    for line, _, record in records:
        row = _joined(record)
        if row.count(",") != width - 1 or not _DECIMAL_ROW.fullmatch(row):
            # Some field is no decimal number: the rows before it first, then this row's fields in order.
            _check_chunk(chunk, chunk_lines, names, path, labels, texts, len(lines) - len(chunk))
            for column, field in enumerate(_fields(record)):
                if _DECIMAL.fullmatch(field):
                    _value_problem(float(field), field, line, column, names, path)
                    continue
                value = field.strip(" \t")
                problem = ("not a finite number" if "x" not in value.lower() and _NON_FINITE.fullmatch(value)
                           else "not a number")
                # Its control characters as the CLI writes them (`"\u{C}1"`): a form feed printed raw.
                _fail(path, f'{path}:{line}:{column + 1}: {problem}: "{_visible(value)}"', line=line,
                      column=column + 1, names=names, text=value)
        lines.append(line)
        chunk.append(row)
        chunk_lines.append(line)
        if len(chunk) == _CHUNK_ROWS:
            _check_chunk(chunk, chunk_lines, names, path, labels, texts, len(lines) - len(chunk))
            chunk, chunk_lines = [], []
    _check_chunk(chunk, chunk_lines, names, path, labels, texts, len(lines) - len(chunk))
    return (np.concatenate(labels) if labels else np.zeros(0)), texts, np.frombuffer(lines, dtype=np.int64)


def _check_chunk(rows: List[str], lines: List[int], names: List[str], path: str, labels: list, texts: dict,
                 first: int) -> None:
    """Refuses the first value of these rows (decimal numbers joined with commas; row by row) that is infinite, beyond
    float32's range or nearer 0 than any 64-bit float; keeps their labels in ``labels`` (one array per chunk) and in
    ``texts`` the text of a label exactly halfway to a 32-bit float past 0 or 1 (by row; the chunk's first is row
    ``first``)."""
    if not rows:
        return
    width = len(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            table = np.fromstring(",".join(rows), dtype=np.float64, sep=",")  # correctly rounded, as float() reads
        except ValueError:
            table = np.zeros(0)
    if table.size != len(rows) * width:
        table = np.array([float(field) for row in rows for field in row.split(",")], dtype=np.float64)
    table = table.reshape(len(rows), width)
    bad = np.isinf(table) | (np.abs(table) >= _FLOAT32_OVERFLOW)
    for row in np.flatnonzero((table == 0).any(axis=1)):
        # Only a number with an exponent, or hundreds of zeros after the point, is nearer 0 than any 64-bit float.
        if _may_underflow(rows[row]):
            fields = rows[row].split(",")
            for column in np.flatnonzero(table[row] == 0):
                bad[row, column] = _underflows(fields[column])
    for row, column in np.argwhere(bad):
        _value_problem(table[row, column], rows[row].split(",")[column], lines[row], int(column), names, path)
    label = names.index(LABEL)
    labels.append(table[:, label].copy())
    for row in np.flatnonzero((table[:, label] == _ABOVE_ONE) | (table[:, label] == _BELOW_ZERO)):
        texts[first + int(row)] = rows[row].split(",")[label]


def _may_underflow(row: str) -> bool:
    """Whether a row of decimal numbers may hold one nearer 0 than any 64-bit float: one with a negative exponent, or
    with hundreds of zeros after the point."""
    return "e-" in row or "E-" in row or "0" * 300 in row


def _underflows(text: str) -> bool:
    """Whether a decimal number read as 0 has a digit 1–9 before its exponent: nearer 0 than any 64-bit float."""
    return _NONZERO_MANTISSA.match(text) is not None


def _beyond_float32(value: float, text: str) -> bool:
    """Whether a finite decimal number rounds to infinity as a 32-bit float (correctly rounded from its text)."""
    if abs(value) != _FLOAT32_OVERFLOW:
        return abs(value) > _FLOAT32_OVERFLOW
    # copy_abs, not abs(): abs() rounds to the context's 28 digits, and 39 digits are compared here.
    return Decimal(text.strip(" \t")).copy_abs() >= Decimal(_FLOAT32_OVERFLOW)


def _value_problem(value: float, field: str, line: int, column: int, names: List[str], path: str) -> None:
    """Refuses a decimal field whose value the CLI refuses; returns for one it reads."""
    text = field.strip(" \t")
    where = f"{path}:{line}:{column + 1}"
    if value == 0 and _underflows(text):
        _fail(path, f'{where}: "{text}" is nearer 0 than the smallest 64-bit float, which reads it as 0: write 0, or a '
                    "number a 64-bit float holds", line=line, column=column + 1, names=names, text=text)
    if np.isinf(value):
        _fail(path, f'{where}: not a finite number: "{text}"', line=line, column=column + 1, names=names, text=text)
    if _beyond_float32(value, text):
        _fail(path, f"{where}: \"{text}\" is beyond a 32-bit float's range (±3.4e38), which the model reads",
              line=line, column=column + 1, names=names, text=text)


# ---------------------------------------------------------------- the labels (NumericCSV.labeledData)

def _check_labels(labels: np.ndarray, texts: dict, lines: np.ndarray, column: int, text: str, path: str) -> None:
    """Refuses the first label outside [0, 1] as a 32-bit float, named by its line and column with its value as the
    CLI prints a Float. ``texts`` holds the texts of the labels whose 64-bit float is exactly halfway to the next
    32-bit float past 1 or below 0, by row: those round by their exact decimal value."""
    rounded = labels.astype(np.float32)
    bad = (rounded < 0) | (rounded > 1)
    for row, field in texts.items():
        exact = Decimal(field.strip(" \t"))
        if labels[row] == _ABOVE_ONE and exact > Decimal(_ABOVE_ONE):
            bad[row], rounded[row] = True, np.nextafter(np.float32(1), np.float32(2))
        elif labels[row] == _BELOW_ZERO and exact < Decimal(_BELOW_ZERO):
            bad[row], rounded[row] = True, -np.nextafter(np.float32(0), np.float32(1))
    outside = np.flatnonzero(bad)
    if len(outside):
        row = int(outside[0])
        field = _fields(next(record for index, (_, _, record) in enumerate(_records(text)) if index == row + 1))[column]
        raise DatasetFormatError(f"{path}:{lines[row]}:{column + 1}: label {swift_float(rounded[row])} is not in [0, 1]",
                                 path=path, line=int(lines[row]), column=column + 1, column_name=LABEL,
                                 text=field.strip(" \t"))


def swift_float(value) -> str:
    """A 32-bit float as Swift's ``description`` writes it (the CLI's messages): its shortest round-trip digits, in
    exponent notation below 1e-4 and above 2**24 (``1e-05``, ``1e+08``), else positional with at least one decimal
    (``2.0``, ``16777216.0``)."""
    value = np.float32(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < _FLOAT32_TINY or magnitude > 2 ** 24):
        return np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)
    return np.format_float_positional(value, unique=True, trim="0")


def _visible(text: str) -> str:
    """``text`` with its control characters written as the CLI writes a quoted field's (Swift escapes: ``\\n``,
    ``\\r``, ``\\t``, ``\\u{C}``), so a message stays on one line and nothing acts on a terminal."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

    def shown(ch: str) -> str:
        code = ord(ch)
        if ch in named:
            return named[ch]
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return "\\u{%X}" % code
        return ch
    return "".join(shown(ch) for ch in text)
