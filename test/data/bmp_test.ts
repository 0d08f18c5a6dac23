import assert from "node:assert/strict";
import { decodeBmp, isBmp } from "../../src/data/bmp.ts";

interface BmpSpec {
  width: number;
  height: number;
  bitsPerPixel: number;
  /** Rows from the top; each row is the packed bytes of its pixels. */
  rows: number[][];
  topDown?: boolean;
  compression?: number;
  /** Colour table entries as [r, g, b]. */
  palette?: number[][];
  masks?: number[];
  /** 12 writes a BITMAPCOREHEADER; the default is 40. */
  headerSize?: number;
}

/** Builds a BMP file the way a writer would, with padded rows. */
function buildBmp(spec: BmpSpec): Uint8Array {
  const headerSize = spec.headerSize ?? 40;
  const isCore = headerSize === 12;
  const palette = spec.palette ?? [];
  const entrySize = isCore ? 3 : 4;
  const masks = spec.masks ?? [];
  const rowBytes = Math.ceil((spec.bitsPerPixel * spec.width) / 32) * 4;
  const pixelOffset = 14 + headerSize + masks.length * 4 +
    palette.length * entrySize;

  const bytes = new Uint8Array(pixelOffset + rowBytes * spec.height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, headerSize, true);
  if (isCore) {
    view.setUint16(18, spec.width, true);
    view.setUint16(20, spec.height, true);
    view.setUint16(22, 1, true);
    view.setUint16(24, spec.bitsPerPixel, true);
  } else {
    view.setInt32(18, spec.width, true);
    view.setInt32(22, spec.topDown ? -spec.height : spec.height, true);
    view.setUint16(26, 1, true);
    view.setUint16(28, spec.bitsPerPixel, true);
    view.setUint32(30, spec.compression ?? 0, true);
    view.setUint32(46, palette.length, true);
  }

  let at = 14 + headerSize;
  for (const mask of masks) {
    view.setUint32(at, mask, true);
    at += 4;
  }
  for (const [r, g, b] of palette) {
    bytes.set([b, g, r], at);
    at += entrySize;
  }

  spec.rows.forEach((row, y) => {
    const stored = spec.topDown ? y : spec.height - 1 - y;
    bytes.set(row, pixelOffset + stored * rowBytes);
  });
  return bytes;
}

Deno.test("decodeBmp reads 24-bit bottom-up", () => {
  // Top row red, green; bottom row blue, white. Stored as BGR.
  const bytes = buildBmp({
    width: 2,
    height: 2,
    bitsPerPixel: 24,
    rows: [[0, 0, 255, 0, 255, 0], [255, 0, 0, 255, 255, 255]],
  });
  const image = decodeBmp(bytes);
  assert.equal(image.width, 2);
  assert.equal(image.height, 2);
  assert.deepEqual(
    Array.from(image.data),
    [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255],
  );
});

Deno.test("decodeBmp reads 24-bit top-down", () => {
  const bytes = buildBmp({
    width: 1,
    height: 2,
    bitsPerPixel: 24,
    topDown: true,
    rows: [[3, 2, 1], [6, 5, 4]],
  });
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [1, 2, 3, 4, 5, 6]);
});

Deno.test("decodeBmp reads 32-bit without masks", () => {
  // BGRX with an unused fourth byte.
  const bytes = buildBmp({
    width: 2,
    height: 1,
    bitsPerPixel: 32,
    rows: [[30, 20, 10, 99, 60, 50, 40, 0]],
  });
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [10, 20, 30, 40, 50, 60]);
});

Deno.test("decodeBmp reads 32-bit with bit-field masks", () => {
  // Little-endian words with red in the low byte: bytes R, G, B, A.
  const bytes = buildBmp({
    width: 1,
    height: 1,
    bitsPerPixel: 32,
    compression: 3,
    masks: [0x000000ff, 0x0000ff00, 0x00ff0000],
    rows: [[200, 100, 50, 255]],
  });
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [200, 100, 50]);
});

Deno.test("decodeBmp reads 16-bit 5-5-5", () => {
  // Red 31, green 0, blue 16: 0b0_11111_00000_10000 = 0x7c10.
  const bytes = buildBmp({
    width: 1,
    height: 1,
    bitsPerPixel: 16,
    rows: [[0x10, 0x7c]],
  });
  // 16 * 255 / 31 = 131.6 rounds to 132.
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [255, 0, 132]);
});

Deno.test("decodeBmp reads 8-bit palette with padded rows", () => {
  const bytes = buildBmp({
    width: 3,
    height: 2,
    bitsPerPixel: 8,
    palette: [[0, 0, 0], [255, 128, 0], [10, 20, 30]],
    rows: [[0, 1, 2], [2, 2, 1]],
  });
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [
    0,
    0,
    0,
    255,
    128,
    0,
    10,
    20,
    30,
    10,
    20,
    30,
    10,
    20,
    30,
    255,
    128,
    0,
  ]);
});

Deno.test("decodeBmp reads 4-bit and 1-bit palette", () => {
  const palette = [[0, 0, 0], [255, 255, 255], [9, 8, 7]];
  const fourBit = buildBmp({
    width: 3,
    height: 1,
    bitsPerPixel: 4,
    palette,
    rows: [[0x21, 0x00]],
  });
  assert.deepEqual(
    Array.from(decodeBmp(fourBit).data),
    [9, 8, 7, 255, 255, 255, 0, 0, 0],
  );
  const oneBit = buildBmp({
    width: 3,
    height: 1,
    bitsPerPixel: 1,
    palette: palette.slice(0, 2),
    rows: [[0b10100000]],
  });
  assert.deepEqual(
    Array.from(decodeBmp(oneBit).data),
    [255, 255, 255, 0, 0, 0, 255, 255, 255],
  );
});

Deno.test("decodeBmp reads the OS/2 core header", () => {
  const bytes = buildBmp({
    width: 1,
    height: 1,
    bitsPerPixel: 8,
    headerSize: 12,
    palette: [[1, 2, 3], [4, 5, 6]],
    rows: [[1]],
  });
  assert.deepEqual(Array.from(decodeBmp(bytes).data), [4, 5, 6]);
});

Deno.test("isBmp checks the signature", () => {
  assert.equal(isBmp(Uint8Array.of(0x42, 0x4d, 0)), true);
  assert.equal(isBmp(Uint8Array.of(0x89, 0x50)), false);
});

Deno.test("decodeBmp rejects run-length encoding", () => {
  const bytes = buildBmp({
    width: 1,
    height: 1,
    bitsPerPixel: 8,
    compression: 1,
    palette: [[0, 0, 0]],
    rows: [[0]],
  });
  assert.throws(() => decodeBmp(bytes), {
    name: "SyntaxError",
    message:
      "Cannot decode BMP: compression RLE8 is not supported: convert the file to PNG",
  });
});

Deno.test("decodeBmp rejects truncated pixel data", () => {
  const bytes = buildBmp({
    width: 2,
    height: 2,
    bitsPerPixel: 24,
    rows: [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]],
  });
  assert.throws(() => decodeBmp(bytes.subarray(0, bytes.length - 4)), {
    name: "SyntaxError",
    message:
      "Cannot decode BMP: pixel data needs 14 bytes from offset 54, file has 66 bytes in all",
  });
});

Deno.test("decodeBmp rejects a palette index out of range", () => {
  const bytes = buildBmp({
    width: 1,
    height: 1,
    bitsPerPixel: 8,
    palette: [[0, 0, 0], [1, 1, 1]],
    rows: [[5]],
  });
  assert.throws(() => decodeBmp(bytes), {
    name: "SyntaxError",
    message: "Cannot decode BMP: palette index 5 out of range 0..1",
  });
});

Deno.test("decodeBmp rejects a missing signature", () => {
  assert.throws(() => decodeBmp(new Uint8Array(60)), {
    name: "SyntaxError",
    message: "Cannot decode BMP: expected signature BM",
  });
});
