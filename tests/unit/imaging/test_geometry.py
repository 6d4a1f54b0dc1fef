"""Rectangles change frame only through formreader.imaging.geometry, and the conversions keep
what they hold: a source rectangle mapped to the working page and back still covers itself."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from formreader.imaging.geometry import Divider, Frame, MaskRect, WorkRect, mask_to_work, source_to_work, work_to_source


@settings(max_examples=60, deadline=None)
@given(x=st.integers(0, 400), y=st.integers(0, 400), w=st.integers(1, 200), h=st.integers(1, 200),
       angle=st.floats(-5, 5), scale=st.floats(0.25, 2.0))
def test_source_to_work_and_back_covers_the_rectangle(x, y, w, h, angle, scale) -> None:
    to_work = cv2.getRotationMatrix2D((300.0, 300.0), angle, scale)
    from_work = cv2.invertAffineTransform(to_work)
    size = (1000, 1000)
    back = work_to_source(source_to_work((x, y, w, h), to_work), from_work, size)
    bx, by, bw, bh = back
    assert bx <= x and by <= y and bx + bw >= min(x + w, size[0]) and by + bh >= min(y + h, size[1])
    assert 0 <= bx and 0 <= by and bx + bw <= size[0] and by + bh <= size[1]  # clipped to the source


def test_mask_rectangles_move_by_the_regions_origin() -> None:
    assert mask_to_work(MaskRect((3, 4, 10, 20)), (100, 50)) == (103, 54, 10, 20)


@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_a_zones_centre_lies_where_its_fractions_say(rel) -> None:
    x0, x1 = sorted(rel[0::2])
    y0, y1 = sorted(rel[1::2])
    frame = Frame(40.0, 60.0, 2040.0, 3060.0)
    rect = frame.to_work([x0, y0, x1, y1])
    cx, cy = frame.centre_of(WorkRect(rect))
    assert abs(cx - (x0 + x1) / 2) <= 1.0 / 2000 + 1e-9 and abs(cy - (y0 + y1) / 2) <= 1.0 / 3000 + 1e-9
    assert rect[2] >= 1 and rect[3] >= 1


def test_a_divider_is_named_and_still_a_tuple() -> None:
    d = Divider(12.0, 11, 14, 30.0, 0.0)
    assert (d.x0, d.x1, d.up) == (11, 14, 30.0) and d == (12.0, 11, 14, 30.0, 0.0)
    assert np.isclose(d.centre, (d.x0 + d.x1 - 1) / 2)
