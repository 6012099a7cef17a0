"""The dashboard's import of paper cards (passes/card_imports.py): the owner uploads a CSV
file and sees it checked first, every bad row with its line; confirming imports the good
rows, and the cards' links and QR codes can then be downloaded.

The checked rows travel back with the confirmation (only `id,stamps`, never the file's other
columns) and are checked again there, so no upload waits on the server between the steps;
the downloads are posted the same way, as the card links carry secrets a URL must not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from passes.card_imports import ImportReport, cards_csv_lines
from passes.errors import Conflict
from passes.http import HttpError
from passes.importing import MAX_FILE_BYTES, paper_cards_csv
from passes.store.shops import ShopRow
from passes.web.qr_sheet import Slip, sheet_pdf

if TYPE_CHECKING:
    from passes.web.dashboard import DashboardPages

# The multipart form around the file: the fields and the parts' headers.
UPLOAD_LIMIT = MAX_FILE_BYTES + 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
# What a form's post makes, from the owner's shop and the posted file or rows.
Answer = Callable[[Request, ShopRow, bytes], Awaitable[Response]]


class ImportForm:
    """`/dashboard/{shop}/import…`: check, import, and the two downloads."""

    def __init__(self, dashboard: DashboardPages) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.imports = dashboard.service.imports

    def routes(self) -> list[Route]:
        """The import's routes, all posted forms: the file, or the checked rows."""
        under = "/dashboard/{shop}/import"
        return [
            Route(f"{under}/check", self._posted("file", self.check), methods=["POST"]),
            Route(under, self._posted("rows", self.confirm), methods=["POST"]),
            Route(f"{under}/cards.csv", self._posted("rows", self.cards_csv), methods=["POST"]),
            Route(f"{under}/qr-codes.pdf", self._posted("rows", self.sheet), methods=["POST"]),
        ]

    async def check(self, request: Request, shop: ShopRow, data: bytes) -> Response:
        """The dry run of the uploaded file."""
        report = await self.imports.check(shop, data)
        return await self._show(request, shop, report, done=False)

    async def confirm(self, request: Request, shop: ShopRow, data: bytes) -> Response:
        """The checked rows imported (checked again: the program may have changed)."""
        try:
            report = await self.imports.run(shop, data, "dashboard")
        except Conflict:
            return await self._error(request, shop, 409, "import_raced")
        return await self._show(request, shop, report, done=report.ok)

    async def cards_csv(self, request: Request, shop: ShopRow, data: bytes) -> Response:
        """cards.csv of the posted rows' cards."""
        cards = await self.imports.imported(shop, data)
        lines = cards_csv_lines(cards)
        return _download(lines, "text/csv; charset=utf-8", f"{shop.slug}-cards.csv")

    async def sheet(self, request: Request, shop: ShopRow, data: bytes) -> Response:
        """The QR sheet of the posted rows' cards (sent once every page is drawn)."""
        cards = await self.imports.imported(shop, data)
        slips = [Slip(card.url, card.row_id, shop.name) for card in cards]
        return _download(sheet_pdf(slips), "application/pdf", f"{shop.slug}-qr-codes.pdf")

    def _posted(self, name: str, answer: Answer) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint that hands `answer` the signed-in owner's shop and the posted `name`."""

        async def endpoint(request: Request) -> Response:
            sent = await self._upload(request, name)
            return sent if isinstance(sent, Response) else await answer(request, *sent)

        return endpoint

    async def _upload(self, request: Request, name: str) -> tuple[ShopRow, bytes] | Response:
        """The signed-in owner's shop and the posted file (or rows), or the page to answer."""
        shop = await self.dashboard.owner(request)
        try:
            form = await self.site.upload(request, UPLOAD_LIMIT)
        except HttpError as exc:
            if exc.status != 413 or shop is None:
                raise
            return await self._error(request, shop, 413, "import_too_big")
        if shop is None or form is None:
            return self.site.message(request, 403, "form_expired")
        fields, files = form
        data = files.get(name) or fields.get(name, "").encode()
        if not data:
            return await self._error(request, shop, 422, "import_no_file")
        return shop, data

    async def _show(
        self, request: Request, shop: ShopRow, report: ImportReport, *, done: bool
    ) -> Response:
        """The dashboard at its import section, with the check's or the import's outcome."""
        status = 200 if report.ok else 422
        rows = paper_cards_csv(report.read.cards) if report.ok else ""
        return await self.dashboard.show(
            request, shop, status, import_report=report, import_rows=rows, import_done=done
        )

    async def _error(self, request: Request, shop: ShopRow, status: int, key: str) -> Response:
        said = self.site.translator(request)(key).format(mb=MAX_FILE_BYTES // 1024 // 1024)
        return await self.dashboard.show(request, shop, status, import_error=said)


def _download(
    body: Iterator[str] | AsyncIterator[bytes], media_type: str, filename: str
) -> StreamingResponse:
    """A file to save, never kept by a cache (the card links in it carry secrets)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE}
    return StreamingResponse(body, media_type=media_type, headers=headers)
