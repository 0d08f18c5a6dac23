import assert from "node:assert/strict";
import type { RawImage } from "../../src/data/image.ts";
import {
  alignFace,
  ARCFACE_TEMPLATE_112,
  arcfaceTemplate,
  estimateSimilarity,
  invertAffine,
  warpAffine,
} from "../../src/detect/align.ts";
import type { Point } from "../../src/detect/boxes.ts";
import { cropBoxes } from "../../src/detect/mtcnn.ts";

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${label}[${i}]: expected ${expected[i]}, got ${actual[i]}`,
    );
  }
}

/** Builds a 2x2 image whose red channel is [[0, 100], [200, 40]], green 255 - red, blue 7. */
function tinyImage(): RawImage {
  const red = [0, 100, 200, 40];
  return {
    data: Uint8Array.from(red.flatMap((v) => [v, 255 - v, 7])),
    width: 2,
    height: 2,
    channels: 3,
  };
}

/** Builds an image whose pixel bytes follow (i * 37 + 11) mod 256. */
function patternImage(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) % 256;
  return { data, width, height, channels: 3 };
}

function channel(image: { data: ArrayLike<number> }, c: number): number[] {
  return Array.from(image.data).filter((_, i) => i % 3 === c);
}

// Magnifying the tiny image by 2 samples it at pixel-centre indices -0.25,
// 0.25, 0.75 and 1.25 on each axis. So the per-axis weights of pixels 0 and
// 1 are (0.75, 0), (0.75, 0.25), (0.25, 0.75) and (0, 0.75), because a
// weight beyond the image falls on the black border.
const MAGNIFIED_RED = [
  [0, 18.75, 56.25, 56.25],
  [37.5, 58.75, 76.25, 63.75],
  [112.5, 126.25, 78.75, 41.25],
  [112.5, 120, 60, 22.5],
].flat();

Deno.test("cropBoxes samples bilinearly with black border", () => {
  // The box [0, 2) x [0, 2) at 4x4 is the magnification by 2.
  const pixels = cropBoxes(tinyImage(), [{ x1: 0, y1: 0, x2: 2, y2: 2 }], 4);
  assertClose(channel({ data: pixels }, 0), MAGNIFIED_RED, 1e-5, "red");
  // Blue is 7 everywhere, so each output is 7 times its in-image weight.
  const coverage = [0.75, 1, 1, 0.75];
  const blue = coverage.flatMap((wy) => coverage.map((wx) => 7 * wy * wx));
  assertClose(channel({ data: pixels }, 2), blue, 1e-5, "blue");
});

Deno.test("cropBoxes is black outside the image", () => {
  const pixels = cropBoxes(tinyImage(), [{ x1: 5, y1: -9, x2: 9, y2: -5 }], 2);
  assert.deepEqual(Array.from(pixels), new Array(12).fill(0));
});

Deno.test("warpAffine rounds bilinear values to nearest even", () => {
  const warped = warpAffine(tinyImage(), [2, 0, 0, 0, 2, 0], 4, 4);
  assert.equal(warped.width, 4);
  assert.equal(warped.height, 4);
  // Uint8ClampedArray rounds ties to even: 37.5 -> 38, 112.5 -> 112, 22.5 -> 22.
  assert.deepEqual(
    channel(warped, 0),
    [
      [0, 19, 56, 56],
      [38, 59, 76, 64],
      [112, 126, 79, 41],
      [112, 120, 60, 22],
    ].flat(),
  );
});

Deno.test("warpAffine rotates by a quarter turn exactly", () => {
  // (x, y) -> (2 - y, x) turns a 3x2 image into a 2x3 one, clockwise.
  const image = patternImage(3, 2);
  const warped = warpAffine(image, [0, -1, 2, 1, 0, 0], 2, 3);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 2; c++) {
      // Output centre (c + 0.5, r + 0.5) comes from source (r + 0.5, 1.5 - c).
      const source = ((1 - c) * 3 + r) * 3;
      const target = (r * 2 + c) * 3;
      assert.deepEqual(
        Array.from(warped.data.subarray(target, target + 3)),
        Array.from(image.data.subarray(source, source + 3)),
        `output pixel (${r}, ${c})`,
      );
    }
  }
});

Deno.test("invertAffine undoes a matrix", () => {
  const inverse = invertAffine([2, -1, 5, 1, 3, -4]);
  // Determinant 7; inverse linear part [[3, 1], [-1, 2]] / 7.
  assertClose(
    inverse,
    [3 / 7, 1 / 7, -(15 - 4) / 7, -1 / 7, 2 / 7, -(-5 - 8) / 7],
    1e-12,
    "inverse",
  );
});

Deno.test("invertAffine rejects a singular matrix", () => {
  assert.throws(
    () => invertAffine([1, 2, 0, 2, 4, 0]),
    (error: unknown) =>
      error instanceof RangeError && /determinant is 0/.test(error.message),
  );
});

Deno.test("estimateSimilarity recovers rotation, scale and shift", () => {
  const angle = Math.PI / 6;
  const scale = 1.5;
  const a = scale * Math.cos(angle);
  const b = scale * Math.sin(angle);
  const source: Point[] = [[30, 50], [70, 48], [52, 70], [35, 90], [68, 91]];
  const target = source.map(([x, y]): Point => [
    a * x - b * y + 10,
    b * x + a * y - 5,
  ]);
  assertClose(
    estimateSimilarity(source, target),
    [a, -b, 10, b, a, -5],
    1e-9,
    "matrix",
  );
});

Deno.test("estimateSimilarity fits a mirror with least squares", () => {
  // No similarity mirrors (0, 0), (1, 0), (0, 1) onto (0, 0), (1, 0),
  // (0, -1). Centred, sum(p.q) = 0, sum(p x q) = 2/3 and sum(|p|^2) = 4/3,
  // so a = 0 and b = 1/2: a quarter turn at half scale about the means.
  const matrix = estimateSimilarity(
    [[0, 0], [1, 0], [0, 1]],
    [[0, 0], [1, 0], [0, -1]],
  );
  // Translation: (1/3, -1/3) - [[0, -1/2], [1/2, 0]] (1/3, 1/3).
  assertClose(matrix, [0, -0.5, 0.5, 0.5, 0, -0.5], 1e-12, "matrix");
});

Deno.test("estimateSimilarity rejects coincident points", () => {
  assert.throws(
    () => estimateSimilarity([[1, 2], [1, 2]], [[0, 0], [1, 1]]),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message ===
        "Cannot estimate similarity transform: all 2 source points are at (1, 2)",
  );
});

Deno.test("estimateSimilarity rejects unequal point counts", () => {
  assert.throws(
    () => estimateSimilarity([[1, 2], [3, 4]], [[0, 0]]),
    (error: unknown) =>
      error instanceof TypeError && /got 2 and 1/.test(error.message),
  );
});

Deno.test("arcfaceTemplate shifts to centres and scales", () => {
  const at112 = arcfaceTemplate(112);
  const at224 = arcfaceTemplate(224);
  ARCFACE_TEMPLATE_112.forEach(([x, y], i) => {
    assertClose(at112[i], [x + 0.5, y + 0.5], 1e-12, `112 point ${i}`);
    assertClose(at224[i], [2 * x + 1, 2 * y + 1], 1e-12, `224 point ${i}`);
  });
});

Deno.test("alignFace keeps a face already on the template", () => {
  const image = patternImage(112, 112);
  const aligned = alignFace(image, arcfaceTemplate(112), 112);
  assert.deepEqual(aligned.data, image.data);
});

Deno.test("alignFace shrinks a face twice the template size", () => {
  // Each pixel of the small image repeated 2x2: the warp samples the middle
  // of each 2x2 block, where all four neighbours equal the small pixel.
  const small = patternImage(56, 56);
  const large = new Uint8Array(112 * 112 * 3);
  for (let r = 0; r < 112; r++) {
    for (let c = 0; c < 112; c++) {
      const from = ((r >> 1) * 56 + (c >> 1)) * 3;
      large.set(small.data.subarray(from, from + 3), (r * 112 + c) * 3);
    }
  }
  const image: RawImage = { data: large, width: 112, height: 112, channels: 3 };
  const aligned = alignFace(image, arcfaceTemplate(112), 56);
  assert.deepEqual(aligned.data, small.data);
});

Deno.test("alignFace rejects four landmarks", () => {
  assert.throws(
    () => alignFace(patternImage(4, 4), arcfaceTemplate(112).slice(0, 4)),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message === "Cannot align face: expected 5 landmarks, got 4",
  );
});

Deno.test("alignFace rejects a non-finite landmark", () => {
  const landmarks = arcfaceTemplate(112);
  landmarks[2] = [NaN, 3];
  assert.throws(
    () => alignFace(patternImage(4, 4), landmarks),
    (error: unknown) =>
      error instanceof RangeError && /point \(NaN, 3\)/.test(error.message),
  );
});
