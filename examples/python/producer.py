"""Publishes Fashion-MNIST test images as the pipeline's ImageMessage.

    python producer.py --url sqlite://in.db --count 1000
"""

import argparse

import unibus
from fashion_mnist import load

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--url", default=None, help="broker URL (default: $UNIBUS_URL, unibus.yaml)")
parser.add_argument("--topic", default="images")
parser.add_argument("--count", type=int, default=1000)
args = parser.parse_args()

images, labels = load("t10k")
with unibus.open(args.url) as broker:
    with broker.publisher(args.topic, create_topic_if_missing=True) as pub:
        for i in range(min(args.count, len(images))):
            image_id = f"img-{i}"
            data, attrs = unibus.encode_image(image_id, images[i], label=int(labels[i]))
            pub.publish(data, attributes=attrs, ordering_key=image_id)
        pub.flush()  # raises the first failed publish, if any
print(f"published {min(args.count, len(images))} images to {args.topic} on {broker.url}")
