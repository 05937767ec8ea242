"""Lay out flatbuffer objects front to back with as little padding as the format allows.

A flatbuffer is a root offset, a file identifier, then objects (tables, vtables, vectors, strings)
in any order, subject to two rules: a uoffset only points forward (every object lies after every
object that refers to it; vtables, reached by a signed offset, may lie anywhere), and each object
starts at its alignment, counted from the start of the file (flatbuffers' Verifier checks
``offset & (align - 1)``). Any byte that is not part of an object is padding.

flatc's builders write objects in the order the program creates them, so the padding in front of
each 16-byte aligned weight buffer (up to 15 bytes) is whatever that order leaves. Here the order
is chosen, in three passes: the objects that refer to other objects (tables with children,
vectors of tables), depth-first; then the weight buffers, back to back; then the rest (strings,
scalar vectors, tables of scalars), depth-first. Before each object, free objects (those whose
parents are placed, most of them leaves kept for the second pass) go into the padding when some
of them close or narrow it. The result is deterministic and depends only on the objects.
"""

from __future__ import annotations

import functools
import heapq
import struct

import numpy as np

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_HEADER = 8  # root uoffset + file identifier
_MOD = 16  # every alignment divides this
_USES = 3  # a gap-filling plan uses at most this many objects of one kind


class Obj:
    """One flatbuffer object: its bytes, where it may start, and the offsets it holds.

    ``head`` holds the object's own bytes (with zeros where offsets go); ``blob``, if given, is an
    array of bytes that follows ``head`` (a weight buffer: copied once, into the output).
    The object must start at a position ``p`` with ``p % align == phase``.
    """

    __slots__ = ("align", "blob", "head", "late", "offered", "order", "parent", "phase", "pos", "refs", "size",
                 "vtable", "waiting")

    def __init__(self, head: bytes, align: int = 4, phase: int = 0, blob: np.ndarray | None = None):
        assert _MOD % align == 0 and 0 <= phase < align
        self.head = head
        self.blob = blob
        self.size = len(head) + (int(blob.size) if blob is not None else 0)
        self.align = align
        self.phase = phase
        self.refs: list[tuple[int, Obj]] = []  # (offset in this object, target): a forward uoffset
        self.vtable: Obj | None = None  # tables: their vtable, reached by the soffset at offset 0
        self.pos = -1
        self.order = -1  # depth-first position (-1: not reached): ties in the gap filler go to the earliest
        self.parent: Obj | None = None  # the first parent reached
        self.late = False  # placed back to back with the other late objects (weight buffers)
        self.offered = False  # put in the free pool once
        self.waiting = 0  # parents not yet placed


def _pad(pos: int, align: int, phase: int) -> int:
    return (phase - pos) % align


@functools.cache
def _steps(key: tuple[int, int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For a kind (align, phase, size % 16) and each residue r of the position modulo 16: the padding before
    such an object, and the residue after it."""
    align, phase, size = key
    lead = tuple(_pad(r, align, phase) for r in range(_MOD))
    return lead, tuple((r + lead[r] + size) % _MOD for r in range(_MOD))


class Layout:
    """Places objects reachable from ``root``; ``late`` (weight buffers) are placed back to back."""

    def __init__(self, root: Obj, late: list[Obj]):
        self.root = root
        self.objects: list[Obj] = []
        self._collect(root)
        for o in late:
            o.late = True
        # Free objects (all parents placed), by kind (align, phase, size % 16): a heap of (order, id, obj)
        # each, with placed ones dropped lazily, and how many of each kind are still free.
        self.pool: dict[tuple[int, int, int], list] = {}
        self.free: dict[tuple[int, int, int], int] = {}
        # A plan depends only on the position mod 16, the target's alignment and, per kind, whether 0,
        # 1, 2 or at least 3 objects are free (a plan uses a kind at most 3 times). ``version`` changes
        # when that last part does; the same question then gets the remembered answer.
        self.version = 0
        self.plans: dict[tuple, tuple | None] = {}
        self._kinds: tuple[int, list] = (-1, [])  # (version, free kinds with capped counts and step tables)
        self.pos = _HEADER
        for o in self.objects:
            if o.waiting == 0 and o is not root:
                self._offer(o)  # vtables: free from the start
        self._place(root)
        # Objects that refer to others first, in depth-first order, so that the leaves (strings, scalar
        # vectors, tables of scalars, vtables) are all free when the late objects need their gaps filled.
        for o in self.objects:
            if o.pos < 0 and o.waiting == 0 and any(not c.late for _, c in o.refs):
                self._fill_before(o)
                self._place(o)
        for o in late:
            self._ensure(o)
        rest = self.objects
        while rest:  # depth-first; an object with several parents waits for the last one
            for o in rest:
                if o.pos < 0 and o.waiting == 0:
                    self._fill_before(o)
                    self._place(o)
            left = [o for o in rest if o.pos < 0]
            assert len(left) < len(rest), "objects that refer to each other in a cycle"
            rest = left
        self.size = self.pos

    def _collect(self, root: Obj) -> None:
        """Depth-first order, each table preceded by its vtable; count each object's parents."""
        stack = [root]
        while stack:
            o = stack.pop()
            if o.order >= 0:
                continue
            vt = o.vtable
            if vt is not None and vt.order < 0:
                vt.order = len(self.objects)
                self.objects.append(vt)
            o.order = len(self.objects)
            self.objects.append(o)
            for _, child in o.refs:
                child.waiting += 1
                if child.parent is None:
                    child.parent = o
            stack.extend(child for _, child in reversed(o.refs))

    def _offer(self, o: Obj) -> None:
        if o.late:
            return
        key = (o.align, o.phase, o.size % _MOD)
        heapq.heappush(self.pool.setdefault(key, []), (o.order, id(o), o))
        self.free[key] = self.free.get(key, 0) + 1
        if self.free[key] <= _USES:
            self.version += 1
        o.offered = True

    def _ensure(self, o: Obj) -> None:
        if o.pos >= 0:
            return
        chain = []
        while o is not None and o.pos < 0:
            chain.append(o)
            o = o.parent
        for x in reversed(chain):
            self._fill_before(x)
            self._place(x)

    def _place(self, o: Obj) -> None:
        assert o.pos < 0 and o.waiting == 0, "an object is placed once, after all its parents"
        self.pos += _pad(self.pos, o.align, o.phase)
        o.pos = self.pos
        self.pos += o.size
        if o.offered:
            key = (o.align, o.phase, o.size % _MOD)
            self.free[key] -= 1
            if self.free[key] < _USES:
                self.version += 1
        for _, child in o.refs:
            child.waiting -= 1
            if child.waiting == 0:
                self._offer(child)

    def _fill_before(self, target: Obj) -> None:
        """Put free objects in the padding before ``target`` when some of them close it, or narrow it.

        Every alignment divides 16, so only positions modulo 16 matter: a shortest-path search over
        the 16 residues, one step per kind of free object (alignment, phase, size modulo 16), finds
        the objects that leave the least padding (then the fewest objects)."""
        while True:
            waste = _pad(self.pos, target.align, target.phase)
            if waste == 0:
                return
            memo = (self.pos % _MOD, target.align, target.phase, self.version)
            plan = self.plans.get(memo, False)
            if plan is False:
                plan = self.plans[memo] = self._plan(target, waste)
            if plan is None:
                return
            for key in plan:
                heap = self.pool[key]
                while heap[0][2].pos >= 0:
                    heapq.heappop(heap)  # placed since it was offered
                self._place(heapq.heappop(heap)[2])

    def _plan(self, target: Obj, waste: int) -> tuple | None:
        """The kinds of free objects to place, in order, that leave the least padding before ``target``
        (then the fewest objects); None when none leaves less than ``waste``."""
        start = self.pos % _MOD
        tpad = _steps((target.align, target.phase, 0))[0]  # padding before the target, by residue
        if self._kinds[0] != self.version:  # the capped counts change only with the version
            self._kinds = (self.version, [(key, min(n, _USES)) + _steps(key) for key, n in self.free.items() if n])
        kinds = self._kinds[1]
        for key, _, lead, after in kinds:  # one object that closes the gap: nothing is better (the common case)
            if lead[start] == 0 and tpad[after[start]] == 0:
                return (key,)
        best_total, best_n, best_path = waste, 0, None
        heap = [(0, 0, start, ())]
        done: set[int] = set()
        while heap:
            cost, n, r, path = heapq.heappop(heap)
            if cost >= best_total:
                break  # padding only grows along a path
            if r in done:
                continue
            done.add(r)
            total = cost + tpad[r]
            if (total, n) < (best_total, best_n):
                best_total, best_n, best_path = total, n, path
            for key, limit, lead, after in kinds:
                nr, c = after[r], cost + lead[r]
                # a path that already costs best_total could only be popped to end the search
                if c < best_total and nr not in done and (not path or path.count(key) < limit):
                    heapq.heappush(heap, (c, n + 1, nr, path + (key,)))
        return best_path or None

    def write(self, identifier: bytes) -> bytes:
        """The file: the pieces in position order (objects, the zeros between them) joined once, so the output
        is neither zero-filled first nor copied again to bytes."""
        pieces: list = [_U32.pack(self.root.pos), identifier]
        at = _HEADER
        for o in sorted(self.objects, key=_position):
            p = o.pos
            if p > at:
                pieces.append(bytes(p - at))
            head = o.head
            if o.refs or o.vtable is not None:
                head = bytearray(head)
                for off, child in o.refs:
                    _U32.pack_into(head, off, child.pos - p - off)
                if o.vtable is not None:
                    _I32.pack_into(head, 0, p - o.vtable.pos)
            pieces.append(head)
            if o.blob is not None and o.blob.size:
                pieces.append(memoryview(o.blob))
            at = p + o.size
        if self.size > at:
            pieces.append(bytes(self.size - at))
        return b"".join(pieces)


def _position(o: Obj) -> int:
    return o.pos


__all__ = ["Layout", "Obj"]
