/**
 * Shared pieces of the task entry points (a private module of tasks/): the common flags, config
 * resolution, the terminal reporter, and turning expected errors into one
 * clear message and exit code 1 instead of a stack trace.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  loadConfig,
  profilePath,
  type ResolvedConfig,
} from "../src/config/load.ts";
import { ConfigError } from "../src/config/validate.ts";
import { BuildWorkerError } from "../src/data/build_pool.ts";
import { DatasetError } from "../src/data/dataset_error.ts";
import { MissingDataError } from "../src/pipeline/preflight.ts";
import { stderrWriter } from "../src/progress.ts";
import { createReporter, type Reporter } from "../src/report.ts";
import { InputError } from "../src/errors.ts";
import { RunExistsError } from "../src/results/run_folder.ts";
import {
  NonFiniteLossError,
  TrainingInterruptedError,
} from "../src/train/train.ts";

/** Flags that select and adjust a configuration. */
export const CONFIG_FLAGS = {
  profile: { type: "string" },
  config: { type: "string" },
  set: { type: "string", multiple: true },
  backend: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** `--workers N` of the tasks that build the dataset (dataset.workers). */
export const WORKERS_FLAG = {
  workers: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Parses flags, turning an unknown flag into a usage error. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A command line that cannot be used. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Returns the `--set` overrides of the flags that stand for a config key:
 * `--backend NAME` (runtime.backend) and `--workers N` (dataset.workers).
 */
export function flagOverrides(
  values: { backend?: string; workers?: string },
): string[] {
  const overrides: string[] = [];
  if (values.backend !== undefined) {
    overrides.push(`runtime.backend=${values.backend}`);
  }
  if (values.workers !== undefined) {
    overrides.push(`dataset.workers=${values.workers}`);
  }
  return overrides;
}

/**
 * Resolves `--profile`/`--config`, `--set`, `--backend` and `--workers`
 * into a config. The default profile is `paper`.
 *
 * @throws {UsageError} When both --profile and --config are given.
 */
export async function resolveConfig(values: {
  profile?: string;
  config?: string;
  set?: string[];
  backend?: string;
  workers?: string;
}): Promise<ResolvedConfig> {
  if (values.profile !== undefined && values.config !== undefined) {
    throw new UsageError(
      "Use either --profile NAME or --config FILE, not both",
    );
  }
  const path = values.config ?? profilePath(values.profile ?? "paper");
  const overrides = [...(values.set ?? []), ...flagOverrides(values)];
  return await loadConfig(path, overrides);
}

/** Returns the reporter of a task: human lines and progress on stderr. */
export function terminalReporter(): Reporter {
  return createReporter({ writer: stderrWriter });
}

const EXPECTED_ERRORS = [
  UsageError,
  ConfigError,
  MissingDataError,
  RunExistsError,
  DatasetError,
  BuildWorkerError,
  NonFiniteLossError,
  InputError,
  SyntaxError,
  RangeError,
  // Every file-system and permission error Deno raises names the path.
  ...Object.values(Deno.errors),
];

/**
 * Deno's error for a path outside the task's pinned permissions. The
 * operating system's own denials raise PermissionDenied, which gets no hint.
 */
const PERMISSION_ERRORS = [Deno.errors.NotCapable];

/** Exit code of a run stopped by SIGINT: 128 plus the signal number 2. */
const INTERRUPTED_EXIT_CODE = 130;

/**
 * Runs a task body; an expected error prints its message on stderr and
 * exits with code 1, anything else keeps its stack trace. A training run
 * stopped by SIGINT prints how to continue and exits with code 130.
 */
export async function runTask(
  main: () => Promise<void>,
  usage: string,
): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof TrainingInterruptedError) {
      console.error(error.message);
      Deno.exit(INTERRUPTED_EXIT_CODE);
    }
    if (EXPECTED_ERRORS.some((kind) => error instanceof kind)) {
      console.error(`error: ${(error as Error).message}`);
      if (error instanceof UsageError) console.error(usage);
      if (PERMISSION_ERRORS.some((kind) => error instanceof kind)) {
        console.error(
          "The pipeline tasks may read only the repository and ../shared, and write only results/ and cache/: " +
            "put the data, or a symlink to it, under data/ in the repository",
        );
      }
      Deno.exit(1);
    }
    throw error;
  }
}
