import assert from "node:assert/strict";
import {
  PickleTuple,
  type PickleValue,
  readPickle,
} from "../../src/eval/pickle.ts";

/** Concatenates bytes given as numbers, ASCII strings or byte arrays. */
function bytesOf(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") {
      for (const char of part) out.push(char.charCodeAt(0));
    } else out.push(...part);
  }
  return new Uint8Array(out);
}

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function uint64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(hex.match(/../g)!.map((byte) => parseInt(byte, 16)));
}

function text(bytes: PickleValue): string {
  assert.ok(bytes instanceof Uint8Array, `expected bytes, found ${bytes}`);
  return new TextDecoder("latin1").decode(bytes);
}

/** Checks a value of the shape ([bytes...], [bool...]) item by item. */
function assertPair(
  value: PickleValue,
  images: string[],
  issame: boolean[],
): void {
  assert.ok(value instanceof PickleTuple);
  assert.equal(value.items.length, 2);
  const [bins, labels] = value.items;
  assert.ok(Array.isArray(bins));
  assert.deepEqual(bins.map(text), images);
  assert.deepEqual(labels, issame);
}

function assertSyntaxError(bytes: Uint8Array, message: RegExp): void {
  assert.throws(
    () => readPickle(bytes, "test.bin"),
    (error: unknown) => {
      assert.ok(error instanceof SyntaxError, `wrong class: ${error}`);
      assert.match(error.message, /^Cannot read pickle "test\.bin": /);
      assert.match(error.message, message);
      return true;
    },
  );
}

const LONG = "x".repeat(300);

Deno.test("readPickle reads protocol 2 as Python 2 writes it", () => {
  // Python 2 stores its byte strings as SHORT_BINSTRING ("U", 1-byte length)
  // and BINSTRING ("T", 4-byte length), and memoises with BINPUT; the third
  // image repeats the first through BINGET.
  // deno-fmt-ignore
  const bytes = bytesOf(
    0x80, 2, // PROTO 2
    "]", "q", 0, // EMPTY_LIST, BINPUT 0
    "(", // MARK
    "U", 2, "ab", "q", 1, // SHORT_BINSTRING "ab", BINPUT 1
    "T", uint32(300), LONG, "q", 2, // BINSTRING, BINPUT 2
    "h", 1, // BINGET 1
    "e", // APPENDS
    "]", "q", 3, // EMPTY_LIST, BINPUT 3
    "(", 0x88, 0x89, 0x88, "e", // MARK, NEWTRUE, NEWFALSE, NEWTRUE, APPENDS
    0x86, "q", 4, // TUPLE2, BINPUT 4
    ".", // STOP
  );
  assertPair(readPickle(bytes, "p2"), ["ab", LONG, "ab"], [true, false, true]);
});

Deno.test("readPickle reads protocol 3 as Python 3 writes it", () => {
  // pickle.dumps(([b"ab", b"cde"], [True, False]), protocol=3).hex() in
  // CPython 3.11.
  const bytes = fromHex(
    "80035d71002843026162710143036364657102655d7103288889658671042e",
  );
  assertPair(readPickle(bytes, "p3"), ["ab", "cde"], [true, false]);
});

Deno.test("readPickle reads BINBYTES and APPEND", () => {
  // deno-fmt-ignore
  const bytes = bytesOf(
    0x80, 3, // PROTO 3
    "]", "q", 0, // EMPTY_LIST, BINPUT 0
    "B", uint32(300), LONG, "q", 1, "a", // BINBYTES, BINPUT 1, APPEND
    "]", "q", 2, 0x89, "a", // EMPTY_LIST, BINPUT 2, NEWFALSE, APPEND
    0x86, "q", 3, // TUPLE2, BINPUT 3
    ".", // STOP
  );
  assertPair(readPickle(bytes, "p3"), [LONG], [false]);
});

Deno.test("readPickle reads protocol 4 with FRAME and MEMOIZE", () => {
  // pickle.dumps(([b"ab", b"cde"], [True, False]), protocol=4).hex() in
  // CPython 3.11; protocol=5 writes the same bytes after "8005".
  const bytes = fromHex(
    "80049518000000000000005d94284302616294430363646594655d942888896586942e",
  );
  assertPair(readPickle(bytes, "p4"), ["ab", "cde"], [true, false]);
});

Deno.test("readPickle reads protocol 5 with 8-byte lengths", () => {
  // BINBYTES8, BYTEARRAY8 and BINUNICODE8 with LONG_BINPUT and LONG_BINGET.
  // deno-fmt-ignore
  const bytes = bytesOf(
    0x80, 5, // PROTO 5
    0x95, uint64(0), // FRAME of length 0: framing is ignored
    "]", 0x94, // EMPTY_LIST, MEMOIZE (as 0)
    "(", // MARK
    0x8e, uint64(2), "ab", "r", uint32(70000), // BINBYTES8, LONG_BINPUT
    0x96, uint64(3), "cde", // BYTEARRAY8
    "j", uint32(70000), // LONG_BINGET
    "e", // APPENDS
    "]", 0x94, 0x88, "a", // EMPTY_LIST, MEMOIZE, NEWTRUE, APPEND
    0x8d, uint64(2), "hi", // BINUNICODE8
    0x87, // TUPLE3
    ".", // STOP
  );
  const value = readPickle(bytes, "p5");
  assert.ok(value instanceof PickleTuple);
  assert.deepEqual(value.items[0], [
    new TextEncoder().encode("ab"),
    new TextEncoder().encode("cde"),
    new TextEncoder().encode("ab"),
  ]);
  assert.deepEqual(value.items[1], [true]);
  assert.equal(value.items[2], "hi");
});

Deno.test("readPickle reads ints, None, str and empty tuples", () => {
  // deno-fmt-ignore
  const bytes = bytesOf(
    0x80, 4, // PROTO 4
    "(", // MARK
    "K", 200, // BININT1
    "M", 0x34, 0x12, // BININT2
    "J", 0xff, 0xff, 0xff, 0xff, // BININT -1
    "N", // NONE
    0x8c, 3, "abc", // SHORT_BINUNICODE
    "X", uint32(2), 0xc3, 0xa9, // BINUNICODE "é"
    ")", // EMPTY_TUPLE
    0x85, // TUPLE1
    "t", // TUPLE
    ".", // STOP
  );
  const value = readPickle(bytes, "ints");
  assert.ok(value instanceof PickleTuple);
  assert.deepEqual(value.items.slice(0, 6), [
    200,
    0x1234,
    -1,
    null,
    "abc",
    "é",
  ]);
  const last = value.items[6];
  assert.ok(last instanceof PickleTuple);
  assert.ok(last.items[0] instanceof PickleTuple);
  assert.equal(last.items[0].items.length, 0);
});

Deno.test("readPickle names _codecs.encode of Python 3 protocol 2", () => {
  // pickle.dumps(([b"ab", b"cde"], [True, False]), protocol=2).hex() in
  // CPython 3.11: bytes are rebuilt by calling _codecs.encode.
  const bytes = fromHex(
    "80025d710028635f636f646563730a656e636f64650a710158020000006162710258" +
      "060000006c6174696e3171038671045271056801580300000063646571066803867107" +
      "527108655d71092888896586710a2e",
  );
  assertSyntaxError(
    bytes,
    /GLOBAL imports _codecs\.encode.*re-save the file with protocol 3 or later.* at byte 6$/,
  );
});

Deno.test("readPickle rejects GLOBAL", () => {
  // The start of pickle.dumps(os.system) with protocol 2.
  const bytes = bytesOf(0x80, 2, "c", "posix\nsystem\n", "q", 0, ".");
  assertSyntaxError(
    bytes,
    /opcode GLOBAL \(0x63\) would import or call Python code, and this reader accepts data opcodes only .* at byte 2$/,
  );
});

Deno.test("readPickle rejects REDUCE", () => {
  const bytes = bytesOf(0x80, 3, "N", ")", "R", ".");
  assertSyntaxError(
    bytes,
    /opcode REDUCE \(0x52\) would import or call Python code.* at byte 4$/,
  );
});

Deno.test("readPickle rejects STACK_GLOBAL and BUILD", () => {
  assertSyntaxError(
    bytesOf(0x80, 4, 0x8c, 2, "os", 0x8c, 6, "system", 0x93, "."),
    /opcode STACK_GLOBAL \(0x93\) would import/,
  );
  assertSyntaxError(
    bytesOf(0x80, 4, "]", "N", "b", "."),
    /opcode BUILD \(0x62\) would import/,
  );
});

Deno.test("readPickle rejects an unsupported data opcode", () => {
  // BINFLOAT is data, but no verification set uses it.
  assertSyntaxError(
    bytesOf(0x80, 4, "G", 0, 0, 0, 0, 0, 0, 0, 0, "."),
    /opcode 0x47 \("G"\) is not supported by this reader.* at byte 2$/,
  );
});

Deno.test("readPickle rejects protocols outside 2 to 5", () => {
  // Protocols 0 and 1 start without PROTO.
  assertSyntaxError(bytesOf("(lp0\n."), /expected a PROTO opcode/);
  assertSyntaxError(bytesOf(0x80, 1, "N", "."), /protocol 1 is not supported/);
  assertSyntaxError(bytesOf(0x80, 6, "N", "."), /protocol 6 is not supported/);
});

Deno.test("readPickle rejects truncated data", () => {
  assertSyntaxError(
    bytesOf(0x80, 3, "B", uint32(100), "abc"),
    /file ends inside BINBYTES, which needs 100 bytes but 3 remain at byte 2$/,
  );
  assertSyntaxError(
    bytesOf(0x80, 3, "]"),
    /file ends before the STOP opcode at byte 3$/,
  );
});

Deno.test("readPickle rejects a memo entry read before it is set", () => {
  assertSyntaxError(
    bytesOf(0x80, 3, "h", 7, "."),
    /memo entry 7 is read before it is set at byte 2$/,
  );
});

Deno.test("readPickle rejects malformed stacks", () => {
  assertSyntaxError(bytesOf(0x80, 3, "."), /STOP finds no value/);
  assertSyntaxError(bytesOf(0x80, 3, "N", "N", "."), /STOP leaves 1 more/);
  assertSyntaxError(bytesOf(0x80, 3, "N", "e", "."), /APPENDS without a MARK/);
  assertSyntaxError(
    bytesOf(0x80, 3, "N", "N", "a", "."),
    /APPEND applies to a non-list value/,
  );
});
