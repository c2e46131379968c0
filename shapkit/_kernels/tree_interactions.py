"""Numba kernels of exact interaction values of tree ensembles from leaf patterns.

A leaf whose path tests the slots ``0 .. k-1`` (distinct players) and a pair (explicand
pattern ``p``, background pattern ``q``) with ``p | q`` full (:mod:`.leaf_tables`) make
the game ``u [A in S] [S n B empty]`` of the hybrid rows, ``A = p & ~q`` (x passes, z
fails) and ``B = ~p`` (x fails, z passes). Its Moebius coefficients are ``u (-1)^|B'|``
on the coalitions ``A u B'`` (``B'`` in ``B``) and zero elsewhere, so any index whose
order-1 and order-2 terms weigh ``m(T)`` by a function of ``|T|``
(:mod:`shapkit.interactions.indices`) gives each slot and pair of slots a value that
depends only on ``a = |A|``, ``b = |B|`` and which of A and B the slots are in: the five
coefficient tables ``main_a, main_b, pair_aa, pair_ab, pair_bb`` indexed ``[a, b]``
(:func:`shapkit.closed_form.tree_interactions.leaf_coefficients`). Slots outside
``A u B`` (both rows pass) get nothing.

The interventional game averages these over the background's distinct patterns with
their counts (:func:`interaction_rows`). The path-dependent leaf game is ``u prod_{s in S}
o_s prod_{s not in S} z_s`` (``o_s``: x passes slot s; ``z_s``: the slot's cover share),
the mean of the hybrid game over slots that pass independently with probability ``z_s``;
its Moebius coefficients are ``u prod_T (o_s - z_s) prod_{F - T} z_s``, so a slot's or
pair's sum over ``T`` is a weighted sum of the coefficients of ``prod (z_f + (o_f - z_f)
x)`` over the other slots. The slots x fails give ``z_f (1 - x)``, which the same
coefficient tables absorb; the others give ``z_f + (1 - z_f) x``, whose product ``R``
loses a factor by a synthetic division run from the end where it is stable (the factor's
larger coefficient divides): ``O(k^3)`` per row and leaf
(:func:`path_interaction_rows`), exact to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .leaf_tables import ROW_CHUNK, _chunk_directions, _chunk_patterns, _popcount, leaf_outputs

#: Leaves of at most this many slots keep their sums per explicand pattern for the rest
#: of a kernel call (rows share patterns; ``2^10 x max_slots^2`` floats at most).
CACHE_SLOTS = 10


@njit(cache=True, nogil=True)
def interaction_rows(
    X: np.ndarray, start: int, stop: int, main: np.ndarray, pairs: np.ndarray,
    n0: int, used: np.ndarray, leaf0: int, leaf1: int,
    list_start: np.ndarray, list_mask: np.ndarray, list_weight: np.ndarray, scale: float,
    main_a: np.ndarray, main_b: np.ndarray, pair_aa: np.ndarray, pair_ab: np.ndarray,
    pair_bb: np.ndarray,
    leaf_node: np.ndarray, leaf_tree: np.ndarray, path_start: np.ndarray,
    path_node: np.ndarray, path_left: np.ndarray, path_slot: np.ndarray,
    player_start: np.ndarray, slot_player: np.ndarray,
    values: np.ndarray, tree_output: np.ndarray, max_slots: int,
    feature: np.ndarray, threshold: np.ndarray, default_left: np.ndarray,
    decision: np.ndarray, cat_left: np.ndarray, cat_known: np.ndarray,
    cat_nwords: np.ndarray, cat_words: np.ndarray,
) -> None:  # fmt: skip
    """Add the block's leaves' order-1 terms to ``main (n, n_players, k)`` and order-2
    terms to ``pairs (n, n_players, n_players, k)`` (the cell ``[i, j]``, ``i < j``, of
    each pair: the caller mirrors them) for explained
    rows ``start..stop-1``: per row and leaf, a sum over the leaf's listed patterns
    (``list_*``, weights times ``scale``) of the coefficient tables (module docstring),
    computed once per explicand pattern of a leaf of at most :data:`CACHE_SLOTS` slots."""
    k_out = values.shape[1]
    dirs = np.empty((used.shape[0], ROW_CHUNK), dtype=np.bool_)
    pat = np.empty(ROW_CHUNK, dtype=np.int64)
    acc_main = np.zeros(max_slots)
    acc_pair = np.zeros((max_slots, max_slots))
    cached_slots = min(max_slots, CACHE_SLOTS)
    size = np.int64(1) << cached_slots
    cache_main = np.empty((size, cached_slots))
    cache_pair = np.empty((size, cached_slots, cached_slots))
    cache_hit = np.zeros(size, dtype=np.bool_)
    stamp = np.full(size, -1, dtype=np.int64)
    for r0 in range(start, stop, ROW_CHUNK):
        nr = min(ROW_CHUNK, stop - r0)
        _chunk_directions(X, r0, nr, n0, used, dirs, feature, threshold, default_left,
                          decision, cat_left, cat_known, cat_nwords, cat_words)  # fmt: skip
        for leaf in range(leaf0, leaf1):
            j = leaf - leaf0
            k = player_start[leaf + 1] - player_start[leaf]
            if k == 0:
                continue
            _chunk_patterns(dirs, nr, n0, path_start[leaf], path_start[leaf + 1], k,
                            path_node, path_left, path_slot, pat)  # fmt: skip
            node = leaf_node[leaf]
            c0, c1 = leaf_outputs(tree_output, leaf_tree[leaf], k_out)
            slots0 = player_start[leaf]
            full = (np.int64(1) << k) - 1
            cached = k <= CACHE_SLOTS
            for r in range(nr):
                p = pat[r]
                if cached:
                    if stamp[p] != leaf:  # this leaf's sums for p, once per call
                        stamp[p] = leaf
                        cache_hit[p] = _background_sums(
                            p, full, k, list_start[j], list_start[j + 1], list_mask,
                            list_weight, main_a, main_b, pair_aa, pair_ab, pair_bb,
                            cache_main[p], cache_pair[p],
                        )  # fmt: skip
                    hit = cache_hit[p]
                    sums_main, sums_pair = cache_main[p], cache_pair[p]
                else:
                    hit = _background_sums(p, full, k, list_start[j], list_start[j + 1],
                                           list_mask, list_weight, main_a, main_b, pair_aa,
                                           pair_ab, pair_bb, acc_main, acc_pair)  # fmt: skip
                    sums_main, sums_pair = acc_main, acc_pair
                if hit:
                    _scatter(r0 + r, k, slots0, slot_player, values, node, c0, c1, scale,
                             sums_main, sums_pair, main, pairs)  # fmt: skip


@njit(cache=True, inline="always")
def _drop_factor(poly: np.ndarray, n: int, z: float, out: np.ndarray) -> None:
    """``out[:n]``: the coefficients of ``poly[:n + 1] / (z + (1 - z) x)`` (a factor of
    it), divided from the end whose coefficient of the factor is the larger."""
    if z >= 0.5:  # from the constant term: c'_r = (c_r - (1 - z) c'_{r-1}) / z
        prev = 0.0
        for r in range(n):
            prev = (poly[r] - (1.0 - z) * prev) / z
            out[r] = prev
    else:  # from the top: c'_{r-1} = (c_r - z c'_r) / (1 - z)
        prev = 0.0
        for r in range(n, 0, -1):
            prev = (poly[r] - z * prev) / (1.0 - z)
            out[r - 1] = prev


@njit(cache=True, nogil=True)
def path_interaction_rows(
    X: np.ndarray, start: int, stop: int, main: np.ndarray, pairs: np.ndarray,
    n0: int, used: np.ndarray, leaf0: int, leaf1: int, shares: np.ndarray,
    main_a: np.ndarray, pair_aa: np.ndarray,
    leaf_node: np.ndarray, leaf_tree: np.ndarray, path_start: np.ndarray,
    path_node: np.ndarray, path_left: np.ndarray, path_slot: np.ndarray,
    player_start: np.ndarray, slot_player: np.ndarray,
    values: np.ndarray, tree_output: np.ndarray, max_slots: int,
    feature: np.ndarray, threshold: np.ndarray, default_left: np.ndarray,
    decision: np.ndarray, cat_left: np.ndarray, cat_known: np.ndarray,
    cat_nwords: np.ndarray, cat_words: np.ndarray,
) -> None:  # fmt: skip
    """Add the path-dependent order-1 terms to ``main (n, n_players, k)`` and order-2
    terms to ``pairs`` (the cell ``[i, j]``, ``i < j``, of each pair, as
    :func:`interaction_rows`) for explained rows ``start..stop-1``; ``shares``: each
    (leaf, slot)'s cover share, indexed like ``slot_player`` (module docstring). A
    leaf's sums are computed once per explicand pattern, as in :func:`interaction_rows`."""
    k_out = values.shape[1]
    dirs = np.empty((used.shape[0], ROW_CHUNK), dtype=np.bool_)
    pat = np.empty(ROW_CHUNK, dtype=np.int64)
    poly = np.empty(max_slots + 1)
    one = np.empty(max_slots + 1)
    two = np.empty(max_slots + 1)
    acc_main = np.zeros(max_slots)
    acc_pair = np.zeros((max_slots, max_slots))
    cached_slots = min(max_slots, CACHE_SLOTS)
    size = np.int64(1) << cached_slots
    cache_main = np.empty((size, cached_slots))
    cache_pair = np.empty((size, cached_slots, cached_slots))
    cache_fail = np.empty(size)
    stamp = np.full(size, -1, dtype=np.int64)
    for r0 in range(start, stop, ROW_CHUNK):
        nr = min(ROW_CHUNK, stop - r0)
        _chunk_directions(X, r0, nr, n0, used, dirs, feature, threshold, default_left,
                          decision, cat_left, cat_known, cat_nwords, cat_words)  # fmt: skip
        for leaf in range(leaf0, leaf1):
            k = player_start[leaf + 1] - player_start[leaf]
            if k == 0:
                continue
            _chunk_patterns(dirs, nr, n0, path_start[leaf], path_start[leaf + 1], k,
                            path_node, path_left, path_slot, pat)  # fmt: skip
            node = leaf_node[leaf]
            c0, c1 = leaf_outputs(tree_output, leaf_tree[leaf], k_out)
            slots0 = player_start[leaf]
            cached = k <= CACHE_SLOTS
            for r in range(nr):
                p = pat[r]
                if cached:
                    if stamp[p] != leaf:  # this leaf's sums for p, once per call
                        stamp[p] = leaf
                        cache_fail[p] = _path_sums(p, k, slots0, shares, main_a, pair_aa,
                                                   poly, one, two, cache_main[p],
                                                   cache_pair[p])  # fmt: skip
                    fail_product = cache_fail[p]
                    sums_main, sums_pair = cache_main[p], cache_pair[p]
                else:
                    fail_product = _path_sums(p, k, slots0, shares, main_a, pair_aa, poly,
                                              one, two, acc_main, acc_pair)  # fmt: skip
                    sums_main, sums_pair = acc_main, acc_pair
                if fail_product != 0.0:
                    _scatter(r0 + r, k, slots0, slot_player, values, node, c0, c1,
                             fail_product, sums_main, sums_pair, main, pairs)  # fmt: skip


@njit(cache=True)
def _path_sums(
    p: int, k: int, slots0: int, shares: np.ndarray, main_a: np.ndarray,
    pair_aa: np.ndarray, poly: np.ndarray, one: np.ndarray, two: np.ndarray,
    acc_main: np.ndarray, acc_pair: np.ndarray,
) -> float:  # fmt: skip
    """A leaf's path-dependent slot and pair sums for the explicand pattern p, into
    ``acc_main[:k]`` and ``acc_pair[s, t]`` (``s < t``), over the product of the shares
    of the slots x fails, which is returned (0: the leaf's game is zero)."""
    fails = 0
    fail_product = 1.0  # Z0: the product of the shares of the slots x fails
    poly[0] = 1.0  # R: the product of z + (1 - z) x over the slots x passes
    passes = 0
    for s in range(k):
        z = shares[slots0 + s]
        if p & (np.int64(1) << s):
            poly[passes + 1] = 0.0
            for i in range(passes + 1, 0, -1):
                poly[i] = z * poly[i] + (1.0 - z) * poly[i - 1]
            poly[0] *= z
            passes += 1
        else:
            fails += 1
            fail_product *= z
    if fail_product == 0.0:
        return 0.0  # the leaf's game is zero for this row
    # the slots x fails share their terms: main, and pairs with each other
    fail_main = 0.0
    fail_pair = 0.0
    if fails >= 1:
        for i in range(passes + 1):
            fail_main -= poly[i] * main_a[i + 1, fails - 1]
    if fails >= 2:
        for i in range(passes + 1):
            fail_pair += poly[i] * pair_aa[i + 2, fails - 2]
    for s in range(k):
        bit = np.int64(1) << s
        if not p & bit:
            acc_main[s] = fail_main
            for t in range(s + 1, k):
                if not p & (np.int64(1) << t):
                    acc_pair[s, t] = fail_pair
            continue
        zs = shares[slots0 + s]
        _drop_factor(poly, passes, zs, one)  # R without s: degree passes - 1
        total = 0.0
        for i in range(passes):
            total += one[i] * main_a[i + 1, fails]
        acc_main[s] = (1.0 - zs) * total
        cross = 0.0  # with each slot x fails
        if fails >= 1:
            for i in range(passes):
                cross += one[i] * pair_aa[i + 2, fails - 1]
            cross *= -(1.0 - zs)
        for t in range(s + 1, k):
            if not p & (np.int64(1) << t):
                acc_pair[s, t] = cross
                continue
            zt = shares[slots0 + t]
            _drop_factor(one, passes - 1, zt, two)
            total = 0.0
            for i in range(passes - 1):
                total += two[i] * pair_aa[i + 2, fails]
            acc_pair[s, t] = (1.0 - zs) * (1.0 - zt) * total
        for t in range(s):  # the earlier failed slots' pairs with s
            if not p & (np.int64(1) << t):
                acc_pair[t, s] = cross
    return fail_product


@njit(cache=True)
def _scatter(
    row: int, k: int, slots0: int, slot_player: np.ndarray, values: np.ndarray, node: int,
    c0: int, c1: int, scale: float, acc_main: np.ndarray, acc_pair: np.ndarray,
    main: np.ndarray, pairs: np.ndarray,
) -> None:  # fmt: skip
    """Add a leaf's slot and pair sums, times its value and ``scale``, to the row's
    players (pairs into the cell ``i < j``)."""
    for cc in range(c0, c1):
        u = values[node, cc] * scale
        if u == 0.0:
            continue
        for s in range(k):
            ps = slot_player[slots0 + s]
            main[row, ps, cc] += u * acc_main[s]
            for t in range(s + 1, k):
                v = u * acc_pair[s, t]
                if v != 0.0:
                    pt = slot_player[slots0 + t]
                    if ps < pt:
                        pairs[row, ps, pt, cc] += v
                    else:
                        pairs[row, pt, ps, cc] += v


@njit(cache=True)
def _background_sums(
    p: int, full: int, k: int, h0: int, h1: int, list_mask: np.ndarray,
    list_weight: np.ndarray, main_a: np.ndarray, main_b: np.ndarray, pair_aa: np.ndarray,
    pair_ab: np.ndarray, pair_bb: np.ndarray, acc_main: np.ndarray, acc_pair: np.ndarray,
) -> bool:  # fmt: skip
    """A leaf's slot and pair sums over the listed background patterns ``h0..h1-1`` for
    the explicand pattern p, into ``acc_main[:k]`` and ``acc_pair[s, t]`` (``s < t``);
    False when no listed pattern reaches the leaf with p."""
    c = full ^ p
    b = _popcount(c)
    for s in range(k):
        acc_main[s] = 0.0
        for t in range(k):
            acc_pair[s, t] = 0.0
    hit = False
    for h in range(h0, h1):
        q = list_mask[h]
        if (q & c) != c:
            continue  # a slot neither row passes: the leaf is never reached
        hit = True
        w = list_weight[h]
        A = p & ~q
        a = _popcount(A)
        ma = main_a[a, b] * w
        mb = main_b[a, b] * w
        paa = pair_aa[a, b] * w
        pab = pair_ab[a, b] * w
        pbb = pair_bb[a, b] * w
        for s in range(k):
            bit = np.int64(1) << s
            if A & bit:
                acc_main[s] += ma
                for t in range(s + 1, k):
                    other = np.int64(1) << t
                    if A & other:
                        acc_pair[s, t] += paa
                    elif c & other:
                        acc_pair[s, t] += pab
            elif c & bit:
                acc_main[s] += mb
                for t in range(s + 1, k):
                    other = np.int64(1) << t
                    if A & other:
                        acc_pair[s, t] += pab
                    elif c & other:
                        acc_pair[s, t] += pbb
    return hit
