#!/usr/bin/env python3
"""A small mutation tester for the modules natv2's claims rest on (`make mutation`).

For each module of MODULES it makes one mutant per mutation site of the source (compare, arithmetic and
boolean operators, numeric and boolean constants, negated conditions, removed unary minus / not) and runs
only the tests that cover the module against it. A mutant is *killed* when those tests fail (or run past
the time limit), *survived* when they pass, *not covered* when no covering test executes its line (counted
as survived, without running). The summary gives the kill rate per module; `--json` keeps every mutant.

How a mutant runs: the parent process imports the heavy third-party libraries once, then forks one child
per mutant; the child installs an import hook that serves the mutated source for the module's name (the
file on disk is never changed), then runs pytest in-process. Tests that fork (two gloo ranks) inherit the
mutant; tests that start fresh interpreters would not, so none is selected here.

    .venv/bin/python tools/mutate.py                    # every module, 2 mutants at a time
    .venv/bin/python tools/mutate.py survival emo -j 1  # some modules
    .venv/bin/python tools/mutate.py --list survival    # the mutants, without running anything

Lines marked `# pragma: no mutate` are skipped. Annotations (not evaluated, `from __future__ import
annotations`), docstrings and strings are never mutated.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (source files, pytest arguments selecting the tests that cover them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "survival": (["src/natv2/search/survival.py"],
                 ["tests/test_search.py", "-k", "survival or reference_direction or three_objective or bounded_archive"]),
    "emo": (["src/natv2/search/emo.py"],
            ["tests/test_search.py", "-k", "nsga or emo or three_objectives or integer_lhs or needs_no_costs"]),
    "subset_selection": (["src/natv2/search/subset.py"], ["tests/test_search.py", "-k", "subset"]),
    "hypervolume": (["src/natv2/search/indicators.py"],
                    ["tests/test_search.py", "-k", "hypervolume or tradeoff or non_dominated or nsga or survival"]),
    "surrogate_selection": (["src/natv2/predictors/adaptive.py"], ["tests/test_predictors.py", "-k", "adaptive or fold or winner"]),
    "allreduce": (["src/natv2/train/dist.py"], ["tests/test_train_dist_ranks.py"]),
    "losses": (["src/natv2/train/losses.py"], ["tests/test_train_parts.py", "tests/test_train_losses.py"]),
    "bn_recalibration": (["src/natv2/supernets/bn.py"], ["tests/test_supernet.py", "tests/test_accuracy_eval.py", "-k", "recalib"]),
    "cost_counting": (["src/natv2/measure/costs.py", "src/natv2/measure/counters.py"],
                      ["tests/test_measure.py", "-k", "cost or macs or params or count or closed"]),
}

# modules whose tests run the code in forked processes the line tracer does not follow: run every mutant
NO_COVERAGE_FILTER = {"allreduce"}

PRELOAD = ("numpy", "scipy.stats", "scipy.optimize", "torch", "torch.distributed", "sklearn.tree", "lightgbm",
           "pymoo.algorithms.moo.nsga2", "pymoo.algorithms.moo.nsga3", "pymoo.algorithms.soo.nonconvex.ga",
           "pymoo.optimize", "pymoo.indicators.hv", "pymoo.util.ref_dirs", "safetensors.torch", "yaml", "pytest")


# ----------------------------------------------------------------------------- mutation sites
SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
            ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
            ast.LShift: ast.RShift, ast.RShift: ast.LShift}


@dataclass
class Mutant:
    module: str
    file: str
    index: int  # position among the file's sites
    line: int
    end_line: int
    kind: str
    description: str
    status: str = "pending"  # killed | survived | timeout | not_covered
    seconds: float = 0.0


def _skip_ids(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: annotations, docstrings, f-strings, decorators."""
    skip: set[int] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            drop(node.returns)
            for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                drop(a.annotation)
            for a in (node.args.vararg, node.args.kwarg):
                if a is not None:
                    drop(a.annotation)
            for d in node.decorator_list:
                drop(d)
        if isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        if isinstance(node, ast.JoinedStr):
            drop(node)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                drop(first)
        if isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                drop(d)
    return skip


def _sites(tree: ast.AST, lines: list[str]) -> list[tuple[ast.AST, str, str]]:
    """(node, kind, description) for every mutation site, in a stable order."""
    skip = _skip_ids(tree)
    out: list[tuple[ast.AST, str, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        if "pragma: no mutate" in lines[node.lineno - 1]:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAP_CMP:
                    out.append((node, f"cmp:{i}", f"{type(op).__name__} -> {SWAP_CMP[type(op)].__name__}"))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in SWAP_BIN:
            out.append((node, "binop", f"{type(node.op).__name__} -> {SWAP_BIN[type(node.op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((node, "boolop", f"{type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            out.append((node, "unary", f"drop {type(node.op).__name__}"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            v = node.value
            new = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, int) else (v * 2 if v else 1.0))
            out.append((node, "const", f"{v!r} -> {new!r}"))
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
            out.append((node, "negate", "negate the condition"))
    return out


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, kind: str) -> None:
        self.target, self.kind = target, kind

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return self.generic_visit(node)
        k = self.kind
        if k.startswith("cmp:"):
            i = int(k.split(":")[1])
            node.ops[i] = SWAP_CMP[type(node.ops[i])]()
        elif k == "binop":
            node.op = SWAP_BIN[type(node.op)]()
        elif k == "boolop":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif k == "unary":
            return node.operand
        elif k == "const":
            v = node.value
            node.value = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, int) else (v * 2 if v else 1.0))
        elif k == "negate":
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        return node


def mutants_of(module: str, rel: str) -> list[tuple[Mutant, str]]:
    """Every mutant of file `rel` with its full mutated source."""
    src = (ROOT / rel).read_text()
    tree = ast.parse(src)
    lines = src.splitlines()
    out = []
    for i, (node, kind, desc) in enumerate(_sites(tree, lines)):
        # mutate a copy: find the node again by its position in a fresh walk
        fresh = ast.parse(src)
        target = _sites(fresh, lines)[i][0]
        mutated = ast.fix_missing_locations(_Apply(target, kind).visit(fresh))
        new_src = ast.unparse(mutated)
        if new_src == ast.unparse(ast.parse(src)):
            continue
        m = Mutant(module, rel, i, node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno, kind,
                   f"{rel}:{node.lineno}:{node.col_offset + 1}: {desc}: `{lines[node.lineno - 1].strip()[:90]}`")
        out.append((m, new_src))
    return out


# ----------------------------------------------------------------------------- running tests in forked children
def _module_name(rel: str) -> str:
    return rel.removeprefix("src/").removesuffix(".py").replace("/", ".")


def _install_hook(rel: str, source: str) -> None:
    import importlib.abc
    import importlib.util

    name, path = _module_name(rel), str(ROOT / rel)

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__file__ = path
            exec(compile(source, path, "exec"), module.__dict__)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, target_path=None, target=None):
            if fullname == name:
                return importlib.util.spec_from_loader(fullname, Loader(), origin=path)
            return None

    sys.meta_path.insert(0, Finder())


def _run_pytest(pytest_args: list[str], quiet_log: str) -> int:
    import pytest

    fd = os.open(quiet_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return int(pytest.main([*pytest_args, "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", "-m", "not slow",
                            "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]))


def _fork(target, *args) -> int:
    pid = os.fork()
    if pid == 0:  # child
        code = 3
        try:
            code = target(*args)
        finally:
            os._exit(code)
    return pid


def _child_mutant(rel: str, source: str, pytest_args: list[str], log: str, cache_src: str, cache_dst: str) -> int:
    shutil.copytree(cache_src, cache_dst, dirs_exist_ok=True)  # each mutant gets its own copy of the warmed caches
    # the tests' caches: this conftest reads NATV2_TEST_CACHE_ROOT; older test suites read the two below
    os.environ.update(NATV2_TEST_CACHE_ROOT=cache_dst, NATV2_CACHE=f"{cache_dst}/data")
    # a mutant that ignores those variables falls back to the user's cache: keep that inside the temp folder too
    os.environ.update(XDG_CACHE_HOME=f"{cache_dst}/xdg", HOME=f"{cache_dst}/home")
    _install_hook(rel, source)
    return _run_pytest(pytest_args, log)


def _child_coverage(files: list[str], pytest_args: list[str], log: str, out: str) -> int:
    import threading

    wanted = {str(ROOT / f) for f in files}
    hit: dict[str, set[int]] = {f: set() for f in wanted}

    def local(frame, event, arg):
        if event == "line":
            hit[frame.f_code.co_filename].add(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_filename in wanted:
            hit[frame.f_code.co_filename].add(frame.f_lineno)
            return local
        return None

    sys.settrace(tracer)
    threading.settrace(tracer)
    code = _run_pytest(pytest_args, log)
    sys.settrace(None)
    Path(out).write_text(json.dumps({f: sorted(v) for f, v in hit.items()}))
    return code


def _wait(pid: int, limit: float | None) -> tuple[int | None, float]:
    t0 = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - t0
        if limit is not None and time.monotonic() - t0 > limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.monotonic() - t0
        time.sleep(0.02)


@dataclass
class ModuleResult:
    name: str
    mutants: list[Mutant] = field(default_factory=list)
    baseline_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.mutants)

    @property
    def killed(self) -> int:
        return self.count("killed") + self.count("timeout")

    @property
    def rate(self) -> float:
        return self.killed / len(self.mutants) if self.mutants else 1.0


def run_module(name: str, jobs: int, work: Path, verbose: bool, tests_root: Path = ROOT) -> ModuleResult:
    files, args = MODULES[name]
    args = [a if a.startswith("-") or not a.startswith("tests/") else str(tests_root / a) for a in args]
    paths = [a for a in args if a.startswith(str(tests_root / "tests"))]
    args = [a for a in args if a not in paths or Path(a).exists()]
    res = ModuleResult(name)
    if not any(Path(a).exists() for a in paths):  # no covering test file at all: nothing is killed
        for rel in files:
            for m, _ in mutants_of(name, rel):
                m.status = "not_covered"
                res.mutants.append(m)
        return res
    cache = work / "cache-warm"
    cache.mkdir(exist_ok=True)
    os.environ.update(NATV2_TEST_CACHE_ROOT=str(cache), NATV2_CACHE=f"{cache}/data")
    cov_file = work / f"{name}.coverage.json"
    pid = _fork(_child_coverage, files, args, str(work / f"{name}.baseline.log"), str(cov_file))
    code, res.baseline_s = _wait(pid, None)
    if code != 0:
        raise SystemExit(f"{name}: the selected tests fail without any mutant (see {work / (name + '.baseline.log')})")
    covered = {k: set(v) for k, v in json.loads(cov_file.read_text()).items()}
    limit = 3 * res.baseline_s + 10
    queue: list[tuple[Mutant, str]] = []
    for rel in files:
        for m, src in mutants_of(name, rel):
            res.mutants.append(m)
            lines = covered.get(str(ROOT / rel), set())
            if name in NO_COVERAGE_FILTER or any(line in lines for line in range(m.line, m.end_line + 1)):
                queue.append((m, src))
            else:
                m.status = "not_covered"
    running: dict[int, tuple[Mutant, float, Path]] = {}
    n = 0
    while queue or running:
        while queue and len(running) < jobs:
            m, src = queue.pop(0)
            n += 1
            log = str(work / f"{name}.mutant{m.index}.{Path(m.file).stem}.log")
            own_cache = work / f"cache-{name}-{n}"
            pid = _fork(_child_mutant, m.file, src, args, log, str(cache), str(own_cache))
            running[pid] = (m, time.monotonic(), own_cache)
        for pid, (m, t0, own_cache) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - t0
            if done:
                code = os.waitstatus_to_exitcode(status)
            elif elapsed > limit:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = None
            else:
                continue
            del running[pid]
            m.seconds = round(elapsed, 2)
            m.status = "timeout" if code is None else ("survived" if code == 0 else "killed")
            shutil.rmtree(own_cache, ignore_errors=True)
            if verbose or m.status == "survived":
                print(f"  {m.status:9s} {m.description}", flush=True)
        time.sleep(0.02)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"subset of: {', '.join(MODULES)}")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="mutants run at the same time (default 2)")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--json", help="write every mutant's outcome to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every mutant's outcome")
    ap.add_argument("--tests-from", metavar="GIT_REF",
                    help="run the tests as they are at this commit (e.g. main, for the 'before' figures)")
    ap.add_argument("--min-rate", type=float, default=0.0, help="exit 1 if a module kills fewer (e.g. 0.8)")
    opts = ap.parse_args(argv)
    names = opts.modules or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    if opts.list:
        for name in names:
            for rel in MODULES[name][0]:
                for m, _ in mutants_of(name, rel):
                    print(f"{name}: {m.description}")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["PYTHONHASHSEED"] = os.environ.get("PYTHONHASHSEED", "0")
    for mod in PRELOAD:  # imported once here, shared by every forked child
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001 - a missing optional library only costs time
            pass
    import torch

    torch.set_num_threads(1)
    results = []
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="natv2-mutate-") as tmp:
        work = Path(tmp)
        tests_root = ROOT
        if opts.tests_from:
            import subprocess
            import tarfile

            tests_root = work / "tests-from"
            tests_root.mkdir()
            blob = subprocess.run(["git", "-C", str(ROOT), "archive", opts.tests_from, "tests"], check=True,
                                  capture_output=True).stdout
            with tarfile.open(fileobj=__import__("io").BytesIO(blob)) as tar:
                tar.extractall(tests_root, filter="data")
            print(f"tests as of {opts.tests_from}", flush=True)
        for name in names:
            t0 = time.monotonic()
            print(f"{name}: {', '.join(MODULES[name][0])}", flush=True)
            res = run_module(name, opts.jobs, work, opts.verbose, tests_root)
            results.append(res)
            print(f"{name}: {res.killed}/{len(res.mutants)} killed ({100 * res.rate:.0f} %), "
                  f"{res.count('survived')} survived, {res.count('not_covered')} not covered, "
                  f"{res.count('timeout')} timed out; {time.monotonic() - t0:.0f} s", flush=True)
    print("\n| module | mutants | killed | survived | not covered | kill rate |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {len(r.mutants)} | {r.killed} | {r.count('survived')} | {r.count('not_covered')} | "
              f"{100 * r.rate:.0f} % |")
    print(f"\ntotal {time.monotonic() - t_all:.0f} s with {opts.jobs} job(s)")
    if opts.json:
        Path(opts.json).write_text(json.dumps(
            {r.name: [m.__dict__ for m in r.mutants] for r in results}, indent=1))
    return 1 if any(r.rate < opts.min_rate for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
