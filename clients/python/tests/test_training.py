"""CONTROL: upload, train and follow, jobs, models, promote, rollback, fetch, on a pool of its own."""
import numpy as np
import pytest

import recpool
from pools import LocalPool, wait_for

WIDTH = 8


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    local = LocalPool(tmp_path_factory.mktemp("train-state"), "--input-width", str(WIDTH), workers=2)
    with recpool.Client(local.frontend, timeout=10) as c:
        yield c
    local.stop()


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    rng = np.random.default_rng(11)
    x = rng.random((600, WIDTH))
    label = (x[:, 0] + x[:, 1] > 1.0).astype(int)
    path = tmp_path_factory.mktemp("data") / "train.csv"
    header = ",".join([f"x{j}" for j in range(WIDTH)] + ["label"])
    np.savetxt(path, np.column_stack([x, label]), delimiter=",", header=header, comments="", fmt="%.6f")
    return path


def test_upload_returns_the_sha256_dataset_name_and_is_idempotent(trainer, csv_path):
    import hashlib

    name = trainer.upload(csv_path)
    assert name == "sha256:" + hashlib.sha256(csv_path.read_bytes()).hexdigest()
    assert trainer.upload(csv_path) == name


def test_the_cli_trains_on_the_name_the_python_client_uploaded(trainer, csv_path):
    # Python's train took `sha256:<hex>` from upload(); `recpool train --dataset` read it as a missing file.
    import subprocess
    from pools import binary

    name = trainer.upload(csv_path)
    run = subprocess.run([binary("recpool"), "train", "--broker", trainer.endpoint, "--dataset", name, "--epochs", "1",
                          "--workers", "1", "--follow", "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert '"state":"completed"' in run.stdout.splitlines()[-1], run.stdout


def test_an_upload_in_many_chunks_arrives_whole(trainer, csv_path):
    from recpool import operations as ops

    data = csv_path.read_bytes()
    name = trainer._drive(ops.upload_bytes(data, "chunked.csv", chunk_bytes=4096))
    assert name == trainer.upload(csv_path)


def test_train_on_a_csv_follows_the_job_to_a_registered_promoted_model(trainer, csv_path):
    job = trainer.train(csv_path, epochs=2, batch=32, workers=2, sync_every=10, seed=3, promote=True)
    assert job.document["state"] in ("queued", "running") and job.id.startswith("job-")
    progress = list(job.follow(interval=0.1))
    assert progress[-1]["state"] == "completed" and progress[-1]["model_version"] >= 1
    rounds = [p["round"] for p in progress]
    assert rounds == sorted(rounds) and rounds[-1] == progress[-1]["total_rounds"]
    version = progress[-1]["model_version"]
    assert any(j["job"] == job.id for j in trainer.jobs())
    assert trainer.job(job.id)["rounds"]
    model = next(m for m in trainer.models() if m["version"] == version)
    assert model["promoted"] and model["job"] == job.id
    served = wait_for(lambda: trainer.score(np.zeros((1, WIDTH), np.float32), min_version=version),
                      what="the trained version to serve")
    assert served.model_version == version
    document, checkpoint = trainer.fetch(version)
    assert document["version"] == version and checkpoint


def test_promote_and_rollback_move_the_served_version(trainer, csv_path):
    first = trainer.train(csv_path, epochs=1, seed=4, promote=True).wait(interval=0.1)["model_version"]
    second = trainer.train(csv_path, epochs=1, seed=5).wait(interval=0.1)["model_version"]
    assert second > first
    assert trainer.promote(second)["version"] == second
    assert wait_for(lambda: trainer.score(np.zeros((1, WIDTH), np.float32), min_version=second)).model_version == second
    assert trainer.rollback()["version"] == first
    assert trainer.score(np.zeros((1, WIDTH), np.float32), exact_version=first).model_version == first


def test_a_job_on_a_dataset_never_uploaded_is_not_found(trainer):
    with pytest.raises(recpool.NotFound, match="0" * 64):
        trainer.train("sha256:" + "0" * 64, epochs=1)


def test_a_job_whose_dataset_cannot_be_read_fails_and_follow_raises_job_failed(trainer, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text("x0,label\nnot-a-number,1\n")
    # train(path) refuses such a file before uploading it, as `recpool train` does; uploaded as bytes, a job on it
    # fails on the workers.
    with pytest.raises(recpool.DatasetFormatError, match='broken.csv:2:1: not a number: "not-a-number"'):
        trainer.train(broken, epochs=1)
    job = trainer.train(trainer.upload(broken), epochs=1)
    with pytest.raises(recpool.JobFailed) as caught:
        for _ in job.follow(interval=0.1):
            pass
    assert caught.value.job["state"] == "failed" and caught.value.job["error"]


def test_feedback_is_unhealthy_without_an_online_policy(trainer):
    assert trainer.health("SCORE") and not trainer.health("FEEDBACK")


def test_unknown_jobs_and_versions_are_not_found(trainer):
    with pytest.raises(recpool.NotFound, match="job-999"):
        trainer.job("job-999")
    with pytest.raises(recpool.NotFound, match="999"):
        trainer.promote(999)


def test_an_invalid_job_spec_is_a_bad_request_naming_the_field(trainer):
    with pytest.raises(recpool.BadRequest, match="epochs"):
        trainer.train("obd:random/all", epochs=0)


def test_a_declared_schema_is_sent_in_the_train_request():
    from recpool import operations as ops

    spec = ops.train_spec("sha256:ab", schema={"features": [{"name": "x0", "type": "float"}]})
    assert spec["schema"] == {"features": [{"name": "x0", "type": "float"}]}
    assert "schema" not in ops.train_spec("sha256:ab") and ops.train_spec("sha256:ab")["hidden"] is None


def test_the_async_client_trains_and_follows(trainer, csv_path):
    import asyncio

    async def main():
        async with recpool.AsyncClient(trainer.endpoint, timeout=10) as c:
            name = await c.upload(csv_path)
            job = await c.train(name, epochs=1, seed=6)
            states = [j["state"] async for j in job.follow(interval=0.1)]
            return states, await c.jobs(), await c.models()

    states, jobs, models = asyncio.run(main())
    assert states[-1] == "completed" and jobs and models


def test_train_takes_a_dataframe_with_a_label_column(trainer):
    import pandas as pd

    rng = np.random.default_rng(12)
    frame = pd.DataFrame(rng.random((200, WIDTH)), columns=[f"x{j}" for j in range(WIDTH)])
    frame["label"] = (frame["x0"] > 0.5).astype(int)
    final = trainer.train(frame, epochs=1, seed=8).wait(interval=0.1)
    assert final["state"] == "completed" and final["spec"]["dataset"].startswith("sha256:")
    with pytest.raises(recpool.InvalidRequest, match="label"):
        trainer.train(frame.drop(columns=["label"]))


SHOP_SCHEMA = """
[logs]
timestamp = "ts"
item = "sku"
position = "slot"
click = "clicked"
propensity = "p"
user = "visitor"
[logs.user_features]
device = "categorical"
age = "numeric"
[catalogue]
file = "items.csv"
item = "sku"
[catalogue.item_features]
price = "numeric"
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A shop's impression log (400 rows over 6 items, newest first), its catalogue and its schema."""
    folder = tmp_path_factory.mktemp("shop")
    rng = np.random.default_rng(5)
    lines = ["ts,sku,slot,clicked,p,visitor,device,age"]
    for t in reversed(range(400)):
        device = ["ios", "android", "web"][t % 3]
        sku = int(rng.integers(6))
        clicked = int(rng.random() < (0.3 if (device == "ios" and sku < 2) else 0.05))
        lines.append(f"{10_000 + t},{sku},{t % 2},{clicked},{1 / 6:.6f},u{t % 25},{device},{18 + t % 50}")
    (folder / "logs.csv").write_text("\n".join(lines) + "\n")
    (folder / "items.csv").write_text("sku,price\n" + "".join(f"{i},{5 + 2 * i}\n" for i in range(6)))
    (folder / "shop.toml").write_text(SHOP_SCHEMA)
    return folder


def test_train_with_a_schema_uploads_log_and_catalogue_and_the_promoted_model_recommends(trainer, shop):
    import hashlib

    job = trainer.train(shop / "logs.csv", shop / "shop.toml", epochs=2, batch=16, workers=2, sync_every=10,
                        seed=4, promote=True)
    spec = job.document["spec"]
    assert spec["schema"] == SHOP_SCHEMA
    assert spec["catalogue"] == "sha256:" + hashlib.sha256((shop / "items.csv").read_bytes()).hexdigest()
    assert spec["dataset"] == "sha256:" + hashlib.sha256((shop / "logs.csv").read_bytes()).hexdigest()
    final = list(job.follow(interval=0.1))[-1]
    assert final["state"] == "completed", final
    version = final["model_version"]
    assert final["metrics"]["val_rows"] == 40  # 400 rows split by time: 240 train, 40 validation, 120 test
    rounds = trainer.job(job.id)["rounds"]
    assert rounds[-1]["metrics"] == final["metrics"]  # the job's final metrics are its last round's
    slate = wait_for(lambda: trainer.recommend({"device": "ios", "age": "30"}, events=[(1, 30.0)], top=3,
                                               min_version=version),
                     what="the trained version to recommend")
    assert slate.model_version == version and len(slate.items) == 3


def test_a_schema_text_without_a_catalogue_file_is_refused_before_anything_is_sent(trainer, shop):
    with pytest.raises(recpool.InvalidRequest, match="catalogue"):
        trainer.train(shop / "logs.csv", "[logs]\ntimestamp = 'ts'\n")


def test_a_worker_error_about_an_uploaded_log_names_the_uploaded_file(trainer, shop, tmp_path):
    # Columns all present (the client's check passes); a propensity that is not a number only a worker finds.
    lines = (shop / "logs.csv").read_text().splitlines()
    fields = lines[5].split(",")
    fields[4] = "often"
    lines[5] = ",".join(fields)
    (tmp_path / "odd-logs.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "items.csv").write_bytes((shop / "items.csv").read_bytes())
    (tmp_path / "shop.toml").write_text(SHOP_SCHEMA)
    job = trainer.train(tmp_path / "odd-logs.csv", tmp_path / "shop.toml", epochs=1, batch=16, workers=1)
    sha = job.document["spec"]["dataset"]
    with pytest.raises(recpool.JobFailed) as caught:
        list(job.follow(interval=0.1))
    assert f"{sha} (odd-logs.csv)" in str(caught.value), str(caught.value)
