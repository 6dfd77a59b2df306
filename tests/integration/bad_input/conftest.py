"""One running product (`cdrstats run`, no demo data, a 2 s HTTP read timeout) for every test of this folder.

Each test works on switches of its own, so the shared product costs one start-up (~10 s) in all,
and checks afterwards that neither public server logged a crash while it ran.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest
from bad_input_testkit import READ_TIMEOUT_S, Site

from cdrstats_common.testing import rabbitmq_vhost, wait_for

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "e2e"))
from e2e_testkit import Product  # the product launcher of the e2e tests, reused


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with rabbitmq_vhost("cdrstats-bad-input") as amqp_url:
        product = Product(tmp_path_factory.mktemp("bad-input"), amqp_url)
        product.env.update({"CDRSTATS_DEMO": "0", "CDRSTATS_HTTP_READ_TIMEOUT_S": str(READ_TIMEOUT_S)})
        product.start()
        try:
            # the switches are registered after the services are up: the banner comes after that
            wait_for(lambda: "Demo switch:" in product.output(), timeout_s=60, what="the start-up banner")
            site = Site(product.http_port, product.ingest_port, product.secrets["admin_password"], product.data_dir)
            site.use_token()
            yield site
        finally:
            assert product.stop() == 0, product.output()


@pytest.fixture(autouse=True)
def no_crash_logged(site: Site) -> Iterator[None]:
    """Bad input is refused with a reason, never an error or traceback in the servers' logs."""
    sizes = site.log_sizes()
    yield
    assert site.crashes_since(sizes) == []
    # the gateway's readiness also waits for just-ingested events to be relayed: give it a moment
    wait_for(lambda: [r.status for r in site.health()] == [200, 200], timeout_s=15, what="both servers ready")
