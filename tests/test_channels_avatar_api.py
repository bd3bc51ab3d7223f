"""The avatar studio's HTTP and websocket routes, over a real service (art backend)."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine

from avatar import AvatarBase, AvatarConfig, AvatarService, testing
from avatar.labels import read_label
from channels.avatar_api import build_avatar_router

pytestmark = pytest.mark.slow

BASE = "/api/creators/ana/avatar"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("avatar-api")
    engine = create_engine(f"sqlite:///{folder / 'db.sqlite'}")
    AvatarBase.metadata.create_all(engine)
    service = AvatarService(AvatarConfig(data_dir=folder, max_outputs=4), engine)
    yield service
    service.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def client(service):
    app = FastAPI()
    app.include_router(build_avatar_router(service))
    with TestClient(app) as client:
        yield client


def multipart(uploads) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (u.filename, u.data, "image/jpeg")) for u in uploads]


@pytest.fixture(scope="module")
def finished_job(client, service):
    """One job made through the API, with its websocket progress recorded."""
    response = client.post(
        f"{BASE}/jobs",
        files=multipart(testing.selfie_uploads(3)),
        data={"styles": ["duotone", "pencil-sketch"]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    job_id = body["job"]["id"]
    worker = threading.Thread(target=service.run_pending)
    events = []
    with client.websocket_connect(f"{BASE}/ws/jobs/{job_id}") as websocket:
        worker.start()
        while True:
            event = websocket.receive_json()
            events.append(event)
            if event.get("final") or event["type"] == "error":
                break
    worker.join()
    return body, events


def test_catalog_lists_styles_with_previews_and_rules(client) -> None:
    catalog = client.get(f"{BASE}/styles").json()
    assert catalog["backend"] == "art" and catalog["available"] is True
    assert (catalog["min_styles"], catalog["max_styles"]) == (2, 5)
    assert (catalog["min_photos"], catalog["max_photos"]) == (3, 10)
    assert catalog["upload_ttl_s"] == 300 and catalog["output_retention_s"] == 7 * 24 * 3600
    assert len(catalog["styles"]) == 10
    preview = client.get(catalog["styles"][0]["preview_url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert read_label(preview.content).ai_generated
    assert client.get(f"{BASE}/styles/nope/preview").status_code == 400


def test_job_is_created_with_verdicts_and_reports_progress(finished_job, client) -> None:
    body, events = finished_job
    assert body["job"]["state"] == "queued"
    assert [v["accepted"] for v in body["verdicts"]] == [True, True, True]
    assert body["verdicts"][0]["metrics"]["faces"] == 1
    assert all(e["type"] == "progress" for e in events)
    percents = [e["job"]["percent"] for e in events]
    assert percents == sorted(percents)
    final = events[-1]["job"]
    assert events[-1]["final"] and final["state"] == "done"
    assert final["percent"] == 100 and final["images_done"] == 4
    job = client.get(f"{BASE}/jobs/{final['id']}").json()
    assert job["uploads_deleted"] is True and job["outputs_expire_at"] is not None
    # The job's report (shown in the console): likeness and diversity of its avatars.
    report = job["report"]
    assert report["avatars"] == 4 and report["composition"] == "scene"
    assert 0.363 <= report["likeness_min"] <= report["likeness_median"] <= 1.0
    assert report["diversity_median"] > 0


def test_outputs_download_zip_choose_and_profile_picture(finished_job, client) -> None:
    job_id = finished_job[0]["job"]["id"]
    outputs = client.get(f"{BASE}/jobs/{job_id}/outputs").json()
    assert [o["rank"] for o in outputs] == [1, 2, 3, 4]

    one = client.get(outputs[0]["url"], params={"download": True})
    assert one.status_code == 200 and one.headers["content-type"] == "image/jpeg"
    assert "attachment" in one.headers["content-disposition"]
    assert read_label(one.content).kind == "c2pa+xmp"

    several = client.get(
        f"{BASE}/jobs/{job_id}/zip", params=[("ids", outputs[0]["id"]), ("ids", outputs[1]["id"])]
    )
    assert several.headers["content-type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(several.content)).namelist()) == 2
    everything = client.get(f"{BASE}/jobs/{job_id}/zip")
    assert len(zipfile.ZipFile(io.BytesIO(everything.content)).namelist()) == 4

    chosen = client.post(
        f"{BASE}/jobs/{job_id}/choose", json={"output_ids": [outputs[1]["id"]]}
    ).json()
    assert [o["chosen"] for o in chosen if o["id"] == outputs[1]["id"]] == [True]
    assert all(o["expires_at"] is None for o in chosen if o["chosen"])

    assert client.get(f"{BASE}/profile-picture").status_code == 404
    put = client.put(f"{BASE}/profile-picture", json={"output_id": outputs[2]["id"]})
    assert put.status_code == 200, put.text
    picture = client.get(f"{BASE}/profile-picture")
    assert picture.content == client.get(outputs[2]["url"]).content
    assert Image.open(io.BytesIO(picture.content)).size == (512, 512)


def test_refusals_have_reasons_and_status_codes(finished_job, client) -> None:
    from skimage import data

    job_id = finished_job[0]["job"]["id"]
    # The day's job is used: 429 with a Retry-After.
    limited = client.post(
        f"{BASE}/jobs", files=multipart(testing.selfie_uploads(3)), data={"styles": "duotone,comic"}
    )
    assert limited.status_code == 429 and "a day" in limited.json()["detail"]
    assert int(limited.headers["retry-after"]) > 0

    # Another creator: too few photos pass -> 422 with each photo's reason; nothing starts.
    coffee = testing.encode(Image.fromarray(data.coffee()), "JPEG")
    files = multipart(testing.selfie_uploads(2)) + [("files", ("coffee.jpg", coffee, "image/jpeg"))]
    refused = client.post(
        "/api/creators/bob/avatar/jobs", files=files, data={"styles": "duotone,comic"}
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["job"] is None and "at least 3" in body["message"]
    assert body["verdicts"][2]["reasons"][0]["code"] == "no_face"

    too_few = client.post(
        "/api/creators/bob/avatar/jobs",
        files=multipart(testing.selfie_uploads(2)),
        data={"styles": "duotone,comic"},
    )
    assert too_few.status_code == 400 and "3 to 10 photos" in too_few.json()["detail"]

    checks = client.post("/api/creators/bob/avatar/checks", files=files)
    assert checks.status_code == 200 and checks.json()["job"] is None

    # Jobs are private to their creator.
    assert client.get(f"/api/creators/bob/avatar/jobs/{job_id}").status_code == 404
    with client.websocket_connect(f"/api/creators/bob/avatar/ws/jobs/{job_id}") as websocket:
        assert websocket.receive_json()["type"] == "error"


def test_cancel_finished_job_is_a_no_op_and_delete_removes_it(finished_job, client) -> None:
    job_id = finished_job[0]["job"]["id"]
    assert client.post(f"{BASE}/jobs/{job_id}/cancel").json()["state"] == "done"
    assert client.get(f"{BASE}/quota").json()["used"] == 1
    assert client.delete(f"{BASE}/jobs/{job_id}").status_code == 204
    assert client.get(f"{BASE}/jobs/{job_id}").status_code == 404
    # The profile picture is a copy: it outlives the job.
    assert client.get(f"{BASE}/profile-picture").status_code == 200
