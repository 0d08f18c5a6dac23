/**
 * One record of an MXNet RecordIO file (`.rec`), as insightface stores a face
 * image: positioned reads of a record's parts and the image record header
 * (IRHeader) at the start of its payload.
 *
 * Layout, as dmlc-core's `RecordIOWriter` (src/recordio.cc) writes it: each
 * part starts with a uint32 LE magic 0xced7230a and a uint32 LE `lrec`. The
 * upper 3 bits of `lrec` are the continuation flag and the lower 29 bits the
 * part's length. The part's bytes follow, zero-padded to a 4-byte boundary.
 * The writer splits a payload
 * wherever the magic occurs at a 4-byte-aligned offset and drops that word:
 * flag 0 is a whole record, 1 its first part, 2 a middle part, 3 the last.
 * Reading puts the magic back between parts, so multi-part records are read
 * whole.
 *
 * The payload starts with the IRHeader of MXNet's `recordio.pack`: uint32
 * flag, float32 label, uint64 id, uint64 id2 (24 bytes, little-endian). When
 * flag > 0, `flag` float32 labels follow and the scalar label is unused. The
 * encoded image fills the rest.
 *
 * @module
 */

/** First word of every part of a record. */
export const RECORD_MAGIC = 0xced7230a;

/** Bytes of a part header: the magic and `lrec`. */
const PART_HEADER_BYTES = 8;

/** Bytes of the IRHeader: flag, label, id and id2. */
const IR_HEADER_BYTES = 24;

/** `lrec` keeps the part's length in its lower 29 bits. */
const LENGTH_MASK = 0x1fffffff;
const FLAG_SHIFT = 29;

/** Continuation flags of a part. */
const WHOLE = 0;
const FIRST = 1;
const MIDDLE = 2;
const LAST = 3;

/**
 * Payload bytes of the IRHeader and its first two labels: all that listing
 * reads of a record. The first read of each part fetches this many payload
 * bytes with the part header, so listing takes one read per record.
 */
export const LABELED_HEADER_BYTES = IR_HEADER_BYTES + 2 * 4;

/** The magic as it lies in the file, little-endian. */
const MAGIC_BYTES = new Uint8Array(4);
new DataView(MAGIC_BYTES.buffer).setUint32(0, RECORD_MAGIC, true);

/** A record that cannot be read. Its message is the reason a listing shows. */
export class RecordFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordFormatError";
  }
}

/** An open `.rec` file and its size in bytes at the time it was opened. */
export interface RecordFile {
  file: Deno.FsFile;
  size: number;
}

/** The start of a record's payload, and the length of the whole payload. */
export interface PayloadPrefix {
  /** The first `min(maxBytes, payloadBytes)` bytes of the payload. */
  bytes: Uint8Array;
  /** Payload bytes over all parts, with the magic words put back. */
  payloadBytes: number;
}

/** The IRHeader fields that listing and reading use. */
export interface RecordHeader {
  /** 0 for a scalar label, else the number of float32 labels. */
  flag: number;
  /** The scalar label, or the first two (at most) of the label array. */
  labels: number[];
  /** Payload offset of the encoded image: 24 + 4 * flag. */
  imageOffset: number;
  /** Bytes of the encoded image. */
  imageBytes: number;
}

/**
 * Reads up to `length` bytes at `position`, fewer only at the end of the
 * file.
 */
async function readAt(
  file: Deno.FsFile,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  await file.seek(position, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < length) {
    const read = await file.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return buffer.subarray(0, filled);
}

/** Formats a uint32 as 8 hex digits. */
function hex(word: number): string {
  return `0x${word.toString(16).padStart(8, "0")}`;
}

/** Rounds a length up to a multiple of 4, as the writer pads each part. */
function padded(length: number): number {
  return Math.ceil(length / 4) * 4;
}

/** Joins chunks into one array, without a copy when there is one chunk. */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const joined = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}

/**
 * Reads the first `maxBytes` bytes of the payload of the record at `offset`,
 * following its parts to their end to check that the whole record is there.
 *
 * @param rec The open `.rec` file.
 * @param offset Byte offset of the record's first part, from the `.idx`.
 * @param maxBytes Payload bytes to return; `Infinity` for all of them.
 * @throws {RecordFormatError} When the offset is past the end of the file,
 *   no record starts there, a part's flag is out of sequence, or the file
 *   ends inside the record.
 */
export async function readPayload(
  rec: RecordFile,
  offset: number,
  maxBytes: number,
): Promise<PayloadPrefix> {
  if (offset >= rec.size) {
    throw new RecordFormatError(
      `offset ${offset} is past the end of the file (${rec.size} bytes)`,
    );
  }
  const chunks: Uint8Array[] = [];
  let collected = 0;
  let payloadBytes = 0;
  let position = offset;
  for (let part = 0;; part++) {
    if (position + PART_HEADER_BYTES > rec.size) {
      throw new RecordFormatError(
        `record truncated: the file ends ${
          rec.size - position
        } bytes after byte ${position}, inside the 8-byte header of part ${part}`,
      );
    }
    const prefetch = Math.min(maxBytes - collected, LABELED_HEADER_BYTES);
    const head = await readAt(
      rec.file,
      position,
      PART_HEADER_BYTES + prefetch,
    );
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const magic = view.getUint32(0, true);
    if (magic !== RECORD_MAGIC) {
      throw new RecordFormatError(
        `no record part at byte ${position}: expected magic ${
          hex(RECORD_MAGIC)
        }, got ${hex(magic)}`,
      );
    }
    const lrec = view.getUint32(4, true);
    const flag = lrec >>> FLAG_SHIFT;
    const length = lrec & LENGTH_MASK;
    const expected = part === 0 ? [WHOLE, FIRST] : [MIDDLE, LAST];
    if (!expected.includes(flag)) {
      throw new RecordFormatError(
        `part ${part} of the record at byte ${offset} has continuation flag ${flag}, expected ${
          expected.join(" or ")
        }`,
      );
    }
    const dataStart = position + PART_HEADER_BYTES;
    if (dataStart + length > rec.size) {
      throw new RecordFormatError(
        `record truncated: part ${part} at byte ${position} holds ${length} bytes, but the file ends ${
          rec.size - dataStart
        } bytes after its header`,
      );
    }

    // keep what the caller wants of this part's bytes
    const take = Math.min(length, maxBytes - collected);
    let data = head.subarray(PART_HEADER_BYTES, PART_HEADER_BYTES + take);
    if (data.length < take) {
      const rest = await readAt(
        rec.file,
        dataStart + data.length,
        take - data.length,
      );
      data = concat([data, rest], data.length + rest.length);
    }
    if (data.length < take) {
      throw new RecordFormatError(
        `record truncated: part ${part} at byte ${position} ends early, so the file shrank while it was read`,
      );
    }
    chunks.push(data);
    collected += data.length;
    payloadBytes += length;
    if (flag === WHOLE || flag === LAST) break;

    // the writer dropped a magic word from the payload where it split it
    const magicTake = Math.min(MAGIC_BYTES.length, maxBytes - collected);
    chunks.push(MAGIC_BYTES.subarray(0, magicTake));
    collected += magicTake;
    payloadBytes += MAGIC_BYTES.length;
    position = dataStart + padded(length);
  }
  return { bytes: concat(chunks, collected), payloadBytes };
}

/**
 * Parses the IRHeader at the start of a payload.
 *
 * @param prefix The payload's first bytes: at least
 *   {@linkcode LABELED_HEADER_BYTES}, or all of it.
 * @param payloadBytes Length of the whole payload.
 * @throws {RecordFormatError} When the payload is shorter than the header
 *   and the labels it declares.
 */
export function parseRecordHeader(
  prefix: Uint8Array,
  payloadBytes: number,
): RecordHeader {
  if (payloadBytes < IR_HEADER_BYTES) {
    throw new RecordFormatError(
      `payload of ${payloadBytes} bytes is shorter than the ${IR_HEADER_BYTES}-byte image record header`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.length);
  const flag = view.getUint32(0, true);
  const imageOffset = IR_HEADER_BYTES + 4 * flag;
  if (payloadBytes < imageOffset) {
    throw new RecordFormatError(
      `header declares ${flag} float32 labels, but the payload of ${payloadBytes} bytes ends before them`,
    );
  }
  const labels: number[] = [];
  if (flag === 0) {
    labels.push(view.getFloat32(4, true));
  } else {
    for (let i = 0; i < Math.min(flag, 2); i++) {
      labels.push(view.getFloat32(IR_HEADER_BYTES + 4 * i, true));
    }
  }
  return { flag, labels, imageOffset, imageBytes: payloadBytes - imageOffset };
}

/** Opens a `.rec` file for positioned reads and records its size. */
export async function openRecordFile(path: string): Promise<RecordFile> {
  const file = await Deno.open(path, { read: true });
  try {
    const { size } = await file.stat();
    return { file, size };
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Reads the encoded image of the record at `offset`: only that record's
 * bytes, checked part by part.
 *
 * @param path The `.rec` file.
 * @param offset Byte offset of the record, from the `.idx`.
 * @returns The encoded image bytes (JPEG or PNG as the writer stored them).
 * @throws {RecordFormatError} When the record is damaged or has no image
 *   bytes.
 * @throws {Deno.errors.NotFound} When the file is missing.
 */
export async function readRecordImage(
  path: string,
  offset: number,
): Promise<Uint8Array> {
  const rec = await openRecordFile(path);
  try {
    const payload = await readPayload(rec, offset, Infinity);
    const header = parseRecordHeader(payload.bytes, payload.payloadBytes);
    if (header.imageBytes === 0) {
      throw new RecordFormatError(
        "record has no image bytes after its header",
      );
    }
    return payload.bytes.subarray(header.imageOffset);
  } finally {
    rec.file.close();
  }
}
