"""POST /api/face/swap with the learned-model and restoration options: swap_model, output_size, swap_weight
and restore_model reach the swap (its report says which model ran at which size, and what restored the face);
a bad value is 400, a named model that is absent is 503 (stand-ins: tests/swap_models.py, restore_models.py)."""

from __future__ import annotations

from restore_models import install_restorer
from server_app_helpers import b64, bearer, make_settings, running_app
from swap_models import install_swapper, stand_in_arcface
from test_server_app import error_of, run

from playalter.pipelines.swap import inswapper


def swap_options_over_http(tmp_path, t1_path, options: dict, wrongs: list[dict],
                           missing: dict) -> tuple[dict, dict, tuple]:
    """t1.jpg's face 1 swapped onto its face 0 through POST /api/face/swap with ``options`` (must be 200): (the
    answer, the swap's report entry, the error answering ``missing``); each of ``wrongs`` must be 400."""
    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            body = {"source_image_base64": photo, "target_image_base64": photo, "source_face_index": 1,
                    "target_face_index": 0}
            response = await client.post("/api/face/swap", headers=bearer(key), json={**body, **options})
            assert response.status == 200, await response.text()
            answer = await response.json()
            [report] = [entry["data"] for entry in answer["json"] if entry["title"] == "swap report"]
            for wrong in wrongs:
                assert await error_of(await client.post("/api/face/swap", headers=bearer(key),
                                                        json={**body, **wrong})) == (400, "invalid_request")
            refused = await client.post("/api/face/swap", headers=bearer(key), json={**body, **missing})
            return answer, report["images"][0]["swaps"][0], await error_of(refused)

    inswapper._cache.clear()
    try:
        return run(scenario())
    finally:
        inswapper._cache.clear()


def test_the_model_options_reach_the_swap(tmp_path, monkeypatch, t1_path):
    install_swapper(tmp_path / "models", monkeypatch, "inswapper_128")
    stand_in_arcface(monkeypatch)
    answer, swap, missing = swap_options_over_http(
        tmp_path, t1_path, {"swap_model": "inswapper_128", "output_size": 256, "swap_weight": 0.5},
        [{"output_size": 300}, {"swap_weight": 2}, {"swap_model": "simswap_256"}],
        {"swap_model": "hyperswap_1a_256"})
    assert (answer["method"], swap["model"], swap["output_size"], swap["swap_weight"]) == (
        "inswapper", "inswapper_128", 256, 0.5)
    assert missing[0] == 503


def test_swap_restores_with_the_named_model(tmp_path, monkeypatch, t1_path):
    install_swapper(tmp_path / "models", monkeypatch, "inswapper_128")
    install_restorer(tmp_path / "models", monkeypatch, "gpen_bfr_512")
    stand_in_arcface(monkeypatch)
    _, swap, missing = swap_options_over_http(
        tmp_path, t1_path, {"restore_model": "gpen_bfr_512", "restore_strength": 0.5},
        [{"restore_model": "gfpgan"}, {"restore_strength": 1.5}, {"codeformer_fidelity": "a"}],
        {"restore_model": "codeformer"})
    assert swap["restored"] == {"model": "gpen_bfr_512", "strength": 0.5}
    assert missing == (503, "model_missing")
