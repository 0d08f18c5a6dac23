import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Pair,
  parsePairs,
  resolvePairPaths,
} from "../../src/eval/pairs.ts";

const REAL_PAIRS = fileURLToPath(
  new URL("../../../shared/data/lfw/pairs.txt", import.meta.url),
);

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

const realText = await readIfPresent(REAL_PAIRS);
if (realText === null) {
  console.log(
    `Skipping the LFW pairs.txt tests: "${REAL_PAIRS}" not found (it lives beside the repository in ../shared/data)`,
  );
}

/** One fold of two same-person and two different-person lines. */
const SMALL = [
  "1\t2",
  "Ann\t1\t2",
  "Bob\t3\t1",
  "Ann\t1\tBob\t2",
  "Cid\t4\tDee\t1",
].join("\n");

function assertParseError(
  text: string,
  lineNumber: number,
  lineText: string,
  detail: RegExp,
): void {
  assert.throws(() => parsePairs(text, "sets/pairs.txt"), (error: unknown) => {
    assert.ok(error instanceof SyntaxError, `not a SyntaxError: ${error}`);
    assert.match(error.message, /"sets\/pairs\.txt"/);
    assert.match(error.message, new RegExp(`line ${lineNumber}:`));
    assert.ok(
      error.message.endsWith(`"${lineText}"`),
      `message does not end with the line: ${error.message}`,
    );
    assert.match(error.message, detail);
    return true;
  });
}

Deno.test({
  name: "parsePairs reads the LFW View 2 file",
  ignore: realText === null,
  fn() {
    const file = parsePairs(realText!, REAL_PAIRS);
    assert.equal(file.folds, 10);
    assert.equal(file.perFold, 300);
    assert.equal(file.pairs.length, 6000);
    assert.deepEqual(file.pairs[0], {
      name1: "Abel_Pacheco",
      index1: 1,
      name2: "Abel_Pacheco",
      index2: 4,
      same: true,
    });
    assert.deepEqual(file.pairs[5999], {
      name1: "Slobodan_Milosevic",
      index1: 2,
      name2: "Sok_An",
      index2: 1,
      same: false,
    });
  },
});

Deno.test({
  name: "parsePairs keeps LFW fold blocks in order",
  ignore: realText === null,
  fn() {
    const { pairs } = parsePairs(realText!, REAL_PAIRS);
    for (let fold = 0; fold < 10; fold++) {
      const block = pairs.slice(fold * 600, (fold + 1) * 600);
      assert.ok(block.slice(0, 300).every((pair) => pair.same), `fold ${fold}`);
      assert.ok(block.slice(300).every((pair) => !pair.same), `fold ${fold}`);
    }
  },
});

Deno.test("parsePairs reads a small file", () => {
  const file = parsePairs(SMALL, "small.txt");
  assert.equal(file.folds, 1);
  assert.equal(file.perFold, 2);
  assert.deepEqual(file.pairs, [
    { name1: "Ann", index1: 1, name2: "Ann", index2: 2, same: true },
    { name1: "Bob", index1: 3, name2: "Bob", index2: 1, same: true },
    { name1: "Ann", index1: 1, name2: "Bob", index2: 2, same: false },
    { name1: "Cid", index1: 4, name2: "Dee", index2: 1, same: false },
  ]);
});

Deno.test("parsePairs accepts CRLF, spaces and trailing blank lines", () => {
  const messy =
    SMALL.replaceAll("\t", "  ").split("\n").map((line) => `${line} \t`).join(
      "\r\n",
    ) + "\r\n\r\n  \n";
  assert.deepEqual(
    parsePairs(messy, "messy.txt"),
    parsePairs(SMALL, "small.txt"),
  );
});

Deno.test("parsePairs rejects an empty file", () => {
  assertParseError("\n\n", 1, "", /file is empty/);
});

Deno.test("parsePairs rejects malformed headers", () => {
  for (const header of ["10", "ten 300", "0 300", "10 300 1", "10 -3"]) {
    const text = [header, ...SMALL.split("\n").slice(1)].join("\n");
    assertParseError(text, 1, header, /invalid header/);
  }
});

Deno.test("parsePairs rejects a wrong field count", () => {
  const text = SMALL.replace("Bob\t3\t1", "Bob\t3\t1\tx\ty");
  assertParseError(text, 3, "Bob\t3\t1\tx\ty", /found 5/);
});

Deno.test("parsePairs rejects invalid image numbers", () => {
  for (const bad of ["0", "-1", "1.5", "x", "2e3"]) {
    const line = `Bob\t3\t${bad}`;
    const text = SMALL.replace("Bob\t3\t1", line);
    assertParseError(text, 3, line, /is not a positive integer/);
  }
});

Deno.test("parsePairs rejects a different-person line among same", () => {
  const line = "Bob\t3\tCid\t1";
  const text = SMALL.replace("Bob\t3\t1", line);
  assertParseError(text, 3, line, /expected a same-person line/);
});

Deno.test("parsePairs rejects a same-person line among different", () => {
  const line = "Cid\t4\t1";
  const text = SMALL.replace("Cid\t4\tDee\t1", line);
  assertParseError(text, 5, line, /expected a different-person line/);
});

Deno.test("parsePairs rejects a pair of one image", () => {
  const line = "Bob\t3\t3";
  assertParseError(
    SMALL.replace("Bob\t3\t1", line),
    3,
    line,
    /pairs an image with itself/,
  );
});

Deno.test("parsePairs rejects a different-person line of one person", () => {
  const line = "Cid\t4\tCid\t1";
  assertParseError(
    SMALL.replace("Cid\t4\tDee\t1", line),
    5,
    line,
    /names the same person twice/,
  );
});

Deno.test("parsePairs rejects too few pairs", () => {
  const text = SMALL.split("\n").slice(0, 4).join("\n");
  assertParseError(
    text,
    4,
    "Ann\t1\tBob\t2",
    /ends after 3 pairs.*announces 4/,
  );
});

Deno.test("parsePairs rejects too many pairs", () => {
  const text = SMALL + "\nEve\t1\tFay\t2\n";
  assertParseError(text, 6, "Eve\t1\tFay\t2", /has 5 pairs.*announces 4/);
});

Deno.test("parsePairs rejects a blank line between pairs", () => {
  const lines = SMALL.split("\n");
  const text = [...lines.slice(0, 3), "", ...lines.slice(3)].join("\n");
  assertParseError(text, 4, "", /blank line between pairs/);
});

async function touch(path: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeFile(path, new Uint8Array([0]));
}

const PAIRS: Pair[] = [
  { name1: "Ann", index1: 1, name2: "Ann", index2: 2, same: true },
  { name1: "Ann", index1: 1, name2: "Bob", index2: 12, same: false },
];

Deno.test("resolvePairPaths finds each image's extension", async () => {
  const root = await Deno.makeTempDir();
  try {
    await touch(join(root, "Ann", "Ann_0001.jpg"));
    await touch(join(root, "Ann", "Ann_0002.png"));
    await touch(join(root, "Bob", "Bob_0012.pgm"));
    const paths = await resolvePairPaths(PAIRS, root);
    assert.deepEqual(paths, [
      {
        path1: join(root, "Ann", "Ann_0001.jpg"),
        path2: join(root, "Ann", "Ann_0002.png"),
      },
      {
        path1: join(root, "Ann", "Ann_0001.jpg"),
        path2: join(root, "Bob", "Bob_0012.pgm"),
      },
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolvePairPaths accepts extensions with dots", async () => {
  const root = await Deno.makeTempDir();
  try {
    await touch(join(root, "Ann", "Ann_0001.webp"));
    await touch(join(root, "Ann", "Ann_0002.webp"));
    const paths = await resolvePairPaths(PAIRS.slice(0, 1), root, [".webp"]);
    assert.equal(paths[0].path2, join(root, "Ann", "Ann_0002.webp"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolvePairPaths names the missing image", async () => {
  const root = await Deno.makeTempDir();
  try {
    await touch(join(root, "Ann", "Ann_0001.jpg"));
    await touch(join(root, "Ann", "Ann_0002.jpg"));
    await assert.rejects(
      () => resolvePairPaths(PAIRS, root),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /pair 2/);
        assert.ok(
          error.message.includes(`"${join(root, "Bob", "Bob_0012.jpg")}"`),
          error.message,
        );
        assert.match(error.message, /not found/);
        return true;
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolvePairPaths rejects an empty extension list", async () => {
  await assert.rejects(
    () => resolvePairPaths(PAIRS, "/nonexistent", []),
    RangeError,
  );
});
