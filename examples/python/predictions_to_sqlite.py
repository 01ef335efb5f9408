"""Stores predictions in a SQLite table keyed by image id (a redelivery never adds a row).

    python predictions_to_sqlite.py --url sqlite://out.db --db predictions.db --count 1000
"""

import argparse
import sqlite3

import unibus

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--url", default=None, help="where predictions come from")
parser.add_argument("--db", default="predictions.db")
parser.add_argument("--count", type=int, default=0, help="stop once this many rows exist")
args = parser.parse_args()

db = sqlite3.connect(args.db)
db.execute("CREATE TABLE IF NOT EXISTS predictions (image_id TEXT PRIMARY KEY, class_index INT,"
           " class_name TEXT, confidence REAL, true_label INT, model_version TEXT)")
with unibus.open(args.url) as broker:
    try:  # start in any order: make the topic if the model server has not yet
        broker.admin().create_topic("predictions")
    except unibus.AlreadyExists:
        pass
    sub = broker.subscriber("sink", topic="predictions", start="earliest")
    rows = 0
    while not args.count or rows < args.count:
        batch = sub.pull(max_messages=500, timeout=1.0)
        for msg in batch:
            p = unibus.Prediction.decode(msg)
            db.execute("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?)",
                       (p.image_id, p.class_index, p.class_name, p.confidence, p.true_label,
                        p.model_version))
        db.commit()  # then ack: a crash in between redelivers, the upsert absorbs it
        for msg in batch:
            msg.ack()
        rows = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
(accuracy,) = db.execute("SELECT AVG(class_index = true_label) FROM predictions").fetchone()
print(f"{rows} predictions in {args.db}, accuracy {accuracy:.3f}")
