import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { readRasterHeader } from "../../src/data/image_header.ts";
import {
  cropImage,
  decodeImageBytes,
  decodeResized,
  isPlainRaster,
  resizeImage,
} from "../../src/data/image.ts";
import { makeImage } from "./_helpers.ts";

/** A sharp pipeline, as `sharp()` returns it. */
type Pipeline = ReturnType<typeof sharp>;

/** A 24x16 test card, so that width and height cannot be swapped unseen. */
const CARD = makeImage(24, 16, (y, x, c) => (y * 13 + x * 7 + c * 70) % 256);

/** Returns a sharp pipeline on `CARD` with 1, 2, 3 or 4 channels. */
function card(channels: 1 | 2 | 3 | 4): Pipeline {
  const pixels = CARD.width * CARD.height;
  const data = new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      // The fourth channel, or the second of grey with alpha, is alpha.
      data[p * channels + c] = CARD.data[p * 3 + Math.min(c, 2)];
    }
  }
  return sharp(data, {
    raw: { width: CARD.width, height: CARD.height, channels },
  });
}

/** Returns a PNG chunk: length, type, data and the CRC-32 of type and data. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typed = Uint8Array.from([...new TextEncoder().encode(type), ...data]);
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  chunk.set(typed, 4);
  view.setUint32(8 + data.length, crc32(typed));
  return chunk;
}

/** Inserts a chunk into a PNG right after its IHDR chunk. */
function withChunkAfterIhdr(png: Uint8Array, chunk: Uint8Array): Uint8Array {
  const afterIhdr = 8 + 12 + 13;
  return Uint8Array.from([
    ...png.subarray(0, afterIhdr),
    ...chunk,
    ...png.subarray(afterIhdr),
  ]);
}

/** Encoded files and whether the reader settles them itself. */
async function cases(): Promise<
  { name: string; bytes: Uint8Array; settled: boolean }[]
> {
  const grey = () => card(1).toColourspace("b-w");
  const bytes = async (pipeline: Pipeline) =>
    new Uint8Array(await pipeline.toBuffer());
  const rgbPng = await bytes(card(3).png());
  return [
    { name: "RGB JPEG", bytes: await bytes(card(3).jpeg()), settled: true },
    {
      name: "RGB JPEG 4:4:4",
      bytes: await bytes(card(3).jpeg({ chromaSubsampling: "4:4:4" })),
      settled: true,
    },
    { name: "grey JPEG", bytes: await bytes(grey().jpeg()), settled: true },
    {
      name: "progressive JPEG",
      bytes: await bytes(card(3).jpeg({ progressive: true })),
      settled: true,
    },
    {
      name: "JPEG with an ICC profile",
      bytes: await bytes(card(3).jpeg().withIccProfile("srgb")),
      settled: true,
    },
    {
      name: "JPEG with EXIF orientation 1",
      bytes: await bytes(card(3).jpeg().withMetadata({ orientation: 1 })),
      settled: true,
    },
    {
      name: "JPEG with EXIF orientation 6",
      bytes: await bytes(card(3).jpeg().withMetadata({ orientation: 6 })),
      settled: true,
    },
    {
      name: "JPEG with EXIF orientation 3",
      bytes: await bytes(card(3).jpeg().withMetadata({ orientation: 3 })),
      settled: true,
    },
    {
      name: "JPEG with EXIF and no orientation",
      bytes: await bytes(
        card(3).jpeg().withExif({ IFD0: { Copyright: "test" } }),
      ),
      settled: true,
    },
    {
      name: "CMYK JPEG",
      bytes: await bytes(card(3).toColourspace("cmyk").jpeg()),
      settled: false,
    },
    { name: "RGB PNG", bytes: rgbPng, settled: true },
    { name: "grey PNG", bytes: await bytes(grey().png()), settled: true },
    {
      name: "interlaced PNG",
      bytes: await bytes(card(3).png({ progressive: true })),
      settled: true,
    },
    {
      name: "16-bit RGB PNG",
      bytes: await bytes(card(3).toColourspace("rgb16").png()),
      settled: true,
    },
    {
      name: "16-bit grey PNG",
      bytes: await bytes(card(1).toColourspace("grey16").png()),
      settled: true,
    },
    { name: "RGBA PNG", bytes: await bytes(card(4).png()), settled: true },
    {
      name: "grey PNG with alpha",
      bytes: await bytes(card(2).toColourspace("b-w").png()),
      settled: true,
    },
    {
      name: "RGB PNG with tRNS",
      bytes: withChunkAfterIhdr(
        rgbPng,
        pngChunk("tRNS", Uint8Array.of(0, 0, 0, 0, 0, 0)),
      ),
      settled: true,
    },
    {
      name: "palette PNG",
      bytes: await bytes(card(3).png({ palette: true })),
      settled: false,
    },
    {
      name: "lossy WebP",
      bytes: await bytes(card(3).webp()),
      settled: true,
    },
    {
      name: "lossless WebP",
      bytes: await bytes(card(3).webp({ lossless: true })),
      settled: true,
    },
    {
      name: "lossless WebP with alpha",
      bytes: await bytes(card(4).webp({ lossless: true })),
      settled: true,
    },
    {
      name: "lossy WebP with alpha",
      bytes: await bytes(card(4).webp()),
      settled: false,
    },
    {
      name: "WebP with EXIF orientation 6",
      bytes: await bytes(card(3).webp().withMetadata({ orientation: 6 })),
      settled: false,
    },
    { name: "GIF", bytes: await bytes(card(3).gif()), settled: false },
    { name: "TIFF", bytes: await bytes(card(3).tiff()), settled: false },
  ];
}

Deno.test("readRasterHeader agrees with sharp metadata", async () => {
  for (const { name, bytes, settled } of await cases()) {
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
  for (const { name, bytes } of await cases()) {
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
  for (const { name, bytes, settled } of await cases()) {
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

Deno.test("decodeResized equals decode, crop and resize", async () => {
  // Inside both the 24x16 card and its 16x24 turned versions.
  const box = { left: 3, top: 2, width: 11, height: 12 };
  for (const { name, bytes } of await cases()) {
    const separate = await resizeImage(
      cropImage(await decodeImageBytes(bytes, name), box, name),
      10,
    );
    const joined = await decodeResized(bytes, name, 10, box);
    assert.deepEqual(joined.data, separate.data, name);
  }
});
