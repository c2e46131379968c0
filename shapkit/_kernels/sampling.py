"""Numba kernels for coalition sampling: uniform subsets of one size, enumeration, hashing,
balanced blocks and the selection of coalitions not drawn before."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sample_masks_of_size(n_players: int, size: int, uniforms: np.ndarray) -> np.ndarray:
    """Uniform random coalitions of ``size`` players, one per row of ``uniforms``.

    ``uniforms`` is ``(n, size)`` in ``[0, 1)``; each row drives a partial Fisher-Yates
    shuffle, so every coalition of that size is equally likely.
    """
    n = uniforms.shape[0]
    out = np.zeros((n, n_players), dtype=np.bool_)
    order = np.arange(n_players)
    for r in range(n):
        for j in range(size):
            k = j + int(uniforms[r, j] * (n_players - j))
            if k >= n_players:
                k = n_players - 1
            tmp = order[j]
            order[j] = order[k]
            order[k] = tmp
            out[r, order[j]] = True
    return out


@njit(cache=True)
def enumerate_masks_of_size(n_players: int, size: int, count: int) -> np.ndarray:
    """All ``count = C(n_players, size)`` coalitions of ``size`` players, lexicographically."""
    out = np.zeros((count, n_players), dtype=np.bool_)
    index = np.arange(size)
    for r in range(count):
        for j in range(size):
            out[r, index[j]] = True
        i = size - 1
        while i >= 0 and index[i] == n_players - size + i:
            i -= 1
        if i < 0:
            break
        index[i] += 1
        for j in range(i + 1, size):
            index[j] = index[j - 1] + 1
    return out


@njit(cache=True)
def mask_hashes(masks: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """64-bit Zobrist hashes of coalitions: XOR of the random ``keys`` of their players."""
    n, d = masks.shape
    out = np.zeros(n, dtype=np.uint64)
    for r in range(n):
        h = np.uint64(0)
        for j in range(d):
            if masks[r, j]:
                h ^= keys[j]
        out[r] = h
    return out


@njit(cache=True)
def balanced_blocks(
    n_players: int, size: int, count: int, queue: np.ndarray
) -> tuple[np.ndarray, int]:
    """``count`` coalitions of ``size`` players cut from a queue of players.

    ``queue`` concatenates random permutations of the players (and any players left from
    an earlier call). Each coalition takes the next ``size`` distinct players; a player
    already in the coalition is deferred and goes first into the next one. Over a run
    every player therefore appears within about one of the same number of times: the
    sample is balanced over players. Returns the masks and the queue position where
    the unused players start (the deferred ones are written just before it). The queue
    must hold ``count * size`` players plus room for the deferrals (callers add two
    spare permutations); running out raises.
    """
    out = np.zeros((count, n_players), dtype=np.bool_)
    deferred = np.empty(n_players, dtype=np.int64)
    head = 0
    for r in range(count):
        taken = 0
        n_deferred = 0
        while taken < size:
            if head >= queue.shape[0]:
                raise ValueError("balanced_blocks: the queue of players ran out")
            player = queue[head]
            head += 1
            if out[r, player]:
                deferred[n_deferred] = player
                n_deferred += 1
            else:
                out[r, player] = True
                taken += 1
        # the deferred players go back to the front of what is left, in order
        head -= n_deferred
        for j in range(n_deferred):
            queue[head + j] = deferred[j]
    return out, head


@njit(cache=True)
def first_unseen(hashes: np.ndarray, drawn: np.ndarray, limit: int) -> np.ndarray:
    """Row numbers of the first ``limit`` hashes (in row order) that are neither in the
    sorted array ``drawn`` nor equal to an earlier row's hash.

    Earlier rows are remembered in an open-addressing table (the hashes are random 64-bit
    numbers, so their low bits index it); ``drawn`` is searched by bisection.
    """
    n = hashes.shape[0]
    size = 2
    while size < 2 * n:
        size *= 2
    slots = np.zeros(size, dtype=np.uint64)
    filled = np.zeros(size, dtype=np.bool_)
    out = np.empty(min(n, limit), dtype=np.int64)
    count = 0
    for row in range(n):
        if count == out.shape[0]:
            break
        h = hashes[row]
        lo, hi = 0, drawn.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            if drawn[mid] < h:
                lo = mid + 1
            else:
                hi = mid
        if lo < drawn.shape[0] and drawn[lo] == h:
            continue
        slot = np.int64(h & np.uint64(size - 1))
        repeated = False
        while filled[slot]:
            if slots[slot] == h:
                repeated = True
                break
            slot = (slot + 1) & (size - 1)
        if repeated:
            continue
        filled[slot] = True
        slots[slot] = h
        out[count] = row
        count += 1
    return out[:count]
