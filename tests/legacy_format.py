"""Older model formats, for tests that they still load (test helper, not shipped).

tests/data/model_v2 is a directory written by jose's format-2 save (commit
0f7cd33); `downgrade` rewrites a directory saved today the way formats 1 and
2 laid it out: the document tags inline in model.json, no doc_tags.json
(format 1: no checksums either).
"""
import json
from pathlib import Path

from jose import persistence

V2_FIXTURE = Path(__file__).resolve().parent / "data" / "model_v2"
#: the tags stored in V2_FIXTURE, in row order
V2_FIXTURE_TAGS = [0, "0", 1, "1", -7, 2 ** 70, "a\nb", "tab\there", "ü\u2028é", "", " ",
                   '"q\\', "😀", "null", "1.0"]


def downgrade(path, version: int) -> None:
    path = Path(path)
    meta = json.loads((path / persistence.META).read_text(encoding="utf-8"))
    tags = json.loads((path / persistence.TAGS).read_text(encoding="utf-8"))
    (path / persistence.TAGS).unlink()
    meta.pop("checksum")
    old = {}
    for key, value in meta.items():          # format 2's key order: tags after words
        old[key] = value
        if key == "words":
            old["doc_tags"] = tags
    old["format_version"] = version
    del old["files"][persistence.TAGS]
    if version == 1:
        del old["files"]
        (path / persistence.META).write_text(json.dumps(old), encoding="utf-8")
    else:
        (path / persistence.META).write_bytes(persistence._meta_bytes(old))
