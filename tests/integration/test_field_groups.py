"""A folder of field images is read in runs (:func:`formreader.driver.files.read_group`): the
crops of a run go to the models together, and the results are those of reading each file
alone. A failure inside a run, or a worker dying on a group, costs only the file that caused it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

import parish
from formreader.driver import files
from formreader.driver.files import ReadJob, read_file, read_files
from formreader.reading import zones


@pytest.fixture(scope="module")
def folder(tmp_path_factory, nist_scan: Path) -> list[Path]:
    """Real crops of the development books, the real NIST page, a two-page TIFF of crops and a
    file that is no image, mixed: crop, crop, page, crop, TIFF, junk, crop, crop."""
    if not parish.PARISH.exists():
        pytest.skip(f"{parish.PARISH} not available (tests expect ../shared beside the repository)")
    crops = [p for p, _, _ in parish.crops("dev")[::700]][:7]
    root = tmp_path_factory.mktemp("mixed")
    tiff = root / "two-crops.tif"
    assert cv2.imwritemulti(str(tiff), [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in crops[5:7]])
    junk = root / "junk.png"
    junk.write_bytes(b"not a picture")
    page = root / "nist.png"
    page.write_bytes(nist_scan.read_bytes())
    local = []
    for p in crops[:5]:
        local.append(root / p.name)
        local[-1].write_bytes(p.read_bytes())
    return [local[0], local[1], page, local[2], tiff, junk, local[3], local[4]]


@pytest.fixture(scope="module")
def alone(folder, recognizer) -> list:
    """Each file read on its own, the way reading one file goes."""
    return [[done.page for done in read_file(p, recognizer, ReadJob())] for p in folder]


def _pages(results) -> list:
    return [r.pages for r in results]


def test_runs_of_crops_read_together_give_what_each_reads_alone(folder, alone, recognizer, monkeypatch) -> None:
    sizes = []
    real = zones.read_field_pages

    def spy(grays, *args, **kwargs):
        sizes.append(len(grays))
        return real(grays, *args, **kwargs)

    monkeypatch.setattr(zones, "read_field_pages", spy)
    got = _pages(read_files(folder, ReadJob(), recognizer))
    assert got == alone
    # two crops, then the page, one crop, the TIFF's two pages one by one, then the last two crops
    assert sizes == [2, 1, 1, 1, 2]
    assert [[p.layout for p in pages] for pages in got] == [
        ["field"], ["field"], ["page"], ["field"], ["field", "field"], [None], ["field"], ["field"]]
    assert got[5][0].error and "junk.png" in got[5][0].error
    assert sum(f.status == "ok" for f in got[2][0].fields) == 28  # the NIST page, read as a page


def test_a_failure_in_a_run_costs_only_the_crop_that_caused_it(folder, alone, recognizer, monkeypatch) -> None:
    bad_shape = cv2.imread(str(folder[6]), cv2.IMREAD_GRAYSCALE).shape
    others = folder[:2] + folder[3:4] + folder[7:]
    assert all(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).shape != bad_shape for p in others)
    real = zones.read_field_pages

    def fails_on_one(grays, *args, **kwargs):
        if any(g.shape == bad_shape for g in grays):
            raise ValueError("a bug in a stage")
        return real(grays, *args, **kwargs)

    monkeypatch.setattr(zones, "read_field_pages", fails_on_one)
    got = _pages(read_files(folder, ReadJob(), recognizer))
    assert got[6][0].error.endswith("page 1: could not read page (ValueError: a bug in a stage)")
    assert not got[6][0].fields
    assert got[:6] + got[7:] == alone[:6] + alone[7:]


def test_workers_read_groups_and_a_group_that_kills_its_worker_is_read_file_by_file(folder, alone) -> None:
    model = files.model_file(None)
    assert _pages(read_files(folder, ReadJob(), model, workers=2)) == alone
    crops = [str(p) for p in folder[:2]]
    group = files._GroupTask(tuple(crops), tuple(crops), (None, None), ReadJob(), model)
    # what the executors run once a group's worker died twice: each file as a group of its own
    parts = files._alone(group)
    assert _pages([r for part in parts for r in files._read_group_task(part)]) == alone[:2]
    (lost,) = files._crashed_alone(parts[0])
    assert "worker process died while reading this file" in lost.pages[0].error


def test_groups_shrink_towards_the_end_of_a_batch() -> None:
    assert [len(g) for g in files._groups(10, 2)] == [1] * 10
    sizes = [len(g) for g in files._groups(500, 2)]
    assert sizes[:5] == [16] * 5 and sizes == sorted(sizes, reverse=True) and sizes[-10:] == [1] * 10
    assert [i for g in files._groups(500, 2) for i in g] == list(range(500))
