/**
 * Reading of gzip-compressed tar archives (npm tarballs): the ustar header
 * of each member (name, with its ustar prefix, size, type) and its bytes.
 * Only regular files are returned; links, folders and pax headers are
 * skipped.
 *
 * @module
 */

/** A regular file of an archive. */
export interface TarMember {
  /** Path inside the archive, such as `package/README.md`. */
  name: string;
  data: Uint8Array;
}

/** A tar archive that cannot be read. */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarError";
  }
}

const BLOCK = 512;

/** Decompresses gzip bytes. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new TarError(`not valid gzip data: ${(error as Error).message}`);
  }
}

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/**
 * Lists the regular files of an uncompressed tar archive.
 *
 * @throws {TarError} On a header whose checksum does not match or a member
 *     that runs past the end of the archive.
 */
export function readTar(archive: Uint8Array): TarMember[] {
  const members: TarMember[] = [];
  let offset = 0;
  while (offset + BLOCK <= archive.byteLength) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // End-of-archive marker.
    // The checksum sums the header with its own 8-byte field read as spaces.
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) {
      sum += i >= 148 && i < 156 ? 0x20 : header[i];
    }
    const stored = parseInt(field(header, 148, 8).trim(), 8);
    if (stored !== sum) {
      throw new TarError(
        `the tar header at byte ${offset} has checksum ${stored}, computed ${sum}: the archive is corrupt`,
      );
    }
    const size = parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + field(header, 0, 100);
    const start = offset + BLOCK;
    if (start + size > archive.byteLength) {
      throw new TarError(
        `member "${name}" of ${size} bytes runs past the end of the archive: it is truncated`,
      );
    }
    if (type === "0" || type === "\0") {
      members.push({ name, data: archive.slice(start, start + size) });
    }
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return members;
}
