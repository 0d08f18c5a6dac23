/**
 * `deno task cite`: BibTeX for this repository and the paper it reproduces,
 * from CITATION.cff.
 *
 * @module
 */

import { parseFlags, runTask } from "./_cli.ts";
import { parseCitationCff, toBibtex } from "../src/results/citation.ts";

const USAGE = `Usage: deno task cite

  Prints BibTeX entries for this repository and the MobileFaceNets paper,
  from CITATION.cff.`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const path = "CITATION.cff";
  const citation = parseCitationCff(await Deno.readTextFile(path), path);
  console.log(toBibtex(citation).trimEnd());
}, USAGE);
