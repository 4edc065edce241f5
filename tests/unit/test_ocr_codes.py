"""Label code rules without Tesseract: GTIN check digits, MAC addresses, OCR confusion repair only where
a format demands it, vendor profiles from YAML, key/value pairing on a page's words, barcode
confirmation of a misread value, and the SSRF address checks of the URL fetch."""

import ipaddress
import random
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from linesight_core import label_codes
from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain.codes import gtin_valid, normalise_mac, read_mac, repair_to_pattern
from linesight_ocr.domain.extraction import extract_codes
from linesight_ocr.domain.fetch import AllowList, UrlRefused, checked_address, forbidden_reason
from linesight_ocr.domain.preprocess import Prepared, _components, blank_bars, deskew_angle
from linesight_ocr.domain.read_label import merge_barcodes
from linesight_ocr.domain.tesseract_pass import BarcodeHit, Word, block_rotation, upright_box
from linesight_ocr.domain.vendors import VendorProfileInvalid, load_profile, load_profiles, recognise
from linesight_ocr.synthetic import random_spec, render


@pytest.mark.parametrize("code", ["4006381333931", "96385074", "036000291452", "10012345678902"])
def test_valid_gtins(code):
    assert gtin_valid(code)


@pytest.mark.parametrize(
    "code", ["4006381333932", "96385075", "036000291453", "400638133393", "4OO6381333931"]
)
def test_a_wrong_check_digit_or_length_is_never_valid(code):
    assert not gtin_valid(code)


def test_mac_addresses_are_normalised_and_repaired_only_to_hex():
    assert normalise_mac("3c-52-82-1a-2b-4f") == "3C:52:82:1A:2B:4F"
    assert normalise_mac("3C52821A2B4F") == "3C:52:82:1A:2B:4F"
    assert normalise_mac("3C:52:82:IA:2B:4O") == "3C:52:82:1A:2B:40"
    assert read_mac("3C:52:82:1A:€0:4F") == ("3C:52:82:1A:E0:4F", 1)  # a hex E read as a euro sign
    assert normalise_mac("3C:52:82:1A:2B") is None
    assert normalise_mac("ZZ:52:82:1A:2B:4F") is None


def test_repair_only_where_the_format_demands_it():
    hex12 = re.compile(r"[0-9A-F]{12}")
    # O is not hex: repaired; B is hex: kept although it looks like an 8.
    assert repair_to_pattern("BOAEO7552812", hex12) == "B0AE07552812"
    assert repair_to_pattern("O8YY5T", re.compile(r"0[0-9A-Z]{5}")) == "08YY5T"
    # Already in format: untouched, even with letters that look like digits.
    assert repair_to_pattern("PF3KSZQ2", re.compile(r"[A-Z0-9]{8}")) == "PF3KSZQ2"
    # Two repairs fit equally well: the format cannot say which, so no repair.
    assert repair_to_pattern("SS", re.compile(r"[0-9][A-Z]|[A-Z][0-9]")) is None
    assert repair_to_pattern("XYZ", re.compile(r"[0-9]{3}")) is None


def test_the_shipped_vendor_profiles_load_and_recognise_their_labels():
    profiles = load_profiles()
    assert {"hp", "lenovo", "dell", "ubiquiti"} <= set(profiles)
    assert recognise(profiles, ["LENOVO", "Model:", "ThinkPad"]).id == "lenovo"
    assert recognise(profiles, ["Service", "Tag:", "DELL"]).id == "dell"
    assert recognise(profiles, ["Serial", "12345"]) is None
    assert profiles["dell"].fields["serial"].pattern.fullmatch("ABC1234")


def test_adding_a_vendor_is_adding_a_file(tmp_path):
    (tmp_path / "acme.yaml").write_text(
        "id: acme\nname: ACME\nrecognise:\n  words: [ACME]\nserial:\n  keys: [SER]\n  regex: 'A[0-9]{5}'\n"
    )
    profile = load_profiles(tmp_path)["acme"]
    assert profile.fields["serial"].keys == ("SER",)
    (tmp_path / "broken.yaml").write_text("id: broken\nname: Broken\n")
    with pytest.raises(VendorProfileInvalid, match=r"recognise\.words"):
        load_profile(tmp_path / "broken.yaml")
    (tmp_path / "acme.yaml").write_text(
        "id: acme\nname: ACME\nrecognise:\n  words: [ACME]\nserial:\n  keys: [SER]\n  expected: yes please\n"
    )
    with pytest.raises(VendorProfileInvalid, match=r"serial\.expected"):
        load_profile(tmp_path / "acme.yaml")


def test_the_shipped_vendors_expect_a_serial_and_a_part_number_on_their_labels():
    for profile in load_profiles().values():
        assert profile.fields["serial"].expected and profile.fields["part_number"].expected, profile.id
        assert not profile.fields["model"].expected


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.5",
        "169.254.169.254",
        "169.254.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


def test_public_addresses_pass():
    assert forbidden_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert forbidden_reason(ipaddress.ip_address("2606:4700::1111")) is None


def test_urls_are_checked_before_any_connection():
    none = AllowList.parse([])
    for url, status in [
        ("file:///etc/passwd", 422),
        ("gopher://127.0.0.1/", 422),
        ("http://127.0.0.1:8080/a.png", 422),
        ("http://169.254.169.254/latest/meta-data/", 422),
        ("http://[::1]/a.png", 422),
        ("http://user:pw@93.184.216.34/a.png", 422),
    ]:
        with pytest.raises(UrlRefused) as refused:
            checked_address(url, none)
        assert refused.value.status == status
    assert "metadata" in str(_refusal("http://169.254.169.254/", none))
    allowed = AllowList.parse(["127.0.0.0/8"])
    assert checked_address("http://127.0.0.1:8080/a.png", allowed)[3] == ipaddress.ip_address("127.0.0.1")
    # The metadata address stays refused unless the allow-list names it.
    with pytest.raises(UrlRefused):
        checked_address("http://169.254.169.254/", allowed)


def _refusal(url, allow):
    with pytest.raises(UrlRefused) as refused:
        checked_address(url, allow)
    return refused.value


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_boxes_go_back_to_upload_coordinates(rotation):
    # An upload 200x100 scaled by 2 (400x200), then turned `rotation` degrees clockwise.
    prepared = Prepared(
        image=None, scale=2.0, deskew_degrees=0.0, text_height=10.0, rotation=rotation, scaled_size=(400, 200)
    )
    upload_box = (10, 20, 30, 40)  # in the 200x100 upload
    x1, y1, x2, y2 = (v * 2 for v in upload_box)
    w, h = 400, 200
    turned = {
        0: (x1, y1, x2, y2),
        90: (h - y2, x1, h - y1, x2),
        180: (w - x2, h - y2, w - x1, h - y1),
        270: (y1, w - x2, y2, w - x1),
    }[rotation]
    assert prepared.to_source(*turned) == upload_box


def test_deskew_finds_a_small_tilt():
    spec = random_spec(random.Random(3), "hp")
    spec.barcode = False
    label = render(spec)
    canvas = Image.new("L", (label.width + 200, label.height + 200), 255)
    canvas.paste(label, (100, 100))
    tilted = canvas.rotate(4, resample=Image.Resampling.BICUBIC, fillcolor=255)
    assert abs(deskew_angle(np.asarray(tilted)) - 4) < 1.0
    assert abs(deskew_angle(np.asarray(canvas))) < 0.5


def test_the_service_checks_codes_with_the_gateways_validators():
    assert gtin_valid is label_codes.gtin_valid
    for profile in load_profiles().values():
        for fmt in profile.fields.values():
            for key in fmt.keys:
                assert key in label_codes.LABEL_KEYS, (profile.id, key)  # the export labels it `key`
    for keys in label_codes.GENERIC_KEYS.values():
        assert set(keys) <= set(label_codes.LABEL_KEYS)


def test_mac_addresses_read_with_stray_separators_count_as_repaired():
    assert read_mac("3C:52:82:1A:2B:4F") == ("3C:52:82:1A:2B:4F", 0)
    assert read_mac("55:7B:51:34-DE:C1") == ("55:7B:51:34:DE:C1", 1)
    assert read_mac("55:/7B:51:34:DE:Cl") == ("55:7B:51:34:DE:C1", 2)
    assert read_mac("9B:91:FF:C9:11:F")[0] is None  # a digit lost: nothing to repair it from
    assert read_mac("BD:D1:E9:BA:B4:Al1")[0] is None  # a digit too many
    assert read_mac("3C:5:282:1A:2B:4F")[0] is None  # pairs split apart


def test_vendor_formats_without_i_and_o_repair_them_to_digits():
    lenovo = load_profiles()["lenovo"].fields["serial"].pattern
    assert repair_to_pattern("KTUAAJOG", lenovo) == "KTUAAJ0G"
    assert repair_to_pattern("7JGWC2E0", lenovo) == "7JGWC2E0"


def _word(text, x, y, h=20, conf=0.95, line=1, block=1, word=1):
    box = (x, y, x + 12 * len(text), y + h)
    return Word(text, conf, box, box, block, line, word)


def test_keys_glued_misread_or_split_values_still_pair_with_their_values():
    words = [
        _word("LENOVO", 10, 10),
        _word("SIN:PF3K9ZQ2", 10, 50),  # the slash read as I, glued to the value
        _word("P/N;", 10, 90),
        _word("5B33TZ", 70, 90),  # one value read as two words
        _word("215D", 150, 90),
        _word("MAC", 10, 130),
        _word("3C:52:82:", 60, 130),
        _word("1A:2B:4F", 180, 130),
        _word("Model:", 10, 170),
        _word("ThinkPad", 90, 170),
        _word("T14", 200, 170),
    ]
    codes = {c.type: c for c in extract_codes(words, load_profiles()["lenovo"])}
    assert codes["serial"].value == "PF3K9ZQ2" and codes["serial"].key == "SIN"
    assert codes["part_number"].value == "5B33TZ215D" and codes["part_number"].valid
    assert codes["mac"].value == "3C:52:82:1A:2B:4F" and codes["mac"].valid
    assert codes["model"].value == "ThinkPad T14"
    # joined across words: less sure than one clean word
    assert codes["part_number"].confidence < 0.95 and codes["serial"].confidence == 0.95


def test_a_key_read_with_one_confused_character_still_names_its_field():
    dell = load_profiles()["dell"]
    words = [_word("DELL", 10, 10), _word("OPIN:", 10, 50), _word("0P2JGY", 80, 50)]  # DP/N read as OPIN
    codes = {c.type: c for c in extract_codes(words, dell)}
    assert codes["part_number"].value == "0P2JGY" and codes["part_number"].key == "OPIN"
    # without the colon a short word like that is as likely a value: no key, no keyed part number
    words = [_word("DELL", 10, 10), _word("OPIN", 10, 50), _word("0P2JGY", 80, 50)]
    assert all(c.key != "OPIN" for c in extract_codes(words, dell))


def test_a_value_under_its_key_and_a_value_without_a_key():
    words = [
        _word("DELL", 10, 10),
        _word("Service", 10, 50),
        _word("Tag", 100, 50),
        _word("ABC1234", 10, 75),  # under the key
        _word("0H3FNB", 300, 200),  # no key read: only the Dell part-number format points at it
    ]
    codes = {c.type: c for c in extract_codes(words, load_profiles()["dell"])}
    assert codes["serial"].value == "ABC1234"
    assert codes["part_number"].value == "0H3FNB" and codes["part_number"].key is None
    assert codes["part_number"].confidence < 0.8  # a value without its key is checked by a person


def test_a_barcode_corrects_a_typical_misread_and_flags_any_other_difference():
    dell = load_profiles()["dell"]
    words = [
        _word("DELL", 10, 10),
        _word("Service", 10, 50),
        _word("Tag:", 100, 50),
        _word("5KGG3DS", 160, 50),
    ]
    codes, results = merge_barcodes(
        extract_codes(words, dell), [BarcodeHit("Code128", "5KGG3D5", (0, 0, 9, 9))], dell
    )
    serial = next(c for c in codes if c.type == "serial")
    assert (serial.value, serial.source, serial.repaired, results) == ("5KGG3D5", "both", True, ["agree"])
    assert len([c for c in codes if c.type == "serial"]) == 1
    codes, results = merge_barcodes(
        extract_codes(words, dell), [BarcodeHit("Code128", "5KGG3DX", (0, 0, 9, 9))], dell
    )
    assert results == ["disagree"]
    assert any(c.barcode_disagrees for c in codes if c.source == "ocr")


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_the_reading_order_of_words_tells_how_a_block_is_turned(rotation):
    size = (400, 300)
    upright = [[(10, 10, 60, 30), (70, 10, 150, 30)], [(10, 50, 60, 70), (70, 50, 120, 70)]]
    # the boxes where they lie on an image turned the other way
    back = (360 - rotation) % 360
    w, h = (size[1], size[0]) if rotation in (90, 270) else size
    turned = [[upright_box(b, back, size) for b in line] for line in upright]
    assert block_rotation(turned, fallback=0) == rotation
    assert upright_box(turned[0][0], rotation, (w, h)) == upright[0][0]


def test_bars_are_blanked_but_a_run_of_joined_glyphs_is_kept():
    image = Image.new("L", (400, 200), 255)
    draw = ImageDraw.Draw(image)
    for i in range(8):  # character-sized blobs: the text height is 14 px
        draw.rectangle((10 + 20 * i, 10, 19 + 20 * i, 23), fill=0)
    draw.rectangle((10, 60, 89, 73), fill=0)  # eight digits a serif font and blur joined into one blob
    draw.rectangle((200, 60, 202, 150), fill=0)  # a barcode bar
    draw.rectangle((220, 60, 229, 150), fill=0)  # the widest bar of a barcode: four modules
    draw.rectangle((10, 180, 300, 181), fill=0)  # a rule
    blank_bars(image, _components(np.asarray(image)), 14.0)
    pixels = np.asarray(image)
    assert pixels[66, 50] == 0  # the joined glyphs stay for Tesseract
    assert pixels[100, 201] == 255 and pixels[100, 225] == 255 and pixels[180, 150] == 255  # bars, rule gone


def test_a_gtin_symbol_decoded_two_ways_takes_the_decode_the_printed_text_agrees_with():
    printed = LabelCode(
        type="ean13", value="6954913173860", raw="6954913173860", confidence=0.95, source="ocr", valid=True
    )
    two_ways = BarcodeHit("EAN13", "0973613173860", (0, 0, 90, 2), alternatives=("6954913173860",))
    codes, results = merge_barcodes([printed], [two_ways], None)
    assert results == ["agree"] and [(c.value, c.source) for c in codes] == [("6954913173860", "both")]
    # decoded one way only, as the other number: that is a disagreement for a person
    codes, results = merge_barcodes([printed], [BarcodeHit("EAN13", "0973613173860", (0, 0, 90, 2))], None)
    assert results == ["disagree"] and any(c.barcode_disagrees for c in codes)
