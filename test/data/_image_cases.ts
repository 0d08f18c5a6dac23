/**
 * Image files for the header and decode tests, written with sharp: JPEG,
 * PNG and WebP in the layouts a dataset may hold, and two other formats.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import sharp from "sharp";
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
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
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
export async function imageCases(): Promise<
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
