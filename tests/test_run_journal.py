"""The trial journal survives a kill mid-write: complete lines are kept, a torn one is dropped;
damaged lines are skipped and reported, and the lines in order rebuild the trials."""

import json

from hypsearch.runner.journal import Journal, read, read_all
from hypsearch.search import Status, Trial


def _record(i, value=1.0, status=Status.OK):
    return Trial(id=i, assignment={"x": i}, status=status, value=value, metrics=[{"epoch": 1, "val_accuracy": value}],
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


def test_a_trial_is_pending_until_its_finished_line_and_the_last_line_wins(tmp_path):
    path = str(tmp_path / "trials.jsonl")
    j = Journal(path)
    j.append(Trial(0, {"x": 0}))
    j.append(Trial(1, {"x": 1}))
    j.append(_record(1, value=0.5))
    j.close()
    contents = read_all(path)
    assert [t.id for t in contents.pending] == [0]
    assert [(t.id, t.status) for t in contents.finished] == [(1, Status.OK)]
    assert [(t.id, t.status.value) for t in contents.events] == [(0, "pending"), (1, "pending"), (1, "ok")]


def test_damaged_lines_are_skipped_and_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "trials.jsonl"
    good = json.dumps(_record(0).to_json())
    path.write_bytes((good + "\n" + "not json\n" + '{"id": "x", "assignment": {}}\n' + '[1, 2]\n'
                      + "\xff\xfe garbage\n").encode("latin-1") + (json.dumps(_record(1).to_json()) + "\n").encode())
    contents = read_all(str(path))
    assert [t.id for t in contents.finished] == [0, 1]
    assert [d.split(":")[0] for d in contents.damaged] == ["line 2", "line 3", "line 4", "line 5"]
