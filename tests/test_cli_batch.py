"""The symseg command in batches: never overwrite, never stop for one bad file (issue 11, items 1, 10, 11).

House rules: an input is never overwritten; an existing output only with --overwrite;
every bad file gives one line on stderr, the others are processed, and the exit code is 1.
"""

import csv

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, shared_file, two_grain

from hyperspy_symseg import cli

ARGS = ["-q", "--patch", str(SMALL["patch_x"]), "--window", str(SMALL["window_x"]), "--stride", "4"]


def write_image(path, seed=0, calibrated=True, dtype=np.float32, boundary=None):
    image, _ = two_grain(seed=seed, boundary=boundary)
    s = hs.signals.Signal2D(image.astype(dtype))
    if calibrated:
        for axis in s.axes_manager.signal_axes:
            axis.scale, axis.units = 0.05, "nm"
    path.parent.mkdir(parents=True, exist_ok=True)
    s.save(path, overwrite=True)
    return path


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def rows_of(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------ item 1: data loss


def test_equal_stems_in_different_folders_get_distinct_outputs(tmp_path, capsys):
    """a/img.hspy and b/img.hspy -o out/ used to write one labels file (the last one won)."""
    from hyperspy_symseg import symmetry_segment

    a = write_image(tmp_path / "a" / "img.hspy", boundary=40)
    b = write_image(tmp_path / "b" / "img.hspy", boundary=90)
    out = tmp_path / "out"
    assert cli.main(["segment", str(a), str(b), "-o", str(out), *ARGS]) == 0
    labels = sorted(p.name for p in out.glob("*_labels.hspy"))
    assert labels == ["a_img_labels.hspy", "b_img_labels.hspy"]
    rows = rows_of(out / "pattern_areas.csv")
    assert {r["file"] for r in rows} == {str(a), str(b)}
    kwargs = cli._segmentation_kwargs(cli.build_parser().parse_args(["segment", "x", *ARGS]))
    for name, source in (("a_img_labels.hspy", a), ("b_img_labels.hspy", b)):  # each input's own labels
        expected = symmetry_segment(hs.load(source), show_progressbar=False, **kwargs).data
        np.testing.assert_array_equal(hs.load(out / name).data, expected)


def test_equal_stems_with_different_formats(tmp_path):
    """img.hspy and img.zspy used to share img_labels.hspy."""
    h = write_image(tmp_path / "img.hspy", seed=0)
    z = write_image(tmp_path / "img.zspy", seed=1)
    assert cli.main(["segment", str(h), str(z), *ARGS]) == 0
    assert (tmp_path / "img_hspy_labels.hspy").exists() and (tmp_path / "img_zspy_labels.hspy").exists()
    assert not (tmp_path / "img_labels.hspy").exists()


def test_output_onto_the_input_is_refused(tmp_path, capsys):
    """symseg segment img.hspy -o img.hspy used to replace the image with uint8 labels."""
    img = write_image(tmp_path / "img.hspy")
    before = hs.load(img).data.copy()
    for extra in ([], ["--overwrite"]):
        assert cli.main(["segment", str(img), "-o", str(img), *ARGS, *extra]) == 1
        assert "is an input file; symseg never overwrites its inputs" in capsys.readouterr().err
        np.testing.assert_array_equal(hs.load(img).data, before)
    csv_input = tmp_path / "areas.csv"
    csv_input.write_text("keep me")
    assert cli.main(["segment", str(img), str(csv_input), "--csv", str(csv_input), "-o", str(tmp_path / "o"), *ARGS]) == 1
    assert csv_input.read_text() == "keep me"


def test_existing_outputs_are_kept_without_overwrite(tmp_path, capsys):
    """<stem>_labels.hspy and pattern_areas.csv used to be overwritten silently."""
    img = write_image(tmp_path / "img.hspy")
    assert cli.main(["segment", str(img), *ARGS]) == 0
    before = tree(tmp_path)
    assert set(before) == {"img.hspy", "img_labels.hspy", "pattern_areas.csv"}
    assert cli.main(["segment", str(img), *ARGS]) == 1
    assert "pattern_areas.csv exists; pass --overwrite" in capsys.readouterr().err
    assert tree(tmp_path) == before
    (tmp_path / "pattern_areas.csv").unlink()
    before = tree(tmp_path)
    assert cli.main(["segment", str(img), *ARGS]) == 1
    assert "img_labels.hspy exists; pass --overwrite" in capsys.readouterr().err
    assert tree(tmp_path) == before
    assert cli.main(["segment", str(img), *ARGS, "--overwrite"]) == 0
    assert (tmp_path / "pattern_areas.csv").exists()
    png = tmp_path / "overlay.png"
    png.write_bytes(b"old")
    assert cli.main(["segment", str(img), *ARGS, "--overwrite", "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------- item 10: dtypes in the CLI


@pytest.mark.parametrize("dtype", [np.float16, ">f4", ">f8"])
def test_unusual_dtypes_do_not_abort_the_batch(tmp_path, dtype):
    """float16 and big-endian files used to end the whole batch with a numba error."""
    odd = write_image(tmp_path / "odd.hspy", dtype=dtype)
    good = write_image(tmp_path / "good.hspy", seed=1)
    assert cli.main(["segment", str(odd), str(good), "-o", str(tmp_path / "out"), *ARGS]) == 0
    assert (tmp_path / "out" / "odd_labels.hspy").exists() and (tmp_path / "out" / "good_labels.hspy").exists()


def test_unexpected_error_is_one_line_and_the_batch_goes_on(tmp_path, capsys, monkeypatch):
    import hyperspy_symseg.segmentation as segmentation

    original = segmentation.symmetry_segmentation

    def fragile(image, **kwargs):
        if image.metadata.General.title == "bad":
            raise NotImplementedError("float128 is not supported")
        return original(image, **kwargs)

    monkeypatch.setattr(segmentation, "symmetry_segmentation", fragile)
    bad = write_image(tmp_path / "bad.hspy")
    s = hs.load(bad)
    s.metadata.General.title = "bad"
    s.save(bad, overwrite=True)
    good = write_image(tmp_path / "good.hspy", seed=1)
    assert cli.main(["segment", str(bad), str(good), "-o", str(tmp_path / "out"), *ARGS]) == 1
    err = capsys.readouterr().err
    assert "bad.hspy: NotImplementedError: float128 is not supported" in err and "Traceback" not in err
    assert (tmp_path / "out" / "good_labels.hspy").exists()


# ---------------------------------------------------------- item 11: batches


def test_glob_matching_nothing_does_not_stop_the_batch(tmp_path, capsys):
    good = write_image(tmp_path / "good.hspy")
    code = cli.main(["segment", str(tmp_path / "nothing*.dm4"), str(good), "-o", str(tmp_path / "out"), *ARGS])
    assert code == 1
    err = capsys.readouterr().err
    assert "nothing*.dm4: no file matches" in err and err.count("symseg: error:") == 1
    assert (tmp_path / "out" / "good_labels.hspy").exists()


def test_unwritable_outputs_are_one_line_each(tmp_path, capsys):
    img = write_image(tmp_path / "img.hspy")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    # labels into a folder that is a file
    assert cli.main(["segment", str(img), "-o", str(blocker / "labels.hspy"), *ARGS]) == 1
    err = capsys.readouterr().err
    assert err.count("symseg: error:") == 1 and "Traceback" not in err and "does not exist" in err
    # an unwritable --png does not stop the other files
    other = write_image(tmp_path / "other.hspy", seed=2)
    code = cli.main(["segment", str(img), "-o", str(tmp_path / "x.hspy"), "--png", str(blocker / "o.png"), *ARGS])
    assert code == 1 and "--png" in capsys.readouterr().err
    # an unwritable --csv is reported before any work
    code = cli.main(["segment", str(img), str(other), "-o", str(tmp_path / "out"), "--csv", str(blocker / "a.csv"), *ARGS])
    assert code == 1
    err = capsys.readouterr().err
    assert "--csv" in err and "Traceback" not in err
    # an -o folder that cannot be created
    code = cli.main(["segment", str(img), str(other), "-o", str(blocker / "sub"), *ARGS])
    assert code == 1 and "cannot create the folder" in capsys.readouterr().err


def test_calibrated_and_uncalibrated_files_in_one_csv(tmp_path):
    """The CSV writer used to crash on 'area (px^2)' after 'area (nm^2)' and leave a cut CSV."""
    cal = write_image(tmp_path / "cal.hspy", calibrated=True)
    raw = write_image(tmp_path / "raw.hspy", seed=1, calibrated=False)
    out = tmp_path / "out"
    assert cli.main(["segment", str(cal), str(raw), "-o", str(out), *ARGS]) == 0
    rows = rows_of(out / "pattern_areas.csv")
    assert len(rows) == 4
    cal_rows = [r for r in rows if r["file"] == str(cal)]
    raw_rows = [r for r in rows if r["file"] == str(raw)]
    assert sum(float(r["area (nm^2)"]) for r in cal_rows) == pytest.approx(96 * 128 * 0.05**2, rel=1e-4)
    assert sum(float(r["area (px^2)"]) for r in raw_rows) == pytest.approx(96 * 128)
    assert all(r["area (px^2)"] == "" for r in cal_rows) and all(r["area (nm^2)"] == "" for r in raw_rows)


def test_tia_emi_with_its_ser_is_segmented_once(tmp_path, capsys):
    emi = shared_file("real/openncem_16_STOimage.emi")
    ser = shared_file("real/openncem_16_STOimage_1.ser")
    out = tmp_path / "out"
    code = cli.main(["segment", str(emi), str(ser), "-o", str(out), "--stride", "8"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "openncem_16_STOimage_1.ser: read with its .emi file" in printed
    assert [p.name for p in out.glob("*_labels.hspy")] == ["openncem_16_STOimage_labels.hspy"]
    assert {r["file"] for r in rows_of(out / "pattern_areas.csv")} == {str(emi)}


def test_output_names_helper():
    from argparse import Namespace
    from pathlib import Path

    args = Namespace(output="out", format=".hspy")
    names = cli._output_names(["a/img.hspy", "a/img.zspy", "b/img.hspy", "c/other.dm4"], args, True)
    stems = sorted(p.name for p in names.values())
    assert len(set(names.values())) == 4
    assert stems == ["a_img_hspy_labels.hspy", "a_img_zspy_labels.hspy", "b_img_hspy_labels.hspy", "other_labels.hspy"]
    assert all(p.parent == Path("out").resolve() for p in names.values())
