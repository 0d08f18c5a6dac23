import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import type { SyntheticConfig } from "../../src/config/types.ts";
import { renderFace, writeSyntheticSet } from "../../src/data/synthetic.ts";
import { drawFaceIdentity } from "../../src/data/synthetic_face.ts";
import { createReporter } from "../../src/report.ts";
import { deriveRng } from "../../src/rng.ts";
import { withTempDir } from "./_helpers.ts";

const CONFIG: SyntheticConfig = {
  image_counts: [2, 3],
  train_identities: 3,
  eval_identities: 4,
  eval_images_per_identity: 3,
  eval_folds: 2,
  eval_per_fold: 2,
  canvas_size: 48,
};

async function listFiles(folder: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) names.push(entry.name);
  return names.sort();
}

Deno.test("renderFace repeats from a seed", async () => {
  const identity = drawFaceIdentity(await deriveRng(1, "identity"));
  const options = { seed: 1, name: "id_0000", index: 1, size: 32 };
  const first = await renderFace(identity, options);
  const second = await renderFace(identity, options);
  const other = await renderFace(identity, { ...options, index: 2 });
  assert.equal(first.width, 32);
  assert.equal(first.height, 32);
  assert.deepEqual(first.data, second.data);
  assert.notDeepEqual(first.data, other.data);
});

Deno.test("writeSyntheticSet writes both layouts", async () => {
  await withTempDir(async (dir) => {
    const set = await writeSyntheticSet(CONFIG, { seed: 1, outDir: dir });
    assert.equal(set.trainRoot, join(dir, "train"));
    assert.equal(set.evalRoot, join(dir, "eval"));
    assert.equal(set.pairsPath, join(dir, "eval", "pairs.txt"));
    assert.deepEqual(await listFiles(set.trainRoot), [
      "id_0000",
      "id_0001",
      "id_0002",
    ]);
    // Counts cycle through image_counts: 2, 3, 2.
    assert.deepEqual(await listFiles(join(set.trainRoot, "id_0001")), [
      "0001.png",
      "0002.png",
      "0003.png",
    ]);
    assert.deepEqual(await listFiles(join(set.trainRoot, "id_0002")), [
      "0001.png",
      "0002.png",
    ]);
    assert.deepEqual(await listFiles(join(set.evalRoot, "eval_0003")), [
      "eval_0003_0001.png",
      "eval_0003_0002.png",
      "eval_0003_0003.png",
    ]);
    const metadata = await sharp(
      join(set.trainRoot, "id_0000", "0001.png"),
    ).metadata();
    assert.equal(metadata.width, 48);
    assert.equal(metadata.height, 48);
  });
});

Deno.test("writeSyntheticSet writes a pairs file", async () => {
  await withTempDir(async (dir) => {
    const set = await writeSyntheticSet(CONFIG, { seed: 1, outDir: dir });
    const lines = (await Deno.readTextFile(set.pairsPath)).trimEnd().split(
      "\n",
    );
    assert.equal(lines[0], "2\t2");
    assert.equal(lines.length, 1 + 2 * 2 * 2);
    for (const line of lines.slice(1)) {
      const fields = line.split("\t");
      assert.ok(fields[0].startsWith("eval_"), line);
      assert.ok(fields.length === 3 || fields.length === 4, line);
    }
  });
});

Deno.test("writeSyntheticSet repeats from a seed", async () => {
  await withTempDir(async (dir) => {
    const a = await writeSyntheticSet(CONFIG, {
      seed: 3,
      outDir: join(dir, "a"),
    });
    const b = await writeSyntheticSet(CONFIG, {
      seed: 3,
      outDir: join(dir, "b"),
    });
    const file = join("id_0001", "0003.png");
    assert.deepEqual(
      await Deno.readFile(join(a.trainRoot, file)),
      await Deno.readFile(join(b.trainRoot, file)),
    );
    assert.equal(
      await Deno.readTextFile(a.pairsPath),
      await Deno.readTextFile(b.pairsPath),
    );
  });
});

Deno.test("writeSyntheticSet reports its speed", async () => {
  await withTempDir(async (dir) => {
    const lines: string[] = [];
    const records: Record<string, unknown>[] = [];
    const reporter = createReporter({
      writer: { writeLine: (line) => lines.push(line) },
      onRecord: (event) => records.push(event),
    });
    await writeSyntheticSet(CONFIG, { seed: 1, outDir: dir, reporter });
    // 2 + 3 + 2 training images and 4 x 3 evaluation images.
    assert.match(
      lines.at(-1)!,
      /^synthetic: 19 images in [\d.]+ s \(\d+ images\/s\)$/,
    );
    assert.equal(records[0].event, "synthetic_written");
    assert.equal(records[0].images, 19);
  });
});

Deno.test("writeSyntheticSet rejects too few pairs before rendering", async () => {
  await withTempDir(async (dir) => {
    const config = { ...CONFIG, eval_images_per_identity: 1 };
    await assert.rejects(writeSyntheticSet(config, { seed: 1, outDir: dir }), {
      name: "RangeError",
      message: /^Cannot draw pairs: fold 1 of 2 needs 2 same-person pairs/,
    });
    assert.deepEqual(await listFiles(dir), []);
  });
});
