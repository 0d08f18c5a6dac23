/**
 * BibTeX from CITATION.cff (Citation File Format 1.2.0): one entry for the
 * repository and one for each work under `references`, such as the
 * MobileFaceNets paper. Only the CFF keys that this repository's file uses
 * are read, and any other key is ignored.
 *
 * @module
 */

import { parse } from "yaml";
import { InputError } from "../errors.ts";

/** A CFF author: a person, or an entity such as a group, by `name`. */
export interface CffAuthor {
  "family-names"?: string;
  "given-names"?: string;
  name?: string;
}

/** A cited work: the repository itself or one of its references. */
export interface CffWork {
  type: string;
  title: string;
  authors: CffAuthor[];
  year?: number;
  url?: string;
  keywords?: string[];
  conference?: { name: string };
  journal?: string;
  identifiers?: { type: string; value: string }[];
}

/** The parts of CITATION.cff that become BibTeX. */
export interface CitationFile extends CffWork {
  "cff-version": string;
  references: CffWork[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Checks one work's keys, naming the first invalid one. */
function checkWork(value: unknown, key: string, path: string): CffWork {
  const fail = (field: string, expected: string): never => {
    throw new InputError(
      `Invalid ${path} key "${key}${field}": expected ${expected}`,
    );
  };
  if (!isRecord(value)) return fail("", "a mapping");
  if (typeof value.title !== "string" || value.title.trim() === "") {
    fail(".title", "a non-empty string");
  }
  if (typeof value.type !== "string") fail(".type", "a string");
  if (!Array.isArray(value.authors) || value.authors.length === 0) {
    fail(".authors", "a non-empty list");
  }
  for (const [i, author] of (value.authors as unknown[]).entries()) {
    const named = isRecord(author) &&
      (typeof author.name === "string" ||
        typeof author["family-names"] === "string");
    if (!named) {
      fail(`.authors[${i}]`, "a mapping with family-names or name");
    }
  }
  if (value.year !== undefined && !Number.isInteger(value.year)) {
    fail(".year", "an integer");
  }
  return value as unknown as CffWork;
}

/**
 * Parses CITATION.cff and checks the keys BibTeX needs.
 *
 * @param text The file's YAML.
 * @param path The file's path, for messages.
 * @throws {SyntaxError} When the text is not YAML.
 * @throws {InputError} Naming the first missing or invalid key.
 */
export function parseCitationCff(text: string, path: string): CitationFile {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${path}": ${(error as Error).message}`,
    );
  }
  if (!isRecord(value) || typeof value["cff-version"] !== "string") {
    throw new InputError(
      `Invalid ${path} key "cff-version": expected a string such as "1.2.0"`,
    );
  }
  checkWork(value, "(root)", path);
  const references = value.references ?? [];
  if (!Array.isArray(references)) {
    throw new InputError(`Invalid ${path} key "references": expected a list`);
  }
  references.forEach((work, i) => checkWork(work, `references[${i}]`, path));
  return { ...(value as unknown as CitationFile), references };
}

/** Escapes the characters BibTeX and LaTeX treat as commands. */
export function escapeBibtex(text: string): string {
  return text.replace(/[\\{}&%$#_~^]/g, (char) => {
    switch (char) {
      case "\\":
        return "\\textbackslash{}";
      case "~":
        return "\\textasciitilde{}";
      case "^":
        return "\\textasciicircum{}";
      default:
        return `\\${char}`;
    }
  });
}

/**
 * Formats the author list: persons as `Family, Given`, an entity in braces
 * so that BibTeX keeps its name whole, joined by `and`.
 */
function bibtexAuthors(authors: CffAuthor[]): string {
  return authors.map((author) => {
    if (author["family-names"] === undefined) {
      return `{${escapeBibtex(author.name!)}}`;
    }
    const family = escapeBibtex(author["family-names"]);
    const given = author["given-names"];
    return given === undefined ? family : `${family}, ${escapeBibtex(given)}`;
  }).join(" and ");
}

/** Splits a text into lowercase ASCII words, for citation keys. */
function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((word) =>
    word.length > 0
  );
}

/**
 * Builds the citation key: the first author's family name (or the first
 * word of an entity's name after "the"), the year, and the first title word
 * that differs from the name. Without a year an underscore joins the parts.
 */
export function citationKey(work: CffWork): string {
  const first = work.authors[0];
  const nameWords = words(first["family-names"] ?? first.name ?? "");
  const name = nameWords.find((word) => word !== "the") ?? "anonymous";
  const titleWord = words(work.title).find((word) => word !== name) ?? "";
  return `${name}${work.year ?? "_"}${titleWord}`;
}

/** Returns the BibTeX entry type of a CFF work type. */
function entryType(work: CffWork): string {
  switch (work.type) {
    case "software":
      return "software";
    case "conference-paper":
      return "inproceedings";
    case "article":
      return "article";
    default:
      return "misc";
  }
}

/** Formats one work as a BibTeX entry. */
export function toBibtexEntry(work: CffWork): string {
  const fields: [string, string][] = [
    // Double braces keep the title's capitals as written.
    ["title", `{${escapeBibtex(work.title.trim())}}`],
    ["author", bibtexAuthors(work.authors)],
  ];
  if (work.year !== undefined) fields.push(["year", String(work.year)]);
  if (work.conference) {
    fields.push(["booktitle", escapeBibtex(work.conference.name)]);
  }
  if (work.journal) fields.push(["journal", escapeBibtex(work.journal)]);
  for (const identifier of work.identifiers ?? []) {
    const arxiv = /^arXiv:(.+)$/.exec(identifier.value);
    if (arxiv) {
      fields.push(["eprint", arxiv[1]], ["archivePrefix", "arXiv"]);
    } else if (identifier.type === "doi") {
      fields.push(["doi", identifier.value]);
    }
  }
  // URLs stay unescaped: the url and hyperref packages read them verbatim.
  if (work.url) fields.push(["url", work.url]);
  if (work.keywords) {
    fields.push(["keywords", escapeBibtex(work.keywords.join(", "))]);
  }
  const body = fields.map(([name, value]) => `  ${name} = {${value}}`)
    .join(",\n");
  return `@${entryType(work)}{${citationKey(work)},\n${body}\n}\n`;
}

/** Formats the repository and then each of its references as BibTeX. */
export function toBibtex(citation: CitationFile): string {
  return [citation, ...citation.references].map(toBibtexEntry).join("\n");
}
