"""Per-image filters of the image modality (no Beam): safe decoding and per-image signals.

:mod:`filters.image.decode` turns untrusted bytes into 8-bit RGB pixels (or a typed
:class:`~filters.image.decode.ImageDecodeError`) and re-encodes published images without
metadata; :mod:`filters.image.signals` computes the hashes and quality numbers stored with
each record.
"""
