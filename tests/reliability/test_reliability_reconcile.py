"""A retried upload is reconciled only with the document this sink sent, never with a copy elsewhere.

Found by the soak: a Codat file that is a copy of a Connect billing file (the push sends
billing files to Codat, the Codat pull brings them back) was never stored as its own
document when its upload had to be retried: find-before-resend matched the billing
document (same file name and sha256, created minutes earlier) and marked it delivered.
"""

from __future__ import annotations

import io

from adapters.records import DocumentItem
from adapters.retry import RetryPolicy
from adapters.sinks import DocumentSink
from lib.jobcontext import issue_job_token, nuntiq_context
from tests.proof.env import ProofEnv

CUSTOMER = "70000099"
FAST = RetryPolicy(initial_wait=0.0, max_wait=0.05, max_total=5.0)


def _documents(context: object) -> list[dict[str, object]]:
    api = context.api  # type: ignore[attr-defined]
    items: list[dict[str, object]] = api.get("/v1/source-documents", params={"limit": 1000})["items"]
    return items


def test_retried_upload_is_not_matched_with_another_documents_copy(proof_env: ProofEnv) -> None:
    context = nuntiq_context(
        proof_env.nuntiq, CUSTOMER, {"config": {}}, job_token=issue_job_token(proof_env.nuntiq, CUSTOMER)
    )
    data = b"the same statement, held by two documents\n" * 20
    context.api.upload_source_documents(
        files=[("statement.pdf", data, "application/pdf")], source="elsewhere"
    )
    sink = DocumentSink.for_context(context, namespace="proof.reconcile", policy=FAST, settle=0)
    item = DocumentItem(
        key="codat:statement",
        cursor=None,
        name="statement.pdf",
        media_type="application/pdf",
        open=lambda: io.BytesIO(data),
    )
    # The first upload attempt fails before the service stores anything.
    proof_env.nuntiq.set_faults(script=[502], path_pattern=r"^/v1/source-documents$")
    try:
        sink.add(item)
        sink.flush()
    finally:
        proof_env.clear_faults()
    documents = _documents(context)
    assert len(documents) == 2, "the retried upload was taken for the other document's copy"
    assert sink.uploaded == 1 and sink.reconciled == 0
    # A rerun finds the delivery done and sends nothing again.
    again = DocumentSink.for_context(context, namespace="proof.reconcile", policy=FAST, settle=0)
    again.add(item)
    again.flush()
    assert again.skipped == 1 and len(_documents(context)) == 2


def test_upload_lost_after_arrival_is_still_reconciled(proof_env: ProofEnv) -> None:
    """The other half: a document this sink did create is found again, not sent twice."""
    customer = "70000098"
    context = nuntiq_context(
        proof_env.nuntiq, customer, {"config": {}}, job_token=issue_job_token(proof_env.nuntiq, customer)
    )
    data = b"only once\n" * 10
    item = DocumentItem(
        key="k1", cursor=None, name="once.pdf", media_type="application/pdf", open=lambda: io.BytesIO(data)
    )
    first = DocumentSink.for_context(context, namespace="proof.reconcile", policy=FAST, settle=0)
    first.add(item)
    first.flush()
    # Forget "done" (as if the process died after the upload, before marking it).
    row = first.ledger.row_key("k1")
    entry = first.ledger.get("k1")
    assert entry is not None
    value = entry.to_value()
    value["state"] = "pending"
    context.api.put("/v1/custom-data/adapters_delivery_ledger", {"rows": [{"key": row, "value": value}]})
    second = DocumentSink.for_context(context, namespace="proof.reconcile", policy=FAST, settle=0)
    second.add(item)
    second.flush()
    assert second.reconciled == 1 and second.uploaded == 0
    assert len(_documents(context)) == 1
