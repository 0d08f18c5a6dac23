import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { decodeImageBytes } from "../../src/data/image.ts";
import { readVerificationBin } from "../../src/eval/verification_bin.ts";
import { encodeVerificationBin, gradientJpeg } from "./_verification_bin.ts";

async function withBin(
  bytes: Uint8Array,
  body: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "set.bin");
    await Deno.writeFile(path, bytes);
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readVerificationBin reads 6,000 pairs of 112x112 JPEGs", async () => {
  // The LFW layout of lfw.bin: 10 folds of 300 same-person pairs followed by
  // 300 different-person pairs, two images per pair, pickled with protocol 2
  // and Python 2 strings as the published file is.
  const distinct = await Promise.all(
    Array.from({ length: 16 }, (_, k) => gradientJpeg(k)),
  );
  const images = Array.from(
    { length: 12000 },
    (_, i) => distinct[(i * 7) % 16],
  );
  const issame = Array.from({ length: 6000 }, (_, p) => p % 600 < 300);
  await withBin(encodeVerificationBin(images, issame, 2), async (path) => {
    const set = await readVerificationBin(path);
    assert.equal(set.images.length, 12000);
    assert.deepEqual(set.issame, issame);
    for (let i = 0; i < 12000; i++) {
      if (!Buffer.from(set.images[i]).equals(images[i])) {
        assert.fail(`image ${i} differs from the bytes written`);
      }
    }
    for (const i of [0, 5999, 11999]) {
      const image = await decodeImageBytes(set.images[i], `image ${i}`);
      assert.equal(image.width, 112);
      assert.equal(image.height, 112);
    }
  });
});

for (const protocol of [2, 3, 4, 5] as const) {
  Deno.test(`readVerificationBin reads protocol ${protocol}`, async () => {
    // 1,001 pairs make the image list span three APPENDS batches, and images
    // of 300 bytes use the 4-byte length opcodes.
    const images = Array.from(
      { length: 2002 },
      (_, i) => new Uint8Array(i % 3 === 0 ? 300 : 10).fill(i % 251),
    );
    const issame = Array.from({ length: 1001 }, (_, p) => p % 3 !== 1);
    const bytes = encodeVerificationBin(images, issame, protocol);
    await withBin(bytes, async (path) => {
      const set = await readVerificationBin(path);
      assert.deepEqual(set.images, images);
      assert.deepEqual(set.issame, issame);
    });
  });
}

async function assertBinError(bytes: Uint8Array, message: RegExp) {
  await withBin(bytes, async (path) => {
    await assert.rejects(readVerificationBin(path), (error: unknown) => {
      assert.ok(error instanceof SyntaxError, `wrong class: ${error}`);
      assert.ok(error.message.includes(`"${path}"`), error.message);
      assert.match(error.message, message);
      return true;
    });
  });
}

/** Decodes hex digits, ignoring spaces. */
function fromHex(hex: string): Uint8Array {
  const digits = hex.replaceAll(" ", "");
  return new Uint8Array(
    digits.match(/../g)!.map((byte) => parseInt(byte, 16)),
  );
}

const TWO = [new Uint8Array([1]), new Uint8Array([2])];

Deno.test("readVerificationBin rejects an odd image count", async () => {
  await assertBinError(
    encodeVerificationBin([...TWO, TWO[0]], [true], 3),
    /3 images for 1 pairs, but each pair needs two/,
  );
});

Deno.test("readVerificationBin rejects an empty set", async () => {
  await assertBinError(
    encodeVerificationBin([], [], 4),
    /the set has no pairs/,
  );
});

Deno.test("readVerificationBin rejects a value of another shape", async () => {
  // pickle.dumps([b"a"], protocol=3)
  await assertBinError(
    fromHex("8003 5d 430161 61 2e"),
    /the pickle contains a list of 1 items: expected a pickled \(bins, issame_list\)/,
  );
  // (b"a", [True]): the first item is not a list.
  await assertBinError(
    fromHex("8003 430161 5d 88 61 86 2e"),
    /item 0 is bytes of length 1, not a list/,
  );
});

Deno.test("readVerificationBin names a label that is not a bool", async () => {
  // ([b"a", b"b"], [1]): BININT1 1 in place of True.
  await assertBinError(
    fromHex("8003 5d 28 430161 430162 65 5d 4b01 61 86 2e"),
    /label 0 is number 1, not a bool/,
  );
});

Deno.test("readVerificationBin names an image that is not bytes", async () => {
  // (["a", b"b"], [True]): a str in place of bytes.
  await assertBinError(
    fromHex("8003 5d 28 8c0161 430162 65 5d 88 61 86 2e"),
    /image 0 is string "a", not bytes/,
  );
});

Deno.test("readVerificationBin refuses GLOBAL and REDUCE", async () => {
  // A protocol 2 pickle that would call os.system("true") when loaded by
  // Python: GLOBAL posix.system, the argument tuple, REDUCE.
  const enc = new TextEncoder();
  // deno-fmt-ignore
  const bytes = new Uint8Array([
    0x80, 2, 0x63, ...enc.encode("posix\nsystem\n"),
    0x58, 4, 0, 0, 0, ...enc.encode("true"), 0x85, 0x52, 0x2e,
  ]);
  await assertBinError(
    bytes,
    /opcode GLOBAL \(0x63\) would import or call Python code/,
  );
  // REDUCE alone, with None as the callable.
  await assertBinError(
    fromHex("8003 4e 29 52 2e"),
    /opcode REDUCE \(0x52\) would import or call Python code/,
  );
});
