/**
 * The plan of a dataset build, decided from the source listing before any
 * image is decoded. It gives each identity's rule and selected sources and
 * the counts of summary.json that do not depend on decoding. It also gives
 * the identity's shard for `--shard i/n` and the fingerprint that ties a
 * resumed build, or a part of a sharded build, to its inputs.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { extname } from "node:path";
import { canonicalJson } from "../config/load.ts";
import type { DatasetConfig } from "../config/types.ts";
import { deriveRng } from "../rng.ts";
import type { IdentityJob } from "./build_identity.ts";
import { DatasetError } from "./dataset_error.ts";
import { RULE_NAMES, ruleFor, type RuleName } from "./rules.ts";
import { refLabel } from "./sources/list.ts";
import type { SkippedEntry, SourceListing } from "./sources/source.ts";

/** The part of the identities one build process works on (1-based). */
export interface ShardSpec {
  index: number;
  count: number;
}

/** The whole build's plan, the same in every shard. */
export interface BuildPlan {
  /** Identity folders (or record labels) found, including empty ones. */
  identities_in: number;
  /** Images found, over all identities. */
  images_in: number;
  /** Identities per rule, decided on the count of images found. */
  by_rule: Record<RuleName, number>;
  /** Images found per rule, over the identities of the rule. */
  images_in_by_rule: Record<RuleName, number>;
  /** Identities without images (counted as dropped). */
  empty_identities: string[];
  /** Listing entries the sources could not use. */
  listing_skipped: SkippedEntry[];
  /** The identities a rule keeps, in name order, with their sources. */
  jobs: IdentityJob[];
}

/**
 * Decides the rule and the selected sources of every identity.
 *
 * The sample of an identity above `sample_above` comes from `deriveRng(seed,
 * "dataset/sample/<identity>")`.
 *
 * @throws {DatasetError} When two selected sources of an identity map to the
 *   same output name.
 */
export async function planBuild(
  listing: SourceListing,
  config: DatasetConfig,
  seed: number,
): Promise<BuildPlan> {
  const byRule = ruleCounts();
  const imagesByRule = ruleCounts();
  const jobs: IdentityJob[] = [];
  for (const [index, identity] of listing.identities.entries()) {
    const rule = ruleFor(identity.images.length, config.rules);
    byRule[rule]++;
    imagesByRule[rule] += identity.images.length;
    if (rule === "dropped") continue;
    let picked = identity.images.map((_, k) => k);
    if (rule === "sampled_350") {
      const rng = await deriveRng(seed, `dataset/sample/${identity.name}`);
      picked = rng.sampleIndices(
        identity.images.length,
        config.rules.sample_above,
      );
    }
    const images = picked.map((k) => identity.images[k]);
    const imageNames = picked.map((k) => identity.imageNames[k]);
    jobs.push({
      index,
      name: identity.name,
      rule,
      images,
      imageNames,
      stems: outputStems(imageNames, images.map(refLabel)),
    });
  }
  return {
    identities_in: listing.identities.length,
    images_in: listing.imageCount,
    by_rule: byRule,
    images_in_by_rule: imagesByRule,
    empty_identities: listing.identities
      .filter((identity) => identity.images.length === 0)
      .map((identity) => identity.name),
    listing_skipped: listing.skipped,
    jobs,
  };
}

/** Returns a zero count for every rule, in the order of metrics.json. */
export function ruleCounts(): Record<RuleName, number> {
  return Object.fromEntries(RULE_NAMES.map((rule) => [rule, 0])) as Record<
    RuleName,
    number
  >;
}

/**
 * Returns the 1-based shard of an identity among `count`: the first four
 * bytes of SHA-256 of its name, as a big-endian integer, modulo `count`,
 * plus one. It depends on the name alone, so every machine agrees and a
 * shard keeps its identities when others are added.
 */
export function shardOf(name: string, count: number): number {
  const digest = createHash("sha256").update(name, "utf8").digest();
  return (digest.readUInt32BE(0) % count) + 1;
}

/**
 * Parses `--shard i/n`.
 *
 * @throws {RangeError} When the text is not `i/n` with 1 <= i <= n.
 */
export function parseShard(text: string): ShardSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!(index >= 1 && index <= count)) {
    throw new RangeError(
      `Invalid shard "${text}": expected i/n with 1 <= i <= n, such as 1/4`,
    );
  }
  return { index, count };
}

/**
 * Hashes what decides a build's outputs: the dataset config (less `workers`,
 * which changes only the speed), the seed, and every identity with its
 * sources in listing order.
 */
export function buildFingerprint(
  listing: SourceListing,
  config: DatasetConfig,
  seed: number,
): string {
  const { workers: _workers, ...outputConfig } = config;
  const hash = createHash("sha256");
  hash.update(canonicalJson({ dataset: outputConfig, seed }));
  for (const identity of listing.identities) {
    hash.update(`\n${identity.name}`);
    for (const [k, ref] of identity.images.entries()) {
      hash.update(`\t${identity.imageNames[k]}=${refLabel(ref)}`);
    }
  }
  return hash.digest("hex");
}

/**
 * Returns the output name stem of each source: its name without the
 * extension, or with the extension after an underscore (`a_jpg`) when another
 * source of the identity has the same stem.
 *
 * @param names The sources' names (see `SourceIdentity.imageNames`).
 * @param labels The sources as messages show them.
 * @throws {DatasetError} When two sources still map to the same stem.
 */
export function outputStems(names: string[], labels: string[]): string[] {
  const plain = names.map((name) =>
    name.slice(0, name.length - extname(name).length)
  );
  const counts = new Map<string, number>();
  for (const stem of plain) counts.set(stem, (counts.get(stem) ?? 0) + 1);
  const stems = plain.map((stem, k) =>
    counts.get(stem) === 1 ? stem : `${stem}_${extname(names[k]).slice(1)}`
  );
  const seen = new Map<string, string>();
  for (const [k, stem] of stems.entries()) {
    const other = seen.get(stem);
    if (other !== undefined) {
      throw new DatasetError(
        labels[k],
        `Cannot name dataset outputs: "${other}" and "${
          labels[k]
        }" both map to "${stem}": rename one of them`,
      );
    }
    seen.set(stem, labels[k]);
  }
  return stems;
}
