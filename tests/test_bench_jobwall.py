"""`tabrl bench --job-wall`'s report: a dated table per run, appended to a history that
`tabrl bench` keeps when it rewrites BENCHMARKS.md (the runs themselves are a benchmark,
not a test: `tabrl bench --job-wall`)."""

from __future__ import annotations

from tabrl.bench_jobwall import HISTORY_MARKER, append_history, history_tail, markdown


def record(date: str, second_train: float, second_job: float) -> dict:
    def job(train: float, total: float) -> dict:
        return {"prompt": "p", "wall_seconds": total + 12, "job_seconds": total,
                "stages": {"propose": 3, "start": 14, "critic": 6, "compile": 2, "train": train, "render": total - train - 25,
                           "composite": 0.5}}
    return {"date": date, "model": "Go1JoystickFlatTerrain", "steps": 60_000, "size": "160x120", "seconds": 10,
            "load_start": [0.2], "load_end": [1.9], "warm": {"wall_seconds": 140, "executables_compiled": 3},
            "jobs": {"fresh": job(50, 190), "second": job(second_train, second_job), "after warm": job(50, 95)}}


def test_each_run_adds_a_table_and_tabrl_bench_keeps_the_history(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Ratios\n\nwhat tabrl bench wrote\n")
    append_history(out, markdown(record("2026-12-02 13:00 UTC", 50, 269)))
    append_history(out, markdown(record("2026-12-03 09:00 UTC", 50, 88)))
    text = out.read_text()
    assert text.count(HISTORY_MARKER) == 1 and text.startswith("# Benchmarks")
    before, after = text.index("### 2026-12-02 13:00"), text.index("### 2026-12-03 09:00")
    assert before < after  # oldest first: the file reads as before and after
    assert "| stage (s) | fresh | second | after warm |" in text
    assert "| train | 50.0 | 50.0 | 50.0 |" in text and "| job / process wall | 190 / 202 | 269 / 281 | 95 / 107 |" in text
    assert "| critic | 6.0 | 6.0 | 6.0 |" in text
    assert text[before:after].count("not met; PPO's training is 19% of the second job (21% with the critic's fit)") == 1
    assert "): met; PPO's training is 57% of the second job (64% with the critic's fit)" in text[after:]
    served = record("2026-12-04 09:00 UTC", 50, 80)
    served["served_warm"] = {"wall_seconds": 210}
    served["jobs"].update({"served, first": served["jobs"]["after warm"], "served, second": served["jobs"]["second"]})
    table = markdown(served)
    assert "| stage (s) | fresh | second | after warm | served, first | served, second |" in table
    assert "`tabrl serve` warm (API up, model warm): 210 s" in table
    assert "at least half of the served, second): met; PPO's training is 62% of the served, second job (70%" in table
    kept = history_tail(out)  # what `tabrl bench` writes back after its own report
    assert kept.startswith("## The hero job's wall") and "### 2026-12-02" in kept and "### 2026-12-03" in kept
    assert "what tabrl bench wrote" not in kept
