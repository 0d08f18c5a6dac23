/**
 * Face alignment for MobileFaceNet's 112x112 input: the least-squares
 * similarity transform (Umeyama 1991) from five MTCNN landmarks onto the
 * ArcFace template, and a bilinear warp. The paper aligns its training and
 * test faces with MTCNN's five landmarks before cropping to 112x112.
 *
 * Coordinates are continuous pixels: pixel (r, c) covers [c, c + 1) x
 * [r, r + 1), so its centre is (c + 0.5, r + 0.5).
 *
 * @module
 */

import type { RawImage } from "../data/image.ts";
import type { Point } from "./boxes.ts";
import { type AffineMatrix, sampleAffine } from "./_sample.ts";

/**
 * The ArcFace (insightface) five-point template of a 112x112 face, in the
 * order left eye, right eye, nose tip, left mouth corner, right mouth corner
 * as seen in the image. The values are as published, in OpenCV pixel
 * indices, where the centre of pixel (r, c) is (c, r).
 */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * Returns the ArcFace template for a `size` x `size` output in continuous
 * pixel coordinates: each published point moves by half a pixel to the
 * continuous convention and is then scaled by size / 112.
 *
 * @param size Output side in pixels.
 * @returns Five points, in the order of {@linkcode ARCFACE_TEMPLATE_112}.
 */
export function arcfaceTemplate(size: number): Point[] {
  return ARCFACE_TEMPLATE_112.map((
    [x, y],
  ) => [(x + 0.5) * size / 112, (y + 0.5) * size / 112]);
}

/**
 * Estimates the similarity transform (rotation, uniform scale, translation)
 * that maps `source` onto `target` with the least sum of squared distances
 * (Umeyama, "Least-squares estimation of transformation parameters between
 * two point patterns", IEEE TPAMI 13(4), 1991).
 *
 * In 2D every rotation-and-scale matrix is [[a, -b], [b, a]], so the problem
 * is linear in a and b. With both point sets centred on their means (p, q):
 * a = sum(px qx + py qy) / sum(|p|^2), b = sum(px qy - py qx) / sum(|p|^2),
 * and the translation takes the source mean to the target mean. This is
 * Umeyama's solution restricted to 2D; no reflection can occur.
 *
 * @param source At least two points.
 * @param target As many points as `source`.
 * @returns The forward matrix [a, -b, tx, b, a, ty].
 * @throws {TypeError} When the point counts differ or are below two.
 * @throws {RangeError} When a coordinate is not finite, or all source points
 *   coincide, which leaves the rotation undetermined.
 */
export function estimateSimilarity(
  source: readonly Point[],
  target: readonly Point[],
): AffineMatrix {
  if (source.length !== target.length || source.length < 2) {
    throw new TypeError(
      `Cannot estimate similarity transform: expected two equal sets of at least 2 points, got ${source.length} and ${target.length}`,
    );
  }
  for (const [x, y] of [...source, ...target]) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new RangeError(
        `Cannot estimate similarity transform: point (${x}, ${y}) is not finite`,
      );
    }
  }

  const n = source.length;
  const meanOf = (points: readonly Point[]): Point => [
    points.reduce((sum, p) => sum + p[0], 0) / n,
    points.reduce((sum, p) => sum + p[1], 0) / n,
  ];
  const [sourceX, sourceY] = meanOf(source);
  const [targetX, targetY] = meanOf(target);

  let dot = 0;
  let cross = 0;
  let sourceVariance = 0;
  for (let i = 0; i < n; i++) {
    const px = source[i][0] - sourceX;
    const py = source[i][1] - sourceY;
    const qx = target[i][0] - targetX;
    const qy = target[i][1] - targetY;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    sourceVariance += px * px + py * py;
  }
  if (sourceVariance === 0) {
    throw new RangeError(
      `Cannot estimate similarity transform: all ${n} source points are at (${sourceX}, ${sourceY})`,
    );
  }
  const a = dot / sourceVariance;
  const b = cross / sourceVariance;
  return [
    a,
    -b,
    targetX - (a * sourceX - b * sourceY),
    b,
    a,
    targetY - (b * sourceX + a * sourceY),
  ];
}

/**
 * Inverts an affine matrix.
 *
 * @throws {RangeError} When the matrix is singular.
 */
export function invertAffine(matrix: AffineMatrix): AffineMatrix {
  const [a, b, c, d, e, f] = matrix;
  const determinant = a * e - b * d;
  if (determinant === 0 || !Number.isFinite(determinant)) {
    throw new RangeError(
      `Cannot invert affine matrix [${
        matrix.join(", ")
      }]: determinant is ${determinant}`,
    );
  }
  const ia = e / determinant;
  const ib = -b / determinant;
  const id = -d / determinant;
  const ie = a / determinant;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Warps an image by an affine map with bilinear sampling. Output pixels
 * whose source lies outside the image are black, and those within half a
 * pixel of the edge blend the edge with black (see `sampleAffine`).
 *
 * @param image Source, `[H, W, 3]` RGB uint8.
 * @param forward Map from source to output coordinates.
 * @param width Output width in pixels.
 * @param height Output height in pixels.
 * @returns `[height, width, 3]` RGB uint8, values rounded to nearest.
 * @throws {RangeError} When `forward` is singular or a size is not a
 *   positive integer.
 */
export function warpAffine(
  image: RawImage,
  forward: AffineMatrix,
  width: number,
  height: number,
): RawImage {
  for (const [name, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot warp image: ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  const values = new Float32Array(width * height * 3);
  sampleAffine(image, invertAffine(forward), width, height, values);
  // Uint8ClampedArray rounds to nearest (ties to even) and clamps to 0..255.
  const clamped = Uint8ClampedArray.from(values);
  return {
    data: new Uint8Array(clamped.buffer),
    width,
    height,
    channels: 3,
  };
}

/**
 * Aligns a face: fits the similarity transform from its five landmarks to
 * the ArcFace template scaled to `size`, and warps the image with it.
 *
 * @example Align a detected face
 * ```ts ignore
 * const face = selectFace(await detectFaces(image, nets, MTCNN_DEFAULTS), image.width, image.height, path);
 * const aligned = alignFace(image, face.landmarks, 112);
 * ```
 *
 * @param image Source, `[H, W, 3]` RGB uint8.
 * @param landmarks Five points in continuous pixel coordinates of `image`,
 *   in the order of {@linkcode ARCFACE_TEMPLATE_112}, as `detectFaces`
 *   returns them.
 * @param size Output side in pixels; 112 for MobileFaceNet.
 * @returns `[size, size, 3]` RGB uint8.
 * @throws {TypeError} When there are not five landmarks.
 * @throws {RangeError} When a landmark is not finite, all landmarks
 *   coincide, or `size` is not a positive integer.
 */
export function alignFace(
  image: RawImage,
  landmarks: readonly Point[],
  size = 112,
): RawImage {
  if (landmarks.length !== 5) {
    throw new TypeError(
      `Cannot align face: expected 5 landmarks, got ${landmarks.length}`,
    );
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot align face: size must be a positive integer, got ${size}`,
    );
  }
  const forward = estimateSimilarity(landmarks, arcfaceTemplate(size));
  return warpAffine(image, forward, size, size);
}
