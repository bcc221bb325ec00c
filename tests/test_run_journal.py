"""The trial journal survives a kill mid-write: complete lines are kept, a torn one is dropped."""

import json

from hypsearch.run.journal import Journal, TrialRecord, read


def _record(i, value=1.0):
    return TrialRecord(id=i, status="ok", value=value, metrics=[{"epoch": 1, "val_accuracy": value}],
                       program=f"x = {i}\n", choices={"x": i}, started=0.0, finished=1.0)


def test_journal_keeps_complete_lines_and_drops_a_torn_last_line(tmp_path):
    path = str(tmp_path / "trials.jsonl")
    j = Journal(path)
    j.append(_record(0))
    j.append(_record(1))
    j.close()
    with open(path, "a") as f:
        f.write('{"id": 2, "status": "o')  # what a kill in the middle of a write leaves
    assert [r.id for r in read(path)] == [0, 1]
    j = Journal(path)  # reopening trims the torn line so the next record starts on its own line
    j.append(_record(3))
    j.close()
    assert [r.id for r in read(path)] == [0, 1, 3]
    assert all(json.loads(line) for line in open(path))


def test_journal_writes_nan_values_as_null(tmp_path):
    path = str(tmp_path / "trials.jsonl")
    j = Journal(path)
    j.append(_record(0, value=float("nan")))
    j.close()
    assert json.loads(open(path).readline())["value"] is None
