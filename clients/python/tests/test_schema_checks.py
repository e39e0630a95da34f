"""What the client checks before uploading a shop's log with a schema, and the events it refuses, with no pool:
the ``train`` and ``recommend`` generators raise before their first request."""

import re

import pytest

import recpool
from recpool import operations as ops

SCHEMA = """
[logs]
timestamp = "ts"
item = "sku"
position = "slot"
click = "clicked"
propensity = "p"
[logs.user_features]
device = "categorical"
[catalogue]
file = "items.csv"
item = "sku"
[catalogue.item_features]
price = "numeric"
"""


@pytest.fixture()
def shop(tmp_path):
    (tmp_path / "logs.csv").write_text("ts,sku,slot,clicked,p,device\n1,0,0,1,0.5,ios\n2,1,1,0,0.5,web\n")
    (tmp_path / "items.csv").write_text("sku,price\n0,1.5\n1,2.5\n")
    (tmp_path / "shop.toml").write_text(SCHEMA)
    return tmp_path


def first_request(generator):
    """Runs a client generator up to its first request (what it would send)."""
    return next(generator)


def test_a_good_schema_goes_on_to_the_upload(shop):
    requests = first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))
    assert requests  # the log's first upload chunk: nothing was refused


@pytest.mark.parametrize("edit, message", [
    (('propensity = "p"', 'propensity = "prob"'),
     'the schema\'s [logs] propensity = "prob": no "prob" column in the header of {logs}'),
    (('device = "categorical"', 'devise = "categorical"'),
     'the schema\'s [logs] user_features.devise: no "devise" column in the header of {logs}'),
    (('price = "numeric"', 'cost = "numeric"'),
     'the schema\'s [catalogue] item_features.cost: no "cost" column in the header of {items}'),
    (('file = "items.csv"', 'file = "missing.csv"'),
     "the schema's [catalogue] file {folder}/missing.csv does not exist"),
    (('item = "sku"\n[catalogue.item_features]', 'item = "sku"\nactive = "on"\n[catalogue.item_features]'),
     'the schema\'s [catalogue] active = "on": no "on" column in the header of {items}'),
    (('click = "clicked"', 'click = "clicked"\nobserved = "seen"'),
     'the schema\'s [logs] observed = "seen": no "seen" column in the header of {logs}'),
])
def test_a_schema_naming_a_column_or_file_that_is_not_there_is_refused_before_uploading(shop, edit, message):
    (shop / "shop.toml").write_text(SCHEMA.replace(*edit))
    with pytest.raises(recpool.InvalidRequest) as caught:
        first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))
    expected = message.format(logs=shop / "logs.csv", items=shop / "items.csv", folder=shop)
    assert expected in str(caught.value), str(caught.value)


@pytest.mark.parametrize("name", ["logs.csv", "items.csv"])
def test_a_byte_order_mark_before_the_header_is_read_as_the_broker_reads_it(shop, name):
    # Spreadsheet exports start with U+FEFF and end lines with CRLF; the broker's reader drops the mark.
    path = shop / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_text().replace("\n", "\r\n").encode())
    requests = first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))
    assert requests


def test_a_column_name_with_spaces_around_it_is_named_as_the_broker_names_it(shop):
    # The broker matches names exactly and refuses " p" for "p": the client must not pass it by stripping.
    (shop / "logs.csv").write_text("ts,sku,slot,clicked, p ,device\n1,0,0,1,0.5,ios\n")
    with pytest.raises(recpool.InvalidRequest) as caught:
        first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))
    assert (f'the schema\'s [logs] propensity = "p": no "p" column in the header of {shop / "logs.csv"}, '
            f'but there is " p ": remove the spaces around the name') in str(caught.value), str(caught.value)


def test_a_column_name_in_another_case_is_named_as_the_broker_names_it(shop):
    (shop / "logs.csv").write_text("ts,sku,slot,clicked,P,device\n1,0,0,1,0.5,ios\n")
    with pytest.raises(recpool.InvalidRequest) as caught:
        first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))
    assert (f'the schema\'s [logs] propensity = "p": no "p" column in the header of {shop / "logs.csv"}, '
            f'but there is "P": column names are matched exactly, case included') in str(caught.value), str(caught.value)


def test_a_schema_that_is_not_toml_is_refused_naming_the_file(shop):
    (shop / "shop.toml").write_text("[logs\n")
    with pytest.raises(recpool.InvalidRequest, match=f"the schema {shop / 'shop.toml'} is not valid TOML"):
        first_request(ops.train(shop / "logs.csv", shop / "shop.toml"))


def test_a_schema_path_that_names_no_file_says_so_not_that_it_is_not_toml(shop, tmp_path):
    # A helper's case: train("export/impressions.csv", "export/schema.tom") said the path "is not valid TOML".
    for missing in [str(shop / "shop.tom"), "export/schema.tom", "nope.toml"]:
        with pytest.raises(recpool.InvalidRequest, match=f"the schema {re.escape(missing)} names no file"):
            first_request(ops.train(shop / "logs.csv", missing))
    with pytest.raises(recpool.InvalidRequest, match="is a folder"):
        first_request(ops.train(shop / "logs.csv", str(tmp_path)))
    with pytest.raises(recpool.InvalidRequest, match="/dev/null is not a regular file"):
        first_request(ops.train(shop / "logs.csv", "/dev/null"))
    # TOML text is still read as text.
    with pytest.raises(recpool.InvalidRequest, match=r"\[catalogue\] names no file"):
        first_request(ops.train(shop / "logs.csv", 'x = "y"'))


@pytest.mark.parametrize("event, message", [
    (("SKU-1", 30), "event ('SKU-1', 30): the item must be an integer item id, got 'SKU-1'"),
    ((1.5, 30), "event (1.5, 30): the item must be an integer item id, got 1.5"),
    ((1, "long"), "event (1, 'long'): dwell_seconds must be a number, got 'long'"),
])
def test_an_event_that_is_not_an_item_id_and_seconds_is_invalid_request_naming_it(event, message):
    with pytest.raises(recpool.InvalidRequest) as caught:
        first_request(ops.recommend({}, events=[event]))
    assert str(caught.value) == f"InvalidRequest: {message}"
    assert ops._recommend_document({}, [(3, 2)], 5, None)["events"] == [{"item": 3, "seconds": 2.0}]
