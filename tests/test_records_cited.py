"""The code's measurements live in results/records/: every record the code or the docs cite exists, and
every row the code cites by key is in results/records/implementation-choices.json (and each row is cited)."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("convbench/**/*.py"), *ROOT.glob("algorithms/**/*.py"), *ROOT.glob("suites/*.py"),
           *ROOT.glob("docs/content/**/*.md")]
KEY = r"[a-z0-9]+(?:-[a-z0-9]+)+"
CITED_ROWS = re.compile(rf"\brows? ({KEY}(?:(?:,\s*(?:and\s+)?|\s+and\s+){KEY})*)")


def texts():
    for path in SOURCES:
        yield path, re.sub(r"\s*#\s*|\s+", " ", path.read_text())  # comments joined across lines


def cited_rows(text: str) -> set[str]:
    return {key for found in CITED_ROWS.findall(text) for key in re.findall(KEY, found)}


def test_every_cited_record_exists():
    missing = {(str(path.relative_to(ROOT)), name) for path, text in texts()
               for name in re.findall(r"results/records/([\w.-]+?\.json)", text)
               if not (ROOT / "results" / "records" / name).exists()}
    assert not missing


def test_every_cited_row_is_in_the_record_and_every_row_is_cited():
    record = json.loads((ROOT / "results" / "records" / "implementation-choices.json").read_text())
    keys = {row[0] for row in record["rows"]}
    cited = set().union(*(cited_rows(text) for _, text in texts()))
    assert cited - keys == set(), "rows cited that the record lacks"
    assert keys - cited == set(), "rows nobody cites"


def test_a_cited_row_is_found_across_a_wrapped_comment():
    assert cited_rows("rows fft-a-b,  fft-c and plot-d. Then row x") == {"fft-a-b", "fft-c", "plot-d"}
