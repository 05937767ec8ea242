"""Sample files for the commands that run a model (compare, verify): one array per model input, as stored."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .._words import counted
from ..errors import EdgequantError, MissingExtraError
from ..graph import Model
from ..quantizer.data import read_arrays


def read_input_arrays(path: Path, model: Model) -> list[np.ndarray]:
    """The arrays of a .npy (one input) or .npz file, one per input of ``model``'s main subgraph, in input order
    and with their stored dtype: the .npz keys are the input names, or 'x', or its only array. Each must hold
    samples of the input's shape along axis 0."""
    tensors = [model.main.tensors[i] for i in model.main.inputs or []]
    names = [t.name for t in tensors]
    data = read_arrays(Path(path))  # every way the file itself is wrong: one line naming it
    if isinstance(data, np.ndarray):
        arrays = [data]
    elif all(nm in data for nm in names):
        arrays = [data[nm] for nm in names]
    elif "x" in data or len(data) == 1:
        arrays = [data["x" if "x" in data else next(iter(data))]]
    else:
        raise EdgequantError(f"{path}: use key 'x' or the input names {names} (file has {list(data)})")
    if len(arrays) != len(tensors):
        raise EdgequantError(f"{path}: {counted(len(arrays), 'input array')}, the model has "
                             f"{counted(len(tensors), 'input')}")
    for a, t in zip(arrays, tensors):
        want = list(t.shape or [])[1:]
        if list(a.shape[1:]) != want:
            raise EdgequantError(f"{path}: input '{t.name}' needs samples of shape {want}, got {list(a.shape[1:])}")
    return arrays


def at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: a whole number >= ``minimum`` (a count of samples), else one line saying what is wrong."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"{n} is negative; give a number of samples (0 or more)" if minimum == 0
                                             else f"{n}: give {minimum} or more")
        return n

    return parse


@contextlib.contextmanager
def about(path) -> Iterator[None]:
    """Errors raised inside start with ``path`` (the model the command was given), so the one line says which
    file; a missing extra passes unchanged (its line is the pip command)."""
    try:
        yield
    except MissingExtraError:
        raise
    except EdgequantError as e:
        raise type(e)(f"{path}: {e}") from None
