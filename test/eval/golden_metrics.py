"""Independent computation of the literals in embeddings_dump_test.ts.

Reads an embeddings file (safetensors: embeddings1, embeddings2 float32
[P, D], issame uint8 [P]) and prints the verification metrics computed with
numpy and scikit-learn: 10-fold KFold without shuffling, thresholds 0 to 4 in
steps of 0.01 (401 values, i * 0.01), d < t predicts same-person, the first
best threshold on the training folds (np.argmax), VAL at FAR 1e-3 with the
threshold interpolated where the training FAR reaches the target, AUC from
roc_curve and auc, and EER where FAR = 1 - TAR on the ROC (brentq).
insightface's interp1d(far, thresholds, kind="slinear") raises "Expect x to
not have duplicates" on these training FARs with scipy 1.10, so the VAL
threshold rule is written out: linear interpolation from the last threshold
whose training FAR is at most the target.

Run once by hand, not by the test suite:

    deno run --allow-read --allow-env --allow-sys --allow-write=/tmp \
        test/eval/write_golden_embeddings.ts /tmp/golden.safetensors
    python3 test/eval/golden_metrics.py /tmp/golden.safetensors

It needs python3-numpy, python3-scipy and python3-sklearn (Debian 12:
numpy 1.24, scipy 1.10, scikit-learn 1.2).
"""

import json
import sys

import numpy as np
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import auc, roc_curve
from sklearn.model_selection import KFold


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    start = 8 + header_length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "U8": np.uint8}[entry["dtype"]]
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(
            data[start + begin : start + end], dtype=dtype
        ).reshape(entry["shape"])
    return tensors


def accuracy(threshold, dist, issame):
    predict = np.less(dist, threshold)
    tp = np.sum(predict & issame)
    tn = np.sum(~predict & ~issame)
    return (tp + tn) / dist.size


def val_far(threshold, dist, issame):
    predict = np.less(dist, threshold)
    return (
        np.sum(predict & issame) / np.sum(issame),
        np.sum(predict & ~issame) / np.sum(~issame),
    )


def threshold_at_far(far_train, thresholds, target):
    if far_train.max() < target:
        return 0.0
    b = np.flatnonzero(far_train <= target)[-1]
    if b == len(far_train) - 1 or far_train[b] == target:
        return thresholds[b]
    weight = (target - far_train[b]) / (far_train[b + 1] - far_train[b])
    return thresholds[b] + weight * (thresholds[b + 1] - thresholds[b])


def main(path, far_target=1e-3):
    tensors = read_safetensors(path)
    e1 = tensors["embeddings1"].astype(np.float64)
    e2 = tensors["embeddings2"].astype(np.float64)
    issame = tensors["issame"].astype(bool)
    dist = np.sum(np.square(e1 - e2), axis=1)
    thresholds = np.arange(401) * 0.01

    accuracies, best_thresholds, vals = [], [], []
    for train, test in KFold(n_splits=10, shuffle=False).split(dist):
        train_accuracy = np.array(
            [accuracy(t, dist[train], issame[train]) for t in thresholds]
        )
        best = np.argmax(train_accuracy)
        accuracies.append(accuracy(thresholds[best], dist[test], issame[test]))
        best_thresholds.append(thresholds[best])
        far_train = np.array(
            [val_far(t, dist[train], issame[train])[1] for t in thresholds]
        )
        threshold = threshold_at_far(far_train, thresholds, far_target)
        vals.append(val_far(threshold, dist[test], issame[test])[0])

    fpr, tpr, _ = roc_curve(issame, -dist, drop_intermediate=False)
    eer = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0, xtol=1e-15)
    print("fold_accuracies", [repr(float(a)) for a in accuracies])
    print("accuracy_mean", repr(float(np.mean(accuracies))))
    print("accuracy_std", repr(float(np.std(accuracies))))
    print("threshold_mean", repr(float(np.mean(best_thresholds))))
    print("val_at_far_1e-3", repr(float(np.mean(vals))))
    print("auc", repr(float(auc(fpr, tpr))))
    print("eer", repr(float(eer)))


if __name__ == "__main__":
    main(sys.argv[1])
