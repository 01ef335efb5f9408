"""unibus.serve() end to end with a NumPy model, and the image/prediction helpers."""

from __future__ import annotations

import sqlite3
import threading
import time

import numpy as np
import pytest

import unibus
from conftest import drain, unique


def brightness_model(images: np.ndarray):
    """Class = mean brightness bucket; a stand-in model with a checkable answer."""
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    mean = images.reshape(len(images), -1).mean(axis=1)
    return (mean // 26).astype(np.int64).clip(0, 9), np.full(len(images), 0.5, np.float32)


def image(i: int) -> np.ndarray:
    return np.full((28, 28), (i * 37) % 256, np.uint8)


def run_serve(stop: threading.Event, **kwargs):
    result = {}
    t = threading.Thread(target=lambda: result.update(unibus.serve(stop=stop, **kwargs)))
    t.start()
    return t, result


def test_image_and_prediction_round_trip(tmp_path):
    with unibus.open(f"mem://{unique('codec')}") as b:
        b.admin().create_topic("images")
        sub = b.subscriber("reader", topic="images")
        data, attrs = unibus.encode_image("img-1", image(3), label=7)
        assert attrs["unibus-type"] == "unibus.vision.ImageMessage"
        b.publisher("images").publish(data, attributes=attrs, ordering_key="img-1").result(5)
        (m,) = drain(sub, 1)
        assert np.array_equal(unibus.decode_image(m), image(3))
        img = unibus.ImageMessage.decode(m)
        assert (img.image_id, img.label) == ("img-1", 7) and img.produced_at_us > 0
        p = unibus.Prediction("img-1", 4, "Coat", 0.9, "v1", true_label=4)
        data, attrs = p.encode()
        assert attrs["unibus-type"] == "unibus.vision.Prediction"
    with pytest.raises(ValueError, match="28x28"):
        unibus.encode_image("x", np.zeros((27, 28)))


def test_decode_image_says_why_a_message_is_not_an_image():
    with unibus.open(f"mem://{unique('codec')}") as b:
        b.admin().create_topic("images")
        sub = b.subscriber("reader", topic="images")
        b.publisher("images").publish(b"\xff garbage", attributes={
            "unibus-type": "unibus.vision.ImageMessage",
            "content-type": "application/x-protobuf"}).result(5)
        (m,) = drain(sub, 1)
        with pytest.raises(unibus.InvalidArgument):
            unibus.decode_image(m)


def test_serve_stores_exactly_one_prediction_per_image(tmp_path):
    url = f"sqlite://{tmp_path / 'in.db'}"
    out_url = f"sqlite://{tmp_path / 'out.db'}"
    n = 60
    with unibus.open(url) as b:
        b.admin().create_topic("images")
        b.admin().create_topic("classifier.dead-letter")
        dead = b.subscriber("dead", topic="classifier.dead-letter")
        pub = b.publisher("images")
        for i in range(n):
            data, attrs = unibus.encode_image(f"img-{i}", image(i), label=i % 10)
            pub.publish(data, attributes=attrs, ordering_key=f"img-{i}")
        # one bad input: it is dead-lettered with the reason, not classified
        pub.publish(b"not an image", attributes={"unibus-type": "unibus.vision.ImageMessage",
                                                 "content-type": "application/x-protobuf"})
        pub.flush()
    with unibus.open(out_url) as out:
        out.admin().create_topic("predictions")
        preds = out.subscriber("store", topic="predictions", start="earliest")
        stop = threading.Event()
        t, stats = run_serve(stop, model_fn=brightness_model, url=url, out_url=out_url,
                             subscription="classifier", topic="images", max_batch=8,
                             model_version="brightness-v1")
        db = sqlite3.connect(tmp_path / "predictions.db")
        db.execute("CREATE TABLE p (image_id TEXT PRIMARY KEY, class_index INT, version TEXT)")
        deliveries = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = preds.pull(100, 0.2)
            for m in batch:
                p = unibus.Prediction.decode(m)
                db.execute("INSERT INTO p VALUES (?, ?, ?) ON CONFLICT(image_id) DO UPDATE "
                           "SET class_index = excluded.class_index",
                           (p.image_id, p.class_index, p.model_version))
                deliveries += 1
            db.commit()
            for m in batch:
                m.ack()
            if db.execute("SELECT COUNT(*) FROM p").fetchone()[0] == n:
                break
        stop.set()
        t.join(30)
        assert not t.is_alive()
    rows = dict(db.execute("SELECT image_id, class_index FROM p").fetchall())
    assert len(rows) == n
    for i in range(n):
        assert rows[f"img-{i}"] == min(((i * 37) % 256) // 26, 9)
    assert db.execute("SELECT DISTINCT version FROM p").fetchall() == [("brightness-v1",)]
    assert stats["classified"] == n
    assert deliveries >= n
    with unibus.open(url) as b:  # every image was acked: nothing left to classify
        sub = b.subscriber("classifier", topic="images")
        assert sub.pull(10, 0.5) == []
        dead = b.subscriber("dead", topic="classifier.dead-letter")
        (d,) = drain(dead, 1)
        assert d.data == b"not an image"
        assert "ImageMessage" in d.attributes[unibus.DEAD_LETTER_REASON]


@pytest.mark.parametrize("failure", ["raises", "wrong_shape"])
def test_a_failing_model_dead_letters_its_inputs_and_serving_goes_on(failure):
    url = f"mem://{unique('serve')}"
    calls = []

    def model(images):
        calls.append(len(images))
        if images[:, 0, 0].max() == 255:  # the poison image
            if failure == "raises":
                raise RuntimeError("model exploded")
            return np.zeros(len(images) + 1, np.int64), np.zeros(len(images) + 1, np.float32)
        return brightness_model(images)

    b = unibus.open(url)
    for t in ("images", "predictions", "classifier.dead-letter"):
        b.admin().create_topic(t)
    dead = b.subscriber("dead", topic="classifier.dead-letter")
    preds = b.subscriber("preds", topic="predictions")
    stop = threading.Event()
    t, stats = run_serve(stop, model_fn=model, url=url, max_batch=1)
    pub = b.publisher("images")
    data, attrs = unibus.encode_image("poison", np.full((28, 28), 255, np.uint8))
    pub.publish(data, attributes=attrs, ordering_key="poison")
    (d,) = drain(dead, 1, timeout=20)
    reason = d.attributes[unibus.DEAD_LETTER_REASON]
    if failure == "raises":
        assert reason == "model_fn failed: RuntimeError: model exploded"
    else:
        assert reason.startswith("model_fn failed: ValueError: model_fn returned class indices "
                                 "of shape (2,)")
    assert d.attributes[unibus.DEAD_LETTER_ATTEMPTS] == "5"
    # the server goes on
    data, attrs = unibus.encode_image("fine", image(1))
    pub.publish(data, attributes=attrs, ordering_key="fine")
    (p,) = drain(preds, 1, timeout=10)
    assert unibus.Prediction.decode(p).image_id == "fine"
    stop.set()
    t.join(30)
    assert calls.count(1) >= 6  # 5 failed attempts + the good image
    b.close()


def test_ctrl_c_stops_serve_and_loses_no_image():
    import _thread

    url = f"mem://{unique('sigint')}"
    b = unibus.open(url)
    b.admin().create_topic("images")
    b.admin().create_topic("predictions")
    preds = b.subscriber("preds", topic="predictions")
    pub = b.publisher("images")
    for i in range(20):
        data, attrs = unibus.encode_image(f"img-{i}", image(i))
        pub.publish(data, attributes=attrs, ordering_key=f"img-{i}")
    pub.flush()
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        unibus.serve(brightness_model, url=url, max_batch=4)
    assert time.monotonic() - start < 10
    got = {unibus.Prediction.decode(m).image_id for m in drain(preds, 20)}
    assert got == {f"img-{i}" for i in range(20)}
    # every image was acked once its prediction was out: none left for a restart
    assert b.subscriber("classifier", topic="images").pull(10, 0.5) == []


def test_interpreter_exit_while_serve_runs_in_a_thread(tmp_path):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import threading, time, numpy as np, unibus
        url = "sqlite://{tmp_path}/serve-exit.db"
        b = unibus.open(url)
        b.admin().create_topic("images")
        pub = b.publisher("images")
        for i in range(200):
            data, attrs = unibus.encode_image(f"img-{{i}}", np.full((28, 28), i % 256, np.uint8))
            pub.publish(data, attributes=attrs, ordering_key=f"img-{{i}}")
        pub.flush()
        def model(images):
            time.sleep(0.01)
            return np.zeros(len(images), np.int64), np.ones(len(images), np.float32)
        threading.Thread(target=unibus.serve, args=(model,), kwargs=dict(url=url, max_batch=4),
                         daemon=True).start()
        time.sleep(1.0)
        print("exiting", flush=True)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout
