"""OpenCV reference for bench/dataset_bench.ts: the same per-image steps as
the dataset build, with OpenCV's Python binding on one thread.

Usage: python3 opencv_reference.py SETTINGS_JSON

SETTINGS_JSON names the files, the crop box (left, top, width, height), the
output size, the PNG compression level, the opening size, the Gaussian sigma,
the salt-and-pepper fraction and the number of timed passes. The script
prints one JSON object: images per second (best pass) and images per
CPU-second for the plain path and the augmented path, and OpenCV's version.
"""

import json
import sys
import time

import cv2
import numpy as np


def plain(data, settings):
    """Decodes, crops, resizes and encodes one file; returns the resized image."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    left, top, width, height = settings["crop"]
    face = image[top:top + height, left:left + width]
    size = settings["size"]
    resized = cv2.resize(face, (size, size), interpolation=cv2.INTER_LANCZOS4)
    encode(resized, settings)
    return resized


def encode(image, settings):
    ok, png = cv2.imencode(
        ".png", image, [cv2.IMWRITE_PNG_COMPRESSION, settings["png_level"]])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return png


def augmented(data, settings, rng):
    """Runs the plain steps, then encodes an opening and two noisy copies."""
    resized = plain(data, settings)
    side = settings["opening_size"]
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    encode(cv2.morphologyEx(resized, cv2.MORPH_OPEN, kernel), settings)
    noise = rng.normal(0.0, settings["gaussian_sigma"], resized.shape)
    encode(np.clip(np.rint(resized + noise), 0, 255).astype(np.uint8),
           settings)
    salted = resized.copy()
    pixels = resized.shape[0] * resized.shape[1]
    count = round(settings["salt_pepper_fraction"] * pixels)
    chosen = rng.choice(pixels, count, replace=False)
    values = np.where(rng.random(count) < 0.5, 0, 255).astype(np.uint8)
    salted.reshape(pixels, 3)[chosen] = values[:, None]
    encode(salted, settings)


def measure(step, files, passes):
    """Returns the best images per second and the images per CPU-second."""
    best = 0.0
    cpu_rate = 0.0
    for _ in range(passes + 1):  # the first pass warms the caches
        wall = time.perf_counter()
        cpu = time.process_time()
        for path in files:
            with open(path, "rb") as file:
                step(file.read())
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        if len(files) / wall > best:
            best = len(files) / wall
            cpu_rate = len(files) / cpu
    return best, cpu_rate


def main():
    settings = json.loads(sys.argv[1])
    cv2.setNumThreads(1)
    rng = np.random.default_rng(settings["seed"])
    files = settings["files"]
    passes = settings["passes"]
    plain_rate, plain_cpu = measure(lambda data: plain(data, settings), files,
                                    passes)
    augmented_rate, augmented_cpu = measure(
        lambda data: augmented(data, settings, rng), files, passes)
    print(json.dumps({
        "opencv": cv2.__version__,
        "plain_images_per_second": plain_rate,
        "plain_images_per_cpu_second": plain_cpu,
        "augmented_images_per_second": augmented_rate,
        "augmented_images_per_cpu_second": augmented_cpu,
    }))


if __name__ == "__main__":
    main()
