"""Request streams for the system benches and the replies the device model gives them."""

import numpy as np

from ...golden.fixed.link import Cmd, code_bytes, max_codes, pack_codes
from ..normaliser.stimulus import edge_samples, random_samples

__all__ = ["random_requests", "model_replies", "gc_session", "model_replies_seq"]


def random_requests(rng, n, config, *, rasters=True, errors=True):
    """``n`` seeded requests ``(cmd, payload)`` for ``config``: samples (edge cases first,
    then random), table writes and reads of random ranges, info, status, and, with
    ``rasters``, raster requests; with ``errors``, requests that must get an error reply
    (unknown command, wrong length, range beyond a table, a value too wide, a read too
    long for its reply frame). When ``n`` allows,
    every kind comes at least once."""
    q, fmt = config.quantizer, config.quantizer.fmt
    samples = np.concatenate([edge_samples(q.sensors, fmt), random_samples(rng, n, q.sensors,
                                                                             fmt)])
    out, si = [], 0
    kinds = ["sample"] * 8 + ["write_w", "read_w", "write_t", "read_t", "info", "status"]
    if rasters:
        kinds += ["raster"]
    if errors:
        kinds += ["error"]
    # every kind once (in a random order), then random draws: short streams cover them all
    distinct = sorted(set(kinds))
    first = [distinct[int(i)] for i in rng.permutation(len(distinct))]
    draws = first + [kinds[int(i)] for i in rng.integers(0, len(kinds), max(n - len(first), 0))]
    for kind in draws[:n]:
        if kind in ("sample", "raster"):
            row = samples[si % len(samples)]
            si += 1
            out.append((Cmd.SAMPLE if kind == "sample" else Cmd.RASTER,
                        pack_codes(row, fmt.sensor_bits)))
        elif kind in ("write_w", "read_w"):
            count = int(rng.integers(1, min(q.mcs, 16) + 1))
            start = int(rng.integers(0, q.mcs - count + 1))
            head = start.to_bytes(2, "little") + bytes([count])
            if kind == "write_w":
                codes = rng.integers(0, fmt.weight_max + 1, count)
                out.append((Cmd.WRITE_WEIGHTS, head + pack_codes(codes, fmt.weight_bits)))
            else:
                out.append((Cmd.READ_WEIGHTS, head))
        elif kind in ("write_t", "read_t"):
            count = int(rng.integers(1, q.levels + 1))
            start = int(rng.integers(0, q.levels - count + 1))
            head = bytes([start, count])
            if kind == "write_t":
                table = q.table.thresholds[start:start + count]
                codes = np.clip(table + rng.integers(-3000, 3001, count), 0, fmt.drive_max)
                out.append((Cmd.WRITE_THRESHOLDS, head + pack_codes(codes, fmt.drive_bits)))
            else:
                out.append((Cmd.READ_THRESHOLDS, head))
        elif kind == "info":
            out.append((Cmd.INFO, b""))
        elif kind == "status":
            out.append((Cmd.STATUS, b""))
        else:
            out.append([(0x42, b""), (Cmd.INFO, b"\x00"), (Cmd.SAMPLE, b"\x01\x02"),
                        (Cmd.READ_WEIGHTS, (q.mcs - 1).to_bytes(2, "little") + b"\x02"),
                        (Cmd.READ_THRESHOLDS, bytes([q.levels, 1])),
                        (Cmd.WRITE_THRESHOLDS, b"\x00\x01" + (1 << fmt.drive_bits).to_bytes(
                            3, "little")),
                        (Cmd.WRITE_WEIGHTS, b"\x00\x00\x00"),
                        (Cmd.READ_WEIGHTS, b"\x00\x00" + bytes([max_codes(fmt.weight_bits, 3)
                                                                + 1]))][int(rng.integers(0, 8))])
    return out


def model_replies(model, requests, first_seq=0):
    """The decoded reply frames ``model`` gives ``requests`` (numbered from ``first_seq``):
    one list of frames per request."""
    out = []
    for k, (cmd, payload) in enumerate(requests):
        model.counters["good_frames"] += 1             # as the device counts a good frame
        out.append(model.execute((first_seq + k) & 0xFFFF, cmd, payload))
    return out


def gc_session(rng, config, *, train=4, samples=3, power_on=True, raster=True, iic=()):
    """A seeded session of protocol version 2 for ``config`` (a SystemConfig with a GC layer):
    ``(seq, cmd, payload)`` requests. INFO; a TRAIN and a SAMPLE on the power-on layer; bad
    GC requests (each refused: the sizes of the refused-request table of docs/protocol.md
    section 11 for this build); a random connectivity (pointers and GC indices in several
    writes, read back), a TRAIN refused with NOT_CONNECTED before its CONNECT, a CONNECT
    refused (GC indices not rising), the right tables and CONNECT; ``train`` TRAIN samples
    (one repeated with its seq, as a retry), CLAMP, every weight read back, ``samples``
    SAMPLEs (one repeated, one sent again with a new seq), a weight written by hand, a
    RASTER (the GC layer untouched), a SAMPLE after it, STATUS. Without ``power_on`` no
    window before the connectivity, without ``raster`` neither the RASTER nor the SAMPLE
    after it (shorter sessions for slow simulators). With the GC->MC path (``config.gc.iic``)
    the bad requests include its weight's (positive, below the format, past its one entry),
    and ``iic`` (weight codes, <= 0) are written after the clamp (and read back), the first
    before the SAMPLEs, each next one before one more SAMPLE."""
    from ...golden.fixed.gc_layer import fanout_lists
    from ...golden.fixed.link import GcTable
    from ...golden.fixed.system import gc_tables, iic_field

    q, g, fmt = config.quantizer, config.gc, config.quantizer.fmt
    seq = [0]
    out = []

    def add(cmd, payload=b"", same=False):
        if not same:
            seq[0] = (seq[0] + 1) & 0xFFFF
        out.append((seq[0], cmd, bytes(payload)))

    def gc_head(table, start, count):
        return bytes([table]) + int(start).to_bytes(2, "little") + bytes([count])

    def write_gc(table, start, codes):
        nb = 3 if table == GcTable.WEIGHTS else 2
        for lo in range(0, len(codes), 50):
            chunk = codes[lo:lo + 50]
            add(Cmd.WRITE_GC, gc_head(table, start + lo, len(chunk))
                + b"".join(int(c).to_bytes(nb, "little") for c in chunk))

    def iic_code(code):
        return iic_field(code, fmt).to_bytes(code_bytes(fmt.current_bits), "little")

    def write_iic(code):
        add(Cmd.WRITE_GC, gc_head(GcTable.IIC, 0, 1) + iic_code(code))
        read_gc(GcTable.IIC, 1)

    def read_gc(table, size):
        for lo in range(0, size, 60):
            add(Cmd.READ_GC, gc_head(table, lo, min(60, size - lo)))

    def sample_row():
        top = (1 << fmt.sensor_bits) - 1
        scale = rng.choice([1e-3, 1e-1, 1.0])
        return pack_codes(rng.integers(0, int(scale * top) + 2, q.sensors).clip(0, top),
                          fmt.sensor_bits)

    add(Cmd.INFO)
    if power_on:
        add(Cmd.TRAIN, sample_row())
        add(Cmd.SAMPLE, sample_row())
    S, G, M = g.synapses, g.gcs, g.mcs
    w_max = g.params["w_max"]
    absent = len(gc_tables(config))                     # the first selector not built
    bad = [
        (Cmd.WRITE_GC, b"\x00\x00\x00"),
        (Cmd.WRITE_GC, gc_head(absent, 0, 1) + b"\x00\x00\x00"),
        (Cmd.WRITE_GC, gc_head(0, 0, 0)), (Cmd.WRITE_GC, gc_head(1, 0, 2) + b"\x00\x00\x00"),
        (Cmd.WRITE_GC, gc_head(0, S - 1, 2) + b"\x00" * 6),
        (Cmd.WRITE_GC, gc_head(1, M, 2) + b"\x00" * 4),
        (Cmd.WRITE_GC, gc_head(0, 0, 1) + (w_max + 1).to_bytes(3, "little")),
        (Cmd.WRITE_GC, gc_head(1, 0, 1) + (S + 1).to_bytes(2, "little")),
        (Cmd.WRITE_GC, gc_head(2, 0, 1) + G.to_bytes(2, "little")),
        (Cmd.WRITE_GC, gc_head(0, 0, 83) + b"\x00" * 3),
        (Cmd.READ_GC, gc_head(0, 0, 1) + b"\x00"), (Cmd.READ_GC, gc_head(2, 0, 124)),
        (Cmd.READ_GC, gc_head(0, 0, 83)), (Cmd.READ_GC, gc_head(2, S - 1, 2)),
        (Cmd.READ_GC, gc_head(1, M, 2)), (Cmd.READ_GC, b"\x01\x00"),
        (Cmd.READ_GC, gc_head(7, 0, 1)),
        (Cmd.CONNECT, b"\x00"), (Cmd.CLAMP, b"\x00"), (Cmd.TRAIN, b"\x01" * 3),
        (Cmd.SAMPLE, b"\x01" * (2 * q.sensors + 1)),
    ]
    if g.iic:
        iic_head = gc_head(GcTable.IIC, 0, 1)
        bad += [(Cmd.WRITE_GC, iic_head + iic_code(1)),                    # BAD_VALUE
                (Cmd.WRITE_GC, iic_head + iic_code(fmt.current_min - 1)),  # BAD_VALUE
                (Cmd.WRITE_GC, gc_head(GcTable.IIC, 1, 1) + iic_code(0)),  # BAD_ADDRESS
                (Cmd.WRITE_GC, gc_head(GcTable.IIC, 0, 2) + iic_code(0) * 2),
                (Cmd.READ_GC, gc_head(GcTable.IIC, 0, 2))]                 # BAD_ADDRESS
    for k in rng.permutation(len(bad)):
        add(*bad[int(k)])
    # a random connectivity that fits the synapse memory
    per_mc = max(1, min(G, S // M))
    mask = np.zeros((G, M), dtype=bool)
    for m in range(M):
        n = int(rng.integers(0, per_mc + 1))
        mask[rng.choice(G, n, replace=False), m] = True
    ptr, gc = fanout_lists(mask)
    write_gc(GcTable.POINTERS, 0, ptr)
    add(Cmd.TRAIN, sample_row())                        # NOT_CONNECTED
    if len(gc) >= 2:                                    # indices not rising: BAD_VALUE
        swapped = gc.copy()
        lo = int(np.flatnonzero(np.diff(ptr) >= 2)[0]) if np.any(np.diff(ptr) >= 2) else None
        if lo is not None:
            swapped[ptr[lo]], swapped[ptr[lo] + 1] = gc[ptr[lo] + 1], gc[ptr[lo]]
            write_gc(GcTable.TARGETS, 0, swapped)
            add(Cmd.CONNECT)
    if len(gc):
        write_gc(GcTable.TARGETS, 0, gc)
    read_gc(GcTable.POINTERS, M + 1)
    read_gc(GcTable.TARGETS, S)
    add(Cmd.CONNECT)
    for k in range(train):
        add(Cmd.TRAIN, sample_row())
        if k == 1:
            add(Cmd.TRAIN, out[-1][2], same=True)       # a retry: the window runs once
    add(Cmd.CLAMP)
    read_gc(GcTable.WEIGHTS, S)
    if iic:
        write_iic(iic[0])
    for k in range(samples):
        add(Cmd.SAMPLE, sample_row())
        if k == 0:
            add(Cmd.SAMPLE, out[-1][2], same=True)      # a retry: the same reply
            add(Cmd.SAMPLE, out[-1][2])                 # a new request: the next window
    for code in iic[1:]:                                # the weight changed between windows
        write_iic(code)
        add(Cmd.SAMPLE, sample_row())
    write_gc(GcTable.WEIGHTS, int(rng.integers(0, S)), [w_max])
    if raster:
        add(Cmd.RASTER, sample_row())
        add(Cmd.SAMPLE, sample_row())
    add(Cmd.STATUS)
    return out


def model_replies_seq(model, requests):
    """As :func:`model_replies` for ``(seq, cmd, payload)`` requests."""
    out = []
    for seq, cmd, payload in requests:
        model.counters["good_frames"] += 1
        out.append(model.execute(seq, cmd, payload))
    return out
