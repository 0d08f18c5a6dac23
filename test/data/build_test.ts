import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDataset } from "../../src/data/build.ts";
import { parseManifest } from "../../src/data/manifest.ts";
import { sha256File } from "../../src/hash.ts";
import { createReporter } from "../../src/report.ts";
import { deriveRng } from "../../src/rng.ts";
import {
  HAS_SHARED_DATA,
  SHARED_DATA,
  testDatasetConfig,
  withTempDir,
  writeTestPng,
} from "./_helpers.ts";

/**
 * Image counts per identity for the thresholds of `testDatasetConfig`
 * (sample above 6, keep above 5, opened above 3, noised above 1).
 */
const COUNTS: Record<string, number> = {
  big: 8, // sampled_350: 6 of 8
  mid: 6, // kept: 6
  small: 4, // kept_opened: 4 x 2
  tiny: 2, // kept_opened_noised: 2 x 4
  one: 1, // dropped
  empty: 0, // dropped, listed as empty
};

async function writeSource(root: string): Promise<void> {
  let seed = 0;
  for (const [name, count] of Object.entries(COUNTS)) {
    await Deno.mkdir(join(root, name), { recursive: true });
    for (let k = 1; k <= count; k++) {
      await writeTestPng(join(root, name, `${k}.png`), seed++, 20);
    }
  }
}

function configFor(root: string) {
  return testDatasetConfig({
    roots: [{ path: root, prefix: "", identities: null }],
  });
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("buildDataset writes the summary counts", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    const summary = await buildDataset(configFor(root), { seed: 1, outDir });
    assert.equal(summary.identities_in, 6);
    assert.equal(summary.images_in, 21);
    assert.equal(summary.identities_kept, 4);
    assert.equal(summary.images_out, 6 + 6 + 8 + 8);
    assert.deepEqual(summary.by_rule, {
      sampled_350: 1,
      kept: 1,
      kept_opened: 1,
      kept_opened_noised: 1,
      dropped: 2,
    });
    assert.deepEqual(summary.unreadable, []);
    assert.deepEqual(summary.empty_identities, ["empty"]);
    assert.deepEqual(summary.unreadable_identities, []);
    assert.equal(
      summary.manifest_sha256,
      await sha256File(join(outDir, "manifest.jsonl")),
    );
    assert.deepEqual(await readJson(join(outDir, "summary.json")), summary);
  });
});

Deno.test("buildDataset labels kept identities by name", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    await buildDataset(configFor(root), { seed: 1, outDir });
    assert.deepEqual(await readJson(join(outDir, "labels.json")), [
      "big",
      "mid",
      "small",
      "tiny",
    ]);
  });
});

Deno.test("buildDataset writes a manifest of hashed images", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    await buildDataset(configFor(root), { seed: 1, outDir });
    const text = await Deno.readTextFile(join(outDir, "manifest.jsonl"));
    const first = JSON.parse(text.split("\n")[0]);
    assert.deepEqual(Object.keys(first), [
      "path",
      "identity",
      "label",
      "source",
      "operation",
      "sha256",
    ]);
    const entries = parseManifest(text, "manifest.jsonl");
    for (const entry of entries) {
      assert.equal(await sha256File(join(outDir, entry.path)), entry.sha256);
    }
    const tiny = entries.filter((entry) => entry.identity === "tiny");
    assert.deepEqual(tiny.map((entry) => entry.path), [
      "images/000003/1_original.png",
      "images/000003/1_opened.png",
      "images/000003/1_gaussian.png",
      "images/000003/1_salt_pepper.png",
      "images/000003/2_original.png",
      "images/000003/2_opened.png",
      "images/000003/2_gaussian.png",
      "images/000003/2_salt_pepper.png",
    ]);
    assert.equal(tiny[0].source, join(root, "tiny", "1.png"));
    assert.ok(tiny.every((entry) => entry.label === 3));
  });
});

Deno.test("buildDataset samples with the identity's generator", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    await buildDataset(configFor(root), { seed: 5, outDir });
    const entries = parseManifest(
      await Deno.readTextFile(join(outDir, "manifest.jsonl")),
      "manifest.jsonl",
    );
    const rng = await deriveRng(5, "dataset/sample/big");
    const expected = rng.sampleIndices(8, 6).map((k) =>
      join(root, "big", `${k + 1}.png`)
    );
    const sources = entries
      .filter((entry) => entry.identity === "big")
      .map((entry) => entry.source);
    assert.deepEqual(sources, expected);
  });
});

Deno.test("buildDataset gives identical manifests for one seed", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    await buildDataset(configFor(root), { seed: 7, outDir: join(dir, "a") });
    await buildDataset(configFor(root), { seed: 7, outDir: join(dir, "b") });
    const first = await Deno.readFile(join(dir, "a", "manifest.jsonl"));
    const second = await Deno.readFile(join(dir, "b", "manifest.jsonl"));
    assert.deepEqual(first, second);
  });
});

Deno.test("buildDataset changes with the seed", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const a = await buildDataset(configFor(root), {
      seed: 7,
      outDir: join(dir, "a"),
    });
    const b = await buildDataset(configFor(root), {
      seed: 8,
      outDir: join(dir, "b"),
    });
    assert.notEqual(a.manifest_sha256, b.manifest_sha256);
  });
});

Deno.test("buildDataset skips and lists an unreadable image", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    // small gets a fifth file, which keeps its rule (3 < 5 <= 5).
    const broken = join(root, "small", "5.jpg");
    await Deno.writeFile(broken, new TextEncoder().encode("garbage bytes"));
    const records: Record<string, unknown>[] = [];
    const reporter = createReporter({
      writer: { writeLine() {} },
      onRecord: (event) => records.push(event),
    });
    const summary = await buildDataset(configFor(root), {
      seed: 1,
      outDir: join(dir, "out"),
      reporter,
    });
    assert.equal(summary.images_in, 22);
    assert.equal(summary.by_rule.kept_opened, 1);
    assert.equal(summary.images_out, 6 + 6 + 8 + 8);
    assert.equal(summary.unreadable.length, 1);
    assert.equal(summary.unreadable[0].path, broken);
    assert.match(
      summary.unreadable[0].error,
      /^Cannot decode image ".*5\.jpg": /,
    );
    const record = records.find((r) => r.event === "dataset_unreadable");
    assert.equal(record?.path, broken);
  });
});

Deno.test("buildDataset counts a broken file in n", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    // one has a single image (dropped); a broken second file makes n = 2,
    // which adds the noisy copies to the one readable image.
    await Deno.writeFile(join(root, "one", "2.jpg"), Uint8Array.of(0xff, 0xd8));
    const summary = await buildDataset(configFor(root), {
      seed: 1,
      outDir: join(dir, "out"),
    });
    assert.equal(summary.by_rule.kept_opened_noised, 2);
    assert.equal(summary.by_rule.dropped, 1);
    assert.equal(summary.unreadable.length, 1);
    assert.equal(summary.identities_kept, 5);
    assert.equal(summary.images_out, 6 + 6 + 8 + 8 + 4);
  });
});

Deno.test("buildDataset skips an identity with no readable image", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    await Deno.mkdir(join(root, "ghost"));
    for (const k of [1, 2, 3]) {
      await Deno.writeFile(join(root, "ghost", `${k}.png`), new Uint8Array(9));
    }
    const outDir = join(dir, "out");
    const summary = await buildDataset(configFor(root), { seed: 1, outDir });
    assert.deepEqual(summary.unreadable_identities, ["ghost"]);
    assert.equal(summary.unreadable.length, 3);
    assert.equal(summary.identities_kept, 4);
    // ghost sorts between big and mid but takes no label.
    assert.deepEqual(await readJson(join(outDir, "labels.json")), [
      "big",
      "mid",
      "small",
      "tiny",
    ]);
  });
});

Deno.test("buildDataset names sources that share a stem", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    for (const file of ["a.jpg", "a.png", "b.png"]) {
      await writeTestPng(join(root, "x", file), file.length);
    }
    const config = testDatasetConfig({
      roots: [{ path: root, prefix: "", identities: null }],
      rules: {
        sample_above: 6,
        keep_above: 2,
        opened_above: 1,
        noised_above: 0,
      },
    });
    const outDir = join(dir, "out");
    await buildDataset(config, { seed: 1, outDir });
    const entries = parseManifest(
      await Deno.readTextFile(join(outDir, "manifest.jsonl")),
      "manifest.jsonl",
    );
    assert.deepEqual(entries.map((entry) => entry.path), [
      "images/000000/a_jpg_original.png",
      "images/000000/a_png_original.png",
      "images/000000/b_original.png",
    ]);
  });
});

Deno.test("buildDataset removes an earlier build", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    const stale = join(outDir, "images", "000099", "old_original.png");
    await writeTestPng(stale, 1);
    await buildDataset(configFor(root), { seed: 1, outDir });
    await assert.rejects(Deno.stat(stale), Deno.errors.NotFound);
  });
});

Deno.test("buildDataset reports progress in images", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const lines: string[] = [];
    const reporter = createReporter({
      writer: { writeLine: (line) => lines.push(line) },
    });
    await buildDataset(configFor(root), {
      seed: 1,
      outDir: join(dir, "out"),
      reporter,
    });
    // 6 + 6 + 4 + 2 selected source images.
    assert.ok(
      lines.some((line) => line.startsWith("dataset 18/18 images (100%)")),
      lines.join("\n"),
    );
    assert.ok(lines.at(-1)?.startsWith("dataset: 4 identities, 28 images"));
  });
});

Deno.test({
  name: "buildDataset builds from AT&T faces",
  ignore: !HAS_SHARED_DATA,
  async fn() {
    await withTempDir(async (dir) => {
      const config = testDatasetConfig({
        roots: [{
          path: join(SHARED_DATA, "att_faces"),
          prefix: "att_",
          identities: ["s1", "s2", "s3"],
        }],
        image_size: 56,
        // Ten images per identity fall in the noised band (5 < 10 <= 10).
        rules: {
          sample_above: 30,
          keep_above: 20,
          opened_above: 10,
          noised_above: 5,
        },
      });
      const outDir = join(dir, "out");
      const summary = await buildDataset(config, { seed: 1, outDir });
      assert.equal(summary.identities_in, 3);
      assert.equal(summary.images_in, 30);
      assert.equal(summary.by_rule.kept_opened_noised, 3);
      assert.equal(summary.images_out, 120);
      assert.deepEqual(await readJson(join(outDir, "labels.json")), [
        "att_s1",
        "att_s2",
        "att_s3",
      ]);
    });
  },
});
