import assert from "node:assert/strict";
import { FlatBufferError, rootTable } from "../../src/tflite/flatbuffer.ts";
import { readTflite } from "../../src/tflite/model.ts";
import { pretrainedPaths } from "../_assets.ts";

const paths = await pretrainedPaths("tflite reader");

/**
 * Builds a hand-assembled buffer: root offset 12 -> table at 12 whose vtable at 4
 * lists field 0 (int32 at table + 4) and leaves field 1 absent.
 */
function tinyBuffer(): Uint8Array {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 12, true); // root table offset
  view.setUint16(4, 8, true); // vtable size: 4 + 2 fields * 2
  view.setUint16(6, 8, true); // table size
  view.setUint16(8, 4, true); // field 0 at table + 4
  view.setUint16(10, 0, true); // field 1 absent
  view.setInt32(12, 12 - 4, true); // table -> vtable at 4
  view.setInt32(16, -42, true); // field 0
  return bytes;
}

Deno.test("Table reads a present field and defaults an absent one", () => {
  const table = rootTable(tinyBuffer(), "Tiny");
  assert.equal(table.i32(0, 7), -42);
  assert.equal(table.i32(1, 7), 7);
  assert.equal(table.i32(5, 9), 9); // beyond the vtable
});

Deno.test("rootTable names a wrong file identifier", () => {
  assert.throws(
    () => rootTable(tinyBuffer(), "TFLite Model", "TFL3"),
    /file identifier is .* not "TFL3": not a TFLite Model file/,
  );
});

Deno.test("a table offset past the end reports a truncated file", () => {
  const bytes = tinyBuffer();
  new DataView(bytes.buffer).setUint32(0, 400, true);
  assert.throws(
    () => rootTable(bytes, "Tiny"),
    (error: unknown) =>
      error instanceof FlatBufferError &&
      /outside the 20-byte file: the file is truncated or corrupt/.test(
        error.message,
      ),
  );
});

Deno.test("readTflite refuses a file too short to hold a model", () => {
  assert.throws(
    () => readTflite(new Uint8Array(5)),
    /5 bytes, too few for a FlatBuffers TFLite Model/,
  );
});

Deno.test({
  name: "readTflite lists the pretrained MobileFaceNet graph",
  ignore: paths === null,
  async fn() {
    const model = readTflite(await Deno.readFile(paths!.mobilefacenet));
    assert.equal(model.version, 3);
    assert.deepEqual(model.tensors[model.inputs[0]].shape, [2, 112, 112, 3]);
    assert.deepEqual(model.tensors[model.outputs[0]].shape, [2, 192]);
    const counts: Record<string, number> = {};
    for (const op of model.operators) counts[op.op] = (counts[op.op] ?? 0) + 1;
    // 33 PReLUs (relu, abs, sub, mul, add each), 35 convs, 17 depthwise convs
    // and 12 residual additions.
    assert.deepEqual(counts, {
      CONV_2D: 35,
      DEPTHWISE_CONV_2D: 17,
      RELU: 33,
      ABS: 33,
      SUB: 33,
      MUL: 33,
      ADD: 45,
      RESHAPE: 1,
    });
  },
});

Deno.test({
  // Bytes the reader never visits (padding at the end) can go unnoticed;
  // the pinned SHA-256 of each asset catches those.
  name: "readTflite reports a truncated real file as corrupt",
  ignore: paths === null,
  async fn() {
    const bytes = await Deno.readFile(paths!.pnet);
    for (const keep of [8, 100, 1000, bytes.length / 2]) {
      assert.throws(
        () => readTflite(bytes.subarray(0, Math.floor(keep))),
        FlatBufferError,
        `truncated to ${keep} bytes`,
      );
    }
  },
});
