"""Fewer websocket messages, same frames: merging a hand-over's lossy frames, JSON-array envelopes."""

from __future__ import annotations

import asyncio
import json
import threading

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from coregulate.server.web.frame_batching import coalesce_submissions, envelopes
from coregulate.server.web.hub import Hub
from coregulate.server.web.hub_sink import HubSink
from server_helpers import SUP, VIEW, auth


def _item(type_, data, t_pub):
    return (type_, data, True, t_pub, 1000.0 + t_pub)


def test_provisional_values_and_a_streams_points_merge_into_the_first_frame_in_order():
    items = [_item("provisional", [{"participant": "client", "t": 1.0}], 1.0),
             _item("wave", {"stream": "client/ecg", "t": [1.0], "v": [5.0], "gap": False}, 2.0),
             _item("features", [{"t_s": 1}], 3.0),
             _item("provisional", [{"participant": "therapist", "t": 1.1}, {"participant": "client", "t": 1.2}], 4.0),
             _item("wave", {"stream": "therapist/ecg", "t": [1.0], "v": [7.0], "gap": False}, 5.0),
             _item("wave", {"stream": "client/ecg", "t": [1.5], "v": [6.0], "gap": False}, 6.0)]
    out = coalesce_submissions(items)
    assert [(x[0], x[3]) for x in out] == [("provisional", 1.0), ("wave", 2.0), ("features", 3.0), ("wave", 5.0)]
    assert [(v["participant"], v["t"]) for v in out[0][1]] == [("client", 1.0), ("therapist", 1.1), ("client", 1.2)]
    assert out[1][1] == {"stream": "client/ecg", "t": [1.0, 1.5], "v": [5.0, 6.0], "gap": False}
    assert out[2][1] == [{"t_s": 1}] and out[3][1]["v"] == [7.0]
    assert items[0][1] == [{"participant": "client", "t": 1.0}]  # what was submitted is left as it was


def test_a_gap_starts_a_new_waveform_frame_and_only_the_newest_sensors_snapshot_is_kept():
    items = [_item("level", {"stream": "client/audio", "t": [1.0], "v": [-30.0], "gap": False}, 1.0),
             _item("sensors", {"t": 1.0}, 2.0),
             _item("level", {"stream": "client/audio", "t": [9.0], "v": [-31.0], "gap": True}, 3.0),
             _item("sensors", {"t": 2.0}, 4.0),
             _item("level", {"stream": "client/audio", "t": [9.1], "v": [-32.0], "gap": False}, 5.0)]
    out = coalesce_submissions(items)
    assert [(x[0], x[1].get("v"), x[1].get("t")) for x in out] == [
        ("level", [-30.0], [1.0]), ("level", [-31.0, -32.0], [9.0, 9.1]), ("sensors", None, 2.0)]
    assert out[1][1]["gap"] is True


def test_envelopes_hold_every_frame_once_in_order_within_their_bounds():
    texts = [json.dumps({"seq": i, "pad": "x" * (i % 7) * 10}) for i in range(50)]
    groups = list(envelopes(texts, max_frames=8, max_chars=300))
    assert [f["seq"] for _, _, text in groups for f in json.loads(text)] == list(range(50))
    assert [(a, b) for a, b, _ in groups] == list(zip([g[0] for g in groups], [g[0] for g in groups[1:]] + [50]))
    assert all(b - a <= 8 and (len(text) <= 300 or b - a == 1) for a, b, text in groups)
    assert len(groups) < 50 and [t for _, _, t in envelopes(["x" * 500], max_chars=300)] == ["[" + "x" * 500 + "]"]


async def test_frames_handed_over_while_the_loop_is_busy_reach_viewers_merged_with_every_value():
    hub = Hub("s", loop=asyncio.get_running_loop(), max_lossy=1000)
    viewer = hub.subscribe(None)
    await viewer.next_batch()  # hello
    sink = HubSink(hub)

    def session_thread():  # one call per person and second: each value due at once
        for t in range(1, 6):
            for who in ("client", "therapist"):
                sink.on_provisional([{"participant": who, "family": "voice", "t": float(t), "vocal_arousal": t / 10}])
            sink.on_features([{"t_s": t, "participant": "client"}])

    thread = threading.Thread(target=session_thread)
    thread.start()
    thread.join()  # the loop was not free meanwhile: it finds everything pending at once
    frames = [json.loads(f.text) for f in await viewer.next_batch()]
    prov = [f for f in frames if f["type"] == "provisional"]
    assert len(prov) == 1 and prov[0]["lossy"] is True
    assert [(v["participant"], v["t"]) for v in prov[0]["data"]] == [(w, float(t)) for t in range(1, 6)
                                                                    for w in ("client", "therapist")]
    assert [f["seq"] for f in frames if f["type"] == "features"] == [1, 2, 3, 4, 5]
    assert frames[0]["type"] == "provisional"  # ahead of the rows that replace its values


def test_one_call_with_both_peoples_values_sends_one_frame():
    hub = Hub("s", max_lossy=100)
    viewer = hub.subscribe(None)
    viewer.lossy.clear()
    HubSink(hub).on_provisional([{"participant": "client", "family": "voice", "t": 3.0},
                                 {"participant": "therapist", "family": "voice", "t": 3.0}])
    [(_, frame)] = list(viewer.lossy)
    assert [v["participant"] for v in json.loads(frame.text)["data"]] == ["client", "therapist"]


def test_a_viewers_queue_keeps_only_the_newest_sensors_snapshot():
    hub = Hub("s", max_lossy=100)
    viewer = hub.subscribe(None)
    for t in range(5):
        hub.publish("sensors", {"t": t})
        hub.publish("wave", {"stream": "x", "t": [t], "v": [0.0]})
    queued = [json.loads(f.text) for _, f in viewer.lossy]
    assert [f["data"]["t"] for f in queued if f["type"] == "sensors"] == [4]
    assert [f["data"]["t"] for f in queued if f["type"] == "wave"] == [[t] for t in range(5)]
    assert viewer.dropped_lossy == 4


def test_batch_viewer_gets_json_arrays_of_the_same_frames_without_a_gap(make_app):
    with TestClient(make_app()) as client:
        sid = client.post("/api/sessions", headers=auth(SUP), json={
            "source": {"kind": "simulator", "duration_s": 20}, "speed": 10.0, "start": True, "label": "t"}).json()["id"]
        messages = []
        with client.websocket_connect(f"/api/sessions/{sid}/ws?since=0&batch=1",
                                      subprotocols=["coregulate", f"token.{VIEW}"]) as ws:
            try:
                while not messages or messages[-1][-1]["type"] != "end":
                    messages.append(json.loads(ws.receive_text()))
            except WebSocketDisconnect:
                pass
    assert all(isinstance(m, list) and m for m in messages)
    frames = [f for m in messages for f in m]
    kept = [f["seq"] for f in frames if not f.get("lossy")]
    assert kept == list(range(1, kept[-1] + 1)) and frames[-1]["type"] == "end"
    rows = {(r["t_s"], r["participant"]) for f in frames if f["type"] == "features" for r in f["data"]}
    assert rows == {(t, p) for t in range(1, 21) for p in ("client", "therapist")}
