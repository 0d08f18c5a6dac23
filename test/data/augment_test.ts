import assert from "node:assert/strict";
import {
  addGaussianNoise,
  addSaltPepper,
  open,
} from "../../src/data/augment.ts";
import type { RawImage } from "../../src/data/image.ts";
import { deriveRng } from "../../src/rng.ts";
import { makeImage } from "./_helpers.ts";

/** Makes an RGB image whose three channels all hold `grey` (row-major). */
function greyImage(grey: number[][]): RawImage {
  return makeImage(grey[0].length, grey.length, (y, x) => grey[y][x]);
}

/** Returns the first channel as rows. */
function firstChannel(image: RawImage): number[][] {
  return Array.from(
    { length: image.height },
    (_, y) =>
      Array.from(
        { length: image.width },
        (_, x) => image.data[(y * image.width + x) * 3],
      ),
  );
}

Deno.test("open removes bright specks and keeps plateaus", () => {
  const input = [
    [9, 9, 9, 0, 0],
    [9, 9, 9, 0, 5],
    [9, 9, 9, 0, 0],
    [0, 0, 0, 0, 0],
  ];
  // Erosion with a 3x3 square, out-of-image pixels ignored (minimum over the
  // in-image part of each window):
  //   row 0: min of rows 0-1 -> [9, 9, 0, 0, 0]
  //   row 1: min of rows 0-2 -> [9, 9, 0, 0, 0]
  //   row 2: min of rows 1-3 -> [0, 0, 0, 0, 0]
  //   row 3: min of rows 2-3 -> [0, 0, 0, 0, 0]
  // Dilation of that (maximum over each window):
  //   row 0: max of eroded rows 0-1 -> [9, 9, 9, 0, 0]
  //   row 1: max of eroded rows 0-2 -> [9, 9, 9, 0, 0]
  //   row 2: max of eroded rows 1-3 -> [9, 9, 9, 0, 0]
  //   row 3: max of eroded rows 2-3 -> [0, 0, 0, 0, 0]
  // The isolated 5 disappears; the 3x3 block of 9 survives whole.
  const expected = [
    [9, 9, 9, 0, 0],
    [9, 9, 9, 0, 0],
    [9, 9, 9, 0, 0],
    [0, 0, 0, 0, 0],
  ];
  assert.deepEqual(firstChannel(open(greyImage(input), 3)), expected);
});

Deno.test("open treats channels separately", () => {
  // Red is a bright speck, green a flat 7, blue a dark speck in a flat 8.
  const image = makeImage(3, 3, (y, x, c) => {
    const centre = y === 1 && x === 1;
    return [centre ? 200 : 0, 7, centre ? 1 : 8][c];
  });
  const opened = open(image, 3);
  for (let p = 0; p < 9; p++) {
    assert.equal(opened.data[p * 3], 0, `red at pixel ${p}`);
    assert.equal(opened.data[p * 3 + 1], 7, `green at pixel ${p}`);
    // Every 3x3 window contains the dark centre, so erosion gives 1 everywhere.
    assert.equal(opened.data[p * 3 + 2], 1, `blue at pixel ${p}`);
  }
});

Deno.test("open with size 1 copies the image", () => {
  const image = makeImage(4, 3, (y, x, c) => y * 40 + x * 10 + c);
  assert.deepEqual(open(image, 1).data, image.data);
});

Deno.test("open leaves the input unchanged", () => {
  const image = greyImage([[0, 9, 0]]);
  const before = image.data.slice();
  open(image, 3);
  assert.deepEqual(image.data, before);
});

Deno.test("open rejects size 0", () => {
  assert.throws(() => open(greyImage([[1]]), 0), {
    name: "RangeError",
    message: "Cannot open image: size must be a positive integer, got 0",
  });
});

Deno.test("addGaussianNoise repeats from a seed", async () => {
  const image = makeImage(16, 16, () => 128);
  const first = addGaussianNoise(image, 10, await deriveRng(1, "noise"));
  const second = addGaussianNoise(image, 10, await deriveRng(1, "noise"));
  const other = addGaussianNoise(image, 10, await deriveRng(2, "noise"));
  assert.deepEqual(first.data, second.data);
  assert.notDeepEqual(first.data, other.data);
});

Deno.test("addGaussianNoise has the requested spread", async () => {
  const image = makeImage(64, 64, () => 128);
  const noisy = addGaussianNoise(image, 10, await deriveRng(3, "noise"));
  const values = Array.from(noisy.data);
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const std = Math.sqrt(
    values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length,
  );
  // 12,288 samples: the mean is within 0.5 and the deviation within 0.5 of
  // their targets with a wide margin (standard errors 0.09 and 0.06).
  assert.ok(Math.abs(mean - 128) < 0.5, `mean ${mean}`);
  assert.ok(Math.abs(std - 10) < 0.5, `std ${std}`);
});

Deno.test("addGaussianNoise clamps to 0..255", async () => {
  const image = makeImage(32, 32, (_y, x) => (x % 2 === 0 ? 0 : 255));
  const noisy = addGaussianNoise(image, 50, await deriveRng(4, "noise"));
  assert.ok(noisy.data.some((value) => value === 0));
  assert.ok(noisy.data.some((value) => value === 255));
  assert.ok(noisy.data.some((value) => value > 0 && value < 255));
});

Deno.test("addGaussianNoise rejects a negative sigma", async () => {
  const rng = await deriveRng(1, "noise");
  assert.throws(() => addGaussianNoise(greyImage([[1]]), -1, rng), {
    name: "RangeError",
    message:
      "Cannot add Gaussian noise: sigma must be a finite number >= 0, got -1",
  });
});

Deno.test("addSaltPepper changes the requested pixels", async () => {
  const image = makeImage(40, 25, () => 100);
  const noisy = addSaltPepper(image, 0.1, await deriveRng(5, "salt"));
  let black = 0;
  let white = 0;
  for (let p = 0; p < 1000; p++) {
    const [r, g, b] = noisy.data.subarray(p * 3, p * 3 + 3);
    assert.equal(g, r, `pixel ${p}: green differs from red`);
    assert.equal(b, r, `pixel ${p}: blue differs from red`);
    if (r === 0) black++;
    if (r === 255) white++;
  }
  assert.equal(black + white, 100);
  // Each changed pixel is black with probability 1/2: 100 draws land in
  // 25..75 with probability above 0.9999.
  assert.ok(black >= 25, `black ${black}`);
  assert.ok(black <= 75, `black ${black}`);
});

Deno.test("addSaltPepper repeats from a seed", async () => {
  const image = makeImage(20, 20, () => 100);
  const first = addSaltPepper(image, 0.2, await deriveRng(6, "salt"));
  const second = addSaltPepper(image, 0.2, await deriveRng(6, "salt"));
  assert.deepEqual(first.data, second.data);
  assert.ok(image.data.every((value) => value === 100));
});

Deno.test("addSaltPepper rejects a fraction above 1", async () => {
  const rng = await deriveRng(1, "salt");
  assert.throws(() => addSaltPepper(greyImage([[1]]), 1.5, rng), {
    name: "RangeError",
    message:
      "Cannot add salt-and-pepper noise: fraction must be in [0, 1], got 1.5",
  });
});
