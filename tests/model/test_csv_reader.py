"""The model's CSV reader (`demand_forecast.reading.read_csv_text`): Arrow reads one-line records,
the csv module the rest. Both paths must give the same frame, row labels and counts; each case is a
file an export, a spreadsheet or a shell writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from demand_forecast import reading
from demand_forecast.errors import DataContractError
from demand_forecast.reading import CsvFormat, read_csv_text

REQUIRED = ["week_start", "store_id", "product_id", "units"]
HEADER = "week_start,store_id,product_id,units,returns"

CASES = {
    "blank lines": f"{HEADER}\n2024-01-01,S1,P1,5,0\n\n   \n2024-01-08,S1,P1,6,0\n",
    "CRLF": f"{HEADER}\r\n2024-01-01,S1,P1,5,0\r\n2024-01-08,S1,P1,6,0\r\n",
    "quoted separators": f'{HEADER}\n2024-01-01,"S,1","P ""x""",5,0\n2024-01-08,S1,P1,"1,500",0\n',
    "spaces kept": f"{HEADER}\n2024-01-01, S1 ,P1\t,5,0\n2024-01-08,S1,P1, 6 ,0\n",
    "NA-like ids": f"{HEADER}\n2024-01-01,NA,NULL,5,\n2024-01-08,None,N/A,6,nan\n",
    "one trailing delimiter, one short row": f"{HEADER}\n2024-01-01,S1,P1,5,0,\n2024-01-08,S1,P1,6\n",
    "every row ends in a delimiter but one": f"{HEADER},\n2024-01-01,S1,P1,5,0,\n2024-01-08,S1,P1,6,0\n"
    "2024-01-15,S1,P1,7,0,\n",
    "a header line inside": f"{HEADER}\n2024-01-01,S1,P1,5,0\n{HEADER.upper()}\n2024-01-08,S1,P1,6,0\n",
    "header only": f"{HEADER}\n",
    "semicolons": "week_start;store_id;product_id;units\n2024-01-01;S1;P1;5,5\n",
}


def _read_by_csv_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, CsvFormat]:
    with monkeypatch.context() as patch:
        patch.setattr(reading, "_one_line_records", lambda text: None)
        return read_csv_text(path, REQUIRED)


@pytest.mark.parametrize("case", CASES)
def test_arrow_and_the_csv_module_read_a_file_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    path = tmp_path / "shipments.csv"
    path.write_bytes(CASES[case].encode("utf-8"))
    fast, fast_format = read_csv_text(path, REQUIRED)
    slow, slow_format = _read_by_csv_module(path, monkeypatch)
    assert fast_format == slow_format
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_index_type=False)
    assert all(isinstance(value, str) for value in fast.to_numpy().ravel())  # nothing read as missing


def test_rows_keep_their_file_lines_and_their_spaces(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(CASES["blank lines"] + "2024-01-15, S1,P1 ,7,0,\n" + "2024-01-22,S1,P1,8\n")
    frame, read_as = read_csv_text(path, REQUIRED)
    assert list(frame.index) == [0, 3, 4, 5]  # file lines 2, 5, 6, 7: the blank lines 3 and 4 skipped
    assert frame.loc[4, "store_id"] == " S1"
    assert frame.loc[4, "product_id"] == "P1 "
    assert frame.loc[5, "returns"] == ""
    assert read_as.trailing_empty_fields == 1


def test_every_row_ending_in_a_delimiter_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(CASES["every row ends in a delimiter but one"])
    frame, read_as = read_csv_text(path, REQUIRED)
    assert read_as.trailing_empty_fields == 2
    assert list(frame.columns) == HEADER.split(",")
    assert list(frame["units"]) == ["5", "6", "7"]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("2024-01-01,S1,P1,5,0\n2024-01-08,S1,P1,6,0,x\n", 3),  # a value beyond the header
        ("2024-01-01,S1,P1,5,0,x\n2024-01-08,S1,P1,6,0,\n", 2),  # the first row, in a wide file
        ("2024-01-01,S1,P1,5,0,\n2024-01-08,S1,P1,6,0,,\n2024-01-15,S1,P1,7,0,y\n", 3),  # two empties
        ("2024-01-01,S1,P1,5,0,\n2024-01-08,S1,P1,6,0,y\n2024-01-15,S1,P1,7,0,,\n", 3),  # then two empties
    ],
)
def test_the_first_row_with_an_extra_field_is_named_by_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, line: int
) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(f"{HEADER}\n{body}")
    for read in (lambda: read_csv_text(path, REQUIRED), lambda: _read_by_csv_module(path, monkeypatch)):
        with pytest.raises(DataContractError) as caught:
            read()
        assert caught.value.reason == "extra field"
        assert caught.value.row == line - 1


def test_a_quoted_value_spanning_lines_keeps_the_next_rows_file_line(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(f'{HEADER}\n2024-01-01,S1,"P1\nsecond line",5,0\n\n2024-01-08,S1,P1,6,0\n')
    frame, _ = read_csv_text(path, REQUIRED)
    assert list(frame.index) == [0, 3]  # the second row is file line 5
    assert frame.loc[0, "product_id"] == "P1\nsecond line"


def test_validate_reads_and_judges_without_loading_the_model_code(tmp_path: Path) -> None:
    """`demand-forecast validate` imports no torch or scikit-learn (seconds of start-up for a step
    that reads CSV; issue 27 item 3): its cost is the data's, measured by benchmarks/bench_loops.py."""
    import subprocess
    import sys

    from sample_cut import restrict

    data = restrict(tmp_path / "data", ("R000",), stores=2)
    script = (
        "import sys; from demand_forecast.cli import main; "
        f"status = main(['validate', '--data', {str(data)!r}, '--out', {str(tmp_path / 'out')!r}]); "
        "print(status, sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []"
