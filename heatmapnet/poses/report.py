"""Per-class precision and recall, and the confusion matrix as a table and as a PNG (NumPy and OpenCV)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def confusion(truth, predicted, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(truth, int), np.asarray(predicted, int)), 1)
    return matrix


def per_class(matrix: np.ndarray, classes) -> list[dict]:
    rows = []
    for index, name in enumerate(classes):
        hits, truths, calls = matrix[index, index], matrix[index].sum(), matrix[:, index].sum()
        rows.append({"class": name, "count": int(truths), "precision": float(hits / calls) if calls else None,
                     "recall": float(hits / truths) if truths else None})
    return rows


def summary(matrix: np.ndarray, classes) -> dict:
    total = matrix.sum()
    return {"accuracy": float(np.trace(matrix) / total) if total else None, "count": int(total),
            "classes": list(classes), "per_class": per_class(matrix, classes), "confusion": matrix.tolist()}


def markdown_table(result: dict) -> str:
    shown = lambda value: "n/a" if value is None else f"{value:.3f}"  # noqa: E731
    lines = ["| class | crops | precision | recall |", "|---|---|---|---|"]
    lines += [f"| {row['class']} | {row['count']} | {shown(row['precision'])} | {shown(row['recall'])} |"
              for row in result["per_class"]]
    return "\n".join(lines)


def text_matrix(matrix: np.ndarray, classes) -> str:
    """A fixed-width confusion matrix for the terminal."""
    width = max(6, *(len(name) for name in classes)) + 1
    head = " " * width + "".join(f"{name[:6]:>7}" for name in classes)
    return "\n".join([head] + [f"{name:<{width}}" + "".join(f"{value:>7}" for value in row)
                               for name, row in zip(classes, matrix)])


def confusion_png(matrix: np.ndarray, classes, path, title: str = "") -> Path:
    """Row-normalised matrix (recall on the diagonal) with counts, rows = truth, columns = prediction."""
    cell, margin, top = 46, 120, 40 + 110
    n = len(classes)
    image = np.full((top + n * cell + 10, margin + n * cell + 10, 3), 255, np.uint8)
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (8, 26), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for j, name in enumerate(classes):  # column names written upwards
        label = np.full((cell, 110, 3), 255, np.uint8)
        cv2.putText(label, name[:13], (4, cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        image[40:40 + 110, margin + j * cell:margin + (j + 1) * cell] = np.rot90(label)
    for i, name in enumerate(classes):
        y = top + i * cell
        cv2.putText(image, name[:14], (4, y + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(n):
            shade = int(255 * (1 - fractions[i, j]))
            colour = (255, shade, shade) if i == j else (shade, shade, 255)
            x = margin + j * cell
            cv2.rectangle(image, (x, y), (x + cell - 1, y + cell - 1), colour, -1)
            cv2.rectangle(image, (x, y), (x + cell - 1, y + cell - 1), (200, 200, 200), 1)
            if matrix[i, j]:
                ink = (255, 255, 255) if fractions[i, j] > 0.5 else (0, 0, 0)
                cv2.putText(image, str(matrix[i, j]), (x + 4, y + cell // 2 + 5), font, 0.42, ink, 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path
