"""The documentation builds without warnings, its gallery runs and its code works.

Two Sphinx runs into temporary directories:

* ``-b html -W``: the pages, the API reference from the docstrings and the
  sphinx-gallery examples (executed, headless) with warnings as errors;
* ``-b doctest``: every ``testcode`` block of the pages is executed and its
  ``testoutput`` compared, so the snippets shown to users work with the current API.

Sphinx writes the gallery's generated sources into ``docs/auto_examples`` (ignored by
git); everything else goes to ``tmp_path``. Skipped when Sphinx or sphinx-gallery is
not installed (``pip install ".[tests]"`` installs them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")

DOCS = Path(__file__).resolve().parents[1] / "docs"

PAGES = [
    "index.html",
    "getting_started.html",
    "user_guide/index.html",
    "user_guide/choosing_descriptors.html",
    "user_guide/translations.html",
    "user_guide/point_symmetry.html",
    "user_guide/power_spectrum.html",
    "user_guide/parameters.html",
    "user_guide/unmixing.html",
    "user_guide/series.html",
    "user_guide/spectra.html",
    "user_guide/simulation.html",
    "api/index.html",
    "api/toplevel.html",
    "api/signals.html",
    "api/descriptors.html",
    "api/simulate.html",
    "api/spectra.html",
    "auto_examples/index.html",
]

EXAMPLES = sorted(p.stem for p in (DOCS.parent / "examples").glob("plot_*.py"))


def _sphinx(builder: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, *options,
           str(DOCS), str(out), "-d", str(out / ".doctrees")]
    return subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True, timeout=1200)


def _report(result: subprocess.CompletedProcess) -> str:
    return f"exit code {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"


def test_html_build_with_gallery(tmp_path):
    out = tmp_path / "html"
    result = _sphinx("html", out)
    assert result.returncode == 0, _report(result)
    for page in PAGES:
        assert (out / page).is_file(), f"{page} was not built"
    assert len(EXAMPLES) >= 5
    images = {p.name for p in (out / "_images").glob("sphx_glr_plot_*.png")}
    for name in EXAMPLES:
        assert (out / "auto_examples" / f"{name}.html").is_file(), f"gallery page of {name} missing"
        assert any(i.startswith(f"sphx_glr_{name}_0") for i in images), f"{name} produced no figure"
    toc = (out / "index.html").read_text(encoding="utf-8")
    for target in ("getting_started.html", "user_guide/index.html", "auto_examples/index.html", "api/index.html"):
        assert target in toc
    api = (out / "api" / "toplevel.html").read_text(encoding="utf-8")
    for name in ("symmetry_segmentation", "get_symmetry_descriptors", "SymmetrySegmentation"):
        assert f'id="hyperspy_symseg.{name}"' in api, f"{name} missing from the API reference"
    patterson = (out / "user_guide" / "choosing_descriptors.html").read_text(encoding="utf-8")
    assert "Patterson" in patterson and "p4gm" in patterson.replace("<em>", "").replace("</em>", "").replace("\u200b", "")


def test_code_on_the_pages_runs(tmp_path):
    out = tmp_path / "doctest"
    result = _sphinx("doctest", out, "-D", "plot_gallery=0")
    assert result.returncode == 0, _report(result)
    summary = (out / "output.txt").read_text(encoding="utf-8")
    assert "0 failures in tests" in summary, summary[-4000:]
    assert "0 failures in setup code" in summary, summary[-4000:]
