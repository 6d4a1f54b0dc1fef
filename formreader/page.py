"""One page's pixels -> its fields of recognised digits (the scanner's composition of stages).

Contract (used by formreader.api): ``read_page(gray, recognizer, options) -> list[Field]`` with
every bbox in pixels of ``gray`` as given (i.e. the source page, before any deskew).
"""

from __future__ import annotations

import numpy as np

from .model import Recognizer
from .results import Field, ScanOptions


def read_page(gray: np.ndarray, recognizer: Recognizer, options: ScanOptions = ScanOptions()) -> list[Field]:
    """Find, segment, normalise and classify every handwritten number on a grayscale page."""
    raise NotImplementedError("page scanner not written yet")
