import assert from "node:assert/strict";
import {
  drawFaceIdentity,
  drawFaceView,
  faceSvg,
} from "../../src/data/synthetic_face.ts";
import { deriveRng } from "../../src/rng.ts";

Deno.test("drawFaceIdentity repeats from a seed", async () => {
  const first = drawFaceIdentity(await deriveRng(1, "synthetic/identity/a"));
  const second = drawFaceIdentity(await deriveRng(1, "synthetic/identity/a"));
  const other = drawFaceIdentity(await deriveRng(1, "synthetic/identity/b"));
  assert.deepEqual(first, second);
  assert.notDeepEqual(first, other);
});

Deno.test("drawFaceView keeps pose within bounds", async () => {
  for (let k = 0; k < 200; k++) {
    const view = drawFaceView(await deriveRng(1, `view/${k}`));
    assert.ok(Math.abs(view.rotation) <= 10, `rotation ${view.rotation}`);
    assert.ok(Math.abs(view.shiftX) <= 6, `shiftX ${view.shiftX}`);
    assert.ok(Math.abs(view.shiftY) <= 6, `shiftY ${view.shiftY}`);
    assert.ok(Math.abs(view.scale - 1) <= 0.08, `scale ${view.scale}`);
    for (const channel of view.background) {
      assert.ok(Number.isInteger(channel), `channel ${channel}`);
      assert.ok(channel >= 0, `channel ${channel}`);
      assert.ok(channel <= 255, `channel ${channel}`);
    }
  }
});

Deno.test("faceSvg sets the canvas size", async () => {
  const identity = drawFaceIdentity(await deriveRng(1, "identity"));
  const view = drawFaceView(await deriveRng(1, "view"));
  const svg = faceSvg(identity, view, 96);
  assert.match(
    svg,
    /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="96" height="96" viewBox="0 0 100 100">/,
  );
  assert.ok(svg.endsWith("</svg>"));
  assert.doesNotMatch(svg, /NaN|undefined/);
});

Deno.test("faceSvg draws glasses only when set", async () => {
  const identity = drawFaceIdentity(await deriveRng(1, "identity"));
  const view = drawFaceView(await deriveRng(1, "view"));
  const frame = /stroke="rgb\(30,30,30\)"/;
  assert.match(faceSvg({ ...identity, glasses: true }, view, 64), frame);
  assert.doesNotMatch(
    faceSvg({ ...identity, glasses: false }, view, 64),
    frame,
  );
});
