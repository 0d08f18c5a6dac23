import assert from "node:assert/strict";
import { join } from "node:path";
import type { RootConfig } from "../../../src/config/types.ts";
import { DatasetError } from "../../../src/data/dataset_error.ts";
import {
  listSources,
  readImageBytes,
  refLabel,
  rootInputPaths,
} from "../../../src/data/sources/list.ts";
import { HAS_SHARED_DATA, SHARED_DATA, withTempDir } from "../_helpers.ts";

const EXTENSIONS = ["jpg", "png", "pgm"];

/** Writes each file with its own path as content. */
async function write(root: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    const full = join(root, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeTextFile(full, path);
  }
}

function folderRoot(path: string, prefix = ""): RootConfig {
  return { path, format: "folders", prefix, identities: null };
}

Deno.test("listSources lists a folders root", async () => {
  await withTempDir(async (dir) => {
    await write(dir, [
      "bob/10.pgm",
      "bob/2.pgm",
      "bob/notes",
      "alice/a.JPG",
      "empty/list.csv",
    ]);
    const listing = await listSources([folderRoot(dir, "p_")], EXTENSIONS);
    assert.deepEqual(listing.identities.map((identity) => identity.name), [
      "p_alice",
      "p_bob",
      "p_empty",
    ]);
    assert.deepEqual(listing.identities[1].imageNames, ["2.pgm", "10.pgm"]);
    assert.deepEqual(listing.identities[2].images, []);
    assert.equal(listing.imageCount, 3);
    assert.deepEqual(listing.skipped, [
      {
        path: join(dir, "bob/notes"),
        reason:
          "not an image: no file extension, expected one of dataset.extensions (jpg, png, pgm)",
      },
      {
        path: join(dir, "empty/list.csv"),
        reason:
          'not an image: extension ".csv" is not one of dataset.extensions (jpg, png, pgm)',
      },
    ]);
  });
});

Deno.test("listSources reads a root without format as folders", async () => {
  await withTempDir(async (dir) => {
    await write(dir, ["a/1.jpg"]);
    const listing = await listSources(
      [{ path: dir, prefix: "", identities: null }],
      EXTENSIONS,
    );
    assert.deepEqual(listing.identities.map((identity) => identity.name), [
      "a",
    ]);
  });
});

Deno.test("listSources keeps the scan messages of folders", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nowhere");
    await assert.rejects(
      listSources([folderRoot(dir), folderRoot(path)], EXTENSIONS),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.match(error.message, /has no identity sub-folders/);
        return true;
      },
    );
    await write(dir, ["a/1.jpg"]);
    await assert.rejects(
      listSources([folderRoot(dir), folderRoot(path)], EXTENSIONS),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(
          error.message,
          `Cannot scan dataset: folder "${path}" not found: set dataset.roots[1].path, or use --profile smoke for the embedded data`,
        );
        return true;
      },
    );
  });
});

Deno.test("readImageBytes returns a file's bytes", async () => {
  await withTempDir(async (dir) => {
    await write(dir, ["a/1.jpg"]);
    const listing = await listSources([folderRoot(dir)], EXTENSIONS);
    const ref = listing.identities[0].images[0];
    assert.equal(refLabel(ref), join(dir, "a/1.jpg"));
    assert.equal(
      new TextDecoder().decode(await readImageBytes(ref)),
      "a/1.jpg",
    );
    await Deno.remove(join(dir, "a/1.jpg"));
    await assert.rejects(readImageBytes(ref), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.path, join(dir, "a/1.jpg"));
      assert.match(error.message, /^Cannot read image ".*a\/1\.jpg": /);
      return true;
    });
  });
});

Deno.test("rootInputPaths names what each format reads", () => {
  assert.deepEqual(rootInputPaths(folderRoot("data/att")), ["data/att"]);
  assert.deepEqual(
    rootInputPaths({
      path: "data/tp",
      format: "trillion_pairs",
      prefix: "",
      identities: null,
    }),
    ["data/tp/train_celebrity/celebrity", "data/tp/train_msra/msra"],
  );
  assert.deepEqual(
    rootInputPaths({
      path: "data/ms1m/train.rec",
      format: "recordio",
      prefix: "",
      identities: null,
    }),
    ["data/ms1m/train.rec", "data/ms1m/train.idx"],
  );
});

Deno.test({
  name: "listSources lists the AT&T faces",
  ignore: !HAS_SHARED_DATA,
  fn: async () => {
    const root = join(SHARED_DATA, "att_faces");
    const listing = await listSources([folderRoot(root, "att_")], ["pgm"]);
    assert.equal(listing.identities.length, 40);
    assert.equal(listing.imageCount, 400);
    assert.deepEqual(listing.skipped, []);
    // code-point order: s1, s10, ..., s19, s2, s20, ...
    assert.deepEqual(
      listing.identities.slice(0, 3).map((identity) => identity.name),
      ["att_s1", "att_s10", "att_s11"],
    );
    const first = listing.identities[0];
    assert.deepEqual(first.imageNames, [
      "1.pgm",
      "2.pgm",
      "3.pgm",
      "4.pgm",
      "5.pgm",
      "6.pgm",
      "7.pgm",
      "8.pgm",
      "9.pgm",
      "10.pgm",
    ]);
    const bytes = await readImageBytes(first.images[0]);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 2)), "P5");
  },
});
