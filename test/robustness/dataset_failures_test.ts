/**
 * The dataset build on a full disk: the failed write names its file, no
 * manifest marks the incomplete build as complete, and a rebuild with space
 * again gives the same manifest as a build that never failed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDataset } from "../../src/data/build.ts";
import { InputError } from "../../src/errors.ts";
import { silentReporter } from "../../src/report.ts";
import {
  testDatasetConfig,
  withTempDir,
  writeTestPng,
} from "../data/_helpers.ts";

/** The message Deno gives for ENOSPC. */
const DISK_FULL = "No space left on device (os error 28)";

async function writeSource(root: string): Promise<void> {
  let seed = 0;
  for (const [name, count] of [["a", 8], ["b", 4], ["c", 2]] as const) {
    await Deno.mkdir(join(root, name), { recursive: true });
    for (let k = 1; k <= count; k++) {
      await writeTestPng(join(root, name, `${k}.png`), seed++, 20);
    }
  }
}

async function build(root: string, outDir: string) {
  return await buildDataset(
    testDatasetConfig({
      roots: [{ path: root, prefix: "", identities: null }],
    }),
    { seed: 7, outDir, reporter: silentReporter },
  );
}

/** Lists every file under `dir`, relative to it. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const name = join(prefix, entry.name);
    if (entry.isDirectory) names.push(...await listFiles(dir, name));
    else names.push(name);
  }
  return names.sort();
}

// Identities are written to staging/ before the finish moves them to images/.
for (const failing of ["staging/", "manifest.jsonl"]) {
  Deno.test(`buildDataset on a full disk at ${failing} leaves no manifest`, async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, "source");
      await writeSource(root);
      await build(root, join(dir, "straight"));

      const outDir = join(dir, "full");
      const realWriteFile = Deno.writeFile;
      // Half the bytes reach the disk, then the write fails, as on a disk
      // that fills up mid-write.
      Deno.writeFile = async (path, data, options) => {
        if (!String(path).includes(failing)) {
          return await realWriteFile(path, data, options);
        }
        const bytes = data as Uint8Array;
        await realWriteFile(path, bytes.subarray(0, bytes.length >> 1));
        throw new Error(DISK_FULL);
      };
      try {
        await assert.rejects(build(root, outDir), (error: Error) => {
          assert.ok(error instanceof InputError);
          assert.ok(
            error.message.startsWith(`Cannot write file "${outDir}/`),
            error.message,
          );
          assert.ok(error.message.includes(failing), error.message);
          assert.ok(error.message.endsWith(`": ${DISK_FULL}`), error.message);
          return true;
        });
      } finally {
        Deno.writeFile = realWriteFile;
      }
      const left = await listFiles(outDir);
      assert.ok(!left.includes("manifest.jsonl"), "a manifest was written");
      assert.deepEqual(left.filter((name) => name.includes(".tmp-")), []);

      await build(root, outDir);
      assert.deepEqual(
        await Deno.readFile(join(outDir, "manifest.jsonl")),
        await Deno.readFile(join(dir, "straight/manifest.jsonl")),
      );
    });
  });
}
