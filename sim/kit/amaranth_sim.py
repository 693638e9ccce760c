"""Drivers for benches in Amaranth's simulator: stream sources and sinks with seeded random
idle cycles and back-pressure, the table-write driver, and the simulator set-up.

Every driver counts clock edges from the start of the simulation, so the cycle numbers that
several drivers record are comparable.
"""

from amaranth.sim import Simulator

__all__ = ["idle_cycles", "stream_source", "stream_sink", "write_driver", "simulate"]

#: Clock period of every simulation (the value is irrelevant to the benches).
CLOCK_PERIOD = 1e-8


def idle_cycles(rng, stall):
    """A number of idle cycles: each further one with probability ``stall``."""
    n = 0
    while stall and rng.random() < stall:
        n += 1
    return n


async def stream_source(ctx, port, payloads, rng, stall, taken, delays=None):
    """Offer ``payloads`` on ``port`` one after another, with a random number of idle cycles
    (each with probability ``stall``) plus ``delays[k]`` before payload k; append the clock
    edge of every transfer to ``taken``."""
    cycle = 0
    for k, payload in enumerate(payloads):
        for _ in range(idle_cycles(rng, stall) + (delays[k] if delays is not None else 0)):
            await ctx.tick()
            cycle += 1
        ctx.set(port.payload, payload)
        ctx.set(port.valid, 1)
        while True:
            _, _, ready = await ctx.tick().sample(port.ready)
            cycle += 1
            if ready:
                break
        taken.append(cycle)
        ctx.set(port.valid, 0)


async def stream_sink(ctx, port, count, rng, stall, convert, out, timeout):
    """Take ``count`` transfers from ``port`` with ``ready`` low with probability ``stall`` in
    every cycle; append ``(cycle, convert(payload))`` to ``out``. Raises RuntimeError after
    ``timeout`` cycles."""
    cycle = 0
    while len(out) < count:
        ctx.set(port.ready, int(rng.random() >= stall))
        _, _, valid, ready, payload = await ctx.tick().sample(port.valid, port.ready,
                                                              port.payload)
        cycle += 1
        if valid and ready:
            out.append((cycle, convert(payload)))
        if cycle > timeout:
            raise RuntimeError(f"only {len(out)} of {count} outputs after {timeout} cycles")
    ctx.set(port.ready, 0)


async def write_driver(ctx, ports, writes, rng, write_cycles):
    """Offer each table write (anything with ``kind``, ``addr``, ``code`` and ``delay``) on
    ``ports[kind]`` after its idle delay; append the clock edge of every transfer to
    ``write_cycles``."""
    cycle = 0
    for w in writes:
        for _ in range(w.delay):
            await ctx.tick()
            cycle += 1
        taken = []
        await stream_source(ctx, ports[w.kind], [{"addr": w.addr, "data": w.code}], rng, 0.0,
                            taken)
        cycle += taken[0]
        write_cycles.append(cycle)


def simulate(dut, testbenches, vcd=None):
    """Run ``dut`` in Amaranth's simulator with a clock and the given async testbenches until
    they all return; ``vcd`` names a waveform file (opt-in)."""
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD)
    for tb in testbenches:
        sim.add_testbench(tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
