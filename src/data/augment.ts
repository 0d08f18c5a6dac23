/**
 * The augmented copies of the dataset recipe, which pads identities with few
 * images: a grey-scale morphological opening, Gaussian noise and
 * salt-and-pepper noise. Each returns a new image and leaves its input as is.
 *
 * @module
 */

import type { Rng } from "../rng.ts";
import { checkImage, type RawImage } from "./image.ts";

/**
 * Applies a grey-scale opening to each channel: an erosion (minimum over a
 * `size` x `size` square) followed by a dilation (maximum over the same square).
 *
 * Pixels outside the image are ignored, as with OpenCV's default border for
 * `morphologyEx`. The square of pixel (y, x) spans offsets `-a .. size-1-a`
 * with `a = floor(size / 2)` in each direction, OpenCV's default anchor, so an
 * odd size is centred.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @param size Side of the square structuring element in pixels.
 * @returns The opened image, `[height, width, 3]` RGB uint8.
 * @throws {RangeError} When size is not a positive integer.
 *
 * @example Open a 3x1 image
 * ```ts
 * import { open } from "./augment.ts";
 * const data = Uint8Array.of(9, 9, 9, 0, 0, 0, 9, 9, 9);
 * const opened = open({ data, width: 3, height: 1, channels: 3 }, 3);
 * console.log(opened.data); // all 0: the erosion spreads the dark pixel
 * ```
 */
export function open(image: RawImage, size: number): RawImage {
  checkImage(image);
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot open image: size must be a positive integer, got ${size}`,
    );
  }
  // A square minimum (or maximum) is a row pass followed by a column pass.
  const rows = lineExtremum(image, image.data, size, 3, "min");
  const eroded = lineExtremum(image, rows, size, image.width * 3, "min");
  const dilatedRows = lineExtremum(image, eroded, size, 3, "max");
  const data = lineExtremum(image, dilatedRows, size, image.width * 3, "max");
  return { data, width: image.width, height: image.height, channels: 3 };
}

/**
 * Takes the minimum or maximum over a window of `size` pixels along one axis
 * of an HWC buffer with the shape of `image`. The window of position i spans
 * offsets `-a .. size-1-a` with `a = floor(size / 2)`, cut to the image.
 *
 * Each offset d is applied to a whole run of bytes at once: pixel i takes
 * the extremum of itself and pixel i + d wherever both lie in the image,
 * which touches memory in order and compares inline.
 *
 * @param step Bytes between neighbours along the axis: 3 along a row,
 *   `width * 3` along a column.
 */
function lineExtremum(
  image: RawImage,
  source: Uint8Array,
  size: number,
  step: number,
  extremum: "min" | "max",
): Uint8Array {
  const { width, height } = image;
  const rowBytes = width * 3;
  const alongRow = step === 3;
  const length = alongRow ? width : height;
  const before = Math.floor(size / 2);
  const result = source.slice();
  for (let d = -before; d <= size - 1 - before; d++) {
    if (d === 0 || Math.abs(d) >= length) continue;
    // Positions i with 0 <= i + d < length, as byte offsets along the axis.
    const from = Math.max(0, -d) * step;
    const to = (length - Math.max(0, d)) * step;
    const shift = d * step;
    if (alongRow) {
      for (let y = 0; y < height; y++) {
        const row = y * rowBytes;
        applyShift(source, result, row + from, row + to, shift, extremum);
      }
    } else {
      applyShift(source, result, from, to, shift, extremum);
    }
  }
  return result;
}

/** Sets `result[j]` to the extremum of itself and `source[j + shift]`. */
function applyShift(
  source: Uint8Array,
  result: Uint8Array,
  from: number,
  to: number,
  shift: number,
  extremum: "min" | "max",
): void {
  if (extremum === "min") {
    for (let j = from; j < to; j++) {
      const other = source[j + shift];
      if (other < result[j]) result[j] = other;
    }
  } else {
    for (let j = from; j < to; j++) {
      const other = source[j + shift];
      if (other > result[j]) result[j] = other;
    }
  }
}

/**
 * Adds independent Gaussian noise to every sample, then rounds and clamps to
 * 0..255.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @param sigma Standard deviation in 0..255 intensity units.
 * @param rng Source of the noise; draws one normal sample per byte.
 * @returns The noisy image, `[height, width, 3]` RGB uint8.
 * @throws {RangeError} When sigma is negative or not finite.
 */
export function addGaussianNoise(
  image: RawImage,
  sigma: number,
  rng: Rng,
): RawImage {
  checkImage(image);
  if (!Number.isFinite(sigma) || sigma < 0) {
    throw new RangeError(
      `Cannot add Gaussian noise: sigma must be a finite number >= 0, got ${sigma}`,
    );
  }
  const data = new Uint8Array(image.data.length);
  for (let k = 0; k < data.length; k++) {
    const value = Math.round(image.data[k] + sigma * rng.normal());
    data[k] = Math.min(255, Math.max(0, value));
  }
  return { data, width: image.width, height: image.height, channels: 3 };
}

/**
 * Sets `round(fraction * width * height)` distinct pixels, chosen uniformly,
 * to black or white in all channels, each with probability 1/2.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @param fraction Share of the pixels to change, in [0, 1].
 * @param rng Source of the choice of pixels and of black or white.
 * @returns The noisy image, `[height, width, 3]` RGB uint8.
 * @throws {RangeError} When fraction is outside [0, 1].
 */
export function addSaltPepper(
  image: RawImage,
  fraction: number,
  rng: Rng,
): RawImage {
  checkImage(image);
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(
      `Cannot add salt-and-pepper noise: fraction must be in [0, 1], got ${fraction}`,
    );
  }
  const pixels = image.width * image.height;
  const data = image.data.slice();
  for (
    const pixel of rng.sampleIndices(pixels, Math.round(fraction * pixels))
  ) {
    const value = rng.uniform() < 0.5 ? 0 : 255;
    data.fill(value, pixel * 3, pixel * 3 + 3);
  }
  return { data, width: image.width, height: image.height, channels: 3 };
}
