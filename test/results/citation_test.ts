import assert from "node:assert/strict";
import bibtexParse from "@orcid/bibtex-parse-js";
import { InputError } from "../../src/errors.ts";
import {
  citationKey,
  escapeBibtex,
  parseCitationCff,
  toBibtex,
} from "../../src/results/citation.ts";

const CITATION = new URL("../../CITATION.cff", import.meta.url).pathname;

interface ParsedEntry {
  citationKey: string;
  entryType: string;
  entryTags: Record<string, string>;
}

async function parsedEntries(): Promise<ParsedEntry[]> {
  const citation = parseCitationCff(
    await Deno.readTextFile(CITATION),
    "CITATION.cff",
  );
  return bibtexParse.toJSON(toBibtex(citation));
}

Deno.test("toBibtex gives the repository and the paper", async () => {
  const entries = await parsedEntries();
  assert.deepEqual(entries.map((e) => [e.entryType, e.citationKey]), [
    ["software", "mobilefacenet_reproduced"],
    ["inproceedings", "chen2018mobilefacenets"],
  ]);
});

Deno.test("toBibtex fields of the repository entry", async () => {
  const [repository] = await parsedEntries();
  assert.equal(
    repository.entryTags.title,
    "{MobileFaceNet, reproduced end to end}",
  );
  assert.equal(
    repository.entryTags.author,
    "{The MobileFaceNet reproduction contributors}",
  );
});

Deno.test("toBibtex fields of the paper entry", async () => {
  const paper = (await parsedEntries())[1].entryTags;
  assert.equal(
    paper.title,
    "{MobileFaceNets: Efficient CNNs for Accurate Real-Time Face Verification on Mobile Devices}",
  );
  assert.equal(
    paper.author,
    "Chen, Sheng and Liu, Yang and Gao, Xiang and Han, Zhen",
  );
  assert.equal(paper.year, "2018");
  assert.equal(
    paper.booktitle,
    "Chinese Conference on Biometric Recognition (CCBR 2018)",
  );
  assert.equal(paper.eprint, "1804.07573");
  assert.equal(paper.archivePrefix, "arXiv");
  assert.equal(paper.url, "https://arxiv.org/abs/1804.07573");
});

Deno.test("escapeBibtex escapes special characters", () => {
  assert.equal(escapeBibtex("a_b & 50% {x}"), "a\\_b \\& 50\\% \\{x\\}");
  assert.equal(
    escapeBibtex("a\\b~c^d"),
    "a\\textbackslash{}b\\textasciitilde{}c\\textasciicircum{}d",
  );
});

Deno.test("citationKey uses name, year and title", () => {
  assert.equal(
    citationKey({
      type: "article",
      title: "Deep Residual Learning",
      authors: [{ "family-names": "He", "given-names": "Kaiming" }],
      year: 2016,
    }),
    "he2016deep",
  );
});

Deno.test("parseCitationCff names a missing author list", () => {
  assert.throws(
    () =>
      parseCitationCff(
        'cff-version: 1.2.0\ntype: software\ntitle: "x"\nauthors: []\n',
        "CITATION.cff",
      ),
    (error: Error) =>
      error instanceof InputError &&
      error.message ===
        'Invalid CITATION.cff key "(root).authors": expected a non-empty list',
  );
});

Deno.test("parseCitationCff names an author without a name", () => {
  const text = [
    "cff-version: 1.2.0",
    "type: software",
    "title: x",
    "authors: [{ name: A }]",
    "references:",
    "  - type: article",
    "    title: y",
    "    authors: [{ given-names: B }]",
  ].join("\n");
  assert.throws(
    () => parseCitationCff(text, "CITATION.cff"),
    (error: Error) =>
      error instanceof InputError &&
      error.message ===
        'Invalid CITATION.cff key "references[0].authors[0]": expected a mapping with family-names or name',
  );
});
