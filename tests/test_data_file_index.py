"""The cached file index of an image folder: walked once, reused while the folder is unchanged,
rebuilt when its entries change or on request (``data.rescan``)."""

from __future__ import annotations

import pytest

from saip.data import PersonImageFolder
from saip.data.file_index import index_path
from tests.pretrain_helpers import write_images


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAIP_CACHE", str(tmp_path / "cache"))


def test_second_open_reads_the_index_instead_of_walking(tmp_path, monkeypatch):
    folder = write_images(tmp_path / "images", count=5)
    first = PersonImageFolder(folder)
    assert index_path(folder, first.extensions).is_file()

    def no_walk(root):
        raise AssertionError("walked the folder again")

    monkeypatch.setattr(PersonImageFolder, "_scan", lambda self, root: no_walk(root))
    assert PersonImageFolder(folder).paths == first.paths


def test_index_is_rebuilt_when_entries_change_or_on_rescan(tmp_path, monkeypatch):
    folder = write_images(tmp_path / "images", count=5)
    assert len(PersonImageFolder(folder)) == 5
    (folder / "extra.png").write_bytes((folder / "img000.png").read_bytes())
    assert len(PersonImageFolder(folder)) == 6  # a new top-level entry invalidates the index
    (folder / "sub").mkdir()
    walks = []
    original = PersonImageFolder._scan
    monkeypatch.setattr(
        PersonImageFolder, "_scan", lambda self, root: walks.append(root) or original(self, root)
    )
    PersonImageFolder(folder)  # "sub" is a new entry: walked once more
    (folder / "sub" / "deep.png").write_bytes((folder / "img000.png").read_bytes())
    assert len(PersonImageFolder(folder)) == 6 and len(walks) == 1  # a deep change is not seen...
    assert len(PersonImageFolder(folder, rescan=True)) == 7 and len(walks) == 2  # ...until rescan
