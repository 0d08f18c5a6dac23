/**
 * Bilinear resampling of an RGB image through an affine map, shared by the
 * MTCNN crops and the face alignment. Coordinates are continuous pixels:
 * pixel (r, c) covers [c, c + 1) x [r, r + 1) and its value sits at its
 * centre (c + 0.5, r + 0.5).
 *
 * @module
 */

import type { RawImage } from "../data/image.ts";

/**
 * A 2x3 affine matrix [a, b, c, d, e, f] in row-major order, mapping a point
 * (x, y) to (a x + b y + c, d x + e y + f).
 */
export type AffineMatrix = readonly [
  number,
  number,
  number,
  number,
  number,
  number,
];

/**
 * Samples an image bilinearly at the points an affine map sends each output
 * pixel centre to, writing `[height, width, 3]` float values into `out`.
 *
 * The output pixel (r, c) takes the source value at `inverse` applied to
 * (c + 0.5, r + 0.5). Between source pixel centres the four nearest centres
 * are blended, and a centre outside the source counts as black, as OpenCV's
 * `warpAffine` with a constant zero border does. So a point half a pixel
 * beyond the edge gets half the edge value, and points further out get 0.
 *
 * @param image The source, `[H, W, 3]` RGB uint8.
 * @param inverse Map from output coordinates to source coordinates.
 * @param width Output width in pixels.
 * @param height Output height in pixels.
 * @param out Destination with room for `width * height * 3` values from
 *   `offset`; every value in that range is written.
 * @param offset First index written in `out`.
 */
export function sampleAffine(
  image: RawImage,
  inverse: AffineMatrix,
  width: number,
  height: number,
  out: Float32Array,
  offset = 0,
): void {
  const [a, b, c, d, e, f] = inverse;
  const sourceWidth = image.width;
  const sourceHeight = image.height;
  const source = image.data;
  const rowStride = sourceWidth * 3;
  for (let r = 0; r < height; r++) {
    const v = r + 0.5;
    // Source position of the output pixel (r, 0) in pixel-centre indices,
    // where source pixel (i, j) sits at (j, i).
    const rowX = a * 0.5 + b * v + c - 0.5;
    const rowY = d * 0.5 + e * v + f - 0.5;
    for (let col = 0; col < width; col++) {
      const x = rowX + a * col;
      const y = rowY + d * col;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = offset + (r * width + col) * 3;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < sourceWidth && y0 + 1 < sourceHeight) {
        const i00 = y0 * rowStride + x0 * 3;
        const i10 = i00 + rowStride;
        const w00 = (1 - fx) * (1 - fy);
        const w01 = fx * (1 - fy);
        const w10 = (1 - fx) * fy;
        const w11 = fx * fy;
        for (let ch = 0; ch < 3; ch++) {
          out[o + ch] = w00 * source[i00 + ch] + w01 * source[i00 + 3 + ch] +
            w10 * source[i10 + ch] + w11 * source[i10 + 3 + ch];
        }
      } else if (
        x0 < -1 || y0 < -1 || x0 >= sourceWidth || y0 >= sourceHeight
      ) {
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
      } else {
        // Near the border: blend only the neighbours inside the source.
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
        for (let dy = 0; dy < 2; dy++) {
          const yi = y0 + dy;
          if (yi < 0 || yi >= sourceHeight) continue;
          const wy = dy === 0 ? 1 - fy : fy;
          for (let dx = 0; dx < 2; dx++) {
            const xi = x0 + dx;
            if (xi < 0 || xi >= sourceWidth) continue;
            const weight = wy * (dx === 0 ? 1 - fx : fx);
            const i = yi * rowStride + xi * 3;
            out[o] += weight * source[i];
            out[o + 1] += weight * source[i + 1];
            out[o + 2] += weight * source[i + 2];
          }
        }
      }
    }
  }
}
