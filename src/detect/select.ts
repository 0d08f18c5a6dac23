/**
 * The choice of one face per image for dataset construction: the recipe
 * keeps the largest central face when MTCNN finds several, and reports an
 * image without a face instead of keeping it.
 *
 * @module
 */

import { boxArea } from "./boxes.ts";
import type { Face } from "./mtcnn.ts";

/** The error for an image without a detected face; the dataset builder counts and lists these. */
export class NoFaceError extends Error {
  /** The image file, or another name of the image. */
  path: string;

  constructor(path: string) {
    super(
      `No face found in "${path}": check that the image shows a face at least the minimum face size across, or turn detection off for sources that are already aligned crops`,
    );
    this.name = "NoFaceError";
    this.path = path;
  }
}

/**
 * Picks the largest central face.
 *
 * Each face is weighted by its box area times 1 - d / r, where d is the
 * distance from the box centre to the image centre and r is half the image
 * diagonal. The weight is 0 where d >= r. So a face at the centre counts
 * with its whole area, a face half-way to a corner with half of it. The face
 * of highest weight wins. Ties, including all weights 0, go to the earlier
 * face, which is the higher-scored one when `faces` comes from
 * `detectFaces`.
 *
 * @param faces The detected faces.
 * @param width Image width in pixels.
 * @param height Image height in pixels.
 * @param path The image file, for the error.
 * @returns The chosen face.
 * @throws {NoFaceError} When `faces` is empty.
 */
export function selectFace(
  faces: readonly Face[],
  width: number,
  height: number,
  path: string,
): Face {
  if (faces.length === 0) throw new NoFaceError(path);
  const halfDiagonal = Math.hypot(width, height) / 2;
  let best = faces[0];
  let bestWeight = -1;
  for (const face of faces) {
    const { box } = face;
    const distance = Math.hypot(
      (box.x1 + box.x2) / 2 - width / 2,
      (box.y1 + box.y2) / 2 - height / 2,
    );
    const weight = boxArea(box) * Math.max(0, 1 - distance / halfDiagonal);
    if (weight > bestWeight) {
      best = face;
      bestWeight = weight;
    }
  }
  return best;
}
