/**
 * Every file the repository writes goes through src/fs.ts, which writes a
 * temporary name and renames it. The source is searched for the calls that
 * write a file directly; each known exception is listed with its reason.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROOT } from "./_process.ts";

/** Calls that create or write a file without the rename. */
const DIRECT_WRITE =
  /Deno\.(writeFile|writeTextFile|writeFileSync|writeTextFileSync|create|createSync|open|openSync|truncate)\(|\.toFile\(|createWriteStream\(/g;

/** Direct writes that are allowed, by file, with the reason. */
const EXCEPTIONS: Record<string, { count: number; reason: string }> = {
  "src/fs.ts": {
    count: 2,
    reason:
      "the atomic writer's own temporary file, and the empty lock file of withFileLock",
  },
  "src/pipeline/train_stage.ts": {
    count: 1,
    reason:
      "train.jsonl is appended one whole line at a time, so a killed run keeps every complete record",
  },
  "src/data/build_finalize.ts": {
    count: 1,
    reason:
      "manifest.jsonl is appended in chunks under a temporary name, then renamed, since a large manifest does not fit in one string",
  },
  "src/data/pack.ts": {
    count: 2,
    reason:
      "each shard is streamed to a temporary name and renamed; the other call opens the manifest for reading",
  },
  "src/data/loader_worker.ts": {
    count: 1,
    reason: "opens a shard for reading",
  },
  "src/data/sources/recordio_index.ts": {
    count: 1,
    reason: "opens a .idx file for reading, streamed line by line",
  },
  "src/data/sources/recordio_record.ts": {
    count: 1,
    reason: "opens a .rec file for reading, one record at a time",
  },
};

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

Deno.test("source writes files only through src/fs.ts", async () => {
  const found: Record<string, number> = {};
  for (const folder of ["src", "tasks"]) {
    for (const path of await sourceFiles(join(ROOT, folder))) {
      const text = await Deno.readTextFile(path);
      const count = text.match(DIRECT_WRITE)?.length ?? 0;
      if (count > 0) found[relative(ROOT, path)] = count;
    }
  }
  const allowed = Object.fromEntries(
    Object.entries(EXCEPTIONS).map(([path, { count }]) => [path, count]),
  );
  assert.deepEqual(found, allowed);
});
