"""POST /api/face/swap with restore_model: the swapped face is restored (the report says with what), a bad
value is 400 and a restorer that is not installed is 503 (stand-ins: tests/swap_models.py, restore_models.py)."""

from __future__ import annotations

from restore_models import install_restorer
from server_app_helpers import b64, bearer, make_settings, running_app
from swap_models import install_swapper, stand_in_arcface
from test_server_app import error_of, run

from playalter.pipelines.swap import inswapper


def test_swap_restores_with_the_named_model(tmp_path, monkeypatch, t1_path):
    install_swapper(tmp_path / "models", monkeypatch, "inswapper_128")
    install_restorer(tmp_path / "models", monkeypatch, "gpen_bfr_512")
    stand_in_arcface(monkeypatch)
    inswapper._cache.clear()

    async def scenario():
        async with running_app(make_settings(tmp_path)) as (client, app, key):
            photo = b64(t1_path.read_bytes())
            body = {"source_image_base64": photo, "target_image_base64": photo, "source_face_index": 1,
                    "target_face_index": 0}
            response = await client.post("/api/face/swap", headers=bearer(key), json={
                **body, "restore_model": "gpen_bfr_512", "restore_strength": 0.5})
            assert response.status == 200, await response.text()
            answer = await response.json()
            [report] = [entry["data"] for entry in answer["json"] if entry["title"] == "swap report"]
            assert report["images"][0]["swaps"][0]["restored"] == {"model": "gpen_bfr_512", "strength": 0.5}
            for wrong in ({"restore_model": "gfpgan"}, {"restore_strength": 1.5}, {"codeformer_fidelity": "a"}):
                assert await error_of(await client.post("/api/face/swap", headers=bearer(key),
                                                        json={**body, **wrong})) == (400, "invalid_request")
            missing = await client.post("/api/face/swap", headers=bearer(key),
                                        json={**body, "restore_model": "codeformer"})
            assert await error_of(missing) == (503, "model_missing")

    try:
        run(scenario())
    finally:
        inswapper._cache.clear()
