"""The data step's row forms read in one place (modelops/lm/rows.py)."""

from __future__ import annotations

import pytest

from modelops.lm import rows

U, A, B = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}


@pytest.mark.parametrize("row, taught, asked, fields, count", [
    ({"text": "x" * 300}, None, [{"role": "user", "content": "x" * 200}], (), 0),
    ({"messages": [U, A]}, [U, A], [U], ("messages",), 1),
    ({"prompt": [U], "chosen": [A], "rejected": [B]}, [U, A], [U], ("chosen", "rejected"), 2),
])
def test_each_row_form(row, taught, asked, fields, count):
    assert rows.taught(row) == taught and rows.prompt(row) == asked
    assert rows.answer_fields(row) == fields and len(rows.conversations(row)) == count


def test_a_row_the_data_step_never_writes_is_an_error():
    with pytest.raises(ValueError, match="not a training row"):
        rows.taught({"prompt": [U], "completion": [A]})
