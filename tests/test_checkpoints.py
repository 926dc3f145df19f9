"""Training checkpoints through a full disk (issue 19): every checkpoint, best model and history write goes
through atomic_write, so a write that fails at byte N leaves the last good files whole and loadable, says
how much space it needs, and the rerun resumes from the last finished epoch. The full disk is a writer that
stops with ENOSPC after N bytes (no root, no small file system needed)."""
import errno
import hashlib
import json
import subprocess
import sys

import pytest

from fer_utils.backend import keras
from fer_utils.data import SAMPLE_PATH, load_fer2013
from fer_utils.files import DiskFullError, atomic_write, remove_stale_temp_files
from fer_utils.models import build_vgg_bn
from fer_utils.training import read_history, train


def tiny_net():
    return build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1))


def fails_at_byte(save, n_bytes, on_call):
    """`save(path)` that, on its `on_call`-th call, writes the file, keeps its first `n_bytes` (a torn write)
    and fails with ENOSPC, as a full disk does; other calls save normally."""
    calls = {"n": 0}

    def wrapper(self, path, *args, **kwargs):
        calls["n"] += 1
        save(self, path, *args, **kwargs)
        if calls["n"] == on_call:
            with open(path, "r+b") as f:
                f.truncate(n_bytes)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return wrapper


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_files(run_dir):
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))


@pytest.mark.parametrize("what", ["save_weights", "save"])  # backup/latest.weights.h5; best.keras
def test_a_full_disk_leaves_the_last_checkpoint_loadable_and_the_rerun_resumes(tmp_path, monkeypatch, what):
    data = load_fer2013(SAMPLE_PATH)
    kwargs = dict(train_split=data["Training"], val_split=data["PublicTest"], run_dir=tmp_path, epochs=3,
                  batch_size=64, verbose=0, peak_lr=1e-2)
    saved = {}

    class Snapshot(keras.callbacks.Callback):  # the files as they were after epoch 0 (after its checkpoint)
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                saved.update({p: sha256(tmp_path / p) for p in ("best.keras", "backup/latest.weights.h5")})

    real = getattr(keras.Model, what)
    # the backup fails at epoch 1 (its 2nd write); best.keras at its 2nd write, which comes with the first better epoch
    monkeypatch.setattr(keras.Model, what, fails_at_byte(real, 1000, on_call=2))
    with pytest.raises(DiskFullError) as e:
        train(tiny_net, callbacks=[Snapshot()], epochs=30 if what == "save" else 3,
              **{k: v for k, v in kwargs.items() if k != "epochs"})
    message = str(e.value)
    name = "latest.weights.h5" if what == "save_weights" else "best.keras"
    assert message.startswith("the disk is full: ") and f"{name} could not be written" in message, message
    assert "it needs about" in message and f"{name} was left as it was" in message and e.value.needed_bytes > 1000
    assert not [f for f in run_files(tmp_path) if ".tmp" in f], run_files(tmp_path)  # no torn temporary file
    keras.models.load_model(tmp_path / "best.keras", compile=False)  # whole and loadable
    if what == "save":  # its failed write left the last good one as it was (epoch 0's: nothing rewrote it since)
        assert sha256(tmp_path / "best.keras") == saved["best.keras"]
    finished = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"]
    assert finished >= 1
    if what == "save_weights":
        assert finished == 1 and sha256(tmp_path / "backup" / "latest.weights.h5") == saved["backup/latest.weights.h5"]

    monkeypatch.setattr(keras.Model, what, real)  # space freed: the same call resumes
    kwargs["epochs"] = finished + 2
    model = train(tiny_net, **kwargs)
    assert read_history(tmp_path / "history.csv")["epoch"] == list(range(finished + 2))  # each epoch once
    assert model.output_shape == (None, 7) and not (tmp_path / "backup").exists()


def test_a_damaged_backup_and_dead_processes_temporary_files(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "latest.weights.h5").write_bytes(b"torn by an old writer")
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".best.{dead.stdout.strip()}-0123abcd.tmp.keras"  # left by a kill -9
    stale.write_bytes(b"half a model")
    data = load_fer2013(SAMPLE_PATH)
    with pytest.raises(ValueError, match=r"(?s)backup .*latest.weights.h5 could not be loaded .*delete .*backup to restart"):
        train(tiny_net, data["Training"], data["PublicTest"], tmp_path, epochs=3, batch_size=64, verbose=0)
    assert not stale.exists() and not (tmp_path / ".lock").exists()


def test_disk_full_message_and_stale_temp_files(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"x" * 3_000_000)

    def full_after(n):
        def write(tmp):
            tmp.write_bytes(b"y" * n)
            raise OSError(errno.ENOSPC, "No space left on device")
        return write
    with pytest.raises(DiskFullError, match=r"MB free, it needs about 3\.0 MB; model.keras was left as it was"):
        atomic_write(target, full_after(1000))
    with pytest.raises(DiskFullError, match=r"it needs about 5\.0 MB; no new.keras was written"):
        atomic_write(tmp_path / "new.keras", full_after(5_000_000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"] and target.read_bytes() == b"x" * 3_000_000
    mine = tmp_path / f".model.{__import__('os').getpid()}-0123abcd.tmp.keras"  # a running process's: kept
    mine.write_bytes(b"")
    assert remove_stale_temp_files(tmp_path) == [] and mine.exists()
