/**
 * A reader for the data subset of Python's pickle format, protocols 2 to 5,
 * enough for the insightface verification `.bin` files. It builds values from
 * data opcodes only: bytes, str, bool, int, None, list, tuple and the memo.
 * Every opcode that would import or call Python code, such as GLOBAL and
 * REDUCE, is rejected, so reading a file runs nothing it contains. Opcode
 * values and layouts follow CPython's `Lib/pickletools.py`.
 *
 * @module
 */

/** A Python tuple, kept apart from lists so callers can check the shape. */
export class PickleTuple {
  readonly items: PickleValue[];
  constructor(items: PickleValue[]) {
    this.items = items;
  }
}

/**
 * A value read from a pickle. Python `bytes`, `bytearray` and Python 2 `str`
 * become Uint8Array (as `pickle.load(f, encoding="bytes")` reads Python 2
 * strings), `str` becomes string, `int` becomes number, `None` becomes null,
 * `list` becomes an array and `tuple` becomes {@linkcode PickleTuple}.
 */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple;

/** Opcodes that import, construct or call Python objects, with their names. */
const CODE_OPCODES = new Map<number, string>([
  [0x63, "GLOBAL"],
  [0x93, "STACK_GLOBAL"],
  [0x52, "REDUCE"],
  [0x62, "BUILD"],
  [0x69, "INST"],
  [0x6f, "OBJ"],
  [0x81, "NEWOBJ"],
  [0x92, "NEWOBJ_EX"],
  [0x82, "EXT1"],
  [0x83, "EXT2"],
  [0x84, "EXT4"],
  [0x50, "PERSID"],
  [0x51, "BINPERSID"],
  [0x97, "NEXT_BUFFER"],
  [0x98, "READONLY_BUFFER"],
]);

/** Marks the position of a MARK opcode on the stack. */
const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

/** Reads one pickle from a byte buffer; see {@linkcode readPickle}. */
class Unpickler {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #source: string;
  #position = 0;
  readonly #stack: StackItem[] = [];
  readonly #memo = new Map<number, PickleValue>();

  constructor(bytes: Uint8Array, source: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#source = source;
  }

  #fail(offset: number, detail: string): never {
    throw new SyntaxError(
      `Cannot read pickle "${this.#source}": ${detail} at byte ${offset}`,
    );
  }

  /** Returns the next `length` bytes without copying and moves past them. */
  #take(length: number, opcodeOffset: number, what: string): Uint8Array {
    if (length > this.#bytes.length - this.#position) {
      this.#fail(
        opcodeOffset,
        `file ends inside ${what}, which needs ${length} bytes but ${
          this.#bytes.length - this.#position
        } remain`,
      );
    }
    const slice = this.#bytes.subarray(
      this.#position,
      this.#position + length,
    );
    this.#position += length;
    return slice;
  }

  #uint(size: 1 | 2 | 4 | 8, opcodeOffset: number, what: string): number {
    const bytes = this.#take(size, opcodeOffset, what);
    const view = new DataView(bytes.buffer, bytes.byteOffset, size);
    if (size === 1) return view.getUint8(0);
    if (size === 2) return view.getUint16(0, true);
    if (size === 4) return view.getUint32(0, true);
    const value = view.getBigUint64(0, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.#fail(opcodeOffset, `${what} has length ${value}, beyond any file`);
    }
    return Number(value);
  }

  #pop(opcodeOffset: number, name: string): PickleValue {
    const item = this.#stack.pop();
    if (item === undefined || item === MARK) {
      this.#fail(opcodeOffset, `${name} finds no value on the stack`);
    }
    return item;
  }

  /** Pops every item above the topmost MARK, and the MARK itself. */
  #popToMark(opcodeOffset: number, name: string): PickleValue[] {
    const markIndex = this.#stack.lastIndexOf(MARK);
    if (markIndex < 0) this.#fail(opcodeOffset, `${name} without a MARK`);
    const items = this.#stack.splice(markIndex) as PickleValue[];
    items.shift();
    return items;
  }

  #top(opcodeOffset: number, name: string): PickleValue {
    const item = this.#stack.at(-1);
    if (item === undefined || item === MARK) {
      this.#fail(opcodeOffset, `${name} finds no value on the stack`);
    }
    return item;
  }

  #list(opcodeOffset: number, name: string): PickleValue[] {
    const target = this.#top(opcodeOffset, name);
    if (!Array.isArray(target)) {
      this.#fail(opcodeOffset, `${name} applies to a non-list value`);
    }
    return target;
  }

  #memoGet(index: number, opcodeOffset: number): PickleValue {
    if (!this.#memo.has(index)) {
      this.#fail(opcodeOffset, `memo entry ${index} is read before it is set`);
    }
    return this.#memo.get(index)!;
  }

  /** Reads the text of a GLOBAL opcode's two lines, for the message only. */
  #globalName(): string {
    const text = new TextDecoder("latin1").decode(
      this.#bytes.subarray(this.#position, this.#position + 200),
    );
    const [module, name] = text.split("\n");
    return `${module}.${name}`;
  }

  #rejectCode(opcode: number, offset: number): never {
    const name = CODE_OPCODES.get(opcode)!;
    if (opcode === 0x63 && this.#globalName() === "_codecs.encode") {
      this.#fail(
        offset,
        "opcode GLOBAL imports _codecs.encode, which Python 3 uses to store bytes with protocol 2, " +
          "and this reader runs no Python code: re-save the file with protocol 3 or later, " +
          "such as pickle.dump(obj, f, protocol=4)",
      );
    }
    this.#fail(
      offset,
      `opcode ${name} (0x${
        opcode.toString(16)
      }) would import or call Python code, and this reader accepts data opcodes only ` +
        "(bytes, str, bool, int, None, list, tuple)",
    );
  }

  read(): PickleValue {
    const bytes = this.#bytes;
    if (bytes.length < 2 || bytes[0] !== 0x80) {
      this.#fail(
        0,
        "expected a PROTO opcode (0x80) first, as protocols 2 to 5 write; protocols 0 and 1 are not supported",
      );
    }
    const protocol = bytes[1];
    if (protocol < 2 || protocol > 5) {
      this.#fail(1, `protocol ${protocol} is not supported, expected 2 to 5`);
    }
    this.#position = 2;
    const latin1 = new TextDecoder("latin1");
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    const decodeUtf8 = (raw: Uint8Array, offset: number) => {
      try {
        return utf8.decode(raw);
      } catch {
        this.#fail(offset, "a str is not valid UTF-8");
      }
    };

    while (this.#position < bytes.length) {
      const offset = this.#position;
      const opcode = bytes[this.#position++];
      switch (opcode) {
        case 0x2e: { // STOP
          const value = this.#pop(offset, "STOP");
          if (this.#stack.length !== 0) {
            this.#fail(
              offset,
              `STOP leaves ${this.#stack.length} more items on the stack`,
            );
          }
          return value;
        }
        case 0x80: // PROTO, only valid first
          this.#fail(offset, "a second PROTO opcode");
          break;
        case 0x95: // FRAME: a length prefix for buffering; the data follows
          this.#uint(8, offset, "FRAME");
          break;
        case 0x28: // MARK
          this.#stack.push(MARK);
          break;
        case 0x4e: // NONE
          this.#stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.#stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.#stack.push(false);
          break;
        case 0x4b: // BININT1
          this.#stack.push(this.#uint(1, offset, "BININT1"));
          break;
        case 0x4d: // BININT2
          this.#stack.push(this.#uint(2, offset, "BININT2"));
          break;
        case 0x4a: { // BININT: signed 4 bytes
          const raw = this.#take(4, offset, "BININT");
          this.#stack.push(
            new DataView(raw.buffer, raw.byteOffset, 4).getInt32(0, true),
          );
          break;
        }
        case 0x55: // SHORT_BINSTRING: Python 2 str, 1-byte length
          this.#stack.push(
            this.#take(
              this.#uint(1, offset, "SHORT_BINSTRING"),
              offset,
              "SHORT_BINSTRING",
            ),
          );
          break;
        case 0x54: { // BINSTRING: Python 2 str, signed 4-byte length
          const length = this.#uint(4, offset, "BINSTRING");
          if (length >= 2 ** 31) {
            this.#fail(offset, "BINSTRING has a negative length");
          }
          this.#stack.push(this.#take(length, offset, "BINSTRING"));
          break;
        }
        case 0x43: // SHORT_BINBYTES
          this.#stack.push(
            this.#take(
              this.#uint(1, offset, "SHORT_BINBYTES"),
              offset,
              "SHORT_BINBYTES",
            ),
          );
          break;
        case 0x42: // BINBYTES
          this.#stack.push(
            this.#take(this.#uint(4, offset, "BINBYTES"), offset, "BINBYTES"),
          );
          break;
        case 0x8e: // BINBYTES8
          this.#stack.push(
            this.#take(this.#uint(8, offset, "BINBYTES8"), offset, "BINBYTES8"),
          );
          break;
        case 0x96: // BYTEARRAY8
          this.#stack.push(
            this.#take(
              this.#uint(8, offset, "BYTEARRAY8"),
              offset,
              "BYTEARRAY8",
            ),
          );
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.#stack.push(
            decodeUtf8(
              this.#take(
                this.#uint(1, offset, "SHORT_BINUNICODE"),
                offset,
                "SHORT_BINUNICODE",
              ),
              offset,
            ),
          );
          break;
        case 0x58: // BINUNICODE
          this.#stack.push(
            decodeUtf8(
              this.#take(
                this.#uint(4, offset, "BINUNICODE"),
                offset,
                "BINUNICODE",
              ),
              offset,
            ),
          );
          break;
        case 0x8d: // BINUNICODE8
          this.#stack.push(
            decodeUtf8(
              this.#take(
                this.#uint(8, offset, "BINUNICODE8"),
                offset,
                "BINUNICODE8",
              ),
              offset,
            ),
          );
          break;
        case 0x5d: // EMPTY_LIST
          this.#stack.push([]);
          break;
        case 0x61: { // APPEND
          const item = this.#pop(offset, "APPEND");
          this.#list(offset, "APPEND").push(item);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.#popToMark(offset, "APPENDS");
          const list = this.#list(offset, "APPENDS");
          for (const item of items) list.push(item);
          break;
        }
        case 0x29: // EMPTY_TUPLE
          this.#stack.push(new PickleTuple([]));
          break;
        case 0x74: // TUPLE
          this.#stack.push(new PickleTuple(this.#popToMark(offset, "TUPLE")));
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: { // TUPLE3
          const count = opcode - 0x84;
          const items: PickleValue[] = [];
          for (let i = 0; i < count; i++) {
            items.unshift(this.#pop(offset, `TUPLE${count}`));
          }
          this.#stack.push(new PickleTuple(items));
          break;
        }
        case 0x71: // BINPUT
          this.#memo.set(
            this.#uint(1, offset, "BINPUT"),
            this.#top(offset, "BINPUT"),
          );
          break;
        case 0x72: // LONG_BINPUT
          this.#memo.set(
            this.#uint(4, offset, "LONG_BINPUT"),
            this.#top(offset, "LONG_BINPUT"),
          );
          break;
        case 0x94: // MEMOIZE: the next memo index is the memo's size
          this.#memo.set(this.#memo.size, this.#top(offset, "MEMOIZE"));
          break;
        case 0x68: // BINGET
          this.#stack.push(
            this.#memoGet(this.#uint(1, offset, "BINGET"), offset),
          );
          break;
        case 0x6a: // LONG_BINGET
          this.#stack.push(
            this.#memoGet(this.#uint(4, offset, "LONG_BINGET"), offset),
          );
          break;
        default:
          if (CODE_OPCODES.has(opcode)) this.#rejectCode(opcode, offset);
          this.#fail(
            offset,
            `opcode 0x${opcode.toString(16)} (${
              JSON.stringify(latin1.decode(bytes.subarray(offset, offset + 1)))
            }) is not supported by this reader, which accepts data opcodes only ` +
              "(bytes, str, bool, int, None, list, tuple)",
          );
      }
    }
    this.#fail(bytes.length, "file ends before the STOP opcode");
  }
}

/**
 * Reads one pickled value from bytes, protocols 2 to 5.
 *
 * The supported opcodes are PROTO, FRAME, STOP, MARK, NONE, NEWTRUE,
 * NEWFALSE, BININT, BININT1, BININT2, SHORT_BINSTRING, BINSTRING,
 * SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8, SHORT_BINUNICODE,
 * BINUNICODE, BINUNICODE8, EMPTY_LIST, APPEND, APPENDS, EMPTY_TUPLE, TUPLE,
 * TUPLE1, TUPLE2, TUPLE3, BINPUT, LONG_BINPUT, MEMOIZE, BINGET and
 * LONG_BINGET. Byte strings are views into `bytes`, not copies. Bytes after
 * STOP are ignored, as Python's `pickle.loads` ignores them.
 *
 * @param bytes The pickle.
 * @param source The file name, for messages.
 * @returns The value.
 * @throws {SyntaxError} When the protocol is not 2 to 5, the data is
 *   truncated or malformed, or an opcode outside the subset appears; an
 *   opcode that imports or calls Python code (GLOBAL, REDUCE, BUILD and the
 *   like) is named as such. The message gives the byte offset.
 *
 * @example Read a tuple written by Python 3 with protocol 3
 * ```ts
 * import { PickleTuple, readPickle } from "./pickle.ts";
 * // pickle.dumps(([b"ab"], [True]), protocol=3)
 * const bytes = new Uint8Array([
 *   0x80, 0x03, 0x5d, 0x71, 0x00, 0x43, 0x02, 0x61, 0x62, 0x71, 0x01, 0x61,
 *   0x5d, 0x71, 0x02, 0x88, 0x61, 0x86, 0x71, 0x03, 0x2e,
 * ]);
 * const value = readPickle(bytes, "example");
 * console.log(value instanceof PickleTuple); // true
 * ```
 */
export function readPickle(bytes: Uint8Array, source: string): PickleValue {
  return new Unpickler(bytes, source).read();
}
