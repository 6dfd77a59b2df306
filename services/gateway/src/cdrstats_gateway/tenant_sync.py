"""Keeps alerting and notify told which account codes each tenant owns (SetTenant), through outages.

The gateway owns customers; alerting and notify only learn a tenant's codes when pushed. A
change marks the customer pending and wakes one background task, which pushes the customer's
current codes (empty when deleted) to both services. A failed push stays pending and is retried
with back-off, so the services converge once they answer again. At start-up every customer is
pushed, which repairs anything missed while the gateway itself was down.

Pending changes live only in memory, so a customer deleted while the services were down, the
gateway then restarted (or killed) before the push got through, has no customer left to push.
The start-up pass therefore also asks both services which tenants they know (ListTenants) and
pushes the deleted form (no codes) for each one without a customer: otherwise its alarms, rules
and mail report would live on, and its contacts would hear about whoever gets its codes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain.control import TenantCodes, customer_of, tenant_id
from cdrstats_gateway.store import GatewayStore

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
PAGE = 500
Push = Callable[[TenantCodes], Awaitable[None]]
Known = Callable[[], Awaitable[set[str]]]


class TenantSync:
    """Pending customer ids and the task that pushes them; ``changed`` never blocks a request."""

    def __init__(
        self,
        store: GatewayStore,
        push: Push | None,
        *,
        known: Known | None = None,
        first_retry_s: float = FIRST_RETRY_S,
    ) -> None:
        self.store = store
        self.push = push
        self.known = known  # the tenant ids alerting and notify hold; None: no reconcile
        self.first_retry_s = first_retry_s
        self.pending: set[int] = set()
        self.everything = True  # the start-up pass
        self.pushed = 0  # successful pushes (tests and logs)
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()

    def changed(self, customer_id: int) -> None:
        self.pending.add(customer_id)
        self._kick()

    def changed_all(self) -> None:
        """Codes moved between customers (reassign): push everyone, which is cheap and certain."""
        self.everything = True
        self._kick()

    def _kick(self) -> None:
        if self.push is not None:
            self.idle.clear()
            self.wake.set()

    async def _all_ids(self) -> set[int]:
        ids: set[int] = set()
        after = 0
        while True:
            page = await asyncio.to_thread(self.store.list_customers, after_id=after, limit=PAGE)
            ids.update(c.id for c in page)
            if len(page) < PAGE:
                return ids
            after = page[-1].id

    async def _orphans(self, customers: set[int]) -> set[int]:
        """Customer ids of tenants the services hold but the store has no customer for.

        Each goes through ``_push_one``, which reads the store again: a customer made since
        ``customers`` was read gets its codes, not a removal. A tenant id no customer can have
        (not exactly ``customer:<id>``) is removed here, as nothing in the store could claim it.
        """
        if self.known is None:
            return set()
        assert self.push is not None
        orphans: set[int] = set()
        for tenant in sorted(await self.known()):
            customer_id = customer_of(tenant)
            if customer_id is None or tenant_id(customer_id) != tenant:  # "customer:x", "customer:07"
                await self.push(TenantCodes(tenant, ()))
            elif customer_id not in customers:
                orphans.add(customer_id)
        if orphans:
            log.info("removing tenants without a customer", extra={"fields": {"tenants": len(orphans)}})
        return orphans

    async def _push_one(self, customer_id: int) -> None:
        assert self.push is not None
        customer = await asyncio.to_thread(self.store.get_customer, customer_id)
        if customer is None:
            tenant = TenantCodes(tenant_id(customer_id), ())
        else:
            tenant = TenantCodes(tenant_id(customer_id), customer.accountcodes, customer.name)
        await self.push(tenant)
        self.pushed += 1

    async def push_pending(self) -> None:
        """One pass; raises on the first failure, leaving that customer (and the rest) pending."""
        if self.everything:
            # cleared before reading, so a ``changed_all`` while this pass awaits asks for another one
            self.everything = False
            try:
                customers = await self._all_ids()
                self.pending |= customers | await self._orphans(customers)
            except BaseException:
                self.everything = True
                raise
        for customer_id in sorted(self.pending):
            self.pending.discard(customer_id)
            try:
                await self._push_one(customer_id)
            except BaseException:
                self.pending.add(customer_id)
                raise

    async def run(self) -> None:
        delay = self.first_retry_s
        self.wake.set()
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self.push_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a service down or failing: keep the work, retry later
                log.warning(
                    "tenant sync failed; retrying",
                    extra={"fields": {"pending": len(self.pending) or "all", "retry_s": delay, "error": str(exc)}},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
                self.wake.set()
                continue
            delay = self.first_retry_s
            if not self.pending and not self.everything:
                self.idle.set()


TENANT_SYNC = web.AppKey("tenant_sync", TenantSync)


def changed(app: web.Application, customer_id: int, *, reassign: bool = False) -> None:
    """Call after a customer's codes (or existence) changed; ``reassign``: codes may have left others."""
    sync = app.get(TENANT_SYNC)
    if sync is None:
        return
    if reassign:
        sync.changed_all()
    sync.changed(customer_id)


def setup_tenant_sync(app: web.Application) -> None:
    """A cleanup context after the store's and the services': start the task, cancel it at shutdown.

    Services without ``set_tenant`` (in-memory test doubles of other areas) get no task; without
    ``list_tenants``, no removal of tenants whose customer is gone.
    """

    async def sync_ctx(app: web.Application) -> AsyncIterator[None]:
        push: Push | None = getattr(app[keys.SERVICES], "set_tenant", None)
        known: Known | None = getattr(app[keys.SERVICES], "list_tenants", None)
        sync = TenantSync(app[keys.STORE], push, known=known)
        app[TENANT_SYNC] = sync
        task = asyncio.create_task(sync.run(), name="tenant-sync") if push is not None else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(sync_ctx)
