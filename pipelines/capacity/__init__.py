"""The capacity planner behind ``kho plan capacity`` (docs/capacity.md).

``model`` validates the inputs (units in every name), ``planner`` holds one pure function per
formula and :func:`plan`, ``report`` turns a plan into tables, ``measure`` measures the
metadata constants by committing real versions. :func:`build_inputs` is the CLI's way in.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipelines.capacity.model import CapacityInputError, CapacityInputs
from pipelines.capacity.planner import CapacityPlan, plan

__all__ = ["CapacityInputError", "CapacityInputs", "CapacityPlan", "build_inputs", "plan"]

#: Field name -> the CLI option that sets it (for error messages).
OPTION_NAMES = {"run_table_fraction": "--run-tables", "peak_factor": "--peak", "record_kb": "--record-kb"}


def build_inputs(**given: Any) -> CapacityInputs:
    """CapacityInputs from the options that were given (None: the model's default), turning
    pydantic's report into one line that names the option and what it accepts."""
    try:
        return CapacityInputs(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, CapacityInputError):
            raise CapacityInputError(str(cause)) from None
        field = str(first["loc"][0]) if first["loc"] else ""
        option = OPTION_NAMES.get(field, "--" + field.replace("_", "-"))
        raise CapacityInputError(f"{option}: {first['msg'].removeprefix('Value error, ')}"
                                 f" (got {first.get('input')!r})") from None
