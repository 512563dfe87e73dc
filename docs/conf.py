"""Sphinx configuration of the hyperspy_symseg documentation.

Offline by design: no intersphinx inventories, no downloaded themes or fonts. The
gallery in ``examples/`` is executed at every build (sphinx-gallery) with the
headless matplotlib backend; the code on the user-guide pages is run by
``sphinx-build -b doctest`` (``tests/test_docs.py`` does both).
"""

from __future__ import annotations

import os
from pathlib import Path


os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg", force=True)

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
import hyperspy_symseg  # noqa: E402

# -- project -----------------------------------------------------------------------
project = "hyperspy_symseg"
author = "hyperspy_symseg developers"
copyright = "hyperspy_symseg developers, GPL-3.0-or-later"
release = hyperspy_symseg.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json"]
templates_path: list[str] = []
html_static_path: list[str] = []
html_theme = "alabaster"
html_theme_options = {"description": "Symmetry segmentation of atomic-resolution images for HyperSpy",
                      "fixed_sidebar": True, "page_width": "1100px", "sidebar_width": "260px",
                      "body_max_width": "none", "code_font_size": "0.82em"}
html_title = f"hyperspy_symseg {release}"
html_show_sourcelink = False
highlight_language = "python3"
pygments_style = "sphinx"

# -- autodoc / napoleon (numpydoc-style docstrings) -----------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the docstrings state types; signatures stay short
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" sections as :ivar: fields, so dataclass fields are not described twice

# -- doctest: the code on the pages is run in a scratch directory ----------------------
doctest_global_setup = f"""
import os as _os, tempfile as _tempfile, sys as _sys
_docs_previous_cwd = _os.getcwd()
_docs_scratch = _tempfile.mkdtemp(prefix="symseg-docs-")
_os.chdir(_docs_scratch)
_sys.path.insert(0, {str(ROOT / "tests")!r})  # tests/_dm_writer.py writes the DM4 files the pages load
import matplotlib
matplotlib.use("Agg", force=True)
import hyperspy.api as _hs
_hs.preferences.General.show_progressbar = False
"""
doctest_global_cleanup = """
import shutil as _shutil
import matplotlib.pyplot as _plt
_plt.close("all")
_os.chdir(_docs_previous_cwd)
_shutil.rmtree(_docs_scratch, ignore_errors=True)
"""
doctest_test_doctest_blocks = ""  # only testcode/testsetup blocks are run

# -- sphinx-gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "run_stale_examples": True,  # always run: the gallery checks that the examples work with today's API
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "show_memory": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "first_notebook_cell": None,
}

napoleon_custom_sections = ["Descriptor parameters"]

