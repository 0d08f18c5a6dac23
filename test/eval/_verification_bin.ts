/**
 * Writes insightface-style verification `.bin` files byte by byte for the
 * tests: the pickle of `(bins, issame_list)` as CPython writes it, with
 * Python 2 strings for protocol 2 (as the published `.bin` files contain) and
 * bytes for protocols 3 to 5.
 */

import { Buffer } from "node:buffer";
import sharp from "sharp";

function uint32(value: number): number[] {
  return [
    value & 0xff,
    (value >>> 8) & 0xff,
    (value >>> 16) & 0xff,
    value >>> 24,
  ];
}

function uint64(value: number): number[] {
  return [...uint32(value % 2 ** 32), ...uint32(Math.floor(value / 2 ** 32))];
}

/**
 * Encodes images and labels as a pickle of protocol 2 to 5.
 *
 * Lists are filled in batches of 1,000 items between MARK and APPENDS, and
 * each value is memoised (BINPUT or LONG_BINPUT, or MEMOIZE from protocol 4),
 * as CPython's pickler does; for protocol 3 the bytes equal CPython 3.11's.
 * Protocols 4 and 5 open with one FRAME opcode of length 0, where CPython
 * gives the frame's length; readers use it only for buffering.
 */
export function encodeVerificationBin(
  images: readonly Uint8Array[],
  issame: readonly boolean[],
  protocol: 2 | 3 | 4 | 5,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  let pending: number[] = [];
  const flush = () => {
    if (pending.length > 0) chunks.push(Uint8Array.from(pending));
    pending = [];
  };
  let memo = 0;
  const memoise = () => {
    if (protocol >= 4) pending.push(0x94);
    else if (memo < 256) pending.push(0x71, memo);
    else pending.push(0x72, ...uint32(memo));
    memo += 1;
  };
  const list = <T>(items: readonly T[], write: (item: T) => void) => {
    pending.push(0x5d); // EMPTY_LIST
    memoise();
    for (let start = 0; start < items.length; start += 1000) {
      pending.push(0x28); // MARK
      for (const item of items.slice(start, start + 1000)) write(item);
      pending.push(0x65); // APPENDS
    }
  };

  pending.push(0x80, protocol);
  if (protocol >= 4) pending.push(0x95, ...uint64(0));
  list(images, (image) => {
    if (protocol === 2) {
      // SHORT_BINSTRING or BINSTRING: a Python 2 str.
      if (image.length < 256) pending.push(0x55, image.length);
      else pending.push(0x54, ...uint32(image.length));
    } else {
      // SHORT_BINBYTES or BINBYTES.
      if (image.length < 256) pending.push(0x43, image.length);
      else pending.push(0x42, ...uint32(image.length));
    }
    flush();
    chunks.push(image);
    memoise();
  });
  list(issame, (same) => pending.push(same ? 0x88 : 0x89));
  pending.push(0x86); // TUPLE2
  memoise();
  pending.push(0x2e); // STOP
  flush();

  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Encodes a square JPEG of colour gradients whose slopes depend on k. */
export async function gradientJpeg(
  k: number,
  size = 112,
): Promise<Uint8Array> {
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const offset = 3 * (y * size + x);
      pixels[offset] = (x * (k + 1)) % 256;
      pixels[offset + 1] = (y * 2 + k * 16) % 256;
      pixels[offset + 2] = ((x + y) * k) % 256;
    }
  }
  const jpeg = await sharp(Buffer.from(pixels), {
    raw: { width: size, height: size, channels: 3 },
  }).jpeg({ quality: 90 }).toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.length);
}
