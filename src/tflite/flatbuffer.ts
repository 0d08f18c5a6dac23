/**
 * Reading of FlatBuffers binary data: tables through their vtables, vectors,
 * strings and scalars, little-endian, with every offset checked against the
 * buffer so that a truncated or corrupt file fails with a message instead of
 * reading garbage.
 *
 * The layout is the one of the FlatBuffers binary format documentation
 * ("FlatBuffers internals"). A table starts with a signed 32-bit offset back
 * to its vtable. The vtable contains its own size, the table's size and one
 * 16-bit offset per field, which is 0 when the field is absent and takes its
 * default.
 *
 * @module
 */

/** A file that is not valid FlatBuffers data, or not the expected schema. */
export class FlatBufferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlatBufferError";
  }
}

/** A byte buffer with bounds-checked little-endian reads. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws unless `[offset, offset + size)` lies inside the buffer. */
  check(offset: number, size: number, what: string): void {
    if (
      !Number.isInteger(offset) || offset < 0 ||
      offset + size > this.bytes.byteLength
    ) {
      throw new FlatBufferError(
        `${what} at byte ${offset} (${size} bytes) lies outside the ${this.bytes.byteLength}-byte file: the file is truncated or corrupt`,
      );
    }
  }

  u8(offset: number): number {
    this.check(offset, 1, "uint8");
    return this.view.getUint8(offset);
  }

  i8(offset: number): number {
    this.check(offset, 1, "int8");
    return this.view.getInt8(offset);
  }

  u16(offset: number): number {
    this.check(offset, 2, "uint16");
    return this.view.getUint16(offset, true);
  }

  i32(offset: number): number {
    this.check(offset, 4, "int32");
    return this.view.getInt32(offset, true);
  }

  u32(offset: number): number {
    this.check(offset, 4, "uint32");
    return this.view.getUint32(offset, true);
  }

  f32(offset: number): number {
    this.check(offset, 4, "float32");
    return this.view.getFloat32(offset, true);
  }

  /** Reads a uint64 as a number, and throws when it exceeds 2^53. */
  u64(offset: number): number {
    this.check(offset, 8, "uint64");
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FlatBufferError(
        `uint64 at byte ${offset} is ${value}, beyond what this reader handles`,
      );
    }
    return Number(value);
  }

  /** Follows a uoffset_t stored at `offset` to the position it points to. */
  indirect(offset: number): number {
    return offset + this.u32(offset);
  }
}

/** A table of a FlatBuffers buffer: field access by index, with defaults. */
export class Table {
  readonly reader: ByteReader;
  /** Byte position of the table. */
  readonly position: number;
  readonly #vtable: number;
  readonly #vtableSize: number;
  /** Schema name of the table, for messages. */
  readonly type: string;

  constructor(reader: ByteReader, position: number, type: string) {
    this.reader = reader;
    this.position = position;
    this.type = type;
    this.#vtable = position - reader.i32(position);
    this.#vtableSize = reader.u16(this.#vtable);
    if (this.#vtableSize < 4 || this.#vtableSize % 2 !== 0) {
      throw new FlatBufferError(
        `${type} table at byte ${position} has a vtable of ${this.#vtableSize} bytes: the file is corrupt`,
      );
    }
    reader.check(this.#vtable, this.#vtableSize, `${type} vtable`);
  }

  /** Absolute position of field `index`, or null when the field is absent. */
  fieldPosition(index: number): number | null {
    const slot = 4 + 2 * index;
    if (slot >= this.#vtableSize) return null;
    const relative = this.reader.u16(this.#vtable + slot);
    return relative === 0 ? null : this.position + relative;
  }

  u8(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.u8(at);
  }

  i8(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.i8(at);
  }

  bool(index: number, fallback: boolean): boolean {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.u8(at) !== 0;
  }

  i32(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.i32(at);
  }

  u32(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.u32(at);
  }

  u64(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.u64(at);
  }

  f32(index: number, fallback: number): number {
    const at = this.fieldPosition(index);
    return at === null ? fallback : this.reader.f32(at);
  }

  /** Returns a sub-table, or null when absent. */
  table(index: number, type: string): Table | null {
    const at = this.fieldPosition(index);
    return at === null
      ? null
      : new Table(this.reader, this.reader.indirect(at), type);
  }

  string(index: number): string | null {
    const bytes = this.vectorBytes(index, 1);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  }

  /** Start and length of the vector of field `index`, or null when absent. */
  vector(index: number): { start: number; length: number } | null {
    const at = this.fieldPosition(index);
    if (at === null) return null;
    const header = this.reader.indirect(at);
    const length = this.reader.u32(header);
    return { start: header + 4, length };
  }

  /** Returns the raw bytes of a vector of `elementSize`-byte scalars. */
  vectorBytes(index: number, elementSize: number): Uint8Array | null {
    const vector = this.vector(index);
    if (vector === null) return null;
    const size = vector.length * elementSize;
    this.reader.check(vector.start, size, `${this.type} field ${index} vector`);
    return this.reader.bytes.subarray(vector.start, vector.start + size);
  }

  /** Returns a vector of int32 as a plain array (empty when absent). */
  i32Vector(index: number): number[] {
    const vector = this.vector(index);
    if (vector === null) return [];
    this.reader.check(
      vector.start,
      vector.length * 4,
      `${this.type} int32 vector`,
    );
    return Array.from(
      { length: vector.length },
      (_, i) => this.reader.i32(vector.start + 4 * i),
    );
  }

  /** Returns a vector of tables (empty when absent). */
  tableVector(index: number, type: string): Table[] {
    const vector = this.vector(index);
    if (vector === null) return [];
    this.reader.check(vector.start, vector.length * 4, `${type} vector`);
    return Array.from(
      { length: vector.length },
      (_, i) =>
        new Table(
          this.reader,
          this.reader.indirect(vector.start + 4 * i),
          type,
        ),
    );
  }
}

/**
 * Returns the root table of a buffer, after checking its 4-character file
 * identifier when one is expected.
 */
export function rootTable(
  bytes: Uint8Array,
  type: string,
  identifier?: string,
): Table {
  const reader = new ByteReader(bytes);
  if (bytes.byteLength < 8) {
    throw new FlatBufferError(
      `the file has ${bytes.byteLength} bytes, too few for a FlatBuffers ${type}`,
    );
  }
  if (identifier !== undefined) {
    const found = new TextDecoder().decode(bytes.subarray(4, 8));
    if (found !== identifier) {
      throw new FlatBufferError(
        `the file identifier is ${JSON.stringify(found)}, not ${
          JSON.stringify(identifier)
        }: not a ${type} file`,
      );
    }
  }
  return new Table(reader, reader.indirect(0), type);
}
