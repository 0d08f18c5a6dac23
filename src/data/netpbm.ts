/**
 * Decoder for the Netpbm formats (PBM, PGM and PPM, plain and raw), which the
 * prebuilt libvips of sharp does not read. The AT&T faces, for one, are raw
 * PGM. The format is specified at https://netpbm.sourceforge.net/doc/.
 *
 * @module
 */

import type { RawImage } from "./image.ts";

/** Returns whether bytes start with a Netpbm magic number, `P1` to `P6`. */
export function isNetpbm(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] >= 0x31 &&
    bytes[1] <= 0x36;
}

/** Reads whitespace-separated header tokens, skipping `#` comments. */
class HeaderReader {
  #bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset: number) {
    this.#bytes = bytes;
    this.offset = offset;
  }

  #skipSpaceAndComments(): void {
    const bytes = this.#bytes;
    while (this.offset < bytes.length) {
      const byte = bytes[this.offset];
      if (byte === 0x23) {
        // A comment runs to the end of its line.
        while (
          this.offset < bytes.length && bytes[this.offset] !== 0x0a &&
          bytes[this.offset] !== 0x0d
        ) {
          this.offset++;
        }
      } else if (isSpace(byte)) {
        this.offset++;
      } else {
        return;
      }
    }
  }

  /** Reads one unsigned decimal integer. */
  readInteger(what: string): number {
    this.#skipSpaceAndComments();
    const start = this.offset;
    let value = 0;
    while (
      this.offset < this.#bytes.length && isDigit(this.#bytes[this.offset])
    ) {
      value = value * 10 + (this.#bytes[this.offset] - 0x30);
      this.offset++;
    }
    if (this.offset === start) {
      throw new SyntaxError(
        `Cannot decode Netpbm: expected ${what} at byte ${start}`,
      );
    }
    return value;
  }

  /** Reads one plain-PBM pixel, a single `0` or `1` that needs no separator. */
  readBit(): number {
    this.#skipSpaceAndComments();
    const byte = this.#bytes[this.offset];
    if (byte !== 0x30 && byte !== 0x31) {
      throw new SyntaxError(
        `Cannot decode Netpbm: expected a 0 or 1 pixel at byte ${this.offset}`,
      );
    }
    this.offset++;
    return byte - 0x30;
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/**
 * Decodes a PBM (`P1`, `P4`), PGM (`P2`, `P5`) or PPM (`P3`, `P6`) image to
 * RGB.
 *
 * Samples are scaled from 0..maxval to 0..255 with rounding. A maxval above
 * 255 means two bytes per sample, most significant first. Grey images are
 * replicated to three channels, and PBM maps 1 to black and 0 to white. Only
 * the first image of a multi-image file is read.
 *
 * @param bytes The whole file.
 * @returns The image as `[height, width, 3]` RGB uint8, row-major.
 * @throws {SyntaxError} When the header is malformed, a sample exceeds maxval
 *   or the file ends before the last pixel.
 *
 * @example Decode a 2x1 plain PGM
 * ```ts
 * import { decodeNetpbm } from "./netpbm.ts";
 * const image = decodeNetpbm(new TextEncoder().encode("P2 2 1 255 0 255"));
 * console.log(image.data); // 0, 0, 0, 255, 255, 255
 * ```
 */
export function decodeNetpbm(bytes: Uint8Array): RawImage {
  if (!isNetpbm(bytes)) {
    throw new SyntaxError(
      "Cannot decode Netpbm: expected magic number P1 to P6",
    );
  }
  const kind = bytes[1] - 0x30;
  const header = new HeaderReader(bytes, 2);
  const width = header.readInteger("width");
  const height = header.readInteger("height");
  const isBitmap = kind === 1 || kind === 4;
  const maxval = isBitmap ? 1 : header.readInteger("maxval");
  if (width < 1 || height < 1) {
    throw new SyntaxError(
      `Cannot decode Netpbm: expected a positive size, got ${width}x${height}`,
    );
  }
  if (maxval < 1 || maxval > 65535) {
    throw new SyntaxError(
      `Cannot decode Netpbm: expected maxval in 1..65535, got ${maxval}`,
    );
  }

  const samplesPerPixel = kind === 3 || kind === 6 ? 3 : 1;
  const sampleCount = width * height * samplesPerPixel;
  let samples: Uint16Array;
  if (kind === 1) {
    samples = readPlainBits(header, sampleCount);
  } else if (kind === 2 || kind === 3) {
    samples = readPlainSamples(header, sampleCount, maxval);
  } else {
    // Exactly one whitespace byte separates the header from a raw raster.
    const start = header.offset + 1;
    samples = kind === 4
      ? readRawBits(bytes, start, width, height)
      : readRawSamples(bytes, start, sampleCount, maxval);
  }
  return toRgb(samples, width, height, samplesPerPixel, isBitmap, maxval);
}

function readPlainBits(header: HeaderReader, count: number): Uint16Array {
  const samples = new Uint16Array(count);
  for (let k = 0; k < count; k++) samples[k] = header.readBit();
  return samples;
}

function readPlainSamples(
  header: HeaderReader,
  count: number,
  maxval: number,
): Uint16Array {
  const samples = new Uint16Array(count);
  for (let k = 0; k < count; k++) {
    samples[k] = checkSample(header.readInteger("a sample"), maxval);
  }
  return samples;
}

/** Reads a P4 raster: rows of bits, most significant first, byte-padded. */
function readRawBits(
  bytes: Uint8Array,
  start: number,
  width: number,
  height: number,
): Uint16Array {
  const rowBytes = Math.ceil(width / 8);
  checkLength(bytes, start, rowBytes * height);
  const samples = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = bytes[start + y * rowBytes + (x >> 3)];
      samples[y * width + x] = (byte >> (7 - (x & 7))) & 1;
    }
  }
  return samples;
}

function readRawSamples(
  bytes: Uint8Array,
  start: number,
  count: number,
  maxval: number,
): Uint16Array {
  const bytesPerSample = maxval > 255 ? 2 : 1;
  checkLength(bytes, start, count * bytesPerSample);
  const samples = new Uint16Array(count);
  for (let k = 0; k < count; k++) {
    const value = bytesPerSample === 1
      ? bytes[start + k]
      : (bytes[start + 2 * k] << 8) | bytes[start + 2 * k + 1];
    samples[k] = checkSample(value, maxval);
  }
  return samples;
}

function checkLength(bytes: Uint8Array, start: number, needed: number): void {
  if (bytes.length < start + needed) {
    throw new SyntaxError(
      `Cannot decode Netpbm: raster needs ${needed} bytes, file has ${
        Math.max(0, bytes.length - start)
      }`,
    );
  }
}

function checkSample(value: number, maxval: number): number {
  if (value > maxval) {
    throw new SyntaxError(
      `Cannot decode Netpbm: sample ${value} exceeds maxval ${maxval}`,
    );
  }
  return value;
}

function toRgb(
  samples: Uint16Array,
  width: number,
  height: number,
  samplesPerPixel: number,
  isBitmap: boolean,
  maxval: number,
): RawImage {
  // Maps each sample value to 0..255 once, rather than per pixel.
  const levels = isBitmap ? Uint8Array.of(255, 0) : Uint8Array.from(
    { length: maxval + 1 },
    (_, value) => Math.round((value * 255) / maxval),
  );
  const pixels = width * height;
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const channel = samplesPerPixel === 3 ? c : 0;
      data[p * 3 + c] = levels[samples[p * samplesPerPixel + channel]];
    }
  }
  return { data, width, height, channels: 3 };
}
