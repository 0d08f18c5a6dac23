import assert from "node:assert/strict";
import { join } from "node:path";
import type { RootConfig } from "../../../src/config/types.ts";
import { DatasetError } from "../../../src/data/dataset_error.ts";
import { listSources } from "../../../src/data/sources/list.ts";
import { withTempDir } from "../_helpers.ts";

const EXTENSIONS = ["jpg"];

/** Creates empty files (content does not matter to the listing). */
async function touch(root: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    const full = join(root, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeFile(full, new Uint8Array(0));
  }
}

function trillionRoot(
  path: string,
  prefix = "",
  identities: string[] | null = null,
): RootConfig {
  return { path, format: "trillion_pairs", prefix, identities };
}

/** Both parts, with id "m.01" in each. */
const DOWNLOAD = [
  "train_celebrity/celebrity/m.01/10.jpg",
  "train_celebrity/celebrity/m.01/2.jpg",
  "train_celebrity/celebrity/Zed/1.jpg",
  "train_msra/msra/m.01/1.jpg",
  "train_msra/msra/m.0a/1.jpg",
  "train_msra/msra/m.0a/readme.txt",
];

Deno.test("listTrillionPairs names identities by part", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, DOWNLOAD);
    const listing = await listSources([trillionRoot(dir, "tp_")], EXTENSIONS);
    assert.deepEqual(listing.identities.map((identity) => identity.name), [
      "tp_celebrity_Zed",
      "tp_celebrity_m.01",
      "tp_msra_m.01",
      "tp_msra_m.0a",
    ]);
    const first = listing.identities[1];
    assert.deepEqual(first.imageNames, ["2.jpg", "10.jpg"]);
    assert.deepEqual(first.images[0], {
      kind: "file",
      path: join(dir, "train_celebrity/celebrity/m.01/2.jpg"),
    });
    assert.equal(listing.imageCount, 5);
    assert.deepEqual(listing.skipped, [{
      path: join(dir, "train_msra/msra/m.0a/readme.txt"),
      reason:
        'not an image: extension ".txt" is not one of dataset.extensions (jpg)',
    }]);
  });
});

Deno.test("listTrillionPairs keeps the two-root names", async () => {
  // The parts as two folders roots prefixed celebrity_ and msra_ give the
  // same identities as one trillion_pairs root.
  await withTempDir(async (dir) => {
    await touch(dir, DOWNLOAD);
    const single = await listSources([trillionRoot(dir)], EXTENSIONS);
    const pair = await listSources([
      {
        path: join(dir, "train_celebrity/celebrity"),
        prefix: "celebrity_",
        identities: null,
      },
      {
        path: join(dir, "train_msra/msra"),
        format: "folders",
        prefix: "msra_",
        identities: null,
      },
    ], EXTENSIONS);
    assert.deepEqual(single.identities, pair.identities);
  });
});

Deno.test("listTrillionPairs applies the identity filter", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, DOWNLOAD);
    const listing = await listSources(
      [trillionRoot(dir, "", ["msra_m.01", "celebrity_Zed"])],
      EXTENSIONS,
    );
    assert.deepEqual(
      listing.identities.map((identity) => identity.name),
      ["celebrity_Zed", "msra_m.01"],
    );
  });
});

/** Asserts that `promise` rejects with a DatasetError with this message. */
async function rejectsWith(
  promise: Promise<unknown>,
  path: string,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof DatasetError);
    assert.equal(error.message, message);
    assert.equal(error.path, path);
    return true;
  });
}

Deno.test("listTrillionPairs rejects a missing part", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["train_celebrity/celebrity/a/1.jpg"]);
    const msra = join(dir, "train_msra/msra");
    await rejectsWith(
      listSources([trillionRoot(dir)], EXTENSIONS),
      msra,
      `Cannot scan dataset: Trillion Pairs part "msra" not found: expected folder "${msra}" (dataset.roots[0] has format trillion_pairs): unpack that part there, or read the celebrity part alone as a folders root at "${
        join(dir, "train_celebrity/celebrity")
      }" with prefix "celebrity_"`,
    );
  });
});

Deno.test("listTrillionPairs rejects a part that is a file", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["train_celebrity/celebrity", "train_msra/msra/a/1.jpg"]);
    const celebrity = join(dir, "train_celebrity/celebrity");
    await rejectsWith(
      listSources([trillionRoot(dir)], EXTENSIONS),
      celebrity,
      `Cannot scan dataset: "${celebrity}" is a file, not a folder: expected the Trillion Pairs part "celebrity" there, with one sub-folder per identity`,
    );
  });
});

Deno.test("listTrillionPairs rejects a missing root", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "trillion_pairs");
    await rejectsWith(
      listSources([trillionRoot(root)], EXTENSIONS),
      root,
      `Cannot scan dataset: folder "${root}" not found: set dataset.roots[0].path, or use --profile smoke for the embedded data`,
    );
  });
});

Deno.test("listTrillionPairs rejects filter entries of no part", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, DOWNLOAD);
    await rejectsWith(
      listSources([trillionRoot(dir, "", ["m.01"])], EXTENSIONS),
      dir,
      `Cannot scan dataset: identity "m.01" in dataset.roots[0].identities names no Trillion Pairs part: expected "celebrity_<folder>" or "msra_<folder>"`,
    );
    const missing = join(dir, "train_msra/msra/m.99");
    await rejectsWith(
      listSources([trillionRoot(dir, "", ["msra_m.99"])], EXTENSIONS),
      missing,
      `Cannot scan dataset: identity folder "${missing}" not found: remove "msra_m.99" from dataset.roots[0].identities`,
    );
  });
});

Deno.test("listSources rejects a part name from two roots", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, DOWNLOAD);
    await touch(dir, ["extra/msra_m.0a/1.jpg"]);
    const extra = join(dir, "extra");
    await rejectsWith(
      listSources([
        trillionRoot(dir),
        { path: extra, prefix: "", identities: null },
      ], EXTENSIONS),
      extra,
      `Cannot scan dataset: identity "msra_m.0a" is in both "${dir}" and "${extra}": give dataset.roots[0] and dataset.roots[1] different prefixes`,
    );
  });
});
