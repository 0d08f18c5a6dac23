/**
 * Writes the fixed embeddings file of embeddings_dump_test.ts to the path
 * given as the first argument, for the independent check in
 * golden_metrics.py.
 */
import { writeEmbeddingsDump } from "../../src/eval/embeddings_dump.ts";
import { goldenEmbeddings } from "./_golden_embeddings.ts";

if (Deno.args.length !== 1) {
  console.error("Usage: write_golden_embeddings.ts FILE");
  Deno.exit(2);
}
await writeEmbeddingsDump(Deno.args[0], goldenEmbeddings());
