/**
 * A training set built from an insightface RecordIO file: every image is read
 * from its record, and the result matches a build of the same images from
 * identity folders, apart from the names that record sources give.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildDataset } from "../../../src/data/build.ts";
import { encodePng } from "../../../src/data/image.ts";
import { makeImage, testDatasetConfig, withTempDir } from "../_helpers.ts";
import {
  headerPayload,
  packPayload,
  writeRecordIo,
} from "./_recordio_writer.ts";

/** Images per identity; with the test thresholds they take every rule. */
const COUNTS = [8, 6, 4, 2, 1];

async function imageBytes(seed: number): Promise<Uint8Array> {
  return await encodePng(
    makeImage(20, 20, (y, x, c) => (seed * 37 + y * 11 + x * 5 + c * 60) % 256),
  );
}

Deno.test("a RecordIO source builds the same images as identity folders", async () => {
  await withTempDir(async (dir) => {
    const records = [];
    const folders = join(dir, "folders");
    let key = 1;
    for (const [label, count] of COUNTS.entries()) {
      // Record identities are named by the label as 8 digits.
      const folder = join(folders, String(label).padStart(8, "0"));
      await Deno.mkdir(folder, { recursive: true });
      for (let i = 0; i < count; i++) {
        const bytes = await imageBytes(key);
        // Folder files are named as record images are: "<key>.rec".
        await Deno.writeFile(join(folder, `${key}.rec`), bytes);
        records.push({ key, payload: packPayload(label, bytes) });
        key++;
      }
    }
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: headerPayload(key, key) },
      ...records,
    ]);

    const fromRecords = await buildDataset(
      testDatasetConfig({
        roots: [{
          path: rec,
          prefix: "",
          identities: null,
          format: "recordio",
        }],
      }),
      { seed: 3, outDir: join(dir, "out_rec") },
    );
    const fromFolders = await buildDataset(
      testDatasetConfig({
        roots: [{ path: folders, prefix: "", identities: null }],
        extensions: ["rec"],
      }),
      { seed: 3, outDir: join(dir, "out_folders") },
    );

    assert.equal(fromRecords.images_in, COUNTS.reduce((a, b) => a + b, 0));
    assert.deepEqual(fromRecords.by_rule, fromFolders.by_rule);
    assert.equal(fromRecords.images_out, fromFolders.images_out);
    const labels = (name: string) =>
      Deno.readTextFile(join(dir, name, "labels.json")).then(JSON.parse);
    assert.deepEqual(await labels("out_rec"), await labels("out_folders"));
    // The same pixels in the packed shards, since only the image sources differ.
    const shard = (name: string) =>
      Deno.readFile(join(dir, name, "shards", "00000.bin"));
    assert.deepEqual(await shard("out_rec"), await shard("out_folders"));
  });
});
