/**
 * The contract between the places training images come from and the build
 * that turns them into a training set. A source lists identities and their
 * images; the build reads each image's encoded bytes through its
 * {@linkcode ImageRef}, which is plain data, so a worker can read it without
 * the object that listed it.
 *
 * Formats (the `format` key of a `dataset.roots` entry):
 * - `folders`: `<root>/<identity>/<image>`, any dataset laid out this way;
 * - `trillion_pairs`: the Trillion Pairs download, whose
 *   `train_celebrity/celebrity/<identity>/*.jpg` and
 *   `train_msra/msra/<identity>/*.jpg` form one label space with the part
 *   name prefixed to each identity;
 * - `recordio`: an insightface `train.rec` with its `train.idx`, grouped by
 *   the label in each record header.
 *
 * @module
 */

/** The location of one image's encoded bytes: a file, or a record. */
export type ImageRef =
  | {
    kind: "file";
    /** Path of the image file. */
    path: string;
  }
  | {
    kind: "record";
    /** Path of the `.rec` file. */
    rec: string;
    /** Key of the record in the `.idx` file. */
    key: number;
    /** Byte offset of the record's header in the `.rec` file. */
    offset: number;
  };

/** One identity of a source and its images, in a stable order. */
export interface SourceIdentity {
  /**
   * The root's prefix followed by the identity's own name: the folder name,
   * `<part>_<folder>` for Trillion Pairs, or the record label as 8 digits.
   * Unique over all roots; labels follow its code-point order.
   */
  name: string;
  /** The images: natural order of file names, or ascending record key. */
  images: ImageRef[];
  /**
   * A name per image, unique within the identity and stable across runs:
   * the file name, or `<key>.rec` for a record. Seeds of per-image random
   * choices and output file names derive from it.
   */
  imageNames: string[];
}

/** An image or index entry that listing could not use, counted and listed. */
export interface SkippedEntry {
  /** The file, with `#<key>` appended for one record of a `.rec` file. */
  path: string;
  reason: string;
}

/** The result of listing every configured root. */
export interface SourceListing {
  /** Every identity, including those with no image, sorted by name. */
  identities: SourceIdentity[];
  /** Images over all identities. */
  imageCount: number;
  /** Entries found but not usable, such as an index entry past the end. */
  skipped: SkippedEntry[];
}
