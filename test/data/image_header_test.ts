import assert from "node:assert/strict";
import sharp from "sharp";
import { readRasterHeader } from "../../src/data/image_header.ts";
import { isPlainRaster } from "../../src/data/image.ts";
import { imageCases, pngChunk } from "./_image_cases.ts";

Deno.test("readRasterHeader agrees with sharp metadata", async () => {
  for (const { name, bytes, settled } of await imageCases()) {
    const header = readRasterHeader(bytes);
    if (!settled) {
      assert.equal(header, null, name);
      continue;
    }
    assert.notEqual(header, null, name);
    const metadata = await sharp(bytes).metadata();
    assert.equal(header!.format, metadata.format, name);
    assert.equal(header!.width, metadata.width, name);
    assert.equal(header!.height, metadata.height, name);
    assert.equal(header!.plain, isPlainRaster(metadata), name);
  }
});

Deno.test("readRasterHeader marks the non-plain cases", async () => {
  const plain = new Map<string, boolean>();
  for (const { name, bytes } of await imageCases()) {
    const header = readRasterHeader(bytes);
    if (header !== null) plain.set(name, header.plain);
  }
  // Each reason for the separate decode steps, seen at least once.
  assert.equal(plain.get("JPEG with EXIF orientation 6"), false);
  assert.equal(plain.get("16-bit RGB PNG"), false);
  assert.equal(plain.get("RGBA PNG"), false);
  assert.equal(plain.get("RGB PNG with tRNS"), false);
  assert.equal(plain.get("lossless WebP with alpha"), false);
  assert.equal(plain.get("RGB JPEG"), true);
  assert.equal(plain.get("grey PNG"), true);
  assert.equal(plain.get("lossy WebP"), true);
});

Deno.test("readRasterHeader returns null for truncated files", async () => {
  for (const { name, bytes, settled } of await imageCases()) {
    if (!settled) continue;
    // Cut inside the header: before the JPEG frame header, inside IHDR, or
    // inside the WebP bitstream header.
    for (const length of [0, 1, 4, 12, 20, 24]) {
      assert.equal(
        readRasterHeader(bytes.subarray(0, length)),
        null,
        `${name} cut to ${length} bytes`,
      );
    }
  }
});

Deno.test("readRasterHeader reads the size of a huge PNG", () => {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, 20000);
  view.setUint32(4, 30000);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const png = Uint8Array.from([
    ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    ...pngChunk("IHDR", ihdr),
    ...pngChunk("IDAT", new Uint8Array(4)),
  ]);
  assert.deepEqual(readRasterHeader(png), {
    format: "png",
    width: 20000,
    height: 30000,
    plain: true,
  });
});
