"""The short form of scripts/load (issue 8, §4), for CI: the real server on a loopback
port under 16 keep-alive connections for 10 s, 90% reads and 10% violation writes under
five tokens. No timing is asserted; what must hold is: no 5xx, no dropped request,
every acknowledged write in the database exactly once with its content, no refused
write there, integrity_check and `estatemap check` clean, RSS within the budget
(not under ASan, whose shadow memory and quarantine are no measure of ours)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
import harness  # noqa: E402


def sanitized(bin_path):
    return b"__asan_init" in Path(bin_path).read_bytes()


@pytest.fixture(scope="module")
def demo_db(bin_path, tmp_path_factory):
    return harness.demo_database(bin_path, tmp_path_factory.mktemp("demo"))


def test_load_short(bin_path, demo_db, tmp_path):
    res = harness.run_load(bin_path, tmp_path, seconds=10, connections=16, db_source=demo_db,
                           seed=8)
    problems = res["problems"]
    if sanitized(bin_path):
        problems = [p for p in problems if not p.startswith("peak RSS")]
    assert not problems, "\n".join(problems[:20])
    # the run really exercised what it claims to check
    assert res["reads"] > 0 and res["reports_acknowledged"] > 0, res
    assert res["violations_after"] == res["violations_before"] + res["reports_acknowledged"]
    assert res["status_5xx"] == 0 and res["no_answer"] == 0


def test_verification_catches_a_lost_and_a_duplicated_write(bin_path, demo_db, tmp_path):
    """The checks can fail: a write acknowledged but missing, or a refused one stored,
    is reported."""
    db = harness.demo_database(bin_path, tmp_path, demo_db)
    tokens = harness.write_tokens(tmp_path / "tokens.txt")
    server = harness.Server(bin_path, db, tmp_path, tmp_path / "tokens.txt", threads=2)
    log = harness.WriteLog()
    import random
    w = harness.Writer(server.port, tokens[0][2], "Lcheck", harness.sample_points(db, 50), log,
                       random.Random(1))
    for _ in range(3):
        assert w.post_valid() == 201
    assert w.post_invalid() in (400, 401, 422)
    w.close()
    assert server.stop() == 0
    assert harness.verify_writes(db, log) == []
    # a lost write: acknowledged, then gone from the file
    con = harness.connect(db)
    lost = log.posts[0]["id"]
    con.execute("DELETE FROM violations WHERE id = ?", (lost,))
    con.commit()
    con.close()
    # a refused write that is in the file: the log says refused, the row is there
    log.posts.append({"code": log.posts[1]["code"], "status": 422, "body": log.posts[1]["body"]})
    problems = "\n".join(harness.verify_writes(db, log))
    assert f"(id {lost}) is in the database 0 times" in problems, problems
    assert f"refused report {log.posts[1]['code']} (422) is in the database" in problems, problems
