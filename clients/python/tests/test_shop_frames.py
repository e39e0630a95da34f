"""The impression log of a shop's own catalogue and feature names as pandas frames: no pool needed, the
``(rows, spec)`` pair ``Client.impressions()`` returns is built here."""
import numpy as np
import pandas as pd
import pytest

from recpool import frames


def shop_log(n_items, impressions=4):
    """A log over ``n_items`` items whose user features are a shop's ``device`` and ``age``."""
    spec = {"user_features": [{"name": "device", "kind": "categorical"}, {"name": "age", "kind": "numeric"}],
            "item_features": [[0.0]] * n_items}
    rows = []
    for k in range(impressions):
        rows.append({
            "record": {"impression_id": f"imp-{k}", "created_ms": 1_700_000_000_000 + k, "version": 1,
                       "slate": [k % n_items, (k + 1) % n_items], "propensities": [0.5, 0.25],
                       "user_features": {"device": ["ios", "web"][k % 2], "age": str(20 + k)},
                       "viewed": [{"item": 1, "seconds": 12.5}] if k % 2 else []},
            "clicks": {str(k % n_items): 1, str((k + 1) % n_items): 0},
        })
    return rows, spec


def test_a_shops_feature_names_are_its_user_features():
    log = frames.impressions_frame(shop_log(20))
    assert {"device", "age", "viewed"} <= set(log.columns)
    assert {"user-item_affinity_0", "user-item_affinity_19"} <= set(log.columns)
    assert log.loc[log["impression_id"] == "imp-1", "viewed"].tolist() == ["1:12.5", "1:12.5"]
    feedback = frames.bandit_feedback(log, n_actions=20)
    # device (ios, web) and age (20…23) one-hot, then 20 affinity columns.
    assert feedback["context"].shape == (8, 2 + 4 + 20)
    table = frames.training_frame(log, n_actions=20)
    assert {"device=ios", "device=web", "age=20"} <= set(table.columns)


def test_bandit_feedback_is_in_time_order_as_recpools_off_policy_arrays_are():
    # Two workers' impressions reach the log a millisecond out of serving order: the rounds are sorted by time,
    # ties kept in log order, so an action_dist in recpool's order lines up with them.
    rows, spec = shop_log(20, impressions=4)
    rows[1]["record"]["created_ms"], rows[2]["record"]["created_ms"] = rows[2]["record"]["created_ms"], rows[1]["record"]["created_ms"]
    rows[3]["record"]["created_ms"] = rows[0]["record"]["created_ms"]
    feedback = frames.bandit_feedback(frames.impressions_frame((rows, spec)), n_actions=20)
    # Impressions in time order: 0 and 3 (a tie, log order), then 2, then 1; two slots each.
    assert feedback["action"].tolist() == [0, 1, 3, 4, 2, 3, 1, 2]
    assert feedback["position"].tolist() == [0, 1] * 4
    stamps = pd.to_datetime(pd.Series(feedback["timestamp"]), utc=True)
    assert stamps.is_monotonic_increasing


def test_a_large_catalogue_gets_no_column_per_item_by_default():
    log = frames.impressions_frame(shop_log(100_000))
    assert not any(str(c).startswith("user-item_affinity_") for c in log.columns)
    assert log.shape[1] < 20
    with pytest.raises(ValueError, match="pass item_context"):
        frames.bandit_feedback(log, n_actions=100_000)
    items = pd.DataFrame({"item_id": np.arange(100_000), "item_feature_0": np.linspace(0, 1, 100_000)})
    feedback = frames.bandit_feedback(log, n_actions=100_000, item_context=items)
    assert feedback["context"].shape == (8, 6) and feedback["action_context"].shape == (100_000, 1)
    wide = frames.impressions_frame(shop_log(1_500), affinity_columns=True)
    assert "user-item_affinity_1499" in wide.columns


def test_read_export_keeps_a_shops_features_as_text(tmp_path):
    path = tmp_path / "impressions.csv"
    path.write_text(
        ",timestamp,item_id,position,click,observed,dwell,propensity_score,impression_id,policy_version,viewed,score,"
        "retrieval,device,age\n"
        "0,2024-05-01 10:00:00.000000+00:00,3,1,1,1,,0.5,i1,1,,0.1,,ios,007\n"
        "1,2024-05-01 10:00:00.000000+00:00,4,2,,0,,0.5,i1,1,3:12,0.1,,,\n")
    log = frames.read_export(path)
    assert log["device"].tolist() == ["ios", ""] and log["age"].tolist() == ["007", ""]
    assert log["viewed"].tolist() == ["", "3:12"]
    assert frames.bandit_feedback(log, n_actions=5)["context"].shape == (1, 2)


def test_a_pool_without_user_features_has_a_context_of_its_history_only():
    log = frames.impressions_frame(shop_log(5)).drop(columns=["device", "age"])
    assert frames.bandit_feedback(log, n_actions=5)["context"].shape == (8, 5)
    assert list(frames.training_frame(log, n_actions=5).columns)[:2] == ["item=0", "item=1"]


def test_viewed_dwell_is_written_as_the_export_writes_it_never_rounded():
    # The export writes each dwell as the shortest text of its double (Swift's description); `:g` rounded
    # 1234567 to 1.23457e+06 and 12.345678 to 12.3457.
    rows, spec = shop_log(20, impressions=2)
    rows[1]["record"]["viewed"] = [{"item": 1, "seconds": 1234567.0}, {"item": 2, "seconds": 12.345678},
                                   {"item": 3, "seconds": 30}]
    log = frames.impressions_frame((rows, spec))
    assert log.loc[log["impression_id"] == "imp-1", "viewed"].tolist()[0] == "1:1234567.0;2:12.345678;3:30.0"


def test_a_user_feature_named_like_a_logged_column_is_refused_as_the_export_refuses_it():
    """It overwrote the logged column (two `timestamp` columns holding the user's value; pandas then refused them)."""
    rows, spec = shop_log(20)
    for name in ("timestamp", "viewed", "score", "retrieval"):
        named = {**spec, "user_features": [{"name": name, "kind": "categorical"}]}
        with pytest.raises(ValueError, match=f"user feature '{name}' has the name of an exported column"):
            frames.impressions_frame((rows, named))


def test_impressions_beyond_the_served_catalogue_are_left_out_and_counted_as_the_export_does():
    """After a restart onto an earlier catalogue version, the frame kept impressions of items the served catalogue
    does not have (and then bandit_feedback refused the frame); `recpool logs export` leaves them out and counts them."""
    rows, spec = shop_log(20, impressions=6)
    rows[2]["record"]["slate"] = [21, 3]               # shows an item the 20-item catalogue does not have
    rows[4]["record"]["viewed"] = [{"item": 25, "seconds": 30.0}]   # names one
    log = frames.impressions_frame((rows, spec))
    assert log.attrs["skipped_impressions"] == 2
    assert set(log["impression_id"]) == {"imp-0", "imp-1", "imp-3", "imp-5"}
    assert frames.bandit_feedback(log, n_actions=20)["n_rounds"] == 8


def test_a_feature_name_in_either_unicode_spelling_is_one_column_as_the_export_writes_it():
    """A request that spelt `Âge` decomposed (`A` and a combining circumflex) is the same feature to the broker, which
    logs the request's spelling; the frame held two byte-different `Âge` columns, the row blank under the declared one."""
    import unicodedata
    composed = unicodedata.normalize("NFC", "Âge")
    decomposed = unicodedata.normalize("NFD", "Âge")
    assert composed != decomposed
    rows, spec = shop_log(20, impressions=2)
    spec = {**spec, "user_features": [{"name": "device", "kind": "categorical"}, {"name": composed, "kind": "numeric"}]}
    rows[0]["record"]["user_features"] = {"device": "ios", composed: "30"}
    rows[1]["record"]["user_features"] = {"device": "web", decomposed: "3.5"}
    log = frames.impressions_frame((rows, spec))
    assert [c for c in log.columns if unicodedata.normalize("NFC", str(c)) == composed] == [composed]
    assert log[composed].tolist() == ["30", "30", "3.5", "3.5"]
    # Without a declared name, the NFC spelling is the column's.
    undeclared = {**spec, "user_features": [{"name": "device", "kind": "categorical"}]}
    log = frames.impressions_frame((rows, undeclared))
    assert [c for c in log.columns if unicodedata.normalize("NFC", str(c)) == composed] == [composed]


@pytest.mark.parametrize("value", ["yes", 1, 0, "False"])
def test_affinity_columns_must_be_a_bool(value):
    # "yes" (and "False") turned the columns on, as any truthy value did.
    import recpool

    with pytest.raises(recpool.InvalidRequest, match=f"affinity_columns must be True or False, got {value!r}"):
        frames.impressions_frame(shop_log(20), affinity_columns=value)
    assert not any(str(c).startswith("user-item_affinity_")
                   for c in frames.impressions_frame(shop_log(20), affinity_columns=False).columns)
    assert "user-item_affinity_19" in frames.impressions_frame(shop_log(20), affinity_columns=np.True_).columns


def test_n_actions_defaults_to_the_catalogues_item_count_not_the_highest_item_with_feedback():
    # Without n_actions, the dictionary took one past the highest item that got feedback (38 of a 40-item catalogue):
    # n_actions 38 and action_context 38 × 38, while context held 40 affinity columns.
    log = frames.impressions_frame(shop_log(40))  # feedback on items 0…4 only
    assert log.attrs["catalogue_items"] == 40 and int(log["item_id"].max()) == 4
    feedback = frames.bandit_feedback(log)
    assert feedback["n_actions"] == 40 and feedback["action_context"].shape == (40, 40)
    assert feedback["context"].shape == (8, 2 + 4 + 40)
    assert [c for c in frames.training_frame(log).columns if c.startswith("item=")] == [f"item={k}" for k in range(40)]
    # The affinity columns alone say it (an export or OBD file read back has no attrs), and the attrs alone too.
    bare = log.copy()
    bare.attrs.clear()
    assert frames.bandit_feedback(bare)["n_actions"] == 40
    no_columns = frames.impressions_frame(shop_log(40), affinity_columns=False)
    assert frames.bandit_feedback(no_columns)["n_actions"] == 40
    items = pd.DataFrame({"item_id": np.arange(40), "item_feature_0": np.linspace(0, 1, 40)})
    no_columns.attrs.clear()
    fed = frames.bandit_feedback(no_columns, item_context=items)
    assert fed["n_actions"] == 40 and fed["action_context"].shape[0] == 40
    # Nothing says it: refused, naming what to pass; sources that disagree are refused too; a given n_actions counts.
    with pytest.raises(ValueError, match=r"n_actions is not given and the frame does not say how many items .* pass "
                                         r"n_actions, .*the highest item with feedback is 4"):
        frames.bandit_feedback(no_columns)
    with pytest.raises(ValueError, match="n_actions is not given"):
        frames.training_frame(no_columns)
    with pytest.raises(ValueError, match=r"the catalogue's item count is ambiguous \(.*40 items, item_context's 30 rows: "
                                         r"30 items\): pass n_actions"):
        frames.bandit_feedback(log, item_context=items.iloc[:30])
    assert frames.bandit_feedback(no_columns, n_actions=5)["n_actions"] == 5
