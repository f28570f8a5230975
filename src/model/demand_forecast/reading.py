"""Reading the contract's CSV files and their numbers: one path for every step, one number parser.

Text files. Every CSV is read as text (no value is lost before validation judges it) after three
detections, each with a rule that either reads the file correctly or stops with what was seen and
the fix:

* **Empty.** A 0-byte (or whitespace-only) file is the error ``empty file``; a file with a header
  and no rows is read as zero rows (a required file with zero rows is then the error
  ``no data rows``, raised by validation).
* **Encoding.** A byte-order mark is unambiguous: UTF-8-SIG and UTF-16 (LE/BE) are decoded. UTF-16
  without a BOM is recognised by its NUL bytes (every other byte of ASCII text). Anything else
  must be strict UTF-8; a file that is not (Latin-1, Windows-1252: the byte alone cannot tell which)
  stops with ``not UTF-8``, naming the line and the byte, and the fix (re-save as UTF-8).
* **Separator.** ``,`` ``;`` tab and ``|`` are candidates; the one under which the header holds
  most of the file's required columns wins (ties: most header fields, then ``,``). Arrow's CSV
  reader (pyarrow.csv, every cell as text, nothing read as null) reads the rows as wide as the
  first one; Python's ``csv`` module reads each row Arrow refuses (a ragged row) and, record by
  record, a file where a quoted value spans lines. Either way quotes and embedded separators are
  read as Excel writes them, and every record's width and line are known.
* **Compression** by extension (``.gz`` ``.bz2`` ``.xz`` ``.zip``, those pandas infers).
* **Headers** matched ignoring case and spaces (`header_name`); a header line inside the file (two
  exports joined) is dropped in line 1's order and an error in any other; one empty field beyond
  the header (a trailing delimiter) is dropped and counted, any other extra field is an error.
  Nothing is read as missing: ``NA`` and ``None`` are ids, and nothing is trimmed: `` S00101`` keeps
  its space (ids are compared exactly, `demand_forecast.data_contract`). Each frame's index is its
  data row (file line - 2), so row numbers stay the file's own (src/model/README.md, "Reading").

Numbers. `infer_number_format` fixes one format per column from its values and `parse_numbers`
applies it; validation's pandera checks call both, so every numeric column of every file follows
the same rules (src/model/README.md, "Numbers"):

* optional sign, digits, optional decimal mark and digits, optional exponent (``1e3``), or
  digits grouped in threes (``1,500`` ``1.500.000`` ``1 500`` ``1'500``) with an optional decimal
  part; the grouping character is never the decimal mark;
* the decimal mark of a column is the one its values show (a mark not followed by exactly three
  digits, after a leading 0, or after the other mark grouping); a column showing both is refused
  (`NumberFormatError`), naming both values. When no value shows it, a value that reads two ways
  (``1.500``; in a file not separated by ``,`` also ``1,500``) is refused the same way; otherwise
  the mark is ``.`` (``,`` in a ``;``-separated file, the spreadsheet export of decimal-comma
  locales), and in a ``,``-separated file ``1,500`` is 1500;
* a value that does not match the column's format, or whose number is not finite (``inf``,
  ``NaN``, ``1e400``), is unparsable (NaN here, ``unparsable_number`` in validation).
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from demand_forecast.errors import DataContractError

SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# UTF-32 BOMs start with the UTF-16 ones: test them first.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SAVE_AS_UTF8 = (
    "re-save the file as UTF-8 (Excel: Save As > 'CSV UTF-8'; iconv -f LATIN1 -t UTF-8 IN > OUT), "
    "then run again"
)


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file was read: reported per file in data_quality.json (`read_as`).

    Beyond encoding and separator, what the reader accepted and counted (left out when nothing):
    `compression`, `renamed_columns` (header as written -> as matched), `trailing_empty_fields`
    (rows ending in one empty field too many), `repeated_header_lines` (header lines inside the file,
    dropped)."""

    encoding: str
    separator: str
    compression: str = ""
    renamed_columns: tuple[tuple[str, str], ...] = ()
    trailing_empty_fields: int = 0
    repeated_header_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"encoding": self.encoding, "separator": SEPARATOR_NAMES[self.separator]}
        if self.compression:
            out["compression"] = self.compression
        if self.renamed_columns:
            out["renamed_columns"] = dict(self.renamed_columns)
        if self.trailing_empty_fields:
            out["trailing_empty_fields"] = self.trailing_empty_fields
        if self.repeated_header_lines:
            out["repeated_header_lines"] = self.repeated_header_lines
        return out


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise ValueError(f"a zip archive must hold exactly one file, this one holds {len(members)}")
        return archive.read(members[0])


# The compressions pandas infers from a file's extension (`read_csv(compression="infer")`).
COMPRESSIONS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".xz": lzma.decompress,
    ".zip": _unzip,
}


def _file_bytes(path: Path) -> tuple[bytes, str]:
    """The (decompressed) bytes of `path` and the compression read, '' for none."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix not in COMPRESSIONS:
        return data, ""
    try:
        return COMPRESSIONS[suffix](data), suffix.lstrip(".")
    except (OSError, EOFError, ValueError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise DataContractError(
            path.name,
            "unreadable compressed file",
            detail=f"not a valid {suffix.lstrip('.')} file: {exc}",
            fix=f"compress the CSV again (or put the uncompressed {path.name.removesuffix(path.suffix)} "
            "in its place)",
        ) from exc


def decode_csv(path: Path) -> tuple[str, str]:
    """The text of `path` (decompressed by its extension) and the encoding it was read with;
    raises DataContractError when the file is empty or its encoding cannot be told from its bytes."""
    data, _ = _file_bytes(path)
    if not data.strip():
        raise DataContractError(
            path.name,
            "empty file",
            detail=f"{len(data)} bytes, not even a header row",
            fix=f"export {path.name} again with its header row and data (or remove it if it is optional "
            "and there is nothing to say)",
        )
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    head = data[:4000]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):
        # ASCII text in UTF-16 has a NUL in every other byte; which half says the byte order.
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, data, exc) from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from exc


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> DataContractError:
    line = data[: exc.start].count(b"\n") + 2 - 1  # 1-based line of the file, header = line 1
    byte = data[exc.start]
    guess = data[max(0, exc.start - 20) : exc.start + 20].decode("latin-1").splitlines()
    context = max(guess, key=len) if guess else ""
    return DataContractError(
        path.name,
        "not UTF-8",
        detail=f"byte 0x{byte:02X} on line {line} ('{context}' if read as Latin-1); the file has no "
        "byte-order mark and its 8-bit encoding (Latin-1, Windows-1252, ...) cannot be told from the bytes",
        fix=SAVE_AS_UTF8,
    )


def header_name(name: str) -> str:
    """How a header field is matched: case-insensitive, surrounding spaces dropped, inner runs of
    spaces read as '_' (`Week_Start`, ` week_start `, `Week Start` are all `week_start`)."""
    return re.sub(r"\s+", "_", str(name).strip().strip('"').strip()).lower()


def detect_separator(header: str, required: list[str]) -> str:
    """The separator under which `header` holds most `required` columns (then most fields, then ',')."""

    def score(separator: str) -> tuple[int, int, int]:
        fields = [header_name(field) for field in header.split(separator)]
        return (len(set(fields) & set(required)), len(fields), separator == ",")

    return max(SEPARATORS, key=score)


def _without_trailing_empty(fields: list[str]) -> list[str]:
    end = len(fields)
    while end > 0 and not fields[end - 1].strip():
        end -= 1
    return fields[:end]


@dataclass
class _Rows:
    """The data rows of one file as the reader accepted them, with their 0-based data-row labels
    (file line - 2: row N of quarantine.csv and of every error is line N + 1 of the file)."""

    values: list[list[str]]
    labels: list[int]
    trailing_empty_fields: int = 0
    repeated_header_lines: int = 0


def _records(path: Path, text: str, separator: str) -> list[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record, by Python's csv module (quotes, embedded
    separators and line breaks as Excel writes them)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    records = []
    line = 1
    try:
        for fields in reader:
            if len(fields) > 1 or (fields and fields[0].strip()):  # blank lines are skipped
                records.append((line, fields))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataContractError(
            path.name,
            "unreadable file",
            row=max(reader.line_num - 1, 1),
            detail=f"line {reader.line_num}: {exc}",
            fix="close every quoted value with a quote; quote values that contain the separator",
        ) from exc
    return records


def _header(path: Path, fields: list[str]) -> tuple[list[str], dict[str, str]]:
    """The header's column names as matched, and each name whose written form differed."""
    written = _without_trailing_empty(fields)
    names = [header_name(field) for field in written]
    seen: dict[str, str] = {}
    for original, name in zip(written, names, strict=True):
        if name in seen:
            raise DataContractError(
                path.name,
                "duplicate column",
                column=name,
                detail=f"the header names it twice ('{seen[name]}' and '{original}'); headers are matched "
                "ignoring case and spaces",
                fix="keep one column of that name",
            )
        seen[name] = original
    renamed = {original: name for original, name in zip(written, names, strict=True) if original != name}
    return names, renamed


def _is_header_line(fields: list[str], required: list[str]) -> bool:
    return set(required) <= {header_name(field) for field in fields}


def _header_order_error(path: Path, line: int, names: list[str], header: list[str]) -> DataContractError:
    return DataContractError(
        path.name,
        "header line in another column order",
        row=line - 1,
        detail=f"line {line} is a header ({', '.join(names)}) whose order differs from line 1's "
        f"({', '.join(header)}): two exports were joined and the rows after line {line} would be "
        "read into the wrong columns",
        fix="export the data again as one file, or put the second part's columns in line 1's order "
        f"and remove line {line}",
    )


def _fit_width(path: Path, line: int, fields: list[str], header: list[str], required: list[str]) -> list[str]:
    """`fields` cut or padded to the header's width: one empty field too many (a trailing
    delimiter) is dropped, a missing field at the end is empty; any other extra field is an error."""
    width = len(header)
    extra = fields[width:]
    if len(extra) > 1 or extra[0].strip():
        if _is_header_line(fields, required):
            names = [header_name(field) for field in _without_trailing_empty(fields)]
            raise _header_order_error(path, line, names, header)
        raise DataContractError(
            path.name,
            "extra field",
            row=line - 1,
            detail=f"line {line} has {len(fields)} fields, the header {width} ({', '.join(header)}); "
            f"beyond them: {', '.join(repr(v) for v in extra)}",
            fix="every row needs as many fields as the header (an empty field at the end is accepted); "
            "quote values that contain the separator",
        )
    return fields[:width]


def _data_rows(
    path: Path, records: list[tuple[int, list[str]]], header: list[str], required: list[str]
) -> _Rows:
    """Every record after the header, fitted to the header's width."""
    rows = _Rows([], [])
    width = len(header)
    for line, fields in records[1:]:
        if len(fields) > width:
            fields = _fit_width(path, line, fields, header, required)
            rows.trailing_empty_fields += 1
        elif len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        rows.values.append(fields)
        rows.labels.append(line - 2)
    return rows


def _drop_header_lines(
    path: Path, frame: pd.DataFrame, header: list[str], required: list[str]
) -> tuple[pd.DataFrame, int]:
    """Header lines inside the file (two exports joined with `cat`): in line 1's order they are
    dropped and counted; in another order they are an error naming the line and both orders.

    A row is a header line when it holds every required column name as `header_name` matches it;
    Arrow's kernels find the few rows that might (each required name in a cell, case and
    surrounding spaces aside), over whole columns."""
    names = pa.array(required)
    might = np.zeros(len(frame), dtype=np.int64)
    for column in frame.columns:
        cells = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(frame[column])))
        might += np.asarray(pc.fill_null(pc.is_in(cells, value_set=names), False), dtype=bool)
    candidates = []
    for label in frame.index[might >= len(required)]:
        fields = [str(value) for value in frame.loc[label]]
        if not _is_header_line(fields, required):
            continue
        order = [header_name(field) for field in _without_trailing_empty(fields)]
        if order != header:
            raise _header_order_error(path, int(label) + 2, order, header)
        candidates.append(label)
    return (frame.drop(index=candidates) if candidates else frame), len(candidates)


# Where a line ends, for the csv module and Arrow alike: CRLF, CR or LF.
_LINE_END = re.compile(r"\r\n|\r|\n")
# A line holding nothing but whitespace (or nothing), searched for in "\n" + text + "\n".
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def _fields(line: str, separator: str) -> list[str]:
    """The fields of one record line, by Python's csv module (the rule for every row Arrow refuses)."""
    return next(csv.reader([line], delimiter=separator), [])


@dataclass(frozen=True)
class _Lines:
    """The non-blank lines of a file whose records are one line each: the header line and the data
    lines, each data line with its 1-based file line number, and the data lines joined by LF."""

    header: str
    texts: list[str]
    numbers: npt.NDArray[np.int64]
    joined: str


def _one_line_records(text: str) -> _Lines | None:
    """Every non-blank line of `text`, or None when a quoted value spans lines (a line with an odd
    number of quotes): then only the csv module knows where records start."""
    if "\r" in text:
        text = _LINE_END.sub("\n", text)
    body = text.rstrip("\n")
    lines = body.split("\n")
    if '"' in body and any(line.count('"') % 2 for line in lines):
        return None
    if _BLANK_LINE.search(f"\n{body}\n") is None:  # nearly every file: line n is record n
        joined = body[len(lines[0]) + 1 :]
        return _Lines(lines[0], lines[1:], np.arange(2, len(lines) + 1, dtype=np.int64), joined)
    numbers = [number for number, line in enumerate(lines, 1) if line.strip()]
    texts = [lines[n - 1] for n in numbers]
    return _Lines(texts[0], texts[1:], np.array(numbers[1:], dtype=np.int64), "\n".join(texts[1:]))


def _arrow_rows(data: _Lines, separator: str, width: int) -> tuple[pd.DataFrame, list[int]]:
    """The records of `data` that have `width` fields, as text columns 0..width-1 indexed by data
    row (line - 2), read by Arrow's CSV reader; and the positions in `data` of the other records
    (Arrow calls the handler for each, in order:
    https://arrow.apache.org/docs/python/generated/pyarrow.csv.ParseOptions.html)."""
    refused: list[str] = []

    def refuse(row: pa_csv.InvalidRow) -> str:
        refused.append(row.text)
        return "skip"

    names = [str(i) for i in range(width)]
    # Every cell as text: no type inference, nothing read as null (`NA`, `NULL`, '' stay as written).
    # https://arrow.apache.org/docs/python/generated/pyarrow.csv.ConvertOptions.html
    table = pa_csv.read_csv(
        io.BytesIO(data.joined.encode("utf-8")),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pa_csv.ParseOptions(delimiter=separator, invalid_row_handler=refuse),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    positions, at = [], 0
    for text in refused:  # in file order: find each refused record's line
        while data.texts[at] != text:
            at += 1
        positions.append(at)
        at += 1
    kept = np.ones(len(data.texts), dtype=bool)
    kept[positions] = False
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    frame.index = pd.Index(data.numbers[kept] - 2, dtype="int64")
    return frame, positions


def _read_records(
    path: Path, data: _Lines, separator: str, header: list[str], required: list[str]
) -> tuple[pd.DataFrame, int]:
    """The data rows of one-line records fitted to the header's width (see `_fit_width`): Arrow
    reads the rows as wide as the first one (the header's width, or one more when the file ends
    every row with a delimiter); the csv module reads the rest, and every row whose extra field is
    not empty, in file order so the first bad row is the one named. Returns the rows and how many
    ended in an empty field too many."""
    width = len(header)
    if not data.texts:  # a header and nothing else
        return pd.DataFrame({column: pd.Series(dtype=str) for column in header}), 0
    wide = len(_fields(data.texts[0], separator)) > width
    frame, refused = _arrow_rows(data, separator, width + wide)
    suspects = list(refused)
    if wide:
        extra = frame[str(width)]
        filled = frame.index[(extra.str.strip() != "").to_numpy(dtype=bool, na_value=True)]
        positions = np.searchsorted(data.numbers, filled.to_numpy() + 2)
        suspects = sorted(suspects + [int(at) for at in positions])
        frame = frame.drop(index=filled).iloc[:, :width]
    rows = _Rows([], [], trailing_empty_fields=len(frame) if wide else 0)
    for at in suspects:
        line, text = int(data.numbers[at]), data.texts[at]
        fields = _fields(text, separator)
        rows.values.append(
            _fit_width(path, line, fields, header, required) if len(fields) > width else fields
        )
        rows.trailing_empty_fields += len(fields) > width
        rows.labels.append(line - 2)
    frame.columns = pd.Index(header)
    if rows.values:
        padded = [fields + [""] * (width - len(fields)) for fields in rows.values]
        more = pd.DataFrame(padded, columns=header, index=pd.Index(rows.labels, dtype="int64"), dtype=str)
        frame = pd.concat([frame, more.astype(frame.dtypes.to_dict())]).sort_index()
    return frame, rows.trailing_empty_fields


def read_csv_text(path: Path, required: list[str]) -> tuple[pd.DataFrame, CsvFormat]:
    """Every cell of `path` as a string exactly as written ('' when empty), and how the file was read.

    Records on one line each (nearly every export) are read by Arrow's CSV reader, the rest of the
    rules applied over whole columns; a file where a quoted value spans lines is read by the csv
    module record by record. Both give the same frame. Its index is the data row (file line - 2),
    so row numbers stay the file's own when header lines inside it are dropped. Raises
    DataContractError for a file that cannot be read one way only (see the module docstring)."""
    text, encoding = decode_csv(path)
    text = text.lstrip("\ufeff")
    first_line = _LINE_END.split(text.lstrip(), maxsplit=1)[0]
    separator = detect_separator(first_line, required)
    lines = _one_line_records(text)
    if lines is not None:
        header, renamed = _header(path, _fields(lines.header, separator))
        frame, trailing = _read_records(path, lines, separator, header, required)
    else:
        records = _records(path, text, separator)
        header, renamed = _header(path, records[0][1])
        rows = _data_rows(path, records, header, required)
        index = pd.Index(rows.labels, dtype="int64")
        frame = pd.DataFrame(rows.values, columns=header, index=index, dtype=str)
        trailing = rows.trailing_empty_fields
    repeated = 0
    if len(frame):
        frame, repeated = _drop_header_lines(path, frame, header, required)
    read_as = CsvFormat(
        encoding,
        separator,
        compression=_file_compression(path),
        renamed_columns=tuple(renamed.items()),
        trailing_empty_fields=trailing,
        repeated_header_lines=repeated,
    )
    return frame, read_as


def _file_compression(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix.lstrip(".") if suffix in COMPRESSIONS else ""


def read_text_csv(path: Path, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV file this package wrote (series.csv, forecasts.csv, backtest.csv, ...) read back as
    text: ids are strings and no value is read as missing (`NA`, `NULL`, `None` are product codes
    and regions), except in the `numeric` columns, where only an empty field is missing.

    pandas' defaults would read `NA` as NaN (https://pandas.pydata.org/docs/reference/api/pandas.read_csv.html,
    `na_values`): a region `NA` would reach the reporting database as NULL."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    for column in numeric:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")
    return frame


# ---- numbers -------------------------------------------------------------------------------------

_EXPONENT = r"(?:[eE][+-]?\d+)?"
_PLAIN = {
    ".": re.compile(rf"^[+-]?(?:\d+(?:\.\d*)?|\.\d+){_EXPONENT}$"),
    ",": re.compile(rf"^[+-]?(?:\d+(?:,\d*)?|,\d+){_EXPONENT}$"),
}
GROUPING_CHARACTERS = (",", ".", " ", "'", "\u00a0", "\u202f")


def _grouped(grouping: str, decimal: str) -> re.Pattern[str]:
    g, d = re.escape(grouping), re.escape(decimal)
    return re.compile(rf"^[+-]?\d{{1,3}}(?:{g}\d{{3}})+(?:{d}\d+)?$")


def _stripped_text(values: pd.Series) -> pd.Series:
    """`values` as text without the whitespace around it (numbers tolerate it; ids never see this)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    return series.astype(str).str.strip()


def distinct_values(values: pd.Series, labelled: bool = False) -> tuple[pd.Series, npt.NDArray[np.intp]]:
    """The distinct values of `values` (object dtype, in order of first appearance; `labelled`:
    each labelled by the row where it first appears, else 0..n-1) and each row's position among them.

    A column's values repeat (104 weeks over 40,000 rows, a few hundred prices), so the number and
    date rules run once per distinct value, with Python's `re` (compiled patterns are cached),
    and are spread back over the rows: `result.to_numpy()[codes]`."""
    codes, uniques = values.factorize(use_na_sentinel=False)
    index = values.index[pd.Series(codes).drop_duplicates().index] if labelled else None
    return pd.Series(np.asarray(uniques, dtype=object), index=index, dtype=object), codes


@dataclass(frozen=True)
class NumberFormat:
    """One column's number format: its decimal mark (grouping is read wherever it is unambiguous)."""

    decimal: str = "."

    def describe(self) -> str:
        other = "," if self.decimal == "." else "."
        return f"decimal mark '{self.decimal}', digits optionally grouped in threes by '{other}', space or '"


class NumberFormatError(ValueError):
    """A column whose values use two decimal marks: no single reading is right for all of them."""


# A value shows its column's decimal mark when no grouping could produce it: a mark not followed by
# exactly three digits, a leading 0 ("0.500"), or the other mark used as grouping before it.
_COMMA_DECIMAL_EVIDENCE = re.compile(
    r"^[+-]?(?:\d*,\d{1,2}|\d*,\d{4,}|\d{4,},\d+|0,\d+|\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,})$"
)
_DOT_DECIMAL_EVIDENCE = re.compile(
    r"^[+-]?(?:\d*\.\d{1,2}|\d*\.\d{4,}|\d{4,}\.\d+|0\.\d+|\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,})$"
)
# One mark followed by exactly three digits: "1.500" is 1.5 or 1500, "1,500" is 1.5 or 1500.
_SINGLE_GROUP = {
    ".": re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$"),
    ",": re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$"),
}


def infer_number_format(values: pd.Series, separator: str = ",") -> NumberFormat:
    """The column's format from its values (see the module docstring).

    Raises NumberFormatError when some values can only be read with '.' as the decimal mark and
    others only with ','; or when no value settles the mark and some value reads two ways
    ("1.500": 1.5 or 1500). In a ','-separated file a comma is never a decimal mark unless a value
    shows it (a decimal comma would have to be quoted), so "1,500" there is 1500."""
    stripped = _stripped_text(values)
    text, _ = distinct_values(stripped[(stripped != "").to_numpy(dtype=bool, na_value=True)], labelled=True)
    comma = text[text.str.match(_COMMA_DECIMAL_EVIDENCE.pattern)]
    dot = text[text.str.match(_DOT_DECIMAL_EVIDENCE.pattern)]
    if len(comma) and len(dot):
        raise NumberFormatError(
            f"decimal comma in '{comma.iloc[0]}' (row {int(comma.index[0]) + 1}) and decimal point in "
            f"'{dot.iloc[0]}' (row {int(dot.index[0]) + 1})"
        )
    if len(comma):
        return NumberFormat(",")
    if len(dot):
        return NumberFormat(".")
    marks = (".",) if separator == "," else (".", ",")
    for mark in marks:
        two_ways = text[text.str.match(_SINGLE_GROUP[mark].pattern)]
        if len(two_ways):
            value = str(two_ways.iloc[0])
            as_decimal = value.replace(",", ".")
            raise NumberFormatError(
                f"'{value}' (row {int(two_ways.index[0]) + 1}) reads as {as_decimal} with '{mark}' as "
                f"the decimal mark or as {value.replace(mark, '')} with '{mark}' grouping thousands, and no "
                "value of the column shows which"
            )
    return NumberFormat("," if separator == ";" else ".")


_NON_FINITE = re.compile(r"^[+-]?(?:inf(?:inity)?|nan)$", re.IGNORECASE)


def number_like(values: pd.Series, number_format: NumberFormat | None = None) -> pd.Series:
    """Values written as numbers, finite or not (`inf`, `NaN`, `1e400` are number-like but do not
    parse): what decides whether an extra column is numeric, so that a non-finite value is judged
    as a bad number, not taken as a sign that the column is text."""
    fmt = number_format or NumberFormat()
    text = _stripped_text(values)
    distinct, codes = distinct_values(text)
    like = (
        _parse_distinct(distinct, fmt).notna()
        | distinct.str.match(_NON_FINITE.pattern, case=False).fillna(False)
        | distinct.str.match(_PLAIN[fmt.decimal].pattern).fillna(False)
    )
    return pd.Series(like.to_numpy(dtype=bool)[codes], index=text.index)


def parse_numbers(values: pd.Series, number_format: NumberFormat | None = None) -> pd.Series:
    """float64 values of `values` in `number_format` (default: decimal point); NaN where a value is
    empty, does not match the format, or is not a finite number. Each distinct value is parsed once
    (`distinct_values`)."""
    text = _stripped_text(values)
    distinct, codes = distinct_values(text)
    parsed = _parse_distinct(distinct, number_format or NumberFormat()).to_numpy()
    return pd.Series(parsed[codes], index=text.index, dtype="float64")


def _parse_distinct(text: pd.Series, fmt: NumberFormat) -> pd.Series:
    """`parse_numbers` of stripped object-dtype text: the plain form first, the grouped forms for
    the rest."""
    plain = text.str.match(_PLAIN[fmt.decimal].pattern).to_numpy(dtype=bool, na_value=False)
    normal = text.where(plain, "")
    rest = text[~plain & (text != "").to_numpy(dtype=bool, na_value=False)]
    if len(rest):
        grouped = pd.Series(False, index=rest.index)
        for grouping in GROUPING_CHARACTERS:
            if grouping != fmt.decimal:
                grouped |= rest.str.match(_grouped(grouping, fmt.decimal).pattern).fillna(False)
        cleaned = rest[grouped]
        for grouping in GROUPING_CHARACTERS:
            if grouping != fmt.decimal:
                cleaned = cleaned.str.replace(grouping, "", regex=False)
        normal[cleaned.index] = cleaned
    if fmt.decimal == ",":
        normal = normal.str.replace(",", ".", regex=False)
    ok = (normal != "").to_numpy(dtype=bool, na_value=False)
    out = np.full(len(text), np.nan)
    # Every value left matches the plain form, which Python's float() reads (1e400 is inf, dropped).
    out[ok] = normal[ok].to_numpy(dtype=object).astype("float64")
    return pd.Series(np.where(np.isfinite(out), out, np.nan), index=text.index, dtype="float64")
