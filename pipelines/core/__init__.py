"""The modality-neutral ingest core: the Modality contract, its registry, and the skeleton."""

from pipelines.core.modality import (Modality, ModalitySchemas, UnknownModalityError, get_modality,
                                     register_modality)

__all__ = ["Modality", "ModalitySchemas", "UnknownModalityError", "get_modality", "register_modality"]
