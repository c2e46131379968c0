"""Numba kernels of the marginal game of a tree ensemble seen through a link.

The game of explained row ``x`` is ``v(S) = mean_b link(margin(x_S, b_notS))``, where
``margin`` is the ensemble's sum of leaf values (:mod:`shapkit.trees.ensemble`) and
``link`` one of the ``LINK_*`` maps below (a classifier's sigmoid or softmax, a
regressor's exp). The link is not additive, so TreeSHAP does not apply; the kernels
evaluate coalitions instead, one background row ``b`` at a time:

1. :func:`pair_entries` walks every tree once for the pair ``(x, b)``: where ``x`` and
   ``b`` go the same way it follows that branch, where they differ it follows both,
   marking the split's player as in S (``x``'s side) or out of S (``b``'s side); a marked
   player follows its mark. Trees where the two never part add a constant; every other
   reached leaf becomes an *entry*: its value and the players that must be in S (``in``)
   and out of S (``out``) for the mixed row to reach it. The margin of coalition S is
   then ``const + sum of the entries with in <= S and out & S == 0``.
2. Either each coalition sums its entries (``O(coalitions x entries)``), or the margins
   of all ``2^|D|`` coalitions of the players ``D`` where ``x`` and ``b`` part are built
   at once, a *table*: each entry adds its value times ``prod_in s prod_out (1 - s)``,
   expanded into ``2^|out|`` Moebius coefficients, and one subset-sum transform turns the
   coefficients into margins (``O(|D| 2^|D|)``); each coalition then reads its row. The
   cheaper of the two is chosen per pair; both give the same values (to rounding).

Coalitions are bitmasks of players (``int64``, at most :data:`MAX_PLAYERS` players).
Kernels take a range of background rows, release the GIL, and add into their own
accumulator, so callers run blocks of background rows on threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .treeshap import LAST_NUMERIC, categorical_left, numeric_left

#: One margin -> the two class probabilities ``(1 - p, p)``, ``p = sigmoid(margin)``.
LINK_SIGMOID_PAIR = 0
#: One margin -> ``sigmoid(margin)``.
LINK_SIGMOID = 1
#: ``k`` margins -> their softmax (``k`` class probabilities).
LINK_SOFTMAX = 2
#: ``k`` margins -> ``exp`` of each.
LINK_EXP = 3
#: ``k`` values -> themselves (forests' averaged probabilities, before ``log_odds``).
LINK_IDENTITY = 4

#: Coalitions are int64 bitmasks: players 0..62.
MAX_PLAYERS = 62
#: Largest table of a pair, in players where ``x`` and ``b`` part (``2^16`` coalitions).
MAX_TABLE_BITS = 16


@njit(cache=True, nogil=True)
def coalition_bits(masks: np.ndarray) -> np.ndarray:
    """Bool masks ``(m, d)`` -> int64 bitmasks (bit ``p``: player ``p`` is in)."""
    out = np.zeros(masks.shape[0], dtype=np.int64)
    for i in range(masks.shape[0]):
        s = np.int64(0)
        for p in range(masks.shape[1]):
            if masks[i, p]:
                s |= np.int64(1) << np.int64(p)
        out[i] = s
    return out


@njit(cache=True)
def apply_link(link: int, log_odds: bool, eps: float, margin: np.ndarray, out: np.ndarray) -> None:
    """Write ``link(margin)`` into ``out``; with ``log_odds``, then ``log(q / (1 - q))``
    of each output ``q`` clipped to ``[eps, 1 - eps]``."""
    if link == LINK_SIGMOID_PAIR or link == LINK_SIGMOID:
        m = margin[0]
        if m >= 0.0:
            e = np.exp(-m)
            p, q = 1.0 / (1.0 + e), e / (1.0 + e)
        else:
            e = np.exp(m)
            p, q = e / (1.0 + e), 1.0 / (1.0 + e)
        if link == LINK_SIGMOID_PAIR:
            out[0] = q
            out[1] = p
        else:
            out[0] = p
    elif link == LINK_SOFTMAX:
        top = margin[0]
        for c in range(1, margin.shape[0]):
            top = max(top, margin[c])
        total = 0.0
        for c in range(margin.shape[0]):
            out[c] = np.exp(margin[c] - top)
            total += out[c]
        for c in range(margin.shape[0]):
            out[c] /= total
    elif link == LINK_EXP:
        for c in range(margin.shape[0]):
            out[c] = np.exp(margin[c])
    else:
        for c in range(margin.shape[0]):
            out[c] = margin[c]
    if log_odds:
        for c in range(out.shape[0]):
            q = min(max(out[c], eps), 1.0 - eps)
            out[c] = np.log(q) - np.log1p(-q)


@njit(cache=True, nogil=True)
def node_directions(
    X: np.ndarray,
    start: int,
    stop: int,
    out: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
) -> None:
    """``out[i, n] = 1`` where row ``i`` of X (``start <= i < stop``) goes left at node
    ``n``, else 0 (leaves: 0)."""
    for i in range(start, stop):
        for node in range(feature.shape[0]):
            f = feature[node]
            if f < 0:
                out[i, node] = 0
                continue
            kind = decision[node]
            if kind <= LAST_NUMERIC:
                go = numeric_left(kind, X[i, f], threshold[node], default_left[node])
            else:
                go = categorical_left(kind, node, X[i, f], default_left[node], cat_left,
                                      cat_known, cat_nwords, cat_words)  # fmt: skip
            out[i, node] = 1 if go else 0


@njit(cache=True)
def pair_entries(
    dx: np.ndarray,
    dz: np.ndarray,
    z: np.ndarray,
    node_player: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    const: np.ndarray,
    e_in: np.ndarray,
    e_out: np.ndarray,
    e_value: np.ndarray,
    e_output: np.ndarray,
    stack_node: np.ndarray,
    stack_in: np.ndarray,
    stack_out: np.ndarray,
) -> int:
    """The entries of the pair ``(x, z)`` (module docstring, step 1); returns their number.

    ``dx`` holds ``x``'s directions (:func:`node_directions`), ``dz`` those of ``z`` or is
    empty (then ``z``'s are computed as the walk goes). ``const`` (k,) receives the trees
    where ``x`` and ``z`` never part; entry ``e`` adds ``e_value[e]`` to output
    ``e_output[e]`` when ``e_in[e] <= S`` and ``e_out[e] & S == 0``. Each coalition
    reaches exactly one leaf of a tree, so a tree's last reached leaf goes to ``const``
    and its other entries hold their difference from it (one entry fewer per tree). The stacks need
    ``max depth + 1`` slots; the entry arrays one slot per leaf and output.
    """
    k = values.shape[1]
    known = dz.shape[0] > 0
    for c in range(k):
        const[c] = 0.0
    n = 0
    for t in range(roots.shape[0]):
        first = n
        stack_node[0] = roots[t]
        stack_in[0] = 0
        stack_out[0] = 0
        top = 1
        while top > 0:
            top -= 1
            node = stack_node[top]
            a = stack_in[top]
            o = stack_out[top]
            while feature[node] >= 0:
                gx = dx[node] == 1
                if known:
                    gz = dz[node] == 1
                else:
                    f = feature[node]
                    kind = decision[node]
                    if kind <= LAST_NUMERIC:
                        gz = numeric_left(kind, z[f], threshold[node], default_left[node])
                    else:
                        gz = categorical_left(kind, node, z[f], default_left[node], cat_left,
                                              cat_known, cat_nwords, cat_words)  # fmt: skip
                nx = left[node] if gx else right[node]
                if gx == gz:
                    node = nx
                    continue
                nz = left[node] if gz else right[node]
                bit = np.int64(1) << node_player[node]
                if a & bit:
                    node = nx
                elif o & bit:
                    node = nz
                else:
                    stack_node[top] = nz
                    stack_in[top] = a
                    stack_out[top] = o | bit
                    top += 1
                    node = nx
                    a |= bit
            c = tree_output[t]
            if a == 0 and o == 0:  # the tree never parts x and z: one leaf, a constant
                if c < 0:
                    for c2 in range(k):
                        const[c2] += values[node, c2]
                else:
                    const[c] += values[node, c]
                continue
            for c2 in range(k):
                if c >= 0 and c2 != c:
                    continue
                e_in[n] = a
                e_out[n] = o
                e_value[n] = values[node, c2]
                e_output[n] = c2
                n += 1
        if n > first:  # exactly one leaf is reached: its last one is the base
            per = k if tree_output[t] < 0 else 1
            base = n - per
            for e in range(base, n):
                const[e_output[e]] += e_value[e]
            for e in range(first, base):
                e_value[e] -= e_value[base + (e_output[e] if per > 1 else 0)]
            n = base
    return n


@njit(cache=True)
def _popcount(s: np.int64) -> int:
    n = 0
    while s:
        s &= s - 1
        n += 1
    return n


@njit(cache=True)
def _compress(s: np.int64, players: np.ndarray, n_bits: int) -> np.int64:
    """Bit ``q`` of the result is bit ``players[q]`` of ``s``."""
    c = np.int64(0)
    for q in range(n_bits):
        if (s >> players[q]) & 1:
            c |= np.int64(1) << np.int64(q)
    return c


@njit(cache=True)
def _add_direct(
    bits: np.ndarray,
    const: np.ndarray,
    e_in: np.ndarray,
    e_out: np.ndarray,
    e_value: np.ndarray,
    e_output: np.ndarray,
    n_entries: int,
    link: int,
    log_odds: bool,
    eps: float,
    margins: np.ndarray,
    margin: np.ndarray,
    linked: np.ndarray,
    acc: np.ndarray,
) -> None:
    """``acc[i] += link(margin of coalition bits[i])``, each entry adding its value to the
    margins ``(k, M)`` of the coalitions that reach it.

    The loop over coalitions is innermost: it has no sum across its iterations, so the
    compiler runs it on SIMD lanes, and each coalition's margin adds its entries in entry
    order, the same rounding on every machine and process."""
    k = const.shape[0]
    m = bits.shape[0]
    for c in range(k):
        for i in range(m):
            margins[c, i] = const[c]
    for e in range(n_entries):
        a = e_in[e]
        o = e_out[e]
        w = e_value[e]
        row = margins[e_output[e]]
        for i in range(m):
            s = bits[i]
            missed = ((s & a) ^ a) | (s & o)
            row[i] += w if missed == 0 else 0.0
    width = linked.shape[0]
    for i in range(m):
        for c in range(k):
            margin[c] = margins[c, i]
        apply_link(link, log_odds, eps, margin, linked)
        for c in range(width):
            acc[i, c] += linked[c]


@njit(cache=True)
def _add_table(
    bits: np.ndarray,
    const: np.ndarray,
    e_in: np.ndarray,
    e_out: np.ndarray,
    e_value: np.ndarray,
    e_output: np.ndarray,
    n_entries: int,
    players: np.ndarray,
    n_bits: int,
    link: int,
    log_odds: bool,
    eps: float,
    table: np.ndarray,
    linked_table: np.ndarray,
    margin: np.ndarray,
    linked: np.ndarray,
    acc: np.ndarray,
) -> None:
    """``acc[i] += link(margin of coalition bits[i])`` through the table of the
    ``2^n_bits`` coalitions of ``players`` (module docstring, step 2)."""
    k = const.shape[0]
    size = 1 << n_bits
    for c in range(k):
        for u in range(size):
            table[c, u] = 0.0
    for e in range(n_entries):
        a = _compress(e_in[e], players, n_bits)
        o = _compress(e_out[e], players, n_bits)
        c = e_output[e]
        w = e_value[e]
        sub = o
        while True:  # every subset T of o: (-1)^|T| w at a | T
            table[c, a | sub] += -w if _popcount(sub) & 1 else w
            if sub == 0:
                break
            sub = (sub - 1) & o
    for q in range(n_bits):
        step = 1 << q
        for c in range(k):
            for u in range(size):
                if u & step:
                    table[c, u] += table[c, u ^ step]
    width = linked.shape[0]
    for u in range(size):
        for c in range(k):
            margin[c] = const[c] + table[c, u]
        apply_link(link, log_odds, eps, margin, linked)
        for c in range(width):
            linked_table[u, c] = linked[c]
    for i in range(bits.shape[0]):
        row = _compress(bits[i], players, n_bits)
        for c in range(width):
            acc[i, c] += linked_table[row, c]


@njit(cache=True, nogil=True)
def block_entries(
    dx: np.ndarray,
    background: np.ndarray,
    background_dirs: np.ndarray,
    start: int,
    stop: int,
    node_player: np.ndarray,
    max_depth: int,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    base_offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The entries of the pairs of ``x`` (directions ``dx``) with background rows
    ``start..stop-1`` (:func:`pair_entries`; ``background_dirs``: their directions, or an
    empty ``(0, n_nodes)`` array to compute them per pair).

    Returns ``offsets`` (pairs + 1; pair ``r``'s entries are ``offsets[r]:offsets[r+1]``),
    ``consts`` ``(pairs, k)`` (base offset included) and the entries' ``in``, ``out``,
    ``value`` and ``output`` arrays."""
    k = values.shape[1]
    n_slots = 0  # each leaf is reached at most once per pair
    for node in range(feature.shape[0]):
        if feature[node] < 0:
            n_slots += k
    p_in = np.empty(n_slots, dtype=np.int64)
    p_out = np.empty(n_slots, dtype=np.int64)
    p_value = np.empty(n_slots)
    p_output = np.empty(n_slots, dtype=np.int64)
    stack_node = np.empty(max_depth + 2, dtype=np.int64)
    stack_in = np.empty(max_depth + 2, dtype=np.int64)
    stack_out = np.empty(max_depth + 2, dtype=np.int64)
    n_pairs = stop - start
    offsets = np.zeros(n_pairs + 1, dtype=np.int64)
    consts = np.empty((n_pairs, k))
    capacity = max(n_slots, 16)
    e_in = np.empty(capacity, dtype=np.int64)
    e_out = np.empty(capacity, dtype=np.int64)
    e_value = np.empty(capacity)
    e_output = np.empty(capacity, dtype=np.int64)
    known = background_dirs.shape[0] > 0
    unknown = np.empty(0, dtype=np.uint8)
    used = 0
    for r in range(n_pairs):
        dz = background_dirs[start + r] if known else unknown
        n = pair_entries(dx, dz, background[start + r], node_player, feature, threshold, left,
                         right, default_left, decision, cat_left, cat_known, cat_nwords,
                         cat_words, values, roots, tree_output, consts[r], p_in, p_out, p_value,
                         p_output, stack_node, stack_in, stack_out)  # fmt: skip
        for c in range(k):
            consts[r, c] += base_offset[c]
        if used + n > capacity:
            capacity = max(2 * capacity, used + n)
            e_in = _grown(e_in, capacity, used)
            e_out = _grown(e_out, capacity, used)
            e_value = _grown(e_value, capacity, used)
            e_output = _grown(e_output, capacity, used)
        e_in[used : used + n] = p_in[:n]
        e_out[used : used + n] = p_out[:n]
        e_value[used : used + n] = p_value[:n]
        e_output[used : used + n] = p_output[:n]
        used += n
        offsets[r + 1] = used
    return offsets, consts, e_in[:used], e_out[:used], e_value[:used], e_output[:used]


@njit(cache=True)
def _grown(arr: np.ndarray, capacity: int, used: int) -> np.ndarray:
    out = np.empty(capacity, dtype=arr.dtype)
    out[:used] = arr[:used]
    return out


@njit(cache=True, nogil=True)
def block_sums(
    bits: np.ndarray,
    n_players: int,
    link: int,
    log_odds: bool,
    eps: float,
    offsets: np.ndarray,
    consts: np.ndarray,
    e_in: np.ndarray,
    e_out: np.ndarray,
    e_value: np.ndarray,
    e_output: np.ndarray,
    acc: np.ndarray,
) -> None:
    """Add ``sum over the pairs of link(margin of coalition bits[i])`` into ``acc[i]``
    (``(m, width)``), the pairs' entries from :func:`block_entries`; per pair the cheaper
    of the entry scan and the table (module docstring, step 2)."""
    k = consts.shape[1]
    width = acc.shape[1]
    margin = np.empty(k)
    linked = np.empty(width)
    players = np.empty(n_players, dtype=np.int64)
    table_bits = min(n_players, MAX_TABLE_BITS)
    table = np.empty((k, 1 << table_bits))
    linked_table = np.empty((1 << table_bits, width))
    m = bits.shape[0]
    margins = np.empty((k, m))
    link_cost = 20 * width  # an exp is worth ~20 additions
    for r in range(consts.shape[0]):
        lo, hi = offsets[r], offsets[r + 1]
        n = hi - lo
        parted = np.int64(0)
        scatter = 0
        for e in range(lo, hi):
            parted |= e_in[e] | e_out[e]
            scatter += 1 << _popcount(e_out[e])
        n_bits = 0
        for p in range(n_players):
            if (parted >> p) & 1:
                players[n_bits] = p
                n_bits += 1
        direct = m * (n + link_cost)
        tabled = scatter + (k * n_bits + link_cost) * (1 << n_bits) + m * (n_bits + width)
        if n_bits <= table_bits and tabled < direct:
            _add_table(bits, consts[r], e_in[lo:hi], e_out[lo:hi], e_value[lo:hi],
                       e_output[lo:hi], n, players, n_bits, link, log_odds, eps, table,
                       linked_table, margin, linked, acc)  # fmt: skip
        else:
            _add_direct(bits, consts[r], e_in[lo:hi], e_out[lo:hi], e_value[lo:hi],
                        e_output[lo:hi], n, link, log_odds, eps, margins, margin, linked,
                        acc)  # fmt: skip


@njit(cache=True)
def link_rows(link: int, log_odds: bool, eps: float, margins: np.ndarray, width: int) -> np.ndarray:
    """``link(margins[i])`` for each row: ``(n, k)`` margins -> ``(n, width)`` outputs."""
    out = np.empty((margins.shape[0], width))
    for i in range(margins.shape[0]):
        apply_link(link, log_odds, eps, margins[i], out[i])
    return out


@njit(cache=True, nogil=True)
def path_dependent_sums(
    dx: np.ndarray,
    bits: np.ndarray,
    start: int,
    stop: int,
    node_player: np.ndarray,
    max_depth: int,
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cover: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[i] += the trees' cover-weighted game at coalition bits[i]`` for
    ``start <= i < stop`` (path-dependent TreeSHAP's game, :mod:`shapkit.closed_form.tree_path`):
    at a node whose player is in the coalition follow the explained row (directions
    ``dx``), else both children weighted by their share of the node's cover (0 where the
    node has none)."""
    k = values.shape[1]
    stack_node = np.empty(2 * max_depth + 2, dtype=np.int64)
    stack_weight = np.empty(2 * max_depth + 2)
    for i in range(start, stop):
        s = bits[i]
        for t in range(roots.shape[0]):
            stack_node[0] = roots[t]
            stack_weight[0] = 1.0
            top = 1
            while top > 0:
                top -= 1
                node = stack_node[top]
                w = stack_weight[top]
                while feature[node] >= 0:
                    if (s >> node_player[node]) & 1:
                        node = left[node] if dx[node] == 1 else right[node]
                        continue
                    total = cover[node]
                    lw = w * cover[left[node]] / total if total > 0.0 else 0.0
                    rw = w * cover[right[node]] / total if total > 0.0 else 0.0
                    stack_node[top] = right[node]
                    stack_weight[top] = rw
                    top += 1
                    node = left[node]
                    w = lw
                c = tree_output[t]
                if c < 0:
                    for c2 in range(k):
                        out[i, c2] += w * values[node, c2]
                else:
                    out[i, c] += w * values[node, c]
