/**
 * The `recordio` source: an insightface training set packed as MXNet
 * RecordIO, `train.rec` with its index `train.idx` (MS1M, Glint and the other
 * sets insightface distributes). Listing reads the index and then only the
 * header bytes of each record, with a few positioned reads in flight. It
 * groups the images by identity label. `readImageBytes` later reads one
 * record at a time.
 *
 * insightface writes a header record at key 0 with flag > 0: its first label
 * is the end of the image keys, which run from 1, and the second the end of
 * the identity records that follow them (one per identity, holding the key
 * range of its images). insightface's `MXFaceDataset`
 * (recognition/arcface_torch/dataset.py) reads it this way, and so does this
 * module. When key 0 has flag > 0, only keys in [1, label[0]) are images, and
 * the identity records are not read. When key 0 has flag 0, or there is no
 * key 0, every key is an image.
 *
 * NOTE: A set without a header record whose key 0 is an image with a label
 * array also has flag > 0 at key 0, so it is misread as insightface misreads
 * it.
 *
 * Identities are named by the root's prefix followed by the label as 8
 * decimal digits (`00001234`), so names sort in label order. A label is the
 * record's scalar label, or the first of its label array, and must be an
 * integer in [0, 2^24]. Above 2^24 a float32 cannot represent every integer,
 * so two identities could have been written as one label.
 *
 * @module
 */

import type { RootConfig } from "../../config/types.ts";
import { type Reporter, silentReporter } from "../../report.ts";
import { DatasetError } from "../dataset_error.ts";
import type { RootListing } from "./folders.ts";
import { readRecordIndex, type RecordIndex } from "./recordio_index.ts";
import {
  LABELED_HEADER_BYTES,
  openRecordFile,
  parseRecordHeader,
  readPayload,
  type RecordFile,
  RecordFormatError,
  type RecordHeader,
} from "./recordio_record.ts";
import type { ImageRef, SkippedEntry, SourceIdentity } from "./source.ts";

/** Record headers read at once, each worker with its own file handle. */
const READ_CONCURRENCY = 8;

/** Records between two progress updates. */
const PROGRESS_EVERY = 4096;

/** Largest label kept: every integer up to 2^24 is exact in float32. */
const MAX_LABEL = 2 ** 24;

/** Digits of a label in an identity name; 2^24 has 8. */
const LABEL_DIGITS = 8;

/** Returns the `.idx` path beside a `.rec` path. */
export function indexPathOf(recPath: string): string {
  return recPath.replace(/\.rec$/i, ".idx");
}

/** Formats a label as an identity name without the root's prefix. */
function labelName(label: number): string {
  return String(label).padStart(LABEL_DIGITS, "0");
}

/** Checks that a root's path is a `.rec` file. */
async function checkRecordFile(root: RootConfig, index: number): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        root.path,
        `Cannot scan dataset: record file "${root.path}" not found: set dataset.roots[${index}].path to an insightface train.rec`,
      );
    }
    throw error;
  }
  if (!info.isFile) {
    throw new DatasetError(
      root.path,
      `Cannot scan dataset: "${root.path}" is not a file: set dataset.roots[${index}].path to the train.rec inside it`,
    );
  }
}

/** Parses the root's identity filter into labels, checking each name. */
function filterLabels(root: RootConfig, index: number): Set<number> | null {
  if (root.identities === null) return null;
  const labels = new Set<number>();
  for (const [i, name] of root.identities.entries()) {
    if (!/^\d{8}$/.test(name) || Number(name) > MAX_LABEL) {
      throw new DatasetError(
        root.path,
        `Cannot scan dataset: dataset.roots[${index}].identities[${i}] is "${name}", not a recordio identity: expected a label in [0, ${MAX_LABEL}] as ${LABEL_DIGITS} digits, such as "00001234"`,
      );
    }
    labels.add(Number(name));
  }
  return labels;
}

/** The image entries of the index, and the entries skipped before any read. */
interface ImageKeys {
  /** Positions in the index of the image records, in key order. */
  positions: number[];
  skipped: SkippedEntry[];
}

/**
 * Reads record 0 and decides from it which keys are images.
 *
 * @throws {DatasetError} When record 0 cannot be read, or has flag > 0 with
 *   labels that are no key range, since no key could then be classified.
 */
async function imageKeys(
  rec: RecordFile,
  recPath: string,
  idxPath: string,
  entries: RecordIndex,
): Promise<ImageKeys> {
  const all = { positions: entries.keys.map((_, i) => i), skipped: [] };
  if (entries.keys[0] !== 0) return all;

  let header: RecordHeader;
  try {
    const payload = await readPayload(
      rec,
      entries.offsets[0],
      LABELED_HEADER_BYTES,
    );
    header = parseRecordHeader(payload.bytes, payload.payloadBytes);
  } catch (error) {
    if (!(error instanceof RecordFormatError)) throw error;
    throw new DatasetError(
      `${recPath}#0`,
      `Cannot scan dataset: record 0 of "${recPath}" cannot be read: ${error.message}: it tells which records are images, so replace "${recPath}" and "${idxPath}" with an intact copy`,
    );
  }
  if (header.flag === 0) return all;

  const [imageEnd, identityEnd = imageEnd] = header.labels;
  if (
    !Number.isSafeInteger(imageEnd) || imageEnd < 1 ||
    !Number.isSafeInteger(identityEnd) || identityEnd < imageEnd
  ) {
    throw new DatasetError(
      `${recPath}#0`,
      `Cannot scan dataset: record 0 of "${recPath}" has flag ${header.flag}, so it is an insightface header record, but its labels [${
        header.labels.join(", ")
      }] are not the key ranges [1, end of images) and [end of images, end of identities): replace the file with an intact copy`,
    );
  }

  const positions: number[] = [];
  const skipped: SkippedEntry[] = [];
  let expectedKey = 1;
  const reportMissing = (end: number) => {
    if (end <= expectedKey) return;
    const keys = end - expectedKey === 1
      ? `key ${expectedKey} is`
      : `keys ${expectedKey} to ${end - 1} are`;
    skipped.push({
      path: idxPath,
      reason:
        `${keys} missing from the index, though record 0 gives image keys [1, ${imageEnd})`,
    });
  };
  for (const [position, key] of entries.keys.entries()) {
    if (key === 0 || (key >= imageEnd && key < identityEnd)) continue;
    if (key >= imageEnd) {
      skipped.push({
        path: `${recPath}#${key}`,
        reason:
          `key is outside the image keys [1, ${imageEnd}) and the identity records [${imageEnd}, ${identityEnd}) that record 0 gives`,
      });
      continue;
    }
    reportMissing(key);
    positions.push(position);
    expectedKey = key + 1;
  }
  reportMissing(imageEnd);
  return { positions, skipped };
}

/** The label of one image record, or why it is skipped. */
type LabelResult = { label: number } | { reason: string };

/** Reads one record's header and checks its label and image length. */
async function readLabel(
  rec: RecordFile,
  offset: number,
): Promise<LabelResult> {
  let header: RecordHeader;
  try {
    const payload = await readPayload(rec, offset, LABELED_HEADER_BYTES);
    header = parseRecordHeader(payload.bytes, payload.payloadBytes);
  } catch (error) {
    if (error instanceof RecordFormatError) return { reason: error.message };
    throw error;
  }
  const label = header.labels[0];
  if (!Number.isInteger(label) || label < 0 || label > MAX_LABEL) {
    return {
      reason:
        `label ${label} is not an integer in [0, 2^24], the range a float32 label holds exactly`,
    };
  }
  if (header.imageBytes === 0) {
    return { reason: "record has no image bytes after its header" };
  }
  return { label };
}

/** Labels of the image records, and why the others are skipped. */
interface RecordLabels {
  /** Label per entry of `positions`; NaN where the record is skipped. */
  labels: Float64Array;
  /** Reason per skipped entry of `positions`. */
  reasons: Map<number, string>;
}

/**
 * Reads the label of every image record, `READ_CONCURRENCY` at a time, each
 * worker with its own file handle, since a read is a seek then a read.
 */
async function readLabels(
  recPath: string,
  offsets: number[],
  positions: number[],
  reporter: Reporter,
): Promise<RecordLabels> {
  const labels = new Float64Array(positions.length);
  const reasons = new Map<number, string>();
  const bar = reporter.progress("sources", positions.length, "records");
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async () => {
    const rec = await openRecordFile(recPath);
    try {
      while (!failed && next < positions.length) {
        const i = next++;
        const result = await readLabel(rec, offsets[positions[i]]);
        if ("reason" in result) {
          labels[i] = NaN;
          reasons.set(i, result.reason);
        } else {
          labels[i] = result.label;
        }
        if (++done % PROGRESS_EVERY === 0) bar.update(done);
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      rec.file.close();
    }
  };
  const workers = Math.max(1, Math.min(READ_CONCURRENCY, positions.length));
  await Promise.all(Array.from({ length: workers }, worker));
  bar.update(done);
  return { labels, reasons };
}

/**
 * Lists a `recordio` root: the image records of its `.rec` file grouped by
 * label, after the root's identity filter.
 *
 * Damaged records are skipped and listed with path `<rec>#<key>`: an index
 * offset past the end of the file, a bad magic, a truncated record, a label
 * out of range, or no image bytes. A few bad records of a large file
 * therefore do not stop a build.
 *
 * @param root The root entry; `path` is the `.rec` file, and its index is
 *   the same path with `.idx` in place of `.rec`.
 * @param index Position of the root in `dataset.roots`, for messages.
 * @param reporter Receives a progress bar over the records read.
 * @returns Identities with images in ascending key order.
 * @throws {DatasetError} When the `.rec` or `.idx` is missing, the index
 *   cannot be parsed, record 0 cannot be read, a filter entry is not a
 *   label, or a filtered label has no images.
 */
export async function listRecordIo(
  root: RootConfig,
  index: number,
  reporter: Reporter = silentReporter,
): Promise<RootListing> {
  const recPath = root.path;
  const idxPath = indexPathOf(recPath);
  await checkRecordFile(root, index);
  const labelFilter = filterLabels(root, index);
  const entries = await readRecordIndex(idxPath, recPath);

  const rec = await openRecordFile(recPath);
  let keys: ImageKeys;
  try {
    keys = await imageKeys(rec, recPath, idxPath, entries);
  } finally {
    rec.file.close();
  }
  const { labels, reasons } = await readLabels(
    recPath,
    entries.offsets,
    keys.positions,
    reporter,
  );

  // group by label, keeping key order within each identity
  const skipped = keys.skipped;
  const byLabel = new Map<number, number[]>();
  for (const [i, position] of keys.positions.entries()) {
    const reason = reasons.get(i);
    if (reason !== undefined) {
      skipped.push({ path: `${recPath}#${entries.keys[position]}`, reason });
      continue;
    }
    const label = labels[i];
    if (labelFilter !== null && !labelFilter.has(label)) continue;
    let group = byLabel.get(label);
    if (group === undefined) {
      group = [];
      byLabel.set(label, group);
    }
    group.push(position);
  }
  for (const label of labelFilter ?? []) {
    if (!byLabel.has(label)) {
      throw new DatasetError(
        recPath,
        `Cannot scan dataset: no record of "${recPath}" has label ${label}: remove "${
          labelName(label)
        }" from dataset.roots[${index}].identities`,
      );
    }
  }

  const identities: SourceIdentity[] = [];
  for (const [label, positions] of byLabel) {
    identities.push({
      name: root.prefix + labelName(label),
      images: positions.map((position): ImageRef => ({
        kind: "record",
        rec: recPath,
        key: entries.keys[position],
        offset: entries.offsets[position],
      })),
      imageNames: positions.map((position) => `${entries.keys[position]}.rec`),
    });
  }
  return { identities, skipped };
}
