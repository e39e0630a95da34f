"""Replies checked against the request they answer, and arguments the client refuses before sending, with no
pool: each case was once returned as an answer (or sent) without a word."""
import json

import numpy as np
import pytest

import recpool
from recpool import control_plane, operations as ops, wire
from test_checks import ROWS, answer_to, fake, reply, scores_for  # noqa: F401  (fake is a fixture)


def finish(generator, *results):
    """Runs an operations generator, sending it ``results`` (one list of call results per step); returns its value."""
    next(generator)
    try:
        for step in results:
            generator.send(step)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the generator wanted more steps")


# ---------------------------------------------------------------- version pins

def score_reply(version: int, rows: int = 2) -> ops.Reply:
    return reply(wire.Command.SCORE, [scores_for([bytes(wire.tensor_frame(np.zeros((rows, 1), np.float32)))])],
                 model_version=version)


@pytest.mark.parametrize("pin, served, problem", [
    ((5, 0), 4, "names model version 4; the request asked for version 5 or newer"),
    ((5, wire.FLAG_EXACT_VERSION), 6, "names model version 6; the request was pinned to exactly version 5"),
    ((5, wire.FLAG_EXACT_VERSION), 0, "names model version 0; the request was pinned to exactly version 5"),
])
def test_a_score_from_a_version_the_pin_excludes_is_a_protocol_violation(pin, served, problem):
    call = ops.score_call(ROWS, pin, None, None)
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        call.parse(score_reply(served))
    values, header = call.parse(score_reply(5))
    assert header.model_version == 5 and values.tolist() == [0.5, 0.5]
    assert ops.score_call(ROWS, (5, 0), None, None).parse(score_reply(7))[1].model_version == 7


def test_a_score_answered_under_the_wrong_version_is_not_returned_by_the_client(fake):
    def answer(header, frames):
        if header is None:
            return []
        return [answer_to(header, scores_for(frames), model_version=header.model_version - 1)]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.ProtocolViolation, match="names model version 2; the request asked for version 3"):
            client.score(ROWS, min_version=3)


# ---------------------------------------------------------------- RECOMMEND

def slate_reply(document: dict, version: int = 1) -> ops.Reply:
    return reply(wire.Command.RECOMMEND, [json.dumps(document).encode()], model_version=version)


def ranking(*items, version=1, source="model"):
    return {"items": [{"item": item, "score": 0.5} for item in items], "source": source, "model_version": version}


def policy_slate(*items, version=1, positions=None):
    positions = positions if positions is not None else range(len(items))
    return {"impression_id": "imp-1", "source": "policy", "model_version": version, "exploration": None,
            "items": [{"item": item, "position": slot, "score": 0.5, "propensity": 0.5}
                      for item, slot in zip(items, positions)]}


@pytest.mark.parametrize("request_arguments, document, version, problem", [
    ({}, {"items": [], "model_version": 1}, 1, "has source None, not one of model, cold_start_fallback, policy"),
    ({}, ranking(3, source="ranked"), 1, "has source 'ranked'"),
    ({}, {"items": [], "source": "model"}, 1, "names model_version None in its document and 1 in its header"),
    ({}, ranking(3, version=2), 1, "names model_version 2 in its document and 1 in its header"),
    ({}, ranking(3, 4, 3), 1, r"repeats an item: \[3, 4, 3\]"),
    ({}, {**ranking(3, 4), "items": [{"item": 3, "score": 0.2}, {"item": 4, "score": 0.7}]}, 1,
     r"is a model ranking that is not best first: scores \[0.2, 0.7\]"),
    ({}, {**ranking(3, 4), "items": [{"item": 3, "score": 1.5}, {"item": 4, "score": 0.7}]}, 1,
     r"is a model ranking with a score outside \[0, 1\]: \[1.5, 0.7\]"),
    ({}, {**ranking(3, source="cold_start_fallback"), "items": [{"item": 3, "score": -0.25}]}, 1,
     r"is a cold_start_fallback ranking with a score outside \[0, 1\]"),
    ({"top": 2}, ranking(3, 4, 5), 1, "holds 3 items; the request asked for top 2"),
    ({"candidates": [3, 4]}, ranking(3, 9), 1, "holds item 9, which is not among the candidates"),
    ({"events": [(4, 30.0)], "exclude_viewed": True}, ranking(3, 4), 1,
     "holds viewed item 4 although the request asked for exclude_viewed"),
    ({"min_version": 2}, ranking(3, version=1), 1, "names model version 1; the request asked for version 2"),
    ({"exact_version": 2}, ranking(3, version=3), 3, "pinned to exactly version 2"),
    ({}, policy_slate(3, 4, positions=[0, 0]), 1, "malformed item in slot 1"),
    ({}, {**policy_slate(3), "items": [{"item": 3, "id": 3, "position": 0, "score": 0.5, "propensity": 0.5}]}, 1,
     "malformed item in slot 0"),
    ({}, {**policy_slate(3), "items": [{"item": 3, "id": "", "position": 0, "score": 0.5, "propensity": 0.5}]}, 1,
     "malformed item in slot 0"),
    ({}, {**policy_slate(3), "impression_id": ""}, 1, "policy slate without an impression_id"),
    ({}, {**policy_slate(3), "impression_id": "i" * 65}, 1, "impression_id FEEDBACK cannot name"),
    ({}, {**policy_slate(3), "impression_id": "imp\x00x"}, 1, "impression_id FEEDBACK cannot name"),
])
def test_a_slate_that_breaks_the_spec_or_the_request_is_a_protocol_violation(request_arguments, document, version,
                                                                            problem):
    call = ops.recommend(**request_arguments)
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        call.parse(slate_reply(document, version))


def test_slates_that_keep_the_rules_are_returned():
    slate = ops.recommend(top=2, candidates=[3, 4, 5], min_version=1).parse(slate_reply(ranking(5, 3)))
    assert (slate.items, slate.model_version, slate.source, slate.impression_id) == ([5, 3], 1, "model", None)
    # A policy slate names the policy's version, which a model pin does not constrain.
    slate = ops.recommend(min_version=4).parse(slate_reply(policy_slate(7, 2, version=2), 2))
    assert (slate.items, slate.propensities, slate.impression_id) == ([7, 2], [0.5, 0.5], "imp-1")
    assert slate.ids is None  # a worker that sends no ids
    named = policy_slate(7, 2, version=2)
    for entry, sku in zip(named["items"], ["SKU-0007", "00102"]):
        entry["id"] = sku
    slate = ops.recommend().parse(slate_reply(named, 2))
    assert (slate.items, slate.ids) == ([7, 2], ["SKU-0007", "00102"])
    # "id": null is a key with no value (PROTOCOL.md), as a worker without ids may write it.
    for entry in named["items"]:
        entry["id"] = None
    assert ops.recommend().parse(slate_reply(named, 2)).ids is None
    # exclude_viewed is a model's: an online policy ignores it.
    assert ops.recommend(events=[(7, 3.0)], exclude_viewed=True).parse(slate_reply(policy_slate(7))).items == [7]


def test_a_slate_is_read_by_the_protocols_rules_for_documents_as_the_broker_reads_it():
    # PROTOCOL.md: a key in camel case is its snake-case key, and an int may be written 1.0; the broker forwards such a
    # ranking as OK, so the client returns it.
    camel = {"items": [{"item": 1.0, "score": 0.5}, {"item": 2, "score": 0.25}], "source": "model",
             "modelVersion": 1}
    slate = ops.recommend().parse(slate_reply(camel))
    assert (slate.items, slate.model_version) == ([1, 2], 1)
    assert all(type(item) is int for item in slate.items)
    policy = {"impressionId": "imp-1", "source": "policy", "MODEL_VERSION": 2.0, "exploration": None,
              "items": [{"item": 7.0, "position": 0.0, "score": 0.5, "propensity": 0.5}]}
    slate = ops.recommend().parse(slate_reply(policy, 2))
    assert (slate.items, slate.impression_id, slate.model_version) == ([7], "imp-1", 2)


@pytest.mark.parametrize("document, problem", [
    ({**ranking(3), "modelVersion": 1}, "holds the key 'model_version' twice"),
    ({**ranking(3), "items": [{"item": 1.5, "score": 0.5}]}, "malformed item in slot 0"),
    ({**ranking(3), "model_version": 1.5}, "names model_version None"),
    ({**ranking(3), "items": [{"item": True, "score": 0.5}]}, "malformed item in slot 0"),
])
def test_a_slate_that_does_not_decode_by_those_rules_is_still_a_protocol_violation(document, problem):
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        ops.recommend().parse(slate_reply(document))


def test_a_job_document_in_camel_case_reads_as_its_snake_case_keys():
    assert control_plane.with_keys({"totalRounds": 3, "modelVersion": 2}, control_plane.JOB_KEYS)["total_rounds"] == 3


# ---------------------------------------------------------------- a key twice in one object

def control_reply(text: bytes) -> ops.Reply:
    return reply(wire.Command.CONTROL, [text])


@pytest.mark.parametrize("call, text, problem", [
    # PROTOCOL.md: "A key appears at most once in an object ... never read as one of its two values": json.loads kept
    # the last value, so a FEEDBACK acknowledgement read duplicate=False and a job read completed.
    (lambda: ops.feedback("imp-1", 3, 1), rb'{"impression_id":"imp-1","item":3,"duplicate":true,"duplicate":false}',
     "the FEEDBACK reply holds the key 'duplicate' twice in one object"),
    (lambda: ops.feedback("imp-1", 3, 1),  # the same key with an escape
     rb'{"impression_id":"imp-1","item":3,"duplicate":true,"\u0064uplicate":false}',
     "the FEEDBACK reply holds the key 'duplicate' twice in one object"),
    (lambda: ops.status(), rb'{"promoted_version":1,"promoted_version":2}',
     "the STATUS reply holds the key 'promoted_version' twice"),
    (lambda: ops.status(), rb'{"workers":[{"id":"w1","id":"w2"}],"online":null}',  # in a nested object too
     "the STATUS reply holds the key 'id' twice"),
    (lambda: ops.job_control("job", "job-1"), rb'{"job":"job-1","state":"failed","state":"completed"}',
     "the CONTROL job reply holds the key 'state' twice"),
    (lambda: ops.job_control("job", "job-1"),  # one key in snake and camel case, which the broker reads as one
     rb'{"job":"job-1","state":"running","model_version":1,"modelVersion":2}',
     r"the CONTROL job reply holds the key 'model_version' twice \(as 'model_version' and 'modelVersion'\)"),
    (lambda: ops.promote(1), rb'{"version":1,"promoted":true,"promoted":false}',
     "the CONTROL promote reply holds the key 'promoted' twice"),
    (lambda: ops.models(), rb'{"models":[{"version":1,"createdAt":1,"created_at":2}]}',
     "the CONTROL models reply holds the key 'created_at' twice"),
    (lambda: ops.recommend(), rb'{"items":[{"item":3,"score":0.5,"item":4}],"source":"model","model_version":0}',
     "the RECOMMEND reply holds the key 'item' twice"),
    (lambda: ops.control("online"), rb'{"enabled":true,"metrics":{"ctr":1,"ctr":2}}',  # a map's keys: as written
     "the CONTROL online reply holds the key 'ctr' twice"),
])
def test_a_reply_with_a_key_twice_in_one_object_is_a_protocol_violation_naming_the_key(call, text, problem):
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        call().parse(control_reply(text))


def test_keys_that_differ_are_kept_apart_and_a_maps_keys_are_compared_as_written():
    online = ops.control("online").parse(control_reply(b'{"metrics":{"sku_1":1,"sku1":2,"Sku1":3}}'))
    assert online == {"metrics": {"sku_1": 1, "sku1": 2, "Sku1": 3}}
    job = ops.job_control("job", "job-1").parse(control_reply(b'{"job":"job-1","state":"running","metrics":{"a":{}}}'))
    assert job["state"] == "running" and job["metrics"] == {"a": {}}


# ---------------------------------------------------------------- FEEDBACK

@pytest.mark.parametrize("ack", [
    {"impression_id": "imp-2", "item": 3, "duplicate": False},
    {"impression_id": "imp-1", "item": 4, "duplicate": False},
])
def test_a_feedback_acknowledgement_of_another_event_is_a_protocol_violation(ack):
    call = ops.feedback("imp-1", 3, 1)
    with pytest.raises(recpool.ProtocolViolation, match="the request was about impression 'imp-1', item 3"):
        call.parse(reply(wire.Command.FEEDBACK, [json.dumps(ack).encode()]))
    good = call.parse(reply(wire.Command.FEEDBACK, [b'{"impression_id": "imp-1", "item": 3, "duplicate": true}']))
    assert good == recpool.FeedbackAck("imp-1", 3, True)


# ---------------------------------------------------------------- health

def worker(services, *, waiting=None, source="registry", idle=None, draining=False):
    return {"id": "w", "services": services, "waiting_for_version": waiting, "model_source": source,
            "idle_reason": idle, "draining": draining}


#: The broker's ``idle_reason`` for a worker whose version number another model serves (PROTOCOL.md, "Status document").
IDLE_SCORE = ("takes no SCORE: model version 0 is served there by the seeded model (seed 1), and this worker serves "
              "the seeded model (seed 2) under the same number")
IDLE_BOTH = ("takes no RECOMMEND or SCORE: model version 0 is served there by checkpoint sha256 1a2b, checkpoint "
             "sha256 1a2b, and this worker serves checkpoint sha256 3c4d under the same number")


def status(workers, online=None):
    return {"protocol_version": 1, "workers": workers, "online": online}


@pytest.mark.parametrize("service, document, healthy, live", [
    ("SCORE", status([worker(["SCORE"], waiting=3)]), False, 0),
    ("SCORE", status([worker(["SCORE"], source="unverified")]), False, 0),
    ("SCORE", status([worker(["SCORE"], waiting=3), worker(["SCORE"])]), True, 1),
    # A worker kept from a service by another model under its version number takes none of it.
    ("SCORE", status([worker(["SCORE"]), worker(["SCORE"], idle=IDLE_SCORE)]), True, 1),
    ("SCORE", status([worker(["SCORE"], idle=IDLE_SCORE)]), False, 0),
    ("RECOMMEND", status([worker(["RECOMMEND", "SCORE"], idle=IDLE_SCORE)]), True, 1),
    ("RECOMMEND", status([worker(["RECOMMEND", "SCORE"], idle=IDLE_BOTH)]), False, 0),
    ("RECOMMEND", status([worker(["RECOMMEND", "SCORE"], waiting=2)]), False, 0),
    ("TRAIN_ROUND", status([worker(["SCORE", "TRAIN_ROUND"], waiting=2)]), True, 1),  # training takes any worker
    # A draining worker takes no new request of any kind.
    ("SCORE", status([worker(["SCORE"], draining=True)]), False, 0),
    ("SCORE", status([worker(["SCORE"], draining=True), worker(["SCORE"])]), True, 1),
    ("RECOMMEND", status([worker(["RECOMMEND"], draining=True)]), False, 0),
    ("TRAIN_ROUND", status([worker(["SCORE", "TRAIN_ROUND"], draining=True)]), False, 0),
    ("FEEDBACK", status([worker(["RECOMMEND"])], {"enabled": True, "replicas": []}), False, 0),
    ("FEEDBACK", status([worker(["RECOMMEND"])], {"enabled": False, "replicas": [{"worker": "w"}]}), False, 0),
    ("FEEDBACK", status([], {"enabled": True, "replicas": [{"worker": "w"}]}), True, 1),
    ("FEEDBACK", status([worker(["RECOMMEND"])]), False, 0),
])
def test_health_counts_the_workers_that_take_work_as_recpool_health_does(service, document, healthy, live):
    # A RECOMMEND with a worker to take it is probed with one request (answered here with a slate).
    found = finish(ops.health(service), [document], [None])
    assert (bool(found), found.live_workers, found.workers) == (healthy, live, len(document["workers"]))


def test_health_of_recommend_probes_as_recpool_health_does():
    serving = status([worker(["RECOMMEND", "SCORE"])])
    plan = ops.health("RECOMMEND")
    next(plan)
    probe = plan.send([serving])
    # Without online learning one RECOMMEND of one item with no context is sent; its refusal is unhealthy, named.
    assert [call.command for call in probe] == [wire.Command.RECOMMEND]
    assert json.loads(bytes(probe[0].payload[0])) == {"user_features": {}, "events": [], "candidates": [0], "top": 1}
    refusal = recpool.BadRequest("model version 0 has no feature specification")
    with pytest.raises(StopIteration) as stop:
        plan.throw(refusal)
    found = stop.value.value
    assert not found and found.live_workers == 0 and found.workers == 1  # none serves it
    assert found.reason == "RECOMMEND is answered BAD_REQUEST: model version 0 has no feature specification"
    # A client-side failure (no reply) is not a verdict: it is raised.
    plan = ops.health("RECOMMEND")
    next(plan)
    plan.send([serving])
    with pytest.raises(recpool.Timeout):
        plan.throw(recpool.Timeout("no reply"))
    # With online learning the policy's replicas answer RECOMMEND: healthy with one, unhealthy (named) with none.
    assert finish(ops.health("RECOMMEND"), [status([worker(["RECOMMEND"])], {"enabled": True, "replicas": [{}]})])
    none = finish(ops.health("RECOMMEND"), [status([worker(["RECOMMEND"])], {"enabled": True, "replicas": []})])
    assert not none and none.reason == "RECOMMEND goes to the online policy, and no replica serves it"


def test_health_refuses_an_unknown_service_and_a_status_without_its_keys():
    with pytest.raises(recpool.InvalidRequest, match="service must be one of SCORE, RECOMMEND, FEEDBACK, TRAIN_ROUND"):
        next(ops.health("score"))
    with pytest.raises(recpool.ProtocolViolation, match="the STATUS reply has no 'workers'"):
        finish(ops.health(), [{"protocol_version": 1, "online": None}])


# ---------------------------------------------------------------- the impression log

def row(seq, slate=(3,), propensities=(0.5,), **record):
    fields = {"impression_id": f"imp-{seq}", "created_ms": 1_700_000_000_000, "version": 1, **record}
    return {"seq": seq, "record": {"slate": list(slate), "propensities": list(propensities), **fields},
            "clicks": {}, "dwell": {}}


def page(rows, following, spec=None, earlier=None):
    document = {"impressions": rows, "next_after": following, "spec": spec}
    if earlier is not None:
        document["earlier_lineage"] = earlier
    return document


@pytest.mark.parametrize("first, problem", [
    (page([row(1), row(2)], None), "holds 2 of 2 rows with next_after None; expected 2"),  # ended the log early
    (page([row(1)], 1), "holds 1 of 2 rows with next_after 1; expected None"),
    (page([row(2), row(1)], 1), "a row whose seq 1 does not follow 2"),
    (page([row(1, slate=(3, 4))], None), "malformed row 1"),  # frames.impressions_frame's zip dropped an item
    (page([row(1, created_ms=None)], None), "malformed row 1"),
    ({"impressions": [row(1)], "spec": None}, "has no 'next_after'"),
    ({"next_after": None, "spec": None}, "has no 'impressions'"),
    (page([row(1)], 1, earlier=-1), "has earlier_lineage -1"),
    (page([row(1)], 1, earlier="1"), "has earlier_lineage '1'"),
    (page([row(1)], 4, earlier=2), "at most 2 rows covered expected"),  # covers 3 rows of a 2-row page
    (page([row(3)], 2, earlier=1), "covers 2 rows with next_after 2; expected a seq of at least 3"),
    (page([], 1, earlier=1), "covers 1 of 2 rows with next_after 1; expected None"),
])
def test_an_impressions_page_that_breaks_the_paging_rules_is_a_protocol_violation(first, problem):
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        finish(ops.impression_log(page_size=2), [first])


def test_the_impression_log_pages_to_the_end_and_keeps_the_first_pages_spec():
    rows, spec = finish(ops.impression_log(page_size=2), [page([row(1), row(2)], 2, {"slate_size": 3})],
                        [page([row(5), row(6)], 6)], [page([], None)])
    assert [r["seq"] for r in rows] == [1, 2, 5, 6] and spec == {"slate_size": 3}


def test_the_impression_log_counts_what_an_earlier_lineage_logged_and_pages_past_it():
    log = finish(ops.impression_log(page_size=2), [page([], 2, {"slate_size": 3}, earlier=2)],
                 [page([row(4)], 4, earlier=1)], [page([row(5)], None)])
    rows, spec = log
    assert [r["seq"] for r in rows] == [4, 5] and spec == {"slate_size": 3}
    assert log.earlier_lineage == 3 and log.rows == rows and log.spec == spec


def test_an_impressions_page_that_does_not_advance_is_a_protocol_violation():
    # From a later sequence, the first request reads the log's first row for the spec (sent only from the start).
    with pytest.raises(recpool.ProtocolViolation, match="does not advance"):
        finish(ops.impression_log(after=5, page_size=2), [page([row(1)], 1, {"slate_size": 3})],
               [page([], 5, earlier=2)])


def test_the_impression_log_from_a_later_sequence_takes_the_spec_from_the_first_row():
    rows, spec = finish(ops.impression_log(after=5, page_size=2), [page([row(1)], 1, {"slate_size": 3})],
                        [page([row(6)], None)])
    assert [r["seq"] for r in rows] == [6] and spec == {"slate_size": 3}


# ---------------------------------------------------------------- jobs

@pytest.mark.parametrize("document, problem", [
    ({"job": "job-1", "state": "paused"}, "gives job job-1 the state 'paused'"),
    ({"job": "job-1"}, "gives job job-1 the state None"),
    ({"state": "running"}, "is not a job with a string id"),
])
def test_a_job_in_an_unknown_state_is_a_protocol_violation_not_followed_forever(document, problem):
    call = ops.job_control("job", "job-1")
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        call.parse(reply(wire.Command.CONTROL, [json.dumps(document).encode()]))
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        ops.jobs().parse(reply(wire.Command.CONTROL, [json.dumps({"jobs": [document]}).encode()]))


def test_a_job_that_follows_into_an_unknown_state_ends_the_follow(fake):
    reads = []

    def answer(header, frames):
        if header is None:
            return []
        reads.append(header)
        state = "running" if len(reads) == 1 else "stalled"
        return [answer_to(header, json.dumps({"job": "job-1", "state": state}).encode())]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        job = recpool.Job(client, {"job": "job-1", "state": "queued"})
        with pytest.raises(recpool.ProtocolViolation, match="the state 'stalled'"):
            job.wait(interval=0.01)
    assert len(reads) == 2


@pytest.mark.parametrize("job_id", [3, "", None])
def test_a_job_id_that_is_not_a_string_is_refused_before_sending(job_id):
    with pytest.raises(recpool.InvalidRequest, match="job must be a job id such as 'job-1'"):
        ops.job_control("cancel_job", job_id)


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("arguments, problem", [
    ({"op": "models"}, "a key must be a string naming an argument of job \\(not 'op'"),
    ({1: "job-1"}, "a key must be a string naming an argument of job"),
    ({"job": object()}, "cannot encode the request: a value of type object"),
    ({"job": {1, 2}}, "cannot encode the request: a value of type set"),
    ({"limit": float("nan")}, "cannot encode the request: limit is nan: the protocol's JSON holds no NaN"),
])
def test_control_arguments_json_cannot_hold_are_refused_as_invalid_requests(arguments, problem):
    with pytest.raises(recpool.InvalidRequest, match=problem):
        ops.control("job", arguments)


def test_control_arguments_may_be_numpy_scalars():
    call = ops.control("catalogue", {"version": np.int64(2), "limit": np.uint16(5), "flag": np.bool_(True),
                                     "after": np.array([1])})
    assert json.loads(bytes(call.payload[0])) == {"op": "catalogue", "version": 2, "limit": 5, "flag": True,
                                                  "after": [1]}


def test_ragged_rows_are_an_invalid_request_naming_the_shape():
    with pytest.raises(recpool.InvalidRequest, match="rows must be a rectangular rows × features array"):
        ops.as_rows([[1.0, 2.0], [3.0]])


def test_a_timeout_and_a_deadline_together_are_refused():
    with pytest.raises(recpool.InvalidRequest, match="give timeout or deadline, not both"):
        ops.Call(wire.Command.STATUS, [], lambda r: r, timeout=1.0, deadline=2e9)
    with pytest.raises(recpool.InvalidRequest, match="give timeout or deadline, not both"):
        next(ops.score(ROWS, timeout=1.0, deadline=2e9))


# ---------------------------------------------------------------- uploads and promotion

def test_an_upload_reply_without_a_boolean_complete_is_a_protocol_violation():
    upload = ops.upload_bytes(b"a,label\n1,0\n", "tiny.csv")
    next(upload)
    with pytest.raises(recpool.ProtocolViolation, match="the CONTROL upload reply for tiny.csv at offset 0 is not"):
        upload.send([{"complete": "yes"}])
    assert finish(ops.upload_bytes(b"a,label\n1,0\n", "tiny.csv"), [{"complete": True}]).startswith("sha256:")


@pytest.mark.parametrize("model, problem", [
    ({"version": 2, "promoted": True}, "for version 3 is the model of version 2, promoted True"),
    ({"version": 3, "promoted": False}, "for version 3 is the model of version 3, promoted False"),
])
def test_a_promote_reply_about_another_model_is_a_protocol_violation(model, problem):
    call = ops.promote(3)
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        call.parse(reply(wire.Command.CONTROL, [json.dumps(model).encode()]))
    assert call.parse(reply(wire.Command.CONTROL, [b'{"version": 3, "promoted": true}']))["version"] == 3


# ---------------------------------------------------------------- train and score_many arguments

def test_train_options_are_checked_before_the_dataset_is_uploaded(fake, tmp_path):
    broker = fake(lambda header, frames: [])
    data = tmp_path / "clicks.csv"
    data.write_text("f0,label\n0.5,1\n")
    with recpool.Client(broker.endpoint, timeout=2) as client:
        with pytest.raises(recpool.InvalidRequest, match="epochs must be an integer, got 2.5"):
            client.train(data, epochs=2.5)  # the upload went first, then the spec was refused
        with pytest.raises(recpool.InvalidRequest, match="promote must be True or False"):
            client.train(str(data), promote="yes")
        with pytest.raises(recpool.InvalidRequest, match="dataset 'no-such.csv' is neither a file here nor a "
                                                         "dataset name"):
            client.train("no-such.csv")
        with pytest.raises(recpool.InvalidRequest, match="is neither a file here"):
            client.train(tmp_path / "missing.csv")
    assert broker.received == []


def test_train_sends_the_uploaded_name_in_the_checked_spec(tmp_path):
    data = tmp_path / "clicks.csv"
    data.write_text("f0,label\n0.5,1\n")
    plan = ops.train(data, epochs=3)
    (upload,) = next(plan)
    assert json.loads(bytes(upload.payload[0]))["op"] == "upload"
    (submit,) = plan.send([{"complete": True}])
    spec = json.loads(bytes(submit.payload[0]))["train"]
    assert spec["dataset"].startswith("sha256:") and spec["dataset"] != control_plane._PENDING_UPLOAD and spec["epochs"] == 3


@pytest.mark.parametrize("batches, problem", [
    (np.zeros((100, 4), np.float32), r"got ndarray of shape \(100, 4\): for one batch use score\(\)"),
    (None, "batches must be an iterable of rows × features batches"),
    ("rows", "got str"),
])
def test_score_many_refuses_what_is_not_a_collection_of_batches(batches, problem):
    with pytest.raises(recpool.InvalidRequest, match=problem):
        ops.score_batches(batches, (0, 0), None, None, 8192)
    assert len(list(ops.score_batches(np.zeros((3, 2, 4)), (0, 0), None, None, 8192))) == 3


# ---------------------------------------------------------------- sizes, registry replies, keys, frames

def test_a_message_over_the_brokers_limits_is_refused_before_sending(fake):
    broker = fake(lambda header, frames: [])
    with recpool.Client(broker.endpoint, timeout=2) as client:
        # Over the hard frame backstop the broker drops the connection without a reply: this was a Timeout.
        with pytest.raises(recpool.InvalidRequest, match=r"the CONTROL request is 16777287 bytes in 3 frames; a message "
                                                         "holds at most 16777216 bytes"):
            client.control("import", data=bytes(wire.MESSAGE_LIMIT_BYTES))
        with pytest.raises(recpool.InvalidRequest, match="in 9 frames; .* in 8 frames"):
            client._drive(ops.Call(wire.Command.STATUS, [b""] * 8, lambda r: r))
    assert broker.received == []
    limit = wire.MESSAGE_LIMIT_BYTES - wire.HEADER_BYTES - 100  # exactly at the limit with the JSON frame
    assert ops.Call(wire.Command.CONTROL, [bytes(100), bytes(limit)], lambda r: r).payload


def test_models_and_rollback_replies_that_are_not_what_they_say_are_protocol_violations():
    with pytest.raises(recpool.ProtocolViolation, match="models is not a list of models"):
        ops.models().parse(reply(wire.Command.CONTROL, [b'{"models": {"version": 1}}']))
    assert ops.models().parse(reply(wire.Command.CONTROL, [b'{"models": [{"version": 1}]}']))[0]["version"] == 1
    with pytest.raises(recpool.ProtocolViolation, match="rollback reply is the model of version 2, promoted False"):
        ops.rollback().parse(reply(wire.Command.CONTROL, [b'{"version": 2, "promoted": false}']))


def test_a_curve_key_that_is_not_a_path_or_a_key_is_an_invalid_request():
    with pytest.raises(recpool.InvalidRequest, match="a CURVE key must be a key file's path or a Z85 key, got 5"):
        recpool.Client("tcp://127.0.0.1:9", server_key=5, client_key=5)


def test_impressions_frame_of_an_async_client_says_to_await_its_log():
    from recpool import frames

    async_client = recpool.AsyncClient("tcp://127.0.0.1:9")
    try:
        with pytest.raises(TypeError, match="pass `await aclient.impressions\\(\\)`"):
            frames.impressions_frame(async_client)
    finally:
        import asyncio
        asyncio.run(async_client.close())


def test_a_cancelled_job_fails_its_follow_without_printing_none():
    from test_checks import JobReads

    with pytest.raises(recpool.JobFailed) as caught:
        recpool.Job(JobReads("running", "cancelled"), {"job": "job-4"}).wait(interval=0.01)
    assert str(caught.value) == "JobFailed: job job-4 cancelled: (no error given)"


@pytest.mark.parametrize("model, checkpoint, problem", [
    ({"version": 2}, b"ckpt", "fetch reply for version 3 is the model of version 2"),
    ({"version": 3, "checkpoint_sha256": "00" * 32}, b"ckpt", "checkpoint has SHA-256 .* not the model's"),
])
def test_a_fetched_checkpoint_that_is_not_the_models_is_a_protocol_violation(model, checkpoint, problem):
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        ops.fetch(3).parse(reply(wire.Command.CONTROL, [json.dumps(model).encode(), checkpoint], model_version=3))


# ---------------------------------------------------------------- error replies

@pytest.mark.parametrize("frames", [0, 2])
def test_an_error_reply_without_exactly_one_message_frame_is_a_protocol_violation(fake, frames):
    # PROTOCOL.md, "Status codes": an error reply carries exactly one payload frame, its message. One with none was
    # raised as BadRequest "(the reply carried no message)"; the Swift client says protocol violation, and so does
    # this one now.
    def answer(header, _frames):
        if header is None:
            return []
        return [answer_to(header, *([b"why"] * frames), status=int(wire.Status.BAD_REQUEST))]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.ProtocolViolation, match=f"a BAD_REQUEST reply with {frames} payload frames"):
            client.score(ROWS)


def test_an_error_reply_with_its_message_is_the_server_error(fake):
    def answer(header, _frames):
        if header is None:
            return []
        return [answer_to(header, b"rows of 3 features", status=int(wire.Status.BAD_REQUEST))]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.BadRequest, match="rows of 3 features"):
            client.score(ROWS)


@pytest.mark.parametrize("timeout", [2.2e6, 1e9])
def test_a_timeout_longer_than_one_poll_can_wait_is_taken(fake, timeout):
    # zmq_poll takes a C int of ms (about 24.8 days): a documented timeout up to 1e9 s raised OverflowError from the
    # poll; it is now waited for in polls of at most that length.
    def answer(header, frames):
        if header is None:
            return []
        return [answer_to(header, scores_for(frames))]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=timeout) as client:
        assert client.score(ROWS).probabilities.tolist() == [0.5, 0.5]


def test_an_error_text_is_shown_escaped_and_an_empty_one_is_said():
    """A reply with an empty text printed as "BAD_REQUEST: " alone; one with an escape sequence acted on a terminal."""
    assert str(recpool.BadRequest("")) == "BAD_REQUEST (the reply carried no message)"
    assert str(recpool.BadRequest("worker \x1b[31mw1\x1b[0m")) == "BAD_REQUEST: worker \\u{1B}[31mw1\\u{1B}[0m"
    assert str(recpool.BadRequest("line\nnext\ttab")) == "BAD_REQUEST: line\nnext\ttab"
