"""POST /api/face/swap with the learned-model options: swap_model, output_size and swap_weight reach the swap
(its report says which model ran at which size); a bad value is 400, a named model that is absent is 503."""

from __future__ import annotations

from server_app_helpers import b64, bearer, make_settings, running_app
from swap_models import install_swapper, stand_in_arcface
from test_server_app import error_of, run

from playalter.pipelines.swap import inswapper


def test_the_model_options_reach_the_swap(tmp_path, monkeypatch, t1_path):
    install_swapper(tmp_path / "models", monkeypatch, "inswapper_128")
    stand_in_arcface(monkeypatch)
    inswapper._cache.clear()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            body = {"source_image_base64": photo, "target_image_base64": photo, "source_face_index": 1,
                    "target_face_index": 0}
            response = await client.post("/api/face/swap", headers=bearer(key), json={
                **body, "swap_model": "inswapper_128", "output_size": 256, "swap_weight": 0.5})
            assert response.status == 200, await response.text()
            answer = await response.json()
            [report] = [entry["data"] for entry in answer["json"] if entry["title"] == "swap report"]
            swap = report["images"][0]["swaps"][0]
            assert (answer["method"], swap["model"], swap["output_size"], swap["swap_weight"]) == (
                "inswapper", "inswapper_128", 256, 0.5)
            for wrong in ({"output_size": 300}, {"swap_weight": 2}, {"swap_model": "simswap_256"}):
                assert await error_of(await client.post("/api/face/swap", headers=bearer(key),
                                                        json={**body, **wrong})) == (400, "invalid_request")
            missing = await client.post("/api/face/swap", headers=bearer(key),
                                        json={**body, "swap_model": "hyperswap_1a_256"})
            assert (await error_of(missing))[0] == 503

    try:
        run(scenario())
    finally:
        inswapper._cache.clear()
