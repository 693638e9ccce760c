"""Request streams for the system benches and the replies the device model gives them."""

import numpy as np

from ...golden.fixed.link import Cmd, max_codes, pack_codes
from ..normaliser.stimulus import edge_samples, random_samples

__all__ = ["random_requests", "model_replies"]


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
