"""examples/python: producer -> model server -> SQLite, input and output on two brokers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run(script: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(EXAMPLES / script), *args], cwd=EXAMPLES,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_three_apps_store_one_row_per_image(tmp_path):
    n = 300
    images, predictions, db = (f"sqlite://{tmp_path}/images.db",
                               f"sqlite://{tmp_path}/predictions.db", tmp_path / "store.db")
    # started in reverse order: each makes what it needs
    sink = run("predictions_to_sqlite.py", "--url", predictions, "--db", str(db),
               "--count", str(n))
    server = run("model_server.py", "--url", images, "--out-url", predictions)
    producer = run("producer.py", "--url", images, "--count", str(n))
    out, err = producer.communicate(timeout=120)
    assert producer.returncode == 0, err
    assert f"published {n} images" in out
    out, err = sink.communicate(timeout=180)
    assert sink.returncode == 0, err
    server.send_signal(signal.SIGTERM)
    server_out, server_err = server.communicate(timeout=60)
    assert server.returncode == 0, server_err
    assert f"'classified': {n}" in server_out
    rows = sqlite3.connect(db).execute(
        "SELECT COUNT(*), COUNT(DISTINCT image_id), AVG(class_index = true_label) "
        "FROM predictions").fetchone()
    assert rows[0] == rows[1] == n
    assert rows[2] > 0.7, f"accuracy {rows[2]}"
    assert f"{n} predictions" in out
