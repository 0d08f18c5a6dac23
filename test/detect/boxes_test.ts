import assert from "node:assert/strict";
import {
  type Box,
  nonMaxSuppression,
  overlap,
  regressBox,
  squareBox,
} from "../../src/detect/boxes.ts";

function assertBoxClose(actual: Box, expected: Box, tolerance = 1e-12): void {
  for (const key of ["x1", "y1", "x2", "y2"] as const) {
    assert.ok(
      Math.abs(actual[key] - expected[key]) <= tolerance,
      `${key}: expected ${expected[key]}, got ${actual[key]}`,
    );
  }
}

Deno.test("overlap computes IoU and min ratio", () => {
  const a = { x1: 0, y1: 0, x2: 10, y2: 10 };
  const b = { x1: 5, y1: 0, x2: 15, y2: 10 };
  // Intersection 5 x 10 = 50, union 100 + 100 - 50 = 150, smaller area 100.
  assert.equal(overlap(a, b, "union"), 50 / 150);
  assert.equal(overlap(a, b, "min"), 50 / 100);
});

Deno.test("overlap is zero for touching boxes", () => {
  const a = { x1: 0, y1: 0, x2: 10, y2: 10 };
  const b = { x1: 10, y1: 0, x2: 20, y2: 10 };
  assert.equal(overlap(a, b, "union"), 0);
  assert.equal(overlap(a, b, "min"), 0);
});

Deno.test("nonMaxSuppression by union keeps distinct boxes", () => {
  const boxes = [
    { x1: 0, y1: 0, x2: 10, y2: 10 },
    // IoU with box 0: 90 / 110 = 0.82, suppressed at 0.5.
    { x1: 1, y1: 0, x2: 11, y2: 10 },
    // IoU with box 0: 50 / 150 = 0.33, kept.
    { x1: 5, y1: 0, x2: 15, y2: 10 },
    { x1: 20, y1: 20, x2: 30, y2: 30 },
  ];
  const kept = nonMaxSuppression(boxes, [0.9, 0.8, 0.7, 0.95], 0.5, "union");
  assert.deepEqual(kept, [3, 0, 2]);
});

Deno.test("nonMaxSuppression keeps overlap equal to threshold", () => {
  const boxes = [
    { x1: 0, y1: 0, x2: 10, y2: 10 },
    // IoU 50 / 100 = 0.5 exactly.
    { x1: 0, y1: 0, x2: 10, y2: 5 },
  ];
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8], 0.5, "union"), [0, 1]);
});

Deno.test("nonMaxSuppression by min removes nested box", () => {
  const boxes = [
    { x1: 0, y1: 0, x2: 10, y2: 10 },
    // Inside box 0: IoU 16 / 100 = 0.16, intersection over smaller 1.
    { x1: 2, y1: 2, x2: 6, y2: 6 },
  ];
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8], 0.7, "union"), [0, 1]);
  assert.deepEqual(nonMaxSuppression(boxes, [0.9, 0.8], 0.7, "min"), [0]);
});

Deno.test("nonMaxSuppression breaks score ties by input order", () => {
  const boxes = [
    { x1: 0, y1: 0, x2: 10, y2: 10 },
    { x1: 0, y1: 0, x2: 10, y2: 10 },
    { x1: 50, y1: 0, x2: 60, y2: 10 },
  ];
  assert.deepEqual(nonMaxSuppression(boxes, [1, 1, 1], 0.5, "union"), [0, 2]);
});

Deno.test("nonMaxSuppression rejects mismatched scores", () => {
  assert.throws(
    () => nonMaxSuppression([{ x1: 0, y1: 0, x2: 1, y2: 1 }], [], 0.5, "min"),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message === "Cannot suppress boxes: expected 1 scores, got 0",
  );
});

Deno.test("regressBox scales offsets by width and height", () => {
  // Width 20, height 40.
  const box = { x1: 10, y1: 20, x2: 30, y2: 60 };
  assertBoxClose(regressBox(box, [0.1, -0.25, -0.2, 0.5]), {
    x1: 12,
    y1: 10,
    x2: 26,
    y2: 80,
  });
});

Deno.test("squareBox grows the shorter side about the centre", () => {
  assertBoxClose(squareBox({ x1: 10, y1: 20, x2: 30, y2: 60 }), {
    x1: 0,
    y1: 20,
    x2: 40,
    y2: 60,
  });
  assertBoxClose(squareBox({ x1: 0, y1: 5, x2: 9, y2: 8 }), {
    x1: 0,
    y1: 2,
    x2: 9,
    y2: 11,
  });
});
