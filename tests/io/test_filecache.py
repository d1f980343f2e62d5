"""Values kept while their files are unchanged: a replaced file is a new key, the least recently used
entry goes first, and the extra key keeps apart what was derived differently from one file."""

from __future__ import annotations

import os

from swx.io.filecache import FileCache, file_identity


def test_a_replaced_file_is_loaded_again_and_the_oldest_entry_goes_first(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1")
    b.write_text("2")
    loads = []
    cache: FileCache[str] = FileCache(size=1)

    def read(p):
        loads.append(p.name)
        return p.read_text()

    assert cache.get([a], lambda: read(a)) == "1" and cache.get([a], lambda: read(a)) == "1"
    assert loads == ["a.txt"]
    assert cache.get([a], lambda: read(a), extra="other") == "1" and loads == ["a.txt", "a.txt"]
    new = tmp_path / "a.new"
    new.write_text("10")
    os.replace(new, a)  # how swx replaces a file: atomically, a new inode
    assert cache.get([a], lambda: read(a), extra="other") == "10"
    cache.get([b], lambda: read(b))  # size 1: a's entry is evicted
    cache.get([a], lambda: read(a), extra="other")
    assert loads == ["a.txt", "a.txt", "a.txt", "b.txt", "a.txt"]
    assert file_identity(tmp_path / "missing") is None
