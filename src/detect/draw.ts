/**
 * Rendering of detections onto an image, to check MTCNN by eye: encode the
 * result with `encodePng` and open it.
 *
 * @module
 */

import { checkImage, type RawImage } from "../data/image.ts";
import type { Face } from "./mtcnn.ts";

/** Settings of {@linkcode drawFaces}. */
export interface DrawOptions {
  /** RGB colour of the box outlines. Default green. */
  boxColour?: readonly [number, number, number];
  /** RGB colour of the landmark marks. Default red. */
  landmarkColour?: readonly [number, number, number];
  /**
   * Outline thickness in pixels, drawn inside the box. Default
   * max(1, round(shorter image side / 200)).
   */
  lineWidth?: number;
}

/**
 * Draws each face's box and landmarks onto a copy of an image.
 *
 * A box [x1, x2) x [y1, y2) in continuous pixel coordinates covers the pixel
 * columns floor(x1) to ceil(x2) - 1 and the rows likewise. Its outline takes
 * the outer `lineWidth` of those columns and rows, clipped to the image. A
 * landmark is a filled square of side 2 `lineWidth` + 1 centred on the pixel
 * that contains it.
 *
 * @param image `[H, W, 3]` RGB uint8; left unchanged.
 * @param faces Faces in the image's continuous pixel coordinates.
 * @param options Colours and line width.
 * @returns A new image with the drawing.
 */
export function drawFaces(
  image: RawImage,
  faces: readonly Face[],
  options: DrawOptions = {},
): RawImage {
  checkImage(image);
  const boxColour = options.boxColour ?? [0, 255, 0];
  const landmarkColour = options.landmarkColour ?? [255, 0, 0];
  const lineWidth = options.lineWidth ??
    Math.max(1, Math.round(Math.min(image.width, image.height) / 200));
  if (!Number.isInteger(lineWidth) || lineWidth < 1) {
    throw new RangeError(
      `Cannot draw faces: lineWidth must be a positive integer, got ${lineWidth}`,
    );
  }
  const canvas: RawImage = { ...image, data: image.data.slice() };
  for (const { box, landmarks } of faces) {
    const left = Math.floor(box.x1);
    const top = Math.floor(box.y1);
    const right = Math.ceil(box.x2) - 1;
    const bottom = Math.ceil(box.y2) - 1;
    const inner = lineWidth - 1;
    fillRect(canvas, left, top, right, top + inner, boxColour);
    fillRect(canvas, left, bottom - inner, right, bottom, boxColour);
    fillRect(canvas, left, top, left + inner, bottom, boxColour);
    fillRect(canvas, right - inner, top, right, bottom, boxColour);
    for (const [x, y] of landmarks) {
      const column = Math.floor(x);
      const row = Math.floor(y);
      fillRect(
        canvas,
        column - lineWidth,
        row - lineWidth,
        column + lineWidth,
        row + lineWidth,
        landmarkColour,
      );
    }
  }
  return canvas;
}

/** Fills the pixel columns left..right and rows top..bottom (inclusive), clipped. */
function fillRect(
  image: RawImage,
  left: number,
  top: number,
  right: number,
  bottom: number,
  colour: readonly [number, number, number],
): void {
  const x0 = Math.max(0, left);
  const x1 = Math.min(image.width - 1, right);
  const y0 = Math.max(0, top);
  const y1 = Math.min(image.height - 1, bottom);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      image.data.set(colour, (y * image.width + x) * 3);
    }
  }
}
