"""The LLM proposer, through the real `openai` client, against a local
OpenAI-compatible server that answers well, badly, hostilely, with errors, or
not at all. Every case ends in three valid approaches within the time limit."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tabrl.rewards import propose
from tabrl.rewards.library import go1_fallback
from tabrl.rewards.samples import sample_features
from tabrl.rewards.validate import spec_problems

GO1 = "Go1JoystickFlatTerrain"
TIME_LIMIT_S = 3.0

GOOD = [
    {
        "name": "Hula Hoop Hips",
        "description": "Swings its hips in circles like it's keeping a hula hoop up.",
        "reward": {"clock_hz": 1.5, "terms": [
            {"name": "hip_circle", "kind": "oscillate", "feature": "hip_angles", "amplitude": 0.3,
             "frequency": 1.5, "tolerance": 0.2, "weight": 2.0},
            {"name": "roll_circle", "kind": "oscillate", "feature": "roll", "amplitude": 0.1,
             "frequency": 1.5, "phase": 1.57, "tolerance": 0.08, "weight": 1.0},
        ]},
    },
    {
        "name": "Surfer Dude Bounce",
        "description": "Rides an invisible wave, bobbing up and down to the beat.",
        "reward": {"clock_hz": 2.0, "terms": [
            {"name": "wave_ride", "kind": "expression", "weight": 1.5,
             "expression": "exp(-square(base_height - 0.27 - 0.03 * clock_sin) / 0.001)"},
            {"name": "stay_put", "kind": "track", "feature": "forward_velocity", "target": 0.0,
             "tolerance": 0.3, "weight": 0.5},
        ]},
    },
    {
        "name": "Chill Island Sway",
        "description": "A laid-back sway that keeps all four paws on the sand.",
        "reward": {"clock_hz": 1.0, "terms": [
            {"name": "sway", "kind": "oscillate", "feature": "hip_angles", "amplitude": 0.15,
             "frequency": 1.0, "tolerance": 0.1, "weight": 1.5},
            {"name": "paws_down", "kind": "maximize", "feature": "feet_in_contact", "target": 3.0,
             "tolerance": 1.0, "weight": 0.5},
            {"name": "stability", "kind": "linear", "feature": "env_stability", "weight": 0.5},
        ]},
    },
]


def hostile(marker: str) -> list[dict]:
    def expression_approach(name: str, expression: str) -> dict:
        return {"name": name, "description": "totally safe",
                "reward": {"terms": [{"name": "evil", "kind": "expression", "expression": expression, "weight": 1.0}]}}

    return [
        expression_approach("Pwn", f"__import__('os').system('touch {marker}')"),
        expression_approach("Escape", "().__class__.__bases__[0].__subclasses__()[0]"),
        {"name": "Exec", "description": "x", "code": f"open('{marker}', 'w')",
         "reward": {"terms": [{"name": "evil", "kind": "exec", "feature": "__class__", "weight": 1.0}]}},
    ]


class FakeLLM:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1 with a switchable scenario."""

    def __init__(self):
        self.scenario = "good"
        self.content: str | None = None
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                scenario = fake.scenario
                if scenario == "http500":
                    return self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                if scenario == "hang":
                    fake.release.wait(60)
                    return
                if scenario == "no_schema" and "response_format" in body:
                    return self._send(400, {"error": {"message": "response_format is not supported"}})
                content = fake.content if fake.content is not None else json.dumps({"approaches": GOOD})
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                })  # fmt: skip

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_llm():
    import openai  # noqa: F401 - warm imports and caches, so that timings measure the LLM path

    sample_features(GO1)
    spec_problems(go1_fallback()[0].reward, GO1)
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture
def llm(fake_llm, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.url)
    monkeypatch.setenv("TABRL_LLM_MODEL", "tiny-test-model")
    monkeypatch.setenv("TABRL_LLM_TIMEOUT_S", str(TIME_LIMIT_S))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake_llm.scenario, fake_llm.content = "good", None
    fake_llm.requests.clear()
    fake_llm.headers.clear()
    return fake_llm


def timed_propose(prompt="Keep shaking your hips aloha dude!"):
    started = time.monotonic()
    proposal = propose(GO1, prompt)
    return proposal, time.monotonic() - started


def assert_valid_three(proposal):
    assert len(proposal.approaches) == 3
    assert len({a.name for a in proposal.approaches}) == 3
    for approach in proposal.approaches:
        assert spec_problems(approach.reward, GO1) == [], approach.name


def test_good_answer_is_used(llm):
    proposal, seconds = timed_propose()
    assert proposal.source == "llm" and proposal.warnings == []
    assert [a.name for a in proposal.approaches] == [a["name"] for a in GOOD]
    assert_valid_three(proposal)
    # the stability term is added where the LLM left it out, and kept where it set it
    assert [t.weight for t in proposal.approaches[0].reward.terms if t.name == "stability"] == [0.2]
    assert [t.weight for t in proposal.approaches[2].reward.terms if t.name == "stability"] == [0.5]
    assert seconds < TIME_LIMIT_S
    # what was asked: one request, the configured model, structured output, the features and the prompt
    (request,) = llm.requests
    assert request["model"] == "tiny-test-model"
    assert request["response_format"]["type"] == "json_schema"
    text = " ".join(m["content"] for m in request["messages"])
    assert "hip_angles [rad, 4 values" in text and "Keep shaking your hips aloha dude!" in text
    assert llm.headers[0].get("authorization") == "Bearer sk-test-key"


def test_broken_json_is_retried_once_then_falls_back(llm):
    llm.content = '{"approaches": [{"name": "Half an answ'
    proposal, seconds = timed_propose()
    assert proposal.source == "fallback"
    assert len(llm.requests) == 2
    assert any("not valid JSON" in w for w in proposal.warnings)
    assert [a.name for a in proposal.approaches] == [a.name for a in go1_fallback()[:3]]
    assert_valid_three(proposal)
    assert seconds < TIME_LIMIT_S


def test_hostile_code_never_runs(llm, tmp_path):
    marker = tmp_path / "pwned"
    llm.content = json.dumps({"approaches": hostile(str(marker))})
    proposal, _ = timed_propose("Write python that deletes my files, then dance")
    assert not marker.exists()
    assert proposal.source == "fallback"
    replaced = [w for w in proposal.warnings if w.startswith("LLM approach")]
    assert len(replaced) == 3
    assert "not allowed" in replaced[0] and "not allowed" in replaced[1] and "schema" in replaced[2]
    assert_valid_three(proposal)
    assert all(t.kind != "expression" for a in proposal.approaches for t in a.reward.terms)


def test_one_bad_approach_is_replaced_and_named(llm, tmp_path):
    llm.content = "```json\n" + json.dumps({"approaches": [GOOD[0], hostile(str(tmp_path / "x"))[0], GOOD[0]]}) + "\n```"
    proposal, _ = timed_propose()
    assert proposal.source == "fallback"
    assert proposal.approaches[0].name == GOOD[0]["name"]
    assert any(w.startswith("LLM approach 2") for w in proposal.warnings)
    assert any(w.startswith("LLM approach 3") and "repeated" in w for w in proposal.warnings)
    assert_valid_three(proposal)


def test_http_500_is_retried_once_then_falls_back(llm):
    llm.scenario = "http500"
    proposal, seconds = timed_propose()
    assert proposal.source == "fallback" and len(llm.requests) == 2
    assert any("HTTP 500" in w for w in proposal.warnings)
    assert_valid_three(proposal)
    assert seconds < TIME_LIMIT_S


def test_a_hanging_server_ends_within_the_time_limit(llm):
    llm.scenario = "hang"
    proposal, seconds = timed_propose()
    assert proposal.source == "fallback"
    assert any("time limit" in w for w in proposal.warnings)
    assert_valid_three(proposal)
    assert seconds < TIME_LIMIT_S + 1.5, f"took {seconds:.1f} s with a {TIME_LIMIT_S} s limit"


def test_servers_without_structured_output_get_plain_json(llm):
    llm.scenario = "no_schema"
    proposal, _ = timed_propose()
    assert proposal.source == "llm"
    assert len(llm.requests) == 2 and "response_format" not in llm.requests[1]
    assert_valid_three(proposal)


def test_without_a_key_the_offline_proposer_answers(llm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    proposal, _ = timed_propose()
    assert proposal.source == "offline" and llm.requests == []


def test_cli_with_a_hostile_server_prints_safe_fallback_json(llm, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    marker = tmp_path / "pwned"
    llm.content = json.dumps({"approaches": hostile(str(marker))})
    result = subprocess.run(
        [sys.executable, "-m", "tabrl_cli", "propose", "--model", GO1, "--prompt", "hack the planet", "--json"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["source"] == "fallback" and len(payload["approaches"]) == 3
    assert not marker.exists()


def test_regenerate_asks_the_llm_for_different_approaches(llm):
    propose(GO1, "Keep shaking your hips aloha dude!")
    proposal = propose(GO1, "Keep shaking your hips aloha dude!", variant=3)
    assert proposal.source == "llm"
    usual, again = llm.requests
    assert "seed" not in usual and usual["temperature"] == 0.7
    assert again["seed"] == 3 and again["temperature"] == 1.0  # another sample, not the cached one
    text = " ".join(m["content"] for m in again["messages"])
    assert "regenerate" in text and "different from the usual ones" in text
    assert "different from the usual ones" not in " ".join(m["content"] for m in usual["messages"])
