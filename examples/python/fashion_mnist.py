"""Reads Debian's dataset-fashion-mnist IDX files with NumPy (shared by the examples)."""

import gzip
import os

import numpy as np

DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load(split: str = "t10k"):
    """(images (n, 28, 28) uint8, labels (n,) uint8) of "train" or "t10k"."""
    with gzip.open(f"{DATA}/{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{DATA}/{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels
