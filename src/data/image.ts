/**
 * Image input and output for the dataset stage: decodes any supported file
 * to one RGB layout, resizes to the square network input and encodes PNG.
 * JPEG, PNG and WebP go through sharp (libvips); Netpbm and BMP, which its
 * prebuilt libvips does not read, go through the decoders beside this file.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { decodeBmp, isBmp } from "./bmp.ts";
import { readRasterHeader } from "./image_header.ts";
import { decodeNetpbm, isNetpbm } from "./netpbm.ts";

/** A decoded image: `[height, width, 3]` RGB uint8, row-major (HWC). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/**
 * Decodes an image file to RGB.
 *
 * The format comes from the first bytes, not the extension. Grey images are
 * replicated to three channels, and an alpha channel is dropped without
 * compositing, as OpenCV's `imread` in colour mode does. The EXIF orientation
 * of JPEG and WebP files is applied.
 *
 * @param path The image file.
 * @returns The image as `[height, width, 3]` RGB uint8.
 * @throws {Error} When the file cannot be read or decoded; the message names
 *   the path and the cause.
 *
 * @example Decode one face
 * ```ts ignore
 * import { decodeImage } from "./image.ts";
 * const face = await decodeImage("data/faces/s1/1.pgm");
 * console.log(face.width, face.height); // 92 112
 * ```
 */
export async function decodeImage(path: string): Promise<RawImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read image "${path}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return await decodeImageBytes(bytes, path);
}

/**
 * Decodes the bytes of an image file to RGB, as {@linkcode decodeImage} does.
 *
 * @param bytes The whole file.
 * @param source The file's path or another name for error messages.
 * @returns The image as `[height, width, 3]` RGB uint8.
 * @throws {Error} When the bytes cannot be decoded; the message names
 *   `source` and the cause.
 */
export async function decodeImageBytes(
  bytes: Uint8Array,
  source: string,
): Promise<RawImage> {
  try {
    if (isNetpbm(bytes)) return decodeNetpbm(bytes);
    if (isBmp(bytes)) return decodeBmp(bytes);
    return await decodeWithSharp(bytes);
  } catch (error) {
    throw decodeError(source, error);
  }
}

/**
 * The maximum pixel count sharp decodes by default: `limitInputPixels` is
 * 0x3FFF x 0x3FFF (sharp 0.35 `index.d.ts`). Larger files are rejected from
 * their header, before any pixel is decompressed.
 */
const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

/** The header fields sharp reads from a file. */
type SharpMetadata = Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;

/** The size of a file sharp decodes, and whether it is a plain raster. */
interface Header {
  width: number;
  height: number;
  /** See {@linkcode isPlainRaster}. */
  plain: boolean;
}

/**
 * Reads the header of a file sharp decodes and checks its pixel count. JPEG,
 * PNG and WebP headers are read in TypeScript (image_header.ts), which saves
 * a sharp call. Anything that reader leaves open goes to sharp's metadata.
 */
async function readHeader(bytes: Uint8Array): Promise<Header> {
  let header: Header | null = readRasterHeader(bytes);
  if (header === null) {
    // Without the limit here, so the header's size can go into the message.
    const metadata = await sharp(bytes, { limitInputPixels: false })
      .metadata();
    header = {
      width: metadata.width,
      height: metadata.height,
      plain: isPlainRaster(metadata),
    };
  }
  const { width, height } = header;
  if (width * height > MAX_INPUT_PIXELS) {
    throw new RangeError(
      `image is ${width}x${height} pixels, above the decoder limit of ${MAX_INPUT_PIXELS} pixels (16383x16383): shrink it, or remove it from the dataset`,
    );
  }
  return header;
}

async function decodeWithSharp(bytes: Uint8Array): Promise<RawImage> {
  await readHeader(bytes);
  const { data, info } = await sharp(bytes)
    .rotate()
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  return fromBuffer(data, info.width, info.height, info.channels);
}

/**
 * Returns whether sharp can decode, crop and resize a file in one pipeline with the
 * same pixels as decoding to RGB first and resizing that: 8-bit sRGB or grey
 * without alpha, a single page and no EXIF rotation. Premultiplied alpha, a
 * rotation or a colour transform would otherwise run in another order.
 */
export function isPlainRaster(metadata: SharpMetadata): boolean {
  return !metadata.hasAlpha && (metadata.orientation ?? 1) === 1 &&
    (metadata.space === "srgb" || metadata.space === "b-w") &&
    metadata.depth === "uchar" && (metadata.pages ?? 1) === 1;
}

/** A rectangle of source pixels, such as a face box. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Decodes an image file, crops it and resizes it to `size` x `size`: the
 * first step of the dataset build for every source image.
 *
 * The pixels equal those of {@linkcode decodeImageBytes}, then
 * {@linkcode cropImage}, then {@linkcode resizeImage}. For a plain 8-bit JPEG,
 * PNG or WebP, sharp does all three in one pipeline. It extracts the box
 * before resizing, which turns off JPEG shrink-on-load, so the Lanczos-3
 * resize gets the same input as in the separate steps. It also reads with
 * random access, because sequential reads gave other pixels than the separate
 * steps on some large shrinks with libvips 8.18 (640x427 to 32x32). Other
 * files take the separate steps.
 *
 * @param bytes The whole file.
 * @param source The file's path or another name for error messages.
 * @param size Side of the output in pixels.
 * @param crop The box to keep, in pixels of the upright image; the whole
 *   image when absent.
 * @returns `[size, size, 3]` RGB uint8.
 * @throws {Error} When the bytes cannot be decoded or the box does not fit;
 *   the message names `source` and the cause.
 */
export async function decodeResized(
  bytes: Uint8Array,
  source: string,
  size: number,
  crop?: CropBox,
): Promise<RawImage> {
  const box = await plainBox(bytes, source, crop);
  if (box === null) {
    const decoded = await decodeImageBytes(bytes, source);
    return await resizeImage(
      crop ? cropImage(decoded, crop, source) : decoded,
      size,
    );
  }
  try {
    const { data, info } = await resizedPipeline(bytes, box, size)
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    return fromBuffer(data, info.width, info.height, info.channels);
  } catch (error) {
    throw decodeError(source, error);
  }
}

/**
 * Decodes an image file, crops it, resizes it to `size` x `size` and encodes
 * the result as PNG, all in one sharp pipeline, for the outputs that need no
 * raw pixels. This saves the second sharp call of
 * {@linkcode decodeResized} followed by {@linkcode encodePng}, and returns
 * the same bytes.
 *
 * Returns null for files that are not plain 8-bit rasters (see
 * `decodeResized`) and when sharp fails, so that the caller takes the
 * separate steps, which also report any error in their usual words.
 *
 * @param bytes The whole file.
 * @param source The file's path or another name for error messages.
 * @param size Side of the output in pixels.
 * @param crop The box to keep, in pixels of the upright image; the whole
 *   image when absent.
 * @returns The PNG file bytes, or null.
 * @throws {Error} When the header cannot be read or the box does not fit;
 *   the message names `source` and the cause.
 */
export async function decodeResizedPng(
  bytes: Uint8Array,
  source: string,
  size: number,
  crop?: CropBox,
): Promise<Uint8Array | null> {
  const box = await plainBox(bytes, source, crop);
  if (box === null) return null;
  let png: Buffer;
  try {
    png = await resizedPipeline(bytes, box, size).png(PNG_OPTIONS).toBuffer();
  } catch {
    return null;
  }
  return setRawDensity(new Uint8Array(png.buffer, png.byteOffset, png.length));
}

/**
 * Returns the box to crop from a plain 8-bit raster (the whole image when
 * `crop` is absent), or null for other files.
 *
 * @throws {Error} When the header cannot be read or the box does not fit.
 */
async function plainBox(
  bytes: Uint8Array,
  source: string,
  crop?: CropBox,
): Promise<CropBox | null> {
  let header: Header | null = null;
  try {
    if (!isNetpbm(bytes) && !isBmp(bytes)) header = await readHeader(bytes);
  } catch (error) {
    throw decodeError(source, error);
  }
  if (header === null || !header.plain) return null;
  const box = crop ??
    { left: 0, top: 0, width: header.width, height: header.height };
  checkCrop(box, header.width, header.height, source);
  return box;
}

/** Opens a plain raster, crops `box` and resizes it to `size` x `size`. */
function resizedPipeline(
  bytes: Uint8Array,
  box: CropBox,
  size: number,
): ReturnType<typeof sharp> {
  return sharp(bytes, { sequentialRead: false })
    .extract(box)
    .toColourspace("srgb")
    .resize(size, size, { fit: "fill" });
}

function decodeError(source: string, error: unknown): Error {
  return new Error(
    `Cannot decode image "${source}": ${(error as Error).message}`,
    { cause: error },
  );
}

/**
 * @throws {RangeError} When the box is not inside a `width` x `height` image.
 */
function checkCrop(
  box: CropBox,
  width: number,
  height: number,
  source: string,
): void {
  const inside = [box.left, box.top, box.width, box.height].every(
    Number.isInteger,
  ) && box.left >= 0 && box.top >= 0 && box.width > 0 && box.height > 0 &&
    box.left + box.width <= width && box.top + box.height <= height;
  if (!inside) {
    throw new RangeError(
      `Cannot crop image "${source}": box ${box.width}x${box.height} at (${box.left}, ${box.top}) is not inside the ${width}x${height} image`,
    );
  }
}

/**
 * Copies a rectangle out of an image.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @param box The rectangle, inside the image.
 * @param source Names the image in the error.
 * @returns `[box.height, box.width, 3]` RGB uint8.
 * @throws {RangeError} When the box is not inside the image.
 */
export function cropImage(
  image: RawImage,
  box: CropBox,
  source: string,
): RawImage {
  checkImage(image);
  checkCrop(box, image.width, image.height, source);
  const data = new Uint8Array(box.width * box.height * 3);
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * image.width + box.left) * 3;
    data.set(image.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { data, width: box.width, height: box.height, channels: 3 };
}

/** Wraps a sharp output buffer, checking that it contains three channels. */
function fromBuffer(
  data: Buffer,
  width: number,
  height: number,
  channels: number,
): RawImage {
  if (channels !== 3 || data.length !== width * height * 3) {
    throw new TypeError(
      `Cannot convert image: expected ${width}x${height}x3 bytes, got ${data.length} bytes in ${channels} channels`,
    );
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width,
    height,
    channels: 3,
  };
}

/** Opens a raw RGB image as a sharp pipeline. */
function rawInput(image: RawImage): ReturnType<typeof sharp> {
  checkImage(image);
  return sharp(
    Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length),
    {
      raw: { width: image.width, height: image.height, channels: 3 },
    },
  );
}

/**
 * Checks that an image's buffer matches its size.
 *
 * @throws {TypeError} When `data` does not contain `height * width * 3` bytes.
 */
export function checkImage(image: RawImage): void {
  const expected = image.width * image.height * 3;
  if (image.channels !== 3 || image.data.length !== expected) {
    throw new TypeError(
      `Invalid image: expected ${image.width}x${image.height}x3 = ${expected} bytes, got ${image.data.length} bytes in ${image.channels} channels`,
    );
  }
}

/**
 * Resizes an image to `size` x `size`, stretching it when it is not square.
 *
 * Uses sharp's default Lanczos-3 kernel, which filters while it shrinks. The
 * faces of the sources are already aligned crops, so no cropping is done.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @param size Side of the output in pixels.
 * @returns `[size, size, 3]` RGB uint8; the input itself when it already has
 *   that size.
 */
export async function resizeImage(
  image: RawImage,
  size: number,
): Promise<RawImage> {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot resize image: size must be a positive integer, got ${size}`,
    );
  }
  if (image.width === size && image.height === size) return image;
  const { data, info } = await rawInput(image)
    .resize(size, size, { fit: "fill" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return fromBuffer(data, info.width, info.height, info.channels);
}

/**
 * Encodes an image as an 8-bit RGB PNG without metadata.
 *
 * The bytes are the same on every call for the same pixels and the same
 * sharp and libvips versions, so they can be hashed into a manifest.
 *
 * @param image `[height, width, 3]` RGB uint8.
 * @returns The PNG file bytes.
 */
export async function encodePng(image: RawImage): Promise<Uint8Array> {
  const png = await rawInput(image).png(PNG_OPTIONS).toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}

/** The PNG settings of every image the dataset build writes. */
const PNG_OPTIONS = {
  compressionLevel: 6,
  adaptiveFiltering: false,
  palette: false,
} as const;

/** Length of the PNG signature in bytes. */
const PNG_SIGNATURE_LENGTH = 8;

/**
 * Sets the pHYs chunk of a PNG that libvips wrote to 1000 pixels per metre,
 * the density libvips gives raw input (1 pixel per millimetre), in place.
 * A pipeline from a file carries the file's density instead, such as the
 * 72 dpi (2835 pixels per metre) of a JFIF header, and that is the only
 * byte difference from {@linkcode encodePng}.
 *
 * @returns The same array, changed, or null when pHYs is not the second chunk or
 *   another chunk than IDAT comes before IEND.
 */
function setRawDensity(png: Uint8Array): Uint8Array | null {
  const view = new DataView(png.buffer, png.byteOffset, png.length);
  const types: string[] = [];
  let physOffset = -1;
  for (let offset = PNG_SIGNATURE_LENGTH; offset + 12 <= png.length;) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    if (type === "pHYs" && length === 9) physOffset = offset;
    types.push(type);
    offset += 12 + length;
  }
  const dataTypes = types.slice(2, -1);
  if (
    types[0] !== "IHDR" || types[1] !== "pHYs" || physOffset < 0 ||
    types.at(-1) !== "IEND" || !dataTypes.every((type) => type === "IDAT")
  ) {
    return null;
  }
  // Pixels per unit on x and y, then unit 1 (the metre), then the CRC-32 of
  // the type and data.
  view.setUint32(physOffset + 8, 1000);
  view.setUint32(physOffset + 12, 1000);
  png[physOffset + 16] = 1;
  view.setUint32(
    physOffset + 17,
    crc32(png.subarray(physOffset + 4, physOffset + 17)),
  );
  return png;
}
