/**
 * Decoder for uncompressed Windows BMP files, which the prebuilt libvips of
 * sharp does not read: 1, 4 and 8-bit palette images, 16 and 32-bit images
 * with or without bit-field masks, and 24-bit BGR, stored bottom-up or
 * top-down. Run-length encoded and embedded JPEG or PNG variants are rejected.
 *
 * @module
 */

import type { RawImage } from "./image.ts";

/** Bytes of the file header before the DIB header. */
const FILE_HEADER_SIZE = 14;
/** The OS/2 1.x BITMAPCOREHEADER, with 16-bit sizes and 3-byte palette entries. */
const CORE_HEADER_SIZE = 12;
const INFO_HEADER_SIZE = 40;

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
const COMPRESSION_NAMES: Record<number, string> = {
  1: "RLE8",
  2: "RLE4",
  4: "JPEG",
  5: "PNG",
};

/** Returns whether bytes start with the BMP signature `BM`. */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bitsPerPixel: number;
  compression: number;
  pixelOffset: number;
  /** Palette entries as `[red, green, blue]`; empty above 8 bits per pixel. */
  palette: Uint8Array[];
  /** Red, green and blue masks for 16 and 32-bit pixels. */
  masks: [number, number, number];
}

/**
 * Decodes an uncompressed BMP to RGB; any alpha channel is dropped.
 *
 * @param bytes The whole file.
 * @returns The image as `[height, width, 3]` RGB uint8, row-major from the top.
 * @throws {SyntaxError} When the file is not a BMP, uses an unsupported
 *   compression or bit depth, or ends before the last pixel.
 *
 * @example Decode a file read from disk
 * ```ts ignore
 * import { decodeBmp } from "./bmp.ts";
 * const image = decodeBmp(await Deno.readFile("face.bmp"));
 * console.log(image.width, image.height);
 * ```
 */
export function decodeBmp(bytes: Uint8Array): RawImage {
  const header = readHeader(bytes);
  const { width, height, bitsPerPixel, pixelOffset } = header;
  const rowBytes = Math.ceil((bitsPerPixel * width) / 32) * 4;
  // The last row needs only its pixels, not its padding.
  const needed = rowBytes * (height - 1) +
    Math.ceil((bitsPerPixel * width) / 8);
  if (bytes.length < pixelOffset + needed) {
    throw new SyntaxError(
      `Cannot decode BMP: pixel data needs ${needed} bytes from offset ${pixelOffset}, file has ${bytes.length} bytes in all`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Uint8Array(width * height * 3);
  const readPixel = pixelReader(header, bytes, view);
  for (let y = 0; y < height; y++) {
    const storedRow = header.topDown ? y : height - 1 - y;
    const rowStart = pixelOffset + storedRow * rowBytes;
    for (let x = 0; x < width; x++) {
      readPixel(rowStart, x, data, (y * width + x) * 3);
    }
  }
  return { data, width, height, channels: 3 };
}

function readHeader(bytes: Uint8Array): BmpHeader {
  if (!isBmp(bytes) || bytes.length < FILE_HEADER_SIZE + 4) {
    throw new SyntaxError("Cannot decode BMP: expected signature BM");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const dibSize = view.getUint32(14, true);
  if (dibSize !== CORE_HEADER_SIZE && dibSize < INFO_HEADER_SIZE) {
    throw new SyntaxError(
      `Cannot decode BMP: unknown DIB header size ${dibSize}`,
    );
  }
  if (bytes.length < FILE_HEADER_SIZE + dibSize) {
    throw new SyntaxError("Cannot decode BMP: file ends inside the header");
  }

  const isCore = dibSize === CORE_HEADER_SIZE;
  const width = isCore ? view.getUint16(18, true) : view.getInt32(18, true);
  const signedHeight = isCore
    ? view.getUint16(20, true)
    : view.getInt32(22, true);
  const bitsPerPixel = view.getUint16(isCore ? 24 : 28, true);
  const compression = isCore ? BI_RGB : view.getUint32(30, true);
  const height = Math.abs(signedHeight);
  if (width < 1 || height < 1) {
    throw new SyntaxError(
      `Cannot decode BMP: expected a positive size, got ${width}x${signedHeight}`,
    );
  }
  if (
    compression !== BI_RGB && compression !== BI_BITFIELDS &&
    compression !== BI_ALPHABITFIELDS
  ) {
    const name = COMPRESSION_NAMES[compression] ?? `code ${compression}`;
    throw new SyntaxError(
      `Cannot decode BMP: compression ${name} is not supported: convert the file to PNG`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) {
    throw new SyntaxError(
      `Cannot decode BMP: ${bitsPerPixel} bits per pixel is not supported`,
    );
  }

  // Bit-field masks sit at byte 54, both inside a V4 or V5 header and right
  // after a 40-byte header. In the second case they push the palette back.
  const hasMasks = compression !== BI_RGB;
  let masks: [number, number, number] = bitsPerPixel === 16
    ? [0x7c00, 0x03e0, 0x001f]
    : [0xff0000, 0x00ff00, 0x0000ff];
  if (hasMasks) {
    if (bytes.length < 66) {
      throw new SyntaxError("Cannot decode BMP: file ends inside the masks");
    }
    masks = [
      view.getUint32(54, true),
      view.getUint32(58, true),
      view.getUint32(62, true),
    ];
  }
  let paletteOffset = FILE_HEADER_SIZE + dibSize;
  if (dibSize === INFO_HEADER_SIZE && compression === BI_BITFIELDS) {
    paletteOffset += 12;
  }
  if (dibSize === INFO_HEADER_SIZE && compression === BI_ALPHABITFIELDS) {
    paletteOffset += 16;
  }

  let palette: Uint8Array[] = [];
  if (bitsPerPixel <= 8) {
    const colorsUsed = isCore ? 0 : view.getUint32(46, true);
    const entrySize = isCore ? 3 : 4;
    // Without a count, the table fills the gap before the pixels, up to
    // 2^bitsPerPixel entries; core headers have no count field.
    const entries = colorsUsed > 0 ? colorsUsed : Math.min(
      1 << bitsPerPixel,
      Math.floor((pixelOffset - paletteOffset) / entrySize),
    );
    if (entries < 1) {
      throw new SyntaxError(
        `Cannot decode BMP: ${bitsPerPixel}-bit image has no palette`,
      );
    }
    if (bytes.length < paletteOffset + entries * entrySize) {
      throw new SyntaxError("Cannot decode BMP: file ends inside the palette");
    }
    palette = Array.from({ length: entries }, (_, k) => {
      const at = paletteOffset + k * entrySize;
      // Entries are stored blue, green, red.
      return Uint8Array.of(bytes[at + 2], bytes[at + 1], bytes[at]);
    });
  }
  return {
    width,
    height,
    topDown: signedHeight < 0,
    bitsPerPixel,
    compression,
    pixelOffset,
    palette,
    masks,
  };
}

type PixelReader = (
  rowStart: number,
  x: number,
  out: Uint8Array,
  at: number,
) => void;

function pixelReader(
  header: BmpHeader,
  bytes: Uint8Array,
  view: DataView,
): PixelReader {
  const { bitsPerPixel, palette } = header;
  if (bitsPerPixel <= 8) {
    const perByte = 8 / bitsPerPixel;
    const valueMask = (1 << bitsPerPixel) - 1;
    return (rowStart, x, out, at) => {
      const byte = bytes[rowStart + Math.floor(x / perByte)];
      // The leftmost pixel sits in the most significant bits.
      const shift = 8 - bitsPerPixel * ((x % perByte) + 1);
      const index = (byte >> shift) & valueMask;
      const color = palette[index];
      if (color === undefined) {
        throw new SyntaxError(
          `Cannot decode BMP: palette index ${index} out of range 0..${
            palette.length - 1
          }`,
        );
      }
      out.set(color, at);
    };
  }
  if (bitsPerPixel === 24) {
    return (rowStart, x, out, at) => {
      const from = rowStart + 3 * x;
      out[at] = bytes[from + 2];
      out[at + 1] = bytes[from + 1];
      out[at + 2] = bytes[from];
    };
  }
  const channels = header.masks.map(maskChannel);
  const bytesPerPixel = bitsPerPixel / 8;
  return (rowStart, x, out, at) => {
    const from = rowStart + bytesPerPixel * x;
    const pixel = bytesPerPixel === 2
      ? view.getUint16(from, true)
      : view.getUint32(from, true);
    for (let c = 0; c < 3; c++) out[at + c] = channels[c](pixel);
  };
}

/** Returns a function that extracts one masked channel scaled to 0..255. */
function maskChannel(mask: number): (pixel: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const maxValue = mask >>> shift;
  return (pixel) => Math.round((((pixel & mask) >>> shift) * 255) / maxValue);
}
