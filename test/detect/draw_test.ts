import assert from "node:assert/strict";
import type { RawImage } from "../../src/data/image.ts";
import { drawFaces } from "../../src/detect/draw.ts";

const GREEN = [0, 255, 0];
const RED = [255, 0, 0];
const BLACK = [0, 0, 0];

function blackImage(width: number, height: number): RawImage {
  return {
    data: new Uint8Array(width * height * 3),
    width,
    height,
    channels: 3,
  };
}

function pixel(image: RawImage, row: number, column: number): number[] {
  const i = (row * image.width + column) * 3;
  return Array.from(image.data.subarray(i, i + 3));
}

Deno.test("drawFaces outlines the box and marks landmarks", () => {
  const image = blackImage(8, 8);
  // Box [1, 7) x [1, 7) covers pixel rows and columns 1 to 6.
  const drawn = drawFaces(image, [{
    box: { x1: 1, y1: 1, x2: 7, y2: 7 },
    score: 1,
    landmarks: [[3.7, 4.2]],
  }], { lineWidth: 1 });
  assert.deepEqual(pixel(drawn, 0, 0), BLACK, "outside");
  assert.deepEqual(pixel(drawn, 1, 1), GREEN, "top-left corner");
  assert.deepEqual(pixel(drawn, 6, 6), GREEN, "bottom-right corner");
  assert.deepEqual(pixel(drawn, 1, 4), GREEN, "top edge");
  assert.deepEqual(pixel(drawn, 2, 6), GREEN, "right edge");
  assert.deepEqual(pixel(drawn, 2, 2), BLACK, "inside");
  assert.deepEqual(pixel(drawn, 7, 7), BLACK, "below the box");
  // The landmark lies in pixel (row 4, column 3), so its mark spans rows 3
  // to 5 and columns 2 to 4.
  assert.deepEqual(pixel(drawn, 4, 3), RED, "landmark");
  assert.deepEqual(pixel(drawn, 3, 2), RED, "landmark mark corner");
  assert.deepEqual(pixel(drawn, 2, 3), BLACK, "above the mark");
});

Deno.test("drawFaces leaves the input unchanged", () => {
  const image = blackImage(4, 4);
  drawFaces(image, [{
    box: { x1: 0, y1: 0, x2: 4, y2: 4 },
    score: 1,
    landmarks: [[2, 2]],
  }]);
  assert.ok(image.data.every((v) => v === 0));
});

Deno.test("drawFaces clips a box beyond the image", () => {
  const drawn = drawFaces(blackImage(4, 4), [{
    box: { x1: -3.5, y1: 2.5, x2: 9, y2: 12 },
    score: 1,
    landmarks: [[-10, 50]],
  }], { lineWidth: 1 });
  // Only the top edge, row 2, lies inside the image.
  assert.deepEqual(pixel(drawn, 2, 0), GREEN);
  assert.deepEqual(pixel(drawn, 2, 3), GREEN);
  assert.deepEqual(pixel(drawn, 3, 1), BLACK);
  assert.deepEqual(pixel(drawn, 1, 1), BLACK);
});

Deno.test("drawFaces rejects a fractional line width", () => {
  assert.throws(
    () => drawFaces(blackImage(4, 4), [], { lineWidth: 1.5 }),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message ===
        "Cannot draw faces: lineWidth must be a positive integer, got 1.5",
  );
});
