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
  most of the file's required columns wins (ties: most header fields, then ``,``). Python's
  ``csv`` module, via pandas, reads the file with it.

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

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    """How a CSV file was read: reported per file in data_quality.json."""

    encoding: str
    separator: str

    def to_dict(self) -> dict[str, str]:
        return {"encoding": self.encoding, "separator": SEPARATOR_NAMES[self.separator]}


def decode_csv(path: Path) -> tuple[str, str]:
    """The text of `path` and the encoding it was read with; raises DataContractError when the
    file is empty or its encoding cannot be told from its bytes."""
    data = path.read_bytes()
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


def detect_separator(header: str, required: list[str]) -> str:
    """The separator under which `header` holds most `required` columns (then most fields, then ',')."""

    def score(separator: str) -> tuple[int, int, int]:
        fields = [field.strip().strip('"').strip() for field in header.split(separator)]
        return (len(set(fields) & set(required)), len(fields), separator == ",")

    return max(SEPARATORS, key=score)


def read_csv_text(path: Path, required: list[str]) -> tuple[pd.DataFrame, CsvFormat]:
    """Every cell of `path` as a stripped string ('' when empty), and how the file was read."""
    text, encoding = decode_csv(path)
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    separator = detect_separator(header, required)
    try:
        frame = pd.read_csv(
            io.StringIO(text.lstrip("\ufeff")),
            sep=separator,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataContractError(
            path.name,
            "unreadable file",
            detail=f"read as {encoding}, {SEPARATOR_NAMES[separator]}-separated: {exc}",
            fix="every row needs as many fields as the header; quote values that contain the separator",
        ) from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame, CsvFormat(encoding, separator)


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
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    text = text[text != ""]
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
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    return (
        parse_numbers(text, fmt).notna()
        | text.str.match(_NON_FINITE.pattern, case=False)
        | text.str.match(_PLAIN[fmt.decimal].pattern)
    )


def parse_numbers(values: pd.Series, number_format: NumberFormat | None = None) -> pd.Series:
    """float64 values of `values` in `number_format` (default: decimal point); NaN where a value is
    empty, does not match the format, or is not a finite number."""
    fmt = number_format or NumberFormat()
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    plain = text.str.match(_PLAIN[fmt.decimal].pattern)
    grouped = pd.Series(False, index=text.index)
    for grouping in GROUPING_CHARACTERS:
        if grouping == fmt.decimal:
            continue
        grouped |= text.str.match(_grouped(grouping, fmt.decimal).pattern)
    # A plain "1,500" in a decimal-comma column is 1.5; only the decimal reading applies there.
    grouped &= ~plain
    normal = text.where(plain | grouped, "")
    for grouping in GROUPING_CHARACTERS:
        if grouping != fmt.decimal:
            normal = normal.where(~grouped, normal.str.replace(grouping, "", regex=False))
    if fmt.decimal == ",":
        normal = normal.str.replace(",", ".", regex=False)
    ok = normal != ""
    with np.errstate(over="ignore"):
        parsed = pd.to_numeric(normal[ok], errors="coerce")
    out[ok] = parsed.astype("float64")
    return out.where(np.isfinite(out))
