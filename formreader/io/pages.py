"""Files -> grayscale page arrays, one page at a time.

Everything that can go wrong with an input file ends here as an :class:`InputError` whose
message names the file and the problem in one line, so callers never see a decoder's traceback.
Pages are produced by generators: a 500-page PDF costs the memory of one rendered page.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from formreader.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

# A 300 dpi A3 page is 17.4 MP, a 600 dpi A3 page 70 MP: anything past 100 MP is a mistake or an
# attack (a few-KB PNG can declare 50,000 x 50,000 pixels and need 2.5 GB to decode).
MAX_PIXELS = 100_000_000
_PDF_MAGIC = b"%PDF-"
_SNIFF_BYTES = 1024  # the PDF spec lets the header start anywhere in the first 1024 bytes


@dataclass
class PageImage:
    """One page of an input file: its pixels, or why this page alone could not be decoded."""

    number: int  # 1-based page number within its file
    gray: np.ndarray | None  # uint8 (H, W), 0 = black ink, 255 = white paper
    error: InputError | None = None


def iter_pages(path: str | os.PathLike[str], dpi: int = 300,
               max_pixels: int = MAX_PIXELS) -> Iterator[PageImage]:
    """Every page of an image, multi-page TIFF or PDF, decoded lazily in order.

    Raises InputError (on the first ``next``) when the file as a whole is unusable: missing,
    empty, not an image, encrypted. A page that alone fails (a corrupt TIFF frame, an absurd PDF
    page size) is yielded with ``error`` set so that the pages after it are still read.
    """
    path = Path(path)
    head = _read_head(path)
    if _PDF_MAGIC in head:
        yield from _pdf_pages(path, dpi, max_pixels)
    else:
        yield from _raster_pages(path, max_pixels)


def load_gray(path: str | os.PathLike[str], dpi: int = 300) -> np.ndarray:
    """First page of an image or PDF as uint8 grayscale (for single-digit images and tools)."""
    pages = iter_pages(path, dpi)
    try:
        first = next(pages)
    finally:
        pages.close()
    if first.error is not None:
        raise first.error
    assert first.gray is not None
    return first.gray


def _read_head(path: Path) -> bytes:
    """The first bytes of the file, turning every "cannot even start" case into one message."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except PermissionError:
        raise InputError(f"{path}: cannot read file (permission denied)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not head:
        raise InputError(f"{path}: empty file (0 bytes)")
    return head


def _too_big(path: Path, width: int, height: int, max_pixels: int, where: str = "") -> InputError:
    return InputError(
        f"{path}: {where}image is {width} x {height} pixels ({width * height / 1e6:.0f} MP), over the "
        f"{max_pixels / 1e6:.0f} MP limit; refusing to decode it (a mistake or a decompression bomb)"
    )


# --- raster images (Pillow) -------------------------------------------------------------------


def _raster_pages(path: Path, max_pixels: int) -> Iterator[PageImage]:
    from PIL import Image, UnidentifiedImageError

    # A file object, not the path: Pillow memory-maps uncompressed TIFFs opened by name, and its
    # mmap path scrambles pixels when a TIFF orientation tag swaps width and height (Pillow 13).
    try:
        fh: IO[bytes] = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    with fh:
        try:
            with warnings.catch_warnings():
                # Our own MAX_PIXELS check below is the one that speaks; Pillow's hard limit
                # (2x its warning limit) still raises for the truly absurd, caught here.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fh)
        except Image.DecompressionBombError:
            raise InputError(
                f"{path}: image dimensions are over the {max_pixels / 1e6:.0f} MP limit; refusing to "
                "decode it (a mistake or a decompression bomb)"
            ) from None
        except UnidentifiedImageError:
            raise InputError(f"{path}: not an image or PDF (unrecognised file format)") from None
        except Exception as exc:  # Pillow raises many types on a malformed header
            raise InputError(f"{path}: not a readable image ({_describe(exc)})") from None
        with im:
            # Only TIFF frames are pages; other formats' extra frames are animation or thumbnails.
            try:
                count = im.n_frames if im.format == "TIFF" else 1
            except Exception as exc:
                raise InputError(f"{path}: corrupt TIFF page directory ({_describe(exc)})") from None
            for index in range(count):
                where = f"page {index + 1}: " if count > 1 else ""
                try:
                    if index:
                        im.seek(index)
                    width, height = im.size
                    if width * height > max_pixels:
                        raise _too_big(path, width, height, max_pixels, where)
                    gray = _plain_png_gray(fh, im) if count == 1 else None
                    if gray is None:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                            gray = _to_gray(im)
                except InputError as exc:
                    yield PageImage(index + 1, None, exc)
                    continue
                except Image.DecompressionBombError:
                    yield PageImage(index + 1, None, _too_big(path, *im.size, max_pixels, where))
                    continue
                except Exception as exc:  # truncated data, bad compression, decoder errors
                    yield PageImage(index + 1, None,
                                    InputError(f"{path}: {where}cannot decode image ({_describe(exc)})"))
                    continue
                yield PageImage(index + 1, gray)


# PNG chunks that cannot change a plain 8-bit gray image's pixels or orientation, and about
# which libpng has nothing to warn. Text chunks are allowed unless their keyword is one that
# Pillow reads an EXIF/XMP orientation from.
_PLAIN_PNG_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND", b"pHYs", b"tIME", b"tEXt", b"zTXt", b"iTXt"})
_ORIENTATION_TEXT = (b"Raw profile type exif\0", b"XML:com.adobe.xmp\0")


def _plain_png_gray(fh: IO[bytes], im: "Image.Image") -> np.ndarray | None:
    """The pixels of a plain 8-bit grayscale PNG, decoded by OpenCV; None for anything else.

    Why: a 300 dpi letter page is 8.4 MB of pixels; Pillow's decode plus its copies (exif
    transpose, tobytes, the writable copy) costs about 15 ms more than ``cv2.imdecode``, which
    fills one array. "Plain" means exactly the files on which both give the same pixels and
    OpenCV has nothing to print: signature and IHDR 8-bit gray, only the chunks above (so no
    transparency, palette, animation, colour profile or orientation), every chunk complete and
    its CRC right. Everything else, and anything OpenCV fails on, goes to Pillow as before, so
    every error message is Pillow's, as it was.
    """
    if im.format != "PNG" or im.mode != "L":
        return None
    try:
        fh.seek(0)
        data = fh.read()
    except OSError:
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, seen_end = 8, False
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind not in _PLAIN_PNG_CHUNKS or end > len(data):
            return None
        body = data[pos + 8 : end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end - 4)[0]:
            return None
        if kind == b"IHDR" and (length != 13 or body[8] != 8 or body[9] != 0):
            return None  # bit depth 8, colour type 0 (gray)
        if kind in (b"tEXt", b"zTXt", b"iTXt") and body.startswith(_ORIENTATION_TEXT):
            return None
        pos = end
        if kind == b"IEND":
            seen_end = True
            break
    if not seen_end:
        return None
    import cv2

    try:
        gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if gray is None or gray.dtype != np.uint8 or gray.shape != (im.height, im.width):
        return None
    return gray


def _to_gray(im: "Image.Image") -> np.ndarray:
    """Decode the current frame as uint8 gray, upright, transparent areas as white paper."""
    from PIL import Image, ImageOps

    im.load()  # decode now: errors surface here, and TIFF applies its own orientation on load
    # JPEG/PNG/WebP EXIF orientation (a no-op once applied); in place, so that an upright page
    # (nearly all) is not copied for nothing.
    ImageOps.exif_transpose(im, in_place=True)
    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(paper, rgba).convert("L"), dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode == "I":
        # 16-bit scans: Pillow's convert("L") clips at 255 instead of scaling, so scale here.
        wide = np.asarray(im).astype(np.int64)
        return ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        values = np.nan_to_num(values, nan=1.0)
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0
        return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    if mode == "L":  # already gray: convert("L") would only copy it once more
        return np.array(im, dtype=np.uint8)
    return np.asarray(im.convert("L"), dtype=np.uint8).copy()


# --- PDF (pypdfium2) --------------------------------------------------------------------------


def _pdf_pages(path: Path, dpi: int, max_pixels: int) -> Iterator[PageImage]:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InputError(f"{path}: PDF is encrypted (password protected); decrypt it first") from None
        raise InputError(f"{path}: not a readable PDF ({_pdfium_reason(exc)})") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable PDF ({_describe(exc)})") from None
    try:
        count = len(doc)
        if count == 0:
            raise InputError(f"{path}: PDF has no pages")
        scale = dpi / 72.0
        for index in range(count):
            where = f"page {index + 1}: "
            try:
                page = doc[index]
                try:
                    w_pt, h_pt = page.get_size()  # as displayed, i.e. after /Rotate
                    width, height = round(w_pt * scale), round(h_pt * scale)
                    if width * height > max_pixels:
                        raise _too_big(path, width, height, max_pixels, where)
                    if width < 1 or height < 1:
                        raise InputError(f"{path}: {where}page has no area ({w_pt:g} x {h_pt:g} pt)")
                    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
                    try:
                        gray = _bitmap_gray(bitmap.to_numpy())
                    finally:
                        bitmap.close()
                finally:
                    page.close()
            except InputError as exc:
                yield PageImage(index + 1, None, exc)
                continue
            except Exception as exc:
                yield PageImage(index + 1, None,
                                InputError(f"{path}: {where}cannot render PDF page ({_describe(exc)})"))
                continue
            # pdfium rounds the bitmap size up; keep the size the page's dpi implies.
            yield PageImage(index + 1, np.ascontiguousarray(gray[:height, :width]))
    finally:
        doc.close()


def _bitmap_gray(arr: np.ndarray) -> np.ndarray:
    """pdfium's grayscale render as (H, W) uint8, whatever channel layout it came in."""
    arr = np.asarray(arr)
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        else:  # BGR(x): luma with the same weights Pillow uses
            b, g, r = (arr[:, :, i].astype(np.float32) for i in range(3))
            arr = np.rint(0.299 * r + 0.587 * g + 0.114 * b)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _pdfium_reason(exc: Exception) -> str:
    text = str(exc)
    start = text.find("(PDFium: ")
    return text[start + 9 : text.rfind(")")] if start >= 0 else text


def _describe(exc: BaseException) -> str:
    """An exception as a short single-line reason (the type too, unless it is a plain OSError)."""
    text = " ".join(str(exc).split())
    if text and type(exc) is OSError:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
