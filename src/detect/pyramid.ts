/**
 * The first stage of MTCNN (Zhang et al. 2016, arXiv:1604.02878): the image
 * pyramid on which P-Net slides its 12x12 window, and the candidate windows
 * read from P-Net's probability map. Coordinates are continuous pixels as in
 * `boxes.ts`: pixel (r, c) covers [c, c + 1) x [r, r + 1).
 *
 * @module
 */

import type { Box } from "./boxes.ts";

/** Side of the P-Net window in pixels of a pyramid level. */
export const PNET_WINDOW = 12;
/** Step of the P-Net window in pixels of a pyramid level. */
export const PNET_STRIDE = 2;

/** One pyramid level: the nominal scale and the size of the resized image. */
export interface PyramidLevel {
  /** Nominal scale, 12 / minFaceSize times scaleFactor to the level index. */
  scale: number;
  /** ceil(image width x scale) pixels. */
  width: number;
  /** ceil(image height x scale) pixels. */
  height: number;
}

/** A window that passed a stage's threshold, with its box regression. */
export interface Candidate {
  box: Box;
  /** Face probability from the network. */
  score: number;
  /** (dx1, dy1, dx2, dy2) as fractions of the box side; see `regressBox`. */
  offsets: [number, number, number, number];
}

/**
 * Lists the pyramid levels for an image.
 *
 * A face of `minFaceSize` pixels fills the 12x12 window at scale
 * 12 / minFaceSize, and each further level multiplies the scale by
 * `scaleFactor` while the shorter side of the level is at least 12 pixels.
 * Level sizes round up, as the facenet port of MTCNN does.
 *
 * @param width Image width in pixels.
 * @param height Image height in pixels.
 * @param minFaceSize Smallest face side to detect, in pixels.
 * @param scaleFactor Ratio of consecutive scales, in (0, 1).
 * @returns The levels, largest first; empty when the image is too small.
 */
export function pyramidLevels(
  width: number,
  height: number,
  minFaceSize: number,
  scaleFactor: number,
): PyramidLevel[] {
  const firstScale = PNET_WINDOW / minFaceSize;
  const shorterSide = Math.min(width, height);
  const levels: PyramidLevel[] = [];
  for (let k = 0;; k++) {
    const scale = firstScale * scaleFactor ** k;
    if (shorterSide * scale < PNET_WINDOW) return levels;
    levels.push({
      scale,
      width: Math.ceil(width * scale),
      height: Math.ceil(height * scale),
    });
  }
}

/**
 * Reads the candidate windows off P-Net's output at one pyramid level.
 *
 * The output cell (i, j) looks at the level's pixels [2j, 2j + 12) x
 * [2i, 2i + 12). The box maps back to the image by the level's actual scale
 * per axis, level width / image width and level height / image height,
 * which differ from the nominal scale by the rounding up of the level size.
 * A cell becomes a candidate when its probability is at least `threshold`.
 *
 * @param probability `[rows, cols]` face probabilities, row-major.
 * @param regression `[rows, cols, 4]` box regression, row-major.
 * @param level The pyramid level P-Net ran on.
 * @param image Size of the original image in pixels.
 * @param threshold Lowest probability kept.
 * @returns The candidates in row-major order of their cells, with boxes in
 *   image coordinates and the regression not yet applied.
 * @throws {TypeError} When the array lengths do not match the level size.
 */
export function pnetCandidates(
  probability: ArrayLike<number>,
  regression: ArrayLike<number>,
  level: PyramidLevel,
  image: { width: number; height: number },
  threshold: number,
): Candidate[] {
  const rows = Math.floor((level.height - PNET_WINDOW) / PNET_STRIDE) + 1;
  const cols = Math.floor((level.width - PNET_WINDOW) / PNET_STRIDE) + 1;
  if (probability.length !== rows * cols) {
    throw new TypeError(
      `Cannot read P-Net output: expected ${rows}x${cols} probabilities for a ${level.width}x${level.height} level, got ${probability.length}`,
    );
  }
  if (regression.length !== rows * cols * 4) {
    throw new TypeError(
      `Cannot read P-Net output: expected ${rows}x${cols}x4 regression values, got ${regression.length}`,
    );
  }
  const scaleX = level.width / image.width;
  const scaleY = level.height / image.height;
  const candidates: Candidate[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const cell = i * cols + j;
      if (!(probability[cell] >= threshold)) continue;
      candidates.push({
        box: {
          x1: (PNET_STRIDE * j) / scaleX,
          y1: (PNET_STRIDE * i) / scaleY,
          x2: (PNET_STRIDE * j + PNET_WINDOW) / scaleX,
          y2: (PNET_STRIDE * i + PNET_WINDOW) / scaleY,
        },
        score: probability[cell],
        offsets: [
          regression[4 * cell],
          regression[4 * cell + 1],
          regression[4 * cell + 2],
          regression[4 * cell + 3],
        ],
      });
    }
  }
  return candidates;
}
