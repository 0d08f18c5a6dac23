/**
 * Writes small RecordIO files for the source tests. A payload is the
 * IRHeader, the labels and the image, as MXNet's `recordio.pack` lays it out.
 * Each payload is split into parts where the magic word occurs at a
 * 4-byte-aligned offset, as dmlc-core's `RecordIOWriter` splits it. The
 * index has one `key<TAB>offset` line per record, as `write_idx` writes it.
 *
 * @module
 */

import { RECORD_MAGIC } from "../../../src/data/sources/recordio_record.ts";

/** One record to write: a payload under a key. */
export interface TestRecord {
  key: number;
  payload: Uint8Array;
}

/**
 * Packs an IRHeader, its labels and the image bytes into a payload. A number
 * label is stored in the header with flag 0; an array gives flag = length
 * and float32 labels after the header.
 */
export function packPayload(
  label: number | number[],
  image: Uint8Array,
  id = 0,
): Uint8Array {
  const labels = typeof label === "number" ? [] : label;
  const payload = new Uint8Array(24 + 4 * labels.length + image.length);
  const view = new DataView(payload.buffer);
  view.setUint32(0, labels.length, true);
  view.setFloat32(4, typeof label === "number" ? label : 0, true);
  view.setBigUint64(8, BigInt(id), true);
  view.setBigUint64(16, 0n, true);
  labels.forEach((value, i) => view.setFloat32(24 + 4 * i, value, true));
  payload.set(image, 24 + 4 * labels.length);
  return payload;
}

/** Returns the insightface header record: flag 2, labels [imageEnd, identityEnd]. */
export function headerPayload(
  imageEnd: number,
  identityEnd: number,
): Uint8Array {
  return packPayload([imageEnd, identityEnd], new Uint8Array(0));
}

function partHeader(flag: number, length: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, RECORD_MAGIC, true);
  view.setUint32(4, ((flag << 29) | length) >>> 0, true);
  return bytes;
}

/** Encodes one record as its parts, split where the payload contains the magic. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  const view = new DataView(
    payload.buffer,
    payload.byteOffset,
    payload.byteLength,
  );
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i + 4 <= payload.length; i += 4) {
    if (view.getUint32(i, true) !== RECORD_MAGIC) continue;
    pieces.push(partHeader(start === 0 ? 1 : 2, i - start));
    pieces.push(payload.subarray(start, i));
    start = i + 4;
  }
  pieces.push(partHeader(start === 0 ? 0 : 3, payload.length - start));
  pieces.push(payload.subarray(start));
  pieces.push(new Uint8Array((4 - (payload.length - start) % 4) % 4));
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const piece of pieces) {
    bytes.set(piece, at);
    at += piece.length;
  }
  return bytes;
}

/**
 * Writes `records` in order to `recPath` and their index to the `.idx`
 * beside it.
 *
 * @returns The byte offset of each key's record.
 */
export async function writeRecordIo(
  recPath: string,
  records: TestRecord[],
): Promise<Map<number, number>> {
  const offsets = new Map<number, number>();
  const encoded: Uint8Array[] = [];
  let size = 0;
  for (const record of records) {
    offsets.set(record.key, size);
    const bytes = encodeRecord(record.payload);
    encoded.push(bytes);
    size += bytes.length;
  }
  const rec = new Uint8Array(size);
  let at = 0;
  for (const bytes of encoded) {
    rec.set(bytes, at);
    at += bytes.length;
  }
  await Deno.writeFile(recPath, rec);
  const lines = [...offsets].map(([key, offset]) => `${key}\t${offset}\n`);
  await Deno.writeTextFile(recPath.replace(/\.rec$/, ".idx"), lines.join(""));
  return offsets;
}
