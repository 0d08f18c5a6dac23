import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import type { RootConfig } from "../../../src/config/types.ts";
import { DatasetError } from "../../../src/data/dataset_error.ts";
import { decodeImageBytes, encodePng } from "../../../src/data/image.ts";
import { listSources, readImageBytes } from "../../../src/data/sources/list.ts";
import { listRecordIo } from "../../../src/data/sources/recordio.ts";
import type { SourceListing } from "../../../src/data/sources/source.ts";
import { createReporter } from "../../../src/report.ts";
import { makeImage, withTempDir } from "../_helpers.ts";
import {
  encodeRecord,
  headerPayload,
  packPayload,
  type TestRecord,
  writeRecordIo,
} from "./_recordio_writer.ts";

function recordRoot(
  path: string,
  prefix = "",
  identities: string[] | null = null,
): RootConfig {
  return { path, format: "recordio", prefix, identities };
}

/** Distinct small byte strings that stand in for images where none is decoded. */
function fakeImage(seed: number, length = 10): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) % 256);
}

/** Returns an insightface-style set: header record, 5 images of 2 identities, 2 identity records. */
function insightfaceRecords(): TestRecord[] {
  return [
    { key: 0, payload: headerPayload(6, 8) },
    { key: 1, payload: packPayload(0, fakeImage(1)) },
    { key: 2, payload: packPayload(0, fakeImage(2)) },
    { key: 3, payload: packPayload([1, 0.5], fakeImage(3)) },
    { key: 4, payload: packPayload([1], fakeImage(4)) },
    { key: 5, payload: packPayload(1, fakeImage(5)) },
    { key: 6, payload: packPayload([1, 3], new Uint8Array(0)) },
    { key: 7, payload: packPayload([3, 6], new Uint8Array(0)) },
  ];
}

function names(listing: SourceListing): string[] {
  return listing.identities.map((identity) => identity.name);
}

Deno.test("listRecordIo groups images by label", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    const offsets = await writeRecordIo(rec, insightfaceRecords());
    const listing = await listSources([recordRoot(rec, "ms1m_")], []);
    assert.deepEqual(names(listing), ["ms1m_00000000", "ms1m_00000001"]);
    assert.equal(listing.imageCount, 5);
    assert.deepEqual(listing.skipped, []);
    const second = listing.identities[1];
    assert.deepEqual(second.imageNames, ["3.rec", "4.rec", "5.rec"]);
    assert.deepEqual(
      second.images,
      [3, 4, 5].map((key) => ({
        kind: "record",
        rec,
        key,
        offset: offsets.get(key),
      })),
    );
  });
});

Deno.test("listSources reports progress over records", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const lines: string[] = [];
    const reporter = createReporter({
      writer: { writeLine: (line) => lines.push(line) },
    });
    await listSources([recordRoot(rec)], [], { reporter });
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^sources 5\/5 records \(100%\)/);
  });
});

Deno.test("listRecordIo lists every key without a header record", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: packPayload(4, fakeImage(0)) },
      { key: 1, payload: packPayload(12, fakeImage(1)) },
      { key: 2, payload: packPayload(4, fakeImage(2)) },
    ]);
    const listing = await listRecordIo(recordRoot(rec), 0);
    assert.deepEqual(
      listing.identities.map((identity) => identity.imageNames),
      [["0.rec", "2.rec"], ["1.rec"]],
    );
    assert.deepEqual(
      listing.identities.map((identity) => identity.name),
      ["00000004", "00000012"],
    );
  });
});

Deno.test("listRecordIo reads keys listed out of order", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 2, payload: packPayload(0, fakeImage(2)) },
      { key: 1, payload: packPayload(0, fakeImage(1)) },
    ]);
    const listing = await listRecordIo(recordRoot(rec), 0);
    assert.deepEqual(listing.identities[0].imageNames, ["1.rec", "2.rec"]);
  });
});

Deno.test("listRecordIo applies the identity filter", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const listing = await listRecordIo(recordRoot(rec, "", ["00000001"]), 0);
    assert.deepEqual(
      listing.identities.map((identity) => identity.name),
      ["00000001"],
    );
  });
});

Deno.test("readImageBytes returns a record's image bytes", async () => {
  await withTempDir(async (dir) => {
    const image = makeImage(
      12,
      10,
      (y, x, c) => (y * 20 + x * 9 + c * 80) % 256,
    );
    const png = await encodePng(image);
    const jpeg = new Uint8Array(
      await sharp(image.data, { raw: { width: 12, height: 10, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: headerPayload(3, 3) },
      { key: 1, payload: packPayload(0, png) },
      { key: 2, payload: packPayload([0, 1, 2], jpeg) },
    ]);
    const listing = await listSources([recordRoot(rec)], []);
    const [pngRef, jpegRef] = listing.identities[0].images;
    assert.deepEqual(await readImageBytes(pngRef), png);
    assert.deepEqual(await readImageBytes(jpegRef), jpeg);
    const decoded = await decodeImageBytes(await readImageBytes(jpegRef), "x");
    assert.equal(decoded.width, 12);
    assert.equal(decoded.height, 10);
  });
});

Deno.test("encodeRecord matches the RecordIO byte layout", () => {
  // flag 0, label 7.0, id 0, id2 0, then the 3-byte image "ABC"
  const payload = packPayload(7, new TextEncoder().encode("ABC"));
  const expected = new Uint8Array([
    ...[0x0a, 0x23, 0xd7, 0xce], // magic 0xced7230a, little-endian
    ...[27, 0, 0, 0], // continuation flag 0, length 27
    ...[0, 0, 0, 0], // IRHeader flag
    ...[0x00, 0x00, 0xe0, 0x40], // float32 7.0
    ...new Array(16).fill(0), // id and id2
    ...[0x41, 0x42, 0x43], // image
    0, // padding to a 4-byte boundary
  ]);
  assert.deepEqual(encodeRecord(payload), expected);
});

Deno.test("readImageBytes reads a hand-built record", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "one.rec");
    await Deno.writeFile(
      rec,
      new Uint8Array([
        ...[0x0a, 0x23, 0xd7, 0xce, 27, 0, 0, 0],
        ...[0, 0, 0, 0, 0x00, 0x00, 0xe0, 0x40],
        ...new Array(16).fill(0),
        ...[0x41, 0x42, 0x43, 0],
      ]),
    );
    await Deno.writeTextFile(join(dir, "one.idx"), "0\t0\n");
    const listing = await listSources([recordRoot(rec)], []);
    assert.deepEqual(names(listing), ["00000007"]);
    const bytes = await readImageBytes(listing.identities[0].images[0]);
    assert.equal(new TextDecoder().decode(bytes), "ABC");
  });
});

Deno.test("readImageBytes joins a multi-part record", async () => {
  await withTempDir(async (dir) => {
    // The magic at image offsets 4 and 12 (payload offsets 28 and 36, both
    // 4-byte aligned) splits the record into three parts.
    const image = new Uint8Array(22);
    new DataView(image.buffer).setUint32(4, 0xced7230a, true);
    new DataView(image.buffer).setUint32(12, 0xced7230a, true);
    image[20] = 99;
    const rec = join(dir, "train.rec");
    const payload = packPayload(3, image);
    assert.ok(encodeRecord(payload).length > payload.length + 8 + 8);
    await writeRecordIo(rec, [
      { key: 0, payload },
      { key: 1, payload: packPayload(3, fakeImage(1)) },
    ]);
    const listing = await listSources([recordRoot(rec)], []);
    assert.deepEqual(listing.skipped, []);
    assert.deepEqual(listing.identities[0].imageNames, ["0.rec", "1.rec"]);
    const bytes = await readImageBytes(listing.identities[0].images[0]);
    assert.deepEqual(bytes, image);
  });
});

Deno.test("listRecordIo reads a header split by the magic", async () => {
  await withTempDir(async (dir) => {
    // An id equal to the magic puts it at payload offset 8, inside the
    // IRHeader, so the label array after the header lies in the second part.
    // Key 1, since key 0 with a label array would be the header record.
    const rec = join(dir, "train.rec");
    const image = fakeImage(5);
    await writeRecordIo(rec, [
      { key: 1, payload: packPayload([42], image, 0xced7230a) },
    ]);
    const listing = await listSources([recordRoot(rec)], []);
    assert.deepEqual(listing.skipped, []);
    assert.deepEqual(names(listing), ["00000042"]);
    assert.deepEqual(
      await readImageBytes(listing.identities[0].images[0]),
      image,
    );
  });
});

/** Writes the insightface records, lets `damage` change the files, lists. */
async function listDamaged(
  damage: (rec: string, offsets: Map<number, number>) => Promise<void>,
): Promise<{ rec: string; listing: SourceListing }> {
  const dir = await Deno.makeTempDir({ prefix: "data_test_" });
  try {
    const rec = join(dir, "train.rec");
    const offsets = await writeRecordIo(rec, insightfaceRecords());
    await damage(rec, offsets);
    return { rec, listing: await listSources([recordRoot(rec)], []) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function idxLines(offsets: Map<number, number>): string[] {
  return [...offsets].map(([key, offset]) => `${key}\t${offset}`);
}

Deno.test("listRecordIo skips an index entry past the end", async () => {
  const { rec, listing } = await listDamaged(async (rec, offsets) => {
    const size = (await Deno.stat(rec)).size;
    offsets.set(2, size + 100);
    await Deno.writeTextFile(
      rec.replace(".rec", ".idx"),
      idxLines(offsets).join("\n"),
    );
  });
  assert.equal(listing.imageCount, 4);
  assert.equal(listing.skipped.length, 1);
  assert.equal(listing.skipped[0].path, `${rec}#2`);
  assert.match(
    listing.skipped[0].reason,
    /^offset \d+ is past the end of the file \(\d+ bytes\)$/,
  );
});

Deno.test("listRecordIo skips a truncated record", async () => {
  // Key 5 is the last image; cutting the file inside it also cuts the
  // identity records 6 and 7, which listing does not read.
  const { rec, listing } = await listDamaged(async (rec, offsets) => {
    const file = await Deno.open(rec, { write: true });
    await file.truncate(offsets.get(5)! + 20);
    file.close();
  });
  assert.deepEqual(listing.skipped.map((entry) => entry.path), [`${rec}#5`]);
  assert.match(
    listing.skipped[0].reason,
    /^record truncated: part 0 at byte \d+ holds 34 bytes, but the file ends 12 bytes after its header$/,
  );
  assert.equal(listing.imageCount, 4);
});

Deno.test("listRecordIo skips a record without its magic", async () => {
  const { rec, listing } = await listDamaged(async (rec, offsets) => {
    offsets.set(3, offsets.get(3)! + 4);
    await Deno.writeTextFile(
      rec.replace(".rec", ".idx"),
      idxLines(offsets).join("\n"),
    );
  });
  assert.deepEqual(listing.skipped.map((entry) => entry.path), [`${rec}#3`]);
  assert.match(
    listing.skipped[0].reason,
    /^no record part at byte \d+: expected magic 0xced7230a, got 0x[0-9a-f]{8}$/,
  );
});

Deno.test("listRecordIo skips bad labels and empty images", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: headerPayload(5, 5) },
      { key: 1, payload: packPayload(2.5, fakeImage(1)) },
      { key: 2, payload: packPayload([-1], fakeImage(2)) },
      { key: 3, payload: packPayload(1, new Uint8Array(0)) },
      { key: 4, payload: packPayload(1, fakeImage(4)) },
    ]);
    const listing = await listSources([recordRoot(rec)], []);
    assert.deepEqual(names(listing), ["00000001"]);
    assert.deepEqual(listing.skipped, [
      {
        path: `${rec}#1`,
        reason:
          "label 2.5 is not an integer in [0, 2^24], the range a float32 label holds exactly",
      },
      {
        path: `${rec}#2`,
        reason:
          "label -1 is not an integer in [0, 2^24], the range a float32 label holds exactly",
      },
      {
        path: `${rec}#3`,
        reason: "record has no image bytes after its header",
      },
    ]);
  });
});

Deno.test("listRecordIo lists image keys missing from the index", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: headerPayload(6, 6) },
      { key: 1, payload: packPayload(0, fakeImage(1)) },
      { key: 4, payload: packPayload(0, fakeImage(4)) },
      { key: 9, payload: packPayload(0, fakeImage(9)) },
    ]);
    const listing = await listSources([recordRoot(rec)], []);
    const idx = join(dir, "train.idx");
    assert.deepEqual(listing.skipped, [
      {
        path: idx,
        reason:
          "keys 2 to 3 are missing from the index, though record 0 gives image keys [1, 6)",
      },
      {
        path: `${rec}#9`,
        reason:
          "key is outside the image keys [1, 6) and the identity records [6, 6) that record 0 gives",
      },
      {
        path: idx,
        reason:
          "key 5 is missing from the index, though record 0 gives image keys [1, 6)",
      },
    ]);
    assert.equal(listing.imageCount, 2);
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

Deno.test("listRecordIo rejects a missing index", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const idx = join(dir, "train.idx");
    await Deno.remove(idx);
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      idx,
      `Cannot scan dataset: index "${idx}" of "${rec}" not found: put the .idx file that came with the .rec file beside it, with the same name`,
    );
  });
});

Deno.test("listRecordIo rejects a malformed index line", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const idx = join(dir, "train.idx");
    await Deno.writeTextFile(idx, "0\t0\n1 40\n");
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      idx,
      `Cannot scan dataset: line 2 of index "${idx}" is not "<key><TAB><offset>", got "1 40": replace the index with the one that came with "${rec}"`,
    );
  });
});

Deno.test("listRecordIo rejects a binary index", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const idx = join(dir, "train.idx");
    await Deno.copyFile(rec, idx);
    await assert.rejects(listSources([recordRoot(rec)], []), (error) => {
      assert.ok(error instanceof DatasetError);
      assert.match(
        error.message,
        /^Cannot scan dataset: line \d+ of index ".*train\.idx" is not "<key><TAB><offset>"/,
      );
      return true;
    });
  });
});

Deno.test("listRecordIo rejects a duplicate index key", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const idx = join(dir, "train.idx");
    await Deno.writeTextFile(idx, "0\t0\n1\t40\n1\t80\n");
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      idx,
      `Cannot scan dataset: key 1 appears twice in index "${idx}": replace it with the one that came with "${rec}"`,
    );
  });
});

Deno.test("listRecordIo rejects an empty index", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const idx = join(dir, "train.idx");
    await Deno.writeTextFile(idx, "\n");
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      idx,
      `Cannot scan dataset: index "${idx}" has no entries: replace it with the one that came with "${rec}"`,
    );
  });
});

Deno.test("listRecordIo rejects a damaged header record", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    const bytes = await Deno.readFile(rec);
    bytes[0] = 0;
    await Deno.writeFile(rec, bytes);
    const idx = join(dir, "train.idx");
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      `${rec}#0`,
      `Cannot scan dataset: record 0 of "${rec}" cannot be read: no record part at byte 0: expected magic 0xced7230a, got 0xced72300: it tells which records are images, so replace "${rec}" and "${idx}" with an intact copy`,
    );
  });
});

Deno.test("listRecordIo rejects a header record without key ranges", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, [
      { key: 0, payload: headerPayload(0, 4) },
      { key: 1, payload: packPayload(0, fakeImage(1)) },
    ]);
    await rejectsWith(
      listSources([recordRoot(rec)], []),
      `${rec}#0`,
      `Cannot scan dataset: record 0 of "${rec}" has flag 2, so it is an insightface header record, but its labels [0, 4] are not the key ranges [1, end of images) and [end of images, end of identities): replace the file with an intact copy`,
    );
  });
});

Deno.test("listRecordIo rejects a missing or folder path", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "none.rec");
    await rejectsWith(
      listSources([recordRoot(missing)], []),
      missing,
      `Cannot scan dataset: record file "${missing}" not found: set dataset.roots[0].path to an insightface train.rec`,
    );
    const folder = join(dir, "faces.rec");
    await Deno.mkdir(folder);
    await rejectsWith(
      listSources([recordRoot(folder)], []),
      folder,
      `Cannot scan dataset: "${folder}" is not a file: set dataset.roots[0].path to the train.rec inside it`,
    );
  });
});

Deno.test("listRecordIo rejects filter entries that are no label", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    await writeRecordIo(rec, insightfaceRecords());
    await rejectsWith(
      listSources([recordRoot(rec, "", ["1"])], []),
      rec,
      `Cannot scan dataset: dataset.roots[0].identities[0] is "1", not a recordio identity: expected a label in [0, 16777216] as 8 digits, such as "00001234"`,
    );
    await rejectsWith(
      listSources([recordRoot(rec, "", ["00000001", "00000007"])], []),
      rec,
      `Cannot scan dataset: no record of "${rec}" has label 7: remove "00000007" from dataset.roots[0].identities`,
    );
  });
});

Deno.test("readImageBytes rejects a truncated record", async () => {
  await withTempDir(async (dir) => {
    const rec = join(dir, "train.rec");
    const offsets = await writeRecordIo(rec, insightfaceRecords());
    const listing = await listSources([recordRoot(rec)], []);
    const file = await Deno.open(rec, { write: true });
    await file.truncate(offsets.get(2)! + 30);
    file.close();
    const ref = listing.identities[0].images[1];
    await rejectsWith(
      readImageBytes(ref),
      rec,
      `Cannot read image "${rec}#2": damaged record: record truncated: part 0 at byte ${
        offsets.get(2)
      } holds 34 bytes, but the file ends 22 bytes after its header`,
    );
  });
});

Deno.test("listSources rejects one label name from two roots", async () => {
  await withTempDir(async (dir) => {
    const one = join(dir, "one.rec");
    const two = join(dir, "two.rec");
    await writeRecordIo(one, insightfaceRecords());
    await writeRecordIo(two, insightfaceRecords());
    await rejectsWith(
      listSources([recordRoot(one), recordRoot(two)], []),
      two,
      `Cannot scan dataset: identity "00000000" is in both "${one}" and "${two}": give dataset.roots[0] and dataset.roots[1] different prefixes`,
    );
    const listing = await listSources(
      [recordRoot(one, "a_"), recordRoot(two, "b_")],
      [],
    );
    assert.equal(listing.identities.length, 4);
  });
});
