"""The test S3 server itself: it must hold as many buckets as the suite makes.

Each bucket is a SeaweedFS collection with a volume of its own; ``weed mini`` left to size
its volume limit from the free disk refused the 71st bucket on a CI machine ("No writable
volumes and no free volumes left"), which failed the suite's last S3 tests at random.
"""

from __future__ import annotations

from tests.conftest import make_s3_store
from tests.s3server import S3Server


def test_the_test_server_takes_more_buckets_than_the_suite_makes(s3_server: S3Server) -> None:
    stores = [make_s3_store(s3_server) for _ in range(150)]
    for n, store in enumerate(stores):
        store.put_bytes("probe/obj", f"bucket {n}".encode())
    assert [s.get_bytes("probe/obj") for s in stores[::30]] == [f"bucket {n}".encode() for n in range(0, 150, 30)]
