"""One multipart upload through the generated Python SDK (sdk/python), run by tests/sdk.rs:

    PYTHONPATH=sdk/python python3 tests/sdk/upload.py <base-url> <size>

with the bearer token in UC_SDK_TOKEN. The coordinator's API goes through the SDK; the bytes go
straight to storage with plain httpx, each part signed for its SHA-256 (hashlib), so storage
refuses other bytes. Byte i of the file is i % 251, so the caller can check what storage holds.
Prints one JSON line: {"id", "key", "status", "size"}; anything else goes to stderr.
"""

import asyncio
import base64
import hashlib
import json
import os
import sys
import uuid

import httpx
from upload_coordinator_client import AuthenticatedClient
from upload_coordinator_client.api.uploads import (
    complete_upload,
    create_upload,
    get_upload,
    list_parts,
    sign_parts,
)
from upload_coordinator_client.models import (
    ApiError,
    ChecksumAlgorithm,
    CompletedPart,
    CompleteUploadRequest,
    CreateUploadRequest,
    CreateUploadRequestMetadata,
    PartUrl,
    PartUrls,
    SignPartsRequest,
    StoredParts,
    Upload,
)

CONFIRMED = {"uploaded", "processing", "processed"}
# Chosen by the client, so it can hash its parts before declaring them.
PART_SIZE = 5 * 1024 * 1024


def sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def deterministic_bytes(size: int) -> bytes:
    pattern = bytes(range(251))
    return (pattern * (size // len(pattern) + 1))[:size]


def expect(parsed, kind, what: str):
    """The parsed body when it is a `kind`; the API's error otherwise."""
    if not isinstance(parsed, kind):
        raise SystemExit(f"{what} failed: {parsed!r}")
    return parsed


async def put_part(storage: httpx.AsyncClient, part: PartUrl, part_size: int, data: bytes) -> CompletedPart:
    start = (part.part_number - 1) * part_size
    response = await storage.put(
        part.url,
        content=data[start : start + part.size],
        headers=part.headers.to_dict(),
    )
    if response.status_code != 200:
        raise SystemExit(f"PUT of part {part.part_number}: {response.status_code} {response.text}")
    return CompletedPart(part_number=part.part_number, etag=response.headers["etag"])


async def main(base_url: str, size: int, token: str) -> dict:
    data = deterministic_bytes(size)
    part_checksums = [sha256_base64(data[i : i + PART_SIZE]) for i in range(0, size, PART_SIZE)]
    timeout = httpx.Timeout(60.0)
    async with (
        AuthenticatedClient(base_url=base_url, token=token, timeout=timeout) as client,
        httpx.AsyncClient(timeout=timeout) as storage,
    ):
        created = await create_upload.asyncio_detailed(
            client=client,
            body=CreateUploadRequest(
                filename="sdk-python.mp4",
                size=size,
                content_type="video/mp4",
                title="Uploaded with the Python SDK",
                metadata=CreateUploadRequestMetadata.from_dict({"sdk": "python"}),
                part_size=PART_SIZE,
                checksum_algorithm=ChecksumAlgorithm.SHA256,
                part_checksums=part_checksums,
                sha256=sha256_base64(data),
            ),
        )
        upload = expect(created.parsed, Upload, "create_upload")
        assert created.status_code == 201, created.status_code
        assert upload.multipart, f"a {size}-byte upload should be multipart"
        assert upload.part_size == PART_SIZE, upload.part_size
        assert upload.checksums.verified_by_storage, "storage verifies the checksums"
        first = upload.parts[0]
        assert first.headers["x-amz-checksum-sha256"] == part_checksums[0], first.headers

        # Creation signs the first parts; the SDK signs whatever it left out.
        parts = list(upload.parts or [])
        signed = {part.part_number for part in parts}
        unsigned = [n for n in range(1, upload.part_count + 1) if n not in signed]
        if unsigned:
            more = await sign_parts.asyncio(upload.id, client=client, body=SignPartsRequest(part_numbers=unsigned))
            parts.extend(expect(more, PartUrls, "sign_parts").parts)

        uploaded = await asyncio.gather(*(put_part(storage, part, upload.part_size, data) for part in parts))

        stored = await list_parts.asyncio(upload.id, client=client)
        stored_count = len(expect(stored, StoredParts, "list_parts").parts)
        assert stored_count == upload.part_count, f"list_parts shows {stored_count} of {upload.part_count}"

        completed = await complete_upload.asyncio(
            upload.id, client=client, body=CompleteUploadRequest(parts=list(uploaded))
        )
        completed = expect(completed, Upload, "complete_upload")
        assert completed.status.value in CONFIRMED, f"complete_upload left it {completed.status}"

        fetched = expect(await get_upload.asyncio(upload.id, client=client), Upload, "get_upload")
        assert fetched.status.value in CONFIRMED, f"get_upload shows {fetched.status}"
        assert fetched.size == size, f"get_upload shows size {fetched.size}"
        assert fetched.checksums.sha256 == sha256_base64(data), fetched.checksums

        # Errors come back parsed as the API's ApiError model, with the HTTP status beside them.
        missing = await get_upload.asyncio_detailed(uuid.uuid4(), client=client)
        assert missing.status_code == 404, missing.status_code
        error = expect(missing.parsed, ApiError, "parsing the 404")
        assert error.code == "upload-not-found", error

        return {"id": str(fetched.id), "key": fetched.key, "status": fetched.status.value, "size": size}


if __name__ == "__main__":
    if len(sys.argv) != 3 or "UC_SDK_TOKEN" not in os.environ:
        raise SystemExit("usage: UC_SDK_TOKEN=<token> upload.py <base-url> <size>")
    result = asyncio.run(main(sys.argv[1], int(sys.argv[2]), os.environ["UC_SDK_TOKEN"]))
    print(json.dumps(result))
