"""The `data` section: where the examples come from, how they are cleaned and split."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from modelops.recipe.common import Section

DataFormat = Literal["text", "messages", "alpaca", "sharegpt", "preference", "unpaired", "prompts", "table"]


class DataSource(Section):
    """One data file, folder, remote dataset id or URL."""

    path: str = Field(min_length=1, description=(
        "Local file or folder (relative to the recipe), a Hugging Face dataset id (`org/name`), "
        "or an http(s) URL. Local paths are checked when planning."))
    format: DataFormat | None = Field(None, description=(
        "How rows are shaped: `text`, `messages` (OpenAI role/content), `alpaca`, `sharegpt`, "
        "`preference` (prompt/chosen/rejected), `unpaired` (prompt/completion/label), `prompts` (a prompt and the "
        "columns rewards read) or `table` (CSV/Parquet columns). "
        "Defaults to the training source's format."))
    text_field: str = Field("text", description="Field holding the text, for `text` data in JSON lines.")
    split: str | None = Field(None, description="Split name, for remote datasets with several.")


class ValidationSplit(Section):
    """Held-out data: a seeded fraction of the training data, or a file of its own."""

    fraction: float | None = Field(None, gt=0, lt=1, description="Share of training rows held out (seeded).")
    path: str | None = Field(None, min_length=1, description="A separate validation file instead of a fraction.")
    format: DataFormat | None = Field(None, description="Format of `path`; defaults to the training format.")

    @model_validator(mode="after")
    def _one_of(self) -> "ValidationSplit":
        if (self.fraction is None) == (self.path is None):
            raise ValueError("give exactly one of `fraction` or `path`")
        return self


class Cleaning(Section):
    """Cleaning applied before training; each rule's count is reported in the plan and report."""

    strip: bool = Field(True, description="Strip leading and trailing whitespace.")
    normalize: Literal["nfkc", "none"] = Field("nfkc", description="Unicode normalisation.")
    drop_empty: bool = Field(True, description="Drop rows whose text is empty after stripping.")
    min_chars: int = Field(0, ge=0, description="Drop rows shorter than this many characters.")
    max_chars: int | None = Field(None, gt=0, description="Drop rows longer than this many characters.")
    dedupe: Literal["none", "exact", "near"] = Field("exact", description=(
        "`exact` drops identical rows; `near` also drops near-duplicates (MinHash/LSH)."))
    near_threshold: float = Field(
        0.9, gt=0, le=1, description="Jaccard similarity above which rows are near-duplicates."
    )
    max_tokens: int | None = Field(None, gt=0, description="Filter or truncate rows longer than this many tokens.")
    over_max_tokens: Literal["drop", "truncate"] = Field("drop", description="What to do with rows over `max_tokens`.")


_ANCHOR = r"(-(MON|TUE|WED|THU|FRI|SAT|SUN|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))?"
FREQUENCY = (r"\d*(ns|us|ms|s|min|h|D|B|C|bh|SME|SMS|BME|BMS|ME|MS|W" + _ANCHOR + "|(B?Q|B?Y)(E|S)" + _ANCHOR + ")")


class TimeColumn(Section):
    """How to read the time column of `table` data (for regression)."""

    column: str = Field(description="Name of the time column.")
    format: str | None = Field(None, description="strftime format, e.g. `%Y-%m-%d %H:%M`; inferred when absent.")
    range_separator: str | None = Field(
        None, description=("For values like `2025-03-01 10:00 - 11:00`: the separator; the part before it is the time.")
    )
    frequency: str | None = Field(None, description=(
        "The series' spacing as a pandas frequency: `15min`, `h`, `D`, `B` (business days), `W-SUN` (weeks ending "
        "Sunday), `MS`/`ME` (month starts/ends), `QS`/`QE`, `YS`/`YE`. Inferred when absent: a calendar frequency "
        "when every time sits on it (month starts, ...), else the most common spacing."))
    missing: Literal["error", "fill", "skip"] = Field(
        "error",
        description=(
            "Missing timestamps within a series: `error`, `fill` (insert rows, target and features forward-filled) "
            "or `skip` (leave the gaps; lags then span them). `fill` needs `frequency`."
        ),
    )

    @field_validator("frequency")
    @classmethod
    def _a_pandas_frequency(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(FREQUENCY, value):
            raise ValueError(f"`{value}` is not a pandas frequency: use 15min, h, D, B, W-SUN, MS, ME, QS, QE, YS "
                             "or YE (a number may lead: 2h)")
        return value

    @model_validator(mode="after")
    def _fill_needs_frequency(self) -> "TimeColumn":
        if self.missing == "fill" and not self.frequency:
            raise ValueError("`missing: fill` needs `frequency` (for example `h` or `D`)")
        return self


class Data(Section):
    """The data section."""

    train: DataSource = Field(description="Training data.")
    validation: ValidationSplit | None = Field(
        None, description="Held-out data; defaults to 5% of train for language-model tasks."
    )
    test: DataSource | None = Field(None, description="Optional test data, used only by evaluation.")
    clean: Cleaning = Field(default_factory=Cleaning, description="Cleaning rules (language-model data).")
    time: TimeColumn | None = Field(None, description="Time column (required for regression).")
    on_bad_rows: Literal["error", "skip"] = Field(
        "error",
        description=(
            "Rows that cannot be used (invalid JSON, missing fields, ...): stop with their file and line, "
            "or skip them and report the count and a sample."
        ),
    )
