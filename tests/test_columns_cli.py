"""``symseg columns FILE --csv out.csv --png overlay.png`` (the subcommand, wired into a parser here)."""

import argparse

import numpy as np

from hyperspy_symseg import simulate as S
from hyperspy_symseg._cli_columns import add_columns_parser


def run(argv):
    from hyperspy_symseg.cli import CommandError, _load_image

    parser = argparse.ArgumentParser(prog="symseg")
    add_columns_parser(parser.add_subparsers(dest="command", required=True), _load_image, CommandError)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        return str(exc)


def test_columns_command_writes_csv_and_png(tmp_path, capsys):
    sim = S.two_grain_image(shape=(160, 160), random_state=0)
    path = tmp_path / "grains.hspy"
    sim.image.save(path)
    csv, png = tmp_path / "out.csv", tmp_path / "overlay.png"
    assert run(["columns", str(path), "--csv", str(csv), "--png", str(png)]) == 0
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert abs(len(table) - len(sim.positions)) <= 4
    assert png.stat().st_size > 1000
    assert "columns in" in capsys.readouterr().out


def test_columns_command_reports_bad_input(tmp_path):
    msg = run(["columns", str(tmp_path / "missing.hspy")])
    assert "no such file" in msg
    import hyperspy.api as hs

    noise = tmp_path / "noise.hspy"
    hs.signals.Signal2D(np.random.default_rng(0).poisson(4.0, (96, 96)).astype(float)).save(noise)
    assert "holds no lattice" in run(["columns", str(noise), "-q"])


def test_columns_command_never_overwrites_without_asking(tmp_path):
    sim = S.two_grain_image(shape=(128, 128), random_state=0)
    path = tmp_path / "grains.hspy"
    sim.image.save(path)
    csv = tmp_path / "out.csv"
    csv.write_text("keep me")
    assert "exists; pass --overwrite" in run(["columns", str(path), "--csv", str(csv), "-q"])
    assert csv.read_text() == "keep me"
    assert "refusing to overwrite the input" in run(["columns", str(path), "--csv", str(path), "-q", "--overwrite"])
    assert run(["columns", str(path), "--csv", str(csv), "-q", "--overwrite"]) == 0
    assert csv.read_text() != "keep me"


def test_columns_is_a_subcommand_of_symseg(tmp_path):
    from hyperspy_symseg import cli

    sim = S.two_grain_image(shape=(128, 128), random_state=0)
    path = tmp_path / "grains.hspy"
    sim.image.save(path)
    assert cli.main(["columns", str(path), "-q"]) == 0
    assert (tmp_path / "grains_columns.csv").exists()


def test_columns_all_frames_of_a_stack(tmp_path, capsys):
    import hyperspy.api as hs

    sims = [S.two_grain_image(shape=(128, 128), random_state=k) for k in range(2)]
    path = tmp_path / "series.hspy"
    hs.stack([s.image for s in sims], show_progressbar=False).save(path)
    csv = tmp_path / "series.csv"
    assert run(["columns", str(path), "--csv", str(csv), "--all-frames"]) == 0
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert set(table["frame"]) == {0, 1}
    for k in range(2):
        assert abs(np.sum(table["frame"] == k) - len(sims[k].positions)) <= 4
    assert "over 2 frames" in capsys.readouterr().out
    first = tmp_path / "first.csv"
    assert run(["columns", str(path), "--csv", str(first), "-q"]) == 0
    assert "frame" not in np.genfromtxt(first, delimiter=",", names=True).dtype.names
