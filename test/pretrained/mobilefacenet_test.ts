import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { importMobileFaceNet } from "../../src/pretrained/mobilefacenet.ts";
import { FlatBufferError } from "../../src/tflite/flatbuffer.ts";
import { TfliteGraph } from "../../src/tflite/graph.ts";
import { readTflite } from "../../src/tflite/model.ts";
import { pretrainedPaths } from "../_assets.ts";

await tf.setBackend("cpu");

const paths = await pretrainedPaths("pretrained MobileFaceNet");

/** Builds a fixed input: a smooth colour pattern in [-1, 1], the same every run. */
function gradientInput(batch: number): tf.Tensor4D {
  const values = new Float32Array(batch * 112 * 112 * 3);
  for (let i = 0; i < values.length; i++) {
    values[i] = Math.sin(i * 0.001 + (i % 3)) * 0.9;
  }
  return tf.tensor4d(values, [batch, 112, 112, 3]);
}

Deno.test({
  name: "the imported MobileFaceNet matches the TFLite graph run op by op",
  ignore: paths === null,
  async fn() {
    const bytes = await Deno.readFile(paths!.mobilefacenet);
    const model = importMobileFaceNet(bytes);
    const graph = new TfliteGraph(readTflite(bytes));
    const input = tf.randomUniform(
      [2, 112, 112, 3],
      -1,
      1,
      "float32",
      11,
    ) as tf.Tensor4D;
    const [reference] = graph.run([input]);
    const { embeddings } = model.apply(input, false);
    assert.deepEqual(embeddings.shape, [2, 192]);
    const difference =
      tf.max(tf.abs(tf.sub(reference, embeddings))).dataSync()[0];
    const scale = tf.max(tf.abs(reference)).dataSync()[0];
    // Merging the two linear 1x1 pairs reorders float sums: relative 1e-5.
    assert.ok(
      difference < 1e-5 * scale,
      `max difference ${difference} of ${scale}`,
    );
    tf.dispose([input, reference, embeddings]);
    graph.dispose();
    model.dispose();
  },
});

Deno.test({
  name: "the imported MobileFaceNet gives a stable embedding for a fixed input",
  ignore: paths === null,
  async fn() {
    const model = importMobileFaceNet(
      await Deno.readFile(paths!.mobilefacenet),
    );
    const input = gradientInput(1);
    const first = model.apply(input, false).embeddings.dataSync().slice();
    const second = model.apply(input, false).embeddings.dataSync().slice();
    assert.deepEqual(first, second);
    // Recorded from this test's first run on the cpu backend; a change means
    // the import (layout, PReLU slope, merged layers) changed.
    const recorded = [-0.1550419, 0.5864820, 0.3239708, 0.02824274];
    first.slice(0, 4).forEach((value, i) =>
      assert.ok(Math.abs(value - recorded[i]) < 1e-4, `value ${i}: ${value}`)
    );
    tf.dispose(input);
    model.dispose();
  },
});

Deno.test({
  name: "importMobileFaceNet rejects an MTCNN graph",
  ignore: paths === null,
  fn() {
    assert.throws(
      () => importMobileFaceNet(Deno.readFileSync(paths!.onet)),
      (error: unknown) =>
        error instanceof FlatBufferError &&
        /convolutions after merging|does not match unit|operator/.test(
          error.message,
        ),
    );
  },
});
