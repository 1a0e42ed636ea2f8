"""`dmask batch`: a tree of real clips and photos, killed and resumed, audited, verified, and run on a local Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dmask.batch.audit import Audit
from dmask.batch.plan import AUDIT_NAME
from dmask.config import load_config
from dmask.capture.media import sha256_file
from dmask.provenance import provenance_key, seal_problem
from support import assert_error, damaged_copy, dmask, dmask_command, dmask_env

pytestmark = pytest.mark.slow  # a Dask cluster: `pytest -m "not slow"` leaves it out

CLIPS = ("lp_driving_d1.mp4", "lp_driving_d2.mp4")  # 16 frames each


@pytest.fixture
def tree(shared_data, tmp_path) -> Path:
    """SRC: two clips in nested folders, a photo, and a truncated video."""
    src = tmp_path / "src"
    (src / "clinic_a" / "2024").mkdir(parents=True)
    (src / "clinic_b").mkdir()
    shutil.copy(shared_data / "videos" / CLIPS[0], src / "clinic_a" / "2024" / "visit1.mp4")
    shutil.copy(shared_data / "videos" / CLIPS[1], src / "clinic_b" / "visit2.mov")
    photo = next((shared_data / "identities").glob("*/*.jpg"))
    shutil.copy(photo, src / "clinic_b" / "portrait.jpg")
    (src / "clinic_a" / "broken.mp4").write_bytes((shared_data / "videos" / CLIPS[0]).read_bytes()[:3000])
    return src


def entries(dst: Path) -> list[dict]:
    return [json.loads(line) for line in (dst / AUDIT_NAME).read_text().splitlines()]


def nine_good_files(tree: Path) -> None:
    """The tree without its broken video, and six more copies of a clip: nine files, so a kill lands among them."""
    (tree / "clinic_a/broken.mp4").unlink()
    for number in range(3, 9):
        shutil.copy(tree / "clinic_a/2024/visit1.mp4", tree / "clinic_b" / f"visit{number}.mp4")


def test_a_tree_is_masked_in_its_layout_with_an_audit_and_the_broken_file_recorded(tree, tmp_path):
    dst = tmp_path / "dst"
    result = dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress", "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "dmask: clinic_a/broken.mp4: failed: clinic_a/broken.mp4: no frames could be decoded; "
        "check the file is a complete video",
        f"dmask: error: 1 of the files failed; their reasons are in {Path('dst') / AUDIT_NAME}"]
    assert result.stdout.startswith("batch: 3 files masked, 0 skipped (done before), 1 failed; 33 frames, 0 failed closed")
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == [
        "clinic_a/2024/visit1.mp4", "clinic_b/portrait.jpg", "clinic_b/visit2.mp4", AUDIT_NAME]
    audit = {entry["source"]: entry for entry in entries(dst)}
    assert set(audit) == {"clinic_a/2024/visit1.mp4", "clinic_b/visit2.mov", "clinic_b/portrait.jpg", "clinic_a/broken.mp4"}
    visit = audit["clinic_a/2024/visit1.mp4"]
    assert visit["status"] == "done" and visit["output"] == "clinic_a/2024/visit1.mp4" and visit["codec"] == "h264"
    assert visit["source_sha256"] == sha256_file(tree / "clinic_a/2024/visit1.mp4")
    assert visit["output_sha256"] == sha256_file(dst / "clinic_a/2024/visit1.mp4")
    assert seal_problem(dst / "clinic_a/2024/visit1.mp4", provenance_key(load_config(None), create=False)) is None
    assert (visit["frames"], visit["faces"], visit["failed_closed"], visit["no_face"]) == (16, 16, 0, 0)
    assert visit["dmask_version"] and visit["commit"] and len(visit["config_sha256"]) == 64
    assert visit["started"] < visit["ended"]
    assert audit["clinic_a/broken.mp4"]["status"] == "failed"
    assert str(tmp_path) not in (dst / AUDIT_NAME).read_text()  # relative paths only, in reasons too


def test_a_damaged_video_is_written_short_and_audited_as_short_not_done(shared_data, tmp_path):
    """What decodes is masked and kept; the audit and the exit status say the input was damaged (issue 25)."""
    (tmp_path / "src").mkdir()
    damaged_copy(shared_data / "videos" / CLIPS[0], tmp_path / "src" / "damaged.mp4", 3000)
    result = dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress", "--workers", "1")
    assert result.returncode == 2
    short, error = result.stderr.splitlines()
    assert short.startswith("dmask: damaged.mp4: short: damaged.mp4: decoded ") and "of the 16 frames" in short
    assert error == f"dmask: error: 1 came from damaged input and were written short; their reasons are in {Path('dst') / AUDIT_NAME}"
    (entry,) = entries(tmp_path / "dst")
    assert entry["status"] == "short" and 0 < entry["frames"] < 16 and entry["reason"] in short
    assert entry["output_sha256"] == sha256_file(tmp_path / "dst" / "damaged.mp4")
    assert dmask(tmp_path, "batch", "-o", "dst", "--verify").returncode == 0


def test_a_run_killed_halfway_is_finished_by_the_rerun_without_remasking(tree, tmp_path):
    nine_good_files(tree)
    dst = tmp_path / "dst"
    process = subprocess.Popen(dmask_command("batch", "src", "-o", "dst", "--no-progress", "--workers", "1"),
                               cwd=tmp_path, env=dmask_env(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ((dst / AUDIT_NAME).is_file() and len(entries(dst)) >= 3):
            assert process.poll() is None and time.monotonic() < deadline, "the batch ended or stalled before the kill"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the batch and its worker, mid-file
        process.wait()
    before = {entry["source"] for entry in entries(dst)}
    assert 3 <= len(before) < 9
    result = dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"{9 - len(before)} files masked, {len(before)} skipped (done before), 0 failed" in result.stdout
    final = entries(dst)
    assert sorted(entry["source"] for entry in final) == sorted(
        p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())  # one entry per file
    assert all(entry["status"] == "done" for entry in final)
    assert [p for p in dst.rglob(".*")] == []  # the killed worker's partial output is gone
    outputs = [p for p in dst.rglob("*") if p.is_file() and p.name != AUDIT_NAME]
    assert len(outputs) == 9
    assert dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress").stdout.startswith(
        "batch: 0 files masked, 9 skipped (done before), 0 failed")


def test_a_second_run_on_the_same_output_stops_in_one_line_and_touches_nothing(tree, tmp_path):
    """Run B deleted run A's in-flight output: it judged A's worker dead by its command line (issue 26)."""
    from dmask.batch.lock import output_lock

    dst = tmp_path / "dst"
    (dst / "clinic_a").mkdir(parents=True)
    in_flight = dst / "clinic_a" / f".visit1.partial-{os.getpid()}.mp4"  # a worker of run A, mid-file
    in_flight.write_bytes(b"half a video")
    with output_lock(dst):  # run A
        result = dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress")
    assert_error(result, f"{Path('dst')}: another dmask batch is writing into it; wait for it to finish, or give another DST_DIR")
    assert in_flight.read_bytes() == b"half a video"
    assert [p.name for p in dst.rglob("*") if p.is_file() and p != in_flight] == [AUDIT_NAME]


def test_links_out_of_the_source_folder_are_refused_in_one_line_each_and_audited(tree, tmp_path):
    """A link to a file outside SRC_DIR, and a manifest line through a linked folder, were both masked (issue 26)."""
    (tree / "clinic_a/broken.mp4").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tree / "clinic_b/portrait.jpg", elsewhere / "private.jpg")
    (tree / "clinic_b" / "linked.jpg").symlink_to(elsewhere / "private.jpg")
    (tree / "shared").symlink_to(elsewhere, target_is_directory=True)
    result = dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress")
    assert result.returncode == 2
    refusal = "refused: a link that leads outside SRC_DIR; copy the file into it to mask it"
    assert [line for line in result.stderr.splitlines() if "refused" in line] == [f"dmask: clinic_b/linked.jpg: {refusal}"]
    assert {(e["source"], e["status"]) for e in entries(tmp_path / "dst")} == {
        ("clinic_a/2024/visit1.mp4", "done"), ("clinic_b/visit2.mov", "done"), ("clinic_b/portrait.jpg", "done"),
        ("clinic_b/linked.jpg", "refused")}
    assert not (tmp_path / "dst/clinic_b/linked.jpg").exists()
    (tmp_path / "list.txt").write_text("shared/private.jpg\nclinic_b/portrait.jpg\n")
    listed = dmask(tmp_path, "batch", "src", "-o", "dst2", "--manifest", "list.txt", "--no-progress")
    assert listed.returncode == 2 and f"dmask: shared/private.jpg: {refusal}" in listed.stderr.splitlines()
    assert not (tmp_path / "dst2/shared").exists()


def test_verify_catches_an_output_changed_after_the_run(tree, tmp_path):
    (tree / "clinic_a/broken.mp4").unlink()
    assert dmask(tmp_path, "batch", "src", "-o", "dst", "--no-progress").returncode == 0
    result = dmask(tmp_path, "batch", "-o", "dst", "--verify")
    assert result.returncode == 0 and result.stdout == "dst: every output matches its audit entry\n"
    with (tmp_path / "dst/clinic_b/visit2.mp4").open("ab") as file:
        file.write(b"\0")
    assert_error(dmask(tmp_path, "batch", "-o", "dst", "--verify"),
                 f"{Path('dst/clinic_b/visit2.mp4')}: changed after the run (its sha256 no longer matches the audit)")


def test_a_local_dask_cluster_writes_the_same_bytes_as_the_local_pool(tree, tmp_path, config):
    distributed = pytest.importorskip("dask.distributed", reason="the batch extra (dask[distributed]) is not installed")
    from dmask.batch.runner import run_batch

    (tree / "clinic_a/broken.mp4").unlink()
    local = run_batch(tree, tmp_path / "local", config, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_batch(tree, tmp_path / "dask", config, scheduler=cluster.scheduler_address, progress=False)
        returned = run_batch(tree, tmp_path / "returned", config, scheduler=cluster.scheduler_address,
                             progress=False, send_back=True)  # outputs sent back, written by this process
    assert [(run.done, run.frames) for run in (local, remote, returned)] == [(3, 33)] * 3
    hashes = [{entry.output: entry.output_sha256 for entry in Audit(tmp_path / name / AUDIT_NAME).entries()}
              for name in ("local", "dask", "returned")]
    assert hashes[0] == hashes[1] == hashes[2] and len(hashes[0]) == 3
    for output in hashes[0]:
        expected = (tmp_path / "local" / output).read_bytes()
        assert (tmp_path / "dask" / output).read_bytes() == expected == (tmp_path / "returned" / output).read_bytes()


def test_a_worker_killed_mid_file_costs_only_a_retry(tree, tmp_path):
    psutil = pytest.importorskip("psutil", reason="psutil (the batch extra's) is not installed")
    nine_good_files(tree)
    dst = tmp_path / "dst"
    process = subprocess.Popen(dmask_command("batch", "src", "-o", "dst", "--no-progress", "--workers", "2"),
                               cwd=tmp_path, env=dmask_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def workers() -> list:
            return [child for child in psutil.Process(process.pid).children()
                    if "spawn_main" in " ".join(child.cmdline())]

        deadline = time.monotonic() + 120
        while not ((dst / AUDIT_NAME).is_file() and entries(dst)):  # workers are busy with the next files
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.02)
        victims = workers()
        assert victims, "no worker processes found"
        victims[0].kill()
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert stdout.startswith("batch: 9 files masked, 0 skipped (done before), 0 failed"), stdout
    assert sorted(entry["source"] for entry in entries(dst)) == sorted(
        p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert [p for p in dst.rglob(".*")] == []


def test_a_dask_worker_killed_mid_file_costs_only_that_file(tree, tmp_path, config):
    distributed = pytest.importorskip("dask.distributed", reason="the batch extra (dask[distributed]) is not installed")
    import threading

    from dmask.batch.runner import run_batch

    nine_good_files(tree)
    dst, result = tmp_path / "dst", {}
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        batch = threading.Thread(target=lambda: result.update(summary=run_batch(
            tree, dst, config, scheduler=cluster.scheduler_address, progress=False)))
        batch.start()
        deadline = time.monotonic() + 120
        while not ((dst / AUDIT_NAME).is_file() and entries(dst)):  # both workers are busy with the next files
            assert batch.is_alive() and time.monotonic() < deadline, "the batch ended or stalled before the kill"
            time.sleep(0.02)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)  # its nanny starts a new one
        batch.join(300)
        assert victim not in client.run(os.getpid).values()
    summary = result["summary"]
    assert (summary.done, summary.failed) == (9, 0)
    assert [p for p in dst.rglob(".*")] == []  # the killed worker's partial output is gone
    assert sorted(entry["source"] for entry in entries(dst)) == sorted(
        p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
