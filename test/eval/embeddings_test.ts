import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  embedImages,
  l2Normalize,
  pixelEmbeddings,
  squaredL2Distances,
} from "../../src/eval/embeddings.ts";

await tf.setBackend("cpu");

const TOLERANCE = 1e-6;

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= TOLERANCE,
      `${label}[${i}]: expected ${expected[i]}, found ${actual[i]}`,
    );
  }
}

function normalized(values: number[]): number[] {
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

/** Images `[count, size, size, 3]` with byte (i * 37 + 11) mod 256 at i. */
function patternImages(count: number, size: number): Uint8Array {
  const images = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + 11) % 256;
  return images;
}

/** Grey images from rows of values: every channel set to the value. */
function greyImage(rows: number[][]): Uint8Array {
  const size = rows.length;
  const image = new Uint8Array(size * size * 3);
  rows.flat().forEach((value, i) => image.fill(value, 3 * i, 3 * i + 3));
  return image;
}

Deno.test("l2Normalize scales rows to unit norm", () => {
  const rows = l2Normalize(new Float32Array([3, 4, 0, -5, 12, 0]), 3);
  assertClose(rows, [0.6, 0.8, 0, -5 / 13, 12 / 13, 0], "rows");
});

Deno.test("l2Normalize leaves a zero row at zero", () => {
  const rows = l2Normalize(new Float32Array([0, 0, 1, 1]), 2);
  assertClose(rows, [0, 0, Math.SQRT1_2, Math.SQRT1_2], "rows");
});

Deno.test("l2Normalize rejects a NaN value", () => {
  assert.throws(
    () => l2Normalize(new Float32Array([1, 2, NaN, 1]), 2),
    (error: unknown) =>
      error instanceof RangeError && /row 1 contains NaN/.test(error.message),
  );
});

Deno.test("l2Normalize rejects a length not a multiple of dim", () => {
  assert.throws(() => l2Normalize(new Float32Array(5), 2), TypeError);
});

Deno.test("squaredL2Distances of unit rows", () => {
  // Pairs: equal, orthogonal, opposite.
  const emb1 = new Float32Array([1, 0, 1, 0, 0, 1]);
  const emb2 = new Float32Array([1, 0, 0, 1, 0, -1]);
  const distances = squaredL2Distances(emb1, emb2, 2);
  assert.ok(distances instanceof Float64Array);
  assert.deepEqual(Array.from(distances), [0, 2, 4]);
});

Deno.test("squaredL2Distances rejects differing lengths", () => {
  assert.throws(
    () => squaredL2Distances(new Float32Array(4), new Float32Array(6), 2),
    TypeError,
  );
});

Deno.test("embedImages scales pixels by (x - 127.5) / 128", async () => {
  // Identity network: the embedding is the flattened input.
  const size = 2;
  const images = patternImages(1, size);
  const seen: number[][] = [];
  const embed = (batch: tf.Tensor4D) => {
    seen.push(Array.from(batch.dataSync()));
    return tf.reshape(batch, [batch.shape[0], -1]) as tf.Tensor2D;
  };
  const embeddings = await embedImages(images, 1, size, embed, {
    batchSize: 4,
    flip: false,
  });
  const scaled = Array.from(images, (x) => (x - 127.5) / 128);
  assert.deepEqual(seen[0], scaled);
  assertClose(embeddings, normalized(scaled), "embedding");
});

Deno.test("embedImages adds the mirrored embedding with flip", async () => {
  // The network returns the mean of each channel over the left column, so
  // the mirrored batch contributes the right column.
  const images = greyImage([[0, 200], [100, 255]]);
  const leftColumnMean = (batch: tf.Tensor4D) =>
    tf.mean(tf.slice(batch, [0, 0, 0, 0], [-1, -1, 1, -1]), [
      1,
      2,
    ]) as tf.Tensor2D;
  const scale = (x: number) => (x - 127.5) / 128;
  const left = (scale(0) + scale(100)) / 2;
  const right = (scale(200) + scale(255)) / 2;

  const plain = await embedImages(images, 1, 2, leftColumnMean, {
    batchSize: 1,
    flip: false,
  });
  assertClose(plain, normalized([left, left, left]), "without flip");
  const flipped = await embedImages(images, 1, 2, leftColumnMean, {
    batchSize: 1,
    flip: true,
  });
  const sum = left + right;
  assertClose(flipped, normalized([sum, sum, sum]), "with flip");
});

Deno.test("embedImages gives the same rows for any batch size", async () => {
  const images = patternImages(5, 3);
  const calls: number[] = [];
  const embed = (batch: tf.Tensor4D) => {
    calls.push(batch.shape[0]);
    return tf.mean(batch, [1, 2]) as tf.Tensor2D;
  };
  const progress: string[] = [];
  const batched = await embedImages(images, 5, 3, embed, {
    batchSize: 2,
    flip: true,
    onProgress: (done, total) => progress.push(`${done}/${total}`),
  });
  // Two calls per batch with flip: batches of 2, 2 and 1.
  assert.deepEqual(calls, [2, 2, 2, 2, 1, 1]);
  assert.deepEqual(progress, ["2/5", "4/5", "5/5"]);
  const whole = await embedImages(images, 5, 3, embed, {
    batchSize: 5,
    flip: true,
  });
  assert.equal(batched.length, 5 * 3);
  assertClose(batched, whole, "embeddings");
});

Deno.test("embedImages disposes every tensor", async () => {
  const images = patternImages(3, 4);
  const embed = (batch: tf.Tensor4D) =>
    tf.mean(tf.square(batch), [1, 2]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  await embedImages(images, 3, 4, embed, { batchSize: 2, flip: true });
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("embedImages rejects a wrong output shape", async () => {
  const images = patternImages(2, 2);
  const embed = (batch: tf.Tensor4D) =>
    tf.mean(batch, [1, 2, 3]) as unknown as tf.Tensor2D;
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => embedImages(images, 2, 2, embed, { batchSize: 2, flip: false }),
    (error: unknown) =>
      error instanceof TypeError &&
      /returned shape \[2\] for a batch of 2, expected \[2, D\]/.test(
        error.message,
      ),
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("embedImages rejects a wrong byte count", async () => {
  await assert.rejects(
    () =>
      embedImages(new Uint8Array(11), 1, 2, (b) => b as never, {
        batchSize: 1,
        flip: false,
      }),
    (error: unknown) =>
      error instanceof TypeError &&
      /expected 12 bytes for \[1, 2, 2, 3\] RGB images, found 11/.test(
        error.message,
      ),
  );
});

Deno.test("pixelEmbeddings subtracts the mean grey", () => {
  const images = greyImage([[0, 50], [100, 250]]);
  const vectors = pixelEmbeddings(images, 1, 2, 2);
  // Mean 100: centred values -100 -50 0 150.
  assertClose(vectors, normalized([-100, -50, 0, 150]), "vector");
});

Deno.test("pixelEmbeddings uses BT.601 luma", () => {
  // Red, green, blue and black pixels.
  const images = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0]);
  const grey = [0.299 * 255, 0.587 * 255, 0.114 * 255, 0];
  const mean = grey.reduce((a, b) => a + b) / 4;
  const vectors = pixelEmbeddings(images, 1, 2, 2);
  assertClose(vectors, normalized(grey.map((g) => g - mean)), "vector");
});

Deno.test("pixelEmbeddings averages 2 x 2 blocks", () => {
  const images = greyImage([
    [0, 10, 20, 30],
    [10, 20, 30, 40],
    [40, 50, 60, 70],
    [50, 60, 70, 80],
  ]);
  // Block means 10, 30, 50, 70; mean 40.
  const vectors = pixelEmbeddings(images, 1, 4, 2);
  assertClose(vectors, normalized([-30, -10, 10, 30]), "vector");
});

Deno.test("pixelEmbeddings weights fractional pixels", () => {
  // 3 -> 2: output 0 covers pixel 0 and half of pixel 1, so it is
  // (0 * 1 + 30 * 0.5) / 1.5 = 10; output 1 is (30 * 0.5 + 60) / 1.5 = 50.
  const images = greyImage([[0, 30, 60], [0, 30, 60], [0, 30, 60]]);
  const vectors = pixelEmbeddings(images, 1, 3, 2);
  // Rows 10 50 and 10 50, mean 30.
  assertClose(vectors, [-0.5, 0.5, -0.5, 0.5], "vector");
});

Deno.test("pixelEmbeddings flip cancels a left-right ramp", () => {
  const images = greyImage([[0, 30, 60], [0, 30, 60], [0, 30, 60]]);
  const vectors = pixelEmbeddings(images, 1, 3, 2, { flip: true });
  assert.deepEqual(Array.from(vectors), [0, 0, 0, 0]);
});

Deno.test("pixelEmbeddings flip sums a vector and its mirror", () => {
  // Odd width: the middle column is its own mirror and doubles.
  const images = greyImage([[0, 0, 90], [0, 0, 0], [0, 0, 0]]);
  const vectors = pixelEmbeddings(images, 1, 3, 3, { flip: true });
  // Centred: 90 - 10 at (0, 2), -10 elsewhere. Row 0 + mirror: 70 -20 70.
  assertClose(
    vectors,
    normalized([70, -20, 70, -20, -20, -20, -20, -20, -20]),
    "vector",
  );
});

Deno.test("pixelEmbeddings turns a uniform image into zeros", () => {
  // 5 -> 3 uses weights of 3/5, which leave rounding residue.
  const images = new Uint8Array(5 * 5 * 3).fill(77);
  const vectors = pixelEmbeddings(images, 1, 5, 3);
  assert.deepEqual(Array.from(vectors), new Array(9).fill(0));
});

Deno.test("pixelEmbeddings is deterministic per image", () => {
  const images = patternImages(3, 7);
  const all = pixelEmbeddings(images, 3, 7, 4, { flip: true });
  const second = pixelEmbeddings(images.subarray(147, 294), 1, 7, 4, {
    flip: true,
  });
  assert.deepEqual(Array.from(all.subarray(16, 32)), Array.from(second));
  assertClose(
    squaredL2Distances(all.subarray(0, 16), all.subarray(0, 16), 16),
    [0],
    "self distance",
  );
});

Deno.test("pixelEmbeddings rejects a zero pixelSize", () => {
  assert.throws(
    () => pixelEmbeddings(patternImages(1, 2), 1, 2, 0),
    (error: unknown) =>
      error instanceof RangeError && /pixelSize/.test(error.message),
  );
});
