/**
 * `deno task paper-repro`: regenerates paper-repro.md from the run folders
 * under results/ (or checks it is current with --check).
 *
 * @module
 */

import { parseFlags, runTask } from "./_cli.ts";
import { writeTextAtomic } from "../src/fs.ts";
import { readRuns, renderPaperRepro } from "../src/results/paper_repro.ts";

const USAGE = `Usage: deno task paper-repro [--results-dir DIR] [--check]

  --check   exit 1 when paper-repro.md differs from what the run folders give`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    "results-dir": { type: "string" },
    check: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const text = renderPaperRepro(
    await readRuns(values["results-dir"] ?? "results"),
  );
  if (values.check) {
    const current = await Deno.readTextFile("paper-repro.md").catch(() => "");
    if (current !== text) {
      console.error("paper-repro.md is out of date: run deno task paper-repro");
      Deno.exit(1);
    }
    return;
  }
  await writeTextAtomic("paper-repro.md", text);
  console.log("paper-repro.md");
}, USAGE);
