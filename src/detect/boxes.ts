/**
 * Box arithmetic of the MTCNN cascade (Zhang et al. 2016, arXiv:1604.02878):
 * greedy non-maximum suppression, bounding-box regression and squaring.
 *
 * Coordinates are continuous image coordinates in pixels: pixel (row r,
 * column c) covers [c, c + 1) x [r, r + 1), so its centre is (c + 0.5,
 * r + 0.5). A box [x1, x2) x [y1, y2) has width x2 - x1 and height y2 - y1,
 * with no "+ 1" as in the MATLAB reference, whose boxes are inclusive integer
 * pixel indices. Boxes may reach outside the image.
 *
 * @module
 */

/** An axis-aligned box in continuous pixel coordinates, right and bottom edges exclusive. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** A point (x, y) in continuous pixel coordinates. */
export type Point = [x: number, y: number];

/** Overlap measure of {@linkcode nonMaxSuppression}. */
export type OverlapMode = "union" | "min";

/** Returns the area of a box, 0 when it is empty or inverted. */
export function boxArea(box: Box): number {
  return Math.max(0, box.x2 - box.x1) * Math.max(0, box.y2 - box.y1);
}

/**
 * Computes the overlap of two boxes: the intersection area over the union
 * area (`"union"`, IoU) or over the smaller of the two areas (`"min"`).
 *
 * @returns A value in [0, 1]; 0 when either box is empty.
 */
export function overlap(a: Box, b: Box, mode: OverlapMode): number {
  const width = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const height = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const areaA = boxArea(a);
  const areaB = boxArea(b);
  const denominator = mode === "union"
    ? areaA + areaB - intersection
    : Math.min(areaA, areaB);
  return intersection / denominator;
}

/**
 * Selects boxes by greedy non-maximum suppression.
 *
 * Boxes are visited by score, highest first (equal scores in input order).
 * A box is kept unless its overlap with an already kept box exceeds
 * `threshold`, so an overlap equal to the threshold survives, as in the
 * reference implementations.
 *
 * @param boxes The candidate boxes.
 * @param scores One score per box.
 * @param threshold Largest overlap allowed with a kept box, in [0, 1].
 * @param mode `"union"` for IoU, `"min"` for intersection over the smaller area.
 * @returns Indices into `boxes` of the kept boxes, highest score first.
 * @throws {TypeError} When `scores` and `boxes` differ in length.
 */
export function nonMaxSuppression(
  boxes: readonly Box[],
  scores: ArrayLike<number>,
  threshold: number,
  mode: OverlapMode,
): number[] {
  if (scores.length !== boxes.length) {
    throw new TypeError(
      `Cannot suppress boxes: expected ${boxes.length} scores, got ${scores.length}`,
    );
  }
  const order = Array.from(boxes.keys());
  // Array.prototype.sort is stable, so equal scores keep input order.
  order.sort((i, j) => scores[j] - scores[i]);
  const kept: number[] = [];
  for (const candidate of order) {
    const suppressed = kept.some((k) =>
      overlap(boxes[k], boxes[candidate], mode) > threshold
    );
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}

/**
 * Moves the edges of a box by a network's regression output.
 *
 * `offsets` are (dx1, dy1, dx2, dy2) as fractions of the box width w and
 * height h: x1' = x1 + dx1 w, y1' = y1 + dy1 h, x2' = x2 + dx2 w,
 * y2' = y2 + dy2 h.
 *
 * @param box The box the network saw.
 * @param offsets Four fractions, in the order above.
 * @returns The regressed box.
 */
export function regressBox(box: Box, offsets: ArrayLike<number>): Box {
  const width = box.x2 - box.x1;
  const height = box.y2 - box.y1;
  return {
    x1: box.x1 + offsets[0] * width,
    y1: box.y1 + offsets[1] * height,
    x2: box.x2 + offsets[2] * width,
    y2: box.y2 + offsets[3] * height,
  };
}

/**
 * Grows a box to a square about the same centre, with side max(w, h).
 * R-Net and O-Net see square crops, so each stage squares its boxes first.
 * Coordinates stay fractional: the crops are sampled bilinearly, so no
 * rounding to the pixel grid is needed.
 */
export function squareBox(box: Box): Box {
  const side = Math.max(box.x2 - box.x1, box.y2 - box.y1);
  const centreX = (box.x1 + box.x2) / 2;
  const centreY = (box.y1 + box.y2) / 2;
  return {
    x1: centreX - side / 2,
    y1: centreY - side / 2,
    x2: centreX + side / 2,
    y2: centreY + side / 2,
  };
}
