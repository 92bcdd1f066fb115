"""Load time and peak memory: an inference-only load against a full load.

Builds a model with many document tags (random unit vectors, no training:
loading does not care how the numbers were made), saves it in today's
format (3: tags in doc_tags.json) and rewrites a copy the way format 2 laid
it out (tags inline in model.json; the .npy files are hard links), then
loads each, in a fresh process per load, with mmap="r" (as JoSEInferencer
loads) and

  - inference_only=True  (what JoSEInferencer / jose-infer do), and
  - a full load,

and, with --baseline DIR, loads the format-2 copy with the jose of another
source tree too (built in place: the jose before format 3, say), and
reports the median wall time of JoSE.load and the process's peak RSS
(VmHWM) after the load, and its growth over the RSS before the load (the
imports). The page cache is warmed by one discarded load of each kind first.

It also times, in this process, the parts of a full load that concern the
tags (parsing doc_tags.json, building the tag->row dict) and the .npy
alternative for integer tags, which is why the tags are JSON (see
results/load.md).

    python benchmarks/bench_load.py [--docs 1000000] [--words 20000] [--dim 100]
        [--tags int str] [--repeat 3] [--out benchmarks/results]

Writes results/load.md and results/load.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_jose import child_env, jose_origin, use_local_build  # noqa: E402

use_local_build()

CHILD = """
import json, os, sys, time
import numpy as np
import jose
from jose import JoSE

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
path, inference_only = sys.argv[1], sys.argv[2] == "1"
before = status("VmRSS")
t = time.perf_counter()
model = JoSE.load(path, mmap="r", inference_only=inference_only)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rss_before": before, "peak": status("VmHWM"),
                  "jose": os.path.dirname(os.path.abspath(jose.__file__))}))
"""


def build(path: Path, n_docs: int, n_words: int, dim: int, tags: str) -> None:
    import numpy as np
    from jose import JoSE
    words = [f"w{i}" for i in range(n_words)]
    counts = np.arange(n_words, 0, -1, dtype=np.int64) + 5
    doc_tags = list(range(n_docs)) if tags == "int" else [f"{i:016x}" for i in
                                                          range(0, 7919 * n_docs, 7919)]
    model = JoSE(vector_size=dim, min_count=1, seed=1, margin=0.3)
    model.build_vocab_from_counts(words, counts, doc_tags)
    model.save(path)


def downgrade_to_2(v3: Path, v2: Path) -> None:
    """A format-2 copy of v3: the tags inline in model.json, as jose <= 0f7cd33 saved."""
    from jose import persistence
    v2.mkdir()
    for name in persistence.ARRAYS.values():
        os.link(v3 / name, v2 / name)
    meta = json.loads((v3 / "model.json").read_text(encoding="utf-8"))
    tags = json.loads((v3 / "doc_tags.json").read_text(encoding="utf-8"))
    meta.pop("checksum")
    old = {}
    for key, value in meta.items():
        old[key] = value
        if key == "words":
            old["doc_tags"] = tags
    old["format_version"] = 2
    del old["files"]["doc_tags.json"]
    (v2 / "model.json").write_bytes(persistence._meta_bytes(old))


def load_in_child(path: Path, inference_only: bool, jose_root=None) -> dict:
    env = child_env()
    if jose_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(jose_root), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), "1" if inference_only else "0"],
                         env=env, cwd=tempfile.gettempdir(), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def describe_tree(root) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h"],
                             capture_output=True, text=True, check=True)
        return f"jose {out.stdout.strip()}"
    except (OSError, subprocess.CalledProcessError):
        return f"jose of {root}"


def tag_parts(v3: Path, tags: str) -> dict:
    """Seconds of the tag-related steps of a full load, in this process."""
    import numpy as np
    raw = (v3 / "doc_tags.json").read_bytes()
    t = time.perf_counter()
    parsed = json.loads(raw.decode("utf-8"))
    parse = time.perf_counter() - t
    t = time.perf_counter()
    set(map(type, parsed)) <= {int, str}
    types = time.perf_counter() - t
    t = time.perf_counter()
    index = {k: i for i, k in enumerate(parsed)}
    dict_seconds = time.perf_counter() - t
    parts = {"json_parse": parse, "type_check": types, "key_dict": dict_seconds,
             "tag_file_bytes": len(raw)}
    if tags == "int":
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "t.npy", np.asarray(parsed, dtype=np.int64))
            t = time.perf_counter()
            np.load(Path(tmp) / "t.npy").tolist()
            parts["npy_load_tolist"] = time.perf_counter() - t
    del index
    return parts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--words", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--tags", nargs="+", choices=["int", "str"], default=["int", "str"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a jose source tree (built in place) to load the format-2 copy with too")
    ap.add_argument("--scratch", type=Path, default=None,
                    help="directory for the saved models (default: a temporary one)")
    args = ap.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench_load.", dir=args.scratch))
    rows, parts = [], {}
    here = "this jose"
    baseline = describe_tree(args.baseline) if args.baseline else None
    try:
        for tags in args.tags:
            v3, v2 = scratch / f"{tags}.v3", scratch / f"{tags}.v2"
            t = time.perf_counter()
            build(v3, args.docs, args.words, args.dim, tags)
            print(f"[{tags} tags] built and saved in {time.perf_counter() - t:.1f} s", flush=True)
            downgrade_to_2(v3, v2)
            sizes = {f"{fmt}/{p.name}": p.stat().st_size for fmt, d in (("v3", v3), ("v2", v2))
                     for p in sorted(d.iterdir())}
            cases = [("3", v3, True, None), ("3", v3, False, None), ("2", v2, True, None),
                     ("2", v2, False, None)]
            if args.baseline:
                cases += [("2", v2, True, args.baseline), ("2", v2, False, args.baseline)]
            for _, path, inference_only, root in cases:        # warm the page cache
                load_in_child(path, inference_only, root)
            for fmt, path, inference_only, root in cases:
                runs = [load_in_child(path, inference_only, root) for _ in range(args.repeat)]
                origins = {r["jose"] for r in runs}
                want = str(Path(root).resolve() / "jose") if root else jose_origin()
                assert origins == {want}, (origins, want)
                row = {"tags": tags, "format": fmt, "jose": baseline if root else here,
                       "load": "inference_only" if inference_only else "full",
                       "seconds": statistics.median(r["seconds"] for r in runs),
                       "peak_mb": statistics.median(r["peak"] for r in runs) / 2 ** 20,
                       "growth_mb": statistics.median(r["peak"] - r["rss_before"]
                                                      for r in runs) / 2 ** 20,
                       "runs": runs}
                rows.append(row)
                print(f"[{tags} tags] {row['jose']}, format {fmt} {row['load']:>14}: "
                      f"{row['seconds']:.3f} s, "
                      f"peak {row['peak_mb']:.0f} MB (+{row['growth_mb']:.0f} MB)", flush=True)
            parts[tags] = {**tag_parts(v3, tags), "file_sizes": sizes}
            for d in (v3, v2):
                shutil.rmtree(d)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_report(args, rows, parts)
    return 0


def machine() -> dict:
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average": load, "jose": jose_origin()}


def write_report(args, rows, parts) -> None:
    import numpy as np
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine()
    command = "python benchmarks/bench_load.py " + " ".join(sys.argv[1:])
    (args.out / "load.json").write_text(json.dumps(
        {"command": command, "machine": info, "numpy": np.__version__,
         "docs": args.docs, "words": args.words, "dim": args.dim, "repeat": args.repeat,
         "rows": rows, "tag_parts": parts}, indent=1) + "\n")
    lines = [
        "# Loading: inference-only against full",
        "",
        f"`{command}`: a model of {args.words:,} words and {args.docs:,} documents, "
        f"{args.dim}-d, loaded with `mmap=\"r\"` in a fresh process per load; median of "
        f"{args.repeat} load(s) after one warm-up load of each kind (warm page cache). Peak is "
        f"the process's VmHWM after `JoSE.load`, growth its rise over the RSS before the load "
        f"(Python, numpy and jose imported).",
        "",
        f"Machine: {info['platform']}, {info['cpus']} CPUs, Python {info['python']}, numpy "
        f"{np.__version__}; load average at the end {info['load_average']} (shared machine: "
        f"times are indicative). jose imported from `{info['jose']}`.",
        "",
        "| tags | loaded by | format | load | seconds | peak RSS (MB) | growth (MB) |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['tags']} | {r['jose']} | {r['format']} | {r['load']} | "
                     f"{r['seconds']:.3f} | {r['peak_mb']:.0f} | {r['growth_mb']:.0f} |")
    lines += ["", "Format 3 is today's (tags in `doc_tags.json`, which an inference-only load "
              "does not open); format 2 kept them in `model.json`, which every load parses "
              "whole. A full load's growth is mostly dv.npy's pages (mapped, all read by the "
              "unit-row check) and the tag list and tag→row dict.", "", "## The tags' share of a full load (format 3, in one process)", "",
              "| tags | doc_tags.json | json.loads | type check | tag→row dict | "
              ".npy load + tolist (alternative) |", "|---|---:|---:|---:|---:|---:|"]
    for tags, p in parts.items():
        npy = f"{p['npy_load_tolist']:.3f} s" if "npy_load_tolist" in p else "—"
        lines.append(f"| {tags} | {p['tag_file_bytes'] / 2 ** 20:.1f} MB | "
                     f"{p['json_parse']:.3f} s | {p['type_check']:.3f} s | "
                     f"{p['key_dict']:.3f} s | {npy} |")
    first = next(iter(parts.values()))["file_sizes"]
    lines += ["", "File sizes (first tag kind): " + ", ".join(
        f"{k} {v / 2 ** 20:.1f} MB" for k, v in first.items()), ""]
    (args.out / "load.md").write_text("\n".join(lines))
    print(f"wrote {args.out / 'load.md'} and {args.out / 'load.json'}")


if __name__ == "__main__":
    sys.exit(main())
