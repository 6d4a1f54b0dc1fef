"""Page loading: every format decodes to the right upright grayscale pixels, every broken input
becomes one InputError line naming the file, and multi-page files number their pages."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from formreader.errors import InputError
from formreader.io.inputs import find_inputs
from formreader.io.pages import MAX_PIXELS, iter_pages, load_gray


def pattern(h: int = 24, w: int = 36) -> np.ndarray:
    """A page with a dark block in the top-left corner only: shows any flip or rotation."""
    a = np.full((h, w), 230, np.uint8)
    a[2:8, 3:12] = 20
    a[h - 4 :, w // 2 :] = 140
    return a


def pages_of(path: Path, **kw) -> list:
    return list(iter_pages(path, **kw))


def only_gray(path: Path, **kw) -> np.ndarray:
    pages = pages_of(path, **kw)
    assert len(pages) == 1 and pages[0].error is None, pages
    return pages[0].gray


def assert_one_line_error(exc: InputError, path: Path, *words: str) -> None:
    msg = str(exc)
    assert msg.startswith(str(path)), msg
    assert "\n" not in msg and "Traceback" not in msg
    for word in words:
        assert word in msg.lower(), msg


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid-looking PNG that declares width x height pixels but carries almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_gray_formats_round_trip_exactly(tmp_path: Path, suffix: str) -> None:
    a = pattern()
    path = tmp_path / f"page{suffix}"
    Image.fromarray(a).save(path)
    out = only_gray(path)
    assert out.dtype == np.uint8 and out.shape == a.shape
    np.testing.assert_array_equal(out, a)


def test_rgb_jpeg_becomes_luma(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :16] = (200, 40, 40)  # reddish ink
    rgb[:, 16:] = (255, 255, 255)
    path = tmp_path / "colour.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    out = only_gray(path)
    luma = 0.299 * 200 + 0.587 * 40 + 0.114 * 40
    assert abs(float(out[4:28, 2:12].mean()) - luma) < 4
    assert out[4:28, 20:30].min() > 245


def test_alpha_is_flattened_on_white_paper(tmp_path: Path) -> None:
    rgba = np.zeros((10, 30, 4), np.uint8)  # black everywhere; alpha decides what shows
    rgba[:, :10, 3] = 0  # transparent -> paper
    rgba[:, 10:20, 3] = 255  # opaque black ink
    rgba[:, 20:, 3] = 128  # half-transparent black -> mid gray
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = only_gray(path)
    assert (out[:, :10] == 255).all()
    assert (out[:, 10:20] == 0).all()
    assert 120 <= int(out[0, 25]) <= 135


def test_palette_transparency_is_paper(tmp_path: Path) -> None:
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    im.paste(1, (4, 0, 8, 8))
    im.info["transparency"] = 0
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    out = only_gray(path)
    assert (out == 255).all()


@pytest.mark.parametrize("orientation, turn", [(6, lambda a: np.rot90(a, -1)), (8, lambda a: np.rot90(a, 1)),
                                               (3, lambda a: a[::-1, ::-1])])
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, orientation: int, turn) -> None:
    a = pattern(40, 64)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    Image.fromarray(a).save(path, exif=exif, quality=95)
    out = only_gray(path)
    upright = turn(a)
    assert out.shape == upright.shape
    assert np.abs(out.astype(int) - upright).mean() < 4


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw"])
def test_tiff_orientation_tag_is_applied(tmp_path: Path, compression: str) -> None:
    # "raw" guards a Pillow 13 bug: an uncompressed TIFF opened by file name is memory-mapped
    # and comes out scrambled when its orientation swaps width and height.
    a = pattern()
    path = tmp_path / "rotated.tif"
    Image.fromarray(a).save(path, compression=compression, tiffinfo={274: 6})
    np.testing.assert_array_equal(only_gray(path), np.rot90(a, -1))


def test_multipage_tiff_yields_each_page_in_order(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((12, 20), v, np.uint8)) for v in (10, 100, 200)]
    path = tmp_path / "three.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    pages = pages_of(path)
    assert [p.number for p in pages] == [1, 2, 3]
    assert [int(p.gray.mean()) for p in pages] == [10, 100, 200]
    assert all(p.error is None for p in pages)


def test_one_bit_group4_tiff(tmp_path: Path) -> None:
    bits = pattern() > 128
    path = tmp_path / "fax.tif"
    Image.fromarray(bits).convert("1").save(path, compression="group4")
    out = only_gray(path)
    np.testing.assert_array_equal(out, np.where(bits, 255, 0).astype(np.uint8))


def test_sixteen_bit_tiff_pages_are_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.array([[0, 128 * 257, 65535]], np.uint16))
        tw.write(np.full((2, 3), 1000, np.uint16))
    pages = pages_of(path)
    assert [p.number for p in pages] == [1, 2]
    np.testing.assert_array_equal(pages[0].gray, [[0, 128, 255]])
    assert (pages[1].gray == 4).all()  # 1000 / 257 -> 3.9


def test_sixteen_bit_png(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.array([[0, 32896, 65535]], np.uint16))
    np.testing.assert_array_equal(only_gray(path), [[0, 128, 255]])


def make_pdf(path: Path, pages: list[np.ndarray], resolution: float = 300.0) -> Path:
    ims = [Image.fromarray(p) for p in pages]
    ims[0].save(path, "PDF", save_all=True, append_images=ims[1:], resolution=resolution)
    return path


def test_pdf_pages_render_at_the_requested_dpi(tmp_path: Path) -> None:
    a = pattern(40, 60)
    path = make_pdf(tmp_path / "scan.pdf", [a, np.full((40, 60), 90, np.uint8)])
    pages = pages_of(path)
    assert [p.number for p in pages] == [1, 2]
    assert pages[0].gray.shape == (40, 60)  # 300 dpi image in a PDF rendered at 300 dpi
    assert np.abs(pages[0].gray.astype(int) - a).mean() < 6
    assert abs(float(pages[1].gray.mean()) - 90) < 3
    half = pages_of(path, dpi=150)
    assert half[0].gray.shape == (20, 30)


def test_pdf_page_rotation_is_honoured(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    path = make_pdf(tmp_path / "flat.pdf", [pattern(40, 60)])
    doc = pdfium.PdfDocument(str(path))
    doc[0].set_rotation(90)
    doc.save(str(tmp_path / "turned.pdf"))
    doc.close()
    out = only_gray(tmp_path / "turned.pdf")
    assert out.shape == (60, 40)
    assert np.abs(out.astype(int) - np.rot90(pattern(40, 60), -1)).mean() < 6


def test_load_gray_is_the_first_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "two.pdf", [np.full((8, 8), 30, np.uint8), np.full((8, 8), 220, np.uint8)])
    assert abs(float(load_gray(path).mean()) - 30) < 3


# --- errors -------------------------------------------------------------------------------------


def first_error(path: Path) -> InputError:
    """The InputError for path, whether the file fails as a whole or on its only page."""
    try:
        pages = pages_of(path)
    except InputError as exc:
        return exc
    errors = [p.error for p in pages if p.error is not None]
    assert errors, f"{path} was read without error"
    return errors[0]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    assert_one_line_error(first_error(path), path, "not found")
    with pytest.raises(InputError):
        load_gray(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert_one_line_error(first_error(path), path, "empty")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    full = tmp_path / f"full{suffix}"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error(first_error(path), path, "truncated")


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("total: 403875\n")
    assert_one_line_error(first_error(path), path, "not an image")


def test_a_directory_is_not_a_page(tmp_path: Path) -> None:
    assert_one_line_error(first_error(tmp_path), tmp_path, "directory")


@pytest.mark.parametrize("width, height", [(12_000, 10_000), (50_000, 50_000)])
def test_absurd_dimensions_are_refused_from_the_header(tmp_path: Path, width: int, height: int) -> None:
    # 120 MP trips our limit; 2500 MP also trips Pillow's own hard limit first. Either way the
    # header alone decides: the file has 16 bytes of pixel data.
    assert width * height > MAX_PIXELS
    path = png_header_only(tmp_path / "bomb.png", width, height)
    assert_one_line_error(first_error(path), path, "limit", "decompression bomb")


def test_pdf_page_too_large_to_render(tmp_path: Path) -> None:
    # 10 x 10 px at 0.1 dpi = a 100-inch page = 30000 x 30000 px at 300 dpi.
    path = make_pdf(tmp_path / "poster.pdf", [np.zeros((10, 10), np.uint8)], resolution=0.1)
    assert_one_line_error(first_error(path), path, "page 1", "limit")


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    assert_one_line_error(first_error(path), path, "not a readable pdf")


def test_encrypted_pdf(tmp_path: Path) -> None:
    plain = make_pdf(tmp_path / "plain.pdf", [np.zeros((8, 8), np.uint8)]).read_bytes()
    # A standard-security /Encrypt entry whose user-password hash matches no password.
    encrypt = (b"/Encrypt << /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32
               + b"> /P -4 >>\n/ID [<" + b"33" * 16 + b"> <" + b"33" * 16 + b">]\n")
    assert b"trailer\n<<\n" in plain
    path = tmp_path / "locked.pdf"
    path.write_bytes(plain.replace(b"trailer\n<<\n", b"trailer\n<<\n" + encrypt))
    assert_one_line_error(first_error(path), path, "encrypted")


def test_a_corrupt_tiff_page_does_not_lose_the_pages_after_it(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8)) for v in (10, 100, 200)]
    path = tmp_path / "mixed.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[1].dataoffsets[0], tif.pages[1].databytecounts[0]
    data = bytearray(path.read_bytes())
    data[offset : offset + count] = b"\xff" * count  # page 2's compressed strip is now garbage
    path.write_bytes(bytes(data))
    pages = pages_of(path)
    assert [p.number for p in pages] == [1, 2, 3]
    assert pages[0].error is None and pages[2].error is None
    assert int(pages[2].gray.mean()) == 200
    assert_one_line_error(pages[1].error, path, "page 2")


# --- finding inputs -----------------------------------------------------------------------------


def test_find_inputs_expands_directories_and_globs_in_sorted_order(tmp_path: Path) -> None:
    for name in ["b.png", "a.PDF", "c.tif", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.png").write_bytes(b"x")
    files, warnings = find_inputs([str(tmp_path)])
    assert [p.name for p in files] == ["a.PDF", "b.png", "c.tif"]
    assert warnings == []

    files, warnings = find_inputs([str(tmp_path / "*.png"), str(tmp_path / "**" / "*.png"),
                                   str(tmp_path / "*.jpg")])
    assert [p.name for p in files] == ["b.png", "z.png"]  # b.png matched twice, listed once
    assert len(warnings) == 1 and "*.jpg" in warnings[0] and "no files" in warnings[0]


def test_find_inputs_keeps_missing_files_so_they_are_reported(tmp_path: Path) -> None:
    files, warnings = find_inputs([str(tmp_path / "gone.png")])
    assert files == [tmp_path / "gone.png"] and warnings == []


# --- the OpenCV fast path for plain gray PNGs ---------------------------------------------------


def _plain_png(path: Path, a: np.ndarray, **save) -> Path:
    Image.fromarray(a).save(path, **save)
    return path


def _pillow_gray(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def _fast(path: Path) -> np.ndarray | None:
    from formreader.io.pages import _plain_png_gray

    with open(path, "rb") as fh, Image.open(fh) as im:
        return _plain_png_gray(fh, im)


def test_plain_gray_png_is_decoded_by_opencv_to_the_same_pixels(tmp_path: Path) -> None:
    a = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    for name, save in (("plain", {}), ("optimized", {"optimize": True}), ("text", {"pnginfo": _text_info()})):
        path = _plain_png(tmp_path / f"{name}.png", a, **save)
        fast = _fast(path)
        assert fast is not None, name
        np.testing.assert_array_equal(fast, a)
        out = only_gray(path)
        np.testing.assert_array_equal(out, _pillow_gray(path))
        out[0, 0] = 1  # a page the caller owns
    ok, buf = __import__("cv2").imencode(".png", a)  # OpenCV's own writer: the benchmark's pages
    (tmp_path / "cv.png").write_bytes(buf.tobytes())
    assert _fast(tmp_path / "cv.png") is not None


def _text_info():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "scanner 1.0")
    return info


def test_png_that_is_not_plain_goes_to_pillow(tmp_path: Path) -> None:
    a = pattern(40, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb = np.dstack([a, a, a])
    cases = {
        "orientation": _plain_png(tmp_path / "exif.png", a, exif=exif),
        "rgb": _plain_png(tmp_path / "rgb.png", rgb),
        "transparent": _plain_png(tmp_path / "trns.png", a, transparency=230),
        "sixteen": tmp_path / "deep.png",
    }
    __import__("cv2").imwrite(str(cases["sixteen"]), a.astype(np.uint16) * 257)
    for name, path in cases.items():
        assert _fast(path) is None, name
    np.testing.assert_array_equal(only_gray(cases["orientation"]), np.rot90(a, -1))
    np.testing.assert_array_equal(only_gray(cases["transparent"]), _pillow_gray(cases["transparent"]))


def test_png_with_a_bad_checksum_is_read_as_before(tmp_path: Path) -> None:
    """A damaged chunk is Pillow's to judge (it skips IDAT checksums): no OpenCV decode, the
    same pixels or error as without the fast path."""
    path = _plain_png(tmp_path / "crc.png", pattern())
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0xFF  # first byte of the IDAT CRC
    path.write_bytes(bytes(data))
    assert _fast(path) is None
    np.testing.assert_array_equal(only_gray(path), _pillow_gray(path))


def test_recursive_glob_ends_at_a_symlink_cycle_and_reads_each_file_once(tmp_path: Path) -> None:
    sub = tmp_path / "scans" / "sub"
    sub.mkdir(parents=True)
    for name in ("a.png", "b.png"):
        (sub / name).write_bytes(b"x")
    (tmp_path / "scans" / "top.png").write_bytes(b"x")
    (sub / "loop").symlink_to("..")  # a cycle
    (sub / "loop2").symlink_to("../..")  # and another, through the parent
    (tmp_path / "scans" / "alias.png").symlink_to(sub / "a.png")  # the same file by another name
    files, warnings_ = find_inputs([str(tmp_path / "scans" / "**" / "*.png")])
    assert not warnings_
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "scans/alias.png", "scans/sub/b.png", "scans/top.png"]  # a.png is alias.png, read once
