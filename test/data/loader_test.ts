import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { buildDataset } from "../../src/data/build.ts";
import {
  openTrainingSet,
  PackedImages,
  PackedLoader,
} from "../../src/data/loader.ts";
import { loadTrainingSet } from "../../src/data/manifest.ts";
import { BatchSampler } from "../../src/train/batches.ts";
import { testDatasetConfig, withTempDir, writeTestPng } from "./_helpers.ts";

tf.env().set("IS_TEST", true);
await tf.setBackend("cpu");

/** Builds 3 identities (22 images of 16x16) into `dir`/out, in 3 shards. */
async function buildSmallSet(dir: string): Promise<string> {
  const root = join(dir, "source");
  let seed = 0;
  for (const [name, count] of [["a", 6], ["b", 4], ["c", 2]] as const) {
    for (let k = 1; k <= count; k++) {
      await writeTestPng(join(root, name, `${k}.png`), seed++, 20);
    }
  }
  const outDir = join(dir, "out");
  await buildDataset(
    testDatasetConfig({
      roots: [{ path: root, prefix: "", identities: null }],
      // About ten 16x16 PNGs per shard.
      shard_bytes: 4096,
    }),
    { seed: 3, outDir },
  );
  return outDir;
}

Deno.test("PackedLoader batches equal in-memory batches", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const memory = await loadTrainingSet(outDir, 16);
    const packed = await PackedImages.open(outDir, 16);
    assert.ok(packed.index.shards.length > 1, "expected several shards");
    assert.deepEqual(packed.labels, memory.labels);
    const loader = await PackedLoader.start(packed, {
      workers: 2,
      prefetchBatches: 3,
    });
    try {
      const base = {
        labels: memory.labels,
        count: memory.labels.length,
        size: 16,
        numClasses: memory.numClasses,
      };
      const inMemory = new BatchSampler({ ...base, images: memory.images }, 9);
      const streamed = new BatchSampler({ ...base, images: loader }, 9);
      // 10 micro-batches of 7 cross three epochs of 22 images.
      for (let step = 0; step < 10; step++) {
        const a = await inMemory.next(7, `flip/${step}`);
        const b = await streamed.next(7, `flip/${step}`);
        assert.deepEqual(await b.images.data(), await a.images.data());
        assert.deepEqual(await b.labels.data(), await a.labels.data());
        tf.dispose([a.images, a.labels, b.images, b.labels]);
        assert.deepEqual(streamed.position, inMemory.position);
      }
    } finally {
      loader.close();
    }
  });
});

Deno.test("PackedLoader rejects an altered record", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const packed = await PackedImages.open(outDir, 16);
    // Flip one byte inside the first image's record, keeping the size.
    const shard = join(outDir, "shards", packed.index.shards[0].file);
    const bytes = await Deno.readFile(shard);
    bytes[40] ^= 0xff;
    await Deno.writeFile(shard, bytes);
    const loader = await PackedLoader.start(packed, {
      workers: 1,
      prefetchBatches: 1,
    });
    try {
      await assert.rejects(loader.read([0]), (error: Error) => {
        assert.match(
          error.message,
          /^Cannot load image 0 of the packed shards: its SHA-256 is [0-9a-f]{64}, the index has [0-9a-f]{64}: rebuild the dataset$/,
        );
        return true;
      });
    } finally {
      loader.close();
    }
  });
});

Deno.test("PackedImages.open rejects a truncated shard", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const shard = join(outDir, "shards", "00000.bin");
    const bytes = await Deno.readFile(shard);
    await Deno.writeFile(shard, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(PackedImages.open(outDir, 16), (error: Error) => {
      assert.ok(
        error.message.startsWith(
          `Cannot open packed shards "${outDir}/shards": 00000.bin has ${
            bytes.length - 1
          } bytes, the index records ${bytes.length}: rebuild the dataset`,
        ),
        error.message,
      );
      return true;
    });
  });
});

Deno.test("PackedImages.open rejects another image size", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    await assert.rejects(
      PackedImages.open(outDir, 32),
      /images are 16x16, expected 32x32: rebuild the dataset/,
    );
  });
});

Deno.test("openTrainingSet streams sets above the memory limit", async () => {
  await withTempDir(async (dir) => {
    const outDir = await buildSmallSet(dir);
    const loader = { workers: 1, prefetch_batches: 2 };
    const small = await openTrainingSet(outDir, 16, {
      ...loader,
      in_memory_max_bytes: 22 * 16 * 16 * 3,
    });
    small.close();
    assert.equal(small.streamed, false);
    assert.ok(small.data.images instanceof Uint8Array);

    const large = await openTrainingSet(outDir, 16, {
      ...loader,
      in_memory_max_bytes: 22 * 16 * 16 * 3 - 1,
    });
    try {
      assert.equal(large.streamed, true);
      assert.equal(large.data.count, 22);
      assert.equal(large.data.numClasses, 3);
      assert.deepEqual(large.identities, ["a", "b", "c"]);
    } finally {
      large.close();
    }
  });
});
