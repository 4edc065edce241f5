"""Tesseract's second look where it and RapidOCR read a code differently, or only RapidOCR read it: it
reads the text-line crops RapidOCR's detector found, one line each (line_reads). Still Tesseract's own
recognition, only on rectified, upright crops instead of its page layout. Where its line read differs
from RapidOCR's only in characters it confuses (8/B, 0/D, 5/S, 1/J), it reads each such character alone:
in a line its recogniser weighs a glyph by its neighbours (`98:40` for `9B:4D` in a MAC), alone it reads
the glyph. A Tesseract read that then equals RapidOCR's is agreement of the two recognizers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain import consensus, line_reads, rapid
from linesight_ocr.domain.codes import confusable
from linesight_ocr.domain.extraction import extract_codes
from linesight_ocr.domain.glyph_check import recheck_value
from linesight_ocr.domain.line_reads import LineRead
from linesight_ocr.domain.preprocess import Prepared
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import VendorProfile

# More differing characters than this: not one value misread, or too much left to chance.
MAX_DIFFERENCES = 3


def confusions_only(a: str, b: str) -> bool:
    """`a` and `b` differ, in at most MAX_DIFFERENCES characters, each a pair Tesseract confuses."""
    if len(a) != len(b) or a == b:
        return False
    diffs = [(x, y) for x, y in zip(a.upper(), b.upper(), strict=True) if x != y]
    return len(diffs) <= MAX_DIFFERENCES and all(confusable(x, y) for x, y in diffs)


class GlyphVote:
    """Settles disagreements on the codes Tesseract read from RapidOCR's line crops."""

    def __init__(
        self,
        words: Sequence[Word],
        reads: Sequence[LineRead],
        languages: Sequence[str],
        timeout: Callable[[], float],
    ) -> None:
        self._by_box = {w.box: w for w in words}
        self._reads = reads
        self._languages = languages
        self._timeout = timeout  # seconds left for the next recognition

    def __call__(self, tesseract: LabelCode | None, rapid: LabelCode) -> LabelCode | None:
        """Tesseract's code read again glyph by glyph where it differs from RapidOCR's; None where
        it cannot be (the values differ otherwise, or its characters cannot be lined up)."""
        if tesseract is None or not confusions_only(tesseract.value, rapid.value):
            return None
        words = [self._by_box.get((b.x1, b.y1, b.x2, b.y2)) for b in tesseract.token_boxes]
        if not words or any(w is None for w in words) or len({w.block for w in words if w}) != 1:
            return None
        read = self._reads[words[0].block - 1] if 0 < words[0].block <= len(self._reads) else None
        if read is None:
            return None
        spans = [read.spans[w.word - 1] for w in words if w and 0 < w.word <= len(read.spans)]
        raw = "".join(s[0] for s in spans)
        if len(spans) != len(words) or len(raw) != len(tesseract.value):
            return None  # the value is not its words' characters one for one (a repair joined or cut)
        crop = read.crop(min(s[2] for s in spans), max(s[3] for s in spans))
        if crop is None:
            return None
        # the value as printed on the crop, with the repairs the format made (O->0) applied
        value, changed = recheck_value(tesseract.value, crop, self._languages, self._timeout())
        if not changed:
            return None
        return tesseract.model_copy(update={"value": value})


class LineLook:
    """Tesseract's read of RapidOCR's line crops, made on the first code that needs it (a label whose
    codes the two read alike costs nothing more), as a `consensus.Settle`."""

    def __init__(
        self,
        page: Prepared,
        lines: Sequence[rapid.RapidLine],
        vendor: VendorProfile | None,
        languages: Sequence[str],
        timeout: Callable[[], float],
    ) -> None:
        self._page, self._lines, self._vendor = page, lines, vendor
        self._languages, self._timeout = languages, timeout
        self._read: tuple[list[LabelCode], str, GlyphVote] | None = None
        self.used = False

    def _load(self) -> tuple[list[LabelCode], str, GlyphVote]:
        if self._read is None:
            self.used = True
            reads = line_reads.read_lines(self._lines, self._languages, self._timeout)
            words = rapid.line_words(self._lines, self._page, [r.spans for r in reads])
            codes = extract_codes(consensus.unglue(words, self._vendor), self._vendor)
            vote = GlyphVote(words, reads, self._languages, self._timeout)
            self._read = codes, consensus.text_of(words), vote
        return self._read

    def __call__(self, tesseract: LabelCode | None, rapid_code: LabelCode) -> LabelCode | None:
        """Tesseract's line read of the field RapidOCR read as `rapid_code`: its code most like it,
        glyphs read alone where they differ by confusions; else RapidOCR's value when Tesseract's
        line text holds it whole; else Tesseract's line read as it is (another value: no agreement);
        None when it has none of that field."""
        codes, text, vote = self._load()
        target = consensus.normal(rapid_code)
        group = consensus.group(rapid_code)
        same = [c for c in codes if consensus.group(c) == group]
        best = max(same, key=lambda c: consensus.similarity(consensus.normal(c), target), default=None)
        if best is not None:
            if consensus.normal(best) == target:
                return best
            again = vote(best, rapid_code)
            if again is not None and consensus.normal(again) == target:
                return again
        if len(target) >= consensus.MIN_SEEN and target in text:
            return rapid_code
        return best
