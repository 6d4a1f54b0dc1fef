"""The Python API and the batch runner: one result per page in input order, bad pages and bad
files become errors without stopping the batch, workers keep order and survive a crash.

The page scanner is replaced by a small stand-in that measures the ink it is given, so these
tests pin the plumbing (which pixels reach the scanner, what comes back) without depending on
the model or on the scanner's accuracy; tests/integration/test_cli_scan.py runs the real thing end to end.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import formreader
from formreader import api
from formreader.driver.batch import auto_workers, cores, ordered_map
from formreader.errors import ModelError
from formreader.results import Digit, Field, ScanOptions

FAKE_MODEL = object()


def ink_field(gray: np.ndarray, recognizer, options: ScanOptions) -> list[Field]:
    """Stand-in scanner: one field around the dark pixels; its value is the ink's row count."""
    assert recognizer is FAKE_MODEL
    ys, xs = np.nonzero(gray < 128)
    if len(ys) == 0:
        return []
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    value = str(box[3] % 10)
    return [Field("ink", value, 0.95, "ok", box, [Digit(value, 0.95, box)])]


@pytest.fixture
def fake_scanner(monkeypatch):
    loads = []

    def fake_load_model(path=None):
        loads.append(path)
        return FAKE_MODEL

    monkeypatch.setattr("formreader.recognizer.model.load_model", fake_load_model)
    monkeypatch.setattr("formreader.reading.page.read_page", ink_field)
    # the stand-in has no digit network to check the page's orientation with: pages are upright
    monkeypatch.setattr("formreader.reading.orient.read_upright", lambda gray, read, rec, **kw: (0, gray, read(gray)))
    # The test pages are tiny, which --mode auto takes for field images: read them as pages.
    monkeypatch.setattr("formreader.imaging.layout.choose_layout", lambda gray, mode: "page")
    return loads


def page_with_ink(path: Path, top: int, height: int, size=(60, 80)) -> Path:
    a = np.full(size, 255, np.uint8)
    a[top : top + height, 10:30] = 0
    Image.fromarray(a).save(path)
    return path


def test_read_gives_each_page_in_order_and_goes_past_bad_files(tmp_path: Path, fake_scanner) -> None:
    good = page_with_ink(tmp_path / "a.png", top=5, height=7)
    frames = [Image.fromarray(np.where(np.arange(80)[None, :] < 40 + k, 0, 255).astype(np.uint8).repeat(50, 0))
              for k in range(2)]
    multi = tmp_path / "b.tif"
    frames[0].save(multi, save_all=True, append_images=frames[1:])
    empty = tmp_path / "c.png"
    empty.write_bytes(b"")
    missing = tmp_path / "d.png"
    last = page_with_ink(tmp_path / "e.png", top=20, height=3)

    results = formreader.read([good, multi, empty, missing, last], model="any.keras")
    assert [(Path(r.source).name, r.page) for r in results] == [
        ("a.png", 1), ("b.tif", 1), ("b.tif", 2), ("c.png", 1), ("d.png", 1), ("e.png", 1)]
    a, b1, b2, c, d, e = results
    assert (a.width, a.height) == (80, 60) and a.error is None
    assert a.fields[0].bbox == (10, 5, 20, 7) and a.fields[0].value == "7"
    assert b1.fields[0].bbox == (0, 0, 40, 50) and b2.fields[0].bbox == (0, 0, 41, 50)
    assert c.fields == [] and "empty" in c.error and c.error.startswith(str(empty))
    assert d.fields == [] and "not found" in d.error
    assert e.fields[0].bbox == (10, 20, 20, 3)
    assert fake_scanner == ["any.keras"]  # the model is fetched once for the whole batch


def test_read_takes_a_directory(tmp_path: Path, fake_scanner) -> None:
    page_with_ink(tmp_path / "2.png", top=1, height=2)
    page_with_ink(tmp_path / "1.png", top=1, height=1)
    (tmp_path / "notes.txt").write_text("not a page")
    results = formreader.read(tmp_path)
    assert [Path(r.source).name for r in results] == ["1.png", "2.png"]
    assert [r.fields[0].value for r in results] == ["1", "2"]


def test_a_scanner_failure_on_one_page_is_that_pages_error(tmp_path: Path, fake_scanner, monkeypatch) -> None:
    def flaky(gray, recognizer, options):
        if gray[0, 0] < 128:
            raise IndexError("segment list empty")
        return ink_field(gray, recognizer, options)

    monkeypatch.setattr("formreader.reading.page.read_page", flaky)
    odd = np.full((40, 40), 255, np.uint8)
    odd[0, 0] = 0
    Image.fromarray(odd).save(tmp_path / "odd.png")
    page_with_ink(tmp_path / "fine.png", top=3, height=4)
    odd_result, fine = formreader.read([tmp_path / "odd.png", tmp_path / "fine.png"])
    assert odd_result.fields == [] and (odd_result.width, odd_result.height) == (40, 40)
    assert "IndexError" in odd_result.error and "page 1" in odd_result.error
    assert "\n" not in odd_result.error
    assert fine.error is None and fine.fields[0].value == "4"


def test_a_model_problem_stops_the_batch(tmp_path: Path, fake_scanner, monkeypatch) -> None:
    def broken(gray, recognizer, options):
        raise ModelError("digits.keras: model maps (32, 32, 1) -> (10,)")

    monkeypatch.setattr("formreader.reading.page.read_page", broken)
    page_with_ink(tmp_path / "a.png", top=1, height=1)
    with pytest.raises(ModelError):
        formreader.read(tmp_path / "a.png")


def test_overlays_are_written_per_page(tmp_path: Path, fake_scanner) -> None:
    frames = [Image.fromarray(np.full((30, 30), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "two.tif", save_all=True, append_images=frames[1:])
    out = tmp_path / "overlays"
    out.mkdir()
    pages = [p for ps in api.scan_files([tmp_path / "two.tif"], overlay_dir=out) for p in ps]
    assert [p.page for p in pages] == [1, 2]
    assert sorted(p.name for p in out.iterdir()) == ["two-p1.png", "two-p2.png"]
    def colourfulness(name: str) -> np.ndarray:
        with Image.open(out / name) as im:
            img = np.asarray(im.convert("RGB")).astype(int)
        return img.max(axis=2) - img.min(axis=2)

    # Page 1 is all ink: one field, boxed in colour along the page edge. Page 2 is blank paper:
    # no fields, so its overlay is the plain (gray) page.
    assert (colourfulness("two-p1.png")[:, 0] > 100).all()
    assert colourfulness("two-p2.png").max() == 0


def test_workers_need_a_model_file_they_can_load(tmp_path: Path) -> None:
    page_with_ink(tmp_path / "a.png", top=1, height=1)
    with pytest.raises(ModelError, match="not found"):
        list(api.scan_files([tmp_path / "a.png"], model=tmp_path / "none.keras", workers=2))


def test_a_batch_gets_a_worker_per_core_only_when_it_has_files_enough_for_them() -> None:
    assert cores() >= 1
    assert auto_workers(0, available=2) == auto_workers(1, available=2) == 1
    assert auto_workers(199, per_worker=100, available=2) == 1  # two workers would wait to start
    assert auto_workers(200, per_worker=100, available=2) == 2
    assert auto_workers(100_000, per_worker=100, available=4) == 4  # never more than the cores
    assert auto_workers(5, per_worker=1, available=1) == 1


# --- ordered_map in worker processes -----------------------------------------------------------
# Module-level functions: spawned workers import this module to find them.


def slow_square(x: int) -> int:
    time.sleep(0.03 * ((7 * x) % 4))  # later items often finish first
    return x * x


def die_on_three(x: int) -> int:
    if x == 3:
        os._exit(9)  # what a decoder segfault or the OOM killer looks like to the pool
    return x * 10


def test_ordered_map_keeps_input_order_across_workers() -> None:
    assert list(ordered_map(slow_square, range(12), workers=2, on_crash=lambda x: -1)) == [
        x * x for x in range(12)]


def test_a_worker_crash_costs_only_the_item_that_caused_it() -> None:
    out = list(ordered_map(die_on_three, range(7), workers=2, on_crash=lambda x: -x))
    assert out == [0, 10, 20, -3, 40, 50, 60]


def group_dies_on_two(group: tuple[int, ...]) -> list[int]:
    if 2 in group:
        os._exit(9)
    return [n * n for n in group]


def test_a_group_that_kills_its_worker_is_run_again_part_by_part() -> None:
    groups = [(0, 1), (2, 3, 4), (5,)]
    out = list(ordered_map(group_dies_on_two, groups, workers=2, on_crash=lambda g: [-1] * len(g),
                           split=lambda g: [(n,) for n in g]))
    assert out == [[0, 1], [-1, 9, 16], [25]]  # only the part that kills its worker is lost


def test_ordered_map_reads_its_input_lazily() -> None:
    pulled = []

    def items():
        for i in range(40):
            pulled.append(i)
            yield i

    results = ordered_map(slow_square, items(), workers=2, window=4, on_crash=lambda x: -1)
    for consumed, value in enumerate(results, start=1):
        assert value == (consumed - 1) ** 2
        assert len(pulled) <= consumed + 4  # never more than the window ahead of the consumer
    assert len(pulled) == 40


def always_die(x: int) -> int:
    os._exit(9)


def test_workers_that_always_die_stop_the_batch_with_one_error() -> None:
    from formreader.errors import FormreaderError

    with pytest.raises(FormreaderError, match="in a row"):
        list(ordered_map(always_die, range(50), workers=2, on_crash=lambda x: -1))


def test_the_public_api_reads_arrays_and_runs_pipelines(tmp_path: Path) -> None:
    import cv2

    import formreader

    sample = Path(__file__).resolve().parents[2] / "samples" / "postal-000.jpg"
    from_file = formreader.read(str(sample))[0]
    from_array = formreader.read(cv2.imread(str(sample)))[0]  # BGR, as OpenCV loads it
    assert from_array.source == "<array>"
    assert [f.value for f in from_array.fields] == [f.value for f in from_file.fields]
    field = formreader.read(cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE), mode="field")[0]
    assert field.layout == "field" and len(field.fields) == 1
    (tmp_path / "a.jpg").write_bytes(sample.read_bytes())
    (tmp_path / "p.yaml").write_text('inputs: ["*.jpg"]\noutputs: {csv: r.csv}\n')
    pages = formreader.Pipeline.from_yaml(tmp_path / "p.yaml").run()
    assert [f.value for f in pages[0].fields] == [f.value for f in from_file.fields]
    assert (tmp_path / "r.csv").read_text().count("\n") == 1 + len(pages[0].fields)
    with pytest.raises(formreader.ConfigError, match="threshold"):
        formreader.Pipeline.from_yaml(tmp_path / "p.yaml", ["threshold=2"])
    with pytest.raises(formreader.InputError):
        formreader.read(np.zeros((3, 3), np.float32))
    assert all(getattr(formreader, name) is not None for name in formreader.__all__)
