"""Figures of ``hetq experiment`` (PNG, matplotlib with the Agg backend)."""

import numpy as np

from .experiment import CONDITIONS
from .protocol import utilisation

__all__ = ["plot_accuracy", "plot_sd_utilisation", "plot_utilisation", "plot_raster",
           "plot_array_raster", "plot_paper"]

LAYERS = (("mc", "MC"), ("gc", "GC"))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _grid(summary, title, metric, path, ylabel, et=False):
    plt = _plt()
    sessions = sorted({r["session"] for r in summary})
    fig, axes = plt.subplots(len(sessions), 2, figsize=(11, 3.6 * len(sessions)), squeeze=False)
    names = [c.name for c in CONDITIONS.values()]
    for i, s in enumerate(sessions):
        rows = [r for r in summary if r["session"] == s]
        for j, (layer, label) in enumerate(LAYERS):
            ax = axes[i, j]
            for k, name in enumerate(names):
                sel = sorted((r for r in rows if r["condition"] == name),
                             key=lambda r: r["duplication"])
                if not sel:
                    continue
                d = [r["duplication"] for r in sel]
                ax.errorbar(d, [r[f"{layer}_{metric}"] for r in sel],
                            yerr=[r[f"{layer}_{metric}_sd"] for r in sel], marker="o",
                            capsize=3, label=name, color=f"C{k}")
            if et and rows:
                ax.axhline(rows[0]["et_acc"], color="k", ls="--", lw=1, label="ET")
            ax.set_xscale("log", base=2)
            ds = sorted({r["duplication"] for r in rows})
            ax.set_xticks(ds, [str(d) for d in ds])
            ax.set(title=f"{s}: {label} {title}", xlabel="duplication D", ylabel=ylabel)
            ax.grid(alpha=0.3)
        axes[i, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy(summary, path):
    """SVM accuracy against D per condition; rows = sessions, columns = MC, GC."""
    _grid(summary, "accuracy", "acc", path, "accuracy % (mean, SD over folds)", et=True)


def plot_sd_utilisation(summary, path):
    """SD of per-sample utilisation (mean over folds) against D."""
    _grid(summary, "SD of utilisation", "util_sd", path, "SD of utilisation (% points)")


def plot_paper(cells, path):
    """Our results (solid, filled) next to the published ones (dashed, open; error bars = fold
    SDs) against D; rows = sessions, columns = MC/GC accuracy and SD of utilisation. Red
    rings mark cells further apart than the published fold SD; ET accuracy is drawn as
    horizontal lines (grey band: the published value ± its SD). ``cells``:
    :func:`hetq.paper.compare`."""
    from .paper import METRICS
    plt = _plt()
    metrics = ("mc_acc", "gc_acc", "mc_util_sd", "gc_util_sd")
    sessions = list(dict.fromkeys(c.session for c in cells))
    fig, axes = plt.subplots(len(sessions), 4, figsize=(17, 3.8 * len(sessions)),
                             squeeze=False)
    names = [c.name for c in CONDITIONS.values()]
    for i, s in enumerate(sessions):
        et = next((c for c in cells if c.session == s and c.condition == "ET"), None)
        for j, m in enumerate(metrics):
            ax = axes[i, j]
            for k, name in enumerate(names):
                sel = sorted((c for c in cells if c.session == s and c.condition == name
                              and c.metric == m), key=lambda c: c.duplication)
                if not sel:
                    continue
                d = np.array([c.duplication for c in sel], dtype=float)
                ax.errorbar(d, [c.ours for c in sel], yerr=[c.ours_sd for c in sel],
                            color=f"C{k}", marker="o", capsize=3, label=f"{name} (hetq)")
                ax.errorbar(d * 1.07, [c.paper for c in sel], yerr=[c.paper_sd for c in sel],
                            color=f"C{k}", marker="o", mfc="white", ls="--", capsize=3,
                            label=f"{name} (paper)")
                off = [c for c in sel if not c.agrees]
                if off:
                    ax.scatter([c.duplication for c in off], [c.ours for c in off], s=180,
                               facecolors="none", edgecolors="red", lw=1.5, zorder=5)
            if et is not None and m.endswith("acc"):
                ax.axhspan(et.paper - et.paper_sd, et.paper + et.paper_sd, color="0.93",
                           zorder=0)
                ax.axhline(et.paper, color="k", ls="--", lw=1, label="ET (paper)")
                ax.axhline(et.ours, color="k", lw=1, label="ET (hetq)")
            ax.set_xscale("log", base=2)
            ds = sorted({c.duplication for c in cells if c.session == s and c.duplication})
            if ds:
                ax.set_xticks(ds, [str(d) for d in ds])
                ax.set_xlim(ds[0] / 1.5, ds[-1] * 1.5)
            ax.set(title=f"{s}: {METRICS[m]}", xlabel="duplication D")
            ax.grid(alpha=0.3)
        axes[i, 0].legend(fontsize=7, ncol=2)
    fig.suptitle("hetq (solid) against the published tables (dashed); red rings: further "
                 "apart than the published fold SD")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_utilisation(records, path, duplication):
    """Distributions of per-sample utilisation (all test samples of all folds) at one D."""
    plt = _plt()
    recs = [r for r in records if r["condition"] != "et" and r["duplication"] == duplication]
    sessions = sorted({r["session"] for r in recs})
    fig, axes = plt.subplots(len(sessions), 2, figsize=(11, 3.4 * len(sessions)), squeeze=False)
    bins = np.linspace(0, 100, 41)
    for i, s in enumerate(sessions):
        for j, (layer, label) in enumerate(LAYERS):
            ax = axes[i, j]
            for k, (key, cond) in enumerate(CONDITIONS.items()):
                u = [r[f"{layer}_util"] for r in recs if r["session"] == s
                     and r["condition"] == key]
                if u:
                    ax.hist(np.concatenate(u), bins=bins, histtype="step", density=True, lw=1.5,
                            label=cond.name, color=f"C{k}")
            ax.set(title=f"{s}: {label} utilisation per test sample, D = {duplication}",
                   xlabel="% units active", ylabel="density")
        axes[i, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_raster(examples, labels, path):
    """MC spike rasters (one test sample per class, back to back) and MC phase histograms for
    each condition in ``examples`` (name -> Readout with ``mc_raster``)."""
    plt = _plt()
    n = len(examples)
    fig, axes = plt.subplots(n, 2, figsize=(13, 2.8 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]})
    classes = np.unique(labels)
    picks = [int(np.flatnonzero(labels == c)[0]) for c in classes]
    for i, (name, out) in enumerate(examples.items()):
        steps = out.mc_raster.shape[1]
        ax = axes[i, 0]
        for k, s in enumerate(picks):
            t, unit = np.nonzero(out.mc_raster[s])
            ax.scatter(t + k * steps, unit, s=1.5, color=f"C{k % 10}")
        ax.set(title=f"{name}: MC spikes, one test sample per class "
                     f"(MC utilisation {utilisation(out.mc_phase).mean():.0f}%)",
               xlabel="step (samples back to back)", ylabel="MC")
        ph = out.mc_phase[out.mc_phase > 0]
        axes[i, 1].hist(ph, bins=np.arange(0.5, 19.5), color="C0")
        axes[i, 1].set(title="MC phase readout", xlabel="phase", ylabel="count")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_array_raster(events, *, samples, mcs, hold, rinse, path, quantizer_phases=None,
                      windows=4, first_step=0, title="MC array (RTL)"):
    """Spike raster of the MC array's events for the first ``windows`` sample windows, and the
    histogram of the phase of every MC in every hold cycle (with the quantizer's phases of
    the same samples, when given, for comparison)."""
    from .golden.fixed.mc_array import cycle_phases

    plt = _plt()
    ev = np.asarray(events, dtype=np.int64).reshape(-1, 2)
    window = hold + rinse
    shown = min(windows, samples)
    first = int(first_step)
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [3, 1]})
    keep = ev[(ev[:, 0] - first) < shown * window] if len(ev) else ev
    axes[0].scatter(keep[:, 0] - first, keep[:, 1], s=2, color="C0")
    for k in range(shown + 1):
        axes[0].axvline(k * window, color="k", lw=0.6)
        if rinse and k < shown:
            axes[0].axvspan(k * window + hold, (k + 1) * window, color="0.9", zorder=0)
    axes[0].set(title=f"{title}: spikes of the first {shown} windows (grey: rinse)",
                xlabel="step", ylabel="MC", xlim=(0, shown * window), ylim=(-1, mcs))
    phases = cycle_phases(ev, samples=samples, mcs=mcs, hold=hold, rinse=rinse,
                          first_step=first)[:, :hold // 50]
    bins = np.arange(0.5, 19.5)
    axes[1].hist(phases[phases > 0], bins=bins, color="C0", label="array, every hold cycle")
    if quantizer_phases is not None:
        q = np.repeat(np.asarray(quantizer_phases)[:, None, :], hold // 50, axis=1)
        axes[1].hist(q[q > 0], bins=bins, histtype="step", color="C3", lw=1.5,
                     label="quantizer")
        axes[1].legend(fontsize=8)
    axes[1].set(title="spike phase", xlabel="phase", ylabel="count")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
