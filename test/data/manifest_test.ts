import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDataset } from "../../src/data/build.ts";
import { decodeImage } from "../../src/data/image.ts";
import {
  formatManifest,
  loadTrainingSet,
  type ManifestEntry,
  parseManifest,
} from "../../src/data/manifest.ts";
import { testDatasetConfig, withTempDir, writeTestPng } from "./_helpers.ts";

const ENTRY: ManifestEntry = {
  path: "images/000000/1_original.png",
  identity: "a",
  label: 0,
  source: "data/a/1.jpg",
  operation: "original",
  sha256: "00ff",
};

/** Builds a set of 2 identities x 3 images at 12x12 (kept, no copies). */
async function buildSmallSet(dir: string): Promise<string> {
  for (const name of ["a", "b"]) {
    for (const k of [1, 2, 3]) {
      await writeTestPng(join(dir, "source", name, `${k}.png`), k, 12);
    }
  }
  const config = testDatasetConfig({
    roots: [{ path: join(dir, "source"), prefix: "", identities: null }],
    image_size: 12,
    rules: { sample_above: 5, keep_above: 2, opened_above: 1, noised_above: 0 },
  });
  const outDir = join(dir, "out");
  await buildDataset(config, { seed: 1, outDir });
  return outDir;
}

Deno.test("formatManifest writes keys in a fixed order", () => {
  const shuffled = {
    sha256: "00ff",
    operation: "original",
    label: 0,
    identity: "a",
    source: "data/a/1.jpg",
    path: "images/000000/1_original.png",
  } as ManifestEntry;
  assert.equal(
    formatManifest([shuffled]),
    '{"path":"images/000000/1_original.png","identity":"a","label":0,"source":"data/a/1.jpg","operation":"original","sha256":"00ff"}\n',
  );
});

Deno.test("parseManifest reads what formatManifest writes", () => {
  const entries = [ENTRY, { ...ENTRY, label: 1, identity: "b" }];
  assert.deepEqual(parseManifest(formatManifest(entries), "m"), entries);
});

Deno.test("parseManifest names the bad line", () => {
  const text = formatManifest([ENTRY]) + '{"path":"x"}\n';
  assert.throws(() => parseManifest(text, "m.jsonl"), {
    name: "SyntaxError",
    message:
      'Cannot parse manifest "m.jsonl": line 2: expected path, identity, label, source, operation and sha256',
  });
  assert.throws(() => parseManifest("{oops\n", "m.jsonl"), {
    name: "SyntaxError",
    message: /^Cannot parse manifest "m\.jsonl": line 1: /,
  });
});

Deno.test("loadTrainingSet decodes every image in order", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const set = await loadTrainingSet(outDir, 12);
    assert.equal(set.images.length, 6 * 12 * 12 * 3);
    assert.deepEqual(Array.from(set.labels), [0, 0, 0, 1, 1, 1]);
    assert.equal(set.numClasses, 2);
    assert.deepEqual(set.identities, ["a", "b"]);
    const fourth = await decodeImage(
      join(outDir, "images/000001/1_original.png"),
    );
    assert.deepEqual(
      set.images.subarray(3 * 12 * 12 * 3, 4 * 12 * 12 * 3),
      fourth.data,
    );
  });
});

Deno.test("loadTrainingSet rejects an altered image", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const path = join(outDir, "images/000000/2_original.png");
    await writeTestPng(path, 99, 12);
    await assert.rejects(loadTrainingSet(outDir, 12), (error: Error) => {
      assert.match(
        error.message,
        /^Cannot load dataset: ".*2_original\.png" has SHA-256 [0-9a-f]{64}, the manifest has [0-9a-f]{64}: rebuild the dataset$/,
      );
      return true;
    });
  });
});

Deno.test("loadTrainingSet rejects another image size", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    await assert.rejects(loadTrainingSet(outDir, 16), (error: Error) => {
      assert.match(
        error.message,
        /is 12x12, expected 16x16: rebuild the dataset with this image_size$/,
      );
      return true;
    });
  });
});
