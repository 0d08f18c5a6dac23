/**
 * `deno task audit RUN_DIR`: re-verifies a run folder's schemas, hashes,
 * config and metrics, prints the table of checks, and exits 1 when any
 * check fails.
 *
 * @module
 */

import {
  evaluateEmbeddingsDump,
  readEmbeddingsDump,
} from "../src/eval/embeddings_dump.ts";
import { parseFlags, runTask, UsageError } from "./_cli.ts";
import { auditFailed, auditRun, renderAudit } from "../src/results/audit.ts";

const USAGE = `Usage: deno task audit RUN_DIR [--require-artifacts]

  RUN_DIR              the run folder, such as results/<run-id>
  --require-artifacts  fail when an artefact named in provenance.json is not
                       on disk (by default it is reported as absent, because
                       artifacts/ and cache/ are not in git)`;

await runTask(async () => {
  const { values, positionals } = parseFlags(Deno.args, {
    "require-artifacts": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      `Invalid arguments: expected one run folder, got ${positionals.length}: pass one folder such as results/<run-id>`,
    );
  }
  const runDir = positionals[0];
  const checks = await auditRun(runDir, {
    evaluateEmbeddings: async (path, protocol) =>
      evaluateEmbeddingsDump(await readEmbeddingsDump(path), protocol).metrics,
  });
  console.log(renderAudit(runDir, checks));
  if (auditFailed(checks, { requireArtifacts: values["require-artifacts"] })) {
    Deno.exit(1);
  }
}, USAGE);
