/**
 * Reading and writing the safetensors format (an 8-byte little-endian header
 * length, a JSON header of names, dtypes, shapes and byte offsets, then the
 * raw little-endian data), so checkpoints and embedding dumps open in any
 * framework.
 *
 * @module
 */

import { writeFileAtomic } from "./fs.ts";

/** One named array. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

const DTYPES = new Map<string, string>([
  ["Float32Array", "F32"],
  ["Int32Array", "I32"],
  ["Uint8Array", "U8"],
]);

/**
 * Encodes arrays and string metadata as safetensors bytes.
 *
 * @throws {TypeError} When a shape does not match its data length.
 */
export function encodeSafetensors(
  arrays: NamedArray[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const array of arrays) {
    const count = array.shape.reduce((a, b) => a * b, 1);
    if (count !== array.data.length) {
      throw new TypeError(
        `Cannot encode "${array.name}": shape [${
          array.shape.join(", ")
        }] has ${count} values, data has ${array.data.length}`,
      );
    }
    const dtype = DTYPES.get(array.data.constructor.name)!;
    header[array.name] = {
      dtype,
      shape: array.shape,
      data_offsets: [offset, offset + array.data.byteLength],
    };
    offset += array.data.byteLength;
  }
  const json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned; the
  // length counts UTF-8 bytes, not UTF-16 code units.
  const unpadded = new TextEncoder().encode(json).length;
  const headerBytes = new TextEncoder().encode(
    json + " ".repeat((8 - ((8 + unpadded) % 8)) % 8),
  );
  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const array of arrays) {
    bytes.set(
      new Uint8Array(
        array.data.buffer,
        array.data.byteOffset,
        array.data.byteLength,
      ),
      position,
    );
    position += array.data.byteLength;
  }
  return bytes;
}

/**
 * Decodes safetensors bytes.
 *
 * @param source The file name, for messages.
 * @throws {SyntaxError} When the bytes are truncated or the header is invalid.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { arrays: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) {
    throw new SyntaxError(
      `Cannot read safetensors "${source}": file has ${bytes.length} bytes, fewer than the 8-byte header length`,
    );
  }
  const headerLength = Number(
    new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true),
  );
  if (8 + headerLength > bytes.length) {
    throw new SyntaxError(
      `Cannot read safetensors "${source}": header of ${headerLength} bytes runs past the end of the file`,
    );
  }
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    throw new SyntaxError(
      `Cannot read safetensors "${source}": invalid JSON header: ${
        (error as Error).message
      }`,
    );
  }
  const dataStart = 8 + headerLength;
  const arrays = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as unknown as Record<string, string>;
      continue;
    }
    const [begin, end] = entry.data_offsets;
    if (dataStart + end > bytes.length || begin > end) {
      throw new SyntaxError(
        `Cannot read safetensors "${source}": tensor "${name}" runs past the end of the file`,
      );
    }
    const slice = bytes.slice(dataStart + begin, dataStart + end);
    let data: Float32Array | Int32Array | Uint8Array;
    if (entry.dtype === "F32") data = new Float32Array(slice.buffer);
    else if (entry.dtype === "I32") data = new Int32Array(slice.buffer);
    else if (entry.dtype === "U8") data = slice;
    else {throw new SyntaxError(
        `Cannot read safetensors "${source}": tensor "${name}" has unsupported dtype ${entry.dtype}`,
      );}
    arrays.set(name, { name, shape: entry.shape, data });
  }
  return { arrays, metadata };
}

/** Writes arrays to a safetensors file atomically. */
export async function writeSafetensors(
  path: string,
  arrays: NamedArray[],
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(arrays, metadata));
}

/** Reads a safetensors file. */
export async function readSafetensors(path: string) {
  return decodeSafetensors(await Deno.readFile(path), path);
}
