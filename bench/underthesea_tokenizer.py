"""A baseline's word tokenizer: underthesea plugged into datatrove the plain way.

datatrove's filters take any ``WordTokenizer`` as ``language=``. A datatrove user who wants
Vietnamese words from underthesea writes this class: ``word_tokenize`` and ``sent_tokenize``
call underthesea's functions, nothing is memoised (datatrove's own tokenizers memoise
nothing either). Every filter that needs words tokenizes the document again, which is what
datatrove does with any tokenizer. bench/text uses it as one of its baselines (the named one
is datatrove's own default, spaCy ``vi`` with pyvi); it is not used by Kho.
"""

from __future__ import annotations

from datatrove.utils.word_tokenizers import WordTokenizer, simple_span_tokenize, strip_strings


class UndertheseaWordTokenizer(WordTokenizer):
    """``underthesea.word_tokenize`` / ``sent_tokenize`` behind datatrove's tokenizer interface."""

    def __init__(self) -> None:
        super().__init__("vi")

    def word_tokenize(self, text: str) -> list[str]:
        """Words of ``text`` as underthesea segments them."""
        from underthesea import word_tokenize

        return word_tokenize(text)

    def sent_tokenize(self, text: str) -> list[str]:
        """Sentences of ``text`` by underthesea's splitter."""
        from underthesea import sent_tokenize

        return strip_strings(sent_tokenize(text))

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character spans of the sentences of ``text``."""
        return list(simple_span_tokenize(text, self.sent_tokenize(text)))
