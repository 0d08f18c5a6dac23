import assert from "node:assert/strict";
import { pnetCandidates, pyramidLevels } from "../../src/detect/pyramid.ts";

Deno.test("pyramidLevels lists scales until 12 pixels", () => {
  // 12 / 20 = 0.6; shorter side 60 gives 36, 25.5, 18.1, 12.8, then 9.1 < 12.
  const levels = pyramidLevels(100, 60, 20, 0.709);
  const expectedScales = [0.6, 0.4254, 0.30160860, 0.21384050];
  assert.equal(levels.length, expectedScales.length);
  levels.forEach((level, i) => {
    assert.ok(
      Math.abs(level.scale - expectedScales[i]) < 1e-8,
      `scale ${i}: expected ${expectedScales[i]}, got ${level.scale}`,
    );
  });
  assert.deepEqual(levels.map((l) => [l.width, l.height]), [
    [60, 36],
    [43, 26],
    [31, 19],
    [22, 13],
  ]);
});

Deno.test("pyramidLevels is empty below the minimum face", () => {
  assert.deepEqual(pyramidLevels(30, 19, 20, 0.709), []);
});

Deno.test("pnetCandidates maps cells to image boxes", () => {
  // A 16x14 level of a 32x21 image: 3 columns and 2 rows of windows, scale
  // 1/2 in x and 2/3 in y.
  const level = { scale: 0.5, width: 16, height: 14 };
  const probability = [0.1, 0.7, 0.2, 0.6, 0.59, 0.9];
  const regression = Array.from({ length: 24 }, (_, i) => i / 100);
  const candidates = pnetCandidates(
    probability,
    regression,
    level,
    { width: 32, height: 21 },
    0.6,
  );
  assert.deepEqual(candidates, [
    {
      box: { x1: 4, y1: 0, x2: 28, y2: 18 },
      score: 0.7,
      offsets: [0.04, 0.05, 0.06, 0.07],
    },
    {
      box: { x1: 0, y1: 3, x2: 24, y2: 21 },
      score: 0.6,
      offsets: [0.12, 0.13, 0.14, 0.15],
    },
    {
      box: { x1: 8, y1: 3, x2: 32, y2: 21 },
      score: 0.9,
      offsets: [0.2, 0.21, 0.22, 0.23],
    },
  ]);
});

Deno.test("pnetCandidates rejects a wrong map size", () => {
  const level = { scale: 0.5, width: 16, height: 14 };
  assert.throws(
    () =>
      pnetCandidates([0.5], [0, 0, 0, 0], level, { width: 32, height: 28 }, 0),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message ===
        "Cannot read P-Net output: expected 2x3 probabilities for a 16x14 level, got 1",
  );
});
