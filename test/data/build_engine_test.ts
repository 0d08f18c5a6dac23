/**
 * The streaming build gives the same bytes for any worker count and for a
 * sharded build merged afterwards. Every kind of bad source is counted and
 * listed without stopping the build.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDataset, buildDatasetPart } from "../../src/data/build.ts";
import { parseShard, shardOf } from "../../src/data/build_plan.ts";
import { mergeDatasetParts } from "../../src/data/merge.ts";
import { DatasetError } from "../../src/data/dataset_error.ts";
import { BuildWorkerError } from "../../src/data/build_pool.ts";
import { createReporter } from "../../src/report.ts";
import { testDatasetConfig, withTempDir, writeTestPng } from "./_helpers.ts";

/** 12 identities covering every rule of the test thresholds. */
async function writeSource(root: string): Promise<void> {
  const counts = [8, 6, 4, 2, 1, 0, 7, 5, 3, 2, 9, 4];
  let seed = 0;
  for (const [k, count] of counts.entries()) {
    const folder = join(root, `person_${String(k).padStart(2, "0")}`);
    await Deno.mkdir(folder, { recursive: true });
    for (let i = 1; i <= count; i++) {
      await writeTestPng(join(folder, `${i}.png`), seed++, 20);
    }
  }
}

function configFor(root: string) {
  return testDatasetConfig({
    roots: [{ path: root, prefix: "", identities: null }],
    shard_bytes: 8192,
  });
}

/** Reads the files whose bytes must match between two builds. */
async function outputs(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (
    const name of [
      "manifest.jsonl",
      "labels.json",
      "summary.json",
      "shards/index.json",
      "shards/index.bin",
    ]
  ) {
    files[name] = await Deno.readFile(join(dir, name));
  }
  return files;
}

Deno.test("buildDataset gives one set for 1, 2 and 3 workers", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const built: Record<string, Uint8Array>[] = [];
    for (const workers of [1, 2, 3]) {
      const outDir = join(dir, `out${workers}`);
      await buildDataset(configFor(root), { seed: 4, outDir, workers });
      built.push(await outputs(outDir));
    }
    assert.deepEqual(built[1], built[0]);
    assert.deepEqual(built[2], built[0]);
  });
});

Deno.test("dataset parts merge into the single build", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const single = join(dir, "single");
    await buildDataset(configFor(root), { seed: 4, outDir: single });

    const parts: string[] = [];
    for (const index of [3, 1, 2]) {
      const outDir = join(dir, `part${index}`);
      await buildDatasetPart(configFor(root), {
        seed: 4,
        outDir,
        workers: 1,
        shard: { index, count: 3 },
      });
      parts.push(outDir);
    }
    // Every identity a rule keeps is built by exactly one part.
    const staged = await Promise.all(parts.map(async (part) => {
      const names: string[] = [];
      for await (const entry of Deno.readDir(join(part, "journal"))) {
        names.push(entry.name);
      }
      return names;
    }));
    const all = staged.flat().sort();
    assert.equal(all.length, new Set(all).size);
    assert.equal(all.length, 10);

    const merged = join(dir, "merged");
    await mergeDatasetParts(parts, merged);
    assert.deepEqual(await outputs(merged), await outputs(single));
    for (
      const line of (await Deno.readTextFile(join(merged, "manifest.jsonl")))
        .trim().split("\n")
    ) {
      const entry = JSON.parse(line);
      assert.deepEqual(
        await Deno.readFile(join(merged, entry.path)),
        await Deno.readFile(join(single, entry.path)),
      );
    }
  });
});

Deno.test("mergeDatasetParts rejects a missing or repeated part", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const part = async (index: number, seed = 4) => {
      const outDir = join(dir, `part${index}-${seed}`);
      await buildDatasetPart(configFor(root), {
        seed,
        outDir,
        workers: 1,
        shard: { index, count: 2 },
      });
      return outDir;
    };
    const first = await part(1);
    await assert.rejects(
      mergeDatasetParts([first], join(dir, "merged")),
      (error: Error) => {
        assert.ok(error instanceof DatasetError);
        assert.match(
          error.message,
          /^Cannot merge dataset parts: part 2\/2 missing: build it with `deno task dataset --shard i\/2` and pass its folder$/,
        );
        return true;
      },
    );
    await assert.rejects(
      mergeDatasetParts([first, first], join(dir, "merged")),
      /are both part 1\/2: pass each part once/,
    );
    const otherSeed = await part(2, 5);
    await assert.rejects(
      mergeDatasetParts([first, otherSeed], join(dir, "merged")),
      /was built from other inputs than .*: build every part with the same config, seed and sources/,
    );
    await assert.rejects(
      mergeDatasetParts([join(dir, "source")], join(dir, "merged")),
      /has no part\.json, so its part is unfinished or it is no part folder/,
    );
  });
});

Deno.test("shardOf hashes the name", () => {
  // Pinned, since a change would move identities between the parts of
  // builds already started. SHA-256("a") begins ca978112, and
  // 0xca978112 % 4 = 2, so "a" is in part 3 of 4.
  const names = ["a", "b", "m.0abc", "att_s1"];
  assert.deepEqual(names.map((name) => shardOf(name, 4)), [3, 3, 1, 2]);
  assert.deepEqual(
    names.map((name) => shardOf(name, 1000)),
    [611, 567, 513, 38],
  );
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < 4000; k++) counts[shardOf(`id_${k}`, 4) - 1]++;
  for (const count of counts) {
    assert.ok(count > 900, `${counts}`);
    assert.ok(count < 1100, `${counts}`);
  }
});

Deno.test("parseShard reads i/n and rejects the rest", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5 });
  for (const text of ["0/3", "4/3", "1", "a/b", "1/0"]) {
    assert.throws(
      () => parseShard(text),
      (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.equal(
          error.message,
          `Invalid shard "${text}": expected i/n with 1 <= i <= n, such as 1/4`,
        );
        return true;
      },
    );
  }
});

/** Returns a JPEG whose entropy-coded data stops half-way. */
async function truncatedJpeg(): Promise<Uint8Array> {
  const { default: sharp } = await import("sharp");
  const jpeg = await sharp({
    create: { width: 40, height: 40, channels: 3, background: "#808080" },
  }).jpeg().toBuffer();
  return new Uint8Array(jpeg.subarray(0, jpeg.length >> 1));
}

Deno.test("buildDataset counts and lists each bad source", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    // Three bad files beside the 6 images of person_01.
    const bad: Record<string, Uint8Array> = {
      "zero.png": new Uint8Array(),
      "text.jpg": new TextEncoder().encode("not an image\n"),
      "cut.jpg": await truncatedJpeg(),
    };
    for (const [name, bytes] of Object.entries(bad)) {
      await Deno.writeFile(join(root, "person_01", name), bytes);
    }
    // An identity whose only images are broken: n = 3, kept_opened.
    await Deno.mkdir(join(root, "person_99"));
    for (const name of ["1.png", "2.jpg", "3.png"]) {
      await Deno.writeFile(join(root, "person_99", name), new Uint8Array(7));
    }
    const records: Record<string, unknown>[] = [];
    const summary = await buildDataset(
      testDatasetConfig({
        roots: [{ path: root, prefix: "", identities: null }],
        // person_01 keeps all 9 files (5 < 9 <= 10).
        rules: {
          sample_above: 10,
          keep_above: 5,
          opened_above: 2,
          noised_above: 1,
        },
      }),
      {
        seed: 1,
        outDir: join(dir, "out"),
        workers: 2,
        reporter: createReporter({
          writer: { writeLine() {} },
          onRecord: (record) => records.push(record),
        }),
      },
    );
    const listed = new Map(summary.unreadable.map((u) => [u.path, u.error]));
    for (const name of Object.keys(bad)) {
      const path = join(root, "person_01", name);
      assert.ok(listed.has(path), `${path} not listed`);
      assert.ok(
        listed.get(path)!.startsWith(`Cannot decode image "${path}": `),
        listed.get(path),
      );
    }
    assert.equal(summary.unreadable.length, 6);
    assert.deepEqual(summary.unreadable_identities, ["person_99"]);
    assert.equal(
      records.filter((r) => r.event === "dataset_unreadable").length,
      6,
    );
    const labels = JSON.parse(
      await Deno.readTextFile(join(dir, "out", "labels.json")),
    );
    assert.ok(!labels.includes("person_99"));
    assert.ok(labels.includes("person_01"));
  });
});

Deno.test("buildDataset stops cleanly when workers cannot start", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "source");
    await writeSource(root);
    const outDir = join(dir, "out");
    await assert.rejects(
      buildDataset(configFor(root), {
        seed: 1,
        outDir,
        detection: {
          assetsDir: join(dir, "no-assets"),
          mtcnn: {
            min_face_size: 20,
            scale_factor: 0.709,
            thresholds: [0.6, 0.7, 0.7],
            nms_level: 0.5,
            nms_pyramid: 0.7,
            nms_rnet: 0.7,
            nms_onet_min: 0.7,
            batch_size: 16,
            border: 0,
          },
        },
      }),
      (error: Error) => {
        assert.ok(error instanceof BuildWorkerError);
        assert.match(
          error.message,
          /^Cannot start dataset build worker: The pretrained weights are not in place: /,
        );
        return true;
      },
    );
    await assert.rejects(
      Deno.stat(join(outDir, "manifest.jsonl")),
      Deno.errors.NotFound,
    );
  });
});
