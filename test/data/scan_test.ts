import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError } from "../../src/data/dataset_error.ts";
import { naturalCompare, scanRoots } from "../../src/data/scan.ts";
import { withTempDir } from "./_helpers.ts";

const EXTENSIONS = ["jpg", "png", "pgm"];

/** Creates empty files (content does not matter to the scan). */
async function touch(root: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    const full = join(root, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeFile(full, new Uint8Array(0));
  }
}

function root(path: string, prefix = "", identities: string[] | null = null) {
  return { path, prefix, identities };
}

Deno.test("naturalCompare orders numbers by value", () => {
  const names = ["10.pgm", "2.pgm", "1.pgm", "a10", "a9", "a09b", "b"];
  assert.deepEqual(names.sort(naturalCompare), [
    "1.pgm",
    "2.pgm",
    "10.pgm",
    "a9",
    "a09b",
    "a10",
    "b",
  ]);
});

Deno.test("naturalCompare breaks ties by code point", () => {
  assert.ok(naturalCompare("01.jpg", "1.jpg") < 0);
  assert.ok(naturalCompare("1.jpg", "01.jpg") > 0);
  assert.equal(naturalCompare("x1", "x1"), 0);
});

Deno.test("scanRoots lists identities and images", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, [
      "bob/10.pgm",
      "bob/2.pgm",
      "bob/1.PGM",
      "bob/notes.txt",
      "bob/.hidden.pgm",
      "alice/a.jpg",
      ".trash/x.jpg",
    ]);
    const scan = await scanRoots([root(dir, "p_")], EXTENSIONS);
    assert.deepEqual(scan.identities.map((id) => id.name), [
      "p_alice",
      "p_bob",
    ]);
    assert.deepEqual(scan.identities[1].images, [
      join(dir, "bob/1.PGM"),
      join(dir, "bob/2.pgm"),
      join(dir, "bob/10.pgm"),
    ]);
    assert.equal(scan.identities[1].folder, join(dir, "bob"));
    assert.equal(scan.identities[1].root, 0);
    assert.equal(scan.imageCount, 4);
  });
});

Deno.test("scanRoots accepts extensions with a dot", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["a/1.JPG", "a/2.png"]);
    const scan = await scanRoots([root(dir)], [".jpg"]);
    assert.deepEqual(scan.identities[0].images, [join(dir, "a/1.JPG")]);
  });
});

Deno.test("scanRoots lists empty identities", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["full/1.jpg", "empty/readme.txt"]);
    const scan = await scanRoots([root(dir)], EXTENSIONS);
    assert.deepEqual(scan.identities.map((id) => id.name), ["empty", "full"]);
    assert.deepEqual(scan.identities[0].images, []);
  });
});

Deno.test("scanRoots sorts identities across roots", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["one/b/1.jpg", "two/a/1.jpg", "two/c/1.jpg"]);
    const scan = await scanRoots(
      [root(join(dir, "one")), root(join(dir, "two"))],
      EXTENSIONS,
    );
    assert.deepEqual(scan.identities.map((id) => id.name), ["a", "b", "c"]);
    assert.deepEqual(scan.identities.map((id) => id.root), [1, 0, 1]);
  });
});

Deno.test("scanRoots applies the identity filter", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["s1/1.pgm", "s2/1.pgm", "s3/1.pgm"]);
    const scan = await scanRoots([root(dir, "", ["s3", "s1"])], EXTENSIONS);
    assert.deepEqual(scan.identities.map((id) => id.name), ["s1", "s3"]);
  });
});

Deno.test("scanRoots follows symbolic links", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["real/a/1.jpg"]);
    await Deno.mkdir(join(dir, "root"));
    await Deno.symlink(join(dir, "real/a"), join(dir, "root/a"));
    await Deno.symlink(join(dir, "missing"), join(dir, "root/dangling"));
    const scan = await scanRoots([root(join(dir, "root"))], EXTENSIONS);
    assert.deepEqual(scan.identities.map((id) => id.name), ["a"]);
    assert.equal(scan.imageCount, 1);
  });
});

Deno.test("scanRoots rejects a missing root", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nowhere");
    await assert.rejects(scanRoots([root(path)], EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.path, path);
      assert.equal(
        error.message,
        `Cannot scan dataset: folder "${path}" not found: set dataset.roots[0].path, or use --profile smoke for the embedded data`,
      );
      return true;
    });
  });
});

Deno.test("scanRoots rejects a root that is a file", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["faces.zip"]);
    const path = join(dir, "faces.zip");
    const second = [root(dir), root(path)];
    await touch(dir, ["a/1.jpg"]);
    await assert.rejects(scanRoots(second, EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `Cannot scan dataset: "${path}" is a file, not a folder: set dataset.roots[1].path to a folder of identity sub-folders`,
      );
      return true;
    });
  });
});

Deno.test("scanRoots rejects a root without identity folders", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["1.jpg", "2.jpg"]);
    await assert.rejects(scanRoots([root(dir)], EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `Cannot scan dataset: folder "${dir}" has no identity sub-folders: expected images at ${dir}/<identity>/<image>`,
      );
      return true;
    });
  });
});

Deno.test("scanRoots rejects a duplicate identity across roots", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["one/sam/1.jpg", "two/sam/1.jpg"]);
    const one = join(dir, "one");
    const two = join(dir, "two");
    await assert.rejects(
      scanRoots([root(one, "x_"), root(two, "x_")], EXTENSIONS),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(
          error.message,
          `Cannot scan dataset: identity "x_sam" is in both "${one}" and "${two}": give dataset.roots[0] and dataset.roots[1] different prefixes`,
        );
        return true;
      },
    );
    // Different prefixes keep them apart.
    const scan = await scanRoots(
      [root(one, "a_"), root(two, "b_")],
      EXTENSIONS,
    );
    assert.deepEqual(scan.identities.map((id) => id.name), ["a_sam", "b_sam"]);
  });
});

Deno.test("scanRoots rejects a listed identity that is missing", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["s1/1.pgm"]);
    await assert.rejects(
      scanRoots([root(dir, "", ["s1", "s9"])], EXTENSIONS),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(
          error.message,
          `Cannot scan dataset: identity folder "${
            join(dir, "s9")
          }" not found: remove "s9" from dataset.roots[0].identities`,
        );
        return true;
      },
    );
  });
});

Deno.test("scanRoots rejects an empty root", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(scanRoots([root(dir)], EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `Cannot scan dataset: folder "${dir}" has no identity sub-folders: expected images at ${dir}/<identity>/<image>`,
      );
      return true;
    });
  });
});

Deno.test("scanRoots rejects a symbolic link loop", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["root/a/1.jpg"]);
    const loop = join(dir, "root/loop");
    await Deno.symlink(loop, loop);
    await assert.rejects(
      scanRoots([root(join(dir, "root"))], EXTENSIONS),
      (error) => {
        assert.ok(error instanceof DatasetError);
        assert.equal(error.path, loop);
        assert.equal(
          error.message,
          `Cannot scan dataset: symbolic link "${loop}" loops (too many levels of symbolic links): remove it, or point it at a folder or an image`,
        );
        return true;
      },
    );
  });
});

Deno.test("scanRoots rejects a root that is a link loop", async () => {
  await withTempDir(async (dir) => {
    const loop = join(dir, "root");
    await Deno.symlink(loop, loop);
    await assert.rejects(scanRoots([root(loop)], EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.match(error.message, /symbolic link ".*\/root" loops/);
      return true;
    });
  });
});

Deno.test("scanRoots lists an identity linked to its root once", async () => {
  await withTempDir(async (dir) => {
    // A link back up the tree is no loop at the two levels scanned.
    await touch(dir, ["root/a/1.jpg"]);
    await Deno.symlink(join(dir, "root"), join(dir, "root/up"));
    const scan = await scanRoots([root(join(dir, "root"))], EXTENSIONS);
    assert.deepEqual(scan.identities.map((id) => id.name), ["a", "up"]);
    assert.deepEqual(scan.identities[1].images, []);
  });
});

/** Whether chmod denies this process reads; it does not for root. */
const CHMOD_DENIES_READS = Deno.uid() !== 0;

Deno.test({
  name: "scanRoots rejects an unreadable identity folder",
  ignore: !CHMOD_DENIES_READS,
  fn: async () => {
    await withTempDir(async (dir) => {
      await touch(dir, ["a/1.jpg", "b/1.jpg"]);
      const locked = join(dir, "b");
      await Deno.chmod(locked, 0o000);
      try {
        await assert.rejects(scanRoots([root(dir)], EXTENSIONS), (error) => {
          assert.ok(error instanceof DatasetError);
          assert.equal(
            error.message,
            `Cannot scan dataset: folder "${locked}" cannot be listed (permission denied): give the user running the task read and execute rights on it (chmod a+rx), or remove it`,
          );
          return true;
        });
      } finally {
        await Deno.chmod(locked, 0o755);
      }
    });
  },
});

if (!CHMOD_DENIES_READS) {
  console.warn(
    "Skipping the unreadable-folder test: running as root, so chmod 000 does not deny reads",
  );
}

Deno.test("scanRoots rejects a root of another format", async () => {
  await withTempDir(async (dir) => {
    await touch(dir, ["train_msra/msra/a/1.jpg"]);
    const roots = [{ ...root(dir), format: "trillion_pairs" as const }];
    await assert.rejects(scanRoots(roots, EXTENSIONS), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `Cannot scan dataset: dataset.roots[0] has format "trillion_pairs", which scanRoots does not read: list it with listSources (src/data/sources/list.ts)`,
      );
      return true;
    });
  });
});
