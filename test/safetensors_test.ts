import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors } from "../src/safetensors.ts";

Deno.test("encodeSafetensors round-trips arrays and metadata", () => {
  const arrays = [
    {
      name: "embeddings1",
      shape: [2, 3],
      data: Float32Array.from([1, 2, 3, 4, 5, 6]),
    },
    { name: "issame", shape: [2], data: Uint8Array.from([1, 0]) },
    { name: "labels", shape: [2], data: Int32Array.from([-1, 7]) },
  ];
  const bytes = encodeSafetensors(arrays, { note: "café" });
  const { arrays: decoded, metadata } = decodeSafetensors(bytes, "memory");
  assert.equal(metadata.note, "café");
  for (const array of arrays) {
    assert.deepEqual(decoded.get(array.name)!.shape, array.shape);
    assert.deepEqual(
      Array.from(decoded.get(array.name)!.data),
      Array.from(array.data),
    );
  }
});

Deno.test("encodeSafetensors aligns the data to 8 bytes with non-ASCII metadata", () => {
  const bytes = encodeSafetensors([{
    name: "w",
    shape: [1],
    data: Float32Array.from([1]),
  }], { note: "é" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0);
});

Deno.test("decodeSafetensors names a truncated file", () => {
  const bytes = encodeSafetensors([{
    name: "w",
    shape: [4],
    data: new Float32Array(4),
  }]);
  assert.throws(
    () =>
      decodeSafetensors(bytes.subarray(0, bytes.length - 4), "cut.safetensors"),
    (error: Error) =>
      error instanceof SyntaxError &&
      error.message.includes(
        '"cut.safetensors": tensor "w" runs past the end of the file',
      ),
  );
});

Deno.test("encodeSafetensors rejects a shape that does not match the data", () => {
  assert.throws(
    () =>
      encodeSafetensors([{ name: "w", shape: [3], data: new Float32Array(4) }]),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.includes("shape [3] has 3 values, data has 4"),
  );
});
