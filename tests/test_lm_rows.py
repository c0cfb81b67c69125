"""The data step's row forms read in one place (modelops/lm/rows.py)."""

from __future__ import annotations

import pytest

from modelops.lm import rows

U, A, B = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}


@pytest.mark.parametrize("row, taught, asked, fields, count", [
    ({"text": "x" * 300}, None, [{"role": "user", "content": "x" * 200}], (), 0),
    ({"messages": [U, A]}, [U, A], [U], ("messages",), 1),
    ({"prompt": [U], "chosen": [A], "rejected": [B]}, [U, A], [U], ("chosen", "rejected"), 2),
    ({"prompt": [U], "completion": [A], "label": True}, [U, A], [U], ("completion",), 1),
    ({"prompt": [U], "completion": [B], "label": False}, None, [U], ("completion",), 1),
    ({"prompt": [U], "answer": "42"}, None, [U], (), 1),          # a prompt alone (GRPO), with a reward's column
])
def test_each_row_form(row, taught, asked, fields, count):
    assert rows.taught(row) == taught and rows.prompt(row) == asked
    assert rows.answer_fields(row) == fields and len(rows.conversations(row)) == count


def test_a_row_the_data_step_never_writes_is_an_error():
    with pytest.raises(ValueError, match="not a training row"):
        rows.taught({"question": [U], "answer": [A]})


def test_answer_pairs_come_from_pairs_and_from_unpaired_examples_of_one_prompt():
    other = [{"role": "user", "content": "other"}]
    found = rows.answer_pairs([
        {"prompt": [U], "chosen": [A], "rejected": [B]},
        {"prompt": [U], "completion": [A], "label": True}, {"prompt": [U], "completion": [B], "label": False},
        {"prompt": other, "completion": [A], "label": True},                  # no undesirable answer to compare
    ])
    assert found == [([U], [A], [B]), ([U], [A], [B])]


@pytest.mark.parametrize("record, error", [
    ({"prompt": "q", "completion": "a"}, "unpaired rows need `prompt`, `completion` and `label`"),
    ({"prompt": "q", "completion": "a", "label": "yes"}, "`label` must be true"),
])
def test_unpaired_rows_are_checked(record, error):
    from modelops.lm.data import BadRow, convert

    assert convert({"prompt": "q", "completion": "a", "label": False}, "unpaired", "text") == {
        "prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}],
        "label": False}
    with pytest.raises(BadRow, match=error):
        convert(record, "unpaired", "text")
