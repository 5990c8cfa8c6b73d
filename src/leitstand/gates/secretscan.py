"""The secret scan's child process: detect-secrets over the files named on stdin, JSON out.

Kept apart from ``leitstand.gates.secrets`` so that the child imports detect-secrets and
nothing else of leitstand: its start-up (and each forked worker's) stays at the library's own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(root: str) -> None:
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    files = [line for line in sys.stdin.read().splitlines() if line]
    collection = SecretsCollection(root=root)
    with default_settings():
        if len(files) > 1:
            collection.scan_files(*files, num_processors=os.cpu_count() or 1)
        elif files:
            collection.scan_file(files[0])
    out = [
        {
            "file": Path(filename).as_posix(),
            "line": secret.line_number,
            "type": secret.type,
            "hashed_secret": secret.secret_hash,
        }
        for filename, secret in collection
    ]
    out.sort(key=lambda item: (item["file"], item["line"], item["type"]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
    sys.stdout.flush()
