"""Nothing lost, nothing silently wrong when saving and loading (issue 11, items 3, 9 and 16).

House rule: no file is overwritten without being asked to, and a save that did not
happen never looks like one that did.
"""

import io
import logging
import sys

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

import hyperspy_symseg as ss


@pytest.fixture(scope="module")
def signal():
    return hs.signals.Signal2D(two_grain()[0].astype(np.float32))


@pytest.fixture(scope="module")
def two(signal):
    a = ss.symmetry_segmentation(signal, 2, random_state=0, show_progressbar=False, **SMALL)
    b = ss.symmetry_segmentation(signal, 3, stride=3, random_state=1, show_progressbar=False, **SMALL)
    return a, b


@pytest.fixture
def no_terminal(monkeypatch):
    """Standard input as in a batch job: not a terminal, nothing to read."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def _snapshot(path):
    return {p.name: p.stat().st_mtime_ns for p in path.parent.iterdir()}


# ---------------------------------------------------- item 3: stale descriptors


@pytest.mark.parametrize("ext", [".hspy", ".zspy"])
def test_stale_descriptor_file_is_not_paired(two, tmp_path, ext):
    """save(descriptors=False) over an older save used to pair the old descriptors with the new labels."""
    a, b = two
    path = tmp_path / f"seg{ext}"
    a.save(path)
    b.save(path, overwrite=True, descriptors=False)
    with pytest.warns(UserWarning, match=r"seg_descriptors.* is not loaded as the descriptors .*another segmentation"):
        back = ss.load_segmentation(path)
    assert back.descriptors is None and back.n_patterns == 3
    np.testing.assert_array_equal(back.grid_labels, b.grid_labels)


def test_left_over_descriptor_file_with_overwrite_false(two, tmp_path):
    """A descriptor file left from another segmentation, labels saved with overwrite=False."""
    a, b = two
    path = tmp_path / "seg.hspy"
    a.save(path)
    path.unlink()  # the labels are gone, their descriptors stay
    with pytest.raises(FileExistsError, match=r"seg_descriptors.hspy' already exist"):
        b.save(path, overwrite=False)
    assert not path.exists()  # nothing half-written
    b.save(path, overwrite=False, descriptors=False)
    with pytest.warns(UserWarning, match="another segmentation"):
        assert ss.load_segmentation(path).descriptors is None


def test_matching_pair_loads_without_warning(two, tmp_path, recwarn):
    a, _ = two
    path = tmp_path / "seg.hspy"
    a.save(path)
    back = ss.load_segmentation(path)
    assert not [w for w in recwarn.list if "descriptors" in str(w.message)]
    np.testing.assert_array_equal(back.descriptors.data, a.descriptors.data)
    np.testing.assert_allclose(back.separability_values(), a.separability_values())
    # the fingerprint went into the file only, the result's descriptors are unchanged
    assert not a.descriptors.metadata.SymmetryDescriptors.has_item("segmentation_fingerprint")


def test_fingerprint_ties_model_and_grid_labels(two):
    from hyperspy_symseg.files import fingerprint

    a, b = two
    assert fingerprint(a) == fingerprint(a) and fingerprint(a) != fingerprint(b)


# --------------------------------------------------- item 9: overwrite without a terminal


@pytest.mark.parametrize("saver", ["save", "save_model"])
def test_existing_file_without_a_terminal_raises(two, tmp_path, no_terminal, saver, capsys):
    """It used to print "Overwrite (y/n)?", write nothing and raise nothing."""
    a, b = two
    path = tmp_path / "seg.hspy"
    getattr(a, saver)(path)
    before = _snapshot(path)
    with pytest.raises(FileExistsError, match=r"already exist.*no terminal to ask.*overwrite=True"):
        getattr(b, saver)(path)
    assert _snapshot(path) == before
    assert "(y/n)" not in capsys.readouterr().out
    getattr(b, saver)(path, overwrite=True)
    model = ss.load_model(path)
    assert model.n_patterns == 3


def test_overwrite_false_raises_and_keeps_the_file(two, tmp_path):
    a, b = two
    path = tmp_path / "seg.hspy"
    a.save(path)
    before = _snapshot(path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        b.save(path, overwrite=False)
    assert _snapshot(path) == before
    assert ss.load_segmentation(path).n_patterns == 2


def test_terminal_user_is_asked_once(two, tmp_path, monkeypatch):
    a, b = two
    path = tmp_path / "seg.hspy"
    a.save(path)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    questions = []
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or "n")
    assert b.save(path) is False
    assert len(questions) == 1 and "seg.hspy" in questions[0] and "seg_descriptors.hspy" in questions[0]
    assert ss.load_segmentation(path).n_patterns == 2
    monkeypatch.setattr("builtins.input", lambda q: "y")
    assert b.save(path) is True
    assert ss.load_segmentation(path).n_patterns == 3


def test_overwrite_must_be_a_boolean(two, tmp_path):
    a, _ = two
    with pytest.raises(TypeError, match=r"overwrite must be True, False or None; got 'yes'"):
        a.save(tmp_path / "x.hspy", overwrite="yes")


# ------------------------------------------- item 16: no ERROR tracebacks on save


@pytest.mark.parametrize("case", [
    dict(SMALL),
    dict(descriptor="power_spectrum", window_x=8, window_y=8, decomposition_algorithm="NMF"),
    dict(SMALL, decomposition_algorithm="nfindr"),
])
@pytest.mark.parametrize("ext", [".hspy", ".zspy"])
def test_save_writes_no_errors(signal, tmp_path, case, ext, caplog, capsys):
    """Every save used to log RosettaSciIO ERRORs ("could not write ... CovariancePCA()")."""
    seg = ss.symmetry_segmentation(signal, 2, random_state=0, show_progressbar=False, **case)
    algorithm = seg.descriptors.learning_results.decomposition_algorithm
    with caplog.at_level(logging.WARNING):
        seg.save(tmp_path / f"seg{ext}")
        seg.save_model(tmp_path / f"model{ext}")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert "could not write" not in capsys.readouterr().err
    # the result is unchanged (the estimator object is still there) and the file holds its text
    assert seg.descriptors.learning_results.decomposition_algorithm is algorithm
    back = ss.load_segmentation(tmp_path / f"seg{ext}")
    assert isinstance(back.descriptors.learning_results.decomposition_algorithm, str)
    np.testing.assert_array_equal(back.labels.data, seg.labels.data)


def test_companion_file_is_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "segmentation_descriptors.zspy" in readme
