"""The image modality (``modality: image``): image-caption pairs curated into WebDataset shards.

The modality registers itself when pipelines.image.modality is imported (the core imports it
on the first ``modality: image`` config); importing this package alone loads nothing heavy.
"""
