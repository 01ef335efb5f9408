"""Serves a NumPy model from a broker: images in, predictions out, in micro-batches.

The model is a ridge-regression classifier fitted at start on 20,000 training images
(about 80 % accurate; no deep-learning framework needed). Stops on Ctrl-C or SIGTERM.

    python model_server.py --url sqlite://in.db --out-url sqlite://out.db
"""

import argparse
import signal
import threading

import numpy as np

import unibus
from fashion_mnist import load

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--url", default=None, help="where images come from")
parser.add_argument("--out-url", default=None, help="where predictions go (default: --url)")
parser.add_argument("--max-batch", type=int, default=16)
args = parser.parse_args()

images, labels = load("train")
x = np.hstack([images[:20000].reshape(-1, 784) / 255.0, np.ones((20000, 1))])
weights = np.linalg.solve(x.T @ x + 1.0 * np.eye(785), x.T @ np.eye(10)[labels[:20000]])


def model(batch: np.ndarray):
    """(n, 28, 28) uint8 -> class indices and softmax confidences."""
    scores = np.hstack([batch.reshape(len(batch), -1) / 255.0, np.ones((len(batch), 1))]) @ weights
    p = np.exp(8 * (scores - scores.max(axis=1, keepdims=True)))
    p /= p.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p.max(axis=1)


with unibus.open(args.url) as broker:  # start in any order: make the input topic if missing
    try:
        broker.admin().create_topic("images")
    except unibus.AlreadyExists:
        pass
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
counts = unibus.serve(model, url=args.url, out_url=args.out_url, max_batch=args.max_batch,
                      model_version="ridge-numpy-v1", stop=stop)
print(f"model server: {counts}")
