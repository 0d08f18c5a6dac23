/**
 * The packed form of a built dataset, which training reads sequentially
 * instead of opening one PNG file per image: `shards/NNNNN.bin` files that
 * hold the PNG bytes of the images back to back in manifest order, and an
 * index.
 *
 * `shards/index.json` contains the format, image size, image and class counts,
 * the manifest's SHA-256 and the list of shard files. `shards/index.bin`
 * contains one 48-byte little-endian record per manifest line: shard number
 * (u32), byte offset in the shard (u32), byte length (u32), label (i32) and
 * the SHA-256 of the PNG bytes (32 bytes).
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../fs.ts";
import type { Reporter } from "../report.ts";
import { parseManifest } from "./manifest.ts";

/** The `format` of `shards/index.json`. */
export const PACK_FORMAT = "packed-png-v1";

/** Bytes of one record of `shards/index.bin`. */
export const RECORD_BYTES = 48;

/** Largest shard the u32 offsets of the index can address. */
export const MAX_SHARD_BYTES = 2 ** 32 - 1;

/** `shards/index.json`. */
export interface PackIndex {
  format: typeof PACK_FORMAT;
  image_size: number;
  images: number;
  classes: number;
  manifest_sha256: string;
  record_bytes: number;
  shards: { file: string; bytes: number; images: number }[];
}

/** Options of {@linkcode packShards}. */
export interface PackOptions {
  imageSize: number;
  /** Lines of the manifest, for the progress bar. */
  images: number;
  /** Shards are closed before they pass this size; an image never spans two. */
  shardBytes: number;
  classes: number;
  manifestSha256: string;
  reporter: Reporter;
}

/** Lines of the manifest read and packed at once. */
const LINES_PER_BATCH = 4096;

/**
 * Writes `shards/` for the images of a manifest, reading each PNG file once.
 * Each shard file and the index are written atomically; the folder is
 * removed first, so an interrupted packing restarts from the beginning.
 *
 * @param dir The dataset folder; manifest paths are relative to it.
 * @param manifestPath The manifest to pack, possibly not yet at its final name.
 * @throws {Error} When an image file cannot be read, naming it.
 */
export async function packShards(
  dir: string,
  manifestPath: string,
  options: PackOptions,
): Promise<PackIndex> {
  const shardsDir = join(dir, "shards");
  await Deno.remove(shardsDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(shardsDir, { recursive: true });

  const index: PackIndex = {
    format: PACK_FORMAT,
    image_size: options.imageSize,
    images: 0,
    classes: options.classes,
    manifest_sha256: options.manifestSha256,
    record_bytes: RECORD_BYTES,
    shards: [],
  };
  const records: Uint8Array[] = [];
  let current: {
    file: Deno.FsFile;
    temp: string;
    bytes: number;
    images: number;
  } | null = null;
  const closeShard = async () => {
    if (current === null) return;
    current.file.close();
    const name = shardName(index.shards.length);
    await Deno.rename(current.temp, join(shardsDir, name));
    index.shards.push({
      file: name,
      bytes: current.bytes,
      images: current.images,
    });
    current = null;
  };

  const bar = options.reporter.progress(
    "dataset shards",
    options.images,
    "images",
  );
  try {
    for await (const lines of manifestBatches(manifestPath)) {
      const entries = parseManifest(lines.join(""), manifestPath);
      const record = new Uint8Array(entries.length * RECORD_BYTES);
      const view = new DataView(record.buffer);
      for (const [k, entry] of entries.entries()) {
        const path = join(dir, entry.path);
        const png = await Deno.readFile(path);
        if (
          current !== null && current.bytes + png.length > options.shardBytes
        ) {
          await closeShard();
        }
        if (current === null) {
          const temp = join(
            shardsDir,
            `${shardName(index.shards.length)}.tmp-${Deno.pid}`,
          );
          current = {
            file: await Deno.open(temp, { write: true, createNew: true }),
            temp,
            bytes: 0,
            images: 0,
          };
        }
        await writeAll(current.file, png);
        const at = k * RECORD_BYTES;
        view.setUint32(at, index.shards.length, true);
        view.setUint32(at + 4, current.bytes, true);
        view.setUint32(at + 8, png.length, true);
        view.setInt32(at + 12, entry.label, true);
        record.set(hexBytes(entry.sha256), at + 16);
        current.bytes += png.length;
        current.images += 1;
      }
      records.push(record);
      index.images += entries.length;
      bar.update(index.images);
    }
    await closeShard();
    if (index.images === 0) bar.update(0);
  } catch (error) {
    (current as { file: Deno.FsFile } | null)?.file.close();
    throw error;
  }
  const all = new Uint8Array(index.images * RECORD_BYTES);
  let offset = 0;
  for (const record of records) {
    all.set(record, offset);
    offset += record.length;
  }
  await writeFileAtomic(join(shardsDir, "index.bin"), all);
  await writeJsonAtomic(join(shardsDir, "index.json"), index);
  return index;
}

/** Returns the file name of shard `n`, such as `00003.bin`. */
export function shardName(n: number): string {
  return `${String(n).padStart(5, "0")}.bin`;
}

/** Reads a text file in batches of whole lines, each with its newline. */
async function* manifestBatches(path: string): AsyncIterable<string[]> {
  const file = await Deno.open(path);
  const lines = file.readable.pipeThrough(new TextDecoderStream());
  let rest = "";
  let batch: string[] = [];
  for await (const text of lines) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      batch.push(line + "\n");
      if (batch.length === LINES_PER_BATCH) {
        yield batch;
        batch = [];
      }
    }
  }
  if (rest !== "") batch.push(rest);
  if (batch.length > 0) yield batch;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
  }
}

/** Parses a lowercase hex SHA-256 into its 32 bytes. */
export function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let k = 0; k < 32; k++) {
    bytes[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  }
  return bytes;
}
