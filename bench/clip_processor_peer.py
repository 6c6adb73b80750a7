"""The Python peer for bench_images: what transformers 4.40's CLIPImageProcessor does to a file.

Debian 12 does not package transformers, and the benchmark must run without PyPI, so this
script replays the processor's preprocess steps with the same libraries it calls, in the same
order, for the CLIP default configuration:

  PIL.Image.open -> convert("RGB") -> numpy array -> PIL.Image.fromarray -> resize of the
  shortest edge to 224 (BICUBIC, reducing_gap=None) -> numpy array -> centre crop 224x224 ->
  float64 * (1/255) -> float32 -> (x - mean) / std in float32 -> channels first.

It leaves out the processor's argument validation and its per-call format inference, so it is
at least as fast as the real processor. A speed-up measured against it is therefore a lower
bound.

usage: /usr/bin/python3 clip_processor_peer.py SECONDS DUMP_DIR FILE...
Prints images per CPU second of this thread. Writes each file's pixel_values as raw float32
(3x224x224, C order) to DUMP_DIR/<index>.f32, so the benchmark can check they equal dualclip's.
"""
import os
import sys
import time

import numpy as np
from PIL import Image

SHORTEST_EDGE = 224
CROP = 224
RESCALE_FACTOR = 1 / 255
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]


def resized_size(height, width):
    # get_resize_output_image_size with default_to_square=False: the short side becomes 224.
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = SHORTEST_EDGE, int(SHORTEST_EDGE * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def pixel_values(path):
    image = Image.open(path)
    if image.mode != "RGB":
        image = image.convert("RGB")
    array = np.array(image)

    # resize: back to PIL, Pillow's bicubic filter, back to numpy.
    height, width = resized_size(*array.shape[:2])
    resized = Image.fromarray(array.astype(np.uint8)).resize((width, height), resample=3, reducing_gap=None)
    array = np.array(resized)

    # center_crop: integer offsets, the crop fits inside the resized image.
    top = (array.shape[0] - CROP) // 2
    left = (array.shape[1] - CROP) // 2
    array = array[top:top + CROP, left:left + CROP]

    # rescale, then normalize in float32, then channels first.
    array = (array.astype(np.float64) * RESCALE_FACTOR).astype(np.float32)
    mean = np.array(IMAGE_MEAN, dtype=array.dtype)
    std = np.array(IMAGE_STD, dtype=array.dtype)
    array = (array - mean) / std
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def main():
    seconds = float(sys.argv[1])
    dump_dir = sys.argv[2]
    paths = sys.argv[3:]

    # Warm-up over every file, keeping the results for the equality check.
    for index, path in enumerate(paths):
        pixel_values(path).astype(np.float32).tofile(os.path.join(dump_dir, f"{index}.f32"))

    done, start = 0, time.thread_time()
    while time.thread_time() - start < seconds or done < len(paths):
        pixel_values(paths[done % len(paths)])
        done += 1
    print(done / (time.thread_time() - start))


if __name__ == "__main__":
    main()
