import assert from "node:assert/strict";
import type { Box } from "../../src/detect/boxes.ts";
import type { Face } from "../../src/detect/mtcnn.ts";
import { NoFaceError, selectFace } from "../../src/detect/select.ts";

function face(box: Box, score = 0.99): Face {
  return { box, score, landmarks: [] };
}

// A 200x100 image: centre (100, 50), half diagonal sqrt(200^2 + 100^2) / 2 = 111.8.
// Weight 400 x (1 - 0 / 111.8) = 400.
const CENTRED = face({ x1: 90, y1: 40, x2: 110, y2: 60 });
// Centre (20, 20), 85.4 px from the image centre: 1600 x 0.236 = 377.
const CORNER = face({ x1: 0, y1: 0, x2: 40, y2: 40 });
// Centre (165, 45), 65.2 px away: 2500 x 0.417 = 1042.
const LARGE_RIGHT = face({ x1: 140, y1: 20, x2: 190, y2: 70 });

Deno.test("selectFace prefers a central face to a larger corner one", () => {
  assert.equal(selectFace([CORNER, CENTRED], 200, 100, "a.jpg"), CENTRED);
});

Deno.test("selectFace takes a much larger off-centre face", () => {
  assert.equal(
    selectFace([CENTRED, CORNER, LARGE_RIGHT], 200, 100, "a.jpg"),
    LARGE_RIGHT,
  );
});

Deno.test("selectFace breaks ties by order", () => {
  const first = face({ x1: 90, y1: 40, x2: 110, y2: 60 }, 0.9);
  const second = face({ x1: 90, y1: 40, x2: 110, y2: 60 }, 0.8);
  assert.equal(selectFace([first, second], 200, 100, "a.jpg"), first);
});

Deno.test("selectFace returns the first face when all weights are 0", () => {
  // Both centres lie beyond the image corners.
  const first = face({ x1: -40, y1: -40, x2: -20, y2: -20 });
  const second = face({ x1: 220, y1: 120, x2: 260, y2: 160 });
  assert.equal(selectFace([first, second], 200, 100, "a.jpg"), first);
});

Deno.test("selectFace throws NoFaceError with the path", () => {
  assert.throws(
    () => selectFace([], 200, 100, "people/ann/1.jpg"),
    (error: unknown) =>
      error instanceof NoFaceError &&
      error.path === "people/ann/1.jpg" &&
      error.message.startsWith('No face found in "people/ann/1.jpg": '),
  );
});
