"""The symseg command."""

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

from hyperspy_symseg import cli


@pytest.fixture
def image_file(tmp_path):
    image, truth = two_grain()
    s = hs.signals.Signal2D(image.astype(np.float32))
    s.axes_manager[0].scale = s.axes_manager[1].scale = 0.05
    s.axes_manager[0].units = s.axes_manager[1].units = "nm"
    s.metadata.General.title = "bicrystal"
    path = tmp_path / "bicrystal.hspy"
    s.save(path)
    return path, truth


SMALL_ARGS = ["--patch", str(SMALL["patch_x"]), "--window", str(SMALL["window_x"]), "--stride", "2"]


def test_segment_writes_labels_and_png(image_file, tmp_path, capsys):
    path, truth = image_file
    out = tmp_path / "labels.hspy"
    png = tmp_path / "overlay.png"
    code = cli.main(["segment", str(path), "-o", str(out), "--png", str(png), *SMALL_ARGS])
    assert code == 0
    labels = hs.load(out)
    assert labels.data.shape == truth.shape
    assert labels.axes_manager[0].scale == pytest.approx(0.05) and labels.axes_manager[0].units == "nm"
    agreement = np.mean(labels.data == truth)
    assert max(agreement, 1 - agreement) > 0.97
    assert labels.metadata.SymmetrySegmentation.n_patterns == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "2 patterns, chosen (stability" in printed and str(out) in printed  # n_patterns "auto" by default


def test_segment_options(image_file, tmp_path):
    path, _ = image_file
    out = tmp_path / "labels3.hspy"
    code = cli.main(["segment", str(path), "-o", str(out), "--n-patterns", "3", "--n-components", "0.9", "-q", *SMALL_ARGS])
    assert code == 0
    md = hs.load(out).metadata.SymmetrySegmentation
    assert md.n_patterns == 3 and md.n_components == 0.9 and md.stride == 2


def test_intensity_features_flag(image_file, tmp_path, capsys):
    path, _ = image_file
    outs = {}
    for flag in (["--no-intensity-features"], []):
        (tmp_path / str(len(flag))).mkdir()
        out = tmp_path / str(len(flag)) / "labels.hspy"
        assert cli.main(["segment", str(path), "-o", str(out), "--stride", "2", *flag]) == 0
        outs[not flag] = hs.load(out).metadata.SymmetrySegmentation
    printed = capsys.readouterr().out
    assert "intensity features on" in printed and "intensity features off" in printed
    assert outs[True].automatic.intensity_features and not outs[False].automatic.intensity_features


def test_crystal_flag_writes_crystal_labels_next_to_the_labels(tmp_path, capsys):
    from hyperspy_symseg import simulate

    sim = simulate.particle_on_vacuum(shape=(160, 160), random_state=0)
    path = tmp_path / "particle.hspy"
    sim.image.save(path)
    assert cli.main(["segment", str(path), "--crystal", "--stride", "2"]) == 0
    crystal = hs.load(tmp_path / "particle_crystal.hspy")
    truth = sim.labels.data == 1
    assert crystal.data.dtype == np.uint8 and set(np.unique(crystal.data)) <= {0, 1}
    assert np.mean((crystal.data == 1) == truth) > 0.9
    printed = capsys.readouterr().out
    assert "crystalline:" in printed and "particle_crystal.hspy" in printed
    assert cli.main(["segment", str(path), "--crystal", "--stride", "2", "-o", str(tmp_path / "other.hspy"),
                     "--csv", str(tmp_path / "other.csv"), "-q"]) == 0
    assert (tmp_path / "other_crystal.hspy").exists()
    # An existing crystal file is not replaced without --overwrite, and nothing is written for that input.
    (tmp_path / "third_crystal.hspy").write_bytes(b"keep")
    assert cli.main(["segment", str(path), "--crystal", "--stride", "2", "-o", str(tmp_path / "third.hspy"),
                     "--csv", str(tmp_path / "third.csv"), "-q"]) == 1
    assert "crystal labels file" in capsys.readouterr().err
    assert (tmp_path / "third_crystal.hspy").read_bytes() == b"keep" and not (tmp_path / "third.hspy").exists()


def test_missing_file(tmp_path, capsys):
    assert cli.main(["segment", str(tmp_path / "nope.dm4"), "-o", str(tmp_path / "x.hspy")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "bad.dm3"
    bad.write_bytes(b"not a dm file")
    assert cli.main(["segment", str(bad), "-o", str(tmp_path / "x.hspy")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_wrong_dimensionality(tmp_path, capsys):
    path = tmp_path / "spectrum.hspy"
    hs.signals.Signal1D(np.arange(100.0)).save(path)
    assert cli.main(["segment", str(path), "-o", str(tmp_path / "x.hspy")]) == 1
    assert "needs 2D images" in capsys.readouterr().err


def test_bad_parameter_is_a_clean_error(image_file, tmp_path, capsys):
    path, _ = image_file
    assert cli.main(["segment", str(path), "-o", str(tmp_path / "x.hspy"), "--stride", "0"]) == 1
    assert "stride must be an integer >= 1" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["segment"])
    assert exc.value.code == 2


def test_demo(tmp_path, capsys):
    png = tmp_path / "demo.png"
    assert cli.main(["demo", "--size", "256", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy against ground truth: ")[1].split()[0])
    assert accuracy > 0.95
    assert png.exists()


def test_segment_with_rotational_descriptor(image_file, tmp_path):
    path, _ = image_file
    out = tmp_path / "rot.hspy"
    args = ["segment", str(path), "-o", str(out), "-q", "--descriptor", "rotational_symmetry_maximum_pooling",
            "--radius", "6", "--window", "5", "--stride", "4"]
    assert cli.main(args) == 0
    md = hs.load(out).metadata.SymmetrySegmentation
    assert md.descriptor == "rotational_symmetry_maximum_pooling" and md.radius == 6.0


def test_option_of_another_descriptor_is_a_clean_error(image_file, tmp_path, capsys):
    path, _ = image_file
    args = ["segment", str(path), "-o", str(tmp_path / "x.hspy"), "--descriptor", "reflection_symmetry_maximum_pooling",
            "--patch", "5"]
    assert cli.main(args) == 1
    assert "has no parameter 'patch_x'" in capsys.readouterr().err


def test_several_files_glob_and_csv(tmp_path, capsys):
    import csv

    for k in range(3):
        image, _ = two_grain(seed=k)
        s = hs.signals.Signal2D(image.astype(np.float32))
        s.axes_manager[0].scale = s.axes_manager[1].scale = 0.05
        s.axes_manager[0].units = s.axes_manager[1].units = "nm"
        s.save(tmp_path / f"frame{k}.hspy")
    (tmp_path / "broken.hspy").write_bytes(b"garbage")
    out = tmp_path / "labels"
    code = cli.main(["segment", str(tmp_path / "frame*.hspy"), str(tmp_path / "broken.hspy"), "-o", str(out),
                     "--format", ".zspy", *SMALL_ARGS])
    assert code == 1  # one input failed, the others were segmented
    err = capsys.readouterr().err
    assert "broken.hspy: cannot read it" in err and "1 of 4 file(s) failed" in err
    for k in range(3):
        labels = hs.load(out / f"frame{k}_labels.zspy")
        assert labels.data.shape == (96, 128)
    with open(out / "pattern_areas.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 2 and set(rows[0]) == {"file", "frame", "pattern", "area (nm^2)", "fraction"}
    for k in range(3):
        mine = [r for r in rows if r["file"].endswith(f"frame{k}.hspy")]
        assert sum(float(r["area (nm^2)"]) for r in mine) == pytest.approx(96 * 128 * 0.05**2, rel=1e-4)
        assert sum(float(r["fraction"]) for r in mine) == pytest.approx(1.0, abs=1e-5)


def test_glob_matching_nothing(tmp_path, capsys):
    assert cli.main(["segment", str(tmp_path / "*.dm4")]) == 1
    assert "no file matches" in capsys.readouterr().err


def test_several_files_need_a_folder(image_file, tmp_path, capsys):
    path, _ = image_file
    assert cli.main(["segment", str(path), str(path), "-o", str(tmp_path / "x.hspy")]) == 1
    assert "-o must be a folder" in capsys.readouterr().err


def test_refine_boundaries_flag(tmp_path, capsys):
    from hyperspy_symseg import simulate

    sim = simulate.particle_on_vacuum(shape=(256, 256), period_px=25, random_state=1, peak_counts=30)
    path = tmp_path / "particle.hspy"
    sim.image.save(path)
    refined = {}
    for flag in (["--no-refine-boundaries"], []):
        (tmp_path / str(len(flag))).mkdir()
        out = tmp_path / str(len(flag)) / "labels.hspy"
        assert cli.main(["segment", str(path), "-o", str(out), *flag]) == 0
        refined[not flag] = hs.load(out)
    printed = capsys.readouterr().out
    assert printed.count("boundaries refined with half the patch") == 1
    assert refined[True].metadata.SymmetrySegmentation.refine_boundaries
    assert not refined[False].metadata.SymmetrySegmentation.refine_boundaries
    assert (refined[True].data != refined[False].data).any()


def test_default_is_auto_so_a_single_crystal_is_one_pattern(tmp_path, capsys):
    """With no options a single crystal comes out as one pattern (n_patterns='auto'), and
    --n-patterns 2 still forces the split."""
    from hyperspy_symseg import simulate

    sim = simulate.single_crystal(shape=(192, 192), random_state=0)
    path = tmp_path / "crystal.hspy"
    sim.image.save(path)
    assert cli.main(["segment", str(path), "-q"]) == 0
    labels = hs.load(tmp_path / "crystal_labels.hspy")
    assert labels.metadata.SymmetrySegmentation.n_patterns == 1 and np.all(labels.data == 0)
    assert cli.main(["segment", str(path), "-q", "--n-patterns", "2", "-o", str(tmp_path / "two.hspy"),
                     "--csv", str(tmp_path / "two.csv")]) == 0
    assert hs.load(tmp_path / "two.hspy").metadata.SymmetrySegmentation.n_patterns == 2


def test_hdf5_claimed_by_several_readers_is_read_as_hspy(image_file, tmp_path, capsys):
    """An .hdf5 file HyperSpy wrote (or atomap) is claimed by the HSPY, USID and Delmic
    readers; hs.load then refuses it, the command reads it as HSPY. --file-format picks one."""
    path, truth = image_file
    h5 = tmp_path / "bicrystal.hdf5"
    hs.load(path).save(h5, file_format="HSPY")
    with pytest.raises(ValueError, match="multiple file readers"):
        hs.load(h5)
    assert cli.main(["segment", str(h5), "-q", "--n-patterns", "2", *SMALL_ARGS]) == 0
    labels = hs.load(tmp_path / "bicrystal_labels.hspy")
    agreement = np.mean(labels.data == truth)
    assert max(agreement, 1 - agreement) > 0.97
    assert cli.main(["segment", str(h5), "-q", "--file-format", "HSPY", "-o", str(tmp_path / "again.hspy"),
                     "--csv", str(tmp_path / "again.csv"), "--n-patterns", "2", *SMALL_ARGS]) == 0
    assert np.array_equal(hs.load(tmp_path / "again.hspy").data, labels.data)
    # a reader that cannot read it is a one-line error naming the option
    assert cli.main(["segment", str(h5), "-q", "--file-format", "TIFF", "-o", str(tmp_path / "bad.hspy"),
                     "--csv", str(tmp_path / "bad.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
