import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError } from "../../src/data/dataset_error.ts";
import {
  drawPairs,
  makePairsSet,
  type Pair,
  type PairsIdentity,
  writePairsFile,
} from "../../src/data/make_pairs.ts";
import {
  HAS_SHARED_DATA,
  SHARED_DATA,
  withTempDir,
  writeTestPng,
} from "./_helpers.ts";

/** Parsed pairs.txt: the header and each fold's same and different pairs. */
interface ParsedPairs {
  folds: number;
  perFold: number;
  pairs: Pair[];
}

function parsePairsText(text: string): ParsedPairs {
  const lines = text.trimEnd().split("\n");
  const [folds, perFold] = lines[0].split("\t").map(Number);
  const pairs = lines.slice(1).map((line) => {
    const fields = line.split("\t");
    return fields.length === 3
      ? {
        name1: fields[0],
        index1: Number(fields[1]),
        name2: fields[0],
        index2: Number(fields[2]),
      }
      : {
        name1: fields[0],
        index1: Number(fields[1]),
        name2: fields[2],
        index2: Number(fields[3]),
      };
  });
  return { folds, perFold, pairs };
}

function identities(count: number, images: number): PairsIdentity[] {
  return Array.from({ length: count }, (_, k) => ({
    name: `p${String(k).padStart(2, "0")}`,
    images,
  }));
}

/** Checks the block structure, index ranges and uniqueness of pairs. */
function checkPairs(
  pairs: Pair[],
  set: PairsIdentity[],
  folds: number,
  perFold: number,
): void {
  assert.equal(pairs.length, folds * 2 * perFold);
  const images = new Map(set.map((id) => [id.name, id.images]));
  const keys = new Set<string>();
  for (const [k, pair] of pairs.entries()) {
    const same = k % (2 * perFold) < perFold;
    assert.equal(pair.name1 === pair.name2, same, `pair ${k} kind`);
    if (same) assert.ok(pair.index1 < pair.index2, `pair ${k} indices`);
    if (!same) assert.ok(pair.name1 < pair.name2, `pair ${k} name order`);
    for (
      const [name, index] of [[pair.name1, pair.index1], [
        pair.name2,
        pair.index2,
      ]] as const
    ) {
      assert.ok(index >= 1, `pair ${k}: index ${index} below 1`);
      assert.ok(
        index <= images.get(name)!,
        `pair ${k}: index ${index} too high`,
      );
    }
    keys.add(`${pair.name1}/${pair.index1}/${pair.name2}/${pair.index2}`);
  }
  assert.equal(keys.size, pairs.length, "duplicate pairs");
}

Deno.test("drawPairs fills each fold without duplicates", async () => {
  const set = identities(20, 4);
  const pairs = await drawPairs(set, { seed: 1, folds: 5, perFold: 6 });
  checkPairs(pairs, set, 5, 6);
});

Deno.test("drawPairs keeps each identity in one fold", async () => {
  const set = identities(20, 4);
  const pairs = await drawPairs(set, { seed: 1, folds: 5, perFold: 6 });
  const foldOf = new Map<string, number>();
  for (const [k, pair] of pairs.entries()) {
    const fold = Math.floor(k / 12);
    for (const name of [pair.name1, pair.name2]) {
      assert.equal(foldOf.get(name) ?? fold, fold, `${name} in two folds`);
      foldOf.set(name, fold);
    }
  }
});

Deno.test("drawPairs repeats from a seed", async () => {
  const set = identities(12, 5);
  const options = { folds: 3, perFold: 5 };
  const first = await drawPairs(set, { seed: 4, ...options });
  const second = await drawPairs(set, { seed: 4, ...options });
  const other = await drawPairs(set, { seed: 5, ...options });
  assert.deepEqual(first, second);
  assert.notDeepEqual(first, other);
});

Deno.test("drawPairs shares identities when folds outnumber them", async () => {
  // 3 identities x 3 images: 9 same pairs and 27 different pairs in all.
  const set = identities(3, 3);
  const pairs = await drawPairs(set, { seed: 2, folds: 4, perFold: 2 });
  checkPairs(pairs, set, 4, 2);
});

Deno.test("drawPairs shares identities with one per fold", async () => {
  // 10 identities in 10 folds would leave each fold without a second
  // identity for its different-person pairs (the AT&T s31..s40 set).
  const set = identities(10, 10);
  const pairs = await drawPairs(set, { seed: 2, folds: 10, perFold: 30 });
  checkPairs(pairs, set, 10, 30);
});

Deno.test("drawPairs uses every pair when exactly enough", async () => {
  // 3 identities x 2 images give exactly 3 same-person pairs.
  const set = identities(3, 2);
  const pairs = await drawPairs(set, { seed: 3, folds: 1, perFold: 3 });
  checkPairs(pairs, set, 1, 3);
  assert.deepEqual(pairs.slice(0, 3).map((pair) => pair.name1), [
    "p00",
    "p01",
    "p02",
  ]);
});

Deno.test("drawPairs rejects too few same-person pairs", async () => {
  const set = [...identities(2, 2), { name: "solo", images: 1 }];
  await assert.rejects(
    drawPairs(set, { seed: 1, folds: 1, perFold: 3 }),
    {
      name: "RangeError",
      message:
        "Cannot draw pairs: fold 1 of 1 needs 3 same-person pairs, but its 2 identities with 2 or more images give only 2 unused ones: lower per_fold or folds, or add identities and images",
    },
  );
});

Deno.test("drawPairs rejects too few different-person pairs", async () => {
  const set = [{ name: "only", images: 10 }];
  await assert.rejects(
    drawPairs(set, { seed: 1, folds: 1, perFold: 2 }),
    {
      name: "RangeError",
      message:
        "Cannot draw pairs: fold 1 of 1 needs 2 different-person pairs, but its 1 identities give only 0 unused ones: lower per_fold or folds, or add identities and images",
    },
  );
});

Deno.test("drawPairs rejects zero folds", async () => {
  await assert.rejects(
    drawPairs(identities(2, 2), { seed: 1, folds: 0, perFold: 1 }),
    {
      name: "RangeError",
      message: "Cannot draw pairs: folds must be a positive integer, got 0",
    },
  );
});

Deno.test("writePairsFile writes LFW View 2 lines", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "pairs.txt");
    await writePairsFile(path, 1, 1, [
      { name1: "Ann", index1: 1, name2: "Ann", index2: 3 },
      { name1: "Ann", index1: 2, name2: "Bob", index2: 1 },
    ]);
    assert.equal(
      await Deno.readTextFile(path),
      "1\t1\nAnn\t1\t3\nAnn\t2\tBob\t1\n",
    );
  });
});

Deno.test("writePairsFile rejects a wrong count", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "pairs.txt");
    await assert.rejects(writePairsFile(path, 2, 1, []), {
      name: "RangeError",
      message:
        `Cannot write pairs file "${path}": expected 2 x 2 x 1 = 4 pairs, got 0`,
    });
  });
});

Deno.test("writePairsFile rejects pairs out of order", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "pairs.txt");
    const different = { name1: "Ann", index1: 2, name2: "Bob", index2: 1 };
    await assert.rejects(writePairsFile(path, 1, 1, [different, different]), {
      name: "RangeError",
      message:
        `Cannot write pairs file "${path}": pair 1 should be a same-person pair`,
    });
  });
});

Deno.test("makePairsSet writes the LFW layout", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    for (const name of ["amy", "ben", "cal", "dee"]) {
      for (const k of [1, 2, 3, 10]) {
        await writeTestPng(join(root, name, `${k}.png`), k);
      }
    }
    // A broken file in ben: the three readable images become 0001..0003.
    await Deno.writeFile(join(root, "ben", "2.png"), new Uint8Array(5));
    const outDir = join(dir, "lfw");
    const result = await makePairsSet(
      { root, identities: null, folds: 2, per_fold: 3 },
      { seed: 1, outDir, extensions: ["png"] },
    );
    assert.equal(result.identities, 4);
    assert.equal(result.images, 15);
    assert.equal(result.pairs, 12);
    assert.equal(result.unreadable.length, 1);
    assert.equal(result.unreadable[0].path, join(root, "ben", "2.png"));

    const names = [];
    for await (const entry of Deno.readDir(join(outDir, "ben"))) {
      names.push(entry.name);
    }
    assert.deepEqual(names.sort(), [
      "ben_0001.png",
      "ben_0002.png",
      "ben_0003.png",
    ]);

    const text = await Deno.readTextFile(result.pairsPath);
    assert.equal(text.trimEnd().split("\n").length, 1 + 12);
    const parsed = parsePairsText(text);
    assert.equal(parsed.folds, 2);
    assert.equal(parsed.perFold, 3);
    checkPairs(
      parsed.pairs,
      [
        { name: "amy", images: 4 },
        { name: "ben", images: 3 },
        { name: "cal", images: 4 },
        { name: "dee", images: 4 },
      ],
      2,
      3,
    );
    for (const pair of parsed.pairs) {
      for (
        const [name, index] of [[pair.name1, pair.index1], [
          pair.name2,
          pair.index2,
        ]] as const
      ) {
        const file = `${name}_${String(index).padStart(4, "0")}.png`;
        await Deno.stat(join(outDir, name, file));
      }
    }
  });
});

Deno.test("makePairsSet rejects the source as output", async () => {
  await withTempDir(async (dir) => {
    await writeTestPng(join(dir, "a", "1.png"), 1);
    await assert.rejects(
      makePairsSet(
        { root: dir, identities: null, folds: 1, per_fold: 1 },
        { seed: 1, outDir: dir, extensions: ["png"] },
      ),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(
          error.message,
          `Cannot make pairs: output folder "${dir}" is the source folder: choose another output folder`,
        );
        return true;
      },
    );
  });
});

Deno.test("makePairsSet rejects a name with a space", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeTestPng(join(root, "Ann Lee", "1.png"), 1);
    await assert.rejects(
      makePairsSet(
        { root, identities: null, folds: 1, per_fold: 1 },
        { seed: 1, outDir: join(dir, "out"), extensions: ["png"] },
      ),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(
          error.message,
          'Cannot make pairs: identity name "Ann Lee" contains whitespace, which pairs.txt cannot hold: rename the folder',
        );
        return true;
      },
    );
  });
});

Deno.test({
  name: "makePairsSet writes pairs for AT&T faces",
  ignore: !HAS_SHARED_DATA,
  async fn() {
    await withTempDir(async (dir) => {
      const chosen = Array.from({ length: 12 }, (_, k) => `s${k + 1}`);
      const result = await makePairsSet(
        {
          root: join(SHARED_DATA, "att_faces"),
          identities: chosen,
          folds: 4,
          per_fold: 10,
        },
        { seed: 1, outDir: join(dir, "att"), extensions: ["pgm"] },
      );
      assert.equal(result.identities, 12);
      assert.equal(result.images, 120);
      const parsed = parsePairsText(await Deno.readTextFile(result.pairsPath));
      checkPairs(
        parsed.pairs,
        chosen.map((name) => ({ name, images: 10 })),
        4,
        10,
      );
    });
  },
});
