"""The README's twenty-line connector: vendors on Connect listings become Nuntiq suppliers."""

from adapters.connect import ListingsSource, client_from_context, settings_from_context
from adapters.sinks import LoadSink
from adapters.sync import sync
from lib.objects.supplier import SupplierLoad


def map_vendor(item, load):  # one Connect listing -> its vendor as a Nuntiq supplier
    vendor = item.as_mapping()["vendor"]
    supplier = load.new()
    supplier.supplier_number, supplier.supplier_name = vendor["id"], vendor["name"]
    return supplier


def run(context):
    settings = settings_from_context(context)  # connect_* keys; typos refused before any call
    client = client_from_context(context, settings)
    source = ListingsSource.for_context(context, client, settings)  # config.retry, logger, page size
    sink = LoadSink.for_context(context, SupplierLoad(context), map_vendor)
    return sync(context, source, sink, connector_name=context.get_config("connector_name")).as_dict()
