"""cocotb benches: stream drivers for the generated Verilog (run inside the simulator), and
the runner that converts a component, builds it with Icarus and runs a bench module (called
from pytest or a command).

A bench module gets its stimulus from the .npz file named by the environment variable
``HETQ_BENCH`` and writes what it saw to ``<HETQ_BENCH>.result.npz``.
"""

import shutil
from pathlib import Path

__all__ = ["StreamSource", "StreamSink", "send_writes", "BenchFailure", "icarus_available",
           "require_icarus", "run_cocotb_module", "run_result_bench", "saved_order",
           "order_arrays", "ICARUS_INSTALL"]

#: How to install Icarus Verilog (said by every error about it).
ICARUS_INSTALL = "run `make iverilog` or `apt-get install iverilog`"


def _idle(rng, stall):
    n = 0
    while stall and rng.random() < stall:
        n += 1
    return n


class _StreamPort:
    """The signals of a flattened stream port ``<name>__{payload,valid,ready}``."""

    def __init__(self, dut, name):
        self.clk = dut.clk
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")


class StreamSource(_StreamPort):
    """Drives a stream port's payload and valid."""

    def __init__(self, dut, name):
        super().__init__(dut, name)
        self.valid.value = 0

    async def send(self, words, rng, stall, delays, taken, start=0):
        """Offer ``words`` (port integers) one after another, each after a random idle time
        (probability ``stall`` per cycle) plus ``delays[k]`` cycles; append the cycle of each
        transfer (counted from ``start``) to ``taken``."""
        from cocotb.triggers import RisingEdge

        cycle = start
        for k, word in enumerate(words):
            for _ in range(_idle(rng, stall) + delays[k]):
                await RisingEdge(self.clk)
                cycle += 1
            self.payload.value = word
            self.valid.value = 1
            while True:
                await RisingEdge(self.clk)
                cycle += 1
                if self.ready.value == 1:
                    break
            taken.append(cycle)
            self.valid.value = 0


class StreamSink(_StreamPort):
    """Drives a stream port's ready and collects its payloads."""

    def __init__(self, dut, name):
        super().__init__(dut, name)
        self.ready.value = 0

    async def receive(self, count, rng, stall, out, timeout):
        """Take ``count`` transfers with ``ready`` low with probability ``stall`` per cycle;
        append ``(cycle, word)`` to ``out``; TimeoutError after ``timeout`` cycles."""
        from cocotb.triggers import RisingEdge

        cycle = 0
        while len(out) < count:
            ready = int(rng.random() >= stall)
            self.ready.value = ready
            await RisingEdge(self.clk)
            cycle += 1
            if ready and self.valid.value == 1:
                out.append((cycle, self.payload.value.to_unsigned()))
            if cycle > timeout:
                raise TimeoutError(f"only {len(out)} of {count} outputs after {cycle} cycles")
        self.ready.value = 0


async def send_writes(ports, layouts, writes, rng, write_cycles):
    """Send each table write (``kind``, ``addr``, ``code``, ``delay``) on ``ports[kind]`` (a
    :class:`StreamSource`, payload ``layouts[kind]``) after its idle delay; append the cycle of
    every transfer to ``write_cycles``."""
    from .verilog import pack_struct

    cycle = 0
    for w in writes:
        taken = []
        word = pack_struct(layouts[w.kind], addr=w.addr, data=w.code)
        await ports[w.kind].send([word], rng, 0.0, [w.delay], taken, start=cycle)
        cycle = taken[0]
        write_cycles.append(cycle)


class BenchFailure(AssertionError):
    """A cocotb bench reported a failing test; the message points at its log."""


def icarus_available():
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def require_icarus():
    """RuntimeError naming the install command when Icarus Verilog is missing."""
    if not icarus_available():
        raise RuntimeError(f"Icarus Verilog (iverilog, vvp) is not installed; {ICARUS_INSTALL}")


def run_cocotb_module(component, toplevel, module, build_dir, env, waves=False):
    """Convert ``component`` to ``<build_dir>/<toplevel>.v``, build it with Icarus and run the
    cocotb tests of ``module`` with the extra environment ``env``. Raises BenchFailure when a
    test fails."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from .verilog import write_verilog

    require_icarus()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = write_verilog(component, toplevel, build_dir / f"{toplevel}.v")
    runner = get_runner("icarus")
    log = build_dir / "sim.log"
    runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                 timescale=("1ns", "1ps"), always=True, waves=waves, log_file=log)
    xml = build_dir / "results.xml"
    if xml.exists():
        xml.unlink()
    try:
        runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=build_dir,
                    extra_env=env, waves=waves, log_file=log, results_xml=str(xml))
    except SystemExit:              # under pytest the runner exits on a failed test
        pass
    if not xml.exists():
        raise BenchFailure(f"cocotb bench {module} wrote no results (log: {log})")
    total, failed = get_results(xml)
    if total == 0 or failed:
        raise BenchFailure(f"cocotb bench {module}: {failed} of {total} tests failed "
                           f"(log: {log})")


def run_result_bench(component, toplevel, module, build_dir, save, waves=False):
    """Save a bench's stimulus with ``save(path)``, run ``module`` on ``component`` and return
    the path of the result file the bench wrote and the :class:`BenchFailure` it raised (or
    None). Raises BenchFailure when the bench wrote no result."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    bench = build_dir / "stimulus.npz"
    save(bench)
    result = Path(f"{bench}.result.npz")
    if result.exists():
        result.unlink()
    failure = None
    try:
        run_cocotb_module(component, toplevel, module, build_dir, {"HETQ_BENCH": str(bench)},
                          waves=waves)
    except BenchFailure as e:
        failure = e
    if not result.exists():
        raise failure or BenchFailure(f"the bench wrote no result (log: {build_dir / 'sim.log'})")
    return result, failure


def order_arrays(order):
    """An acceptance order (see :func:`~.events.merge_order`) as two arrays for an .npz."""
    import numpy as np

    return {"order_kind": np.array([k == "write" for k, _ in order], dtype=bool),
            "order_index": np.array([i for _, i in order], dtype=np.int64)}


def saved_order(result):
    """The acceptance order a bench saved with :func:`order_arrays`."""
    return [("write" if k else "sample", int(i))
            for k, i in zip(result["order_kind"], result["order_index"])]
