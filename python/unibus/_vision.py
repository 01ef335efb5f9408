"""The image pipeline from Python: serve() a model, encode and decode its messages.

Messages are the pipeline's protobufs (proto/unibus/vision.proto) in unibus typed
envelopes, encoded and decoded in C++: the same bytes `unibus feed`, `unibus classify`
and `unibus sink` read and write.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple

from . import _unibus
from ._broker import Broker, open as _open
from ._checks import check_type, count, seconds
from ._lifetime import track

if TYPE_CHECKING:
    import numpy as np

_log = logging.getLogger("unibus")

#: The ten Fashion-MNIST classes, by class index.
FASHION_MNIST_CLASSES: Tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclasses.dataclass(frozen=True)
class ImageMessage:
    """One image to classify (unibus.vision.ImageMessage)."""
    image_id: str
    pixels: np.ndarray  # (28, 28) uint8
    label: Optional[int] = None
    produced_at_us: int = 0  # unix microseconds when fed

    @classmethod
    def decode(cls, message: _unibus.Message) -> "ImageMessage":
        """Decodes a delivered message. Raises unibus.InvalidArgument saying why it is not
        a valid 28x28 image (wrong type, unparsable, wrong size)."""
        image_id, pixels, label, produced = _unibus._decode_image(message)
        return cls(image_id, pixels, label, produced)


def encode_image(image_id: str, pixels: Any, *, label: Optional[int] = None,
                 produced_at_us: int = 0) -> Tuple[bytes, Dict[str, str]]:
    """Encodes an image as the pipeline's ImageMessage.

    Args:
        image_id: its id; publish it with ordering_key=image_id, as `unibus feed` does.
        pixels: 28x28 grayscale values 0-255 (any array-like; shape (28, 28) or (784,)).
        label: the true class index, when known.
        produced_at_us: unix microseconds; 0 means now.

    Returns:
        (data, attributes), for Publisher.publish(data, attributes=attributes, ...).

    Raises:
        ValueError: pixels do not hold 784 values in 0..255.
        TypeError: image_id is not a str.
    """
    import numpy as np  # imported on first use: `import unibus` alone does not load it

    check_type("image_id", image_id, str, "a str")
    array = np.asarray(pixels)
    if array.size != 28 * 28 or array.ndim not in (1, 2):
        raise ValueError(f"pixels must be 28x28 (784 values), got shape {array.shape}")
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError("pixels must be in 0..255")
        array = array.astype(np.uint8)
    return _unibus._encode_image(image_id, np.ascontiguousarray(array).tobytes(), label,
                                 produced_at_us)


def decode_image(message: _unibus.Message) -> np.ndarray:
    """The pixels of an ImageMessage as a (28, 28) uint8 array.

    Raises unibus.InvalidArgument when the message is not a valid 28x28 ImageMessage.
    """
    return _unibus._decode_image(message)[1]


@dataclasses.dataclass
class Prediction:
    """The classifier's answer for one image (unibus.vision.Prediction)."""
    image_id: str
    class_index: int
    class_name: str = ""
    confidence: float = 0.0
    model_version: str = ""
    true_label: Optional[int] = None
    produced_at_us: int = 0     # copied from the image
    classified_at_us: int = 0   # unix microseconds
    queue_ms: float = 0.0       # produced -> picked up by the classifier
    inference_ms: float = 0.0   # the batch's model time
    batch_size: int = 0

    @classmethod
    def decode(cls, message: _unibus.Message) -> "Prediction":
        """Decodes a delivered Prediction; unibus.InvalidArgument if it is not one."""
        return cls(**_unibus._decode_prediction(message))

    def encode(self) -> Tuple[bytes, Dict[str, str]]:
        """(data, attributes) for Publisher.publish(); publish with
        ordering_key=image_id."""
        return _unibus._encode_prediction(dataclasses.asdict(self))


def _model_caller(model_fn: Callable[[np.ndarray], Any],
                  class_count: int) -> Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """Wraps model_fn so that C++ gets (int64 indices, float32 confidences) of length n,
    or an exception saying what is wrong with what model_fn returned."""

    import numpy as np

    def call(images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        n = images.shape[0]
        try:
            out = model_fn(images)
            if isinstance(out, tuple) and len(out) == 2:
                indices = np.asarray(out[0])
                confidences = np.asarray(out[1], dtype=np.float32)
            else:
                scores = np.asarray(out, dtype=np.float32)
                if scores.ndim != 2:
                    raise ValueError(
                        "model_fn must return (class_indices, confidences) or scores of shape "
                        f"(n, classes); got an array of shape {scores.shape}")
                indices = scores.argmax(axis=1)
                confidences = scores.max(axis=1)
            if indices.shape != (n,) or confidences.shape != (n,):
                raise ValueError(
                    f"model_fn returned class indices of shape {indices.shape} and confidences "
                    f"of shape {confidences.shape} for {n} images; both must be ({n},)")
            if not np.issubdtype(indices.dtype, np.integer):
                raise ValueError(f"class indices must be integers, not {indices.dtype}")
            if n and (indices.min() < 0 or indices.max() >= class_count):
                raise ValueError(f"class indices must be in 0..{class_count - 1}")
            return (np.ascontiguousarray(indices, dtype=np.int64),
                    np.ascontiguousarray(confidences, dtype=np.float32))
        except Exception:
            _log.exception("unibus.serve: model_fn failed on a batch of %d images", n)
            raise

    return call


def serve(model_fn: Callable[[np.ndarray], Any], *, url: Optional[str] = None,
          subscription: str = "classifier", topic: str = "images", out_url: Optional[str] = None,
          predictions_topic: str = "predictions", max_batch: int = 16, max_wait_ms: float = 2,
          workers: int = 1, ack_deadline: float = 10.0, model_version: str = "python",
          class_names: Sequence[str] = FASHION_MNIST_CLASSES,
          stop: Optional[threading.Event] = None) -> Dict[str, int]:
    """Serves a Python model from a broker: the `unibus classify` loop around model_fn.

    C++ threads pull ImageMessage micro-batches (up to `max_batch` images, waiting up to
    `max_wait_ms` after the first), hand each batch to `model_fn` as one uint8 ndarray
    of shape (n, 28, 28), publish one Prediction per image to `predictions_topic` on
    `out_url` (default: the input broker), and ack each image only once its prediction
    is published. Bad images (wrong type, unparsable, wrong size) are dead-lettered at
    once with the reason. If model_fn raises or returns the wrong shape, the batch is
    nacked with the reason (logged on the "unibus" logger), redelivered, and after
    max_delivery_attempts (5) dead-lettered with it; serving goes on.

    Args:
        model_fn: called with the batch (the GIL held, one call at a time per worker);
            returns (class_indices, confidences), two sequences of n, or scores of shape
            (n, classes), from which the argmax and its score are taken.
        url, out_url: the input and output brokers (see unibus.open()).
        subscription, topic: where images come from (created on topic, from the earliest
            message, when missing).
        workers: threads, each with its own batches.
        ack_deadline: seconds before a dead worker's images go to another.
        model_version, class_names: written into each Prediction.
        stop: serve() returns once this event is set (or on Ctrl-C: KeyboardInterrupt,
            after the batches in hand are finished).

    Returns:
        Counters: {"classified": images, "rejected": bad images, "batches": batches}.

    Raises:
        unibus.Error: a broker failed (Unavailable, NotFound, ...).
        TypeError, ValueError: bad arguments.
    """
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable, not {type(model_fn).__name__}")
    options = _unibus._ClassifyOptions()
    options.subscription = check_type("subscription", subscription, str, "a str")
    options.images_topic = check_type("topic", topic, str, "a str")
    options.predictions_topic = check_type("predictions_topic", predictions_topic, str, "a str")
    options.max_batch = count("max_batch", max_batch)
    options.max_wait = seconds("max_wait_ms", max_wait_ms) / 1000.0
    options.workers = count("workers", workers)
    options.ack_deadline = seconds("ack_deadline", ack_deadline)
    options.warm_up = False
    names = [check_type("class_names items", n, str, "str") for n in class_names]
    check_type("model_version", model_version, str, "a str")
    in_broker = _open(url)
    out_broker = in_broker if out_url is None else _open(out_url)
    handle = _Serving()
    track(handle)  # a serve() still running at interpreter exit is stopped first
    if stop is None:
        should_stop = handle.stopping.is_set
    else:
        def should_stop() -> bool:
            return stop.is_set() or handle.stopping.is_set()
    try:
        return _unibus._serve(in_broker._impl, out_broker._impl,
                              _model_caller(model_fn, len(names)), model_version, names,
                              options, should_stop)
    finally:
        handle.done.set()


class _Serving:
    """A running serve(), as the exit hook sees it: stop() asks it to end and waits."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.done = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.done.wait(30)  # sleeps without the GIL: serve() needs it to notice
