"""``frames.read_export`` refuses a file that is not an impression log, naming the line, the column and the text,
and reads a real ``recpool logs export`` file and an Open Bandit Dataset file exactly as it did before it checked."""
import csv
import io
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

import recpool
from recpool import ExportFormatError, frames
from pools import ROOT, binary

OBD_FIXTURE = ROOT / "Tests" / "DataTests" / "Fixtures" / "obd" / "random" / "men" / "men.csv"
#: The column types of an export as read_export gives them (the simulator's four user features).
EXPORT_DTYPES = {
    "timestamp": "datetime64[us, UTC]", "item_id": "int64", "position": "int64", "click": "Int64",
    "observed": "int64", "dwell": "Float64", "propensity_score": "float64", "impression_id": "str",
    "policy_version": "int64", "viewed": "str", "score": "float64", "retrieval": "str",
    "user_feature_0": "str", "user_feature_1": "str", "user_feature_2": "str", "user_feature_3": "str",
}


@pytest.fixture(scope="module")
def export(pool, tmp_path_factory):
    """A real ``recpool logs export`` file of the session pool: slates of three, some with feedback on the top
    item only (the two others unobserved, click blank), a dwell on the top item, viewed items on some requests,
    and a user feature holding a comma and a quote (a quoted field)."""
    with recpool.Client(pool.frontend) as client:
        for user in range(6):
            slate = client.recommend({"user_feature_0": f"u0_{user % 3:02d}", "user_feature_1": 'u1_01, "q"'},
                                     events=[(2, 12.5), (5, 3.0)] if user % 2 else (), top=3)
            for position, item in enumerate(slate.items):
                if position == 0 or user % 3 == 0:
                    client.feedback(slate.impression_id, item, int(position == 0),
                                    dwell=4.25 if position == 0 else None)
    out = tmp_path_factory.mktemp("export") / "impressions.csv"
    run = subprocess.run([binary("recpool"), "logs", "export", "--broker", pool.frontend, "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def plain_read(path):
    """The file as read_export read it before it checked anything (the pandas calls alone)."""
    header = pd.read_csv(path, nrows=0).columns
    text = {name: str for name in frames._user_features_of(header[1:])}
    text["viewed"] = str
    frame = pd.read_csv(path, index_col=0, dtype=text, keep_default_na=False)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["click"] = pd.to_numeric(frame["click"].replace("", None)).astype("Int64")
    if "dwell" in frame.columns:
        frame["dwell"] = pd.to_numeric(frame["dwell"].replace("", None)).astype("Float64")
    return frame


def lines_of(path) -> list:
    """The file's lines (each record of an export is one line), without their line ends."""
    return path.read_text().split("\n")[:-1]


def find_line(path, observed: str) -> int:
    """The 1-based line of a data row past the first with ``observed`` equal to ``observed``."""
    rows = list(csv.reader(io.StringIO(path.read_text())))
    column = rows[0].index("observed")
    return next(k + 1 for k, row in enumerate(rows) if k >= 2 and row[column] == observed)


def record(fields) -> str:
    """Fields as one CSV record, quoted as the export quotes them (only a field that needs it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)  # "\n" also quotes a field holding a line break
    return buffer.getvalue()[:-1]


def with_field(export, tmp_path, line: int, column: str, value: str):
    """A copy of the export with ``column`` of file line ``line`` (1-based) set to ``value``."""
    lines = lines_of(export)
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[line - 1]]))
    fields[header.index(column)] = value
    lines[line - 1] = record(fields)
    return write(tmp_path, lines)


def write(tmp_path, lines, name="impressions.csv"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def refused(path, line: int, column):
    """Reads ``path``, expecting an ExportFormatError naming ``line`` and ``column``; returns the error."""
    with pytest.raises(ExportFormatError) as caught:
        frames.read_export(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.line == line and f"line {line}" in str(error), str(error)
    assert str(path) in str(error)
    if column is not None:
        assert error.column == column and f"column '{column}'" in str(error), str(error)
    return error


# A valid file reads as before.

def test_a_real_export_reads_exactly_as_before_with_missing_values_only_where_allowed(export):
    frame = frames.read_export(export)
    pd.testing.assert_frame_equal(frame, plain_read(export), check_exact=True)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == EXPORT_DTYPES
    assert (frame["observed"] == 0).any() and (frame["observed"] == 1).any() and frame["dwell"].notna().any()
    assert frame["viewed"].str.contains("2:12.5").any() and (frame["user_feature_1"] == 'u1_01, "q"').any()
    # <NA> only in click (on unobserved rows, every one of them) and dwell; no NaN anywhere.
    missing = frame.isna().any()
    assert set(missing[missing].index) <= {"click", "dwell"}
    assert (frame["click"].isna() == (frame["observed"] == 0)).all()
    assert not np.isnan(frame["dwell"].dropna().to_numpy(float)).any()


def test_an_obd_file_reads_exactly_as_before(tmp_path):
    paths = [OBD_FIXTURE] + sorted((ROOT / "data" / "obd").glob("*/*/*.csv"))  # data/obd: scripts/fetch-obd
    for path in (p for p in paths if p.name != "item_context.csv"):
        frame = frames.read_export(path)
        pd.testing.assert_frame_equal(frame, plain_read(path), check_exact=True)
        assert list(frame.columns[:5]) == list(frames.OBD_COLUMNS) and not frame.isna().any().any()
        assert frame["click"].dtype == "Int64" and frame["item_id"].dtype == "int64"
        assert frames.bandit_feedback(frame)["n_rounds"] == len(frame)


def test_whole_numbers_written_with_a_point_still_read_as_integers(export, tmp_path):
    line = find_line(export, "1")
    path = with_field(export, tmp_path, line, "item_id", "3.0")
    frame = frames.read_export(path)
    assert frame["item_id"].dtype == "int64" and frame["item_id"].iloc[line - 2] == 3


@pytest.mark.parametrize("value", ["3e0", "+3", "03", "30e-1", "0.3E1"])
def test_every_spelling_of_an_integer_valued_item_id_reads_as_the_integer_as_the_swift_loaders_read_it(
        export, tmp_path, value):
    line = find_line(export, "1")
    frame = frames.read_export(with_field(export, tmp_path, line, "item_id", value))
    assert frame["item_id"].dtype == "int64" and frame["item_id"].iloc[line - 2] == 3


@pytest.mark.parametrize("value", ["1e-400", "0.99999999999999999", "3.5e0"])
def test_a_spelling_whose_value_is_no_integer_is_refused(export, tmp_path, value):
    refused(with_field(export, tmp_path, 5, "item_id", value), 5, "item_id")


# One refusal per kind of damage, each naming the line and the column.

def test_a_fractional_item_id_is_refused(export, tmp_path):
    error = refused(with_field(export, tmp_path, 5, "item_id", "3.5"), 5, "item_id")
    assert error.text == "3.5" and "'3.5' is a fraction" in str(error)


def test_a_negative_item_id_is_refused(export, tmp_path):
    error = refused(with_field(export, tmp_path, 6, "item_id", "-2"), 6, "item_id")
    assert "'-2' is negative" in str(error)


def test_a_fractional_click_is_refused(export, tmp_path):
    line = find_line(export, "1")
    error = refused(with_field(export, tmp_path, line, "click", "0.5"), line, "click")
    assert "'0.5' is a fraction" in str(error)


def test_a_negative_click_is_refused(export, tmp_path):
    line = find_line(export, "1")
    error = refused(with_field(export, tmp_path, line, "click", "-1"), line, "click")
    assert "'-1' is negative" in str(error)


@pytest.mark.parametrize("value", ["2", "yes", "2e0", "0.5e0"])
def test_a_click_other_than_0_1_or_blank_is_refused(export, tmp_path, value):
    line = find_line(export, "0")  # even where a blank click is allowed
    error = refused(with_field(export, tmp_path, line, "click", value), line, "click")
    assert error.text == value and "a click is 0 or 1" in str(error)


def test_a_blank_click_is_refused_on_an_observed_row(export, tmp_path):
    line = find_line(export, "1")
    error = refused(with_field(export, tmp_path, line, "click", ""), line, "click")
    assert "blank on an observed row" in str(error)
    # An OBD file has no observed column: every row is observed.
    lines = OBD_FIXTURE.read_text().split("\n")[:-1]
    fields = lines[3].split(",")
    fields[lines[0].split(",").index("click")] = ""
    lines[3] = ",".join(fields)
    error = refused(write(tmp_path, lines, "obd.csv"), 4, "click")
    assert "without an 'observed' column" in str(error)


@pytest.mark.parametrize("extra", [1, -1, -3])
def test_a_ragged_row_is_refused(export, tmp_path, extra):
    lines = lines_of(export)
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[4]]))
    lines[4] = record(fields + ["x"] * extra if extra > 0 else fields[:extra])
    error = refused(write(tmp_path, lines), 5, header[-1] if extra > 0 else header[extra])
    assert f"has {len(header) + extra} fields but the header (line 1) has {len(header)}" in str(error)


@pytest.mark.parametrize("column", ["click", "user_feature_0", ""])
def test_a_repeated_header_column_is_refused(export, tmp_path, column):
    lines = lines_of(export)
    header = next(csv.reader([lines[0]]))
    header[header.index("score")] = column  # "" is the index column's name
    lines[0] = record(header)
    error = refused(write(tmp_path, lines), 1, column)
    assert "the header names the column twice" in str(error)


@pytest.mark.parametrize("column", frames.OBD_COLUMNS)
def test_a_missing_required_column_is_refused(export, tmp_path, column):
    lines = lines_of(export)
    lines[0] = lines[0].replace(f",{column},", f",{column}_renamed,", 1)
    error = refused(write(tmp_path, lines), 1, column)
    assert "the header has no such column" in str(error)


def test_a_file_without_its_index_column_names_it(export, tmp_path):
    lines = [line.split(",", 1)[1] for line in lines_of(export)]
    error = refused(write(tmp_path, lines), 1, "timestamp")
    assert "is the row index" in str(error)


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "", "top"])
def test_a_position_that_is_not_a_whole_number_from_1_is_refused(export, tmp_path, value):
    error = refused(with_field(export, tmp_path, 4, "position", value), 4, "position")
    assert error.text == value and "counted from 1" in str(error)


@pytest.mark.parametrize("value", ["0", "-0.25", "1.5", "nan", "inf", "", "p"])
def test_a_propensity_outside_0_1_or_not_finite_is_refused(export, tmp_path, value):
    error = refused(with_field(export, tmp_path, 7, "propensity_score", value), 7, "propensity_score")
    assert error.text == value and "a probability in (0, 1]" in str(error)


@pytest.mark.parametrize("value", ["5e-324", "1e-200", "9.99e-101"])
def test_a_propensity_below_the_floor_the_commands_refuse_is_refused(export, tmp_path, value):
    # `recpool data describe` refuses it too: its importance weight 1/p overflows (5e-324 gives inf).
    error = refused(with_field(export, tmp_path, 7, "propensity_score", value), 7, "propensity_score")
    assert error.text == value and "below the smallest usable propensity 1e-100" in str(error)


def test_the_propensity_floor_itself_is_read(export, tmp_path):
    frame = frames.read_export(with_field(export, tmp_path, 7, "propensity_score", "1e-100"))
    assert (frame["propensity_score"] == 1e-100).sum() == 1


@pytest.mark.parametrize("value", ["2", "-1", "0.5", ""])
def test_an_observed_other_than_0_or_1_is_refused(export, tmp_path, value):
    line = find_line(export, "0")
    error = refused(with_field(export, tmp_path, line, "observed", value), line, "observed")
    assert error.text == value and "observed is 1 when feedback arrived" in str(error)


@pytest.mark.parametrize("value", ["yesterday", "", "2024-13-45 99:00:00.000000+00:00", "2024-05-01T10:00:00Z"])
def test_an_unparsable_timestamp_is_refused(export, tmp_path, value):
    error = refused(with_field(export, tmp_path, 6, "timestamp", value), 6, "timestamp")
    assert error.text == value
    if value == "2024-05-01T10:00:00Z":  # a time pandas reads alone, written unlike the others
        assert "written unlike line 2's timestamp" in str(error)


# Above 1e9 s: `recpool data describe` refused the file ("is not a dwell time of 0 to 1e9 s"), read_export took it.
@pytest.mark.parametrize("value", ["-1", "-0.5", "inf", "-inf", "nan", "ten", "1e308", "1e15", "9999999999999999",
                                   "123456789012345678901234", "1000000000.5"])
def test_a_negative_or_non_finite_dwell_is_refused(export, tmp_path, value):
    error = refused(with_field(export, tmp_path, 3, "dwell", value), 3, "dwell")
    assert error.text == value and "a dwell is the seconds" in str(error)


def test_a_dwell_of_1e9_seconds_is_read():
    """The largest dwell FEEDBACK takes and the commands read, kept by the fast path and by the text check alike."""
    assert frames._reads_well("dwell", pd.Series([0.0, 1e9]))
    assert not frames._reads_well("dwell", pd.Series([0.0, 1e9 + 1]))


# How lines are counted, and which problem is named first.

def test_the_first_problem_in_file_order_is_named(export, tmp_path):
    path = with_field(export, tmp_path, 6, "item_id", "-1")
    path = with_field(path, tmp_path, 4, "dwell", "-3")
    refused(path, 4, "dwell")


def test_lines_are_file_lines_counting_blank_lines_and_line_breaks_in_quoted_fields(export, tmp_path):
    lines = lines_of(export)
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[1]]))
    fields[header.index("user_feature_2")] = "two\nlines"
    bad = next(csv.reader([lines[3]]))
    bad[header.index("item_id")] = "1.25"
    # Line 1 the header, 2-3 a row whose quoted field spans two lines, 4 blank, 5 a row, 6 the bad row.
    path = write(tmp_path, [lines[0], record(fields), "", lines[2], record(bad)] + lines[4:])
    refused(path, 6, "item_id")


def test_an_unbalanced_quote_and_an_empty_file_are_refused(export, tmp_path):
    lines = lines_of(export)
    lines[2] = lines[2].replace(",u0_", ',"u0_"x', 1)
    refused(write(tmp_path, lines), 3, None)
    refused(write(tmp_path, [], "empty.csv"), 1, None)


# An OBD file as read_export reads it (the affinity columns, a numeric timestamp).

def obd_copy(tmp_path, rows: int = 6):
    """The first ``rows`` rows of the OBD fixture ``random/men`` (an OBD-layout file with affinity columns; the
    checked-in fixture, not ``data/obd``, which only ``scripts/fetch-obd`` creates)."""
    lines = OBD_FIXTURE.read_text().split("\n")[: rows + 1]
    return write(tmp_path, lines, name="men.csv")


@pytest.mark.parametrize("value", ["nan", "inf", "abc", ""])
def test_an_affinity_that_is_not_a_finite_number_is_refused_as_the_commands_refuse_it(tmp_path, value):
    # It reached obp's context as NaN (or a bare ValueError naming no line); `recpool data describe` refuses it.
    path = with_field(obd_copy(tmp_path), tmp_path, 3, "user-item_affinity_0", value)
    error = refused(path, 3, "user-item_affinity_0")
    assert "is not a finite number" in str(error)


def test_numeric_timestamps_are_unix_seconds_and_clock_words_are_refused(tmp_path):
    # 1574553793 was read as nanoseconds (1970-01-01 00:00:01.57…); the commands read Unix seconds.
    lines = lines_of(obd_copy(tmp_path))
    header = next(csv.reader([lines[0]]))
    column = header.index("timestamp")
    numeric = []
    for k, line in enumerate(lines):
        fields = next(csv.reader([line]))
        if k > 0:
            fields[column] = str(1574553793 + k)
        numeric.append(record(fields))
    frame = frames.read_export(write(tmp_path, numeric, name="numeric.csv"))
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2019-11-24 00:03:14", tz="UTC")
    path = with_field(obd_copy(tmp_path), tmp_path, 4, "timestamp", "now")
    error = refused(path, 4, "timestamp")
    assert "word for the clock's time" in str(error)


def test_a_click_of_1_in_any_integer_spelling_reads_as_1_as_the_swift_loaders_read_it(export, tmp_path):
    line = find_line(export, "0")
    frame = frames.read_export(with_field(export, tmp_path, line, "click", "1e0"))
    assert frame["click"].iloc[line - 2] == 1


# As the CLI reads a file (`recpool data describe`): any field length, no NUL, at least one row; refusals typed.

def describe(path):
    """``recpool data describe`` of an OBD-layout copy (its item_context.csv beside it): ``(exit code, stderr)``."""
    (path.parent / "item_context.csv").write_text((OBD_FIXTURE.parent / "item_context.csv").read_text())
    run = subprocess.run([binary("recpool"), "data", "describe", str(path)], capture_output=True, text=True)
    return run.returncode, run.stderr


def test_a_field_longer_than_the_csv_modules_limit_is_read_and_the_limit_restored(tmp_path):
    # A user feature of 200,000 characters was refused as an "unbalanced quote" (csv's 131,072-character limit).
    before = csv.field_size_limit()
    long = "u" * 200_000
    frame = frames.read_export(with_field(obd_copy(tmp_path), tmp_path, 3, "user_feature_0", long))
    assert frame["user_feature_0"].iloc[1] == long and len(frame) == 6
    assert csv.field_size_limit() == before
    # A quote problem is still named as one.
    lines = lines_of(obd_copy(tmp_path))
    lines[2] = lines[2].replace(",", ',"x"y', 1)
    error = refused(write(tmp_path, lines, "quote.csv"), 3, None)
    assert "unbalanced quote" in str(error) and csv.field_size_limit() == before


@pytest.mark.parametrize("column", ["user_feature_1", "timestamp"])
def test_a_nul_character_is_refused_naming_its_line_and_column_as_the_cli_refuses_it(tmp_path, column):
    path = with_field(obd_copy(tmp_path), tmp_path, 4, column, "ab\x00cd")
    error = refused(path, 4, column)
    assert error.text == "ab\x00cd" and "holds a NUL character (U+0000)" in str(error)
    code, message = describe(path)
    assert code != 0 and "holds a NUL character (U+0000)" in message


def test_a_header_without_rows_is_refused_as_the_cli_refuses_it(tmp_path):
    # read_export returned an empty frame where `recpool data describe` says "no rows".
    header = lines_of(obd_copy(tmp_path))[0]
    for lines, line in [([header], 2), ([header, "", " "], 4)]:
        path = write(tmp_path, lines, "header.csv")
        error = refused(path, line, None)
        assert "no rows: the file has a header (line 1) and no data row" in str(error)
        code, message = describe(path)
        assert code != 0 and "no rows" in message


@pytest.mark.parametrize("path", [3, None, 2.5])
def test_something_that_is_no_path_is_refused_with_the_documented_type(path):
    # read_export(3) raised InvalidRequest, where PYTHON.md says a refusal is ExportFormatError (a ValueError).
    with pytest.raises(ExportFormatError) as caught:
        frames.read_export(path)
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, recpool.InvalidRequest)  # what it was, still
    assert str(error) == f"{path!r}: the export must be a file's path (str or os.PathLike), got {type(path).__name__}"
    assert error.line is None and error.column is None


def test_read_exports_docstring_says_which_spellings_are_whole_as_the_code_reads_them(export, tmp_path):
    # It said whole numbers are "never 3.5 or 3e0", while PYTHON.md, the code and the CLI read 3e0 as 3.
    doc = " ".join(frames.read_export.__doc__.split())
    sentence = doc[doc.index("Whole numbers may be written"):]
    sentence = sentence[:sentence.index(" (fractions)")]
    whole, never = sentence.split("; never ")
    whole_spellings = re.findall(r"``([^`]+)``", whole)
    never_spellings = re.findall(r"``([^`]+)``", never)
    assert "3e0" in whole_spellings and len(whole_spellings) >= 5 and never_spellings == ["3.5", "3.5e0"]
    line = find_line(export, "1")
    for spelling in whole_spellings:
        frame = frames.read_export(with_field(export, tmp_path, line, "item_id", spelling))
        assert frame["item_id"].iloc[line - 2] == 3, spelling
    for spelling in never_spellings:
        refused(with_field(export, tmp_path, line, "item_id", spelling), line, "item_id")
