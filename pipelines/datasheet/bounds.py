"""Bounds that flag a skew indicator in the datasheet (configurable; defaults below).

A bound is crossed when the indicator's value is outside it; the datasheet then sets the
indicator's ``flagged`` to True and says which bound. The defaults are deliberately loose:
they flag a version that is obviously one-sided, not one that is merely imperfect.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DatasheetBounds(BaseModel):
    """Where a skew indicator is flagged (every share is a fraction in [0, 1])."""

    model_config = ConfigDict(extra="forbid")

    max_top_domain_share: float = Field(0.5, ge=0, le=1, description="largest share of rows from one domain")
    max_top5_domain_share: float = Field(0.9, ge=0, le=1, description="share of rows from the 5 largest domains")
    max_domain_hhi: float = Field(0.25, ge=0, le=1, description="Herfindahl index of domain shares")
    max_no_diacritics_share: float = Field(0.2, ge=0, le=1, description="share of Vietnamese text typed without tone marks")
    gender_ratio_range: tuple[float, float] = Field((0.5, 2.0), description="allowed male/female term ratio")
    max_dialect_region_share: float = Field(0.9, ge=0, le=1,
                                            description="largest share one region has of the documents with markers")
    max_topic_share: float = Field(0.6, ge=0, le=1, description="largest share of one topic")
    min_months_covered: int = Field(1, ge=0, description="fewest distinct crawl months")
