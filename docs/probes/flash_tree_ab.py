"""A/B of kernel versions: the graphed flash step (replay time, and each flash kernel's time inside one replay)
of several source trees, each a copy of the repository's qkan/, circuits/ and solvers/ folders (for instance
``git archive REV qkan circuits solvers | tar -x -C snap/REV``), imported in place of the installed package,
one process per tree so that every tree compiles its own kernels. Run on a GPU machine from the repository root:
``python docs/probes/flash_tree_ab.py snap/a snap/b [--cases wide,huge] [--target 80000] [--json F]``."""

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

PACKAGES = (("qkan", "qkan"), ("qkan.circuits", "circuits"), ("qkan.solvers", "solvers"))


def import_tree(root: Path) -> None:
    """Make ``import qkan`` (and its circuits and solvers subpackages) load from ``root``."""
    loaded = []
    for name, folder in PACKAGES:
        spec = importlib.util.spec_from_file_location(
            name, root / folder / "__init__.py", submodule_search_locations=[str(root / folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append((spec, module))
    for spec, module in (loaded[1], loaded[2], loaded[0]):  # qkan's own __init__ imports the other two
        spec.loader.exec_module(module)


def measure(root: Path, cases: list[str], target: int | None) -> dict:
    """{case: {"graphed_ms", "flash_us": [(kernel, us), ...]}} for the tree at ``root`` (this process)."""
    import_tree(root)
    sys.path.insert(0, str(Path(__file__).parent))
    from flash_graph_timeline import CASES, graphed_step, kernels_of_one_replay, replay_ms

    try:
        import qkan.solvers.flash.tuning as tuning
    except ImportError:  # a tree from before solvers/flash/ became a package: the constant sat in flash.py
        import qkan.solvers.flash as tuning

    if target is not None:
        tuning.TARGET_BACKWARD_THREADS = target
    results = {}
    for case in cases:
        step, x, y = graphed_step(*CASES[case], {})
        ms, rows = replay_ms(step, x, y), kernels_of_one_replay(step, x, y)
        results[case] = {"graphed_ms": ms, "flash_us": [(n.split("(")[0], us) for n, us, _ in rows if "qkan_" in n]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--cases", default="wide,fit1d,huge")
    parser.add_argument("--target", type=int, help="the backward's TARGET_BACKWARD_THREADS in every tree")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one tree, JSON out
    args = parser.parse_args()
    cases = args.cases.split(",")
    if args.one:
        print(json.dumps(measure(args.trees[0].resolve(), cases, args.target)))
        return
    results = {}
    for tree in args.trees:
        command = [sys.executable, __file__, str(tree), "--one", "--cases", args.cases]
        command += ["--target", str(args.target)] if args.target is not None else []
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{tree}: the measurement failed\n{done.stderr}")
        results[str(tree)] = json.loads(done.stdout.strip().splitlines()[-1])
        for case, r in results[str(tree)].items():
            kernels = ", ".join(f"{name.replace('void ', '')} {us:.1f}" for name, us in r["flash_us"])
            print(f"{tree} {case}: graphed {r['graphed_ms']:.4f} ms; {kernels}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
