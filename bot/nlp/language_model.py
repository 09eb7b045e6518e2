"""py3langid's language model in ~9 MB of arrays instead of ~50 MB, giving the same answers.

py3langid finds the byte n-grams of a text by walking a dense automaton: 104,583 states × 256
bytes of next states (38,346 distinct rows, 37 MB of uint32) and the n-grams' log-probabilities
for all 97 languages (27 MB of float16). Loading it peaked at ~105 MB above the process (the
decompressed arrays and their copies side by side) and left ~50 MB after the languages were
restricted. That automaton is an Aho-Corasick one: every row is its state's "fail" row with the
state's own children written over it (``tests/nlp/test_language_model.py`` checks every row of the
shipped file). So the same walk needs only each state's children and its fail state (~1.3 MB), and
the probability table only the candidate languages' columns (5.6 MB). Both are built from
py3langid's own file, read a slice at a time (never whole), so loading adds little above what stays:
the process grew by 20 MB and peaked 20 MB above its start, against 54 MB and 104 MB with
py3langid's loader (``tests/nlp/test_language_model.py``); ~1.2 s of CPU, once.

:meth:`NgramLanguageIdentifier.classify` is py3langid's ``LanguageIdentifier.classify`` with
``norm_probs=True`` after ``set_languages(candidates)``: the same features in the same order and
the same numpy operations, so the same language and the same probability, to the last bit.
"""

from __future__ import annotations

import lzma
import math
import shutil
import tempfile
import unicodedata
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

_CHUNK_ROWS = 1024  # automaton rows (1 KB each) or table rows read at a time while loading


class ModelLayoutError(ValueError):
    """py3langid's file is not laid out as this reader expects (another py3langid version)."""


class NgramLanguageIdentifier:
    """Naive Bayes over byte n-grams, restricted to ``classes``; see the module doc."""

    def __init__(self, classes: list[str], log_prior: np.ndarray, log_likelihood: np.ndarray,
                 first_child: array, child_bytes: bytes, child_states: array, fail: array, feature: array) -> None:
        self.classes = classes
        self._log_prior = log_prior  # (languages,) float32, py3langid's nb_pc
        self._log_likelihood = log_likelihood  # (features, languages) float16, py3langid's nb_ptc
        # State s's children are child_states[first_child[s]:first_child[s + 1]], on the bytes child_bytes[...] (sorted).
        self._first_child, self._child_bytes, self._child_states = first_child, child_bytes, child_states
        self._fail = fail  # the state of the longest proper suffix that is a state
        self._feature = feature  # the n-gram a state completes, or -1
        self._alias_pairs: list[tuple[int, int]] = []  # (first column, later column) of a label in two
        first: dict[str, int] = {}
        for column, code in enumerate(classes):
            if code in first:
                self._alias_pairs.append((first[code], column))
            else:
                first[code] = column

    @classmethod
    def from_py3langid(cls, candidates: Iterable[str]) -> NgramLanguageIdentifier:
        """The model shipped in py3langid, restricted to ``candidates`` (ISO 639-1 codes).

        Raises :class:`ModelLayoutError` when the file is not the layout read here, ValueError for an unknown code."""
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        with tempfile.TemporaryFile(suffix=".npz") as unpacked:
            # Unpacked to disk, as py3langid does, so the 75 MB of arrays are read from a file a slice at a time.
            with lzma.open(Path(MODEL_DIR) / MODEL_FILE) as packed:
                shutil.copyfileobj(packed, unpacked, length=1 << 20)
            unpacked.seek(0)
            with zipfile.ZipFile(unpacked) as npz:
                return cls._read(npz, list(candidates))

    @classmethod
    def _read(cls, npz: zipfile.ZipFile, candidates: list[str]) -> NgramLanguageIdentifier:
        needed = {"ptc.npy", "pc.npy", "classes.npy", "nextmove.npy", "nextmove_row.npy", "out_feat.npy"}
        if not needed <= set(npz.namelist()):
            raise ModelLayoutError(f"py3langid's model has {sorted(npz.namelist())}, not {sorted(needed)}")
        all_classes = _small(npz, "classes.npy").tolist()
        unknown = set(candidates) - set(all_classes)
        if unknown:
            raise ValueError(f"Unknown language code(s): {unknown}")
        wanted = set(candidates)
        columns = [i for i, c in enumerate(all_classes) if c in wanted]  # model order, as set_languages keeps
        log_prior = np.asarray(_small(npz, "pc.npy"))[columns]
        rows, stored = _rows(npz, "ptc.npy", len(all_classes))
        log_likelihood = np.empty((rows, len(columns)), dtype=stored)  # py3langid keeps the stored type (float16)
        start = 0
        for block in _blocks(npz, "ptc.npy", len(all_classes)):  # filled in place: never two copies
            log_likelihood[start : start + len(block)] = block[:, columns]
            start += len(block)
        row_of = np.asarray(_small(npz, "nextmove_row.npy"), dtype=np.int64)  # each state's row in nextmove
        feature = np.asarray(_small(npz, "out_feat.npy"), dtype=np.int32)
        if len(feature) != len(row_of) or start != len(log_likelihood):
            raise ModelLayoutError("py3langid's model arrays do not agree in size")
        parent, via, fail = _aho_corasick(npz, row_of)
        order = np.lexsort((via, parent))[1:]  # children grouped by parent, by byte; the root has no parent
        starts = np.searchsorted(parent[order], np.arange(len(row_of) + 1))
        return cls([all_classes[i] for i in columns], log_prior, log_likelihood,
                   array("I", starts.astype(np.uint32).tobytes()), via[order].astype(np.uint8).tobytes(),
                   array("I", order.astype(np.uint32).tobytes()), array("I", fail.astype(np.uint32).tobytes()),
                   array("i", feature.tobytes()))

    def _features(self, data: bytes) -> Counter[int] | None:
        """The walk py3langid's ``visit_counts`` makes, on children and fail links instead of a dense table."""
        first, child_bytes, child_states, fail, feature = (self._first_child, self._child_bytes, self._child_states,
                                                           self._fail, self._feature)
        state, found = 0, []
        for byte in data:
            while True:
                at = child_bytes.find(byte, first[state], first[state + 1])
                if at >= 0:
                    state = child_states[at]
                    break
                if state == 0:
                    break
                state = fail[state]
            if feature[state] >= 0:
                found.append(feature[state])
        return Counter(found) if found else None

    def classify(self, text: str) -> tuple[str, float]:
        """(language, probability), as py3langid's ``classify`` with normalised probabilities."""
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        visits = self._features(data)
        if visits:
            index = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self._log_likelihood[index] + self._log_prior
        else:
            scores = np.full(len(self.classes), 0.0, dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for kept, alias in self._alias_pairs:  # one label in two columns (sr, uz): fold into the first
            scores[kept] += scores[alias]
            scores[alias] = 0.0
        best = int(scores.argmax())
        return self.classes[best], float(scores[best])


def _aho_corasick(npz: zipfile.ZipFile, row_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each state's parent, the byte from it, and its fail state, from the dense rows, level by level.

    A state at depth d+1 is reached from depth d only by its own edge (any other move lands on a
    suffix, no deeper), so a breadth-first walk meets each state first from its parent. Its fail
    state is where its parent's fail state goes on the same byte. Raises ModelLayoutError when a
    state is reached twice or never (then this is not such an automaton)."""
    states = len(row_of)
    depth = np.full(states, -1, dtype=np.int8)
    parent = np.full(states, -1, dtype=np.int64)
    via = np.zeros(states, dtype=np.int64)
    fail = np.zeros(states, dtype=np.int64)
    depth[0], level, frontier = 0, 0, np.array([0], dtype=np.int64)
    while len(frontier):  # one read of the rows a level: this level's children and fail states
        own = row_of[frontier]
        # Fail states from depth 2 on: one byte of the parent's fail state's row, known a level ago.
        need = row_of[fail[parent[frontier]]] if level >= 2 else None
        found: list[np.ndarray] = []
        for first_row, block in _row_blocks(npz):
            last_row = first_row + len(block)
            if need is not None:
                here = np.nonzero((need >= first_row) & (need < last_row))[0]
                fail[frontier[here]] = block[need[here] - first_row, via[frontier[here]]]
            mine = frontier[(own >= first_row) & (own < last_row)]
            if not len(mine):
                continue
            targets = block[row_of[mine] - first_row]  # (len(mine), 256) next states
            reached = depth[targets]
            new = reached == -1
            child, (source, byte) = targets[new].astype(np.int64), np.nonzero(new)
            if (reached == level + 1).any() or len(np.unique(child)) != len(child):
                raise ModelLayoutError("a state has two parents: not an Aho-Corasick automaton")
            depth[child], parent[child], via[child] = level + 1, mine[source], byte
            found.append(child)
        frontier = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        level += 1
    if (depth == -1).any():
        raise ModelLayoutError("some states cannot be reached")
    return parent, via, fail


def _row_blocks(npz: zipfile.ZipFile) -> Iterator[tuple[int, np.ndarray]]:
    row = 0
    for block in _blocks(npz, "nextmove.npy", 256):
        yield row, block
        row += len(block)


def _blocks(npz: zipfile.ZipFile, name: str, width: int) -> Iterator[np.ndarray]:
    """A stored 2-d (or flat, ``width`` a row) C-order array, ``_CHUNK_ROWS`` rows at a time."""
    with npz.open(name) as member:
        shape, dtype = _header(member)
        if int(np.prod(shape)) % width:
            raise ModelLayoutError(f"{name} is {shape}, not rows of {width}")
        rows, size = int(np.prod(shape)) // width, width * dtype.itemsize
        for start in range(0, rows, _CHUNK_ROWS):
            count = min(_CHUNK_ROWS, rows - start)
            data = member.read(count * size)
            if len(data) != count * size:
                raise ModelLayoutError(f"{name} is shorter than its header says")
            yield np.frombuffer(data, dtype=dtype).reshape(count, width)


def _rows(npz: zipfile.ZipFile, name: str, width: int) -> tuple[int, np.dtype]:
    """Rows of ``width`` in a stored array, and its element type."""
    with npz.open(name) as member:
        shape, dtype = _header(member)
    return int(np.prod(shape)) // width, dtype


def _small(npz: zipfile.ZipFile, name: str) -> np.ndarray:
    with npz.open(name) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def _header(member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version not in ((1, 0), (2, 0)):
        raise ModelLayoutError(f"py3langid's arrays are in .npy format {version}")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(member)
    if fortran:
        raise ModelLayoutError("py3langid's arrays are stored in Fortran order")
    return shape, dtype
