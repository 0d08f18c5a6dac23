import assert from "node:assert/strict";
import { decodeNetpbm, isNetpbm } from "../../src/data/netpbm.ts";

const text = (s: string) => new TextEncoder().encode(s);

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => Array.from(part)));
}

Deno.test("decodeNetpbm reads plain PGM with comments", () => {
  const image = decodeNetpbm(
    text("P2\n# a comment\n3 1 # width height\n4\n0 2 4\n"),
  );
  assert.equal(image.width, 3);
  assert.equal(image.height, 1);
  assert.equal(image.channels, 3);
  // 0, 2 and 4 of maxval 4 scale to 0, 127.5 (rounded up) and 255.
  assert.deepEqual(Array.from(image.data), [
    0,
    0,
    0,
    128,
    128,
    128,
    255,
    255,
    255,
  ]);
});

Deno.test("decodeNetpbm reads raw PGM", () => {
  const bytes = concat(text("P5 2 2 255\n"), [10, 20, 30, 40]);
  const image = decodeNetpbm(bytes);
  assert.equal(image.width, 2);
  assert.equal(image.height, 2);
  assert.deepEqual(
    Array.from(image.data),
    [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40],
  );
});

Deno.test("decodeNetpbm reads raw PGM whose first pixel is whitespace", () => {
  // Byte 10 is a newline; only one whitespace byte ends the header.
  const bytes = concat(text("P5 2 1 255\n"), [10, 32]);
  assert.deepEqual(Array.from(decodeNetpbm(bytes).data), [
    10,
    10,
    10,
    32,
    32,
    32,
  ]);
});

Deno.test("decodeNetpbm reads 16-bit raw PGM", () => {
  // Samples 0x0000, 0x8000 and 0xffff, most significant byte first.
  const bytes = concat(text("P5 3 1 65535\n"), [0, 0, 0x80, 0x00, 0xff, 0xff]);
  const image = decodeNetpbm(bytes);
  // 32768 * 255 / 65535 = 127.50 rounds to 128.
  assert.deepEqual(Array.from(image.data), [
    0,
    0,
    0,
    128,
    128,
    128,
    255,
    255,
    255,
  ]);
});

Deno.test("decodeNetpbm reads 16-bit plain PGM", () => {
  const image = decodeNetpbm(text("P2 2 1 1000 0 1000"));
  assert.deepEqual(Array.from(image.data), [0, 0, 0, 255, 255, 255]);
});

Deno.test("decodeNetpbm reads plain PPM", () => {
  const image = decodeNetpbm(text("P3 2 1 255  255 0 0  0 0 255"));
  assert.deepEqual(Array.from(image.data), [255, 0, 0, 0, 0, 255]);
});

Deno.test("decodeNetpbm reads raw PPM", () => {
  const bytes = concat(text("P6 1 2 255\n"), [1, 2, 3, 4, 5, 6]);
  const image = decodeNetpbm(bytes);
  assert.equal(image.width, 1);
  assert.equal(image.height, 2);
  assert.deepEqual(Array.from(image.data), [1, 2, 3, 4, 5, 6]);
});

Deno.test("decodeNetpbm reads 16-bit raw PPM", () => {
  const bytes = concat(text("P6 1 1 511\n"), [
    0x01,
    0xff,
    0x00,
    0x00,
    0x00,
    0xff,
  ]);
  // 511 -> 255, 0 -> 0, 255 * 255 / 511 = 127.25 -> 127.
  assert.deepEqual(Array.from(decodeNetpbm(bytes).data), [255, 0, 127]);
});

Deno.test("decodeNetpbm reads plain and raw PBM", () => {
  const plain = decodeNetpbm(text("P1 3 1 1 0 1"));
  assert.deepEqual(Array.from(plain.data), [0, 0, 0, 255, 255, 255, 0, 0, 0]);
  // Row of 10 pixels in 2 bytes: 1000000001 then 6 padding bits.
  const raw = decodeNetpbm(concat(text("P4 10 1\n"), [0b10000000, 0b01000000]));
  const firstChannel = Array.from(raw.data).filter((_, k) => k % 3 === 0);
  assert.deepEqual(firstChannel, [
    0,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    0,
  ]);
});

Deno.test("isNetpbm checks the magic number", () => {
  assert.equal(isNetpbm(text("P5")), true);
  assert.equal(isNetpbm(text("P7")), false);
  assert.equal(isNetpbm(text("BM")), false);
  assert.equal(isNetpbm(new Uint8Array(0)), false);
});

Deno.test("decodeNetpbm rejects a truncated raster", () => {
  const bytes = concat(text("P5 2 2 255\n"), [1, 2, 3]);
  assert.throws(() => decodeNetpbm(bytes), {
    name: "SyntaxError",
    message: "Cannot decode Netpbm: raster needs 4 bytes, file has 3",
  });
});

Deno.test("decodeNetpbm rejects a sample above maxval", () => {
  assert.throws(() => decodeNetpbm(text("P2 1 1 15 16")), {
    name: "SyntaxError",
    message: "Cannot decode Netpbm: sample 16 exceeds maxval 15",
  });
});

Deno.test("decodeNetpbm rejects a missing height", () => {
  assert.throws(() => decodeNetpbm(text("P5 12 x")), {
    name: "SyntaxError",
    message: "Cannot decode Netpbm: expected height at byte 6",
  });
});

Deno.test("decodeNetpbm rejects a zero size", () => {
  assert.throws(() => decodeNetpbm(text("P5 0 3 255\n")), {
    name: "SyntaxError",
    message: "Cannot decode Netpbm: expected a positive size, got 0x3",
  });
});
