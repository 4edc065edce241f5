"""The Labels page's photo: each code's token boxes outlined in the colour of its state, tagged, on the
photo turned the way its EXIF orientation says (where the OCR service's boxes are)."""

import io

from PIL import Image

from linesight_ui.label_drawing import CONFIRMED, DOUBTFUL, SURE, WRONG, code_color, draw_codes


def photo(size=(200, 100), exif_orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (255, 255, 255))
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def code(box, **extra):
    return {
        "type": "serial",
        "value": "PF3K9ZQ2",
        "valid": True,
        "review": "ok",
        "token_boxes": [box],
        **extra,
    }


def test_a_code_box_is_outlined_in_its_colour_and_the_inside_left_alone():
    drawn = Image.open(io.BytesIO(draw_codes(photo(), [code({"x1": 60, "y1": 50, "x2": 150, "y2": 90})])))
    assert drawn.format == "PNG" and drawn.size == (200, 100)
    assert drawn.getpixel((60, 70)) == SURE  # left edge
    assert drawn.getpixel((150, 70)) == SURE  # right edge
    assert drawn.getpixel((100, 70)) == (255, 255, 255)  # inside
    assert drawn.getpixel((20, 20)) == (255, 255, 255)  # elsewhere
    assert drawn.getpixel((62, 45)) == SURE  # the tag sits above the box


def test_colours_follow_validation_and_review():
    assert code_color({"valid": True, "review": "ok"}) == SURE
    assert code_color({"valid": True, "review": "flagged"}) == DOUBTFUL
    assert code_color({"valid": True, "review": "ok", "barcode_disagrees": True}) == DOUBTFUL
    assert code_color({"valid": False, "review": "flagged"}) == WRONG
    assert code_color({"valid": True, "review": "corrected"}) == CONFIRMED


def test_boxes_off_the_photo_are_clipped_and_a_code_without_boxes_draws_nothing():
    codes = [
        code({"x1": -40, "y1": 5, "x2": 500, "y2": 400}, valid=False),
        {"type": "model", "value": "T14", "valid": True, "review": "added", "token_boxes": []},
    ]
    drawn = Image.open(io.BytesIO(draw_codes(photo(), codes)))
    assert drawn.getpixel((0, 60)) == WRONG and drawn.getpixel((199, 60)) == WRONG
    assert drawn.getpixel((100, 60)) == (255, 255, 255)


def test_the_photo_is_turned_as_its_exif_orientation_says():
    # stored 200 x 100 with orientation 6 (turn 90° clockwise to show): shown 100 x 200
    drawn = Image.open(io.BytesIO(draw_codes(photo(exif_orientation=6), [])))
    assert drawn.size == (100, 200)
