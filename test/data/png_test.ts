import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { encodePng } from "../../src/data/image.ts";
import { decodeRgbPng } from "../../src/data/png.ts";
import { makeImage } from "./_helpers.ts";

/** A 23x17 image with gradients and edges, so every filter gets used. */
const IMAGE = makeImage(
  23,
  17,
  (y, x, c) => (x * 11 + y * 7 * (c + 1) + (x > 11 ? 90 : 0)) % 256,
);

function raw(image = IMAGE) {
  return sharp(Buffer.from(image.data), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
}

Deno.test("decodeRgbPng reads the build's unfiltered PNG", async () => {
  const decoded = decodeRgbPng(await encodePng(IMAGE));
  assert.ok(decoded !== null);
  assert.equal(decoded.width, 23);
  assert.equal(decoded.height, 17);
  assert.deepEqual(decoded.data, IMAGE.data);
});

Deno.test("decodeRgbPng undoes every row filter", async () => {
  // libpng's adaptive filtering picks a filter per row.
  const png = await raw().png({ adaptiveFiltering: true, palette: false })
    .toBuffer();
  const decoded = decodeRgbPng(new Uint8Array(png));
  assert.ok(decoded !== null);
  assert.deepEqual(decoded.data, IMAGE.data);
});

Deno.test("decodeRgbPng leaves other layouts to sharp", async () => {
  const grey = await raw().toColourspace("b-w").png().toBuffer();
  const rgba = await raw().ensureAlpha().png().toBuffer();
  const jpeg = await raw().jpeg().toBuffer();
  assert.equal(decodeRgbPng(new Uint8Array(grey)), null, "grey");
  assert.equal(decodeRgbPng(new Uint8Array(rgba)), null, "RGBA");
  assert.equal(decodeRgbPng(new Uint8Array(jpeg)), null, "JPEG");
});

Deno.test("decodeRgbPng rejects a cut-short file", async () => {
  const png = await encodePng(IMAGE);
  assert.throws(
    () => decodeRgbPng(png.subarray(0, 60)),
    (error: Error) => {
      assert.ok(error instanceof SyntaxError);
      assert.equal(
        error.message,
        "Cannot decode PNG: the file ends before its IEND chunk",
      );
      return true;
    },
  );
});
