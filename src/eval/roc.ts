/**
 * The ROC curve of a verification set over all its pairs, its area (AUC) and
 * its equal error rate (EER). A pair is accepted as same-person when its
 * squared L2 distance is small, so the score of the ROC is the negated
 * distance.
 *
 * @module
 */

/** ROC points ordered by increasing false accept rate. */
export interface RocPoints {
  /** False accept rate: accepted different-person pairs / different-person pairs. */
  far: number[];
  /** True accept rate: accepted same-person pairs / same-person pairs. */
  tar: number[];
}

/** The full ROC curve of a set with its summary numbers. */
export interface RocCurve extends RocPoints {
  /** Area under the ROC curve, in [0, 1]. */
  auc: number;
  /** Equal error rate: the rate at which FAR equals 1 - TAR, in [0, 1]. */
  eer: number;
}

/**
 * Computes the exact ROC curve with its AUC and EER.
 *
 * The curve has one point per distinct distance `d`: the rates when every pair
 * with distance `<= d` is accepted, plus the point (0, 0) in front. Pairs with
 * equal distances enter together, so a tie between a same-person and a
 * different-person pair gives a diagonal segment, which counts as half a
 * correct ordering in the AUC. The AUC is the trapezoid sum over all points,
 * accumulated in integer counts and divided once, so it equals the
 * Mann-Whitney probability P(d_same < d_diff) + P(d_same = d_diff) / 2
 * exactly up to the final division.
 *
 * The EER is read off the piecewise linear curve: on the first segment where
 * FAR - (1 - TAR) changes sign, both rates are interpolated linearly to the
 * point where they are equal.
 *
 * @param distances Squared L2 distances, `[P]`, in any order; all finite.
 * @param issame Whether each pair shows one person, `[P]`.
 * @returns The points (FAR and TAR, `[distinct distances + 1]` each), AUC and
 *   EER.
 * @throws {RangeError} When a distance is not finite, or when the set has no
 *   same-person or no different-person pair, because one of the rates is then
 *   undefined.
 * @throws {TypeError} When the lengths differ.
 */
export function rocCurve(
  distances: Float64Array,
  issame: readonly boolean[],
): RocCurve {
  if (distances.length !== issame.length) {
    throw new TypeError(
      `Cannot compute ROC: ${distances.length} distances but ${issame.length} labels`,
    );
  }
  for (let i = 0; i < distances.length; i++) {
    if (!Number.isFinite(distances[i])) {
      throw new RangeError(
        `Cannot compute ROC: distance of pair ${i} is ${
          distances[i]
        }, expected a finite number`,
      );
    }
  }
  let sameCount = 0;
  for (const same of issame) if (same) sameCount += 1;
  const diffCount = issame.length - sameCount;
  if (sameCount === 0 || diffCount === 0) {
    throw new RangeError(
      `Cannot compute ROC: need both same-person and different-person pairs, found ${sameCount} and ${diffCount}`,
    );
  }

  // Pair indices by increasing distance.
  const order = Array.from(distances.keys()).sort((a, b) =>
    distances[a] - distances[b]
  );

  const far = [0];
  const tar = [0];
  // Twice the area times sameCount * diffCount, as an integer.
  let doubleAreaCount = 0;
  let eer = Number.NaN;
  let truePositives = 0;
  let falsePositives = 0;
  let gap = -1; // FAR - (1 - TAR) at the previous point
  for (let start = 0; start < order.length;) {
    // Accept the whole group of pairs at this distance.
    let end = start;
    const distance = distances[order[start]];
    let groupSame = 0;
    let groupDiff = 0;
    while (end < order.length && distances[order[end]] === distance) {
      if (issame[order[end]]) groupSame += 1;
      else groupDiff += 1;
      end += 1;
    }
    doubleAreaCount += groupDiff * (2 * truePositives + groupSame);
    truePositives += groupSame;
    falsePositives += groupDiff;
    start = end;

    const pointFar = falsePositives / diffCount;
    const pointTar = truePositives / sameCount;
    const pointGap = pointFar + pointTar - 1;
    if (Number.isNaN(eer) && pointGap >= 0) {
      // FAR and 1 - TAR are linear along the segment and meet at `weight`.
      const weight = -gap / (pointGap - gap);
      const previousFar = far[far.length - 1];
      eer = previousFar + weight * (pointFar - previousFar);
    }
    gap = pointGap;
    far.push(pointFar);
    tar.push(pointTar);
  }

  const auc = doubleAreaCount / (2 * sameCount * diffCount);
  return { far, tar, auc, eer };
}

/**
 * Keeps at most `maxPoints` points of a ROC curve for plotting, evenly spaced
 * by index and always including the first and the last point.
 *
 * @param points A curve as returned by {@linkcode rocCurve}.
 * @param maxPoints Upper bound on the points kept; at least 2.
 * @returns The kept points, in the original order; the input when it is
 *   already small enough.
 * @throws {RangeError} When `maxPoints` is not an integer of at least 2.
 */
export function thinRoc(points: RocPoints, maxPoints = 500): RocPoints {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(
      `Cannot thin ROC: maxPoints must be an integer of at least 2, found ${maxPoints}`,
    );
  }
  const count = points.far.length;
  if (count <= maxPoints) {
    return { far: points.far.slice(), tar: points.tar.slice() };
  }
  const far: number[] = [];
  const tar: number[] = [];
  let previous = -1;
  for (let j = 0; j < maxPoints; j++) {
    const index = Math.round((j * (count - 1)) / (maxPoints - 1));
    if (index === previous) continue;
    far.push(points.far[index]);
    tar.push(points.tar[index]);
    previous = index;
  }
  return { far, tar };
}
