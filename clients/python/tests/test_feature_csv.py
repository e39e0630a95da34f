"""``train(path)`` of a local feature-matrix CSV, with no pool: the client refuses before uploading what
``recpool train --dataset FILE.csv`` refuses before uploading (a job on it failed on the workers after the upload),
with the CLI's message, and uploads what the CLI uploads. Cross-checked against the CLI binary itself."""
import asyncio
import errno
import json
import re
import subprocess
import time

import numpy as np
import pytest

import recpool
from recpool import frames, operations as ops
from recpool.feature_csv import check_feature_csv, swift_float
from pools import binary
from test_checks import async_context_for_fakes, fake, silent  # noqa: F401  (fake is a fixture)

# (file name, content, the CLI's message, line, column): the CLI's refusals before any upload.
REFUSED = [
    ("nan.csv", b"f0,f1,label\n0.1,0.2,1\nnan,0.3,0\n", 'nan.csv:3:1: not a finite number: "nan"', 3, 1),
    ("inf.csv", b"f0,label\n-Infinity,1\n", 'inf.csv:2:1: not a finite number: "-Infinity"', 2, 1),
    ("label2.csv", b"f0,f1,label\n0.1,0.2,2.0\n", "label2.csv:2:3: label 2.0 is not in [0, 1]", 2, 3),
    ("negative.csv", b"f0,label\n1,1\n1,-1e-5\n", "negative.csv:3:2: label -1e-05 is not in [0, 1]", 3, 2),
    # Just past 1 as a 32-bit float: its 64-bit float is exactly halfway, so its exact decimal value decides.
    ("above.csv", b"f0,label\n1,1.0000000596046448\n", "above.csv:2:2: label 1.0000001 is not in [0, 1]", 2, 2),
    ("ragged.csv", b"f0,f1,label\n0.1,0.2,1\n0.1,0\n", "ragged.csv:3: row has 2 fields, expected 3", 3, None),
    ("text.csv", b"f0,f1,label\n0.1,x,1\n", 'text.csv:2:2: not a number: "x"', 2, 2),
    ("blank.csv", b"f0,label\n,1\n", 'blank.csv:2:1: not a number: ""', 2, 1),
    ("separators.csv", b"f0,label\n1_000,1\n", 'separators.csv:2:1: not a number: "1_000"', 2, 1),
    ("hex.csv", b"f0,label\n0x10,1\n", 'hex.csv:2:1: not a number: "0x10"', 2, 1),
    # A control character as the CLI writes it (a helper's case: a form feed printed raw).
    ("formfeed.csv", b"f0,label\n\x0c1,0\n", 'formfeed.csv:2:1: not a number: "\\u{C}1"', 2, 1),
    ("tab.csv", b"f0,label\n1\t2,0\n", 'tab.csv:2:1: not a number: "1\\t2"', 2, 1),
    ("only-label.csv", b"label\n1\n0\n", "only-label.csv has no rows or no feature columns: its only column is 'label'",
     None, None),
    ("no-rows.csv", b"f0,label\n", "no-rows.csv: no data rows", None, None),
    ("empty.csv", b"", "empty.csv: no data rows", None, None),
    ("big.csv", b"f0,label\n1e39,1\n",
     "big.csv:2:1: \"1e39\" is beyond a 32-bit float's range (\u00b13.4e38), which the model reads", 2, 1),
    ("under.csv", b"f0,label\n1e-400,1\n", 'under.csv:2:1: "1e-400" is nearer 0 than the smallest 64-bit float, '
     "which reads it as 0: write 0, or a number a 64-bit float holds", 2, 1),
    ("twice.csv", b"f0, f0 ,label\n1,2,1\n",
     "twice.csv: the header names column 'f0' twice (columns 1 and 2); rename or remove one", 1, None),
    ("quote.csv", b'f0,label\n1,"0.5\n2,1\n', 'quote.csv:2: unbalanced ": a quoted field is never closed, or a quote '
     'stands inside an unquoted field (quote the whole field and double the quote: "io""s")', 2, None),
    ("nul.csv", b"f0,label\r\n1,0\x00\r\n", "nul.csv:2:4: holds a NUL character (U+0000), which no CSV field may hold",
     2, 4),
    ("latin1.csv", b"f0,label\n\xe9,1\n", "latin1.csv:2: not UTF-8 text", 2, None),
    ("rows.csv", b"[[0.5, 1], [0.25, 0]]\n",
     "rows.csv: this is JSON, and this input is read as CSV only (comma-separated fields, one record per line)",
     None, None),
    # Lines as the CLI counts them: blank lines count, a quoted field's line breaks too, and a lone \r ends a line.
    ("lines.csv", b'"f\r\n0",label\r\n\r\n1,0\r2,x\n', 'lines.csv:5:2: not a number: "x"', 5, 2),
    # The first problem in file order, whatever its kind: a label before a value that is no number is named after it.
    ("order.csv", b"f0,label\n1,5\n1,x\n", 'order.csv:3:2: not a number: "x"', 3, 2),
    ("ragged-first.csv", b"f0,label\n1e-400,1\n1,2,3\n", "ragged-first.csv:3: row has 3 fields, expected 2", 3, None),
]

# Files the CLI uploads: each is sent as it is.
ACCEPTED = [
    ("spreadsheet.csv", b'\xef\xbb\xbff0,f1,label\r\n\r\n  1 ,"2.5",0.5\r\n \t\r\n.5,-0,1\r\n'),
    ("forms.csv", b"f0,label\n+.5,1e-46\n1.,-1e-46\n3.4028235e38,0\n1E+5,1.000000059604644775390625\n"),
    ("no-newline.csv", b"label,f0\n1,2"),
]


def cli_refusal(path):
    """What ``recpool train --dataset FILE`` says of a file before it connects (``None`` when it passes its checks
    and goes on to connect: to a port nobody listens on, in this suite's range)."""
    for attempt in range(50):
        try:
            run = subprocess.run([binary("recpool"), "train", "--dataset", path.name, "--broker",
                                  "tcp://127.0.0.1:43699", "--timeout-ms", "300"],
                                 cwd=path.parent, capture_output=True, text=True, timeout=60)
            break
        except OSError as error:  # the binary is being rebuilt ("Text file busy")
            if error.errno != errno.ETXTBSY or attempt == 49:
                raise
            time.sleep(0.2)
    message = run.stderr.split("recpool: ", 1)[-1].strip()
    return None if "timed out" in message else message


@pytest.mark.parametrize("name, content, message, line, column", REFUSED, ids=[case[0] for case in REFUSED])
def test_train_refuses_what_the_cli_refuses_before_anything_is_uploaded(fake, tmp_path, name, content, message,
                                                                        line, column):
    # Every one of these was uploaded; the job then failed on the workers (or, for some, never failed at all).
    path = tmp_path / name
    path.write_bytes(content)
    broker = fake(silent)
    with recpool.Client(broker.endpoint, timeout=2) as client:
        with pytest.raises(recpool.DatasetFormatError) as caught:
            client.train(path, epochs=1)
    assert broker.received == []
    error = caught.value
    assert isinstance(error, recpool.InvalidRequest)
    assert error.message == message.replace(name, str(path), 1)
    assert (error.path, error.line, error.column) == (str(path), line, column)
    with pytest.raises(recpool.DatasetFormatError) as relative:
        check_feature_csv(content, name)
    assert relative.value.message == message

    async_broker = fake(silent, async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(async_broker.endpoint, timeout=2) as aclient:
            with pytest.raises(recpool.DatasetFormatError) as refused:
                await aclient.train(str(path), epochs=1)
            return refused.value

    assert asyncio.run(main()).message == error.message
    assert async_broker.received == []


@pytest.mark.parametrize("name, content, message, line, column", REFUSED, ids=[case[0] for case in REFUSED])
def test_the_messages_are_the_clis_own(tmp_path, name, content, message, line, column):
    path = tmp_path / name
    path.write_bytes(content)
    assert cli_refusal(path) == message


@pytest.mark.parametrize("name, content", ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_a_file_the_cli_uploads_is_uploaded_as_it_is(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert cli_refusal(path) is None
    plan = ops.train(path, epochs=1)
    (upload,) = next(plan)
    assert json.loads(bytes(upload.payload[0]))["op"] == "upload" and bytes(upload.payload[1]) == content
    (submit,) = plan.send([{"complete": True}])
    assert json.loads(bytes(submit.payload[0]))["train"]["dataset"].startswith("sha256:")


def test_a_file_without_a_label_column_is_refused_naming_what_a_training_csv_holds(tmp_path):
    # The CLI says it cannot tell what the file holds (no label column, and not OBD's layout), before uploading.
    for header, hint in [("f0,f1", "a training CSV is a header, numeric feature columns and a label column"),
                         ("f0, label", 'but there is " label": remove the spaces around the name'),
                         ("f0,Label", 'but there is "Label": column names are matched exactly')]:
        path = tmp_path / "clicks.csv"
        path.write_text(f"{header}\n1,1\n")
        assert "cannot tell what clicks.csv holds" in cli_refusal(path)
        with pytest.raises(recpool.DatasetFormatError, match=re.escape(f'DatasetFormatError: {path}: no "label" '
                                                                       "column in the header") + ".*" + re.escape(hint)):
            next(ops.train(path))


def test_the_first_problem_of_a_long_file_is_named_by_its_line_past_the_first_rows():
    # Rows are checked in chunks: a problem far down the file is named by its own line, and the first one wins.
    rows = np.full((9000, 3), 0.5)
    lines = ["a,b,label"] + [",".join(map(str, row)) for row in rows]
    lines[7001] = "0.5,1e-400,0.5"
    lines[8500] = "0.5,x,0.5"
    with pytest.raises(recpool.DatasetFormatError, match=r"^DatasetFormatError: long.csv:7002:2: \"1e-400\" is nearer"):
        check_feature_csv("\n".join(lines).encode(), "long.csv")
    lines[7001] = "0.5,0.5,0.5"
    lines[4200] = "0.5,0.5,3"
    with pytest.raises(recpool.DatasetFormatError, match=r'long.csv:8501:2: not a number: "x"'):
        check_feature_csv("\n".join(lines).encode(), "long.csv")
    lines[8500] = "0.5,0.5,0.5"
    with pytest.raises(recpool.DatasetFormatError, match=r"long.csv:4201:3: label 3.0 is not in \[0, 1\]") as caught:
        check_feature_csv("\n".join(lines).encode(), "long.csv")
    assert (caught.value.column_name, caught.value.text) == ("label", "3")
    lines[4200] = "0.5,0.5,1"
    check_feature_csv("\n".join(lines).encode(), "long.csv")


def test_labels_are_written_as_the_cli_writes_a_32_bit_float():
    assert [swift_float(v) for v in (2, -0.5, 100, 1e7, 16777216, 1e8, -1e-5, -0.0001, 3e38, -1e-45, 1.0000001)] == [
        "2.0", "-0.5", "100.0", "10000000.0", "16777216.0", "1e+08", "-1e-05", "-0.0001", "3e+38", "-1e-45",
        "1.0000001"]


def test_logs_read_with_a_schema_and_dataset_names_are_left_to_the_broker(tmp_path):
    # A shop's log holds text (a device, a user); it is no feature matrix and is uploaded as it is.
    (tmp_path / "logs.csv").write_text("ts,sku,slot,clicked,p,device\n1,0,0,1,0.5,ios\n2,1,1,0,0.5,web\n")
    (tmp_path / "items.csv").write_text("sku,price\n0,1.5\n1,2.5\n")
    (tmp_path / "shop.toml").write_text('[logs]\ntimestamp = "ts"\nitem = "sku"\nposition = "slot"\nclick = "clicked"'
                                        '\npropensity = "p"\n[logs.user_features]\ndevice = "categorical"\n'
                                        '[catalogue]\nfile = "items.csv"\nitem = "sku"\n')
    (upload,) = next(ops.train(tmp_path / "logs.csv", tmp_path / "shop.toml"))
    assert json.loads(bytes(upload.payload[0]))["op"] == "upload"
    for name in ("synthetic:users=100", "obd:random/all", "sha256:" + "ab" * 32):
        (submit,) = next(ops.train(name))
        assert json.loads(bytes(submit.payload[0]))["train"]["dataset"] == name


def test_a_dataframe_with_only_a_label_column_is_refused_and_numeric_text_is_still_converted():
    import pandas as pd

    # The job failed on the workers: "no feature columns".
    only = pd.DataFrame({"label": [0.0, 1.0]})
    with pytest.raises(ValueError, match="the frame has no feature columns: its only column is 'label'"):
        frames.csv_bytes(only)
    with pytest.raises(recpool.InvalidRequest, match="the frame has no feature columns"):
        next(ops.train(only))
    text = pd.DataFrame({"x": ["0.5", "2"], "label": ["1", "0"]})
    assert frames.csv_bytes(text) == b"x,label\n0.5,1.0\n2.0,0.0\n"
    (upload,) = next(ops.train(text))
    assert json.loads(bytes(upload.payload[0]))["op"] == "upload"
