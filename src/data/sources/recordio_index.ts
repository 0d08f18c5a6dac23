/**
 * The index (`.idx`) of an MXNet RecordIO file: one text line per record,
 * `<key><TAB><offset>`, where offset is the byte position of the record in
 * the `.rec` file, as `MXIndexedRecordIO` writes it. The index is streamed,
 * so a 15-million-line file never sits in memory as one string.
 *
 * @module
 */

import { DatasetError } from "../dataset_error.ts";

/** Keys and record offsets of an index, in ascending key order. */
export interface RecordIndex {
  keys: number[];
  /** Byte offset in the `.rec` file of the record of `keys[i]`. */
  offsets: number[];
}

const INDEX_LINE = /^(\d+)\t(\d+)$/;

/**
 * Maximum characters of a line, so a binary file is not read as one line:
 * two numbers of up to 16 digits (the largest safe integer has 16) and a tab,
 * with room for surrounding whitespace.
 */
const MAX_LINE_CHARS = 64;

/** The paths that messages name. */
interface IndexContext {
  idxPath: string;
  recPath: string;
}

function malformedLine(
  context: IndexContext,
  lineNumber: number,
  line: string,
): DatasetError {
  const excerpt = JSON.stringify(line.slice(0, MAX_LINE_CHARS));
  return new DatasetError(
    context.idxPath,
    `Cannot scan dataset: line ${lineNumber} of index "${context.idxPath}" is not "<key><TAB><offset>", got ${excerpt}: replace the index with the one that came with "${context.recPath}"`,
  );
}

/** Sorts the entries by key when the file did not list them in order. */
function sortByKey(index: RecordIndex): RecordIndex {
  const { keys, offsets } = index;
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) {
    sorted = keys[i - 1] <= keys[i];
  }
  if (sorted) return index;
  const order = keys.map((_, i) => i).sort((a, b) => keys[a] - keys[b]);
  return {
    keys: order.map((i) => keys[i]),
    offsets: order.map((i) => offsets[i]),
  };
}

/**
 * Reads an index file.
 *
 * Blank lines are ignored. Keys may come in any order; the result is sorted.
 *
 * @param idxPath The `.idx` file.
 * @param recPath The `.rec` file it indexes, for messages.
 * @returns The entries in ascending key order.
 * @throws {DatasetError} When the index is missing, empty, has a line that
 *   is not two non-negative integers separated by a tab, or lists a key
 *   twice. Each of these leaves which records exist unknown, so the listing
 *   stops before any output is written.
 */
export async function readRecordIndex(
  idxPath: string,
  recPath: string,
): Promise<RecordIndex> {
  const context = { idxPath, recPath };
  let file: Deno.FsFile;
  try {
    file = await Deno.open(idxPath, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        idxPath,
        `Cannot scan dataset: index "${idxPath}" of "${recPath}" not found: put the .idx file that came with the .rec file beside it, with the same name`,
      );
    }
    throw error;
  }

  const keys: number[] = [];
  const offsets: number[] = [];
  let lineNumber = 0;
  const parseLine = (line: string) => {
    lineNumber++;
    const trimmed = line.trim();
    if (trimmed === "") return;
    const match = INDEX_LINE.exec(trimmed);
    const key = match === null ? NaN : Number(match[1]);
    const offset = match === null ? NaN : Number(match[2]);
    if (!Number.isSafeInteger(key) || !Number.isSafeInteger(offset)) {
      throw malformedLine(context, lineNumber, line);
    }
    keys.push(key);
    offsets.push(offset);
  };

  // decode in chunks and carry the unfinished line over to the next chunk
  const decoder = new TextDecoder();
  let carry = "";
  for await (const chunk of file.readable) {
    const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
    carry = lines.pop()!;
    for (const line of lines) parseLine(line);
    if (carry.length > MAX_LINE_CHARS) {
      throw malformedLine(context, lineNumber + 1, carry);
    }
  }
  carry += decoder.decode();
  if (carry !== "") parseLine(carry);

  if (keys.length === 0) {
    throw new DatasetError(
      idxPath,
      `Cannot scan dataset: index "${idxPath}" has no entries: replace it with the one that came with "${recPath}"`,
    );
  }
  const index = sortByKey({ keys, offsets });
  for (let i = 1; i < index.keys.length; i++) {
    if (index.keys[i] === index.keys[i - 1]) {
      throw new DatasetError(
        idxPath,
        `Cannot scan dataset: key ${
          index.keys[i]
        } appears twice in index "${idxPath}": replace it with the one that came with "${recPath}"`,
      );
    }
  }
  return index;
}
