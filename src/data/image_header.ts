/**
 * Header reading for the dataset build's decode step: the size of a JPEG,
 * PNG or WebP file and whether sharp decodes it as a plain 8-bit raster,
 * read from its first bytes in TypeScript. Each sharp call has a fixed cost,
 * so reading the header here saves one call per source image. Files with
 * anything this reader does not settle go to sharp's own header reader (see
 * `decodeResized` in image.ts).
 *
 * Formats: JPEG (ITU-T T.81 markers, EXIF orientation from the TIFF IFD0 of
 * APP1), PNG (ISO/IEC 15948 chunks before IDAT) and WebP in the simple lossy
 * (VP8) and lossless (VP8L) layouts of the WebP container specification.
 *
 * @module
 */

/** The header fields the dataset build needs before decoding a file. */
export interface RasterHeader {
  format: "jpeg" | "png" | "webp";
  /** Stored width in pixels, which is the upright width when `plain` is true. */
  width: number;
  /** Stored height in pixels, which is the upright height when `plain` is true. */
  height: number;
  /**
   * Whether sharp 0.35 reads the file as 8-bit sRGB or grey without alpha,
   * on one page and without EXIF rotation. It equals `isPlainRaster` (in
   * image.ts) of sharp's metadata for the same file.
   */
  plain: boolean;
}

/**
 * Reads the header of a JPEG, PNG or WebP file.
 *
 * Returns null for other formats and for a damaged or truncated header. It
 * also returns null for the files whose decision it leaves to sharp. Those
 * are JPEG files with an Adobe APP14 marker, a precision other than 8 bits,
 * a component count other than 1 or 3, or other than one parsable EXIF
 * block. They also include PNG files with a palette, fewer than 8 bits, or
 * an eXIf or acTL chunk, and WebP files in the extended (VP8X) layout.
 *
 * @param bytes The whole file, or at least its header.
 * @returns The size and the decision, or null when sharp has to decide.
 *
 * @example Read a PNG header
 * ```ts ignore
 * import { readRasterHeader } from "./image_header.ts";
 * const header = readRasterHeader(await Deno.readFile("face.png"));
 * console.log(header?.width, header?.height, header?.plain);
 * ```
 */
export function readRasterHeader(bytes: Uint8Array): RasterHeader | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    return readJpegHeader(bytes);
  }
  if (startsWith(bytes, 0, PNG_SIGNATURE)) return readPngHeader(bytes);
  if (
    startsWith(bytes, 0, [0x52, 0x49, 0x46, 0x46]) && // "RIFF"
    startsWith(bytes, 8, [0x57, 0x45, 0x42, 0x50]) // "WEBP"
  ) {
    return readWebpHeader(bytes);
  }
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(
  bytes: Uint8Array,
  offset: number,
  prefix: readonly number[],
): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((value, i) => bytes[offset + i] === value);
}

function uint16(bytes: Uint8Array, offset: number, littleEndian = false) {
  return littleEndian
    ? bytes[offset] | (bytes[offset + 1] << 8)
    : (bytes[offset] << 8) | bytes[offset + 1];
}

function uint32(bytes: Uint8Array, offset: number, littleEndian = false) {
  return littleEndian
    ? (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
      (bytes[offset + 3] << 24)) >>> 0
    : ((bytes[offset] << 24) | (bytes[offset + 1] << 16) |
      (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Returns whether a JPEG marker starts a frame (SOF0-3, 5-7, 9-11, 13-15). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
    marker !== 0xc8 && marker !== 0xcc;
}

const EXIF_PREFIX = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
const ADOBE_PREFIX = [0x41, 0x64, 0x6f, 0x62, 0x65]; // "Adobe"

/**
 * Walks the marker segments up to the start of scan, as libjpeg does before
 * it decodes, since libvips reads the APPn markers found anywhere before it.
 */
function readJpegHeader(bytes: Uint8Array): RasterHeader | null {
  let frame: { width: number; height: number; components: number } | null =
    null;
  let orientation = 1;
  let exifBlocks = 0;
  let offset = 2;
  for (;;) {
    if (offset + 4 > bytes.length || bytes[offset] !== 0xff) return null;
    // Any number of 0xFF fill bytes may precede a marker.
    while (offset + 1 < bytes.length && bytes[offset + 1] === 0xff) offset++;
    const marker = bytes[offset + 1];
    if (marker === 0xda) break; // start of scan
    if (marker === 0xd8 || marker === 0xd9 || marker === 0x01) return null;
    if (marker >= 0xd0 && marker <= 0xd7) return null;
    if (offset + 4 > bytes.length) return null;
    const length = uint16(bytes, offset + 2);
    const start = offset + 4;
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length) return null;
    if (isStartOfFrame(marker)) {
      if (frame !== null || length < 8) return null;
      const precision = bytes[start];
      const height = uint16(bytes, start + 1);
      const width = uint16(bytes, start + 3);
      const components = bytes[start + 5];
      if (precision !== 8 || width === 0 || height === 0) return null;
      if (components !== 1 && components !== 3) return null;
      if (length < 8 + 3 * components) return null;
      frame = { width, height, components };
    } else if (marker === 0xe1 && startsWith(bytes, start, EXIF_PREFIX)) {
      exifBlocks++;
      const value = readExifOrientation(
        bytes.subarray(start + EXIF_PREFIX.length, end),
      );
      if (value === null || exifBlocks > 1) return null;
      orientation = value;
    } else if (marker === 0xee && startsWith(bytes, start, ADOBE_PREFIX)) {
      // The Adobe marker can change the colour transform.
      return null;
    }
    offset = end;
  }
  if (frame === null) return null;
  return {
    format: "jpeg",
    width: frame.width,
    height: frame.height,
    plain: orientation === 1,
  };
}

/**
 * Returns the Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF
 * block: 1 when the tag is absent, null when the block cannot be parsed or
 * the tag is not one SHORT from 1 to 8. libvips 8.18 reads the orientation
 * from IFD0 only.
 */
function readExifOrientation(tiff: Uint8Array): number | null {
  if (tiff.length < 8) return null;
  let littleEndian: boolean;
  if (tiff[0] === 0x49 && tiff[1] === 0x49) littleEndian = true; // "II"
  else if (tiff[0] === 0x4d && tiff[1] === 0x4d) littleEndian = false; // "MM"
  else return null;
  if (uint16(tiff, 2, littleEndian) !== 42) return null;
  const ifd = uint32(tiff, 4, littleEndian);
  if (ifd < 8 || ifd + 2 > tiff.length) return null;
  const entries = uint16(tiff, ifd, littleEndian);
  if (ifd + 2 + 12 * entries > tiff.length) return null;
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + 12 * i;
    if (uint16(tiff, entry, littleEndian) !== 0x0112) continue;
    const type = uint16(tiff, entry + 2, littleEndian);
    const count = uint32(tiff, entry + 4, littleEndian);
    if (type !== 3 || count !== 1) return null; // one SHORT
    const value = uint16(tiff, entry + 8, littleEndian);
    return value >= 1 && value <= 8 ? value : null;
  }
  return 1;
}

/** The colour types of IHDR: grey, RGB, palette, grey with alpha, RGBA. */
const PNG_GREY = 0;
const PNG_RGB = 2;
const PNG_GREY_ALPHA = 4;
const PNG_RGBA = 6;

/** Reads IHDR, then the chunk types up to the first IDAT. */
function readPngHeader(bytes: Uint8Array): RasterHeader | null {
  let offset = PNG_SIGNATURE.length;
  if (offset + 8 + 13 > bytes.length) return null;
  if (uint32(bytes, offset) !== 13 || chunkType(bytes, offset) !== "IHDR") {
    return null;
  }
  const width = uint32(bytes, offset + 8);
  const height = uint32(bytes, offset + 12);
  const bitDepth = bytes[offset + 16];
  const colourType = bytes[offset + 17];
  if (width === 0 || height === 0) return null;

  let plain: boolean;
  if (colourType === PNG_GREY_ALPHA || colourType === PNG_RGBA) {
    plain = false;
  } else if (colourType !== PNG_GREY && colourType !== PNG_RGB) {
    return null; // palette, or not a colour type
  } else if (bitDepth === 16) {
    plain = false;
  } else if (bitDepth === 8) {
    plain = true;
  } else {
    return null;
  }

  offset += 8 + 13 + 4;
  for (;;) {
    if (offset + 8 > bytes.length) return null;
    const length = uint32(bytes, offset);
    const type = chunkType(bytes, offset);
    if (type === "IDAT") break;
    // A transparent colour becomes an alpha channel; eXIf may rotate and
    // acTL adds animation frames.
    if (type === "tRNS") plain = false;
    if (type === "eXIf" || type === "acTL" || type === "IEND") return null;
    offset += 12 + length;
  }
  return { format: "png", width, height, plain };
}

function chunkType(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
}

/** Reads the first chunk of a WebP file in the simple lossy or lossless layout. */
function readWebpHeader(bytes: Uint8Array): RasterHeader | null {
  if (bytes.length < 30) return null;
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  const data = 20;
  if (chunk === "VP8 ") {
    // A key frame: the frame tag's lowest bit is 0, then the start code
    // 9D 01 2A, then 14-bit width and height with 2 scaling bits each.
    if ((bytes[data] & 1) !== 0) return null;
    if (!startsWith(bytes, data + 3, [0x9d, 0x01, 0x2a])) return null;
    const width = uint16(bytes, data + 6, true) & 0x3fff;
    const height = uint16(bytes, data + 8, true) & 0x3fff;
    if (width === 0 || height === 0) return null;
    return { format: "webp", width, height, plain: true };
  }
  if (chunk === "VP8L") {
    // Signature 0x2F, then 14 bits of width - 1, 14 bits of height - 1, one
    // alpha_is_used bit and a 3-bit version, least significant bit first.
    if (bytes[data] !== 0x2f) return null;
    const bits = uint32(bytes, data + 1, true);
    const width = (bits & 0x3fff) + 1;
    const height = ((bits >>> 14) & 0x3fff) + 1;
    const alpha = (bits >>> 28) & 1;
    if (bits >>> 29 !== 0) return null;
    return { format: "webp", width, height, plain: alpha === 0 };
  }
  return null;
}
