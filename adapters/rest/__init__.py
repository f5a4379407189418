"""A REST source kit: declare a listing (:class:`RestStream`), read it with :class:`RestSource`.

* :mod:`~adapters.rest.auth`: bearer token, basic auth, API-key header, each from a named secret;
* :mod:`~adapters.rest.paging`: page number, offset, next token, next URL, Link header, keyset;
* :mod:`~adapters.rest.stream`: the declaration (path, records path, key and cursor fields);
* :mod:`~adapters.rest.source`: the page loop, through the shared retry policy and status table;
* :mod:`~adapters.rest.errors`: the classifier and the kit's own errors.

    stream = RestStream(
        name="suppliers", path="suppliers", records_path="data", key_field="number",
        since_param="updated_after", auth=BearerToken("acme_token"),
        paginator=PageNumber(size=200, next_field="next_page"),
    )
    source = RestSource.for_context(context, stream, base_url=require_config(context, "api_url"))
"""

from adapters.rest.auth import ApiKeyHeader, Auth, BasicAuth, BearerToken, NoAuth
from adapters.rest.errors import RestPageError, RestRecordError, UnstableListing, make_rest_classifier
from adapters.rest.paging import (
    Keyset,
    LinkHeader,
    NextToken,
    NextUrl,
    Offset,
    Page,
    PageNumber,
    PageRequest,
    Paginator,
)
from adapters.rest.source import RestSource
from adapters.rest.stream import RestStream

__all__ = [
    "ApiKeyHeader",
    "Auth",
    "BasicAuth",
    "BearerToken",
    "Keyset",
    "LinkHeader",
    "NextToken",
    "NextUrl",
    "NoAuth",
    "Offset",
    "Page",
    "PageNumber",
    "PageRequest",
    "Paginator",
    "RestPageError",
    "RestRecordError",
    "RestSource",
    "RestStream",
    "UnstableListing",
    "make_rest_classifier",
]
