"""CloudBlue Connect adapter: client construction, stream declarations, sources, classifier.

Usage from a connector::

    client = client_from_context(context)
    source = ListingsSource(client, logger=context.logger)
    for item in source.fetch_since(since): ...
"""

from adapters.connect.documents import BillingBatchFilesSource, MediaFolderFilesSource, open_download
from adapters.connect.errors import ConnectPageError, classify_connect_error
from adapters.connect.partners import PartnerDirectory
from adapters.connect.settings import (
    API_KEY_SECRET_SETTING,
    ConnectSettings,
    build_client,
    client_from_context,
    settings_from_context,
)
from adapters.connect.sources import (
    BillingBatchesSource,
    ConnectStreamSource,
    ListingsSource,
    RequestsSource,
    SubscriptionAssetsSource,
    SubscriptionRequestsSource,
    TierAccountsSource,
    payload_hash,
)
from adapters.connect.streams import STREAMS, StreamSpec, get_stream

__all__ = [
    "API_KEY_SECRET_SETTING",
    "STREAMS",
    "BillingBatchFilesSource",
    "BillingBatchesSource",
    "ConnectPageError",
    "ConnectSettings",
    "ConnectStreamSource",
    "ListingsSource",
    "MediaFolderFilesSource",
    "PartnerDirectory",
    "RequestsSource",
    "StreamSpec",
    "SubscriptionAssetsSource",
    "SubscriptionRequestsSource",
    "TierAccountsSource",
    "build_client",
    "classify_connect_error",
    "client_from_context",
    "get_stream",
    "open_download",
    "payload_hash",
    "settings_from_context",
]
