"""Is this tree slower than REF, here, now? The guard `convbench targets --compare REF` runs.

Stored figures answer another question (how fast was some commit on some day), and on a shared
2-core VM a ratio swings 0.5-1.4 between hours and between chips. So, as `asv continuous` does,
both sides are measured in the same session on the same machine:

- REF (a commit, branch or tag; default main) is checked out once into a git worktree under the
  user's cache (kept, so Numba's cache of its kernels is too), and this tree is the working tree
  as it is, uncommitted changes included;
- each side runs the guard's cases in a fresh process that imports that side's convbench (a path
  finder put first in the child's sys.meta_path; the same Python and packages for both);
- each round starts a fresh process a side, and the two measure each case back to back, the first
  side swapping each round (an even number of rounds puts each side first as often: the second
  process of a pair can run slower), so drift and a busy neighbour fall on both;
- a VM's two vCPUs share an L3 for a while, then sit in two core complexes (measure.placement):
  the threads' placement is probed before and after each case's pair, and the pair measured again
  while it changed, so both sides of a pair ran in one placement (each pair's is reported);
- the verdict reads the noise of this run: each ratio's paired change (tree / REF, round by round)
  against the spread of those changes, pooled over the cases. A case fell when its mean change is
  below 1 - its threshold (never below FLOOR) and every round saw the tree slower.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from convbench.core.errors import ConvError
from convbench.measure.allocator import TIMING_TUNABLES

FLOOR = 0.10  # a change within 10% is not called a fall, however quiet the run
SPREADS = 3.0  # a fall is beyond three standard errors of the mean change: about 1 in 700 per case by chance

# What each side's process runs: import that side's convbench from its root (argv[1]), say it is ready,
# then for each line [case, repeats] on stdin time the case with that side's own targets
# (`speedup_targets`, `measured_speedup`) and answer one line: its ratio, null (a case that side does not
# know) or "n/a: why" (one it refuses here, as a peer this CPU cannot run). Answers carry ANSWER in front,
# so that whatever else a side prints is not read as one. All three names exist in every commit since the
# guard was written.
ANSWER = "convbench-guard-answer "
CHILD = r"""
import importlib.util, json, sys
root = sys.argv[1]
homes = {"convbench": root + "/convbench", "convbench.algorithms": root + "/algorithms"}

class ThisTree:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in homes:
            return importlib.util.spec_from_file_location(name, homes[name] + "/__init__.py",
                                                          submodule_search_locations=[homes[name]])
        return None

sys.meta_path.insert(0, ThisTree)
import convbench
assert convbench.__file__.startswith(root), convbench.__file__
from convbench.measure.runs import speedup_targets
from convbench.measure.targets import measured_speedup
from convbench.core.errors import ConvError
known = speedup_targets()

def ratio(case, repeats):
    if case not in known:
        return None
    try:
        return measured_speedup(known[case], repeats)
    except ConvError as err:
        return f"n/a: {err}"

def answer(value):
    print(ANSWER + json.dumps(value), flush=True)

answer("ready")
for line in sys.stdin:
    answer(ratio(*json.loads(line)))
""".replace("ANSWER", repr(ANSWER))


def tree_root() -> Path:
    """The checkout this convbench runs from (its git top level, with convbench/ and algorithms/)."""
    root = Path(__file__).resolve().parents[2]  # convbench/measure/ in the checkout
    if not (root / "algorithms").is_dir() or not (root / ".git").exists():
        raise ConvError(f"targets --compare REF measures this checkout against REF: run it from a git clone "
                        f"with convbench installed editable (pip install -e .); convbench is at {root}")
    return root


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        raise ConvError(f"git {' '.join(args)} failed in {root}: {detail.strip()}") from None


def worktree(ref: str, root: Path | None = None) -> tuple[Path, str]:
    """(path, commit) of REF checked out into a worktree of this clone, made once per commit under
    $XDG_CACHE_HOME/convbench/worktrees (kept: its Numba cache makes the next comparison quick)."""
    root = root or tree_root()
    try:
        sha = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ConvError:
        sha = ""
    if not sha:
        raise ConvError(f"ref must name a commit of this clone (a branch, tag or hash); got {ref!r}")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convbench" / "worktrees"
    path = cache / sha[:12]
    if not (path / ".git").exists() or _git(path, "rev-parse", "HEAD") != sha:
        cache.mkdir(parents=True, exist_ok=True)
        _git(root, "worktree", "prune")  # a cache folder deleted by hand leaves git's record behind
        _git(root, "worktree", "add", "--force", "--detach", str(path), sha)
    return path, sha


class Side:
    """A fresh process running the convbench at root, measuring one case at a time when asked."""

    def __init__(self, root: Path):
        # both sides' processes start with glibc's malloc in timing's state: REF's timing code may predate it
        tunables = ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"), TIMING_TUNABLES)))
        self.root = root
        self._errors = tempfile.TemporaryFile("w+")  # read only when the process fails: a pipe could fill
        self._process = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._errors, text=True, cwd=root,
                                         env={**os.environ, "GLIBC_TUNABLES": tunables})

    def _answer(self):
        for line in self._process.stdout:
            if line.startswith(ANSWER):
                return json.loads(line[len(ANSWER):])
        self._process.wait()
        self._errors.seek(0)
        tail = self._errors.read().strip().splitlines()[-3:]
        raise ConvError(f"measuring the tree at {self.root} failed (exit {self._process.returncode}): "
                        + " | ".join(tail))

    def ready(self) -> None:
        """Wait until the process has loaded its convbench (imports are not timed beside the other side)."""
        self._answer()

    def measure(self, case: str, repeats: int) -> float | str | None:
        try:
            self._process.stdin.write(json.dumps([case, repeats]) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # the process ended: _answer says how
        return self._answer()

    def close(self) -> None:
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._errors.close()


@dataclass(frozen=True)
class Change:
    """One case's ratios on both sides, round by round (the same round index ran back to back)."""

    case: str
    ref: tuple[float, ...]
    tree: tuple[float, ...]
    spread: float  # this run's standard deviation of one round's log(tree / REF), pooled over the cases
    placements: tuple[str, ...] = ()  # where the threads sat in each round's pair (measure.placement)

    @property
    def paired(self) -> list[float]:
        return [t / r for t, r in zip(self.tree, self.ref)]

    @property
    def change(self) -> float:
        """The geometric mean over rounds of tree / REF (below 1: this tree is slower than REF)."""
        return math.exp(statistics.fmean(math.log(value) for value in self.paired))

    @property
    def threshold(self) -> float:
        """The fall this run can tell from noise: SPREADS standard errors of the mean change, or FLOOR."""
        return max(FLOOR, 1 - math.exp(-SPREADS * self.spread / math.sqrt(len(self.ref))))

    @property
    def fell(self) -> bool:
        return self.change < 1 - self.threshold and max(self.paired) < 1


def _is_ratio(value) -> bool:
    return isinstance(value, (int, float)) and value > 0


def changes(ref_rounds: list[dict], tree_rounds: list[dict], placements: list[dict] | None = None) -> list[Change]:
    """Each case measured on both sides in every round, as a Change whose spread is this run's: the
    standard deviation of a round's log(tree / REF) about its case's mean, pooled over the cases (a
    case's own few rounds say little of its noise; the run's noise is one machine's, now). placements:
    each round's {case: placement of its pair}, carried into the Change."""
    cases = [case for case in ref_rounds[0]
             if all(_is_ratio(r.get(case)) and _is_ratio(t.get(case)) for r, t in zip(ref_rounds, tree_rounds))]
    squares, freedom = 0.0, 0
    for case in cases:
        logs = [math.log(t[case] / r[case]) for r, t in zip(ref_rounds, tree_rounds)]
        mean = statistics.fmean(logs)
        squares += sum((value - mean) ** 2 for value in logs)
        freedom += len(logs) - 1
    spread = math.sqrt(squares / freedom) if freedom else 0.0
    return [Change(case, tuple(r[case] for r in ref_rounds), tuple(t[case] for t in tree_rounds), spread,
                   tuple(where.get(case, "") for where in placements or ()))
            for case in cases]


def measured_pair(sides: list[Side], case: str, repeats: int, probe=None) -> tuple[list, str]:
    """([each side's answer], where the threads sat): the sides measure the case back to back between
    two probes of the threads' placement, and again while the two differ (placement.in_one_placement)."""
    from convbench.measure.placement import in_one_placement

    return in_one_placement(lambda: [side.measure(case, repeats) for side in sides], probe=probe)


def _measured_in_turns(ref_root: Path, root: Path, cases: list[str], rounds: int, repeats: int,
                       on_round=None, probe=None) -> tuple[list[dict], list[dict], list[dict]]:
    """(REF's rounds, this tree's rounds, each round's {case: placement}): each round a fresh process a
    side, measuring each case back to back, the first side swapping each round."""
    found = {"ref": [], "tree": [], "placements": []}
    for index in range(rounds):
        order = ("ref", "tree") if index % 2 == 0 else ("tree", "ref")
        sides = [Side(ref_root if name == "ref" else root) for name in order]
        try:
            for side in sides:
                side.ready()
            answers = {name: {} for name in order}
            where = {}
            for case in cases:
                pair, where[case] = measured_pair(sides, case, repeats, probe)
                for name, answer in zip(order, pair):
                    answers[name][case] = answer
        finally:
            for side in sides:
                side.close()
        found["ref"].append(answers["ref"])
        found["tree"].append(answers["tree"])
        found["placements"].append(where)
        if on_round:
            on_round(index + 1, rounds)
    return found["ref"], found["tree"], found["placements"]


def compare_with_ref(ref: str = "main", cases=None, rounds: int = 4, repeats: int = 3,
                     on_round=None, probe=None) -> tuple[str, list[Change], dict[str, str]]:
    """(REF's commit, the changes, {case: why} for the cases not compared: REF does not know the case,
    or a side refused it here, as a peer this CPU cannot run): this tree against REF, `rounds`
    fresh processes a side, in turns. A case that seems to have fallen is measured again, as many
    rounds more, and judged on all of them: a fresh process carries its own luck (where its pages
    and threads landed), which can make four in a row slow on a shared machine; a real fall shows
    in both sets. Each round's pair of a case ran in one placement of the threads where the probe
    (default: measure.placement.placement) found one (Change.placements). The machine's measurement lock
    is held throughout (each child measures under it)."""
    from convbench.measure import guard
    from convbench.measure.measurement_lock import measuring

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 2:
        raise ConvError(f"rounds must be an int >= 2 (the noise comes from the rounds); got {rounds!r}")
    cases = list(cases or guard.QUICK)
    root = tree_root()
    with measuring(f"convbench targets --compare {ref}"):
        ref_root, sha = worktree(ref, root)
        ref_rounds, tree_rounds, placements = _measured_in_turns(ref_root, root, cases, rounds, repeats, on_round,
                                                                 probe)
        first = changes(ref_rounds, tree_rounds, placements)
        suspects = [row.case for row in first if row.fell]
        if suspects:
            again = {row.case: row for row in changes(*_measured_in_turns(ref_root, root, suspects, rounds, repeats,
                                                                          on_round, probe))}
            first = [replace(row, ref=row.ref + again[row.case].ref, tree=row.tree + again[row.case].tree,
                             spread=max(row.spread, again[row.case].spread),
                             placements=row.placements + again[row.case].placements) if row.case in again else row
                     for row in first]
    missing = {}
    for case in cases:
        answers = [side.get(case) for side in ref_rounds + tree_rounds]
        refused = next((answer for answer in answers if isinstance(answer, str)), None)
        if refused:
            missing[case] = refused.removeprefix("n/a: ")
        elif any(r.get(case) is None for r in ref_rounds):
            missing[case] = f"{ref} does not measure it"
    return sha, first, missing
