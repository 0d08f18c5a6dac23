import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { RawImage } from "../../src/data/image.ts";
import {
  detectFaces,
  type Face,
  MTCNN_DEFAULTS,
  type MtcnnNetworks,
  type MtcnnOptions,
} from "../../src/detect/mtcnn.ts";

await tf.setBackend("cpu");

// The fake networks see a "face" in a bright square on black. With a minimum
// face of 40 px the first pyramid level has scale 12 / 40 = 0.3, where a
// 40 px square at even multiples of 20 px becomes exactly one 12x12 window.
const OPTIONS: MtcnnOptions = { ...MTCNN_DEFAULTS, minFaceSize: 40 };
// Square A: [20, 60) x [40, 80), value 255. Square B: [100, 140) x [20, 60),
// value 230, so every network scores it lower than A.
const WIDTH = 160;
const HEIGHT = 120;

/** Builds the test image: black with squares A and B. */
function squaresImage(): RawImage {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  const fill = (x1: number, y1: number, x2: number, y2: number, v: number) => {
    for (let y = y1; y < y2; y++) {
      data.fill(v, (y * WIDTH + x1) * 3, (y * WIDTH + x2) * 3);
    }
  };
  fill(20, 40, 60, 80, 255);
  fill(100, 20, 140, 60, 230);
  return { data, width: WIDTH, height: HEIGHT, channels: 3 };
}

/** R-Net's constant regression: the box widens by 5 % left and right, and grows 10 % down. */
const RNET_OFFSETS = [-0.05, 0, 0.05, 0.1];
/** O-Net's constant regression. */
const ONET_OFFSETS = [0.1, 0.05, -0.1, -0.05];
/** O-Net's constant landmarks: x of the five points, then y. */
const ONET_LANDMARKS = [0.25, 0.75, 0.5, 0.3, 0.7, 0.3, 0.3, 0.55, 0.8, 0.8];

/** Records the batch sizes each network was called with. */
interface Calls {
  pnet: number;
  rnet: number[];
  onet: number[];
}

/**
 * Builds fake networks. P-Net scores a window by its mean brightness less
 * the mean brightness of the 2-pixel ring around it, so only a window that
 * frames a bright square scores high, and it regresses nothing. R-Net scores
 * a crop by its mean brightness and O-Net by 0.5 plus half of it. Their
 * regression and landmarks are the constants above.
 */
function fakeNetworks(calls: Calls): MtcnnNetworks {
  const brightness = (images: tf.Tensor4D) =>
    tf.div(tf.mean(images, 3, true), 255) as tf.Tensor4D;
  const constantRows = (values: number[], n: number) =>
    tf.tile(tf.tensor2d([values]), [n, 1]) as tf.Tensor2D;
  return {
    pnet(image) {
      calls.pnet += 1;
      return tf.tidy(() => {
        const lit = brightness(image);
        // [1, h', w', 1] means over each 12x12 window and its 16x16 surround.
        const inner = tf.avgPool(lit, 12, 2, "valid");
        const outer = tf.avgPool(
          tf.pad(lit, [[0, 0], [2, 2], [2, 2], [0, 0]]),
          16,
          2,
          "valid",
        );
        const ring = tf.div(
          tf.sub(tf.mul(outer, 256), tf.mul(inner, 144)),
          112,
        );
        const probability = tf.squeeze(
          tf.clipByValue(tf.sub(inner, ring), 0, 1),
          [3],
        ) as tf.Tensor3D;
        const regression = tf.zeros([
          ...probability.shape,
          4,
        ]) as tf.Tensor4D;
        return { probability, regression };
      });
    },
    rnet(crops) {
      calls.rnet.push(crops.shape[0]);
      return tf.tidy(() => ({
        probability: tf.mean(brightness(crops), [1, 2, 3]) as tf.Tensor1D,
        regression: constantRows(RNET_OFFSETS, crops.shape[0]),
      }));
    },
    onet(crops) {
      calls.onet.push(crops.shape[0]);
      return tf.tidy(() => ({
        probability: tf.add(
          0.5,
          tf.mul(0.5, tf.mean(brightness(crops), [1, 2, 3])),
        ) as tf.Tensor1D,
        regression: constantRows(ONET_OFFSETS, crops.shape[0]),
        landmarks: constantRows(ONET_LANDMARKS, crops.shape[0]),
      }));
    },
  };
}

function newCalls(): Calls {
  return { pnet: 0, rnet: [], onet: [] };
}

function assertNear(actual: number, expected: number, label: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-4,
    `${label}: expected ${expected}, got ${actual}`,
  );
}

/**
 * Checks a face against the arithmetic of the three stages for a square
 * whose P-Net window is [x, x + 40) x [y, y + 40).
 */
function assertFace(face: Face, x: number, y: number, label: string): void {
  // R-Net: x1 = x - 0.05 * 40, x2 = x + 40 + 0.05 * 40, y2 = y + 40 + 0.1 * 40,
  // which is the 44 px square of O-Net's crop.
  const seen = { x1: x - 2, y1: y, x2: x + 42, y2: y + 44 };
  // O-Net regression on the 44 px box.
  assertNear(face.box.x1, seen.x1 + 0.1 * 44, `${label} x1`);
  assertNear(face.box.y1, seen.y1 + 0.05 * 44, `${label} y1`);
  assertNear(face.box.x2, seen.x2 - 0.1 * 44, `${label} x2`);
  assertNear(face.box.y2, seen.y2 - 0.05 * 44, `${label} y2`);
  // Landmarks are placed in the box O-Net saw, before its regression.
  assert.equal(face.landmarks.length, 5, `${label} landmark count`);
  face.landmarks.forEach(([px, py], i) => {
    assertNear(
      px,
      seen.x1 + ONET_LANDMARKS[i] * 44,
      `${label} landmark ${i} x`,
    );
    assertNear(
      py,
      seen.y1 + ONET_LANDMARKS[5 + i] * 44,
      `${label} landmark ${i} y`,
    );
  });
}

Deno.test("detectFaces finds both squares with predicted boxes", async () => {
  const faces = await detectFaces(
    squaresImage(),
    fakeNetworks(newCalls()),
    OPTIONS,
  );
  assert.equal(faces.length, 2);
  assertFace(faces[0], 20, 40, "square A");
  assertFace(faces[1], 100, 20, "square B");
  // O-Net's crop is lit on 40 of 44 px per axis: about 0.5 + 0.5 * (40 / 44)^2.
  assertNear(Math.round(faces[0].score * 100) / 100, 0.91, "score A");
  assert.ok(faces[1].score < faces[0].score, "B scores below A");
});

Deno.test("detectFaces gives the same faces in batches of one", async () => {
  const calls = newCalls();
  const whole = await detectFaces(
    squaresImage(),
    fakeNetworks(newCalls()),
    OPTIONS,
  );
  const single = await detectFaces(squaresImage(), fakeNetworks(calls), {
    ...OPTIONS,
    batchSize: 1,
  });
  assert.deepEqual(single, whole);
  assert.deepEqual(calls.rnet, [1, 1]);
  assert.deepEqual(calls.onet, [1, 1]);
});

Deno.test("detectFaces runs P-Net once per pyramid level", async () => {
  const calls = newCalls();
  await detectFaces(squaresImage(), fakeNetworks(calls), OPTIONS);
  // Shorter side 120: 36, 25.5, 18.1, 12.8 px at scales 0.3 * 0.709^k.
  assert.equal(calls.pnet, 4);
  assert.deepEqual(calls.rnet, [2]);
  assert.deepEqual(calls.onet, [2]);
});

Deno.test("detectFaces finds nothing in a black image", async () => {
  const calls = newCalls();
  const image: RawImage = {
    data: new Uint8Array(WIDTH * HEIGHT * 3),
    width: WIDTH,
    height: HEIGHT,
    channels: 3,
  };
  assert.deepEqual(await detectFaces(image, fakeNetworks(calls), OPTIONS), []);
  assert.deepEqual(calls.rnet, []);
});

Deno.test("detectFaces skips an image below the minimum face", async () => {
  const calls = newCalls();
  const image: RawImage = {
    data: new Uint8Array(30 * 30 * 3),
    width: 30,
    height: 30,
    channels: 3,
  };
  assert.deepEqual(await detectFaces(image, fakeNetworks(calls), OPTIONS), []);
  assert.equal(calls.pnet, 0);
});

Deno.test("detectFaces disposes every tensor", async () => {
  const nets = fakeNetworks(newCalls());
  const before = tf.memory().numTensors;
  await detectFaces(squaresImage(), nets, OPTIONS);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("detectFaces rejects a wrong P-Net shape", async () => {
  const nets = fakeNetworks(newCalls());
  const broken: MtcnnNetworks = {
    ...nets,
    pnet: (image) => {
      const { probability, regression } = nets.pnet(image);
      return {
        probability: probability.transpose([0, 2, 1]) as tf.Tensor3D,
        regression,
      };
    },
  };
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => detectFaces(squaresImage(), broken, OPTIONS),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message ===
        "Cannot run MTCNN: P-Net probability has shape [1, 19, 13], expected [1, 13, 19]",
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("detectFaces rejects O-Net without landmarks", async () => {
  const nets = fakeNetworks(newCalls());
  const broken = {
    ...nets,
    onet: (crops: tf.Tensor4D) => {
      const { probability, regression, landmarks } = nets.onet(crops);
      landmarks.dispose();
      return { probability, regression };
    },
  } as unknown as MtcnnNetworks;
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => detectFaces(squaresImage(), broken, OPTIONS),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message ===
        "Cannot run MTCNN: O-Net landmarks is missing, expected shape [2, 10]",
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("detectFaces rejects a NaN from R-Net", async () => {
  const nets = fakeNetworks(newCalls());
  const broken: MtcnnNetworks = {
    ...nets,
    rnet: (crops) => {
      const { probability, regression } = nets.rnet(crops);
      return { probability: tf.div(probability, 0).sub(Infinity), regression };
    },
  };
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => detectFaces(squaresImage(), broken, OPTIONS),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message.startsWith(
        "Cannot run MTCNN: R-Net probability contains NaN at flat index 0",
      ),
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("detectFaces rejects an invalid option", async () => {
  await assert.rejects(
    () =>
      detectFaces(squaresImage(), fakeNetworks(newCalls()), {
        ...OPTIONS,
        scaleFactor: 1,
      }),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message ===
        "Invalid MTCNN option scaleFactor: expected a number in (0, 1), got 1",
  );
});
